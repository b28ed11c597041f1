//! Quay "Repository Push" notifications; verified by token.

use serde_json::Value;

use super::payload::{Format, ParseError, Parsed, Payload, PushEvent, host_of, text_at, valid_tag};

/// The Quay format.
pub struct Quay;

impl Format for Quay {
    fn parse(&self, payload: &Payload<'_>) -> Result<Parsed, ParseError> {
        let value = payload.value;
        // Quay sends every notification kind in one shape family; only "Repository Push"
        // carries `updated_tags` (a list, or a tag -> image id map in older versions).
        let Some(tags) = value.get("updated_tags") else {
            return Ok(Parsed::Ignored("not a repository push".to_string()));
        };
        let repository =
            text_at(value, &["repository"]).ok_or_else(|| payload.missing("repository"))?;
        let host = text_at(value, &["docker_url"]).and_then(host_of);
        let tags: Vec<Option<String>> = match tags {
            Value::Array(items) => items.iter().map(|t| valid_tag(t.as_str())).collect(),
            Value::Object(map) => map.keys().map(|t| valid_tag(Some(t))).collect(),
            _ => Vec::new(),
        };
        let tags = if tags.is_empty() { vec![None] } else { tags };
        Ok(Parsed::Pushes(
            tags.into_iter()
                .map(|tag| PushEvent {
                    host: host.clone(),
                    repository: repository.to_string(),
                    tag,
                })
                .collect(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::super::payload::test_support::*;
    use crate::webhooks::WebhookKind;

    #[test]
    fn quay_repository_push() {
        let events = pushes(WebhookKind::Quay, &HeaderMap::new(), &fixture("quay.json"));
        assert_eq!(
            events,
            [
                push(Some("quay.io"), "shop/web", Some("2.1.0")),
                push(Some("quay.io"), "shop/web", Some("latest")),
            ]
        );
        let events = pushes(
            WebhookKind::Quay,
            &HeaderMap::new(),
            &fixture("quay-legacy.json"),
        );
        assert_eq!(
            events,
            [push(Some("quay.example.com"), "shop/web", Some("2.1.1"))]
        );
        let build =
            br#"{"build_id": "296ec063", "repository": "shop/web", "docker_tags": ["latest"]}"#;
        assert_eq!(
            ignored(WebhookKind::Quay, &HeaderMap::new(), build),
            "not a repository push"
        );
    }
}
