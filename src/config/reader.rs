//! Builds a typed [`Config`] from merged figment values, collecting every problem.
//!
//! Each section reader checks types, required keys, unknown keys and values, then cross-references.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::net::SocketAddr;
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use figment::value::{Dict, Num, Tag, Value};
use figment::{Figment, Profile, Provider};

use super::source::{ConfigError, KeyPath, Location, SpanIndex, display_path};
use super::*;
use crate::common::text::suggest;
use crate::forge::ForgeKind;
use crate::git::TokenSource;
use crate::policy::{Order, Policy, Rule, SemverRange, TagFilter};
use crate::promotion::window::{Freeze, TimeWindow};
use crate::webhooks::WebhookKind;

mod notifications;

/// Keys that would hold a secret inline, and the key that should be used instead.
const INLINE_SECRETS: &[(&str, &str)] = &[
    ("password", "password_file"),
    ("token", "token_file"),
    ("secret", "a *_file key"),
    ("ssh_key", "ssh_key_file"),
    ("private_key", "ssh_key_file"),
];

struct Context<'a> {
    file: &'a Path,
    base_dir: &'a Path,
    figment: &'a Figment,
    index: &'a SpanIndex,
    errors: RefCell<Vec<ConfigError>>,
}

impl Context<'_> {
    fn locate(&self, path: &[String], tag: Option<Tag>) -> Location {
        if let Some(meta) = tag.and_then(|tag| self.figment.get_metadata(tag))
            && meta.name.contains("environment")
        {
            let var = path
                .iter()
                .map(|p| p.to_ascii_uppercase())
                .collect::<Vec<_>>()
                .join("__");
            return Location::Env(format!("{ENV_PREFIX}{var}"));
        }
        self.index.locate(path)
    }

    fn error(&self, path: &[String], tag: Option<Tag>, message: impl Into<String>) {
        self.errors.borrow_mut().push(ConfigError {
            location: self.locate(path, tag),
            key: display_path(path),
            message: message.into(),
        });
    }

    /// Resolves a configured path against the configuration file's directory.
    fn resolve(&self, path: &str) -> PathBuf {
        let path = Path::new(path);
        if path.is_absolute() {
            path.to_path_buf()
        } else {
            self.base_dir.join(path)
        }
    }
}

/// A table being read: remembers which keys were asked for, to report the rest.
struct Table<'a> {
    cx: &'a Context<'a>,
    path: KeyPath,
    dict: Option<&'a Dict>,
    known: RefCell<Vec<&'static str>>,
}

impl<'a> Table<'a> {
    fn child_path(&self, key: &str) -> KeyPath {
        let mut path = self.path.clone();
        path.push(key.to_string());
        path
    }

    fn raw(&self, key: &'static str) -> Option<&'a Value> {
        self.known.borrow_mut().push(key);
        self.dict.and_then(|dict| dict.get(key))
    }

    fn type_error(&self, key: &str, value: &Value, expected: &str) {
        self.cx.error(
            &self.child_path(key),
            Some(value.tag()),
            format!("expected {expected}, found {}", describe(value)),
        );
    }

    fn missing(&self, key: &str, hint: &str) {
        let mut path = self.path.clone();
        path.push(key.to_string());
        let location = self.cx.index.locate(&self.path);
        self.cx.errors.borrow_mut().push(ConfigError {
            location,
            key: display_path(&path),
            message: format!("required key is missing: {hint}"),
        });
    }

    fn string(&self, key: &'static str) -> Option<String> {
        let value = self.raw(key)?;
        match value {
            Value::String(_, s) => Some(s.clone()),
            // Environment values are parsed as TOML scalars: take them back as text.
            Value::Num(tag, n) if self.is_env_sourced(*tag) => Some(num_text(n)),
            Value::Bool(tag, b) if self.is_env_sourced(*tag) => Some(b.to_string()),
            _ => {
                self.type_error(key, value, "a string");
                None
            }
        }
    }

    fn is_env_sourced(&self, tag: Tag) -> bool {
        self.cx
            .figment
            .get_metadata(tag)
            .is_some_and(|meta| meta.name.contains("environment"))
    }

    fn required_string(&self, key: &'static str, hint: &str) -> Option<String> {
        let present = self.dict.is_some_and(|d| d.contains_key(key));
        if !present {
            self.known.borrow_mut().push(key);
            self.missing(key, hint);
            return None;
        }
        let value = self.string(key)?;
        if value.trim().is_empty() {
            self.error(key, format!("must not be empty: {hint}"));
            return None;
        }
        Some(value)
    }

    fn bool(&self, key: &'static str) -> Option<bool> {
        let value = self.raw(key)?;
        match value {
            Value::Bool(_, b) => Some(*b),
            _ => {
                self.type_error(key, value, "true or false");
                None
            }
        }
    }

    fn integer(&self, key: &'static str, min: u64, max: u64) -> Option<u64> {
        let value = self.raw(key)?;
        let n = match value {
            Value::Num(_, n) => n
                .to_i128()
                .and_then(|n| u64::try_from(n).ok())
                .or_else(|| n.to_u128().and_then(|n| u64::try_from(n).ok())),
            _ => None,
        };
        match n {
            Some(n) if (min..=max).contains(&n) => Some(n),
            Some(n) => {
                self.error(key, format!("{n} is out of range: use {min} to {max}"));
                None
            }
            None if matches!(value, Value::Num(..)) => {
                self.error(
                    key,
                    format!(
                        "{} is not a whole number from {min} to {max}",
                        describe(value)
                    ),
                );
                None
            }
            None => {
                self.type_error(key, value, "an integer");
                None
            }
        }
    }

    fn duration(&self, key: &'static str, min: Option<Duration>) -> Option<Duration> {
        // A bare number has no unit: say how to write it rather than "expected a string".
        if let Some(value @ Value::Num(tag, n)) = self.dict.and_then(|d| d.get(key))
            && !self.is_env_sourced(*tag)
        {
            self.known.borrow_mut().push(key);
            let n = num_text(n);
            self.cx.error(
                &self.child_path(key),
                Some(value.tag()),
                format!(
                    "{n} has no unit: write a duration in quotes, e.g. \"{n}s\", \"5m\", \"24h\""
                ),
            );
            return None;
        }
        let text = self.string(key)?;
        match humantime::parse_duration(text.trim()) {
            Ok(d) => {
                if let Some(min) = min
                    && d < min
                {
                    self.error(
                        key,
                        format!(
                            "{text:?} is under the minimum of {}: use {} or more",
                            humantime::format_duration(min),
                            humantime::format_duration(min)
                        ),
                    );
                    return None;
                }
                Some(d)
            }
            Err(err) => {
                self.error(
                    key,
                    format!(
                        "{text:?} is not a duration ({err}): write e.g. \"30s\", \"5m\", \"24h\""
                    ),
                );
                None
            }
        }
    }

    fn file_path(&self, key: &'static str) -> Option<PathBuf> {
        let text = self.string(key)?;
        if text.trim().is_empty() {
            self.error(key, "must not be empty: give a file path");
            return None;
        }
        // systemd's LoadCredential= puts secrets in $CREDENTIALS_DIRECTORY, which is only
        // known at run time.
        for prefix in [
            "$CREDENTIALS_DIRECTORY/",
            "${CREDENTIALS_DIRECTORY}/",
            "%d/",
        ] {
            if let Some(name) = text.strip_prefix(prefix) {
                return match std::env::var_os("CREDENTIALS_DIRECTORY") {
                    Some(dir) if !dir.is_empty() => Some(Path::new(&dir).join(name)),
                    _ => {
                        self.error(
                            key,
                            format!(
                                "{text:?} names a systemd credential but CREDENTIALS_DIRECTORY is not set: run under systemd with LoadCredential=, or give a full path"
                            ),
                        );
                        None
                    }
                };
            }
        }
        Some(self.cx.resolve(&text))
    }

    fn string_list(&self, key: &'static str) -> Option<Vec<(String, KeyPath)>> {
        let value = self.raw(key)?;
        let Value::Array(_, items) = value else {
            self.type_error(key, value, "an array of strings");
            return None;
        };
        let mut out = Vec::new();
        let mut ok = true;
        for (i, item) in items.iter().enumerate() {
            let mut path = self.child_path(key);
            path.push(i.to_string());
            match item {
                Value::String(_, s) => out.push((s.clone(), path)),
                other => {
                    ok = false;
                    self.cx.error(
                        &path,
                        Some(other.tag()),
                        format!("expected a string, found {}", describe(other)),
                    );
                }
            }
        }
        ok.then_some(out)
    }

    fn table(&self, key: &'static str) -> Option<Table<'a>> {
        let value = self.raw(key)?;
        match value {
            Value::Dict(_, dict) => Some(Table {
                cx: self.cx,
                path: self.child_path(key),
                dict: Some(dict),
                known: RefCell::new(Vec::new()),
            }),
            other => {
                self.type_error(key, other, "a table");
                None
            }
        }
    }

    /// A table of named tables (`[images.NAME]`), in name order.
    fn named_tables(&self, key: &'static str) -> Vec<(String, Table<'a>)> {
        let Some(outer) = self.table(key) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        if let Some(dict) = outer.dict {
            for (name, value) in dict {
                let mut path = outer.path.clone();
                path.push(name.clone());
                match value {
                    Value::Dict(_, inner) => out.push((
                        name.clone(),
                        Table {
                            cx: self.cx,
                            path,
                            dict: Some(inner),
                            known: RefCell::new(Vec::new()),
                        },
                    )),
                    other => self.cx.error(
                        &path,
                        Some(other.tag()),
                        format!(
                            "expected a table [{}], found {}",
                            display_path(&outer.path_with(name)),
                            describe(other)
                        ),
                    ),
                }
            }
        }
        out
    }

    fn path_with(&self, name: &str) -> KeyPath {
        self.child_path(name)
    }

    fn error(&self, key: &str, message: impl Into<String>) {
        let tag = self.dict.and_then(|d| d.get(key)).map(Value::tag);
        self.cx.error(&self.child_path(key), tag, message);
    }

    /// Reports every key that no reader asked for, with a suggestion when one is close.
    fn finish(self) {
        let Some(dict) = self.dict else { return };
        let known = self.known.into_inner();
        for (key, value) in dict {
            if known.contains(&key.as_str()) {
                continue;
            }
            let path = {
                let mut p = self.path.clone();
                p.push(key.clone());
                p
            };
            if let Some((_, instead)) = INLINE_SECRETS.iter().find(|(k, _)| k == key) {
                // Where this table has a `KEY_file` key, name it rather than the generic hint.
                let file_key = format!("{key}_file");
                let instead = if known.contains(&file_key.as_str()) {
                    file_key.as_str()
                } else {
                    instead
                };
                self.cx.error(
                    &path,
                    Some(value.tag()),
                    format!(
                        "a secret must not be written inline: put it in a file readable only by baton and set {instead}"
                    ),
                );
                continue;
            }
            let message = match suggest(key, &known) {
                Some(close) => format!("unknown key {key:?}: did you mean {close:?}?"),
                None => format!(
                    "unknown key {key:?}: known keys here are {}",
                    known.join(", ")
                ),
            };
            self.cx.error(&path, Some(value.tag()), message);
        }
    }
}

fn describe(value: &Value) -> String {
    match value {
        Value::String(_, s) => format!("the string {s:?}"),
        Value::Char(_, c) => format!("the character {c:?}"),
        Value::Bool(_, b) => format!("the boolean {b}"),
        Value::Num(_, n) => format!("the number {}", num_text(n)),
        Value::Empty(..) => "an empty value".to_string(),
        Value::Dict(..) => "a table".to_string(),
        Value::Array(..) => "an array".to_string(),
    }
}

fn num_text(n: &Num) -> String {
    match n {
        Num::F32(f) => f.to_string(),
        Num::F64(f) => f.to_string(),
        other => other
            .to_i128()
            .map(|i| i.to_string())
            .or_else(|| other.to_u128().map(|u| u.to_string()))
            .unwrap_or_default(),
    }
}

/// Reads the whole configuration; returns every problem found.
pub(super) fn build(
    file: &Path,
    base_dir: &Path,
    figment: &Figment,
    index: &SpanIndex,
) -> Result<Config, Vec<ConfigError>> {
    let data = match figment.data() {
        Ok(data) => data,
        Err(err) => {
            return Err(vec![ConfigError {
                location: Location::Whole(file.to_path_buf()),
                key: String::new(),
                message: format!("cannot merge configuration sources: {err}"),
            }]);
        }
    };
    let root = data.get(&Profile::Default);
    let cx = Context {
        file,
        base_dir,
        figment,
        index,
        errors: RefCell::new(Vec::new()),
    };
    let top = Table {
        cx: &cx,
        path: Vec::new(),
        dict: root,
        known: RefCell::new(Vec::new()),
    };

    let daemon = read_daemon(&top);
    let git = read_git(&top);
    let markers = read_markers(&top);
    let registries = top
        .named_tables("registries")
        .into_iter()
        .map(|(host, table)| (host, read_registry(table)))
        .collect::<BTreeMap<_, _>>();
    let images = top
        .named_tables("images")
        .into_iter()
        .filter_map(|(name, table)| read_image(table).map(|image| (name, image)))
        .collect::<BTreeMap<_, _>>();
    let image_names = top
        .dict
        .and_then(|d| d.get("images"))
        .and_then(Value::as_dict)
        .map(|d| d.keys().cloned().collect::<BTreeSet<_>>())
        .unwrap_or_default();
    let policies = top
        .named_tables("policies")
        .into_iter()
        .filter_map(|(name, table)| {
            read_policy(&name, table, &images, &image_names).map(|p| (name, p))
        })
        .collect::<BTreeMap<_, _>>();
    let environments = read_environments(&top);
    let forge = read_forge(&top);
    let notifications = top
        .named_tables("notifications")
        .into_iter()
        .filter_map(|(name, table)| notifications::read(table).map(|n| (name, n)))
        .collect::<BTreeMap<_, _>>();
    let webhooks = top
        .named_tables("webhooks")
        .into_iter()
        .filter_map(|(name, table)| read_webhook(&name, table, &image_names).map(|w| (name, w)))
        .collect::<BTreeMap<_, _>>();
    if root.is_none_or(|d| !d.contains_key("git")) {
        top.missing("git", "add a [git] section with at least url = \"...\"");
    }
    top.finish();

    if cx.errors.borrow().is_empty()
        && let (Some(daemon), Some(git), Some(markers)) = (daemon, git, markers)
    {
        return Ok(Config {
            source: cx.file.to_path_buf(),
            daemon,
            git,
            markers,
            registries,
            images,
            policies,
            environments,
            forge: forge.flatten(),
            notifications,
            webhooks,
        });
    }
    let mut errors = cx.errors.into_inner();
    errors.sort_by_key(|e| match &e.location {
        Location::File { line, column, .. } => (0, *line, *column),
        Location::Env(_) => (1, 0, 0),
        Location::Whole(_) => (2, 0, 0),
    });
    if errors.is_empty() {
        errors.push(ConfigError {
            location: Location::Whole(file.to_path_buf()),
            key: String::new(),
            message: "the configuration is incomplete".to_string(),
        });
    }
    Err(errors)
}

fn empty_table<'a>(top: &Table<'a>, key: &str) -> Table<'a> {
    Table {
        cx: top.cx,
        path: vec![key.to_string()],
        dict: None,
        known: RefCell::new(Vec::new()),
    }
}

fn section<'a>(top: &Table<'a>, key: &'static str) -> Table<'a> {
    top.table(key).unwrap_or_else(|| empty_table(top, key))
}

/// `[forge]`: `Some(None)` when absent, `None` when present but invalid.
fn read_forge(top: &Table) -> Option<Option<ForgeConfig>> {
    let Some(t) = top.table("forge") else {
        return Some(None);
    };
    let kind = t
        .required_string(
            "kind",
            "set kind = \"github\", \"gitlab\", \"gitea\" or \"forgejo\"",
        )
        .and_then(|text| match text.parse::<ForgeKind>() {
            Ok(kind) => Some(kind),
            Err(why) => {
                t.error("kind", why.to_string());
                None
            }
        });
    let base_text = t.string("base_url");
    let base_url = match (&kind, base_text) {
        (_, Some(text)) => match check_forge_url(&text) {
            Ok(url) => Some(url),
            Err(why) => {
                t.error("base_url", why);
                None
            }
        },
        (Some(kind), None) => match kind.default_base_url() {
            Some(url) => url::Url::parse(url).ok(),
            None => {
                t.missing(
                    "base_url",
                    "a Gitea or Forgejo forge needs its address, e.g. base_url = \"https://gitea.example.com\"",
                );
                None
            }
        },
        (None, None) => None,
    };
    let repository = t.required_string(
        "repository",
        "name the repository on the forge, e.g. repository = \"platform/fleet\"",
    );
    if let Some(repo) = &repository {
        let parts: Vec<&str> = repo.split('/').collect();
        if parts.len() < 2
            || parts
                .iter()
                .any(|p| p.trim().is_empty() || p.contains(char::is_whitespace))
        {
            t.error(
                "repository",
                format!(
                    "{repo:?} is not OWNER/NAME: write it as on the forge, e.g. \"platform/fleet\""
                ),
            );
        } else if kind.is_some_and(|k| k != ForgeKind::GitLab) && parts.len() != 2 {
            t.error(
                "repository",
                format!(
                    "{repo:?} has more than one '/': only GitLab nests groups; write OWNER/NAME"
                ),
            );
        }
    }
    let token_file = if t.dict.is_some_and(|d| d.contains_key("token_file")) {
        t.file_path("token_file")
    } else {
        t.known.borrow_mut().push("token_file");
        t.missing(
            "token_file",
            "put the forge API token in a file readable only by baton and set token_file",
        );
        None
    };
    let list = |key: &'static str| -> Vec<String> {
        t.string_list(key)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|(value, path)| {
                if value.trim().is_empty() || value.contains(',') {
                    t.cx.error(
                        &path,
                        None,
                        format!("{value:?} is not a name: give one name per entry, without commas"),
                    );
                    None
                } else {
                    Some(value.trim().to_string())
                }
            })
            .collect()
    };
    let labels = list("labels");
    let reviewers = list("reviewers");
    let draft = t.bool("draft").unwrap_or(false);
    let timeout = t
        .duration("timeout", Some(Duration::from_secs(1)))
        .unwrap_or(Duration::from_secs(30));
    t.finish();
    Some(Some(ForgeConfig {
        kind: kind?,
        base_url: base_url?,
        repository: repository?.trim().to_string(),
        token_file: token_file?,
        labels,
        reviewers,
        draft,
        timeout,
    }))
}

/// A forge base URL: http(s), no credentials, plain HTTP only on a loopback address.
fn check_forge_url(text: &str) -> Result<url::Url, String> {
    let url = url::Url::parse(text.trim()).map_err(|e| {
        format!("{text:?} is not a URL ({e}): write e.g. \"https://gitea.example.com\"")
    })?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err("the URL carries credentials: remove them and set token_file".to_string());
    }
    let loopback = match url.host() {
        Some(url::Host::Domain(d)) => d == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    match url.scheme() {
        "https" => Ok(url),
        "http" if loopback => Ok(url),
        "http" => Err(format!(
            "{text:?} uses plain http: the token would cross the network in clear text; use https"
        )),
        other => Err(format!("{text:?} has scheme {other:?}: use https")),
    }
}

fn read_daemon(top: &Table) -> Option<DaemonConfig> {
    let t = section(top, "daemon");
    let state_dir = t
        .file_path("state_dir")
        .unwrap_or_else(|| PathBuf::from(super::DEFAULT_STATE_DIR));
    let listen = match t.string("listen") {
        Some(text) => match text.parse::<SocketAddr>() {
            Ok(addr) => Some(addr),
            Err(_) => {
                t.error(
                    "listen",
                    format!("{text:?} is not an address: write IP:PORT, e.g. \"127.0.0.1:9476\""),
                );
                None
            }
        },
        None => Some(SocketAddr::from((
            [127, 0, 0, 1],
            super::DEFAULT_LISTEN_PORT,
        ))),
    };
    let log_format = match t.string("log_format").as_deref() {
        None | Some("text") => Some(LogFormat::Text),
        Some("json") => Some(LogFormat::Json),
        Some(other) => {
            t.error(
                "log_format",
                format!("{other:?} is not a log format: use \"text\" or \"json\""),
            );
            None
        }
    };
    let concurrency = t.integer("concurrency", 1, 256).unwrap_or(4) as usize;
    t.finish();
    Some(DaemonConfig {
        state_dir,
        listen: listen?,
        log_format: log_format?,
        concurrency,
    })
}

fn read_git(top: &Table) -> Option<GitConfig> {
    let t = section(top, "git");
    let present = t.dict.is_some();
    let url = if present {
        t.required_string(
            "url",
            "set the remote, e.g. url = \"ssh://git@git.example.com/fleet.git\"",
        )
    } else {
        None
    };
    if let Some(url) = &url
        && url_has_password(url)
    {
        t.error(
            "url",
            "the URL carries a password or token: remove it and set token_file (or token_env) instead",
        );
    }
    let branch = t.string("branch").unwrap_or_else(|| "main".to_string());
    check_branch_name(&t, "branch", &branch);
    let push_branch = t.string("push_branch");
    if let Some(name) = &push_branch {
        check_branch_name(&t, "push_branch", name);
    }
    let ssh_key_file = t.file_path("ssh_key_file");
    let known_hosts_file = t.file_path("known_hosts_file");
    let token_file = t.file_path("token_file");
    let token_env = t.string("token_env");
    let token = match (token_file, token_env) {
        (Some(_), Some(_)) => {
            t.error(
                "token_env",
                "token_file and token_env are both set: keep one",
            );
            None
        }
        (Some(file), None) => Some(TokenSource::File(file)),
        (None, Some(var)) => {
            if var.is_empty() || !var.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                t.error(
                    "token_env",
                    format!("{var:?} is not an environment variable name"),
                );
            }
            Some(TokenSource::Env(var))
        }
        (None, None) => None,
    };
    if let Some(url) = &url
        && token.is_some()
        && crate::git::command::plain_http_off_loopback(url)
    {
        t.error(
            "url",
            "the remote is plain http and a token is set: the token would cross the network in clear text; use an https remote",
        );
    }
    let username = t
        .string("username")
        .unwrap_or_else(|| crate::git::command::DEFAULT_USERNAME.to_string());
    let author_name = t
        .string("author_name")
        .unwrap_or_else(|| "baton".to_string());
    let author_email = t
        .string("author_email")
        .unwrap_or_else(|| "baton@localhost".to_string());
    if !author_email.contains('@') {
        t.error(
            "author_email",
            format!("{author_email:?} is not an e-mail address"),
        );
    }
    let signing_format = match t.string("signing_format").as_deref() {
        None | Some("ssh") => SigningFormat::Ssh,
        Some("gpg") | Some("openpgp") => SigningFormat::Gpg,
        Some(other) => {
            t.error(
                "signing_format",
                format!("{other:?} is not a signing format: use \"ssh\" or \"gpg\""),
            );
            SigningFormat::Ssh
        }
    };
    // An SSH key is a file; a GnuPG key is an id, fingerprint or user id in the keyring
    // ($GNUPGHOME), never a path.
    let signing_key = match signing_format {
        SigningFormat::Ssh => t.file_path("signing_key"),
        SigningFormat::Gpg => t.string("signing_key").and_then(|id| {
            let id = id.trim().to_string();
            if id.is_empty() || id.starts_with('-') || id.contains(['\n', '\0']) {
                t.error(
                    "signing_key",
                    format!(
                        "{id:?} is not a GnuPG key: give a key id, fingerprint or e-mail address from `gpg --list-secret-keys`"
                    ),
                );
                return None;
            }
            Some(PathBuf::from(id))
        }),
    };
    let commit_template = t.string("commit_template");
    if let Some(text) = &commit_template
        && let Err(err) = crate::git::MessageTemplate::new(text.clone())
    {
        t.error("commit_template", err.to_string());
    }
    let interval = t
        .duration("interval", Some(MIN_INTERVAL))
        .unwrap_or(Duration::from_secs(60));
    let push_retries = t.integer("push_retries", 0, 100).unwrap_or(5) as u32;
    t.finish();
    let mut remote = RemoteSettings::new(url?, branch);
    remote.push_branch = push_branch;
    remote.ssh_key_file = ssh_key_file;
    remote.known_hosts_file = known_hosts_file;
    remote.token = token;
    remote.username = username;
    Some(GitConfig {
        remote,
        author_name,
        author_email,
        signing_key,
        signing_format,
        commit_template,
        interval,
        push_retries,
    })
}

/// True when an URL has `user:password@` in its authority.
fn url_has_password(url: &str) -> bool {
    let Some((_, rest)) = url.split_once("://") else {
        return false;
    };
    let authority = rest.split('/').next().unwrap_or("");
    authority
        .rsplit_once('@')
        .is_some_and(|(userinfo, _)| userinfo.contains(':'))
}

fn check_branch_name(t: &Table, key: &str, name: &str) {
    let bad = name.is_empty()
        || name.starts_with('-')
        || name.starts_with('/')
        || name.ends_with('/')
        || name.ends_with(".lock")
        || name.contains("..")
        || name.contains("//")
        || name.contains("@{")
        || name
            .chars()
            .any(|c| c.is_control() || " ~^:?*[\\".contains(c));
    if bad {
        t.error(key, format!("{name:?} is not a valid branch name"));
    }
}

fn read_markers(top: &Table) -> Option<MarkersConfig> {
    let t = section(top, "markers");
    let include = t
        .string_list("include")
        .map(|items| items.into_iter().map(|(s, _)| s).collect())
        .unwrap_or_default();
    let max_file_size = t.integer("max_file_size", 1024, 1 << 30).unwrap_or(1 << 20);
    t.finish();
    Some(MarkersConfig {
        include,
        max_file_size,
    })
}

fn read_registry(t: Table) -> RegistryConfig {
    let config = RegistryConfig {
        docker_config: t.file_path("docker_config"),
        username: t.string("username"),
        password_file: t.file_path("password_file"),
        token_file: t.file_path("token_file"),
        insecure: t.bool("insecure").unwrap_or(false),
        ca_file: t.file_path("ca_file"),
        requests_per_minute: t
            .integer("requests_per_minute", 1, 100_000)
            .map(|n| n as u32),
        page_size: t.integer("page_size", 1, 10_000).map(|n| n as u32),
        max_tags: t.integer("max_tags", 1, 10_000_000).map(|n| n as u32),
        max_response_bytes: t.integer("max_response_bytes", 64 * 1024, 1 << 30),
        timeout: t.duration("timeout", Some(Duration::from_secs(1))),
    };
    match (&config.username, &config.password_file) {
        (Some(_), None) => t.error(
            "username",
            "username needs password_file: put the password in a file and set password_file",
        ),
        (None, Some(_)) => t.error("password_file", "password_file needs username"),
        _ => {}
    }
    if config.token_file.is_some() && config.password_file.is_some() {
        t.error(
            "token_file",
            "token_file and password_file are both set: keep one",
        );
    }
    t.finish();
    config
}

fn read_image(t: Table) -> Option<ImageConfig> {
    let repository_text = t.required_string(
        "repository",
        "name the image, e.g. repository = \"ghcr.io/example/app\"",
    );
    let repository = repository_text
        .as_deref()
        .and_then(|text| match ImageName::parse(text) {
            Ok(name) => Some(name),
            Err(err) => {
                t.error("repository", err.to_string());
                None
            }
        });
    let interval = t
        .duration("interval", Some(MIN_INTERVAL))
        .unwrap_or(Duration::from_secs(300));
    let exclude = match t.string_list("exclude") {
        Some(items) => compile_regexes(&t, items),
        None => crate::policy::default_exclude(),
    };
    let timeout = t
        .duration("timeout", Some(Duration::from_secs(1)))
        .unwrap_or(Duration::from_secs(60));
    t.finish();
    Some(ImageConfig {
        repository: repository?,
        repository_text: repository_text?.trim().to_string(),
        interval,
        exclude,
        timeout,
    })
}

fn compile_regexes(t: &Table, items: Vec<(String, KeyPath)>) -> Vec<regex::Regex> {
    items
        .into_iter()
        .filter_map(
            |(pattern, path)| match crate::policy::GoRegex::new(&pattern) {
                Ok(re) => Some(re.regex().clone()),
                Err(err) => {
                    let tag = None;
                    t.cx.error(
                        &path,
                        tag,
                        format!(
                            "{pattern:?} is not a valid regular expression: {}",
                            first_line(&err.to_string())
                        ),
                    );
                    None
                }
            },
        )
        .collect()
}

fn first_line(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

fn read_policy(
    name: &str,
    t: Table,
    images: &BTreeMap<String, ImageConfig>,
    image_names: &BTreeSet<String>,
) -> Option<PolicyConfig> {
    let image = t.required_string(
        "image",
        "name the [images.NAME] section this policy chooses tags for",
    );
    if let Some(image) = &image
        && !image_names.contains(image)
    {
        let known: Vec<&str> = image_names.iter().map(String::as_str).collect();
        let hint = match suggest(image, &known) {
            Some(close) => format!("did you mean {close:?}?"),
            None if known.is_empty() => "add an [images.NAME] section".to_string(),
            None => format!("known images are {}", known.join(", ")),
        };
        t.error(
            "image",
            format!("policy names unknown image {image:?}: {hint}"),
        );
    }
    let semver = t.string("semver");
    let alphabetical = t.string("alphabetical");
    let numerical = t.string("numerical");
    let given: Vec<&str> = [
        ("semver", semver.is_some()),
        ("alphabetical", alphabetical.is_some()),
        ("numerical", numerical.is_some()),
    ]
    .iter()
    .filter(|(_, set)| *set)
    .map(|(k, _)| *k)
    .collect();
    let rule = match given.len() {
        0 => {
            let present = t.dict.is_some_and(|d| {
                ["semver", "alphabetical", "numerical"]
                    .iter()
                    .any(|k| d.contains_key(*k))
            });
            if !present {
                t.missing(
                    "semver",
                    "set exactly one of semver = \"RANGE\", alphabetical = \"asc|desc\" or numerical = \"asc|desc\"",
                );
            }
            None
        }
        1 => {
            if let Some(range) = &semver {
                match SemverRange::parse(range) {
                    Ok(range) => Some(Rule::Semver(range)),
                    Err(err) => {
                        t.error("semver", err.to_string());
                        None
                    }
                }
            } else {
                let (key, text) = match (&alphabetical, &numerical) {
                    (Some(a), _) => ("alphabetical", a),
                    (None, Some(n)) => ("numerical", n),
                    (None, None) => ("numerical", &String::new()),
                };
                match text.parse::<Order>() {
                    Ok(order) if key == "alphabetical" => Some(Rule::Alphabetical(order)),
                    Ok(order) => Some(Rule::Numerical(order)),
                    Err(_) => {
                        t.error(
                            key,
                            format!("{text:?} is not an order: use \"asc\" or \"desc\""),
                        );
                        None
                    }
                }
            }
        }
        _ => {
            t.error(
                given[1],
                format!(
                    "a policy takes exactly one of semver, alphabetical, numerical; this one sets {}",
                    given.join(" and ")
                ),
            );
            None
        }
    };
    let filter = match t.table("filter") {
        Some(f) => {
            // An empty pattern is valid and matches every tag, as in Flux.
            let pattern = if f.dict.is_some_and(|d| d.contains_key("pattern")) {
                f.string("pattern")
            } else {
                f.required_string(
                    "pattern",
                    "give the regular expression tags must match, e.g. pattern = '^main-(?P<ts>[0-9]+)'",
                )
            };
            let extract = f.string("extract");
            let built = pattern.as_deref().and_then(|pattern| {
                match TagFilter::new(pattern, extract.as_deref()) {
                    Ok(filter) => Some(filter),
                    Err(err) => {
                        f.error("pattern", first_line(&err.to_string()));
                        None
                    }
                }
            });
            f.finish();
            built.map(Some)
        }
        None => Some(None),
    };
    let pin_digest = match t.string("pin_digest").as_deref() {
        None | Some("never") => Some(DigestPinning::Never),
        Some("if_not_present") => Some(DigestPinning::IfNotPresent),
        Some("always") => Some(DigestPinning::Always),
        Some(other) => {
            t.error(
                "pin_digest",
                format!("{other:?} is not a pinning mode: use \"never\", \"if_not_present\" or \"always\""),
            );
            None
        }
    };
    t.finish();
    let image = image?;
    let exclude = images.get(&image)?.exclude.clone();
    Some(PolicyConfig {
        policy: Policy {
            name: name.to_string(),
            rule: rule?,
            filter: filter?,
            exclude,
        },
        image,
        pin_digest: pin_digest?,
    })
}

fn read_environments(top: &Table) -> BTreeMap<String, EnvironmentConfig> {
    let tables = top.named_tables("environments");
    let names: HashSet<String> = tables.iter().map(|(n, _)| n.clone()).collect();
    let mut promote: BTreeMap<String, (String, KeyPath)> = BTreeMap::new();
    let mut out = BTreeMap::new();
    let mut owned: Vec<(String, PathBuf, KeyPath)> = Vec::new();
    for (name, t) in tables {
        if let Some(env) = read_environment(&name, &t, &names) {
            if let Some(from) = env.promote_from.as_ref().filter(|from| **from != name) {
                promote.insert(name.clone(), (from.clone(), t.child_path("promote_from")));
            }
            for (i, path) in env.paths.iter().enumerate() {
                let mut key = t.child_path("paths");
                key.push(i.to_string());
                owned.push((name.clone(), path.clone(), key));
            }
            out.insert(name, env);
        }
        t.finish();
    }
    // Each file belongs to one environment: paths of two environments must not nest.
    for (i, (name, path, key)) in owned.iter().enumerate() {
        if let Some((other, other_path, _)) = owned[..i]
            .iter()
            .find(|(other, p, _)| other != name && (p.starts_with(path) || path.starts_with(p)))
        {
            let shown = |p: &Path| match p.as_os_str().is_empty() {
                true => ".".to_string(),
                false => p.display().to_string(),
            };
            top.cx.error(
                key,
                None,
                format!(
                    "{:?} overlaps {:?} of environment {other:?}: a file must belong to one environment only; make the paths disjoint",
                    shown(path),
                    shown(other_path)
                ),
            );
        }
    }
    // promote_from must not form a cycle (a -> b -> a).
    for (start, (_, path)) in &promote {
        let mut seen = vec![start.clone()];
        let mut current = start.clone();
        while let Some((next, _)) = promote.get(&current) {
            if seen.contains(next) {
                if next == start {
                    seen.push(next.clone());
                    top.cx.error(
                        path,
                        None,
                        format!("promote_from forms a cycle: {}", seen.join(" <- ")),
                    );
                }
                break;
            }
            seen.push(next.clone());
            current = next.clone();
        }
    }
    out
}

fn read_environment(name: &str, t: &Table, names: &HashSet<String>) -> Option<EnvironmentConfig> {
    let paths = match t.string_list("paths") {
        Some(items) if items.is_empty() => {
            t.error("paths", "list at least one directory this environment owns");
            None
        }
        Some(items) => {
            let mut ok = true;
            let mut paths = Vec::new();
            for (text, path) in items {
                match check_repo_path(&text) {
                    Ok(p) => paths.push(p),
                    Err(why) => {
                        ok = false;
                        t.cx.error(&path, None, format!("{text:?} {why}"));
                    }
                }
            }
            ok.then_some(paths)
        }
        None => {
            if t.dict.is_some_and(|d| !d.contains_key("paths")) {
                t.known.borrow_mut().push("paths");
                t.missing(
                    "paths",
                    "list the directories this environment owns, e.g. paths = [\"clusters/staging\"]",
                );
            }
            None
        }
    };
    let mode = match t.string("mode").as_deref() {
        None | Some("push") => Some(Mode::Push),
        Some("review") => Some(Mode::Review),
        Some(other) => {
            t.error(
                "mode",
                format!("{other:?} is not a mode: use \"push\" or \"review\""),
            );
            None
        }
    };
    let review_branch = t
        .string("review_branch")
        .unwrap_or_else(|| "baton/{env}/{image}".to_string());
    check_branch_name(
        t,
        "review_branch",
        &review_branch.replace("{env}", "e").replace("{image}", "i"),
    );
    let promote_from = t.string("promote_from");
    if let Some(from) = &promote_from {
        if from == name {
            t.error("promote_from", "an environment cannot promote from itself");
        } else if !names.contains(from) {
            t.error(
                "promote_from",
                format!(
                    "names unknown environment {from:?}: add [environments.{from}] or fix the name"
                ),
            );
        }
    }
    let soak = t.duration("soak", None);
    if soak.is_some() && promote_from.is_none() {
        t.error(
            "soak",
            "soak is measured in the environment named by promote_from: set promote_from too",
        );
    }
    let windows = read_windows(t);
    let freeze = match t.string_list("freeze") {
        Some(items) => items
            .into_iter()
            .filter_map(|(text, path)| match Freeze::parse(&text) {
                Ok(f) => Some(f),
                Err(why) => {
                    t.cx.error(&path, None, why);
                    None
                }
            })
            .collect(),
        None => Vec::new(),
    };
    Some(EnvironmentConfig {
        paths: paths?,
        mode: mode?,
        review_branch,
        promote_from,
        soak,
        windows: windows?,
        freeze,
    })
}

fn read_windows(t: &Table) -> Option<Vec<TimeWindow>> {
    let Some(value) = t.raw("window") else {
        return Some(Vec::new());
    };
    let mut tables: Vec<(KeyPath, &Dict)> = Vec::new();
    match value {
        Value::Dict(_, d) => tables.push((t.child_path("window"), d)),
        Value::Array(_, items) => {
            for (i, item) in items.iter().enumerate() {
                let mut path = t.child_path("window");
                path.push(i.to_string());
                match item {
                    Value::Dict(_, d) => tables.push((path, d)),
                    other => t.cx.error(
                        &path,
                        Some(other.tag()),
                        format!("expected a window table, found {}", describe(other)),
                    ),
                }
            }
        }
        other => {
            t.type_error("window", other, "a table or an array of tables");
            return Some(Vec::new());
        }
    }
    let mut out = Vec::new();
    let mut ok = true;
    for (path, dict) in tables {
        let w = Table {
            cx: t.cx,
            path,
            dict: Some(dict),
            known: RefCell::new(Vec::new()),
        };
        let days = w.string("days").unwrap_or_else(|| "mon-sun".to_string());
        let hours = w
            .string("hours")
            .unwrap_or_else(|| "00:00-24:00".to_string());
        let timezone = w.string("timezone").unwrap_or_else(|| "UTC".to_string());
        match TimeWindow::parse(&days, &hours, &timezone) {
            Ok(window) => out.push(window),
            Err((key, why)) => {
                ok = false;
                w.error(key, why);
            }
        }
        w.finish();
    }
    ok.then_some(out)
}

fn read_webhook(name: &str, t: Table, image_names: &BTreeSet<String>) -> Option<WebhookConfig> {
    // The name is a URL path segment (`/hooks/NAME`) and a metrics label.
    let name_ok = name.len() <= 64
        && name
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphanumeric())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !name_ok {
        t.cx.error(
            &t.path,
            None,
            format!(
                "webhook name {name:?} is not usable in a URL: use up to 64 letters, digits, '-' and '_', starting with a letter or digit"
            ),
        );
    }
    let kinds = WebhookKind::ALL.map(WebhookKind::as_str);
    let kind = t
        .required_string(
            "kind",
            &format!("say which registry sends this hook: {}", kinds.join(", ")),
        )
        .and_then(|text| match text.parse::<WebhookKind>() {
            Ok(kind) => Some(kind),
            Err(why) => {
                t.error("kind", why.to_string());
                None
            }
        });
    let present = t.dict.is_some_and(|d| d.contains_key("secret_file"));
    let secret_file = if present {
        t.file_path("secret_file")
    } else {
        t.known.borrow_mut().push("secret_file");
        t.missing(
            "secret_file",
            "put the shared secret in a file readable only by baton and set secret_file",
        );
        None
    };
    let images = match t.string_list("images") {
        Some(items) if items.is_empty() => {
            t.error(
                "images",
                "list at least one [images] name, or remove images to let this hook trigger every image",
            );
            None
        }
        Some(items) => {
            let known: Vec<&str> = image_names.iter().map(String::as_str).collect();
            let mut ok = true;
            for (image, path) in &items {
                if !image_names.contains(image) {
                    ok = false;
                    let hint = match suggest(image, &known) {
                        Some(close) => format!("did you mean {close:?}?"),
                        None if known.is_empty() => "add an [images.NAME] section".to_string(),
                        None => format!("known images are {}", known.join(", ")),
                    };
                    t.cx.error(
                        path,
                        None,
                        format!("webhook names unknown image {image:?}: {hint}"),
                    );
                }
            }
            ok.then(|| Some(items.into_iter().map(|(s, _)| s).collect()))
        }
        None => Some(None),
    };
    let registry = t.string("registry");
    let registry_ok = match &registry {
        Some(host) => {
            let valid = !host.is_empty()
                && !host.contains('/')
                && ImageName::parse(&format!("{host}/x"))
                    .is_ok_and(|name| name.registry == *host || host == "docker.io");
            if !valid {
                t.error(
                    "registry",
                    format!(
                        "{host:?} is not a registry host: write it as in image names, e.g. \"registry.example.com:5000\""
                    ),
                );
            }
            valid
        }
        None => true,
    };
    t.finish();
    if !name_ok || !registry_ok {
        return None;
    }
    Some(WebhookConfig {
        kind: kind?,
        secret_file: secret_file?,
        images: images?,
        registry,
    })
}

/// Checks that an environment path stays inside the repository.
fn check_repo_path(text: &str) -> Result<PathBuf, &'static str> {
    let path = Path::new(text);
    if text.trim().is_empty() {
        return Err("is empty: name a directory inside the repository, or \".\" for all of it");
    }
    if path.is_absolute() || text.starts_with('\\') {
        return Err("is absolute: write it relative to the repository root");
    }
    let mut depth: i32 = 0;
    for component in path.components() {
        match component {
            Component::ParentDir => {
                depth -= 1;
                if depth < 0 {
                    return Err("escapes the repository with '..': write a path inside it");
                }
            }
            Component::Normal(_) => depth += 1,
            Component::CurDir => {}
            Component::RootDir | Component::Prefix(_) => {
                return Err("is absolute: write it relative to the repository root");
            }
        }
    }
    if path.components().any(|c| c == Component::ParentDir) {
        return Err("contains '..': write the path without it");
    }
    Ok(path
        .components()
        .filter(|c| *c != Component::CurDir)
        .collect())
}
