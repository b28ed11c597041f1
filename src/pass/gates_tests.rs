//! Unit tests of the promotion gates: each gate on its own, against a real clone of a small
//! remote whose history the test writes (trailers, commit times), so that a regression in a
//! gate shows here before it shows end to end.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use figment::providers::Env;
use jiff::{SignedDuration, Timestamp};

use super::super::{Context, Selection, select};
use super::*;
use crate::config::Config;
use crate::git::RemoteSettings;
use crate::markers::scan_str;
use crate::pass::ImageScan;
use crate::registry::Registries;

/// When the history's commits were made: a fixed instant, so that the soak can be judged
/// to the second.
const T0: i64 = 1_767_225_600; // 2026-01-01T00:00:00Z

fn git(dir: &Path, args: &[&str], date: i64) {
    let out = Command::new("git")
        .current_dir(dir)
        .args(args)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_NAME", "Person")
        .env("GIT_AUTHOR_EMAIL", "person@example.com")
        .env("GIT_COMMITTER_NAME", "Person")
        .env("GIT_COMMITTER_EMAIL", "person@example.com")
        .env("GIT_AUTHOR_DATE", format!("@{date} +0000"))
        .env("GIT_COMMITTER_DATE", format!("@{date} +0000"))
        .output()
        .expect("run git");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn line(repository: &str, tag: &str, marker: &str) -> String {
    format!("image: {repository}:{tag} # {marker}\n")
}

/// A remote, its clone and a configuration: `app` (semver 1.x) and `web` (semver 2.x) in
/// staging; production promotes `app` from staging after a 24h soak.
struct Fixture {
    _dir: tempfile::TempDir,
    work: std::path::PathBuf,
    config: Config,
    registries: Registries,
    workspace: Option<Workspace>,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let remote = dir.path().join("fleet.git");
        let work = dir.path().join("work");
        std::fs::create_dir_all(&remote).unwrap();
        git(&remote, &["init", "--quiet", "--bare", "-b", "main"], T0);
        git(
            dir.path(),
            &["clone", "--quiet", remote.to_str().unwrap(), "work"],
            T0,
        );
        let config_text = format!(
            r#"
[daemon]
state_dir = "{state}"

[git]
url = "{remote}"

[images.app]
repository = "ghcr.io/acme/app"

[images.web]
repository = "ghcr.io/acme/web"

[policies.app]
image = "app"
semver = "1.x"

[policies.web]
image = "web"
semver = "2.x"

[environments.staging]
paths = ["clusters/staging"]
mode = "push"

[environments.production]
paths = ["clusters/production"]
mode = "push"
promote_from = "staging"
soak = "24h"
"#,
            state = dir.path().join("state").display(),
            remote = remote.display(),
        );
        let config = Config::from_text(
            &dir.path().join("baton.toml"),
            &config_text,
            Env::prefixed("BATON_UNIT_TEST_NOTHING_"),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let registries = Registries::from_config(&config.registries).unwrap();
        Fixture {
            _dir: dir,
            work,
            config,
            registries,
            workspace: None,
        }
    }

    /// Commits `path` with `text` at `date` with `message`, and pushes it.
    fn commit(&self, path: &str, text: &str, message: &str, date: i64) {
        let file = self.work.join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(&file, text).unwrap();
        git(&self.work, &["add", "-A"], date);
        git(&self.work, &["commit", "--quiet", "-m", message], date);
        git(
            &self.work,
            &["push", "--quiet", "origin", "HEAD:main"],
            date,
        );
    }

    /// The clone, synced with the remote.
    async fn workspace(&mut self) -> &Workspace {
        if self.workspace.is_none() {
            let settings = RemoteSettings::new(self.config.git.remote.url.clone(), "main");
            let ws = Workspace::open_or_clone(&self.config.daemon.state_dir, &settings)
                .await
                .unwrap();
            self.workspace = Some(ws);
        }
        let ws = self.workspace.as_ref().unwrap();
        ws.sync().await.unwrap();
        ws
    }

    /// Selections as if the registry listed `tags` for every image.
    fn selections(&self, tags: &[&str]) -> BTreeMap<String, Selection> {
        let scans = self
            .config
            .images
            .keys()
            .map(|name| {
                (
                    name.clone(),
                    ImageScan {
                        image: name.clone(),
                        registry: "ghcr.io".into(),
                        tags: Some(tags.iter().map(|t| t.to_string()).collect()),
                        dropped_invalid: 0,
                        requests: 1,
                        error: None,
                        error_kind: None,
                        judged: None,
                    },
                )
            })
            .collect();
        select(&self.config, &scans)
    }
}

fn context<'a>(
    f: &'a Fixture,
    workspace: &'a Workspace,
    selections: &'a BTreeMap<String, Selection>,
    now: Timestamp,
) -> Context<'a> {
    Context {
        forge: None,
        ..Context::new(
            &f.config,
            &f.registries,
            workspace,
            selections,
            None,
            false,
            Some(now),
        )
    }
}

/// One scan over several files given as (path, text).
fn scan_of(files: &[(&str, String)]) -> Scan {
    let mut out = scan_str(Path::new("none"), "");
    for (path, text) in files {
        out.files.extend(scan_str(Path::new(path), text).files);
    }
    out
}

fn staging_scan(app: &str, web: &str, web_hold: bool) -> Scan {
    let web_marker = if web_hold {
        r#"{"$baton": "web", "hold": "INC-9"}"#
    } else {
        r#"{"$baton": "web"}"#
    };
    scan_of(&[
        (
            "clusters/staging/app.yaml",
            line("ghcr.io/acme/app", app, r#"{"$baton": "app"}"#),
        ),
        (
            "clusters/staging/web.yaml",
            line("ghcr.io/acme/web", web, web_marker),
        ),
    ])
}

fn production_scan(app: &str) -> Scan {
    scan_of(&[(
        "clusters/production/app.yaml",
        line("ghcr.io/acme/app", app, r#"{"$baton": "app"}"#),
    )])
}

fn targets_of(targets: &Targets) -> BTreeMap<&str, &str> {
    targets
        .by_policy
        .iter()
        .map(|(p, t)| (p.as_str(), t.tag.as_str()))
        .collect()
}

#[tokio::test]
async fn candidates_follow_each_policy_choice() {
    let mut f = Fixture::new();
    f.commit("README.md", "fleet\n", "Start", T0);
    let selections = f.selections(&["1.0.0", "1.2.0", "2.0.0", "2.1.0", "3.0.0"]);
    let ws = f.workspace().await.clone();
    let cx = context(&f, &ws, &selections, Timestamp::now());
    let env = &f.config.environments["staging"];
    let scan = staging_scan("1.0.0", "2.0.0", false);
    let targets = candidates(&cx, "staging", env, &scan, None, None);
    assert_eq!(
        targets_of(&targets),
        BTreeMap::from([("app", "1.2.0"), ("web", "2.1.0")])
    );
    assert!(targets.waiting.is_empty(), "{:?}", targets.waiting);
}

#[tokio::test]
async fn candidates_leave_held_markers_out() {
    let mut f = Fixture::new();
    f.commit("README.md", "fleet\n", "Start", T0);
    let selections = f.selections(&["1.0.0", "1.2.0", "2.0.0", "2.1.0"]);
    let ws = f.workspace().await.clone();
    let cx = context(&f, &ws, &selections, Timestamp::now());
    let env = &f.config.environments["staging"];
    let scan = staging_scan("1.0.0", "2.0.0", true);
    let targets = candidates(&cx, "staging", env, &scan, None, None);
    assert_eq!(targets_of(&targets), BTreeMap::from([("app", "1.2.0")]));
}

#[tokio::test]
async fn a_manual_promotion_moves_only_the_image_asked_for() {
    let mut f = Fixture::new();
    f.commit("README.md", "fleet\n", "Start", T0);
    let selections = f.selections(&["1.0.0", "1.2.0", "2.0.0", "2.1.0"]);
    let ws = f.workspace().await.clone();
    let cx = context(&f, &ws, &selections, Timestamp::now());
    let env = &f.config.environments["staging"];
    let scan = staging_scan("1.2.0", "2.1.0", false);
    let manual = Manual {
        image: "app".into(),
        version: "1.0.0".into(),
        by: "alice".into(),
    };
    let targets = candidates(&cx, "staging", env, &scan, None, Some(&manual));
    // The version asked for, even though the policy would choose another; web untouched.
    assert_eq!(targets_of(&targets), BTreeMap::from([("app", "1.0.0")]));
}

#[tokio::test]
async fn a_promoting_environment_takes_the_source_version() {
    let mut f = Fixture::new();
    f.commit("README.md", "fleet\n", "Start", T0);
    let selections = f.selections(&["1.0.0", "1.1.0", "1.2.0"]);
    let ws = f.workspace().await.clone();
    let cx = context(&f, &ws, &selections, Timestamp::now());
    let env = &f.config.environments["production"];
    let source = staging_scan("1.1.0", "2.0.0", false);
    let targets = candidates(
        &cx,
        "production",
        env,
        &production_scan("1.0.0"),
        Some(&source),
        None,
    );
    // Staging's version, not the newest the registry lists.
    assert_eq!(targets_of(&targets), BTreeMap::from([("app", "1.1.0")]));
}

/// Staging got `app` 1.1.0 at T0 by a commit with Baton's trailers; production holds 1.0.0.
fn soak_fixture() -> Fixture {
    let f = Fixture::new();
    f.commit(
        "clusters/production/app.yaml",
        &line("ghcr.io/acme/app", "1.0.0", r#"{"$baton": "app"}"#),
        "Add production",
        T0 - 3600,
    );
    f.commit(
        "clusters/staging/app.yaml",
        &line("ghcr.io/acme/app", "1.1.0", r#"{"$baton": "app"}"#),
        "staging: app 1.0.0 -> 1.1.0\n\nBaton-Environment: staging\nBaton-Image: ghcr.io/acme/app\nBaton-From: 1.0.0\nBaton-To: 1.1.0\n",
        T0,
    );
    f
}

async fn soak_verdict(f: &mut Fixture, now: Timestamp) -> Targets {
    let selections = f.selections(&["1.0.0", "1.1.0"]);
    let ws = f.workspace().await.clone();
    let cx = context(f, &ws, &selections, now);
    let env = &f.config.environments["production"];
    let source = scan_of(&[(
        "clusters/staging/app.yaml",
        line("ghcr.io/acme/app", "1.1.0", r#"{"$baton": "app"}"#),
    )]);
    let mut targets = candidates(
        &cx,
        "production",
        env,
        &production_scan("1.0.0"),
        Some(&source),
        None,
    );
    assert_eq!(targets_of(&targets), BTreeMap::from([("app", "1.1.0")]));
    let changed = BTreeSet::from(["app".to_string()]);
    history_gates(
        &cx,
        "production",
        env,
        &changed,
        Some(&source),
        &mut targets,
    )
    .await;
    targets
}

#[tokio::test]
async fn the_soak_waits_until_exactly_its_limit() {
    let mut f = soak_fixture();
    let ready = Timestamp::from_second(T0).unwrap() + SignedDuration::from_hours(24);

    let early = soak_verdict(&mut f, ready - SignedDuration::from_secs(1)).await;
    assert!(early.by_policy.is_empty(), "{:?}", early.by_policy);
    assert_eq!(early.waiting.len(), 1);
    assert_eq!(early.waiting[0].until, Some(ready));
    assert!(
        early.waiting[0].reason.contains("soaking in staging"),
        "{}",
        early.waiting[0].reason
    );

    let on_time = soak_verdict(&mut f, ready).await;
    assert!(on_time.waiting.is_empty(), "{:?}", on_time.waiting);
    let soaked = on_time.by_policy["app"]
        .soaked
        .as_ref()
        .expect("soak evidence");
    assert_eq!(soaked.arrival.time, Timestamp::from_second(T0).unwrap());
    assert_eq!(soaked.source, "staging");
}

#[tokio::test]
async fn a_persons_rollback_holds_back_automation_until_a_newer_version() {
    let mut f = soak_fixture();
    // 1.1.0 reached production, then a person rolled it back with `baton promote`.
    f.commit(
        "clusters/production/app.yaml",
        &line("ghcr.io/acme/app", "1.1.0", r#"{"$baton": "app"}"#),
        "production: app 1.0.0 -> 1.1.0\n\nBaton-Environment: production\nBaton-Image: ghcr.io/acme/app\nBaton-From: 1.0.0\nBaton-To: 1.1.0\n",
        T0 + 30,
    );
    f.commit(
        "clusters/production/app.yaml",
        &line("ghcr.io/acme/app", "1.0.0", r#"{"$baton": "app"}"#),
        "production: app 1.1.0 -> 1.0.0\n\nBaton-Environment: production\nBaton-Image: ghcr.io/acme/app\nBaton-From: 1.1.0\nBaton-To: 1.0.0\nBaton-Promoted-By: alice\n",
        T0 + 60,
    );
    let later = Timestamp::from_second(T0).unwrap() + SignedDuration::from_hours(48);
    let held = soak_verdict(&mut f, later).await;
    assert!(held.by_policy.is_empty(), "{:?}", held.by_policy);
    assert_eq!(held.waiting.len(), 1);
    assert!(
        held.waiting[0].reason.contains("alice"),
        "{}",
        held.waiting[0].reason
    );
}
