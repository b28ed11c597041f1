//! GitHub `package` and `registry_package` events for GHCR, signed with HMAC-SHA256; the JSON
//! may come form-encoded in a `payload` field.

use super::payload::{
    Format, ParseError, Parsed, Payload, PushEvent, Verification, host_of, text_at, valid_tag,
};
use crate::reference::Reference;

/// The GitHub format.
pub struct GitHub;

impl Format for GitHub {
    fn verification(&self) -> Verification {
        Verification::Signature
    }

    fn accepts_form(&self) -> bool {
        true
    }

    fn parse(&self, payload: &Payload<'_>) -> Result<Parsed, ParseError> {
        let value = payload.value;
        let headers = payload.headers;
        let event = headers
            .get("x-github-event")
            .and_then(|v| v.to_str().ok())
            .map(str::trim);
        let key = match event {
            Some("ping") => return Ok(Parsed::Ignored("ping".to_string())),
            Some("package") => "package",
            Some("registry_package") => "registry_package",
            Some(other) => return Ok(Parsed::Ignored(format!("{other} event"))),
            None if value.get("zen").is_some() => return Ok(Parsed::Ignored("ping".to_string())),
            None if value.get("registry_package").is_some() => "registry_package",
            None => "package",
        };
        let Some(package) = value.get(key).filter(|p| p.is_object()) else {
            return Err(payload.missing(if key == "package" {
                "package"
            } else {
                "registry_package"
            }));
        };
        let action = text_at(value, &["action"]).unwrap_or("");
        if !matches!(action, "published" | "updated") {
            return Ok(Parsed::Ignored(format!("package action {action:?}")));
        }
        let container = ["package_type", "ecosystem"].iter().any(|field| {
            text_at(package, &[field]).is_some_and(|t| {
                t.eq_ignore_ascii_case("container") || t.eq_ignore_ascii_case("docker")
            })
        });
        if !container {
            return Ok(Parsed::Ignored("not a container package".to_string()));
        }
        let metadata_tag = valid_tag(text_at(
            package,
            &["package_version", "container_metadata", "tag", "name"],
        ));
        // `package_url` is `ghcr.io/OWNER/NAME:TAG`, sometimes with nothing after the colon.
        let from_url = text_at(package, &["package_version", "package_url"])
            .map(|url| url.trim_end_matches(':'))
            .and_then(|url| {
                let reference = Reference::split(url);
                let host = host_of(reference.name)?;
                let path = reference.name[host.len() + 1..].to_string();
                Some((host, path, valid_tag(reference.tag)))
            });
        let (host, repository, url_tag) = match from_url {
            Some(parts) => parts,
            None => {
                let owner = text_at(package, &["owner", "login"])
                    .ok_or_else(|| payload.missing("package.owner.login"))?;
                let name =
                    text_at(package, &["name"]).ok_or_else(|| payload.missing("package.name"))?;
                ("ghcr.io".to_string(), format!("{owner}/{name}"), None)
            }
        };
        Ok(Parsed::Pushes(vec![PushEvent {
            host: Some(host.to_ascii_lowercase()),
            // GitHub keeps the owner's capitals; image names are lower case.
            repository: repository.to_ascii_lowercase(),
            tag: metadata_tag.or(url_tag),
        }]))
    }
}

#[cfg(test)]
mod tests {
    use super::super::payload::test_support::*;
    use crate::webhooks::WebhookKind;

    #[test]
    fn github_package_and_registry_package_events() {
        let h = headers(&[("x-github-event", "package")]);
        let events = pushes(WebhookKind::GitHub, &h, &fixture("github-package.json"));
        assert_eq!(
            events,
            [push(Some("ghcr.io"), "example/checkout-api", Some("1.4.2"))]
        );
        // `registry_package` (GitHub Apps) with the bare "ghcr.io/OWNER/NAME:" URL: the
        // tag comes from container_metadata.
        let h = headers(&[("x-github-event", "registry_package")]);
        let events = pushes(
            WebhookKind::GitHub,
            &h,
            &fixture("github-registry-package.json"),
        );
        assert_eq!(
            events,
            [push(Some("ghcr.io"), "example/checkout-api", Some("1.5.0"))]
        );
        // Without the header, the body says which event it is.
        let events = pushes(
            WebhookKind::GitHub,
            &HeaderMap::new(),
            &fixture("github-registry-package.json"),
        );
        assert_eq!(events[0].repository, "example/checkout-api");
    }

    #[test]
    fn github_events_that_are_not_container_pushes_are_ignored() {
        let ping = headers(&[("x-github-event", "ping")]);
        assert_eq!(
            ignored(WebhookKind::GitHub, &ping, &fixture("github-ping.json")),
            "ping"
        );
        assert_eq!(
            ignored(
                WebhookKind::GitHub,
                &HeaderMap::new(),
                &fixture("github-ping.json")
            ),
            "ping"
        );
        let push_event = headers(&[("x-github-event", "push")]);
        assert_eq!(
            ignored(
                WebhookKind::GitHub,
                &push_event,
                b"{\"ref\": \"refs/heads/main\"}"
            ),
            "push event"
        );
        let h = headers(&[("x-github-event", "package")]);
        let text = String::from_utf8(fixture("github-package.json")).unwrap();
        let npm = text.replace("\"CONTAINER\"", "\"npm\"");
        assert_eq!(
            ignored(WebhookKind::GitHub, &h, npm.as_bytes()),
            "not a container package"
        );
        let deleted = text.replace("\"published\"", "\"deleted\"");
        assert_eq!(
            ignored(WebhookKind::GitHub, &h, deleted.as_bytes()),
            "package action \"deleted\""
        );
        let err = parse(WebhookKind::GitHub, &h, b"{\"action\": \"published\"}").unwrap_err();
        assert!(err.to_string().contains("has no package"), "{err}");
    }

    #[test]
    fn github_form_encoded_payloads() {
        let json = fixture("github-package.json");
        let form: String = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("payload", std::str::from_utf8(&json).unwrap())
            .finish();
        let h = headers(&[
            ("x-github-event", "package"),
            ("content-type", "application/x-www-form-urlencoded"),
        ]);
        let events = pushes(WebhookKind::GitHub, &h, form.as_bytes());
        assert_eq!(
            events,
            [push(Some("ghcr.io"), "example/checkout-api", Some("1.4.2"))]
        );
        let err = parse(WebhookKind::GitHub, &h, b"other=1").unwrap_err();
        assert!(err.to_string().contains("no payload form field"), "{err}");
    }

    #[test]
    fn github_without_package_url_falls_back_to_owner_and_name() {
        let body = br#"{"action": "updated", "package": {"name": "Checkout-API", "package_type": "docker",
            "owner": {"login": "Example"},
            "package_version": {"container_metadata": {"tag": {"name": "", "digest": "sha256:00"}}}}}"#;
        let events = pushes(WebhookKind::GitHub, &HeaderMap::new(), body);
        assert_eq!(
            events,
            [push(Some("ghcr.io"), "example/checkout-api", None)]
        );
    }
}
