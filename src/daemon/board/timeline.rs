//! The board's timeline: the latest moves read back from the branch's commit trailers (what
//! `baton history` prints), with who or what moved each and a commit link when a forge is set.

use crate::forge::{ForgeConfig, ForgeKind};
use crate::git::{HistoryQuery, Workspace, parse_moves};

/// Commits read back for the timeline.
pub const TIMELINE_COMMITS: usize = 200;
/// Moves kept for the timeline.
pub const TIMELINE_MOVES: usize = 50;

/// One move as the timeline shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TimelineEntry {
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

/// The latest moves on the workspace's branch, newest first; empty when the history cannot
/// be read (logged).
pub fn read_timeline(workspace: &Workspace) -> Vec<TimelineEntry> {
    let records = match workspace.history(&HistoryQuery {
        paths: Vec::new(),
        limit: Some(TIMELINE_COMMITS),
    }) {
        Ok(records) => records,
        Err(err) => {
            tracing::warn!(error = %err, "cannot read the history for the board's timeline");
            return Vec::new();
        }
    };
    let mut out = Vec::new();
    for record in &records {
        for m in parse_moves(record) {
            out.push(TimelineEntry {
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
