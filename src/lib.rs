//! Baton: Git-native image automation.
//!
//! The library holds every part named in DESIGN.md so that the binary, the
//! integration tests and the benchmarks share one implementation.

pub mod git;
pub mod reference;
