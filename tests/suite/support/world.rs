//! The shared fixture: a world is a real registry, a real bare Git remote and a directory for
//! Baton's configuration, state and logs; it starts the configuration and runs `baton` on it.
//! The scenarios (fleet, daemon, promotion, reliability) seed a world and add their own checks.

use std::path::PathBuf;

use super::baton::Baton;
use super::config::{ConfigBuilder, quote};
use super::daemon::Daemon;
use super::git_server::{BRANCH, BareRepo};
use super::registry::LocalRegistry;

/// A registry, a remote and a directory.
pub struct World {
    /// The registry the images live in.
    pub registry: LocalRegistry,
    /// The remote Baton pushes to.
    pub remote: BareRepo,
    /// Configuration files, state directories, logs and scratch space.
    pub dir: tempfile::TempDir,
}

impl World {
    /// A registry without auth, a seeded remote and an empty directory.
    pub fn start() -> World {
        Self::with_registry(LocalRegistry::start())
    }

    /// `registry`, a seeded remote and an empty directory.
    pub fn with_registry(registry: LocalRegistry) -> World {
        World {
            registry,
            remote: BareRepo::seeded(),
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// The registry's `HOST:PORT`.
    pub fn host(&self) -> String {
        self.registry.host()
    }

    /// The configuration file: `DIR/baton.toml`.
    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("baton.toml")
    }

    /// The state directory: `DIR/state`.
    pub fn state_dir(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    /// The bare repository inside the state directory.
    pub fn state_repo(&self) -> PathBuf {
        self.state_dir().join("git/repo.git")
    }

    /// The configuration every scenario starts from, for `DIR/baton.toml`: the state
    /// directory, the remote at `url` on the main branch, the registry over plain HTTP.
    pub fn config(&self, url: &str) -> ConfigBuilder {
        self.config_of("baton", &self.config_path(), &self.state_dir(), url)
    }

    /// The same for instance `name` of several: `DIR/NAME.toml` with state in `DIR/NAME-state`,
    /// commits by `baton-NAME`.
    pub fn instance_config(&self, name: &str, url: &str) -> ConfigBuilder {
        let dir = self.dir.path();
        let author = format!("baton-{name}");
        self.config_of(
            &author,
            &dir.join(format!("{name}.toml")),
            &dir.join(format!("{name}-state")),
            url,
        )
    }

    fn config_of(
        &self,
        author: &str,
        path: &std::path::Path,
        state: &std::path::Path,
        url: &str,
    ) -> ConfigBuilder {
        ConfigBuilder::new(path)
            .text_value("daemon", "state_dir", &state.display().to_string())
            .text_value("git", "url", url)
            .text_value("git", "branch", BRANCH)
            .text_value("git", "author_name", author)
            .text_value("git", "author_email", &format!("{author}@example.com"))
            .set(
                &format!("registries.{}", quote(&self.host())),
                "insecure",
                "true",
            )
    }

    /// `baton ARGS --config DIR/baton.toml`.
    pub fn baton(&self, args: &[&str]) -> Baton {
        Baton::new(args).config(&self.config_path())
    }

    /// `baton run` on `DIR/baton.toml` listening on `port`, with debug logs as JSON lines in
    /// `DIR/baton-N.log`.
    pub fn daemon(&self, port: u16, envs: &[(&str, &str)]) -> Daemon {
        let n = std::fs::read_dir(self.dir.path())
            .map(|d| d.count())
            .unwrap_or(0);
        let log = self.dir.path().join(format!("baton-{n}.log"));
        Baton::new(["--log-format", "json", "run"])
            .config(&self.config_path())
            .env("RUST_LOG", "baton=debug")
            .envs(envs)
            .daemon(log, port)
    }
}
