//! The `[webhooks.NAME]` section, its reader, and the kinds of hook Baton accepts.

use std::collections::BTreeSet;
use std::path::PathBuf;

use super::Format;
use crate::common::kind::named_kinds;
use crate::common::settings::Table;
use crate::common::text::unknown_name_hint;
use crate::reference::ImageName;

named_kinds! {
    /// Which registry's webhook format a hook accepts, and so how it is verified. Each kind
    /// names the [`Format`] that reads it: a new kind is a file beside this one and a line here.
    pub enum WebhookKind: "a webhook kind", fn format -> dyn Format {
        /// Docker Hub repository webhooks (`push_data`, `repository.repo_name`).
        DockerHub = "dockerhub" => super::dockerhub::DockerHub,
        /// GitHub `package` and `registry_package` events for GHCR, signed with HMAC-SHA256.
        GitHub = "github" => super::github::GitHub,
        /// Harbor `PUSH_ARTIFACT` events, default or CloudEvents format.
        Harbor = "harbor" => super::harbor::Harbor,
        /// Quay "Repository Push" notifications.
        Quay = "quay" => super::quay::Quay,
        /// GitLab's container registry notifications (the distribution envelope).
        GitLab = "gitlab" => super::distribution::Distribution,
        /// The distribution registry's own notifications (`docker-registry`, `registry:2`).
        Distribution = "distribution" => super::distribution::Distribution,
        /// Baton's own minimal format: `{"repository": "...", "tag": "..."}`.
        Generic = "generic" => super::generic::Generic,
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

impl WebhookConfig {
    /// Reads `[webhooks.NAME]`; `image_names` are the `[images]` names it may trigger, or
    /// `None` when a repository's rules may define more (the daemon then warns of a name
    /// neither defines once it has read them). `None` when it has errors (all reported).
    pub fn read(
        name: &str,
        t: Table,
        image_names: Option<&BTreeSet<String>>,
    ) -> Option<WebhookConfig> {
        // The name is a URL path segment (`/hooks/NAME`) and a metrics label.
        let name_ok = crate::common::text::is_plain_name(name, 64, b"");
        if !name_ok {
            t.error_at(
            t.path(),
            format!(
                "webhook name {name:?} is not usable in a URL: use up to 64 letters, digits, '-' and '_', starting with a letter or digit"
            ),
        );
        }
        let kinds = WebhookKind::ALL.map(WebhookKind::as_str);
        let kind = t
            .required_string(
                "kind",
                &format!("say which registry sends this hook: {}", kinds.join(", ")),
            )
            .and_then(|text| match text.parse::<WebhookKind>() {
                Ok(kind) => Some(kind),
                Err(why) => {
                    t.error("kind", why.to_string());
                    None
                }
            });
        let secret_file = t.required_file_path(
            "secret_file",
            "put the shared secret in a file readable only by baton and set secret_file",
        );
        let images = match t.string_list("images") {
            Some(items) if items.is_empty() => {
                t.error(
                "images",
                "list at least one [images] name, or remove images to let this hook trigger every image",
            );
                None
            }
            Some(items) => {
                let known: Vec<&str> = image_names
                    .into_iter()
                    .flatten()
                    .map(String::as_str)
                    .collect();
                let mut ok = true;
                for (image, path) in &items {
                    if image.trim().is_empty() {
                        ok = false;
                        t.error_at(path, "an empty name: give [images] names");
                    } else if image_names.is_some_and(|names| !names.contains(image)) {
                        ok = false;
                        let hint = unknown_name_hint(image, &known, "images");
                        t.error_at(
                            path,
                            format!("webhook names unknown image {image:?}: {hint}"),
                        );
                    }
                }
                ok.then(|| Some(items.into_iter().map(|(s, _)| s).collect()))
            }
            None => Some(None),
        };
        let registry = t.string("registry");
        let registry_ok = match &registry {
            Some(host) => {
                let valid = !host.is_empty()
                    && !host.contains('/')
                    && ImageName::parse(&format!("{host}/x"))
                        .is_ok_and(|name| name.registry == *host || host == "docker.io");
                if !valid {
                    t.error(
                    "registry",
                    format!(
                        "{host:?} is not a registry host: write it as in image names, e.g. \"registry.example.com:5000\""
                    ),
                );
                }
                valid
            }
            None => true,
        };
        t.finish();
        if !name_ok || !registry_ok {
            return None;
        }
        Some(WebhookConfig {
            kind: kind?,
            secret_file: secret_file?,
            images: images?,
            registry,
        })
    }
}
