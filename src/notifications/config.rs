//! The `[notifications.NAME]` section as the notifier takes it, and its reader: the keys every
//! sink shares here, each kind's own keys in its file. Secrets are accepted only in files.

use std::time::Duration;

use super::kind::NotificationTarget;
use super::{EventKind, SinkKind, Template};
use crate::common::settings::Table;
use crate::common::text::listed;

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

impl NotificationConfig {
    /// Reads one `[notifications.NAME]` sink; `None` when it has errors (all of them reported).
    pub fn read(t: Table) -> Option<NotificationConfig> {
        let kinds = listed(SinkKind::ALL.map(|k| format!("{:?}", k.as_str())), "or");
        let kind = t
            .required_string("kind", &format!("set kind = {kinds}"))
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
        let target = read_target(&t, kind);
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

/// Every key a kind reads besides the shared ones: its own, then its secret file's.
fn keys_of(kind: SinkKind) -> Vec<&'static str> {
    let sink = kind.sink();
    let mut keys = sink.keys().to_vec();
    keys.push(sink.secret().key);
    keys
}

/// The kind's target: its secret file and settings, after reporting every key that
/// belongs to another kind. With no kind, the other keys are only taken as known.
fn read_target(t: &Table, kind: Option<SinkKind>) -> Option<NotificationTarget> {
    let Some(kind) = kind else {
        for key in SinkKind::ALL.into_iter().flat_map(keys_of) {
            t.mark_known(key);
        }
        return None;
    };
    let own = keys_of(kind);
    let mut foreign: Vec<&'static str> = SinkKind::ALL
        .into_iter()
        .flat_map(keys_of)
        .filter(|key| !own.contains(key))
        .collect();
    foreign.sort_unstable();
    foreign.dedup();
    for key in foreign {
        if t.has(key) {
            t.mark_known(key);
            let owners = SinkKind::ALL
                .into_iter()
                .filter(|other| keys_of(*other).contains(&key))
                .map(|other| format!("{:?}", other.as_str()));
            t.error(
                key,
                format!(
                    "{key} is for kind = {}; a {kind} sink takes {}: remove it",
                    listed(owners, "or"),
                    listed(own.iter(), "and")
                ),
            );
        }
    }
    let sink = kind.sink();
    let settings = sink.read(t);
    let secret = sink.secret();
    let secret_file = t.file_path(secret.key);
    let inline = secret.key.strip_suffix("_file").unwrap_or(secret.key);
    // An inline secret is reported by the `url` check above or by finish().
    if secret_file.is_none() && !t.has(secret.key) && !t.has(inline) {
        t.missing(
            secret.key,
            &format!(
                "give the file holding the {}, e.g. {} = {:?}",
                secret.holds, secret.key, secret.example
            ),
        );
    }
    Some(NotificationTarget {
        kind,
        secret_file: secret_file?,
        settings: settings?,
    })
}
