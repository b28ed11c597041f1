//! An exclusive lock on the state directory, so two daemons never share one clone.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

/// Why the state directory could not be locked.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// The directory or the lock file could not be created.
    #[error("cannot create {path}: {source}: check daemon.state_dir and its permissions")]
    Create {
        /// The path at fault.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// Another process holds the lock.
    #[error(
        "another baton process is using the state directory {dir} (lock {path} is held): stop it or give this one its own daemon.state_dir"
    )]
    Held {
        /// The state directory.
        dir: PathBuf,
        /// The lock file.
        path: PathBuf,
    },
}

/// Holds `STATE_DIR/baton.lock` locked (flock) until dropped; the kernel releases it when the
/// process dies, so a crash leaves no stale lock behind.
#[derive(Debug)]
pub struct StateLock {
    _file: File,
    dir: PathBuf,
}

impl StateLock {
    /// Creates `dir` if needed and takes the lock without waiting.
    pub fn acquire(dir: &Path) -> Result<StateLock, LockError> {
        crate::git::create_private_dir(dir).map_err(|source| LockError::Create {
            path: dir.to_path_buf(),
            source,
        })?;
        let path = dir.join("baton.lock");
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|source| LockError::Create {
                path: path.clone(),
                source,
            })?;
        // SAFETY: flock on a file descriptor we own; no memory is shared with the call.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if rc != 0 {
            return Err(LockError::Held {
                dir: dir.to_path_buf(),
                path,
            });
        }
        Ok(StateLock {
            _file: file,
            dir: dir.to_path_buf(),
        })
    }

    /// The locked directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_on_the_same_directory_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let first = StateLock::acquire(dir.path()).unwrap();
        let err = StateLock::acquire(dir.path()).unwrap_err();
        assert!(err.to_string().contains("another baton process"), "{err}");
        drop(first);
        StateLock::acquire(dir.path()).unwrap();
    }
}
