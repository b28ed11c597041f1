//! A person's control, through the real binary against a real registry and a real bare
//! remote (and the fake forge for pull requests):
//!
//! - `promote` refuses a version the registry does not list (and, for digest-pinned markers,
//!   one whose digest cannot be read) unless `--force`; `plan` reports such markers;
//! - a person's rollback in review mode is left alone by the next automatic pass, and
//!   `promote` says when it replaces a pending automatic review;
//! - `history` dates a reviewed move when it was merged;
//! - with `baton run` holding the state directory, `history` and `plan` answer without
//!   waiting, a bad argument is refused at once, and `promote` says at once whom it waits for.

use std::io::{BufRead, BufReader};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::support::baton::Baton;
use crate::support::daemon::{PATIENCE, wait_until};
use crate::support::fake_forge::FakeKind;
use crate::support::git_server::{free_port, git, git_command};
use crate::support::promotion::{PRODUCTION, PromotionWorld, STAGING, manifest};
use baton::git::trailers::parse_trailers;

fn command(w: &PromotionWorld, args: &[&str], env: &[(&str, &str)]) -> Command {
    Baton::new(args).config(&w.config_path).envs(env).command()
}

fn baton(w: &PromotionWorld, args: &[&str]) -> Output {
    command(w, args, &[]).output().unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn promote(w: &PromotionWorld, version: &str, by: &str, extra: &[&str]) -> Output {
    let mut args = vec![
        "promote",
        "app",
        "--to",
        "production",
        "--version",
        version,
        "--by",
        by,
    ];
    args.extend_from_slice(extra);
    baton(w, &args)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn promote_refuses_a_tag_the_registry_does_not_list_and_plan_reports_it() {
    let w = PromotionWorld::new("", None).await;
    let host = w.host();
    w.push_tag("1.1.0").await;
    let before = w.remote.head("main");

    let out = promote(&w, "1.9.9", "alice", &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains(&format!(
            "1.9.9 is not a tag of {host}/app: the registry lists 2 tags (the environment's policy would choose 1.1.0); push the image first, or pass --force to write it anyway"
        )),
        "{}",
        text(&out)
    );
    assert_eq!(w.remote.head("main"), before, "nothing was written");
    // A dry run checks too.
    let out = promote(&w, "1.9.9", "alice", &["--dry-run"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));

    // A listed version goes through.
    let out = promote(&w, "1.1.0", "alice", &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(
        w.file("main", PRODUCTION),
        manifest(&host, "1.1.0", None).trim_end()
    );

    // --force writes it anyway, for the rare case (a tag pushed a moment later).
    let out = promote(&w, "1.9.9", "alice", &["--force"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(
        w.file("main", PRODUCTION),
        manifest(&host, "1.9.9", None).trim_end()
    );

    // plan names the marker that points at a tag the registry does not list.
    let out = baton(&w, &["plan"]);
    assert!(
        stdout(&out).contains(&format!(
            "problem: clusters/production/app.yaml:1: app holds tag 1.9.9, which the registry does not list for {host}/app"
        )),
        "{}",
        text(&out)
    );
    assert!(
        !stdout(&out).contains("staging.yaml:1: app holds"),
        "{}",
        text(&out)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn promote_refuses_a_listed_tag_whose_digest_pinned_markers_cannot_be_resolved() {
    let w = PromotionWorld::new("", None).await;
    let host = w.host();
    // Production pins digests; the registry lists 1.1.0 but its manifest is gone.
    let pinned = format!(
        "{}digest: {} # {{\"$baton\": \"app:digest\"}}\n",
        manifest(&host, "1.0.0", None),
        w.registry.push_image("app", "1.0.0").await
    );
    w.writer
        .commit_and_push(PRODUCTION, &pinned, "Pin production");
    let digest = w.registry.push_image("app", "1.1.0").await;
    let revisions = w
        .registry
        .dir()
        .join("data/docker/registry/v2/repositories/app/_manifests/revisions/sha256");
    let hex = digest.trim_start_matches("sha256:");
    std::fs::remove_dir_all(revisions.join(hex)).unwrap();
    let before = w.remote.head("main");

    let out = promote(&w, "1.1.0", "alice", &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains(&format!(
            "markers of app pin digests, but the digest of {host}/app:1.1.0 cannot be read"
        )),
        "{}",
        text(&out)
    );
    assert_eq!(w.remote.head("main"), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollback_in_review_mode_outlives_the_automatic_passes() {
    let w = PromotionWorld::new("mode = \"review\"\n", Some(FakeKind::GitHub)).await;
    let host = w.host();
    let forge = w.forge.as_ref().unwrap();
    const BRANCH: &str = "baton/production/app";

    // An automatic review of 1.1.0, merged; then one of 1.2.0, pending.
    w.push_tag("1.1.0").await;
    let out = baton(&w, &["once"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(forge.pulls().len(), 1);
    w.merge_in_remote(BRANCH, "Merge pull request #1");
    forge.mark_merged(1);
    w.push_tag("1.2.0").await;
    let out = baton(&w, &["once"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let pulls = forge.pulls();
    assert_eq!(pulls.len(), 2, "{pulls:#?}");
    assert!(pulls[1].open && pulls[1].title.ends_with("1.1.0 -> 1.2.0"));

    // A person rolls production back to 1.0.0: promote says it replaces the pending review.
    let out = promote(&w, "1.0.0", "alice", &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        stdout(&out).contains(
            "note: replaces the pending automatic review of 1.2.0 on baton/production/app (pull request #2) with alice's promotion to 1.0.0"
        ),
        "{}",
        text(&out)
    );
    let rollback = w.remote.head(BRANCH).unwrap();
    assert_eq!(
        w.file(BRANCH, PRODUCTION),
        manifest(&host, "1.0.0", None).trim_end()
    );
    let pr = forge.pulls()[1].clone();
    assert!(pr.open);
    assert_eq!(pr.title, "production: app 1.1.0 -> 1.0.0");
    assert!(pr.body.contains("| requested by | alice |"), "{}", pr.body);

    // The automatic passes that follow leave the branch and the pull request alone, and
    // say why, even with a newer version in the registry.
    w.push_tag("1.3.0").await;
    let writes = forge.writes().len();
    for _ in 0..2 {
        let out = baton(&w, &["once"]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        assert!(
            stdout(&out).contains(
                "waiting: app: alice asked by hand for app 1.0.0 on baton/production/app (pull request #2): automatic moves of app in production leave that branch alone until it is merged or closed"
            ),
            "{}",
            text(&out)
        );
        assert_eq!(w.remote.head(BRANCH).as_deref(), Some(rollback.as_str()));
    }
    assert_eq!(forge.writes().len(), writes, "{:#?}", forge.writes());
    assert_eq!(forge.pulls()[1], pr);
    assert_eq!(forge.pulls().len(), 2);
    let message = w.head_message(BRANCH);
    assert!(parse_trailers(&message).contains(&("Baton-Promoted-By".into(), "alice".into())));

    // Once the rollback is merged, the branch is free again: a version newer than both ends
    // of the rollback resumes the automatic reviews on it, in a new pull request.
    w.merge_in_remote(BRANCH, "Merge pull request #2");
    forge.mark_merged(2);
    let out = baton(&w, &["once"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(
        w.file("main", PRODUCTION),
        manifest(&host, "1.0.0", None).trim_end()
    );
    assert_ne!(w.remote.head(BRANCH).as_deref(), Some(rollback.as_str()));
    let pulls = forge.pulls();
    assert_eq!(pulls.len(), 3, "{pulls:#?}");
    assert!(
        pulls[2].open && pulls[2].title == "production: app 1.0.0 -> 1.3.0",
        "{pulls:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_forge_a_rollback_branch_is_left_alone_until_merged() {
    let w = PromotionWorld::new("mode = \"review\"\n", None).await;
    const BRANCH: &str = "baton/production/app";
    let out = promote(&w, "1.0.0", "bob", &["--dry-run"]);
    assert!(stdout(&out).contains("nothing to do"), "{}", text(&out));
    w.push_tag("1.1.0").await;
    // An automatic review of 1.1.0 is pending on the branch; bob asks for 1.0.0 instead
    // (production holds 1.0.0: nothing to do), then for 1.1.0 by hand.
    let out = baton(&w, &["once"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let automatic = w.remote.head(BRANCH).unwrap();
    let out = promote(&w, "1.1.0", "bob", &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        stdout(&out).contains(
            "note: replaces the pending automatic review of 1.1.0 on baton/production/app with bob's promotion to 1.1.0"
        ),
        "{}",
        text(&out)
    );
    let by_hand = w.remote.head(BRANCH).unwrap();
    assert_ne!(by_hand, automatic);
    w.push_tag("1.2.0").await;
    let out = baton(&w, &["once"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        stdout(&out).contains(
            "waiting: app: bob asked by hand for app 1.1.0 on baton/production/app: automatic moves"
        ),
        "{}",
        text(&out)
    );
    assert_eq!(w.remote.head(BRANCH), Some(by_hand.clone()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_leaves_a_pending_rollback_alone_too() {
    let w = PromotionWorld::new("mode = \"review\"\n", Some(FakeKind::GitLab)).await;
    let forge = w.forge.as_ref().unwrap();
    const BRANCH: &str = "baton/production/app";
    let port = free_port();
    let config = std::fs::read_to_string(&w.config_path).unwrap().replace(
        "[daemon]\n",
        &format!("[daemon]\nlisten = \"127.0.0.1:{port}\"\n"),
    );
    std::fs::write(&w.config_path, config).unwrap();
    // Production runs 1.1.0 (merged); a person rolls it back to 1.0.0 in a pull request.
    w.push_tag("1.1.0").await;
    let out = baton(&w, &["once"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    w.merge_in_remote(BRANCH, "Merge request !1");
    forge.mark_merged(1);
    let out = promote(&w, "1.0.0", "alice", &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let rollback = w.remote.head(BRANCH).unwrap();
    let pr = forge.pulls()[1].clone();
    assert!(
        pr.open && pr.body.contains("| requested by | alice |"),
        "{pr:#?}"
    );

    // A newer version arrives while the daemon runs: staging moves, the rollback stands.
    w.push_tag("1.2.0").await;
    let mut daemon = w.daemon(port, &[]);
    daemon.wait_event("review branch holds a manual promotion: left alone", |e| {
        e["by"] == "alice" && e["version"] == "1.0.0" && e["candidate"] == "1.2.0"
    });
    let staging = manifest(&w.host(), "1.2.0", None);
    wait_until(PATIENCE, "staging at 1.2.0", || {
        (w.file("main", STAGING) == staging.trim_end()).then_some(())
    });
    assert_eq!(w.remote.head(BRANCH), Some(rollback));
    assert_eq!(forge.pulls()[1], pr);
    assert_eq!(forge.pulls().len(), 2);
    // /api/v1/status says why production waits.
    wait_until(PATIENCE, "the wait in the status", || {
        daemon
            .status()
            .to_string()
            .contains("alice asked by hand for app 1.0.0 on baton/production/app")
            .then_some(())
    });
    daemon.signal(libc::SIGTERM);
    assert_eq!(daemon.wait_exit().code(), Some(0), "{}", daemon.log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_dates_a_reviewed_move_when_it_was_merged() {
    let w = PromotionWorld::new("mode = \"review\"\n", None).await;
    w.push_tag("1.1.0").await;
    let out = baton(&w, &["once"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let review = w.remote.head("baton/production/app").unwrap();
    let proposed = git(
        &w.remote.path,
        &[
            "log",
            "-1",
            "--format=%cd",
            "--date=format-local:%Y-%m-%d %H:%M:%S",
            &review,
        ],
    );
    // The pull request waits (here: until 2030) before a person merges it.
    let work = &w.writer.work;
    git(work, &["pull", "--quiet", "--ff-only", "origin", "main"]);
    git(
        work,
        &["fetch", "--quiet", "origin", "baton/production/app"],
    );
    let merged = git_command(
        work,
        &[
            "merge",
            "--quiet",
            "--no-ff",
            "-m",
            "Merge the review",
            "FETCH_HEAD",
        ],
    )
    .env("GIT_COMMITTER_DATE", "2030-01-02T03:04:05Z")
    .env("GIT_AUTHOR_DATE", "2030-01-02T03:04:05Z")
    .output()
    .unwrap();
    assert!(
        merged.status.success(),
        "{}",
        String::from_utf8_lossy(&merged.stderr)
    );
    git(work, &["push", "--quiet", "origin", "main"]);
    let merge = git(work, &["rev-parse", "HEAD"]);

    let out = command(&w, &["history"], &[("TZ", "UTC")])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let table = stdout(&out);
    let production = table
        .lines()
        .find(|l| l.contains("production") && l.contains("1.0.0 -> 1.1.0"))
        .unwrap_or_else(|| panic!("{table}"));
    assert!(production.starts_with("2030-01-02 03:04:05"), "{table}");
    assert!(production.contains(&review[..12]), "{table}");
    assert!(
        production.contains(&format!("merged in {}, proposed {proposed}", &merge[..12])),
        "{table}"
    );
    // Staging's move was committed straight to the branch: dated by its commit, no review.
    let staging = table
        .lines()
        .find(|l| l.contains("staging") && l.contains("1.0.0 -> 1.1.0"))
        .unwrap_or_else(|| panic!("{table}"));
    assert!(!staging.contains("merged in"), "{table}");
    assert!(!staging.starts_with("2030"), "{table}");
    assert!(table.lines().next().unwrap().ends_with("REVIEW"), "{table}");
    // Newest first: the merged move, although proposed after staging's, is listed first.
    assert!(table.find(production).unwrap() < table.find(staging).unwrap());
    let _ = STAGING;
}

/// Reads `child`'s stderr until a line contains `needle`; returns it, or panics after 60s.
fn stderr_line(child: &mut std::process::Child, needle: &str) -> String {
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen = Vec::new();
    while Instant::now() < deadline {
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(100)) {
            if line.contains(needle) {
                return line;
            }
            seen.push(line);
        }
    }
    panic!("no line with {needle:?} on stderr within 60s: {seen:#?}");
}

/// Runs `cmd` to the end, killing it after 60 seconds (a command that waits for the daemon
/// would wait two minutes): the output and whether it finished by itself.
fn output_within_a_minute(mut cmd: Command) -> (Output, bool) {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut finished = true;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            finished = false;
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    (child.wait_with_output().unwrap(), finished)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_daemon_running_reads_answer_and_writes_say_whom_they_wait_for() {
    let w = PromotionWorld::new("", None).await;
    let port = free_port();
    let config = std::fs::read_to_string(&w.config_path).unwrap().replace(
        "[daemon]\n",
        &format!("[daemon]\nlisten = \"127.0.0.1:{port}\"\n"),
    );
    std::fs::write(&w.config_path, config).unwrap();
    w.push_tag("1.1.0").await;
    let mut daemon = w.daemon(port, &[]);
    daemon.wait_ready();
    let lock = w.dir.path().join("state/baton.lock");
    assert_eq!(
        std::fs::read_to_string(&lock).unwrap().trim(),
        daemon.pid().to_string(),
        "the daemon writes its pid into the one lock"
    );

    for args in [&["history"][..], &["plan"][..]] {
        let (out, finished) = output_within_a_minute(command(&w, args, &[]));
        assert!(finished, "{args:?} waited for the daemon: {}", text(&out));
        assert!(
            matches!(out.status.code(), Some(0) | Some(2)),
            "{args:?}: {}",
            text(&out)
        );
        assert!(
            !text(&out).contains("waiting for"),
            "{args:?}: {}",
            text(&out)
        );
    }
    // A second read-only command runs beside the first's clone just as well.
    let (out, _) = output_within_a_minute(command(&w, &["history", "--env", "staging"], &[]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    // A mistyped argument is refused at once, not after waiting.
    let (out, finished) = output_within_a_minute(command(
        &w,
        &["promote", "app", "--to", "prod", "--by", "alice"],
        &[],
    ));
    assert!(finished && out.status.code() == Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("no environment \"prod\" in the configuration"),
        "{}",
        text(&out)
    );
    assert!(!text(&out).contains("waiting for"), "{}", text(&out));
    let (out, finished) = output_within_a_minute(command(&w, &["plan", "--env", "prod"], &[]));
    assert!(finished && out.status.code() == Some(1), "{}", text(&out));
    assert!(!text(&out).contains("waiting for"), "{}", text(&out));

    // A dry run only reads: it does not wait either.
    let (out, finished) = output_within_a_minute(command(
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
    ));
    assert!(finished && out.status.code() == Some(0), "{}", text(&out));
    assert!(!text(&out).contains("waiting for"), "{}", text(&out));

    // promote must wait for the daemon's clone: it says at once for whom.
    let mut child = command(
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
    )
    .stdout(Stdio::null())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let line = stderr_line(&mut child, "waiting for");
    let _ = child.kill();
    let _ = child.wait();
    // The daemon runs as `baton --log-format json run --config PATH`.
    assert!(
        line.contains(&format!(
            "waiting for baton process pid {} (baton --log-format json run --config {}) to release the state directory {}",
            daemon.pid(),
            w.config_path.display(),
            w.dir.path().join("state").display()
        )),
        "{line}"
    );
    daemon.signal(libc::SIGTERM);
    assert_eq!(daemon.wait_exit().code(), Some(0), "{}", daemon.log());
}
