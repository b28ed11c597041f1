//! Groups inside a pass (`[groups.NAME]`): after the gates, the members of a group move in an
//! environment only when every member there may, and with `same_version` only to one version.
//! Otherwise none of them moves and each would-be mover waits with the reason, which names the
//! member at fault. A rollback is not held: it moves its own image at once.

use std::collections::{BTreeMap, BTreeSet};

use crate::markers::{Marker, Scan};
use crate::promotion::group::{self, Standing};

use super::gates::Targets;
use super::{Context, Waiting};

/// Holds the moves of every group that may not move as a whole in environment `name`:
/// their targets are removed and a waiting line added per member that would have moved.
/// `changed` are the policies whose markers the plan changes. Returns whether anything was
/// held (the plan must be made again).
pub(super) fn hold_groups(
    cx: &Context<'_>,
    name: &str,
    scan: &Scan,
    changed: &BTreeSet<String>,
    targets: &mut Targets,
) -> bool {
    let mut held = false;
    // The environment's markers by image, read once.
    let mut by_image: BTreeMap<&str, Vec<&Marker>> = BTreeMap::new();
    for marker in scan.files.iter().flat_map(|f| &f.markers) {
        if let Some(policy) = cx.config.policies.get(&marker.policy) {
            by_image
                .entry(policy.image.as_str())
                .or_default()
                .push(marker);
        }
    }
    for (group_name, group) in &cx.config.groups {
        let mut members: Vec<(String, Standing, Vec<String>)> = Vec::new();
        for image in &group.images {
            let markers = by_image
                .get(image.as_str())
                .map(Vec::as_slice)
                .unwrap_or(&[]);
            if let Some((standing, policies)) = standing(markers, changed, targets, image) {
                members.push((image.clone(), standing, policies));
            }
        }
        let standings: Vec<(String, Standing)> = members
            .iter()
            .map(|(m, s, _)| (m.clone(), s.clone()))
            .collect();
        let newer = |member: &str, a: &str, b: &str| {
            cx.config
                .policies_for_image(member)
                .next()
                .and_then(|(_, p)| p.policy.compare(a, b))
        };
        let Err(reason) = group::judge(group_name, group, &standings, newer) else {
            continue;
        };
        tracing::info!(environment = %name, group = %group_name, reason = %reason, "group held");
        for (image, standing, policies) in members {
            if !matches!(standing, Standing::Moves(_)) {
                continue;
            }
            for policy in &policies {
                targets.by_policy.remove(policy);
            }
            targets.waiting.push(Waiting {
                image: Some(image),
                reason: reason.clone(),
                until: None,
            });
            held = true;
        }
    }
    held
}

/// How `image` stands in this environment (`markers`, its markers here), with its policies
/// that have markers here; `None` when it has no marker here (or is being rolled back, which
/// no group holds).
fn standing(
    markers: &[&Marker],
    changed: &BTreeSet<String>,
    targets: &Targets,
    image: &str,
) -> Option<(Standing, Vec<String>)> {
    let first = markers.first()?;
    let mut policies: Vec<String> = markers
        .iter()
        .filter(|m| m.hold.is_none())
        .map(|m| m.policy.clone())
        .collect();
    policies.sort();
    policies.dedup();
    if policies.is_empty() {
        return Some((
            Standing::Blocked(format!(
                "its markers are held ({}:{}: {})",
                first.path.display(),
                first.line,
                first.hold.as_deref().unwrap_or("")
            )),
            policies,
        ));
    }
    let mut version = None;
    for policy in &policies {
        match targets.by_policy.get(policy) {
            Some(t) if t.rollback.is_some() => return None,
            Some(t) => {
                version.get_or_insert_with(|| t.tag.clone());
            }
            None => {
                let why = targets
                    .waiting
                    .iter()
                    .find(|w| w.image.as_deref() == Some(image))
                    .map(|w| w.reason.clone())
                    .unwrap_or_else(|| {
                        format!(
                            "no version of {image} was chosen in this pass (see policy {policy})"
                        )
                    });
                return Some((Standing::Blocked(why), policies));
            }
        }
    }
    let version = version.unwrap_or_default();
    let standing = if policies.iter().any(|p| changed.contains(p)) {
        Standing::Moves(version)
    } else {
        Standing::Stays(version)
    };
    Some((standing, policies))
}
