//! The rules a pass applies: read from the commit it builds on. A change that does not
//! validate is refused and the last good rules (the newest earlier version that validates)
//! stay in force; the refusal names file:line@commit and the commit's author, and with a
//! forge the refused commit gets a failing commit status.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::common::text::short_commit as short;
use crate::config::{Config, EnvironmentConfig, RulesFiles, RulesSource};
use crate::git::{HistoryQuery, Snapshot, Workspace};
use crate::markers;

/// How many commits that touched the rules are searched for the last good version.
pub const RULES_HISTORY_LIMIT: usize = 50;

/// Rules files larger than this are not read.
const MAX_RULES_FILE: u64 = 1 << 20;

/// The commit status context Baton sets on a refused rules commit.
pub const STATUS_CONTEXT: &str = "baton/rules";

/// Refused rules commits already marked on the forge by this process: (repository, commit).
static MARKED: std::sync::Mutex<std::collections::BTreeSet<(String, String)>> =
    std::sync::Mutex::new(std::collections::BTreeSet::new());

/// With a `[forge]`, sets a failing commit status (context `baton/rules`) on the refused rules
/// commit, saying why, so the refusal shows where the change was made. Once per commit; a
/// forge that cannot be reached is logged and asked again on the next pass.
pub async fn mark_refused(config: &Config, report: Option<&RulesReport>) {
    let (Some(forge), Some(refused)) = (&config.forge, report.and_then(|r| r.refused.as_ref()))
    else {
        return;
    };
    let key = (forge.repository.clone(), refused.commit.clone());
    let known = MARKED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .contains(&key);
    if known || refused.commit.len() != 40 {
        return;
    }
    let first = refused
        .errors
        .first()
        .map(String::as_str)
        .unwrap_or_default();
    let more = match refused.errors.len() {
        0 | 1 => String::new(),
        n => format!(" (and {} more)", n - 1),
    };
    let status = crate::forge::CommitStatus {
        state: crate::forge::StatusState::Failure,
        context: STATUS_CONTEXT.to_string(),
        description: format!("rules refused, the last good rules stay in force: {first}{more}"),
        target_url: None,
    };
    let result = match crate::forge::Forge::from_config(forge) {
        Ok(client) => client.set_status(&refused.commit, &status).await,
        Err(err) => Err(err),
    };
    match result {
        Ok(()) => {
            MARKED
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .insert(key);
        }
        Err(err) => {
            tracing::warn!(commit = %refused.commit, error = %err, "cannot set the failing commit status on the refused rules commit; the next pass tries again")
        }
    }
}

/// The trailer naming the rules commit a Baton commit applied.
pub const TRAILER_RULES: &str = "Baton-Rules";

/// Which rules a pass applied, and any refused change.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RulesReport {
    /// `[git] rules` as written (`baton.toml`, `flux:clusters/my-cluster`).
    pub source: String,
    /// The commit that last changed the rules in force; `None` when none validated.
    pub applied: Option<String>,
    /// The newest rules change, when it was refused.
    pub refused: Option<Refusal>,
    /// Fields read but not acted on, located.
    pub notes: Vec<String>,
}

/// A rules change that did not validate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refusal {
    /// The commit that made the rules what they are.
    pub commit: String,
    /// Its author, `Name <email>`.
    pub author: String,
    /// Every problem, `file:line:column@commit: key: message`.
    pub errors: Vec<String>,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "rules at {} by {} refused ({} error{}), the last good rules stay in force:",
            short(&self.commit),
            self.author,
            self.errors.len(),
            if self.errors.len() == 1 { "" } else { "s" }
        )?;
        for error in &self.errors {
            write!(f, "\n  {error}")?;
        }
        Ok(())
    }
}

/// One version of the rules: the commit that introduced it, its author and its files.
struct Version {
    commit: String,
    author: String,
    files: Vec<(PathBuf, Vec<u8>)>,
    /// Why the rules could not be read at all (a link, too large).
    unreadable: Option<String>,
}

/// The configuration a pass works with: `host` plus the rules at the workspace's HEAD (or the
/// last good ones), with what happened to them. Without `[git] rules`, `host` as it is.
pub fn for_pass(host: &Config, workspace: &Workspace) -> (Config, Option<RulesReport>) {
    let Some(rules) = &host.rules else {
        return (host.clone(), None);
    };
    let mut report = RulesReport {
        source: rules.source.to_string(),
        ..RulesReport::default()
    };
    let versions = match versions(&rules.source, workspace) {
        Ok(v) => v,
        Err(why) => {
            report.refused = Some(Refusal {
                commit: workspace.head().map(|h| h.to_string()).unwrap_or_default(),
                author: String::new(),
                errors: vec![format!("cannot read the rules {}: {why}", rules.source)],
            });
            return (host.clone(), Some(report));
        }
    };
    if versions.is_empty() {
        report.refused = Some(Refusal {
            commit: workspace.head().map(|h| h.to_string()).unwrap_or_default(),
            author: String::new(),
            errors: vec![format!(
                "{} does not exist on the branch: add it, or fix [git] rules in {}",
                rules.source,
                host.source.display()
            )],
        });
        return (host.clone(), Some(report));
    }
    for (i, version) in versions.iter().enumerate() {
        let files = RulesFiles {
            commit: Some(short(&version.commit).to_string()),
            files: version.files.clone(),
        };
        let result = match &version.unreadable {
            Some(why) => Err(vec![why.clone()]),
            None => host
                .with_rules(&files)
                .map_err(|e| e.errors.iter().map(ToString::to_string).collect()),
        };
        match result {
            Ok(applied) => {
                if i == 0 {
                    report.notes = applied.notes;
                }
                report.applied = Some(version.commit.clone());
                return (applied.config, Some(report));
            }
            Err(errors) if i == 0 => {
                report.refused = Some(Refusal {
                    commit: version.commit.clone(),
                    author: version.author.clone(),
                    errors,
                });
            }
            Err(_) => {}
        }
    }
    (host.clone(), Some(report))
}

/// The versions of the rules, newest first, each named by the commit that introduced it (the
/// oldest commit of a run with the same rules), over the last commits that touched them.
fn versions(source: &RulesSource, workspace: &Workspace) -> Result<Vec<Version>, String> {
    let query = HistoryQuery {
        paths: vec![source.path().to_path_buf()],
        limit: Some(RULES_HISTORY_LIMIT),
    };
    let history = workspace.history(&query).map_err(|e| e.to_string())?;
    let mut out: Vec<Version> = Vec::new();
    for record in history {
        let files = match workspace
            .snapshot(
                record.id,
                source.path(),
                &|p| source.wants(p),
                MAX_RULES_FILE,
            )
            .map_err(|e| e.to_string())?
        {
            Snapshot::Missing => Vec::new(),
            Snapshot::Files { files, skipped } => {
                // A rules file that is a link or too large is an error, not an absence.
                if let (RulesSource::File(path), Some((_, why))) = (source, skipped.first())
                    && files.is_empty()
                {
                    let author = format!("{} <{}>", record.author.name, record.author.email);
                    out.push(Version {
                        commit: record.id.to_string(),
                        author,
                        files: Vec::new(),
                        unreadable: Some(format!(
                            "{}@{}: the rules file is {why}: it must be a regular file of at most {} KiB",
                            path.display(),
                            short(&record.id.to_string()),
                            MAX_RULES_FILE / 1024
                        )),
                    });
                    continue;
                }
                files
                    .into_iter()
                    .filter(|(_, bytes)| is_rules_file(source, bytes))
                    .collect()
            }
        };
        let author = format!("{} <{}>", record.author.name, record.author.email);
        match out.last_mut() {
            // The same rules one commit further back: that commit introduced them.
            Some(last) if last.unreadable.is_none() && last.files == files => {
                last.commit = record.id.to_string();
                last.author = author;
            }
            // The rules did not exist before this commit.
            _ if files.is_empty() => break,
            _ => out.push(Version {
                commit: record.id.to_string(),
                author,
                files,
                unreadable: None,
            }),
        }
    }
    Ok(out)
}

/// Whether a file read under the source is part of the rules: the rules file itself, or a
/// YAML file holding Flux's image automation objects.
fn is_rules_file(source: &RulesSource, bytes: &[u8]) -> bool {
    match source {
        RulesSource::File(_) => true,
        RulesSource::Flux(_) => {
            let group = crate::flux::API_GROUP.as_bytes();
            bytes.windows(group.len()).any(|w| w == group)
        }
    }
}

/// Points each `$imagepolicy` marker at its policy by namespace and name (`NAMESPACE:NAME`),
/// when the rules define one so (Flux's objects); other markers keep the name they wrote.
pub(super) fn resolve_namespaces(config: &Config, scan: &mut markers::Scan) {
    for marker in scan.files.iter_mut().flat_map(|f| f.markers.iter_mut()) {
        if let Some(namespace) = &marker.namespace {
            let qualified = format!("{namespace}:{}", marker.policy);
            if config.policies.contains_key(&qualified) {
                marker.policy = qualified;
            }
        }
    }
}

/// Leaves out the markers of policies the environment does not apply (an
/// ImageUpdateAutomation applies its own namespace's policies its selector accepts, and leaves
/// other policies' markers alone, as Flux does). Markers naming no policy at all stay, to be
/// reported.
pub(super) fn keep_selected(config: &Config, env: &EnvironmentConfig, scan: &mut markers::Scan) {
    let Some(policies) = &env.policies else {
        return;
    };
    for file in &mut scan.files {
        file.markers
            .retain(|m| policies.contains(&m.policy) || !config.policies.contains_key(&m.policy));
    }
    scan.files.retain(|f| !f.markers.is_empty());
}

/// `text` with a `Baton-Rules: COMMIT` trailer, added to its trailer block when it ends
/// with one.
pub fn with_rules_trailer(text: &str, commit: &str) -> String {
    let trimmed = text.trim_end();
    let last = trimmed.rsplit("\n\n").next().unwrap_or("");
    let in_block = trimmed.contains("\n\n")
        && !last.is_empty()
        && last.lines().all(|l| {
            l.split_once(": ")
                .is_some_and(|(k, _)| !k.is_empty() && !k.contains(' '))
        });
    if in_block {
        format!("{trimmed}\n{TRAILER_RULES}: {commit}\n")
    } else {
        format!("{trimmed}\n\n{TRAILER_RULES}: {commit}\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rules_trailer_joins_the_trailer_block() {
        assert_eq!(
            with_rules_trailer(
                "staging: a 1 -> 2\n\nBaton-Environment: staging\nBaton-To: 2\n",
                "abc"
            ),
            "staging: a 1 -> 2\n\nBaton-Environment: staging\nBaton-To: 2\nBaton-Rules: abc\n"
        );
        assert_eq!(
            with_rules_trailer("custom subject\n\nsome words here.\n", "abc"),
            "custom subject\n\nsome words here.\n\nBaton-Rules: abc\n"
        );
        assert_eq!(
            with_rules_trailer("one line", "abc"),
            "one line\n\nBaton-Rules: abc\n"
        );
    }

    #[test]
    fn refusals_name_commit_author_and_every_error() {
        let refusal = Refusal {
            commit: "0123456789abcdef0123".into(),
            author: "Ann <ann@example.com>".into(),
            errors: vec!["baton.toml:3:1@0123456789ab: images.x: bad".into()],
        };
        assert_eq!(
            refusal.to_string(),
            "rules at 0123456789ab by Ann <ann@example.com> refused (1 error), the last good rules stay in force:\n  baton.toml:3:1@0123456789ab: images.x: bad"
        );
    }
}
