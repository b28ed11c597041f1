//! What a pass reports: each policy's choice, and per environment the moves, the outcome,
//! what waits and the reviews opened, for the command line, the status and notifications.

use std::collections::BTreeMap;

use jiff::Timestamp;

use super::ImageScan;
use crate::git::message::Move;
use crate::policy::Decision;

/// One policy's choice in this pass.
#[derive(Debug, Clone)]
pub struct Selection {
    /// The `[policies]` name.
    pub policy: String,
    /// The `[images]` name.
    pub image: String,
    /// The repository as configured (what full-reference markers write).
    pub repository: String,
    /// The policy's rule in words.
    pub rule: String,
    /// The policy's decision, when the scan succeeded.
    pub decision: Option<Decision>,
    /// Why there is no decision (the scan failed, a followed tag has no sibling).
    pub error: Option<String>,
    /// Tags the policy ranks above the choice that a judgement holds back, best first.
    pub held: Vec<HeldTag>,
    /// For a policy that follows a moving tag: which sibling has its digest.
    pub follow: Option<String>,
}

/// A tag the policy would rank above its choice, held back by a judgement.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct HeldTag {
    /// The tag.
    pub tag: String,
    /// Why: `too young until 2026-11-27T01:00:00Z (created ...)`.
    pub reason: String,
    /// When it becomes a candidate, when known.
    #[serde(serialize_with = "crate::pass::report::serialize_time")]
    pub until: Option<jiff::Timestamp>,
    /// The kind: `too young`, `unsigned`, `bad signature` or `not judged`.
    pub kind: &'static str,
}

/// An optional instant as RFC 3339 seconds.
pub(crate) fn serialize_time<S: serde::Serializer>(
    at: &Option<jiff::Timestamp>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match at {
        Some(at) => s.serialize_some(&crate::common::time::rfc3339_seconds(*at)),
        None => s.serialize_none(),
    }
}

impl Selection {
    /// The chosen tag, if any.
    pub fn chosen(&self) -> Option<&str> {
        self.decision.as_ref().and_then(|d| d.chosen.as_deref())
    }

    /// The choice in words, with what follows and what is held back.
    pub fn reason(&self) -> String {
        let mut text = match (&self.decision, &self.error) {
            (_, Some(error)) => error.clone(),
            (Some(decision), None) if decision.chosen.is_none() && !self.held.is_empty() => {
                format!("no candidate by {} yet", decision.rule)
            }
            (Some(decision), None) => decision.to_string(),
            (None, None) => String::new(),
        };
        if let Some(follow) = &self.follow {
            text.push_str(&format!("; {follow}"));
        }
        for held in self.held.iter().take(3) {
            text.push_str(&format!("; {} {}", held.tag, held.reason));
        }
        if self.held.len() > 3 {
            text.push_str(&format!("; {} more held", self.held.len() - 3));
        }
        text
    }
}

/// How an environment's part of the pass ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Nothing to move.
    Unchanged,
    /// Moves were found; nothing was written (dry run).
    Planned,
    /// A commit was made and pushed.
    Pushed {
        /// The commit id.
        commit: String,
        /// The branch it was pushed to.
        branch: String,
        /// How many rejected pushes were retried first.
        retries: u32,
    },
    /// Left alone, with the reason.
    Skipped(String),
    /// Something would move but a gate holds it (window, freeze, soak, manual promotion,
    /// policy): the reasons, joined; [`EnvironmentReport::waiting`] has them one by one.
    Waiting(String),
    /// Review mode: review branches were pushed and pull requests opened or updated
    /// ([`EnvironmentReport::reviews`] says which).
    Reviewed {
        /// The review branches that changed.
        branches: Vec<String>,
    },
    /// Failed, with the error; nothing was lost and the next pass starts clean.
    Failed(String),
}

/// One environment's part of a pass.
#[derive(Debug, Clone)]
pub struct EnvironmentReport {
    /// The `[environments]` name.
    pub name: String,
    /// The moves found.
    pub moves: Vec<Move>,
    /// Unified diff of the edits.
    pub diff: String,
    /// The commit message that was (or would be) used.
    pub message: Option<String>,
    /// How it ended.
    pub outcome: Outcome,
    /// Marker problems: malformed markers, unknown policies (with "did you mean"), invalid
    /// values, paths that do not exist, tags the registry does not list.
    pub problems: Vec<crate::markers::Problem>,
    /// Markers left alone because a person holds them.
    pub held: Vec<String>,
    /// Files the marker scan skipped, by reason.
    pub skipped_files: String,
    /// What waits, and why: the whole environment (a window, a freeze) or one image (soak,
    /// a manual promotion, a candidate the policy refuses).
    pub waiting: Vec<Waiting>,
    /// Review mode: one entry per image with a change to review.
    pub reviews: Vec<Review>,
    /// What a person should know about this move, such as a pending review it replaces.
    pub notes: Vec<String>,
    /// Per `[images]` name: the versions its markers hold after this pass, and a hold.
    pub running: BTreeMap<String, Running>,
    /// How each image's current move verifies, in an environment with verification checks.
    pub verification: Vec<Verification>,
}

/// How one image's current move verifies in an environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    /// The `[images]` name.
    pub image: String,
    /// The version its markers hold.
    pub version: String,
    /// The commit that brought it.
    pub commit: String,
    /// `passed`, `failing` (passed once, failing now), `waiting`, `failed` or `rolling_back`.
    pub state: &'static str,
    /// In words, naming the failing check and its last answer.
    pub summary: String,
    /// Each check's last answer.
    pub checks: Vec<crate::verification::Answer>,
    /// Until when it may still pass (`waiting`).
    pub until: Option<Timestamp>,
    /// The version a rollback moves back to in this pass.
    pub rolled_back_to: Option<String>,
}

/// What one image's markers hold in an environment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Running {
    /// The versions (tags, or digests where only a digest is written); several when its
    /// markers disagree.
    pub versions: Vec<String>,
    /// A person's hold on one of its markers: the reason written in the marker.
    pub hold: Option<String>,
}

impl EnvironmentReport {
    /// An empty report for environment `name`: nothing moved, nothing waits.
    pub fn new(name: &str) -> EnvironmentReport {
        EnvironmentReport {
            name: name.to_string(),
            moves: Vec::new(),
            diff: String::new(),
            message: None,
            outcome: Outcome::Unchanged,
            problems: Vec::new(),
            held: Vec::new(),
            skipped_files: String::new(),
            waiting: Vec::new(),
            reviews: Vec::new(),
            notes: Vec::new(),
            running: BTreeMap::new(),
            verification: Vec::new(),
        }
    }
}

/// Something that does not move yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waiting {
    /// The `[images]` name, or `None` when the whole environment waits.
    pub image: Option<String>,
    /// Why, in words (naming when it ends, when known).
    pub reason: String,
    /// When the wait ends, when known.
    pub until: Option<Timestamp>,
}

impl std::fmt::Display for Waiting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&waiting_text(self.image.as_deref(), &self.reason))
    }
}

/// A wait in words: the reason, prefixed with the image unless the reason starts with it
/// (`app 1.2.0 soaking in staging`, not `app: app 1.2.0 soaking in staging`).
pub fn waiting_text(image: Option<&str>, reason: &str) -> String {
    match image {
        Some(image)
            if !reason
                .strip_prefix(image)
                .is_some_and(|rest| rest.starts_with(' ') || rest.starts_with(':')) =>
        {
            format!("{image}: {reason}")
        }
        _ => reason.to_string(),
    }
}

/// One image's review in a review-mode environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Review {
    /// The `[images]` name.
    pub image: String,
    /// The branch Baton owns for it.
    pub branch: String,
    /// The version(s) it moves from.
    pub from: String,
    /// The version it moves to.
    pub to: String,
    /// What happened.
    pub action: ReviewAction,
    /// With `auto_merge`: what came of merging its pull request.
    pub merge: Option<AutoMerge>,
}

/// What `auto_merge` did about a review's pull request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AutoMerge {
    /// The forge merged it.
    Merged,
    /// The forge merges it once its required checks pass and approvals are met.
    Scheduled,
    /// Not merged yet: the forge's reason (checks, approvals, conflicts). Asked again next pass.
    Waiting(String),
    /// Never merged by Baton: a person changed its branch (their commits, an edited head).
    Refused(String),
}

impl std::fmt::Display for AutoMerge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AutoMerge::Merged => f.write_str("merged"),
            AutoMerge::Scheduled => f.write_str(
                "auto-merge on: the forge merges it once its required checks and approvals pass",
            ),
            AutoMerge::Waiting(why) => write!(f, "not merged yet: {why}"),
            AutoMerge::Refused(why) => write!(f, "not merged automatically: {why}"),
        }
    }
}

/// What a pass did about one review.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReviewAction {
    /// Dry run: what would happen, in words.
    Planned(String),
    /// A pull request was opened.
    Opened {
        /// Its number.
        number: u64,
        /// Its page.
        url: String,
    },
    /// The open pull request was updated to this version (its branch force-pushed).
    Updated {
        /// Its number.
        number: u64,
        /// Its page.
        url: String,
    },
    /// The open pull request already proposes this version.
    Current {
        /// Its number.
        number: u64,
        /// Its page.
        url: String,
    },
    /// A pull request for this version was closed without merging: not proposed again.
    Declined {
        /// Its number.
        number: u64,
        /// Its page.
        url: String,
    },
    /// The review branch carries a person's promotion (`baton promote`) that is not merged
    /// or closed yet: the automatic pass leaves the branch and its pull request alone.
    PersonPending {
        /// Who asked for it (`Baton-Promoted-By`).
        by: String,
        /// Its open pull request, when there is a forge.
        number: Option<u64>,
        /// Its page.
        url: Option<String>,
    },
    /// No forge is configured: the branch was pushed for a person to open a pull request.
    BranchPushed,
    /// No forge is configured and the branch already carries this version.
    BranchCurrent,
    /// It failed, with the error.
    Failed(String),
}

impl std::fmt::Display for ReviewAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReviewAction::Planned(what) => write!(f, "would {what}"),
            ReviewAction::Opened { url, .. } => write!(f, "opened {url}"),
            ReviewAction::Updated { url, .. } => write!(f, "updated {url}"),
            ReviewAction::Current { url, .. } => write!(f, "open at {url}"),
            ReviewAction::Declined { number, url } => write!(
                f,
                "pull request #{number} for this version was closed without merging ({url}): not proposed again"
            ),
            ReviewAction::PersonPending { by, url, .. } => match url {
                Some(url) => write!(
                    f,
                    "left alone: it carries {by}'s promotion by hand, open at {url}"
                ),
                None => write!(
                    f,
                    "left alone: it carries {by}'s promotion by hand, not merged yet"
                ),
            },
            ReviewAction::BranchPushed => {
                f.write_str("branch pushed; no [forge] configured: open a pull request from it")
            }
            ReviewAction::BranchCurrent => f.write_str("branch already carries this version"),
            ReviewAction::Failed(why) => write!(f, "failed: {why}"),
        }
    }
}

/// Everything a pass did.
#[derive(Debug, Clone, Default)]
pub struct PassReport {
    /// Per `[images]` name.
    pub scans: BTreeMap<String, ImageScan>,
    /// Per `[policies]` name (in the daemon, every policy's: shared by its passes).
    pub selections: std::sync::Arc<BTreeMap<String, Selection>>,
    /// In the order they were processed.
    pub environments: Vec<EnvironmentReport>,
    /// Digests that could not be resolved, as `(image, tag, why)`; markers that pin digests
    /// keep their value until the digest can be read.
    pub digest_failures: Vec<(String, String, String)>,
    /// The repository's rules this pass applied (`[git] rules`), and any refused change.
    pub rules: Option<super::rules::RulesReport>,
}

impl PassReport {
    /// True when some environment moved (or would move, in a dry run).
    pub fn changed(&self) -> bool {
        self.environments.iter().any(|e| {
            matches!(
                e.outcome,
                Outcome::Planned | Outcome::Pushed { .. } | Outcome::Reviewed { .. }
            )
        })
    }

    /// Every failure: failed scans and failed environments.
    pub fn failures(&self) -> Vec<String> {
        let refused = self.rules.as_ref().and_then(|r| {
            r.refused
                .as_ref()
                .map(|refusal| format!("{}: {refusal}", r.source))
        });
        let mut out: Vec<String> = self
            .scans
            .values()
            .filter_map(|s| s.error.as_ref().map(|e| format!("image {}: {e}", s.image)))
            .collect();
        // A policy that cannot choose although its image was listed (a followed tag
        // without a sibling).
        for selection in self.selections.values() {
            let listed = self
                .scans
                .get(&selection.image)
                .is_some_and(|s| s.error.is_none());
            if let (true, Some(why)) = (listed, &selection.error) {
                out.push(format!("policy {}: {why}", selection.policy));
            }
        }
        for (image, tag, why) in &self.digest_failures {
            out.push(format!(
                "image {image}: cannot read the digest of {tag}, its pinned markers did not move: {why}"
            ));
        }
        for env in &self.environments {
            if let Outcome::Failed(why) = &env.outcome {
                out.push(format!("environment {}: {why}", env.name));
            }
        }
        out.extend(refused);
        out
    }
}
