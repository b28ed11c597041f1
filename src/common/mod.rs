//! The bottom layer: small helpers every other part shares, one home each. Nothing here
//! imports another Baton module.

pub mod backoff;
pub mod http;
pub mod kind;
pub mod secret;
pub mod state_lock;
pub mod template;
pub mod text;
pub mod time;
