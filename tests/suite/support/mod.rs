//! Shared helpers for the integration tests and benchmarks: a real local registry
//! (Debian's `docker-registry`), a fault-injection fake registry, and real Git remotes.
#![allow(dead_code)]

pub mod daemon;
pub mod fake_forge;
pub mod fake_registry;
pub mod fleet;
pub mod git_server;
pub mod promotion;
pub mod registry;
pub mod reliability;
