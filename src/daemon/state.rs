//! The daemon's shared state: the configuration in force, the last scan of every image, the
//! choices made from it, the operator-facing status and the metrics.
//!
//! Scan tasks write results here, the reconciler reads choices from here, and the HTTP
//! handlers read status and metrics. One mutex guards the scan cache and the status together,
//! so a result that arrives for an image a reload has just removed is dropped, never shown.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::{Notify, Semaphore};

use super::board::BoardState;
use super::metrics::{
    EnvironmentLabel, ImageLabel, Metrics, PolicyLabel, RegistryLabel, RepositoryLabel,
    RepositoryResultLabels, ReviewLabels, ScanErrorLabels,
};
use super::status::{
    self, ImageStatus, PolicyStatus, ProblemEntry, RepositoryStatus, ReviewEntry, Status,
    WaitingEntry,
};
use crate::config::Config;
use crate::notifications::{Event, Notifier, ScanFailures};
use crate::pass::events_from_report;
use crate::pass::{ImageScan, Outcome, PassError, PassReport, ReviewAction, Selection};
use crate::registry::Registries;

/// A validated configuration together with what was built from it.
#[derive(Debug)]
pub struct Loaded {
    /// What the scan tasks scan: the host configuration plus the images and policies each
    /// repository's rules define (as its last pass read them).
    pub config: Arc<Config>,
    /// The host configuration as the file says.
    pub host: Arc<Config>,
    /// Registry clients for it (kept across reloads that leave `[registries]` alone, so
    /// tokens and request budgets carry over).
    pub registries: Arc<Registries>,
    /// Registry requests in flight at once (`daemon.concurrency`).
    pub scan_limit: Arc<Semaphore>,
    /// Scans under way at once (`daemon.concurrency`): a scan task waits here before it
    /// builds its request, so that the thousands due at start-up wait with nothing built.
    pub scan_slots: Arc<Semaphore>,
    /// Tag judgements (age) of the state directory, kept across reloads that keep it.
    pub eligibility: Arc<crate::eligibility::Store>,
    /// The file's bytes when it was loaded, to skip reloads that change nothing.
    pub text: Vec<u8>,
    /// Per repository: the configuration narrowed to it, as its passes take it.
    pub views: BTreeMap<String, Arc<Config>>,
}

impl Loaded {
    /// `config` with what was built from it, and its per-repository views.
    pub fn new(
        config: Config,
        registries: Arc<Registries>,
        (scan_limit, scan_slots): (Arc<Semaphore>, Arc<Semaphore>),
        eligibility: Arc<crate::eligibility::Store>,
        text: Vec<u8>,
    ) -> Self {
        let views = config
            .repository_names()
            .into_iter()
            .filter_map(|name| {
                let view = Arc::new(config.for_repository(&name)?.into_owned());
                Some((name, view))
            })
            .collect();
        let config = Arc::new(config);
        Loaded {
            config: config.clone(),
            host: config,
            registries,
            scan_limit,
            scan_slots,
            eligibility,
            text,
            views,
        }
    }

    /// The same host configuration with `scan` as the scan set.
    pub fn with_scan(&self, scan: Config) -> Self {
        Loaded {
            config: Arc::new(scan),
            host: self.host.clone(),
            registries: self.registries.clone(),
            scan_limit: self.scan_limit.clone(),
            scan_slots: self.scan_slots.clone(),
            eligibility: self.eligibility.clone(),
            text: self.text.clone(),
            views: self.views.clone(),
        }
    }

    /// The configuration narrowed to repository `name`; `None` when it has no such one.
    pub fn view(&self, name: &str) -> Option<Arc<Config>> {
        self.views.get(name).cloned()
    }
}

/// The images and policies a repository's rules define beyond the host's, as its last pass
/// read them: the daemon scans them like the host's.
#[derive(Debug, Clone, Default, PartialEq)]
struct RulesCatalog {
    images: BTreeMap<String, crate::config::ImageConfig>,
    policies: BTreeMap<String, crate::config::PolicyConfig>,
}

/// The last successful listing of one image.
#[derive(Debug, Clone)]
struct CachedTags {
    /// The repository it was listed from (a reload may point the image elsewhere).
    repository: String,
    /// Valid tags.
    tags: Arc<Vec<String>>,
    /// What the scan judged about them (age, followed tags).
    judged: Option<Arc<crate::eligibility::Judged>>,
}

/// What the mutex guards.
#[derive(Debug, Default)]
struct State {
    /// The status without its images' `policies`, which [`Shared::status`] fills in from
    /// `policies` and `selections` when asked, rather than every image keeping a copy.
    status: Status,
    tags: BTreeMap<String, CachedTags>,
    /// Every policy's choice, shared with the passes in flight (each takes the map as it is
    /// when it starts; a scan that lands meanwhile writes to a copy).
    selections: Arc<BTreeMap<String, Selection>>,
    /// The policies of the configuration in force (shared with it).
    policies: Arc<BTreeMap<String, crate::config::PolicyConfig>>,
    /// Images whose first scan has not finished; the first reconciliation waits for them.
    first_scans_pending: BTreeSet<String>,
    first_scans_done: bool,
    /// Per repository: when its clone was first ready and last synced.
    clocks: BTreeMap<String, SyncClock>,
}

/// One repository's readiness: its first clone and its last successful sync.
#[derive(Debug, Clone)]
struct SyncClock {
    ready: bool,
    last_sync: Option<Instant>,
    /// How long ago the last sync may be before `/readyz` fails: three git intervals.
    deadline: Duration,
}

/// State shared by the daemon's tasks and the HTTP handlers.
pub struct Shared {
    /// Every metric.
    pub metrics: Metrics,
    state: Mutex<State>,
    stopping: AtomicBool,
    /// Per repository: what wakes its reconciler (a choice it uses changed or the
    /// configuration was reloaded) and which images its passes read.
    reconcilers: Mutex<BTreeMap<String, Reconciler>>,
    /// Per image: wakes its scan task at once (a verified registry webhook).
    scan_triggers: Mutex<BTreeMap<String, Arc<Notify>>>,
    /// Per image: tags a webhook announced that its scans have not listed yet.
    awaited_tags: Mutex<BTreeMap<String, Vec<String>>>,
    /// Where commits, failures and failing scans are announced.
    notifier: Mutex<Option<Notifier>>,
    /// Scan failures in a row, per image, for `scan_failing` notifications.
    scan_failures: Mutex<ScanFailures>,
    /// What the board shows beside the status.
    pub board: BoardState,
    /// Per repository: what its rules define beyond the host configuration.
    catalogs: Mutex<BTreeMap<String, RulesCatalog>>,
    /// Wakes the main loop when a repository's rules changed the images to scan.
    pub catalog_changed: Notify,
}

/// One repository's reconciler as the scans see it: what wakes it, and which images' choices
/// its passes write from.
#[derive(Debug, Default)]
struct Reconciler {
    trigger: Arc<Notify>,
    reads: Reads,
}

/// Which images' choices can change what a repository's pass writes, so that a changed choice
/// wakes only the reconcilers it can move something in (with 50 repositories, the other 49
/// passes would hold up the one that matters).
#[derive(Debug, Default)]
enum Reads {
    /// Not known: no pass has read the markers since start-up or the last reload, or the last
    /// one failed. Every change wakes it.
    #[default]
    Unknown,
    /// A pass is running on the choices taken at its start; the images whose choice changed
    /// since, so that it runs again at once if its markers turn out to use one.
    Passing(BTreeSet<String>),
    /// The images the last pass found markers of, with every other member of their groups,
    /// as sorted hashes ([`image_key`]): a collision only wakes it for nothing.
    Images(Vec<u64>),
}

impl Reads {
    /// True when a change of `image`'s choice may move something in the repository.
    fn uses(&self, image: &str) -> bool {
        match self {
            Reads::Unknown | Reads::Passing(_) => true,
            Reads::Images(keys) => keys.binary_search(&image_key(image)).is_ok(),
        }
    }
}

/// A compact key for an image name in [`Reads::Images`] (a few bytes per image instead of its
/// name; equal names always have equal keys).
fn image_key(image: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::hash::DefaultHasher::new();
    image.hash(&mut hasher);
    hasher.finish()
}

/// The most tags awaited per image after webhooks (see [`Shared::request_scan`]).
const MAX_AWAITED_TAGS: usize = 16;

/// How long the last successful sync may be ago before `/readyz` fails: three git intervals.
pub fn sync_deadline(config: &Config) -> Duration {
    config.git.interval * 3
}

/// With one repository its own words; with several, prefixed by its name.
fn named(state: &State, repository: &str, text: String) -> String {
    match state.clocks.len() {
        0 | 1 => text,
        _ => format!("repository {repository}: {text}"),
    }
}

impl Shared {
    /// Fresh state for a daemon that has loaded `config` and done nothing else yet.
    pub fn new(config: &Config) -> Self {
        let shared = Shared {
            metrics: Metrics::new(),
            state: Mutex::new(State {
                status: Status {
                    version: env!("CARGO_PKG_VERSION").to_string(),
                    started_at: status::now(),
                    ..Status::default()
                },
                ..State::default()
            }),
            stopping: AtomicBool::new(false),
            reconcilers: Mutex::new(BTreeMap::new()),
            scan_triggers: Mutex::new(BTreeMap::new()),
            awaited_tags: Mutex::new(BTreeMap::new()),
            notifier: Mutex::new(None),
            scan_failures: Mutex::new(ScanFailures::new()),
            board: BoardState::default(),
            catalogs: Mutex::new(BTreeMap::new()),
            catalog_changed: Notify::new(),
        };
        shared.config_loaded(config);
        shared.apply_config(config);
        shared
    }

    /// Records that `config` was loaded and put in force (clearing a refused reload).
    pub fn config_loaded(&self, config: &Config) {
        let mut state = self.lock();
        state.status.config.path = config.source.display().to_string();
        state.status.config.loaded_at = status::now();
        state.status.config.last_reload_error = None;
    }

    /// The handle repository `name`'s reconciler waits on besides its timer.
    pub fn reconcile_trigger(&self, name: &str) -> Arc<Notify> {
        let mut reconcilers = self.reconcilers.lock().unwrap_or_else(|e| e.into_inner());
        reconcilers
            .entry(name.to_string())
            .or_default()
            .trigger
            .clone()
    }

    /// True once every image has been scanned at least once since start-up.
    pub fn first_scans_done(&self) -> bool {
        self.lock().first_scans_done
    }

    /// Wakes every repository's reconciler (each runs one pass; a wake-up while a pass runs
    /// is kept for after it).
    pub fn wake_reconcilers(&self) {
        let reconcilers = self.reconcilers.lock().unwrap_or_else(|e| e.into_inner());
        for reconciler in reconcilers.values() {
            reconciler.trigger.notify_one();
        }
    }

    /// Wakes the reconcilers of the repositories whose passes may move something now that
    /// `image`'s choice changed: those whose last pass found its markers (or a member of its
    /// group's), and those not known (no pass yet, a failed one, a reload since). One with a
    /// pass in progress notes it and runs again if that pass finds the image's markers.
    /// Markers of it committed since a repository's last pass move at that repository's next
    /// pass (`git.interval`, or any wake-up).
    fn wake_readers(&self, image: &str) {
        let mut reconcilers = self.reconcilers.lock().unwrap_or_else(|e| e.into_inner());
        let mut woken = Vec::new();
        for (name, reconciler) in reconcilers.iter_mut() {
            match &mut reconciler.reads {
                Reads::Passing(changed) => {
                    changed.insert(image.to_string());
                }
                reads if reads.uses(image) => {
                    reconciler.trigger.notify_one();
                    woken.push(name.as_str());
                }
                _ => {}
            }
        }
        tracing::debug!(image, woken = %woken.join(","), repositories = reconcilers.len(), "a choice changed: waking the repositories that use it");
    }

    /// Marks the start of a pass of repository `name`, before it takes the choices: changes
    /// from here on are kept for [`Shared::pass_finished`].
    pub fn pass_started(&self, name: &str) {
        let mut reconcilers = self.reconcilers.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(reconciler) = reconcilers.get_mut(name) {
            reconciler.reads = Reads::Passing(BTreeSet::new());
        }
    }

    /// Records which images repository `name`'s pass found markers of (`None` when it cannot
    /// tell: the pass or an environment failed), and wakes its reconciler again when a choice
    /// that changed during the pass concerns them.
    pub fn pass_finished<'a>(&self, name: &str, images: Option<impl IntoIterator<Item = &'a str>>) {
        let mut reconcilers = self.reconcilers.lock().unwrap_or_else(|e| e.into_inner());
        let Some(reconciler) = reconcilers.get_mut(name) else {
            return;
        };
        // A reload during the pass left it unknown (and woke it): it stays so.
        let Reads::Passing(changed) = std::mem::take(&mut reconciler.reads) else {
            return;
        };
        reconciler.reads = match images {
            Some(images) => {
                let mut keys: Vec<u64> = images.into_iter().map(image_key).collect();
                keys.sort_unstable();
                keys.dedup();
                Reads::Images(keys)
            }
            None => Reads::Unknown,
        };
        if let Some(image) = changed.iter().find(|image| reconciler.reads.uses(image)) {
            tracing::debug!(repository = name, image = %image, "a choice it uses changed during the pass: another pass follows");
            reconciler.trigger.notify_one();
        }
    }

    /// Keeps the images and policies repository `repository`'s rules define (those of
    /// `effective` that `host` lacks); wakes the main loop when they changed.
    pub fn record_catalog(&self, repository: &str, host: &Config, effective: &Config) {
        let catalog = RulesCatalog {
            images: effective
                .images
                .iter()
                .filter(|(name, _)| !host.images.contains_key(*name))
                .map(|(n, i)| (n.clone(), i.clone()))
                .collect(),
            policies: effective
                .policies
                .iter()
                .filter(|(name, _)| !host.policies.contains_key(*name))
                .map(|(n, p)| (n.clone(), p.clone()))
                .collect(),
        };
        let mut catalogs = self.catalogs.lock().unwrap_or_else(|e| e.into_inner());
        if catalogs.get(repository) != Some(&catalog) {
            tracing::info!(
                repository,
                images = catalog.images.len(),
                policies = catalog.policies.len(),
                "the repository's rules changed the images to scan"
            );
            catalogs.insert(repository.to_string(), catalog);
            self.catalog_changed.notify_one();
        }
    }

    /// The scan set for `host`: its images and policies plus those of each of its
    /// repositories' rules, each image once however many repositories use it. A name two
    /// repositories define differently keeps the first definition (by repository name) and
    /// the other is logged.
    pub fn scan_config(&self, host: &Config) -> Config {
        let mut catalogs = self.catalogs.lock().unwrap_or_else(|e| e.into_inner());
        catalogs.retain(|name, _| host.repositories.contains_key(name));
        let mut scan = host.clone();
        if catalogs
            .values()
            .all(|c| c.images.is_empty() && c.policies.is_empty())
        {
            return scan;
        }
        let images = Arc::make_mut(&mut scan.images);
        let policies = Arc::make_mut(&mut scan.policies);
        for (repository, catalog) in catalogs.iter() {
            for (name, image) in catalog.images.iter() {
                match images.get(name) {
                    Some(known) if known != image => {
                        tracing::error!(repository = %repository, image = %name, scanned = %known.repository_text, "another repository's rules define this image differently: the first definition is scanned; give one of them another name");
                    }
                    Some(_) => {}
                    None => {
                        images.insert(name.clone(), image.clone());
                    }
                }
            }
            for (name, policy) in catalog.policies.iter() {
                match policies.get(name) {
                    Some(known) if known != policy => {
                        tracing::error!(repository = %repository, policy = %name, "another repository's rules define this policy differently: the first definition chooses; give one of them another name");
                    }
                    Some(_) => {}
                    None => {
                        policies.insert(name.clone(), policy.clone());
                    }
                }
            }
        }
        scan
    }

    /// The handle an image's scan task waits on besides its timer.
    pub fn scan_trigger(&self, image: &str) -> Arc<Notify> {
        let mut triggers = self.scan_triggers.lock().unwrap_or_else(|e| e.into_inner());
        triggers.entry(image.to_string()).or_default().clone()
    }

    /// Asks for an immediate scan of `image`, whose push of `tags` a webhook announced;
    /// requests that arrive during a scan are merged into one more scan.
    pub fn request_scan(&self, image: &str, tags: &[String]) {
        tracing::info!(image, tags = %tags.join(","), "scan requested by a webhook");
        if !tags.is_empty() {
            let mut awaited = self.awaited_tags.lock().unwrap_or_else(|e| e.into_inner());
            let entry = awaited.entry(image.to_string()).or_default();
            for tag in tags {
                // A few per image: a payload naming thousands of tags cannot grow this.
                if !entry.contains(tag) && entry.len() < MAX_AWAITED_TAGS {
                    entry.push(tag.clone());
                }
            }
        }
        self.scan_trigger(image).notify_one();
    }

    /// The tags a webhook announced for `image` that its scan (listing `listed`, `None` when
    /// it failed) did not list: a registry may announce a push a moment before it lists the
    /// tag (Distribution notifies before it links the tag), and the scan task lists again.
    /// Tags listed are no longer awaited.
    pub fn unlisted_pushed_tags(&self, image: &str, listed: Option<&Vec<String>>) -> Vec<String> {
        let mut awaited = self.awaited_tags.lock().unwrap_or_else(|e| e.into_inner());
        let Some(tags) = awaited.get_mut(image) else {
            return Vec::new();
        };
        if let Some(listed) = listed {
            tags.retain(|tag| !listed.contains(tag));
        }
        let unlisted = tags.clone();
        if unlisted.is_empty() {
            awaited.remove(image);
        }
        unlisted
    }

    /// Stops waiting for `image`'s announced tags (its scans keep their interval).
    pub fn forget_pushed_tags(&self, image: &str) {
        let mut awaited = self.awaited_tags.lock().unwrap_or_else(|e| e.into_inner());
        awaited.remove(image);
    }

    /// Puts a notifier in force and returns the one it replaces.
    pub fn replace_notifier(&self, notifier: Option<Notifier>) -> Option<Notifier> {
        let mut slot = self.notifier.lock().unwrap_or_else(|e| e.into_inner());
        std::mem::replace(&mut *slot, notifier)
    }

    /// Hands events to the notifier, if any; never blocks.
    pub fn notify(&self, events: Vec<Event>) {
        if events.is_empty() {
            return;
        }
        let slot = self.notifier.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(notifier) = slot.as_ref() {
            notifier.send_all(events);
        }
    }

    /// Counts a scan's success or failure and announces a run of failures.
    fn observe_scan(&self, image: &str, error: Option<&str>) {
        let event = self
            .scan_failures
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .record(image, error);
        self.notify(event.into_iter().collect());
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves plain data behind: keep serving it.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The status as `/api/v1/status` returns it.
    pub fn status(&self) -> Status {
        let mut status = {
            let state = self.lock();
            let mut status = state.status.clone();
            fill_policies(&mut status.images, &state.policies, &state.selections);
            status
        };
        status.ready = self.readiness().is_ok();
        status.stopping = self.stopping.load(Ordering::SeqCst);
        status.board = self.board.access().name().to_string();
        status
    }

    /// The tags of `image`'s last successful scan, for the board's image page.
    pub fn cached_tags(&self, image: &str) -> Option<Arc<Vec<String>>> {
        self.lock()
            .tags
            .get(image)
            .map(|cached| cached.tags.clone())
    }

    /// Marks repository `name` ready: its first clone succeeded.
    pub fn set_ready(&self, name: &str) {
        if let Some(clock) = self.lock().clocks.get_mut(name) {
            clock.ready = true;
        }
    }

    /// Marks the daemon as stopping (shown in the status).
    pub fn set_stopping(&self) {
        self.stopping.store(true, Ordering::SeqCst);
    }

    /// Records a successful sync of repository `name` with its remote and the head it found.
    pub fn synced(&self, name: &str, head: Option<String>) {
        self.metrics.succeeded("sync");
        self.metrics.repository_synced(name);
        let mut state = self.lock();
        let state = &mut *state;
        if let Some(clock) = state.clocks.get_mut(name) {
            clock.last_sync = Some(Instant::now());
        }
        let Some(repository) = state.status.repositories.get_mut(name) else {
            return;
        };
        repository.git.last_sync = Some(status::now());
        if head.is_some() {
            repository.git.head = head;
        }
        repository.git.last_error = None;
        mirror_single(&mut state.status);
    }

    /// Records a failed sync or clone of repository `name`.
    pub fn sync_failed(&self, name: &str, error: &str) {
        let mut state = self.lock();
        if let Some(repository) = state.status.repositories.get_mut(name) {
            repository.git.last_error = Some(error.to_string());
        }
        mirror_single(&mut state.status);
    }

    /// `Ok` when ready, else the reason it is not: every repository must have been cloned
    /// and synced within three of its git intervals.
    pub fn readiness(&self) -> Result<(), String> {
        if self.stopping.load(Ordering::SeqCst) {
            return Err("not ready: stopping".into());
        }
        let state = self.lock();
        if state.clocks.is_empty() {
            return Err("not ready: no repository is configured".into());
        }
        for (name, clock) in &state.clocks {
            if !clock.ready {
                let why = "the first configuration load and clone have not finished";
                return Err(format!("not ready: {}", named(&state, name, why.into())));
            }
            match clock.last_sync {
                Some(at) if at.elapsed() <= clock.deadline => {}
                Some(at) => {
                    let why = format!(
                        "the last successful git sync was {}s ago (limit {}s)",
                        at.elapsed().as_secs(),
                        clock.deadline.as_secs()
                    );
                    return Err(format!("not ready: {}", named(&state, name, why)));
                }
                None => {
                    let why = "no successful git sync yet".to_string();
                    return Err(format!("not ready: {}", named(&state, name, why)));
                }
            }
        }
        Ok(())
    }

    /// Brings the state in line with a newly loaded configuration: drops images, policies
    /// and environments that are gone (with their metric series), forgets tags of images
    /// whose repository changed, and recomputes every choice from the cached tags.
    pub fn apply_config(&self, config: &Config) {
        self.board.configure(config);
        let names = config.repository_names();
        {
            let mut reconcilers = self.reconcilers.lock().unwrap_or_else(|e| e.into_inner());
            reconcilers.retain(|name, _| names.contains(name));
            // Policies, groups and environments may have changed: the next passes tell again.
            for reconciler in reconcilers.values_mut() {
                reconciler.reads = Reads::Unknown;
            }
        }
        let mut state = self.lock();
        let state = &mut *state;
        for name in state.clocks.keys().filter(|n| !names.contains(*n)) {
            self.metrics.remove_repository(name);
        }
        for name in names.iter().filter(|n| !state.clocks.contains_key(*n)) {
            self.metrics.add_repository(name);
        }
        state.clocks.retain(|name, _| names.contains(name));
        state
            .status
            .repositories
            .retain(|name, _| names.contains(name));
        for name in &names {
            let Some(view) = config.for_repository(name) else {
                continue;
            };
            let deadline = sync_deadline(&view);
            state
                .clocks
                .entry(name.clone())
                .and_modify(|clock| clock.deadline = deadline)
                .or_insert(SyncClock {
                    ready: false,
                    last_sync: None,
                    deadline,
                });
            let entry = state.status.repositories.entry(name.clone()).or_default();
            let (remote, branch) = (view.git.remote.display_url(), &view.git.remote.branch);
            if entry.remote != remote || entry.branch != *branch {
                *entry = RepositoryStatus {
                    remote,
                    branch: branch.clone(),
                    ..RepositoryStatus::default()
                };
            }
            entry.environments = view.environments.keys().cloned().collect();
            if view.rules.is_none() {
                entry.rules = None;
            }
        }
        mirror_single(&mut state.status);
        let gone: Vec<String> = state
            .status
            .images
            .keys()
            .filter(|name| !config.images.contains_key(*name))
            .cloned()
            .collect();
        for name in gone {
            state.status.images.remove(&name);
            state.tags.remove(&name);
            state.first_scans_pending.remove(&name);
            let label = ImageLabel {
                image: name.clone(),
            };
            self.metrics.scans.remove(&label);
            self.metrics.tags_seen.remove(&label);
            self.metrics.tags_dropped.remove(&label);
        }
        for (name, image) in config.images.iter() {
            if state
                .tags
                .get(name)
                .is_some_and(|cached| cached.repository != image.repository_text)
            {
                state.tags.remove(name);
            }
            let entry = state.status.images.entry(name.clone()).or_default();
            if entry.repository != image.repository_text {
                *entry = ImageStatus {
                    repository: image.repository_text.clone(),
                    ..ImageStatus::default()
                };
                if !state.first_scans_done {
                    state.first_scans_pending.insert(name.clone());
                }
            }
        }
        for name in state.status.environments.keys() {
            if !config.environments.contains_key(name) {
                self.metrics.commits.remove(&EnvironmentLabel {
                    environment: name.clone(),
                });
            }
        }
        state
            .status
            .environments
            .retain(|name, _| config.environments.contains_key(name));
        for (name, env) in config.environments.iter() {
            let entry = state.status.environments.entry(name.clone()).or_default();
            entry.repository = env.repository.clone();
        }
        self.metrics.images.set(config.images.len() as i64);
        // Every choice again: policies and exclusions may have changed.
        let mut selections = BTreeMap::new();
        for name in state.selections.keys() {
            if !config.policies.contains_key(name) {
                self.metrics.policy_choices.remove(&PolicyLabel {
                    policy: name.clone(),
                });
            }
        }
        for (policy_name, policy) in config.policies.iter() {
            let Some(cached) = state.tags.get(&policy.image) else {
                continue;
            };
            let selection = choose(config, policy_name, cached);
            let previous = state.selections.get(policy_name);
            if previous.is_none() || previous.and_then(Selection::chosen) != selection.chosen() {
                tracing::info!(policy = %policy_name, image = %policy.image, from = previous.and_then(Selection::chosen).unwrap_or("none"), to = selection.chosen().unwrap_or("none"), reason = %reason(&selection), "policy choice after reload");
            }
            selections.insert(policy_name.clone(), selection);
        }
        state.selections = Arc::new(selections);
        state.policies = config.policies.clone();
        if state.first_scans_pending.is_empty() && !state.first_scans_done {
            // No images at all, or a reload removed the last ones still waiting.
            state.first_scans_done = true;
            self.wake_reconcilers();
        }
    }

    /// Records why a reload was refused (shown until the next successful one).
    pub fn reload_refused(&self, error: String) {
        self.lock().status.config.last_reload_error = Some(error);
    }

    /// Records one image's scan: metrics, status, cached tags and the choices of its
    /// policies. Wakes the reconciler when a choice changed (once every image has been
    /// scanned at least once, so that start-up is one reconciliation, not hundreds).
    /// `loaded` must be the configuration in force now and `repository` the one that was
    /// listed; a result for an image it no longer has, or that now points at another
    /// repository, is dropped.
    pub fn record_scan(&self, loaded: &Loaded, repository: &str, scan: ImageScan, took: Duration) {
        let config = &*loaded.config;
        let Some(image) = config.images.get(&scan.image) else {
            return;
        };
        if image.repository_text != repository {
            return;
        }
        let label = ImageLabel {
            image: scan.image.clone(),
        };
        self.metrics.scans.get_or_create(&label).inc();
        self.observe_scan(&scan.image, scan.error.as_deref());
        match (&scan.tags, &scan.error) {
            (Some(tags), _) => {
                self.metrics
                    .tags_seen
                    .get_or_create(&label)
                    .set(tags.len() as i64);
                if scan.dropped_invalid > 0 {
                    self.metrics
                        .tags_dropped
                        .get_or_create(&label)
                        .inc_by(scan.dropped_invalid as u64);
                }
                self.metrics.succeeded("scan");
                tracing::debug!(image = %scan.image, tags = tags.len(), dropped = scan.dropped_invalid, requests = scan.requests, took_ms = took.as_millis() as u64, "scanned");
            }
            (None, _) => {
                let kind = scan.error_kind.unwrap_or("other");
                self.metrics
                    .scan_errors
                    .get_or_create(&ScanErrorLabels {
                        registry: scan.registry.clone(),
                        kind: kind.to_string(),
                    })
                    .inc();
            }
        }
        let mut changed = false;
        let (every, readers);
        {
            let mut state = self.lock();
            let state = &mut *state;
            let Some(entry) = state.status.images.get_mut(&scan.image) else {
                return;
            };
            if entry.repository != image.repository_text {
                return;
            }
            entry.last_scan = Some(status::now());
            // A failure is logged when it starts or changes, and the recovery once; the same
            // failure every interval would bury everything else in the log.
            match (&entry.last_error, &scan.error) {
                (previous, Some(error)) if previous.as_ref() != Some(error) => {
                    tracing::warn!(image = %scan.image, registry = %scan.registry, kind = scan.error_kind.unwrap_or("other"), error = %error, "scan failed: keeping the last choice");
                }
                (_, Some(error)) => {
                    tracing::debug!(image = %scan.image, error = %error, "scan failed again");
                }
                (Some(previous), None) => {
                    tracing::info!(image = %scan.image, previous_error = %previous, "scan succeeded again");
                }
                (None, None) => {}
            }
            entry.last_error = scan.error.clone();
            if let Some(tags) = scan.tags {
                entry.tag_count = tags.len();
                let cached = CachedTags {
                    repository: image.repository_text.clone(),
                    tags: Arc::new(tags),
                    judged: scan.judged.clone(),
                };
                state.tags.insert(scan.image.clone(), cached.clone());
                for (policy_name, _) in config.policies_for_image(&scan.image) {
                    let selection = choose(config, policy_name, &cached);
                    if selection.chosen().is_some() {
                        self.metrics
                            .policy_choices
                            .get_or_create(&PolicyLabel {
                                policy: policy_name.clone(),
                            })
                            .inc();
                    }
                    let previous = state.selections.get(policy_name);
                    let previous_chosen = previous.and_then(Selection::chosen);
                    if previous.is_none() || previous_chosen != selection.chosen() {
                        changed = true;
                        tracing::info!(policy = %policy_name, image = %scan.image, from = previous_chosen.unwrap_or("none"), to = selection.chosen().unwrap_or("none"), reason = %reason(&selection), "policy choice");
                    } else {
                        tracing::debug!(policy = %policy_name, image = %scan.image, chosen = selection.chosen().unwrap_or("none"), "policy choice unchanged");
                    }
                    Arc::make_mut(&mut state.selections).insert(policy_name.clone(), selection);
                }
            }
            let was_pending = state.first_scans_pending.remove(&scan.image);
            if was_pending && state.first_scans_pending.is_empty() && !state.first_scans_done {
                state.first_scans_done = true;
                tracing::info!(images = config.images.len(), "every image scanned once");
                (every, readers) = (true, false);
            } else {
                (every, readers) = (false, changed && state.first_scans_done);
            }
        }
        let limits = loaded.registries.rate_limits();
        self.board.set_rate_limits(limits.clone());
        for (host, remaining) in limits {
            self.metrics
                .rate_limit_remaining
                .get_or_create(&RegistryLabel { registry: host })
                .set(remaining as i64);
        }
        if every {
            self.wake_reconcilers();
        } else if readers {
            self.wake_readers(&scan.image);
        }
    }

    /// The choice of every policy, by name, for a reconciliation: shared, not copied (a pass
    /// looks up its own policies). A policy whose image has not been listed yet has none, so
    /// its markers stay as they are.
    pub fn selections(&self) -> Arc<BTreeMap<String, Selection>> {
        self.lock().selections.clone()
    }

    /// Keeps the rules report for the status, and tells people once about each refused
    /// rules commit (not on every pass while it stays refused).
    fn record_rules(&self, repository: &str, rules: Option<&crate::pass::rules::RulesReport>) {
        let previous = {
            let mut state = self.lock();
            let Some(entry) = state.status.repositories.get_mut(repository) else {
                return;
            };
            let previous = std::mem::replace(&mut entry.rules, rules.cloned());
            mirror_single(&mut state.status);
            previous
        };
        let Some(refused) = rules.and_then(|r| r.refused.as_ref()) else {
            return;
        };
        let known = previous
            .and_then(|p| p.refused)
            .is_some_and(|p| p.commit == refused.commit);
        if !known {
            self.notify(vec![Event::RulesRefused {
                rules: rules.map(|r| r.source.clone()).unwrap_or_default(),
                commit: refused.commit.clone(),
                author: refused.author.clone(),
                errors: refused.errors.clone(),
            }]);
        }
    }

    /// Records a reconciliation of repository `repository`: per-environment status, commits,
    /// pushes and retries.
    pub fn record_pass(
        &self,
        repository: &str,
        result: &Result<PassReport, PassError>,
        head: Option<String>,
    ) {
        let report = match result {
            Ok(report) => report,
            Err(err) => {
                self.metrics
                    .passes
                    .get_or_create(&RepositoryResultLabels {
                        repository: repository.to_string(),
                        result: "failed".into(),
                    })
                    .inc();
                if let PassError::Sync(_) = err {
                    self.sync_failed(repository, &err.to_string());
                }
                return;
            }
        };
        self.synced(repository, head);
        self.notify(events_from_report(report));
        self.record_rules(repository, report.rules.as_ref());
        let failed = report
            .environments
            .iter()
            .any(|e| matches!(e.outcome, Outcome::Failed(_)));
        self.metrics
            .passes
            .get_or_create(&RepositoryResultLabels {
                repository: repository.to_string(),
                result: if failed { "failed" } else { "ok" }.into(),
            })
            .inc();
        let now = status::now();
        let mut state = self.lock();
        for env in &report.environments {
            let entry = state
                .status
                .environments
                .entry(env.name.clone())
                .or_default();
            entry.repository = repository.to_string();
            entry.last_pass = Some(now.clone());
            entry.holds = env.held.clone();
            // Each marker problem is logged when it appears and when it is gone, not on
            // every pass.
            let problems: Vec<ProblemEntry> = env.problems.iter().map(ProblemEntry::from).collect();
            for problem in problems.iter().filter(|p| !entry.problems.contains(p)) {
                tracing::warn!(environment = %env.name, problem = %problem, "marker problem");
            }
            for problem in entry.problems.iter().filter(|p| !problems.contains(p)) {
                tracing::info!(environment = %env.name, problem = %problem, "marker problem resolved");
            }
            entry.problems = problems;
            entry.waiting = env.waiting.iter().map(WaitingEntry::from).collect();
            entry.verification = env
                .verification
                .iter()
                .map(super::status::VerificationEntry::from)
                .collect();
            // A pass that failed before reading the markers keeps what the last one saw.
            if !env.running.is_empty() || !matches!(env.outcome, Outcome::Failed(_)) {
                entry.running = env
                    .running
                    .iter()
                    .map(|(image, r)| (image.clone(), r.into()))
                    .collect();
            }
            entry.pending_reviews = env
                .reviews
                .iter()
                .filter(|r| {
                    !matches!(
                        r.action,
                        ReviewAction::Declined { .. } | ReviewAction::Failed(_)
                    )
                })
                .map(ReviewEntry::from)
                .collect();
            for review in &env.reviews {
                let action = match review.action {
                    ReviewAction::Opened { .. } => "opened",
                    ReviewAction::Updated { .. } => "updated",
                    ReviewAction::BranchPushed => "branch_pushed",
                    _ => continue,
                };
                self.metrics
                    .reviews
                    .get_or_create(&ReviewLabels {
                        environment: env.name.clone(),
                        action: action.into(),
                    })
                    .inc();
            }
            entry.last_error = None;
            match &env.outcome {
                Outcome::Unchanged => entry.outcome = Some("up to date".into()),
                Outcome::Planned => entry.outcome = Some("planned".into()),
                Outcome::Pushed {
                    commit,
                    branch,
                    retries,
                } => {
                    entry.outcome = Some(format!("pushed to {branch}"));
                    entry.last_commit = Some(commit.clone());
                    entry.last_commit_at = Some(now.clone());
                    entry.last_moves = env
                        .moves
                        .iter()
                        .map(|m| format!("{} {} -> {}", m.policy, m.from, m.to))
                        .collect();
                    let label = EnvironmentLabel {
                        environment: env.name.clone(),
                    };
                    self.metrics.commits.get_or_create(&label).inc();
                    self.metrics
                        .pushes
                        .get_or_create(&RepositoryResultLabels {
                            repository: repository.to_string(),
                            result: "ok".into(),
                        })
                        .inc();
                    self.metrics
                        .push_retries
                        .get_or_create(&RepositoryLabel {
                            repository: repository.to_string(),
                        })
                        .inc_by(u64::from(*retries));
                    self.metrics.succeeded("push");
                }
                Outcome::Skipped(why) => {
                    entry.outcome = Some("skipped".into());
                    entry.waiting = vec![WaitingEntry {
                        reason: why.clone(),
                        ..WaitingEntry::default()
                    }];
                }
                // `waiting` already lists each wait on its own line.
                Outcome::Waiting(_) => entry.outcome = Some("waiting".into()),
                Outcome::Reviewed { branches } => {
                    entry.outcome = Some(format!("review updated on {}", branches.join(", ")));
                }
                Outcome::Failed(why) => {
                    entry.outcome = Some("failed".into());
                    entry.last_error = Some(why.clone());
                    if !env.moves.is_empty() {
                        self.metrics
                            .pushes
                            .get_or_create(&RepositoryResultLabels {
                                repository: repository.to_string(),
                                result: "failed".into(),
                            })
                            .inc();
                    }
                }
            }
        }
    }
}

/// With exactly one repository, the top-level `git` and `rules` of the status are its own (as
/// before there could be several); with several, they stay empty.
fn mirror_single(status: &mut Status) {
    let mut repositories = status.repositories.values();
    match (repositories.next(), repositories.next()) {
        (Some(only), None) => {
            status.git = only.git.clone();
            status.rules = only.rules.clone();
        }
        _ => {
            status.git = Default::default();
            status.rules = None;
        }
    }
}

/// One policy's choice over an image's cached listing and its judgements, judged now.
fn choose(config: &Config, policy_name: &str, cached: &CachedTags) -> Selection {
    crate::pass::choose(
        config,
        policy_name,
        &cached.tags,
        cached.judged.as_deref(),
        jiff::Timestamp::now(),
    )
}

fn reason(selection: &Selection) -> String {
    selection.reason()
}

/// Fills in each image's `policies`: every policy of `policies` for it, with the rule, the
/// chosen tag and why (empty until its image has been listed).
fn fill_policies(
    images: &mut BTreeMap<String, ImageStatus>,
    policies: &BTreeMap<String, crate::config::PolicyConfig>,
    selections: &BTreeMap<String, Selection>,
) {
    for (name, policy) in policies.iter() {
        let Some(image) = images.get_mut(&policy.image) else {
            continue;
        };
        let selection = selections.get(name);
        image.policies.insert(
            name.clone(),
            PolicyStatus {
                rule: policy.policy.describe(),
                chosen: selection.and_then(Selection::chosen).map(str::to_string),
                reason: selection.map(reason).unwrap_or_default(),
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pass::{EnvironmentReport, Review, Waiting};

    fn config() -> Config {
        Config::from_text(
            std::path::Path::new("/etc/baton/baton.toml"),
            "[git]\nurl = \"/srv/fleet.git\"\n[environments.production]\npaths = [\"p\"]\n",
            figment::providers::Env::prefixed("BATON_TEST_UNUSED_"),
        )
        .unwrap()
    }

    /// True when `trigger` holds a wake-up (taking it).
    async fn woken(trigger: &Notify) -> bool {
        tokio::time::timeout(Duration::from_millis(1), trigger.notified())
            .await
            .is_ok()
    }

    #[tokio::test]
    async fn a_change_wakes_a_repository_only_when_its_markers_use_the_image() {
        let shared = Shared::new(&config());
        let name = crate::config::DEFAULT_REPOSITORY;
        let trigger = shared.reconcile_trigger(name);
        // Before any pass its markers are unknown: every change wakes it.
        shared.wake_readers("web");
        assert!(woken(&trigger).await);
        shared.pass_started(name);
        shared.pass_finished(name, Some(["app", "db"]));
        assert!(!woken(&trigger).await);
        shared.wake_readers("web");
        assert!(!woken(&trigger).await, "web has no markers there");
        shared.wake_readers("db");
        assert!(woken(&trigger).await);
        // A failed pass cannot tell: every change wakes it again.
        shared.pass_started(name);
        shared.pass_finished(name, None::<[&str; 0]>);
        shared.wake_readers("web");
        assert!(woken(&trigger).await);
        // A reload may change policies and groups: unknown until the next pass.
        shared.pass_started(name);
        shared.pass_finished(name, Some(["app"]));
        shared.apply_config(&config());
        shared.wake_readers("web");
        assert!(woken(&trigger).await);
    }

    #[tokio::test]
    async fn a_change_during_a_pass_runs_another_when_the_pass_found_the_image() {
        let shared = Shared::new(&config());
        let name = crate::config::DEFAULT_REPOSITORY;
        let trigger = shared.reconcile_trigger(name);
        shared.pass_started(name);
        // The pass took its choices before these: kept, not woken for yet.
        shared.wake_readers("web");
        shared.wake_readers("app");
        assert!(!woken(&trigger).await);
        shared.pass_finished(name, Some(["app"]));
        assert!(
            woken(&trigger).await,
            "app changed during a pass that found it"
        );
        shared.pass_started(name);
        shared.wake_readers("web");
        shared.pass_finished(name, Some(["app"]));
        assert!(!woken(&trigger).await, "web has no markers there");
        // A pass that cannot tell runs again for any change during it.
        shared.pass_started(name);
        shared.wake_readers("web");
        shared.pass_finished(name, None::<[&str; 0]>);
        assert!(woken(&trigger).await);
    }

    #[test]
    fn announced_tags_are_awaited_until_a_scan_lists_them() {
        let shared = Shared::new(&config());
        let tags = |t: &[&str]| t.iter().map(|t| t.to_string()).collect::<Vec<_>>();
        assert!(
            shared.unlisted_pushed_tags("app", None).is_empty(),
            "no webhook yet"
        );
        shared.request_scan("app", &tags(&["1.1.0", "1.2.0"]));
        // A failed scan lists nothing; one that lists 1.1.0 leaves 1.2.0 awaited.
        assert_eq!(
            shared.unlisted_pushed_tags("app", None),
            tags(&["1.1.0", "1.2.0"])
        );
        let listed = tags(&["1.0.0", "1.1.0"]);
        assert_eq!(
            shared.unlisted_pushed_tags("app", Some(&listed)),
            tags(&["1.2.0"])
        );
        let listed = tags(&["1.0.0", "1.1.0", "1.2.0"]);
        assert!(shared.unlisted_pushed_tags("app", Some(&listed)).is_empty());
        assert!(
            shared.unlisted_pushed_tags("app", None).is_empty(),
            "nothing left"
        );
        // Given up on: the interval looks again. A payload naming many tags keeps a few.
        shared.request_scan("web", &tags(&["2.0.0"]));
        shared.forget_pushed_tags("web");
        assert!(shared.unlisted_pushed_tags("web", None).is_empty());
        let many: Vec<String> = (0..1000).map(|i| format!("1.{i}.0")).collect();
        shared.request_scan("db", &many);
        assert_eq!(
            shared.unlisted_pushed_tags("db", None).len(),
            MAX_AWAITED_TAGS
        );
    }

    #[test]
    fn passes_share_the_choices_instead_of_copying_them() {
        let shared = Shared::new(&config());
        let first = shared.selections();
        let second = shared.selections();
        assert!(Arc::ptr_eq(&first, &second));
    }

    #[test]
    fn status_lists_every_policy_under_its_image_before_any_scan() {
        let config = Config::from_text(
            std::path::Path::new("/etc/baton/baton.toml"),
            "[git]\nurl = \"/srv/fleet.git\"\n[environments.production]\npaths = [\"p\"]\n\
             [images.app]\nrepository = \"ghcr.io/example/app\"\n\
             [images.db]\nrepository = \"ghcr.io/example/db\"\n\
             [policies.app]\nimage = \"app\"\nsemver = \"1.x\"\n\
             [policies.app-next]\nimage = \"app\"\nsemver = \"2.x\"\n\
             [policies.db]\nimage = \"db\"\nalphabetical = \"asc\"\n",
            figment::providers::Env::prefixed("BATON_TEST_UNUSED_"),
        )
        .unwrap();
        let shared = Shared::new(&config);
        let status = shared.status();
        let names = |image: &str| -> Vec<String> {
            status.images[image].policies.keys().cloned().collect()
        };
        assert_eq!(names("app"), ["app", "app-next"]);
        assert_eq!(names("db"), ["db"]);
        let app = &status.images["app"].policies["app"];
        assert_eq!(app.rule, config.policies["app"].policy.describe());
        assert_eq!(app.chosen, None);
        assert_eq!(app.reason, "");
        // The kept status holds no copy of them: they are filled in when asked.
        assert!(shared.lock().status.images["app"].policies.is_empty());
    }

    #[test]
    fn status_lists_waits_and_pending_reviews() {
        let shared = Shared::new(&config());
        let mut env = EnvironmentReport::new("production");
        env.outcome = Outcome::Waiting("app: soaking".into());
        env.waiting = vec![
            Waiting {
                image: None,
                reason: "outside its windows".into(),
                until: None,
            },
            Waiting {
                image: Some("app".into()),
                reason: "app 1.2.0 soaking in staging".into(),
                until: None,
            },
        ];
        env.reviews = vec![
            Review {
                image: "web".into(),
                branch: "baton/production/web".into(),
                from: "1.0.0".into(),
                to: "1.1.0".into(),
                action: ReviewAction::Current {
                    number: 3,
                    url: "https://forge.example.com/pr/3".into(),
                },
                merge: None,
            },
            Review {
                image: "db".into(),
                branch: "baton/production/db".into(),
                from: "1".into(),
                to: "2".into(),
                action: ReviewAction::Declined {
                    number: 2,
                    url: "https://forge.example.com/pr/2".into(),
                },
                merge: None,
            },
        ];
        env.held = vec!["p/app.yaml:1: app held: INC-1".into()];
        let report = PassReport {
            environments: vec![env],
            ..PassReport::default()
        };
        shared.record_pass(crate::config::DEFAULT_REPOSITORY, &Ok(report), None);
        let status = shared.status();
        let production = &status.environments["production"];
        assert_eq!(production.outcome.as_deref(), Some("waiting"));
        let waiting: Vec<String> = production.waiting.iter().map(|w| w.to_string()).collect();
        assert_eq!(
            waiting,
            vec![
                "outside its windows".to_string(),
                "app 1.2.0 soaking in staging".to_string()
            ]
        );
        assert_eq!(production.waiting[1].image.as_deref(), Some("app"));
        let reviews: Vec<String> = production
            .pending_reviews
            .iter()
            .map(|r| r.to_string())
            .collect();
        assert_eq!(
            reviews,
            vec![
                "web (1.0.0 -> 1.1.0 on baton/production/web): open at https://forge.example.com/pr/3"
                    .to_string()
            ]
        );
        assert_eq!(production.pending_reviews[0].number, Some(3));
        assert_eq!(production.pending_reviews[0].action, "current");
        assert_eq!(production.holds, vec!["p/app.yaml:1: app held: INC-1"]);
    }
}
