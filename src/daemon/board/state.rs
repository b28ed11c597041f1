//! What the board keeps between requests beside the status: the configuration in force (for
//! the promotion order, soaks and the forge), its access rule, the timeline and rate limits.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use super::access::Access;
use super::timeline::{TimelineEntry, merge_timelines};
use crate::config::Config;
use crate::git::TokenSource;

/// The board's own shared state; every method is cheap and never blocks on I/O but the
/// token file read at a reload.
#[derive(Debug, Default)]
pub struct BoardState {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    config: Option<Arc<Config>>,
    access: Option<Access>,
    secret_paths: Vec<String>,
    /// Every repository's moves in one list.
    timeline: Arc<Vec<TimelineEntry>>,
    /// Per repository: the head its moves were read at, and its moves.
    timelines: BTreeMap<String, (Option<String>, Vec<TimelineEntry>)>,
    rate_limits: BTreeMap<String, u64>,
}

/// What one page is rendered from besides the status.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// The configuration in force.
    pub config: Arc<Config>,
    /// The latest moves of every repository, newest first.
    pub timeline: Arc<Vec<TimelineEntry>>,
    /// Requests left in the current rate-limit window, per registry host that announced one.
    pub rate_limits: BTreeMap<String, u64>,
    /// Paths of files holding secrets: replaced in any text the page shows.
    pub secret_paths: Vec<String>,
}

impl Snapshot {
    /// A snapshot of `config` with nothing else known yet (tests and benchmarks).
    pub fn of(config: Config) -> Snapshot {
        Snapshot {
            secret_paths: secret_paths(&config),
            config: Arc::new(config),
            timeline: Arc::new(Vec::new()),
            rate_limits: BTreeMap::new(),
        }
    }
}

impl BoardState {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Puts a newly loaded configuration in force (and reads the token file again).
    pub fn configure(&self, config: &Config) {
        let access = Access::of(config);
        let mut inner = self.lock();
        inner.secret_paths = secret_paths(config);
        inner.config = Some(Arc::new(config.clone()));
        inner.access = Some(access);
        // A removed repository's moves leave the board with it.
        let before = inner.timelines.len();
        inner
            .timelines
            .retain(|name, _| config.repositories.contains_key(name));
        if inner.timelines.len() != before {
            inner.timeline = Arc::new(merge_timelines(inner.timelines.values().map(|(_, t)| t)));
        }
    }

    /// The access rule in force.
    pub fn access(&self) -> Access {
        self.lock().access.clone().unwrap_or(Access::Off)
    }

    /// Records the rate-limit budgets the registries announced.
    pub fn set_rate_limits(&self, limits: Vec<(String, u64)>) {
        self.lock().rate_limits = limits.into_iter().collect();
    }

    /// The head repository `repository`'s moves were read at.
    pub fn timeline_head(&self, repository: &str) -> Option<String> {
        self.lock()
            .timelines
            .get(repository)
            .and_then(|(head, _)| head.clone())
    }

    /// Replaces repository `repository`'s moves, read at `head`.
    pub fn set_timeline(
        &self,
        repository: &str,
        head: Option<String>,
        timeline: Vec<TimelineEntry>,
    ) {
        let mut inner = self.lock();
        inner
            .timelines
            .insert(repository.to_string(), (head, timeline));
        inner.timeline = Arc::new(merge_timelines(inner.timelines.values().map(|(_, t)| t)));
    }

    /// What a page is rendered from; `None` before the first configuration.
    pub fn snapshot(&self) -> Option<Snapshot> {
        let inner = self.lock();
        Some(Snapshot {
            config: inner.config.clone()?,
            timeline: inner.timeline.clone(),
            rate_limits: inner.rate_limits.clone(),
            secret_paths: inner.secret_paths.clone(),
        })
    }
}

/// Every file the configuration names that holds a secret, as text, longest first.
fn secret_paths(config: &Config) -> Vec<String> {
    let mut paths = Vec::new();
    let remote = &config.git.remote;
    paths.extend(remote.ssh_key_file.clone());
    if let Some(TokenSource::File(path)) = &remote.token {
        paths.push(path.clone());
    }
    paths.extend(config.git.signing_key.clone());
    paths.extend(config.daemon.ui_token_file.clone());
    for registry in config.registries.values() {
        paths.extend(registry.auth.files().map(|(_, path)| path.to_path_buf()));
    }
    paths.extend(config.forge.as_ref().map(|f| f.token_file.clone()));
    for hook in config.webhooks.values() {
        paths.push(hook.secret_file.clone());
    }
    for sink in config.notifications.values() {
        paths.push(sink.target.secret_file.clone());
    }
    let mut out: Vec<String> = paths
        .iter()
        .map(|p| p.display().to_string())
        .filter(|p| !p.is_empty())
        .collect();
    out.sort_by_key(|p| std::cmp::Reverse(p.len()));
    out.dedup();
    out
}

/// `text` with every secret file's path replaced, so an error naming one shows no path.
pub fn redact(text: &str, secret_paths: &[String]) -> String {
    let mut out = text.to_string();
    for path in secret_paths {
        if out.contains(path.as_str()) {
            out = out.replace(path.as_str(), "[a secret file]");
        }
    }
    out
}
