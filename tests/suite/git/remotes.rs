//! The workspace against real network remotes: `git daemon`, smart HTTP (`git http-backend`)
//! with a token, and OpenSSH's `sshd` with a key and strict known_hosts. Checks the token never
//! shows in errors, files or any process's arguments.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use crate::support::git_server::baton_side::{bump, settings};
use crate::support::git_server::{BRANCH, BareRepo, GitDaemon, HttpServer, SshServer};
use baton::git::{GitError, PushOutcome, RemoteSettings, TokenSource, Workspace};

/// Clone, commit, push; an identical second commit is a no-op; a concurrent writer makes the
/// push rejected, and after sync and recommit both commits survive in a linear history.
async fn scenario(repo: &BareRepo, s: &RemoteSettings) {
    let state = tempfile::tempdir().unwrap();
    let ws = Workspace::open_or_clone(state.path(), s).await.unwrap();
    ws.sync().await.unwrap();
    let first = bump(&ws, "1.0.0", "1.0.1").await.expect("a commit");
    assert_eq!(
        ws.push(first, BRANCH, false).await.unwrap(),
        PushOutcome::Pushed
    );
    assert_eq!(repo.head(BRANCH), Some(first.to_string()));

    assert_eq!(ws.sync().await.unwrap(), first);
    assert_eq!(bump(&ws, "1.0.0", "1.0.1").await, None);

    let second = bump(&ws, "1.0.1", "1.0.2").await.unwrap();
    let writer = repo.writer();
    let theirs = writer.commit_and_push("README.md", "# fleet\nedited\n", "Hand edit");
    let outcome = ws.push(second, BRANCH, false).await.unwrap();
    assert!(
        matches!(outcome, PushOutcome::Rejected { .. }),
        "{outcome:?}"
    );
    assert_eq!(ws.sync().await.unwrap().to_string(), theirs);
    let again = bump(&ws, "1.0.1", "1.0.2").await.unwrap();
    assert_eq!(
        ws.push(again, BRANCH, false).await.unwrap(),
        PushOutcome::Pushed
    );
    let chain = repo.parents(BRANCH);
    assert_eq!(chain[0], vec![again.to_string(), theirs.clone()]);
    assert_eq!(chain[1][0], theirs);
    assert_eq!(chain[1][1], first.to_string());
    assert!(chain.iter().all(|c| c.len() <= 2), "linear: {chain:?}");
}

#[tokio::test]
async fn git_daemon_remote() {
    let repo = BareRepo::seeded();
    let daemon = GitDaemon::start(&repo);
    scenario(&repo, &settings(&daemon.url())).await;
}

#[tokio::test]
async fn git_daemon_refusing_hook_is_reported() {
    let repo = BareRepo::seeded();
    repo.set_pre_receive("echo 'change freeze until monday' >&2\nexit 1");
    let daemon = GitDaemon::start(&repo);
    let state = tempfile::tempdir().unwrap();
    let ws = Workspace::open_or_clone(state.path(), &settings(&daemon.url()))
        .await
        .unwrap();
    let ours = bump(&ws, "1.0.0", "1.0.1").await.unwrap();
    let err = ws.push(ours, BRANCH, false).await.unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, GitError::PushRefused { .. }), "{text}");
    assert!(text.contains(&daemon.url()), "{text}");
    assert!(text.contains("change freeze until monday"), "{text}");
    assert_eq!(ws.head().unwrap(), ours);
}

/// Watches `/proc/*/cmdline` of every process until stopped; counts git processes seen and
/// records any command line containing `secret`.
struct ArgvWatch {
    stop: Arc<AtomicBool>,
    git_seen: Arc<AtomicUsize>,
    leaks: Arc<std::sync::Mutex<Vec<String>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl ArgvWatch {
    fn start(secret: &str) -> ArgvWatch {
        let stop = Arc::new(AtomicBool::new(false));
        let git_seen = Arc::new(AtomicUsize::new(0));
        let leaks = Arc::new(std::sync::Mutex::new(Vec::new()));
        let (s, g, l) = (stop.clone(), git_seen.clone(), leaks.clone());
        let secret = secret.as_bytes().to_vec();
        let thread = std::thread::spawn(move || {
            let mut seen_pids = std::collections::HashSet::new();
            while !s.load(Ordering::SeqCst) {
                let Ok(dir) = std::fs::read_dir("/proc") else {
                    return;
                };
                for entry in dir.flatten() {
                    let name = entry.file_name();
                    let Some(pid) = name.to_str().and_then(|n| n.parse::<u32>().ok()) else {
                        continue;
                    };
                    let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
                        continue;
                    };
                    if cmdline
                        .windows(secret.len())
                        .any(|w| w == secret.as_slice())
                    {
                        l.lock()
                            .unwrap()
                            .push(String::from_utf8_lossy(&cmdline).replace('\0', " "));
                    }
                    let first = cmdline.split(|b| *b == 0).next().unwrap_or(&[]);
                    let is_git = first.ends_with(b"git")
                        || cmdline.windows(12).any(|w| w == b"remote-http\0");
                    if is_git && seen_pids.insert(pid) {
                        g.fetch_add(1, Ordering::SeqCst);
                    }
                }
            }
        });
        ArgvWatch {
            stop,
            git_seen,
            leaks,
            thread: Some(thread),
        }
    }

    /// Stops watching; returns (git processes seen, leaking command lines).
    fn finish(mut self) -> (usize, Vec<String>) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
        (
            self.git_seen.load(Ordering::SeqCst),
            self.leaks.lock().unwrap().clone(),
        )
    }
}

fn files_containing(dir: &Path, secret: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in rd.flatten() {
        let p = e.path();
        let Ok(meta) = std::fs::symlink_metadata(&p) else {
            continue;
        };
        if meta.is_dir() {
            out.extend(files_containing(&p, secret));
        } else if meta.is_file()
            && let Ok(data) = std::fs::read(&p)
            && data.windows(secret.len()).any(|w| w == secret.as_bytes())
        {
            out.push(p);
        }
    }
    out
}

#[tokio::test]
async fn smart_http_with_token() {
    let token = "tok-9f8e7d6c5b4a-secret";
    let repo = BareRepo::seeded();
    let server = HttpServer::start(&repo, token);
    let secrets = tempfile::tempdir().unwrap();
    let token_file = secrets.path().join("token");
    std::fs::write(&token_file, format!("{token}\n")).unwrap();
    let mut s = settings(&server.url());
    s.token = Some(TokenSource::File(token_file.clone()));
    s.username = "baton-bot".into();

    // Control: the watcher does catch a process whose arguments hold the secret.
    let control = ArgvWatch::start("control-secret-42");
    let status = std::process::Command::new("sh")
        .args(["-c", "sleep 0.3", "sh", "control-secret-42"])
        .status()
        .unwrap();
    assert!(status.success());
    let (_, caught) = control.finish();
    assert!(
        !caught.is_empty(),
        "the argv watcher missed a leaking process"
    );

    let watch = ArgvWatch::start(token);
    scenario(&repo, &s).await;
    let (git_seen, leaks) = watch.finish();
    assert!(git_seen > 0, "the argv watcher saw no git process");
    assert!(leaks.is_empty(), "token in process arguments: {leaks:?}");
    assert!(server.unauthorized.load(Ordering::SeqCst) > 0);
    assert!(
        server
            .users
            .lock()
            .unwrap()
            .iter()
            .all(|u| u == "baton-bot")
    );

    // The token is in no file Baton wrote (askpass helper, private HOME, clone config).
    let state = tempfile::tempdir().unwrap();
    let ws = Workspace::open_or_clone(state.path(), &s).await.unwrap();
    ws.sync().await.unwrap();
    let askpass = std::fs::read_to_string(ws.environment().askpass_path()).unwrap();
    assert!(!askpass.contains(token));
    assert_eq!(files_containing(state.path(), token), Vec::<PathBuf>::new());
    assert!(!ws.settings().url.contains(token));
}

#[tokio::test]
async fn smart_http_wrong_or_missing_token_is_a_clear_error() {
    let token = "right-token-0123456789";
    let wrong = "wrong-token-9876543210";
    let repo = BareRepo::seeded();
    let server = HttpServer::start(&repo, token);
    let secrets = tempfile::tempdir().unwrap();
    let token_file = secrets.path().join("token");
    std::fs::write(&token_file, wrong).unwrap();
    let mut s = settings(&server.url());
    s.token = Some(TokenSource::File(token_file.clone()));

    let state = tempfile::tempdir().unwrap();
    let watch = ArgvWatch::start(wrong);
    let err = Workspace::open_or_clone(state.path(), &s)
        .await
        .unwrap_err();
    let (_, leaks) = watch.finish();
    assert!(leaks.is_empty(), "token in process arguments: {leaks:?}");
    let text = err.to_string();
    assert!(matches!(err, GitError::Authentication { .. }), "{text}");
    assert!(text.contains(&server.url()), "{text}");
    assert!(text.contains("clone"), "{text}");
    assert!(!text.contains(wrong), "{text}");
    assert!(!format!("{err:?}").contains(wrong));

    // No token at all: git may not prompt, so it fails fast with the same kind of error.
    let mut none = settings(&server.url());
    none.token = None;
    let err = Workspace::open_or_clone(state.path(), &none)
        .await
        .unwrap_err();
    assert!(matches!(err, GitError::Authentication { .. }), "{err}");

    // A token file that cannot be read names the file.
    let mut missing = settings(&server.url());
    missing.token = Some(TokenSource::File(secrets.path().join("absent")));
    let err = Workspace::open_or_clone(state.path(), &missing)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("absent"), "{err}");

    // A password in the URL is refused before anything runs.
    let url = server
        .url()
        .replace("http://", &format!("http://baton:{token}@"));
    let err = Workspace::open_or_clone(state.path(), &settings(&url))
        .await
        .unwrap_err();
    assert!(matches!(err, GitError::Settings(_)), "{err}");
    assert!(!err.to_string().contains(token), "{err}");
}

#[tokio::test]
async fn ssh_with_key_and_strict_known_hosts() {
    let repo = BareRepo::seeded();
    let server = SshServer::start();
    let mut s = settings(&server.url(&repo));
    s.ssh_key_file = Some(server.client_key.clone());
    s.known_hosts_file = Some(server.known_hosts.clone());
    let result = tokio::spawn({
        let s = s.clone();
        async move {
            // Run in a task so a panic still lets us print sshd's log below.
            let repo = repo;
            scenario(&repo, &s).await;
        }
    })
    .await;
    assert!(
        result.is_ok(),
        "ssh scenario failed; sshd log:\n{}",
        server.log()
    );
}

#[tokio::test]
async fn ssh_unknown_host_key_fails_clearly() {
    let repo = BareRepo::seeded();
    let server = SshServer::start();
    let mut s = settings(&server.url(&repo));
    s.ssh_key_file = Some(server.client_key.clone());
    s.known_hosts_file = Some(server.wrong_known_hosts.clone());
    let state = tempfile::tempdir().unwrap();
    let err = Workspace::open_or_clone(state.path(), &s)
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, GitError::HostKey { .. }), "{text}");
    assert!(text.contains(&server.url(&repo)), "{text}");

    // An empty known_hosts (host never seen) is refused too: no trust on first use.
    let empty = state.path().join("empty_known_hosts");
    std::fs::write(&empty, "").unwrap();
    s.known_hosts_file = Some(empty);
    let err = Workspace::open_or_clone(state.path(), &s)
        .await
        .unwrap_err();
    assert!(matches!(err, GitError::HostKey { .. }), "{err}");

    // The right host key but a key the server does not accept is an authentication error.
    s.known_hosts_file = Some(server.known_hosts.clone());
    let keys = tempfile::tempdir().unwrap();
    let other_key = keys.path().join("other");
    let out = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&other_key)
        .output()
        .unwrap();
    assert!(out.status.success());
    s.ssh_key_file = Some(other_key);
    let err = Workspace::open_or_clone(state.path(), &s)
        .await
        .unwrap_err();
    assert!(matches!(err, GitError::Authentication { .. }), "{err}");
}

#[tokio::test]
async fn unresponsive_remote_times_out_and_git_is_killed() {
    // A listener that accepts connections and never answers (nothing a real server does on
    // purpose, hence this stand-in).
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let holder = std::thread::spawn(move || {
        let mut held = Vec::new();
        if let Ok((conn, _)) = listener.accept() {
            held.push(conn);
            std::thread::sleep(std::time::Duration::from_secs(6));
        }
    });
    let url = format!("git://127.0.0.1:{port}/fleet.git");
    let mut s = settings(&url);
    s.timeout = std::time::Duration::from_secs(2);
    let state = tempfile::tempdir().unwrap();
    let err = Workspace::open_or_clone(state.path(), &s)
        .await
        .unwrap_err();
    assert!(matches!(err, GitError::Timeout { .. }), "{err}");
    assert!(err.to_string().contains(&url), "{err}");
    assert!(!state.path().join("git/repo.tmp").exists());
    // No git process for that URL survives.
    std::thread::sleep(std::time::Duration::from_millis(200));
    let needle = format!("127.0.0.1:{port}");
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        if let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) {
            let text = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            assert!(!text.contains(&needle), "still running: {text}");
        }
    }
    holder.join().unwrap();
}
