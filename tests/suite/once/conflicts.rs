//! `baton once` when the remote does not simply accept: another writer pushes between Baton's
//! fetch and its push, the remote refuses the push, Baton is killed in the middle of a pass,
//! and two Baton instances run the same pass at once.

use crate::support::baton::Baton;
use crate::support::fleet::{
    Fleet, Injector, PRODUCTION_APP, STAGING_APP, finish, kill_tree, wait_for_file,
};
use crate::support::git_server::{BRANCH, GitDaemon, git};

/// Checks the remote after the injected writer and Baton both pushed: the writer's commit and
/// one Baton commit per environment, linear, the writer's commit kept.
fn assert_both_survive(fleet: &Fleet, seeded: &str, theirs: &str) {
    let chain = fleet.remote.parents(BRANCH);
    assert!(
        chain.iter().all(|c| c.len() <= 2),
        "history is not linear: {chain:?}"
    );
    let ids: Vec<&str> = chain.iter().map(|c| c[0].as_str()).collect();
    let seed_at = ids.iter().position(|c| *c == seeded).unwrap();
    assert_eq!(seed_at, 3, "three commits on top of the seed: {chain:?}");
    assert!(ids[..3].contains(&theirs), "{theirs} lost: {chain:?}");
    let subjects = fleet.remote.subjects(BRANCH);
    for expected in [
        "staging: app 1.0.0 -> 1.1.0",
        "production: web 3.0.0 -> 3.1.0",
        "Hand edit during the push",
    ] {
        assert!(
            subjects[..3].iter().any(|s| s == expected),
            "{expected:?} missing: {subjects:?}"
        );
    }
    // The hand edit is in the final tree next to Baton's edits.
    let head = fleet.head();
    assert!(fleet.show(&head, "README.md").contains("hand edit"));
    assert!(fleet.show(&head, STAGING_APP).contains("app:1.1.0@sha256:"));
    assert!(fleet.show(&head, PRODUCTION_APP).contains("'3.1.0'"));
}

/// The other writer's push lands while Baton's push is already in the remote's receive-pack
/// (after the ref advertisement): the remote fails to update the ref, Baton sees that the
/// branch moved, syncs, re-applies and pushes again.
#[tokio::test]
async fn writer_pushing_during_the_push_is_kept_and_baton_retries() {
    let fleet = Fleet::start().await;
    fleet.write_config(&fleet.remote.file_url());
    let seeded = fleet.head();
    let injector = Injector::new(&fleet);
    injector.write_hook(
        &fleet.remote.path.join("hooks/pre-receive"),
        "cat >/dev/null",
    );

    let run = fleet.baton(&["once"]);
    assert_eq!(run.code, 0, "{}\ninjector: {}", run.both(), injector.log());
    let theirs = injector.commit().expect("the injected push happened");
    assert_both_survive(&fleet, &seeded, &theirs);
    assert!(
        run.stdout.contains("after 1 rejected push"),
        "{}",
        run.both()
    );
    assert!(!run.stderr.contains("force"), "{}", run.both());
}

/// The other writer's push lands after Baton's fetch and before its push starts (git daemon's
/// access hook runs before receive-pack advertises refs): the push is rejected as "fetch first".
#[tokio::test]
async fn writer_pushing_between_fetch_and_push_is_kept_and_baton_retries() {
    let fleet = Fleet::start().await;
    let injector = Injector::new(&fleet);
    let hook = fleet.dir.path().join("access-hook");
    injector.write_hook(&hook, "[ \"$1\" = receive-pack ] || exit 0");
    let daemon = GitDaemon::start_with_access_hook(&fleet.remote, &hook);
    fleet.write_config(&daemon.url());
    let seeded = fleet.head();

    let run = fleet.baton(&["once"]);
    assert_eq!(run.code, 0, "{}\ninjector: {}", run.both(), injector.log());
    let theirs = injector.commit().expect("the injected push happened");
    assert_both_survive(&fleet, &seeded, &theirs);
    assert!(
        run.stdout.contains("after 1 rejected push"),
        "{}",
        run.both()
    );
}

#[tokio::test]
async fn refused_push_fails_clearly_loses_nothing_and_the_next_pass_succeeds() {
    let fleet = Fleet::start().await;
    fleet.write_config(&fleet.remote.file_url());
    let seeded = fleet.head();
    fleet.remote.set_pre_receive(
        "cat >/dev/null\necho 'change freeze: no pushes until monday' >&2\nexit 1",
    );

    let run = fleet.baton(&["once"]);
    assert_ne!(run.code, 0, "{}", run.both());
    assert_eq!(fleet.head(), seeded, "the remote moved");
    for needle in [
        "refused the push",
        "change freeze: no pushes until monday",
        "environment staging",
        "environment production",
    ] {
        assert!(run.stderr.contains(needle), "{needle:?}: {}", run.both());
    }
    assert!(
        run.stdout.contains("app 1.0.0 -> 1.1.0 (not pushed)"),
        "{}",
        run.both()
    );
    assert!(run.stdout.contains("nothing was pushed"), "{}", run.both());
    // Nobody else's work was touched and the clone is still usable.
    assert_eq!(fleet.remote.subjects(BRANCH)[0], "Seed fleet");

    fleet.remote.clear_pre_receive();
    let run = fleet.baton(&["once"]);
    assert_eq!(run.code, 0, "{}", run.both());
    let chain = fleet.remote.parents(BRANCH);
    assert_eq!(chain[2][0], seeded, "{chain:?}");
    let subjects = fleet.remote.subjects(BRANCH);
    assert_eq!(
        &subjects[..2],
        &[
            "staging: app 1.0.0 -> 1.1.0".to_string(),
            "production: web 3.0.0 -> 3.1.0".to_string()
        ]
    );
}

/// The expected state after the fleet's first move, and nothing else: the seeded files with
/// only the marked scalars changed, no other file added.
fn assert_clean_first_move(fleet: &Fleet, seeded: &str) {
    let head = fleet.head();
    let chain = fleet.remote.parents(BRANCH);
    assert_eq!(chain[2][0], seeded, "{chain:?}");
    let app = fleet.image("app");
    let digest = fleet.digest("team/app", "1.1.0");
    assert_eq!(
        fleet.show(&head, STAGING_APP),
        fleet.seeded_with(
            STAGING_APP,
            &format!("{app}:1.0.0\""),
            &format!("{app}:1.1.0@{digest}\"")
        )
    );
    assert_eq!(
        fleet.show(&head, PRODUCTION_APP),
        fleet.seeded_with(PRODUCTION_APP, "'3.0.0'", "'3.1.0'")
    );
    let files = git(&fleet.remote.path, &["ls-tree", "-r", "--name-only", &head]);
    let before = git(
        &fleet.remote.path,
        &["ls-tree", "-r", "--name-only", seeded],
    );
    assert_eq!(files, before, "the set of files changed");
}

#[tokio::test]
async fn kill_during_the_push_then_a_clean_pass() {
    let fleet = Fleet::start().await;
    fleet.write_config(&fleet.remote.file_url());
    let seeded = fleet.head();
    let (started, _release) = fleet.hold_pushes(0);

    let mut child = fleet.command(&["once"], &[]).spawn().unwrap();
    assert!(
        wait_for_file(&started, &mut child),
        "the push never reached the hook"
    );
    // Baton has committed locally and is waiting for the remote: kill everything.
    kill_tree(&mut child);
    assert_eq!(fleet.head(), seeded, "the killed push landed");

    // Leave what a crash in the middle of writing could: a half-written object file and
    // stale locks in the repository.
    let repo = fleet.state_repo();
    std::fs::write(repo.join("objects/tmp_obj_half"), "half").unwrap();
    std::fs::write(repo.join(format!("refs/heads/{BRANCH}.lock")), "").unwrap();
    std::fs::write(repo.join("HEAD.lock"), "").unwrap();

    fleet.remote.clear_pre_receive();
    let run = fleet.baton(&["once"]);
    assert_eq!(run.code, 0, "{}", run.both());
    assert_clean_first_move(&fleet, &seeded);
    assert!(run.stderr.contains("stale git lock"), "{}", run.both());
}

#[tokio::test]
async fn kill_early_in_the_pass_then_a_clean_pass() {
    let fleet = Fleet::start().await;
    fleet.write_config(&fleet.remote.file_url());
    let seeded = fleet.head();

    // Kill while the first clone is being made (or as soon after as the poll sees it).
    let mut child = fleet.command(&["once"], &[]).spawn().unwrap();
    let tmp = fleet.state_dir().join("git/repo.tmp");
    let repo = fleet.state_repo();
    while !tmp.exists() && !repo.exists() && child.try_wait().unwrap().is_none() {
        std::thread::yield_now();
    }
    kill_tree(&mut child);

    // And once more mid-pass: as soon as it holds the state directory (its pid in the lock),
    // and before it has finished.
    let mut child = fleet.command(&["once"], &[]).spawn().unwrap();
    let lock = fleet.state_dir().join("baton.lock");
    let pid = child.id().to_string();
    while std::fs::read_to_string(&lock).unwrap_or_default().trim() != pid {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before it was killed"
        );
        std::thread::yield_now();
    }
    assert!(
        child.try_wait().unwrap().is_none(),
        "the run ended before it was killed"
    );
    kill_tree(&mut child);

    let run = fleet.baton(&["once"]);
    assert_eq!(run.code, 0, "{}", run.both());
    // Some killed run may have pushed one environment before dying; either way the result is
    // the same two moves, each once.
    assert_clean_first_move(&fleet, &seeded);
    let again = fleet.baton(&["once"]);
    assert_eq!(again.code, 0);
    assert!(again.stdout.contains("nothing to move"), "{}", again.both());
}

#[tokio::test]
async fn two_instances_at_once_make_each_move_once() {
    let fleet = Fleet::start().await;
    fleet.write_config(&fleet.remote.file_url());
    let seeded = fleet.head();
    // A second instance with its own state directory and the same remote.
    let other_state = fleet.dir.path().join("state-2");
    let config = std::fs::read_to_string(fleet.config_path()).unwrap();
    let other_config = fleet.dir.path().join("baton-2.toml");
    std::fs::write(
        &other_config,
        config.replace(
            &fleet.state_dir().display().to_string(),
            &other_state.display().to_string(),
        ),
    )
    .unwrap();

    // Both pushes are held in the remote's hook until both have arrived: the two runs overlap.
    let arrived = fleet.dir.path().join("pushes-arrived");
    let release = fleet.dir.path().join("pushes-release");
    fleet.remote.set_pre_receive(&format!(
        "echo x >> '{a}'\nwhile [ ! -e '{r}' ]; do sleep 0.05; done\nexit 0",
        a = arrived.display(),
        r = release.display()
    ));
    let mut a = fleet.command(&["once"], &[]).spawn().unwrap();
    let mut b = Baton::new(["once"]).config(&other_config).spawn();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while std::fs::read_to_string(&arrived)
        .unwrap_or_default()
        .lines()
        .count()
        < 2
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the two pushes never overlapped"
        );
        assert!(
            a.try_wait().unwrap().is_none(),
            "a finished before b pushed"
        );
        assert!(
            b.try_wait().unwrap().is_none(),
            "b finished before a pushed"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    std::fs::write(&release, "").unwrap();
    let (a, b) = (finish(a), finish(b));
    fleet.remote.clear_pre_receive();
    assert_eq!(a.code, 0, "{}", a.both());
    assert_eq!(b.code, 0, "{}", b.both());
    assert_clean_first_move(&fleet, &seeded);
    let subjects = fleet.remote.subjects(BRANCH);
    assert_eq!(subjects.len(), 6, "{subjects:?}");
}

/// Two passes started at once on the same state directory (an overlapping cron job): the second
/// waits for the first to release the directory, then finds nothing left to do.
#[tokio::test]
async fn overlapping_runs_on_one_state_directory_take_turns() {
    let fleet = Fleet::start().await;
    fleet.write_config(&fleet.remote.file_url());
    let seeded = fleet.head();
    let (started, release) = fleet.hold_pushes(0);
    let mut first = fleet.command(&["once"], &[]).spawn().unwrap();
    assert!(wait_for_file(&started, &mut first));
    // The first holds the lock while its push waits; the second must wait too.
    let log_path = fleet.dir.path().join("second.log");
    let mut second = fleet
        .command(&["once"], &[])
        .stderr(std::fs::File::create(&log_path).unwrap())
        .spawn()
        .unwrap();
    let lock = fleet.state_dir().join("baton.lock");
    assert_eq!(
        std::fs::read_to_string(&lock).unwrap().trim(),
        first.id().to_string()
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let waiting = || {
        std::fs::read_to_string(&log_path)
            .unwrap_or_default()
            .contains(&format!("waiting for baton process pid {} (", first.id()))
    };
    while !waiting() && std::time::Instant::now() < deadline {
        assert!(
            second.try_wait().unwrap().is_none(),
            "the second run did not wait"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(waiting(), "{}", std::fs::read_to_string(&log_path).unwrap());
    std::fs::write(&release, "").unwrap();
    let (a, b) = (finish(first), finish(second));
    assert_eq!(a.code, 0, "{}", a.both());
    assert_eq!(b.code, 0, "{}", b.both());
    assert!(b.stdout.contains("nothing to move"), "{}", b.both());
    fleet.remote.clear_pre_receive();
    assert_clean_first_move(&fleet, &seeded);
}
