//! Judging a scan's tags: the age of the tags each policy would choose (best first, until
//! one is old enough), and the sibling of each followed moving tag.

use std::collections::BTreeMap;
use std::sync::Arc;

use jiff::Timestamp;

use crate::config::{ImageConfig, PolicyConfig};
use crate::eligibility::{Age, DigestRecord, Follow, Judged, MAX_NEW_JUDGEMENTS, Store, Verdict};
use crate::registry::RegistryClient;

use super::ImageScan;

/// Most tags whose digest is compared with a followed moving tag's, per policy and scan.
pub const FOLLOW_DEPTH: usize = 20;

/// How far each policy's walk goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Walk {
    /// Until the first tag that is a candidate (a scan).
    UntilEligible,
    /// The first this-many ranked tags, whatever they are (`baton tags`).
    First(usize),
}

/// Judges `scan`'s tags for `image` (with the `policies` choosing for it) when it has `min_age` or a policy follows a moving
/// tag, and puts the result in `scan.judged` (counting its requests in `scan.requests`).
/// Does nothing for a failed scan or an image that needs no judgement.
pub async fn judge_scan(
    image: &ImageConfig,
    policies: &[(String, PolicyConfig)],
    scan: &mut ImageScan,
    client: &RegistryClient,
    store: &Store,
    now: Timestamp,
    walk: Walk,
) {
    let Some(tags) = &scan.tags else { return };
    let name = scan.image.as_str();
    let follows = policies.iter().any(|(_, p)| p.follow.is_some());
    if image.min_age.is_none() && !follows {
        return;
    }
    let repo_key = image.repository.to_string();
    let repository = &image.repository.repository;
    let mut judged = Judged::default();
    if image.min_age.is_some() {
        store.observe(&repo_key, tags, now);
    }
    for (policy_name, policy) in policies {
        let ranked = policy.policy.rank(tags);
        if let Some(moving) = &policy.follow {
            let follow = follow(client, repository, moving, &ranked, &mut judged).await;
            // Only the sibling needs an age.
            let sibling = match &follow {
                Follow::Found { tag, .. } => Some(tag.clone()),
                Follow::Failed(_) => None,
            };
            tracing::debug!(policy = %policy_name, moving = %moving, sibling = sibling.as_deref().unwrap_or("none"), "followed a moving tag");
            judged.follows.insert(policy_name.clone(), follow);
            if let (Some(tag), Some(min_age)) = (sibling, image.min_age) {
                judge_tag(
                    client,
                    store,
                    &repo_key,
                    repository,
                    image.platform.as_ref(),
                    min_age,
                    &tag,
                    now,
                    &mut judged,
                )
                .await;
            }
            continue;
        }
        let Some(min_age) = image.min_age else {
            continue;
        };
        let limit = match walk {
            Walk::UntilEligible => ranked.len(),
            Walk::First(n) => n.min(ranked.len()),
        };
        for tag in ranked.iter().take(limit) {
            judge_tag(
                client,
                store,
                &repo_key,
                repository,
                image.platform.as_ref(),
                min_age,
                tag,
                now,
                &mut judged,
            )
            .await;
            if walk == Walk::UntilEligible && judged.verdicts[tag].hold(now).is_none() {
                break;
            }
        }
    }
    store.save();
    scan.requests = scan.requests.saturating_add(judged.requests);
    tracing::debug!(image = %name, judged = judged.verdicts.len(), new = judged.new, requests = judged.requests, "judged tags");
    scan.judged = Some(Arc::new(judged));
}

/// Judges one tag's age into `judged`: from the store when it was judged before, else with
/// the registry (at most [`MAX_NEW_JUDGEMENTS`] per scan).
#[allow(clippy::too_many_arguments)]
async fn judge_tag(
    client: &RegistryClient,
    store: &Store,
    repo_key: &str,
    repository: &str,
    platform: Option<&crate::registry::Platform>,
    min_age: std::time::Duration,
    tag: &str,
    now: Timestamp,
    judged: &mut Judged,
) {
    if judged.verdicts.contains_key(tag) {
        return;
    }
    let first_seen = store.first_seen(repo_key, tag, now);
    let record = match store.judged(repo_key, tag) {
        Some((_, record)) => record,
        None if judged.new >= MAX_NEW_JUDGEMENTS => {
            judged.verdicts.insert(
                tag.to_string(),
                Verdict::Unjudged {
                    reason: format!(
                        "not judged yet: at most {MAX_NEW_JUDGEMENTS} new tags are judged per scan, the next scan goes on"
                    ),
                },
            );
            return;
        }
        None => {
            judged.new += 1;
            match client.created(repository, tag, platform).await {
                Ok(info) => {
                    judged.requests = judged.requests.saturating_add(info.requests);
                    let record = DigestRecord {
                        created: info.created,
                        judged_at: now.as_second(),
                    };
                    store.record(repo_key, tag, &info.digest, record.clone());
                    record
                }
                Err(err) => {
                    // Counted as one request at least; not stored, so the next scan asks again.
                    judged.requests = judged.requests.saturating_add(1);
                    tracing::warn!(repository = %repo_key, tag, error = %err, "cannot read when the tag was created: its age counts from when Baton first saw it");
                    DigestRecord::default()
                }
            }
        }
    };
    let age = Age::judge(min_age, record.created.as_deref(), first_seen, now);
    judged
        .verdicts
        .insert(tag.to_string(), Verdict::Judged { age: Some(age) });
}

/// Finds the tag among `ranked` (best first) with the digest `moving` has now.
async fn follow(
    client: &RegistryClient,
    repository: &str,
    moving: &str,
    ranked: &[String],
    judged: &mut Judged,
) -> Follow {
    judged.requests = judged.requests.saturating_add(1);
    let digest = match client.digest(repository, moving).await {
        Ok(digest) => digest,
        Err(err) => {
            return Follow::Failed(format!(
                "cannot resolve the followed tag {moving}: {err}; nothing is written"
            ));
        }
    };
    let mut cache: BTreeMap<&str, String> = BTreeMap::new();
    for tag in ranked.iter().take(FOLLOW_DEPTH) {
        judged.requests = judged.requests.saturating_add(1);
        match client.digest(repository, tag).await {
            Ok(d) if d == digest => {
                return Follow::Found {
                    moving: moving.to_string(),
                    tag: tag.clone(),
                    digest,
                };
            }
            Ok(d) => {
                cache.insert(tag, d);
            }
            Err(err) => {
                tracing::debug!(tag = %tag, error = %err, "cannot resolve a tag while following");
            }
        }
    }
    let checked = ranked.len().min(FOLLOW_DEPTH);
    Follow::Failed(format!(
        "{moving} ({digest}) matches none of the {checked} best tags of the policy: nothing is written; push a tag the policy accepts with the same digest"
    ))
}
