//! `auto_merge`: a review-mode environment's pull request merged once the forge reports its
//! required checks green and its approvals met, and never one a person has changed.

use crate::forge::{Forge, MergeOutcome, PullRequest};
use crate::git::CommitRecord;

use super::gates::Manual;
use super::review::carries_all;
use super::{AutoMerge, Context};

/// Asks the forge to merge Baton's pull request `pr` for `image` (an image or a group)
/// moving each `(repository, version)` of `wanted` in `environment` (or to merge it once its
/// checks pass), after checking on the branch itself that nobody but Baton changed it.
pub(super) async fn merge_review(
    cx: &Context<'_>,
    forge: &Forge,
    environment: &str,
    image: &str,
    wanted: &[(String, String)],
    manual: Option<&Manual>,
    pr: &PullRequest,
) -> AutoMerge {
    let head = match cx.workspace.fetch_branch_head(&pr.head).await {
        Ok(Some(head)) => head,
        Ok(None) => return AutoMerge::Waiting(format!("branch {} is gone", pr.head)),
        Err(err) => return AutoMerge::Waiting(format!("cannot read branch {}: {err}", pr.head)),
    };
    if let Some(why) = changed_by_person(cx, environment, wanted, manual, &head).await {
        tracing::warn!(environment = %environment, image = %image, number = pr.number, url = %pr.url, reason = %why, "not merging a pull request a person changed");
        return AutoMerge::Refused(why);
    }
    let id = head.id.to_string();
    let outcome = match forge.merge(pr, &id).await {
        Ok(MergeOutcome::Merged) => AutoMerge::Merged,
        Ok(MergeOutcome::Scheduled) => AutoMerge::Scheduled,
        Ok(MergeOutcome::Waiting(why)) => AutoMerge::Waiting(why),
        Err(err) => AutoMerge::Waiting(err.to_string()),
    };
    tracing::info!(environment = %environment, image = %image, number = pr.number, url = %pr.url, head = %id, outcome = %outcome, "auto-merge");
    outcome
}

/// Why the review branch is not exactly what Baton pushed, or `None`: its head must be
/// Baton's commit of this move (Baton's author and committer, this move's trailers), alone on
/// top of the target branch.
async fn changed_by_person(
    cx: &Context<'_>,
    environment: &str,
    wanted: &[(String, String)],
    manual: Option<&Manual>,
    head: &CommitRecord,
) -> Option<String> {
    if let Some(why) = touched_by_person(cx, head).await {
        return Some(why);
    }
    (!carries_all(head, environment, wanted, manual)).then(|| {
        let to: Vec<&str> = wanted.iter().map(|(_, to)| to.as_str()).collect();
        format!(
            "its head {} is not baton's move to {}: a person changed it; merge or close it by hand",
            head.id,
            to.join(", ")
        )
    })
}

/// Why the review branch holds someone else's work, or `None`: its head must be authored and
/// committed by Baton's identity and be the only commit on top of the target branch.
pub(super) async fn touched_by_person(cx: &Context<'_>, head: &CommitRecord) -> Option<String> {
    let email = &cx.config.git.author_email;
    for (role, who) in [("author", &head.author), ("committer", &head.committer)] {
        if !who.email.eq_ignore_ascii_case(email) {
            return Some(format!(
                "the {role} of its head {} is {} <{}>, not baton's {email}: a person changed it; merge or close it by hand",
                head.id, who.name, who.email
            ));
        }
    }
    match cx.workspace.commits_ahead(head.id).await {
        Ok(1) => None,
        Ok(n) => Some(format!(
            "its branch holds {n} commits that {} does not, baton made one: a person changed it; merge or close it by hand",
            cx.config.git.remote.target_branch()
        )),
        Err(err) => Some(format!("cannot count the branch's commits: {err}")),
    }
}
