//! Baton's configuration: a TOML file plus `BATON_SECTION__KEY` environment overrides,
//! validated in full up front so that every problem is reported at once with its place.

mod listen;
mod reader;
mod source;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::Figment;
use figment::providers::{Env, Format, Toml};

use crate::forge::ForgeConfig;
use crate::git::{RemoteSettings, SigningFormat};
use crate::notifications::NotificationConfig;
use crate::policy::Policy;
use crate::promotion::window::{Freeze, TimeWindow};
use crate::reference::ImageName;
use crate::registry::RegistryConfig;
use crate::webhooks::WebhookConfig;

pub use listen::{default_listen, read_listen};
pub use source::{ConfigError, ConfigErrors, KeyPath, Location, display_path};

/// Where the configuration is read from when neither `--config` nor `BATON_CONFIG` says.
pub const DEFAULT_CONFIG_PATH: &str = "/etc/baton/baton.toml";

/// Where the clone and other state live when `daemon.state_dir` is not set.
pub const DEFAULT_STATE_DIR: &str = "/var/lib/baton";

/// Port of the health, metrics and status listener when `daemon.listen` is not set
/// (on 127.0.0.1).
pub const DEFAULT_LISTEN_PORT: u16 = 9476;

/// Environment variables with this prefix and a `__` section separator override the file.
pub const ENV_PREFIX: &str = "BATON_";

/// The shortest scan interval Baton accepts: registries are shared services.
pub const MIN_INTERVAL: Duration = Duration::from_secs(10);

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
}

/// Output format of the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per event, for log shippers.
    Json,
}

/// The `[daemon]` section.
#[derive(Debug, Clone, PartialEq)]
pub struct DaemonConfig {
    /// Clone and caches; safe to delete.
    pub state_dir: PathBuf,
    /// Address of the health, metrics, status and webhook listener.
    pub listen: SocketAddr,
    /// Log format unless `--log-format` says otherwise.
    pub log_format: LogFormat,
    /// Registry requests in flight at once, across all registries.
    pub concurrency: usize,
}

/// The `[git]` section.
#[derive(Debug, Clone, PartialEq)]
pub struct GitConfig {
    /// The remote: URL, branches and credentials, as the Git layer takes them.
    pub remote: RemoteSettings,
    /// Commit author name.
    pub author_name: String,
    /// Commit author e-mail.
    pub author_email: String,
    /// Key used to sign commits, when set.
    pub signing_key: Option<PathBuf>,
    /// Signature format of `signing_key`.
    pub signing_format: SigningFormat,
    /// Commit message template replacing the default.
    pub commit_template: Option<String>,
    /// How often the remote is fetched and reconciled even when no scan changed.
    pub interval: Duration,
    /// How many times a rejected push is re-applied and retried.
    pub push_retries: u32,
}

/// The `[markers]` section: which files are searched.
#[derive(Debug, Clone, PartialEq)]
pub struct MarkersConfig {
    /// Extra glob patterns searched besides `*.yaml`, `*.yml` and `Kustomization`.
    pub include: Vec<String>,
    /// Files larger than this are skipped and counted.
    pub max_file_size: u64,
}

/// One `[images.NAME]` section.
#[derive(Debug, Clone)]
pub struct ImageConfig {
    /// The image's repository, as parsed.
    pub repository: ImageName,
    /// The repository as written in the config (what full-reference markers write).
    pub repository_text: String,
    /// How often its tags are listed.
    pub interval: Duration,
    /// Tags matching any of these are never candidates.
    pub exclude: Vec<regex::Regex>,
    /// Deadline for one scan of this image.
    pub timeout: Duration,
}

impl PartialEq for ImageConfig {
    fn eq(&self, other: &Self) -> bool {
        self.repository == other.repository
            && self.repository_text == other.repository_text
            && self.interval == other.interval
            && self.timeout == other.timeout
            && crate::policy::same_patterns(&self.exclude, &other.exclude)
    }
}

/// When the digest of the chosen tag is written next to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DigestPinning {
    /// Write tags only.
    Never,
    /// Resolve and write the digest when a new tag is written; keep it while the tag stays.
    IfNotPresent,
    /// Resolve the digest every pass, so a re-pushed tag moves the digest too.
    Always,
}

/// One `[policies.NAME]` section.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyConfig {
    /// The image section this policy chooses tags for.
    pub image: String,
    /// The rule, filter and exclusions, ready to evaluate.
    pub policy: Policy,
    /// Whether digests are written.
    pub pin_digest: DigestPinning,
}

/// How an environment's moves reach the branch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Commit straight to the branch.
    Push,
    /// Push to a branch Baton owns and open a pull request.
    Review,
}

/// One `[environments.NAME]` section.
#[derive(Debug, Clone, PartialEq)]
pub struct EnvironmentConfig {
    /// Directories (relative to the repository root) this environment owns.
    pub paths: Vec<PathBuf>,
    /// How moves are delivered.
    pub mode: Mode,
    /// Review branch name; `{env}` and `{image}` are replaced.
    pub review_branch: String,
    /// Environment whose current versions are this one's candidates.
    pub promote_from: Option<String>,
    /// How long a version must have been in `promote_from` first.
    pub soak: Option<Duration>,
    /// Times when moves are allowed; empty means always.
    pub windows: Vec<TimeWindow>,
    /// Dates when nothing moves.
    pub freeze: Vec<Freeze>,
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
        let document = match toml_edit::Document::parse(text.to_string()) {
            Ok(document) => document,
            Err(err) => {
                let index = source::SpanIndex::unparsed(path, text);
                let location = match err.span() {
                    Some(span) => index.at_offset(span.start),
                    None => Location::Whole(path.to_path_buf()),
                };
                let message = err.message().trim().to_string();
                return Err(fail(vec![ConfigError {
                    location,
                    key: String::new(),
                    message: format!("invalid TOML: {message}"),
                }]));
            }
        };
        let index = source::SpanIndex::new(path, text, &document);
        // Only `BATON_SECTION__KEY` variables are overrides; `BATON_CONFIG` and
        // the like are not configuration keys.
        let env = env.filter(|key| key.as_str().contains("__")).split("__");
        let figment = Figment::new().merge(Toml::string(text)).merge(env);
        let base_dir = path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        reader::build(path, &base_dir, &figment, &index).map_err(fail)
    }

    /// The policies that choose tags for the image named `image`.
    pub fn policies_for_image<'a>(
        &'a self,
        image: &'a str,
    ) -> impl Iterator<Item = (&'a String, &'a PolicyConfig)> + 'a {
        self.policies.iter().filter(move |(_, p)| p.image == image)
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
