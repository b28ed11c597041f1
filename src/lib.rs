//! Baton: Git-native image automation.
//!
//! The library holds every part so that the binary, the integration tests and the
//! benchmarks share one implementation; docs/ARCHITECTURE.md describes how they fit.
//!
//! # Layers
//!
//! A module imports only from the layers below its own. `src/layers.rs`, a test that
//! `scripts/test` runs, reads this list and fails on any other `crate::` path with its file
//! and line.
//!
//! 1. `common`: shared helpers, one home each: secrets, the HTTP client, backoff, text, time, templates, named kinds, the state lock, the settings-file reader
//! 2. `reference`: the OCI reference grammar every tag and name is checked against
//! 3. `policy`, `markers`, `signature`: pure cores: choosing a tag; finding and editing marked references; checking cosign signatures
//! 4. `git`, `registry`, `forge`: the outside world: the clone and its history, registries, pull requests
//! 5. `promotion`, `notifications`, `webhooks`, `flux`, `eligibility`, `verification`: gates read from Git history, messages to people, registry hooks, Flux's image objects read from a fleet repository, per-tag judgements (age) kept in the state directory; verification checks and their verdicts
//! 6. `config`: assembles the file from the sections the layers below own and read, every error with its place
//! 7. `pass`: one pass over everything: scan, choose, gate, edit, commit, push, report
//! 8. `daemon`: `baton run`: scan tasks, the reconciler, reloads, the HTTP listener
//! 9. `cli`: the command line, one thin module per subcommand

pub mod cli;
pub mod common;
pub mod config;
pub mod daemon;
pub mod eligibility;
pub mod flux;
pub mod forge;
pub mod git;
pub mod markers;
pub mod notifications;
pub mod pass;
pub mod policy;
pub mod promotion;
pub mod reference;
pub mod registry;
pub mod signature;
pub mod verification;
pub mod webhooks;

#[cfg(test)]
mod layers;
