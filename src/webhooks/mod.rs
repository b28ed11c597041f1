//! Registry webhooks: what a hook is configured with, each registry's payload format, how a
//! request is verified and which images a push names. The daemon serves them at
//! `POST /hooks/NAME` (`daemon::webhooks`).

mod config;
mod matching;
mod payload;
mod verify;

// The formats, one file each, registered in the `WebhookKind` list in `config.rs`.
mod distribution;
mod dockerhub;
mod generic;
mod github;
mod harbor;
mod quay;

pub use config::{WebhookConfig, WebhookKind};
pub use matching::{matches, normalise_host};
pub use payload::{Format, ParseError, Parsed, PushEvent, Verification, parse};
pub use verify::{SIGNATURE_HEADER, TOKEN_HEADER, TOKEN_QUERY, VerifyError, verify, verify_token};
