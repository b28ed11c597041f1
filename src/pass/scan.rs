//! Registry scans for a pass: every configured image, a bounded number at a time.

use std::collections::BTreeMap;
use std::sync::Arc;

use jiff::Timestamp;

use crate::config::{Config, ImageConfig, PolicyConfig};
use crate::eligibility::Store;
use crate::registry::{Registries, RegistryClient, RegistryError};

use super::judge::{Walk, judge_scan};

use super::progress::{Progress, Step, report};

/// One image's scan result.
#[derive(Debug, Clone)]
pub struct ImageScan {
    /// The `[images]` name.
    pub image: String,
    /// The registry host.
    pub registry: String,
    /// Valid tags, when the scan succeeded.
    pub tags: Option<Vec<String>>,
    /// Invalid tags or digests dropped from the reply.
    pub dropped_invalid: usize,
    /// Requests the scan made.
    pub requests: u32,
    /// Why the scan failed.
    pub error: Option<String>,
    /// The error's kind, for metrics labels.
    pub error_kind: Option<&'static str>,
    /// Per-tag judgements (age, followed tags), when the image needs them.
    pub judged: Option<Arc<crate::eligibility::Judged>>,
}

/// Lists the tags of every configured image, at most `daemon.concurrency` at once,
/// each within its image's `timeout`. A failure is recorded; the others carry on.
/// `progress` hears of the start and of each image's end.
pub async fn scan_images(
    config: &Config,
    registries: &Registries,
    store: &Arc<Store>,
    now: Timestamp,
    progress: Option<&Progress>,
) -> BTreeMap<String, ImageScan> {
    report(
        progress,
        Step::Scanning {
            images: config.images.len(),
        },
    );
    let limit = Arc::new(tokio::sync::Semaphore::new(
        config.daemon.concurrency.max(1),
    ));
    let mut set = tokio::task::JoinSet::new();
    for (name, image) in config.images.iter() {
        let client = registries.for_image(&image.repository);
        let limit = limit.clone();
        let name = name.clone();
        let image = image.clone();
        let policies = policies_of(config, &name);
        let store = store.clone();
        set.spawn(async move {
            let scan = scan_and_judge(&name, &image, &policies, client, &limit, &store, now).await;
            match (&scan.tags, &scan.error) {
                (Some(tags), _) => {
                    tracing::info!(image = %name, tags = tags.len(), dropped = scan.dropped_invalid, requests = scan.requests, "scanned")
                }
                (None, Some(error)) => tracing::warn!(image = %name, error = %error, "scan failed"),
                _ => {}
            }
            scan
        });
    }
    let mut out = BTreeMap::new();
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok(scan) => {
                report(
                    progress,
                    Step::Scanned {
                        image: &scan.image,
                        ok: scan.error.is_none(),
                    },
                );
                out.insert(scan.image.clone(), scan);
            }
            Err(err) => tracing::error!(error = %err, "a scan task stopped unexpectedly"),
        }
    }
    out
}

/// Lists one image's tags ([`scan_image`]), then judges them ([`judge_scan`]: age, followed
/// tags) when the image needs it, holding a permit of `limit` meanwhile.
pub async fn scan_and_judge(
    name: &str,
    image: &ImageConfig,
    policies: &[(String, PolicyConfig)],
    client: Result<Arc<RegistryClient>, RegistryError>,
    limit: &tokio::sync::Semaphore,
    store: &Store,
    now: Timestamp,
) -> ImageScan {
    let judge_client = client.as_ref().ok().cloned();
    let mut scan = scan_image(name, image, client, limit).await;
    if let Some(client) = judge_client {
        let _permit = limit.acquire().await;
        judge_scan(
            image,
            policies,
            &mut scan,
            &client,
            store,
            now,
            Walk::UntilEligible,
        )
        .await;
    }
    scan
}

/// The policies choosing tags for image `name`, owned (for a scan task).
pub fn policies_of(config: &Config, name: &str) -> Vec<(String, PolicyConfig)> {
    config
        .policies_for_image(name)
        .map(|(n, p)| (n.clone(), p.clone()))
        .collect()
}

/// Lists one image's tags with `client`, holding a permit of `limit` during the request and
/// giving up after the image's `timeout`. Logs nothing: callers decide what is worth a line.
pub async fn scan_image(
    name: &str,
    image: &ImageConfig,
    client: Result<Arc<RegistryClient>, RegistryError>,
    limit: &tokio::sync::Semaphore,
) -> ImageScan {
    let repository = &image.repository;
    let mut scan = ImageScan {
        image: name.to_string(),
        registry: repository.registry.clone(),
        tags: None,
        dropped_invalid: 0,
        requests: 0,
        error: None,
        error_kind: None,
        judged: None,
    };
    let client = match client {
        Ok(client) => client,
        Err(err) => {
            scan.error_kind = Some(err.kind().as_str());
            scan.error = Some(err.to_string());
            return scan;
        }
    };
    let _permit = limit.acquire().await;
    match tokio::time::timeout(image.timeout, client.list_tags(&repository.repository)).await {
        Ok(Ok(list)) => {
            scan.dropped_invalid = list.dropped_invalid;
            scan.requests = list.requests;
            scan.tags = Some(list.tags);
        }
        Ok(Err(err)) => {
            scan.error_kind = Some(err.kind().as_str());
            scan.error = Some(err.to_string());
        }
        Err(_) => {
            scan.error_kind = Some("timeout");
            scan.error = Some(format!(
                "scan of {repository} took longer than the image's timeout of {}: raise images.{name}.timeout or check the registry",
                crate::common::time::format_duration(image.timeout)
            ));
        }
    }
    scan
}
