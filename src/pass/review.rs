//! Review mode: each image's move is committed on top of the branch, pushed (forced, with a
//! lease) to a branch Baton owns (`baton/ENV/IMAGE`), and proposed in one pull request per
//! environment and image, opened or updated on the forge.
//!
//! - The branch is pushed only when it does not already carry the version (read from its
//!   head commit's trailers), so a quiet pass changes nothing.
//! - A pull request closed without merging for a version is respected: that version is not
//!   proposed again (a person's `baton promote` may still ask for it).
//! - A merged pull request shows up as the environment holding the version on the next fetch;
//!   nothing more happens.

use std::collections::{BTreeMap, BTreeSet};

use crate::config::EnvironmentConfig;
use crate::forge::{Forge, NewPullRequest, PullRequest, PullState};
use crate::git::CommitRecord;
use crate::promotion::{self, ReviewDetails, history};

use super::gates::Manual;
use super::{
    Context, EnvironmentReport, Outcome, Prepared, Review, ReviewAction, Waiting, commit_and_push,
    commit_text, idle_outcome, moves_from_plan, plan_with, prepare_or_finish,
};

/// One review-mode environment's part of a pass.
pub(super) async fn review_environment(
    cx: &Context<'_>,
    name: &str,
    env: &EnvironmentConfig,
    manual: Option<&Manual>,
    window: Option<promotion::Wait>,
    mut report: EnvironmentReport,
) -> EnvironmentReport {
    let prepared = prepare_or_finish(cx, name, env, manual, window.as_ref(), &mut report).await;
    // Also while the group waits: that is when a member's old review would move it alone.
    if manual.is_none() && !matches!(report.outcome, Outcome::Failed(_)) {
        super::superseded::close_member_reviews(cx, name, env, &mut report).await;
    }
    let Some(prepared) = prepared else {
        return report;
    };
    // One review per image, and one per group for the images of a group (a person's
    // `baton promote` moves its one image, on that image's branch).
    let mut images: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for change in prepared.plan.edits.iter().flat_map(|e| &e.changes) {
        if let Some(policy) = cx.config.policies.get(&change.policy) {
            let unit = match (manual, cx.config.group_of(&policy.image)) {
                (None, Some((group, _))) => group.clone(),
                _ => policy.image.clone(),
            };
            images
                .entry(unit)
                .or_default()
                .insert(change.policy.clone());
        }
    }
    let mut messages = Vec::new();
    for (image, policies) in &images {
        let (review, message) = review_image(
            cx,
            name,
            env,
            manual,
            &prepared,
            image,
            policies,
            &mut report.notes,
        )
        .await;
        if let Some(message) = message {
            messages.push(message);
        }
        if let ReviewAction::PersonPending { by, number, .. } = &review.action {
            report.waiting.push(Waiting {
                image: Some(image.clone()),
                reason: format!(
                    "{by} asked by hand for {image} {} on {}{}: automatic moves of {image} in {name} leave that branch alone until it is merged or closed",
                    review.to,
                    review.branch,
                    number.map(|n| format!(" (pull request #{n})")).unwrap_or_default(),
                ),
                until: None,
            });
        }
        if let (Some(crate::pass::AutoMerge::Refused(why)), ReviewAction::Current { number, .. }) =
            (&review.merge, &review.action)
        {
            report.waiting.push(Waiting {
                image: Some(image.clone()),
                reason: format!(
                    "pull request #{number} for {image} is not merged automatically: {why}"
                ),
                until: None,
            });
        }
        if let ReviewAction::Declined { number, .. } = &review.action {
            report.waiting.push(Waiting {
                image: Some(image.clone()),
                reason: format!(
                    "pull request #{number} proposing {} was closed without merging: {} waits for a newer version",
                    review.to, name
                ),
                until: None,
            });
        }
        report.reviews.push(review);
    }
    if !cx.dry_run
        && let Err(err) = cx.workspace.reset_to_remote().await
    {
        tracing::warn!(environment = %name, error = %err, "cannot reset the clone after reviews");
    }
    if !messages.is_empty() {
        report.message = Some(messages.join("\n"));
    }
    let failures: Vec<String> = report
        .reviews
        .iter()
        .filter_map(|r| match &r.action {
            ReviewAction::Failed(why) => Some(format!("{}: {why}", r.image)),
            _ => None,
        })
        .collect();
    let branches: Vec<String> = report
        .reviews
        .iter()
        .filter(|r| {
            matches!(
                r.action,
                ReviewAction::Opened { .. }
                    | ReviewAction::Updated { .. }
                    | ReviewAction::BranchPushed
            )
        })
        .map(|r| r.branch.clone())
        .collect();
    report.outcome = if !failures.is_empty() {
        Outcome::Failed(failures.join("; "))
    } else if !branches.is_empty() {
        Outcome::Reviewed { branches }
    } else if report
        .reviews
        .iter()
        .any(|r| matches!(r.action, ReviewAction::Planned(_)))
    {
        Outcome::Planned
    } else {
        idle_outcome(&report)
    };
    report
}

/// Whether the review branch's head commit moves the image to `to` in `environment`, made
/// the same way (by the same person for a manual promotion).
pub(super) fn carries(
    head: &CommitRecord,
    environment: &str,
    repository: &str,
    to: &str,
    manual: Option<&Manual>,
) -> bool {
    let moves = history::moves_for(head, environment, repository);
    !moves.is_empty()
        && moves
            .iter()
            .all(|m| history::version_tags(&m.to) == [to.to_string()])
        && moves[0].promoted_by.as_deref() == manual.map(|m| m.by.as_str())
}

/// Whether the head commit carries the move of every `(repository, version)` in `wanted`.
pub(super) fn carries_all(
    head: &CommitRecord,
    environment: &str,
    wanted: &[(String, String)],
    manual: Option<&Manual>,
) -> bool {
    !wanted.is_empty()
        && wanted
            .iter()
            .all(|(repository, to)| carries(head, environment, repository, to, manual))
}

/// One image of a review: its repository, the version it moves to and its policies.
struct Member {
    image: String,
    repository: String,
    to: String,
    policies: BTreeSet<String>,
    soaked: Option<promotion::Soaked>,
}

/// The images `policies` move, in name order, with their targets.
fn members(cx: &Context<'_>, prepared: &Prepared, policies: &BTreeSet<String>) -> Vec<Member> {
    let mut out: Vec<Member> = Vec::new();
    for policy in policies {
        let (Some(config), Some(target)) = (
            cx.config.policies.get(policy),
            prepared.targets.by_policy.get(policy),
        ) else {
            continue;
        };
        match out.iter_mut().find(|m| m.image == config.image) {
            Some(m) => {
                m.policies.insert(policy.clone());
            }
            None => out.push(Member {
                image: config.image.clone(),
                repository: cx.config.images[&config.image].repository_text.clone(),
                to: target.tag.clone(),
                policies: BTreeSet::from([policy.clone()]),
                soaked: target.soaked.clone(),
            }),
        }
    }
    out.sort_by(|a, b| a.image.cmp(&b.image));
    out
}

/// A group's versions in words: the one version when all members share it, else each
/// member's (`api 1.2.0, web 1.3.0`).
fn group_to_text(members: &[Member]) -> String {
    match members.first() {
        Some(first) if members.iter().all(|m| m.to == first.to) => first.to.clone(),
        _ => members
            .iter()
            .map(|m| format!("{} {}", m.image, m.to))
            .collect::<Vec<_>>()
            .join(", "),
    }
}

/// The person and version of a manual promotion (`Baton-Promoted-By`) that the review
/// branch's head commit makes for this environment and image.
fn promoted_by_hand(
    head: &CommitRecord,
    environment: &str,
    repository: &str,
) -> Option<(String, String)> {
    let moves = history::moves_for(head, environment, repository);
    let first = moves.first()?;
    let by = first.promoted_by.clone()?;
    Some((by, history::version_tags(&first.to).join(", ")))
}

/// The version the review branch's head proposes for this environment and image.
fn proposed(head: &CommitRecord, environment: &str, repository: &str) -> Option<String> {
    let moves = history::moves_for(head, environment, repository);
    moves
        .first()
        .map(|m| history::version_tags(&m.to).join(", "))
}

/// Whether `pr` was written by Baton for this environment, image and version.
fn proposes(pr: &PullRequest, environment: &str, image: &str, version: &str) -> bool {
    promotion::parse_review_marker(&pr.body)
        .is_some_and(|k| k.environment == environment && k.image == image && k.version == version)
}

#[allow(clippy::too_many_arguments)]
async fn review_image(
    cx: &Context<'_>,
    name: &str,
    env: &EnvironmentConfig,
    manual: Option<&Manual>,
    prepared: &Prepared,
    image: &str,
    policies: &BTreeSet<String>,
    notes: &mut Vec<String>,
) -> (Review, Option<String>) {
    let branch = promotion::review_branch(&env.review_branch, name, image);
    let plan = plan_with(
        cx,
        &prepared.scan,
        &prepared.targets.by_policy,
        &prepared.digests,
        &|p| policies.contains(p),
    );
    let moves = moves_from_plan(&plan, cx.selections, cx.config);
    let target = policies
        .iter()
        .find_map(|p| prepared.targets.by_policy.get(p));
    let members = members(cx, prepared, policies);
    let group = (manual.is_none() && cx.config.groups.contains_key(image)).then_some(image);
    let to = match group {
        Some(_) => group_to_text(&members),
        None => target.map(|t| t.tag.clone()).unwrap_or_default(),
    };
    // What the pull request's marker records: the version, or each member's for a group.
    let proposal = match group {
        Some(_) => promotion::review::group_version(
            &members
                .iter()
                .map(|m| (m.image.clone(), m.to.clone()))
                .collect::<Vec<_>>(),
        ),
        None => to.clone(),
    };
    let wanted: Vec<(String, String)> = members
        .iter()
        .map(|m| (m.repository.clone(), m.to.clone()))
        .collect();
    let from = moves
        .iter()
        .map(|m| m.from.clone())
        .collect::<Vec<_>>()
        .join(", ");
    let mut review = Review {
        image: image.to_string(),
        branch: branch.clone(),
        from: from.clone(),
        to: to.clone(),
        action: ReviewAction::BranchCurrent,
        merge: None,
    };
    let fail = |mut review: Review, why: String| {
        review.action = ReviewAction::Failed(why);
        (review, None)
    };
    let message = match commit_text(cx, name, &moves, &prepared.targets, manual) {
        Ok(text) => text,
        Err(why) => return fail(review, why),
    };
    let repository = members
        .first()
        .map(|m| m.repository.clone())
        .unwrap_or_default();
    let forge: Option<&Forge> = match &cx.forge {
        None => None,
        Some(Ok(forge)) => Some(forge),
        Some(Err(why)) => return fail(review, why.clone()),
    };
    let pulls = match forge {
        Some(forge) => match forge.pull_requests(&branch).await {
            Ok(pulls) => pulls,
            Err(err) => return fail(review, err.to_string()),
        },
        None => Vec::new(),
    };
    if manual.is_none()
        && let Some(declined) = pulls
            .iter()
            .find(|p| p.state == PullState::Closed && proposes(p, name, image, &proposal))
    {
        review.action = ReviewAction::Declined {
            number: declined.number,
            url: declined.url.clone(),
        };
        return (review, None);
    }
    let open = pulls.iter().find(|p| p.state == PullState::Open);
    let head = match cx.workspace.fetch_branch_head(&branch).await {
        Ok(head) => head,
        Err(err) => return fail(review, format!("cannot read branch {branch}: {err}")),
    };
    let branch_current = head
        .as_ref()
        .is_some_and(|h| carries_all(h, name, &wanted, manual));
    // A review still waiting for a decision: its pull request is open, or (without a
    // forge) its head is not on the branch yet.
    let pending = match (&head, forge) {
        (None, _) => false,
        (Some(_), Some(_)) => open.is_some(),
        (Some(h), None) => match cx.workspace.is_merged(h.id).await {
            Ok(merged) => !merged,
            Err(err) => return fail(review, format!("cannot read branch {branch}: {err}")),
        },
    };
    let by_hand = head
        .as_ref()
        .and_then(|h| promoted_by_hand(h, name, &repository));
    let pr_text = |pr: Option<&PullRequest>| {
        pr.map(|p| format!(" (pull request #{})", p.number))
            .unwrap_or_default()
    };
    match (manual, &by_hand) {
        // A person's promotion waits on the branch: the automatic pass leaves it alone.
        (None, Some((by, version))) if pending => {
            review.to = version.clone();
            review.action = ReviewAction::PersonPending {
                by: by.clone(),
                number: open.map(|p| p.number),
                url: open.map(|p| p.url.clone()),
            };
            tracing::info!(environment = %name, image = %image, branch = %branch, by = %by, version = %version, candidate = %to, "review branch holds a manual promotion: left alone");
            return (review, None);
        }
        (Some(m), _) if pending && !branch_current => {
            let head = head.as_ref();
            let what = match &by_hand {
                Some((by, version)) => format!("{by}'s pending promotion to {version}"),
                None => format!(
                    "the pending automatic review of {}",
                    head.and_then(|h| proposed(h, name, &repository))
                        .unwrap_or_else(|| "another version".to_string())
                ),
            };
            notes.push(format!(
                "{} {what} on {branch}{} with {}'s promotion to {}",
                if cx.dry_run {
                    "would replace"
                } else {
                    "replaces"
                },
                pr_text(open),
                m.by,
                m.version
            ));
        }
        _ => {}
    }
    let open_current = open.is_some_and(|p| proposes(p, name, image, &proposal));
    // With auto_merge, a branch a person has changed is theirs to finish: Baton neither
    // pushes over it nor merges it.
    if env.auto_merge
        && manual.is_none()
        && let (Some(h), Some(pr)) = (&head, open)
        && let Some(why) = super::auto_merge::touched_by_person(cx, h).await
    {
        tracing::warn!(environment = %name, image = %image, number = pr.number, url = %pr.url, reason = %why, "not merging or updating a pull request a person changed");
        // A merge baton scheduled earlier must not take the person's change in.
        let why = match forge.map(|f| f.cancel_merge(pr)) {
            Some(cancel) => match cancel.await {
                Ok(true) => format!("{why} (the merge baton had scheduled is turned off)"),
                Ok(false) => why,
                Err(err) => format!("{why}; cannot turn off the merge baton scheduled: {err}"),
            },
            None => why,
        };
        review.action = ReviewAction::Current {
            number: pr.number,
            url: pr.url.clone(),
        };
        review.merge = Some(crate::pass::AutoMerge::Refused(why));
        return (review, None);
    }
    if cx.dry_run {
        review.action = match (branch_current, forge, open) {
            (true, None, _) => ReviewAction::BranchCurrent,
            (true, Some(_), Some(pr)) if open_current => ReviewAction::Current {
                number: pr.number,
                url: pr.url.clone(),
            },
            (_, None, _) => ReviewAction::Planned(format!("push {branch}")),
            (_, Some(_), Some(pr)) => ReviewAction::Planned(format!(
                "push {branch} and update pull request #{}",
                pr.number
            )),
            (_, Some(_), None) => {
                ReviewAction::Planned(format!("push {branch} and open a pull request"))
            }
        };
        return (review, Some(message));
    }
    if !branch_current {
        match commit_and_push(cx, name, &plan, message.clone(), &branch, true).await {
            Ok(Some((_, crate::git::PushOutcome::Pushed))) => {}
            Ok(Some((_, crate::git::PushOutcome::Rejected { reason }))) => {
                let _ = cx.workspace.reset_to_remote().await;
                return fail(
                    review,
                    format!(
                        "branch {branch} moved while pushing ({reason}): the next pass tries again"
                    ),
                );
            }
            Ok(None) => {}
            Err(why) => {
                let _ = cx.workspace.reset_to_remote().await;
                return fail(review, why);
            }
        }
        if let Err(err) = cx.workspace.reset_to_remote().await {
            return fail(
                review,
                format!("cannot reset the clone after pushing {branch}: {err}"),
            );
        }
    }
    let Some(forge) = forge else {
        review.action = if branch_current {
            ReviewAction::BranchCurrent
        } else {
            ReviewAction::BranchPushed
        };
        return (review, Some(message));
    };
    let policy_text = policies
        .iter()
        .next()
        .map(|p| {
            let rule = cx.config.policies[p].policy.describe();
            format!("{p} ({rule})")
        })
        .unwrap_or_default();
    let soaked = target.and_then(|t| t.soaked.clone());
    let mut links = Vec::new();
    if let Some(soaked) = &soaked {
        links.push((
            format!("commit that brought {to} to {}", soaked.source),
            forge.commit_url(&soaked.arrival.commit),
        ));
    }
    let text = match group {
        Some(group) => promotion::review::group_review_text(
            name,
            group,
            message.lines().next().unwrap_or_default(),
            &members
                .iter()
                .map(|m| promotion::review::GroupMember {
                    image: m.image.clone(),
                    repository: m.repository.clone(),
                    from: moves
                        .iter()
                        .filter(|mv| m.policies.contains(&mv.policy))
                        .map(|mv| mv.from.clone())
                        .collect::<Vec<_>>()
                        .join(", "),
                    to: m.to.clone(),
                    policy: m
                        .policies
                        .iter()
                        .next()
                        .map(|p| format!("{p} ({})", cx.config.policies[p].policy.describe()))
                        .unwrap_or_default(),
                    soak: m.soaked.as_ref().map(promotion::Soaked::describe),
                })
                .collect::<Vec<_>>(),
            target.and_then(|t| t.source.as_deref()),
            &links,
        ),
        None => promotion::review_text(&ReviewDetails {
            environment: name.to_string(),
            image: image.to_string(),
            repository,
            from,
            to: to.clone(),
            policy: policy_text,
            source: target.and_then(|t| t.source.clone()),
            soak: soaked.as_ref().map(promotion::Soaked::describe),
            promoted_by: manual.map(|m| m.by.clone()),
            links,
        }),
    };
    let base = cx.config.git.remote.target_branch().to_string();
    let (action, pull) = match open {
        Some(pr) if open_current && branch_current => (
            ReviewAction::Current {
                number: pr.number,
                url: pr.url.clone(),
            },
            Some(pr.clone()),
        ),
        Some(pr) => match forge.update(pr, &text.title, &text.body).await {
            Ok(pr) => (
                ReviewAction::Updated {
                    number: pr.number,
                    url: pr.url.clone(),
                },
                Some(pr),
            ),
            Err(err) => (ReviewAction::Failed(err.to_string()), None),
        },
        None => match forge
            .open(&NewPullRequest {
                head: branch.clone(),
                base,
                title: text.title,
                body: text.body,
            })
            .await
        {
            Ok(pr) => (
                ReviewAction::Opened {
                    number: pr.number,
                    url: pr.url.clone(),
                },
                Some(pr),
            ),
            Err(err) => (ReviewAction::Failed(err.to_string()), None),
        },
    };
    review.action = action;
    if env.auto_merge
        && let Some(pr) = pull
    {
        review.merge = Some(
            super::auto_merge::merge_review(cx, forge, name, image, &wanted, manual, &pr).await,
        );
    }
    (review, Some(message))
}
