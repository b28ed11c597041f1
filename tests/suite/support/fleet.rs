//! A whole fleet for end-to-end runs of the `baton` binary: a real local registry holding two
//! images, a bare Git remote seeded with manifests that carry markers, a configuration file
//! and a state directory. Helpers run `baton` as a process and read the remote back.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::git_server::{BRANCH, BareRepo, Writer, git, write};
use super::registry::LocalRegistry;

/// The staging manifest: a Deployment whose image is a Flux full-reference marker.
pub const STAGING_APP: &str = "clusters/staging/app.yaml";
/// The staging kustomization: a `$baton` tag marker for `web`.
pub const STAGING_KUSTOMIZATION: &str = "clusters/staging/kustomization.yaml";
/// The production manifest: `app` held by a person, `web` as a Flux tag marker.
pub const PRODUCTION_APP: &str = "clusters/production/app.yaml";

/// Tags pushed for `team/app` at the start: the `app` policy (`1.x`) chooses 1.1.0.
pub const APP_TAGS: &[&str] = &["1.0.0", "1.1.0", "1.2.0-rc.1", "2.0.0"];
/// Tags pushed for `team/web` at the start: the `web` policy (`3.x`) chooses 3.1.0.
pub const WEB_TAGS: &[&str] = &["3.0.0", "3.1.0"];

/// The commit author the configuration names.
pub const AUTHOR_NAME: &str = "Baton Bot";
/// The commit author's e-mail the configuration names.
pub const AUTHOR_EMAIL: &str = "baton-bot@example.com";

/// A registry, a seeded remote, a configuration and a state directory.
pub struct Fleet {
    /// The registry the images live in.
    pub registry: LocalRegistry,
    /// The remote Baton pushes to.
    pub bare: BareRepo,
    /// Configuration file, state directory and scratch space.
    pub dir: tempfile::TempDir,
    /// Digest of every tag pushed, by `repo:tag`.
    pub digests: Mutex<Vec<(String, String)>>,
    /// The `[registries]` section's extra lines (credentials).
    registry_extra: String,
}

/// The result of one `baton` run.
#[derive(Debug)]
pub struct Run {
    /// Exit code (-1 when killed by a signal).
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error (the log).
    pub stderr: String,
}

impl Run {
    /// Both streams, for assertion messages.
    pub fn both(&self) -> String {
        format!(
            "exit {}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

impl Fleet {
    /// A registry without auth and a seeded remote.
    pub async fn start() -> Fleet {
        Self::with_registry(LocalRegistry::start(), None).await
    }

    /// A registry with htpasswd auth for `user`; the password goes into a file the config names.
    pub async fn start_with_registry_auth(user: &str, password: &str) -> Fleet {
        let registry = LocalRegistry::start_with_auth(user, password);
        Self::with_registry(registry, Some((user, password))).await
    }

    async fn with_registry(registry: LocalRegistry, auth: Option<(&str, &str)>) -> Fleet {
        let dir = tempfile::tempdir().unwrap();
        let registry_extra = match auth {
            Some((user, password)) => {
                let password_file = dir.path().join("registry-password");
                std::fs::write(&password_file, format!("{password}\n")).unwrap();
                format!(
                    "username = \"{user}\"\npassword_file = \"{}\"\n",
                    password_file.display()
                )
            }
            None => String::new(),
        };
        let fleet = Fleet {
            registry,
            bare: BareRepo::seeded(),
            dir,
            digests: Mutex::new(Vec::new()),
            registry_extra,
        };
        for tag in APP_TAGS {
            fleet.push("team/app", tag).await;
        }
        for tag in WEB_TAGS {
            fleet.push("team/web", tag).await;
        }
        fleet.seed();
        fleet
    }

    /// Pushes a distinct image as `repo:tag` and remembers its digest.
    pub async fn push(&self, repo: &str, tag: &str) -> String {
        let digest = self.registry.push_image(repo, tag).await;
        self.digests
            .lock()
            .unwrap()
            .push((format!("{repo}:{tag}"), digest.clone()));
        digest
    }

    /// The digest pushed for `repo:tag`.
    pub fn digest(&self, repo: &str, tag: &str) -> String {
        let key = format!("{repo}:{tag}");
        self.digests
            .lock()
            .unwrap()
            .iter()
            .rev()
            .find(|(k, _)| *k == key)
            .map(|(_, d)| d.clone())
            .unwrap_or_else(|| panic!("no digest pushed for {key}"))
    }

    /// `127.0.0.1:PORT/team/NAME`.
    pub fn image(&self, name: &str) -> String {
        format!("{}/team/{name}", self.registry.host())
    }

    /// The manifests as seeded.
    pub fn seed_files(&self) -> Vec<(&'static str, String)> {
        let app = self.image("app");
        let web = self.image("web");
        vec![
            (
                STAGING_APP,
                format!(
                    "apiVersion: apps/v1\n\
                     kind: Deployment\n\
                     metadata:\n  name: app   # the shop front\n\
                     spec:\n  template:\n    spec:\n      containers:\n\
                     \x20       - name: app\n\
                     \x20         image: \"{app}:1.0.0\" # {{\"$imagepolicy\": \"flux-system:app\"}}\n\
                     \x20         ports: [ {{containerPort: 8080}} ]\n"
                ),
            ),
            (
                STAGING_KUSTOMIZATION,
                format!(
                    "resources:\n  - app.yaml\nimages:\n  - name: {web}\n    newTag: 3.1.0 # {{\"$baton\": \"web:tag\"}}\n"
                ),
            ),
            (
                PRODUCTION_APP,
                format!(
                    "app:\n  image: {app}:1.0.0 # {{\"$baton\": \"app\", \"hold\": \"INC-42 rollback\"}}\n\
                     web:\n  tag: '3.0.0' # {{\"$imagepolicy\": \"flux-system:web:tag\"}}\n"
                ),
            ),
        ]
    }

    /// Commits the fleet's manifests to the remote as another person would.
    fn seed(&self) {
        let writer = self.bare.writer();
        for (path, text) in self.seed_files() {
            write(&writer.work.join(path), &text);
        }
        git(&writer.work, &["add", "-A"]);
        git(&writer.work, &["commit", "--quiet", "-m", "Seed fleet"]);
        git(&writer.work, &["push", "--quiet", "origin", BRANCH]);
    }

    /// Another writer's clone of the remote.
    pub fn writer(&self) -> Writer {
        self.bare.writer()
    }

    /// The state directory.
    pub fn state_dir(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    /// The clone inside the state directory.
    pub fn checkout(&self) -> PathBuf {
        self.state_dir().join("git/checkout")
    }

    /// The configuration file path.
    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("baton.toml")
    }

    /// Writes the configuration for remote `url`; `git_extra` goes into `[git]`, `extra` at the
    /// end (more images, policies).
    pub fn write_config_with(&self, url: &str, git_extra: &str, extra: &str) -> PathBuf {
        let host = self.registry.host();
        let text = format!(
            r#"[daemon]
state_dir = "{state}"

[git]
url = "{url}"
branch = "{BRANCH}"
author_name = "{AUTHOR_NAME}"
author_email = "{AUTHOR_EMAIL}"
push_retries = 3
{git_extra}
[registries."{host}"]
insecure = true
{registry_extra}
[images.app]
repository = "{host}/team/app"

[images.web]
repository = "{host}/team/web"

[policies.app]
image = "app"
semver = "1.x"
pin_digest = "if_not_present"

[policies.web]
image = "web"
semver = "3.x"

[environments.staging]
paths = ["clusters/staging"]
mode = "push"

[environments.production]
paths = ["clusters/production"]
mode = "push"
{extra}"#,
            state = self.state_dir().display(),
            registry_extra = self.registry_extra,
        );
        let path = self.config_path();
        std::fs::write(&path, text).unwrap();
        path
    }

    /// Writes the configuration for remote `url` with nothing extra.
    pub fn write_config(&self, url: &str) -> PathBuf {
        self.write_config_with(url, "", "")
    }

    /// Runs `baton ARGS --config CONFIG` to the end.
    pub fn baton(&self, args: &[&str]) -> Run {
        self.baton_env(args, &[])
    }

    /// Runs `baton ARGS --config CONFIG` with extra environment variables.
    pub fn baton_env(&self, args: &[&str], envs: &[(&str, &str)]) -> Run {
        let out = self.command(args, envs).output().unwrap();
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// The `baton` command, not started: its own process group, output piped.
    pub fn command(&self, args: &[&str], envs: &[(&str, &str)]) -> Command {
        use std::os::unix::process::CommandExt;
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_baton"));
        cmd.args(args)
            .arg("--config")
            .arg(self.config_path())
            .env_remove("BATON_CONFIG")
            .env_remove("RUST_LOG")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        for (k, v) in envs {
            cmd.env(k, v);
        }
        cmd
    }

    /// The remote branch's head.
    pub fn head(&self) -> String {
        self.bare.head(BRANCH).unwrap()
    }

    /// The full message of `commit` on the remote.
    pub fn message(&self, commit: &str) -> String {
        git(&self.bare.path, &["log", "-1", "--format=%B", commit])
    }

    /// `name <email>` of `commit`'s author and committer.
    pub fn author_and_committer(&self, commit: &str) -> (String, String) {
        let out = git(
            &self.bare.path,
            &["log", "-1", "--format=%an <%ae>%n%cn <%ce>", commit],
        );
        let mut lines = out.lines();
        (
            lines.next().unwrap().to_string(),
            lines.next().unwrap().to_string(),
        )
    }

    /// The changed lines of `commit` against its parent: (path, removed, added), whole lines.
    pub fn changed_lines(&self, commit: &str) -> Vec<(String, Vec<String>, Vec<String>)> {
        let diff = git(
            &self.bare.path,
            &[
                "diff",
                "--unified=0",
                "--no-color",
                &format!("{commit}~1"),
                commit,
            ],
        );
        let mut out: Vec<(String, Vec<String>, Vec<String>)> = Vec::new();
        for line in diff.lines() {
            if let Some(path) = line.strip_prefix("+++ b/") {
                out.push((path.to_string(), Vec::new(), Vec::new()));
            } else if line.starts_with("+++") || line.starts_with("---") {
                continue;
            } else if let Some(removed) = line.strip_prefix('-') {
                out.last_mut().unwrap().1.push(removed.to_string());
            } else if let Some(added) = line.strip_prefix('+') {
                out.last_mut().unwrap().2.push(added.to_string());
            }
        }
        out
    }

    /// A file's content at `commit` on the remote.
    pub fn show(&self, commit: &str, path: &str) -> String {
        let out =
            super::git_server::git_command(&self.bare.path, &["show", &format!("{commit}:{path}")])
                .output()
                .unwrap();
        assert!(out.status.success(), "{path} at {commit}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// A seeded file's text with `from` replaced by `to` (once, must be present).
    pub fn seeded_with(&self, path: &str, from: &str, to: &str) -> String {
        let (_, text) = self
            .seed_files()
            .into_iter()
            .find(|(p, _)| *p == path)
            .unwrap();
        assert!(text.contains(from), "{from:?} not in {path}");
        text.replacen(from, to, 1)
    }

    /// Installs a `pre-receive` hook that writes `DIR/hook-started`, then waits until
    /// `DIR/hook-release` exists and exits with `code`. Returns (started, release) paths.
    pub fn hold_pushes(&self, code: i32) -> (PathBuf, PathBuf) {
        let started = self.dir.path().join("hook-started");
        let release = self.dir.path().join("hook-release");
        let _ = std::fs::remove_file(&started);
        let _ = std::fs::remove_file(&release);
        self.bare.set_pre_receive(&format!(
            "touch '{s}'\nwhile [ ! -e '{r}' ]; do sleep 0.05; done\nexit {code}",
            s = started.display(),
            r = release.display()
        ));
        (started, release)
    }
}

/// Waits until `path` exists or `child` exits; true when the file appeared.
pub fn wait_for_file(path: &Path, child: &mut Child) -> bool {
    let deadline = Instant::now() + Duration::from_secs(120);
    while Instant::now() < deadline {
        if path.exists() {
            return true;
        }
        if let Ok(Some(_)) = child.try_wait() {
            return path.exists();
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// Waits for `child` and collects its output.
pub fn finish(child: Child) -> Run {
    let out = child.wait_with_output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Watches `/proc/*/cmdline` of every process until stopped; counts the git processes seen and
/// records any command line that contains the secret.
pub struct ArgvWatch {
    stop: Arc<AtomicBool>,
    git_seen: Arc<AtomicUsize>,
    push_seen: Arc<AtomicUsize>,
    leaks: Arc<Mutex<Vec<String>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// What an [`ArgvWatch`] saw.
#[derive(Debug)]
pub struct ArgvReport {
    /// Distinct git processes seen.
    pub git_seen: usize,
    /// Distinct `git push` processes seen.
    pub push_seen: usize,
    /// Command lines holding the secret.
    pub leaks: Vec<String>,
}

impl ArgvWatch {
    /// Starts sampling.
    pub fn start(secret: &str) -> ArgvWatch {
        let stop = Arc::new(AtomicBool::new(false));
        let git_seen = Arc::new(AtomicUsize::new(0));
        let push_seen = Arc::new(AtomicUsize::new(0));
        let leaks = Arc::new(Mutex::new(Vec::new()));
        let (s, g, p, l) = (
            stop.clone(),
            git_seen.clone(),
            push_seen.clone(),
            leaks.clone(),
        );
        let secret = secret.as_bytes().to_vec();
        let thread = std::thread::spawn(move || {
            let mut seen = std::collections::HashSet::new();
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
                    let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
                    let first = args.first().copied().unwrap_or(&[]);
                    if (first.ends_with(b"git") || first.ends_with(b"git-remote-http"))
                        && seen.insert(pid)
                    {
                        g.fetch_add(1, Ordering::SeqCst);
                        if args.iter().any(|a| *a == b"push") {
                            p.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                }
                std::thread::sleep(Duration::from_millis(2));
            }
        });
        ArgvWatch {
            stop,
            git_seen,
            push_seen,
            leaks,
            thread: Some(thread),
        }
    }

    /// Distinct `git push` processes seen so far.
    pub fn pushes_seen(&self) -> usize {
        self.push_seen.load(Ordering::SeqCst)
    }

    /// Stops sampling and reports.
    pub fn finish(mut self) -> ArgvReport {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
        ArgvReport {
            git_seen: self.git_seen.load(Ordering::SeqCst),
            push_seen: self.push_seen.load(Ordering::SeqCst),
            leaks: self.leaks.lock().unwrap().clone(),
        }
    }
}

/// Another writer who pushes a hand edit to `README.md` the first time a hook calls it.
pub struct Injector {
    /// The writer's clone.
    pub writer: Writer,
    dir: PathBuf,
}

impl Injector {
    /// An injector whose flag and log files live in `dir`.
    pub fn new(fleet: &Fleet) -> Injector {
        let dir = fleet.dir.path().join("injector");
        std::fs::create_dir_all(&dir).unwrap();
        Injector {
            writer: fleet.writer(),
            dir,
        }
    }

    /// Shell lines that, on their first run only, pull, commit a hand edit and push it straight
    /// to the bare repository (a nested hook run sees the lock and does nothing). The pushed
    /// commit id ends up in [`Injector::commit`].
    pub fn script(&self) -> String {
        format!(
            "if mkdir '{lock}' 2>/dev/null; then\n\
             env -i PATH=\"$PATH\" GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null sh -c '\
             cd \"{work}\" && git pull -q --ff-only origin {BRANCH} && printf \"hand edit\\n\" >> README.md && \
             git -c user.name=\"Other Writer\" -c user.email=other@example.com commit -qam \"Hand edit during the push\" && \
             git push -q origin {BRANCH} && git rev-parse HEAD > \"{done}.tmp\" && mv \"{done}.tmp\" \"{done}\"' >>'{log}' 2>&1 || exit 1\n\
             fi",
            lock = self.dir.join("lock").display(),
            work = self.writer.work.display(),
            done = self.dir.join("commit").display(),
            log = self.dir.join("log").display(),
        )
    }

    /// The commit the injection pushed, once it did.
    pub fn commit(&self) -> Option<String> {
        std::fs::read_to_string(self.dir.join("commit"))
            .ok()
            .map(|s| s.trim().to_string())
    }

    /// What the injection printed.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("log")).unwrap_or_default()
    }

    /// Writes an executable hook file at `path` running the script and exiting 0.
    pub fn write_hook(&self, path: &Path, first_lines: &str) {
        write(
            path,
            &format!("#!/bin/sh\n{first_lines}\n{}\nexit 0\n", self.script()),
        );
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
}

/// Every descendant of `pid` (children, grandchildren, ...), read from `/proc`.
pub fn descendants(pid: u32) -> Vec<u32> {
    let mut parent_of: Vec<(u32, u32)> = Vec::new();
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for entry in dir.flatten() {
            let Some(p) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<u32>().ok())
            else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
                continue;
            };
            // pid (comm) state ppid ...: comm may hold spaces, so split after the last ')'.
            let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
                continue;
            };
            if let Some(ppid) = rest.split_whitespace().nth(1).and_then(|v| v.parse().ok()) {
                parent_of.push((p, ppid));
            }
        }
    }
    let mut out = Vec::new();
    let mut frontier = vec![pid];
    while let Some(parent) = frontier.pop() {
        for (child, ppid) in &parent_of {
            if *ppid == parent && !out.contains(child) {
                out.push(*child);
                frontier.push(*child);
            }
        }
    }
    out
}

/// SIGKILLs `child` and every process below it at once, as a crash of the whole service
/// (systemd killing its cgroup) would, then reaps it. The tree is frozen with SIGSTOP first so
/// nothing forks in between.
pub fn kill_tree(child: &mut Child) {
    let signal = |pids: &[u32], sig: i32| {
        for p in pids {
            if let Ok(p) = i32::try_from(*p) {
                // SAFETY: kill(2) on processes this test started; no memory effects.
                unsafe {
                    libc::kill(p, sig);
                }
            }
        }
    };
    let pid = child.id();
    let mut all = vec![pid];
    loop {
        signal(&all, libc::SIGSTOP);
        let mut found = descendants(pid);
        found.push(pid);
        found.sort_unstable();
        all.sort_unstable();
        if found == all {
            break;
        }
        all = found;
    }
    signal(&all, libc::SIGKILL);
    let _ = child.wait();
}
