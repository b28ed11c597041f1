//! Slack incoming webhooks: the text (escaped, so event data never becomes a mention or a
//! link) as a section block with a context line, POSTed to the URL kept in `url_file`.

use serde_json::{Value, json};

use super::kind::Sink;
use super::render::{Composed, truncate};

/// Slack refuses a section block text over 3000 characters.
pub(super) const SLACK_SECTION_MAX: usize = 3000;

/// `kind = "slack"`.
pub struct Slack;

impl Sink for Slack {
    fn payload(&self, composed: &Composed) -> Value {
        let text = slack_escape(&composed.text);
        let mut context = format!("baton · {} · {}", composed.event, composed.time);
        if let Some(link) = &composed.link {
            let link = slack_escape(link).replace('|', "%7C");
            context.push_str(&format!(" · <{link}|open the review>"));
        }
        json!({
            "text": text,
            "blocks": [
                {
                    "type": "section",
                    "text": {"type": "mrkdwn", "text": truncate(&text, SLACK_SECTION_MAX)},
                },
                {
                    "type": "context",
                    "elements": [{"type": "mrkdwn", "text": context}],
                },
            ],
        })
    }
}

/// Slack's mrkdwn escaping: event data can never become a mention or a link.
fn slack_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
