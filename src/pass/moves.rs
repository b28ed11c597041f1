//! Turning a marker plan into the moves a commit message names, and into a diff for `plan`.

use std::collections::BTreeMap;

use crate::config::Config;
use crate::git::message::Move;
use crate::markers::{Part, Plan};

use super::Selection;
use crate::common::text::short_digest as short;

/// One move per policy whose markers changed, with the versions before and after.
/// Several markers of one policy at different old versions list them all (`1.2, 1.3`).
pub fn moves_from_plan(
    plan: &Plan,
    selections: &BTreeMap<String, Selection>,
    config: &Config,
) -> Vec<Move> {
    /// What the changes of one policy add up to.
    #[derive(Default)]
    struct Acc {
        /// Tags before and after, from full-reference and tag markers.
        from: Vec<String>,
        to: Vec<String>,
        /// `tag@digest` before and after, from full-reference markers, for a move where only
        /// the digest changed (the tag was pushed again).
        pinned_from: Vec<String>,
        pinned_to: Vec<String>,
        /// Digests before and after, from digest markers.
        digest_from: Vec<String>,
        digest_to: Option<String>,
    }
    fn push_unique(list: &mut Vec<String>, value: String) {
        if !value.is_empty() && !list.contains(&value) {
            list.push(value);
        }
    }
    let mut by_policy: BTreeMap<String, Acc> = BTreeMap::new();
    for change in plan.edits.iter().flat_map(|e| &e.changes) {
        let acc = by_policy.entry(change.policy.clone()).or_default();
        let field = change.field;
        if field.digest_only() {
            push_unique(&mut acc.digest_from, short(&change.from));
            acc.digest_to = Some(change.to.clone());
        } else if field.holds(Part::Tag) {
            let before = field.read(&change.from);
            let after = field.read(&change.to);
            push_unique(&mut acc.from, version_text(before.tag, None));
            push_unique(&mut acc.to, version_text(after.tag, None));
            if field.holds(Part::Digest) {
                push_unique(
                    &mut acc.pinned_from,
                    version_text(before.tag, before.digest),
                );
                push_unique(&mut acc.pinned_to, version_text(after.tag, after.digest));
                if let Some(digest) = after.digest {
                    acc.digest_to = Some(digest.to_string());
                }
            }
        } else {
            push_unique(&mut acc.from, change.from.clone());
            push_unique(&mut acc.to, change.to.clone());
        }
    }
    by_policy
        .into_iter()
        .map(|(policy, acc)| {
            let selection = selections.get(&policy);
            let image = selection
                .map(|s| s.repository.clone())
                .or_else(|| {
                    config
                        .policies
                        .get(&policy)
                        .and_then(|p| config.images.get(&p.image))
                        .map(|i| i.repository_text.clone())
                })
                .unwrap_or_default();
            // From and To name tags, the digest has its own trailer. A move where only the
            // digest changed (the tag was pushed again) is told by its digests.
            let (from, to) = if acc.to.is_empty() {
                (
                    acc.digest_from.join(", "),
                    acc.digest_to.as_deref().map(short).unwrap_or_default(),
                )
            } else if acc.from == acc.to {
                (acc.pinned_from.join(", "), acc.pinned_to.join(", "))
            } else {
                (acc.from.join(", "), acc.to.join(", "))
            };
            Move {
                image,
                rule: selection.map(|s| s.rule.clone()).unwrap_or_default(),
                policy,
                from,
                to,
                digest: acc.digest_to,
            }
        })
        .collect()
}

fn version_text(tag: Option<&str>, digest: Option<&str>) -> String {
    match (tag, digest) {
        (Some(tag), Some(digest)) => format!("{tag}@{}", short(digest)),
        (Some(tag), None) => tag.to_string(),
        (None, Some(digest)) => short(digest),
        (None, None) => String::new(),
    }
}

/// A unified diff of every edit in the plan, paths relative to the repository root.
pub fn unified_diff(plan: &Plan) -> String {
    let mut out = String::new();
    for edit in &plan.edits {
        let path = edit.path.display().to_string();
        let (before, after) = match edit.texts() {
            Ok(texts) => texts,
            Err(err) => {
                out.push_str(&format!("{path}: {err}\n"));
                continue;
            }
        };
        let diff = similar::TextDiff::from_lines(before.as_ref(), after.as_str());
        out.push_str(
            &diff
                .unified_diff()
                .context_radius(2)
                .header(&format!("a/{path}"), &format!("b/{path}"))
                .to_string(),
        );
    }
    out
}
