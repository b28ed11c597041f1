//! A repository's reconciler: the one task that writes to its clone, so its writes are
//! serialized; each repository has its own, so one that is down or slow holds up no other.
//!
//! It opens (or clones) the workspace, then runs a pass over the repository's environments
//! with the cached choices whenever a scan changed a choice, a reload happened, or
//! `git.interval` passed since the last pass. A pass in progress is never interrupted:
//! shutdown waits for it.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use super::state::{Loaded, Shared};
use super::systemd;
use crate::config::Config;
use crate::git::{Checkout, RemoteSettings, Workspace};
use crate::pass::{self, PassOptions};

/// Changes arriving within this long of the first are handled by one pass (the webhooks of
/// images pushed together arrive within milliseconds); it adds to every webhook's latency.
const DEBOUNCE: Duration = Duration::from_millis(50);

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
    /// The clone of repository `name`; `None` when the configuration has no such repository.
    fn of(loaded: &Loaded, name: &str) -> Option<Self> {
        let view = loaded.views.get(name)?;
        Some(WorkspaceKey {
            state_dir: loaded.config.repository_state_dir(name),
            remote: view.git.remote.clone(),
        })
    }
}

/// Runs repository `name`'s reconciler until `stop` turns true or a reload removes the
/// repository; returns after the pass in progress, if any, has finished.
pub async fn run(
    name: String,
    shared: Arc<Shared>,
    mut loaded_rx: watch::Receiver<Arc<Loaded>>,
    mut stop: watch::Receiver<bool>,
) {
    let trigger = shared.reconcile_trigger(&name);
    let name = name.as_str();
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
        let Some(key) = WorkspaceKey::of(&loaded, name) else {
            tracing::info!(
                repository = name,
                "repository removed from the configuration: its reconciler stops"
            );
            return;
        };
        if workspace.as_ref().map(|(k, _)| k) != Some(&key) {
            // A first clone writes only the files the passes read (they widen it as needed).
            let checkout = loaded
                .views
                .get(name)
                .map_or(Checkout::Full, |view| pass::work_tree_for(view));
            let opened = tokio::select! {
                opened = Workspace::open_or_clone_limited(&key.state_dir, &key.remote, checkout) => opened,
                _ = stop.wait_for(|s| *s) => return,
            };
            match opened {
                Ok(ws) => {
                    let head = ws.head().ok().map(|id| id.to_string());
                    tracing::info!(repository = name, remote = %key.remote.display_url(), branch = %key.remote.branch, push_branch = key.remote.push_branch.as_deref().unwrap_or("-"), dir = %ws.work_tree().display(), "workspace ready");
                    shared.synced(name, head);
                    if workspace.is_none() {
                        shared.set_ready(name);
                        systemd::ready("watching registries");
                    }
                    let first = workspace.is_none();
                    workspace = Some((key, ws));
                    clone_failures = 0;
                    // No pass yet: the first one waits for every image's first scan, and a
                    // reload that moved the workspace has left a wake-up behind. A repository
                    // added (or cloned) after those scans has nothing else to wait for.
                    if first && shared.first_scans_done() {
                        pending = true;
                    }
                }
                Err(err) => {
                    clone_failures += 1;
                    let delay = (Duration::from_secs(1) * 2u32.saturating_pow(clone_failures))
                        .min(MAX_CLONE_BACKOFF);
                    tracing::error!(repository = name, remote = %key.remote.display_url(), error = %err, retry_in_s = delay.as_secs(), "cannot prepare the clone");
                    shared.sync_failed(name, &err.to_string());
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
        let interval = match loaded.views.get(name) {
            Some(view) if verifying => view.git.interval.min(VERIFY_RECHECK),
            Some(view) => view.git.interval,
            None => continue,
        };
        let deadline = *last_pass.get_or_insert_with(Instant::now) + interval;
        let trigger = if pending {
            pending = false;
            "change"
        } else {
            tokio::select! {
                _ = trigger.notified() => "change",
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
        if WorkspaceKey::of(&loaded, name).as_ref() != Some(key) {
            pending = true;
            continue;
        }
        verifying = reconcile(name, &shared, &loaded, ws, trigger).await;
        last_pass = Some(Instant::now());
    }
}

/// One pass over repository `name` with the cached choices; its outcome goes into the status
/// and the metrics. Returns whether a move is still being verified.
async fn reconcile(
    name: &str,
    shared: &Shared,
    loaded: &Loaded,
    ws: &Workspace,
    trigger: &str,
) -> bool {
    let Some(config) = loaded.view(name) else {
        return false;
    };
    let config = &*config;
    let started = Instant::now();
    tracing::debug!(repository = name, trigger, "reconciling");
    // Choices that change from here on are kept, in case this pass finds markers of them.
    shared.pass_started(name);
    // Rules in the repository are read at the commit each pass builds on; the images they
    // define join the daemon's scan set (each image scanned once, however many repositories
    // use it), and until an image's first scan its markers stay as they are.
    let result = match &config.rules {
        Some(_) => match pass::read_rules(config, ws).await {
            Ok((effective, rules)) => {
                shared.record_catalog(name, &loaded.host, &effective);
                let result = pass::run_with_rules(
                    &effective,
                    rules,
                    &loaded.registries,
                    ws,
                    &PassOptions::default(),
                    shared.selections(),
                )
                .await;
                shared.pass_finished(name, images_read(&effective, &result));
                result
            }
            Err(err) => {
                shared.pass_finished(name, None::<[&str; 0]>);
                Err(err)
            }
        },
        None => {
            let result = pass::run_with_selections(
                config,
                &loaded.registries,
                ws,
                &PassOptions::default(),
                shared.selections(),
            )
            .await;
            shared.pass_finished(name, images_read(config, &result));
            result
        }
    };
    let head = ws.head().ok().map(|id| id.to_string());
    // The board's timeline holds every repository's moves, each read again when its head moved.
    if result.is_ok() && shared.board.timeline_head(name) != head {
        shared
            .board
            .set_timeline(name, head.clone(), super::board::read_timeline(name, ws));
    }
    shared.record_pass(name, &result, head);
    // Logged once recorded, so whoever reads the log and then the status or metrics sees
    // this pass in both.
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
            if pushed > 0 {
                wake_promoting_from(name, shared, loaded);
            }
            if pushed + failed > 0 {
                tracing::info!(
                    repository = name,
                    trigger,
                    environments = report.environments.len(),
                    pushed,
                    failed,
                    took_ms,
                    "reconciled"
                );
            } else {
                tracing::debug!(
                    repository = name,
                    trigger,
                    environments = report.environments.len(),
                    took_ms,
                    "reconciled: nothing to move"
                );
            }
        }
        Err(err) => {
            tracing::error!(repository = name, trigger, error = %err, "reconciliation failed: the next one tries again");
        }
    }
    // A verified environment that just moved, or a move still verifying, is asked again soon.
    result.is_ok_and(|report| {
        report.environments.iter().any(|e| {
            (matches!(e.outcome, pass::Outcome::Pushed { .. }) && !e.verification.is_empty())
                || e.verification
                    .iter()
                    .any(|v| v.state == "waiting" || v.rolled_back_to.is_some())
        })
    })
}

/// The images whose choices the pass `result` (over `config`) writes from: those its
/// environments' markers name, with every other member of their groups (a group moves as a
/// whole). `None` when it cannot tell: the pass failed, or an environment failed (perhaps
/// before reading its markers).
fn images_read<'a>(
    config: &'a Config,
    result: &'a Result<pass::PassReport, pass::PassError>,
) -> Option<std::collections::BTreeSet<&'a str>> {
    let report = result.as_ref().ok()?;
    let mut images = std::collections::BTreeSet::new();
    for env in &report.environments {
        if matches!(env.outcome, pass::Outcome::Failed(_)) {
            return None;
        }
        images.extend(env.running.keys().map(String::as_str));
    }
    for group in config.groups.values() {
        if group.images.iter().any(|i| images.contains(i.as_str())) {
            images.extend(group.images.iter().map(String::as_str));
        }
    }
    Some(images)
}

/// Wakes the reconcilers of the other repositories with an environment that promotes from
/// one of repository `name`'s: what they promote has just moved.
fn wake_promoting_from(name: &str, shared: &Shared, loaded: &Loaded) {
    for (other, view) in &loaded.views {
        if other != name && view.sources.values().any(|s| s.repository == name) {
            tracing::debug!(repository = %other, source_repository = name, "a promotion source moved");
            shared.reconcile_trigger(other).notify_one();
        }
    }
}

/// The reconcilers, one per repository: started and stopped as reloads add and remove
/// repositories, without touching the others.
pub struct Reconcilers {
    shared: Arc<Shared>,
    loaded: watch::Receiver<Arc<Loaded>>,
    tasks: std::collections::BTreeMap<String, Task>,
    /// Reconcilers of removed repositories finishing their pass in progress.
    retiring: std::collections::BTreeMap<String, tokio::task::JoinHandle<()>>,
}

/// One repository's reconciler task and its own stop switch.
struct Task {
    handle: tokio::task::JoinHandle<()>,
    stop: watch::Sender<bool>,
}

impl Reconcilers {
    /// No reconcilers yet; [`Reconcilers::sync`] starts them.
    pub fn new(shared: Arc<Shared>, loaded: watch::Receiver<Arc<Loaded>>) -> Self {
        Reconcilers {
            shared,
            loaded,
            tasks: std::collections::BTreeMap::new(),
            retiring: std::collections::BTreeMap::new(),
        }
    }

    /// Starts a reconciler for every repository of `config` that has none and stops those of
    /// repositories it no longer has (each finishes its pass in progress first). Returns the
    /// names started and stopped.
    pub fn sync(&mut self, config: &Config) -> (Vec<String>, Vec<String>) {
        let names = config.repository_names();
        let mut stopped = Vec::new();
        self.retiring.retain(|_, handle| !handle.is_finished());
        let removed: Vec<String> = self
            .tasks
            .iter()
            .filter(|(name, task)| !names.contains(name) || task.handle.is_finished())
            .map(|(name, _)| name.clone())
            .collect();
        for name in removed {
            let Some(task) = self.tasks.remove(&name) else {
                continue;
            };
            let _ = task.stop.send(true);
            if !names.contains(&name) {
                tracing::info!(repository = %name, "repository removed: its reconciler stops after the pass in progress");
                stopped.push(name.clone());
            }
            self.retiring.insert(name, task.handle);
        }
        let mut started = Vec::new();
        for name in names {
            if self.tasks.contains_key(&name) {
                continue;
            }
            let (stop_tx, stop_rx) = watch::channel(false);
            // Registered now, so that a wake-up sent before the task runs is kept.
            let _ = self.shared.reconcile_trigger(&name);
            // A repository added back waits for its old reconciler, so that two never work
            // in one clone.
            let previous = self.retiring.remove(&name);
            let work = run(
                name.clone(),
                self.shared.clone(),
                self.loaded.clone(),
                stop_rx,
            );
            let handle = tokio::spawn(async move {
                if let Some(previous) = previous {
                    let _ = previous.await;
                }
                work.await
            });
            self.tasks.insert(
                name.clone(),
                Task {
                    handle,
                    stop: stop_tx,
                },
            );
            started.push(name);
        }
        (started, stopped)
    }

    /// Stops every reconciler and waits up to `deadline` for the passes in flight; true when
    /// all finished (the others are aborted).
    pub async fn shutdown(self, deadline: Duration) -> bool {
        for task in self.tasks.values() {
            let _ = task.stop.send(true);
        }
        let mut handles: Vec<_> = self.tasks.into_values().map(|t| t.handle).collect();
        handles.extend(self.retiring.into_values());
        let all = async {
            for handle in handles.iter_mut() {
                let _ = handle.await;
            }
        };
        let finished = tokio::time::timeout(deadline, all).await.is_ok();
        if !finished {
            for handle in &handles {
                handle.abort();
            }
        }
        finished
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pass::{EnvironmentReport, Outcome, PassReport, Running};

    fn config() -> Config {
        let images: String = ["app", "db", "web", "cache"]
            .iter()
            .map(|n| format!("[images.{n}]\nrepository = \"registry.example.com/team/{n}\"\n[policies.{n}]\nimage = \"{n}\"\nsemver = \"1.x\"\n"))
            .collect();
        Config::from_text(
            std::path::Path::new("/etc/baton/baton.toml"),
            &format!("[git]\nurl = \"/srv/fleet.git\"\n[environments.staging]\npaths = [\"s\"]\n[environments.production]\npaths = [\"p\"]\n{images}[groups.data]\nimages = [\"db\", \"cache\"]\n"),
            figment::providers::Env::prefixed("BATON_TEST_UNUSED_"),
        )
        .unwrap()
    }

    fn environment(name: &str, images: &[&str], outcome: Outcome) -> EnvironmentReport {
        let mut report = EnvironmentReport::new(name);
        report.running = images
            .iter()
            .map(|i| (i.to_string(), Running::default()))
            .collect();
        report.outcome = outcome;
        report
    }

    #[test]
    fn a_pass_reads_its_markers_images_and_their_groups() {
        let config = config();
        let result = Ok(PassReport {
            environments: vec![
                environment("staging", &["app"], Outcome::Unchanged),
                environment("production", &["db"], Outcome::Waiting("soak".into())),
            ],
            ..PassReport::default()
        });
        let read: Vec<&str> = images_read(&config, &result).unwrap().into_iter().collect();
        assert_eq!(read, ["app", "cache", "db"]);
    }

    #[test]
    fn a_failed_environment_or_pass_cannot_tell_what_it_reads() {
        let config = config();
        let result = Ok(PassReport {
            environments: vec![
                environment("staging", &["app"], Outcome::Unchanged),
                environment("production", &[], Outcome::Failed("cannot scan".into())),
            ],
            ..PassReport::default()
        });
        assert_eq!(images_read(&config, &result), None);
        let failed = Err(pass::PassError::UnknownEnvironment("x".into()));
        assert_eq!(images_read(&config, &failed), None);
    }
}
