//! Reliability: `baton once` killed with SIGKILL (the whole process tree, git children
//! included) at random points of a pass, many times over, while new versions keep arriving.
//! After every kill the next run starts without waiting on a stray lock, and in the end a
//! pass succeeds, the clone in the state directory is clean, and the remote's history is
//! sound: linear, every move once and forward, every committed file whole.
//!
//! `BATON_RELIABILITY_KILLS` sets the number of kills (default 20), and
//! `BATON_RELIABILITY_SEED` replays a run (the seed is printed).

use std::time::{Duration, Instant};

use crate::support::fleet::kill_tree;
use crate::support::git_server::{BRANCH, GitDaemon, git};
use crate::support::reliability::{Many, env_number, seed};
use rand::{Rng, SeedableRng};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_at_random_points_then_a_pass_converges() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed("killed_at_random_points"));
    let kills = env_number("BATON_RELIABILITY_KILLS", 20);
    let many = Many::start(6, &["staging", "production"]).await;
    // Served by `git daemon`: over file:// the remote's receive-pack is Baton's own child, and
    // killing Baton's process tree would kill the "server" too, which no real remote suffers.
    let remote = GitDaemon::start(&many.remote);
    many.write_config("a", &remote.url(), "", "");

    // Killed during the very first clone.
    let mut child = many.command("a", &["once"]).spawn().unwrap();
    std::thread::sleep(Duration::from_millis(rng.random_range(0..150)));
    kill_tree(&mut child);

    // One whole pass, to learn how long a pass takes here.
    let started = Instant::now();
    let run = many.once("a");
    assert_eq!(run.code, 0, "{}", run.both());
    let pass = started.elapsed();

    let (mut finished, mut landed) = (0, 0);
    for round in 1..=kills {
        let tag = format!("1.{round}.0");
        for image in many.images.iter() {
            if rng.random_bool(0.5) {
                many.push(image, &tag).await;
            }
        }
        let before = many.head();
        let mut child = many.command("a", &["once"]).spawn().unwrap();
        // Within the length of a pass, so that most kills land while it works.
        let delay = rng.random_range(0..pass.as_millis().max(1) as u64);
        std::thread::sleep(Duration::from_millis(delay));
        if child.try_wait().unwrap().is_some() {
            finished += 1;
        }
        kill_tree(&mut child);
        if many.head() != before {
            landed += 1;
        }
    }
    let mid_pass = kills - finished;
    eprintln!(
        "{kills} kills, passes {pass:?} long: {mid_pass} mid-pass, {landed} after a push had landed, {finished} after the run had finished"
    );
    assert!(
        mid_pass >= kills / 2,
        "only {mid_pass} of {kills} kills landed while a pass was running"
    );

    let last = many.once("a");
    assert_eq!(last.code, 0, "{}", last.both());
    assert!(
        !last.stderr.contains("to release the state directory"),
        "a stray lock held the run up: {}",
        last.both()
    );
    let again = many.once("a");
    assert_eq!(again.code, 0, "{}", again.both());
    assert!(again.stdout.contains("nothing to move"), "{}", again.both());
    many.assert_sound(false);

    // The repository in the state directory is at the remote head, on the branch.
    let repo = many.state_dir("a").join("git/repo.git");
    assert_eq!(git(&repo, &["rev-parse", "HEAD"]), many.head());
    assert_eq!(git(&repo, &["rev-parse", "--is-bare-repository"]), "true");
    assert_eq!(git(&repo, &["rev-parse", "--abbrev-ref", "HEAD"]), BRANCH);
    git(&repo, &["fsck", "--no-progress", "--connectivity-only"]);
}
