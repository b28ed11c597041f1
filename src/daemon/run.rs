//! `baton run`: start-up, the main loop (signals, reloads, watchdog) and shutdown.
//!
//! The main loop owns the configuration in force and hands it to the scan tasks and the
//! reconciler through a watch channel; it never does registry or Git work itself, so it
//! answers signals at once.

use super::webhooks::WebhookState;
use crate::notifications::{Notifier, NotifierOptions};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use super::events::{self, Wake};
use super::http::HttpServer;
use super::metrics::ResultLabel;
use super::scheduler::Scheduler;
use super::state::{Loaded, Shared};
use super::{reconcile, systemd};
use crate::common::secret::SecretFileError;
use crate::common::state_lock::StateLock;
use crate::config::{Config, ConfigErrors};
use crate::registry::Registries;

/// Editors write a file in several steps; changes within this long are one reload.
const RELOAD_DEBOUNCE: Duration = Duration::from_millis(250);

/// How `baton run` was asked to run.
#[derive(Debug, Clone)]
pub struct DaemonOptions {
    /// The configuration file.
    pub config_path: PathBuf,
    /// How long a stop signal waits for work in flight before exiting anyway.
    pub stop_timeout: Duration,
}

/// Why a configuration could not be put in force.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file is invalid; every problem is listed with its place.
    #[error("{0}")]
    Config(ConfigErrors),
    /// A secret file named by `[registries]` cannot be read.
    #[error("cannot read registry credentials: {0}")]
    Secrets(#[from] SecretFileError),
    /// The state directory is locked by another process or cannot be created.
    #[error("{0}")]
    Lock(#[from] crate::common::state_lock::LockError),
    /// A `[webhooks]` secret file cannot be read.
    #[error("{0}")]
    Webhooks(#[from] super::webhooks::WebhookError),
    /// The new `daemon.listen` cannot be bound.
    #[error("cannot listen on {addr} (daemon.listen): {source}: pick a free address")]
    Listen {
        /// The address.
        addr: std::net::SocketAddr,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

impl LoadError {
    /// Logs the error, one event per located configuration problem.
    fn log(&self, trigger: &str) {
        match self {
            LoadError::Config(errors) => {
                for error in &errors.errors {
                    tracing::error!(trigger, location = %error.location, key = %error.key, problem = %error.message, "configuration error");
                }
                tracing::error!(trigger, path = %errors.path.display(), errors = errors.errors.len(), "configuration refused: the configuration in force keeps running");
            }
            other => {
                tracing::error!(trigger, error = %other, "configuration refused: the configuration in force keeps running")
            }
        }
    }
}

/// Loads and validates the configuration at `path` and builds what it needs. The registry
/// pool and the request limit of `previous` are kept when their settings did not change
/// (and `fresh_registries` is false), so tokens and budgets carry over a reload.
pub fn load(
    path: &Path,
    previous: Option<&Loaded>,
    fresh_registries: bool,
) -> Result<Loaded, LoadError> {
    let text = std::fs::read(path).unwrap_or_default();
    let config = Config::load(path).map_err(LoadError::Config)?;
    let registries = match previous {
        Some(p) if !fresh_registries && p.config.registries == config.registries => {
            p.registries.clone()
        }
        _ => Arc::new(Registries::from_config(&config.registries)?),
    };
    let scan_limits = match previous {
        Some(p) if p.config.daemon.concurrency == config.daemon.concurrency => {
            (p.scan_limit.clone(), p.scan_slots.clone())
        }
        _ => {
            let permits = config.daemon.concurrency.max(1);
            (
                Arc::new(tokio::sync::Semaphore::new(permits)),
                Arc::new(tokio::sync::Semaphore::new(permits)),
            )
        }
    };
    let eligibility = match previous {
        Some(p) if p.config.daemon.state_dir == config.daemon.state_dir => p.eligibility.clone(),
        _ => Arc::new(crate::eligibility::Store::open(&config.daemon.state_dir)),
    };
    Ok(Loaded::new(
        config,
        registries,
        scan_limits,
        eligibility,
        text,
    ))
}

/// Runs the daemon until a stop signal. Returns `Ok(true)` after a clean stop, `Ok(false)`
/// when work in flight outlived `stop_timeout`, and an error when start-up failed (invalid
/// configuration, locked state directory, address in use).
pub async fn run(options: DaemonOptions) -> anyhow::Result<bool> {
    let (events_tx, events_rx) = mpsc::unbounded_channel();
    events::watch_signals(events_tx.clone())
        .map_err(|e| anyhow::anyhow!("cannot install signal handlers: {e}"))?;
    crate::common::http::install_crypto_provider();
    let path = options.config_path.clone();
    let loaded = load(&path, None, true)?;
    release_free_memory();
    let config = loaded.config.clone();
    let lock = StateLock::acquire(&config.daemon.state_dir)?;
    let shared = Arc::new(Shared::new(&config));
    shared.metrics.succeeded("config_load");
    let (scan_tx, mut scan_rx) = mpsc::channel::<super::webhooks::ScanRequest>(64);
    let hooks =
        WebhookState::with_counters(&config, scan_tx, shared.metrics.webhook_requests.clone())
            .map_err(LoadError::from)?;
    let forward = shared.clone();
    tokio::spawn(async move {
        while let Some(request) = scan_rx.recv().await {
            forward.request_scan(&request.image, &request.tags);
        }
    });
    shared.replace_notifier(Some(start_notifier(&config)));
    let http = HttpServer::start(config.daemon.listen, shared.clone(), Some(hooks.clone()))
        .await
        .map_err(|source| LoadError::Listen {
            addr: config.daemon.listen,
            source,
        })?;
    let watcher = match events::watch_config(&path, events_tx.clone()) {
        Ok(watcher) => Some(watcher),
        Err(err) => {
            tracing::warn!(path = %path.display(), error = %err, "cannot watch the configuration file: reload with SIGHUP");
            None
        }
    };
    tracing::info!(config = %path.display(), images = config.images.len(), policies = config.policies.len(), environments = config.environments.len(), repositories = %config.repository_names().join(","), remote = %reconcile_remote(&config), "baton started");
    let (loaded_tx, loaded_rx) = watch::channel(Arc::new(loaded));
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut scheduler = Scheduler::new(shared.clone(), loaded_rx.clone(), stop_rx.clone());
    scheduler.sync(&config);
    let mut reconcilers = reconcile::Reconcilers::new(shared.clone(), loaded_rx);
    reconcilers.sync(&config);
    let mut daemon = Daemon {
        path,
        shared,
        loaded_tx,
        scheduler,
        reconcilers,
        http: Some(http),
        hooks,
        locks: vec![lock],
        _watcher: watcher,
    };
    daemon.main_loop(events_rx).await;
    Ok(daemon.shutdown(stop_tx, options.stop_timeout).await)
}

/// Hands memory freed after parsing a configuration back to the system. Parsing a large file
/// needs several times the memory of the result; glibc keeps freed memory for reuse, which
/// would leave it counted in the daemon's resident size for good.
fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free heap pages; it touches no memory we own.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// How long notifications still queued at shutdown may take to go out.
const NOTIFY_FLUSH: Duration = Duration::from_secs(5);

/// Starts the configured notification sinks; a sink whose secret file is unusable is
/// logged and left out, the others run.
fn start_notifier(config: &Config) -> Notifier {
    let (notifier, problems) = Notifier::start(&config.notifications, NotifierOptions::default());
    for problem in &problems {
        tracing::error!(error = %problem, "notification sink disabled");
    }
    notifier
}

/// The remotes, comma-separated, without credentials.
fn reconcile_remote(config: &Config) -> String {
    config
        .repository_names()
        .iter()
        .filter_map(|name| config.for_repository(name))
        .map(|view| view.git.remote.display_url())
        .collect::<Vec<_>>()
        .join(",")
}

struct Daemon {
    path: PathBuf,
    shared: Arc<Shared>,
    loaded_tx: watch::Sender<Arc<Loaded>>,
    scheduler: Scheduler,
    /// One reconciler per repository.
    reconcilers: reconcile::Reconcilers,
    http: Option<HttpServer>,
    /// The webhook configuration the listener serves.
    hooks: WebhookState,
    /// The state directory lock, plus the previous directories' after a reload moved it.
    locks: Vec<StateLock>,
    _watcher: Option<notify::RecommendedWatcher>,
}

impl Daemon {
    async fn main_loop(&mut self, mut events_rx: mpsc::UnboundedReceiver<Wake>) {
        let mut watchdog = systemd::watchdog_interval().map(|every| {
            tracing::info!(
                every_ms = every.as_millis() as u64,
                "systemd watchdog enabled"
            );
            let mut ticks = tokio::time::interval(every);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            ticks
        });
        let mut reload_at: Option<Instant> = None;
        loop {
            tokio::select! {
                event = events_rx.recv() => match event {
                    Some(Wake::Reload(trigger @ "SIGHUP")) => {
                        reload_at = None;
                        self.reload(trigger, true).await;
                    }
                    Some(Wake::Reload(_)) => {
                        reload_at = Some(Instant::now() + RELOAD_DEBOUNCE);
                    }
                    Some(Wake::Shutdown) | None => return,
                    Some(Wake::ShutdownNow) => std::process::exit(130),
                },
                _ = sleep_until_some(reload_at) => {
                    reload_at = None;
                    self.reload("file change", false).await;
                }
                _ = tick_some(&mut watchdog) => systemd::watchdog(),
                _ = self.shared.catalog_changed.notified() => self.rescan(),
            }
        }
    }

    /// Puts in force the scan set a repository's rules changed: the host's images plus
    /// every repository's rules images, each scanned once, and webhooks matching them.
    fn rescan(&mut self) {
        let current = self.loaded_tx.borrow().clone();
        let new = Arc::new(current.with_scan(self.shared.scan_config(&current.host)));
        let config = new.config.clone();
        self.loaded_tx.send_replace(new);
        self.shared.apply_config(&config);
        let (started, stopped) = self.scheduler.sync(&config);
        self.hooks.set_images(&config);
        warn_unknown_hook_images(&config);
        tracing::info!(images = config.images.len(), started = %started.join(","), stopped = %stopped.join(","), "scan set follows the repositories' rules");
    }

    /// Loads the configuration again and puts it in force when it is valid.
    async fn reload(&mut self, trigger: &'static str, forced: bool) {
        let current = self.loaded_tx.borrow().clone();
        if !forced && std::fs::read(&self.path).ok().as_deref() == Some(&current.text[..]) {
            tracing::debug!(path = %self.path.display(), "configuration file touched but unchanged");
            return;
        }
        systemd::reloading();
        tracing::info!(trigger, path = %self.path.display(), "reloading the configuration");
        match self.put_in_force(&current, forced).await {
            Ok(summary) => {
                self.shared
                    .metrics
                    .reloads
                    .get_or_create(&ResultLabel {
                        result: "ok".into(),
                    })
                    .inc();
                self.shared.metrics.succeeded("reload");
                tracing::info!(trigger, changes = %summary, "configuration reloaded");
                systemd::ready("watching registries");
            }
            Err(err) => {
                err.log(trigger);
                self.shared
                    .metrics
                    .reloads
                    .get_or_create(&ResultLabel {
                        result: "failed".into(),
                    })
                    .inc();
                self.shared.reload_refused(err.to_string());
                systemd::ready("watching registries; the last reload was refused");
            }
        }
    }

    /// Validates and swaps in the new configuration; returns a summary of what changed.
    async fn put_in_force(&mut self, current: &Loaded, forced: bool) -> Result<String, LoadError> {
        let new = load(&self.path, Some(current), forced)?;
        // The repositories' rules images stay scanned (those of removed repositories go).
        let new = new.with_scan(self.shared.scan_config(&new.host));
        let old = &current.host;
        let config = new.config.clone();
        let lock = if config.daemon.state_dir != old.daemon.state_dir {
            Some(StateLock::acquire(&config.daemon.state_dir)?)
        } else {
            None
        };
        let server = if config.daemon.listen != old.daemon.listen {
            Some(
                HttpServer::start(
                    config.daemon.listen,
                    self.shared.clone(),
                    Some(self.hooks.clone()),
                )
                .await
                .map_err(|source| LoadError::Listen {
                    addr: config.daemon.listen,
                    source,
                })?,
            )
        } else {
            None
        };
        // The last step that can fail: the hooks read their secret files again.
        self.hooks.reload(&config)?;
        // Valid and prepared: from here on nothing fails.
        self.locks.extend(lock);
        // The old notifier flushes what it holds in the background and ends.
        drop(self.shared.replace_notifier(Some(start_notifier(&config))));
        if let Some(server) = server
            && let Some(previous) = self.http.replace(server)
        {
            previous.stop().await;
        }
        if config.daemon.log_format != old.daemon.log_format {
            tracing::warn!("daemon.log_format changed: it takes effect at the next start of baton");
        }
        release_free_memory();
        let summary = describe_changes(old, &new.host);
        self.loaded_tx.send_replace(Arc::new(new));
        // The state first, so that the first scan of a new image finds its entry.
        self.shared.config_loaded(&config);
        self.shared.apply_config(&config);
        self.scheduler.sync(&config);
        let (added, removed) = self.reconcilers.sync(&config);
        if !added.is_empty() || !removed.is_empty() {
            tracing::info!(added = %added.join(","), removed = %removed.join(","), "repositories changed: the others keep running");
        }
        warn_unknown_hook_images(&config);
        self.shared.wake_reconcilers();
        Ok(summary)
    }

    /// Stops new work, waits up to `deadline` for the reconciliation in flight, stops the
    /// listener. True when everything in flight finished.
    async fn shutdown(mut self, stop_tx: watch::Sender<bool>, deadline: Duration) -> bool {
        self.shared.set_stopping();
        systemd::stopping();
        tracing::info!(
            deadline_s = deadline.as_secs(),
            "stopping: no new work; waiting for work in flight"
        );
        let _ = stop_tx.send(true);
        self.scheduler.stop_all();
        let finished = self.reconcilers.shutdown(deadline).await;
        if !finished {
            tracing::error!(
                deadline_s = deadline.as_secs(),
                "work in flight did not finish in time: exiting anyway; the next start re-applies it"
            );
        }
        if let Some(http) = self.http.take() {
            http.stop().await;
        }
        if let Some(notifier) = self.shared.replace_notifier(None) {
            notifier.shutdown(NOTIFY_FLUSH).await;
        }
        drop(self.locks);
        tracing::info!("stopped");
        finished
    }
}

/// Warns of `[webhooks.X] images` names that neither the host nor any repository's rules
/// (as last read) define: such a hook never triggers that name.
fn warn_unknown_hook_images(config: &Config) {
    if config.repositories.values().all(|r| r.rules.is_none()) {
        return; // checked when the file was read
    }
    for (hook, webhook) in &config.webhooks {
        for image in webhook.images.iter().flatten() {
            if !config.images.contains_key(image) {
                tracing::warn!(hook = %hook, image = %image, "webhook names an image neither the host configuration nor the repositories' rules (as last read) define");
            }
        }
    }
}

async fn sleep_until_some(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

async fn tick_some(ticks: &mut Option<tokio::time::Interval>) {
    match ticks {
        Some(ticks) => {
            ticks.tick().await;
        }
        None => std::future::pending().await,
    }
}

/// What a reload changes, in words: `images +a -b ~c; environments +prod`.
pub fn describe_changes(old: &Config, new: &Config) -> String {
    fn keys<V: PartialEq>(
        old: &std::collections::BTreeMap<String, V>,
        new: &std::collections::BTreeMap<String, V>,
    ) -> Vec<String> {
        let mut out = Vec::new();
        for name in new.keys().filter(|k| !old.contains_key(*k)) {
            out.push(format!("+{name}"));
        }
        for name in old.keys().filter(|k| !new.contains_key(*k)) {
            out.push(format!("-{name}"));
        }
        for (name, value) in new {
            if let Some(before) = old.get(name)
                && before != value
            {
                out.push(format!("~{name}"));
            }
        }
        out
    }
    let mut parts = Vec::new();
    for (section, changes) in [
        ("images", keys(&old.images, &new.images)),
        ("policies", keys(&old.policies, &new.policies)),
        ("environments", keys(&old.environments, &new.environments)),
        ("registries", keys(&old.registries, &new.registries)),
        ("repositories", keys(&old.repositories, &new.repositories)),
    ] {
        if !changes.is_empty() {
            parts.push(format!("{section} {}", changes.join(" ")));
        }
    }
    if old.git != new.git {
        parts.push("git".to_string());
    }
    if old.daemon != new.daemon {
        parts.push("daemon".to_string());
    }
    if old.markers != new.markers {
        parts.push("markers".to_string());
    }
    if parts.is_empty() {
        "none".to_string()
    } else {
        parts.join("; ")
    }
}
