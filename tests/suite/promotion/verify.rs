//! Verified promotion end to end, against the real registry, a real bare remote and an HTTP
//! service the test flips between healthy and failing (with a Prometheus-compatible query
//! endpoint): a move counts as running only once its checks pass, a move that never passes
//! is rolled back with trailers and a note, the soak counts verified time only, and the
//! results are Git notes under refs/notes/baton on the remote.

use jiff::{SignedDuration, Timestamp};

use crate::support::check_server::CheckServer;
use crate::support::git_server::git;
use crate::support::promotion::{PRODUCTION, PromotionWorld, STAGING, env};
use baton::pass::Outcome;

fn later(start: Timestamp, minutes: i64) -> Timestamp {
    start
        .checked_add(SignedDuration::from_mins(minutes))
        .unwrap()
}

/// Staging verified by an HTTP check (the body must name the version) and a Prometheus
/// query, rolled back after 10 minutes; production promoted from it after a 1h soak.
fn production(server: &CheckServer) -> String {
    format!(
        r#"promote_from = "staging"
soak = "1h"

[[environments.staging.verify]]
http = "{url}/version"
expect = "{{version}}"
retries = 0

[[environments.staging.verify]]
prometheus = "{url}"
query = 'sum(rate(http_requests_total{{env="{{env}}",code=~"5.."}}[5m])) < 1'
retries = 0
"#,
        url = server.url
    )
}

const STAGING_KEYS: &[&str] = &[
    "verify_timeout = \"10m\"",
    "on_verify_failure = \"rollback\"",
];

/// The remote's note on `commit` under refs/notes/baton.
fn note(w: &PromotionWorld, commit: &str) -> String {
    git(
        &w.remote.path,
        &["notes", "--ref=refs/notes/baton", "show", commit],
    )
}

// Multi-threaded: the check server answers while a `baton` process runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_move_that_never_verifies_rolls_back_and_only_verified_time_soaks() {
    let server = CheckServer::start("1.0.0").await;
    let mut w = PromotionWorld::new("", None).await;
    w.write_config_with(STAGING_KEYS, &production(&server));
    let host = w.host();
    w.push_tag("1.1.0").await;
    let t0 = Timestamp::now();

    // Staging moves to 1.1.0; 1.0.0, what it ran, verifies (the note goes on its commit).
    let report = w.pass_at(t0).await;
    let staging = env(&report, "staging");
    assert!(
        matches!(staging.outcome, Outcome::Pushed { .. }),
        "{:?}",
        staging.outcome
    );
    let moved = w.head_message("main");
    assert!(moved.contains("Baton-To: 1.1.0"), "{moved}");
    assert_eq!(staging.verification.len(), 1, "{:?}", staging.verification);
    assert_eq!(staging.verification[0].version, "1.0.0");
    assert_eq!(staging.verification[0].state, "passed");
    // Production may not take 1.1.0: staging has not verified it.
    let waiting = &env(&report, "production").waiting;
    assert!(
        waiting.iter().any(|w| w
            .reason
            .contains("app 1.1.0 in staging: verification has not run yet")),
        "{waiting:?}"
    );

    // The service still runs 1.0.0: the HTTP check fails and says what it saw.
    let move_commit = git(&w.remote.path, &["rev-parse", "main"]);
    let report = w.pass_at(later(t0, 2)).await;
    let v = &env(&report, "staging").verification[0];
    assert_eq!((v.version.as_str(), v.state), ("1.1.0", "waiting"), "{v:?}");
    assert!(
        v.summary.contains(&format!(
            "http {}/version expect \"{{version}}\": answered 200 without \"1.1.0\": 1.0.0",
            server.url
        )),
        "{}",
        v.summary
    );
    let prod = &env(&report, "production").waiting;
    assert!(
        prod.iter().any(
            |w| w.reason.contains("app 1.1.0 not verified in staging yet")
                && w.reason.contains("answered 200 without \"1.1.0\"")
        ),
        "{prod:?}"
    );
    let recorded = note(&w, &move_commit);
    assert!(recorded.contains(r#""verdict":"failed""#), "{recorded}");
    assert!(recorded.contains(r#""version":"1.1.0""#), "{recorded}");
    // The Prometheus query went out with the environment filled in.
    assert!(
        server
            .queries()
            .iter()
            .any(|q| q.contains(r#"env="staging""#)),
        "{:?}",
        server.queries()
    );

    // Ten minutes on, still not verified: rolled back, with trailers and a note.
    let report = w.pass_at(later(t0, 12)).await;
    let staging = env(&report, "staging");
    assert!(
        matches!(staging.outcome, Outcome::Pushed { .. }),
        "{:?}",
        staging.outcome
    );
    let rollback = w.head_message("main");
    assert!(
        rollback.starts_with("staging: app 1.1.0 -> 1.0.0"),
        "{rollback}"
    );
    assert!(
        rollback.contains("Baton-Rollback-Of: 1.1.0\n"),
        "{rollback}"
    );
    assert!(
        rollback.contains(&format!(
            "Baton-Failed-Check: http {}/version expect \"{{version}}\"",
            server.url
        )),
        "{rollback}"
    );
    assert!(
        rollback.contains("app: rolled back: 1.1.0 did not verify in staging within 10m"),
        "{rollback}"
    );
    assert!(
        w.file("main", STAGING)
            .contains(&format!("{host}/app:1.0.0"))
    );
    assert!(note(&w, &move_commit).contains(r#""verdict":"rolled_back""#));

    // 1.1.0 is not offered to staging again, though it is still the policy's choice.
    let report = w.pass_at(later(t0, 13)).await;
    let staging = env(&report, "staging");
    assert!(
        staging.waiting.iter().any(
            |w| w.reason.contains("app 1.1.0 was rolled back in staging")
                && w.reason.contains("resume with a version newer than 1.1.0")
        ),
        "{:?}",
        staging.waiting
    );
    assert!(!matches!(staging.outcome, Outcome::Pushed { .. }));

    // A newer version moves, verifies once the service runs it, and soaks from then.
    w.push_tag("1.2.0").await;
    let report = w.pass_at(later(t0, 14)).await;
    assert!(matches!(
        env(&report, "staging").outcome,
        Outcome::Pushed { .. }
    ));
    server.answer(200, "version 1.2.0");
    let verified_at = later(t0, 20);
    let report = w.pass_at(verified_at).await;
    let v = &env(&report, "staging").verification[0];
    assert_eq!((v.version.as_str(), v.state), ("1.2.0", "passed"), "{v:?}");
    let soaking = &env(&report, "production").waiting;
    assert!(
        soaking.iter().any(|w| w
            .reason
            .contains("app 1.2.0 soaking in staging, verified since")),
        "{soaking:?}"
    );

    // The soak is over but staging fails now (its error rate is up): production waits.
    server.query_holds(false);
    let report = w.pass_at(later(t0, 90)).await;
    let prod = env(&report, "production");
    assert!(
        prod.waiting
            .iter()
            .any(|w| w.reason.contains("but staging fails verification now")
                && w.reason
                    .contains("empty result: the condition does not hold")),
        "{:?}",
        prod.waiting
    );
    assert!(
        w.file("main", PRODUCTION)
            .contains(&format!("{host}/app:1.0.0"))
    );

    // Healthy again: production takes 1.2.0, its message says the soak was verified time.
    server.query_holds(true);
    let report = w.pass_at(later(t0, 91)).await;
    assert!(
        matches!(env(&report, "production").outcome, Outcome::Pushed { .. }),
        "{:?}",
        env(&report, "production")
    );
    let promoted = w.head_message("main");
    assert!(
        promoted.contains("soak 1h required; verified in staging since"),
        "{promoted}"
    );
    assert!(
        w.file("main", PRODUCTION)
            .contains(&format!("{host}/app:1.2.0"))
    );

    // The command line shows the same: `plan` names the check and its answer...
    server.answer(503, "upstream down");
    let plan = w
        .baton(&["plan", "--env", "staging"])
        .env("BATON_NOW", later(t0, 92).to_string())
        .run();
    assert!(
        plan.stdout.contains(&format!(
            "verify: app 1.2.0: verified since {}, failing now: http {}/version expect \"{{version}}\": answered 503: upstream down",
            baton::common::time::utc(verified_at),
            server.url
        )),
        "{}",
        plan.both()
    );
    // ...and `history` the verdicts recorded in the notes, under each move.
    let history = w.baton(&["history", "--env", "staging"]).run();
    assert_eq!(history.code, 0, "{}", history.both());
    let text = &history.stdout;
    assert!(text.contains("  rolled back "), "{text}");
    assert!(
        text.contains("  verification failed ")
            && text.contains("answered 200 without \"1.1.0\": 1.0.0"),
        "{text}"
    );
    assert!(text.contains(": every check passed"), "{text}");
    let json = w.baton(&["history", "--json", "--env", "staging"]).run();
    let parsed: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    let rolled = parsed["moves"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["to"] == "1.1.0")
        .unwrap();
    let verdicts: Vec<&str> = rolled["verification"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["verdict"].as_str().unwrap())
        .collect();
    assert_eq!(verdicts, ["failed", "rolled_back"], "{rolled}");
}

/// `commit_status`: the forge's statuses on the move's commit, as Flux's
/// notification-controller writes them (`kustomization/NAME`), decide the verdict.
#[tokio::test]
async fn commit_statuses_on_the_moves_commit_verify_it() {
    use crate::support::fake_forge::FakeKind;
    let mut w = PromotionWorld::new("", Some(FakeKind::GitHub)).await;
    w.write_config_with(
        &["verify_timeout = \"30m\""],
        r#"
[[environments.staging.verify]]
commit_status = "kustomization/*"
retries = 0
"#,
    );
    w.push_tag("1.1.0").await;
    let t0 = Timestamp::now();
    w.pass_at(t0).await;
    let sha = git(&w.remote.path, &["rev-parse", "main"]);
    let v = env(&w.pass_at(later(t0, 1)).await, "staging").verification[0].clone();
    assert_eq!((v.version.as_str(), v.state), ("1.1.0", "waiting"));
    assert!(
        v.summary.contains(&format!(
            "commit_status kustomization/*: no status matches \"kustomization/*\" on commit {} yet (seen: none)",
            &sha[..12]
        )),
        "{}",
        v.summary
    );
    let forge = w.forge.take().unwrap();
    forge.set_status(&sha, "ci/build", "success", "");
    forge.set_status(&sha, "kustomization/apps", "failure", "health check failed");
    let v = env(&w.pass_at(later(t0, 2)).await, "staging").verification[0].clone();
    assert!(
        v.summary.ends_with(
            "commit_status kustomization/*: kustomization/apps failure (health check failed)"
        ),
        "{}",
        v.summary
    );
    forge.set_status(
        &sha,
        "kustomization/apps",
        "success",
        "applied revision main@sha1:abc",
    );
    let v = env(&w.pass_at(later(t0, 3)).await, "staging").verification[0].clone();
    assert_eq!(v.state, "passed", "{v:?}");
    assert_eq!(
        v.checks[0].answer,
        "kustomization/apps success (applied revision main@sha1:abc)"
    );
    // The forge was asked about the move's own commit.
    assert!(
        forge
            .requests()
            .iter()
            .any(|r| r.method == "GET" && r.path.ends_with(&format!("/commits/{sha}/status")))
    );
}
