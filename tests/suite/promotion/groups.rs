//! Groups (`[groups.NAME]`) end to end against the real registry and a real bare remote: the
//! images of a group move in one commit (push mode) or one pull request (review mode, GitHub
//! through prism checking the fake against GitHub's description); with `same_version` only
//! when every member has the version; a gate holding one member holds them all. Hostile
//! groups are refused at load with file:line.

use crate::support::baton::Baton;
use crate::support::fake_forge::{FakeForge, FakeKind};
use crate::support::git_server::git;
use crate::support::prism::{Prism, violations};
use crate::support::promotion::{PromotionWorld, env, hours_from_now};
use baton::pass::{Outcome, ReviewAction};

const WEB_STAGING: &str = "clusters/staging/web.yaml";
const WEB_PRODUCTION: &str = "clusters/production/web.yaml";

fn web(host: &str, tag: &str, hold: Option<&str>) -> String {
    match hold {
        Some(reason) => {
            format!("image: {host}/web:{tag} # {{\"$baton\": \"web\", \"hold\": \"{reason}\"}}\n")
        }
        None => format!("image: {host}/web:{tag} # {{\"$baton\": \"web\"}}\n"),
    }
}

/// `web` beside `app`, both in group `shop`.
fn shop(host: &str, same_version: bool) -> String {
    format!(
        "\n[images.web]\nrepository = \"{host}/web\"\ninterval = \"1m\"\n\n[policies.web]\nimage = \"web\"\nsemver = \"1.x\"\n\n[groups.shop]\nimages = [\"app\", \"web\"]\nsame_version = {same_version}\n"
    )
}

/// A world with `web` 1.0.0 in both environments (held in production when `hold`).
async fn with_web(production: &str, forge: Option<FakeKind>, hold: Option<&str>) -> PromotionWorld {
    let w = PromotionWorld::new("", forge).await;
    let host = w.host();
    w.registry.push_image("web", "1.0.0").await;
    w.writer.commit_and_push(
        WEB_STAGING,
        &web(&host, "1.0.0", None),
        "Add web to staging",
    );
    w.writer.commit_and_push(
        WEB_PRODUCTION,
        &web(&host, "1.0.0", hold),
        "Add web to production",
    );
    w.write_config(production);
    w
}

fn waiting_text(report: &baton::pass::PassReport, name: &str) -> String {
    env(report, name)
        .waiting
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_moves_in_one_commit_only_when_every_member_has_the_version_and_may_move() {
    let mut w = with_web("", None, Some("db migration first")).await;
    let host = w.host();
    w.write_config(&shop(&host, true));
    let start = w.remote.head("main").unwrap();

    // Only app has 1.1.0: nothing moves, and both environments say why.
    w.push_tag("1.1.0").await;
    let report = w.pass_at(hours_from_now(0)).await;
    let staging = waiting_text(&report, "staging");
    assert!(
        staging.contains("group shop (app, web) moves only to one version for all (same_version): web has no 1.1.0 (its candidate is 1.0.0)"),
        "{staging}"
    );
    assert!(
        matches!(env(&report, "staging").outcome, Outcome::Waiting(_)),
        "{report:#?}"
    );
    let production = waiting_text(&report, "production");
    assert!(
        production.contains(&format!(
            "group shop (app, web) moves together, and web may not move now: its markers are held ({WEB_PRODUCTION}:1: db migration first)"
        )),
        "{production}"
    );
    assert_eq!(w.remote.head("main").unwrap(), start, "nothing was pushed");
    let plan = Baton::new(["plan", "--env", "staging"])
        .config(&w.config_path)
        .run();
    assert!(
        plan.stdout
            .contains("web has no 1.1.0 (its candidate is 1.0.0)"),
        "{}",
        plan.both()
    );

    // web gets 1.1.0: staging moves both in one commit that says it is the group's.
    w.registry.push_image("web", "1.1.0").await;
    let report = w.pass_at(hours_from_now(0)).await;
    assert!(
        matches!(env(&report, "staging").outcome, Outcome::Pushed { .. }),
        "{report:#?}"
    );
    assert!(
        waiting_text(&report, "production").contains("web may not move now"),
        "{report:#?}"
    );
    let head = w.remote.head("main").unwrap();
    assert_eq!(
        git(
            &w.remote.path,
            &["rev-list", "--count", &format!("{start}..{head}")]
        ),
        "1"
    );
    let message = w.head_message("main");
    assert!(
        message.starts_with("staging: group shop: app 1.0.0 -> 1.1.0, web 1.0.0 -> 1.1.0\n"),
        "{message}"
    );
    for needle in [
        "group shop: app and web move together, to one version (same_version)",
        &format!("Baton-Image: {host}/app"),
        &format!("Baton-Image: {host}/web"),
        "Baton-Group: shop",
    ] {
        assert!(message.contains(needle), "{needle} in {message}");
    }
    let files = git(
        &w.remote.path,
        &["show", "--name-only", "--format=", "main"],
    );
    assert_eq!(files, format!("clusters/staging/app.yaml\n{WEB_STAGING}"));

    // The person lifts the hold: production moves both, in one commit.
    w.writer.commit_and_push(
        WEB_PRODUCTION,
        &web(&host, "1.0.0", None),
        "Migration done: lift the hold",
    );
    let lifted = w.remote.head("main").unwrap();
    let report = w.pass_at(hours_from_now(0)).await;
    assert!(
        matches!(env(&report, "production").outcome, Outcome::Pushed { .. }),
        "{report:#?}"
    );
    let head = w.remote.head("main").unwrap();
    assert_eq!(
        git(
            &w.remote.path,
            &["rev-list", "--count", &format!("{lifted}..{head}")]
        ),
        "1"
    );
    assert!(
        w.head_message("main")
            .starts_with("production: group shop: app 1.0.0 -> 1.1.0, web 1.0.0 -> 1.1.0\n")
    );

    // A person's baton promote moves one member alone; the group does not undo it.
    let run = Baton::new([
        "promote",
        "app",
        "--to",
        "production",
        "--version",
        "1.0.0",
        "--by",
        "alice",
    ])
    .config(&w.config_path)
    .run();
    assert_eq!(run.code, 0, "{}", run.both());
    let message = w.head_message("main");
    assert!(
        message.starts_with("production: app 1.1.0 -> 1.0.0\n"),
        "{message}"
    );
    assert!(!message.contains("Baton-Group"), "{message}");
    assert_eq!(
        w.file("main", WEB_PRODUCTION),
        web(&host, "1.1.0", None).trim_end()
    );
    let promoted = w.remote.head("main");
    let report = w.pass_at(hours_from_now(0)).await;
    assert!(
        waiting_text(&report, "production").contains("alice moved app in production by hand"),
        "{report:#?}"
    );
    assert_eq!(w.remote.head("main"), promoted);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_review_mode_a_group_is_one_pull_request_checked_by_githubs_description() {
    let mut w = with_web("", Some(FakeKind::GitHub), None).await;
    let host = w.host();
    let fake = w.forge.take().unwrap();
    fake.track_remote(&w.remote.path);
    let prism = Prism::proxy(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/github/api.github.com.baton.json"),
        &fake.base_url(),
    );
    let section = fake
        .config_section(&w.dir.path().join("forge-token"))
        .replace(&fake.base_url(), &prism.base_url());
    w.write_config(&format!(
        "mode = \"review\"\npromote_from = \"staging\"\nsoak = \"1h\"\n{}\n{section}",
        shop(&host, false)
    ));
    w.push_tag("1.1.0").await;
    w.registry.push_image("web", "1.2.0").await;
    // Staging moves both (different versions: no same_version); production soaks, then
    // proposes both in one pull request on the group's branch.
    w.pass_at(hours_from_now(0)).await;
    let report = w.pass_at(hours_from_now(2)).await;
    let production = env(&report, "production");
    assert_eq!(production.reviews.len(), 1, "{production:#?}");
    let review = &production.reviews[0];
    assert_eq!(review.image, "shop");
    assert_eq!(review.branch, "baton/production/shop");
    assert_eq!(review.to, "app 1.1.0, web 1.2.0");
    assert!(
        matches!(review.action, ReviewAction::Opened { number: 1, .. }),
        "{review:#?}"
    );
    let pulls = fake.pulls();
    assert_eq!(pulls.len(), 1, "{pulls:#?}");
    assert_eq!(
        pulls[0].title,
        "production: group shop: app 1.0.0 -> 1.1.0, web 1.0.0 -> 1.2.0"
    );
    for needle in [
        "the group **shop** (app, web) in **production**",
        &format!("| web | `{host}/web` | `1.0.0` | `1.2.0` | `web (semver 1.x)` |"),
        "<!-- baton-review environment=production image=shop version=app=1.1.0,web=1.2.0 -->",
    ] {
        assert!(
            pulls[0].body.contains(needle),
            "{needle} in {}",
            pulls[0].body
        );
    }
    let files = git(
        &w.remote.path,
        &["show", "--name-only", "--format=", "baton/production/shop"],
    );
    assert_eq!(
        files,
        format!("clusters/production/app.yaml\n{WEB_PRODUCTION}")
    );
    assert!(
        w.head_message("baton/production/shop")
            .contains("Baton-Group: shop")
    );

    // The same pass again: the branch and the pull request are current, nothing is written.
    let branch = w.remote.head("baton/production/shop");
    let report = w.pass_at(hours_from_now(3)).await;
    assert!(
        matches!(
            env(&report, "production").reviews[0].action,
            ReviewAction::Current { number: 1, .. }
        ),
        "{report:#?}"
    );
    assert_eq!(w.remote.head("baton/production/shop"), branch);
    assert_eq!(fake.pulls()[0].updates, 0);

    // Closed without merging: the same versions are not proposed again.
    fake.close(1);
    let report = w.pass_at(hours_from_now(4)).await;
    assert!(
        matches!(
            env(&report, "production").reviews[0].action,
            ReviewAction::Declined { number: 1, .. }
        ),
        "{report:#?}"
    );
    assert_eq!(fake.pulls().len(), 1);

    let requests = fake.requests().len();
    let log = prism.settled_log(requests);
    let bad = violations(&log, true);
    assert!(
        bad.is_empty(),
        "requests or fake replies GitHub's description refuses:\n{}\n\nfull log:\n{log}",
        bad.join("\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_pull_request_merges_itself_with_every_member() {
    let mut w = with_web("", Some(FakeKind::GitHub), None).await;
    let host = w.host();
    w.write_config(&format!(
        "mode = \"review\"\npromote_from = \"staging\"\nauto_merge = true\n{}",
        shop(&host, true)
    ));
    let forge = w.forge.take().unwrap();
    forge.track_remote(&w.remote.path);
    forge.set_gate(crate::support::fake_forge::MergeGate::GREEN);
    w.push_tag("1.1.0").await;
    w.registry.push_image("web", "1.1.0").await;
    // Staging moves both; production proposes both in one pull request, merged at once.
    let report = w.pass_at(hours_from_now(0)).await;
    let production = env(&report, "production");
    assert_eq!(production.reviews.len(), 1, "{production:#?}");
    assert_eq!(production.reviews[0].branch, "baton/production/shop");
    assert_eq!(
        production.reviews[0].merge,
        Some(baton::pass::AutoMerge::Merged),
        "{production:#?}"
    );
    assert!(forge.pulls()[0].merged);
    assert_eq!(
        w.file("main", "clusters/production/app.yaml"),
        crate::support::promotion::manifest(&host, "1.1.0", None).trim_end()
    );
    assert_eq!(
        w.file("main", WEB_PRODUCTION),
        web(&host, "1.1.0", None).trim_end()
    );
    let report = w.pass_at(hours_from_now(0)).await;
    assert_eq!(env(&report, "production").outcome, Outcome::Unchanged);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_its_source_has_not_verified_holds_the_group() {
    let server = crate::support::check_server::CheckServer::start("app 1.0.0 web 1.0.0").await;
    let mut w = with_web("", None, None).await;
    let host = w.host();
    // Staging's check runs per image: the body must name the image and its version.
    w.write_config(&format!(
        "promote_from = \"staging\"\n\n[[environments.staging.verify]]\nhttp = \"{}/version\"\nexpect = \"{{image}} {{version}}\"\nretries = 0\n{}",
        server.url,
        shop(&host, false)
    ));
    w.push_tag("1.1.0").await;
    w.registry.push_image("web", "1.1.0").await;
    w.pass_at(hours_from_now(0)).await;
    // app 1.1.0 runs in staging, web 1.1.0 does not yet: production moves neither.
    server.answer(200, "app 1.1.0 web 1.0.0");
    let report = w.pass_at(hours_from_now(0)).await;
    let production = waiting_text(&report, "production");
    assert!(
        production.contains("app: group shop (app, web) moves together, and web may not move now: web 1.1.0 not verified in staging yet"),
        "{production}"
    );
    assert!(env(&report, "production").moves.is_empty(), "{report:#?}");
    // Both verified: both move, in one commit.
    server.answer(200, "app 1.1.0 web 1.1.0");
    let report = w.pass_at(hours_from_now(0)).await;
    assert!(
        matches!(env(&report, "production").outcome, Outcome::Pushed { .. }),
        "{report:#?}"
    );
    assert!(
        w.head_message("main")
            .starts_with("production: group shop: app 1.0.0 -> 1.1.0, web 1.0.0 -> 1.1.0\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_rolls_back_together_when_one_member_does_not_verify() {
    let server = crate::support::check_server::CheckServer::start("app 1.0.0 web 1.0.0").await;
    let mut w = with_web("", None, None).await;
    let host = w.host();
    w.write_config_with(
        &[
            "verify_timeout = \"10m\"",
            "on_verify_failure = \"rollback\"",
        ],
        &format!(
            "\n[[environments.staging.verify]]\nhttp = \"{}/version\"\nexpect = \"{{image}} {{version}}\"\nretries = 0\n{}",
            server.url,
            shop(&host, false)
        ),
    );
    w.push_tag("1.1.0").await;
    w.registry.push_image("web", "1.1.0").await;
    let t0 = jiff::Timestamp::now();
    w.pass_at(t0).await;
    assert!(w.head_message("main").contains("Baton-Group: shop"));
    // web runs its 1.1.0, app never does: once app's time is up, both go back, in one commit.
    server.answer(200, "app 1.0.0 web 1.1.0");
    let later = |m: i64| t0.checked_add(jiff::SignedDuration::from_mins(m)).unwrap();
    w.pass_at(later(2)).await;
    let before = w.remote.head("main").unwrap();
    let report = w.pass_at(later(12)).await;
    assert!(
        matches!(env(&report, "staging").outcome, Outcome::Pushed { .. }),
        "{report:#?}"
    );
    let head = w.remote.head("main").unwrap();
    assert_eq!(
        git(
            &w.remote.path,
            &["rev-list", "--count", &format!("{before}..{head}")]
        ),
        "1"
    );
    let message = w.head_message("main");
    for needle in [
        "staging: group shop: app 1.1.0 -> 1.0.0, web 1.1.0 -> 1.0.0",
        "app: rolled back: 1.1.0 did not verify in staging within 10m",
        "web: rolled back: moved together with app in group shop, which did not verify",
        "Baton-Rollback-Of: 1.1.0",
    ] {
        assert!(message.contains(needle), "{needle} in {message}");
    }
    assert_eq!(
        w.file("main", WEB_STAGING),
        web(&host, "1.0.0", None).trim_end()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_groups_are_refused_with_file_and_line() {
    let w = PromotionWorld::new("", None).await;
    let host = w.host();
    for (groups, expected) in [
        (
            "[groups.a]\nimages = [\"app\", \"web\"]\n\n[groups.b]\nimages = [\"web\", \"app\"]\n",
            "groups.b.images.0: image \"web\" is already in group \"a\"",
        ),
        (
            "[groups.a]\nimages = [\"app\", \"../../etc/passwd\"]\n",
            "groups.a.images.1: group \"a\" names unknown image \"../../etc/passwd\"",
        ),
        (
            "[groups.app]\nimages = [\"app\", \"web\"]\n",
            "group \"app\" has the name of an image",
        ),
        (
            "[groups.a]\nimages = \"app\"\n",
            "groups.a.images: expected an array of strings",
        ),
        (
            "[groups.\"../../x\"]\nimages = [\"app\", \"web\"]\n",
            "must be letters, digits",
        ),
    ] {
        w.write_config(&format!(
            "\n[images.web]\nrepository = \"{host}/web\"\n\n[policies.web]\nimage = \"web\"\nsemver = \"1.x\"\n\n{groups}"
        ));
        let run = Baton::new(["check"]).config(&w.config_path).run();
        assert_ne!(run.code, 0, "{groups}: {}", run.both());
        let line = run
            .stderr
            .lines()
            .find(|l| l.contains(expected))
            .unwrap_or_else(|| panic!("{expected} in {}", run.both()));
        assert!(
            line.contains(&format!("{}:", w.config_path.display())),
            "{line}"
        );
    }
    // A valid group is listed by baton check.
    w.write_config(&shop(&host, true));
    let run = Baton::new(["check"]).config(&w.config_path).run();
    assert_eq!(run.code, 0, "{}", run.both());
    assert!(
        run.stdout
            .contains("group shop: app, web move together, same version only"),
        "{}",
        run.both()
    );
}

/// Production's keys in review mode from staging, with `fake` as the forge: without the
/// group `shop`, then with it (same_version).
fn review_configs(w: &PromotionWorld, fake: &FakeForge) -> (String, String) {
    let section = fake.config_section(&w.dir.path().join("forge-token"));
    let review = "mode = \"review\"\npromote_from = \"staging\"\n";
    let with_group = shop(&w.host(), true);
    let without = with_group.split("\n[groups.shop]").next().unwrap();
    (
        format!("{review}{without}\n{section}"),
        format!("{review}{with_group}\n{section}"),
    )
}

/// An image's own review left open when it joins a group is closed (merged, it would move the
/// image alone), even while the group waits; the closing is not read as a person declining
/// the version, a person's own promotion is left open, and a pull request Baton did not open
/// is never touched. On GitLab, whose close is a different field than GitHub's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_s_own_review_is_closed_when_it_joins_a_group() {
    let mut w = with_web("", Some(FakeKind::GitLab), None).await;
    let fake = w.forge.take().unwrap();
    fake.track_remote(&w.remote.path);
    let (alone, grouped) = review_configs(&w, &fake);
    w.write_config(&alone);
    let branch = "baton/production/app";

    // Before the group: app 1.1.0 moves staging and is proposed for production alone.
    w.push_tag("1.1.0").await;
    let report = w.pass_at(hours_from_now(0)).await;
    let reviews = &env(&report, "production").reviews;
    assert!(
        matches!(reviews[..], [ref r] if r.branch == branch && matches!(r.action, ReviewAction::Opened { number: 1, .. })),
        "{reviews:#?}"
    );
    let mallory = fake.add_foreign("mallory", "mallory/fleet", branch, "mine", true);

    // The group (same_version; web has no 1.1.0) holds app: its own review is closed, though
    // main moved on since it was opened. `plan` says so and closes nothing.
    w.writer
        .commit_and_push("docs/README.md", "unrelated\n", "Unrelated change");
    w.write_config(&grouped);
    let plan = Baton::new(["plan", "--env", "production"])
        .config(&w.config_path)
        .command()
        .output()
        .unwrap();
    let plan_out = String::from_utf8_lossy(&plan.stdout);
    assert!(
        plan_out.contains("would close pull request #1 on baton/production/app: it moves app alone, and app is now in group shop"),
        "{plan:?}"
    );
    assert!(fake.pulls()[0].open);
    let report = w.pass_at(hours_from_now(0)).await;
    let production = env(&report, "production");
    assert!(
        production.notes.iter().any(|n| n
            == "closed pull request #1 on baton/production/app: it moved app alone, and app is now in group shop"),
        "{production:#?}"
    );
    assert!(production.reviews.is_empty(), "{production:#?}");
    let pulls = fake.pulls();
    assert!(!pulls[0].open && !pulls[0].merged, "{pulls:#?}");
    assert!(
        pulls[0]
            .body
            .starts_with("**Closed by Baton:** app is now in group **shop**"),
        "{}",
        pulls[0].body
    );
    assert!(
        !pulls[0].body.contains("<!-- baton-review"),
        "{}",
        pulls[0].body
    );
    assert!(pulls[1].open && pulls[1].body == "mine", "{:#?}", pulls[1]);
    // Nothing more the next time.
    let updates = pulls[0].updates;
    let report = w.pass_at(hours_from_now(0)).await;
    assert!(env(&report, "production").notes.is_empty(), "{report:#?}");
    assert_eq!(fake.pulls()[0].updates, updates);
    // A person who reopens it on purpose keeps it open (its body is no longer Baton's).
    fake.reopen(1);
    let report = w.pass_at(hours_from_now(0)).await;
    assert!(env(&report, "production").notes.is_empty(), "{report:#?}");
    assert!(fake.pulls()[0].open);
    assert_eq!(fake.pulls()[0].updates, updates);
    fake.close(1);

    // Out of the group again, app 1.1.0 is proposed anew: Baton's closing was no decline.
    w.write_config(&alone);
    let report = w.pass_at(hours_from_now(0)).await;
    let reviews = &env(&report, "production").reviews;
    assert!(
        matches!(reviews[..], [ref r] if matches!(r.action, ReviewAction::Opened { .. })),
        "{reviews:#?}"
    );
    let reopened = fake.pulls().len() as u64;
    assert_ne!(reopened, mallory);

    // A person's own promotion of app alone stays open when the group comes back.
    w.registry.push_image("app", "1.2.0").await;
    let out = Baton::new([
        "promote",
        "app",
        "--to",
        "production",
        "--version",
        "1.2.0",
        "--by",
        "alice",
    ])
    .config(&w.config_path)
    .command()
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(w.head_message(branch).contains("alice"));
    w.write_config(&grouped);
    let report = w.pass_at(hours_from_now(0)).await;
    let left_open = format!(
        "left open pull request #{reopened} on baton/production/app, which would move app alone (app is in group shop): "
    );
    let notes = &env(&report, "production").notes;
    assert!(
        notes
            .iter()
            .any(|n| n.starts_with(&left_open) && n.ends_with("alice promoted app by hand on it")),
        "{notes:#?}"
    );
    // So is a branch a person pushed to.
    let work = &w.writer.work;
    git(work, &["fetch", "--quiet", "origin", branch]);
    git(work, &["checkout", "--quiet", "-B", "edit", "FETCH_HEAD"]);
    std::fs::write(work.join("clusters/production/notes.txt"), "checked\n").unwrap();
    git(work, &["add", "-A"]);
    git(work, &["commit", "--quiet", "-m", "Checked by hand"]);
    git(
        work,
        &["push", "--quiet", "origin", &format!("HEAD:{branch}")],
    );
    git(work, &["checkout", "--quiet", "main"]);
    let report = w.pass_at(hours_from_now(0)).await;
    let notes = &env(&report, "production").notes;
    assert!(
        notes
            .iter()
            .any(|n| n.starts_with(&left_open) && n.contains("a person changed it")),
        "{notes:#?}"
    );
    let pulls = fake.pulls();
    let own = pulls.iter().find(|p| p.number == reopened).unwrap();
    assert!(own.open, "{pulls:#?}");
    assert!(pulls.iter().find(|p| p.number == mallory).unwrap().open);
}

/// The close's last guards: a pull request whose head on the forge is not the branch head
/// Baton fetched (a push Baton has not seen yet) is left open for the next pass, and so is one
/// whose branch is gone. On GitHub.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_s_review_whose_head_moved_or_branch_went_stays_open() {
    let mut w = with_web("", Some(FakeKind::GitHub), None).await;
    // Not tracking the remote: the fake reports a head of its own, never the branch's.
    let fake = w.forge.take().unwrap();
    let (alone, grouped) = review_configs(&w, &fake);
    w.write_config(&alone);
    w.push_tag("1.1.0").await;
    w.pass_at(hours_from_now(0)).await;
    assert!(fake.pulls()[0].open, "{:#?}", fake.pulls());
    let branch = "baton/production/app";
    let head = w.remote.head(branch).unwrap();

    w.write_config(&grouped);
    let report = w.pass_at(hours_from_now(0)).await;
    let notes = &env(&report, "production").notes;
    let left_open = "left open pull request #1 on baton/production/app, which would move app alone (app is in group shop): ";
    assert!(
        notes.iter().any(|n| n.starts_with(left_open)
            && n.contains(&format!(
                "the branch is at {head}; the next pass looks again"
            ))),
        "{notes:#?}"
    );
    assert!(fake.pulls()[0].open);

    git(&w.remote.path, &["branch", "--quiet", "-D", branch]);
    let report = w.pass_at(hours_from_now(0)).await;
    let notes = &env(&report, "production").notes;
    assert!(
        notes
            .iter()
            .any(|n| n == &format!("{left_open}its branch baton/production/app is gone")),
        "{notes:#?}"
    );
    assert!(fake.pulls()[0].open);
}
