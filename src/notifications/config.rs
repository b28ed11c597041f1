//! The `[notifications.NAME]` section as the notifier takes it, and its reader. Webhook URLs
//! and Matrix tokens are secrets: only files holding them are accepted.

use std::path::PathBuf;
use std::time::Duration;

use super::{EventKind, SinkKind, Template};
use crate::common::settings::Table;

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

const KINDS: &str = "\"webhook\", \"slack\", \"teams\" or \"matrix\"";

impl NotificationConfig {
    /// Reads one `[notifications.NAME]` sink; `None` when it has errors (all of them reported).
    pub fn read(t: Table) -> Option<NotificationConfig> {
        let kind = t
            .required_string("kind", &format!("set kind = {KINDS}"))
            .and_then(|text| match text.parse::<SinkKind>() {
                Ok(kind) => Some(kind),
                Err(why) => {
                    t.error("kind", why.to_string());
                    None
                }
            });
        if t.has("url") {
            t.mark_known("url");
            t.error(
            "url",
            "a webhook URL is a secret (Slack and Teams URLs embed a token): put it in a file readable only by baton and set url_file",
        );
        }
        let url_file = t.file_path("url_file");
        let homeserver = t.string("homeserver");
        let room_id = t.string("room_id");
        let token_file = t.file_path("token_file");
        let target = match kind {
            Some(SinkKind::Matrix) => {
                if t.has("url_file") {
                    t.error(
                    "url_file",
                    "a matrix sink takes homeserver, room_id and token_file, not url_file: remove it",
                );
                }
                let homeserver = match homeserver {
                    Some(text) => check_homeserver(&t, &text),
                    None => {
                        if !t.has("homeserver") {
                            t.missing(
                            "homeserver",
                            "give the homeserver's URL, e.g. homeserver = \"https://matrix.example.org\"",
                        );
                        }
                        None
                    }
                };
                let room_id = match room_id {
                    Some(text) => check_room_id(&t, &text),
                    None => {
                        if !t.has("room_id") {
                            t.missing(
                                "room_id",
                                "give the room id, e.g. room_id = \"!AbCdEf:example.org\"",
                            );
                        }
                        None
                    }
                };
                // An inline `token` is reported by finish(); one error for one mistake.
                if token_file.is_none() && !t.has("token_file") && !t.has("token") {
                    t.missing(
                    "token_file",
                    "give the file holding the bot's access token, e.g. token_file = \"/run/credentials/baton.service/baton_matrix-token\"",
                );
                }
                match (homeserver, room_id, token_file) {
                    (Some(homeserver), Some(room_id), Some(token_file)) => {
                        Some(NotificationTarget::Matrix {
                            homeserver,
                            room_id,
                            token_file,
                        })
                    }
                    _ => None,
                }
            }
            Some(kind) => {
                for key in ["homeserver", "room_id", "token_file"] {
                    if t.has(key) {
                        t.error(
                        key,
                        format!(
                            "{key} is for kind = \"matrix\"; a {kind} sink takes url_file: remove it"
                        ),
                    );
                    }
                }
                if url_file.is_none() && !t.has("url_file") && !t.has("url") {
                    t.missing(
                    "url_file",
                    "give the file holding the webhook URL, e.g. url_file = \"/run/credentials/baton.service/baton_slack-webhook\"",
                );
                }
                url_file.map(|url_file| match kind {
                    SinkKind::Slack => NotificationTarget::Slack { url_file },
                    SinkKind::Teams => NotificationTarget::Teams { url_file },
                    _ => NotificationTarget::Webhook { url_file },
                })
            }
            None => None,
        };
        let events = read_events(&t);
        let template = t.string("template");
        if let (Some(source), Some(events)) = (&template, &events)
            && let Err(err) = Template::new(source.clone(), events)
        {
            t.error("template", err.to_string());
        }
        let max_per_minute = t.integer("max_per_minute", 1, 600).unwrap_or(10) as u32;
        let scan_failing_after = t.integer("scan_failing_after", 1, 10_000).unwrap_or(3) as u32;
        let timeout = t
            .duration("timeout", Some(Duration::from_secs(1)))
            .unwrap_or(Duration::from_secs(10));
        let retries = t.integer("retries", 0, 20).unwrap_or(3) as u32;
        t.finish();
        Some(NotificationConfig {
            target: target?,
            events: events?,
            template,
            max_per_minute,
            scan_failing_after,
            timeout,
            retries,
        })
    }
}

fn read_events(t: &Table) -> Option<Vec<EventKind>> {
    let Some(items) = t.string_list("events") else {
        // Absent means all; a wrong type was reported.
        return (!t.has("events")).then(|| EventKind::ALL.to_vec());
    };
    if items.is_empty() {
        t.error(
            "events",
            "list at least one of \"commit\", \"push_failed\", \"review_opened\", \"scan_failing\", or leave events out for all of them",
        );
        return None;
    }
    let mut kinds = Vec::new();
    let mut ok = true;
    for (text, path) in items {
        match text.parse::<EventKind>() {
            Ok(kind) => kinds.push(kind),
            Err(why) => {
                ok = false;
                t.error_at(&path, why.to_string());
            }
        }
    }
    kinds.sort();
    kinds.dedup();
    ok.then_some(kinds)
}

fn check_homeserver(t: &Table, text: &str) -> Option<url::Url> {
    let example = "write e.g. \"https://matrix.example.org\"";
    let url = match url::Url::parse(text.trim()) {
        Ok(url) => url,
        Err(err) => {
            t.error(
                "homeserver",
                format!("{text:?} is not a URL ({err}): {example}"),
            );
            return None;
        }
    };
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        t.error(
            "homeserver",
            format!("{text:?} is not an http or https URL: {example}"),
        );
        return None;
    }
    if !url.username().is_empty() || url.password().is_some() {
        t.error(
            "homeserver",
            "the homeserver URL carries credentials: remove them and put the access token in token_file",
        );
        return None;
    }
    if url.query().is_some() || url.fragment().is_some() {
        t.error(
            "homeserver",
            format!("{text:?} has a query or fragment: give the homeserver's base URL only"),
        );
        return None;
    }
    Some(url)
}

fn check_room_id(t: &Table, text: &str) -> Option<String> {
    let text = text.trim();
    if text.starts_with('#') {
        t.error(
            "room_id",
            format!(
                "{text:?} is a room alias: give the room id (\"!...:server\", shown in the room's settings under Advanced)"
            ),
        );
        return None;
    }
    let valid = text.starts_with('!')
        && text
            .split_once(':')
            .is_some_and(|(local, server)| local.len() > 1 && !server.is_empty())
        && !text.chars().any(|c| c.is_whitespace() || c.is_control());
    if !valid {
        t.error(
            "room_id",
            format!("{text:?} is not a room id: write e.g. \"!AbCdEf:example.org\""),
        );
        return None;
    }
    Some(text.to_string())
}
