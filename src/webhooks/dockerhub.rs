//! Docker Hub repository webhooks: `push_data` and `repository.repo_name`; verified by token.

use super::payload::{
    Format, ParseError, Parsed, Payload, PushEvent, repository_name, text_at, valid_tag,
};
use crate::reference;

/// The DockerHub format.
pub struct DockerHub;

impl Format for DockerHub {
    fn parse(&self, payload: &Payload<'_>) -> Result<Parsed, ParseError> {
        let value = payload.value;
        let repository = repository_name(value, "repo_name")
            .ok_or_else(|| payload.missing("repository.repo_name"))?;
        if value.get("push_data").is_none() {
            return Err(payload.missing("push_data"));
        }
        Ok(Parsed::Pushes(vec![PushEvent {
            host: Some(reference::DOCKER_HUB.to_string()),
            repository,
            tag: valid_tag(text_at(value, &["push_data", "tag"])),
        }]))
    }
}

#[cfg(test)]
mod tests {
    use super::super::payload::test_support::*;
    use crate::webhooks::WebhookKind;

    #[test]
    fn dockerhub_payload() {
        let events = pushes(
            WebhookKind::DockerHub,
            &HeaderMap::new(),
            &fixture("dockerhub.json"),
        );
        assert_eq!(
            events,
            [push(
                Some("docker.io"),
                "example/checkout-api",
                Some("1.4.2")
            )]
        );
        // Older payloads without repo_name still name namespace and name.
        let body = br#"{"push_data": {"tag": "latest"}, "repository": {"namespace": "library", "name": "nginx"}}"#;
        let events = pushes(WebhookKind::DockerHub, &HeaderMap::new(), body);
        assert_eq!(
            events,
            [push(Some("docker.io"), "library/nginx", Some("latest"))]
        );
        let err = parse(
            WebhookKind::DockerHub,
            &HeaderMap::new(),
            br#"{"push_data": {}}"#,
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "the payload has no repository.repo_name: check that the hook's kind (dockerhub) matches the sender"
        );
    }
}
