//! Harbor `PUSH_ARTIFACT` events, in the default or the CloudEvents format; verified by token.

use serde_json::Value;

use super::payload::{
    Format, ParseError, Parsed, Payload, PushEvent, host_of, repository_name, text_at, valid_tag,
};

/// The Harbor format.
pub struct Harbor;

impl Format for Harbor {
    fn parse(&self, payload: &Payload<'_>) -> Result<Parsed, ParseError> {
        let value = payload.value;
        // Default format: {type, event_data}; CloudEvents format: {specversion, type, data}.
        let cloud = value.get("specversion").is_some();
        let event_type = text_at(value, &["type"]).ok_or_else(|| payload.missing("type"))?;
        if !matches!(event_type, "PUSH_ARTIFACT" | "harbor.artifact.pushed") {
            return Ok(Parsed::Ignored(format!("{event_type} event")));
        }
        let data = value
            .get(if cloud { "data" } else { "event_data" })
            .filter(|d| d.is_object())
            .ok_or_else(|| payload.missing(if cloud { "data" } else { "event_data" }))?;
        let repository = repository_name(data, "repo_full_name")
            .ok_or_else(|| payload.missing("event_data.repository.repo_full_name"))?;
        let resources = data
            .get("resources")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let mut events: Vec<PushEvent> = resources
            .iter()
            .map(|resource| PushEvent {
                host: text_at(resource, &["resource_url"]).and_then(host_of),
                repository: repository.clone(),
                tag: valid_tag(text_at(resource, &["tag"])),
            })
            .collect();
        if events.is_empty() {
            events.push(PushEvent {
                host: None,
                repository,
                tag: None,
            });
        }
        Ok(Parsed::Pushes(events))
    }
}

#[cfg(test)]
mod tests {
    use super::super::payload::test_support::*;
    use crate::webhooks::WebhookKind;

    #[test]
    fn harbor_default_and_cloudevents_formats() {
        let events = pushes(
            WebhookKind::Harbor,
            &HeaderMap::new(),
            &fixture("harbor.json"),
        );
        assert_eq!(
            events,
            [push(Some("harbor.example.com"), "shop/web", Some("2.0.1"))]
        );
        let events = pushes(
            WebhookKind::Harbor,
            &HeaderMap::new(),
            &fixture("harbor-cloudevents.json"),
        );
        assert_eq!(
            events,
            [push(Some("harbor.example.com"), "shop/web", Some("2.0.2"))]
        );
        // A push by digest: Harbor puts the digest where the tag goes.
        let text = String::from_utf8(fixture("harbor.json")).unwrap();
        let by_digest = text.replace(
            "\"tag\": \"2.0.1\"",
            "\"tag\": \"sha256:76525f02955aec223342400a080c73024c995c9db1ba2eabf7505cf3bdf3f1f0\"",
        );
        let events = pushes(WebhookKind::Harbor, &HeaderMap::new(), by_digest.as_bytes());
        assert_eq!(events[0].tag, None);
        let pull = text.replace("PUSH_ARTIFACT", "PULL_ARTIFACT");
        assert_eq!(
            ignored(WebhookKind::Harbor, &HeaderMap::new(), pull.as_bytes()),
            "PULL_ARTIFACT event"
        );
        let err = parse(
            WebhookKind::Harbor,
            &HeaderMap::new(),
            br#"{"type": "PUSH_ARTIFACT", "event_data": {"resources": []}}"#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("repo_full_name"), "{err}");
    }
}
