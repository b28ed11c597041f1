//! How commands print for scripts: `--json` / `--output json`, and the JSON shapes of `plan`
//! and `once` (docs/json-output.md documents them; `schema` names their version).

use serde::Serialize;

use crate::daemon::status::{ProblemEntry, ReviewEntry, VerificationEntry, WaitingEntry};
use crate::pass::{Outcome, PassReport};

/// The version of the JSON shapes; raised when a field changes meaning or goes away.
pub const SCHEMA: u32 = 1;

/// Output format values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    /// Text for a person.
    Text,
    /// One JSON document on stdout (see docs/json-output.md).
    Json,
}

/// `--json` and `--output`.
#[derive(Debug, Clone, clap::Args)]
pub struct OutputArg {
    /// Print one JSON document on stdout instead of text (same as --output json).
    #[arg(long)]
    pub json: bool,
    /// Output format.
    #[arg(long, value_enum, value_name = "FORMAT", conflicts_with = "json")]
    pub output: Option<OutputFormat>,
}

impl OutputArg {
    /// True when JSON was asked for.
    pub fn is_json(&self) -> bool {
        self.json || self.output == Some(OutputFormat::Json)
    }
}

/// Prints `value` as pretty JSON on stdout.
pub fn print_json<T: Serialize>(value: &T) -> anyhow::Result<()> {
    let text = serde_json::to_string_pretty(value)?;
    println!("{text}");
    Ok(())
}

/// `plan` and `once` as JSON.
#[derive(Debug, Serialize)]
pub struct PassJson {
    /// [`SCHEMA`].
    pub schema: u32,
    /// `plan` or `once`.
    pub command: &'static str,
    /// The exit code the command ends with.
    pub exit_code: u8,
    /// False when no image could be scanned: nothing was checked.
    pub checked: bool,
    /// One entry per `[images]` name.
    pub images: Vec<ImageJson>,
    /// One entry per `[policies]` name.
    pub policies: Vec<PolicyJson>,
    /// In the order they were processed.
    pub environments: Vec<EnvironmentJson>,
    /// Every failure, one sentence each (failed scans, digests, environments, refused rules).
    pub failures: Vec<String>,
    /// With `[git] rules`: the rules applied and any refused change; absent without.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rules: Option<crate::pass::rules::RulesReport>,
}

/// One image's scan.
#[derive(Debug, Serialize)]
pub struct ImageJson {
    /// The `[images]` name.
    pub name: String,
    /// The registry host.
    pub registry: String,
    /// Valid tags seen; `null` when the scan failed.
    pub tags: Option<usize>,
    /// Why the scan failed.
    pub error: Option<String>,
    /// The error's kind (auth, not_found, rate_limited, timeout, ...).
    pub error_kind: Option<&'static str>,
}

/// One policy's choice.
#[derive(Debug, Serialize)]
pub struct PolicyJson {
    /// The `[policies]` name.
    pub name: String,
    /// The `[images]` name.
    pub image: String,
    /// The rule in words.
    pub rule: String,
    /// The chosen tag; `null` when nothing is eligible or the scan failed.
    pub chosen: Option<String>,
    /// The decision in words.
    pub reason: Option<String>,
    /// Why there is no decision.
    pub error: Option<String>,
    /// Tags ranked above the choice that a judgement holds back (`too young until T`).
    pub held: Vec<crate::pass::HeldTag>,
    /// For a policy following a moving tag: which sibling has its digest.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub follow: Option<String>,
}

/// One environment's part of the pass.
#[derive(Debug, Serialize)]
pub struct EnvironmentJson {
    /// The `[environments]` name.
    pub name: String,
    /// `unchanged`, `planned`, `pushed`, `reviewed`, `waiting`, `skipped` or `failed`.
    pub outcome: &'static str,
    /// The outcome in words.
    pub summary: String,
    /// The commit pushed (`pushed` only).
    pub commit: Option<String>,
    /// The branch pushed to (`pushed` only).
    pub branch: Option<String>,
    /// The moves found.
    pub moves: Vec<MoveJson>,
    /// The unified diff of the edits (empty when none).
    pub diff: String,
    /// The commit message used or planned.
    pub message: Option<String>,
    /// Marker problems.
    pub problems: Vec<ProblemEntry>,
    /// Markers held by a person (`FILE:LINE: POLICY held: REASON`).
    pub held: Vec<String>,
    /// What waits.
    pub waiting: Vec<WaitingEntry>,
    /// How each image's current move verifies (environments with verification checks).
    pub verification: Vec<VerificationEntry>,
    /// Review-mode changes.
    pub reviews: Vec<ReviewEntry>,
    /// What a person should know, such as a pending review a promotion replaces.
    pub notes: Vec<String>,
    /// The failure (`failed` only).
    pub error: Option<String>,
}

/// One move.
#[derive(Debug, Serialize)]
pub struct MoveJson {
    /// The policy name.
    pub policy: String,
    /// The repository.
    pub image: String,
    /// The rule in words.
    pub rule: String,
    /// The version before.
    pub from: String,
    /// The version after.
    pub to: String,
    /// The digest written, when pinned.
    pub digest: Option<String>,
}

/// The outcome's one-word name.
pub fn outcome_name(outcome: &Outcome) -> &'static str {
    match outcome {
        Outcome::Unchanged => "unchanged",
        Outcome::Planned => "planned",
        Outcome::Pushed { .. } => "pushed",
        Outcome::Skipped(_) => "skipped",
        Outcome::Waiting(_) => "waiting",
        Outcome::Reviewed { .. } => "reviewed",
        Outcome::Failed(_) => "failed",
    }
}

impl PassJson {
    /// The report as JSON.
    pub fn new(command: &'static str, report: &PassReport, exit_code: u8) -> PassJson {
        let images = report
            .scans
            .values()
            .map(|s| ImageJson {
                name: s.image.clone(),
                registry: s.registry.clone(),
                tags: s.tags.as_ref().map(Vec::len),
                error: s.error.clone(),
                error_kind: s.error_kind,
            })
            .collect();
        let policies = report
            .selections
            .values()
            .map(|s| PolicyJson {
                name: s.policy.clone(),
                image: s.image.clone(),
                rule: s.rule.clone(),
                chosen: s.chosen().map(str::to_string),
                reason: s.decision.as_ref().map(|_| s.reason()),
                error: s.error.clone(),
                held: s.held.clone(),
                follow: s.follow.clone(),
            })
            .collect();
        let environments = report
            .environments
            .iter()
            .map(|e| {
                let (commit, branch) = match &e.outcome {
                    Outcome::Pushed { commit, branch, .. } => {
                        (Some(commit.clone()), Some(branch.clone()))
                    }
                    _ => (None, None),
                };
                EnvironmentJson {
                    name: e.name.clone(),
                    outcome: outcome_name(&e.outcome),
                    summary: super::pass::outcome_text(&e.outcome, e.moves.len()),
                    commit,
                    branch,
                    moves: e
                        .moves
                        .iter()
                        .map(|m| MoveJson {
                            policy: m.policy.clone(),
                            image: m.image.clone(),
                            rule: m.rule.clone(),
                            from: m.from.clone(),
                            to: m.to.clone(),
                            digest: m.digest.clone(),
                        })
                        .collect(),
                    diff: e.diff.clone(),
                    message: e.message.clone(),
                    problems: e.problems.iter().map(ProblemEntry::from).collect(),
                    held: e.held.clone(),
                    waiting: e.waiting.iter().map(WaitingEntry::from).collect(),
                    verification: e.verification.iter().map(VerificationEntry::from).collect(),
                    reviews: e.reviews.iter().map(ReviewEntry::from).collect(),
                    notes: e.notes.clone(),
                    error: match &e.outcome {
                        Outcome::Failed(why) => Some(why.clone()),
                        _ => None,
                    },
                }
            })
            .collect();
        PassJson {
            schema: SCHEMA,
            command,
            exit_code,
            checked: super::pass::anything_checked(report),
            images,
            policies,
            environments,
            failures: report.failures(),
            rules: report.rules.clone(),
        }
    }
}
