//! The one lock on a state directory: an advisory `flock` on `STATE_DIR/baton.lock`, held
//! while a process uses the directory and released by the kernel when it exits or crashes.
//! Every holder (the daemon and one-shot commands alike) writes its pid into the file, so a
//! process that finds the lock taken can name the live holder at once.

use std::fs::File;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The lock file inside the state directory.
pub const LOCK_FILE: &str = "baton.lock";

/// The process holding a lock, as far as can be told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    /// Its pid, as written in the lock file.
    pub pid: u32,
    /// Its command line (`baton run --config ...`), when the process can be read.
    pub command: Option<String>,
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.command {
            Some(command) => write!(f, "pid {} ({command})", self.pid),
            None => write!(f, "pid {}", self.pid),
        }
    }
}

/// "another baton process" or the holder, for messages.
fn holder_text(holder: Option<&Holder>) -> String {
    match holder {
        Some(h) => format!("baton process {h}"),
        None => "another baton process".to_string(),
    }
}

/// Why a state directory could not be locked.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// The directory or the lock file could not be created or opened.
    #[error("cannot create {path}: {source}: check daemon.state_dir and its permissions")]
    Create {
        /// The path at fault.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// flock itself failed (not because another process holds the lock).
    #[error("cannot lock {path}: {source}")]
    Lock {
        /// The lock file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// Another process holds the lock and this one does not wait.
    #[error(
        "the state directory {dir} is in use by {}: stop it, or give this one its own daemon.state_dir",
        holder_text(.holder.as_ref())
    )]
    Held {
        /// The state directory.
        dir: PathBuf,
        /// Who holds it.
        holder: Option<Holder>,
    },
    /// Another process held the lock for as long as this one would wait.
    #[error(
        "the state directory {dir} is still in use by {} after waiting {}s: stop it, or run this command with its own state directory, e.g. BATON_DAEMON__STATE_DIR=/var/tmp/baton-cli",
        holder_text(.holder.as_ref()),
        .waited.as_secs()
    )]
    TimedOut {
        /// The state directory.
        dir: PathBuf,
        /// Who holds it.
        holder: Option<Holder>,
        /// How long this process waited.
        waited: Duration,
    },
}

/// An exclusive lock on a state directory, held until dropped.
#[derive(Debug)]
pub struct StateLock {
    _file: File,
    dir: PathBuf,
}

/// Opens (creating) `dir/baton.lock`.
fn open(dir: &Path) -> Result<(File, PathBuf), LockError> {
    super::create_private_dir(dir).map_err(|source| LockError::Create {
        path: dir.to_path_buf(),
        source,
    })?;
    let path = dir.join(LOCK_FILE);
    let file = File::options()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(&path)
        .map_err(|source| LockError::Create {
            path: path.clone(),
            source,
        })?;
    Ok((file, path))
}

/// Tries the lock once: `Ok(true)` when taken, `Ok(false)` when another holds it.
fn try_flock(file: &File, path: &Path) -> Result<bool, LockError> {
    // SAFETY: flock(2) on a descriptor the caller owns; no memory is shared with the call.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if rc == 0 {
        return Ok(true);
    }
    let err = std::io::Error::last_os_error();
    if err.raw_os_error() == Some(libc::EWOULDBLOCK) {
        Ok(false)
    } else {
        Err(LockError::Lock {
            path: path.to_path_buf(),
            source: err,
        })
    }
}

impl StateLock {
    /// Takes the lock on `dir` (creating the directory) without waiting; [`LockError::Held`]
    /// names the holder when another process has it.
    pub fn acquire(dir: &Path) -> Result<StateLock, LockError> {
        let (file, path) = open(dir)?;
        if !try_flock(&file, &path)? {
            return Err(LockError::Held {
                dir: dir.to_path_buf(),
                holder: StateLock::holder(dir),
            });
        }
        Ok(StateLock::taken(file, dir))
    }

    /// Takes the lock on `dir`, waiting up to `wait` while another process holds it. Before
    /// waiting, `waiting` is called once with the holder, so the caller can say at once what
    /// it waits for.
    pub async fn acquire_waiting(
        dir: &Path,
        wait: Duration,
        waiting: impl FnOnce(Option<&Holder>),
    ) -> Result<StateLock, LockError> {
        let (file, path) = open(dir)?;
        let started = Instant::now();
        let mut waiting = Some(waiting);
        while !try_flock(&file, &path)? {
            let holder = StateLock::holder(dir);
            if started.elapsed() >= wait {
                return Err(LockError::TimedOut {
                    dir: dir.to_path_buf(),
                    holder,
                    waited: started.elapsed(),
                });
            }
            if let Some(tell) = waiting.take() {
                tell(holder.as_ref());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(StateLock::taken(file, dir))
    }

    /// Records this process as the holder of a freshly taken lock.
    fn taken(mut file: File, dir: &Path) -> StateLock {
        // Best effort: the pid is only for messages.
        let _ = file.set_len(0);
        let _ = writeln!(file, "{}", std::process::id());
        let _ = file.flush();
        StateLock {
            _file: file,
            dir: dir.to_path_buf(),
        }
    }

    /// The locked directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Who holds the lock on `dir` according to its lock file: `None` when the file names
    /// no pid or a process that no longer exists (a holder that has not written yet).
    pub fn holder(dir: &Path) -> Option<Holder> {
        let text = std::fs::read_to_string(dir.join(LOCK_FILE)).ok()?;
        let pid: u32 = text.trim().parse().ok()?;
        let proc_dir = PathBuf::from(format!("/proc/{pid}"));
        if !proc_dir.exists() {
            return None;
        }
        let command = std::fs::read(proc_dir.join("cmdline"))
            .ok()
            .map(|raw| {
                raw.split(|b| *b == 0)
                    .filter(|a| !a.is_empty())
                    .map(|a| String::from_utf8_lossy(a).into_owned())
                    .collect::<Vec<_>>()
            })
            .filter(|args| !args.is_empty())
            .map(|mut args| {
                if let Some(name) = Path::new(&args[0]).file_name() {
                    args[0] = name.to_string_lossy().into_owned();
                }
                args.join(" ")
            });
        Some(Holder { pid, command })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_is_refused_naming_the_live_holder() {
        let dir = tempfile::tempdir().unwrap();
        let first = StateLock::acquire(dir.path()).unwrap();
        let err = StateLock::acquire(dir.path()).unwrap_err();
        let LockError::Held { holder, .. } = &err else {
            panic!("{err}");
        };
        let holder = holder.as_ref().expect("the holder is this process");
        assert_eq!(holder.pid, std::process::id());
        assert!(holder.command.is_some());
        assert!(
            err.to_string()
                .contains(&format!("baton process pid {}", std::process::id())),
            "{err}"
        );
        drop(first);
        StateLock::acquire(dir.path()).unwrap();
    }

    #[tokio::test]
    async fn a_waiter_says_whom_it_waits_for_at_once_then_gives_up() {
        let dir = tempfile::tempdir().unwrap();
        let first = StateLock::acquire(dir.path()).unwrap();
        let mut told = Vec::new();
        let err = StateLock::acquire_waiting(dir.path(), Duration::from_millis(300), |h| {
            told.push(h.map(|h| h.pid))
        })
        .await
        .unwrap_err();
        assert_eq!(told, vec![Some(std::process::id())]);
        assert!(matches!(err, LockError::TimedOut { .. }), "{err}");
        drop(first);
        let mut told = 0;
        StateLock::acquire_waiting(dir.path(), Duration::ZERO, |_| told += 1)
            .await
            .unwrap();
        assert_eq!(told, 0, "a free lock is taken without a word");
    }

    #[test]
    fn a_stale_pid_names_nobody() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(LOCK_FILE), "4194305\n").unwrap();
        assert_eq!(StateLock::holder(dir.path()), None);
        std::fs::write(dir.path().join(LOCK_FILE), "garbage").unwrap();
        assert_eq!(StateLock::holder(dir.path()), None);
    }
}
