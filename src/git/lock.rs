//! One Baton at a time per state directory: an advisory `flock` on `STATE_DIR/baton.lock`,
//! released when the holder exits or crashes (the kernel drops it with the file descriptor).
//! It is the same file `baton run` locks for its lifetime, so a one-shot command never touches
//! the clone of a running daemon.

use std::fs::File;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::GitError;

/// The lock file inside the state directory (shared with the daemon's lock).
pub const LOCK_FILE: &str = "baton.lock";

/// An exclusive lock on a state directory, held until dropped.
#[derive(Debug)]
pub struct StateLock {
    _file: File,
    path: PathBuf,
}

impl StateLock {
    /// Takes the lock on `state_dir` (creating the directory), waiting up to `wait` while
    /// another process holds it. The holder's pid is written into the lock file so that the
    /// error can name it.
    pub async fn acquire(state_dir: &Path, wait: Duration) -> Result<StateLock, GitError> {
        crate::git::create_private_dir(state_dir).map_err(|source| GitError::Io {
            action: "cannot create state directory",
            path: state_dir.to_path_buf(),
            source,
        })?;
        let path = state_dir.join(LOCK_FILE);
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)
            .map_err(|source| GitError::Io {
                action: "cannot open lock file",
                path: path.clone(),
                source,
            })?;
        let started = Instant::now();
        let mut told = false;
        loop {
            // SAFETY: flock(2) on a descriptor this function owns; no memory effects.
            let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
            if rc == 0 {
                break;
            }
            let err = std::io::Error::last_os_error();
            if err.raw_os_error() != Some(libc::EWOULDBLOCK) {
                return Err(GitError::Io {
                    action: "cannot lock",
                    path,
                    source: err,
                });
            }
            let holder = std::fs::read_to_string(&path).unwrap_or_default();
            let holder = holder.trim();
            if started.elapsed() >= wait {
                return Err(GitError::Settings(format!(
                    "state directory {} is in use by another baton process{}; wait for it to finish, or give this command its own state directory, e.g. BATON_DAEMON__STATE_DIR=/var/tmp/baton-cli",
                    state_dir.display(),
                    if holder.is_empty() {
                        String::new()
                    } else {
                        format!(" (pid {holder})")
                    }
                )));
            }
            if !told {
                tracing::info!(state_dir = %state_dir.display(), holder = %holder, "waiting for another baton process using the state directory");
                told = true;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let mut file = file;
        // Best effort: the pid is only for messages.
        let _ = file.set_len(0);
        let _ = writeln!(file, "{}", std::process::id());
        Ok(StateLock { _file: file, path })
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn second_holder_waits_then_fails_naming_the_first() {
        let dir = tempfile::tempdir().unwrap();
        let first = StateLock::acquire(dir.path(), Duration::ZERO)
            .await
            .unwrap();
        // flock locks belong to the open file description: a second open conflicts even
        // within one process.
        let err = StateLock::acquire(dir.path(), Duration::from_millis(200))
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("in use by another baton process"), "{err}");
        assert!(err.contains(&std::process::id().to_string()), "{err}");
        drop(first);
        StateLock::acquire(dir.path(), Duration::ZERO)
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn a_running_daemon_excludes_one_shot_commands_and_back() {
        let dir = tempfile::tempdir().unwrap();
        let daemon = crate::daemon::lock::StateLock::acquire(dir.path()).unwrap();
        assert!(
            StateLock::acquire(dir.path(), Duration::ZERO)
                .await
                .is_err()
        );
        drop(daemon);
        let once = StateLock::acquire(dir.path(), Duration::ZERO)
            .await
            .unwrap();
        assert!(crate::daemon::lock::StateLock::acquire(dir.path()).is_err());
        drop(once);
    }
}
