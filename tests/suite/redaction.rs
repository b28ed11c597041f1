//! Secrets that the remote itself echoes back: a pre-receive hook printing the token and a
//! smart-HTTP server that puts it in its error. Baton's error, its debug log, the daemon's
//! status and its notifications show `***` where the token was, never the token.

use std::sync::atomic::Ordering;

use crate::support::daemon::{PATIENCE, wait_until};
use crate::support::fleet::Fleet;
use crate::support::git_server::{HttpServer, free_port};
use crate::support::inbox::Inbox;

const TOKEN: &str = "tok-echoed-5f0c2a9e71d4";

/// A fleet behind smart HTTP that needs `TOKEN`, written in a token file the config names.
async fn fleet_behind_http() -> (Fleet, HttpServer) {
    let fleet = Fleet::start().await;
    let server = HttpServer::start(&fleet.remote, TOKEN);
    let token_file = fleet.dir.path().join("git-token");
    std::fs::write(&token_file, format!("{TOKEN}\n")).unwrap();
    fleet.write_config_with(
        &server.url(),
        &format!("token_file = \"{}\"\n", token_file.display()),
        "",
    );
    (fleet, server)
}

/// Panics if `text` holds the token; `what` names where it was found.
fn assert_no_token(what: &str, text: &str) {
    assert!(!text.contains(TOKEN), "the token is in {what}:\n{text}");
}

#[tokio::test]
async fn a_pre_receive_hook_printing_the_token_is_shown_redacted() {
    let (fleet, _server) = fleet_behind_http().await;
    fleet.remote.set_pre_receive(&format!(
        "echo \"hook: credentials {TOKEN} refused for this branch\" >&2\nexit 1"
    ));
    let seeded = fleet.head();
    let run = fleet.baton_env(&["once"], &[("RUST_LOG", "baton=debug")]);
    assert_ne!(run.code, 0, "{}", run.both());
    assert_no_token("the output of baton once", &run.both());
    // The hook's words did reach the user, with the token replaced.
    assert!(
        run.stderr.contains("hook: credentials *** refused"),
        "the hook's message is not shown: {}",
        run.both()
    );
    assert_eq!(fleet.head(), seeded);
}

#[tokio::test]
async fn an_http_error_repeating_the_token_is_shown_redacted() {
    let (fleet, server) = fleet_behind_http().await;
    server.echo_token_on_push.store(true, Ordering::SeqCst);
    let seeded = fleet.head();
    let run = fleet.baton_env(&["once"], &[("RUST_LOG", "baton=debug")]);
    assert_ne!(run.code, 0, "{}", run.both());
    assert_no_token("the output of baton once", &run.both());
    assert!(
        run.stderr.contains("token *** may only read"),
        "the server's message is not shown: {}",
        run.both()
    );
    assert_eq!(fleet.head(), seeded);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_never_shows_an_echoed_token_in_its_log_status_or_notifications() {
    let (fleet, server) = fleet_behind_http().await;
    fleet.remote.set_pre_receive(&format!(
        "echo \"hook: credentials {TOKEN} refused for this branch\" >&2\nexit 1"
    ));
    let inbox = Inbox::start();
    let url_file = fleet.dir.path().join("audit-url");
    std::fs::write(&url_file, format!("{}\n", inbox.url())).unwrap();
    let port = free_port();
    let token_file = fleet.dir.path().join("git-token");
    fleet
        .config(&server.url())
        .text_value("git", "token_file", &token_file.display().to_string())
        .text_value("daemon", "listen", &format!("127.0.0.1:{port}"))
        .text_value("notifications.audit", "kind", "webhook")
        .text_value(
            "notifications.audit",
            "url_file",
            &url_file.display().to_string(),
        )
        .write();
    let mut daemon = fleet.daemon(port, &[]);
    daemon.wait_ready();
    let failed = daemon.wait_event("environment failed", |_| true);
    let error = failed["error"].as_str().unwrap_or_default().to_string();
    assert!(error.contains("credentials *** refused"), "{error}");

    let notices = wait_until(PATIENCE, "a push_failed notification", || {
        let bodies = inbox.bodies();
        bodies
            .iter()
            .any(|b| b.contains("push_failed"))
            .then_some(bodies)
    });
    for body in &notices {
        assert_no_token("a notification", body);
    }
    assert!(
        notices.iter().any(|b| b.contains("***")),
        "no notification carries the redacted hook message: {notices:?}"
    );
    let (code, status) = daemon.get("/api/v1/status").expect("status answers");
    assert_eq!(code, 200, "{status}");
    assert_no_token("the status", &status);
    assert!(
        status.contains("***"),
        "the status lacks the error: {status}"
    );
    let (_, metrics) = daemon.get("/metrics").expect("metrics answer");
    assert_no_token("the metrics", &metrics);
    assert_no_token("the daemon's log", &daemon.log());
}
