//! `baton once` over every kind of remote: a plain path, `git daemon`, smart HTTP with a token
//! (from a file and from an environment variable) and ssh with a key and known_hosts. The
//! token never appears in Baton's output or logs, nor in any process's arguments.

use std::sync::atomic::Ordering;

use crate::support::fleet::{ArgvWatch, Fleet, Run, finish, wait_for_file};
use crate::support::git_server::{BRANCH, GitDaemon, HttpServer, SshServer};

/// The first pass moved both environments onto the seed.
fn assert_moved(fleet: &Fleet, seeded: &str, run: &Run) {
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

#[tokio::test]
async fn plain_path_remote() {
    let fleet = Fleet::start().await;
    fleet.write_config(&fleet.remote.path_url());
    let seeded = fleet.head();
    assert_moved(&fleet, &seeded, &fleet.baton(&["once"]));
    let again = fleet.baton(&["once"]);
    assert_eq!(again.code, 0, "{}", again.both());
    assert_eq!(fleet.remote.subjects(BRANCH).len(), 6);
}

#[tokio::test]
async fn git_daemon_remote() {
    let fleet = Fleet::start().await;
    let daemon = GitDaemon::start(&fleet.remote);
    fleet.write_config(&daemon.url());
    let seeded = fleet.head();
    assert_moved(&fleet, &seeded, &fleet.baton(&["once"]));
}

/// Runs `baton once` while watching every process's arguments; the push is held by a hook until
/// the watcher has seen Baton's `git push` running. Returns the run and what the watcher saw.
fn once_watched(fleet: &Fleet, secret: &str, envs: &[(&str, &str)]) -> Run {
    let (started, release) = fleet.hold_pushes(0);
    let watch = ArgvWatch::start(secret);
    let mut child = fleet
        .command(&["once"], &[&[("RUST_LOG", "debug")], envs].concat())
        .spawn()
        .unwrap();
    assert!(
        wait_for_file(&started, &mut child),
        "no push reached the remote"
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while watch.pushes_seen() == 0 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    std::fs::write(&release, "").unwrap();
    let run = finish(child);
    fleet.remote.clear_pre_receive();
    let report = watch.finish();
    assert!(
        report.push_seen > 0,
        "the watcher never saw git push: {report:?}"
    );
    assert!(report.git_seen > 1, "{report:?}");
    assert!(
        report.leaks.is_empty(),
        "the token is in process arguments: {:?}",
        report.leaks
    );
    assert!(
        !run.stdout.contains(secret) && !run.stderr.contains(secret),
        "the token is in baton's output: {}",
        run.both()
    );
    run
}

#[tokio::test]
async fn smart_http_with_token_file_never_shows_the_token() {
    let token = "tok-3b9d7e21-fleet-secret";
    let fleet = Fleet::start().await;
    let server = HttpServer::start(&fleet.remote, token);
    let token_file = fleet.dir.path().join("git-token");
    std::fs::write(&token_file, format!("{token}\n")).unwrap();
    fleet.write_config_with(
        &server.url(),
        &format!(
            "token_file = \"{}\"\nusername = \"baton-bot\"\n",
            token_file.display()
        ),
        "",
    );
    let seeded = fleet.head();
    let run = once_watched(&fleet, token, &[]);
    assert_moved(&fleet, &seeded, &run);
    assert!(server.unauthorized.load(Ordering::SeqCst) > 0);
    assert!(
        server
            .users
            .lock()
            .unwrap()
            .iter()
            .all(|u| u == "baton-bot")
    );
    // The debug log did record git commands, with the URL and without the token.
    assert!(run.stderr.contains("running git"), "{}", run.both());
    assert!(run.stderr.contains(&server.url()), "{}", run.both());

    // A wrong token: a clear error naming the remote, still no token shown.
    std::fs::write(&token_file, "tok-wrong-0000\n").unwrap();
    std::fs::remove_dir_all(fleet.state_dir()).unwrap();
    let run = fleet.baton_env(&["once"], &[("RUST_LOG", "debug")]);
    assert_ne!(run.code, 0, "{}", run.both());
    assert!(run.stderr.contains("authentication"), "{}", run.both());
    assert!(run.stderr.contains(&server.url()), "{}", run.both());
    assert!(!run.stderr.contains("tok-wrong-0000"), "{}", run.both());
    assert!(!run.stdout.contains("tok-wrong-0000"), "{}", run.both());
}

#[tokio::test]
async fn smart_http_with_token_from_environment_never_shows_the_token() {
    let token = "tok-env-77c1a0f4-fleet-secret";
    let fleet = Fleet::start().await;
    let server = HttpServer::start(&fleet.remote, token);
    fleet.write_config_with(&server.url(), "token_env = \"FLEET_GIT_TOKEN\"\n", "");
    let seeded = fleet.head();
    let run = once_watched(&fleet, token, &[("FLEET_GIT_TOKEN", token)]);
    assert_moved(&fleet, &seeded, &run);

    // The variable missing: the error names the variable, not a value.
    let run = fleet.baton(&["once"]);
    assert_ne!(run.code, 0, "{}", run.both());
    assert!(run.stderr.contains("FLEET_GIT_TOKEN"), "{}", run.both());
}

#[tokio::test]
async fn ssh_remote_with_key_and_known_hosts() {
    let fleet = Fleet::start().await;
    let sshd = SshServer::start();
    let git_extra = |known_hosts: &std::path::Path| {
        format!(
            "ssh_key_file = \"{}\"\nknown_hosts_file = \"{}\"\n",
            sshd.client_key.display(),
            known_hosts.display()
        )
    };
    // An impostor's host key: refused before anything is read or written.
    fleet.write_config_with(
        &sshd.url(&fleet.remote),
        &git_extra(&sshd.wrong_known_hosts),
        "",
    );
    let seeded = fleet.head();
    let run = fleet.baton(&["once"]);
    assert_ne!(run.code, 0, "{}", run.both());
    assert!(run.stderr.contains("host key"), "{}", run.both());
    assert_eq!(fleet.head(), seeded);

    fleet.write_config_with(&sshd.url(&fleet.remote), &git_extra(&sshd.known_hosts), "");
    let run = fleet.baton(&["once"]);
    assert_moved(&fleet, &seeded, &run);
    let _ = sshd.log();
}
