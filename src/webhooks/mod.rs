//! Registry webhooks: what a hook is configured with. The daemon serves them at
//! `POST /hooks/NAME` (`daemon::webhooks`).

mod config;

pub use config::{WebhookConfig, WebhookKind};
