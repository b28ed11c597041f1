//! One sink's delivery: a background task that takes events from a bounded queue, keeps
//! the rate limit, and posts each message with a timeout, retrying network errors and 5xx
//! with backoff and honouring 429 `Retry-After`. Failures are logged and counted, never
//! returned: nothing here can hold up or fail a pass.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

/// Largest error reply read from a sink; only its first 200 characters are shown.
const MAX_ERROR_REPLY: usize = 64 * 1024;

use tokio::sync::mpsc;
use tokio::time::Instant;

use super::kind::{Endpoint, Settings};
use super::limit::{Message, Outbox, Queued};
use super::render::{Composed, Template, compose, payload};
use super::{EventKind, NotifierOptions, SinkKind, SinkStats};
use crate::common::backoff::Backoff;
use crate::common::http::parse_retry_after;
use crate::common::text::with_causes;

/// Where a sink's messages go: its kind, the secret read from its file and its settings.
/// Its Debug output names the kind and host only: webhook URLs embed tokens.
pub(super) struct Target {
    kind: SinkKind,
    secret: String,
    settings: Settings,
    host: String,
}

impl Target {
    /// Checks that the kind can address a message with this secret and these settings.
    pub(super) fn new(
        kind: SinkKind,
        secret: String,
        settings: Settings,
    ) -> Result<Target, String> {
        let endpoint = kind.sink().endpoint(&secret, &settings, "0")?;
        let host = match (endpoint.url.host_str(), endpoint.url.port()) {
            (Some(host), Some(port)) => format!("{host}:{port}"),
            (Some(host), None) => host.to_string(),
            (None, _) => "-".to_string(),
        };
        Ok(Target {
            kind,
            secret,
            settings,
            host,
        })
    }

    /// The host messages go to, safe to log.
    pub(super) fn host(&self) -> &str {
        &self.host
    }

    /// Where the message with transaction id `txn` goes.
    fn endpoint(&self, txn: &str) -> Result<Endpoint, String> {
        self.kind.sink().endpoint(&self.secret, &self.settings, txn)
    }

    /// Strings that must never reach a log line: the secret, and when it is a URL, its
    /// normal form, path and query (Slack: /services/T/B/SECRET).
    fn secrets(&self) -> Vec<String> {
        let mut out = vec![self.secret.clone()];
        if let Ok(url) = url::Url::parse(&self.secret) {
            out.push(url.as_str().to_string());
            let path = url.path();
            if path.len() > 1 {
                out.push(path.to_string());
            }
            if let Some(query) = url.query() {
                out.push(query.to_string());
            }
        }
        out
    }
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Target")
            .field("kind", &self.kind.as_str())
            .field("host", &self.host)
            .finish_non_exhaustive()
    }
}

/// Counters shared between a sink's task and the notifier.
#[derive(Debug, Default)]
pub(super) struct Counters {
    pub accepted: AtomicU64,
    pub sent: AtomicU64,
    pub failed: AtomicU64,
    pub dropped: AtomicU64,
    pub coalesced: AtomicU64,
    pub retries: AtomicU64,
    /// Events accepted and not yet delivered, failed or dropped.
    pub in_flight: AtomicU64,
    /// Events the sink's task holds back for the rate limit right now.
    pub held: AtomicU64,
}

impl Counters {
    pub(super) fn snapshot(&self, name: &str, kind: SinkKind) -> SinkStats {
        SinkStats {
            name: name.to_string(),
            kind,
            accepted: self.accepted.load(Ordering::Relaxed),
            sent: self.sent.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
            coalesced: self.coalesced.load(Ordering::Relaxed),
            retries: self.retries.load(Ordering::Relaxed),
            pending: self.in_flight.load(Ordering::Relaxed),
            held: self.held.load(Ordering::Relaxed),
        }
    }
}

/// Everything a sink's task needs.
pub(super) struct Worker {
    pub name: String,
    pub kind: SinkKind,
    pub target: Target,
    pub template: Option<Template>,
    pub max_per_minute: u32,
    pub timeout: Duration,
    pub retries: u32,
    pub options: NotifierOptions,
    pub http: reqwest::Client,
    pub counters: Arc<Counters>,
    /// Prefix of Matrix transaction ids, unique per process start.
    pub txn_prefix: String,
    pub txn_counter: AtomicU64,
}

/// How one attempt ended, when it did not succeed.
enum Failure {
    /// Worth another try, after `retry_after` when the sink said so.
    Transient {
        reason: String,
        status: Option<u16>,
        retry_after: Option<Duration>,
    },
    /// Trying again would not help.
    Permanent { reason: String, status: Option<u16> },
}

impl Worker {
    /// Runs until the queue is closed, then sends what is left as one message.
    pub(super) async fn run(self, mut queue: mpsc::Receiver<Queued>) {
        let mut outbox = Outbox::new(self.max_per_minute, self.options.max_held);
        let mut open = true;
        loop {
            while let Some(message) = outbox.next(Instant::now()) {
                self.deliver(&message).await;
            }
            self.counters.held.store(outbox.held(), Ordering::Relaxed);
            if !open {
                break;
            }
            let wake = outbox.wake_at(Instant::now());
            tokio::select! {
                received = queue.recv() => match received {
                    Some(event) => self.hold(&mut outbox, event),
                    None => open = false,
                },
                _ = sleep_until(wake), if wake.is_some() => {}
            }
            // Take a burst in whole, so that the rate limit sees all of it.
            while let Ok(event) = queue.try_recv() {
                self.hold(&mut outbox, event);
            }
            self.counters.held.store(outbox.held(), Ordering::Relaxed);
        }
        if let Some(message) = outbox.take_all() {
            tracing::debug!(sink = %self.name, events = message.event_count(), "notification queue closed: sending what is left");
            self.deliver(&message).await;
        }
    }

    fn hold(&self, outbox: &mut Outbox, event: Queued) {
        let kind = event.event.kind();
        if !outbox.push(event) {
            self.counters.dropped.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(
                sink = %self.name,
                kind = %self.kind,
                event = %kind,
                held = self.options.max_held,
                "notification dropped: too many held back by the rate limit"
            );
        }
    }

    async fn deliver(&self, message: &Message) {
        let (composed, template_errors) = compose(
            message,
            self.template.as_ref(),
            self.max_per_minute,
            jiff::Timestamp::now(),
        );
        for err in template_errors {
            tracing::warn!(sink = %self.name, error = %err, "notification template failed: sent the default text");
        }
        let events = message.event_count();
        let delivered = self.post_with_retries(&composed).await;
        let counters = &self.counters;
        if delivered {
            counters.sent.fetch_add(1, Ordering::Relaxed);
            if let Message::Summary { events: held, .. } = message {
                counters
                    .coalesced
                    .fetch_add(held.len() as u64, Ordering::Relaxed);
            }
        } else {
            counters.failed.fetch_add(1, Ordering::Relaxed);
        }
        let _ = counters
            .in_flight
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                Some(n.saturating_sub(events))
            });
    }

    /// Posts until it succeeds or there is no point going on; true when delivered.
    async fn post_with_retries(&self, composed: &Composed) -> bool {
        let body = payload(self.kind, composed);
        // One transaction id per message: a retry after a lost reply is not a duplicate.
        let txn = format!(
            "{}-{}",
            self.txn_prefix,
            self.txn_counter.fetch_add(1, Ordering::Relaxed)
        );
        let host = self.target.host();
        let mut attempt: u32 = 0;
        loop {
            attempt += 1;
            let failure = match self.attempt(&body, &txn).await {
                Ok(status) => {
                    tracing::info!(sink = %self.name, kind = %self.kind, host = %host, event = %composed.event, status, attempt, "notification sent");
                    return true;
                }
                Err(failure) => failure,
            };
            let (reason, status, retry_after) = match failure {
                Failure::Permanent { reason, status } => {
                    tracing::warn!(sink = %self.name, kind = %self.kind, host = %host, event = %composed.event, status, attempt, error = %reason, "notification failed: not retrying");
                    return false;
                }
                Failure::Transient {
                    reason,
                    status,
                    retry_after,
                } => (reason, status, retry_after),
            };
            if attempt > self.retries {
                tracing::warn!(sink = %self.name, kind = %self.kind, host = %host, event = %composed.event, status, attempts = attempt, error = %reason, "notification failed: giving up after retries");
                return false;
            }
            let delay = match retry_after {
                Some(wait) if wait > self.options.max_retry_after => {
                    tracing::warn!(sink = %self.name, kind = %self.kind, host = %host, event = %composed.event, status, retry_after_s = wait.as_secs(), max_retry_after_s = self.options.max_retry_after.as_secs(), "notification failed: the sink asks to wait longer than baton waits");
                    return false;
                }
                Some(wait) => wait,
                None => self.backoff(attempt),
            };
            self.counters.retries.fetch_add(1, Ordering::Relaxed);
            tracing::info!(sink = %self.name, kind = %self.kind, host = %host, event = %composed.event, status, attempt, delay_ms = delay.as_millis() as u64, error = %reason, "notification failed: retrying");
            tokio::time::sleep(delay).await;
        }
    }

    fn backoff(&self, attempt: u32) -> Duration {
        Backoff::new(self.options.backoff_base, self.options.max_backoff).delay(attempt)
    }

    async fn attempt(&self, body: &serde_json::Value, txn: &str) -> Result<u16, Failure> {
        let endpoint = self
            .target
            .endpoint(txn)
            .map_err(|reason| Failure::Permanent {
                reason,
                status: None,
            })?;
        let mut request = self.http.request(endpoint.method, endpoint.url);
        if let Some(token) = &endpoint.bearer {
            request = request.bearer_auth(token);
        }
        let response = request
            .timeout(self.timeout)
            .json(body)
            .send()
            .await
            .map_err(|err| Failure::Transient {
                reason: self.redact(&error_chain(err)),
                status: None,
                retry_after: None,
            })?;
        let status = response.status();
        let code = status.as_u16();
        if status.is_success() {
            return Ok(code);
        }
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, SystemTime::now()));
        // Only the start of an error reply is shown: read at most 64 KiB of it.
        let text = tokio::time::timeout(
            self.timeout,
            crate::common::http::read_bounded(response, MAX_ERROR_REPLY),
        )
        .await
        .ok()
        .and_then(Result::ok)
        .flatten()
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        .unwrap_or_default();
        let snippet: String = text
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .chars()
            .take(200)
            .collect();
        let reason = self.redact(&if snippet.is_empty() {
            format!("the sink answered {status}")
        } else {
            format!("the sink answered {status}: {snippet}")
        });
        if code == 429 || code == 408 || status.is_server_error() {
            Err(Failure::Transient {
                reason,
                status: Some(code),
                retry_after,
            })
        } else if status.is_redirection() {
            Err(Failure::Permanent {
                reason: format!("{reason}; configure the final URL, redirects are not followed"),
                status: Some(code),
            })
        } else {
            Err(Failure::Permanent {
                reason,
                status: Some(code),
            })
        }
    }

    /// Replaces any secret in `text` (an echo from the sink, an error) with `[redacted]`.
    fn redact(&self, text: &str) -> String {
        let mut out = text.to_string();
        for secret in self.target.secrets() {
            if !secret.is_empty() {
                out = out.replace(&secret, "[redacted]");
            }
        }
        out
    }
}

async fn sleep_until(wake: Option<Instant>) {
    match wake {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// An error with its causes, without the request URL (which may carry a token).
fn error_chain(err: reqwest::Error) -> String {
    let err = err.without_url();
    let head = if err.is_timeout() {
        "the request timed out".to_string()
    } else if err.is_connect() {
        "cannot connect".to_string()
    } else {
        err.to_string()
    };
    with_causes(head, &err)
}

/// True when a sink with these settings wants `event`.
pub(super) fn wants(
    events: &[EventKind],
    scan_failing_after: u32,
    event: &super::event::Event,
) -> bool {
    if !events.contains(&event.kind()) {
        return false;
    }
    match event {
        super::event::Event::ScanFailing {
            consecutive_failures,
            ..
        } => *consecutive_failures == scan_failing_after,
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_names_the_host_only() {
        let target = Target::new(
            SinkKind::Slack,
            "https://hooks.slack.com/services/T0/B0/s3cr3t".into(),
            Settings::new(),
        )
        .unwrap();
        let text = format!("{target:?}");
        assert_eq!(
            text,
            "Target { kind: \"slack\", host: \"hooks.slack.com\", .. }"
        );
        assert!(
            target
                .secrets()
                .contains(&"/services/T0/B0/s3cr3t".to_string())
        );
        let target = Target::new(
            SinkKind::Matrix,
            "syt_secret".into(),
            Settings::from([
                ("homeserver", "http://127.0.0.1:8008/".to_string()),
                ("room_id", "!r:x".to_string()),
            ]),
        )
        .unwrap();
        assert!(!format!("{target:?}").contains("syt_secret"));
        assert_eq!(target.host(), "127.0.0.1:8008");
    }

    #[test]
    fn scan_failures_reach_a_sink_once_per_streak() {
        use super::super::event::Event;
        let scan = |n| Event::ScanFailing {
            image: "app".into(),
            error: "x".into(),
            consecutive_failures: n,
        };
        let all = EventKind::ALL;
        assert!(!wants(&all, 3, &scan(2)));
        assert!(wants(&all, 3, &scan(3)));
        assert!(!wants(&all, 3, &scan(4)));
        assert!(!wants(&[EventKind::Commit], 1, &scan(1)));
    }
}
