//! The `[notifications.NAME]` section as the notifier takes it.

use std::path::PathBuf;
use std::time::Duration;

use super::{EventKind, SinkKind};

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
