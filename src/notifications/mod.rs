//! Notifications: after a commit, a push failure, an opened review or a repeated scan
//! failure, a message goes to the configured sinks (`[notifications.NAME]`): a generic JSON
//! webhook, Slack or Microsoft Teams incoming webhooks, or a Matrix room.
//!
//! [`Notifier::send`] never blocks and never fails: each sink has a bounded queue and a
//! background task that keeps its rate limit, times requests out, retries network errors
//! and 5xx with backoff, honours 429 `Retry-After`, and logs and counts what it could not
//! deliver. A dead sink costs the pipeline nothing but dropped messages.
//!
//! ```no_run
//! # async fn example(config: &baton::config::Config, report: &baton::pass::PassReport) {
//! use baton::notifications::{Notifier, NotifierOptions, ScanFailures};
//! use baton::pass::{events_from_report, scan_failures};
//! let (notifier, problems) = Notifier::start(&config.notifications, NotifierOptions::default());
//! for problem in &problems {
//!     tracing::error!(error = %problem, "notification sink disabled");
//! }
//! let mut failures = ScanFailures::new();
//! notifier.send_all(events_from_report(report));
//! notifier.send_all(scan_failures(&mut failures, report));
//! let stats = notifier.shutdown(std::time::Duration::from_secs(5)).await;
//! # }
//! ```

mod config;
mod event;
mod kind;
mod limit;
mod render;
mod sink;

mod matrix;
mod slack;
mod teams;
mod webhook;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TrySendError;

use crate::common::template::TemplateError;
use crate::common::text::comma_list;

pub use config::NotificationConfig;
pub use event::{Event, EventKind, ScanFailures};
pub use kind::{Endpoint, NotificationTarget, SecretFile, Settings, Sink};
pub use limit::{Message, Outbox, Queued, RateLimiter, WINDOW};
pub use render::{Composed, SCHEMA_VERSION, Template, compose, payload, sample};

use crate::common::kind::named_kinds;
use sink::{Counters, Target, Worker};

named_kinds! {
    /// The kinds of sink, as named in `notifications.NAME.kind`, each with its [`Sink`]:
    /// registering a kind here is all the rest of Baton needs.
    pub enum SinkKind: "a sink kind", fn sink -> dyn Sink {
        /// A generic JSON webhook (POST, Baton's own schema).
        Webhook = "webhook" => webhook::Webhook,
        /// A Slack incoming webhook (`text` and blocks).
        Slack = "slack" => slack::Slack,
        /// A Microsoft Teams incoming webhook or Workflows trigger (an Adaptive Card).
        Teams = "teams" => teams::Teams,
        /// A Matrix room, through the client-server API.
        Matrix = "matrix" => matrix::Matrix,
    }
}

/// Process-wide delivery settings; the defaults suit production, tests shorten them.
#[derive(Debug, Clone)]
pub struct NotifierOptions {
    /// Events queued per sink before [`Notifier::send`] drops (and counts) new ones.
    pub queue_capacity: usize,
    /// Events a sink holds back for its rate limit before dropping (and counting) more.
    pub max_held: usize,
    /// First retry delay; doubled per retry, with jitter.
    pub backoff_base: Duration,
    /// Longest retry delay.
    pub max_backoff: Duration,
    /// Longest `Retry-After` honoured; a sink asking for more loses that message.
    pub max_retry_after: Duration,
    /// Deadline for connecting to a sink.
    pub connect_timeout: Duration,
}

impl Default for NotifierOptions {
    fn default() -> Self {
        NotifierOptions {
            queue_capacity: 64,
            max_held: 100,
            backoff_base: Duration::from_secs(1),
            max_backoff: Duration::from_secs(60),
            max_retry_after: Duration::from_secs(300),
            connect_timeout: Duration::from_secs(5),
        }
    }
}

/// What one sink did so far. Counters only grow, except `pending`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SinkStats {
    /// The `[notifications]` name.
    pub name: String,
    /// Its kind.
    pub kind: SinkKind,
    /// Events taken into its queue.
    pub accepted: u64,
    /// Messages delivered (a summary counts once).
    pub sent: u64,
    /// Messages given up on after retries, or refused by the sink.
    pub failed: u64,
    /// Events dropped: queue full, too many held back, or unsent at shutdown.
    pub dropped: u64,
    /// Events delivered inside rate-limit summaries.
    pub coalesced: u64,
    /// Retried requests.
    pub retries: u64,
    /// Events accepted and not yet delivered, failed or dropped.
    pub pending: u64,
    /// Events held back by the rate limit right now (part of `pending`).
    pub held: u64,
}

/// A sink could not be set up; it is left out and the others run.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// A secret file could not be read.
    #[error(
        "notifications.{sink}.{key}: cannot read {}: {source}: check the path and that baton may read it",
        path.display()
    )]
    ReadSecret {
        /// The sink's name.
        sink: String,
        /// `url_file` or `token_file`.
        key: &'static str,
        /// The file.
        path: PathBuf,
        /// Why it could not be read.
        source: std::io::Error,
    },
    /// A secret file is empty.
    #[error("notifications.{sink}.{key}: {} is empty: put the {what} in it", path.display())]
    EmptySecret {
        /// The sink's name.
        sink: String,
        /// `url_file` or `token_file`.
        key: &'static str,
        /// The file.
        path: PathBuf,
        /// What belongs in it.
        what: &'static str,
    },
    /// The secret file's content is not usable (it is not repeated here).
    #[error("notifications.{sink}.{key}: {} {why}", path.display())]
    BadSecret {
        /// The sink's name.
        sink: String,
        /// `url_file` or `token_file`.
        key: &'static str,
        /// The file.
        path: PathBuf,
        /// What is wrong and what to do, from the kind's [`Sink::endpoint`].
        why: String,
    },
    /// The template does not compile (the configuration check normally catches this).
    #[error("notifications.{sink}.template: {source}")]
    Template {
        /// The sink's name.
        sink: String,
        /// What is wrong with it.
        source: TemplateError,
    },
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client for notifications: {0}")]
    Client(String),
    /// [`Notifier::start`] was called outside a tokio runtime.
    #[error("notifications need a tokio runtime: call Notifier::start from async code")]
    NoRuntime,
}

struct SinkHandle {
    name: String,
    kind: SinkKind,
    events: Vec<EventKind>,
    scan_failing_after: u32,
    queue: mpsc::Sender<Queued>,
    counters: Arc<Counters>,
    task: tokio::task::JoinHandle<()>,
}

impl SinkHandle {
    fn wants(&self, event: &Event) -> bool {
        sink::wants(&self.events, self.scan_failing_after, event)
    }
}

/// Sends events to every configured sink that subscribes to them. Dropping it closes the
/// queues: each sink then sends what it holds and its task ends on its own; call
/// [`Notifier::shutdown`] to wait for that.
pub struct Notifier {
    sinks: Vec<SinkHandle>,
}

impl std::fmt::Debug for Notifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.sinks.iter().map(|s| (&s.name, s.kind)))
            .finish()
    }
}

fn read_secret(
    sink: &str,
    key: &'static str,
    path: &Path,
    what: &'static str,
) -> Result<String, NotifyError> {
    let text = std::fs::read_to_string(path).map_err(|source| NotifyError::ReadSecret {
        sink: sink.to_string(),
        key,
        path: path.to_path_buf(),
        source,
    })?;
    let text = text.trim();
    if text.is_empty() {
        return Err(NotifyError::EmptySecret {
            sink: sink.to_string(),
            key,
            path: path.to_path_buf(),
            what,
        });
    }
    Ok(text.to_string())
}

fn target(name: &str, config: &NotificationConfig) -> Result<Target, NotifyError> {
    let target = &config.target;
    let secret_file = target.kind.sink().secret();
    let secret = read_secret(
        name,
        secret_file.key,
        &target.secret_file,
        secret_file.holds,
    )?;
    Target::new(target.kind, secret, target.settings.clone()).map_err(|why| {
        NotifyError::BadSecret {
            sink: name.to_string(),
            key: secret_file.key,
            path: target.secret_file.clone(),
            why,
        }
    })
}

impl Notifier {
    /// Starts one background task per sink in `notifications` (the configuration's
    /// `[notifications]` sections). Sinks that cannot be set up (a secret file missing,
    /// say) are left out and reported; the others run. Call from within a tokio runtime.
    #[must_use]
    pub fn start(
        notifications: &BTreeMap<String, NotificationConfig>,
        options: NotifierOptions,
    ) -> (Notifier, Vec<NotifyError>) {
        let mut problems = Vec::new();
        if notifications.is_empty() {
            return (Notifier::disabled(), problems);
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return (Notifier::disabled(), vec![NotifyError::NoRuntime]);
        };
        let http = match crate::common::http::client_builder()
            .connect_timeout(options.connect_timeout)
            .build()
        {
            Ok(http) => http,
            Err(err) => {
                return (
                    Notifier::disabled(),
                    vec![NotifyError::Client(err.without_url().to_string())],
                );
            }
        };
        let started = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0);
        let mut sinks = Vec::new();
        for (name, config) in notifications {
            let built = target(name, config).and_then(|target| {
                let template = match &config.template {
                    Some(source) => Some(Template::new(source.clone(), &config.events).map_err(
                        |source| NotifyError::Template {
                            sink: name.clone(),
                            source,
                        },
                    )?),
                    None => None,
                };
                Ok((target, template))
            });
            let (target, template) = match built {
                Ok(parts) => parts,
                Err(err) => {
                    problems.push(err);
                    continue;
                }
            };
            let kind = config.target.kind;
            let counters = Arc::new(Counters::default());
            let (queue, receiver) = mpsc::channel(options.queue_capacity.max(1));
            tracing::info!(sink = %name, kind = %kind, host = %target.host(), events = %comma_list(&config.events), max_per_minute = config.max_per_minute, "notification sink ready");
            let worker = Worker {
                name: name.clone(),
                kind,
                target,
                template,
                max_per_minute: config.max_per_minute,
                timeout: config.timeout,
                retries: config.retries,
                options: options.clone(),
                http: http.clone(),
                counters: counters.clone(),
                txn_prefix: format!("baton{}x{started}x{}", std::process::id(), sinks.len()),
                txn_counter: AtomicU64::new(0),
            };
            let task = runtime.spawn(worker.run(receiver));
            sinks.push(SinkHandle {
                name: name.clone(),
                kind,
                events: config.events.clone(),
                scan_failing_after: config.scan_failing_after,
                queue,
                counters,
                task,
            });
        }
        (Notifier { sinks }, problems)
    }

    /// A notifier with no sinks: `send` does nothing.
    pub fn disabled() -> Notifier {
        Notifier { sinks: Vec::new() }
    }

    /// True when no sink is configured (or none could be set up).
    pub fn is_empty(&self) -> bool {
        self.sinks.is_empty()
    }

    /// Queues `event` for every sink that subscribes to it, and returns at once. An event
    /// a sink's full queue cannot take is dropped, logged and counted.
    pub fn send(&self, event: Event) {
        let at = jiff::Timestamp::now();
        for sink in self.sinks.iter().filter(|s| s.wants(&event)) {
            let counters = &sink.counters;
            counters.in_flight.fetch_add(1, Ordering::Relaxed);
            let queued = Queued {
                event: event.clone(),
                at,
            };
            match sink.queue.try_send(queued) {
                Ok(()) => {
                    counters.accepted.fetch_add(1, Ordering::Relaxed);
                }
                Err(err) => {
                    let _ = counters.in_flight.fetch_update(
                        Ordering::Relaxed,
                        Ordering::Relaxed,
                        |n| Some(n.saturating_sub(1)),
                    );
                    counters.dropped.fetch_add(1, Ordering::Relaxed);
                    let why = match err {
                        TrySendError::Full(_) => "the sink's queue is full",
                        TrySendError::Closed(_) => "the sink has stopped",
                    };
                    tracing::warn!(sink = %sink.name, kind = %sink.kind, event = %event.kind(), reason = why, "notification dropped");
                }
            }
        }
    }

    /// [`Notifier::send`] for each event, in order.
    pub fn send_all(&self, events: impl IntoIterator<Item = Event>) {
        for event in events {
            self.send(event);
        }
    }

    /// Each sink's counters, in name order (for metrics and status).
    pub fn stats(&self) -> Vec<SinkStats> {
        self.sinks
            .iter()
            .map(|s| s.counters.snapshot(&s.name, s.kind))
            .collect()
    }

    /// Closes the queues, lets every sink send what it holds (held events as one summary,
    /// whatever the rate limit), and waits up to `deadline` in all. Sinks still busy then
    /// are stopped and their unsent events counted as dropped. Returns the final counters.
    pub async fn shutdown(self, deadline: Duration) -> Vec<SinkStats> {
        let until = tokio::time::Instant::now() + deadline;
        let mut out = Vec::new();
        let mut waiting = Vec::new();
        for sink in self.sinks {
            drop(sink.queue);
            waiting.push((sink.name, sink.kind, sink.counters, sink.task));
        }
        for (name, kind, counters, mut task) in waiting {
            if tokio::time::timeout_at(until, &mut task).await.is_err() {
                task.abort();
                let lost = counters.in_flight.swap(0, Ordering::Relaxed);
                counters.dropped.fetch_add(lost, Ordering::Relaxed);
                tracing::warn!(sink = %name, kind = %kind, dropped = lost, "notification sink did not finish before the shutdown deadline");
            }
            out.push(counters.snapshot(&name, kind));
        }
        out
    }
}
