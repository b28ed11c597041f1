//! Shared helpers at the bottom of the layers: each has one home here and imports nothing
//! from the rest of the crate.

pub mod state_lock;
