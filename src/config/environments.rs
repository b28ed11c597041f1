//! The `[environments.NAME]` sections: the paths each owns, how its moves land, and where it
//! promotes from; checked against each other once all are read.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use crate::common::settings::{KeyPath, Table};
use crate::git::check_branch_name;
use crate::promotion::{
    self,
    window::{Freeze, TimeWindow},
};

/// How an environment's moves reach the branch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Commit straight to the branch.
    Push,
    /// Push to a branch Baton owns and open a pull request.
    Review,
}

/// One `[environments.NAME]` section.
#[derive(Debug, Clone, PartialEq)]
pub struct EnvironmentConfig {
    /// The repository that holds its paths (`repository = NAME`; optional with one).
    pub repository: String,
    /// Directories (relative to the repository root) this environment owns.
    pub paths: Vec<PathBuf>,
    /// How moves are delivered.
    pub mode: Mode,
    /// Review branch name; `{env}` and `{image}` are replaced.
    pub review_branch: String,
    /// Environment whose current versions are this one's candidates.
    pub promote_from: Option<String>,
    /// How long a version must have been in `promote_from` first.
    pub soak: Option<Duration>,
    /// Times when moves are allowed; empty means always.
    pub windows: Vec<TimeWindow>,
    /// Dates when nothing moves.
    pub freeze: Vec<Freeze>,
    /// The only policies whose markers this environment moves (an ImageUpdateAutomation's
    /// namespace and `policySelector`); `None` for every policy.
    pub policies: Option<BTreeSet<String>>,
    /// Verification checks run after each move and before anything is promoted from here.
    pub verify: crate::verification::VerifyConfig,
    /// Review mode: merge Baton's own pull request once the forge reports its required checks
    /// green and approvals met, unless a person changed its branch.
    pub auto_merge: bool,
}

/// Reads every `[environments.NAME]`, then checks them against each other: no two of one
/// repository own the same file, and `promote_from` forms no cycle. `repositories` are the
/// names `repository` may take.
pub(super) fn read_environments(
    top: &Table,
    repositories: &BTreeSet<String>,
) -> BTreeMap<String, EnvironmentConfig> {
    let tables = top.named_tables("environments");
    let names: HashSet<String> = tables.iter().map(|(n, _)| n.clone()).collect();
    let mut promote: BTreeMap<String, (String, KeyPath)> = BTreeMap::new();
    let mut out = BTreeMap::new();
    let mut owned: Vec<(String, PathBuf, KeyPath)> = Vec::new();
    for (name, t) in tables {
        let repository = read_repository(&t, repositories);
        if let Some(mut env) = read_environment(&name, &t, &names) {
            let Some(repository) = repository else {
                t.finish();
                continue;
            };
            env.repository = repository;
            if let Some(from) = env.promote_from.as_ref().filter(|from| **from != name) {
                promote.insert(name.clone(), (from.clone(), t.child_path("promote_from")));
            }
            for (i, path) in env.paths.iter().enumerate() {
                let mut key = t.child_path("paths");
                key.push(i.to_string());
                owned.push((name.clone(), path.clone(), key));
            }
            out.insert(name, env);
        }
        t.finish();
    }
    // Each file belongs to one environment: paths of two environments of one repository
    // must not nest.
    let same_repository = |a: &String, b: &String| {
        out.get(a).map(|e: &EnvironmentConfig| &e.repository)
            == out.get(b).map(|e: &EnvironmentConfig| &e.repository)
    };
    for (i, (name, path, key)) in owned.iter().enumerate() {
        if let Some((other, other_path, _)) = owned[..i].iter().find(|(other, p, _)| {
            other != name
                && same_repository(name, other)
                && (p.starts_with(path) || path.starts_with(p))
        }) {
            let shown = |p: &Path| match p.as_os_str().is_empty() {
                true => ".".to_string(),
                false => p.display().to_string(),
            };
            top.error_at(
                key,
                format!(
                    "{:?} overlaps {:?} of environment {other:?}: a file must belong to one environment only; make the paths disjoint",
                    shown(path),
                    shown(other_path)
                ),
            );
        }
    }
    // A source in another repository is read from a clone of that repository (its markers,
    // history and soak); its verification lives in that repository's notes, which a pass
    // over this repository does not judge yet.
    for (name, (from, path)) in &promote {
        if let (Some(env), Some(source)) = (out.get(name), out.get(from))
            && env.repository != source.repository
            && source.verify.enabled()
        {
            top.error_at(
                path,
                format!(
                    "{from:?} is in repository {:?} and verifies its moves, {name} in repository {:?}: promotion from a verified environment of another repository is not supported yet; promote from an environment of the same repository, or from one without [[environments.{from}.verify]] checks",
                    source.repository, env.repository
                ),
            );
        }
    }
    // promote_from must not form a cycle (a -> b -> a).
    for (start, (_, path)) in &promote {
        let mut seen = vec![start.clone()];
        let mut current = start.clone();
        while let Some((next, _)) = promote.get(&current) {
            if seen.contains(next) {
                if next == start {
                    seen.push(next.clone());
                    top.error_at(
                        path,
                        format!("promote_from forms a cycle: {}", seen.join(" <- ")),
                    );
                }
                break;
            }
            seen.push(next.clone());
            current = next.clone();
        }
    }
    out
}

/// Reads `repository`: a configured name, and required when there are several.
fn read_repository(t: &Table, repositories: &BTreeSet<String>) -> Option<String> {
    let known = || {
        repositories
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join(", ")
    };
    match t.string("repository") {
        Some(name) if repositories.contains(&name) => Some(name),
        Some(name) => {
            t.error(
                "repository",
                format!(
                    "names unknown repository {name:?}: use one of the [repositories] names ({})",
                    known()
                ),
            );
            None
        }
        None if repositories.len() == 1 => repositories.first().cloned(),
        // The repositories themselves are invalid: reported there.
        None if repositories.is_empty() => None,
        None => {
            t.mark_known("repository");
            t.missing(
                "repository",
                &format!(
                    "there are several repositories: say which one holds this environment's paths, one of {}",
                    known()
                ),
            );
            None
        }
    }
}

fn read_environment(name: &str, t: &Table, names: &HashSet<String>) -> Option<EnvironmentConfig> {
    let paths = match t.string_list("paths") {
        Some(items) if items.is_empty() => {
            t.error("paths", "list at least one directory this environment owns");
            None
        }
        Some(items) => {
            let mut ok = true;
            let mut paths = Vec::new();
            for (text, path) in items {
                match check_repo_path(&text) {
                    Ok(p) => paths.push(p),
                    Err(why) => {
                        ok = false;
                        t.error_at(&path, format!("{text:?} {why}"));
                    }
                }
            }
            ok.then_some(paths)
        }
        None => {
            if t.is_present() && !t.has("paths") {
                t.mark_known("paths");
                t.missing(
                    "paths",
                    "list the directories this environment owns, e.g. paths = [\"clusters/staging\"]",
                );
            }
            None
        }
    };
    let mode = match t.string("mode").as_deref() {
        None | Some("push") => Some(Mode::Push),
        Some("review") => Some(Mode::Review),
        Some(other) => {
            t.error(
                "mode",
                format!("{other:?} is not a mode: use \"push\" or \"review\""),
            );
            None
        }
    };
    let review_branch = t
        .string("review_branch")
        .unwrap_or_else(|| "baton/{env}/{image}".to_string());
    check_branch_name(
        t,
        "review_branch",
        &review_branch.replace("{env}", "e").replace("{image}", "i"),
    );
    let promote_from = t.string("promote_from");
    if let Some(from) = &promote_from {
        if from == name {
            t.error("promote_from", "an environment cannot promote from itself");
        } else if !names.contains(from) {
            t.error(
                "promote_from",
                format!(
                    "names unknown environment {from:?}: add [environments.{from}] or fix the name"
                ),
            );
        }
    }
    let soak = t.duration("soak", None);
    if soak.is_some() && promote_from.is_none() {
        t.error(
            "soak",
            "soak is measured in the environment named by promote_from: set promote_from too",
        );
    }
    let windows = promotion::config::read_windows(t);
    let freeze = promotion::config::read_freezes(t);
    let verify = crate::verification::read_verify(t);
    if let (Some(v), Some(Mode::Review)) = (&verify, mode)
        && v.on_failure == crate::verification::OnFailure::Rollback
    {
        t.error(
            "on_verify_failure",
            "\"rollback\" needs mode = \"push\": a rollback lands at once, a review would wait for a person; use \"hold\" in review mode",
        );
    }
    let auto_merge = t.bool("auto_merge").unwrap_or(false);
    if auto_merge && mode == Some(Mode::Push) {
        t.error(
            "auto_merge",
            "auto_merge merges baton's pull requests, and a push-mode environment opens none: set mode = \"review\" or remove auto_merge",
        );
    }
    Some(EnvironmentConfig {
        repository: String::new(),
        paths: paths?,
        mode: mode?,
        review_branch,
        promote_from,
        soak,
        windows: windows?,
        freeze,
        policies: None,
        verify: verify?,
        auto_merge,
    })
}

/// Checks that an environment path stays inside the repository.
fn check_repo_path(text: &str) -> Result<PathBuf, &'static str> {
    let path = Path::new(text);
    if text.trim().is_empty() {
        return Err("is empty: name a directory inside the repository, or \".\" for all of it");
    }
    if path.is_absolute() || text.starts_with('\\') {
        return Err("is absolute: write it relative to the repository root");
    }
    let mut depth: i32 = 0;
    for component in path.components() {
        match component {
            Component::ParentDir => {
                depth -= 1;
                if depth < 0 {
                    return Err("escapes the repository with '..': write a path inside it");
                }
            }
            Component::Normal(_) => depth += 1,
            Component::CurDir => {}
            Component::RootDir | Component::Prefix(_) => {
                return Err("is absolute: write it relative to the repository root");
            }
        }
    }
    if path.components().any(|c| c == Component::ParentDir) {
        return Err("contains '..': write the path without it");
    }
    Ok(path
        .components()
        .filter(|c| *c != Component::CurDir)
        .collect())
}
