//! The request estimate `baton check --online` prints: registry requests per hour at the
//! configured intervals, per registry, against its budget (`requests_per_minute`) and the
//! limit the registry states, with a warning before either is exceeded.

use std::collections::BTreeMap;

use crate::config::{Config, DigestPinning};
use crate::registry::RateLimit;

use super::ImageScan;

/// The share of a budget above which the estimate warns.
pub const WARN_SHARE: f64 = 0.8;

/// One registry's estimate.
#[derive(Debug, Clone, PartialEq)]
pub struct RegistryEstimate {
    /// The registry host.
    pub registry: String,
    /// Images scanned on it.
    pub images: Vec<String>,
    /// Requests per hour in steady state: listings and followed tags at each image's
    /// interval, and digests resolved by each pass for `pin_digest = "always"`.
    pub per_hour: f64,
    /// `requests_per_minute` × 60, when configured.
    pub budget: Option<f64>,
    /// What the registry states (`RateLimit-Limit` over its window), per hour.
    pub stated: Option<f64>,
}

impl RegistryEstimate {
    /// The warnings, each naming what to change: at or over [`WARN_SHARE`] of a limit.
    pub fn warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        let names = self.images.join(", ");
        for (limit, what) in [
            (self.budget, "its budget (requests_per_minute)".to_string()),
            (self.stated, "the limit it states".to_string()),
        ] {
            let Some(limit) = limit.filter(|l| *l > 0.0) else {
                continue;
            };
            let share = self.per_hour / limit;
            if share >= WARN_SHARE {
                out.push(format!(
                    "registry {}: about {:.0} requests/hour is {:.0}% of {what}, {:.0}/hour: {}; raise the interval of {names}, or requests_per_minute under [registries.\"{}\"]",
                    self.registry,
                    self.per_hour,
                    share * 100.0,
                    limit,
                    if share >= 1.0 { "it will be exceeded" } else { "little is left for new tags and people" },
                    self.registry
                ));
            }
        }
        out
    }
}

/// Estimates each registry's requests per hour from one scan of every image (`scans`: the
/// requests each made, less one-off judgements of new tags) and the configuration;
/// `stated` holds what registries said about their limits.
pub fn estimate(
    config: &Config,
    scans: &BTreeMap<String, ImageScan>,
    stated: &BTreeMap<String, RateLimit>,
) -> Vec<RegistryEstimate> {
    let mut out: BTreeMap<String, RegistryEstimate> = BTreeMap::new();
    let passes_per_hour = 3600.0 / config.git.interval.as_secs_f64().max(1.0);
    for (name, image) in config.images.iter() {
        let host = image.repository.registry.clone();
        let entry = out.entry(host.clone()).or_insert_with(|| RegistryEstimate {
            registry: host.clone(),
            images: Vec::new(),
            per_hour: 0.0,
            budget: config
                .registry_for(&image.repository)
                .and_then(|r| r.requests_per_minute)
                .map(|n| f64::from(n) * 60.0),
            stated: stated.get(&host).and_then(RateLimit::per_hour),
        });
        entry.images.push(name.clone());
        let per_scan = match scans.get(name) {
            Some(scan) => {
                let judged = scan.judged.as_deref();
                let once = judged.map_or(0, |j| j.requests.saturating_sub(j.per_scan));
                f64::from(scan.requests.saturating_sub(once).max(1))
            }
            None => 1.0,
        };
        entry.per_hour += per_scan * 3600.0 / image.interval.as_secs_f64().max(1.0);
        let always = config
            .policies_for_image(name)
            .filter(|(_, p)| p.pin_digest == DigestPinning::Always)
            .count();
        entry.per_hour += always as f64 * passes_per_hour;
    }
    out.into_values().collect()
}
