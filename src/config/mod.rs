//! Baton's configuration: a TOML file plus `BATON_SECTION__KEY` environment overrides,
//! validated in full up front so that every problem is reported at once with its place.

mod assemble;
mod daemon;
mod environments;
mod flux;
mod images;
mod listen;
mod policies;
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
    /// The repository Baton edits.
    pub git: GitConfig,
    /// Which files are searched for markers.
    pub markers: MarkersConfig,
    /// Per-registry access settings, keyed by registry host as written in image names.
    pub registries: BTreeMap<String, RegistryConfig>,
    /// Images to watch, keyed by the name policies refer to.
    pub images: BTreeMap<String, ImageConfig>,
    /// Version-selection policies, keyed by the name markers refer to.
    pub policies: BTreeMap<String, PolicyConfig>,
    /// Environments: which paths move, and how.
    pub environments: BTreeMap<String, EnvironmentConfig>,
    /// The forge that review-mode environments open pull requests on, when set.
    pub forge: Option<ForgeConfig>,
    /// Notification sinks, keyed by the `[notifications.NAME]` name.
    pub notifications: BTreeMap<String, NotificationConfig>,
    /// Registry webhooks served at `POST /hooks/NAME`, keyed by NAME.
    pub webhooks: BTreeMap<String, WebhookConfig>,
    /// `[git] rules` and `[rules]`: the repository's rules and the host's fences, when set.
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
        let figment = Figment::new().merge(Toml::string(text)).merge(env);
        let base_dir = path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        let mut config = assemble::build(path, &base_dir, &figment, &index, None).map_err(fail)?;
        if let Some(rules) = &mut config.rules {
            rules.host_text = std::sync::Arc::from(text);
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

    /// The names of the repositories this configuration edits, in order.
    pub fn repository_names(&self) -> Vec<String> {
        vec![DEFAULT_REPOSITORY.to_string()]
    }

    /// This configuration narrowed to the repository `name`: the `git` and environments a
    /// pass over that repository works with; `None` when there is no such repository.
    pub fn for_repository(&self, name: &str) -> Option<std::borrow::Cow<'_, Config>> {
        (name == DEFAULT_REPOSITORY).then_some(std::borrow::Cow::Borrowed(self))
    }

    /// The state directory of the repository `name`'s clone.
    pub fn repository_state_dir(&self, _name: &str) -> PathBuf {
        self.daemon.state_dir.clone()
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
