//! The long-running daemon: scheduling, reloads, signals, systemd and the HTTP listener.
//!
//! `baton run` calls [`run`]. One task per image scans on the image's interval
//! ([`scheduler`]), results and choices are cached in [`state`], and one reconciler task
//! ([`reconcile`]) runs a pass whenever a choice changed, the configuration was reloaded or
//! `git.interval` passed, so Git writes are serialized. The main loop ([`run`]) handles
//! signals, configuration reloads and the systemd watchdog.

pub mod board;
pub mod events;
pub mod http;
pub mod metrics;
pub mod reconcile;
pub mod run;
pub mod scheduler;
pub mod state;
pub mod status;
pub mod systemd;
pub mod webhooks;

pub use run::{DaemonOptions, run};
