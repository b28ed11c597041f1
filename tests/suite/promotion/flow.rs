//! Promotion end to end through the library: a real registry, a real bare remote, the fake
//! forge, and the clock passed to each pass (no sleeps).
//!
//! - staging moves at once; production waits for the soak, then a pull request is opened;
//!   a newer version updates the same pull request; merging it in the remote ends the cycle;
//! - a pull request closed without merging is not reopened for that version;
//! - a window closed, then open; a freeze;
//! - a hold is respected and reported;
//! - a manual rollback by a person is not overwritten, until a newer version arrives.

use crate::support::fake_forge::FakeKind;
use crate::support::promotion::{
    PRODUCTION, PromotionWorld, STAGING, env, hours_from_now, manifest,
};
use baton::git::trailers::parse_trailers;
use baton::pass::{Outcome, ReviewAction};
use jiff::SignedDuration;

const REVIEW_SOAK: &str = "mode = \"review\"\npromote_from = \"staging\"\nsoak = \"24h\"\n";

fn trailer<'a>(trailers: &'a [(String, String)], key: &str) -> Vec<&'a str> {
    trailers
        .iter()
        .filter(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staging_moves_production_soaks_then_a_pull_request_carries_it() {
    let mut w = PromotionWorld::new(REVIEW_SOAK, Some(FakeKind::GitHub)).await;
    let host = w.host();
    let forge = w.forge.take().unwrap();

    // Nothing new: nothing moves, nothing is asked of the forge.
    let report = w.pass_at(hours_from_now(0)).await;
    assert_eq!(env(&report, "staging").outcome, Outcome::Unchanged);
    assert_eq!(env(&report, "production").outcome, Outcome::Unchanged);
    assert!(forge.requests().is_empty());

    // A new tag moves staging at once; production waits for the soak.
    w.push_tag("1.1.0").await;
    let report = w.pass_at(hours_from_now(0)).await;
    assert!(
        matches!(env(&report, "staging").outcome, Outcome::Pushed { .. }),
        "{report:#?}"
    );
    assert_eq!(
        w.file("main", STAGING),
        manifest(&host, "1.1.0", None).trim_end()
    );
    let production = env(&report, "production");
    assert!(
        matches!(production.outcome, Outcome::Waiting(_)),
        "{production:#?}"
    );
    assert_eq!(production.waiting.len(), 1);
    let wait = &production.waiting[0];
    assert_eq!(wait.image.as_deref(), Some("app"));
    assert!(
        wait.reason
            .starts_with("app 1.1.0 soaking in staging since ")
            && wait.reason.contains("of 24h: ready at "),
        "{}",
        wait.reason
    );
    let staging_commit = w.remote.head("main").unwrap();
    assert!(
        wait.reason.contains(&staging_commit[..12]),
        "{}",
        wait.reason
    );
    let ready = wait.until.unwrap();
    assert_eq!(
        w.file("main", PRODUCTION),
        manifest(&host, "1.0.0", None).trim_end()
    );
    assert!(forge.requests().is_empty());

    // An hour before the soak ends: still waiting, for the same instant.
    let report = w.pass_at(hours_from_now(23)).await;
    let production = env(&report, "production");
    assert!(matches!(production.outcome, Outcome::Waiting(_)));
    assert_eq!(production.waiting[0].until, Some(ready));

    // One second before the instant it named: still waiting.
    let report = w
        .pass_at(ready.checked_sub(SignedDuration::from_secs(1)).unwrap())
        .await;
    let production = env(&report, "production");
    assert!(
        matches!(production.outcome, Outcome::Waiting(_)),
        "{production:#?}"
    );

    // Soaked exactly the limit: a review branch and a pull request.
    let report = w.pass_at(ready).await;
    let production = env(&report, "production");
    assert_eq!(
        production.outcome,
        Outcome::Reviewed {
            branches: vec!["baton/production/app".into()]
        },
        "{production:#?}"
    );
    assert_eq!(production.reviews.len(), 1);
    let review = &production.reviews[0];
    assert_eq!(
        (review.from.as_str(), review.to.as_str()),
        ("1.0.0", "1.1.0")
    );
    assert!(matches!(
        review.action,
        ReviewAction::Opened { number: 1, .. }
    ));
    // main is untouched; the branch carries the move with its trailers and evidence.
    assert_eq!(
        w.file("main", PRODUCTION),
        manifest(&host, "1.0.0", None).trim_end()
    );
    assert_eq!(
        w.file("baton/production/app", PRODUCTION),
        manifest(&host, "1.1.0", None).trim_end()
    );
    let message = w.head_message("baton/production/app");
    assert!(
        message.starts_with("production: app 1.0.0 -> 1.1.0\n"),
        "{message}"
    );
    assert!(
        message.contains("app: promoted from staging; soak 24h required; in staging since"),
        "{message}"
    );
    let trailers = parse_trailers(&message);
    assert_eq!(trailer(&trailers, "Baton-To"), vec!["1.1.0"]);
    assert_eq!(trailer(&trailers, "Baton-Environment"), vec!["production"]);
    assert!(trailer(&trailers, "Baton-Promoted-By").is_empty());
    let pulls = forge.pulls();
    assert_eq!(pulls.len(), 1);
    let pr = &pulls[0];
    assert_eq!(
        (pr.head.as_str(), pr.base.as_str()),
        ("baton/production/app", "main")
    );
    assert_eq!(pr.title, "production: app 1.0.0 -> 1.1.0");
    for needle in [
        &format!("| image | `{host}/app` |"),
        "| from | `1.0.0` |",
        "| to | `1.1.0` |",
        "| policy | `app (semver 1.x)` |",
        "| promoted from | staging |",
        "| soak | 24h required; in staging since",
        &format!("/platform/fleet/commit/{staging_commit}"),
    ] {
        assert!(pr.body.contains(needle), "{needle} not in\n{}", pr.body);
    }
    assert!(forge.requests().iter().all(|r| r.authorized));

    // The same pass again: the pull request is current, nothing is pushed or written.
    let branch_head = w.remote.head("baton/production/app");
    let writes = forge.writes().len();
    let report = w.pass_at(hours_from_now(26)).await;
    let production = env(&report, "production");
    assert!(
        matches!(
            production.reviews[0].action,
            ReviewAction::Current { number: 1, .. }
        ),
        "{production:#?}"
    );
    assert_eq!(production.outcome, Outcome::Unchanged);
    assert_eq!(w.remote.head("baton/production/app"), branch_head);
    assert_eq!(forge.writes().len(), writes);

    // A newer tag: staging moves, production waits again, then the same pull request is
    // updated and its branch force-pushed.
    w.push_tag("1.2.0").await;
    let report = w.pass_at(hours_from_now(0)).await;
    assert!(matches!(
        env(&report, "staging").outcome,
        Outcome::Pushed { .. }
    ));
    assert!(matches!(
        env(&report, "production").outcome,
        Outcome::Waiting(_)
    ));
    let report = w.pass_at(hours_from_now(25)).await;
    let production = env(&report, "production");
    assert!(
        matches!(
            production.reviews[0].action,
            ReviewAction::Updated { number: 1, .. }
        ),
        "{production:#?}"
    );
    let pulls = forge.pulls();
    assert_eq!(pulls.len(), 1, "the same pull request is reused");
    assert_eq!(pulls[0].title, "production: app 1.0.0 -> 1.2.0");
    assert!(pulls[0].body.contains("| to | `1.2.0` |"));
    assert_eq!(pulls[0].updates, 1);
    assert_eq!(
        w.file("baton/production/app", PRODUCTION),
        manifest(&host, "1.2.0", None).trim_end()
    );
    // Force-pushed: the branch is one commit on top of main, not a pile.
    let on_branch = w.remote.subjects("baton/production/app");
    assert_eq!(on_branch[0], "production: app 1.0.0 -> 1.2.0");
    assert_eq!(on_branch[1], "staging: app 1.1.0 -> 1.2.0");

    // Merging it in the remote ends the cycle: the next pass sees production at 1.2.0.
    w.merge_in_remote("baton/production/app", "Merge pull request #1");
    forge.mark_merged(1);
    let writes = forge.writes().len();
    let report = w.pass_at(hours_from_now(30)).await;
    assert_eq!(env(&report, "staging").outcome, Outcome::Unchanged);
    assert_eq!(
        env(&report, "production").outcome,
        Outcome::Unchanged,
        "{report:#?}"
    );
    assert_eq!(
        w.file("main", PRODUCTION),
        manifest(&host, "1.2.0", None).trim_end()
    );
    assert_eq!(forge.writes().len(), writes);
    assert_eq!(forge.pulls().len(), 1);
    // `baton history` reads the production move back from the merged commit's trailers.
    let history = w.remote.subjects("main");
    assert_eq!(history[0], "Merge pull request #1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pull_request_closed_without_merging_is_not_reopened() {
    let mut w = PromotionWorld::new(REVIEW_SOAK, Some(FakeKind::GitLab)).await;
    let forge = w.forge.take().unwrap();
    w.push_tag("1.1.0").await;
    w.pass_at(hours_from_now(0)).await;
    let report = w.pass_at(hours_from_now(25)).await;
    assert!(matches!(
        env(&report, "production").reviews[0].action,
        ReviewAction::Opened { number: 1, .. }
    ));
    forge.close(1);
    let writes = forge.writes().len();
    let branch_head = w.remote.head("baton/production/app");

    let report = w.pass_at(hours_from_now(26)).await;
    let production = env(&report, "production");
    assert!(
        matches!(
            production.reviews[0].action,
            ReviewAction::Declined { number: 1, .. }
        ),
        "{production:#?}"
    );
    assert!(matches!(production.outcome, Outcome::Waiting(_)));
    assert!(
        production.waiting[0]
            .reason
            .contains("pull request #1 proposing 1.1.0 was closed without merging"),
        "{:?}",
        production.waiting
    );
    assert_eq!(forge.writes().len(), writes, "nothing reopened or opened");
    assert_eq!(w.remote.head("baton/production/app"), branch_head);

    // A newer version is proposed in a new merge request.
    w.push_tag("1.2.0").await;
    w.pass_at(hours_from_now(0)).await;
    let report = w.pass_at(hours_from_now(25)).await;
    assert!(
        matches!(
            env(&report, "production").reviews[0].action,
            ReviewAction::Opened { number: 2, .. }
        ),
        "{report:#?}"
    );
    let pulls = forge.pulls();
    assert!(!pulls[0].open && pulls[1].open);
    assert!(pulls[1].body.contains("version=1.2.0"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn review_without_a_forge_pushes_the_branch_only() {
    let mut w = PromotionWorld::new(REVIEW_SOAK, None).await;
    w.push_tag("1.1.0").await;
    w.pass_at(hours_from_now(0)).await;
    let report = w.pass_at(hours_from_now(25)).await;
    let production = env(&report, "production");
    assert_eq!(production.reviews[0].action, ReviewAction::BranchPushed);
    assert!(w.remote.head("baton/production/app").is_some());
    let report = w.pass_at(hours_from_now(26)).await;
    let production = env(&report, "production");
    assert_eq!(production.reviews[0].action, ReviewAction::BranchCurrent);
    assert_eq!(production.outcome, Outcome::Unchanged);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_window_waits_then_an_open_one_moves() {
    // 2030-01-05 is a Saturday, 2030-01-07 a Monday.
    let mut w = PromotionWorld::new(
        "promote_from = \"staging\"\nwindow = { days = \"mon-fri\", hours = \"09:00-16:00\", timezone = \"Europe/Berlin\" }\nfreeze = [\"2030-01-07\"]\n",
        None,
    )
    .await;
    let host = w.host();
    w.push_tag("1.1.0").await;
    let saturday: jiff::Timestamp = "2030-01-05T12:00:00Z".parse().unwrap();
    let report = w.pass_at(saturday).await;
    // Staging has no window: it moves.
    assert!(matches!(
        env(&report, "staging").outcome,
        Outcome::Pushed { .. }
    ));
    let production = env(&report, "production");
    assert!(
        matches!(production.outcome, Outcome::Waiting(_)),
        "{production:#?}"
    );
    let wait = &production.waiting[0];
    assert_eq!(wait.image, None);
    // Monday is frozen, so the next opening is Tuesday 09:00 Berlin (08:00 UTC).
    assert_eq!(
        wait.reason,
        "outside its windows (mon-fri 09:00-16:00 Europe/Berlin): waits until 2030-01-08 09:00 Europe/Berlin"
    );
    assert_eq!(wait.until, Some("2030-01-08T08:00:00Z".parse().unwrap()));
    // The move it waits with is still shown.
    assert_eq!(production.moves[0].to, "1.1.0");
    assert_eq!(
        w.file("main", PRODUCTION),
        manifest(&host, "1.0.0", None).trim_end()
    );

    let monday: jiff::Timestamp = "2030-01-07T10:00:00Z".parse().unwrap();
    let report = w.pass_at(monday).await;
    let production = env(&report, "production");
    assert!(
        production.waiting[0]
            .reason
            .starts_with("frozen on 2030-01-07 (freeze 2030-01-07)"),
        "{:?}",
        production.waiting
    );

    let tuesday: jiff::Timestamp = "2030-01-08T09:30:00Z".parse().unwrap();
    let report = w.pass_at(tuesday).await;
    let production = env(&report, "production");
    assert!(
        matches!(production.outcome, Outcome::Pushed { .. }),
        "{production:#?}"
    );
    assert_eq!(
        w.file("main", PRODUCTION),
        manifest(&host, "1.1.0", None).trim_end()
    );
    let message = w.head_message("main");
    assert!(
        message.starts_with("production: app 1.0.0 -> 1.1.0\n\napp: promoted from staging\n"),
        "{message}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hold_is_respected_and_reported() {
    let mut w = PromotionWorld::new("promote_from = \"staging\"\n", None).await;
    let host = w.host();
    // Production's line is held by a person; a second production file is not.
    w.writer.commit_and_push(
        PRODUCTION,
        &manifest(&host, "1.0.0", Some("INC-42 pinned during the incident")),
        "Hold production",
    );
    w.writer.commit_and_push(
        "clusters/production/worker.yaml",
        &manifest(&host, "1.0.0", None),
        "Add worker",
    );
    w.push_tag("1.1.0").await;
    let report = w.pass_at(hours_from_now(0)).await;
    let production = env(&report, "production");
    assert!(
        matches!(production.outcome, Outcome::Pushed { .. }),
        "{production:#?}"
    );
    assert_eq!(
        production.held,
        vec!["clusters/production/app.yaml:1: app held: INC-42 pinned during the incident"]
    );
    assert_eq!(
        w.file("main", PRODUCTION),
        manifest(&host, "1.0.0", Some("INC-42 pinned during the incident")).trim_end()
    );
    assert_eq!(
        w.file("main", "clusters/production/worker.yaml"),
        manifest(&host, "1.1.0", None).trim_end()
    );
    // Held markers stay held pass after pass and are still reported.
    let report = w.pass_at(hours_from_now(1)).await;
    let production = env(&report, "production");
    assert_eq!(production.outcome, Outcome::Unchanged);
    assert_eq!(production.held.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manual_rollback_is_not_overwritten_until_a_newer_version() {
    let mut w = PromotionWorld::new("promote_from = \"staging\"\nsoak = \"1h\"\n", None).await;
    let host = w.host();
    w.push_tag("1.1.0").await;
    w.pass_at(hours_from_now(0)).await;
    let report = w.pass_at(hours_from_now(2)).await;
    assert!(matches!(
        env(&report, "production").outcome,
        Outcome::Pushed { .. }
    ));
    assert_eq!(
        w.file("main", PRODUCTION),
        manifest(&host, "1.1.0", None).trim_end()
    );

    // A person rolls production back to 1.0.0.
    let config = w.config();
    let registries = w.registries();
    let workspace = w.workspace().await;
    let request = baton::pass::PromoteRequest {
        image: "app".into(),
        environment: "production".into(),
        version: Some("1.0.0".into()),
        by: "Alice <alice@example.com>".into(),
        dry_run: false,
        force: false,
        now: None,
    };
    let report = baton::pass::promote(&config, &registries, &workspace, &request)
        .await
        .unwrap();
    assert!(
        matches!(report.outcome, Outcome::Pushed { .. }),
        "{report:#?}"
    );
    assert_eq!(
        w.file("main", PRODUCTION),
        manifest(&host, "1.0.0", None).trim_end()
    );
    let message = w.head_message("main");
    assert!(
        message.starts_with("production: app 1.1.0 -> 1.0.0\n"),
        "{message}"
    );
    assert_eq!(
        trailer(&parse_trailers(&message), "Baton-Promoted-By"),
        vec!["Alice <alice@example.com>"]
    );

    // Automatic passes leave it, saying why, even long after the soak.
    for hours in [3, 48] {
        let report = w.pass_at(hours_from_now(hours)).await;
        let production = env(&report, "production");
        assert!(
            matches!(production.outcome, Outcome::Waiting(_)),
            "{production:#?}"
        );
        assert!(
            production.waiting[0].reason.starts_with(
                "Alice <alice@example.com> moved app in production by hand from 1.1.0 to 1.0.0 (commit "
            ) && production.waiting[0]
                .reason
                .ends_with("automatic moves resume with a version newer than 1.1.0"),
            "{:?}",
            production.waiting
        );
        assert_eq!(
            w.file("main", PRODUCTION),
            manifest(&host, "1.0.0", None).trim_end()
        );
    }

    // A newer version soaks in staging and then moves production again.
    w.push_tag("1.1.1").await;
    w.pass_at(hours_from_now(0)).await;
    let report = w.pass_at(hours_from_now(2)).await;
    assert!(
        matches!(env(&report, "production").outcome, Outcome::Pushed { .. }),
        "{report:#?}"
    );
    assert_eq!(
        w.file("main", PRODUCTION),
        manifest(&host, "1.1.1", None).trim_end()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn production_never_moves_backwards_on_its_own() {
    let mut w = PromotionWorld::new("promote_from = \"staging\"\n", None).await;
    let host = w.host();
    w.push_tag("1.1.0").await;
    w.pass_at(hours_from_now(0)).await;
    assert_eq!(
        w.file("main", PRODUCTION),
        manifest(&host, "1.1.0", None).trim_end()
    );
    // A person rolls staging back by hand (no trailers), with a hold so staging stays there.
    w.writer.commit_and_push(
        STAGING,
        &manifest(&host, "1.0.0", Some("bad build")),
        "Roll staging back",
    );
    let report = w.pass_at(hours_from_now(1)).await;
    let production = env(&report, "production");
    assert!(
        matches!(production.outcome, Outcome::Waiting(_)),
        "{production:#?}"
    );
    assert!(
        production.waiting[0]
            .reason
            .contains("staging holds app 1.0.0, older than production's 1.1.0"),
        "{:?}",
        production.waiting
    );
    assert_eq!(
        w.file("main", PRODUCTION),
        manifest(&host, "1.1.0", None).trim_end()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hand_edit_in_staging_starts_the_soak() {
    let mut w = PromotionWorld::new("promote_from = \"staging\"\nsoak = \"24h\"\n", None).await;
    let host = w.host();
    w.push_tag("1.1.0").await;
    // A person moves staging by hand, then edits something else in the same file later.
    let edit = w
        .writer
        .commit_and_push(STAGING, &manifest(&host, "1.1.0", None), "Hand bump");
    w.writer.commit_and_push(
        STAGING,
        &format!("{}replicas: 2\n", manifest(&host, "1.1.0", None)),
        "More replicas",
    );
    let report = w.pass_at(hours_from_now(1)).await;
    let production = env(&report, "production");
    let reason = &production.waiting[0].reason;
    assert!(
        reason.contains(&format!(
            "(commit {}, edited without trailers)",
            &edit[..12]
        )),
        "{reason}"
    );
    let report = w.pass_at(hours_from_now(25)).await;
    assert!(matches!(
        env(&report, "production").outcome,
        Outcome::Pushed { .. }
    ));
}
