//! What a message says and how each kind of sink wants it: the operator's template (or the
//! default text), the generic JSON body, Slack blocks, a Teams Adaptive Card, a Matrix event.

use serde_json::{Map, Value, json};

use crate::common;
use crate::common::template::{TemplateError, UndefinedBehavior, Words};
use crate::common::time::rfc3339_seconds;

use super::SinkKind;
use super::event::{Event, EventKind};
use super::limit::{Message, Queued};
use crate::git::message::Move;

/// Version of the generic webhook's JSON body (`version` field).
pub const SCHEMA_VERSION: u32 = 1;

/// Longest text sent to any sink, in characters; longer text is cut with `…`.
const MAX_TEXT: usize = 4000;

/// An operator's message template (minijinja), checked against a sample of every event
/// kind it will see. Variables: `event` (the kind's name), `summary` (one line), `text`
/// (Baton's default message), `time` (RFC 3339), and the event's own fields:
/// `environment`, `moves`, `commit`, `branch` (commit); `environment`, `error`
/// (push_failed); `environment`, `image`, `url` (review_opened); `image`, `error`,
/// `consecutive_failures` (scan_failing).
#[derive(Debug)]
pub struct Template {
    template: common::template::Template,
}

const WORDS: Words = Words {
    what: "notification template",
    invalid: "fix the template (variables: event, summary, text, time and the event's fields)",
    empty: "make it print something, e.g. {{ text }}",
};

/// What to do when the template fails for one kind of event only.
const FOR_EVENT_HINT: &str = "guard variables that only some events have with {% if event == \"commit\" %}, or narrow events";

impl Template {
    /// Compiles `source` and renders it once per kind in `kinds` with a sample event, so
    /// syntax errors and variables some events lack are reported when the config loads.
    pub fn new(source: impl Into<String>, kinds: &[EventKind]) -> Result<Self, TemplateError> {
        // Printing an undefined variable fails; `{% if commit %}` is allowed.
        let template = Template {
            template: common::template::Template::compile(
                source,
                UndefinedBehavior::SemiStrict,
                WORDS,
            )?,
        };
        for kind in kinds {
            template.render(&sample(*kind), jiff::Timestamp::UNIX_EPOCH)?;
        }
        Ok(template)
    }

    /// The template's text for `event`, sent at `at`.
    pub fn render(&self, event: &Event, at: jiff::Timestamp) -> Result<String, TemplateError> {
        let what = format!("notification template fails for {} events", event.kind());
        let text = self
            .template
            .render_as(what, FOR_EVENT_HINT, &event_object(event, at))?;
        Ok(text.trim_end().to_string())
    }
}

/// A representative event of `kind`, for checking templates.
pub fn sample(kind: EventKind) -> Event {
    match kind {
        EventKind::Commit => Event::Committed {
            environment: "staging".into(),
            moves: vec![Move::sample()],
            commit: "0".repeat(40),
            branch: "main".into(),
        },
        EventKind::PushFailed => Event::PushFailed {
            environment: "staging".into(),
            error: "push failed: the remote refused it".into(),
        },
        EventKind::ReviewOpened => Event::ReviewOpened {
            environment: "production".into(),
            image: "registry.example.com/app".into(),
            url: "https://git.example.com/fleet/pulls/1".into(),
        },
        EventKind::ScanFailing => Event::ScanFailing {
            image: "app".into(),
            error: "request timed out".into(),
            consecutive_failures: 3,
        },
        EventKind::RulesRefused => Event::RulesRefused {
            rules: "baton.toml".into(),
            commit: "0".repeat(40),
            author: "A Person <person@example.com>".into(),
            errors: vec![
                "baton.toml:12:1@000000000000: environments.production.mode: \"fast\" is not a mode: use \"push\" or \"review\"".into(),
            ],
        },
        EventKind::Rollback => Event::RolledBack {
            environment: "staging".into(),
            image: "app".into(),
            version: "1.0.1".into(),
            to: "1.0.0".into(),
            reason: "1.0.1 did not verify in staging within 15m: http https://staging.example.com/version: answered 503".into(),
            commit: "0".repeat(40),
        },
    }
}

/// The event's fields with `event`, `time`, `summary` and `text` (the default message):
/// the JSON webhook's body for one event, and a template's variables.
fn event_object(event: &Event, at: jiff::Timestamp) -> Map<String, Value> {
    let mut map = match serde_json::to_value(event) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    };
    map.insert("time".into(), Value::String(rfc3339_seconds(at)));
    map.insert("summary".into(), Value::String(event.summary()));
    map.insert("text".into(), Value::String(event.text()));
    map
}

/// A message ready for any sink: its text (template or default) and the parts sinks use.
#[derive(Debug, Clone, PartialEq)]
pub struct Composed {
    /// The message text: the template's output, or Baton's default.
    pub text: String,
    /// `commit`, `push_failed`, …, or `summary` for coalesced events.
    pub event: String,
    /// When it was composed (a summary) or sent (a single event).
    pub time: String,
    /// A link worth a button (the review of a `review_opened` event).
    pub link: Option<String>,
    /// The generic webhook body.
    pub json: Value,
}

/// Composes `message` at `now`. A template that fails on real data (it passed the sample
/// check at load) falls back to the default text; the failure is returned for logging.
pub fn compose(
    message: &Message,
    template: Option<&Template>,
    max_per_minute: u32,
    now: jiff::Timestamp,
) -> (Composed, Vec<TemplateError>) {
    let mut errors = Vec::new();
    let mut text_of = |q: &Queued| match template.map(|t| t.render(&q.event, q.at)) {
        Some(Ok(text)) => text,
        Some(Err(err)) => {
            errors.push(err);
            q.event.text()
        }
        None => q.event.text(),
    };
    let composed = match message {
        Message::Single(q) => {
            let text = truncate(&text_of(q), MAX_TEXT);
            let mut json = Map::new();
            json.insert("version".into(), json!(SCHEMA_VERSION));
            json.insert("source".into(), json!("baton"));
            json.extend(event_object(&q.event, q.at));
            json.insert("text".into(), Value::String(text.clone()));
            let link = match &q.event {
                Event::ReviewOpened { url, .. } => Some(url.clone()),
                _ => None,
            };
            Composed {
                text,
                event: q.event.kind().as_str().to_string(),
                time: rfc3339_seconds(q.at),
                link,
                json: Value::Object(json),
            }
        }
        Message::Summary { events, dropped } => {
            let total = events.len() as u64 + dropped;
            let summary = format!(
                "{total} event{} held back by the rate limit ({max_per_minute} message{} a minute)",
                if total == 1 { "" } else { "s" },
                if max_per_minute == 1 { "" } else { "s" }
            );
            let mut text = format!("{summary}:");
            let mut items = Vec::new();
            for q in events {
                let body = text_of(q);
                text.push_str("\n- ");
                text.push_str(&body.replace('\n', "\n  "));
                let mut item = event_object(&q.event, q.at);
                item.insert("text".into(), Value::String(body));
                items.push(Value::Object(item));
            }
            if *dropped > 0 {
                text.push_str(&format!(
                    "\n- and {dropped} more event{} that did not fit in the queue",
                    if *dropped == 1 { "" } else { "s" }
                ));
            }
            let text = truncate(&text, MAX_TEXT);
            let time = rfc3339_seconds(now);
            let json = json!({
                "version": SCHEMA_VERSION,
                "source": "baton",
                "event": "summary",
                "time": time,
                "summary": summary,
                "text": text,
                "events": items,
                "dropped": dropped,
            });
            Composed {
                text,
                event: "summary".to_string(),
                time,
                link: None,
                json,
            }
        }
    };
    (composed, errors)
}

/// Cuts `text` to at most `max` characters, ending with `…` when cut.
pub(super) fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// The request body for a sink of `kind`.
pub fn payload(kind: SinkKind, composed: &Composed) -> Value {
    kind.sink().payload(composed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at() -> jiff::Timestamp {
        "2026-11-20T09:30:00.250Z".parse().unwrap()
    }

    fn single(event: Event) -> Message {
        Message::Single(Queued { event, at: at() })
    }

    fn commit() -> Event {
        sample(EventKind::Commit)
    }

    #[test]
    fn webhook_body_follows_the_schema() {
        let (c, errors) = compose(&single(commit()), None, 10, at());
        assert!(errors.is_empty());
        let body = payload(SinkKind::Webhook, &c);
        assert_eq!(body["version"], 1);
        assert_eq!(body["source"], "baton");
        assert_eq!(body["event"], "commit");
        assert_eq!(body["time"], "2026-11-20T09:30:00Z");
        assert_eq!(body["environment"], "staging");
        assert_eq!(body["branch"], "main");
        assert_eq!(body["summary"], "staging: app 1.0.0 -> 1.0.1");
        assert_eq!(
            body["text"],
            "staging: app 1.0.0 -> 1.0.1 (commit 000000000000 on main)"
        );
        assert_eq!(body["moves"][0]["to"], "1.0.1");
        assert_eq!(body["moves"][0]["image"], "registry.example.com/app");
        assert_eq!(body["moves"][0]["rule"], "semver 1.x");
        let keys: Vec<&String> = body.as_object().unwrap().keys().collect();
        assert_eq!(
            keys.len(),
            10,
            "documented keys only (README schema): {keys:?}"
        );
    }

    #[test]
    fn a_summary_lists_every_event_and_the_dropped_count() {
        let message = Message::Summary {
            events: vec![
                Queued {
                    event: commit(),
                    at: at(),
                },
                Queued {
                    event: sample(EventKind::ScanFailing),
                    at: at(),
                },
            ],
            dropped: 3,
        };
        let (c, _) = compose(&message, None, 2, at());
        assert_eq!(
            c.text,
            "5 events held back by the rate limit (2 messages a minute):\n\
             - staging: app 1.0.0 -> 1.0.1 (commit 000000000000 on main)\n\
             - image app: scan failed 3 times in a row: request timed out\n\
             - and 3 more events that did not fit in the queue"
        );
        let body = payload(SinkKind::Webhook, &c);
        assert_eq!(body["event"], "summary");
        assert_eq!(body["dropped"], 3);
        assert_eq!(body["events"].as_array().unwrap().len(), 2);
        assert_eq!(body["events"][1]["event"], "scan_failing");
        assert_eq!(body["events"][1]["consecutive_failures"], 3);
    }

    #[test]
    fn slack_escapes_event_data() {
        let event = Event::PushFailed {
            environment: "staging".into(),
            error: "<!channel> & <https://evil.example|click>".into(),
        };
        let (c, _) = compose(&single(event), None, 10, at());
        let body = payload(SinkKind::Slack, &c);
        let text = body["text"].as_str().unwrap();
        assert_eq!(
            text,
            "staging: push failed: &lt;!channel&gt; &amp; &lt;https://evil.example|click&gt;"
        );
        assert_eq!(body["blocks"][0]["type"], "section");
        assert_eq!(body["blocks"][0]["text"]["type"], "mrkdwn");
        assert_eq!(body["blocks"][0]["text"]["text"], text);
        assert_eq!(
            body["blocks"][1]["elements"][0]["text"],
            "baton · push_failed · 2026-11-20T09:30:00Z"
        );
        let (c, _) = compose(&single(sample(EventKind::ReviewOpened)), None, 10, at());
        let context = payload(SinkKind::Slack, &c)["blocks"][1]["elements"][0]["text"].clone();
        assert!(
            context
                .as_str()
                .unwrap()
                .ends_with(" · <https://git.example.com/fleet/pulls/1|open the review>"),
            "{context}"
        );
    }

    #[test]
    fn slack_section_text_is_capped() {
        let event = Event::PushFailed {
            environment: "staging".into(),
            error: "x".repeat(5000),
        };
        let (c, _) = compose(&single(event), None, 10, at());
        let body = payload(SinkKind::Slack, &c);
        let section = body["blocks"][0]["text"]["text"].as_str().unwrap();
        assert_eq!(
            section.chars().count(),
            super::super::slack::SLACK_SECTION_MAX
        );
        assert!(section.ends_with('…'));
        assert_eq!(body["text"].as_str().unwrap().chars().count(), MAX_TEXT);
    }

    #[test]
    fn teams_gets_an_adaptive_card() {
        let (c, _) = compose(&single(sample(EventKind::ReviewOpened)), None, 10, at());
        let body = payload(SinkKind::Teams, &c);
        assert_eq!(body["type"], "message");
        let attachment = &body["attachments"][0];
        assert_eq!(
            attachment["contentType"],
            "application/vnd.microsoft.card.adaptive"
        );
        let card = &attachment["content"];
        assert_eq!(card["type"], "AdaptiveCard");
        assert_eq!(card["version"], "1.4");
        assert_eq!(
            card["body"][0]["text"],
            "production: review opened for registry.example.com/app: https://git.example.com/fleet/pulls/1"
        );
        assert_eq!(card["actions"][0]["type"], "Action.OpenUrl");
        assert_eq!(
            card["actions"][0]["url"],
            "https://git.example.com/fleet/pulls/1"
        );
    }

    #[test]
    fn teams_escapes_event_data() {
        let event = Event::PushFailed {
            environment: "staging".into(),
            error: "remote: [approve here](https://evil.example) **now**".into(),
        };
        let (c, _) = compose(&single(event), None, 10, at());
        let card = &payload(SinkKind::Teams, &c)["attachments"][0]["content"];
        assert_eq!(
            card["body"][0]["text"],
            "staging: push failed: remote: \\[approve here\\](https://evil.example) \\*\\*now\\*\\*"
        );
    }

    #[test]
    fn matrix_gets_a_notice() {
        let (c, _) = compose(&single(sample(EventKind::PushFailed)), None, 10, at());
        assert_eq!(
            payload(SinkKind::Matrix, &c),
            json!({"msgtype": "m.notice", "body": "staging: push failed: the remote refused it"})
        );
    }

    #[test]
    fn templates_render_event_fields() {
        let t = Template::new(
            "[{{ event }}] {% if event == \"commit\" %}{{ environment }} now runs {% for m in moves %}{{ m.policy }} {{ m.to }}{% endfor %} ({{ commit[:7] }}){% else %}{{ text }}{% endif %}",
            &EventKind::ALL,
        )
        .unwrap();
        let (c, errors) = compose(&single(commit()), Some(&t), 10, at());
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(c.text, "[commit] staging now runs app 1.0.1 (0000000)");
        assert_eq!(payload(SinkKind::Webhook, &c)["text"], c.text);
        let (c, _) = compose(&single(sample(EventKind::ScanFailing)), Some(&t), 10, at());
        assert_eq!(
            c.text,
            "[scan_failing] image app: scan failed 3 times in a row: request timed out"
        );
    }

    #[test]
    fn templates_are_checked_against_each_subscribed_kind() {
        let source = "{{ environment }}: {{ commit }}";
        assert!(Template::new(source, &[EventKind::Commit]).is_ok());
        let err = Template::new(source, &EventKind::ALL)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("notification template fails for push_failed events, line 1:"),
            "{err}"
        );
        assert!(err.contains("guard variables"), "{err}");
        let err = Template::new("{{ summary ", &[EventKind::Commit])
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("notification template, line 1: syntax error"),
            "{err}"
        );
        let err = Template::new("{{ sumary }}", &[EventKind::Commit])
            .unwrap_err()
            .to_string();
        assert!(err.contains("undefined"), "{err}");
        let err = Template::new("{% if false %}x{% endif %}", &[EventKind::ScanFailing])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("fails for scan_failing events: renders an empty message"),
            "{err}"
        );
    }

    #[test]
    fn a_template_failing_on_real_data_falls_back_to_the_default() {
        let t = Template::new("{{ moves[0].to }}", &[EventKind::Commit]).unwrap();
        let event = Event::Committed {
            environment: "staging".into(),
            moves: vec![],
            commit: "abc".into(),
            branch: "main".into(),
        };
        let (c, errors) = compose(&single(event.clone()), Some(&t), 10, at());
        assert_eq!(errors.len(), 1);
        assert_eq!(c.text, event.text());
    }
}
