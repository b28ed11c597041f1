//! The `[webhooks.NAME]` section and the kinds of hook Baton accepts.

use std::path::PathBuf;

use crate::common::kind::named_kinds;

named_kinds! {
    /// Which registry's webhook format a hook accepts, and so how it is verified.
    pub enum WebhookKind: "a webhook kind" {
        /// Docker Hub repository webhooks (`push_data`, `repository.repo_name`).
        DockerHub = "dockerhub",
        /// GitHub `package` and `registry_package` events for GHCR, signed with HMAC-SHA256.
        GitHub = "github",
        /// Harbor `PUSH_ARTIFACT` events, default or CloudEvents format.
        Harbor = "harbor",
        /// Quay "Repository Push" notifications.
        Quay = "quay",
        /// GitLab's container registry notifications (the distribution envelope).
        GitLab = "gitlab",
        /// The distribution registry's own notifications (`docker-registry`, `registry:2`).
        Distribution = "distribution",
        /// Baton's own minimal format: `{"repository": "...", "tag": "..."}`.
        Generic = "generic",
    }
}

/// One `[webhooks.NAME]` section: a registry webhook served at `POST /hooks/NAME`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookConfig {
    /// The payload format and verification scheme.
    pub kind: WebhookKind,
    /// File holding the shared secret (HMAC key or token).
    pub secret_file: PathBuf,
    /// `[images]` names this hook may trigger; `None` means every image.
    pub images: Option<Vec<String>>,
    /// Registry host that replaces the one named in payloads (a proxy or alias).
    pub registry: Option<String>,
}
