//! Per-registry settings built from Baton's config: credentials, TLS, limits and timeouts.

use std::path::PathBuf;
use std::time::Duration;

use super::Credentials;
use crate::common::secret::SecretFileError;

/// Default number of tags asked for per page (`n=`).
pub const DEFAULT_PAGE_SIZE: u32 = 1000;
/// Page size used after a registry refused the configured one (Quay, GHCR, Docker Hub cap at 100).
pub const FALLBACK_PAGE_SIZE: u32 = 100;
/// Default cap on tags per repository.
pub const DEFAULT_MAX_TAGS: usize = 100_000;
/// Default cap on one response body.
pub const DEFAULT_MAX_RESPONSE_BYTES: u64 = 16 * 1024 * 1024;

/// Settings for one registry host: transport, credentials and limits.
#[derive(Debug, Clone)]
pub struct RegistrySettings {
    /// Speak plain HTTP instead of HTTPS (also allows an `http://` token realm).
    pub insecure: bool,
    /// Extra PEM CA certificates trusted for this registry, on top of the system roots.
    pub ca_file: Option<PathBuf>,
    /// Where credentials come from.
    pub credentials: Credentials,
    /// Directory holding `docker-credential-<name>` helpers; `None` searches `PATH`.
    pub credential_helper_dir: Option<PathBuf>,
    /// Requests per minute this registry may receive from Baton (token bucket); `None` is unlimited.
    pub request_budget_per_minute: Option<u32>,
    /// Tags asked for per page (`n=`).
    pub page_size: u32,
    /// Most tags accepted for one repository before listing fails.
    pub max_tags: usize,
    /// Most bytes accepted in one response body.
    pub max_response_bytes: u64,
    /// Time allowed to open a connection.
    pub connect_timeout: Duration,
    /// Time allowed for one whole request, body included.
    pub timeout: Duration,
    /// Retries after a 429, a 5xx or a network error, per request.
    pub max_retries: u32,
    /// First backoff delay; doubles per retry, with jitter.
    pub retry_base_delay: Duration,
    /// Longest `Retry-After` honoured; a longer one fails at once as rate limited.
    pub max_retry_after: Duration,
}

impl Default for RegistrySettings {
    fn default() -> Self {
        RegistrySettings {
            insecure: false,
            ca_file: None,
            credentials: Credentials::anonymous(),
            credential_helper_dir: None,
            request_budget_per_minute: None,
            page_size: DEFAULT_PAGE_SIZE,
            max_tags: DEFAULT_MAX_TAGS,
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            connect_timeout: Duration::from_secs(10),
            timeout: Duration::from_secs(30),
            max_retries: 3,
            retry_base_delay: Duration::from_millis(500),
            max_retry_after: Duration::from_secs(60),
        }
    }
}

impl RegistrySettings {
    /// Settings for one registry from its `[registries."HOST"]` section (or the
    /// defaults when there is none), reading password and token files now so that
    /// a missing or empty secret file is reported before any request.
    pub fn from_config(
        section: Option<&super::RegistryConfig>,
    ) -> Result<RegistrySettings, SecretFileError> {
        let mut settings = RegistrySettings::default();
        let Some(section) = section else {
            return Ok(settings);
        };
        settings.insecure = section.insecure;
        settings.ca_file = section.ca_file.clone();
        settings.request_budget_per_minute = section.requests_per_minute;
        if let Some(page_size) = section.page_size {
            settings.page_size = page_size;
        }
        if let Some(max_tags) = section.max_tags {
            settings.max_tags = max_tags as usize;
        }
        if let Some(limit) = section.max_response_bytes {
            settings.max_response_bytes = limit;
        }
        if let Some(timeout) = section.timeout {
            settings.timeout = timeout;
        }
        settings.credentials = section.auth.load()?;
        Ok(settings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::secret::Secret;

    #[test]
    fn secret_never_prints() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s}"), "***");
        assert_eq!(format!("{s:?}"), "***");
        let c = Credentials::password("alice", s.clone());
        assert!(!format!("{c:?}").contains("hunter2"));
        let settings = RegistrySettings {
            credentials: Credentials::bearer(s),
            ..Default::default()
        };
        assert!(!format!("{settings:?}").contains("hunter2"));
    }

    #[test]
    fn defaults() {
        let s = RegistrySettings::default();
        assert_eq!(s.page_size, 1000);
        assert_eq!(s.max_tags, 100_000);
        assert!(!s.insecure);
        assert!(s.credentials.describe().contains("no credentials"));
    }
}
