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
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::state::{Loaded, Shared};
use crate::config::{Config, ImageConfig};
use crate::pass::{policies_of, scan_and_judge};

/// How far apart the first scans after start-up (or after an image is added) are spread.
const FIRST_SCAN_SPREAD: Duration = Duration::from_secs(1);

/// The shortest time between two scans of one image that webhooks asked for.
pub const MIN_TRIGGER_GAP: Duration = Duration::from_secs(2);

/// How soon a scan that a webhook asked for lists again when the pushed tag is not listed
/// yet; doubled for each of the [`RELISTS`] tries.
const RELIST_DELAY: Duration = Duration::from_millis(250);

/// How many times a pushed tag not listed yet is listed again (after 0.25, 0.5, 1 and 2 s)
/// before the image waits for its interval.
const RELISTS: u32 = 4;

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
            let (image, shared, loaded, stop) = (
                name.clone(),
                self.shared.clone(),
                self.loaded.clone(),
                self.stop.clone(),
            );
            let report = {
                let (image, shared, loaded) = (name.clone(), shared.clone(), loaded.clone());
                move |panic: String, restart_in: Duration| {
                    report_panic(&image, &shared, &loaded, panic, restart_in)
                }
            };
            let task = tokio::spawn(supervise(
                move || image_task(image.clone(), shared.clone(), loaded.clone(), stop.clone()),
                report,
                self.stop.clone(),
                FIRST_RESTART_DELAY,
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
    /// The signature keys' fingerprint: new keys judge the tags again at once.
    signature: Option<String>,
}

impl ScanKey {
    fn of(image: &ImageConfig) -> Self {
        ScanKey {
            repository: image.repository_text.clone(),
            interval: image.interval,
            signature: image
                .signature
                .as_ref()
                .map(|required| crate::signature::keys_fingerprint(&required.keys)),
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

/// The first wait before a scan task that panicked is started again; it doubles with each
/// panic in a row, up to [`MAX_RESTART_DELAY`].
const FIRST_RESTART_DELAY: Duration = Duration::from_secs(1);
/// The longest wait before a panicked scan task is started again.
const MAX_RESTART_DELAY: Duration = Duration::from_secs(300);
/// A task that ran this long before panicking starts its backoff afresh.
const HEALTHY_RUN: Duration = Duration::from_secs(600);

/// The future it wraps, with a panic while polling it returned as its payload instead of
/// unwinding: the supervisor runs its image's task inline, one task per image, not two.
struct CatchPanic<F>(Pin<Box<F>>);

impl<F: Future> Future for CatchPanic<F> {
    type Output = Result<F::Output, Box<dyn std::any::Any + Send>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let inner = self.get_mut().0.as_mut();
        // The panicked future is dropped without being polled again, so no broken state of
        // it is ever observed.
        match std::panic::catch_unwind(AssertUnwindSafe(|| inner.poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(out)) => Poll::Ready(Ok(out)),
            Err(payload) => Poll::Ready(Err(payload)),
        }
    }
}

/// Runs the task `make` builds; when it panics, hands the panic text and the wait to `report`
/// and starts it again after a backoff that starts at `first_delay` and doubles. Returns when
/// the task returns or `stop` is set.
async fn supervise<F, Fut>(
    make: F,
    report: impl Fn(String, Duration),
    mut stop: watch::Receiver<bool>,
    first_delay: Duration,
) where
    F: Fn() -> Fut,
    Fut: Future<Output = ()>,
{
    let mut delay = first_delay;
    loop {
        let started = Instant::now();
        let panic = match CatchPanic(Box::pin(make())).await {
            Ok(()) => return,
            Err(payload) => panic_text(payload),
        };
        if started.elapsed() >= HEALTHY_RUN {
            delay = first_delay;
        }
        report(panic, delay);
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = stop.wait_for(|stopping| *stopping) => return,
        }
        delay = delay.saturating_mul(2).min(MAX_RESTART_DELAY);
    }
}

/// The text of a panic payload, on one line and bounded.
fn panic_text(payload: Box<dyn std::any::Any + Send>) -> String {
    let text = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_string());
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .take(300)
        .collect()
}

/// Records a panicked scan task as a failed scan (status `last_error`, metric
/// `baton_scan_errors_total{kind="panic"}`) and logs it.
fn report_panic(
    image: &str,
    shared: &Shared,
    loaded: &watch::Receiver<Arc<Loaded>>,
    panic: String,
    restart_in: Duration,
) {
    let current = loaded.borrow().clone();
    let Some(config) = current.config.images.get(image) else {
        return;
    };
    tracing::error!(image, error = %panic, restart_in_s = restart_in.as_secs(), "the scan task panicked: starting it again");
    let scan = crate::pass::ImageScan {
        image: image.to_string(),
        registry: config.repository.registry.clone(),
        tags: None,
        dropped_invalid: 0,
        requests: 0,
        error: Some(format!(
            "the scan task panicked ({panic}); it starts again in {}s: please report this as a bug",
            restart_in.as_secs()
        )),
        error_kind: Some("panic"),
        judged: None,
    };
    shared.record_scan(&current, &config.repository_text, scan, Duration::ZERO);
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
    // Lists so far of a tag a webhook announced and the registry did not list yet.
    let mut relists = 0u32;
    loop {
        tokio::select! {
            _ = tokio::time::sleep_until(next) => {}
            _ = trigger.notified() => {
                // Webhook requests (replayed or not) scan an image at most once per
                // MIN_TRIGGER_GAP; requests inside the gap are merged into one scan at its end.
                let earliest = last_fire + MIN_TRIGGER_GAP;
                if Instant::now() < earliest {
                    next = next.min(earliest);
                    tracing::debug!(image = %name, "scan requested by a webhook: merged into the next one");
                    continue;
                }
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
                if new_key.repository != key.repository || new_key.signature != key.signature {
                    tracing::debug!(image = %name, repository = %new_key.repository, "repository or signature keys changed: scanning now");
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
        // A slot first, with nothing built yet: only the scans under way hold their request
        // state, not every one that is due (all of them at start-up).
        let slot = tokio::select! {
            slot = loaded.scan_slots.clone().acquire_owned() => slot,
            _ = stop.wait_for(|stopping| *stopping) => return,
        };
        let Some(image) = loaded.config.images.get(&name) else {
            return;
        };
        let client = loaded.registries.for_image(&image.repository);
        // Boxed: the HTTP request's state is large and only needed while a scan runs, so a
        // sleeping task stays small.
        let policies = policies_of(&loaded.config, &name);
        let now = jiff::Timestamp::now();
        let scan = Box::pin(scan_and_judge(
            &name,
            image,
            &policies,
            client,
            &loaded.scan_limit,
            &loaded.eligibility,
            now,
        ));
        let scan = tokio::select! {
            scan = scan => scan,
            _ = stop.wait_for(|stopping| *stopping) => return,
        };
        drop(slot);
        let unlisted = shared.unlisted_pushed_tags(&name, scan.tags.as_ref());
        // Record against the configuration in force now, which a reload may have replaced
        // while the scan ran.
        let current = loaded_rx.borrow().clone();
        shared.record_scan(&current, &image.repository_text, scan, last_fire.elapsed());
        let interval = paced(&loaded, &name, key.interval);
        next = (last_fire + interval + jitter(interval)).max(Instant::now() + interval / 4);
        if unlisted.is_empty() {
            relists = 0;
        } else if relists < RELISTS {
            let delay = RELIST_DELAY * 2u32.pow(relists);
            relists += 1;
            tracing::debug!(image = %name, tags = %unlisted.join(","), retry_in_ms = delay.as_millis() as u64, "a pushed tag is not listed yet: listing again");
            next = next.min(Instant::now() + delay);
        } else {
            relists = 0;
            shared.forget_pushed_tags(&name);
            tracing::info!(image = %name, tags = %unlisted.join(","), "a pushed tag is still not listed: the next scan at the interval looks again");
        }
    }
}

/// `interval` stretched for the rate limit of the image's registry, shared by every image on
/// it (see `registry::Pace`); logged when stretched.
fn paced(loaded: &Loaded, name: &str, interval: Duration) -> Duration {
    let Some(image) = loaded.config.images.get(name) else {
        return interval;
    };
    let Ok(client) = loaded.registries.for_image(&image.repository) else {
        return interval;
    };
    let paced = client.paced(interval);
    if paced > interval {
        let remaining = client.rate_limit().map_or(0, |l| l.remaining);
        tracing::info!(image = %name, registry = %client.host(), interval_s = interval.as_secs(), paced_s = paced.as_secs(), remaining, "scan interval stretched for the registry's rate limit");
    }
    paced
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panicking_task_is_reported_and_restarted_with_backoff() {
        let runs = Arc::new(std::sync::atomic::AtomicU32::new(0));
        let reports = Arc::new(std::sync::Mutex::new(Vec::new()));
        let (_stop_tx, stop) = watch::channel(false);
        let make = {
            let runs = runs.clone();
            move || {
                let runs = runs.clone();
                async move {
                    if runs.fetch_add(1, std::sync::atomic::Ordering::SeqCst) < 3 {
                        panic!("overflow when adding duration to instant");
                    }
                }
            }
        };
        let report = {
            let reports = reports.clone();
            move |text: String, delay: Duration| reports.lock().unwrap().push((text, delay))
        };
        supervise(make, report, stop, Duration::from_millis(1)).await;
        assert_eq!(runs.load(std::sync::atomic::Ordering::SeqCst), 4);
        let reports = reports.lock().unwrap().clone();
        let delays: Vec<u128> = reports.iter().map(|(_, d)| d.as_millis()).collect();
        assert_eq!(delays, [1, 2, 4]);
        assert!(reports[0].0.contains("overflow when adding"), "{reports:?}");
    }

    #[tokio::test]
    async fn a_stop_ends_the_backoff() {
        let (stop_tx, stop) = watch::channel(false);
        stop_tx.send(true).unwrap();
        let runs = Arc::new(std::sync::atomic::AtomicU32::new(0));
        let make = {
            let runs = runs.clone();
            move || {
                runs.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                async { panic!("always") }
            }
        };
        supervise(make, |_, _| {}, stop, Duration::from_secs(3600)).await;
        assert_eq!(runs.load(std::sync::atomic::Ordering::SeqCst), 1);
    }

    #[test]
    fn jitter_is_small() {
        for _ in 0..1000 {
            assert!(jitter(Duration::from_secs(30)) < Duration::from_secs(1));
            assert!(jitter(Duration::from_secs(10)) < Duration::from_millis(500));
        }
        assert_eq!(jitter(Duration::ZERO), Duration::ZERO);
    }
}
