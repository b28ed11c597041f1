//! OCI reference grammar shared by every part: tags, digests and image names.
//!
//! Nothing from a registry reaches a file unless it passes these checks first.

use std::fmt;

/// Longest tag the OCI distribution spec allows.
pub const MAX_TAG_LEN: usize = 128;

/// Docker Hub's registry host as written in image names.
pub const DOCKER_HUB: &str = "docker.io";

/// Host that actually serves Docker Hub's registry API.
pub const DOCKER_HUB_API: &str = "registry-1.docker.io";

/// True when `tag` matches the OCI tag grammar `[A-Za-z0-9_][A-Za-z0-9._-]{0,127}`.
pub fn is_valid_tag(tag: &str) -> bool {
    let bytes = tag.as_bytes();
    if bytes.is_empty() || bytes.len() > MAX_TAG_LEN {
        return false;
    }
    let first_ok = bytes[0].is_ascii_alphanumeric() || bytes[0] == b'_';
    first_ok
        && bytes[1..]
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

/// True when `digest` is `sha256:` followed by exactly 64 lower-case hex digits.
pub fn is_valid_digest(digest: &str) -> bool {
    match digest.strip_prefix("sha256:") {
        Some(hex) => {
            hex.len() == 64
                && hex
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        }
        None => false,
    }
}

/// True when `name` is a valid repository path (`a/b-c/d_e`), as the
/// distribution spec defines path components.
pub fn is_valid_repository_path(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && name.split('/').all(|component| {
            let b = component.as_bytes();
            !b.is_empty()
                && b[0].is_ascii_lowercase() | b[0].is_ascii_digit()
                && b[b.len() - 1].is_ascii_lowercase() | b[b.len() - 1].is_ascii_digit()
                && valid_separators(component)
        })
}

/// A path component is `[a-z0-9]+` joined by `.`, `_`, `__` or any run of `-`.
fn valid_separators(component: &str) -> bool {
    let mut previous: Option<u8> = None;
    let mut underscores = 0;
    for b in component.bytes() {
        match b {
            b'a'..=b'z' | b'0'..=b'9' => underscores = 0,
            b'-' => {
                if matches!(previous, Some(b'.' | b'_')) {
                    return false;
                }
            }
            b'.' => {
                if matches!(previous, Some(b'.' | b'_' | b'-')) {
                    return false;
                }
            }
            b'_' => {
                underscores += 1;
                if underscores > 2 || matches!(previous, Some(b'.' | b'-')) {
                    return false;
                }
            }
            _ => return false,
        }
        previous = Some(b);
    }
    true
}

/// A parsed image name: the registry that serves it and the repository path
/// inside that registry, with Docker Hub's shorthand expanded.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ImageName {
    /// Registry host as written (`ghcr.io`, `localhost:5000`, `docker.io`).
    pub registry: String,
    /// Repository path inside the registry (`example/app`, `library/nginx`).
    pub repository: String,
}

/// Why an image name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// The name was empty.
    #[error("image name is empty")]
    Empty,
    /// The name carries a tag or digest where only a repository belongs.
    #[error("image name {0:?} carries a tag or digest: write the repository only")]
    HasTagOrDigest(String),
    /// The repository path breaks the distribution spec's grammar.
    #[error(
        "image name {0:?} is not a valid repository: use lower-case letters, digits and . _ - separated by /"
    )]
    InvalidPath(String),
}

impl ImageName {
    /// Parses `ghcr.io/example/app`, `localhost:5000/app`, `nginx` (Docker Hub)
    /// or `docker.io/nginx`; refuses a name that carries a tag or digest.
    pub fn parse(name: &str) -> Result<Self, NameError> {
        let name = name.trim();
        if name.is_empty() {
            return Err(NameError::Empty);
        }
        if name.contains('@') {
            return Err(NameError::HasTagOrDigest(name.to_string()));
        }
        let (registry, path) = match name.split_once('/') {
            Some((first, rest)) if looks_like_host(first) => (first.to_string(), rest.to_string()),
            _ => (DOCKER_HUB.to_string(), name.to_string()),
        };
        if path.contains(':') {
            return Err(NameError::HasTagOrDigest(name.to_string()));
        }
        let registry = if registry == "index.docker.io" || registry == DOCKER_HUB_API {
            DOCKER_HUB.to_string()
        } else {
            registry
        };
        let repository = if registry == DOCKER_HUB && !path.contains('/') {
            format!("library/{path}")
        } else {
            path
        };
        if !is_valid_repository_path(&repository) {
            return Err(NameError::InvalidPath(name.to_string()));
        }
        Ok(ImageName {
            registry,
            repository,
        })
    }

    /// The host that serves the registry API for this name
    /// (`docker.io` is served by `registry-1.docker.io`).
    pub fn api_host(&self) -> &str {
        if self.registry == DOCKER_HUB {
            DOCKER_HUB_API
        } else {
            &self.registry
        }
    }
}

impl fmt::Display for ImageName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)
    }
}

/// The first component of a name is a registry host when it has a dot or a
/// port, or is `localhost`, as Docker decides it.
fn looks_like_host(first: &str) -> bool {
    first.contains('.') || first.contains(':') || first == "localhost"
}

/// A full image reference as written in a manifest: name, optional tag,
/// optional digest (`repo:tag@sha256:...`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference<'a> {
    /// Everything before the tag or digest, exactly as written.
    pub name: &'a str,
    /// The tag, when present.
    pub tag: Option<&'a str>,
    /// The digest, when present.
    pub digest: Option<&'a str>,
}

impl<'a> Reference<'a> {
    /// Splits a written reference into name, tag and digest without
    /// normalising anything, so that an edit can keep the name's spelling.
    pub fn split(text: &'a str) -> Self {
        let (rest, digest) = match text.split_once('@') {
            Some((rest, digest)) => (rest, Some(digest)),
            None => (text, None),
        };
        // A tag follows the last colon only if that colon is after the last slash
        // (so `localhost:5000/app` has no tag).
        let last_slash = rest.rfind('/');
        match rest.rfind(':') {
            Some(colon) if last_slash.is_none_or(|slash| colon > slash) => Reference {
                name: &rest[..colon],
                tag: Some(&rest[colon + 1..]),
                digest,
            },
            _ => Reference {
                name: rest,
                tag: None,
                digest,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags() {
        assert!(is_valid_tag("1.2.3"));
        assert!(is_valid_tag("v1.2.3-rc.1"));
        assert!(is_valid_tag("_x"));
        assert!(is_valid_tag(&"a".repeat(128)));
        assert!(!is_valid_tag(&"a".repeat(129)));
        assert!(!is_valid_tag(""));
        assert!(!is_valid_tag("-x"));
        assert!(!is_valid_tag(".x"));
        assert!(!is_valid_tag("1.0\n  evil: x"));
        assert!(!is_valid_tag("../x"));
        assert!(!is_valid_tag("a b"));
        assert!(!is_valid_tag("a#b"));
        assert!(!is_valid_tag("é"));
    }

    #[test]
    fn digests() {
        let ok = format!("sha256:{}", "a1".repeat(32));
        assert!(is_valid_digest(&ok));
        assert!(!is_valid_digest(&ok.to_uppercase()));
        assert!(!is_valid_digest("sha256:abc"));
        assert!(!is_valid_digest(&format!("sha512:{}", "a".repeat(64))));
        assert!(!is_valid_digest(&format!("sha256:{}", "g".repeat(64))));
        assert!(!is_valid_digest(""));
    }

    #[test]
    fn names() {
        let n = ImageName::parse("nginx").unwrap();
        assert_eq!(
            (n.registry.as_str(), n.repository.as_str()),
            ("docker.io", "library/nginx")
        );
        assert_eq!(n.api_host(), "registry-1.docker.io");
        let n = ImageName::parse("docker.io/nginx").unwrap();
        assert_eq!(n.repository, "library/nginx");
        let n = ImageName::parse("bitnami/redis").unwrap();
        assert_eq!(
            (n.registry.as_str(), n.repository.as_str()),
            ("docker.io", "bitnami/redis")
        );
        let n = ImageName::parse("ghcr.io/example/checkout-api").unwrap();
        assert_eq!(
            (n.registry.as_str(), n.repository.as_str()),
            ("ghcr.io", "example/checkout-api")
        );
        assert_eq!(n.api_host(), "ghcr.io");
        let n = ImageName::parse("localhost:5000/app").unwrap();
        assert_eq!(
            (n.registry.as_str(), n.repository.as_str()),
            ("localhost:5000", "app")
        );
        let n = ImageName::parse("localhost/app").unwrap();
        assert_eq!(n.registry, "localhost");
        assert_eq!(ImageName::parse(""), Err(NameError::Empty));
        assert!(matches!(
            ImageName::parse("nginx:1.0"),
            Err(NameError::HasTagOrDigest(_))
        ));
        assert!(matches!(
            ImageName::parse("a/b@sha256:x"),
            Err(NameError::HasTagOrDigest(_))
        ));
        assert!(matches!(
            ImageName::parse("ghcr.io/Example/App"),
            Err(NameError::InvalidPath(_))
        ));
        assert!(matches!(
            ImageName::parse("ghcr.io/a//b"),
            Err(NameError::InvalidPath(_))
        ));
        assert!(ImageName::parse("ghcr.io/a__b/c.d-e").is_ok());
        assert!(ImageName::parse("ghcr.io/a___b").is_err());
    }

    #[test]
    fn split_references() {
        let r = Reference::split("localhost:5000/app:1.0");
        assert_eq!(
            (r.name, r.tag, r.digest),
            ("localhost:5000/app", Some("1.0"), None)
        );
        let r = Reference::split("localhost:5000/app");
        assert_eq!(
            (r.name, r.tag, r.digest),
            ("localhost:5000/app", None, None)
        );
        let r = Reference::split("nginx");
        assert_eq!((r.name, r.tag), ("nginx", None));
        let d = format!("sha256:{}", "0".repeat(64));
        let text = format!("ghcr.io/a/b:1.2@{d}");
        let r = Reference::split(&text);
        assert_eq!(
            (r.name, r.tag, r.digest),
            ("ghcr.io/a/b", Some("1.2"), Some(d.as_str()))
        );
        let text = format!("ghcr.io/a/b@{d}");
        let r = Reference::split(&text);
        assert_eq!(
            (r.name, r.tag, r.digest),
            ("ghcr.io/a/b", None, Some(d.as_str()))
        );
    }
}
