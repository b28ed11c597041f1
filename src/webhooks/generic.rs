//! Baton's own minimal format, `{"repository": "...", "tag": "..."}`; verified by a signature
//! when one is sent, by token otherwise.

use super::payload::{
    Format, ParseError, Parsed, Payload, PushEvent, Verification, text_at, valid_tag,
};
use crate::reference::ImageName;

/// The Generic format.
pub struct Generic;

impl Format for Generic {
    fn verification(&self) -> Verification {
        Verification::SignatureOrToken
    }

    fn parse(&self, payload: &Payload<'_>) -> Result<Parsed, ParseError> {
        let value = payload.value;
        let text = text_at(value, &["repository"]).ok_or_else(|| payload.missing("repository"))?;
        let name = ImageName::parse(text)?;
        Ok(Parsed::Pushes(vec![PushEvent {
            host: Some(name.registry),
            repository: name.repository,
            tag: valid_tag(text_at(value, &["tag"])),
        }]))
    }
}

#[cfg(test)]
mod tests {
    use super::super::payload::test_support::*;
    use crate::webhooks::WebhookKind;

    #[test]
    fn generic_payload() {
        let none = HeaderMap::new();
        let events = pushes(
            WebhookKind::Generic,
            &none,
            br#"{"repository": "registry.example.com:5000/shop/web", "tag": "3.0.0"}"#,
        );
        assert_eq!(
            events,
            [push(
                Some("registry.example.com:5000"),
                "shop/web",
                Some("3.0.0")
            )]
        );
        let events = pushes(WebhookKind::Generic, &none, br#"{"repository": "nginx"}"#);
        assert_eq!(events, [push(Some("docker.io"), "library/nginx", None)]);
        let err = parse(
            WebhookKind::Generic,
            &none,
            br#"{"repository": "Shop/Web"}"#,
        )
        .unwrap_err();
        assert!(matches!(err, ParseError::Name(_)), "{err}");
        let err = parse(WebhookKind::Generic, &none, br#"{"tag": "1"}"#).unwrap_err();
        assert!(err.to_string().contains("has no repository"), "{err}");
    }
}
