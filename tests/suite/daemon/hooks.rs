//! `baton run` with a registry webhook and a notification sink: a verified hook makes the
//! daemon scan at once (long before the image's interval), the move is committed, and the
//! commit is announced to a local receiver; an unverified hook triggers nothing.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::support::daemon::{Daemon, DaemonFleet, wait_until};
use axum::Router;
use axum::routing::post;

/// A local HTTP receiver standing in for a notification endpoint: records every body.
async fn receiver() -> (String, Arc<Mutex<Vec<serde_json::Value>>>) {
    let bodies: Arc<Mutex<Vec<serde_json::Value>>> = Arc::default();
    let seen = bodies.clone();
    let app = Router::new().route(
        "/notify",
        post(move |body: String| {
            let seen = seen.clone();
            async move {
                if let Ok(value) = serde_json::from_str(&body) {
                    seen.lock().unwrap().push(value);
                }
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/notify", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (url, bodies)
}

/// Waits for the daemon to log that a request was not verified, and checks that no scan was
/// queued for it (a queued scan is logged before that line, in the same request).
fn assert_ignored(daemon: &mut Daemon) {
    daemon.wait_event("webhook request not verified: ignored", |_| true);
    let queued: Vec<_> = daemon
        .events()
        .into_iter()
        .filter(|e| e["message"] == "webhook push: scanning now")
        .collect();
    assert!(
        queued.is_empty(),
        "an unverified hook queued a scan: {queued:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_verified_webhook_scans_at_once_and_the_commit_is_announced() {
    baton::common::http::install_crypto_provider();
    let fleet = DaemonFleet::start().await;
    let (url, bodies) = receiver().await;
    let dir = fleet.dir.path();
    std::fs::write(dir.join("hook-secret"), "s3cret-hook-token\n").unwrap();
    std::fs::write(dir.join("notify-url"), format!("{url}\n")).unwrap();
    let extra = format!(
        "\n[webhooks.ci]\nkind = \"generic\"\nsecret_file = \"{}\"\n\n[notifications.audit]\nkind = \"webhook\"\nurl_file = \"{}\"\nevents = [\"commit\"]\n",
        dir.join("hook-secret").display(),
        dir.join("notify-url").display()
    );
    // The image's interval is long: only the webhook can make the new tag move quickly.
    let config = fleet
        .config_text(&extra)
        .replace("interval = \"10s\"", "interval = \"30m\"");
    fleet.write_config(&config);
    let mut daemon = fleet.run(&[]);
    daemon.wait_ready();
    daemon.wait_event("reconciled: nothing to move", |_| true);
    let before = fleet.remote.head("main").unwrap();
    fleet.push_tag("1.1.0").await;

    let hook = format!("http://127.0.0.1:{}/hooks/ci", daemon.port);
    let body = format!(
        "{{\"repository\": \"{}/team/app\", \"tag\": \"1.1.0\"}}",
        fleet.registry.host()
    );
    let client = reqwest::Client::new();
    let refused = client
        .post(&hook)
        .bearer_auth("wrong-token")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status().as_u16(), 401);
    assert_ignored(&mut daemon);
    assert_eq!(
        fleet.remote.head("main").unwrap(),
        before,
        "an unverified hook moved something"
    );

    let accepted = client
        .post(&hook)
        .bearer_auth("s3cret-hook-token")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(accepted.status().as_u16(), 202);
    let after = wait_until(
        Duration::from_secs(20),
        "baton's commit after the webhook",
        || fleet.remote.head("main").filter(|h| *h != before),
    );
    assert!(
        fleet.staging_on_remote().contains(":1.1.0 #"),
        "{}",
        fleet.staging_on_remote()
    );

    let event = wait_until(Duration::from_secs(15), "the commit notification", || {
        bodies
            .lock()
            .unwrap()
            .iter()
            .find(|b| b["event"] == "commit")
            .cloned()
    });
    assert_eq!(event["environment"], "staging");
    assert_eq!(event["commit"], after.as_str());
    assert_eq!(event["moves"][0]["to"], "1.1.0");

    let metrics = daemon.metrics_text();
    assert!(
        metrics.contains("baton_webhook_requests_total{hook=\"ci\",outcome=\"triggered\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("baton_webhook_requests_total{hook=\"ci\",outcome=\"unauthorized\"} 1"),
        "{metrics}"
    );
    let log = daemon.log();
    assert!(!log.contains("s3cret-hook-token"), "secret in the log");
    assert!(!log.contains(&url), "notification URL in the log");
}

/// `sha256=HEX` of HMAC-SHA256 over `body` with `secret`, as GitHub signs.
fn signature(secret: &str, body: &str) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
    let tag = ring::hmac::sign(&key, body.as_bytes());
    let hex: String = tag.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_webhook_scans_at_once_and_a_bad_signature_triggers_nothing() {
    baton::common::http::install_crypto_provider();
    let fleet = DaemonFleet::start().await;
    let secret_file = fleet.dir.path().join("hook-secret");
    std::fs::write(&secret_file, "hmac-key-0b7d\n").unwrap();
    // The image's interval is long: only the webhook can make the new tag move quickly.
    fleet
        .config()
        .text_value("images.app", "interval", "30m")
        .text_value("webhooks.ci", "kind", "generic")
        .text_value(
            "webhooks.ci",
            "secret_file",
            &secret_file.display().to_string(),
        )
        .write();
    let mut daemon = fleet.run(&[]);
    daemon.wait_ready();
    daemon.wait_event("reconciled: nothing to move", |_| true);
    let before = fleet.remote.head("main").unwrap();
    fleet.push_tag("1.1.0").await;

    let hook = format!("http://127.0.0.1:{}/hooks/ci", daemon.port);
    let body = format!(
        "{{\"repository\": \"{}/team/app\", \"tag\": \"1.1.0\"}}",
        fleet.registry.host()
    );
    let client = reqwest::Client::new();
    let post = |signature: String| {
        client
            .post(&hook)
            .header("X-Hub-Signature-256", signature)
            .body(body.clone())
            .send()
    };
    // Signed with another key, and the right signature over another body.
    for wrong in [
        signature("another-key", &body),
        signature("hmac-key-0b7d", "{}"),
    ] {
        let refused = post(wrong).await.unwrap();
        assert_eq!(refused.status().as_u16(), 401);
    }
    assert_ignored(&mut daemon);
    assert_eq!(fleet.remote.head("main").unwrap(), before);

    let accepted = post(signature("hmac-key-0b7d", &body)).await.unwrap();
    assert_eq!(accepted.status().as_u16(), 202);
    wait_until(
        Duration::from_secs(20),
        "baton's commit after the signed webhook",
        || fleet.remote.head("main").filter(|h| *h != before),
    );
    assert!(fleet.staging_on_remote().contains(":1.1.0 #"));
    let metrics = daemon.metrics_text();
    assert!(
        metrics.contains("baton_webhook_requests_total{hook=\"ci\",outcome=\"unauthorized\"} 2"),
        "{metrics}"
    );
}

/// A registry may announce a push a moment before it lists the tag (Distribution notifies
/// from the manifest upload, before it links the tag): the webhook's scan lists again until
/// the announced tag is there, instead of leaving the move to the image's interval.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_that_announces_a_tag_before_the_registry_lists_it_still_moves_it() {
    baton::common::http::install_crypto_provider();
    let fleet = DaemonFleet::start().await;
    let secret_file = fleet.dir.path().join("hook-secret");
    std::fs::write(&secret_file, "s3cret-hook-token\n").unwrap();
    fleet
        .config()
        .text_value("images.app", "interval", "30m")
        .text_value("webhooks.ci", "kind", "generic")
        .text_value(
            "webhooks.ci",
            "secret_file",
            &secret_file.display().to_string(),
        )
        .write();
    let mut daemon = fleet.run(&[]);
    daemon.wait_ready();
    daemon.wait_event("reconciled: nothing to move", |_| true);
    let before = fleet.remote.head("main").unwrap();

    // Announced first, listed a moment later.
    let body = format!(
        "{{\"repository\": \"{}/team/app\", \"tag\": \"1.1.0\"}}",
        fleet.registry.host()
    );
    let accepted = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{}/hooks/ci", daemon.port))
        .bearer_auth("s3cret-hook-token")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(accepted.status().as_u16(), 202);
    daemon.wait_event("a pushed tag is not listed yet: listing again", |e| {
        e["image"] == "app" && e["tags"] == "1.1.0"
    });
    fleet.push_tag("1.1.0").await;
    wait_until(
        Duration::from_secs(30),
        "baton's commit once the announced tag is listed",
        || fleet.remote.head("main").filter(|h| *h != before),
    );
    assert!(fleet.staging_on_remote().contains(":1.1.0 #"));
}
