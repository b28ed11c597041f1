//! The `[images.NAME]` sections: which repository is watched, how often, and which tags never
//! count.

use std::time::Duration;

use crate::common::settings::Table;
use crate::common::time::MIN_INTERVAL;
use crate::reference::ImageName;
use crate::registry::Platform;
use crate::signature::SignatureConfig;

/// The longest `min_age` accepted: a year.
pub const MAX_MIN_AGE: Duration = Duration::from_secs(366 * 24 * 3600);

/// One `[images.NAME]` section.
#[derive(Debug, Clone)]
pub struct ImageConfig {
    /// The image's repository, as parsed.
    pub repository: ImageName,
    /// The repository as written in the config (what full-reference markers write).
    pub repository_text: String,
    /// How often its tags are listed.
    pub interval: Duration,
    /// Tags matching any of these are never candidates.
    pub exclude: crate::policy::Exclusions,
    /// Deadline for one scan of this image.
    pub timeout: Duration,
    /// The cosign keys a tag's digest must be signed with (`[images.NAME.signature]`).
    pub signature: Option<SignatureConfig>,
    /// A tag is a candidate only once it is this old (`min_age`).
    pub min_age: Option<Duration>,
    /// Pin this platform's own manifest digest instead of the index digest (`platform`).
    pub platform: Option<Platform>,
}

impl PartialEq for ImageConfig {
    fn eq(&self, other: &Self) -> bool {
        self.repository == other.repository
            && self.repository_text == other.repository_text
            && self.interval == other.interval
            && self.timeout == other.timeout
            && self.signature == other.signature
            && self.min_age == other.min_age
            && self.platform == other.platform
            && crate::policy::same_patterns(&self.exclude, &other.exclude)
    }
}

impl ImageConfig {
    /// Reads one `[images.NAME]`; `None` when it has errors (all of them reported).
    pub(super) fn read(t: Table) -> Option<ImageConfig> {
        let repository_text = t.required_string(
            "repository",
            "name the image, e.g. repository = \"ghcr.io/example/app\"",
        );
        let repository = repository_text
            .as_deref()
            .and_then(|text| match ImageName::parse(text) {
                Ok(name) => Some(name),
                Err(err) => {
                    t.error("repository", err.to_string());
                    None
                }
            });
        let interval = t
            .duration("interval", Some(MIN_INTERVAL))
            .unwrap_or(Duration::from_secs(300));
        let exclude = crate::policy::config::read_exclude(&t);
        let timeout = t
            .duration("timeout", Some(Duration::from_secs(1)))
            .unwrap_or(Duration::from_secs(60));
        let signature = SignatureConfig::read(t.section("signature"));
        let signature_ok = !t.has("signature") || signature.is_some();
        let min_age = t.duration("min_age", Some(Duration::from_secs(1)));
        if let Some(age) = min_age
            && age > MAX_MIN_AGE
        {
            t.error(
                "min_age",
                "min_age is longer than a year: write a shorter age such as \"2h\" or \"7d\"",
            );
        }
        let platform = t
            .string("platform")
            .and_then(|text| match Platform::parse(&text) {
                Ok(p) => Some(p),
                Err(err) => {
                    t.error("platform", err.to_string());
                    None
                }
            });
        t.finish();
        if !signature_ok {
            return None;
        }
        Some(ImageConfig {
            repository: repository?,
            repository_text: repository_text?.trim().to_string(),
            interval,
            exclude,
            timeout,
            signature,
            min_age,
            platform,
        })
    }
}
