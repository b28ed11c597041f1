//! Shared helpers for the integration tests.

pub mod git_server;
