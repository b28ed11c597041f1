//! Reliability: two Baton instances, each with its own state directory, and a person write to
//! one remote and one branch at the same time for a few hundred moves. Nothing is lost (the
//! person's commits included), nothing is repeated, the history stays linear and the files end
//! on the newest tags.
//!
//! `BATON_RELIABILITY_ROUNDS` sets the number of rounds (default 16), and
//! `BATON_RELIABILITY_SEED` replays a run (the seed is printed).

use std::time::Duration;

use crate::support::baton::Run;
use crate::support::fleet::finish;
use crate::support::git_server::git;
use crate::support::reliability::{Many, env_number, seed};
use rand::{Rng, SeedableRng};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_racing_on_one_branch_lose_nothing_and_repeat_nothing() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed("two_instances_racing"));
    let rounds = env_number("BATON_RELIABILITY_ROUNDS", 16);
    let many = Many::start(16, &["staging", "production"]).await;
    let url = many.remote.file_url();
    many.write_config("a", &url, "", "");
    many.write_config("b", &url, "", "");

    let person = many.remote.writer();
    git(
        &person.work,
        &["pull", "--quiet", "--ff-only", "origin", "main"],
    );
    let mut retried = 0;
    let mut person_rejected = 0;
    for round in 1..=rounds {
        // A random half of the images get a new version; both instances then run a pass at
        // once, the second a few milliseconds behind the first, in random order.
        let tag = format!("1.{round}.0");
        let mut chosen = Vec::new();
        for image in many.images.iter() {
            if rng.random_bool(0.6) {
                chosen.push(image.clone());
            }
        }
        if chosen.is_empty() {
            chosen.push(many.images[rng.random_range(0..many.images.len())].clone());
        }
        for image in &chosen {
            many.push(image, &tag).await;
        }
        let (first, second) = if rng.random_bool(0.5) {
            ("a", "b")
        } else {
            ("b", "a")
        };
        let one = many.command(first, &["once"]).spawn().unwrap();
        std::thread::sleep(Duration::from_millis(rng.random_range(0..40)));
        let two = many.command(second, &["once"]).spawn().unwrap();
        // A person's commit to another file lands while both instances work.
        std::thread::sleep(Duration::from_millis(rng.random_range(0..200)));
        person_rejected += person.commit_and_push_racing(
            &format!("notes/round-{round}.txt"),
            &format!("written by a person in round {round}\n"),
            &format!("Hand edit in round {round}"),
        );
        for (name, run) in [(first, finish(one)), (second, finish(two))] {
            assert_eq!(
                run.code,
                0,
                "round {round}, instance {name}: {}",
                run.both()
            );
            retried += run
                .stderr
                .matches("push rejected because the branch moved")
                .count();
        }
    }

    let moves = many.assert_sound(true);
    let commits = many.remote.subjects("main").len();
    eprintln!(
        "{rounds} rounds: {} moves in {commits} commits, {retried} rejected pushes re-applied, the person's push rejected {person_rejected} times",
        moves.len()
    );
    // Every commit of the person survived, once each, with its file at the head.
    let head = many.head();
    let subjects = many.remote.subjects("main");
    for round in 1..=rounds {
        let subject = format!("Hand edit in round {round}");
        assert_eq!(
            subjects.iter().filter(|s| **s == subject).count(),
            1,
            "{subject:?} lost or repeated: {subjects:?}"
        );
        assert_eq!(
            git(
                &many.remote.path,
                &["show", &format!("{head}:notes/round-{round}.txt")]
            ),
            format!("written by a person in round {round}")
        );
    }
    // Exactly one Baton commit per round and environment: the instance that lost a race
    // re-applied onto the winner's commit and found nothing left, rather than committing the
    // moves again.
    let authors = git(&many.remote.path, &["log", "--format=%an", "main"]);
    let baton_commits = authors.lines().filter(|a| a.starts_with("baton-")).count();
    assert_eq!(baton_commits, rounds * many.environments.len(), "{authors}");
    // The two instances start within 40 ms of each other and a pass takes longer than that:
    // rounds without a rejected push mean they never raced and the test proved little.
    assert!(
        retried >= rounds / 2,
        "only {retried} rejected pushes in {rounds} rounds"
    );
    let pushed: usize = many.pushed.lock().unwrap().values().map(Vec::len).sum();
    assert_eq!(moves.len(), pushed * many.environments.len());
    if rounds >= 16 {
        assert!(moves.len() >= 200, "only {} moves", moves.len());
    }
}

/// One instance lists the tags, commits and pushes; its push waits in the remote's hook while
/// a newer version is published and the other instance moves the image to it. When the first
/// push fails (the branch moved) and is re-applied, the older choice must not move the image
/// back over the newer one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_with_an_older_tag_list_never_moves_an_image_back() {
    let many = Many::start(1, &["staging"]).await;
    let url = many.remote.file_url();
    many.write_config("a", &url, "", "");
    many.write_config("b", &url, "", "");
    many.push("img00", "1.1.0").await;
    // The first push to arrive waits for a release file; later ones pass.
    let a = race_with_a_newer_version(&many, || {
        assert!(many.moves().iter().any(|m| m.to == "1.2.0"));
    })
    .await;
    let moves = many.moves();
    let tos: Vec<&str> = moves.iter().map(|m| m.to.as_str()).collect();
    assert_eq!(tos, ["1.2.0"], "{}", a.both());
    many.assert_sound(false);
}

/// As above, for a group: another instance moves one member to a newer version while this
/// one's push waits. On re-applying, the member keeps the newer version and the other
/// members keep theirs too (a group moves as a whole; the next pass judges it again), so no
/// commit moves a part of the group.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_member_moved_further_by_another_instance_holds_the_whole_group() {
    let many = Many::start(2, &["staging"]).await;
    let url = many.remote.file_url();
    let group = "\n[groups.pair]\nimages = [\"img00\", \"img01\"]\n";
    many.write_config("a", &url, "", group);
    // Instance b knows no newer version of img01: it moves img00 alone.
    let b_config = many.write_config("b", &url, "", group);
    let text = std::fs::read_to_string(&b_config).unwrap();
    let img01 = "[policies.img01]\nimage = \"img01\"\nsemver = \"1.x\"\n";
    assert!(text.contains(img01), "{text}");
    std::fs::write(
        &b_config,
        text.replace(img01, &img01.replace("1.x", "1.0.x")),
    )
    .unwrap();
    many.push("img00", "1.1.0").await;
    many.push("img01", "1.1.0").await;
    let a = race_with_a_newer_version(&many, || {}).await;
    let moves: Vec<(String, String)> = many.moves().into_iter().map(|m| (m.image, m.to)).collect();
    assert_eq!(moves.len(), 1, "{moves:?}\n{}", a.both());
    assert!(
        moves[0].0.ends_with("img00") && moves[0].1 == "1.2.0",
        "{moves:?}"
    );
    // The next pass judges the group again: img01 joins img00's version line.
    let again = many.once("a");
    assert_eq!(again.code, 0, "{}", again.both());
    let moves = many.assert_sound(false);
    assert_eq!(moves.len(), 2, "{moves:?}");
}

/// Instance a's `baton once` pushes while the remote's hook holds that first push; meanwhile
/// img00 1.2.0 is published and instance b moves to it (then `after_b` runs). Released, a's
/// push is rejected and re-applied: it must keep b's newer version. Returns a's run.
async fn race_with_a_newer_version(many: &Many, after_b: impl FnOnce()) -> Run {
    let dir = many.dir.path();
    let (started, release, lock) = (dir.join("started"), dir.join("release"), dir.join("lock"));
    many.remote.set_pre_receive(&format!(
        "if mkdir '{l}' 2>/dev/null; then touch '{s}'; while [ ! -e '{r}' ]; do sleep 0.05; done; fi\nexit 0",
        l = lock.display(),
        s = started.display(),
        r = release.display()
    ));
    let mut a = many.command("a", &["once"]).spawn().unwrap();
    assert!(
        crate::support::fleet::wait_for_file(&started, &mut a),
        "a never pushed"
    );
    many.push("img00", "1.2.0").await;
    let b = many.once("b");
    assert_eq!(b.code, 0, "{}", b.both());
    after_b();
    std::fs::write(&release, "").unwrap();
    let a = finish(a);
    many.remote.clear_pre_receive();
    assert_eq!(a.code, 0, "{}", a.both());
    assert!(
        a.stderr
            .contains("another writer pushed a newer version: keeping it"),
        "{}",
        a.both()
    );
    a
}
