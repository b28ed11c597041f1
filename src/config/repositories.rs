//! The repositories Baton edits: `[repositories.NAME]` sections, each with the keys of `[git]`,
//! or `[git]` alone as the one repository named [`DEFAULT_REPOSITORY`](super::DEFAULT_REPOSITORY).

use std::collections::BTreeMap;

use super::rules::{self, RulesConfig};
use crate::common::settings::Table;
use crate::git::GitConfig;

/// One repository: its remote, author and cadence (the `[git]` keys) and its rules.
#[derive(Debug, Clone, PartialEq)]
pub struct RepositoryConfig {
    /// The `[git]` keys of this repository.
    pub git: GitConfig,
    /// `rules = ...` of this repository with the host's `[rules]` fences, when set.
    pub rules: Option<RulesConfig>,
}

/// The longest repository name: it names a directory and a metric label.
const MAX_NAME: usize = 64;

/// Why `name` cannot name a repository, if it cannot: it becomes a directory under the
/// state directory, a metric label and a log field.
pub fn check_name(name: &str) -> Result<(), String> {
    if crate::common::text::is_plain_name(name, MAX_NAME, b".") {
        Ok(())
    } else {
        Err(format!(
            "{name:?} cannot name a repository: use letters, digits, '-', '_' and '.', starting with a letter or digit, at most {MAX_NAME} characters (the name becomes a directory in the state directory)"
        ))
    }
}

/// Reads `[git]` or `[repositories.NAME]` (and the `[rules]` fences they share). `None` when
/// they have errors (all reported).
pub(super) fn read(top: &Table) -> Option<BTreeMap<String, RepositoryConfig>> {
    let named = top.has("repositories");
    if named && top.has("git") {
        top.error(
            "repositories",
            "[git] and [repositories] are both set: move the [git] keys into a [repositories.NAME] section (several repositories), or remove [repositories] (one)",
        );
        // Read both anyway, to report every other problem too.
    }
    if !named {
        let git_table = top.section("git");
        let rules = rules::read_host_part(&git_table, top.table("rules"));
        let git = GitConfig::read(git_table);
        if !top.has("git") {
            top.missing(
                "git",
                "add a [git] section with at least url = \"...\" (or a [repositories.NAME] section per repository)",
            );
        }
        let (git, rules) = (git?, rules?);
        return Some(BTreeMap::from([(
            super::DEFAULT_REPOSITORY.to_string(),
            RepositoryConfig { git, rules },
        )]));
    }
    let tables = top.named_tables("repositories");
    if tables.is_empty() && top.table("repositories").is_some() {
        top.error(
            "repositories",
            "no repository: add a [repositories.NAME] section with at least url = \"...\"",
        );
    }
    let mut ok = true;
    let mut out = BTreeMap::new();
    let mut seen: BTreeMap<(String, String), String> = BTreeMap::new();
    for (name, table) in tables {
        if let Err(why) = check_name(&name) {
            table.error_at(table.path(), why);
            ok = false;
        }
        let rules = rules::read_host_part(&table, None);
        let git = GitConfig::read(table);
        let (Some(git), Some(rules)) = (git, rules) else {
            ok = false;
            continue;
        };
        // Two names for one branch would be two writers racing in one daemon.
        let target = (
            git.remote.url.trim_end_matches('/').to_string(),
            git.remote
                .push_branch
                .clone()
                .unwrap_or_else(|| git.remote.branch.clone()),
        );
        if let Some(other) = seen.insert(target.clone(), name.clone()) {
            top.error_at(
                &["repositories".to_string(), name.clone(), "url".to_string()],
                format!(
                    "repository {name:?} writes to the same url and branch ({} {}) as repository {other:?}: keep one of them and give it both sets of environments",
                    git.remote.display_url(),
                    target.1
                ),
            );
            ok = false;
        }
        out.insert(name, RepositoryConfig { git, rules });
    }
    let fences = rules::read_fences(top.table("rules"), out.values().any(|r| r.rules.is_some()));
    let fences = fences?;
    for repository in out.values_mut() {
        if let Some(rules) = &mut repository.rules {
            rules.review_required = fences.clone();
        }
    }
    ok.then_some(out)
}
