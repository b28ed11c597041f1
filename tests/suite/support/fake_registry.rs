//! Fault-injection fake registry: an axum server on loopback that speaks
//! just enough of the distribution API (tags/list, manifests, a Bearer token
//! server) and misbehaves on demand. It exists only for what the real
//! `docker-registry` cannot be made to do: `Link` pagination, Quay's
//! `TOO_MANY_TAGS_REQUESTED`, 429 with `Retry-After`, 500s, stalls,
//! malformed and oversized replies, Bearer tokens, hostile tag names and
//! Docker Hub's `RateLimit-Remaining`.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::Response;
use base64::Engine;

/// How the fake writes its `Link` next header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LinkStyle {
    /// `</v2/...>; rel="next"`.
    #[default]
    Relative,
    /// `<http://127.0.0.1:port/v2/...>; rel="next"`.
    Absolute,
    /// An absolute link to another host (must not be followed).
    OtherHost,
    /// The link always points back at the first page (a loop).
    Loop,
}

/// Bearer token server behaviour.
#[derive(Debug, Clone, Default)]
pub struct BearerAuth {
    /// Username and password the token server demands (Basic); `None` gives
    /// anonymous tokens.
    pub credentials: Option<(String, String)>,
    /// Refresh token accepted in an OAuth2 POST (`grant_type=refresh_token`).
    pub refresh_token: Option<String>,
    /// `expires_in` sent with each token.
    pub expires_in: u64,
}

/// A manifest the fake serves for a tag.
#[derive(Debug, Clone)]
pub struct FakeManifest {
    /// Bytes returned by GET.
    pub body: Vec<u8>,
    /// `Docker-Content-Digest` to send, or `None` to omit the header.
    pub digest_header: Option<String>,
}

/// Everything the fake can be told to do. Change it between requests through
/// `FakeRegistry::configure`.
#[derive(Debug, Clone, Default)]
pub struct Behaviour {
    /// Tags served for every repository except `missing`.
    pub tags: Vec<String>,
    /// Repository answered with 404 NAME_UNKNOWN.
    pub missing: Option<String>,
    /// Link style for pagination.
    pub link: LinkStyle,
    /// Largest page the server returns whatever `n` says (GHCR-like).
    pub server_page_cap: Option<usize>,
    /// `n` above this gets 400 TOO_MANY_TAGS_REQUESTED (Quay).
    pub quay_limit: Option<usize>,
    /// The next this-many API requests get 500.
    pub fail_next: u32,
    /// The next this-many API requests get 429.
    pub throttle_next: u32,
    /// `Retry-After` sent with 429.
    pub retry_after: Option<String>,
    /// Sleep this long before answering any API request.
    pub stall: Option<Duration>,
    /// Serve this body for tags/list instead of JSON built from `tags`.
    pub raw_tags_body: Option<Vec<u8>>,
    /// Serve the raw body in chunks without a Content-Length.
    pub chunked: bool,
    /// `RateLimit-Remaining` value to send on every API reply.
    pub rate_limit_remaining: Option<String>,
    /// More headers on every API reply, replacing the Docker Hub pair above when named
    /// alike: the IETF draft's `RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset`.
    pub extra_headers: Vec<(&'static str, String)>,
    /// Require Bearer tokens from the fake's own token server.
    pub bearer: Option<BearerAuth>,
    /// Manifests by tag.
    pub manifests: HashMap<String, FakeManifest>,
    /// Blobs by the digest they are asked for, served as given (a hostile registry's bytes
    /// need not hash to it).
    pub blobs: HashMap<String, Vec<u8>>,
    /// Status for HEAD on manifests (e.g. 405), instead of the normal answer.
    pub head_status: Option<u16>,
    /// Answer tags/list with a chunked body this many bytes long (no Content-Length), made
    /// as it is sent: valid JSON that never ends before the byte count runs out.
    pub huge_tags_body: Option<u64>,
}

/// Counters and log kept by the fake.
#[derive(Debug, Default)]
pub struct FakeState {
    behaviour: Mutex<Behaviour>,
    addr: Mutex<Option<SocketAddr>>,
    /// API requests received (token server excluded).
    pub api_requests: AtomicU32,
    /// Token requests received.
    pub token_requests: AtomicU32,
    /// Every `n=` the tags endpoint received.
    pub page_sizes: Mutex<Vec<String>>,
    /// Authorization headers seen on token requests, and POST bodies.
    pub token_request_log: Mutex<Vec<String>>,
    /// Bytes of `huge_tags_body` handed to the connection so far.
    pub huge_bytes_sent: std::sync::atomic::AtomicU64,
    issued: Mutex<HashSet<String>>,
}

/// A running fake registry; the server stops when this is dropped.
pub struct FakeRegistry {
    addr: SocketAddr,
    /// Shared state, for counters.
    pub state: Arc<FakeState>,
    task: tokio::task::JoinHandle<()>,
}

impl FakeRegistry {
    /// Starts the fake on a free loopback port with `behaviour`.
    pub async fn start(behaviour: Behaviour) -> Self {
        let state = Arc::new(FakeState {
            behaviour: Mutex::new(behaviour),
            ..Default::default()
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        *state.addr.lock().unwrap() = Some(addr);
        let app = Router::new().fallback(handle).with_state(state.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeRegistry { addr, state, task }
    }

    /// `127.0.0.1:<port>`.
    pub fn host(&self) -> String {
        self.addr.to_string()
    }

    /// Changes the behaviour for the following requests.
    pub fn configure(&self, change: impl FnOnce(&mut Behaviour)) {
        change(&mut self.state.behaviour.lock().unwrap());
    }

    /// API requests so far.
    pub fn api_requests(&self) -> u32 {
        self.state.api_requests.load(Ordering::SeqCst)
    }

    /// Bytes of `huge_tags_body` sent so far.
    pub fn huge_bytes_sent(&self) -> u64 {
        self.state.huge_bytes_sent.load(Ordering::SeqCst)
    }

    /// Token requests so far.
    pub fn token_requests(&self) -> u32 {
        self.state.token_requests.load(Ordering::SeqCst)
    }
}

impl Drop for FakeRegistry {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn reply(status: StatusCode, headers: &[(&str, String)], body: impl Into<Body>) -> Response {
    let mut response = Response::new(body.into());
    *response.status_mut() = status;
    for (name, value) in headers {
        response.headers_mut().insert(
            axum::http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
    }
    response
}

fn error_body(code: &str, message: &str) -> String {
    serde_json::json!({"errors": [{"code": code, "message": message}]}).to_string()
}

fn query_map(uri: &Uri) -> HashMap<String, String> {
    url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
        .into_owned()
        .collect()
}

async fn handle(
    State(state): State<Arc<FakeState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let addr = state.addr.lock().unwrap().unwrap();
    if uri.path() == "/token" {
        return token(&state, &method, &uri, &headers, &body);
    }
    state.api_requests.fetch_add(1, Ordering::SeqCst);
    let behaviour = state.behaviour.lock().unwrap().clone();
    if let Some(stall) = behaviour.stall {
        tokio::time::sleep(stall).await;
    }
    let mut common: Vec<(&str, String)> = Vec::new();
    if let Some(remaining) = &behaviour.rate_limit_remaining {
        common.push(("ratelimit-remaining", remaining.clone()));
        common.push(("ratelimit-limit", "100;w=21600".to_string()));
    }
    for (name, value) in &behaviour.extra_headers {
        common.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        common.push((name, value.clone()));
    }
    let path = uri.path().to_string();
    let Some(rest) = path.strip_prefix("/v2/") else {
        return reply(StatusCode::NOT_FOUND, &common, "");
    };
    let (name, kind, reference) = if let Some(name) = rest.strip_suffix("/tags/list") {
        (name.to_string(), "tags", String::new())
    } else if let Some((name, reference)) = rest.rsplit_once("/manifests/") {
        (name.to_string(), "manifests", reference.to_string())
    } else if let Some((name, digest)) = rest.rsplit_once("/blobs/") {
        (name.to_string(), "blobs", digest.to_string())
    } else {
        (
            rest.trim_end_matches('/').to_string(),
            "base",
            String::new(),
        )
    };

    if behaviour.bearer.is_some() {
        let presented = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::to_string);
        let valid = presented.is_some_and(|t| state.issued.lock().unwrap().contains(&t));
        if !valid {
            let mut headers = common.clone();
            headers.push((
                "www-authenticate",
                format!(
                    "Bearer realm=\"http://{addr}/token\",service=\"fake-registry\",scope=\"repository:{name}:pull\""
                ),
            ));
            return reply(
                StatusCode::UNAUTHORIZED,
                &headers,
                error_body("UNAUTHORIZED", "authentication required"),
            );
        }
    }
    {
        let mut b = state.behaviour.lock().unwrap();
        if b.fail_next > 0 {
            b.fail_next -= 1;
            return reply(StatusCode::INTERNAL_SERVER_ERROR, &common, "oops");
        }
        if b.throttle_next > 0 {
            b.throttle_next -= 1;
            let mut headers = common.clone();
            if let Some(retry_after) = &b.retry_after {
                headers.push(("retry-after", retry_after.clone()));
            }
            return reply(
                StatusCode::TOO_MANY_REQUESTS,
                &headers,
                error_body("TOOMANYREQUESTS", "slow down"),
            );
        }
    }
    if behaviour.missing.as_deref() == Some(name.as_str()) {
        return reply(
            StatusCode::NOT_FOUND,
            &common,
            error_body("NAME_UNKNOWN", "repository name not known to registry"),
        );
    }
    match kind {
        "tags" => tags(&state, &behaviour, addr, &name, &uri, common),
        "manifests" => manifest(&behaviour, &method, &reference, common),
        "blobs" => match behaviour.blobs.get(&reference) {
            Some(bytes) => reply(StatusCode::OK, &common, bytes.clone()),
            None => reply(
                StatusCode::NOT_FOUND,
                &common,
                error_body("BLOB_UNKNOWN", "blob unknown to registry"),
            ),
        },
        _ => reply(StatusCode::OK, &common, "{}"),
    }
}

fn tags(
    state: &Arc<FakeState>,
    behaviour: &Behaviour,
    addr: SocketAddr,
    name: &str,
    uri: &Uri,
    mut headers: Vec<(&'static str, String)>,
) -> Response {
    let query = query_map(uri);
    state
        .page_sizes
        .lock()
        .unwrap()
        .push(query.get("n").cloned().unwrap_or_default());
    if let Some(total) = behaviour.huge_tags_body {
        headers.push(("content-type", "application/json".into()));
        let stream = HugeStream {
            state: state.clone(),
            left: total,
            started: false,
        };
        return reply(StatusCode::OK, &headers, Body::from_stream(stream));
    }
    if let Some(raw) = &behaviour.raw_tags_body {
        headers.push(("content-type", "application/json".into()));
        if behaviour.chunked {
            let chunks: Vec<Result<Bytes, std::io::Error>> = raw
                .chunks(64 * 1024)
                .map(|c| Ok(Bytes::copy_from_slice(c)))
                .collect();
            let stream = ChunkStream(chunks.into_iter());
            return reply(StatusCode::OK, &headers, Body::from_stream(stream));
        }
        return reply(StatusCode::OK, &headers, raw.clone());
    }
    let n: Option<usize> = query.get("n").and_then(|n| n.parse().ok());
    if let (Some(limit), Some(n)) = (behaviour.quay_limit, n)
        && n > limit
    {
        return reply(
            StatusCode::BAD_REQUEST,
            &headers,
            error_body("TOO_MANY_TAGS_REQUESTED", "Too many tags requested"),
        );
    }
    let start = match query.get("last") {
        Some(last) => behaviour
            .tags
            .iter()
            .position(|t| t == last)
            .map_or(behaviour.tags.len(), |i| i + 1),
        None => 0,
    };
    let mut size = n.unwrap_or(behaviour.tags.len());
    if let Some(cap) = behaviour.server_page_cap {
        size = size.min(cap);
    }
    let end = (start + size).min(behaviour.tags.len());
    let page = &behaviour.tags[start..end];
    if end < behaviour.tags.len() {
        let last: String =
            url::form_urlencoded::byte_serialize(page[page.len() - 1].as_bytes()).collect();
        let path = format!("/v2/{name}/tags/list?n={size}&last={last}");
        let target = match behaviour.link {
            LinkStyle::Relative => path,
            LinkStyle::Absolute => format!("http://{addr}{path}"),
            LinkStyle::OtherHost => format!("http://127.0.0.2:{}{path}", addr.port()),
            LinkStyle::Loop => format!("/v2/{name}/tags/list?n={size}"),
        };
        headers.push(("link", format!("<{target}>; rel=\"next\"")));
    }
    headers.push(("content-type", "application/json".into()));
    let body = serde_json::json!({"name": name, "tags": page}).to_string();
    reply(StatusCode::OK, &headers, body)
}

fn manifest(
    behaviour: &Behaviour,
    method: &Method,
    reference: &str,
    mut headers: Vec<(&'static str, String)>,
) -> Response {
    if method == Method::HEAD
        && let Some(status) = behaviour.head_status
    {
        return reply(StatusCode::from_u16(status).unwrap(), &headers, "");
    }
    let Some(manifest) = behaviour.manifests.get(reference) else {
        return reply(
            StatusCode::NOT_FOUND,
            &headers,
            error_body("MANIFEST_UNKNOWN", "manifest unknown"),
        );
    };
    headers.push((
        "content-type",
        "application/vnd.oci.image.manifest.v1+json".into(),
    ));
    if let Some(digest) = &manifest.digest_header {
        headers.push(("docker-content-digest", digest.clone()));
    }
    if method == Method::HEAD {
        headers.push(("content-length", manifest.body.len().to_string()));
        return reply(StatusCode::OK, &headers, Body::empty());
    }
    reply(StatusCode::OK, &headers, manifest.body.clone())
}

fn token(
    state: &FakeState,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Response {
    state.token_requests.fetch_add(1, Ordering::SeqCst);
    let behaviour = state.behaviour.lock().unwrap().clone();
    let Some(bearer) = behaviour.bearer else {
        return reply(StatusCode::NOT_FOUND, &[], "");
    };
    let authorization = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let form: HashMap<String, String> = if method == Method::POST {
        url::form_urlencoded::parse(body).into_owned().collect()
    } else {
        query_map(uri)
    };
    state.token_request_log.lock().unwrap().push(format!(
        "{method} {} auth={authorization} form={}",
        uri.path(),
        String::from_utf8_lossy(body)
    ));
    if form.get("service").map(String::as_str) != Some("fake-registry")
        || !form
            .get("scope")
            .is_some_and(|s| s.starts_with("repository:"))
    {
        return reply(StatusCode::BAD_REQUEST, &[], "bad service or scope");
    }
    let allowed = if method == Method::POST {
        form.get("grant_type").map(String::as_str) == Some("refresh_token")
            && bearer.refresh_token.is_some()
            && form.get("refresh_token") == bearer.refresh_token.as_ref()
    } else {
        match &bearer.credentials {
            None => true,
            Some((user, password)) => {
                let expected =
                    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
                authorization == format!("Basic {expected}")
            }
        }
    };
    if !allowed {
        return reply(
            StatusCode::UNAUTHORIZED,
            &[],
            "{\"details\":\"incorrect username or password\"}",
        );
    }
    let n = state.token_requests.load(Ordering::SeqCst);
    let token = format!("token-{n}");
    state.issued.lock().unwrap().insert(token.clone());
    let body = serde_json::json!({
        "token": token,
        "expires_in": bearer.expires_in,
        "issued_at": humantime::format_rfc3339(std::time::SystemTime::now()).to_string(),
    })
    .to_string();
    reply(
        StatusCode::OK,
        &[("content-type", "application/json".into())],
        body,
    )
}

/// A tags/list body made while it is sent: `{"tags":["` then `"x...",` entries, 64 KiB per
/// chunk, until `left` bytes have gone out.
struct HugeStream {
    state: Arc<FakeState>,
    left: u64,
    started: bool,
}

impl futures_core::Stream for HugeStream {
    type Item = Result<Bytes, std::io::Error>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        if self.left == 0 {
            return std::task::Poll::Ready(None);
        }
        let mut chunk = Vec::with_capacity(64 * 1024);
        if !self.started {
            self.started = true;
            chunk.extend_from_slice(br#"{"name":"huge","tags":["#);
        }
        while chunk.len() < 64 * 1024 - 64 {
            chunk.extend_from_slice(
                b"\"1.0.0-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\",",
            );
        }
        let n = (chunk.len() as u64).min(self.left);
        chunk.truncate(n as usize);
        self.left -= n;
        self.state.huge_bytes_sent.fetch_add(n, Ordering::SeqCst);
        std::task::Poll::Ready(Some(Ok(Bytes::from(chunk))))
    }
}

/// A minimal `Stream` over ready chunks, so that a body goes out chunked
/// without a Content-Length.
struct ChunkStream(std::vec::IntoIter<Result<Bytes, std::io::Error>>);

impl futures_core::Stream for ChunkStream {
    type Item = Result<Bytes, std::io::Error>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        std::task::Poll::Ready(self.0.next())
    }
}
