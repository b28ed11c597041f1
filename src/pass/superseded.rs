//! A group member's own review, left open from before it joined the group, is closed: merged,
//! it would move that image alone and break the group's promise to move its images together.

use crate::forge::PullState;
use crate::promotion::{self, history};

use super::{Context, EnvironmentReport};
use crate::config::EnvironmentConfig;

/// Closes Baton's own open pull requests in review-mode environment `name` that propose one
/// member of a group alone, for every group with a member whose markers are in the
/// environment. A branch whose head is a person's `baton promote` is left alone; so is any
/// pull request Baton did not open. What happens (or would, with `plan`) goes to the notes.
pub(super) async fn close_member_reviews(
    cx: &Context<'_>,
    name: &str,
    env: &EnvironmentConfig,
    report: &mut EnvironmentReport,
) {
    let Some(Ok(forge)) = &cx.forge else {
        return;
    };
    for (group, config) in &cx.config.groups {
        let group_branch = promotion::review_branch(&env.review_branch, name, group);
        for image in &config.images {
            if !report.running.contains_key(image) {
                continue;
            }
            let branch = promotion::review_branch(&env.review_branch, name, image);
            if branch == group_branch {
                continue;
            }
            let open: Vec<_> = match forge.pull_requests(&branch).await {
                Ok(pulls) => pulls
                    .into_iter()
                    .filter(|p| p.state == PullState::Open)
                    .collect(),
                Err(err) => {
                    tracing::warn!(environment = %name, image = %image, group = %group, branch = %branch, error = %err, "cannot read the pull requests of a group member's own branch");
                    report.notes.push(format!(
                        "cannot check {branch} for a pull request that would move {image} alone (it is in group {group}): {err}"
                    ));
                    continue;
                }
            };
            if open.is_empty() {
                continue;
            }
            let repository = cx
                .config
                .images
                .get(image)
                .map(|i| i.repository_text.as_str())
                .unwrap_or_default();
            let by_hand = match cx.workspace.fetch_branch_head(&branch).await {
                Ok(head) => head.and_then(|h| {
                    history::moves_for(&h, name, repository)
                        .first()
                        .and_then(|m| m.promoted_by.clone())
                }),
                Err(err) => {
                    report.notes.push(format!(
                        "cannot read {branch} to see whose its pull request is: {err}; left open"
                    ));
                    continue;
                }
            };
            for pr in open {
                if let Some(by) = &by_hand {
                    tracing::info!(environment = %name, image = %image, group = %group, number = pr.number, by = %by, "a person's promotion of a group member alone: left open");
                    continue;
                }
                if cx.dry_run {
                    report.notes.push(format!(
                        "would close pull request #{} on {branch}: it moves {image} alone, and {image} is now in group {group}",
                        pr.number
                    ));
                    continue;
                }
                let body =
                    promotion::review::superseded_body(&pr.body, image, group, &group_branch);
                match forge.close(&pr, &body).await {
                    Ok(_) => {
                        tracing::info!(environment = %name, image = %image, group = %group, number = pr.number, url = %pr.url, "closed a pull request that would move a group member alone");
                        report.notes.push(format!(
                            "closed pull request #{} on {branch}: it moved {image} alone, and {image} is now in group {group}",
                            pr.number
                        ));
                    }
                    Err(err) => {
                        tracing::warn!(environment = %name, image = %image, group = %group, number = pr.number, error = %err, "cannot close a pull request that would move a group member alone");
                        report.notes.push(format!(
                            "cannot close pull request #{} on {branch}, which would move {image} alone ({image} is in group {group}): {err}; close it by hand",
                            pr.number
                        ));
                    }
                }
            }
        }
    }
}
