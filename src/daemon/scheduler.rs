//! One task per image, listing its tags on the image's interval.
//!
//! Each task sleeps until its next scan and wakes for nothing else but a configuration
//! change or shutdown: an idle daemon makes no wake-ups besides these timers. The first scan
//! of each image starts within a second of start-up (spread at random); later scans follow
//! `interval` plus a small random jitter (at most 5 % of the interval, at most one second),
//! which keeps the tag-push-to-commit delay under `interval` plus about a second while
//! letting images drift apart instead of scanning in lockstep. Requests in flight are
//! bounded by `daemon.concurrency` and by each registry's request budget.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::state::{Loaded, Shared};
use crate::config::{Config, ImageConfig};
use crate::pass::scan_image;

/// How far apart the first scans after start-up (or after an image is added) are spread.
const FIRST_SCAN_SPREAD: Duration = Duration::from_secs(1);

/// The largest jitter added to an interval.
const MAX_JITTER: Duration = Duration::from_secs(1);

/// The scan tasks, one per configured image.
pub struct Scheduler {
    shared: Arc<Shared>,
    loaded: watch::Receiver<Arc<Loaded>>,
    stop: watch::Receiver<bool>,
    tasks: HashMap<String, JoinHandle<()>>,
}

impl Scheduler {
    /// A scheduler with no tasks yet; [`Scheduler::sync`] starts them.
    pub fn new(
        shared: Arc<Shared>,
        loaded: watch::Receiver<Arc<Loaded>>,
        stop: watch::Receiver<bool>,
    ) -> Self {
        Scheduler {
            shared,
            loaded,
            stop,
            tasks: HashMap::new(),
        }
    }

    /// Starts a task for every image of `config` that has none and stops the tasks of
    /// images it no longer has. Tasks of images that stay read their new settings
    /// themselves. Returns the names started and stopped.
    pub fn sync(&mut self, config: &Config) -> (Vec<String>, Vec<String>) {
        let mut stopped = Vec::new();
        self.tasks.retain(|name, task| {
            if config.images.contains_key(name) && !task.is_finished() {
                return true;
            }
            // A scan in progress for a removed image is of no use to anyone: abort it.
            task.abort();
            if !config.images.contains_key(name) {
                stopped.push(name.clone());
            }
            false
        });
        let mut started = Vec::new();
        for name in config.images.keys() {
            if self.tasks.contains_key(name) {
                continue;
            }
            let task = tokio::spawn(image_task(
                name.clone(),
                self.shared.clone(),
                self.loaded.clone(),
                self.stop.clone(),
            ));
            self.tasks.insert(name.clone(), task);
            started.push(name.clone());
        }
        (started, stopped)
    }

    /// Stops every task; scans in progress are abandoned (they write nothing).
    pub fn stop_all(&mut self) {
        for (_, task) in self.tasks.drain() {
            task.abort();
        }
    }

    /// How many scan tasks run.
    pub fn len(&self) -> usize {
        self.tasks.len()
    }

    /// True when no scan task runs.
    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }
}

/// What about an image decides when and where it is scanned.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ScanKey {
    repository: String,
    interval: Duration,
}

impl ScanKey {
    fn of(image: &ImageConfig) -> Self {
        ScanKey {
            repository: image.repository_text.clone(),
            interval: image.interval,
        }
    }
}

fn random_below(limit: Duration) -> Duration {
    let millis = limit.as_millis() as u64;
    if millis == 0 {
        return Duration::ZERO;
    }
    Duration::from_millis(rand::random::<u64>() % millis)
}

/// The jitter added to one interval.
pub fn jitter(interval: Duration) -> Duration {
    random_below((interval / 20).min(MAX_JITTER))
}

async fn image_task(
    name: String,
    shared: Arc<Shared>,
    mut loaded_rx: watch::Receiver<Arc<Loaded>>,
    mut stop: watch::Receiver<bool>,
) {
    let mut loaded = loaded_rx.borrow_and_update().clone();
    let Some(image) = loaded.config.images.get(&name) else {
        return;
    };
    let mut key = ScanKey::of(image);
    let trigger = shared.scan_trigger(&name);
    let mut last_fire = Instant::now();
    let mut next = last_fire + random_below(FIRST_SCAN_SPREAD);
    loop {
        tokio::select! {
            _ = tokio::time::sleep_until(next) => {}
            _ = trigger.notified() => {
                tracing::debug!(image = %name, "scanning now: requested by a webhook");
            }
            changed = loaded_rx.changed() => {
                if changed.is_err() {
                    return;
                }
                loaded = loaded_rx.borrow_and_update().clone();
                // The scheduler aborts tasks of removed images; this is only a backstop.
                let Some(image) = loaded.config.images.get(&name) else {
                    return;
                };
                let new_key = ScanKey::of(image);
                if new_key.repository != key.repository {
                    tracing::debug!(image = %name, repository = %new_key.repository, "repository changed: scanning now");
                    next = Instant::now() + random_below(FIRST_SCAN_SPREAD);
                } else if new_key.interval != key.interval {
                    next = (last_fire + new_key.interval).max(Instant::now());
                    tracing::debug!(image = %name, interval_s = new_key.interval.as_secs(), "interval changed");
                }
                key = new_key;
                continue;
            }
            _ = stop.wait_for(|stopping| *stopping) => return,
        }
        last_fire = Instant::now();
        let Some(image) = loaded.config.images.get(&name) else {
            return;
        };
        let client = loaded.registries.for_image(&image.repository);
        // Boxed: the HTTP request's state is large and only needed while a scan runs, so a
        // sleeping task stays small.
        let scan = Box::pin(scan_image(&name, image, client, &loaded.scan_limit));
        let scan = tokio::select! {
            scan = scan => scan,
            _ = stop.wait_for(|stopping| *stopping) => return,
        };
        // Record against the configuration in force now, which a reload may have replaced
        // while the scan ran.
        let current = loaded_rx.borrow().clone();
        shared.record_scan(&current, &image.repository_text, scan, last_fire.elapsed());
        let interval = key.interval;
        next = (last_fire + interval + jitter(interval)).max(Instant::now() + interval / 4);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_is_small() {
        for _ in 0..1000 {
            assert!(jitter(Duration::from_secs(30)) < Duration::from_secs(1));
            assert!(jitter(Duration::from_secs(10)) < Duration::from_millis(500));
        }
        assert_eq!(jitter(Duration::ZERO), Duration::ZERO);
    }
}
