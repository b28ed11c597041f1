//! A two-environment world for the promotion tests: a real registry (`docker-registry`), a
//! real bare Git remote with staging and production manifests, an optional fake forge, and
//! Baton's configuration for them. Time is passed to each pass; nothing sleeps.

use std::path::PathBuf;

use baton::config::Config;
use baton::git::{RemoteSettings, Workspace};
use baton::pass::{self, EnvironmentReport, PassOptions, PassReport};
use baton::registry::Registries;
use jiff::{SignedDuration, Timestamp};

use super::fake_forge::{FakeForge, FakeKind};
use super::git_server::{Writer, git};
use super::world::World;

/// The forge token the fake accepts.
pub const FORGE_TOKEN: &str = "fake-forge-token-7f3a";

/// Staging's manifest.
pub const STAGING: &str = "clusters/staging/app.yaml";
/// Production's manifest.
pub const PRODUCTION: &str = "clusters/production/app.yaml";

/// A world whose staging and production both hold `app`, with an optional fake forge.
pub struct PromotionWorld {
    /// The registry, the remote and the directory.
    pub world: World,
    /// A person's clone of the remote.
    pub writer: Writer,
    /// The fake forge, when review mode is used.
    pub forge: Option<FakeForge>,
    /// The configuration file.
    pub config_path: PathBuf,
    workspace: Option<Workspace>,
}

impl std::ops::Deref for PromotionWorld {
    type Target = World;
    fn deref(&self) -> &World {
        &self.world
    }
}

/// `now` moved by `hours` (negative for the past).
pub fn hours_from_now(hours: i64) -> Timestamp {
    Timestamp::now()
        .checked_add(SignedDuration::from_hours(hours))
        .unwrap()
}

/// A manifest line for `app` at `tag`, with an optional hold.
pub fn manifest(host: &str, tag: &str, hold: Option<&str>) -> String {
    match hold {
        Some(reason) => {
            format!("image: {host}/app:{tag} # {{\"$baton\": \"app\", \"hold\": \"{reason}\"}}\n")
        }
        None => format!("image: {host}/app:{tag} # {{\"$baton\": \"app\"}}\n"),
    }
}

impl PromotionWorld {
    /// A world where both environments hold `app:1.0.0` and the registry has that tag.
    /// `production` is the TOML of `[environments.production]` (its keys only);
    /// `forge` starts a fake forge of that kind and configures it.
    pub async fn new(production: &str, forge: Option<FakeKind>) -> PromotionWorld {
        let world = World::start();
        world.registry.push_image("app", "1.0.0").await;
        let writer = world.remote.writer();
        let host = world.host();
        git(&writer.work, &["rm", "--quiet", "-r", "clusters"]);
        git(&writer.work, &["commit", "--quiet", "-m", "Start over"]);
        git(&writer.work, &["push", "--quiet", "origin", "main"]);
        writer.commit_and_push(STAGING, &manifest(&host, "1.0.0", None), "Add staging");
        writer.commit_and_push(
            PRODUCTION,
            &manifest(&host, "1.0.0", None),
            "Add production",
        );
        let forge = match forge {
            Some(kind) => Some(FakeForge::start(kind, "platform/fleet", FORGE_TOKEN).await),
            None => None,
        };
        let token_file = world.dir.path().join("forge-token");
        std::fs::write(&token_file, format!("{FORGE_TOKEN}\n")).unwrap();
        let config_path = world.config_path();
        let promotion = PromotionWorld {
            world,
            writer,
            forge,
            config_path,
            workspace: None,
        };
        promotion.write_config(production);
        promotion
    }

    /// Rewrites the configuration with `production` (TOML keys) as production's keys.
    pub fn write_config(&self, production: &str) {
        self.write_config_with(&[], production);
    }

    /// Rewrites the configuration with `staging` (`key = value` lines) added to staging's keys
    /// and `production` (TOML keys, then any further tables) after production's.
    pub fn write_config_with(&self, staging: &[&str], production: &str) {
        let host = self.host();
        let forge = match &self.forge {
            Some(f) => f.config_section(&self.dir.path().join("forge-token")),
            None => String::new(),
        };
        self.world
            .config(&self.remote.path_url())
            .set("git", "push_retries", "2")
            .image("app", &format!("{host}/app"))
            .text_value("images.app", "interval", "1m")
            .semver_policy("app", "app", "1.x")
            .environment("staging", &["clusters/staging"])
            .lines("environments.staging", &staging.join("\n"))
            .environment("production", &["clusters/production"])
            .raw(&format!("{production}\n{forge}"))
            .write();
    }

    /// The configuration as Baton loads it.
    pub fn config(&self) -> Config {
        Config::load(&self.config_path).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Registry clients for the configuration.
    pub fn registries(&self) -> Registries {
        baton::common::http::install_crypto_provider();
        Registries::from_config(&self.config().registries).unwrap()
    }

    /// The clone in the state directory (opened once).
    pub async fn workspace(&mut self) -> Workspace {
        if self.workspace.is_none() {
            let config = self.config();
            let settings = RemoteSettings::new(
                config.git.remote.url.clone(),
                config.git.remote.branch.clone(),
            );
            self.workspace = Some(
                Workspace::open_or_clone(&config.daemon.state_dir, &settings)
                    .await
                    .unwrap(),
            );
        }
        self.workspace.clone().unwrap()
    }

    /// Runs one pass judged at `now`.
    pub async fn pass_at(&mut self, now: Timestamp) -> PassReport {
        let config = self.config();
        let registries = self.registries();
        let workspace = self.workspace().await;
        let options = PassOptions {
            now: Some(now),
            ..PassOptions::default()
        };
        pass::run(&config, &registries, &workspace, &options)
            .await
            .unwrap()
    }

    /// Pushes a new tag of `app`.
    pub async fn push_tag(&self, tag: &str) {
        self.registry.push_image("app", tag).await;
    }

    /// `path` as the remote's `branch` has it.
    pub fn file(&self, branch: &str, path: &str) -> String {
        git(&self.remote.path, &["show", &format!("{branch}:{path}")])
    }

    /// The full message of `branch`'s head on the remote.
    pub fn head_message(&self, branch: &str) -> String {
        git(&self.remote.path, &["log", "-1", "--format=%B", branch])
    }

    /// Merges `branch` into main on the remote, as a forge's merge button would.
    pub fn merge_in_remote(&self, branch: &str, message: &str) {
        let work = &self.writer.work;
        git(work, &["pull", "--quiet", "--ff-only", "origin", "main"]);
        git(
            work,
            &[
                "fetch",
                "--quiet",
                "origin",
                &format!("+refs/heads/{branch}:refs/remotes/origin/{branch}"),
            ],
        );
        git(
            work,
            &[
                "merge",
                "--quiet",
                "--no-ff",
                "-m",
                message,
                &format!("origin/{branch}"),
            ],
        );
        git(work, &["push", "--quiet", "origin", "main"]);
    }
}

/// The named environment's report.
pub fn env<'a>(report: &'a PassReport, name: &str) -> &'a EnvironmentReport {
    report
        .environments
        .iter()
        .find(|e| e.name == name)
        .unwrap_or_else(|| panic!("no report for {name}: {report:#?}"))
}
