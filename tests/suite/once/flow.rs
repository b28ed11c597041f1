//! `baton once`, `baton plan` and `baton history` as processes against a real registry and a
//! bare remote over file://: the first pass moves, the second does nothing, plan writes
//! nothing and exits 2 while something would move, history reads the trailers back.

use crate::support::fleet::{
    AUTHOR_EMAIL, AUTHOR_NAME, Fleet, PRODUCTION_APP, STAGING_APP, STAGING_KUSTOMIZATION,
};
use crate::support::git_server::{BRANCH, git};

fn trailers(message: &str) -> Vec<(String, String)> {
    message
        .lines()
        .filter_map(|l| l.split_once(": "))
        .filter(|(k, _)| k.starts_with("Baton-"))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A history row starts with its date.
fn is_row(line: &str) -> bool {
    line.starts_with("20")
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[tokio::test]
async fn first_pass_moves_each_environment_once_and_the_second_does_nothing() {
    let fleet = Fleet::start().await;
    fleet.write_config(&fleet.remote.file_url());
    let seeded = fleet.head();

    let run = fleet.baton(&["once"]);
    assert_eq!(run.code, 0, "{}", run.both());

    // Two commits, one per environment, in a linear history on top of the seed.
    let chain = fleet.remote.parents(BRANCH);
    assert_eq!(chain[2][0], seeded, "{chain:?}");
    assert_eq!(chain[1][1], seeded);
    assert_eq!(chain[0][1], chain[1][0]);
    let (staging, production) = (chain[0][0].clone(), chain[1][0].clone());

    // Staging: the Flux full-reference marker moved and got pinned to the digest.
    let app = fleet.image("app");
    let digest = fleet.digest("team/app", "1.1.0");
    let message = fleet.message(&staging);
    assert_eq!(
        message.lines().next().unwrap(),
        "staging: app 1.0.0 -> 1.1.0",
        "{message}"
    );
    assert_eq!(
        trailers(&message),
        pairs(&[
            ("Baton-Environment", "staging"),
            ("Baton-Image", &app),
            ("Baton-From", "1.0.0"),
            ("Baton-To", "1.1.0"),
            ("Baton-Digest", &digest),
            ("Baton-Policy", "app (semver 1.x)"),
        ])
    );
    let expected_author = format!("{AUTHOR_NAME} <{AUTHOR_EMAIL}>");
    assert_eq!(
        fleet.author_and_committer(&staging),
        (expected_author.clone(), expected_author.clone())
    );
    // Only the marked scalar changed, every other byte (quotes, comment) kept.
    assert_eq!(
        fleet.show(&staging, STAGING_APP),
        fleet.seeded_with(
            STAGING_APP,
            &format!("{app}:1.0.0\""),
            &format!("{app}:1.1.0@{digest}\"")
        )
    );
    let changed = fleet.changed_lines(&staging);
    assert_eq!(changed.len(), 1, "{changed:?}");
    assert_eq!(changed[0].0, STAGING_APP);
    assert_eq!(changed[0].1.len(), 1);
    assert_eq!(
        changed[0].2,
        vec![format!(
            "          image: \"{app}:1.1.0@{digest}\" # {{\"$imagepolicy\": \"flux-system:app\"}}"
        )]
    );
    // The kustomization was already at web's choice.
    assert_eq!(
        fleet.show(&staging, STAGING_KUSTOMIZATION),
        fleet.seeded_with(STAGING_KUSTOMIZATION, "3.1.0", "3.1.0")
    );

    // Production: the Flux tag marker moved (no digest: unpinned policy), the held line not.
    let message = fleet.message(&production);
    assert_eq!(
        message.lines().next().unwrap(),
        "production: web 3.0.0 -> 3.1.0"
    );
    assert_eq!(
        trailers(&message),
        pairs(&[
            ("Baton-Environment", "production"),
            ("Baton-Image", &fleet.image("web")),
            ("Baton-From", "3.0.0"),
            ("Baton-To", "3.1.0"),
            ("Baton-Policy", "web (semver 3.x)"),
        ])
    );
    assert_eq!(
        fleet.show(&production, PRODUCTION_APP),
        fleet.seeded_with(PRODUCTION_APP, "'3.0.0'", "'3.1.0'")
    );

    // What the operator reads.
    assert!(
        run.stdout
            .contains("environment staging: moved 1 image, pushed"),
        "{}",
        run.both()
    );
    assert!(run.stdout.contains("app 1.0.0 -> 1.1.0"), "{}", run.both());
    assert!(
        run.stdout.contains("INC-42 rollback"),
        "the hold is shown: {}",
        run.both()
    );
    assert!(
        run.stdout.contains(&staging[..12]) && run.stdout.contains(&production[..12]),
        "{}",
        run.both()
    );

    // The second pass finds nothing to do.
    let head = fleet.head();
    let again = fleet.baton(&["once"]);
    assert_eq!(again.code, 0, "{}", again.both());
    assert_eq!(fleet.head(), head);
    assert!(
        again.stdout.contains("environment staging: up to date"),
        "{}",
        again.both()
    );
    assert!(again.stdout.contains("nothing to move"), "{}", again.both());
}

#[tokio::test]
async fn plan_prints_moves_diff_and_message_writes_nothing_and_exits_2() {
    let fleet = Fleet::start().await;
    fleet.write_config(&fleet.remote.path_url());
    let seeded = fleet.head();

    let plan = fleet.baton(&["plan"]);
    assert_eq!(plan.code, 2, "{}", plan.both());
    assert_eq!(fleet.head(), seeded, "plan wrote to the remote");
    let out = &plan.stdout;
    let app = fleet.image("app");
    let digest = fleet.digest("team/app", "1.1.0");
    for needle in [
        "staging: would move 1 image".to_string(),
        "production: would move 1 image".to_string(),
        "app 1.0.0 -> 1.1.0".to_string(),
        "web 3.0.0 -> 3.1.0".to_string(),
        format!("--- a/{STAGING_APP}"),
        format!("+++ b/{STAGING_APP}"),
        format!("-          image: \"{app}:1.0.0\""),
        format!("+          image: \"{app}:1.1.0@{digest}\""),
        "-  tag: '3.0.0'".to_string(),
        "staging: app 1.0.0 -> 1.1.0".to_string(),
        "Baton-Environment: staging".to_string(),
        format!("Baton-Digest: {digest}"),
        "INC-42 rollback".to_string(),
    ] {
        assert!(
            out.contains(&needle),
            "missing {needle:?} in\n{}",
            plan.both()
        );
    }
    // plan reads with its own clone beside the state directory's, and leaves its work tree
    // as the remote has it.
    assert!(!fleet.checkout().exists());
    let status = crate::support::git_server::git(
        &fleet.state_dir().join("read-only/git/checkout"),
        &["status", "--porcelain"],
    );
    assert_eq!(status, "");

    // Only one environment.
    let staging = fleet.baton(&["plan", "--env", "staging"]);
    assert_eq!(staging.code, 2, "{}", staging.both());
    assert!(staging.stdout.contains("app 1.0.0 -> 1.1.0"));
    assert!(!staging.stdout.contains("production"), "{}", staging.both());

    // After a pass, nothing would move: exit 0.
    let run = fleet.baton(&["once"]);
    assert_eq!(run.code, 0, "{}", run.both());
    let head = fleet.head();
    let plan = fleet.baton(&["plan"]);
    assert_eq!(plan.code, 0, "{}", plan.both());
    assert!(
        plan.stdout.contains("staging: up to date"),
        "{}",
        plan.both()
    );
    assert!(
        plan.stdout.contains("nothing would move"),
        "{}",
        plan.both()
    );

    // A new tag: plan --env production still says 0 (production's web did not move, app is
    // held), plan --env staging says 2, and the remote stays where it was.
    fleet.push("team/app", "1.2.0").await;
    let production = fleet.baton(&["plan", "--env", "production"]);
    assert_eq!(production.code, 0, "{}", production.both());
    let staging = fleet.baton(&["plan", "--env", "staging"]);
    assert_eq!(staging.code, 2, "{}", staging.both());
    assert!(
        staging.stdout.contains("app 1.1.0 -> 1.2.0"),
        "{}",
        staging.both()
    );
    assert_eq!(fleet.head(), head);

    // An unknown environment is an error naming it.
    let unknown = fleet.baton(&["plan", "--env", "prod"]);
    assert_eq!(unknown.code, 1, "{}", unknown.both());
    assert!(unknown.stderr.contains("\"prod\""), "{}", unknown.both());
}

#[tokio::test]
async fn history_lists_moves_with_filters() {
    let fleet = Fleet::start().await;
    fleet.write_config(&fleet.remote.file_url());

    let empty = fleet.baton(&["history"]);
    assert_eq!(empty.code, 0, "{}", empty.both());
    assert!(
        empty.stdout.contains("no moves recorded"),
        "{}",
        empty.both()
    );

    assert_eq!(fleet.baton(&["once"]).code, 0);
    // A person's commit in between is not a move and is not listed.
    fleet
        .writer()
        .commit_and_push("README.md", "# fleet\nhand edit\n", "Hand edit");
    fleet.push("team/app", "1.2.0").await;
    fleet.push("team/web", "3.2.0").await;
    let run = fleet.baton(&["once"]);
    assert_eq!(run.code, 0, "{}", run.both());
    // Staging moved two images in one commit this time.
    let staging = fleet.head();
    let message = fleet.message(&staging);
    assert_eq!(
        message.lines().next().unwrap(),
        "staging: 2 images moved",
        "{message}"
    );

    let history = fleet.baton(&["history"]);
    assert_eq!(history.code, 0, "{}", history.both());
    let lines: Vec<&str> = history.stdout.lines().collect();
    // Header plus five moves, newest first: staging app + web, production web, then the
    // first pass's staging app and production web.
    let rows: Vec<&str> = lines.iter().copied().filter(|l| is_row(l)).collect();
    assert_eq!(rows.len(), 5, "{}", history.both());
    assert!(rows[0].contains("staging") && rows[0].contains(&staging[..12]));
    for (row, env, image, from, to) in [
        (rows[0], "staging", "app", "1.1.0", "1.2.0"),
        (rows[1], "staging", "web", "3.1.0", "3.2.0"),
        (rows[2], "production", "web", "3.1.0", "3.2.0"),
        (rows[3], "staging", "app", "1.0.0", "1.1.0"),
        (rows[4], "production", "web", "3.0.0", "3.1.0"),
    ] {
        assert!(row.contains(env), "{row}");
        assert!(row.contains(&fleet.image(image)), "{row}");
        assert!(row.contains(&format!("{from} -> {to}")), "{row}");
        assert!(row.contains(&format!("{image} (semver")), "{row}");
    }
    assert!(
        lines[0].to_lowercase().contains("environment"),
        "header: {}",
        lines[0]
    );
    assert!(!history.stdout.contains("Hand edit"));

    let staging_only = fleet.baton(&["history", "--env", "staging"]);
    let rows: Vec<&str> = staging_only.stdout.lines().filter(|l| is_row(l)).collect();
    assert_eq!(rows.len(), 3, "{}", staging_only.both());
    assert!(
        rows.iter()
            .all(|r| r.contains("staging") && !r.contains("production"))
    );

    for filter in ["web", fleet.image("web").as_str()] {
        let web = fleet.baton(&["history", "--image", filter]);
        let rows: Vec<&str> = web.stdout.lines().filter(|l| is_row(l)).collect();
        assert_eq!(rows.len(), 3, "{}", web.both());
        assert!(rows.iter().all(|r| r.contains(&fleet.image("web"))));
    }

    let both = fleet.baton(&["history", "--env", "production", "--image", "app"]);
    assert_eq!(both.code, 0);
    assert!(
        both.stdout.contains("no moves recorded for that filter"),
        "{}",
        both.both()
    );
}

/// `git.push_branch`: commits go to a branch of their own, which each pass builds on while it
/// exists (moves fast-forward it, an unchanged pass adds nothing); `branch` is never written.
/// Once the push branch is merged and deleted, the next move starts it again from `branch`.
#[tokio::test]
async fn push_branch_builds_on_itself_and_leaves_the_branch_alone() {
    const PUSH: &str = "baton/updates";
    let fleet = Fleet::start().await;
    fleet.write_config_with(
        &fleet.remote.file_url(),
        &format!("push_branch = \"{PUSH}\"\n"),
        "",
    );
    let seeded = fleet.head();

    let first = fleet.baton(&["once"]);
    assert_eq!(first.code, 0, "{}", first.both());
    assert_eq!(fleet.remote.head(BRANCH).as_deref(), Some(seeded.as_str()));
    let chain = fleet.remote.parents(PUSH);
    assert_eq!(chain[2][0], seeded, "two commits on the seed: {chain:?}");
    let first_head = chain[0][0].clone();
    assert!(first.stdout.contains(PUSH), "{}", first.both());

    // A pass with nothing new does not repeat the moves already on the push branch.
    let idle = fleet.baton(&["once"]);
    assert_eq!(idle.code, 0, "{}", idle.both());
    assert_eq!(fleet.remote.head(PUSH), Some(first_head.clone()));
    assert!(idle.stdout.contains("nothing to move"), "{}", idle.both());

    // A new tag moves staging again, on top of the push branch (a fast-forward).
    fleet.push("team/app", "1.3.0").await;
    let second = fleet.baton(&["once"]);
    assert_eq!(second.code, 0, "{}", second.both());
    let chain = fleet.remote.parents(PUSH);
    assert_eq!(chain[0][1], first_head, "{chain:?}");
    assert_eq!(
        fleet.remote.subjects(PUSH)[0],
        "staging: app 1.1.0 -> 1.3.0",
        "{}",
        second.both()
    );
    assert_eq!(fleet.remote.head(BRANCH).as_deref(), Some(seeded.as_str()));

    // A person merges the push branch and deletes it; the branch also gets a commit of theirs.
    let merged = fleet.remote.head(PUSH).unwrap();
    git(
        &fleet.remote.path,
        &["update-ref", &format!("refs/heads/{BRANCH}"), &merged],
    );
    git(
        &fleet.remote.path,
        &["update-ref", "-d", &format!("refs/heads/{PUSH}")],
    );
    let theirs = fleet.remote.writer().commit_and_push(
        "README.md",
        "merged by hand\n",
        "docs: note the merge",
    );
    fleet.push("team/app", "1.4.0").await;
    let third = fleet.baton(&["once"]);
    assert_eq!(third.code, 0, "{}", third.both());
    let chain = fleet.remote.parents(PUSH);
    assert_eq!(
        chain.len(),
        fleet.remote.parents(BRANCH).len() + 1,
        "{chain:?}"
    );
    assert_eq!(chain[0][1], theirs, "restarted from the branch: {chain:?}");
    assert_eq!(fleet.remote.head(BRANCH), Some(theirs));
}

/// The clone's work tree holds only the configured environments' paths: a pass never sees
/// (nor commits) the files of an environment no longer configured, and changing the paths
/// widens or narrows the work tree at the next pass.
#[tokio::test]
async fn the_work_tree_follows_the_environments_paths() {
    let fleet = Fleet::start().await;
    let url = fleet.remote.file_url();
    let full = fleet.config(&url).text();
    let production =
        "[environments.production]\npaths = [\"clusters/production\"]\nmode = \"push\"\n";
    let staging = "[environments.staging]\npaths = [\"clusters/staging\"]\nmode = \"push\"\n";
    assert!(
        full.contains(production) && full.contains(staging),
        "{full}"
    );
    let config = fleet.config_path();
    let seeded = fleet.head();
    let production_seeded = fleet.show(&seeded, PRODUCTION_APP);

    // Staging alone: production's files are not in the work tree, and stay as they were.
    std::fs::write(&config, full.replace(production, "")).unwrap();
    let run = fleet.baton(&["once"]);
    assert_eq!(run.code, 0, "{}", run.both());
    let checkout = fleet.checkout();
    assert!(checkout.join(STAGING_APP).is_file());
    assert!(!checkout.join("clusters/production").exists());
    let changed = git(
        &fleet.remote.path,
        &["diff", "--name-only", &seeded, BRANCH],
    );
    assert_eq!(
        changed.lines().collect::<Vec<_>>(),
        [STAGING_APP],
        "{changed}"
    );
    assert_eq!(fleet.show(BRANCH, PRODUCTION_APP), production_seeded);
    // The work tree and the index are left in step with the commit pushed.
    assert_eq!(
        std::fs::read_to_string(checkout.join(STAGING_APP)).unwrap(),
        fleet.show(BRANCH, STAGING_APP)
    );
    assert_eq!(git(&checkout, &["status", "--porcelain"]), "");

    // Production added (a reload would do the same): its files come back and its marker moves.
    std::fs::write(&config, &full).unwrap();
    let run = fleet.baton(&["once"]);
    assert_eq!(run.code, 0, "{}", run.both());
    assert!(checkout.join(PRODUCTION_APP).is_file());
    assert!(
        fleet.show(BRANCH, PRODUCTION_APP).contains("tag: '3.1.0'"),
        "{}",
        fleet.show(BRANCH, PRODUCTION_APP)
    );

    // Staging removed: its files leave the work tree, and nothing is edited or deleted there.
    let before = fleet.head();
    std::fs::write(&config, full.replace(staging, "")).unwrap();
    let run = fleet.baton(&["once"]);
    assert_eq!(run.code, 0, "{}", run.both());
    assert!(!checkout.join("clusters/staging").exists());
    assert!(checkout.join(PRODUCTION_APP).is_file());
    assert_eq!(fleet.head(), before);
    assert_eq!(git(&checkout, &["status", "--porcelain"]), "");
}
