//! Registry failures: each names the registry, the repository and what to do,
//! and maps to a short kind used as a metrics label.

use crate::common::kind::named_kinds;
use std::time::Duration;

named_kinds! {
    /// Coarse class of a registry failure, stable for metrics labels.
    pub enum ErrorKind: "a registry error kind" {
        /// Credentials missing, refused, or unusable.
        Auth = "auth",
        /// Repository or tag does not exist.
        NotFound = "not_found",
        /// The registry asked us to slow down (429) beyond what we wait for.
        RateLimited = "rate_limited",
        /// Connect or request timeout.
        Timeout = "timeout",
        /// A reply or a tag list over the configured cap.
        TooLarge = "too_large",
        /// A reply that does not follow the distribution API.
        Malformed = "malformed",
        /// Connection, DNS or TLS failure.
        Network = "network",
        /// 5xx after retries, or another unexpected status.
        Server = "server",
        /// Settings or arguments refused before any request was made.
        Config = "config",
    }
}

/// A failure talking to one registry about one repository.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The registry or its token server refused our credentials (or their absence).
    #[error("{status} from {registry} for {repository}: {hint}")]
    Unauthorized {
        /// Registry host.
        registry: String,
        /// Repository path.
        repository: String,
        /// HTTP status (401 or 403).
        status: u16,
        /// What to check.
        hint: String,
    },
    /// Credentials could not be obtained (config file, helper).
    #[error("credentials for {registry} ({repository}): {detail}")]
    Credentials {
        /// Registry host.
        registry: String,
        /// Repository path.
        repository: String,
        /// What failed and what to do.
        detail: String,
    },
    /// The repository or tag is unknown to the registry.
    #[error(
        "{what} not found on {registry}: check the image name and tag, and that the credentials may read {repository}"
    )]
    NotFound {
        /// Registry host.
        registry: String,
        /// Repository path.
        repository: String,
        /// `repository example/app` or `tag example/app:1.0`.
        what: String,
    },
    /// 429 beyond the retries or the longest `Retry-After` we wait for.
    #[error("rate limited by {registry} for {repository}{}: poll less often (images.NAME.interval), set requests_per_minute under [registries.\"{registry}\"], or add credentials", retry_text(*retry_after))]
    RateLimited {
        /// Registry host.
        registry: String,
        /// Repository path.
        repository: String,
        /// The registry's `Retry-After`, when it sent one.
        retry_after: Option<Duration>,
    },
    /// A connect or request timeout, after retries.
    #[error("timed out talking to {registry} for {repository} (timeout {}s): check the network or raise the registry timeout", timeout.as_secs_f64())]
    Timeout {
        /// Registry host.
        registry: String,
        /// Repository path.
        repository: String,
        /// The total timeout in force.
        timeout: Duration,
    },
    /// A response body over `max_response_bytes`.
    #[error(
        "reply from {registry} for {repository} exceeds {limit} bytes: raise max_response_bytes under [registries.\"{registry}\"] if this registry is trusted"
    )]
    TooLarge {
        /// Registry host.
        registry: String,
        /// Repository path.
        repository: String,
        /// The cap in bytes.
        limit: u64,
    },
    /// More tags than `max_tags`.
    #[error(
        "{registry} lists more than {limit} tags for {repository}: raise max_tags for this registry or clean up old tags"
    )]
    TooManyTags {
        /// Registry host.
        registry: String,
        /// Repository path.
        repository: String,
        /// The cap.
        limit: usize,
    },
    /// A reply that breaks the distribution API.
    #[error(
        "malformed reply from {registry} for {repository}: {detail}: the registry may not speak the OCI distribution API; report it to its operator"
    )]
    Malformed {
        /// Registry host.
        registry: String,
        /// Repository path.
        repository: String,
        /// What was wrong (registry text escaped and shortened).
        detail: String,
    },
    /// Connection, DNS or TLS failure after retries.
    #[error(
        "cannot reach {registry} for {repository}: {detail}: check the address, the network, and the insecure / ca_file settings"
    )]
    Network {
        /// Registry host.
        registry: String,
        /// Repository path.
        repository: String,
        /// The transport error.
        detail: String,
    },
    /// 5xx after retries, or a status the API does not define here.
    #[error("{registry} answered {status} for {repository}{}: {hint}", attempts_text(*attempts))]
    Server {
        /// Registry host.
        registry: String,
        /// Repository path.
        repository: String,
        /// HTTP status.
        status: u16,
        /// Requests made for this call before giving up.
        attempts: u32,
        /// What to do.
        hint: String,
    },
    /// A tag has no manifest for the configured platform.
    #[error(
        "{registry}/{repository}:{tag} has no manifest for platform {platform} (it has: {present}): set the image's platform to one it has, or remove platform to pin the index digest"
    )]
    NoPlatform {
        /// Registry host.
        registry: String,
        /// Repository path.
        repository: String,
        /// The tag resolved.
        tag: String,
        /// The platform asked for.
        platform: String,
        /// The platforms the tag has, in words.
        present: String,
    },
    /// Settings or arguments refused before any request.
    #[error("registry {registry} ({repository}): {detail}")]
    Config {
        /// Registry host.
        registry: String,
        /// Repository path, or `-` when none applies.
        repository: String,
        /// What was refused and what to do.
        detail: String,
    },
}

fn retry_text(retry_after: Option<Duration>) -> String {
    match retry_after {
        Some(d) => format!(" (retry after {}s)", d.as_secs()),
        None => String::new(),
    }
}

fn attempts_text(attempts: u32) -> String {
    if attempts > 1 {
        format!(" after {attempts} attempts")
    } else {
        String::new()
    }
}

impl RegistryError {
    /// The failure's class, for metrics labels.
    pub fn kind(&self) -> ErrorKind {
        match self {
            RegistryError::Unauthorized { .. } | RegistryError::Credentials { .. } => {
                ErrorKind::Auth
            }
            RegistryError::NotFound { .. } | RegistryError::NoPlatform { .. } => {
                ErrorKind::NotFound
            }
            RegistryError::RateLimited { .. } => ErrorKind::RateLimited,
            RegistryError::Timeout { .. } => ErrorKind::Timeout,
            RegistryError::TooLarge { .. } | RegistryError::TooManyTags { .. } => {
                ErrorKind::TooLarge
            }
            RegistryError::Malformed { .. } => ErrorKind::Malformed,
            RegistryError::Network { .. } => ErrorKind::Network,
            RegistryError::Server { .. } => ErrorKind::Server,
            RegistryError::Config { .. } => ErrorKind::Config,
        }
    }
}

/// Makes registry-supplied text safe to show: control characters escaped,
/// at most `max` characters kept.
pub(crate) fn sanitize(text: &str, max: usize) -> String {
    let mut out = String::new();
    for (i, c) in text.chars().enumerate() {
        if i >= max {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_registry_repository_and_action() {
        let e = RegistryError::Unauthorized {
            registry: "ghcr.io".into(),
            repository: "example/app".into(),
            status: 401,
            hint: "check credentials in /etc/baton/docker.json".into(),
        };
        assert_eq!(
            e.to_string(),
            "401 from ghcr.io for example/app: check credentials in /etc/baton/docker.json"
        );
        assert_eq!(e.kind().as_str(), "auth");
        let e = RegistryError::RateLimited {
            registry: "docker.io".into(),
            repository: "library/nginx".into(),
            retry_after: Some(Duration::from_secs(3600)),
        };
        assert!(e.to_string().contains("retry after 3600s"));
        assert_eq!(e.kind(), ErrorKind::RateLimited);
        let e = RegistryError::Server {
            registry: "r".into(),
            repository: "a".into(),
            status: 503,
            attempts: 4,
            hint: "try later".into(),
        };
        assert_eq!(
            e.to_string(),
            "r answered 503 for a after 4 attempts: try later"
        );
    }

    #[test]
    fn sanitize_escapes_and_truncates() {
        assert_eq!(sanitize("1.0\n  evil: x", 100), "1.0\\n  evil: x");
        assert_eq!(sanitize(&"a".repeat(10), 4), "aaaa…");
    }
}
