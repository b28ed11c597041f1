//! The bottom layer: small helpers every other part shares, one home each. Nothing here
//! imports another Baton module.

pub mod backoff;
pub mod http;
pub mod kind;
pub mod secret;
pub mod settings;
pub mod state_lock;
pub mod template;
pub mod text;
pub mod time;

/// Creates `dir` and any missing parent readable by Baton's user only (0700), so that outside
/// systemd (which makes the state directory 0700 itself) the clone and the askpass helper are
/// private too. Directories that exist are left as they are.
pub fn create_private_dir(dir: &std::path::Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}
