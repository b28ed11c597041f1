//! `baton run` as a process: start-up, readiness, a commit for a new tag, status, metrics,
//! `baton status`, systemd notifications and a clean stop.

use std::time::Duration;

use crate::support::baton::Baton;
use crate::support::daemon::{DaemonFleet, PATIENCE, wait_until};

fn baton(args: &[&str]) -> (i32, String, String) {
    let run = Baton::new(args).run();
    (run.code, run.stdout, run.stderr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commits_a_new_tag_and_reports_it() {
    let fleet = DaemonFleet::start().await;
    let missing = format!(
        "\n[images.missing]\nrepository = \"{}/team/missing\"\ninterval = \"10s\"\n\n[policies.missing]\nimage = \"missing\"\nsemver = \"*\"\n",
        fleet.registry.host()
    );
    fleet.write_config(&fleet.config_text(&missing));
    let mut notify = fleet.notify_socket();
    let socket = notify.path.display().to_string();
    let mut daemon = fleet.run(&[("NOTIFY_SOCKET", &socket), ("WATCHDOG_USEC", "300000")]);

    // READY=1 after the config load and the clone, then watchdog pings.
    let ready = notify.wait_for("READY=1", 0);
    let first_ping = notify.wait_for("WATCHDOG=1", ready);
    notify.wait_for("WATCHDOG=1", first_ping + 1);
    daemon.wait_ready();
    assert_eq!(daemon.get("/healthz").unwrap(), (200, "ok\n".to_string()));

    // The first pass finds staging up to date.
    daemon.wait_event("every image scanned once", |_| true);
    daemon.wait_event("reconciled: nothing to move", |_| true);
    let before = fleet.remote.head("main").unwrap();

    // A new tag is committed within the interval (10s) and a few seconds.
    fleet.push_tag("1.1.0").await;
    let after = wait_until(
        Duration::from_secs(10 + 8),
        "baton's commit on the remote",
        || fleet.remote.head("main").filter(|h| *h != before),
    );
    assert!(
        fleet
            .staging_on_remote()
            .contains(&format!("{}/team/app:1.1.0 #", fleet.registry.host())),
        "{}",
        fleet.staging_on_remote()
    );
    assert_eq!(
        fleet.remote.subjects("main")[0],
        "staging: app 1.0.0 -> 1.1.0"
    );
    daemon.wait_event("reconciled", |e| e["pushed"] == 1);

    // One structured event per decision: the policy's new choice, with its reason.
    let choice = daemon.wait_event("policy choice", |e| e["to"] == "1.1.0");
    assert_eq!(choice["policy"], "app");
    assert_eq!(choice["from"], "1.0.0");
    assert!(
        choice["reason"]
            .as_str()
            .unwrap()
            .contains("chose 1.1.0 of 2 tags")
    );

    // The status API.
    let status = daemon.status();
    assert_eq!(status["ready"], true);
    assert_eq!(status["images"]["app"]["tag_count"], 2);
    assert_eq!(
        status["images"]["app"]["policies"]["app"]["chosen"],
        "1.1.0"
    );
    assert!(status["images"]["app"]["last_scan"].is_string());
    assert!(status["images"]["app"]["last_error"].is_null());
    assert!(
        status["images"]["missing"]["last_error"]
            .as_str()
            .unwrap()
            .contains("team/missing"),
        "{status}"
    );
    let staging = &status["environments"]["staging"];
    assert_eq!(staging["last_commit"], after.as_str());
    assert_eq!(staging["outcome"], "pushed to main");
    assert_eq!(staging["last_moves"][0], "app 1.0.0 -> 1.1.0");
    assert_eq!(status["git"]["head"], after.as_str());

    // The metrics.
    let metrics = daemon.metrics();
    let host = fleet.registry.host();
    let get = |key: &str| -> f64 {
        *metrics
            .get(key)
            .unwrap_or_else(|| panic!("no {key} in\n{}", daemon.metrics_text()))
    };
    assert!(get(r#"baton_scans_total{image="app"}"#) >= 2.0);
    assert!(
        get(&format!(
            r#"baton_scan_errors_total{{registry="{host}",kind="not_found"}}"#
        )) >= 1.0
    );
    assert_eq!(get(r#"baton_tags_seen{image="app"}"#), 2.0);
    assert!(get(r#"baton_policy_choices_total{policy="app"}"#) >= 2.0);
    assert_eq!(get(r#"baton_commits_total{environment="staging"}"#), 1.0);
    assert_eq!(
        get(r#"baton_pushes_total{repository="default",result="ok"}"#),
        1.0
    );
    assert_eq!(
        get(r#"baton_push_retries_total{repository="default"}"#),
        0.0
    );
    assert!(get(r#"baton_passes_total{repository="default",result="ok"}"#) >= 2.0);
    assert_eq!(get("baton_images"), 2.0);
    for activity in ["scan", "sync", "push", "config_load"] {
        assert!(
            get(&format!(
                r#"baton_last_success_timestamp_seconds{{activity="{activity}"}}"#
            )) > 1.7e9
        );
    }
    assert_eq!(
        get(r#"baton_pushes_total{repository="default",result="failed"}"#),
        0.0
    );
    assert_eq!(get(r#"baton_reloads_total{result="ok"}"#), 0.0);
    assert_eq!(get(r#"baton_reloads_total{result="failed"}"#), 0.0);

    // A failure that repeats is logged once, not every interval.
    wait_until(PATIENCE, "a second scan of the missing image", || {
        let scans = daemon.metrics();
        (scans.get(r#"baton_scans_total{image="missing"}"#).copied() >= Some(2.0)).then_some(())
    });
    let failures = daemon
        .events()
        .into_iter()
        .filter(|e| e["message"] == "scan failed: keeping the last choice")
        .collect::<Vec<_>>();
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert_eq!(failures[0]["image"], "missing");
    assert_eq!(failures[0]["kind"], "not_found");

    // `baton status`, by URL and by configuration.
    let url = format!("http://127.0.0.1:{}", daemon.port);
    let (code, out, err) = baton(&["status", "--url", &url]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("(ready)"), "{out}");
    assert!(out.contains("app: 1.1.0 (chose 1.1.0 of 2 tags"), "{out}");
    assert!(out.contains("staging: pushed to main"), "{out}");
    let config = fleet.config_path().display().to_string();
    let (code, out, err) = baton(&["status", "--config", &config, "--json"]);
    assert_eq!(code, 0, "{err}");
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        json["environments"]["staging"]["last_commit"],
        after.as_str()
    );

    // SIGTERM when idle: STOPPING=1 and exit 0.
    let before_stop = notify.messages().len();
    daemon.signal(libc::SIGTERM);
    let status = daemon.wait_exit();
    assert_eq!(status.code(), Some(0), "{}", daemon.log());
    notify.wait_for("STOPPING=1", before_stop);
    daemon.wait_event("stopped", |_| true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refuses_to_start_on_an_invalid_config_or_a_locked_state_dir() {
    let fleet = DaemonFleet::start().await;
    let config = fleet.config_path().display().to_string();
    fleet.write_config(&fleet.config_text("").replace("\"10s\"", "\"2s\""));
    let (code, _, err) = baton(&["run", "--config", &config]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("baton.toml:"), "{err}");
    assert!(err.contains("images.app.interval"), "{err}");

    fleet.write_config(&fleet.config_text(""));
    let mut first = fleet.run(&[]);
    first.wait_ready();
    let (code, _, err) = baton(&["run", "--config", &config]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains(&format!("is in use by baton process pid {} (", first.pid())),
        "{err}"
    );
    first.signal(libc::SIGINT);
    assert_eq!(first.wait_exit().code(), Some(0), "{}", first.log());
}
