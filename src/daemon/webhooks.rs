//! The webhook endpoint: `POST /hooks/NAME` verifies a push notification with the hook's
//! shared secret, parses the registry's payload (`crate::webhooks`) and asks for an immediate
//! scan of the configured images it names.
//!
//! Nothing in a request is acted on before it is verified. The daemon mounts
//! [`router`] on its listener and receives [`ScanRequest`]s (`[images]` names and the pushed
//! tags) on the channel given to [`WebhookState::new`]; what a scan does with them is up to
//! the daemon.

use std::collections::{BTreeMap, BTreeSet, HashSet, VecDeque};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;
use tokio::sync::mpsc;

use crate::common::secret::{Secret, SecretFileError};
use crate::common::text::comma_list;
use crate::config::Config;
use crate::reference::ImageName;
use crate::webhooks::{
    Parsed, PushEvent, SIGNATURE_HEADER, Verification, VerifyError, WebhookConfig, WebhookKind,
    matches, parse, verify, verify_token,
};

/// Largest request body accepted; bigger ones get 413 without being read further.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// How long a client may take to send its body before the request is dropped (408).
pub const BODY_TIMEOUT: Duration = Duration::from_secs(30);

/// Headers that carry a sender's delivery id; a delivery seen before is a replay.
pub const DELIVERY_HEADERS: [&str; 4] = [
    "x-github-delivery",
    "x-gitea-delivery",
    "x-gitlab-event-uuid",
    "x-request-id",
];

/// How many recent delivery ids are remembered (per daemon, across hooks).
pub const REMEMBERED_DELIVERIES: usize = 4096;

/// Label value used for requests to hook names that are not configured, so that
/// probing random names cannot grow the metric without bound.
pub const UNKNOWN_HOOK_LABEL: &str = "_unknown";

/// Labels of `baton_webhook_requests_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct WebhookLabels {
    /// The hook's name, or [`UNKNOWN_HOOK_LABEL`].
    pub hook: String,
    /// `triggered`, `no_match`, `ignored`, `replayed`, `unauthorized`, `malformed`, `too_large`,
    /// `timeout`, `busy`, `unknown_hook` or `method_not_allowed`.
    pub outcome: String,
}

/// A verified push's request for a scan: the `[images]` name and the tags the push named
/// for it (none when the payload names no tag).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanRequest {
    /// The `[images]` name.
    pub image: String,
    /// The pushed tags: a registry may announce a push before it lists the tag, and the
    /// daemon lists again until it does.
    pub tags: Vec<String>,
}

/// Why the webhook configuration could not be put in force.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// A hook's secret file could not be read.
    #[error("webhook {hook}: {source}")]
    Secret {
        /// The hook's name.
        hook: String,
        /// What went wrong with the file.
        source: SecretFileError,
    },
}

/// One configured hook, ready to verify requests.
#[derive(Clone)]
struct Hook {
    kind: WebhookKind,
    secret: Secret,
    images: Option<BTreeSet<String>>,
    registry: Option<String>,
}

/// The hooks and images of one configuration.
struct Hooks {
    hooks: BTreeMap<String, Hook>,
    images: Vec<(String, ImageName)>,
}

impl Hooks {
    fn from_config(config: &Config) -> Result<Hooks, WebhookError> {
        let mut hooks = BTreeMap::new();
        for (name, hook) in &config.webhooks {
            hooks.insert(name.clone(), Hook::from_config(name, hook)?);
        }
        Ok(Hooks {
            hooks,
            images: images_of(config),
        })
    }
}

/// Every image a push may name: the `[images]` name and its repository.
fn images_of(config: &Config) -> Vec<(String, ImageName)> {
    config
        .images
        .iter()
        .map(|(name, image)| (name.clone(), image.repository.clone()))
        .collect()
}

impl Hook {
    fn from_config(name: &str, config: &WebhookConfig) -> Result<Hook, WebhookError> {
        let secret =
            Secret::from_file(&config.secret_file).map_err(|source| WebhookError::Secret {
                hook: name.to_string(),
                source,
            })?;
        Ok(Hook {
            kind: config.kind,
            secret,
            images: config.images.as_ref().map(|i| i.iter().cloned().collect()),
            registry: config.registry.clone(),
        })
    }

    /// The `[images]` names that `events` push to and this hook may trigger, in order.
    fn targets(&self, events: &[PushEvent], images: &[(String, ImageName)]) -> Vec<String> {
        images
            .iter()
            .filter(|(name, _)| {
                self.images
                    .as_ref()
                    .is_none_or(|allowed| allowed.contains(name))
            })
            .filter(|(_, image)| {
                events
                    .iter()
                    .any(|event| matches(event, self.registry.as_deref(), image))
            })
            .map(|(name, _)| name.clone())
            .collect()
    }

    /// The tags `events` name for the `[images]` name `name`, for its scan request.
    fn pushed_tags(
        &self,
        events: &[PushEvent],
        name: &str,
        images: &[(String, ImageName)],
    ) -> Vec<String> {
        let Some((_, image)) = images.iter().find(|(n, _)| n == name) else {
            return Vec::new();
        };
        let mut tags: Vec<String> = events
            .iter()
            .filter(|event| matches(event, self.registry.as_deref(), image))
            .filter_map(|event| event.tag.clone())
            .collect();
        tags.sort();
        tags.dedup();
        tags
    }
}

struct Inner {
    hooks: RwLock<Arc<Hooks>>,
    requests: Family<WebhookLabels, Counter>,
    triggers: mpsc::Sender<ScanRequest>,
    deliveries: Mutex<Deliveries>,
}

/// The most recent verified delivery ids, oldest first, to refuse replays.
#[derive(Default)]
struct Deliveries {
    order: VecDeque<String>,
    seen: HashSet<String>,
}

impl Deliveries {
    /// Remembers `id` (scoped by hook); false when it was already remembered.
    fn first_time(&mut self, id: String) -> bool {
        if self.seen.contains(&id) {
            return false;
        }
        if self.order.len() >= REMEMBERED_DELIVERIES
            && let Some(oldest) = self.order.pop_front()
        {
            self.seen.remove(&oldest);
        }
        self.seen.insert(id.clone());
        self.order.push_back(id);
        true
    }
}

/// The delivery id a request carries, scoped by hook, when it carries one.
fn delivery_id(hook: &str, headers: &HeaderMap) -> Option<String> {
    DELIVERY_HEADERS.iter().find_map(|name| {
        let value = headers.get(*name)?.to_str().ok()?.trim();
        (!value.is_empty() && value.len() <= 200).then(|| format!("{hook}\n{name}\n{value}"))
    })
}

/// What the webhook handlers share: the hooks in force, their counters and the channel
/// that asks the daemon for a scan. Cheap to clone.
#[derive(Clone)]
pub struct WebhookState {
    inner: Arc<Inner>,
}

impl WebhookState {
    /// Reads every hook's secret file and prepares the hooks of `config`. Each `[images]`
    /// name a verified push matches is sent on `triggers`; the daemon scans it.
    pub fn new(config: &Config, triggers: mpsc::Sender<ScanRequest>) -> Result<Self, WebhookError> {
        Self::with_counters(config, triggers, Family::default())
    }

    /// As [`WebhookState::new`], counting into `requests`: a family the daemon's metrics
    /// already own and export (as `webhook_requests`, with labels [`WebhookLabels`]).
    pub fn with_counters(
        config: &Config,
        triggers: mpsc::Sender<ScanRequest>,
        requests: Family<WebhookLabels, Counter>,
    ) -> Result<Self, WebhookError> {
        Ok(WebhookState {
            inner: Arc::new(Inner {
                hooks: RwLock::new(Arc::new(Hooks::from_config(config)?)),
                requests,
                triggers,
                deliveries: Mutex::default(),
            }),
        })
    }

    /// Puts the hooks of a reloaded `config` in force; on error the old ones stay.
    /// Counters are kept.
    pub fn reload(&self, config: &Config) -> Result<(), WebhookError> {
        let hooks = Arc::new(Hooks::from_config(config)?);
        match self.inner.hooks.write() {
            Ok(mut current) => *current = hooks,
            Err(poisoned) => *poisoned.into_inner() = hooks,
        }
        Ok(())
    }

    /// Keeps the hooks in force and matches pushes against the images of `config` from now
    /// on: the daemon's scan set, which grows and shrinks with the repositories' rules.
    pub fn set_images(&self, config: &Config) {
        let hooks = Arc::new(Hooks {
            hooks: self.hooks().hooks.clone(),
            images: images_of(config),
        });
        match self.inner.hooks.write() {
            Ok(mut current) => *current = hooks,
            Err(poisoned) => *poisoned.into_inner() = hooks,
        }
    }

    /// Names of the hooks in force, in order.
    pub fn hook_names(&self) -> Vec<String> {
        self.hooks().hooks.keys().cloned().collect()
    }

    /// Requests per hook and outcome (a handle onto the live counters).
    pub fn requests(&self) -> Family<WebhookLabels, Counter> {
        self.inner.requests.clone()
    }

    /// How many requests to `hook` ended with `outcome` so far.
    pub fn count(&self, hook: &str, outcome: &str) -> u64 {
        self.inner
            .requests
            .get_or_create(&WebhookLabels {
                hook: hook.to_string(),
                outcome: outcome.to_string(),
            })
            .get()
    }

    /// Registers the counters as `webhook_requests` (exported as
    /// `baton_webhook_requests_total` under the daemon's `baton` prefix).
    pub fn register_metrics(&self, registry: &mut Registry) {
        registry.register(
            "webhook_requests",
            "Webhook requests by hook and outcome",
            self.requests(),
        );
    }

    fn hooks(&self) -> Arc<Hooks> {
        match self.inner.hooks.read() {
            Ok(hooks) => hooks.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    fn record(&self, hook: &str, outcome: HookOutcome) {
        self.inner
            .requests
            .get_or_create(&WebhookLabels {
                hook: hook.to_string(),
                outcome: outcome.as_str().to_string(),
            })
            .inc();
    }
}

/// The router serving `POST /hooks/{name}`; merge it into the daemon's listener.
pub fn router(state: WebhookState) -> Router {
    Router::new()
        .route("/hooks/{name}", any(handle))
        .with_state(state)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HookOutcome {
    Triggered,
    NoMatch,
    Ignored,
    Replayed,
    Unauthorized,
    Malformed,
    TooLarge,
    Timeout,
    Busy,
    UnknownHook,
    MethodNotAllowed,
}

impl HookOutcome {
    fn as_str(self) -> &'static str {
        match self {
            HookOutcome::Triggered => "triggered",
            HookOutcome::NoMatch => "no_match",
            HookOutcome::Ignored => "ignored",
            HookOutcome::Replayed => "replayed",
            HookOutcome::Unauthorized => "unauthorized",
            HookOutcome::Malformed => "malformed",
            HookOutcome::TooLarge => "too_large",
            HookOutcome::Timeout => "timeout",
            HookOutcome::Busy => "busy",
            HookOutcome::UnknownHook => "unknown_hook",
            HookOutcome::MethodNotAllowed => "method_not_allowed",
        }
    }

    fn status(self) -> StatusCode {
        match self {
            HookOutcome::Triggered => StatusCode::ACCEPTED,
            HookOutcome::NoMatch | HookOutcome::Ignored | HookOutcome::Replayed => StatusCode::OK,
            HookOutcome::Unauthorized => StatusCode::UNAUTHORIZED,
            HookOutcome::Malformed => StatusCode::BAD_REQUEST,
            HookOutcome::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            HookOutcome::Timeout => StatusCode::REQUEST_TIMEOUT,
            HookOutcome::Busy => StatusCode::SERVICE_UNAVAILABLE,
            HookOutcome::UnknownHook => StatusCode::NOT_FOUND,
            HookOutcome::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
        }
    }
}

/// Counts the outcome and builds the JSON reply.
fn reply(
    state: &WebhookState,
    label: &str,
    outcome: HookOutcome,
    message: impl Into<String>,
    images: &[String],
) -> Response {
    state.record(label, outcome);
    let body = serde_json::json!({
        "outcome": outcome.as_str(),
        "message": message.into(),
        "images": images,
    });
    let mut response = (outcome.status(), axum::Json(body)).into_response();
    if outcome == HookOutcome::MethodNotAllowed {
        response
            .headers_mut()
            .insert(header::ALLOW, header::HeaderValue::from_static("POST"));
    }
    response
}

async fn handle(
    State(state): State<WebhookState>,
    Path(name): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let hooks = state.hooks();
    let Some(hook) = hooks.hooks.get(&name) else {
        tracing::debug!(hook = %name, "webhook request for an unknown hook");
        return reply(
            &state,
            UNKNOWN_HOOK_LABEL,
            HookOutcome::UnknownHook,
            "no such webhook: check the name against [webhooks] in the configuration",
            &[],
        );
    };
    let kind = hook.kind;
    if method != Method::POST {
        return reply(
            &state,
            &name,
            HookOutcome::MethodNotAllowed,
            "webhooks take POST",
            &[],
        );
    }
    // Senders verified by a token are checked before their body is read, so that a
    // stranger cannot make the daemon wait for (or buffer) a body at all.
    let unauthorized = |err: VerifyError| {
        tracing::warn!(hook = %name, %kind, reason = %err, "webhook request not verified: ignored");
        reply(
            &state,
            &name,
            HookOutcome::Unauthorized,
            err.to_string(),
            &[],
        )
    };
    let verification = kind.format().verification();
    let signed = verification == Verification::Signature || headers.contains_key(SIGNATURE_HEADER);
    if !signed && let Err(err) = verify_token(&hook.secret, &headers, uri.query()) {
        return unauthorized(err);
    }
    if verification == Verification::Signature && !headers.contains_key(SIGNATURE_HEADER) {
        return unauthorized(VerifyError::MissingSignature);
    }
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let too_large = format!("the body is larger than {MAX_BODY_BYTES} bytes");
    if declared.is_some_and(|len| len > MAX_BODY_BYTES as u64) {
        tracing::warn!(hook = %name, %kind, "webhook body too large");
        return reply(&state, &name, HookOutcome::TooLarge, too_large, &[]);
    }
    let read = tokio::time::timeout(BODY_TIMEOUT, Limited::new(body, MAX_BODY_BYTES).collect());
    let bytes = match read.await {
        Ok(Ok(collected)) => collected.to_bytes(),
        Ok(Err(err)) if err.downcast_ref::<LengthLimitError>().is_some() => {
            tracing::warn!(hook = %name, %kind, "webhook body too large");
            return reply(&state, &name, HookOutcome::TooLarge, too_large, &[]);
        }
        Ok(Err(err)) => {
            tracing::warn!(hook = %name, %kind, error = %err, "cannot read webhook body");
            return reply(
                &state,
                &name,
                HookOutcome::Malformed,
                "the body could not be read",
                &[],
            );
        }
        Err(_) => {
            tracing::warn!(hook = %name, %kind, "webhook body not received in time");
            return reply(
                &state,
                &name,
                HookOutcome::Timeout,
                "the body was not received in time",
                &[],
            );
        }
    };
    if let Err(err) = verify(kind, &hook.secret, &headers, uri.query(), &bytes) {
        return unauthorized(err);
    }
    if let Some(id) = delivery_id(&name, &headers) {
        let first = state
            .inner
            .deliveries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .first_time(id);
        if !first {
            tracing::info!(hook = %name, %kind, "webhook delivery already received: ignored");
            return reply(
                &state,
                &name,
                HookOutcome::Replayed,
                "this delivery was already received: nothing to do",
                &[],
            );
        }
    }
    let events = match parse(kind, &headers, &bytes) {
        Ok(Parsed::Pushes(events)) => events,
        Ok(Parsed::Ignored(what)) => {
            tracing::debug!(hook = %name, %kind, event = %what, "webhook event is not a push: nothing to do");
            return reply(
                &state,
                &name,
                HookOutcome::Ignored,
                format!("{what}: nothing to do"),
                &[],
            );
        }
        Err(err) => {
            tracing::warn!(hook = %name, %kind, error = %err, "malformed webhook payload");
            return reply(&state, &name, HookOutcome::Malformed, err.to_string(), &[]);
        }
    };
    let targets = hook.targets(&events, &hooks.images);
    if targets.is_empty() {
        tracing::info!(hook = %name, %kind, pushed = %comma_list(&events), "webhook push matches no image this hook may trigger");
        return reply(
            &state,
            &name,
            HookOutcome::NoMatch,
            "no configured image matches the push",
            &[],
        );
    }
    let mut refused = None;
    for image in &targets {
        let request = ScanRequest {
            image: image.clone(),
            tags: hook.pushed_tags(&events, image, &hooks.images),
        };
        if let Err(err) = state.inner.triggers.try_send(request) {
            refused = Some(match err {
                mpsc::error::TrySendError::Full(_) => "the scan queue is full: retry later",
                mpsc::error::TrySendError::Closed(_) => "the daemon is shutting down",
            });
        }
    }
    if let Some(why) = refused {
        tracing::warn!(hook = %name, %kind, images = %comma_list(&targets), reason = why, "webhook scan could not be queued");
        return reply(&state, &name, HookOutcome::Busy, why, &[]);
    }
    tracing::info!(hook = %name, %kind, pushed = %comma_list(&events), images = %comma_list(&targets), "webhook push: scanning now");
    reply(
        &state,
        &name,
        HookOutcome::Triggered,
        "scan requested",
        &targets,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(name: &str) -> ImageName {
        ImageName::parse(name).unwrap()
    }

    fn push(host: Option<&str>, repository: &str, tag: Option<&str>) -> PushEvent {
        PushEvent {
            host: host.map(str::to_string),
            repository: repository.to_string(),
            tag: tag.map(str::to_string),
        }
    }

    #[test]
    fn hooks_trigger_only_allowed_images() {
        let images = vec![
            ("api".to_string(), image("ghcr.io/example/checkout-api")),
            (
                "api-mirror".to_string(),
                image("ghcr.io/example/checkout-api"),
            ),
            ("web".to_string(), image("quay.io/shop/web")),
        ];
        let mut hook = Hook {
            kind: WebhookKind::GitHub,
            secret: Secret::new("s"),
            images: None,
            registry: None,
        };
        let events = [push(Some("ghcr.io"), "example/checkout-api", Some("1.0.0"))];
        assert_eq!(hook.targets(&events, &images), ["api", "api-mirror"]);
        hook.images = Some(["api-mirror".to_string(), "web".to_string()].into());
        assert_eq!(hook.targets(&events, &images), ["api-mirror"]);
        let both = [
            push(Some("quay.io"), "shop/web", Some("2")),
            push(Some("ghcr.io"), "example/checkout-api", Some("1.0.0")),
        ];
        assert_eq!(hook.targets(&both, &images), ["api-mirror", "web"]);
        assert!(hook.targets(&[], &images).is_empty());
    }
}
