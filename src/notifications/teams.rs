//! Microsoft Teams incoming webhooks and Workflows triggers: an Adaptive Card (title,
//! text, a context line, a button for a review) POSTed to the URL kept in `url_file`.

use serde_json::{Value, json};

use super::kind::Sink;
use super::render::Composed;

/// `kind = "teams"`.
pub struct Teams;

impl Sink for Teams {
    fn payload(&self, composed: &Composed) -> Value {
        let (title, rest) = match composed.text.split_once('\n') {
            Some((title, rest)) => (teams_escape(title), teams_escape(rest.trim())),
            None => (teams_escape(&composed.text), String::new()),
        };
        let mut body = vec![json!({
            "type": "TextBlock",
            "text": title,
            "weight": "Bolder",
            "size": "Medium",
            "wrap": true,
        })];
        if !rest.is_empty() {
            body.push(json!({"type": "TextBlock", "text": rest, "wrap": true}));
        }
        body.push(json!({
            "type": "TextBlock",
            "text": format!("baton · {} · {}", composed.event, composed.time),
            "isSubtle": true,
            "size": "Small",
            "wrap": true,
        }));
        let mut card = json!({
            "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
            "type": "AdaptiveCard",
            "version": "1.4",
            "msteams": {"width": "Full"},
            "body": body,
        });
        if let Some(link) = &composed.link {
            card["actions"] = json!([
                {"type": "Action.OpenUrl", "title": "Open the review", "url": link}
            ]);
        }
        json!({
            "type": "message",
            "attachments": [{
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": null,
                "content": card,
            }],
        })
    }
}

/// Teams' Markdown (Adaptive Card TextBlock: emphasis, links, lists) escaped with
/// backslashes, so event data (a registry's error text, a git hook's message) shows as
/// written and never becomes a link or formatting.
fn teams_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for (n, line) in text.split('\n').enumerate() {
        if n > 0 {
            out.push('\n');
        }
        let body = line.trim_start();
        out.push_str(&line[..line.len() - body.len()]);
        // A line starting like a list item: `- `, `+ `, `1. `.
        let digits = body.chars().take_while(char::is_ascii_digit).count();
        let bytes = body.as_bytes();
        let spaced = |at: usize| bytes.get(at + 1).is_none_or(|b| *b == b' ');
        let list_mark = match bytes.get(digits) {
            Some(b'-' | b'+') if digits == 0 && spaced(0) => Some(0),
            Some(b'.') if digits > 0 && spaced(digits) => Some(digits),
            _ => None,
        };
        for (i, c) in body.chars().enumerate() {
            if matches!(c, '\\' | '*' | '_' | '[' | ']' | '~' | '`') || list_mark == Some(i) {
                out.push('\\');
            }
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::teams_escape;

    #[test]
    fn list_marks_are_escaped_only_where_they_start_a_list() {
        assert_eq!(
            teams_escape("- a\n  1. b\n3.0 c-d"),
            "\\- a\n  1\\. b\n3.0 c-d"
        );
    }
}
