//! A group member's own review, left open from before it joined the group, is closed: merged,
//! it would move that image alone and break the group's promise to move its images together.

use crate::forge::{PullRequest, PullState};
use crate::promotion::{self, history};

use super::{Context, EnvironmentReport};
use crate::config::EnvironmentConfig;

/// Closes Baton's own open pull requests in review-mode environment `name` that propose one
/// member of a group alone, for every group with a member whose markers are in the
/// environment. Left open, with a note: a branch whose head is a person's `baton promote`, a
/// branch a person pushed to, one whose head moved since it was read. Never touched: a pull
/// request Baton did not open, or whose body is not Baton's for this image. What happens (or
/// would, with `plan`) goes to the notes.
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
            // Only what Baton wrote for this image here: a pull request whose body a person
            // replaced, or one a person reopened after Baton closed it (its body then has no
            // marker), is theirs.
            let ours = |p: &PullRequest| {
                p.state == PullState::Open
                    && promotion::parse_review_marker(&p.body)
                        .is_some_and(|k| k.environment == name && k.image == *image)
            };
            let open: Vec<_> = match forge.pull_requests(&branch).await {
                Ok(pulls) => pulls.into_iter().filter(|p| ours(p)).collect(),
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
            let head = match cx.workspace.fetch_branch_head(&branch).await {
                Ok(head) => head,
                Err(err) => {
                    report.notes.push(format!(
                        "cannot read {branch} to see whose its pull request is: {err}; left open"
                    ));
                    continue;
                }
            };
            // A person's promotion, or a branch a person pushed to, is theirs to finish.
            let persons = match &head {
                None => Some(format!("its branch {branch} is gone")),
                Some(h) => match history::moves_for(h, name, repository)
                    .first()
                    .and_then(|m| m.promoted_by.clone())
                {
                    Some(by) => Some(format!("{by} promoted {image} by hand on it")),
                    None => super::auto_merge::touched_by_person(cx, h).await,
                },
            };
            for pr in open {
                if let Some(why) = &persons {
                    tracing::info!(environment = %name, image = %image, group = %group, number = pr.number, reason = %why, "a pull request moving a group member alone is a person's: left open");
                    report.notes.push(format!(
                        "left open pull request #{} on {branch}, which would move {image} alone ({image} is in group {group}): {why}",
                        pr.number
                    ));
                    continue;
                }
                // The pull request the forge shows, read again after the branch (a push
                // between the two reads shows here), must have the head just judged.
                let pr = match cx.dry_run {
                    true => pr,
                    false => match forge.pull_requests(&branch).await {
                        Ok(pulls) => {
                            match pulls.into_iter().find(|p| p.number == pr.number && ours(p)) {
                                Some(pr) => pr,
                                None => continue,
                            }
                        }
                        Err(err) => {
                            report.notes.push(format!(
                                "cannot read pull request #{} on {branch} again before closing it: {err}; left open",
                                pr.number
                            ));
                            continue;
                        }
                    },
                };
                if let Some(h) = &head
                    && !pr.head_sha.eq_ignore_ascii_case(&h.id.to_string())
                {
                    report.notes.push(format!(
                        "left open pull request #{} on {branch}, which would move {image} alone ({image} is in group {group}): the forge shows head {}, the branch is at {}; the next pass looks again",
                        pr.number, pr.head_sha, h.id
                    ));
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
