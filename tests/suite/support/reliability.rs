//! Helpers for the reliability suite (`tests/suite/reliability/`): a fleet of many images (a
//! real local registry, a seeded bare remote with one manifest per image and environment),
//! Baton's moves read back from the remote's history, and the checks every fault test ends
//! with: history linear, every move once and in order, every committed file whole.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use super::baton::{Baton, Run};
use super::git_server::{APP_PATH, BRANCH, BareRepo, git, git_command, write};
use super::registry::{LocalRegistry, OCI_CONFIG, OCI_LAYER, OCI_MANIFEST};
use super::world::World;

/// The version every manifest starts at.
pub const FIRST: &str = "1.0.0";

/// A seed for a test's random choices: `BATON_RELIABILITY_SEED` when set, otherwise the
/// clock. Printed, so that a failure can be replayed.
pub fn seed(test: &str) -> u64 {
    let seed = std::env::var("BATON_RELIABILITY_SEED")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1)
        });
    eprintln!("{test}: seed {seed} (replay with BATON_RELIABILITY_SEED={seed})");
    seed
}

/// A number from the environment variable `name`, or `default`.
pub fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(default)
}

/// One move read back from a commit's trailers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Move {
    /// The commit that made it.
    pub commit: String,
    /// `Baton-Environment`.
    pub environment: String,
    /// `Baton-Image` (the repository).
    pub image: String,
    /// `Baton-From`, tag only.
    pub from: String,
    /// `Baton-To`, tag only.
    pub to: String,
}

/// Reads every Baton move on `branch` of `bare`, oldest first.
pub fn moves(bare: &Path, branch: &str) -> Vec<Move> {
    let log = git(bare, &["log", "--reverse", "--format=%H%x00%B%x1e", branch]);
    let mut out = Vec::new();
    for entry in log.split('\x1e') {
        let entry = entry.trim_start_matches('\n');
        let Some((commit, body)) = entry.split_once('\0') else {
            continue;
        };
        let mut current: Option<Move> = None;
        for line in body.lines() {
            let Some((key, value)) = line.split_once(": ") else {
                continue;
            };
            let tag = |v: &str| v.split('@').next().unwrap_or("").trim().to_string();
            match key {
                "Baton-Environment" => {
                    out.extend(current.take());
                    current = Some(Move {
                        commit: commit.to_string(),
                        environment: value.trim().to_string(),
                        image: String::new(),
                        from: String::new(),
                        to: String::new(),
                    });
                }
                "Baton-Image" => {
                    if let Some(m) = current.as_mut() {
                        m.image = value.trim().to_string();
                    }
                }
                "Baton-From" => {
                    if let Some(m) = current.as_mut() {
                        m.from = tag(value);
                    }
                }
                "Baton-To" => {
                    if let Some(m) = current.as_mut() {
                        m.to = tag(value);
                    }
                }
                _ => {}
            }
        }
        out.extend(current);
    }
    out
}

/// Panics unless every commit on `branch` has at most one parent.
pub fn assert_linear(bare: &BareRepo, branch: &str) {
    for entry in bare.parents(branch) {
        assert!(
            entry.len() <= 2,
            "merge commit {} on {branch}: the history is not linear",
            entry[0]
        );
    }
}

/// Panics unless every `.yaml` file changed by a commit after `since` on `branch` parses as
/// YAML; `check` sees (commit, path, text) for more.
pub fn assert_committed_files(
    bare: &Path,
    branch: &str,
    since: &str,
    mut check: impl FnMut(&str, &str, &str),
) -> usize {
    let commits = git(
        bare,
        &["rev-list", "--reverse", &format!("{since}..{branch}")],
    );
    let mut files = 0;
    for commit in commits.lines() {
        let changed = git(
            bare,
            &[
                "diff-tree",
                "--no-commit-id",
                "--name-only",
                "-r",
                "--diff-filter=AM",
                commit,
            ],
        );
        for path in changed.lines().filter(|p| p.ends_with(".yaml")) {
            let out = git_command(bare, &["show", &format!("{commit}:{path}")])
                .output()
                .unwrap();
            assert!(out.status.success(), "{path} at {commit}");
            let text = String::from_utf8(out.stdout)
                .unwrap_or_else(|_| panic!("{path} at {commit} is not UTF-8"));
            for event in saphyr_parser::Parser::new_from_str(&text) {
                if let Err(e) = event {
                    panic!("{path} at {commit} does not parse as YAML: {e:?}\n{text}");
                }
            }
            check(commit, path, &text);
            files += 1;
        }
    }
    files
}

/// A world with many images and one manifest per image and environment.
pub struct Many {
    /// The registry (holding `team/NAME` for every image), the remote and the directory.
    pub world: World,
    /// Image names (`img00`, `img01`, ...), also their policy names.
    pub images: Vec<String>,
    /// Environment names; each owns `clusters/ENV`.
    pub environments: Vec<String>,
    /// The seeded head.
    pub seeded: String,
    /// Tags pushed after the first, by image, in order.
    pub pushed: Mutex<BTreeMap<String, Vec<String>>>,
    /// Each image's manifest: a new tag is one more name for it (one request).
    manifests: BTreeMap<String, Vec<u8>>,
}

impl std::ops::Deref for Many {
    type Target = World;
    fn deref(&self) -> &World {
        &self.world
    }
}

impl Many {
    /// Pushes `FIRST` for `count` images and seeds a manifest for each in every environment.
    pub async fn start(count: usize, environments: &[&str]) -> Many {
        let registry = LocalRegistry::start();
        let images: Vec<String> = (0..count).map(|i| format!("img{i:02}")).collect();
        let mut manifests = BTreeMap::new();
        for image in &images {
            let repo = format!("team/{image}");
            let layer = format!("layer of {image}").into_bytes();
            let layer_digest = registry.upload_blob(&repo, &layer).await;
            let config = serde_json::json!({
                "architecture": "amd64",
                "os": "linux",
                "rootfs": {"type": "layers", "diff_ids": [layer_digest]},
            })
            .to_string()
            .into_bytes();
            let config_digest = registry.upload_blob(&repo, &config).await;
            let manifest = serde_json::json!({
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "config": {"mediaType": OCI_CONFIG, "digest": config_digest, "size": config.len()},
                "layers": [{"mediaType": OCI_LAYER, "digest": layer_digest, "size": layer.len()}],
            })
            .to_string()
            .into_bytes();
            registry
                .put_manifest(&repo, FIRST, OCI_MANIFEST, &manifest)
                .await;
            manifests.insert(image.clone(), manifest);
        }
        let mut many = Many {
            world: World::with_registry(registry),
            images,
            environments: environments.iter().map(|e| e.to_string()).collect(),
            seeded: String::new(),
            pushed: Mutex::new(BTreeMap::new()),
            manifests,
        };
        let writer = many.remote.writer();
        // The seed's staging manifest names policy `app`, which these configurations do not
        // have: a marker problem (`once` exits 3) that is no part of these scenarios.
        git(
            &writer.work,
            &["rm", "--quiet", "--ignore-unmatch", APP_PATH],
        );
        for env in &many.environments {
            for image in many.images.iter() {
                write(
                    &writer.work.join(many.manifest_path(env, image)),
                    &many.manifest(env, image, FIRST),
                );
            }
        }
        git(&writer.work, &["add", "-A"]);
        git(
            &writer.work,
            &["commit", "--quiet", "-m", "Seed many images"],
        );
        git(&writer.work, &["push", "--quiet", "origin", BRANCH]);
        many.seeded = many.head();
        many
    }

    /// `HOST/team/IMAGE`.
    pub fn repository(&self, image: &str) -> String {
        format!("{}/team/{image}", self.registry.host())
    }

    /// `clusters/ENV/IMAGE.yaml`.
    pub fn manifest_path(&self, env: &str, image: &str) -> String {
        format!("clusters/{env}/{image}.yaml")
    }

    /// The manifest for `image` in `env` at `tag`: every byte but the tag is fixed.
    pub fn manifest(&self, env: &str, image: &str, tag: &str) -> String {
        format!(
            "# {image} in {env}: only the marked tag may change\n\
             apiVersion: apps/v1\n\
             kind: Deployment\n\
             metadata:\n  name: {image}\n  labels: {{tier: \"web\", env: '{env}'}}\n\
             spec:\n  template:\n    spec:\n      containers:\n\
             \x20       - name: {image}\n\
             \x20         image: {repo}:{tag} # {{\"$baton\": \"{image}\"}}\n\
             \x20         args: [\"--port\", \"8080\"]\n",
            repo = self.repository(image)
        )
    }

    /// The tag a committed manifest of `image` holds, checked against the template: the file
    /// must be exactly [`Many::manifest`] at that tag.
    pub fn committed_tag(&self, env: &str, image: &str, text: &str) -> String {
        let needle = format!("{}:", self.repository(image));
        let start = text
            .find(&needle)
            .unwrap_or_else(|| panic!("no reference to {image} in:\n{text}"))
            + needle.len();
        let tag: String = text[start..]
            .chars()
            .take_while(|c| !c.is_whitespace() && *c != '@')
            .collect();
        assert_eq!(
            text,
            self.manifest(env, image, &tag),
            "{image} in {env}: more than the marked tag changed"
        );
        tag
    }

    /// Tags `team/IMAGE` with `TAG` (the image's one manifest) and remembers it.
    pub async fn push(&self, image: &str, tag: &str) {
        self.registry
            .put_manifest(
                &format!("team/{image}"),
                tag,
                OCI_MANIFEST,
                &self.manifests[image],
            )
            .await;
        self.pushed
            .lock()
            .unwrap()
            .entry(image.to_string())
            .or_default()
            .push(tag.to_string());
    }

    /// The newest tag pushed for `image`.
    pub fn newest(&self, image: &str) -> String {
        self.pushed
            .lock()
            .unwrap()
            .get(image)
            .and_then(|t| t.last().cloned())
            .unwrap_or_else(|| FIRST.to_string())
    }

    /// The remote head.
    pub fn head(&self) -> String {
        self.remote.head(BRANCH).unwrap()
    }

    /// A configuration for one Baton instance: state directory `DIR/NAME-state`, the remote
    /// at `url`, `daemon_extra` (`key = value` lines) in `[daemon]`, `extra` (TOML) at the end.
    /// Written to `DIR/NAME.toml`.
    pub fn write_config(&self, name: &str, url: &str, daemon_extra: &str, extra: &str) -> PathBuf {
        let host = self.registry.host();
        let mut config = self
            .instance_config(name, url)
            .lines("daemon", daemon_extra)
            .set("git", "push_retries", "20");
        for image in self.images.iter() {
            config = config
                .image(image, &format!("{host}/team/{image}"))
                .semver_policy(image, image, "1.x");
        }
        for env in &self.environments {
            config = config
                .environment(env, &[&format!("clusters/{env}")])
                .text_value(&format!("environments.{env}"), "mode", "push");
        }
        config.raw(extra).write()
    }

    /// `DIR/NAME.toml`.
    pub fn config_path(&self, name: &str) -> PathBuf {
        self.dir.path().join(format!("{name}.toml"))
    }

    /// `DIR/NAME-state`.
    pub fn state_dir(&self, name: &str) -> PathBuf {
        self.dir.path().join(format!("{name}-state"))
    }

    /// `baton ARGS --config DIR/NAME.toml`, not started: its own process group, output piped.
    pub fn command(&self, name: &str, args: &[&str]) -> Command {
        Baton::new(args).config(&self.config_path(name)).command()
    }

    /// Runs `baton once` for instance `name` to the end.
    pub fn once(&self, name: &str) -> Run {
        Baton::new(["once"]).config(&self.config_path(name)).run()
    }

    /// Every Baton move on the remote, oldest first.
    pub fn moves(&self) -> Vec<Move> {
        moves(&self.remote.path, BRANCH)
    }

    /// The end-of-test checks: history linear; for every image and environment the moves
    /// chain from [`FIRST`] (each `From` is the previous `To`) through strictly increasing
    /// versions with no `To` twice, and when `exact`, through exactly the tags pushed; every
    /// committed manifest parses and differs from the seed only in the marked tag; the files
    /// at the head hold the newest tags. Returns the moves.
    pub fn assert_sound(&self, exact: bool) -> Vec<Move> {
        assert_linear(&self.remote, BRANCH);
        let moves = self.moves();
        let head = self.head();
        for env in &self.environments {
            for image in self.images.iter() {
                let repository = self.repository(image);
                let mine: Vec<&Move> = moves
                    .iter()
                    .filter(|m| m.environment == *env && m.image == repository)
                    .collect();
                let mut at = FIRST.to_string();
                for m in &mine {
                    assert_eq!(
                        m.from, at,
                        "{image} in {env}: a move from {} in {} does not follow the previous move to {at} (lost or repeated commit)\n{mine:#?}",
                        m.from, m.commit
                    );
                    let (old, new) = (
                        semver::Version::parse(&at).unwrap(),
                        semver::Version::parse(&m.to).unwrap(),
                    );
                    assert!(
                        new > old,
                        "{image} in {env}: {at} -> {} in {} is not forward\n{mine:#?}",
                        m.to,
                        m.commit
                    );
                    at = m.to.clone();
                }
                if exact {
                    let pushed = self
                        .pushed
                        .lock()
                        .unwrap()
                        .get(image)
                        .cloned()
                        .unwrap_or_default();
                    let tos: Vec<String> = mine.iter().map(|m| m.to.clone()).collect();
                    assert_eq!(
                        tos, pushed,
                        "{image} in {env}: the moves are not the pushes"
                    );
                }
                let newest = self.newest(image);
                assert_eq!(
                    at, newest,
                    "{image} in {env}: the last move is not the newest tag"
                );
                let out = git_command(
                    &self.remote.path,
                    &[
                        "show",
                        &format!("{head}:{}", self.manifest_path(env, image)),
                    ],
                )
                .output()
                .unwrap();
                let text = String::from_utf8_lossy(&out.stdout);
                assert_eq!(self.committed_tag(env, image, &text), newest);
            }
        }
        let seeded = self.seeded.clone();
        assert_committed_files(&self.remote.path, BRANCH, &seeded, |_, path, text| {
            let (env, image) = path
                .strip_prefix("clusters/")
                .and_then(|p| p.strip_suffix(".yaml"))
                .and_then(|p| p.split_once('/'))
                .unwrap_or_else(|| panic!("unexpected file {path} committed"));
            self.committed_tag(env, image, text);
        });
        moves
    }
}

/// Runs `cmd` to the end with its output in files under `dir`, and returns the run and the
/// process's peak resident memory in KiB (`wait4`'s `ru_maxrss`).
pub fn run_measured(mut cmd: Command, dir: &Path) -> (Run, u64) {
    let out_path = dir.join("measured.stdout");
    let err_path = dir.join("measured.stderr");
    cmd.stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap());
    // Reaped by wait4 below, which std's Child cannot do while reporting rusage.
    #[allow(clippy::zombie_processes)]
    let child = cmd.spawn().unwrap();
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value for wait4 to fill in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: wait4 on our own child, with valid pointers to locals.
    let rc = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(rc, pid, "wait4 failed");
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -1
    };
    let run = Run {
        code,
        stdout: std::fs::read_to_string(&out_path).unwrap_or_default(),
        stderr: std::fs::read_to_string(&err_path).unwrap_or_default(),
    };
    (run, usage.ru_maxrss as u64)
}
