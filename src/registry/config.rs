//! The `[registries."HOST"]` section as the registry client takes it, and its reader.

use std::path::PathBuf;
use std::time::Duration;

use super::AuthConfig;
use crate::common::settings::Table;

/// One `[registries."HOST"]` section.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RegistryConfig {
    /// The auth keys (`docker_config`, `username` + `password_file`, `token_file`, each
    /// method's own) and the method they configure.
    pub auth: AuthConfig,
    /// Speak plain HTTP: only for registries on a trusted network.
    pub insecure: bool,
    /// Extra CA certificate (PEM) to trust for this registry.
    pub ca_file: Option<PathBuf>,
    /// Request budget per minute, shared by every image on this registry.
    pub requests_per_minute: Option<u32>,
    /// Tags asked for per page (`n=`).
    pub page_size: Option<u32>,
    /// Most tags accepted from one repository before the scan fails.
    pub max_tags: Option<u32>,
    /// Largest reply body read from this registry, in bytes.
    pub max_response_bytes: Option<u64>,
    /// Total timeout of one request.
    pub timeout: Option<Duration>,
}

impl RegistryConfig {
    /// Reads one `[registries."HOST"]` section, reporting every problem.
    pub fn read(t: Table) -> RegistryConfig {
        let config = RegistryConfig {
            auth: AuthConfig::read(&t),
            insecure: t.bool("insecure").unwrap_or(false),
            ca_file: t.file_path("ca_file"),
            requests_per_minute: t
                .integer("requests_per_minute", 1, 100_000)
                .map(|n| n as u32),
            page_size: t.integer("page_size", 1, 10_000).map(|n| n as u32),
            max_tags: t.integer("max_tags", 1, 10_000_000).map(|n| n as u32),
            max_response_bytes: t.integer("max_response_bytes", 64 * 1024, 1 << 30),
            timeout: t.duration("timeout", Some(Duration::from_secs(1))),
        };
        t.finish();
        config
    }
}
