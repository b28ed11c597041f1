//! The board's timeline: the latest moves read back from each repository's branch's commit
//! trailers (what `baton history` prints), with who or what moved each and a commit link.

use crate::forge::{ForgeConfig, ForgeKind};
use crate::git::{HistoryQuery, Workspace, parse_moves};

/// Commits read back for the timeline.
pub const TIMELINE_COMMITS: usize = 200;
/// Moves kept for the timeline.
pub const TIMELINE_MOVES: usize = 50;

/// One move as the timeline shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TimelineEntry {
    /// The repository whose branch it is on (`default` for `[git]`).
    pub repository: String,
    /// When it reached the branch (Unix seconds): the merge time for a reviewed move.
    pub time: i64,
    /// `Baton-Environment`.
    pub environment: String,
    /// `Baton-Image`: the repository.
    pub image: String,
    /// `Baton-From`.
    pub from: String,
    /// `Baton-To`.
    pub to: String,
    /// The policy, with its rule when recorded.
    pub policy: String,
    /// Who or what moved it: a person's `baton promote`, else the commit's author.
    pub by: String,
    /// The full commit id.
    pub commit: String,
    /// The merge commit it came in through, if any.
    pub merge: Option<String>,
}

/// The latest moves on the branch of repository `repository`'s workspace, newest first; empty
/// when the history cannot be read (logged).
pub fn read_timeline(repository: &str, workspace: &Workspace) -> Vec<TimelineEntry> {
    let records = match workspace.history(&HistoryQuery {
        paths: Vec::new(),
        limit: Some(TIMELINE_COMMITS),
    }) {
        Ok(records) => records,
        Err(err) => {
            tracing::warn!(repository, error = %err, "cannot read the history for the board's timeline");
            return Vec::new();
        }
    };
    let mut out = Vec::new();
    for record in &records {
        for m in parse_moves(record) {
            out.push(TimelineEntry {
                repository: repository.to_string(),
                time: record.landed.time,
                environment: m.environment,
                image: m.image,
                from: m.from,
                to: m.to,
                policy: match m.rule {
                    Some(rule) => format!("{} ({rule})", m.policy),
                    None => m.policy,
                },
                by: match m.promoted_by {
                    Some(person) => format!("{person}, by hand"),
                    None => record.author.name.clone(),
                },
                commit: record.id.to_string(),
                merge: record.landed.merge.map(|id| id.to_string()),
            });
        }
    }
    out.sort_by_key(|e| std::cmp::Reverse(e.time));
    out.truncate(TIMELINE_MOVES);
    out
}

/// Every repository's latest moves in one list, newest first, at most [`TIMELINE_MOVES`].
pub fn merge_timelines<'a>(
    timelines: impl IntoIterator<Item = &'a Vec<TimelineEntry>>,
) -> Vec<TimelineEntry> {
    let mut out: Vec<TimelineEntry> = timelines.into_iter().flatten().cloned().collect();
    out.sort_by_key(|e| std::cmp::Reverse(e.time));
    out.truncate(TIMELINE_MOVES);
    out
}

/// The forge's page for `commit`, when a forge is configured.
pub fn commit_url(forge: Option<&ForgeConfig>, commit: &str) -> Option<String> {
    let forge = forge?;
    let mut base = forge.base_url.clone();
    let web = match forge.kind {
        ForgeKind::GitHub => {
            if base.host_str() == Some("api.github.com") {
                base.set_host(Some("github.com")).ok()?;
                base.set_path("");
            } else {
                let path = base.path().trim_end_matches('/').to_string();
                base.set_path(path.strip_suffix("/api/v3").unwrap_or(&path));
            }
            format!("{}/{}/commit/{commit}", trimmed(&base), forge.repository)
        }
        ForgeKind::GitLab => format!("{}/{}/-/commit/{commit}", trimmed(&base), forge.repository),
        ForgeKind::Gitea => format!("{}/{}/commit/{commit}", trimmed(&base), forge.repository),
    };
    Some(web)
}

fn trimmed(url: &url::Url) -> String {
    url.as_str().trim_end_matches('/').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn forge(kind: ForgeKind, base: &str) -> ForgeConfig {
        ForgeConfig {
            kind,
            base_url: base.parse().unwrap(),
            repository: "platform/fleet".into(),
            token_file: "/run/credentials/forge".into(),
            labels: Vec::new(),
            reviewers: Vec::new(),
            draft: false,
            timeout: std::time::Duration::from_secs(30),
        }
    }

    fn entry(repository: &str, time: i64) -> TimelineEntry {
        TimelineEntry {
            repository: repository.into(),
            time,
            ..TimelineEntry::default()
        }
    }

    #[test]
    fn every_repositorys_moves_in_one_list_newest_first_and_bounded() {
        let fleet: Vec<_> = (0..40).map(|t| entry("fleet", t * 2)).collect();
        let payments: Vec<_> = (0..40).map(|t| entry("payments", t * 2 + 1)).collect();
        let merged = merge_timelines([&fleet, &payments]);
        assert_eq!(merged.len(), TIMELINE_MOVES);
        assert!(merged.windows(2).all(|w| w[0].time >= w[1].time));
        assert_eq!(merged[0].repository, "payments");
        assert_eq!(merged[1].repository, "fleet");
        assert!(merged.iter().any(|e| e.repository == "fleet"));
        assert!(merged.iter().any(|e| e.repository == "payments"));
    }

    #[test]
    fn commit_links_per_forge() {
        let c = "0123abcd";
        assert_eq!(commit_url(None, c), None);
        let url = |kind, base| commit_url(Some(&forge(kind, base)), c).unwrap();
        assert_eq!(
            url(ForgeKind::GitHub, "https://api.github.com"),
            "https://github.com/platform/fleet/commit/0123abcd"
        );
        assert_eq!(
            url(ForgeKind::GitHub, "https://ghe.example.com/api/v3"),
            "https://ghe.example.com/platform/fleet/commit/0123abcd"
        );
        assert_eq!(
            url(ForgeKind::GitLab, "https://gitlab.example.com/"),
            "https://gitlab.example.com/platform/fleet/-/commit/0123abcd"
        );
        assert_eq!(
            url(ForgeKind::Gitea, "https://git.example.com"),
            "https://git.example.com/platform/fleet/commit/0123abcd"
        );
    }
}
