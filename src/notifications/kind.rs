//! What makes one kind of sink: the keys of its `[notifications.NAME]` section, where a
//! message goes and the body it carries. Each kind is one file registered in `SinkKind`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::Value;

use super::SinkKind;
use super::render::Composed;
use crate::common::settings::Table;

/// A kind's settings besides its secret, by key, as its reader checked them.
pub type Settings = BTreeMap<&'static str, String>;

/// One kind of notification sink. Delivery (queue, rate limit, retries, redaction) is shared
/// by every kind; a kind says only what is below.
pub trait Sink: Sync {
    /// The key of the file that holds the sink's secret, and what belongs in it; by
    /// default `url_file`, a webhook URL.
    fn secret(&self) -> SecretFile {
        URL_FILE
    }

    /// The kind's other keys, for the check that a section holds no other kind's key.
    fn keys(&self) -> &'static [&'static str] {
        &[]
    }

    /// Reads and checks [`Sink::keys`] from the section; `None` once an error is reported on
    /// `t` (report them all).
    fn read(&self, t: &Table) -> Option<Settings> {
        let _ = t;
        Some(Settings::new())
    }

    /// Where one message goes, from the secret read from the file and the settings; `txn`
    /// is unique per message and the same on its retries. The error says what is wrong
    /// without repeating the secret. By default a POST to the webhook URL in the file.
    fn endpoint(&self, secret: &str, settings: &Settings, txn: &str) -> Result<Endpoint, String> {
        let _ = (settings, txn);
        post_to_secret_url(secret)
    }

    /// The request body (JSON) for one message.
    fn payload(&self, composed: &Composed) -> Value;
}

/// The key of a kind's secret file, and what the file holds (for error messages).
#[derive(Debug, Clone, Copy)]
pub struct SecretFile {
    /// `url_file`, `token_file`, …
    pub key: &'static str,
    /// `webhook URL`, `access token`, …
    pub holds: &'static str,
    /// A path to show in examples.
    pub example: &'static str,
}

/// An HTTP request's target: method, URL and an optional bearer token.
#[derive(Clone)]
pub struct Endpoint {
    /// POST, PUT, …
    pub method: reqwest::Method,
    /// Where the request goes.
    pub url: url::Url,
    /// Sent as `Authorization: Bearer …`, to this URL's origin only.
    pub bearer: Option<String>,
}

/// The secret file of a kind whose secret is the webhook URL itself.
pub const URL_FILE: SecretFile = SecretFile {
    key: "url_file",
    holds: "webhook URL",
    example: "/run/credentials/baton.service/baton_slack-webhook",
};

/// POST to the webhook URL held in the secret file: the endpoint of Slack, Teams and the
/// generic webhook.
pub fn post_to_secret_url(secret: &str) -> Result<Endpoint, String> {
    let bad =
        || "does not hold an http or https URL: put the webhook URL alone in the file".to_string();
    let url = url::Url::parse(secret).map_err(|_| bad())?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(bad());
    }
    Ok(Endpoint {
        method: reqwest::Method::POST,
        url,
        bearer: None,
    })
}

/// Where a notification sink's messages go, as configured. The secret stays in its file,
/// read when the sinks start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotificationTarget {
    /// The kind, which says how messages are addressed and shaped.
    pub kind: SinkKind,
    /// The file holding the secret (the kind's [`Sink::secret`] key).
    pub secret_file: PathBuf,
    /// The kind's other settings ([`Sink::keys`]).
    pub settings: Settings,
}

impl NotificationTarget {
    /// A sink of `kind` with its secret in `secret_file` and no other settings.
    pub fn new(kind: SinkKind, secret_file: impl Into<PathBuf>) -> NotificationTarget {
        NotificationTarget {
            kind,
            secret_file: secret_file.into(),
            settings: Settings::new(),
        }
    }

    /// The same, with the setting `key` set to `value`.
    #[must_use]
    pub fn with(mut self, key: &'static str, value: impl Into<String>) -> NotificationTarget {
        self.settings.insert(key, value.into());
        self
    }
}
