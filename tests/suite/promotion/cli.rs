//! `baton plan` and `baton promote` as processes: waiting reasons and holds in the plan, a
//! person's rollback with `Baton-Promoted-By`, dry runs and clear refusals. The gates' clock is
//! set with `BATON_NOW`.

use std::process::Output;

use crate::support::baton::Baton;
use crate::support::fake_forge::FakeKind;
use crate::support::promotion::{PRODUCTION, PromotionWorld, hours_from_now, manifest};
use baton::git::trailers::parse_trailers;

fn baton(w: &PromotionWorld, args: &[&str], env: &[(&str, &str)]) -> Output {
    Baton::new(args)
        .config(&w.config_path)
        .envs(env)
        .command()
        .output()
        .unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_shows_waiting_reasons_holds_and_reviews() {
    let mut w = PromotionWorld::new(
        "mode = \"review\"\npromote_from = \"staging\"\nsoak = \"24h\"\n",
        Some(FakeKind::Gitea),
    )
    .await;
    let host = w.host();
    w.writer.commit_and_push(
        "clusters/staging/worker.yaml",
        &manifest(&host, "1.0.0", Some("INC-7 keep the old worker")),
        "Hold the staging worker",
    );
    w.push_tag("1.1.0").await;
    w.pass_at(hours_from_now(0)).await;

    let soon = hours_from_now(2).to_string();
    let out = baton(&w, &["plan"], &[("BATON_NOW", &soon)]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}\n{}", stderr(&out));
    assert!(
        text.contains("== environment production: waiting"),
        "{text}"
    );
    assert!(
        text.contains("  waiting: app 1.1.0 soaking in staging since "),
        "{text}"
    );
    assert!(text.contains(" 2h of 24h: ready at "), "{text}");
    assert!(
        text.contains(
            "  hold: clusters/staging/worker.yaml:1: app held: INC-7 keep the old worker"
        ),
        "{text}"
    );
    // A soaking version is not written anywhere yet.
    assert!(!text.contains("commit message"), "{text}");

    let later = hours_from_now(25).to_string();
    let out = baton(
        &w,
        &["plan", "--env", "production"],
        &[("BATON_NOW", &later)],
    );
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(2), "{text}\n{}", stderr(&out));
    assert!(
        text.contains("== environment production: would move"),
        "{text}"
    );
    assert!(
        text.contains(
            "  review app (1.0.0 -> 1.1.0 on baton/production/app): would push baton/production/app and open a pull request"
        ),
        "{text}"
    );
    assert!(
        text.contains("app: promoted from staging; soak 24h required"),
        "{text}"
    );
    // A plan writes nothing: no branch, no pull request.
    assert!(w.remote.head("baton/production/app").is_none());
    assert!(w.forge.as_ref().unwrap().writes().is_empty());

    let out = baton(&w, &["plan"], &[("BATON_NOW", "yesterday")]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("BATON_NOW=\"yesterday\" is not a time"),
        "{}",
        stderr(&out)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn promote_rolls_back_and_the_next_pass_keeps_it() {
    let mut w = PromotionWorld::new("promote_from = \"staging\"\n", None).await;
    let host = w.host();
    w.push_tag("1.1.0").await;
    w.pass_at(hours_from_now(0)).await;
    assert_eq!(
        w.file("main", PRODUCTION),
        manifest(&host, "1.1.0", None).trim_end()
    );

    // A dry run shows the move and writes nothing.
    let before = w.remote.head("main");
    let out = baton(
        &w,
        &[
            "promote",
            "app",
            "--to",
            "production",
            "--version",
            "1.0.0",
            "--by",
            "alice",
            "--dry-run",
        ],
        &[],
    );
    let text = stdout(&out);
    assert!(out.status.success(), "{text}\n{}", stderr(&out));
    assert!(
        text.contains("environment production: would move"),
        "{text}"
    );
    assert!(text.contains("Baton-Promoted-By: alice"), "{text}");
    assert_eq!(w.remote.head("main"), before);

    let out = baton(
        &w,
        &[
            "promote",
            "app",
            "--to",
            "production",
            "--version",
            "1.0.0",
            "--by",
            "alice",
        ],
        &[],
    );
    let text = stdout(&out);
    assert!(out.status.success(), "{text}\n{}", stderr(&out));
    assert!(
        text.contains("environment production: moved 1 image, pushed"),
        "{text}"
    );
    assert!(text.contains("  app 1.1.0 -> 1.0.0"), "{text}");
    assert_eq!(
        w.file("main", PRODUCTION),
        manifest(&host, "1.0.0", None).trim_end()
    );
    let message = w.head_message("main");
    assert!(parse_trailers(&message).contains(&("Baton-Promoted-By".into(), "alice".into())));

    // `baton once` leaves the rollback and says why.
    let out = baton(&w, &["once"], &[]);
    let text = stdout(&out);
    assert!(out.status.success(), "{text}\n{}", stderr(&out));
    assert!(text.contains("environment production: waiting"), "{text}");
    assert!(
        text.contains("alice moved app in production by hand from 1.1.0 to 1.0.0"),
        "{text}"
    );
    assert_eq!(
        w.file("main", PRODUCTION),
        manifest(&host, "1.0.0", None).trim_end()
    );

    // Promoting without --version takes what staging holds; without --by, the login name.
    let out = baton(
        &w,
        &["promote", "app", "--to", "production"],
        &[("USER", "bob")],
    );
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    assert_eq!(
        w.file("main", PRODUCTION),
        manifest(&host, "1.1.0", None).trim_end()
    );
    let message = w.head_message("main");
    assert!(parse_trailers(&message).contains(&("Baton-Promoted-By".into(), "bob".into())));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn promote_in_review_mode_opens_a_pull_request_at_once() {
    let mut w = PromotionWorld::new(
        "mode = \"review\"\npromote_from = \"staging\"\nsoak = \"24h\"\n",
        Some(FakeKind::GitHub),
    )
    .await;
    w.push_tag("1.1.0").await;
    w.pass_at(hours_from_now(0)).await;
    // The soak has not passed, but a person may promote ahead of it.
    let out = baton(
        &w,
        &["promote", "app", "--to", "production", "--by", "carol"],
        &[],
    );
    let text = stdout(&out);
    assert!(out.status.success(), "{text}\n{}", stderr(&out));
    assert!(
        text.contains("review app (1.0.0 -> 1.1.0 on baton/production/app): opened"),
        "{text}"
    );
    let forge = w.forge.as_ref().unwrap();
    let pr = &forge.pulls()[0];
    assert!(pr.body.contains("| requested by | carol |"), "{}", pr.body);
    let message = w.head_message("baton/production/app");
    assert!(parse_trailers(&message).contains(&("Baton-Promoted-By".into(), "carol".into())));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn promote_refuses_clearly() {
    let w = PromotionWorld::new("promote_from = \"staging\"\n", None).await;
    w.push_tag("2.0.0").await;
    let cases: [(&[&str], &str); 4] = [
        (
            &["promote", "app", "--to", "prod", "--by", "a"],
            "no environment \"prod\" in the configuration: known environments are production, staging",
        ),
        (
            &["promote", "ap", "--to", "production", "--by", "a"],
            "no image or policy \"ap\" in the configuration: known images are app",
        ),
        (
            &[
                "promote",
                "app",
                "--to",
                "production",
                "--version",
                "2.0.0",
                "--by",
                "a",
            ],
            "2.0.0 does not satisfy policy app (semver 1.x) of production: out of range; choose a version the policy accepts, or change policies.app (--force does not override a policy)",
        ),
        (
            &[
                "promote",
                "app",
                "--to",
                "production",
                "--version",
                "1.0.0",
                "--by",
                "a",
                "--dry-run",
            ],
            "nothing to do: production already holds that version",
        ),
    ];
    for (args, expected) in cases {
        let out = baton(&w, args, &[]);
        let all = format!("{}{}", stdout(&out), stderr(&out));
        assert!(all.contains(expected), "{args:?}: {all}");
        // A refusal fails; a dry run with nothing to do succeeds.
        let code = if args.contains(&"--dry-run") { 0 } else { 1 };
        assert_eq!(out.status.code(), Some(code), "{args:?}: {all}");
    }
}
