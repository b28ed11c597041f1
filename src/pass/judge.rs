//! Judging a scan's tags: the age of the tags each policy would choose (best first, until
//! one is old enough), and the sibling of each followed moving tag.

use std::collections::BTreeMap;
use std::sync::Arc;

use jiff::Timestamp;

use crate::config::{ImageConfig, PolicyConfig};
use crate::eligibility::{
    Age, DigestRecord, Follow, Judged, MAX_NEW_JUDGEMENTS, SIGNATURE_RECHECK, SignatureRecord,
    Store, Verdict,
};
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

/// Judges `scan`'s tags for `image` (with the `policies` choosing for it) when it has
/// `min_age` or `signature` or a policy follows a moving tag, and puts the result in
/// `scan.judged` (counting its requests in `scan.requests`).
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
    let per_tag = image.min_age.is_some() || image.signature.is_some();
    if !per_tag && !follows {
        return;
    }
    let repo_key = image.repository.to_string();
    let repository = &image.repository.repository;
    let mut judged = Judged {
        signature_keys: image
            .signature
            .as_ref()
            .map(|required| crate::signature::keys_fingerprint(&required.keys)),
        ..Judged::default()
    };
    if per_tag {
        store.observe(&repo_key, tags, now);
    }
    for (policy_name, policy) in policies {
        let ranked = policy.policy.rank(tags);
        if let Some(moving) = &policy.follow {
            let follow = follow(client, repository, moving, &ranked, &mut judged).await;
            // Only the sibling needs an age and a signature.
            let sibling = match &follow {
                Follow::Found { tag, .. } => Some(tag.clone()),
                Follow::Failed(_) => None,
            };
            tracing::debug!(policy = %policy_name, moving = %moving, sibling = sibling.as_deref().unwrap_or("none"), "followed a moving tag");
            judged.follows.insert(policy_name.clone(), follow);
            if let (Some(tag), true) = (sibling, per_tag) {
                judge_tag(client, store, &repo_key, image, &tag, now, &mut judged).await;
            }
            continue;
        }
        if !per_tag {
            continue;
        }
        let limit = match walk {
            Walk::UntilEligible => ranked.len(),
            Walk::First(n) => n.min(ranked.len()),
        };
        for tag in ranked.iter().take(limit) {
            judge_tag(client, store, &repo_key, image, tag, now, &mut judged).await;
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

/// Judges one tag into `judged`: its age and its digest's signatures, each from the store
/// when it was judged before, else with the registry (at most [`MAX_NEW_JUDGEMENTS`] tags per
/// scan).
async fn judge_tag(
    client: &RegistryClient,
    store: &Store,
    repo_key: &str,
    image: &ImageConfig,
    tag: &str,
    now: Timestamp,
    judged: &mut Judged,
) {
    if judged.verdicts.contains_key(tag) {
        return;
    }
    let repository = &image.repository.repository;
    let first_seen = store.first_seen(repo_key, tag, now);
    let mut new = false;
    let (digest, record) = match store.judged(repo_key, tag) {
        Some((digest, record)) => (Some(digest), record),
        None if judged.new >= MAX_NEW_JUDGEMENTS => {
            judged.verdicts.insert(tag.to_string(), not_judged_yet());
            return;
        }
        None => {
            judged.new += 1;
            new = true;
            match resolve(client, repository, tag, image).await {
                Ok((digest, created, requests)) => {
                    judged.requests = judged.requests.saturating_add(requests);
                    let record = DigestRecord {
                        created,
                        judged_at: now.as_second(),
                        ..Default::default()
                    };
                    store.record(repo_key, tag, &digest, record.clone());
                    (Some(digest), record)
                }
                Err(err) => {
                    // Counted as one request at least; not stored, so the next scan asks again.
                    judged.requests = judged.requests.saturating_add(1);
                    if image.signature.is_some() {
                        tracing::warn!(repository = %repo_key, tag, error = %err, "cannot resolve the tag's digest: not a candidate until its signature is checked");
                        judged.verdicts.insert(
                            tag.to_string(),
                            Verdict::Unjudged {
                                reason: format!("signature not checked: {err}"),
                            },
                        );
                        return;
                    }
                    tracing::warn!(repository = %repo_key, tag, error = %err, "cannot read when the tag was created: its age counts from when Baton first saw it");
                    (None, DigestRecord::default())
                }
            }
        }
    };
    let age = image
        .min_age
        .map(|min_age| Age::judge(min_age, record.created.as_deref(), first_seen, now));
    let signature = match (&image.signature, digest) {
        (Some(required), Some(digest)) => {
            let checked = judge_signature(
                client, store, repo_key, repository, required, tag, &digest, &record, now, new,
                judged,
            )
            .await;
            match checked {
                Ok(verdict) => Some(verdict),
                Err(reason) => {
                    judged
                        .verdicts
                        .insert(tag.to_string(), Verdict::Unjudged { reason });
                    return;
                }
            }
        }
        _ => None,
    };
    judged
        .verdicts
        .insert(tag.to_string(), Verdict::Judged { age, signature });
}

/// The digest of `tag` and, when the image has `min_age`, the `created` it states, with the
/// requests taken.
async fn resolve(
    client: &RegistryClient,
    repository: &str,
    tag: &str,
    image: &ImageConfig,
) -> Result<(String, Option<String>, u32), crate::registry::RegistryError> {
    if image.min_age.is_some() {
        let info = client
            .created(repository, tag, image.platform.as_ref())
            .await?;
        Ok((info.digest, info.created, info.requests))
    } else {
        Ok((client.digest(repository, tag).await?, None, 1))
    }
}

/// The signature verdict of `digest` (`tag`'s) under `required`'s keys: from `record` when
/// it is signed or recent enough, else from the registry, stored. `Err` holds why it could
/// not be judged now. `counted` says the tag already used one of this scan's new judgements.
#[allow(clippy::too_many_arguments)]
async fn judge_signature(
    client: &RegistryClient,
    store: &Store,
    repo_key: &str,
    repository: &str,
    required: &crate::signature::SignatureConfig,
    tag: &str,
    digest: &str,
    record: &DigestRecord,
    now: Timestamp,
    counted: bool,
    judged: &mut Judged,
) -> Result<crate::signature::Verdict, String> {
    let keys = crate::signature::keys_fingerprint(&required.keys);
    if let Some(known) = record.signatures.get(&keys) {
        let since = now.as_second().saturating_sub(known.judged_at);
        let recheck = i64::try_from(SIGNATURE_RECHECK.as_secs()).unwrap_or(i64::MAX);
        if known.verdict.is_signed() || (0..recheck).contains(&since) {
            return Ok(known.verdict.clone());
        }
    }
    if !counted {
        if judged.new >= MAX_NEW_JUDGEMENTS {
            return Err(not_judged_reason());
        }
        judged.new += 1;
    }
    match client
        .check_signature(repository, digest, &required.keys)
        .await
    {
        Ok(check) => {
            judged.requests = judged.requests.saturating_add(check.requests);
            tracing::info!(repository = %repo_key, tag, digest, verdict = check.verdict.word(), requests = check.requests, "signature judged");
            if let crate::signature::Verdict::BadSignature { detail } = &check.verdict {
                tracing::warn!(repository = %repo_key, tag, digest, detail = %detail, "bad signature: the tag is not a candidate");
            }
            store.record_signature(
                repo_key,
                digest,
                &keys,
                SignatureRecord {
                    verdict: check.verdict.clone(),
                    judged_at: now.as_second(),
                },
            );
            Ok(check.verdict)
        }
        Err(err) => {
            judged.requests = judged.requests.saturating_add(1);
            tracing::warn!(repository = %repo_key, tag, digest, error = %err, "cannot check the signature: not a candidate this scan");
            Err(format!("signature not checked: {err}"))
        }
    }
}

fn not_judged_reason() -> String {
    format!(
        "not judged yet: at most {MAX_NEW_JUDGEMENTS} new tags are judged per scan, the next scan goes on"
    )
}

fn not_judged_yet() -> Verdict {
    Verdict::Unjudged {
        reason: not_judged_reason(),
    }
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
    judged.per_scan = judged.per_scan.saturating_add(1);
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
        judged.per_scan = judged.per_scan.saturating_add(1);
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

/// Checks that `digest`, which `tag` names now, is signed as `image` requires: from `store`
/// when it was judged signed, else with the registry (the verdict stored). `Err` says why the
/// digest must not be written. For pinned digests: a tag re-pushed since it was judged is
/// judged again here.
pub async fn check_pinned_digest(
    client: &RegistryClient,
    store: &Store,
    image: &ImageConfig,
    tag: &str,
    digest: &str,
    now: Timestamp,
) -> Result<(), String> {
    let Some(required) = &image.signature else {
        return Ok(());
    };
    let repo_key = image.repository.to_string();
    let keys = crate::signature::keys_fingerprint(&required.keys);
    if store
        .signature(&repo_key, digest, &keys)
        .is_some_and(|known| known.verdict.is_signed())
    {
        return Ok(());
    }
    let check = client
        .check_signature(&image.repository.repository, digest, &required.keys)
        .await
        .map_err(|err| {
            format!("{tag} is now {digest}, whose signature could not be checked: {err}")
        })?;
    store.record_signature(
        &repo_key,
        digest,
        &keys,
        SignatureRecord {
            verdict: check.verdict.clone(),
            judged_at: now.as_second(),
        },
    );
    store.save();
    if check.verdict.is_signed() {
        Ok(())
    } else {
        tracing::warn!(repository = %repo_key, tag, digest, verdict = %check.verdict, "a pinned tag now names a digest that is not signed: not written");
        Err(format!(
            "{tag} is now {digest}, which is {}: not written (see docs/signatures.md)",
            check.verdict
        ))
    }
}
