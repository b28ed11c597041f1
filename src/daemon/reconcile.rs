//! The reconciler: the one task that writes to Git, so writes are serialized.
//!
//! It opens (or clones) the workspace, then runs a pass over every environment with the cached
//! choices whenever a scan changed a choice, a reload happened, or `git.interval` passed since
//! the last pass. A pass in progress is never interrupted: shutdown waits for it.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use super::state::{Loaded, Shared};
use super::systemd;
use crate::config::Config;
use crate::git::{RemoteSettings, Workspace};
use crate::pass::{self, PassOptions};

/// Changes arriving within this long of the first are handled by one pass.
const DEBOUNCE: Duration = Duration::from_millis(200);

/// While a move is still being verified, the next pass comes at least this soon, so its
/// checks are asked again (and a failed one rolled back) without waiting for `git.interval`.
const VERIFY_RECHECK: Duration = Duration::from_secs(30);

/// Longest wait between attempts to clone an unreachable remote.
const MAX_CLONE_BACKOFF: Duration = Duration::from_secs(60);

/// What decides which clone the reconciler works in.
#[derive(Debug, Clone, PartialEq, Eq)]
struct WorkspaceKey {
    state_dir: PathBuf,
    remote: RemoteSettings,
}

impl WorkspaceKey {
    fn of(config: &Config) -> Self {
        WorkspaceKey {
            state_dir: config.daemon.state_dir.clone(),
            remote: config.git.remote.clone(),
        }
    }
}

/// Runs until `stop` turns true; returns after the pass in progress, if any, has finished.
pub async fn run(
    shared: Arc<Shared>,
    mut loaded_rx: watch::Receiver<Arc<Loaded>>,
    mut stop: watch::Receiver<bool>,
) {
    let mut workspace: Option<(WorkspaceKey, Workspace)> = None;
    let mut clone_failures = 0u32;
    let mut last_pass: Option<Instant> = None;
    // Set when a wake-up arrived while the workspace was being (re)opened.
    let mut pending = false;
    // A move of the last pass is still being verified.
    let mut verifying = false;
    loop {
        if *stop.borrow() {
            return;
        }
        let loaded = loaded_rx.borrow_and_update().clone();
        let key = WorkspaceKey::of(&loaded.config);
        if workspace.as_ref().map(|(k, _)| k) != Some(&key) {
            let opened = tokio::select! {
                opened = Workspace::open_or_clone(&key.state_dir, &key.remote) => opened,
                _ = stop.wait_for(|s| *s) => return,
            };
            match opened {
                Ok(ws) => {
                    let head = ws.head().ok().map(|id| id.to_string());
                    tracing::info!(remote = %key.remote.display_url(), branch = %key.remote.branch, push_branch = key.remote.push_branch.as_deref().unwrap_or("-"), dir = %ws.work_tree().display(), "workspace ready");
                    shared.synced(head);
                    if workspace.is_none() {
                        shared.set_ready();
                        systemd::ready("watching registries");
                    }
                    workspace = Some((key, ws));
                    clone_failures = 0;
                    // No pass yet: the first one waits for every image's first scan, and a
                    // reload that moved the workspace has left a wake-up behind.
                }
                Err(err) => {
                    clone_failures += 1;
                    let delay = (Duration::from_secs(1) * 2u32.saturating_pow(clone_failures))
                        .min(MAX_CLONE_BACKOFF);
                    tracing::error!(remote = %key.remote.display_url(), error = %err, retry_in_s = delay.as_secs(), "cannot prepare the clone");
                    shared.sync_failed(&err.to_string());
                    if workspace.is_none() {
                        // Up but not ready (/readyz says 503): `systemctl start` returns at
                        // once and `systemctl status` shows why, instead of a start timeout.
                        systemd::ready(&format!(
                            "cannot clone {}: {err}; retrying in {}s",
                            key.remote.display_url(),
                            delay.as_secs()
                        ));
                    }
                    tokio::select! {
                        _ = tokio::time::sleep(delay) => {}
                        _ = loaded_rx.changed() => {}
                        _ = stop.wait_for(|s| *s) => return,
                    }
                    continue;
                }
            }
        }
        // From the last pass, with the interval in force now (a reload may change it).
        let interval = match verifying {
            true => loaded.config.git.interval.min(VERIFY_RECHECK),
            false => loaded.config.git.interval,
        };
        let deadline = *last_pass.get_or_insert_with(Instant::now) + interval;
        let trigger = if pending {
            pending = false;
            "change"
        } else {
            tokio::select! {
                _ = shared.reconcile.notified() => "change",
                _ = tokio::time::sleep_until(deadline) => "git interval",
                changed = loaded_rx.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    // A reload also notifies; loop to reopen the workspace if it moved.
                    continue;
                }
                _ = stop.wait_for(|s| *s) => return,
            }
        };
        if trigger != "git interval" {
            tokio::select! {
                _ = tokio::time::sleep(DEBOUNCE) => {}
                _ = stop.wait_for(|s| *s) => return,
            }
        }
        let loaded = loaded_rx.borrow().clone();
        let Some((key, ws)) = workspace.as_ref() else {
            continue;
        };
        if *key != WorkspaceKey::of(&loaded.config) {
            pending = true;
            continue;
        }
        verifying = reconcile(&shared, &loaded, ws, trigger).await;
        last_pass = Some(Instant::now());
    }
}

/// One pass with the cached choices; its outcome goes into the status and the metrics.
/// Returns whether a move is still being verified.
async fn reconcile(shared: &Shared, loaded: &Loaded, ws: &Workspace, trigger: &str) -> bool {
    let config = &loaded.config;
    let selections = shared.selections(config);
    let started = Instant::now();
    tracing::debug!(trigger, "reconciling");
    // Rules in the repository are read at the commit each pass builds on, and their images
    // are scanned in the pass (the scan tasks know only the host's images).
    let result = match &config.rules {
        Some(_) => pass::run(config, &loaded.registries, ws, &PassOptions::default()).await,
        None => {
            pass::run_with_selections(
                config,
                &loaded.registries,
                ws,
                &PassOptions::default(),
                selections,
            )
            .await
        }
    };
    let head = ws.head().ok().map(|id| id.to_string());
    match &result {
        Ok(report) => {
            let pushed = report
                .environments
                .iter()
                .filter(|e| matches!(e.outcome, pass::Outcome::Pushed { .. }))
                .count();
            let failed = report
                .environments
                .iter()
                .filter(|e| matches!(e.outcome, pass::Outcome::Failed(_)))
                .count();
            let took_ms = started.elapsed().as_millis() as u64;
            if pushed + failed > 0 {
                tracing::info!(
                    trigger,
                    environments = report.environments.len(),
                    pushed,
                    failed,
                    took_ms,
                    "reconciled"
                );
            } else {
                tracing::debug!(
                    trigger,
                    environments = report.environments.len(),
                    took_ms,
                    "reconciled: nothing to move"
                );
            }
        }
        Err(err) => {
            tracing::error!(trigger, error = %err, "reconciliation failed: the next one tries again");
        }
    }
    if result.is_ok() && shared.board.timeline_head() != head {
        shared
            .board
            .set_timeline(head.clone(), super::board::read_timeline(ws));
    }
    shared.record_pass(&result, head);
    result.is_ok_and(|report| {
        report
            .environments
            .iter()
            .flat_map(|e| &e.verification)
            .any(|v| v.state == "waiting" || v.rolled_back_to.is_some())
    })
}
