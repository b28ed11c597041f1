//! The whole promotion cycle with real processes: staging moves, its verification fails and
//! it rolls back, a newer version verifies and soaks (verified time only), production's pull
//! request merges itself once the forge's checks pass, and a hand edit to production that
//! skips the gates is caught by `baton verify --range`.

use jiff::{SignedDuration, Timestamp};

use crate::support::baton::Baton;
use crate::support::check_server::CheckServer;
use crate::support::fake_forge::{FakeKind, MergeGate};
use crate::support::git_server::git;
use crate::support::promotion::{PRODUCTION, PromotionWorld, STAGING, env, manifest};
use baton::pass::Outcome;

fn later(start: Timestamp, minutes: i64) -> Timestamp {
    start
        .checked_add(SignedDuration::from_mins(minutes))
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staging_rolls_back_verifies_soaks_production_merges_itself_and_a_hand_edit_is_caught() {
    let server = CheckServer::start("1.0.0").await;
    let mut w = PromotionWorld::new("", Some(FakeKind::GitHub)).await;
    w.write_config_with(
        &[
            "verify_timeout = \"10m\"",
            "on_verify_failure = \"rollback\"",
        ],
        &format!(
            r#"mode = "review"
promote_from = "staging"
soak = "1h"
auto_merge = true

[[environments.staging.verify]]
http = "{}/version"
expect = "{{version}}"
retries = 0
"#,
            server.url
        ),
    );
    let host = w.host();
    let forge = w.forge.take().unwrap();
    forge.track_remote(&w.remote.path);
    let t0 = Timestamp::now();

    // 1.1.0 moves to staging, never runs there, and is rolled back.
    w.push_tag("1.1.0").await;
    w.pass_at(t0).await;
    w.pass_at(later(t0, 2)).await;
    let report = w.pass_at(later(t0, 12)).await;
    assert!(matches!(
        env(&report, "staging").outcome,
        Outcome::Pushed { .. }
    ));
    assert!(w.head_message("main").contains("Baton-Rollback-Of: 1.1.0"));
    assert!(
        w.file("main", STAGING)
            .contains(&format!("{host}/app:1.0.0"))
    );

    // 1.2.0 moves, runs, verifies, and soaks from then.
    w.push_tag("1.2.0").await;
    w.pass_at(later(t0, 14)).await;
    server.answer(200, "1.2.0");
    let report = w.pass_at(later(t0, 20)).await;
    assert_eq!(env(&report, "staging").verification[0].state, "passed");
    assert!(env(&report, "production").reviews.is_empty());

    // After the soak, production's pull request is opened and merges itself once green.
    let report = w.pass_at(later(t0, 85)).await;
    let production = env(&report, "production");
    assert_eq!(production.reviews.len(), 1, "{production:#?}");
    forge.set_gate(MergeGate::GREEN);
    assert!(forge.pulls()[0].merged, "{:?}", forge.pulls());
    assert_eq!(
        w.file("main", PRODUCTION),
        manifest(&host, "1.2.0", None).trim_end()
    );

    // A person edits production by hand to a version staging never verified: caught.
    let work = w.writer.work.clone();
    git(&work, &["pull", "--quiet", "origin", "main"]);
    let base = git(&work, &["rev-parse", "HEAD"]);
    std::fs::write(work.join(PRODUCTION), manifest(&host, "1.1.0", None)).unwrap();
    git(&work, &["commit", "--quiet", "-am", "hotfix prod"]);
    let edit = git(&work, &["rev-parse", "HEAD"]);
    let run = Baton::new([
        "verify".to_string(),
        "--range".to_string(),
        format!("{base}..{edit}"),
        "--repo".to_string(),
        work.display().to_string(),
    ])
    .config(&w.config_path)
    .run();
    assert_eq!(run.code, 1, "{}", run.both());
    assert!(run.stdout.contains(PRODUCTION), "{}", run.both());
    assert!(
        run.stdout
            .contains("gate promote_from: staging runs 1.2.0 there, not 1.1.0"),
        "{}",
        run.both()
    );
}
