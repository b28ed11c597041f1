//! The distribution registry's notification envelope (`docker-registry`, `registry:2`, GitLab's
//! container registry); verified by token.

use serde_json::Value;

use super::payload::{Format, ParseError, Parsed, Payload, PushEvent, text_at, valid_tag};

/// The Distribution format.
pub struct Distribution;

impl Format for Distribution {
    fn parse(&self, payload: &Payload<'_>) -> Result<Parsed, ParseError> {
        let value = payload.value;
        let events = value
            .get("events")
            .and_then(Value::as_array)
            .ok_or_else(|| payload.missing("events"))?;
        let mut pushes = Vec::new();
        for event in events {
            if text_at(event, &["action"]) != Some("push") {
                continue;
            }
            // Blob pushes and pushes by digest (the parts of a multi-arch image) carry no
            // tag; the tagged manifest push that follows is the one that matters.
            let Some(tag) = valid_tag(text_at(event, &["target", "tag"])) else {
                continue;
            };
            let repository = text_at(event, &["target", "repository"])
                .ok_or_else(|| payload.missing("target.repository"))?;
            pushes.push(PushEvent {
                host: text_at(event, &["request", "host"]).map(str::to_string),
                repository: repository.to_string(),
                tag: Some(tag),
            });
        }
        if pushes.is_empty() {
            return Ok(Parsed::Ignored("no tagged manifest push".to_string()));
        }
        Ok(Parsed::Pushes(pushes))
    }
}

#[cfg(test)]
mod tests {
    use super::super::payload::test_support::*;
    use crate::webhooks::WebhookKind;

    #[test]
    fn distribution_envelopes_from_the_real_registry() {
        let none = HeaderMap::new();
        let events = pushes(
            WebhookKind::Distribution,
            &none,
            &fixture("distribution-manifest.json"),
        );
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].repository, "shop/web");
        assert_eq!(events[0].tag.as_deref(), Some("1.0.0"));
        assert!(
            events[0]
                .host
                .as_deref()
                .is_some_and(|h| h.starts_with("127.0.0.1:")),
            "{events:?}"
        );
        assert_eq!(
            ignored(
                WebhookKind::Distribution,
                &none,
                &fixture("distribution-blob.json")
            ),
            "no tagged manifest push"
        );
        let events = pushes(WebhookKind::GitLab, &none, &fixture("gitlab.json"));
        assert_eq!(
            events,
            [push(
                Some("registry.gitlab.example.com"),
                "platform/fleet-tools/runner",
                Some("v3.2.0")
            )]
        );
        let pull =
            br#"{"events": [{"action": "pull", "target": {"repository": "a", "tag": "1"}}]}"#;
        assert_eq!(
            ignored(WebhookKind::Distribution, &none, pull),
            "no tagged manifest push"
        );
        let err = parse(WebhookKind::GitLab, &none, br#"{"event": []}"#).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the payload has no events: check that the hook's kind (gitlab) matches the sender"
        );
    }
}
