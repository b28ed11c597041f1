//! A whole fleet for end-to-end runs of the `baton` binary: a real local registry holding two
//! images, a bare Git remote seeded with manifests that carry markers, a configuration file
//! and a state directory. Helpers run `baton` as a process and read the remote back.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub use super::baton::{Run, finish};
use super::config::{ConfigBuilder, quote};
use super::git_server::{BRANCH, Writer, git, write};
use super::registry::LocalRegistry;
use super::world::World;

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

/// A world seeded with two images and three marked manifests.
pub struct Fleet {
    /// The registry, the remote and the directory.
    pub world: World,
    /// Digest of every tag pushed, by `repo:tag`.
    pub digests: Mutex<Vec<(String, String)>>,
    /// Registry credentials for `[registries]`: user and password file.
    registry_auth: Option<(String, PathBuf)>,
}

impl std::ops::Deref for Fleet {
    type Target = World;
    fn deref(&self) -> &World {
        &self.world
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
        let world = World::with_registry(registry);
        let registry_auth = auth.map(|(user, password)| {
            let password_file = world.dir.path().join("registry-password");
            std::fs::write(&password_file, format!("{password}\n")).unwrap();
            (user.to_string(), password_file)
        });
        let fleet = Fleet {
            world,
            digests: Mutex::new(Vec::new()),
            registry_auth,
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
        let writer = self.remote.writer();
        for (path, text) in self.seed_files() {
            write(&writer.work.join(path), &text);
        }
        git(&writer.work, &["add", "-A"]);
        git(&writer.work, &["commit", "--quiet", "-m", "Seed fleet"]);
        git(&writer.work, &["push", "--quiet", "origin", BRANCH]);
    }

    /// Another writer's clone of the remote.
    pub fn writer(&self) -> Writer {
        self.remote.writer()
    }

    /// The fleet's configuration for remote `url`: both images (`app` by `1.x` with its
    /// digest pinned, `web` by `3.x`), staging and production in push mode, three push retries.
    pub fn config(&self, url: &str) -> ConfigBuilder {
        let host = self.registry.host();
        let mut config = self
            .world
            .config(url)
            .text_value("git", "author_name", AUTHOR_NAME)
            .text_value("git", "author_email", AUTHOR_EMAIL)
            .set("git", "push_retries", "3");
        if let Some((user, password_file)) = &self.registry_auth {
            let section = format!("registries.{}", quote(&host));
            config = config.text_value(&section, "username", user).text_value(
                &section,
                "password_file",
                &password_file.display().to_string(),
            );
        }
        config
            .image("app", &format!("{host}/team/app"))
            .image("web", &format!("{host}/team/web"))
            .semver_policy("app", "app", "1.x")
            .text_value("policies.app", "pin_digest", "if_not_present")
            .semver_policy("web", "web", "3.x")
            .environment("staging", &["clusters/staging"])
            .text_value("environments.staging", "mode", "push")
            .environment("production", &["clusters/production"])
            .text_value("environments.production", "mode", "push")
    }

    /// Writes the configuration for remote `url`; `git_extra` (`key = value` lines) goes into
    /// `[git]`, `extra` (TOML) at the end.
    pub fn write_config_with(&self, url: &str, git_extra: &str, extra: &str) -> PathBuf {
        self.config(url).lines("git", git_extra).raw(extra).write()
    }

    /// Writes the configuration for remote `url` with nothing extra.
    pub fn write_config(&self, url: &str) -> PathBuf {
        self.config(url).write()
    }

    /// Runs `baton ARGS --config CONFIG` to the end.
    pub fn baton(&self, args: &[&str]) -> Run {
        self.world.baton(args).run()
    }

    /// Runs `baton ARGS --config CONFIG` with extra environment variables.
    pub fn baton_env(&self, args: &[&str], envs: &[(&str, &str)]) -> Run {
        self.world.baton(args).envs(envs).run()
    }

    /// The `baton` command, not started: its own process group, output piped.
    pub fn command(&self, args: &[&str], envs: &[(&str, &str)]) -> Command {
        self.world.baton(args).envs(envs).command()
    }

    /// The remote branch's head.
    pub fn head(&self) -> String {
        self.remote.head(BRANCH).unwrap()
    }

    /// The full message of `commit` on the remote.
    pub fn message(&self, commit: &str) -> String {
        git(&self.remote.path, &["log", "-1", "--format=%B", commit])
    }

    /// `name <email>` of `commit`'s author and committer.
    pub fn author_and_committer(&self, commit: &str) -> (String, String) {
        let out = git(
            &self.remote.path,
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
            &self.remote.path,
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
        let out = super::git_server::git_command(
            &self.remote.path,
            &["show", &format!("{commit}:{path}")],
        )
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
        self.remote.set_pre_receive(&format!(
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
