//! Hostile answers to verification checks: a huge body, one that never ends, a stall, a
//! redirect to another host carrying credentials, a Prometheus error or scalar; and secrets
//! (a check's token, a query-string key) that must reach only the check and never a note, a
//! log line or a commit.

use std::time::{Duration, Instant};

use jiff::Timestamp;

use crate::support::check_server::CheckServer;
use crate::support::git_server::git;
use crate::support::promotion::{PromotionWorld, env};
use baton::verification::probe::{self, Place};
use baton::verification::{Check, CheckKind, Subject};

const SUBJECT: Subject<'static> = Subject {
    env: "staging",
    image: "app",
    version: "1.2.0",
};

const NOWHERE: Place<'static> = Place {
    commit: None,
    forge: None,
};

fn http(url: String, timeout: Duration) -> Check {
    Check {
        kind: CheckKind::Http { url, expect: None },
        timeout,
        retries: 0,
        token_file: None,
    }
}

#[tokio::test]
async fn hostile_answers_fail_the_check_within_its_bounds() {
    let server = CheckServer::start("1.2.0").await;
    let other = CheckServer::start("elsewhere").await;

    // 8 MiB announced: refused without reading it.
    let huge = probe::run(
        &http(format!("{}/huge", server.url), Duration::from_secs(5)),
        &SUBJECT,
        NOWHERE,
    )
    .await;
    assert!(!huge.passed);
    assert_eq!(huge.answer, "answered 200 with a body larger than 64 KiB");

    // A body that never ends: cut at the limit, long before the timeout.
    let started = Instant::now();
    let endless = probe::run(
        &http(format!("{}/endless", server.url), Duration::from_secs(30)),
        &SUBJECT,
        NOWHERE,
    )
    .await;
    assert!(!endless.passed);
    assert_eq!(
        endless.answer,
        "answered 200 with a body larger than 64 KiB"
    );
    assert!(started.elapsed() < Duration::from_secs(20));

    // A stall: bounded by the check's timeout.
    let started = Instant::now();
    let stall = probe::run(
        &http(format!("{}/stall", server.url), Duration::from_millis(500)),
        &SUBJECT,
        NOWHERE,
    )
    .await;
    assert!(!stall.passed);
    assert_eq!(stall.answer, "no answer within 500ms");
    assert!(started.elapsed() < Duration::from_secs(10));

    // A redirect to another host, with credentials in the location: not followed, and the
    // answer names the place without them. The token goes nowhere but the check's address.
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("check-token");
    std::fs::write(&token_file, "check-token-5ecret\n").unwrap();
    server.redirect_to(&format!(
        "http://user:hunter2@{}/version?token=leaked",
        other.url.trim_start_matches("http://")
    ));
    let mut redirect = http(format!("{}/redirect", server.url), Duration::from_secs(5));
    redirect.token_file = Some(token_file.clone());
    let answer = probe::run(&redirect, &SUBJECT, NOWHERE).await;
    assert!(!answer.passed);
    assert_eq!(
        answer.answer,
        format!(
            "answered 302 redirecting to {}/version?…: checks follow no redirect; point the check at the final address",
            other.url
        )
    );
    assert!(!answer.answer.contains("hunter2") && !answer.answer.contains("leaked"));
    assert_eq!(other.hits("/version"), 0);
    assert!(other.authorization().is_empty());
    assert_eq!(
        server.authorization(),
        [(
            "/redirect".to_string(),
            "Bearer check-token-5ecret".to_string()
        )]
    );

    // Retried with backoff: two retries are three requests.
    server.answer(503, "down");
    let mut retried = http(format!("{}/version", server.url), Duration::from_secs(5));
    retried.retries = 2;
    let before = server.hits("/version");
    let answer = probe::run(&retried, &SUBJECT, NOWHERE).await;
    assert_eq!(answer.answer, "answered 503: down");
    assert_eq!(server.hits("/version") - before, 3);

    // Prometheus: an error reply and a scalar result fail and say why.
    let prometheus = |query: &str| Check {
        kind: CheckKind::Prometheus {
            base: server.url.clone(),
            query: query.into(),
        },
        ..http(String::new(), Duration::from_secs(5))
    };
    let error = probe::run(&prometheus("syntax error here"), &SUBJECT, NOWHERE).await;
    assert_eq!(
        error.answer,
        "answered 400: bad_data 1:8: parse error: unexpected identifier"
    );
    let scalar = probe::run(&prometheus("scalar(up)"), &SUBJECT, NOWHERE).await;
    assert!(!scalar.passed);
    assert!(
        scalar.answer.starts_with("result type \"scalar\""),
        "{}",
        scalar.answer
    );
    let holds = probe::run(&prometheus("up == 1"), &SUBJECT, NOWHERE).await;
    assert!(holds.passed);
    assert_eq!(holds.answer, "1 series: {env=staging} 0.2");
    // A commit_status check without a forge fails and says what is missing.
    let status = Check {
        kind: CheckKind::CommitStatus {
            pattern: "ci/*".into(),
        },
        ..http(String::new(), Duration::from_secs(5))
    };
    let place = Place {
        commit: Some("0123456789abcdef0123456789abcdef01234567"),
        forge: None,
    };
    let answer = probe::run(&status, &SUBJECT, place).await;
    assert!(
        answer.answer.starts_with("no [forge] configured"),
        "{}",
        answer.answer
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_of_a_check_reach_only_the_check() {
    let server = CheckServer::start("1.0.0").await;
    let mut w = PromotionWorld::new("", None).await;
    let token_file = w.dir.path().join("check-token");
    std::fs::write(&token_file, "tok-9f8e7d6c5b4a\n").unwrap();
    w.write_config_with(
        &["verify_timeout = \"1s\""],
        &format!(
            r#"
[[environments.staging.verify]]
http = "{}/version?key=query-5ecret-key"
expect = "{{version}}"
token_file = "{}"
retries = 0
"#,
            server.url,
            token_file.display()
        ),
    );
    w.push_tag("1.1.0").await;
    // Staging moves; then its check fails (the service still runs 1.0.0) and is recorded.
    let first = w.baton(&["once"]).env("RUST_LOG", "baton=debug").run();
    assert_eq!(first.code, 0, "{}", first.both());
    let second = w
        .baton(&["--log-format", "json", "once"])
        .env("RUST_LOG", "baton=debug")
        .env(
            "BATON_NOW",
            Timestamp::now()
                .checked_add(jiff::SignedDuration::from_mins(1))
                .unwrap()
                .to_string(),
        )
        .run();
    let move_commit = git(&w.remote.path, &["rev-parse", "main"]);
    let note = git(
        &w.remote.path,
        &["notes", "--ref=refs/notes/baton", "show", &move_commit],
    );
    assert!(note.contains(r#""verdict":"failed""#), "{note}");
    assert!(
        note.contains(&format!("http {}/version?… expect", server.url)),
        "{note}"
    );
    assert!(
        second
            .stdout
            .contains("verify: app 1.1.0: did not verify by"),
        "{}",
        second.both()
    );
    // The token went to the check, and only there; it and the key are nowhere else.
    assert!(
        server
            .authorization()
            .iter()
            .all(|(path, auth)| path == "/version" && auth == "Bearer tok-9f8e7d6c5b4a")
    );
    assert!(!server.authorization().is_empty());
    let log = git(&w.remote.path, &["log", "--all", "--format=%B"]);
    let notes_log = git(&w.remote.path, &["log", "-p", "refs/notes/baton"]);
    for text in [
        &first.stdout,
        &first.stderr,
        &second.stdout,
        &second.stderr,
        &note,
        &log,
        &notes_log,
    ] {
        assert!(!text.contains("tok-9f8e7d6c5b4a"), "token leaked: {text}");
        assert!(!text.contains("query-5ecret-key"), "key leaked: {text}");
    }
    // A report from the library says the same.
    let report = w.pass_at(Timestamp::now()).await;
    let v = &env(&report, "staging").verification[0];
    assert!(!v.summary.contains("query-5ecret-key"), "{}", v.summary);
}
