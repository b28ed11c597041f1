//! What Baton tells people about: the events a notification sink subscribes to, and how
//! they are read off a pass report.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use crate::common::kind::named_kinds;
use crate::common::text::one_line;
use crate::git::message::{CommitMessage, Move};

named_kinds! {
    /// The kinds of event, as named in `notifications.NAME.events` and in the JSON payload's
    /// `event` field.
    #[derive(Serialize)]
    #[serde(rename_all = "snake_case")]
    pub enum EventKind: "an event" {
        /// A commit with moves reached the branch.
        Commit = "commit",
        /// An environment's moves could not be committed or pushed.
        PushFailed = "push_failed",
        /// A review branch and pull request were opened or updated.
        ReviewOpened = "review_opened",
        /// An image's registry scan failed several times in a row.
        ScanFailing = "scan_failing",
        /// A change to the repository's rules did not validate; the last good rules stay.
        RulesRefused = "rules_refused",
        /// A move that did not pass its verification checks in time was rolled back.
        Rollback = "rollback",
    }
}

/// Something worth a message. Serialises (for the JSON webhook and templates) with an
/// `event` field naming its [`EventKind`] next to its own fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// A commit with moves was pushed to `branch`.
    #[serde(rename = "commit")]
    Committed {
        /// The `[environments]` name.
        environment: String,
        /// What moved.
        moves: Vec<Move>,
        /// The commit id.
        commit: String,
        /// The branch it was pushed to.
        branch: String,
    },
    /// An environment's moves could not be committed or pushed; the next pass retries.
    PushFailed {
        /// The `[environments]` name.
        environment: String,
        /// Why, as reported by the pass.
        error: String,
    },
    /// A review (branch and pull request) was opened or updated for an image.
    ReviewOpened {
        /// The `[environments]` name.
        environment: String,
        /// The image repository under review.
        image: String,
        /// The pull request's web address.
        url: String,
    },
    /// An image's registry scan keeps failing.
    ScanFailing {
        /// The `[images]` name.
        image: String,
        /// The latest failure.
        error: String,
        /// Failures in a row, this one included.
        consecutive_failures: u32,
    },
    /// A change to the repository's rules (`[git] rules`) was refused.
    RulesRefused {
        /// `[git] rules` as written.
        rules: String,
        /// The commit that made the rules invalid.
        commit: String,
        /// Its author, `Name <email>`.
        author: String,
        /// Every problem, `file:line:column@commit: key: message`.
        errors: Vec<String>,
    },
    /// A move did not verify within `verify_timeout` and the previous version was committed back.
    #[serde(rename = "rollback")]
    RolledBack {
        /// The `[environments]` name.
        environment: String,
        /// The `[images]` name.
        image: String,
        /// The version that did not verify.
        version: String,
        /// The version moved back to.
        to: String,
        /// Why: the failing check and its last answer.
        reason: String,
        /// The rollback commit.
        commit: String,
    },
}

impl Event {
    /// The event's kind.
    pub fn kind(&self) -> EventKind {
        match self {
            Event::Committed { .. } => EventKind::Commit,
            Event::PushFailed { .. } => EventKind::PushFailed,
            Event::ReviewOpened { .. } => EventKind::ReviewOpened,
            Event::ScanFailing { .. } => EventKind::ScanFailing,
            Event::RulesRefused { .. } => EventKind::RulesRefused,
            Event::RolledBack { .. } => EventKind::Rollback,
        }
    }

    /// One line saying what happened, e.g. `staging: checkout-api 1.4.1 -> 1.4.2`.
    pub fn summary(&self) -> String {
        match self {
            Event::Committed {
                environment, moves, ..
            } => CommitMessage {
                environment: environment.clone(),
                moves: moves.clone(),
                promoted_by: None,
            }
            .summary(),
            Event::PushFailed { environment, .. } => {
                format!("{}: push failed", one_line(environment))
            }
            Event::ReviewOpened {
                environment, image, ..
            } => format!(
                "{}: review opened for {}",
                one_line(environment),
                one_line(image)
            ),
            Event::ScanFailing {
                image,
                consecutive_failures,
                ..
            } => format!(
                "image {}: scan failed {consecutive_failures} time{} in a row",
                one_line(image),
                if *consecutive_failures == 1 { "" } else { "s" }
            ),
            Event::RulesRefused {
                rules,
                commit,
                author,
                ..
            } => format!(
                "rules {}: change {} by {} refused, the last good rules stay in force",
                one_line(rules),
                commit.chars().take(12).collect::<String>(),
                one_line(author)
            ),
            Event::RolledBack {
                environment,
                image,
                version,
                to,
                ..
            } => format!(
                "{}: {} {} rolled back to {}",
                one_line(environment),
                one_line(image),
                one_line(version),
                one_line(to)
            ),
        }
    }

    /// The default message: the summary plus the details that matter, a few lines at most.
    pub fn text(&self) -> String {
        let mut text = self.summary();
        match self {
            Event::Committed {
                moves,
                commit,
                branch,
                ..
            } => {
                let short: String = commit.chars().take(12).collect();
                let _ = write!(text, " (commit {short} on {})", one_line(branch));
                if moves.len() > 1 {
                    for m in moves {
                        let _ = write!(text, "\n- {}", m.line());
                    }
                }
            }
            Event::PushFailed { error, .. } => {
                // The pass's own errors often start with the same words.
                let error = error.strip_prefix("push failed: ").unwrap_or(error);
                let _ = write!(text, ": {error}");
            }
            Event::ReviewOpened { url, .. } => {
                let _ = write!(text, ": {url}");
            }
            Event::ScanFailing { error, .. } => {
                let _ = write!(text, ": {error}");
            }
            Event::RulesRefused { errors, .. } => {
                for error in errors {
                    let _ = write!(text, "\n- {}", one_line(error));
                }
            }
            Event::RolledBack { reason, commit, .. } => {
                let short: String = commit.chars().take(12).collect();
                let _ = write!(text, " (commit {short}): {}", one_line(reason));
            }
        }
        text
    }
}

/// Counts failed scans in a row per image, so that [`Event::ScanFailing`] carries the
/// streak. Keep one for the daemon's lifetime (a reload may keep it too).
#[derive(Debug, Default, Clone)]
pub struct ScanFailures {
    streaks: BTreeMap<String, u32>,
}

impl ScanFailures {
    /// An empty tracker.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records one scan of `image`: `error` is `None` when it succeeded. A failure gives a
    /// [`Event::ScanFailing`] with the streak so far; each sink decides from which count on
    /// it wants to hear (`scan_failing_after`). A success ends the streak.
    pub fn record(&mut self, image: &str, error: Option<&str>) -> Option<Event> {
        match error {
            None => {
                self.streaks.remove(image);
                None
            }
            Some(error) => {
                let count = self.streaks.entry(image.to_string()).or_insert(0);
                *count = count.saturating_add(1);
                Some(Event::ScanFailing {
                    image: image.to_string(),
                    error: error.to_string(),
                    consecutive_failures: *count,
                })
            }
        }
    }

    /// The current streak of `image` (0 when its last scan succeeded).
    pub fn streak(&self, image: &str) -> u32 {
        self.streaks.get(image).copied().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_name_what_happened() {
        let commit = Event::Committed {
            environment: "staging".into(),
            moves: vec![
                Move::example("api", "1.0.0", "1.0.1"),
                Move::example("web", "2", "3"),
            ],
            commit: "abc".into(),
            branch: "main".into(),
        };
        assert_eq!(
            commit.text(),
            "staging: 2 images moved (commit abc on main)\n- api 1.0.0 -> 1.0.1\n- web 2 -> 3"
        );
        let review = Event::ReviewOpened {
            environment: "production".into(),
            image: "ghcr.io/example/api".into(),
            url: "https://git.example.com/pr/7".into(),
        };
        assert_eq!(
            review.text(),
            "production: review opened for ghcr.io/example/api: https://git.example.com/pr/7"
        );
        let scan = Event::ScanFailing {
            image: "api".into(),
            error: "timed out".into(),
            consecutive_failures: 3,
        };
        assert_eq!(
            scan.text(),
            "image api: scan failed 3 times in a row: timed out"
        );
        let rollback = Event::RolledBack {
            environment: "staging".into(),
            image: "api".into(),
            version: "1.0.1".into(),
            to: "1.0.0".into(),
            reason: "1.0.1 did not verify in staging within 15m: http https://s/v: answered 503"
                .into(),
            commit: "0123456789abcdef".into(),
        };
        assert_eq!(
            rollback.text(),
            "staging: api 1.0.1 rolled back to 1.0.0 (commit 0123456789ab): 1.0.1 did not verify in staging within 15m: http https://s/v: answered 503"
        );
        assert_eq!(
            serde_json::to_value(&rollback).unwrap()["event"],
            "rollback"
        );
        let json = serde_json::to_value(&scan).unwrap();
        assert_eq!(json["event"], "scan_failing");
        assert_eq!(json["consecutive_failures"], 3);
        assert_eq!(serde_json::to_value(&commit).unwrap()["event"], "commit");
    }
}
