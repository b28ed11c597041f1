//! Registry webhooks over real HTTP: the router on a loopback port, requests from
//! reqwest (and a raw socket for chunked bodies), and Debian's `docker-registry`
//! sending its own push notifications.

use std::path::{Path, PathBuf};
use std::time::Duration;

use baton::config::Config;
use baton::daemon::webhooks::{self, MAX_BODY_BYTES, ScanRequest, WebhookState};
use figment::providers::Env;
use ring::hmac;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

use crate::support::registry::LocalRegistry;

const GHCR_SECRET: &str = "ghcr-shared-secret";
const HUB_TOKEN: &str = "hub token/with+odd chars";
const LOCAL_TOKEN: &str = "local-registry-token";

/// A running webhook listener and the receiving end of its scan requests.
struct Listener {
    url: String,
    state: WebhookState,
    scans: mpsc::Receiver<ScanRequest>,
    dir: tempfile::TempDir,
    http: reqwest::Client,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/webhooks")
            .join(name),
    )
    .unwrap()
}

fn write_secret(dir: &Path, name: &str, value: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, format!("{value}\n")).unwrap();
    path
}

/// The configuration text: three images and one hook per kind under test.
fn config_text(dir: &Path, local_registry: &str) -> String {
    format!(
        r#"
[git]
url = "file:///nonexistent/fleet.git"

[images.checkout-api]
repository = "ghcr.io/example/checkout-api"

[images.hub-app]
repository = "example/checkout-api"

[images.web]
repository = "{local_registry}/shop/web"

[images.harbor-web]
repository = "harbor.example.com/shop/web"

[webhooks.ghcr]
kind = "github"
secret_file = "{dir}/ghcr.secret"

[webhooks.hub]
kind = "dockerhub"
secret_file = "{dir}/hub.secret"
images = ["hub-app"]

[webhooks.harbor]
kind = "harbor"
secret_file = "{dir}/local.secret"

[webhooks.local]
kind = "distribution"
secret_file = "{dir}/local.secret"
"#,
        dir = dir.display()
    )
}

fn load(dir: &Path, text: &str) -> Config {
    Config::from_text(
        &dir.join("baton.toml"),
        text,
        Env::prefixed("BATON_WEBHOOK_TEST_NOTHING_"),
    )
    .unwrap()
}

async fn listen(local_registry: &str, queue: usize) -> Listener {
    let dir = tempfile::tempdir().unwrap();
    write_secret(dir.path(), "ghcr.secret", GHCR_SECRET);
    write_secret(dir.path(), "hub.secret", HUB_TOKEN);
    write_secret(dir.path(), "local.secret", LOCAL_TOKEN);
    let config = load(dir.path(), &config_text(dir.path(), local_registry));
    let (tx, scans) = mpsc::channel(queue);
    let state = WebhookState::new(&config, tx).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = webhooks::router(state.clone());
    let task = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    baton::common::http::install_crypto_provider();
    Listener {
        url: format!("http://{addr}"),
        state,
        scans,
        dir,
        http: reqwest::Client::new(),
        task,
    }
}

fn sign(secret: &str, body: &[u8]) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    let tag = hmac::sign(&key, body);
    let hex: String = tag.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

impl Listener {
    fn post(&self, hook: &str) -> reqwest::RequestBuilder {
        self.http
            .post(format!("{}/hooks/{hook}", self.url))
            .header("content-type", "application/json")
    }

    /// A POST carrying `token` in the query string, as Docker Hub and Quay hooks do.
    fn post_with_query_token(&self, hook: &str, token: &str) -> reqwest::RequestBuilder {
        let token: String = url::form_urlencoded::byte_serialize(token.as_bytes()).collect();
        self.http
            .post(format!("{}/hooks/{hook}?token={token}", self.url))
            .header("content-type", "application/json")
    }

    fn github(
        &self,
        event: &str,
        body: Vec<u8>,
        signature: Option<String>,
    ) -> reqwest::RequestBuilder {
        let request = self.post("ghcr").header("x-github-event", event);
        match signature {
            Some(sig) => request.header("x-hub-signature-256", sig),
            None => request,
        }
        .body(body)
    }

    /// The images of the scan requests received so far, without waiting.
    fn drain(&mut self) -> Vec<String> {
        let mut out = Vec::new();
        while let Ok(request) = self.scans.try_recv() {
            out.push(request.image);
        }
        out
    }
}

async fn status_and_json(response: reqwest::Response) -> (u16, serde_json::Value) {
    let status = response.status().as_u16();
    let json = response.json().await.unwrap();
    (status, json)
}

#[tokio::test]
async fn a_signed_github_push_triggers_a_scan_of_the_matching_image() {
    let mut hooks = listen("127.0.0.1:5000", 16).await;
    let body = fixture("github-package.json");
    let signature = sign(GHCR_SECRET, &body);
    let (status, json) = status_and_json(
        hooks
            .github("package", body, Some(signature))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 202, "{json}");
    assert_eq!(json["outcome"], "triggered");
    assert_eq!(json["images"], serde_json::json!(["checkout-api"]));
    assert_eq!(hooks.drain(), ["checkout-api"]);
    assert_eq!(hooks.state.count("ghcr", "triggered"), 1);

    // The ping GitHub sends when the hook is created: verified, nothing to do.
    let ping = fixture("github-ping.json");
    let signature = sign(GHCR_SECRET, &ping);
    let response = hooks
        .github("ping", ping, Some(signature))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(hooks.state.count("ghcr", "ignored"), 1);
    assert!(hooks.drain().is_empty());
}

#[tokio::test]
async fn unsigned_or_badly_signed_requests_get_401_and_are_never_acted_on() {
    let mut hooks = listen("127.0.0.1:5000", 16).await;
    let body = fixture("github-package.json");
    let unsigned = hooks
        .github("package", body.clone(), None)
        .send()
        .await
        .unwrap();
    assert_eq!(unsigned.status(), 401);
    let text = unsigned.text().await.unwrap();
    assert!(text.contains("no X-Hub-Signature-256 header"), "{text}");

    let wrong_key = sign("another-secret", &body);
    let (status, json) = status_and_json(
        hooks
            .github("package", body.clone(), Some(wrong_key))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 401);
    assert_eq!(json["outcome"], "unauthorized");

    // A valid signature of another body: the payload was changed in transit.
    let mut tampered = body.clone();
    let signature = sign(GHCR_SECRET, &body);
    tampered.extend_from_slice(b" ");
    let response = hooks
        .github("package", tampered, Some(signature))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);

    // Token hooks: the wrong token, and none at all.
    let hub = fixture("dockerhub.json");
    let response = hooks
        .post_with_query_token("hub", "guess")
        .body(hub.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let response = hooks.post("hub").body(hub).send().await.unwrap();
    assert_eq!(response.status(), 401);

    assert_eq!(hooks.state.count("ghcr", "unauthorized"), 3);
    assert_eq!(hooks.state.count("hub", "unauthorized"), 2);
    assert_eq!(hooks.state.count("ghcr", "triggered"), 0);
    assert!(hooks.drain().is_empty(), "nothing unverified is acted on");
}

#[tokio::test]
async fn malformed_payloads_get_400_after_verification() {
    let mut hooks = listen("127.0.0.1:5000", 16).await;
    let garbage = b"{\"package\": ".to_vec();
    let signature = sign(GHCR_SECRET, &garbage);
    let (status, json) = status_and_json(
        hooks
            .github("package", garbage, Some(signature))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(json["outcome"], "malformed");
    assert!(
        json["message"].as_str().unwrap().contains("not JSON"),
        "{json}"
    );

    // Well-formed JSON that is not this kind's payload.
    let response = hooks
        .post("hub")
        .bearer_auth(HUB_TOKEN)
        .body(fixture("quay.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let text = response.text().await.unwrap();
    assert!(text.contains("hook's kind (dockerhub)"), "{text}");

    // Garbage that is not verified either is refused as unverified, not parsed.
    let response = hooks.post("hub").body("][").send().await.unwrap();
    assert_eq!(response.status(), 401);

    assert_eq!(hooks.state.count("ghcr", "malformed"), 1);
    assert_eq!(hooks.state.count("hub", "malformed"), 1);
    assert!(hooks.drain().is_empty());
}

#[tokio::test]
async fn bodies_over_the_cap_get_413() {
    let mut hooks = listen("127.0.0.1:5000", 16).await;
    let big = vec![b' '; MAX_BODY_BYTES + 1];
    let signature = sign(GHCR_SECRET, &big);
    let response = hooks
        .github("package", big, Some(signature))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);

    // Exactly at the cap is read (and then refused as malformed, not as too large).
    let mut at_cap = fixture("github-package.json");
    at_cap.resize(MAX_BODY_BYTES, b' ');
    let signature = sign(GHCR_SECRET, &at_cap);
    let response = hooks
        .github("package", at_cap, Some(signature))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    assert_eq!(hooks.drain(), ["checkout-api"]);

    // A chunked body has no Content-Length: it is cut off while it is read. (The token is
    // checked first, so it must be right for the body to be read at all.)
    let addr = hooks.url.trim_start_matches("http://").to_string();
    let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let token: String = url::form_urlencoded::byte_serialize(HUB_TOKEN.as_bytes()).collect();
    let head = format!(
        "POST /hooks/hub?token={token} HTTP/1.1\r\nHost: {addr}\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let chunk = vec![b'x'; 64 * 1024];
    let mut reply = Vec::new();
    for _ in 0..(MAX_BODY_BYTES / chunk.len() + 2) {
        let sent = async {
            stream
                .write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
                .await?;
            stream.write_all(&chunk).await?;
            stream.write_all(b"\r\n").await
        };
        // The server may answer and close before the whole body is sent.
        if sent.await.is_err() {
            break;
        }
    }
    let _ = stream.write_all(b"0\r\n\r\n").await;
    let _ = stream.read_to_end(&mut reply).await;
    let reply = String::from_utf8_lossy(&reply);
    assert!(reply.starts_with("HTTP/1.1 413"), "{reply}");

    assert_eq!(hooks.state.count("ghcr", "too_large"), 1);
    assert_eq!(hooks.state.count("hub", "too_large"), 1);
    assert!(hooks.drain().is_empty());
}

#[tokio::test]
async fn unknown_hooks_get_404_and_other_methods_405() {
    let hooks = listen("127.0.0.1:5000", 16).await;
    let response = hooks.post("nope").body("{}").send().await.unwrap();
    assert_eq!(response.status(), 404);
    let response = hooks.post("another-guess").body("{}").send().await.unwrap();
    assert_eq!(response.status(), 404);
    assert_eq!(
        hooks
            .state
            .count(webhooks::UNKNOWN_HOOK_LABEL, "unknown_hook"),
        2
    );

    let response = hooks
        .http
        .get(format!("{}/hooks/ghcr", hooks.url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 405);
    assert_eq!(response.headers()["allow"], "POST");
    assert_eq!(hooks.state.count("ghcr", "method_not_allowed"), 1);
}

#[tokio::test]
async fn token_hooks_match_by_repository_and_respect_their_image_list() {
    let mut hooks = listen("127.0.0.1:5000", 16).await;
    // Docker Hub cannot set headers: the token rides in the query string.
    let (status, json) = status_and_json(
        hooks
            .post_with_query_token("hub", HUB_TOKEN)
            .body(fixture("dockerhub.json"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 202, "{json}");
    // example/checkout-api exists on Docker Hub (hub-app) and on GHCR (checkout-api):
    // the payload's host decides, and the hook may only trigger hub-app anyway.
    assert_eq!(json["images"], serde_json::json!(["hub-app"]));
    assert_eq!(hooks.drain(), ["hub-app"]);

    // Harbor sends its "auth header" verbatim in Authorization.
    let response = hooks
        .post("harbor")
        .header("authorization", LOCAL_TOKEN)
        .body(fixture("harbor.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    assert_eq!(hooks.drain(), ["harbor-web"]);

    // A verified push for an image nobody watches.
    let text = String::from_utf8(fixture("harbor.json")).unwrap();
    let other = text.replace("shop/web", "shop/unwatched");
    let (status, json) = status_and_json(
        hooks
            .post("harbor")
            .bearer_auth(LOCAL_TOKEN)
            .body(other)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(json["outcome"], "no_match");
    assert_eq!(hooks.state.count("harbor", "no_match"), 1);
    assert!(hooks.drain().is_empty());
}

#[tokio::test]
async fn a_full_scan_queue_answers_503_so_the_sender_retries() {
    let mut hooks = listen("127.0.0.1:5000", 1).await;
    let body = fixture("github-package.json");
    let first = hooks
        .github("package", body.clone(), Some(sign(GHCR_SECRET, &body)))
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), 202);
    let second = hooks
        .github("package", body.clone(), Some(sign(GHCR_SECRET, &body)))
        .send()
        .await
        .unwrap();
    assert_eq!(second.status(), 503);
    assert_eq!(hooks.state.count("ghcr", "busy"), 1);
    assert_eq!(hooks.drain(), ["checkout-api"]);
    let third = hooks
        .github("package", body.clone(), Some(sign(GHCR_SECRET, &body)))
        .send()
        .await
        .unwrap();
    assert_eq!(third.status(), 202);
}

#[tokio::test]
async fn reload_puts_new_secrets_in_force_and_keeps_counters() {
    let mut hooks = listen("127.0.0.1:5000", 16).await;
    let body = fixture("github-package.json");
    let old = hooks
        .github("package", body.clone(), Some(sign(GHCR_SECRET, &body)))
        .send()
        .await
        .unwrap();
    assert_eq!(old.status(), 202);

    let dir = hooks.dir.path().to_path_buf();
    write_secret(&dir, "ghcr.secret", "rotated-secret");
    let text = config_text(&dir, "127.0.0.1:5000").replace("[webhooks.hub]", "[webhooks.hub2]");
    hooks.state.reload(&load(&dir, &text)).unwrap();
    assert_eq!(
        hooks.state.hook_names(),
        ["ghcr", "harbor", "hub2", "local"]
    );

    let stale = hooks
        .github("package", body.clone(), Some(sign(GHCR_SECRET, &body)))
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status(), 401);
    let fresh = hooks
        .github("package", body.clone(), Some(sign("rotated-secret", &body)))
        .send()
        .await
        .unwrap();
    assert_eq!(fresh.status(), 202);
    assert_eq!(hooks.state.count("ghcr", "triggered"), 2);
    assert_eq!(hooks.drain(), ["checkout-api", "checkout-api"]);

    // A reload whose secret file is gone fails and leaves the hooks in force.
    std::fs::remove_file(dir.join("hub.secret")).unwrap();
    let err = hooks
        .state
        .reload(&load(&dir, &config_text(&dir, "127.0.0.1:5000")))
        .unwrap_err();
    let message = err.to_string();
    assert!(
        message.starts_with("webhook hub: cannot read secret file"),
        "{message}"
    );
    assert_eq!(
        hooks.state.hook_names(),
        ["ghcr", "harbor", "hub2", "local"]
    );
}

#[tokio::test]
async fn counters_can_live_in_a_family_the_daemon_owns() {
    baton::common::http::install_crypto_provider();
    let dir = tempfile::tempdir().unwrap();
    write_secret(dir.path(), "ghcr.secret", GHCR_SECRET);
    write_secret(dir.path(), "hub.secret", HUB_TOKEN);
    write_secret(dir.path(), "local.secret", LOCAL_TOKEN);
    let config = load(dir.path(), &config_text(dir.path(), "127.0.0.1:5000"));
    let family = prometheus_client::metrics::family::Family::default();
    let (tx, _rx) = mpsc::channel(1);
    let state = WebhookState::with_counters(&config, tx, family.clone()).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(axum::serve(listener, webhooks::router(state)).into_future());
    let response = reqwest::Client::new()
        .post(format!("http://{addr}/hooks/hub"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let label = webhooks::WebhookLabels {
        hook: "hub".to_string(),
        outcome: "unauthorized".to_string(),
    };
    assert_eq!(family.get_or_create(&label).get(), 1);
    task.abort();
}

#[tokio::test]
async fn counters_render_as_prometheus_text() {
    let hooks = listen("127.0.0.1:5000", 16).await;
    let body = fixture("github-package.json");
    hooks
        .github("package", body.clone(), Some(sign(GHCR_SECRET, &body)))
        .send()
        .await
        .unwrap();
    hooks.github("package", body, None).send().await.unwrap();
    let mut registry = prometheus_client::registry::Registry::with_prefix("baton");
    hooks.state.register_metrics(&mut registry);
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
    assert!(
        text.contains("baton_webhook_requests_total{hook=\"ghcr\",outcome=\"triggered\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("baton_webhook_requests_total{hook=\"ghcr\",outcome=\"unauthorized\"} 1"),
        "{text}"
    );
    assert!(!text.contains(GHCR_SECRET), "{text}");
}

/// Waits until `done` holds, polling; the limit only keeps a broken test from hanging.
async fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "gave up waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn the_local_registry_notifies_and_the_pushed_image_is_scanned() {
    // The registry's address is only known once it runs, and the listener's URL must be
    // in the registry's config: start the listener first, then reload it.
    let mut hooks = listen("127.0.0.1:1", 16).await;
    let url = format!("{}/hooks/local", hooks.url);
    let registry = tokio::task::spawn_blocking(move || {
        LocalRegistry::start_with_notifications(&url, &format!("Bearer {LOCAL_TOKEN}"))
    })
    .await
    .unwrap();
    let dir = hooks.dir.path().to_path_buf();
    hooks
        .state
        .reload(&load(&dir, &config_text(&dir, &registry.host())))
        .unwrap();

    registry.push_image("shop/web", "1.0.0").await;
    let request = tokio::time::timeout(Duration::from_secs(60), hooks.scans.recv())
        .await
        .expect("no scan requested within 60s")
        .unwrap();
    // The pushed tag travels with the request: the daemon lists again until it is listed.
    assert_eq!(
        request,
        ScanRequest {
            image: "web".into(),
            tags: vec!["1.0.0".into()]
        }
    );
    // The two blob pushes were verified but ignored: only the tagged manifest push
    // asks for a scan. (The registry does not promise to deliver them in order.)
    let state = hooks.state.clone();
    eventually("the blob push notifications", || {
        state.count("local", "ignored") >= 2
    })
    .await;
    assert_eq!(hooks.state.count("local", "triggered"), 1);
    assert_eq!(hooks.state.count("local", "unauthorized"), 0);
    assert!(hooks.drain().is_empty());
}

#[tokio::test]
async fn a_registry_with_the_wrong_token_is_refused() {
    let mut hooks = listen("127.0.0.1:1", 16).await;
    let url = format!("{}/hooks/local", hooks.url);
    let registry = tokio::task::spawn_blocking(move || {
        LocalRegistry::start_with_notifications(&url, "Bearer not-the-token")
    })
    .await
    .unwrap();
    let dir = hooks.dir.path().to_path_buf();
    hooks
        .state
        .reload(&load(&dir, &config_text(&dir, &registry.host())))
        .unwrap();
    registry.push_image("shop/web", "1.0.0").await;
    let state = hooks.state.clone();
    eventually("a refused notification", || {
        state.count("local", "unauthorized") >= 1
    })
    .await;
    assert_eq!(hooks.state.count("local", "triggered"), 0);
    assert!(hooks.drain().is_empty());
}
