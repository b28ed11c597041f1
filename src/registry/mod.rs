//! OCI distribution API client: lists tags (with `Link` pagination) and resolves
//! digests, with token/Basic auth, retries, size caps and a request budget.
//!
//! Nothing a registry says reaches the caller unchecked: tags that break the
//! OCI grammar are dropped and counted, digests must be `sha256:` + 64 hex.

pub mod auth;
mod config;
mod error;
mod limits;
mod manifest;
mod pace;
mod platform;
mod pool;
mod settings;
mod signatures;
mod tags_page;

use std::collections::HashSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use reqwest::header::{ACCEPT, AUTHORIZATION, HeaderMap, LINK};
use reqwest::{Method, StatusCode, Url};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::common::backoff::Backoff;
use crate::common::http::{client_builder, parse_retry_after, read_bounded};
use crate::common::text::error_chain;
use crate::reference::{
    DOCKER_HUB, DOCKER_HUB_API, is_valid_digest, is_valid_repository_path, is_valid_tag,
};

pub use auth::{
    AuthConfig, AuthMethod, Challenge, Credentials, DOCKER_HUB_CONFIG_KEY, ResolvedCredential,
    is_docker_hub, parse_challenges,
};
pub use config::RegistryConfig;
pub use error::{ErrorKind, RegistryError};
pub use limits::{RequestBudget, next_link, parse_rate_limit_remaining};
pub use manifest::{
    CREATED_ANNOTATION, CreatedInfo, ImageConfigInfo, IndexEntry, MAX_INDEX_ENTRIES, Manifest,
    ManifestKind, parse_image_config, parse_manifest,
};
pub use pace::{MAX_HORIZON, Pace, RESERVE, RateLimit};
pub use platform::{Platform, PlatformError};
pub use pool::Registries;
pub use settings::{
    DEFAULT_MAX_RESPONSE_BYTES, DEFAULT_MAX_TAGS, DEFAULT_PAGE_SIZE, FALLBACK_PAGE_SIZE,
    RegistrySettings,
};
pub use signatures::SignatureCheck;

use auth::AuthState;
use error::sanitize;

/// Media types asked for when resolving a digest: OCI index and manifest,
/// Docker manifest list and manifest v2.
pub const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.index.v1+json, \
application/vnd.oci.image.manifest.v1+json, \
application/vnd.docker.distribution.manifest.list.v2+json, \
application/vnd.docker.distribution.manifest.v2+json";

/// The longest wait between retries of one request, before jitter.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// The tags of one repository, after validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagList {
    /// Valid, distinct tags in the registry's order.
    pub tags: Vec<String>,
    /// Entries dropped because they are not valid OCI tags.
    pub dropped_invalid: usize,
    /// HTTP requests made, token fetches included.
    pub requests: u32,
}

/// Bookkeeping for one public call.
struct Call<'a> {
    repository: &'a str,
    requests: u32,
}

impl<'a> Call<'a> {
    fn new(repository: &'a str) -> Call<'a> {
        Call {
            repository,
            requests: 0,
        }
    }
}

/// A client for one registry host. Cheap to share (`Arc`); it caches tokens,
/// credentials, the page size the registry accepts and the last
/// `RateLimit-Remaining`.
pub struct RegistryClient {
    host: String,
    base: Url,
    docker_hub: bool,
    http: reqwest::Client,
    /// For token requests: redirects only within the realm's origin.
    token_http: reqwest::Client,
    settings: RegistrySettings,
    auth: Mutex<AuthState>,
    token_lock: tokio::sync::Mutex<()>,
    creds: tokio::sync::Mutex<Option<(Instant, Option<ResolvedCredential>)>>,
    budget: Option<RequestBudget>,
    rate_limit_remaining: AtomicU64,
    pace: Pace,
    page_size: AtomicU32,
    /// Whether the registry offers the OCI referrers API (`signatures::REFERRERS_*`).
    referrers_api: std::sync::atomic::AtomicU8,
    /// The last signature found was a bundle: look for bundles first.
    bundle_first: std::sync::atomic::AtomicBool,
}

impl std::fmt::Debug for RegistryClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryClient")
            .field("host", &self.host)
            .field("base", &self.base.as_str())
            .finish_non_exhaustive()
    }
}

impl RegistryClient {
    /// A client for `host` (`ghcr.io`, `localhost:5000`; `docker.io` talks to
    /// `registry-1.docker.io`). Fails on a bad host or CA file.
    pub fn new(host: &str, settings: RegistrySettings) -> Result<Self, RegistryError> {
        let host = host.trim().to_ascii_lowercase();
        let config_error = |detail: String| RegistryError::Config {
            registry: host.clone(),
            repository: "-".to_string(),
            detail,
        };
        if host.is_empty()
            || host.contains('/')
            || host.contains('@')
            || host.chars().any(|c| c.is_whitespace())
        {
            return Err(config_error(format!(
                "{host:?} is not a registry host: write host or host:port, without scheme or path"
            )));
        }
        let docker_hub = is_docker_hub(&host);
        let (display, api_host) = if docker_hub {
            (DOCKER_HUB.to_string(), DOCKER_HUB_API.to_string())
        } else {
            (host.clone(), host.clone())
        };
        let scheme = if settings.insecure { "http" } else { "https" };
        let base = Url::parse(&format!("{scheme}://{api_host}/"))
            .map_err(|e| config_error(format!("{host:?} is not a valid host ({e})")))?;

        let http =
            http_client(&settings, reqwest::redirect::Policy::limited(5)).map_err(config_error)?;
        // Token requests carry credentials (a Basic header, a refresh token in the body):
        // they follow a redirect only to the same origin, never to another host or scheme.
        let token_http = http_client(&settings, same_origin_redirects()).map_err(config_error)?;
        let budget = settings.request_budget_per_minute.map(RequestBudget::new);
        let page_size = settings.page_size.max(1);
        Ok(RegistryClient {
            host: display,
            base,
            docker_hub,
            http,
            token_http,
            budget,
            auth: Mutex::new(AuthState::default()),
            token_lock: tokio::sync::Mutex::new(()),
            creds: tokio::sync::Mutex::new(None),
            rate_limit_remaining: AtomicU64::new(u64::MAX),
            pace: Pace::default(),
            page_size: AtomicU32::new(page_size),
            referrers_api: std::sync::atomic::AtomicU8::new(signatures::REFERRERS_UNKNOWN),
            bundle_first: std::sync::atomic::AtomicBool::new(false),
            settings,
        })
    }

    /// The registry as named in messages (`docker.io`, `ghcr.io`).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The settings in force.
    pub fn settings(&self) -> &RegistrySettings {
        &self.settings
    }

    /// The request budget, for a scheduler that wants to pace itself.
    pub fn budget(&self) -> Option<&RequestBudget> {
        self.budget.as_ref()
    }

    /// The last `RateLimit-Remaining` this registry sent (Docker Hub), if any.
    pub fn rate_limit_remaining(&self) -> Option<u64> {
        match self.rate_limit_remaining.load(Ordering::Relaxed) {
            u64::MAX => None,
            n => Some(n),
        }
    }

    /// Lists every tag of `repository` (`example/app`; `nginx` on Docker Hub
    /// means `library/nginx`), following `Link` pages, dropping and counting
    /// invalid tags, failing past `max_tags`.
    pub async fn list_tags(&self, repository: &str) -> Result<TagList, RegistryError> {
        let repo = self.repo_path(repository)?;
        let mut call = Call::new(&repo);
        let mut page_size = self.page_size.load(Ordering::Relaxed);
        let mut url = self.url(&call, &format!("v2/{repo}/tags/list"))?;
        url.query_pairs_mut()
            .append_pair("n", &page_size.to_string());
        let mut visited: HashSet<String> = HashSet::new();
        let mut seen: HashSet<String> = HashSet::new();
        let mut tags = Vec::new();
        let mut dropped = 0usize;
        // The first few dropped tags, escaped and shortened, for the warning.
        let mut examples: Vec<String> = Vec::new();
        let mut received = 0usize;
        loop {
            if !visited.insert(url.as_str().to_string()) {
                return Err(
                    self.malformed(&call, format!("the next link loops back to {}", url.path()))
                );
            }
            let resp = self
                .execute(&mut call, Method::GET, &url, Some("application/json"))
                .await?;
            let status = resp.status();
            let link = header_str(resp.headers(), LINK).map(str::to_string);
            let body = self.read_body(&call, resp).await?;
            if status.is_client_error()
                && page_size > FALLBACK_PAGE_SIZE
                && limits::refuses_page_size(status.as_u16(), &body)
            {
                tracing::info!(
                    registry = %self.host,
                    repository = %repo,
                    refused = page_size,
                    page_size = FALLBACK_PAGE_SIZE,
                    "registry refused the page size, falling back"
                );
                page_size = FALLBACK_PAGE_SIZE;
                self.page_size.store(page_size, Ordering::Relaxed);
                url = with_page_size(&url, page_size);
                continue;
            }
            if !status.is_success() {
                return Err(self.status_error(&call, status, &body, format!("repository {repo}")));
            }
            let allowed = self.settings.max_tags.saturating_sub(received);
            let page = match tags_page::parse(&body, allowed) {
                Ok(page) => page,
                Err(tags_page::PageError::TooMany) => {
                    return Err(RegistryError::TooManyTags {
                        registry: self.host.clone(),
                        repository: repo.clone(),
                        limit: self.settings.max_tags,
                    });
                }
                Err(tags_page::PageError::Json { line, column }) => {
                    return Err(self.malformed(
                        &call,
                        format!(
                            "the tag list is not the expected JSON (line {line} column {column})"
                        ),
                    ));
                }
            };
            let page_len = page.len();
            received += page_len;
            if page.non_strings > 0 {
                dropped += page.non_strings;
                tracing::debug!(
                    registry = %self.host,
                    repository = %repo,
                    entries = page.non_strings,
                    "dropped tag list entries that are not strings"
                );
                if examples.len() < 3 {
                    examples.push("(not a string)".to_string());
                }
            }
            for tag in page.strings {
                if is_valid_tag(&tag) {
                    if seen.insert(tag.clone()) {
                        tags.push(tag);
                    }
                } else {
                    dropped += 1;
                    let shown = sanitize(&format!("{tag:?}"), 80);
                    tracing::debug!(
                        registry = %self.host,
                        repository = %repo,
                        tag = %shown,
                        "dropped a tag that is not a valid OCI tag"
                    );
                    if examples.len() < 3 {
                        examples.push(shown);
                    }
                }
            }
            let Some(next) = link.as_deref().and_then(next_link) else {
                break;
            };
            if page_len == 0 {
                return Err(self.malformed(&call, "an empty page links to a next page".into()));
            }
            let next_url = url.join(next).map_err(|_| {
                self.malformed(
                    &call,
                    format!("the next link {:?} is not a URL", sanitize(next, 200)),
                )
            })?;
            if next_url.origin() != self.base.origin() {
                return Err(self.malformed(
                    &call,
                    format!(
                        "the next link points to another host ({}), which Baton does not follow",
                        sanitize(&next_url.origin().ascii_serialization(), 200)
                    ),
                ));
            }
            url = next_url;
        }
        if dropped > 0 {
            tracing::warn!(
                registry = %self.host,
                repository = %repo,
                dropped,
                examples = %examples.join(" "),
                "dropped tags that are not valid OCI tags"
            );
        }
        tracing::debug!(
            registry = %self.host,
            repository = %repo,
            tags = tags.len(),
            requests = call.requests,
            "listed tags"
        );
        Ok(TagList {
            tags,
            dropped_invalid: dropped,
            requests: call.requests,
        })
    }

    /// Resolves `tag` to its manifest digest with a HEAD (falling back to GET
    /// when HEAD is refused or carries no digest); the digest is checked to be
    /// `sha256:` + 64 hex.
    pub async fn digest(&self, repository: &str, tag: &str) -> Result<String, RegistryError> {
        let repo = self.repo_path(repository)?;
        let mut call = Call::new(&repo);
        if !is_valid_tag(tag) {
            return Err(RegistryError::Config {
                registry: self.host.clone(),
                repository: repo.clone(),
                detail: format!(
                    "tag {:?} is not a valid OCI tag: use [A-Za-z0-9_][A-Za-z0-9._-]{{0,127}}",
                    sanitize(tag, 200)
                ),
            });
        }
        let what = format!("tag {repo}:{tag}");
        let url = self.url(&call, &format!("v2/{repo}/manifests/{tag}"))?;
        let resp = self
            .execute(&mut call, Method::HEAD, &url, Some(MANIFEST_ACCEPT))
            .await?;
        let status = resp.status();
        if status.is_success() {
            if let Some(digest) = header_str(resp.headers(), "docker-content-digest") {
                return self.checked_digest(&call, digest.trim(), tag);
            }
        } else if !matches!(status.as_u16(), 404 | 405 | 501) {
            return Err(self.status_error(&call, status, &[], what));
        }
        tracing::debug!(registry = %self.host, repository = %repo, tag, status = status.as_u16(), "HEAD gave no digest, trying GET");
        let resp = self
            .execute(&mut call, Method::GET, &url, Some(MANIFEST_ACCEPT))
            .await?;
        let status = resp.status();
        let header = header_str(resp.headers(), "docker-content-digest").map(str::to_string);
        let body = self.read_body(&call, resp).await?;
        if !status.is_success() {
            return Err(self.status_error(&call, status, &body, what));
        }
        match header {
            Some(digest) => self.checked_digest(&call, digest.trim(), tag),
            None => Ok(sha256_digest(&body)),
        }
    }

    fn checked_digest(
        &self,
        call: &Call<'_>,
        digest: &str,
        tag: &str,
    ) -> Result<String, RegistryError> {
        if is_valid_digest(digest) {
            Ok(digest.to_string())
        } else {
            Err(self.malformed(
                call,
                format!(
                    "the digest {:?} for tag {tag} is not sha256 + 64 hex",
                    sanitize(digest, 100)
                ),
            ))
        }
    }

    /// Normalises and checks a repository path.
    fn repo_path(&self, repository: &str) -> Result<String, RegistryError> {
        let repository = repository.trim().trim_matches('/');
        let repo = if self.docker_hub && !repository.contains('/') {
            format!("library/{repository}")
        } else {
            repository.to_string()
        };
        if is_valid_repository_path(&repo) {
            Ok(repo)
        } else {
            Err(RegistryError::Config {
                registry: self.host.clone(),
                repository: sanitize(repository, 200),
                detail: "not a valid repository path: use lower-case letters, digits and . _ - separated by /".into(),
            })
        }
    }

    /// GETs `path` below `v2/REPOSITORY/`, with the retries, auth and budget of `execute`.
    async fn get(
        &self,
        call: &mut Call<'_>,
        path: &str,
        accept: Option<&str>,
    ) -> Result<reqwest::Response, RegistryError> {
        let url = self.url(call, &format!("v2/{}/{path}", call.repository))?;
        self.execute(call, Method::GET, &url, accept).await
    }

    fn url(&self, call: &Call<'_>, path: &str) -> Result<Url, RegistryError> {
        self.base.join(path).map_err(|e| RegistryError::Config {
            registry: self.host.clone(),
            repository: call.repository.to_string(),
            detail: format!("cannot build a URL for {path:?} ({e})"),
        })
    }

    fn malformed(&self, call: &Call<'_>, detail: String) -> RegistryError {
        RegistryError::Malformed {
            registry: self.host.clone(),
            repository: call.repository.to_string(),
            detail,
        }
    }

    fn unauthorized(&self, call: &Call<'_>, status: u16, hint: String) -> RegistryError {
        RegistryError::Unauthorized {
            registry: self.host.clone(),
            repository: call.repository.to_string(),
            status,
            hint,
        }
    }

    /// Maps a final non-success status to an error.
    fn status_error(
        &self,
        call: &Call<'_>,
        status: StatusCode,
        body: &[u8],
        what: String,
    ) -> RegistryError {
        match status.as_u16() {
            401 | 403 => self.unauthorized(
                call,
                status.as_u16(),
                format!("access refused; {}", self.settings.credentials.describe()),
            ),
            404 => RegistryError::NotFound {
                registry: self.host.clone(),
                repository: call.repository.to_string(),
                what,
            },
            code => RegistryError::Server {
                registry: self.host.clone(),
                repository: call.repository.to_string(),
                status: code,
                attempts: 1,
                hint: match registry_message(body) {
                    Some(msg) => format!(
                        "the registry said {:?}: check the image name and registry settings",
                        sanitize(&msg, 200)
                    ),
                    None => "unexpected reply: check the image name and registry settings".into(),
                },
            },
        }
    }

    fn transport_error(&self, call: &Call<'_>, error: &reqwest::Error) -> RegistryError {
        if error.is_timeout() {
            return RegistryError::Timeout {
                registry: self.host.clone(),
                repository: call.repository.to_string(),
                timeout: self.settings.timeout,
            };
        }
        let mut detail = sanitize(&error_chain(error), 400);
        // rustls's words for a plain-HTTP answer to its TLS hello.
        if detail.contains("InvalidContentType") {
            detail.push_str(&format!(
                " ({host} answered in plain HTTP, not TLS: for a registry on a trusted network, set insecure = true under [registries.\"{host}\"])",
                host = self.host
            ));
        }
        RegistryError::Network {
            registry: self.host.clone(),
            repository: call.repository.to_string(),
            detail,
        }
    }

    /// Reads a body, refusing more than `max_response_bytes`.
    async fn read_body(
        &self,
        call: &Call<'_>,
        resp: reqwest::Response,
    ) -> Result<Vec<u8>, RegistryError> {
        let limit = self.settings.max_response_bytes;
        self.read_limited(call, resp, limit)
            .await?
            .ok_or_else(|| RegistryError::TooLarge {
                registry: self.host.clone(),
                repository: call.repository.to_string(),
                limit,
            })
    }

    /// Reads a body of at most `limit` bytes; `None` past it.
    async fn read_limited(
        &self,
        call: &Call<'_>,
        resp: reqwest::Response,
        limit: u64,
    ) -> Result<Option<Vec<u8>>, RegistryError> {
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        read_bounded(resp, limit)
            .await
            .map_err(|e| self.transport_error(call, &e))
    }

    fn note_rate_limit(&self, headers: &HeaderMap) {
        if let Some(n) =
            header_str(headers, "ratelimit-remaining").and_then(parse_rate_limit_remaining)
        {
            self.rate_limit_remaining
                .store(n.min(u64::MAX - 1), Ordering::Relaxed);
            tracing::debug!(registry = %self.host, remaining = n, "rate limit remaining");
        }
        if let Some(limit) = RateLimit::parse(
            header_str(headers, "ratelimit-remaining"),
            header_str(headers, "ratelimit-limit"),
            header_str(headers, "ratelimit-reset"),
        ) {
            self.pace.observe(limit, Instant::now());
        }
    }

    /// The last rate-limit statement this registry sent, if any.
    pub fn rate_limit(&self) -> Option<RateLimit> {
        self.pace.last()
    }

    /// Requests per second sent to this registry lately, by every image and pass.
    pub fn request_rate(&self) -> f64 {
        self.pace.rate(Instant::now())
    }

    /// `interval` stretched for this registry's rate limit (see [`Pace::paced`]); every
    /// image on the registry shares the one pace.
    pub fn paced(&self, interval: Duration) -> Duration {
        self.pace.paced(interval, Instant::now())
    }

    /// Sends one API request with auth, budget, and retries on 429, 5xx and
    /// transport errors; returns any other reply for the caller to judge.
    async fn execute(
        &self,
        call: &mut Call<'_>,
        method: Method,
        url: &Url,
        accept: Option<&str>,
    ) -> Result<reqwest::Response, RegistryError> {
        let max_retries = self.settings.max_retries;
        let mut retries = 0u32;
        let mut auth_retried = false;
        loop {
            let auth = self.auth_header(call).await?;
            if let Some(budget) = &self.budget {
                budget.acquire().await;
            }
            let mut request = self.http.request(method.clone(), url.clone());
            if let Some(accept) = accept {
                request = request.header(ACCEPT, accept);
            }
            if let Some(auth) = auth {
                request = request.header(AUTHORIZATION, auth);
            }
            call.requests += 1;
            self.pace.sent(Instant::now());
            tracing::debug!(
                registry = %self.host,
                repository = call.repository,
                method = %method,
                path = url.path(),
                retries,
                "registry request"
            );
            let resp = match request.send().await {
                Ok(resp) => resp,
                Err(e) => {
                    if retries < max_retries {
                        retries += 1;
                        let delay = self.backoff(retries);
                        tracing::warn!(registry = %self.host, repository = call.repository, error = %e, delay_ms = delay.as_millis() as u64, "request failed, retrying");
                        tokio::time::sleep(delay).await;
                        continue;
                    }
                    return Err(self.transport_error(call, &e));
                }
            };
            self.note_rate_limit(resp.headers());
            let status = resp.status();
            if status == StatusCode::UNAUTHORIZED {
                if auth_retried || self.settings.credentials.method().method().preemptive() {
                    return Err(self.unauthorized(call, 401, self.settings.credentials.describe()));
                }
                auth_retried = true;
                self.handle_challenge(call, resp.headers()).await?;
                continue;
            }
            if status == StatusCode::TOO_MANY_REQUESTS {
                let retry_after = header_str(resp.headers(), "retry-after")
                    .and_then(|v| parse_retry_after(v, SystemTime::now()));
                let fits = retry_after.is_none_or(|d| d <= self.settings.max_retry_after);
                if retries < max_retries && fits {
                    retries += 1;
                    let delay = retry_after.unwrap_or_else(|| self.backoff(retries));
                    tracing::warn!(registry = %self.host, repository = call.repository, delay_ms = delay.as_millis() as u64, "rate limited (429), waiting");
                    tokio::time::sleep(delay).await;
                    continue;
                }
                return Err(RegistryError::RateLimited {
                    registry: self.host.clone(),
                    repository: call.repository.to_string(),
                    retry_after,
                });
            }
            if status.is_server_error() {
                if retries < max_retries {
                    retries += 1;
                    let delay = self.backoff(retries);
                    tracing::warn!(registry = %self.host, repository = call.repository, status = status.as_u16(), delay_ms = delay.as_millis() as u64, "server error, retrying");
                    tokio::time::sleep(delay).await;
                    continue;
                }
                return Err(RegistryError::Server {
                    registry: self.host.clone(),
                    repository: call.repository.to_string(),
                    status: status.as_u16(),
                    attempts: retries + 1,
                    hint: "the registry is failing: try again later".into(),
                });
            }
            return Ok(resp);
        }
    }

    fn backoff(&self, retry: u32) -> Duration {
        Backoff::new(self.settings.retry_base_delay, MAX_BACKOFF).delay(retry)
    }
}

fn header_str<K: reqwest::header::AsHeaderName>(headers: &HeaderMap, name: K) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// `sha256:` + hex of `bytes`.
fn sha256_digest(bytes: &[u8]) -> String {
    let hash = Sha256::digest(bytes);
    let mut out = String::with_capacity(71);
    out.push_str("sha256:");
    for b in hash.iter() {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// `url` with its `n` query parameter set to `n`.
fn with_page_size(url: &Url, n: u32) -> Url {
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| k != "n")
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let mut out = url.clone();
    {
        let mut query = out.query_pairs_mut();
        query.clear();
        for (k, v) in &pairs {
            query.append_pair(k, v);
        }
        query.append_pair("n", &n.to_string());
    }
    out
}

/// An HTTP client with the registry's timeouts and CA file, following redirects by `policy`.
fn http_client(
    settings: &RegistrySettings,
    policy: reqwest::redirect::Policy,
) -> Result<reqwest::Client, String> {
    let mut builder = client_builder()
        .connect_timeout(settings.connect_timeout)
        .timeout(settings.timeout)
        .redirect(policy);
    if let Some(ca_file) = &settings.ca_file {
        let pem = std::fs::read(ca_file).map_err(|e| {
            format!(
                "cannot read ca_file {}: {e}: check the path",
                ca_file.display()
            )
        })?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
            format!(
                "ca_file {} holds no usable PEM certificate ({e}): give a PEM bundle",
                ca_file.display()
            )
        })?;
        if certs.is_empty() {
            return Err(format!(
                "ca_file {} holds no PEM certificate: give a PEM bundle",
                ca_file.display()
            ));
        }
        builder = builder.tls_certs_merge(certs);
    }
    builder
        .build()
        .map_err(|e| format!("cannot build the HTTP client: {e}"))
}

/// Redirects followed only within the first URL's origin (scheme, host and port), at most 5.
fn same_origin_redirects() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        let same = attempt
            .previous()
            .first()
            .is_some_and(|first| first.origin() == attempt.url().origin());
        if same && attempt.previous().len() <= 5 {
            attempt.follow()
        } else {
            attempt.stop()
        }
    })
}

/// The first `errors[].message` (or code) of a distribution error body.
fn registry_message(body: &[u8]) -> Option<String> {
    #[derive(Deserialize)]
    struct Errors {
        errors: Vec<ErrorEntry>,
    }
    #[derive(Deserialize)]
    struct ErrorEntry {
        code: Option<String>,
        message: Option<String>,
    }
    let errors: Errors = serde_json::from_slice(body).ok()?;
    let first = errors.errors.into_iter().next()?;
    match (first.code, first.message) {
        (Some(code), Some(message)) => Some(format!("{code}: {message}")),
        (code, message) => code.or(message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_of_body() {
        assert_eq!(
            sha256_digest(b""),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert!(is_valid_digest(&sha256_digest(b"x")));
    }

    #[test]
    fn page_size_rewrite() {
        let url = Url::parse("https://r/v2/a/tags/list?n=1000&last=x").unwrap();
        let out = with_page_size(&url, 100);
        assert_eq!(out.as_str(), "https://r/v2/a/tags/list?last=x&n=100");
    }

    #[test]
    fn registry_messages() {
        assert_eq!(
            registry_message(
                br#"{"errors":[{"code":"NAME_UNKNOWN","message":"repository name not known"}]}"#
            ),
            Some("NAME_UNKNOWN: repository name not known".into())
        );
        assert_eq!(
            registry_message(br#"{"errors":[{"code":"X"}]}"#),
            Some("X".into())
        );
        assert_eq!(registry_message(b"<html>"), None);
    }

    #[test]
    fn client_construction() {
        let c = RegistryClient::new("docker.io", RegistrySettings::default()).unwrap();
        assert_eq!(c.host(), "docker.io");
        assert_eq!(c.base.as_str(), "https://registry-1.docker.io/");
        assert_eq!(c.repo_path("nginx").unwrap(), "library/nginx");
        assert_eq!(c.repo_path("bitnami/redis").unwrap(), "bitnami/redis");
        assert!(c.repo_path("Bad/Name").is_err());
        assert_eq!(c.rate_limit_remaining(), None);
        let c = RegistryClient::new(
            "localhost:5000",
            RegistrySettings {
                insecure: true,
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(c.base.as_str(), "http://localhost:5000/");
        assert_eq!(c.repo_path("app").unwrap(), "app");
        for bad in ["", "https://ghcr.io", "ghcr.io/x", "a b"] {
            let e = RegistryClient::new(bad, RegistrySettings::default()).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Config, "{bad}");
        }
        let e = RegistryClient::new(
            "ghcr.io",
            RegistrySettings {
                ca_file: Some("/nonexistent/ca.pem".into()),
                ..Default::default()
            },
        )
        .unwrap_err();
        assert!(e.to_string().contains("/nonexistent/ca.pem"));
    }

    #[test]
    fn ca_file_must_hold_certificates() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ca.pem");
        std::fs::write(&path, "not a certificate\n").unwrap();
        let e = RegistryClient::new(
            "r.example",
            RegistrySettings {
                ca_file: Some(path),
                ..Default::default()
            },
        )
        .unwrap_err();
        assert!(e.to_string().contains("ca.pem"), "{e}");
    }
}
