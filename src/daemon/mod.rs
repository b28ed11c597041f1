//! The long-running daemon: scheduling, reloads, signals, systemd and the HTTP listener.
//!
//! `baton run` builds on these parts; each is usable and tested on its own.

pub mod events;
pub mod http;
pub mod metrics;
pub mod status;
pub mod systemd;
pub mod webhooks;
