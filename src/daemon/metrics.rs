//! Prometheus metrics: what the daemon counts and how it renders them as text.
//!
//! One registry per process; parts record through the typed handles in [`Metrics`].

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

/// Labels naming one image.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ImageLabel {
    /// The `[images]` name.
    pub image: String,
}

/// Labels for a failed scan.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ScanErrorLabels {
    /// Registry host.
    pub registry: String,
    /// Error kind (auth, not_found, rate_limited, timeout, too_large, malformed, network, server).
    pub kind: String,
}

/// Labels naming one policy.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PolicyLabel {
    /// The `[policies]` name.
    pub policy: String,
}

/// Labels naming one environment.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct EnvironmentLabel {
    /// The `[environments]` name.
    pub environment: String,
}

/// Labels with an outcome.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabel {
    /// `ok` or `failed`.
    pub result: String,
}

/// Labels of a repository's pass or push with its outcome.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RepositoryResultLabels {
    /// The repository's name (`default` for `[git]`).
    pub repository: String,
    /// `ok` or `failed`.
    pub result: String,
}

/// Labels naming one repository.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RepositoryLabel {
    /// The repository's name (`default` for `[git]`).
    pub repository: String,
}

/// Labels naming one registry.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RegistryLabel {
    /// Registry host.
    pub registry: String,
}

/// Labels of a review action.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReviewLabels {
    /// The `[environments]` name.
    pub environment: String,
    /// `opened` (a pull request), `updated` (its branch moved to a newer version) or
    /// `branch_pushed` (no forge: a branch for a person to open one from).
    pub action: String,
}

/// Labels naming what last succeeded.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ActivityLabel {
    /// `scan`, `sync`, `push`, `reload` or `config_load`.
    pub activity: String,
}

/// Every metric Baton exports.
pub struct Metrics {
    registry: Registry,
    /// Registry scans, failed ones included, per image.
    pub scans: Family<ImageLabel, Counter>,
    /// Failed registry scans, per registry and kind of failure.
    pub scan_errors: Family<ScanErrorLabels, Counter>,
    /// Valid tags seen in the last scan, per image.
    pub tags_seen: Family<ImageLabel, Gauge>,
    /// Invalid tags dropped from registry replies, per image.
    pub tags_dropped: Family<ImageLabel, Counter>,
    /// Policy evaluations that chose a tag, per policy.
    pub policy_choices: Family<PolicyLabel, Counter>,
    /// Commits made, per environment.
    pub commits: Family<EnvironmentLabel, Counter>,
    /// Pushes, per repository and outcome.
    pub pushes: Family<RepositoryResultLabels, Counter>,
    /// Pushes that were rejected and retried, per repository.
    pub push_retries: Family<RepositoryLabel, Counter>,
    /// Reviews opened or updated, per environment and action.
    pub reviews: Family<ReviewLabels, Counter>,
    /// Configuration reloads, by outcome.
    pub reloads: Family<ResultLabel, Counter>,
    /// Reconciliation passes, per repository and outcome (`failed` when any environment
    /// failed).
    pub passes: Family<RepositoryResultLabels, Counter>,
    /// Unix time of each repository's last successful sync with its remote.
    pub repository_last_sync: Family<RepositoryLabel, Gauge<f64, AtomicU64>>,
    /// Images in the configuration in force.
    pub images: Gauge,
    /// Last `RateLimit-Remaining` a registry reported.
    pub rate_limit_remaining: Family<RegistryLabel, Gauge>,
    /// Unix time of the last success of each activity.
    pub last_success: Family<ActivityLabel, Gauge<f64, AtomicU64>>,
    /// Webhook requests by hook and outcome.
    pub webhook_requests: Family<super::webhooks::WebhookLabels, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Creates and registers every metric under the `baton_` prefix.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("baton");
        let metrics = Metrics {
            scans: Family::default(),
            scan_errors: Family::default(),
            tags_seen: Family::default(),
            tags_dropped: Family::default(),
            policy_choices: Family::default(),
            commits: Family::default(),
            pushes: Family::default(),
            push_retries: Family::default(),
            reviews: Family::default(),
            reloads: Family::default(),
            passes: Family::default(),
            repository_last_sync: Family::default(),
            images: Gauge::default(),
            rate_limit_remaining: Family::default(),
            last_success: Family::default(),
            webhook_requests: Family::default(),
            registry: Registry::default(),
        };
        registry.register(
            "webhook_requests",
            "Webhook requests by hook and outcome; only verified ones trigger scans",
            metrics.webhook_requests.clone(),
        );
        registry.register(
            "scans",
            "Registry scans, failed ones included",
            metrics.scans.clone(),
        );
        registry.register(
            "scan_errors",
            "Failed registry scans",
            metrics.scan_errors.clone(),
        );
        registry.register(
            "tags_seen",
            "Valid tags seen in the last scan",
            metrics.tags_seen.clone(),
        );
        registry.register(
            "tags_dropped",
            "Invalid tags or digests dropped from registry replies",
            metrics.tags_dropped.clone(),
        );
        registry.register(
            "policy_choices",
            "Policy evaluations that chose a tag",
            metrics.policy_choices.clone(),
        );
        registry.register("commits", "Commits made", metrics.commits.clone());
        registry.register("pushes", "Pushes by outcome", metrics.pushes.clone());
        registry.register(
            "push_retries",
            "Pushes rejected by the remote and retried",
            metrics.push_retries.clone(),
        );
        registry.register(
            "reviews",
            "Reviews opened or updated (pull requests, or branches without a forge)",
            metrics.reviews.clone(),
        );
        registry.register(
            "reloads",
            "Configuration reloads by outcome",
            metrics.reloads.clone(),
        );
        registry.register(
            "passes",
            "Reconciliation passes by outcome",
            metrics.passes.clone(),
        );
        registry.register(
            "repository_last_sync_timestamp_seconds",
            "Unix time of a repository's last successful sync with its remote",
            metrics.repository_last_sync.clone(),
        );
        registry.register(
            "images",
            "Images in the configuration in force",
            metrics.images.clone(),
        );
        registry.register(
            "registry_rate_limit_remaining",
            "Last RateLimit-Remaining reported by a registry",
            metrics.rate_limit_remaining.clone(),
        );
        registry.register(
            "last_success_timestamp_seconds",
            "Unix time of the last success of an activity",
            metrics.last_success.clone(),
        );
        // Outcome series exist from the start, so that rates and alerts see a zero.
        for result in ["ok", "failed"] {
            let label = ResultLabel {
                result: result.to_string(),
            };
            let _ = metrics.reloads.get_or_create(&label);
        }
        Metrics {
            registry,
            ..metrics
        }
    }

    /// Creates repository `name`'s series at zero, so that rates and alerts see it from the
    /// start.
    pub fn add_repository(&self, name: &str) {
        for result in ["ok", "failed"] {
            let label = RepositoryResultLabels {
                repository: name.to_string(),
                result: result.to_string(),
            };
            let _ = self.pushes.get_or_create(&label);
            let _ = self.passes.get_or_create(&label);
        }
        let _ = self.push_retries.get_or_create(&RepositoryLabel {
            repository: name.to_string(),
        });
    }

    /// Drops the series of a repository no longer configured.
    pub fn remove_repository(&self, name: &str) {
        for result in ["ok", "failed"] {
            let label = RepositoryResultLabels {
                repository: name.to_string(),
                result: result.to_string(),
            };
            self.pushes.remove(&label);
            self.passes.remove(&label);
        }
        let label = RepositoryLabel {
            repository: name.to_string(),
        };
        self.push_retries.remove(&label);
        self.repository_last_sync.remove(&label);
    }

    /// Records that repository `name` synced with its remote now.
    pub fn repository_synced(&self, name: &str) {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0);
        self.repository_last_sync
            .get_or_create(&RepositoryLabel {
                repository: name.to_string(),
            })
            .set(now);
    }

    /// Records that `activity` succeeded now.
    pub fn succeeded(&self, activity: &str) {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0);
        self.last_success
            .get_or_create(&ActivityLabel {
                activity: activity.to_string(),
            })
            .set(now);
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if let Err(err) = prometheus_client::encoding::text::encode(&mut out, &self.registry) {
            tracing::warn!(error = %err, "cannot encode metrics");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_labelled_counters() {
        let metrics = Metrics::new();
        metrics
            .scans
            .get_or_create(&ImageLabel {
                image: "app".into(),
            })
            .inc();
        metrics
            .scan_errors
            .get_or_create(&ScanErrorLabels {
                registry: "ghcr.io".into(),
                kind: "rate_limited".into(),
            })
            .inc_by(2);
        metrics.succeeded("scan");
        metrics.add_repository("fleet");
        metrics
            .reviews
            .get_or_create(&ReviewLabels {
                environment: "production".into(),
                action: "opened".into(),
            })
            .inc();
        let text = metrics.render();
        assert!(
            text.contains("baton_scans_total{image=\"app\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("baton_scan_errors_total{registry=\"ghcr.io\",kind=\"rate_limited\"} 2"),
            "{text}"
        );
        assert!(
            text.contains("baton_last_success_timestamp_seconds{activity=\"scan\"}"),
            "{text}"
        );
        assert!(text.contains("# TYPE baton_push_retries counter"), "{text}");
        assert!(
            text.contains("baton_passes_total{repository=\"fleet\",result=\"ok\"} 0"),
            "{text}"
        );
        metrics.remove_repository("fleet");
        assert!(!metrics.render().contains("fleet"));
        assert!(
            text.contains("baton_reviews_total{environment=\"production\",action=\"opened\"} 1"),
            "{text}"
        );
        assert!(text.ends_with("# EOF\n"), "{text}");
    }
}
