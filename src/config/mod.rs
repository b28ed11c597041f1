//! Baton's configuration: a TOML file plus `BATON_SECTION__KEY` environment overrides,
//! validated in full up front so that every problem is reported at once with its place.

mod reader;
mod source;
mod window;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::Figment;
use figment::providers::{Env, Format, Toml};

use crate::policy::Policy;
use crate::reference::ImageName;

pub use source::{ConfigError, ConfigErrors, KeyPath, Location, display_path};
pub use window::{DaySet, Freeze, TimeWindow};

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
#[derive(Debug, Clone)]
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

pub use crate::git::{SigningFormat, TokenSource};

/// The `[git]` section.
#[derive(Debug, Clone)]
pub struct GitConfig {
    /// Remote URL: ssh, https, file:// or a plain path.
    pub url: String,
    /// Branch that is cloned and, in push mode, pushed to.
    pub branch: String,
    /// Branch to push to instead of `branch`, when set.
    pub push_branch: Option<String>,
    /// Private key for ssh remotes.
    pub ssh_key_file: Option<PathBuf>,
    /// known_hosts file for ssh remotes; host keys are checked strictly when set.
    pub known_hosts_file: Option<PathBuf>,
    /// Token for https remotes.
    pub token: Option<TokenSource>,
    /// User name sent with the token over https.
    pub username: String,
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
#[derive(Debug, Clone)]
pub struct MarkersConfig {
    /// Extra glob patterns searched besides `*.yaml`, `*.yml` and `Kustomization`.
    pub include: Vec<String>,
    /// Files larger than this are skipped and counted.
    pub max_file_size: u64,
}

/// One `[registries."HOST"]` section.
#[derive(Debug, Clone, Default)]
pub struct RegistryConfig {
    /// A docker `config.json` with `auths`, `credsStore` or `credHelpers`.
    pub docker_config: Option<PathBuf>,
    /// User name for Basic or token auth; goes with `password_file`.
    pub username: Option<String>,
    /// File holding the password for `username`.
    pub password_file: Option<PathBuf>,
    /// File holding a bearer token.
    pub token_file: Option<PathBuf>,
    /// Speak plain HTTP: only for registries on a trusted network.
    pub insecure: bool,
    /// Extra CA certificate (PEM) to trust for this registry.
    pub ca_file: Option<PathBuf>,
    /// Request budget per minute, shared by every image on this registry.
    pub requests_per_minute: Option<u32>,
    /// Tags asked for per page (`n=`).
    pub page_size: Option<u32>,
    /// Most tags accepted from one repository before the scan fails.
    pub max_tags: Option<u32>,
    /// Largest reply body read from this registry, in bytes.
    pub max_response_bytes: Option<u64>,
    /// Total timeout of one request.
    pub timeout: Option<Duration>,
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
#[derive(Debug, Clone)]
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
#[derive(Debug, Clone)]
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

pub use crate::forge::ForgeKind;

/// The `[forge]` section: where review-mode environments open pull requests.
#[derive(Debug, Clone)]
pub struct ForgeConfig {
    /// Which API the forge speaks.
    pub kind: ForgeKind,
    /// The API's base URL: GitHub's API root (`https://api.github.com`, or
    /// `https://HOST/api/v3` for Enterprise), the GitLab or Gitea/Forgejo instance URL.
    pub base_url: url::Url,
    /// `OWNER/NAME` (GitLab: the project path, groups included).
    pub repository: String,
    /// File holding the API token.
    pub token_file: PathBuf,
    /// Labels put on every pull request Baton opens.
    pub labels: Vec<String>,
    /// User names asked to review every pull request Baton opens.
    pub reviewers: Vec<String>,
    /// Open pull requests as drafts.
    pub draft: bool,
    /// Total deadline of one API request.
    pub timeout: Duration,
}

pub use crate::notify::{EventKind, SinkKind};

/// Where a notification sink's messages go. Secrets stay in files, read when the sinks start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotificationTarget {
    /// A generic JSON webhook; the URL is read from `url_file`.
    Webhook {
        /// File holding the webhook URL.
        url_file: PathBuf,
    },
    /// A Slack incoming webhook; the URL (which embeds a token) is read from `url_file`.
    Slack {
        /// File holding the webhook URL.
        url_file: PathBuf,
    },
    /// A Microsoft Teams incoming webhook or Workflows URL, read from `url_file`.
    Teams {
        /// File holding the webhook URL.
        url_file: PathBuf,
    },
    /// A Matrix room on a homeserver, posted to with an access token.
    Matrix {
        /// The homeserver's base URL, e.g. `https://matrix.example.org`.
        homeserver: url::Url,
        /// The room id, e.g. `!AbCdEf:example.org`.
        room_id: String,
        /// File holding the access token.
        token_file: PathBuf,
    },
}

impl NotificationTarget {
    /// The sink's kind.
    pub fn kind(&self) -> SinkKind {
        match self {
            NotificationTarget::Webhook { .. } => SinkKind::Webhook,
            NotificationTarget::Slack { .. } => SinkKind::Slack,
            NotificationTarget::Teams { .. } => SinkKind::Teams,
            NotificationTarget::Matrix { .. } => SinkKind::Matrix,
        }
    }
}

/// One `[notifications.NAME]` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotificationConfig {
    /// Where messages go.
    pub target: NotificationTarget,
    /// The events this sink hears about, in documented order, without repeats.
    pub events: Vec<EventKind>,
    /// A minijinja template for the message text, checked against every event in `events`.
    pub template: Option<String>,
    /// At most this many messages in any rolling minute; the excess is sent as one summary.
    pub max_per_minute: u32,
    /// A failing image is reported when its scan has failed this many times in a row.
    pub scan_failing_after: u32,
    /// Deadline for one request to the sink.
    pub timeout: Duration,
    /// Retries after a network error, a 5xx or a 429.
    pub retries: u32,
}

/// Which registry's webhook format a hook accepts, and so how it is verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum WebhookKind {
    /// Docker Hub repository webhooks (`push_data`, `repository.repo_name`).
    DockerHub,
    /// GitHub `package` and `registry_package` events for GHCR, signed with HMAC-SHA256.
    GitHub,
    /// Harbor `PUSH_ARTIFACT` events, default or CloudEvents format.
    Harbor,
    /// Quay "Repository Push" notifications.
    Quay,
    /// GitLab's container registry notifications (the distribution envelope).
    GitLab,
    /// The distribution registry's own notifications (`docker-registry`, `registry:2`).
    Distribution,
    /// Baton's own minimal format: `{"repository": "...", "tag": "..."}`.
    Generic,
}

impl WebhookKind {
    /// Every kind, in the order the documentation lists them.
    pub const ALL: [WebhookKind; 7] = [
        WebhookKind::DockerHub,
        WebhookKind::GitHub,
        WebhookKind::Harbor,
        WebhookKind::Quay,
        WebhookKind::GitLab,
        WebhookKind::Distribution,
        WebhookKind::Generic,
    ];

    /// The name written in the configuration (`dockerhub`, `github`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            WebhookKind::DockerHub => "dockerhub",
            WebhookKind::GitHub => "github",
            WebhookKind::Harbor => "harbor",
            WebhookKind::Quay => "quay",
            WebhookKind::GitLab => "gitlab",
            WebhookKind::Distribution => "distribution",
            WebhookKind::Generic => "generic",
        }
    }

    /// The kind named `text`, if any.
    pub fn from_name(text: &str) -> Option<WebhookKind> {
        WebhookKind::ALL.into_iter().find(|k| k.as_str() == text)
    }
}

impl std::fmt::Display for WebhookKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One `[webhooks.NAME]` section: a registry webhook served at `POST /hooks/NAME`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookConfig {
    /// The payload format and verification scheme.
    pub kind: WebhookKind,
    /// File holding the shared secret (HMAC key or token).
    pub secret_file: PathBuf,
    /// `[images]` names this hook may trigger; `None` means every image.
    pub images: Option<Vec<String>>,
    /// Registry host that replaces the one named in payloads (a proxy or alias).
    pub registry: Option<String>,
}

impl Config {
    /// Loads and validates `path` with environment overrides from the process environment.
    pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
        let text = std::fs::read_to_string(path).map_err(|err| ConfigErrors {
            path: path.to_path_buf(),
            errors: vec![ConfigError {
                location: Location::Whole(path.to_path_buf()),
                key: String::new(),
                message: format!("cannot read the configuration: {err}"),
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
