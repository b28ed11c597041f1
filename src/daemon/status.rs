//! The daemon's live state as operators see it: `/api/v1/status` and `baton status`.
//!
//! Plain data, updated by the scan tasks and the reconciler, serialised as JSON.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::common::text::short_commit as short;
use crate::{markers, pass};

/// Everything `/api/v1/status` reports.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Status {
    /// Baton's version.
    pub version: String,
    /// When the daemon started (RFC 3339).
    pub started_at: String,
    /// Whether `/readyz` would answer 200 right now.
    #[serde(default)]
    pub ready: bool,
    /// Whether shutdown has begun.
    #[serde(default)]
    pub stopping: bool,
    /// The board at `/`: `open` (loopback), `token` (needs `daemon.ui_token_file`'s token),
    /// `refused` (a wider listener without a token) or `off` (`daemon.ui = false`).
    #[serde(default)]
    pub board: String,
    /// The configuration in force.
    pub config: ConfigStatus,
    /// The Git workspace: with one repository its status; with several, empty (see
    /// `repositories`).
    pub git: GitStatus,
    /// Per repository (`[git]` is the one named `default`): its remote, sync and rules.
    #[serde(default)]
    pub repositories: BTreeMap<String, RepositoryStatus>,
    /// Per `[images]` name.
    pub images: BTreeMap<String, ImageStatus>,
    /// Per `[environments]` name.
    pub environments: BTreeMap<String, EnvironmentStatus>,
    /// The repository's rules (`[git] rules`) the last pass applied, and a refused change
    /// (with several repositories, see each one's `rules`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rules: Option<crate::pass::rules::RulesReport>,
}

/// One repository Baton edits.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct RepositoryStatus {
    /// The remote, without credentials.
    pub remote: String,
    /// The branch it builds on.
    pub branch: String,
    /// Its clone's last sync.
    pub git: GitStatus,
    /// Its rules (`rules = ...`) the last pass applied, and a refused change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rules: Option<crate::pass::rules::RulesReport>,
    /// The environments it holds.
    #[serde(default)]
    pub environments: Vec<String>,
}

/// The configuration in force and the last reload.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ConfigStatus {
    /// The file.
    pub path: String,
    /// When the configuration in force was loaded.
    pub loaded_at: String,
    /// Why the last reload was refused, if it was (cleared by the next successful one).
    pub last_reload_error: Option<String>,
}

/// The workspace's last sync with the remote.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct GitStatus {
    /// When the remote was last fetched successfully.
    pub last_sync: Option<String>,
    /// The commit the clone was at after the last reconciliation.
    pub head: Option<String>,
    /// The last clone or fetch error, cleared by the next success.
    pub last_error: Option<String>,
}

/// One image's last scan and choices.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ImageStatus {
    /// The repository scanned.
    pub repository: String,
    /// When the last scan finished (RFC 3339), successful or not.
    pub last_scan: Option<String>,
    /// Valid tags seen in the last successful scan.
    pub tag_count: usize,
    /// Per policy of this image: the rule, the chosen tag and why.
    pub policies: BTreeMap<String, PolicyStatus>,
    /// The last scan error, cleared by the next success.
    pub last_error: Option<String>,
}

/// One policy's current choice.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct PolicyStatus {
    /// The rule in words.
    pub rule: String,
    /// The chosen tag, when there is one.
    pub chosen: Option<String>,
    /// The decision in words (how many tags were considered and skipped).
    pub reason: String,
}

/// One environment's last reconciliation and what it waits for.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct EnvironmentStatus {
    /// The repository that holds it.
    #[serde(default)]
    pub repository: String,
    /// When it was last reconciled.
    pub last_pass: Option<String>,
    /// How that ended: `up to date`, `pushed to BRANCH`, `waiting`, `failed`.
    pub outcome: Option<String>,
    /// The last commit Baton pushed for it.
    pub last_commit: Option<String>,
    /// When it was pushed.
    pub last_commit_at: Option<String>,
    /// The moves of that commit (`policy from -> to`).
    #[serde(default)]
    pub last_moves: Vec<String>,
    /// Review branches with changes waiting for a person.
    #[serde(default)]
    pub pending_reviews: Vec<ReviewEntry>,
    /// Why moves are waiting (gate not met, window closed, soaking).
    #[serde(default)]
    pub waiting: Vec<WaitingEntry>,
    /// Marker lines held by a person, with the reason.
    #[serde(default)]
    pub holds: Vec<String>,
    /// Marker problems found in its files.
    #[serde(default)]
    pub problems: Vec<ProblemEntry>,
    /// Per `[images]` name: what its markers hold after the last pass, and a person's hold.
    #[serde(default)]
    pub running: BTreeMap<String, RunningEntry>,
    /// How each image's current move verifies (environments with verification checks).
    #[serde(default)]
    pub verification: Vec<VerificationEntry>,
    /// The last failure, cleared by the next success.
    pub last_error: Option<String>,
}

/// What one image's markers hold in an environment.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct RunningEntry {
    /// The versions its markers hold (several when they disagree).
    pub versions: Vec<String>,
    /// The reason of a person's hold on one of its markers.
    pub hold: Option<String>,
}

impl From<&pass::Running> for RunningEntry {
    fn from(r: &pass::Running) -> Self {
        RunningEntry {
            versions: r.versions.clone(),
            hold: r.hold.clone(),
        }
    }
}

/// Something that does not move yet.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct WaitingEntry {
    /// The `[images]` name; `null` when the whole environment waits (a window, a freeze).
    pub image: Option<String>,
    /// Why, in words.
    pub reason: String,
    /// When the wait ends (RFC 3339), when known.
    pub until: Option<String>,
}

impl From<&pass::Waiting> for WaitingEntry {
    fn from(w: &pass::Waiting) -> Self {
        WaitingEntry {
            image: w.image.clone(),
            reason: w.reason.clone(),
            until: w.until.map(|t| t.to_string()),
        }
    }
}

/// How one image's current move verifies in an environment.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct VerificationEntry {
    /// The `[images]` name.
    pub image: String,
    /// The version its markers hold.
    pub version: String,
    /// The commit that brought it.
    pub commit: String,
    /// `passed`, `failing`, `waiting`, `failed` or `rolling_back`.
    pub state: String,
    /// In words, with the failing check and its last answer.
    pub summary: String,
    /// Each check's last answer.
    pub checks: Vec<CheckEntry>,
    /// Until when it may still pass (RFC 3339), while `waiting`.
    pub until: Option<String>,
}

/// One verification check's last answer.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct CheckEntry {
    /// The check in words (address without credentials or query).
    pub check: String,
    /// Whether it passed.
    pub passed: bool,
    /// What it answered.
    pub answer: String,
}

impl From<&pass::Verification> for VerificationEntry {
    fn from(v: &pass::Verification) -> Self {
        VerificationEntry {
            image: v.image.clone(),
            version: v.version.clone(),
            commit: v.commit.clone(),
            state: v.state.to_string(),
            summary: v.summary.clone(),
            checks: v
                .checks
                .iter()
                .map(|a| CheckEntry {
                    check: a.check.clone(),
                    passed: a.passed,
                    answer: a.answer.clone(),
                })
                .collect(),
            until: v.until.map(|t| t.to_string()),
        }
    }
}

impl std::fmt::Display for VerificationEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.image, self.version, self.summary)
    }
}

impl std::fmt::Display for WaitingEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&pass::waiting_text(self.image.as_deref(), &self.reason))
    }
}

/// One image's change waiting for review.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ReviewEntry {
    /// The `[images]` name.
    pub image: String,
    /// The branch Baton owns for it.
    pub branch: String,
    /// The version(s) it moves from.
    pub from: String,
    /// The version it moves to.
    pub to: String,
    /// `planned`, `opened`, `updated`, `current`, `declined`, `person_pending` (a person's
    /// promotion waits on the branch), `branch_pushed`, `branch_current` or `failed`.
    pub action: String,
    /// The pull request number, when there is one.
    pub number: Option<u64>,
    /// The pull request page, when there is one.
    pub url: Option<String>,
    /// The action in words.
    pub summary: String,
    /// With `auto_merge`: what came of merging it, in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merge: Option<String>,
}

impl From<&pass::Review> for ReviewEntry {
    fn from(r: &pass::Review) -> Self {
        use pass::ReviewAction as A;
        let (action, pull) = match &r.action {
            A::Planned(_) => ("planned", None),
            A::Opened { number, url } => ("opened", Some((number, url))),
            A::Updated { number, url } => ("updated", Some((number, url))),
            A::Current { number, url } => ("current", Some((number, url))),
            A::Declined { number, url } => ("declined", Some((number, url))),
            A::PersonPending { number, url, .. } => {
                return ReviewEntry {
                    image: r.image.clone(),
                    branch: r.branch.clone(),
                    from: r.from.clone(),
                    to: r.to.clone(),
                    action: "person_pending".to_string(),
                    number: *number,
                    url: url.clone(),
                    summary: r.action.to_string(),
                    merge: r.merge.as_ref().map(ToString::to_string),
                };
            }
            A::BranchPushed => ("branch_pushed", None),
            A::BranchCurrent => ("branch_current", None),
            A::Failed(_) => ("failed", None),
        };
        ReviewEntry {
            image: r.image.clone(),
            branch: r.branch.clone(),
            from: r.from.clone(),
            to: r.to.clone(),
            action: action.to_string(),
            number: pull.map(|(n, _)| *n),
            url: pull.map(|(_, u)| u.clone()),
            summary: r.action.to_string(),
            merge: r.merge.as_ref().map(ToString::to_string),
        }
    }
}

impl std::fmt::Display for ReviewEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} ({} -> {} on {}): {}",
            self.image, self.from, self.to, self.branch, self.summary
        )?;
        match &self.merge {
            Some(merge) => write!(f, "; auto-merge: {merge}"),
            None => Ok(()),
        }
    }
}

/// A marker problem: a marker naming an unknown policy, a path that does not exist, a value
/// that cannot be edited.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ProblemEntry {
    /// The file or directory, relative to the repository root.
    pub path: String,
    /// The line from 1; 0 when the problem is with the whole file or path.
    pub line: usize,
    /// What is wrong and what to do.
    pub message: String,
}

impl From<&markers::Problem> for ProblemEntry {
    fn from(p: &markers::Problem) -> Self {
        ProblemEntry {
            path: p.path.display().to_string(),
            line: p.line,
            message: p.message.clone(),
        }
    }
}

impl std::fmt::Display for ProblemEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.path, self.message)
        } else {
            write!(f, "{}:{}: {}", self.path, self.line, self.message)
        }
    }
}

/// The current time as RFC 3339, for status fields.
pub fn now() -> String {
    jiff::Timestamp::now().to_string()
}

impl Status {
    /// The status as text for `baton status`: one block for the daemon, one line per image
    /// and policy, one block per environment.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let state = if self.stopping {
            "stopping"
        } else if self.ready {
            "ready"
        } else {
            "not ready"
        };
        let _ = writeln!(
            out,
            "baton {} ({state}), running since {}",
            self.version, self.started_at
        );
        let _ = writeln!(
            out,
            "config: {} (loaded {})",
            self.config.path, self.config.loaded_at
        );
        if let Some(error) = &self.config.last_reload_error {
            let _ = writeln!(
                out,
                "  last reload refused: {}",
                error.replace('\n', "\n  ")
            );
        }
        if self.repositories.len() > 1 {
            let _ = writeln!(out, "\nrepositories:");
            for (name, repository) in &self.repositories {
                let _ = writeln!(
                    out,
                    "  {name} ({} {}): last sync {}, head {}, environments {}",
                    repository.remote,
                    repository.branch,
                    repository.git.last_sync.as_deref().unwrap_or("never"),
                    repository.git.head.as_deref().map(short).unwrap_or("-"),
                    match repository.environments.is_empty() {
                        true => "none".to_string(),
                        false => repository.environments.join(", "),
                    }
                );
                git_text(&mut out, "    ", &repository.git, repository.rules.as_ref());
            }
        } else {
            let _ = writeln!(
                out,
                "git: last sync {}, head {}",
                self.git.last_sync.as_deref().unwrap_or("never"),
                self.git.head.as_deref().map(short).unwrap_or("-")
            );
            git_text(&mut out, "", &self.git, self.rules.as_ref());
        }
        let _ = writeln!(out, "\nimages:");
        for (name, image) in self.images.iter() {
            let _ = writeln!(
                out,
                "  {name} ({}): {} tags, last scan {}",
                image.repository,
                image.tag_count,
                image.last_scan.as_deref().unwrap_or("never")
            );
            if let Some(error) = &image.last_error {
                let _ = writeln!(out, "    error: {error}");
            }
            for (policy, choice) in image.policies.iter() {
                let _ = writeln!(
                    out,
                    "    {policy}: {} ({})",
                    choice.chosen.as_deref().unwrap_or("no choice"),
                    choice.reason
                );
            }
        }
        let _ = writeln!(out, "\nenvironments:");
        for (name, env) in &self.environments {
            let name = match self.repositories.len() > 1 {
                true => format!("{name} ({})", env.repository),
                false => name.clone(),
            };
            let _ = writeln!(
                out,
                "  {name}: {}, last pass {}",
                env.outcome.as_deref().unwrap_or("not reconciled yet"),
                env.last_pass.as_deref().unwrap_or("never")
            );
            if let Some(commit) = &env.last_commit {
                let _ = writeln!(
                    out,
                    "    last commit {} at {}: {}",
                    short(commit),
                    env.last_commit_at.as_deref().unwrap_or("?"),
                    env.last_moves.join(", ")
                );
            }
            for line in &env.verification {
                let _ = writeln!(out, "    verify: {line}");
            }
            for line in &env.waiting {
                let _ = writeln!(out, "    waiting: {line}");
            }
            for line in &env.pending_reviews {
                let _ = writeln!(out, "    review: {line}");
            }
            for line in &env.holds {
                let _ = writeln!(out, "    hold: {line}");
            }
            for line in &env.problems {
                let _ = writeln!(out, "    problem: {line}");
            }
            if let Some(error) = &env.last_error {
                let _ = writeln!(out, "    error: {error}");
            }
        }
        out
    }
}

/// A repository's last error and rules, indented by `indent`.
fn git_text(
    out: &mut String,
    indent: &str,
    git: &GitStatus,
    rules: Option<&crate::pass::rules::RulesReport>,
) {
    if let Some(error) = &git.last_error {
        let _ = writeln!(out, "{indent}  error: {error}");
    }
    if let Some(rules) = rules {
        let _ = writeln!(
            out,
            "{indent}rules: {} at {}",
            rules.source,
            rules.applied.as_deref().map(short).unwrap_or("none valid")
        );
        if let Some(refused) = &rules.refused {
            let pad = format!("\n{indent}  ");
            let _ = writeln!(out, "{indent}  {}", refused.to_string().replace('\n', &pad));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_names_images_policies_and_environments() {
        let mut status = Status {
            version: "0.1.0".into(),
            ready: true,
            ..Status::default()
        };
        status.images.insert(
            "app".into(),
            ImageStatus {
                repository: "ghcr.io/example/app".into(),
                tag_count: 3,
                policies: [(
                    "app".to_string(),
                    PolicyStatus {
                        rule: "semver 1.x".into(),
                        chosen: Some("1.2.0".into()),
                        reason: "chose 1.2.0 of 3 tags by semver 1.x".into(),
                    },
                )]
                .into(),
                ..ImageStatus::default()
            },
        );
        status.environments.insert(
            "staging".into(),
            EnvironmentStatus {
                outcome: Some("pushed to main".into()),
                last_commit: Some("0123456789abcdef".into()),
                last_moves: vec!["app 1.1.0 -> 1.2.0".into()],
                holds: vec!["clusters/staging/app.yaml:3: app held: INC-1".into()],
                ..EnvironmentStatus::default()
            },
        );
        let text = status.to_text();
        assert!(text.contains("baton 0.1.0 (ready)"), "{text}");
        assert!(text.contains("app: 1.2.0 (chose 1.2.0"), "{text}");
        assert!(text.contains("last commit 0123456789ab"), "{text}");
        assert!(text.contains("app 1.1.0 -> 1.2.0"), "{text}");
        assert!(text.contains("hold: clusters/staging/app.yaml:3"), "{text}");
        let json = serde_json::to_string(&status).unwrap();
        let back: Status = serde_json::from_str(&json).unwrap();
        assert_eq!(back, status);
    }
}
