//! Stopping `baton run`: SIGTERM during a push lets the push finish and exits 0; a second
//! signal exits at once without waiting.

use crate::support::daemon::{DaemonFleet, PATIENCE, wait_until};

/// A pre-receive hook that marks the push as started, then holds it for `seconds`.
fn slow_hook(fleet: &DaemonFleet, seconds: u32) -> std::path::PathBuf {
    let started = fleet.dir.path().join("push-started");
    fleet.remote.set_pre_receive(&format!(
        "touch '{}'\nsleep {seconds}\nexit 0",
        started.display()
    ));
    started
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_during_a_push_waits_for_it_and_exits_0() {
    let fleet = DaemonFleet::start().await;
    fleet.write_config(&fleet.config_text(""));
    let mut notify = fleet.notify_socket();
    let socket = notify.path.display().to_string();
    let mut daemon = fleet.run(&[("NOTIFY_SOCKET", &socket)]);
    notify.wait_for("READY=1", 0);
    daemon.wait_ready();
    daemon.wait_event("reconciled: nothing to move", |_| true);
    let before = fleet.remote.head("main").unwrap();

    let started = slow_hook(&fleet, 3);
    fleet.push_tag("1.1.0").await;
    wait_until(PATIENCE, "the push to reach the hook", || {
        started.exists().then_some(())
    });
    let before_stop = notify.messages().len();
    daemon.signal(libc::SIGTERM);
    notify.wait_for("STOPPING=1", before_stop);
    // Still serving while it waits (the push is held in the hook): the status says it is
    // stopping.
    let status = daemon.status();
    assert_eq!(status["stopping"], true, "{status}");

    let status = daemon.wait_exit();
    assert_eq!(status.code(), Some(0), "{}", daemon.log());
    // The push finished before the exit.
    let after = fleet.remote.head("main").unwrap();
    assert_ne!(after, before);
    assert!(fleet.staging_on_remote().contains(":1.1.0 #"));
    assert_eq!(
        fleet.remote.subjects("main")[0],
        "staging: app 1.0.0 -> 1.1.0"
    );
    daemon.wait_event("stopped", |_| true);
    let pushed = daemon
        .events()
        .into_iter()
        .position(|e| e["message"] == "reconciled" && e["pushed"] == 1)
        .expect("the pass in flight finished");
    let stopping = daemon
        .events()
        .into_iter()
        .position(|e| e["message"] == "stopping: no new work; waiting for work in flight")
        .unwrap();
    assert!(stopping < pushed, "{}", daemon.log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_signal_exits_at_once() {
    let fleet = DaemonFleet::start().await;
    fleet.write_config(&fleet.config_text(""));
    let mut daemon = fleet.run(&[]);
    daemon.wait_ready();
    daemon.wait_event("reconciled: nothing to move", |_| true);
    let before = fleet.remote.head("main").unwrap();

    let started = slow_hook(&fleet, 8);
    fleet.push_tag("1.1.0").await;
    wait_until(PATIENCE, "the push to reach the hook", || {
        started.exists().then_some(())
    });
    daemon.signal(libc::SIGTERM);
    daemon.wait_event("stopping: no new work; waiting for work in flight", |_| {
        true
    });
    daemon.signal(libc::SIGINT);
    let status = daemon.wait_exit();
    assert_eq!(status.code(), Some(130), "{}", daemon.log());
    // It did not wait for the push: the hook is still holding it.
    assert_eq!(fleet.remote.head("main").unwrap(), before);
}
