//! The `[groups.NAME]` sections: images that move together (`promotion::group` owns the type
//! and the rule); this reads them and checks them against the images and each other.

use std::collections::{BTreeMap, BTreeSet};

use crate::common::settings::Table;
use crate::common::text::unknown_name_hint;
use crate::promotion::group::GroupConfig;

/// Reads every `[groups.NAME]`. `image_names` are the `[images]` written; `None` skips the
/// check that members are among them (the host file of a repository with rules, whose images
/// may come from the rules: checked again once they are merged). Groups with errors are
/// reported and left out.
pub(super) fn read_groups(
    top: &Table,
    image_names: Option<&BTreeSet<String>>,
    all_images: &BTreeSet<String>,
) -> BTreeMap<String, GroupConfig> {
    let mut out = BTreeMap::new();
    // Image → the group that has it, to refuse a second one.
    let mut member_of: BTreeMap<String, String> = BTreeMap::new();
    for (name, t) in top.named_tables("groups") {
        let plain = !name.is_empty()
            && !name.starts_with(['.', '-'])
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
        if !plain || name.contains("..") || name.ends_with(".lock") {
            t.error_at(
                t.path(),
                format!(
                    "group name {name:?} must be letters, digits, '.', '_' or '-' (not first): it names the review branch baton/ENV/NAME and the pull request's marker"
                ),
            );
        }
        if all_images.contains(&name) {
            t.error_at(
                t.path(),
                format!(
                    "group {name:?} has the name of an image: their review branches would be the same (baton/ENV/{name}); rename the group"
                ),
            );
        }
        let images = t.string_list("images");
        if images.is_none() && !t.has("images") {
            t.missing(
                "images",
                "list the [images] names that move together, e.g. images = [\"api\", \"web\"]",
            );
        }
        let same_version = t.bool("same_version").unwrap_or(false);
        let Some(images) = images else {
            t.finish();
            continue;
        };
        let mut ok = true;
        let mut seen: Vec<String> = Vec::new();
        for (image, path) in &images {
            if seen.contains(image) {
                ok = false;
                t.error_at(
                    path,
                    format!("{image:?} is listed twice in group {name:?}: list each image once"),
                );
                continue;
            }
            if let Some(known) = image_names
                && !known.contains(image)
            {
                ok = false;
                let names: Vec<&str> = known.iter().map(String::as_str).collect();
                let hint = unknown_name_hint(image, &names, "images");
                t.error_at(
                    path,
                    format!("group {name:?} names unknown image {image:?}: {hint}"),
                );
                continue;
            }
            if let Some(first) = member_of.get(image) {
                ok = false;
                t.error_at(
                    path,
                    format!(
                        "image {image:?} is already in group {first:?} (groups.{first}.images): an image moves with one group only; remove it from one of them"
                    ),
                );
                continue;
            }
            seen.push(image.clone());
        }
        if ok && seen.len() < 2 {
            ok = false;
            t.error(
                "images",
                format!(
                    "group {name:?} has {} image{}: a group moves two or more images together; list at least two, or remove the group",
                    seen.len(),
                    if seen.len() == 1 { "" } else { "s" }
                ),
            );
        }
        t.finish();
        for image in &seen {
            member_of.insert(image.clone(), name.clone());
        }
        if ok {
            out.insert(
                name,
                GroupConfig {
                    images: seen,
                    same_version,
                },
            );
        }
    }
    out
}
