//! Baton's configuration: a TOML file plus `BATON_SECTION__KEY` environment overrides,
//! validated in full up front so that every problem is reported at once with its place.

mod assemble;
mod daemon;
mod environments;
mod flux;
mod groups;
mod images;
mod listen;
mod policies;
mod repositories;
mod rules;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Toml};

use crate::common::settings;
use crate::forge::ForgeConfig;
use crate::git::GitConfig;
use crate::markers::MarkersConfig;
use crate::notifications::NotificationConfig;
use crate::reference::ImageName;
use crate::registry::RegistryConfig;
use crate::webhooks::WebhookConfig;

pub use crate::common::settings::{ConfigError, ConfigErrors, KeyPath, Location, display_path};
pub use daemon::{DaemonConfig, LogFormat};
pub use environments::{EnvironmentConfig, Mode};
pub use flux::image_key as flux_image_key;
pub use images::ImageConfig;
pub use listen::{default_listen, read_listen};
pub use policies::{DigestPinning, PolicyConfig};
pub use repositories::{RepositoryConfig, check_name as check_repository_name};
pub use rules::{RULE_SECTIONS, RulesConfig, RulesFiles, RulesSource, WithRules};

/// Where the configuration is read from when neither `--config` nor `BATON_CONFIG` says.
pub const DEFAULT_CONFIG_PATH: &str = "/etc/baton/baton.toml";

/// Where the clone and other state live when `daemon.state_dir` is not set.
pub const DEFAULT_STATE_DIR: &str = "/var/lib/baton";

/// Port of the health, metrics and status listener when `daemon.listen` is not set
/// (on 127.0.0.1).
pub const DEFAULT_LISTEN_PORT: u16 = 9476;

/// The name the `[git]` section's repository goes by in status, metrics and logs.
pub const DEFAULT_REPOSITORY: &str = "default";

/// Environment variables with this prefix and a `__` section separator override the file.
pub const ENV_PREFIX: &str = "BATON_";

/// A fully validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it was loaded from.
    pub source: PathBuf,
    /// Process-wide settings.
    pub daemon: DaemonConfig,
    /// The repository a pass over this configuration edits: with several repositories, the
    /// one named by `repository` (a pass works on [`Config::for_repository`]'s view).
    pub git: GitConfig,
    /// The name of the repository `git` and `rules` belong to.
    pub repository: String,
    /// Every repository, by name: `[repositories.NAME]`, or `[git]` alone as the one named
    /// [`DEFAULT_REPOSITORY`]. Shared by the views of each one ([`Config::for_repository`]).
    pub repositories: std::sync::Arc<BTreeMap<String, RepositoryConfig>>,
    /// Which files are searched for markers.
    pub markers: MarkersConfig,
    /// Per-registry access settings, keyed by registry host as written in image names.
    pub registries: BTreeMap<String, RegistryConfig>,
    /// Images to watch, keyed by the name policies refer to.
    pub images: std::sync::Arc<BTreeMap<String, ImageConfig>>,
    /// Version-selection policies, keyed by the name markers refer to.
    pub policies: std::sync::Arc<BTreeMap<String, PolicyConfig>>,
    /// Environments: which paths move, and how.
    pub environments: BTreeMap<String, EnvironmentConfig>,
    /// In a view of one repository ([`Config::for_repository`]): the environments of other
    /// repositories that its environments promote from, read (from a clone of their own
    /// repository) and never edited. Empty otherwise.
    pub sources: BTreeMap<String, EnvironmentConfig>,
    /// Images that move together, keyed by the `[groups.NAME]` name.
    pub groups: BTreeMap<String, crate::promotion::group::GroupConfig>,
    /// The forge that review-mode environments open pull requests on, when set.
    pub forge: Option<ForgeConfig>,
    /// Notification sinks, keyed by the `[notifications.NAME]` name.
    pub notifications: BTreeMap<String, NotificationConfig>,
    /// Registry webhooks served at `POST /hooks/NAME`, keyed by NAME.
    pub webhooks: BTreeMap<String, WebhookConfig>,
    /// `rules` of the repository `repository` and `[rules]`: its rules and the host's fences,
    /// when set.
    pub rules: Option<RulesConfig>,
}

impl Config {
    /// Loads and validates `path` with environment overrides from the process environment.
    pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
        let text = std::fs::read_to_string(path).map_err(|err| ConfigErrors {
            path: path.to_path_buf(),
            errors: vec![ConfigError {
                location: Location::Whole(path.to_path_buf()),
                key: String::new(),
                message: if err.kind() == std::io::ErrorKind::NotFound {
                    format!(
                        "cannot read the configuration: {err}: name the file with --config PATH or BATON_CONFIG=PATH, write one with `baton init`, or start from config.example.toml (installed as /usr/share/doc/baton/examples/baton.toml)"
                    )
                } else {
                    format!("cannot read the configuration: {err}")
                },
            }],
        })?;
        Self::from_text(path, &text, Env::prefixed(ENV_PREFIX))
    }

    /// Validates configuration text as if read from `path`, with `env` as the override source.
    pub fn from_text(path: &Path, text: &str, env: Env) -> Result<Config, ConfigErrors> {
        let fail = |errors| ConfigErrors {
            path: path.to_path_buf(),
            errors,
        };
        let index = settings::parse_toml(path, text).map_err(|error| fail(vec![error]))?;
        // Only `BATON_SECTION__KEY` variables are overrides; `BATON_CONFIG` and
        // the like are not configuration keys.
        let env = env.filter(|key| key.as_str().contains("__")).split("__");
        // The figment holds the overrides only (their tags tell them apart); the file's values
        // are read once, into `data`.
        let figment = Figment::new().merge(env);
        let data = settings::merge_over(Toml::string(text), figment::Provider::data(&figment));
        let base_dir = path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        let mut config =
            assemble::build(path, &base_dir, &figment, data, &index, None).map_err(fail)?;
        let host_text: std::sync::Arc<str> = std::sync::Arc::from(text);
        for repository in std::sync::Arc::make_mut(&mut config.repositories).values_mut() {
            if let Some(rules) = &mut repository.rules {
                rules.host_text = host_text.clone();
            }
        }
        if let Some(rules) = &mut config.rules {
            rules.host_text = host_text;
        }
        Ok(config)
    }

    /// The policies that choose tags for the image named `image`.
    pub fn policies_for_image<'a>(
        &'a self,
        image: &'a str,
    ) -> impl Iterator<Item = (&'a String, &'a PolicyConfig)> + 'a {
        self.policies.iter().filter(move |(_, p)| p.image == image)
    }

    /// The environment `name` for reading: one of this configuration's, or a source of
    /// another repository that one of them promotes from.
    pub fn environment_or_source(&self, name: &str) -> Option<&EnvironmentConfig> {
        self.environments
            .get(name)
            .or_else(|| self.sources.get(name))
    }

    /// The group `image` moves with, by name, when it is in one.
    pub fn group_of(
        &self,
        image: &str,
    ) -> Option<(&String, &crate::promotion::group::GroupConfig)> {
        self.groups
            .iter()
            .find(|(_, g)| g.images.iter().any(|i| i == image))
    }

    /// The names of the repositories this configuration edits, in order.
    pub fn repository_names(&self) -> Vec<String> {
        self.repositories.keys().cloned().collect()
    }

    /// True when the configuration names its repositories (`[repositories.NAME]`) rather than
    /// having the one `[git]`.
    pub fn has_named_repositories(&self) -> bool {
        !self.repositories.contains_key(DEFAULT_REPOSITORY) || self.repositories.len() > 1
    }

    /// This configuration narrowed to the repository `name`: its `git` and `rules`, and only
    /// its environments, as a pass over that repository works with it; `None` when there is
    /// no such repository. With one repository, the configuration itself.
    pub fn for_repository(&self, name: &str) -> Option<std::borrow::Cow<'_, Config>> {
        let repository = self.repositories.get(name)?;
        let whole =
            self.repository == name && self.environments.values().all(|e| e.repository == name);
        if whole {
            return Some(std::borrow::Cow::Borrowed(self));
        }
        let mut view = Config {
            git: repository.git.clone(),
            repository: name.to_string(),
            rules: repository.rules.clone(),
            environments: BTreeMap::new(),
            ..self.clone_without_environments()
        };
        view.environments = self
            .environments
            .iter()
            .filter(|(_, e)| e.repository == name)
            .map(|(n, e)| (n.clone(), e.clone()))
            .collect();
        view.sources = view
            .environments
            .values()
            .filter_map(|e| e.promote_from.as_ref())
            .filter(|from| !view.environments.contains_key(*from))
            .filter_map(|from| Some((from.clone(), self.environments.get(from)?.clone())))
            .collect();
        Some(std::borrow::Cow::Owned(view))
    }

    /// A copy with no environments (the view fills in its own).
    fn clone_without_environments(&self) -> Config {
        Config {
            source: self.source.clone(),
            daemon: self.daemon.clone(),
            git: self.git.clone(),
            repository: self.repository.clone(),
            repositories: self.repositories.clone(),
            markers: self.markers.clone(),
            registries: self.registries.clone(),
            images: self.images.clone(),
            policies: self.policies.clone(),
            environments: BTreeMap::new(),
            sources: BTreeMap::new(),
            groups: self.groups.clone(),
            forge: self.forge.clone(),
            notifications: self.notifications.clone(),
            webhooks: self.webhooks.clone(),
            rules: self.rules.clone(),
        }
    }

    /// The state directory of the repository `name`'s clone: the state directory itself for
    /// `[git]`, `repositories/NAME` below it for `[repositories.NAME]`.
    pub fn repository_state_dir(&self, name: &str) -> PathBuf {
        if self.has_named_repositories() {
            self.daemon.state_dir.join("repositories").join(name)
        } else {
            self.daemon.state_dir.clone()
        }
    }

    /// The settings for the registry that serves `image`, if any were given.
    pub fn registry_for(&self, image: &ImageName) -> Option<&RegistryConfig> {
        self.registries
            .get(&image.registry)
            .or_else(|| self.registries.get(image.api_host()))
    }
}

#[cfg(test)]
mod tests;
