//! Reliability: the state directory runs out of space. The state directory is a small tmpfs
//! mounted for the test when the machine allows it (root, or CAP_SYS_ADMIN); otherwise the
//! write error is simulated with read-only directories (when not root, where permissions
//! hold).
//! The test prints which one ran; as root without the right to mount it fails (scripts/test
//! probes for that and excludes these tests by name, saying why). Baton fails with an error
//! naming the path and what to do, pushes nothing half-done, and the next pass after space is
//! freed succeeds. The disk fills before the pass, during the edit (when Baton asks the
//! registry for the digest it pins), during the commit (when the signing program runs), or
//! while the push is on the wire.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::support::daemon::{PATIENCE, wait_until};
use crate::support::fleet::{Fleet, PRODUCTION_APP, STAGING_APP, STAGING_KUSTOMIZATION};
use crate::support::git_server::{BRANCH, free_port, git};

/// A tmpfs mounted at a directory, unmounted on drop (also when the test panics).
struct Tmpfs {
    path: PathBuf,
}

impl Tmpfs {
    /// Mounts a tmpfs of `size` (`8m`) at `path`; `None` when the machine does not allow it.
    fn mount(path: &Path, size: &str) -> Option<Tmpfs> {
        std::fs::create_dir_all(path).unwrap();
        let out = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "tmpfs",
            ])
            .arg(path)
            .output()
            .ok()?;
        if !out.status.success() {
            eprintln!(
                "cannot mount a tmpfs at {}: {}",
                path.display(),
                String::from_utf8_lossy(&out.stderr).trim()
            );
            return None;
        }
        Some(Tmpfs {
            path: path.to_path_buf(),
        })
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        // Lazy: a daemon still holding a file in it must not keep the mount alive.
        let _ = Command::new("umount").arg("-l").arg(&self.path).status();
    }
}

/// How the state directory is made to fail.
enum Full {
    /// A real tmpfs, filled by one file.
    Tmpfs { filler: PathBuf },
    /// Not root: every directory of the state directory made read-only.
    ReadOnly { dirs: Vec<PathBuf> },
}

impl Full {
    /// Shell lines doing what [`Full::fill`] does, for a hook to run at a chosen moment.
    fn fill_script(state: &Path, tmpfs: bool) -> String {
        if tmpfs {
            format!(
                "dd if=/dev/zero of='{}' bs=65536 2>/dev/null; dd if=/dev/zero of='{}' bs=1 oflag=append conv=notrunc 2>/dev/null; true",
                state.join("filler").display(),
                state.join("filler").display()
            )
        } else {
            format!("find '{}' -type d -exec chmod 555 {{}} +", state.display())
        }
    }

    /// The state after [`Full::fill_script`] ran.
    fn filled_by_script(state: &Path, tmpfs: bool) -> Full {
        if tmpfs {
            Full::Tmpfs {
                filler: state.join("filler"),
            }
        } else {
            Full::ReadOnly { dirs: walk(state) }
        }
    }

    /// Fills the tmpfs at `state` to the last byte, or makes every directory in it read-only.
    fn fill(state: &Path, tmpfs: bool) -> Full {
        if tmpfs {
            let filler = state.join("filler");
            let mut file = std::fs::File::create(&filler).unwrap();
            let block = vec![0u8; 64 * 1024];
            while file.write_all(&block).is_ok() {}
            while file.write_all(&[0]).is_ok() {}
            let _ = file.sync_all();
            Full::Tmpfs { filler }
        } else {
            let dirs = walk(state);
            for dir in &dirs {
                set_writable(dir, false);
            }
            Full::ReadOnly { dirs }
        }
    }

    /// Frees the space (or makes the clone writable again).
    fn free(&self) {
        match self {
            Full::Tmpfs { filler } => std::fs::remove_file(filler).unwrap(),
            Full::ReadOnly { dirs } => {
                for dir in dirs {
                    set_writable(dir, true);
                }
            }
        }
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = vec![dir.to_path_buf()];
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            if entry.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                out.extend(walk(&entry.path()));
            }
        }
    }
    out
}

fn set_writable(dir: &Path, writable: bool) {
    use std::os::unix::fs::PermissionsExt;
    let mode = if writable { 0o755 } else { 0o555 };
    let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode));
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// Mounts the state directory; panics when no write error can be made here.
fn prepare(state: &Path) -> Option<Tmpfs> {
    let mount = Tmpfs::mount(state, "16m");
    assert!(
        mount.is_some() || !is_root(),
        "root without permission to mount a tmpfs: no write error can be made here \
         (scripts/test probes for this and excludes reliability::disk:: by name)"
    );
    eprintln!(
        "state directory: {}",
        if mount.is_some() {
            "a 16 MiB tmpfs, filled to the last byte"
        } else {
            "simulated: every directory in it made read-only"
        }
    );
    mount
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn once_on_a_full_state_directory_fails_clearly_and_the_next_pass_succeeds() {
    let fleet = Fleet::start().await;
    let state = fleet.state_dir();
    let mount = prepare(&state);
    fleet.write_config(&fleet.remote.file_url());
    let first = fleet.baton(&["once"]);
    assert_eq!(first.code, 0, "{}", first.both());
    let moved = fleet.head();

    fleet.push("team/app", "1.4.0").await;
    fleet.push("team/web", "3.2.0").await;
    let full = Full::fill(&state, mount.is_some());
    let failed = fleet.baton(&["once"]);
    assert_eq!(failed.code, 1, "{}", failed.both());
    // The whole pass fails (when the sync cannot write), or each environment does (when the
    // commit cannot): either way with the reason and what to do.
    let error = failed
        .stderr
        .lines()
        .find(|l| l.starts_with("error: ") || l.trim_start().starts_with("environment staging: "))
        .unwrap_or_else(|| panic!("no error line: {}", failed.both()));
    eprintln!("baton once on a full state directory: {error}");
    if mount.is_some() {
        assert!(
            error.contains(&format!(
                "no space left on the file system holding {}",
                state.join("git").display()
            )),
            "{error}"
        );
        assert!(error.contains("free space there"), "{error}");
        // The clone is kept, not thrown away for a new one that cannot fit either.
        assert!(fleet.state_repo().join("objects").is_dir());
        assert!(!state.join("git/repo.broken").exists());
        // git's words (when git said any), said once, not twice.
        assert!(error.matches("failed (exit status").count() <= 1, "{error}");
    } else {
        assert!(error.contains(&state.display().to_string()), "{error}");
        assert!(error.contains("Permission denied"), "{error}");
    }
    assert_eq!(fleet.head(), moved, "something was pushed from a full disk");
    git(&fleet.remote.path, &["fsck", "--strict", "--no-progress"]);

    full.free();
    let after = fleet.baton(&["once"]);
    assert_eq!(after.code, 0, "{}", after.both());
    let head = fleet.head();
    assert_eq!(
        fleet.remote.parents(BRANCH)[2][0],
        moved,
        "two commits expected"
    );
    assert!(fleet.show(&head, STAGING_APP).contains("app:1.4.0@sha256:"));
    assert!(
        fleet
            .show(&head, STAGING_KUSTOMIZATION)
            .contains("newTag: 3.2.0 #")
    );
    assert!(fleet.show(&head, PRODUCTION_APP).contains("tag: '3.2.0' #"));
    drop(mount);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_survives_a_full_state_directory_and_catches_up() {
    let fleet = Fleet::start().await;
    let state = fleet.state_dir();
    let mount = prepare(&state);
    let port = free_port();
    fleet
        .config(&fleet.remote.file_url())
        .text_value("daemon", "listen", &format!("127.0.0.1:{port}"))
        .text_value("git", "interval", "10s")
        .text_value("images.app", "interval", "10s")
        .write();
    let mut daemon = fleet.daemon(port, &[]);
    daemon.wait_ready();
    daemon.wait_event("reconciled", |e| e["pushed"] == 2);
    let moved = fleet.head();

    let full = Full::fill(&state, mount.is_some());
    fleet.push("team/app", "1.5.0").await;
    // A commit that cannot be written fails the environment; a sync that cannot, the whole
    // reconciliation: wait for whichever the full disk caused.
    let failed = wait_until(PATIENCE, "a failure on the full disk", || {
        daemon.events().into_iter().find(|e| {
            e["message"] == "reconciliation failed: the next one tries again"
                || (e["message"] == "environment failed" && e["environment"] == "staging")
        })
    });
    let error = failed["error"].as_str().unwrap_or_default().to_string();
    eprintln!("the daemon on a full state directory: {error}");
    if mount.is_some() {
        assert!(
            error.contains("no space left on the file system holding"),
            "{error}"
        );
    }
    assert!(error.contains(&state.display().to_string()), "{error}");
    // Still up and serving; nothing pushed.
    assert_eq!(daemon.get("/healthz").map(|(code, _)| code), Some(200));
    assert!(daemon.exited().is_none());
    assert_eq!(fleet.head(), moved);

    full.free();
    wait_until(PATIENCE, "the move after space was freed", || {
        fleet.remote.head(BRANCH).filter(|h| *h != moved)
    });
    assert!(
        fleet
            .show(&fleet.head(), STAGING_APP)
            .contains("app:1.5.0@sha256:")
    );
    daemon.signal(libc::SIGTERM);
    assert_eq!(daemon.wait_exit().code(), Some(0), "{}", daemon.log());
    drop(mount);
}

/// The disk fills while the push is on the wire (the remote's hook fills it, then accepts):
/// the move reaches the remote once; whatever Baton says names the state directory; after the
/// space is freed the next pass finds nothing to do and the clone is the remote's head.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disk_filling_during_the_push_loses_nothing_and_repeats_nothing() {
    let fleet = Fleet::start().await;
    let state = fleet.state_dir();
    let mount = prepare(&state);
    fleet.write_config(&fleet.remote.file_url());
    let first = fleet.baton(&["once"]);
    assert_eq!(first.code, 0, "{}", first.both());
    let moved = fleet.head();

    fleet.push("team/app", "1.4.0").await;
    fleet.remote.set_pre_receive(&format!(
        "{}\nexit 0",
        Full::fill_script(&state, mount.is_some())
    ));
    let during = fleet.baton(&["once"]);
    eprintln!(
        "baton once with the disk filling during the push: {}",
        during.both()
    );
    fleet.remote.clear_pre_receive();
    if mount.is_some() {
        let filler = std::fs::metadata(state.join("filler")).map(|m| m.len());
        assert!(
            filler.as_ref().is_ok_and(|len| *len > 1 << 20),
            "the hook did not fill the disk: {filler:?}"
        );
    }
    if during.code != 0 {
        let error = during
            .stderr
            .lines()
            .find(|l| l.starts_with("error: "))
            .unwrap_or_else(|| panic!("no error line: {}", during.both()));
        assert!(error.contains(&state.display().to_string()), "{error}");
    }
    let pushed = fleet.head();
    assert_eq!(
        fleet.remote.parents(BRANCH)[1][0],
        moved,
        "one commit expected on top of the first"
    );
    assert!(
        fleet
            .show(&pushed, STAGING_APP)
            .contains("app:1.4.0@sha256:")
    );

    Full::filled_by_script(&state, mount.is_some()).free();
    let after = fleet.baton(&["once"]);
    assert_eq!(after.code, 0, "{}", after.both());
    assert_eq!(fleet.head(), pushed, "the move was committed twice");
    assert_eq!(
        git(&fleet.state_repo(), &["rev-parse", "HEAD"]),
        pushed,
        "the clone is not the remote's head"
    );
    drop(mount);
}

/// A TCP proxy in front of the registry that runs `script` once, before forwarding the first
/// request whose bytes contain `trigger` (a manifest path): the pass is then past its sync and
/// about to write the edit. Threads, not tasks: the test blocks its runtime on `baton once`.
struct TriggerProxy {
    host: String,
    fired: Arc<AtomicBool>,
}

impl TriggerProxy {
    fn start(upstream: String, trigger: &str, script: String) -> TriggerProxy {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let host = listener.local_addr().unwrap().to_string();
        let fired = Arc::new(AtomicBool::new(false));
        let trigger = trigger.as_bytes().to_vec();
        let flag = fired.clone();
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let Ok(server) = std::net::TcpStream::connect(&upstream) else {
                    continue;
                };
                let (mut from_client, mut to_server) = (client.try_clone().unwrap(), server);
                let (mut from_server, mut to_client) = (to_server.try_clone().unwrap(), client);
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut from_server, &mut to_client);
                    let _ = to_client.shutdown(std::net::Shutdown::Write);
                });
                let (trigger, script, flag) = (trigger.clone(), script.clone(), flag.clone());
                std::thread::spawn(move || {
                    let mut seen: Vec<u8> = Vec::new();
                    let mut buf = [0u8; 16 * 1024];
                    loop {
                        let n = match from_client.read(&mut buf) {
                            Ok(0) | Err(_) => break,
                            Ok(n) => n,
                        };
                        seen.extend_from_slice(&buf[..n]);
                        if seen.windows(trigger.len()).any(|w| w == trigger)
                            && !flag.swap(true, Ordering::SeqCst)
                        {
                            let _ = Command::new("sh").arg("-c").arg(&script).status();
                        }
                        // Keep only what could start a trigger split across reads.
                        let keep = seen.len().saturating_sub(trigger.len());
                        seen.drain(..keep);
                        if to_server.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                    let _ = to_server.shutdown(std::net::Shutdown::Write);
                });
            }
        });
        TriggerProxy { host, fired }
    }
}

/// Checks what every mid-pass fill must leave: `baton once` failed with an error naming the
/// state directory, the disk really filled, nothing reached the remote; then, space freed,
/// the next pass pushes the move exactly once and the clone is the remote's head.
fn assert_failed_then_recovers(
    fleet: &Fleet,
    state: &Path,
    tmpfs: bool,
    during: &crate::support::baton::Run,
    moved: &str,
    image_line: &str,
) {
    assert_eq!(during.code, 1, "{}", during.both());
    let error = during
        .stderr
        .lines()
        .find(|l| l.trim_start().starts_with("environment staging: "))
        .unwrap_or_else(|| panic!("no error for staging: {}", during.both()));
    assert!(error.contains(&state.display().to_string()), "{error}");
    if tmpfs {
        assert!(
            error.contains("no space left on the file system holding"),
            "{error}"
        );
        let filler = std::fs::metadata(state.join("filler")).map(|m| m.len());
        assert!(
            filler.as_ref().is_ok_and(|len| *len > 1 << 20),
            "the disk was not filled: {filler:?}"
        );
    }
    assert_eq!(fleet.head(), moved, "something was pushed from a full disk");
    git(&fleet.remote.path, &["fsck", "--strict", "--no-progress"]);

    Full::filled_by_script(state, tmpfs).free();
    let after = fleet.baton(&["once"]);
    assert_eq!(after.code, 0, "{}", after.both());
    let pushed = fleet.head();
    assert_eq!(
        fleet.remote.parents(BRANCH)[1][0],
        moved,
        "one commit expected on top of the first"
    );
    assert!(fleet.show(&pushed, STAGING_APP).contains(image_line));
    let again = fleet.baton(&["once"]);
    assert_eq!(again.code, 0, "{}", again.both());
    assert_eq!(fleet.head(), pushed, "the move was committed twice");
    assert_eq!(
        git(&fleet.state_repo(), &["rev-parse", "HEAD"]),
        pushed,
        "the clone is not the remote's head"
    );
}

/// The disk fills during the edit: a proxy in front of the registry fills it when Baton asks
/// for the new tag's manifest (the digest it pins), after the sync and before the edit is
/// written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disk_filling_during_the_edit_fails_clearly_and_loses_nothing() {
    let fleet = Fleet::start().await;
    let state = fleet.state_dir();
    let mount = prepare(&state);
    let proxy = TriggerProxy::start(
        fleet.registry.host(),
        "/team/app/manifests/1.4.0",
        Full::fill_script(&state, mount.is_some()),
    );
    // The images are read through the proxy (the first pass also moves the markers to its
    // host name).
    let text = fleet
        .config(&fleet.remote.file_url())
        .text()
        .replace(&fleet.registry.host(), &proxy.host);
    std::fs::write(fleet.config_path(), text).unwrap();
    let first = fleet.baton(&["once"]);
    assert_eq!(first.code, 0, "{}", first.both());
    assert!(!proxy.fired.load(Ordering::SeqCst));
    let moved = fleet.head();

    fleet.push("team/app", "1.4.0").await;
    let during = fleet.baton(&["once"]);
    eprintln!(
        "baton once with the disk filling during the edit: {}",
        during.both()
    );
    assert!(
        proxy.fired.load(Ordering::SeqCst),
        "the manifest was never asked for"
    );
    let line = format!("{}/team/app:1.4.0@sha256:", proxy.host);
    assert_failed_then_recovers(&fleet, &state, mount.is_some(), &during, &moved, &line);
    drop(mount);
}

/// The disk fills during the commit: the signing program (ssh-keygen, found on PATH) fills it
/// before it signs, after the edit is written and before the commit is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disk_filling_during_the_commit_fails_clearly_and_loses_nothing() {
    let fleet = Fleet::start().await;
    let state = fleet.state_dir();
    let mount = prepare(&state);
    let dir = fleet.dir.path();
    let key = dir.join("signing-key");
    let keygen = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "baton", "-f"])
        .arg(&key)
        .output()
        .unwrap();
    assert!(keygen.status.success(), "{keygen:?}");
    let real = String::from_utf8(
        Command::new("sh")
            .args(["-c", "command -v ssh-keygen"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let armed = dir.join("armed");
    let wrapper = bin.join("ssh-keygen");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\nif [ -e '{armed}' ]; then rm -f '{armed}'; {fill}; fi\nexec '{real}' \"$@\"\n",
            armed = armed.display(),
            fill = Full::fill_script(&state, mount.is_some()),
            real = real.trim(),
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    fleet.write_config_with(
        &fleet.remote.file_url(),
        &format!("signing_key = \"{}\"\n", key.display()),
        "",
    );
    let once = |fleet: &Fleet| fleet.baton_env(&["once"], &[("PATH", &path)]);
    let first = once(&fleet);
    assert_eq!(first.code, 0, "{}", first.both());
    let moved = fleet.head();

    fleet.push("team/app", "1.4.0").await;
    std::fs::write(&armed, "").unwrap();
    let during = once(&fleet);
    eprintln!(
        "baton once with the disk filling during the commit: {}",
        during.both()
    );
    assert!(!armed.exists(), "the signer was never run");
    assert_failed_then_recovers(
        &fleet,
        &state,
        mount.is_some(),
        &during,
        &moved,
        "app:1.4.0@sha256:",
    );
    drop(mount);
}
