//! `baton verify --range`: the gates of each environment (promote_from, the source's
//! verification as its Git notes record it, soak, windows, freezes, groups with one version)
//! applied to the commits of a range, as if each move in them had been Baton's. A move that
//! does not satisfy them is a violation unless its commit carries `Baton-Promoted-By` (a
//! person's recorded decision).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use jiff::{SignedDuration, Timestamp};
use serde::Serialize;

use crate::common::text::short_commit as short;
use crate::common::time::utc;
use crate::config::{Config, EnvironmentConfig};
use crate::git::NOTES_REF;
use crate::git::message::TRAILER_PROMOTED_BY;
use crate::git::range::{RangeCommit, RangeReader};
use crate::markers::{self, Field, Marker};
use crate::promotion::{self, SourceVersion};
use crate::verification::{self, Subject};

/// Files of a source environment read to learn what it runs, at most.
const MAX_SOURCE_FILES: usize = 5000;
/// Commits walked back to find when a version arrived in the source environment, at most.
const MAX_SOAK_HISTORY: usize = 500;

/// A move that does not satisfy a gate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Violation {
    /// The commit that made the move (full id).
    pub commit: String,
    /// Its author, `Name <email>`.
    pub author: String,
    /// The file, relative to the repository root.
    pub file: PathBuf,
    /// The marker's line, from 1.
    pub line: usize,
    /// The environment whose gate it is.
    pub environment: String,
    /// The `[images]` name.
    pub image: String,
    /// The value before (`none` for a new marker).
    pub from: String,
    /// The value after.
    pub to: String,
    /// `promote_from`, `verification`, `soak`, `window`, `freeze` or `group`.
    pub gate: String,
    /// What is wrong, in words.
    pub reason: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}: {} {} -> {} in {} by commit {} ({}): gate {}: {}",
            self.file.display(),
            self.line,
            self.image,
            self.from,
            self.to,
            self.environment,
            short(&self.commit),
            self.author,
            self.gate,
            self.reason
        )
    }
}

/// A commit whose moves were not judged: it carries `Baton-Promoted-By`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Exempt {
    /// The commit.
    pub commit: String,
    /// Who promoted by hand.
    pub promoted_by: String,
}

/// What `verify --range` found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RangeReport {
    /// Commits looked at.
    pub commits: usize,
    /// Moves of marked images in environments with gates.
    pub moves: usize,
    /// Commits not judged for their `Baton-Promoted-By` trailer.
    pub exempt: Vec<Exempt>,
    /// Moves that break a gate.
    pub violations: Vec<Violation>,
    /// What was not checked and why.
    pub notes: Vec<String>,
}

/// Whether `env` has a gate this command checks (a group with `same_version` is one in
/// every environment).
fn gated(config: &Config, env: &EnvironmentConfig) -> bool {
    env.promote_from.is_some()
        || !env.windows.is_empty()
        || !env.freeze.is_empty()
        || config.groups.values().any(|g| g.same_version)
}

fn owns(env: &EnvironmentConfig, path: &Path) -> bool {
    env.paths
        .iter()
        .any(|p| p.as_os_str().is_empty() || path.starts_with(p))
}

/// The markers of `text` whose policy `config` knows (Flux namespaces resolved), by line.
fn markers_of(config: &Config, path: &Path, text: Option<&str>) -> Vec<Marker> {
    let Some(text) = text else { return Vec::new() };
    let mut scan = markers::scan_str(path, text);
    super::rules::resolve_namespaces(config, &mut scan);
    scan.files
        .into_iter()
        .flat_map(|f| f.markers)
        .filter(|m| matches!(m.field, Field::Full | Field::Tag))
        .collect()
}

/// Markers keyed by (policy, field, n-th of that pair in the file), so that a line moved by
/// an edit above it still pairs with itself.
fn keyed(markers: &[Marker]) -> HashMap<(String, String, usize), &Marker> {
    let mut seen: HashMap<(String, String), usize> = HashMap::new();
    let mut out = HashMap::new();
    for m in markers {
        let n = seen
            .entry((m.policy.clone(), m.field.to_string()))
            .or_default();
        out.insert((m.policy.clone(), m.field.to_string(), *n), m);
        *n += 1;
    }
    out
}

/// Judges the commits `ids` (oldest first) of the repository `reader` reads.
pub fn judge(config: &Config, reader: &RangeReader, ids: &[String]) -> Result<RangeReport, String> {
    let mut report = RangeReport {
        commits: ids.len(),
        ..RangeReport::default()
    };
    let environments: Vec<(&String, &EnvironmentConfig)> = config
        .environments
        .iter()
        .filter(|(_, e)| gated(config, e))
        .collect();
    if environments.is_empty() {
        report.notes.push(
            "no environment has promote_from, soak, window or freeze, and no group has same_version: nothing to check".into(),
        );
        return Ok(report);
    }
    let mut sources = SourceCache::default();
    for id in ids {
        let commit = reader.commit(id)?;
        if let Some((_, by)) = crate::git::trailers::parse_trailers(&commit.message)
            .into_iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(TRAILER_PROMOTED_BY))
        {
            report.exempt.push(Exempt {
                commit: commit.id.clone(),
                promoted_by: by,
            });
            continue;
        }
        for path in reader.changed_files(&commit)? {
            for (name, env) in &environments {
                if !owns(env, &path) {
                    continue;
                }
                judge_file(
                    config,
                    reader,
                    &commit,
                    name,
                    env,
                    &path,
                    &mut sources,
                    &mut report,
                )?;
            }
        }
    }
    for paths in &sources.truncated {
        report.notes.push(format!(
            "only the first {MAX_SOURCE_FILES} files under {paths} were read to learn what that environment runs: markers past them count as absent"
        ));
    }
    Ok(report)
}

/// The moves `commit` makes in `path` of environment `name`, each judged.
#[allow(clippy::too_many_arguments)]
fn judge_file(
    config: &Config,
    reader: &RangeReader,
    commit: &RangeCommit,
    name: &str,
    env: &EnvironmentConfig,
    path: &Path,
    sources: &mut SourceCache,
    report: &mut RangeReport,
) -> Result<(), String> {
    let after = markers_of(config, path, reader.file(&commit.id, path)?.as_deref());
    if after.is_empty() {
        return Ok(());
    }
    let mut befores = Vec::new();
    for parent in &commit.parents {
        befores.push(markers_of(
            config,
            path,
            reader.file(parent, path)?.as_deref(),
        ));
    }
    let before_keys: Vec<_> = befores.iter().map(|b| keyed(b)).collect();
    for (key, marker) in keyed(&after) {
        let Some(policy) = config.policies.get(&marker.policy) else {
            continue;
        };
        if env
            .policies
            .as_ref()
            .is_some_and(|p| !p.contains(&marker.policy))
        {
            continue;
        }
        let olds: Vec<Option<&&Marker>> = before_keys.iter().map(|b| b.get(&key)).collect();
        // A move: the value differs from what every parent had (a merge that only brings in
        // a change made by one side is not a move of its own).
        if olds
            .iter()
            .any(|o| o.is_some_and(|m| m.current == marker.current))
        {
            continue;
        }
        let Some(to) = promotion::held_version(marker) else {
            continue;
        };
        let from = olds
            .iter()
            .flatten()
            .map(|m| m.current.clone())
            .next()
            .unwrap_or_else(|| "none".to_string());
        report.moves += 1;
        let violation = |gate: &str, reason: String| Violation {
            commit: commit.id.clone(),
            author: commit.author.clone(),
            file: path.to_path_buf(),
            line: marker.line,
            environment: name.to_string(),
            image: policy.image.clone(),
            from: from.clone(),
            to: marker.current.clone(),
            gate: gate.to_string(),
            reason,
        };
        let at = Timestamp::from_second(commit.time).map_err(|e| e.to_string())?;
        if let Some(f) = promotion::window::frozen_by(&env.windows, &env.freeze, at) {
            report.violations.push(violation(
                "freeze",
                format!(
                    "committed at {} inside the freeze {}",
                    utc(at),
                    promotion::window::freeze_text(f)
                ),
            ));
        }
        if !env.windows.is_empty() && !env.windows.iter().any(|w| w.is_open(at)) {
            report.violations.push(violation(
                "window",
                format!("committed at {}, outside every window of {name}", utc(at)),
            ));
        }
        if let Some(reason) = group_gate(
            config,
            reader,
            commit,
            env,
            &policy.image,
            &to,
            sources,
            report,
        )? {
            report.violations.push(violation("group", reason));
        }
        let Some(source) = &env.promote_from else {
            continue;
        };
        let Some(source_env) = config.environments.get(source) else {
            let note = format!(
                "{name} promotes from {source} of another repository: its promote_from, soak and verification are not checked here (one repository at a time)"
            );
            if !report.notes.contains(&note) {
                report.notes.push(note);
            }
            continue;
        };
        let runs = sources.version(config, reader, &commit.id, source_env, &policy.image)?;
        if runs.as_deref() != Some(to.as_str()) {
            report.violations.push(violation(
                "promote_from",
                format!(
                    "{source} runs {} there, not {to}: promote it through {source} first, or record the decision with baton promote (Baton-Promoted-By)",
                    runs.unwrap_or_else(|| "no single version".into())
                ),
            ));
            continue;
        }
        let verified = source_env.verify.enabled();
        if env.soak.is_none() && !verified {
            continue;
        }
        let arrival =
            sources.arrival(config, reader, &commit.id, source_env, &policy.image, &to)?;
        let mut since = Timestamp::from_second(arrival.time).map_err(|e| e.to_string())?;
        if verified {
            let subject = Subject {
                env: source,
                image: &policy.image,
                version: &to,
            };
            match sources.recorded_pass(config, reader, &arrival, source_env, subject, at)? {
                Ok(first_pass) => since = since.max(first_pass),
                Err(reason) => {
                    report.violations.push(violation(
                        "verification",
                        format!(
                            "{reason}: {source} has verification checks, and a version is promoted from it only once they passed there (refs/notes/baton); let it verify, or record the decision with baton promote (Baton-Promoted-By)"
                        ),
                    ));
                    continue;
                }
            }
        }
        let Some(soak) = env.soak else { continue };
        let needed = SignedDuration::try_from(soak).unwrap_or(SignedDuration::MAX);
        if at.duration_since(since) < needed {
            let how = if verified { "verified in" } else { "reached" };
            report.violations.push(violation(
                "soak",
                format!(
                    "{to} {how} {source} at {} ({} before this commit), {} required",
                    utc(since),
                    promotion::age(since, at),
                    crate::common::time::format_duration(soak)
                ),
            ));
        }
    }
    Ok(())
}

/// Why moving `image` to `to` in `env` by `commit` breaks its group, if it does: with
/// `same_version`, every other member with markers in the environment must hold `to` after
/// the commit (a member with none there is not part of the group there). Without
/// `same_version`, whether a member that stayed was at its own candidate needs the registry,
/// so the group is named in a note instead.
#[allow(clippy::too_many_arguments)]
fn group_gate(
    config: &Config,
    reader: &RangeReader,
    commit: &RangeCommit,
    env: &EnvironmentConfig,
    image: &str,
    to: &str,
    sources: &mut SourceCache,
    report: &mut RangeReport,
) -> Result<Option<String>, String> {
    let Some((group, members)) = config.group_of(image) else {
        return Ok(None);
    };
    if !members.same_version {
        let note = format!(
            "group {group} has no same_version: whether its members moved together is not checked (a member that stayed may have been at its own candidate, which only the registry tells)"
        );
        if !report.notes.contains(&note) {
            report.notes.push(note);
        }
        return Ok(None);
    }
    let mut apart = Vec::new();
    for member in members.images.iter().filter(|m| *m != image) {
        match sources.standing(config, reader, &commit.id, env, member)? {
            SourceVersion::Absent => {}
            SourceVersion::One(v) if v == to => {}
            SourceVersion::One(v) => apart.push(format!("{member} holds {v}")),
            SourceVersion::Several(vs) => {
                apart.push(format!("{member} holds several ({})", vs.join(", ")))
            }
        }
    }
    if apart.is_empty() {
        return Ok(None);
    }
    Ok(Some(format!(
        "group {group} ({}) moves only to one version for all (same_version), and after this commit {}: move every member to {to} in one commit, or record the decision with baton promote (Baton-Promoted-By)",
        members.images.join(", "),
        apart.join(", ")
    )))
}

/// Where a version's current run in a source environment began.
struct Arrival {
    /// The oldest first-parent commit of the run (`None` when the history does not show it).
    commit: Option<String>,
    /// Its time, seconds since the epoch (the judged commit's when unknown).
    time: i64,
}

/// What an environment runs at a commit, remembered per (commit, image).
#[derive(Default)]
struct SourceCache {
    versions: BTreeMap<(String, String, String), SourceVersion>,
    /// The paths of environments where only the first MAX_SOURCE_FILES files were read.
    truncated: std::collections::BTreeSet<String>,
}

impl SourceCache {
    /// The one version `env`'s markers of `image` agree on at `commit`.
    fn version(
        &mut self,
        config: &Config,
        reader: &RangeReader,
        commit: &str,
        env: &EnvironmentConfig,
        image: &str,
    ) -> Result<Option<String>, String> {
        Ok(match self.standing(config, reader, commit, env, image)? {
            SourceVersion::One(v) => Some(v),
            _ => None,
        })
    }

    /// What `env`'s markers of `image` hold at `commit`.
    fn standing(
        &mut self,
        config: &Config,
        reader: &RangeReader,
        commit: &str,
        env: &EnvironmentConfig,
        image: &str,
    ) -> Result<SourceVersion, String> {
        let key = (
            commit.to_string(),
            image.to_string(),
            format!("{:?}", env.paths),
        );
        if let Some(v) = self.versions.get(&key) {
            return Ok(v.clone());
        }
        let mut found = Vec::new();
        let mut files = reader.files_under(commit, &env.paths, MAX_SOURCE_FILES + 1)?;
        if files.len() > MAX_SOURCE_FILES {
            files.truncate(MAX_SOURCE_FILES);
            let shown: Vec<String> = env.paths.iter().map(|p| p.display().to_string()).collect();
            self.truncated.insert(shown.join(", "));
        }
        for file in files {
            let text = reader.file(commit, &file)?;
            found.extend(
                markers_of(config, &file, text.as_deref())
                    .into_iter()
                    .filter(|m| {
                        config
                            .policies
                            .get(&m.policy)
                            .is_some_and(|p| p.image == image)
                            && env.policies.as_ref().is_none_or(|p| p.contains(&m.policy))
                    }),
            );
        }
        let standing = promotion::source_version(&found);
        self.versions.insert(key, standing.clone());
        Ok(standing)
    }

    /// When `version` arrived in `env` on the first-parent history of `commit`: the oldest
    /// commit of the unbroken run that holds it, and its time.
    fn arrival(
        &mut self,
        config: &Config,
        reader: &RangeReader,
        commit: &str,
        env: &EnvironmentConfig,
        image: &str,
        version: &str,
    ) -> Result<Arrival, String> {
        let history = reader.path_history(commit, &env.paths, MAX_SOAK_HISTORY)?;
        let mut since = None;
        for (id, time) in history {
            if self.version(config, reader, &id, env, image)?.as_deref() == Some(version) {
                since = Some(Arrival {
                    commit: Some(id),
                    time,
                });
            } else {
                break;
            }
        }
        // Nothing in the history changed the source's files: the version is as old as this
        // commit.
        match since {
            Some(a) => Ok(a),
            None => reader.commit(commit).map(|c| Arrival {
                commit: None,
                time: c.time,
            }),
        }
    }

    /// Whether `subject` (a version in the source environment `env`) had verified at `at`,
    /// by the notes on the commits that brought it there: the arrival commit and, when that
    /// is a merge, the commits it brought in that changed `env`'s files, each counted only
    /// when it moved `env` to the version (a note on any other commit proves nothing about
    /// this move).
    fn recorded_pass(
        &mut self,
        config: &Config,
        reader: &RangeReader,
        arrival: &Arrival,
        env: &EnvironmentConfig,
        subject: Subject<'_>,
        at: Timestamp,
    ) -> Result<Result<Timestamp, String>, String> {
        let Some(commit) = &arrival.commit else {
            return Ok(Err(format!(
                "{} {} has no commit that brought it to {} within the last {MAX_SOAK_HISTORY} commits",
                subject.image, subject.version, subject.env
            )));
        };
        if !reader.has_notes() {
            return Ok(Err(format!(
                "{} {} has no verification recorded in {}: the repository has no {} (fetch it: git fetch origin {}:{})",
                subject.image, subject.version, subject.env, NOTES_REF, NOTES_REF, NOTES_REF
            )));
        }
        let first_parent = reader.commit(commit)?.parents.first().cloned();
        let mut records = Vec::new();
        let mut candidates = reader.brought_in(
            first_parent.as_deref(),
            commit,
            &env.paths,
            MAX_SOAK_HISTORY,
        )?;
        if !candidates.contains(commit) {
            candidates.push(commit.clone());
        }
        for id in candidates {
            let parent = reader.commit(&id)?.parents.first().cloned();
            let before = match &parent {
                Some(p) => self.version(config, reader, p, env, subject.image)?,
                None => None,
            };
            let moved = before.as_deref() != Some(subject.version)
                && self
                    .version(config, reader, &id, env, subject.image)?
                    .as_deref()
                    == Some(subject.version);
            if !moved {
                continue;
            }
            if let Some(text) = reader.note(&id)? {
                records.extend(verification::parse_note(&text));
            }
        }
        Ok(verification::recorded_pass(&records, subject, at)
            .map_err(|e| format!("{e} (notes on commit {})", short(commit))))
    }
}
