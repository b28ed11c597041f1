//! The `[registries."HOST"]` section as the registry client takes it.

use std::path::PathBuf;
use std::time::Duration;

/// One `[registries."HOST"]` section.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RegistryConfig {
    /// A docker `config.json` with `auths`, `credsStore` or `credHelpers`.
    pub docker_config: Option<PathBuf>,
    /// User name for Basic or token auth; goes with `password_file`.
    pub username: Option<String>,
    /// File holding the password for `username`.
    pub password_file: Option<PathBuf>,
    /// File holding a bearer token.
    pub token_file: Option<PathBuf>,
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
