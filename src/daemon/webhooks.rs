//! Registry webhooks: `POST /hooks/NAME` verifies a push notification with the hook's
//! shared secret, parses the registry's payload and asks for an immediate scan of the
//! configured images it names.
//!
//! Nothing in a request is acted on before it is verified. The daemon mounts
//! [`router`] on its listener and receives `[images]` names on the channel given to
//! [`WebhookState::new`]; what a scan does with them is up to the daemon.

use std::collections::{BTreeMap, BTreeSet, HashSet, VecDeque};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
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
use ring::hmac;
use serde_json::Value;
use tokio::sync::mpsc;

use crate::common::secret::{Secret, SecretFileError};
use crate::config::Config;
use crate::reference::{self, ImageName, Reference};
use crate::webhooks::{WebhookConfig, WebhookKind};

/// Largest request body accepted; bigger ones get 413 without being read further.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// How long a client may take to send its body before the request is dropped (408).
pub const BODY_TIMEOUT: Duration = Duration::from_secs(30);

/// Header carrying GitHub's HMAC-SHA256 signature: `sha256=` and 64 hex digits.
pub const SIGNATURE_HEADER: &str = "x-hub-signature-256";

/// Header that may carry the token for token-verified kinds.
pub const TOKEN_HEADER: &str = "x-baton-token";

/// Query parameter that may carry the token, for senders that cannot set headers.
pub const TOKEN_QUERY: &str = "token";

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

// ---------------------------------------------------------------------------------------
// Payloads

/// One image push read from a webhook payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushEvent {
    /// Registry host named by the payload, when it names one.
    pub host: Option<String>,
    /// Repository path inside the registry, as the payload wrote it.
    pub repository: String,
    /// The pushed tag, when the payload names a valid one.
    pub tag: Option<String>,
}

/// What a verified payload asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    /// Pushes to act on.
    Pushes(Vec<PushEvent>),
    /// A well-formed event that is not a push (a ping, a pull, a deletion): nothing to do.
    Ignored(String),
}

/// Why a payload could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// The body is not JSON.
    #[error("the body is not JSON ({0}): send the registry's JSON payload unchanged")]
    Json(String),
    /// A field the format requires is absent or empty.
    #[error("the payload has no {field}: check that the hook's kind ({kind}) matches the sender")]
    Missing {
        /// The hook's kind.
        kind: WebhookKind,
        /// Dotted path of the missing field.
        field: &'static str,
    },
    /// The generic format names something that is not an image name.
    #[error("{0}")]
    Name(#[from] reference::NameError),
}

/// Reads the push events out of a payload of `kind`. `headers` matter for GitHub, whose
/// event type travels in `X-GitHub-Event` and whose default content type,
/// `application/x-www-form-urlencoded`, carries the JSON in a `payload` field.
pub fn parse(kind: WebhookKind, headers: &HeaderMap, body: &[u8]) -> Result<Parsed, ParseError> {
    let form_encoded = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim_start()
                .starts_with("application/x-www-form-urlencoded")
        });
    let form_payload = if kind == WebhookKind::GitHub && form_encoded {
        let payload = url::form_urlencoded::parse(body)
            .find(|(key, _)| key == "payload")
            .map(|(_, value)| value.into_owned());
        Some(payload.ok_or(ParseError::Missing {
            kind,
            field: "payload form field",
        })?)
    } else {
        None
    };
    let body = form_payload.as_ref().map_or(body, |p| p.as_bytes());
    let value: Value =
        serde_json::from_slice(body).map_err(|err| ParseError::Json(json_error(&err)))?;
    if !value.is_object() {
        return Err(ParseError::Json("expected a JSON object".to_string()));
    }
    let missing = |field| ParseError::Missing { kind, field };
    match kind {
        WebhookKind::DockerHub => parse_dockerhub(&value, missing),
        WebhookKind::GitHub => parse_github(&value, headers, missing),
        WebhookKind::Harbor => parse_harbor(&value, missing),
        WebhookKind::Quay => parse_quay(&value, missing),
        WebhookKind::GitLab | WebhookKind::Distribution => parse_distribution(&value, missing),
        WebhookKind::Generic => parse_generic(&value, missing),
    }
}

/// serde_json's message without any of the body's content (it only names positions).
fn json_error(err: &serde_json::Error) -> String {
    format!(
        "{:?} error at line {} column {}",
        err.classify(),
        err.line(),
        err.column()
    )
    .to_lowercase()
}

/// The non-empty, trimmed string at `path`.
fn text_at<'a>(value: &'a Value, path: &[&str]) -> Option<&'a str> {
    let mut current = value;
    for key in path {
        current = current.get(key)?;
    }
    current.as_str().map(str::trim).filter(|s| !s.is_empty())
}

/// A tag worth reporting: valid OCI grammar (digests and empty strings are not tags).
fn valid_tag(tag: Option<&str>) -> Option<String> {
    tag.filter(|t| reference::is_valid_tag(t))
        .map(str::to_string)
}

/// The host part of `host/path...` when the first component looks like a host.
fn host_of(text: &str) -> Option<String> {
    let text = text
        .trim()
        .trim_start_matches("https://")
        .trim_start_matches("http://");
    let first = text.split('/').next()?;
    let looks_like_host = first.contains('.') || first.contains(':') || first == "localhost";
    (looks_like_host && text.contains('/')).then(|| first.to_string())
}

fn parse_dockerhub(
    value: &Value,
    missing: impl Fn(&'static str) -> ParseError,
) -> Result<Parsed, ParseError> {
    let repository = match text_at(value, &["repository", "repo_name"]) {
        Some(name) => name.to_string(),
        None => match (
            text_at(value, &["repository", "namespace"]),
            text_at(value, &["repository", "name"]),
        ) {
            (Some(namespace), Some(name)) => format!("{namespace}/{name}"),
            _ => return Err(missing("repository.repo_name")),
        },
    };
    if value.get("push_data").is_none() {
        return Err(missing("push_data"));
    }
    Ok(Parsed::Pushes(vec![PushEvent {
        host: Some(reference::DOCKER_HUB.to_string()),
        repository,
        tag: valid_tag(text_at(value, &["push_data", "tag"])),
    }]))
}

fn parse_github(
    value: &Value,
    headers: &HeaderMap,
    missing: impl Fn(&'static str) -> ParseError,
) -> Result<Parsed, ParseError> {
    let event = headers
        .get("x-github-event")
        .and_then(|v| v.to_str().ok())
        .map(str::trim);
    let key = match event {
        Some("ping") => return Ok(Parsed::Ignored("ping".to_string())),
        Some("package") => "package",
        Some("registry_package") => "registry_package",
        Some(other) => return Ok(Parsed::Ignored(format!("{other} event"))),
        None if value.get("zen").is_some() => return Ok(Parsed::Ignored("ping".to_string())),
        None if value.get("registry_package").is_some() => "registry_package",
        None => "package",
    };
    let Some(package) = value.get(key).filter(|p| p.is_object()) else {
        return Err(missing(if key == "package" {
            "package"
        } else {
            "registry_package"
        }));
    };
    let action = text_at(value, &["action"]).unwrap_or("");
    if !matches!(action, "published" | "updated") {
        return Ok(Parsed::Ignored(format!("package action {action:?}")));
    }
    let container = ["package_type", "ecosystem"].iter().any(|field| {
        text_at(package, &[field]).is_some_and(|t| {
            t.eq_ignore_ascii_case("container") || t.eq_ignore_ascii_case("docker")
        })
    });
    if !container {
        return Ok(Parsed::Ignored("not a container package".to_string()));
    }
    let metadata_tag = valid_tag(text_at(
        package,
        &["package_version", "container_metadata", "tag", "name"],
    ));
    // `package_url` is `ghcr.io/OWNER/NAME:TAG`, sometimes with nothing after the colon.
    let from_url = text_at(package, &["package_version", "package_url"])
        .map(|url| url.trim_end_matches(':'))
        .and_then(|url| {
            let reference = Reference::split(url);
            let host = host_of(reference.name)?;
            let path = reference.name[host.len() + 1..].to_string();
            Some((host, path, valid_tag(reference.tag)))
        });
    let (host, repository, url_tag) = match from_url {
        Some(parts) => parts,
        None => {
            let owner = text_at(package, &["owner", "login"])
                .ok_or_else(|| missing("package.owner.login"))?;
            let name = text_at(package, &["name"]).ok_or_else(|| missing("package.name"))?;
            ("ghcr.io".to_string(), format!("{owner}/{name}"), None)
        }
    };
    Ok(Parsed::Pushes(vec![PushEvent {
        host: Some(host.to_ascii_lowercase()),
        // GitHub keeps the owner's capitals; image names are lower case.
        repository: repository.to_ascii_lowercase(),
        tag: metadata_tag.or(url_tag),
    }]))
}

fn parse_harbor(
    value: &Value,
    missing: impl Fn(&'static str) -> ParseError,
) -> Result<Parsed, ParseError> {
    // Default format: {type, event_data}; CloudEvents format: {specversion, type, data}.
    let cloud = value.get("specversion").is_some();
    let event_type = text_at(value, &["type"]).ok_or_else(|| missing("type"))?;
    if !matches!(event_type, "PUSH_ARTIFACT" | "harbor.artifact.pushed") {
        return Ok(Parsed::Ignored(format!("{event_type} event")));
    }
    let data = value
        .get(if cloud { "data" } else { "event_data" })
        .filter(|d| d.is_object())
        .ok_or_else(|| missing(if cloud { "data" } else { "event_data" }))?;
    let repository = match text_at(data, &["repository", "repo_full_name"]) {
        Some(full) => full.to_string(),
        None => match (
            text_at(data, &["repository", "namespace"]),
            text_at(data, &["repository", "name"]),
        ) {
            (Some(namespace), Some(name)) => format!("{namespace}/{name}"),
            _ => return Err(missing("event_data.repository.repo_full_name")),
        },
    };
    let resources = data
        .get("resources")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let mut events: Vec<PushEvent> = resources
        .iter()
        .map(|resource| PushEvent {
            host: text_at(resource, &["resource_url"]).and_then(host_of),
            repository: repository.clone(),
            tag: valid_tag(text_at(resource, &["tag"])),
        })
        .collect();
    if events.is_empty() {
        events.push(PushEvent {
            host: None,
            repository,
            tag: None,
        });
    }
    Ok(Parsed::Pushes(events))
}

fn parse_quay(
    value: &Value,
    missing: impl Fn(&'static str) -> ParseError,
) -> Result<Parsed, ParseError> {
    // Quay sends every notification kind in one shape family; only "Repository Push"
    // carries `updated_tags` (a list, or a tag -> image id map in older versions).
    let Some(tags) = value.get("updated_tags") else {
        return Ok(Parsed::Ignored("not a repository push".to_string()));
    };
    let repository = text_at(value, &["repository"]).ok_or_else(|| missing("repository"))?;
    let host = text_at(value, &["docker_url"]).and_then(host_of);
    let tags: Vec<Option<String>> = match tags {
        Value::Array(items) => items.iter().map(|t| valid_tag(t.as_str())).collect(),
        Value::Object(map) => map.keys().map(|t| valid_tag(Some(t))).collect(),
        _ => Vec::new(),
    };
    let tags = if tags.is_empty() { vec![None] } else { tags };
    Ok(Parsed::Pushes(
        tags.into_iter()
            .map(|tag| PushEvent {
                host: host.clone(),
                repository: repository.to_string(),
                tag,
            })
            .collect(),
    ))
}

fn parse_distribution(
    value: &Value,
    missing: impl Fn(&'static str) -> ParseError,
) -> Result<Parsed, ParseError> {
    let events = value
        .get("events")
        .and_then(Value::as_array)
        .ok_or_else(|| missing("events"))?;
    let mut pushes = Vec::new();
    for event in events {
        if text_at(event, &["action"]) != Some("push") {
            continue;
        }
        // Blob pushes and pushes by digest (the parts of a multi-arch image) carry no
        // tag; the tagged manifest push that follows is the one that matters.
        let Some(tag) = valid_tag(text_at(event, &["target", "tag"])) else {
            continue;
        };
        let repository = text_at(event, &["target", "repository"])
            .ok_or_else(|| missing("target.repository"))?;
        pushes.push(PushEvent {
            host: text_at(event, &["request", "host"]).map(str::to_string),
            repository: repository.to_string(),
            tag: Some(tag),
        });
    }
    if pushes.is_empty() {
        return Ok(Parsed::Ignored("no tagged manifest push".to_string()));
    }
    Ok(Parsed::Pushes(pushes))
}

fn parse_generic(
    value: &Value,
    missing: impl Fn(&'static str) -> ParseError,
) -> Result<Parsed, ParseError> {
    let text = text_at(value, &["repository"]).ok_or_else(|| missing("repository"))?;
    let name = ImageName::parse(text)?;
    Ok(Parsed::Pushes(vec![PushEvent {
        host: Some(name.registry),
        repository: name.repository,
        tag: valid_tag(text_at(value, &["tag"])),
    }]))
}

// ---------------------------------------------------------------------------------------
// Matching

/// A registry host in a comparable form: lower case, no scheme, no default HTTPS port,
/// Docker Hub's aliases folded into `docker.io`.
pub fn normalise_host(host: &str) -> String {
    let host = host
        .trim()
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    let host = host.strip_suffix(":443").unwrap_or(&host).to_string();
    match host.as_str() {
        "index.docker.io"
        | "registry-1.docker.io"
        | "registry.hub.docker.com"
        | "hub.docker.com" => reference::DOCKER_HUB.to_string(),
        _ => host,
    }
}

/// True when `event` is a push to `image`. The repository must be equal (Docker Hub's
/// `library/` shorthand expanded); the host too, when the event names one. `registry`
/// (the hook's `registry` key) replaces the event's host.
pub fn matches(event: &PushEvent, registry: Option<&str>, image: &ImageName) -> bool {
    let host = registry
        .or(event.host.as_deref())
        .map(normalise_host)
        .filter(|h| !h.is_empty());
    let mut repository = event
        .repository
        .trim()
        .trim_matches('/')
        .to_ascii_lowercase();
    let on_hub = host.as_deref() == Some(reference::DOCKER_HUB)
        || (host.is_none() && image.registry == reference::DOCKER_HUB);
    if on_hub && !repository.contains('/') {
        repository = format!("library/{repository}");
    }
    if repository != image.repository {
        return false;
    }
    match host {
        None => true,
        Some(host) => {
            host == normalise_host(&image.registry) || host == normalise_host(image.api_host())
        }
    }
}

// ---------------------------------------------------------------------------------------
// Verification

/// Why a request was not accepted as coming from the configured sender.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// A signature was required and none was sent.
    #[error(
        "no X-Hub-Signature-256 header: set the hook's secret in the sender's webhook settings"
    )]
    MissingSignature,
    /// The signature header is not `sha256=` plus 64 hex digits.
    #[error("the X-Hub-Signature-256 header is not sha256=<64 hex digits>")]
    MalformedSignature,
    /// The signature does not match the body.
    #[error(
        "the signature does not match the body: check that the sender and secret_file hold the same secret"
    )]
    BadSignature,
    /// No token was sent.
    #[error(
        "no token: send it as Authorization: Bearer <token>, an X-Baton-Token header or ?token=<token>"
    )]
    MissingToken,
    /// A token was sent and it is not the hook's secret.
    #[error("the token does not match: check that the sender and secret_file hold the same secret")]
    BadToken,
}

/// Checks that a request comes from the holder of `secret`: an HMAC-SHA256 signature of
/// the body for GitHub (and for generic hooks that send one), a token for the others.
/// Every comparison takes the same time whatever the secret and the candidate are.
pub fn verify(
    kind: WebhookKind,
    secret: &Secret,
    headers: &HeaderMap,
    query: Option<&str>,
    body: &[u8],
) -> Result<(), VerifyError> {
    let signature = headers.get(SIGNATURE_HEADER);
    match (kind, signature) {
        (WebhookKind::GitHub, None) => Err(VerifyError::MissingSignature),
        (WebhookKind::GitHub | WebhookKind::Generic, Some(value)) => {
            let hex = value
                .to_str()
                .ok()
                .and_then(|v| v.trim().strip_prefix("sha256="))
                .ok_or(VerifyError::MalformedSignature)?;
            let tag = decode_hex(hex).ok_or(VerifyError::MalformedSignature)?;
            let key = hmac::Key::new(hmac::HMAC_SHA256, secret.expose().as_bytes());
            hmac::verify(&key, body, &tag).map_err(|_| VerifyError::BadSignature)
        }
        _ => verify_token(secret, headers, query),
    }
}

fn verify_token(
    secret: &Secret,
    headers: &HeaderMap,
    query: Option<&str>,
) -> Result<(), VerifyError> {
    let mut candidates: Vec<String> = Vec::new();
    for value in headers.get_all(header::AUTHORIZATION) {
        if let Ok(text) = value.to_str() {
            let text = text.trim();
            // Harbor and GitLab send the configured value verbatim; others use Bearer.
            if let Some((scheme, rest)) = text.split_once(' ')
                && scheme.eq_ignore_ascii_case("bearer")
            {
                candidates.push(rest.trim().to_string());
            }
            candidates.push(text.to_string());
        }
    }
    for value in headers.get_all(TOKEN_HEADER) {
        if let Ok(text) = value.to_str() {
            candidates.push(text.trim().to_string());
        }
    }
    if let Some(query) = query {
        candidates.extend(
            url::form_urlencoded::parse(query.as_bytes())
                .filter(|(key, _)| key == TOKEN_QUERY)
                .map(|(_, value)| value.into_owned()),
        );
    }
    if candidates.is_empty() {
        return Err(VerifyError::MissingToken);
    }
    // Compare every candidate, so that the time taken does not say which one matched.
    let matched = candidates
        .iter()
        .fold(false, |found, c| same_secret(secret.expose(), c) | found);
    if matched {
        Ok(())
    } else {
        Err(VerifyError::BadToken)
    }
}

/// Constant-time equality that does not leak lengths either: both sides are compared as
/// HMACs under a key drawn once per process.
fn same_secret(secret: &str, candidate: &str) -> bool {
    static KEY: OnceLock<hmac::Key> = OnceLock::new();
    let key = KEY.get_or_init(|| hmac::Key::new(hmac::HMAC_SHA256, &rand::random::<[u8; 32]>()));
    let expected = hmac::sign(key, secret.as_bytes());
    hmac::verify(key, candidate.as_bytes(), expected.as_ref()).is_ok()
}

fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).ok())
        .collect()
}

// ---------------------------------------------------------------------------------------
// State and router

/// Labels of `baton_webhook_requests_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct WebhookLabels {
    /// The hook's name, or [`UNKNOWN_HOOK_LABEL`].
    pub hook: String,
    /// `triggered`, `no_match`, `ignored`, `replayed`, `unauthorized`, `malformed`, `too_large`,
    /// `timeout`, `busy`, `unknown_hook` or `method_not_allowed`.
    pub outcome: String,
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
        let images = config
            .images
            .iter()
            .map(|(name, image)| (name.clone(), image.repository.clone()))
            .collect();
        Ok(Hooks { hooks, images })
    }
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
}

struct Inner {
    hooks: RwLock<Arc<Hooks>>,
    requests: Family<WebhookLabels, Counter>,
    triggers: mpsc::Sender<String>,
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
    pub fn new(config: &Config, triggers: mpsc::Sender<String>) -> Result<Self, WebhookError> {
        Self::with_counters(config, triggers, Family::default())
    }

    /// As [`WebhookState::new`], counting into `requests`: a family the daemon's metrics
    /// already own and export (as `webhook_requests`, with labels [`WebhookLabels`]).
    pub fn with_counters(
        config: &Config,
        triggers: mpsc::Sender<String>,
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
        tracing::debug!(hook = ?name, "webhook request for an unknown hook");
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
    let signed = kind == WebhookKind::GitHub || headers.contains_key(SIGNATURE_HEADER);
    if !signed && let Err(err) = verify_token(&hook.secret, &headers, uri.query()) {
        tracing::warn!(hook = %name, %kind, reason = %err, "webhook request not verified: ignored");
        return reply(
            &state,
            &name,
            HookOutcome::Unauthorized,
            err.to_string(),
            &[],
        );
    }
    if kind == WebhookKind::GitHub && !headers.contains_key(SIGNATURE_HEADER) {
        let err = VerifyError::MissingSignature;
        tracing::warn!(hook = %name, %kind, reason = %err, "webhook request not verified: ignored");
        return reply(
            &state,
            &name,
            HookOutcome::Unauthorized,
            err.to_string(),
            &[],
        );
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
        tracing::warn!(hook = %name, %kind, reason = %err, "webhook request not verified: ignored");
        return reply(
            &state,
            &name,
            HookOutcome::Unauthorized,
            err.to_string(),
            &[],
        );
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
        let pushed: Vec<String> = events.iter().map(describe_event).collect();
        tracing::info!(hook = %name, %kind, pushed = ?pushed, "webhook push matches no image this hook may trigger");
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
        if let Err(err) = state.inner.triggers.try_send(image.clone()) {
            refused = Some(match err {
                mpsc::error::TrySendError::Full(_) => "the scan queue is full: retry later",
                mpsc::error::TrySendError::Closed(_) => "the daemon is shutting down",
            });
        }
    }
    if let Some(why) = refused {
        tracing::warn!(hook = %name, %kind, images = ?targets, reason = why, "webhook scan could not be queued");
        return reply(&state, &name, HookOutcome::Busy, why, &[]);
    }
    let pushed: Vec<String> = events.iter().map(describe_event).collect();
    tracing::info!(hook = %name, %kind, pushed = ?pushed, images = ?targets, "webhook push: scanning now");
    reply(
        &state,
        &name,
        HookOutcome::Triggered,
        "scan requested",
        &targets,
    )
}

/// `host/repository:tag` for logs (pieces the payload left out are left out).
fn describe_event(event: &PushEvent) -> String {
    let mut text = match &event.host {
        Some(host) => format!("{host}/{}", event.repository),
        None => event.repository.clone(),
    };
    if let Some(tag) = &event.tag {
        text.push(':');
        text.push_str(tag);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn fixture(name: &str) -> Vec<u8> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/webhooks")
            .join(name);
        std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    fn push(host: Option<&str>, repository: &str, tag: Option<&str>) -> PushEvent {
        PushEvent {
            host: host.map(str::to_string),
            repository: repository.to_string(),
            tag: tag.map(str::to_string),
        }
    }

    fn pushes(kind: WebhookKind, hdrs: &HeaderMap, body: &[u8]) -> Vec<PushEvent> {
        match parse(kind, hdrs, body) {
            Ok(Parsed::Pushes(events)) => events,
            other => panic!("expected pushes, got {other:?}"),
        }
    }

    fn ignored(kind: WebhookKind, hdrs: &HeaderMap, body: &[u8]) -> String {
        match parse(kind, hdrs, body) {
            Ok(Parsed::Ignored(why)) => why,
            other => panic!("expected ignored, got {other:?}"),
        }
    }

    fn image(name: &str) -> ImageName {
        ImageName::parse(name).unwrap()
    }

    #[test]
    fn dockerhub_payload() {
        let events = pushes(
            WebhookKind::DockerHub,
            &HeaderMap::new(),
            &fixture("dockerhub.json"),
        );
        assert_eq!(
            events,
            [push(
                Some("docker.io"),
                "example/checkout-api",
                Some("1.4.2")
            )]
        );
        // Older payloads without repo_name still name namespace and name.
        let body = br#"{"push_data": {"tag": "latest"}, "repository": {"namespace": "library", "name": "nginx"}}"#;
        let events = pushes(WebhookKind::DockerHub, &HeaderMap::new(), body);
        assert_eq!(
            events,
            [push(Some("docker.io"), "library/nginx", Some("latest"))]
        );
        let err = parse(
            WebhookKind::DockerHub,
            &HeaderMap::new(),
            br#"{"push_data": {}}"#,
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "the payload has no repository.repo_name: check that the hook's kind (dockerhub) matches the sender"
        );
    }

    #[test]
    fn github_package_and_registry_package_events() {
        let h = headers(&[("x-github-event", "package")]);
        let events = pushes(WebhookKind::GitHub, &h, &fixture("github-package.json"));
        assert_eq!(
            events,
            [push(Some("ghcr.io"), "example/checkout-api", Some("1.4.2"))]
        );
        // `registry_package` (GitHub Apps) with the bare "ghcr.io/OWNER/NAME:" URL: the
        // tag comes from container_metadata.
        let h = headers(&[("x-github-event", "registry_package")]);
        let events = pushes(
            WebhookKind::GitHub,
            &h,
            &fixture("github-registry-package.json"),
        );
        assert_eq!(
            events,
            [push(Some("ghcr.io"), "example/checkout-api", Some("1.5.0"))]
        );
        // Without the header, the body says which event it is.
        let events = pushes(
            WebhookKind::GitHub,
            &HeaderMap::new(),
            &fixture("github-registry-package.json"),
        );
        assert_eq!(events[0].repository, "example/checkout-api");
    }

    #[test]
    fn github_events_that_are_not_container_pushes_are_ignored() {
        let ping = headers(&[("x-github-event", "ping")]);
        assert_eq!(
            ignored(WebhookKind::GitHub, &ping, &fixture("github-ping.json")),
            "ping"
        );
        assert_eq!(
            ignored(
                WebhookKind::GitHub,
                &HeaderMap::new(),
                &fixture("github-ping.json")
            ),
            "ping"
        );
        let push_event = headers(&[("x-github-event", "push")]);
        assert_eq!(
            ignored(
                WebhookKind::GitHub,
                &push_event,
                b"{\"ref\": \"refs/heads/main\"}"
            ),
            "push event"
        );
        let h = headers(&[("x-github-event", "package")]);
        let text = String::from_utf8(fixture("github-package.json")).unwrap();
        let npm = text.replace("\"CONTAINER\"", "\"npm\"");
        assert_eq!(
            ignored(WebhookKind::GitHub, &h, npm.as_bytes()),
            "not a container package"
        );
        let deleted = text.replace("\"published\"", "\"deleted\"");
        assert_eq!(
            ignored(WebhookKind::GitHub, &h, deleted.as_bytes()),
            "package action \"deleted\""
        );
        let err = parse(WebhookKind::GitHub, &h, b"{\"action\": \"published\"}").unwrap_err();
        assert!(err.to_string().contains("has no package"), "{err}");
    }

    #[test]
    fn github_form_encoded_payloads() {
        let json = fixture("github-package.json");
        let form: String = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("payload", std::str::from_utf8(&json).unwrap())
            .finish();
        let h = headers(&[
            ("x-github-event", "package"),
            ("content-type", "application/x-www-form-urlencoded"),
        ]);
        let events = pushes(WebhookKind::GitHub, &h, form.as_bytes());
        assert_eq!(
            events,
            [push(Some("ghcr.io"), "example/checkout-api", Some("1.4.2"))]
        );
        let err = parse(WebhookKind::GitHub, &h, b"other=1").unwrap_err();
        assert!(err.to_string().contains("no payload form field"), "{err}");
    }

    #[test]
    fn github_without_package_url_falls_back_to_owner_and_name() {
        let body = br#"{"action": "updated", "package": {"name": "Checkout-API", "package_type": "docker",
            "owner": {"login": "Example"},
            "package_version": {"container_metadata": {"tag": {"name": "", "digest": "sha256:00"}}}}}"#;
        let events = pushes(WebhookKind::GitHub, &HeaderMap::new(), body);
        assert_eq!(
            events,
            [push(Some("ghcr.io"), "example/checkout-api", None)]
        );
    }

    #[test]
    fn harbor_default_and_cloudevents_formats() {
        let events = pushes(
            WebhookKind::Harbor,
            &HeaderMap::new(),
            &fixture("harbor.json"),
        );
        assert_eq!(
            events,
            [push(Some("harbor.example.com"), "shop/web", Some("2.0.1"))]
        );
        let events = pushes(
            WebhookKind::Harbor,
            &HeaderMap::new(),
            &fixture("harbor-cloudevents.json"),
        );
        assert_eq!(
            events,
            [push(Some("harbor.example.com"), "shop/web", Some("2.0.2"))]
        );
        // A push by digest: Harbor puts the digest where the tag goes.
        let text = String::from_utf8(fixture("harbor.json")).unwrap();
        let by_digest = text.replace(
            "\"tag\": \"2.0.1\"",
            "\"tag\": \"sha256:76525f02955aec223342400a080c73024c995c9db1ba2eabf7505cf3bdf3f1f0\"",
        );
        let events = pushes(WebhookKind::Harbor, &HeaderMap::new(), by_digest.as_bytes());
        assert_eq!(events[0].tag, None);
        let pull = text.replace("PUSH_ARTIFACT", "PULL_ARTIFACT");
        assert_eq!(
            ignored(WebhookKind::Harbor, &HeaderMap::new(), pull.as_bytes()),
            "PULL_ARTIFACT event"
        );
        let err = parse(
            WebhookKind::Harbor,
            &HeaderMap::new(),
            br#"{"type": "PUSH_ARTIFACT", "event_data": {"resources": []}}"#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("repo_full_name"), "{err}");
    }

    #[test]
    fn quay_repository_push() {
        let events = pushes(WebhookKind::Quay, &HeaderMap::new(), &fixture("quay.json"));
        assert_eq!(
            events,
            [
                push(Some("quay.io"), "shop/web", Some("2.1.0")),
                push(Some("quay.io"), "shop/web", Some("latest")),
            ]
        );
        let events = pushes(
            WebhookKind::Quay,
            &HeaderMap::new(),
            &fixture("quay-legacy.json"),
        );
        assert_eq!(
            events,
            [push(Some("quay.example.com"), "shop/web", Some("2.1.1"))]
        );
        let build =
            br#"{"build_id": "296ec063", "repository": "shop/web", "docker_tags": ["latest"]}"#;
        assert_eq!(
            ignored(WebhookKind::Quay, &HeaderMap::new(), build),
            "not a repository push"
        );
    }

    #[test]
    fn distribution_envelopes_from_the_real_registry() {
        let none = HeaderMap::new();
        let events = pushes(
            WebhookKind::Distribution,
            &none,
            &fixture("distribution-manifest.json"),
        );
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].repository, "shop/web");
        assert_eq!(events[0].tag.as_deref(), Some("1.0.0"));
        assert!(
            events[0]
                .host
                .as_deref()
                .is_some_and(|h| h.starts_with("127.0.0.1:")),
            "{events:?}"
        );
        assert_eq!(
            ignored(
                WebhookKind::Distribution,
                &none,
                &fixture("distribution-blob.json")
            ),
            "no tagged manifest push"
        );
        let events = pushes(WebhookKind::GitLab, &none, &fixture("gitlab.json"));
        assert_eq!(
            events,
            [push(
                Some("registry.gitlab.example.com"),
                "platform/fleet-tools/runner",
                Some("v3.2.0")
            )]
        );
        let pull =
            br#"{"events": [{"action": "pull", "target": {"repository": "a", "tag": "1"}}]}"#;
        assert_eq!(
            ignored(WebhookKind::Distribution, &none, pull),
            "no tagged manifest push"
        );
        let err = parse(WebhookKind::GitLab, &none, br#"{"event": []}"#).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the payload has no events: check that the hook's kind (gitlab) matches the sender"
        );
    }

    #[test]
    fn generic_payload() {
        let none = HeaderMap::new();
        let events = pushes(
            WebhookKind::Generic,
            &none,
            br#"{"repository": "registry.example.com:5000/shop/web", "tag": "3.0.0"}"#,
        );
        assert_eq!(
            events,
            [push(
                Some("registry.example.com:5000"),
                "shop/web",
                Some("3.0.0")
            )]
        );
        let events = pushes(WebhookKind::Generic, &none, br#"{"repository": "nginx"}"#);
        assert_eq!(events, [push(Some("docker.io"), "library/nginx", None)]);
        let err = parse(
            WebhookKind::Generic,
            &none,
            br#"{"repository": "Shop/Web"}"#,
        )
        .unwrap_err();
        assert!(matches!(err, ParseError::Name(_)), "{err}");
        let err = parse(WebhookKind::Generic, &none, br#"{"tag": "1"}"#).unwrap_err();
        assert!(err.to_string().contains("has no repository"), "{err}");
    }

    #[test]
    fn bodies_that_are_not_json_objects_are_malformed() {
        for kind in WebhookKind::ALL {
            let err = parse(kind, &HeaderMap::new(), b"token=abc&x=1").unwrap_err();
            assert!(matches!(err, ParseError::Json(_)), "{kind}: {err}");
            assert!(!err.to_string().contains("abc"), "{err}");
            let err = parse(kind, &HeaderMap::new(), b"[1, 2]").unwrap_err();
            assert_eq!(
                err.to_string(),
                "the body is not JSON (expected a JSON object): send the registry's JSON payload unchanged"
            );
        }
    }

    #[test]
    fn matching_by_repository_and_host() {
        let ghcr = image("ghcr.io/example/checkout-api");
        let hub = image("nginx");
        let local = image("127.0.0.1:5000/shop/web");
        assert!(matches(
            &push(Some("ghcr.io"), "example/checkout-api", None),
            None,
            &ghcr
        ));
        assert!(matches(
            &push(None, "example/checkout-api", None),
            None,
            &ghcr
        ));
        assert!(matches(
            &push(Some("GHCR.io:443"), "Example/Checkout-API", None),
            None,
            &ghcr
        ));
        assert!(!matches(
            &push(Some("docker.io"), "example/checkout-api", None),
            None,
            &ghcr
        ));
        assert!(!matches(
            &push(Some("ghcr.io"), "example/checkout", None),
            None,
            &ghcr
        ));
        // Docker Hub's shorthand and aliases.
        assert!(matches(&push(Some("docker.io"), "nginx", None), None, &hub));
        assert!(matches(
            &push(Some("index.docker.io"), "library/nginx", None),
            None,
            &hub
        ));
        assert!(matches(&push(None, "nginx", None), None, &hub));
        assert!(matches(
            &push(Some("registry-1.docker.io"), "library/nginx", None),
            None,
            &hub
        ));
        assert!(!matches(&push(Some("quay.io"), "nginx", None), None, &hub));
        // A registry known under another name: the hook's `registry` decides.
        let aliased = push(Some("registry.internal:5000"), "shop/web", Some("1"));
        assert!(!matches(&aliased, None, &local));
        assert!(matches(&aliased, Some("127.0.0.1:5000"), &local));
        assert!(matches(
            &push(Some("127.0.0.1:5000"), "shop/web", None),
            None,
            &local
        ));
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

    /// GitHub's documented example: secret "It's a Secret to Everybody", body "Hello, World!".
    const GITHUB_EXAMPLE_SIGNATURE: &str =
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";

    #[test]
    fn github_signatures() {
        let secret = Secret::new("It's a Secret to Everybody");
        let body = b"Hello, World!";
        let ok = headers(&[(SIGNATURE_HEADER, GITHUB_EXAMPLE_SIGNATURE)]);
        assert_eq!(
            verify(WebhookKind::GitHub, &secret, &ok, None, body),
            Ok(())
        );
        let upper = headers(&[(
            SIGNATURE_HEADER,
            &GITHUB_EXAMPLE_SIGNATURE
                .to_uppercase()
                .replace("SHA256=", "sha256="),
        )]);
        assert_eq!(
            verify(WebhookKind::GitHub, &secret, &upper, None, body),
            Ok(())
        );
        assert_eq!(
            verify(WebhookKind::GitHub, &secret, &ok, None, b"Hello, World?"),
            Err(VerifyError::BadSignature)
        );
        assert_eq!(
            verify(WebhookKind::GitHub, &Secret::new("other"), &ok, None, body),
            Err(VerifyError::BadSignature)
        );
        assert_eq!(
            verify(WebhookKind::GitHub, &secret, &HeaderMap::new(), None, body),
            Err(VerifyError::MissingSignature)
        );
        for bad in [
            "757107ea",
            "sha1=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
            "sha256=zz",
            "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e1",
        ] {
            let h = headers(&[(SIGNATURE_HEADER, bad)]);
            assert_eq!(
                verify(WebhookKind::GitHub, &secret, &h, None, body),
                Err(VerifyError::MalformedSignature),
                "{bad}"
            );
        }
        // A token is no substitute for GitHub's signature.
        let token = headers(&[("authorization", "Bearer It's a Secret to Everybody")]);
        assert_eq!(
            verify(WebhookKind::GitHub, &secret, &token, None, body),
            Err(VerifyError::MissingSignature)
        );
    }

    #[test]
    fn hmac_matches_rfc_4231_test_case_2() {
        let secret = Secret::new("Jefe");
        let h = headers(&[(
            SIGNATURE_HEADER,
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
        )]);
        assert_eq!(
            verify(
                WebhookKind::Generic,
                &secret,
                &h,
                None,
                b"what do ya want for nothing?"
            ),
            Ok(())
        );
    }

    #[test]
    fn tokens_in_every_carrier() {
        let secret = Secret::new("t0k/en+1");
        let body = b"{}";
        for kind in [
            WebhookKind::DockerHub,
            WebhookKind::Harbor,
            WebhookKind::Quay,
            WebhookKind::GitLab,
            WebhookKind::Distribution,
            WebhookKind::Generic,
        ] {
            for h in [
                headers(&[("authorization", "Bearer t0k/en+1")]),
                headers(&[("authorization", "bearer  t0k/en+1 ")]),
                headers(&[("authorization", "t0k/en+1")]),
                headers(&[(TOKEN_HEADER, "t0k/en+1")]),
                headers(&[
                    ("authorization", "Bearer wrong"),
                    (TOKEN_HEADER, "t0k/en+1"),
                ]),
            ] {
                assert_eq!(
                    verify(kind, &secret, &h, None, body),
                    Ok(()),
                    "{kind} {h:?}"
                );
            }
            let none = HeaderMap::new();
            assert_eq!(
                verify(kind, &secret, &none, Some("a=1&token=t0k%2Fen%2B1"), body),
                Ok(()),
                "{kind}"
            );
            assert_eq!(
                verify(kind, &secret, &none, Some("token=t0k/en 1"), body),
                Err(VerifyError::BadToken),
                "a '+' in the query is a space: {kind}"
            );
            assert_eq!(
                verify(
                    kind,
                    &secret,
                    &headers(&[("authorization", "Bearer t0k/en+")]),
                    None,
                    body
                ),
                Err(VerifyError::BadToken),
                "{kind}"
            );
            assert_eq!(
                verify(kind, &secret, &none, Some("tok=t0k%2Fen%2B1"), body),
                Err(VerifyError::MissingToken),
                "{kind}"
            );
            assert_eq!(
                verify(kind, &secret, &none, None, body),
                Err(VerifyError::MissingToken),
                "{kind}"
            );
        }
        // Generic hooks may sign instead; a bad signature is not rescued by a token.
        let signed = headers(&[
            (
                SIGNATURE_HEADER,
                "sha256=0000000000000000000000000000000000000000000000000000000000000000",
            ),
            (TOKEN_HEADER, "t0k/en+1"),
        ]);
        assert_eq!(
            verify(WebhookKind::Generic, &secret, &signed, None, body),
            Err(VerifyError::BadSignature)
        );
    }

    #[test]
    fn constant_time_comparison_is_plain_equality() {
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abc", "abd"));
        assert!(!same_secret("abc", "abcd"));
        assert!(!same_secret("abc", ""));
    }

    #[test]
    fn verify_errors_never_carry_the_secret() {
        let secret = Secret::new("hunter2-secret");
        let h = headers(&[("authorization", "Bearer nope")]);
        let err = verify(WebhookKind::Quay, &secret, &h, None, b"{}").unwrap_err();
        assert!(!err.to_string().contains("hunter2"), "{err}");
        assert_eq!(format!("{secret:?}"), "***");
    }
}
