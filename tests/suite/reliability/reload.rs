//! Reliability: `baton run` with its configuration rewritten 100 times while it works. Valid
//! variants and invalid ones (unknown key, broken TOML, an interval under the minimum, an
//! empty file) arrive by rename and by SIGHUP, a few milliseconds apart, while new tags are
//! pushed and announced by webhook. The daemon stays up, keeps committing, refuses each bad
//! file with its location while the last good configuration keeps running, and ends on the
//! final configuration.
//!
//! `BATON_RELIABILITY_SEED` replays a run (the seed is printed).

use std::time::Duration;

use crate::support::daemon::{DaemonFleet, PATIENCE, REPO, wait_until};
use crate::support::git_server::BRANCH;
use crate::support::reliability::{moves, seed};
use rand::{Rng, SeedableRng};

const HOOK_TOKEN: &str = "reload-hook-token";

fn reloads(metrics: &std::collections::BTreeMap<String, f64>, result: &str) -> f64 {
    metrics
        .get(&format!("baton_reloads_total{{result=\"{result}\"}}"))
        .copied()
        .unwrap_or(0.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_reloads_while_working() {
    baton::common::http::install_crypto_provider();
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed("a_hundred_reloads"));
    let fleet = DaemonFleet::start().await;
    fleet.registry.push_image("team/web", "2.0.0").await;
    let secret = fleet.dir.path().join("hook-secret");
    std::fs::write(&secret, format!("{HOOK_TOKEN}\n")).unwrap();
    let hook = format!(
        "\n[webhooks.ci]\nkind = \"generic\"\nsecret_file = \"{}\"\n",
        secret.display()
    );
    let host = fleet.registry.host();
    let base = fleet.config_text(&hook);
    let web = format!(
        "\n[images.web]\nrepository = \"{host}/team/web\"\ninterval = \"10s\"\n\n[policies.web]\nimage = \"web\"\nsemver = \"2.x\"\n"
    );
    let valid = [
        base.clone(),
        fleet.config_text(&format!("{hook}{web}")),
        base.replace("listen = ", "concurrency = 2\nlisten = "),
        base.replace("interval = \"10s\"", "interval = \"12s\""),
        base.replace("interval = \"10m\"", "interval = \"11m\""),
    ];
    let invalid = [
        base.replace("mode = \"push\"", "mode = \"push\"\nmoed = \"review\""),
        base.replace("[images.app]", "[images.app"),
        base.replace("interval = \"10s\"", "interval = \"2s\""),
        String::new(),
    ];
    let last = fleet.config_text(&format!("{hook}{web}"));
    fleet.write_config(&valid[0]);
    let mut daemon = fleet.run(&[]);
    daemon.wait_ready();
    daemon.wait_event("reconciled: nothing to move", |_| true);

    let client = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{}/hooks/ci", daemon.port);
    let mut pushed = Vec::new();
    let (mut bad, mut by_signal) = (0, 0);
    for i in 0..100 {
        if i % 10 == 5 {
            let tag = format!("1.{}.0", i / 10 + 1);
            fleet.push_tag(&tag).await;
            let body = format!("{{\"repository\": \"{host}/{REPO}\", \"tag\": \"{tag}\"}}");
            let answer = client
                .post(&url)
                .bearer_auth(HOOK_TOKEN)
                .body(body)
                .send()
                .await
                .unwrap();
            assert_eq!(
                answer.status().as_u16(),
                202,
                "webhook at reload {i}:\n{}",
                daemon.log()
            );
            pushed.push(tag);
        }
        let text = if rng.random_bool(0.25) {
            bad += 1;
            &invalid[rng.random_range(0..invalid.len())]
        } else {
            &valid[rng.random_range(0..valid.len())]
        };
        if rng.random_bool(0.5) {
            fleet.replace_config(text);
        } else {
            fleet.write_config(text);
            daemon.signal(libc::SIGHUP);
            by_signal += 1;
        }
        std::thread::sleep(Duration::from_millis(rng.random_range(10..120)));
        assert!(
            daemon.exited().is_none(),
            "baton exited at reload {i}:\n{}",
            daemon.log()
        );
    }
    eprintln!("100 rewrites: {bad} invalid, {by_signal} by SIGHUP");

    // A bad file now: refused, reported with its location, the old configuration runs on.
    let mark = daemon.events().len();
    fleet.write_config(&invalid[0]);
    daemon.signal(libc::SIGHUP);
    wait_until(PATIENCE, "the refusal of the last bad file", || {
        daemon.events().into_iter().skip(mark).find(|e| {
            e["message"] == "configuration error" && e["key"] == "environments.staging.moed"
        })
    });
    let status = daemon.status();
    assert!(
        status["config"]["last_reload_error"]
            .as_str()
            .unwrap_or_default()
            .contains("moed"),
        "{status}"
    );
    assert_eq!(status["ready"], true);

    // The final configuration: taken, the error cleared, the new image scanned.
    fleet.replace_config(&last);
    daemon.signal(libc::SIGHUP);
    wait_until(PATIENCE, "the final configuration in force", || {
        let status = daemon.status();
        (status["config"]["last_reload_error"].is_null()
            && status["images"]["web"]["policies"]["web"]["chosen"] == "2.0.0")
            .then_some(())
    });
    let metrics = daemon.metrics();
    eprintln!(
        "reloads: {} ok, {} refused",
        reloads(&metrics, "ok"),
        reloads(&metrics, "failed")
    );
    assert!(reloads(&metrics, "ok") >= 10.0, "{metrics:?}");
    assert!(reloads(&metrics, "failed") >= 1.0, "{metrics:?}");

    // It kept committing: the last tag lands, and every move on the way went forward once.
    let newest = pushed.last().unwrap().clone();
    wait_until(PATIENCE, "the newest tag committed", || {
        fleet
            .staging_on_remote()
            .contains(&format!(":{newest} #"))
            .then_some(())
    });
    let moved = moves(&fleet.remote.path, BRANCH);
    let tos: Vec<&str> = moved.iter().map(|m| m.to.as_str()).collect();
    eprintln!("moves while reloading: {tos:?}");
    assert!(moved.len() >= 2, "{tos:?}");
    let mut at = "1.0.0".to_string();
    for m in &moved {
        assert_eq!(m.from, at, "{tos:?}");
        assert!(pushed.contains(&m.to), "{tos:?}");
        assert!(
            semver::Version::parse(&m.to).unwrap() > semver::Version::parse(&at).unwrap(),
            "{tos:?}"
        );
        at = m.to.clone();
    }
    assert!(!daemon.log().contains("panicked"), "{}", daemon.log());
    daemon.signal(libc::SIGTERM);
    assert_eq!(daemon.wait_exit().code(), Some(0), "{}", daemon.log());
}
