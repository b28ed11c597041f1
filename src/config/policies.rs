//! The `[policies.NAME]` sections: which image a policy chooses tags for, its rule and filter
//! (read by `policy`), and whether digests are pinned.

use std::collections::{BTreeMap, BTreeSet};

use super::ImageConfig;
use crate::common::settings::Table;
use crate::common::text::unknown_name_hint;
use crate::policy::{self, Policy};

/// When the digest of the chosen tag is written next to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DigestPinning {
    /// Write tags only.
    Never,
    /// Resolve and write the digest when a new tag is written; keep it while the tag stays.
    IfNotPresent,
    /// Resolve the digest every pass, so a re-pushed tag moves the digest too.
    Always,
}

/// One `[policies.NAME]` section.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyConfig {
    /// The image section this policy chooses tags for.
    pub image: String,
    /// The rule, filter and exclusions, ready to evaluate.
    pub policy: Policy,
    /// Whether digests are written.
    pub pin_digest: DigestPinning,
    /// A moving tag (`stable`) whose immutable sibling among the policy's tags is written.
    pub follow: Option<String>,
}

impl PolicyConfig {
    /// Reads one `[policies.NAME]`; `images` are the valid image sections, `image_names` every
    /// one written. `None` when it has errors (all of them reported).
    pub(super) fn read(
        name: &str,
        t: Table,
        images: &BTreeMap<String, ImageConfig>,
        image_names: &BTreeSet<String>,
    ) -> Option<PolicyConfig> {
        let image = t.required_string(
            "image",
            "name the [images.NAME] section this policy chooses tags for",
        );
        if let Some(image) = &image
            && !image_names.contains(image)
        {
            let known: Vec<&str> = image_names.iter().map(String::as_str).collect();
            let hint = unknown_name_hint(image, &known, "images");
            t.error(
                "image",
                format!("policy names unknown image {image:?}: {hint}"),
            );
        }
        let rule = policy::config::read_rule(&t);
        let filter = policy::config::read_filter(&t);
        let pin_digest = match t.string("pin_digest").as_deref() {
            None | Some("never") => Some(DigestPinning::Never),
            Some("if_not_present") => Some(DigestPinning::IfNotPresent),
            Some("always") => Some(DigestPinning::Always),
            Some(other) => {
                t.error(
                "pin_digest",
                format!("{other:?} is not a pinning mode: use \"never\", \"if_not_present\" or \"always\""),
            );
                None
            }
        };
        let follow = t.string("follow");
        if let Some(tag) = &follow
            && !crate::reference::is_valid_tag(tag)
        {
            t.error(
                "follow",
                format!(
                    "{tag:?} is not a tag: name the moving tag to follow, e.g. follow = \"stable\""
                ),
            );
        }
        t.finish();
        let image = image?;
        let exclude = images.get(&image)?.exclude.clone();
        Some(PolicyConfig {
            policy: Policy {
                name: name.to_string(),
                rule: rule?,
                filter: filter?,
                exclude,
            },
            image,
            pin_digest: pin_digest?,
            follow,
        })
    }
}
