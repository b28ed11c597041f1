//! Shared helpers for the integration tests and benchmarks: a real local
//! registry (Debian's `docker-registry`) and a fault-injection fake.
#![allow(dead_code)]

pub mod fake_registry;
pub mod registry;
