//! Which configured image a push names: hosts compared in one normal form, Docker Hub's
//! aliases and `library/` shorthand expanded.

use super::PushEvent;
use crate::reference::{self, ImageName};

/// A registry host in a comparable form: lower case, no scheme, no default HTTPS port,
/// Docker Hub's aliases folded into `docker.io`.
pub fn normalise_host(host: &str) -> String {
    let host = host
        .trim()
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    let host = host.strip_suffix(":443").unwrap_or(&host).to_string();
    match host.as_str() {
        "index.docker.io"
        | "registry-1.docker.io"
        | "registry.hub.docker.com"
        | "hub.docker.com" => reference::DOCKER_HUB.to_string(),
        _ => host,
    }
}

/// True when `event` is a push to `image`. The repository must be equal (Docker Hub's
/// `library/` shorthand expanded); the host too, when the event names one. `registry`
/// (the hook's `registry` key) replaces the event's host.
pub fn matches(event: &PushEvent, registry: Option<&str>, image: &ImageName) -> bool {
    let host = registry
        .or(event.host.as_deref())
        .map(normalise_host)
        .filter(|h| !h.is_empty());
    let mut repository = event
        .repository
        .trim()
        .trim_matches('/')
        .to_ascii_lowercase();
    let on_hub = host.as_deref() == Some(reference::DOCKER_HUB)
        || (host.is_none() && image.registry == reference::DOCKER_HUB);
    if on_hub && !repository.contains('/') {
        repository = format!("library/{repository}");
    }
    if repository != image.repository {
        return false;
    }
    match host {
        None => true,
        Some(host) => {
            host == normalise_host(&image.registry) || host == normalise_host(image.api_host())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::payload::test_support::*;
    use super::*;

    fn image(name: &str) -> ImageName {
        ImageName::parse(name).unwrap()
    }

    #[test]
    fn matching_by_repository_and_host() {
        let ghcr = image("ghcr.io/example/checkout-api");
        let hub = image("nginx");
        let local = image("127.0.0.1:5000/shop/web");
        assert!(matches(
            &push(Some("ghcr.io"), "example/checkout-api", None),
            None,
            &ghcr
        ));
        assert!(matches(
            &push(None, "example/checkout-api", None),
            None,
            &ghcr
        ));
        assert!(matches(
            &push(Some("GHCR.io:443"), "Example/Checkout-API", None),
            None,
            &ghcr
        ));
        assert!(!matches(
            &push(Some("docker.io"), "example/checkout-api", None),
            None,
            &ghcr
        ));
        assert!(!matches(
            &push(Some("ghcr.io"), "example/checkout", None),
            None,
            &ghcr
        ));
        // Docker Hub's shorthand and aliases.
        assert!(matches(&push(Some("docker.io"), "nginx", None), None, &hub));
        assert!(matches(
            &push(Some("index.docker.io"), "library/nginx", None),
            None,
            &hub
        ));
        assert!(matches(&push(None, "nginx", None), None, &hub));
        assert!(matches(
            &push(Some("registry-1.docker.io"), "library/nginx", None),
            None,
            &hub
        ));
        assert!(!matches(&push(Some("quay.io"), "nginx", None), None, &hub));
        // A registry known under another name: the hook's `registry` decides.
        let aliased = push(Some("registry.internal:5000"), "shop/web", Some("1"));
        assert!(!matches(&aliased, None, &local));
        assert!(matches(&aliased, Some("127.0.0.1:5000"), &local));
        assert!(matches(
            &push(Some("127.0.0.1:5000"), "shop/web", None),
            None,
            &local
        ));
    }
}
