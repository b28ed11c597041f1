//! What Baton tells people about: the events a notification sink subscribes to, and how
//! they are read off a pass report.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use crate::common::text::one_line;
use crate::git::message::{CommitMessage, Move};
use crate::pass::{Outcome, PassReport, ReviewAction};

/// The kinds of event, as named in `notifications.NAME.events`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// A commit with moves reached the branch.
    Commit,
    /// An environment's moves could not be committed or pushed.
    PushFailed,
    /// A review branch and pull request were opened or updated.
    ReviewOpened,
    /// An image's registry scan failed several times in a row.
    ScanFailing,
}

impl EventKind {
    /// Every kind, in the order they are documented.
    pub const ALL: [EventKind; 4] = [
        EventKind::Commit,
        EventKind::PushFailed,
        EventKind::ReviewOpened,
        EventKind::ScanFailing,
    ];

    /// The name used in the configuration and in the JSON payload's `event` field.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Commit => "commit",
            EventKind::PushFailed => "push_failed",
            EventKind::ReviewOpened => "review_opened",
            EventKind::ScanFailing => "scan_failing",
        }
    }

    /// The kind named `text`, if any.
    pub fn parse(text: &str) -> Option<EventKind> {
        EventKind::ALL.into_iter().find(|k| k.as_str() == text)
    }
}

impl std::fmt::Display for EventKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
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
}

impl Event {
    /// The event's kind.
    pub fn kind(&self) -> EventKind {
        match self {
            Event::Committed { .. } => EventKind::Commit,
            Event::PushFailed { .. } => EventKind::PushFailed,
            Event::ReviewOpened { .. } => EventKind::ReviewOpened,
            Event::ScanFailing { .. } => EventKind::ScanFailing,
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
                        let _ = write!(
                            text,
                            "\n- {} {} -> {}",
                            one_line(&m.policy),
                            one_line(&m.from),
                            one_line(&m.to)
                        );
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
        }
        text
    }
}

/// The commit and push-failure events of a pass: one [`Event::Committed`] per pushed
/// environment, one [`Event::PushFailed`] per failed one. Dry runs, unchanged and skipped
/// environments give none. Scan failures need a running count: see [`ScanFailures`].
pub fn events_from_report(report: &PassReport) -> Vec<Event> {
    let mut events = Vec::new();
    for env in &report.environments {
        match &env.outcome {
            Outcome::Pushed { commit, branch, .. } => events.push(Event::Committed {
                environment: env.name.clone(),
                moves: env.moves.clone(),
                commit: commit.clone(),
                branch: branch.clone(),
            }),
            Outcome::Failed(error) => events.push(Event::PushFailed {
                environment: env.name.clone(),
                error: error.clone(),
            }),
            Outcome::Unchanged
            | Outcome::Planned
            | Outcome::Skipped(_)
            | Outcome::Waiting(_)
            | Outcome::Reviewed { .. } => {}
        }
        for review in &env.reviews {
            if let ReviewAction::Opened { url, .. } = &review.action {
                events.push(Event::ReviewOpened {
                    environment: env.name.clone(),
                    image: review.image.clone(),
                    url: url.clone(),
                });
            }
        }
    }
    events
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

    /// Records every scan of a pass; the failures' events, in image-name order.
    pub fn observe(&mut self, report: &PassReport) -> Vec<Event> {
        report
            .scans
            .values()
            .filter_map(|scan| self.record(&scan.image, scan.error.as_deref()))
            .collect()
    }

    /// The current streak of `image` (0 when its last scan succeeded).
    pub fn streak(&self, image: &str) -> u32 {
        self.streaks.get(image).copied().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pass::{EnvironmentReport, ImageScan};

    fn mv(policy: &str, from: &str, to: &str) -> Move {
        Move {
            image: format!("ghcr.io/example/{policy}"),
            policy: policy.into(),
            rule: "semver 1.x".into(),
            from: from.into(),
            to: to.into(),
            digest: None,
        }
    }

    fn env(name: &str, outcome: Outcome, moves: Vec<Move>) -> EnvironmentReport {
        EnvironmentReport {
            moves,
            outcome,
            ..EnvironmentReport::new(name)
        }
    }

    fn scan(image: &str, error: Option<&str>) -> ImageScan {
        ImageScan {
            image: image.into(),
            registry: "ghcr.io".into(),
            tags: error.is_none().then(Vec::new),
            dropped_invalid: 0,
            requests: 1,
            error: error.map(str::to_string),
            error_kind: error.map(|_| "network"),
        }
    }

    #[test]
    fn report_outcomes_become_events() {
        let report = PassReport {
            environments: vec![
                env(
                    "staging",
                    Outcome::Pushed {
                        commit: "0123456789abcdef".into(),
                        branch: "main".into(),
                        retries: 0,
                    },
                    vec![mv("api", "1.0.0", "1.0.1")],
                ),
                env("qa", Outcome::Failed("push failed: denied".into()), vec![]),
                env("dev", Outcome::Planned, vec![mv("api", "1.0.0", "1.0.1")]),
                env("prod", Outcome::Skipped("window".into()), vec![]),
                env("idle", Outcome::Unchanged, vec![]),
            ],
            ..PassReport::default()
        };
        let events = events_from_report(&report);
        assert_eq!(events.len(), 2, "{events:#?}");
        assert_eq!(events[0].kind(), EventKind::Commit);
        assert_eq!(
            events[0].text(),
            "staging: api 1.0.0 -> 1.0.1 (commit 0123456789ab on main)"
        );
        assert_eq!(
            events[1],
            Event::PushFailed {
                environment: "qa".into(),
                error: "push failed: denied".into()
            }
        );
    }

    #[test]
    fn scan_streaks_count_and_reset() {
        let mut failures = ScanFailures::new();
        let failing = |n| PassReport {
            scans: [
                ("api".to_string(), scan("api", Some("timed out"))),
                (
                    "web".to_string(),
                    scan("web", (n == 2).then_some("refused")),
                ),
            ]
            .into_iter()
            .collect(),
            ..PassReport::default()
        };
        assert_eq!(failures.observe(&failing(1)).len(), 1);
        let events = failures.observe(&failing(2));
        assert_eq!(
            events[0],
            Event::ScanFailing {
                image: "api".into(),
                error: "timed out".into(),
                consecutive_failures: 2
            }
        );
        assert_eq!(failures.streak("web"), 1);
        failures.observe(&failing(3));
        assert_eq!(failures.streak("web"), 0, "a success ends the streak");
        assert_eq!(failures.streak("api"), 3);
        assert!(failures.record("api", None).is_none());
        assert_eq!(failures.streak("api"), 0);
    }

    #[test]
    fn texts_name_what_happened() {
        let commit = Event::Committed {
            environment: "staging".into(),
            moves: vec![mv("api", "1.0.0", "1.0.1"), mv("web", "2", "3")],
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
        let json = serde_json::to_value(&scan).unwrap();
        assert_eq!(json["event"], "scan_failing");
        assert_eq!(json["consecutive_failures"], 3);
        assert_eq!(serde_json::to_value(&commit).unwrap()["event"], "commit");
    }
}
