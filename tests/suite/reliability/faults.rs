//! Reliability: faults outside Baton. Registries that throttle, fail, talk nonsense or stall,
//! one image each, during a whole `baton once` while the other images move; and the git
//! remote going away and coming back, for `baton once` and for a running daemon.
//!
//! The misbehaving registries are fakes (`crate::support::fake_registry`): the real registry cannot
//! be made to answer 429 or stall. The remote is real: `git daemon`, stopped and started
//! again on the same port.

use std::time::Duration;

use crate::support::daemon::{DaemonFleet, PATIENCE, wait_until};
use crate::support::fake_registry::{Behaviour, FakeRegistry};
use crate::support::fleet::{Fleet, STAGING_APP};
use crate::support::git_server::{BRANCH, GitDaemon};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_broken_registry_fails_its_own_image_only() {
    let throttled = FakeRegistry::start(Behaviour {
        tags: vec!["5.0.0".into()],
        throttle_next: u32::MAX,
        retry_after: Some("1".into()),
        ..Default::default()
    })
    .await;
    let failing = FakeRegistry::start(Behaviour {
        tags: vec!["5.0.0".into()],
        fail_next: u32::MAX,
        ..Default::default()
    })
    .await;
    let garbage = FakeRegistry::start(Behaviour {
        raw_tags_body: Some(b"<html>502 Bad Gateway</html>".to_vec()),
        ..Default::default()
    })
    .await;
    let stalled = FakeRegistry::start(Behaviour {
        tags: vec!["5.0.0".into()],
        stall: Some(Duration::from_secs(30)),
        ..Default::default()
    })
    .await;
    let fleet = Fleet::start().await;
    let mut extra = String::new();
    let mut file = String::new();
    for (name, fake) in [
        ("throttled", &throttled),
        ("failing", &failing),
        ("garbage", &garbage),
        ("stalled", &stalled),
    ] {
        let host = fake.host();
        extra.push_str(&format!(
            "\n[registries.\"{host}\"]\ninsecure = true\ntimeout = \"1s\"\n\n[images.{name}]\nrepository = \"{host}/team/{name}\"\ntimeout = \"5s\"\n\n[policies.{name}]\nimage = \"{name}\"\nsemver = \"*\"\n"
        ));
        file.push_str(&format!(
            "{name}: {host}/team/{name}:1.0.0 # {{\"$baton\": \"{name}\"}}\n"
        ));
    }
    fleet.write_config_with(&fleet.remote.file_url(), "", &extra);
    fleet
        .writer()
        .commit_and_push("clusters/staging/broken.yaml", &file, "Add broken images");
    let seeded = fleet.head();

    let run = fleet.baton(&["once"]);
    assert_eq!(run.code, 1, "{}", run.both());
    let summary = run
        .stderr
        .split("baton once:")
        .nth(1)
        .unwrap_or_else(|| panic!("no summary: {}", run.both()))
        .to_string();
    eprintln!("baton once:{summary}");
    assert!(summary.contains("4 problems"), "{summary}");
    for name in ["throttled", "failing", "garbage", "stalled"] {
        assert!(summary.contains(&format!("image {name}")), "{summary}");
    }
    // The healthy images moved anyway; the broken ones kept their bytes.
    assert_eq!(fleet.remote.parents(BRANCH)[2][0], seeded);
    let head = fleet.head();
    assert!(fleet.show(&head, STAGING_APP).contains("app:1.1.0@sha256:"));
    assert_eq!(fleet.show(&head, "clusters/staging/broken.yaml"), file);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_remote_then_back() {
    let fleet = DaemonFleet::start().await;
    let remote = GitDaemon::start(&fleet.remote);
    let port = remote.port;
    fleet
        .config()
        .text_value("git", "url", &remote.url())
        .text_value("git", "interval", "10s")
        .write();

    // `baton once` with the remote gone: a clear error naming it, nothing else.
    drop(remote);
    let once = fleet.baton(&["once"]).run();
    assert_eq!(once.code, 1, "{}", once.both());
    assert!(
        once.stderr
            .contains(&format!("git://127.0.0.1:{port}/fleet.git")),
        "{}",
        once.both()
    );

    // The daemon starts while the remote is away, and waits for it.
    let mut daemon = fleet.run(&[]);
    let failed = daemon.wait_event("cannot prepare the clone", |_| true);
    eprintln!("daemon, remote down at start: {}", failed["error"]);
    assert_eq!(daemon.get("/healthz").map(|(code, _)| code), Some(200));
    let remote = GitDaemon::start_on_port(&fleet.remote, port);
    daemon.wait_ready();
    daemon.wait_event("reconciled: nothing to move", |_| true);
    let before = fleet.remote.head(BRANCH).unwrap();

    // Away in the middle of work: a new tag cannot be pushed, the daemon says so and stays up.
    drop(remote);
    fleet.push_tag("1.1.0").await;
    let failed = daemon.wait_event("reconciliation failed: the next one tries again", |_| true);
    eprintln!("daemon, remote down while running: {}", failed["error"]);
    assert!(
        failed["error"]
            .as_str()
            .unwrap_or_default()
            .contains(&format!("127.0.0.1:{port}")),
        "{failed}"
    );
    assert!(daemon.exited().is_none());
    assert_eq!(daemon.get("/healthz").map(|(code, _)| code), Some(200));
    assert_eq!(fleet.remote.head(BRANCH).unwrap(), before);

    // Back: the move lands without a restart.
    let _remote = GitDaemon::start_on_port(&fleet.remote, port);
    wait_until(PATIENCE, "the move after the remote came back", || {
        fleet.remote.head(BRANCH).filter(|h| *h != before)
    });
    assert!(fleet.staging_on_remote().contains(":1.1.0 #"));
    daemon.signal(libc::SIGTERM);
    assert_eq!(daemon.wait_exit().code(), Some(0), "{}", daemon.log());
}
