//! The promotion gates inside a pass: which version each policy's markers move to in an
//! environment. Candidates come first (policy choice, or the source environment's version);
//! the history gates (manual promotions, soak) run only for policies whose markers would
//! change, so a quiet pass reads no history.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;

use crate::config::EnvironmentConfig;
use crate::git::{CommitRecord, HistoryQuery, ObjectId, TreeReader, Workspace};
use crate::markers::{Marker, Scan};
use crate::promotion::{self, Hold, Soaked};

use super::{Context, Waiting};

/// How many commits (touching an environment's paths) the history gates read at most.
pub const HISTORY_LIMIT: usize = 2000;

/// A person's explicit move (`baton promote`): every gate is skipped for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manual {
    /// The `[images]` name.
    pub image: String,
    /// The version to move to.
    pub version: String,
    /// Who asks, for `Baton-Promoted-By`.
    pub by: String,
}

/// The version a policy's markers move to, and on whose word.
#[derive(Debug, Clone)]
pub struct Target {
    /// The tag.
    pub tag: String,
    /// Soak evidence, when the environment promotes from another with a soak.
    pub soaked: Option<Soaked>,
    /// The environment the version comes from.
    pub source: Option<String>,
    /// A rollback of a move that did not verify: no gate holds it.
    pub rollback: Option<super::verify::Rollback>,
}

/// Targets per policy name, and what waits.
#[derive(Debug, Clone, Default)]
pub struct Targets {
    /// Policy name → target.
    pub by_policy: BTreeMap<String, Target>,
    /// Images that do not move, and why.
    pub waiting: Vec<Waiting>,
}

/// Non-held markers of `scan`, grouped by policy name.
fn by_policy(scan: &Scan) -> BTreeMap<&str, Vec<&Marker>> {
    let mut out: BTreeMap<&str, Vec<&Marker>> = BTreeMap::new();
    for marker in scan.files.iter().flat_map(|f| &f.markers) {
        if marker.hold.is_none() {
            out.entry(marker.policy.as_str()).or_default().push(marker);
        }
    }
    out
}

/// The `[images]` name of a policy.
fn image_of<'a>(cx: &'a Context<'_>, policy: &str) -> Option<&'a str> {
    cx.config.policies.get(policy).map(|p| p.image.as_str())
}

/// The first stage: every policy's candidate in environment `name`, checked against the
/// policy and the current versions (not against history).
pub(super) fn candidates(
    cx: &Context<'_>,
    name: &str,
    env: &EnvironmentConfig,
    scan: &Scan,
    source_scan: Option<&Scan>,
    manual: Option<&Manual>,
) -> Targets {
    let mut out = Targets::default();
    let mut waiting_images = BTreeSet::new();
    for (policy_name, markers) in by_policy(scan) {
        let Some(policy) = cx.config.policies.get(policy_name) else {
            continue;
        };
        let image = policy.image.as_str();
        if let Some(manual) = manual {
            if manual.image == image {
                out.by_policy.insert(
                    policy_name.to_string(),
                    Target {
                        tag: manual.version.clone(),
                        soaked: None,
                        source: None,
                        rollback: None,
                    },
                );
            }
            continue;
        }
        // A move that did not verify in time goes back first, whatever else would move.
        if let Some(rollback) = cx
            .verified
            .get(name, image)
            .and_then(|v| v.rollback.clone())
        {
            out.by_policy.insert(
                policy_name.to_string(),
                Target {
                    tag: rollback.to.clone(),
                    soaked: None,
                    source: None,
                    rollback: Some(rollback),
                },
            );
            continue;
        }
        let mut current: Vec<String> = markers
            .iter()
            .filter_map(|m| promotion::held_version(m))
            .collect();
        current.sort();
        current.dedup();
        let source = env.promote_from.as_deref();
        let proposed = match (source, source_scan) {
            (Some(source), Some(source_scan)) => {
                let version = promotion::source_version(
                    source_scan
                        .files
                        .iter()
                        .flat_map(|f| &f.markers)
                        .filter(|m| image_of(cx, &m.policy) == Some(image)),
                );
                match promotion::candidate_from_source(source, image, &version) {
                    Ok(tag) => tag,
                    Err(hold) => {
                        if let Hold::Blocked(reason) = hold
                            && waiting_images.insert(image.to_string())
                        {
                            out.waiting.push(Waiting {
                                image: Some(image.to_string()),
                                reason,
                                until: None,
                            });
                        }
                        continue;
                    }
                }
            }
            _ => match cx
                .selections
                .get(policy_name)
                .and_then(super::Selection::chosen)
            {
                Some(tag) => tag.to_string(),
                // No choice (failed scan, no eligible tag): the markers keep their value.
                None => continue,
            },
        };
        match promotion::check_candidate(name, image, &policy.policy, &current, &proposed, source) {
            Ok(()) | Err(Hold::UpToDate) => {
                // Up to date still gets a target: digest markers may need to move.
                out.by_policy.insert(
                    policy_name.to_string(),
                    Target {
                        tag: proposed,
                        soaked: None,
                        source: source.map(str::to_string),
                        rollback: None,
                    },
                );
            }
            Err(Hold::Blocked(reason)) => {
                if waiting_images.insert(image.to_string()) {
                    out.waiting.push(Waiting {
                        image: Some(image.to_string()),
                        reason,
                        until: None,
                    });
                }
            }
        }
    }
    out
}

/// Reads the history of commits touching `paths`, newest first, off the async threads.
pub(super) async fn read_history(
    workspace: &Workspace,
    paths: Vec<PathBuf>,
) -> Result<Arc<Vec<CommitRecord>>, String> {
    let ws = workspace.clone();
    tokio::task::spawn_blocking(move || {
        ws.history(&HistoryQuery {
            paths,
            limit: Some(HISTORY_LIMIT),
        })
    })
    .await
    .map_err(|e| format!("history read stopped: {e}"))?
    .map(Arc::new)
    .map_err(|e| format!("cannot read the history: {e}"))
}

/// The second stage, for the policies whose markers would change: manual promotions and
/// soak. Targets that fail a gate are removed and their image reported as waiting.
pub(super) async fn history_gates(
    cx: &Context<'_>,
    name: &str,
    env: &EnvironmentConfig,
    changed: &BTreeSet<String>,
    source_scan: Option<&Scan>,
    targets: &mut Targets,
) {
    let mut images: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for policy in changed {
        if targets
            .by_policy
            .get(policy)
            .is_some_and(|t| t.rollback.is_none())
            && let Some(image) = image_of(cx, policy)
        {
            images
                .entry(image.to_string())
                .or_default()
                .push(policy.clone());
        }
    }
    if images.is_empty() {
        return;
    }
    let own = read_history(cx.workspace, env.paths.clone()).await;
    let mut source_history: Option<Result<Arc<Vec<CommitRecord>>, String>> = None;
    for (image, policies) in images {
        let repository = cx.config.images[&image].repository_text.clone();
        let tag = targets.by_policy[&policies[0]].tag.clone();
        let verdict = match &own {
            Err(e) => Err((e.clone(), None)),
            Ok(records) => {
                let manual = promotion::latest_manual_promotion(records, name, &repository);
                let rolled_back = promotion::latest_rollback(records, name, &repository);
                policies
                    .iter()
                    .map(|p| {
                        let policy = &cx.config.policies[p].policy;
                        let tag = &targets.by_policy[p].tag;
                        promotion::check_manual(name, &image, policy, manual.as_ref(), tag).and(
                            promotion::check_rolled_back(
                                name,
                                &image,
                                policy,
                                rolled_back.as_ref(),
                                tag,
                            ),
                        )
                    })
                    .find_map(Result::err)
                    .map_or(Ok(()), |hold| match hold {
                        Hold::Blocked(reason) => Err((reason, None)),
                        Hold::UpToDate => Ok(()),
                    })
            }
        };
        // The source must verify now, and its soak counts from its first passed verification.
        let mut verified_since = None;
        let verdict = match (verdict, &env.promote_from) {
            (Ok(()), Some(source))
                if cx
                    .config
                    .environment_or_source(source)
                    .is_some_and(|e| e.verify.enabled()) =>
            {
                let judged = cx
                    .verified
                    .get(source, &image)
                    .filter(|v| v.version == tag)
                    .map(|v| &v.judgement);
                match crate::verification::promotable(source, &image, &tag, judged) {
                    Ok(since) => {
                        verified_since = Some(since);
                        Ok(())
                    }
                    Err(reason) => Err((reason, None)),
                }
            }
            (verdict, _) => verdict,
        };
        let verdict = match (verdict, &env.promote_from, env.soak) {
            (Ok(()), Some(source), Some(soak)) => {
                // A source of another repository is read in its own repository's clone.
                let source_ws = cx.workspace_of(source);
                if source_history.is_none() {
                    source_history = Some(
                        match (&source_ws, cx.config.environment_or_source(source)) {
                            (Ok(ws), Some(env)) => read_history(ws, env.paths.clone()).await,
                            (Err(e), _) => Err(e.clone()),
                            (_, None) => Err(format!("no environment {source:?}")),
                        },
                    );
                }
                match (source_history.as_ref(), source_ws.as_ref()) {
                    (Some(Ok(records)), Ok(&source_ws)) => {
                        let arrival = arrival(
                            source_ws,
                            records.clone(),
                            source,
                            &repository,
                            &tag,
                            source_scan,
                            &image_policies(cx, &image),
                        )
                        .await;
                        promotion::check_soak(
                            &image,
                            &tag,
                            source,
                            soak,
                            arrival,
                            verified_since,
                            cx.now,
                        )
                        .map(Some)
                        .map_err(|w| (w.reason, w.until))
                    }
                    (Some(Err(e)), _) | (_, Err(e)) => Err((e.clone(), None)),
                    (None, _) => Err(("history was not read".to_string(), None)),
                }
            }
            (Ok(()), _, _) => Ok(None),
            (Err(e), _, _) => Err(e),
        };
        match verdict {
            Ok(soaked) => {
                for p in &policies {
                    if let Some(t) = targets.by_policy.get_mut(p) {
                        t.soaked = soaked.clone();
                    }
                }
            }
            Err((reason, until)) => {
                for p in &policies {
                    targets.by_policy.remove(p);
                }
                targets.waiting.push(Waiting {
                    image: Some(image.clone()),
                    reason,
                    until,
                });
            }
        }
    }
}

/// Every policy name choosing tags for `image`.
fn image_policies(cx: &Context<'_>, image: &str) -> BTreeSet<String> {
    cx.config
        .policies_for_image(image)
        .map(|(n, _)| n.clone())
        .collect()
}

/// When `version` of the image reached the source environment, from `records` (the source's
/// history); commits without trailers are judged by the content of the files that hold the
/// image's markers in the source now.
pub(super) async fn arrival(
    workspace: &Workspace,
    records: Arc<Vec<CommitRecord>>,
    source: &str,
    repository: &str,
    version: &str,
    source_scan: Option<&Scan>,
    policies: &BTreeSet<String>,
) -> Option<promotion::Arrival> {
    let files: Vec<PathBuf> = source_scan
        .map(|scan| {
            scan.files
                .iter()
                .filter(|f| f.markers.iter().any(|m| policies.contains(&m.policy)))
                .map(|f| f.path.clone())
                .collect()
        })
        .unwrap_or_default();
    let ws = workspace.clone();
    let (source, repository, version, policies) = (
        source.to_string(),
        repository.to_string(),
        version.to_string(),
        policies.clone(),
    );
    tokio::task::spawn_blocking(move || {
        let reader = ws.tree_reader().ok();
        promotion::find_arrival(&records, &source, &repository, &version, |record| {
            brought_by_edit(reader.as_ref()?, record.id, &files, &policies, &version)
        })
    })
    .await
    .ok()
    .flatten()
}

/// Whether `commit` made `files` hold `version` for one of `policies` (it holds it there and
/// its first parent did not). `None` when the content cannot be read.
fn brought_by_edit(
    reader: &TreeReader,
    commit: ObjectId,
    files: &[PathBuf],
    policies: &BTreeSet<String>,
    version: &str,
) -> Option<bool> {
    if files.is_empty() {
        return None;
    }
    let Some((before, after)) = reader.changed_files(commit, files).ok()? else {
        return Some(false);
    };
    let holds = |contents: &[Option<Vec<u8>>]| -> Option<bool> {
        let mut found = false;
        for (file, bytes) in files.iter().zip(contents) {
            let Some(bytes) = bytes else { continue };
            let text = std::str::from_utf8(bytes).ok()?;
            let (markers, _) = crate::markers::scan_text(file, text);
            found |= markers.iter().any(|m| {
                policies.contains(&m.policy)
                    && promotion::held_version(m).as_deref() == Some(version)
            });
        }
        Some(found)
    };
    Some(holds(&after)? && !holds(&before)?)
}

#[cfg(test)]
#[path = "gates_tests.rs"]
mod tests;
