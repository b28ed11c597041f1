//! Baton: Git-native image automation.
//!
//! The library holds every part (docs/ARCHITECTURE.md describes them) so that the binary, the
//! integration tests and the benchmarks share one implementation.

pub mod cli;
pub mod common;
pub mod config;
pub mod daemon;
pub mod forge;
pub mod git;
pub mod markers;
pub mod notify;
pub mod pass;
pub mod policy;
pub mod promotion;
pub mod reference;
pub mod registry;
