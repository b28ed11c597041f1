//! The Git layer: a clone kept in the state directory, commits built in-process with gix from
//! edited files, pushes and fetches through the system `git` in a controlled environment.
//!
//! Network operations (clone, fetch, push, ls-remote) run the `git` binary so that fetch and push
//! share one transport and one credential path: ssh with a configured key and known_hosts, or
//! HTTPS with a token handed over by an askpass helper (never in a URL, argv or log). Everything
//! local (opening and checking the clone, trees, commits, history) uses gix; resetting the work
//! tree after a fetch uses `git checkout --force` and `git clean`, which handle every file mode
//! and attribute the way users expect, and `git sparse-checkout` keeps only the environments'
//! paths in it.

pub mod command;
mod commit;
mod config;
pub mod history;
pub mod message;
pub mod notes;
mod push;
pub mod range;
mod sign;
pub mod snapshot;
mod sparse;
pub mod trailers;
mod tree;
pub mod workspace;

use std::path::PathBuf;

pub use command::{CommandOutput, GitCommand, GitEnvironment, RemoteSettings, TokenSource};
pub use commit::{CommitRequest, NewContents};
pub use config::{GitConfig, check_branch_name};
pub use history::{CommitRecord, HistoryQuery, Identity, Landed};
pub use message::{CommitMessage, MessageTemplate, Move, ParsedMove, parse_moves};
pub use notes::{NOTES_REF, NoteAuthor};
pub use push::PushOutcome;
pub use sign::{Signing, SigningFormat};
pub use snapshot::Snapshot;
pub use sparse::Checkout;
pub use tree::TreeReader;
pub use workspace::Workspace;

/// The object id type used throughout (a SHA-1 today).
pub use gix::ObjectId;

/// What can go wrong in the Git layer. Messages name the remote (without credentials), the
/// directory or the file involved, and include git's own words with any secret redacted.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    /// The remote settings cannot work as given.
    #[error("git remote settings: {0}")]
    Settings(String),
    /// The `git` (or another) program could not be started.
    #[error("cannot run {program}: {source}; {}", spawn_hint(.source))]
    Spawn {
        /// The program that failed to start.
        program: String,
        /// Why.
        source: std::io::Error,
    },
    /// A command ran longer than its time limit and was killed.
    #[error(
        "git {what} for {remote} did not finish within {seconds}s and was stopped; check that the remote answers or raise the git timeout"
    )]
    Timeout {
        /// The operation, e.g. `fetch`.
        what: String,
        /// The remote URL without credentials.
        remote: String,
        /// The time limit.
        seconds: u64,
    },
    /// The remote refused the credentials.
    #[error(
        "authentication to {remote} failed during git {what}: {detail}; check the token (file or environment variable) and the username"
    )]
    Authentication {
        /// The operation.
        what: String,
        /// The remote URL without credentials.
        remote: String,
        /// git's message, secrets redacted.
        detail: String,
    },
    /// The ssh host key of the remote is unknown or changed.
    #[error(
        "ssh host key check for {remote} failed during git {what}: {detail}; add the host's key to the known_hosts file after checking its fingerprint"
    )]
    HostKey {
        /// The operation.
        what: String,
        /// The remote URL without credentials.
        remote: String,
        /// ssh's message.
        detail: String,
    },
    /// A git command failed.
    #[error("git {what} for {remote} failed ({status}): {detail}")]
    Command {
        /// The operation.
        what: String,
        /// The remote URL without credentials, or the local directory.
        remote: String,
        /// The exit status in words.
        status: String,
        /// git's stderr, secrets redacted.
        detail: String,
    },
    /// The branch to clone does not exist on the remote.
    #[error(
        "branch {branch:?} does not exist on {remote}: set git.branch to one of its branches: {branches}"
    )]
    MissingBranch {
        /// The remote URL without credentials.
        remote: String,
        /// The branch asked for (`git.branch`).
        branch: String,
        /// The remote's branches, comma-separated (`none` for an empty repository).
        branches: String,
    },
    /// The remote refused the push (a hook, a protected branch, a full disk).
    #[error("{remote} refused the push to branch {branch}: {reason}{hook}; nothing was pushed")]
    PushRefused {
        /// The remote URL without credentials.
        remote: String,
        /// The branch pushed to.
        branch: String,
        /// git's one-line reason, e.g. `pre-receive hook declined`.
        reason: String,
        /// The remote's own messages (`remote:` lines), prefixed with `: ` when any.
        hook: String,
    },
    /// A caller asked to force-push the branch Baton tracks, which it never does.
    #[error(
        "refusing to force-push {branch} on {remote}: it is the target branch; only branches Baton owns may be force-pushed"
    )]
    ForceOnTarget {
        /// The target branch.
        branch: String,
        /// The remote URL without credentials.
        remote: String,
    },
    /// A local repository operation failed.
    #[error("git repository {dir}: {action} failed: {detail}")]
    Repository {
        /// The clone's directory.
        dir: PathBuf,
        /// What was being done.
        action: String,
        /// The underlying error.
        detail: String,
    },
    /// A file could not be read or written.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done, e.g. `cannot read`.
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A path given to `commit` is not a plain relative path inside the work tree.
    #[error("path {path} cannot be committed: {reason}")]
    BadPath {
        /// The path as given.
        path: PathBuf,
        /// Why it was refused.
        reason: &'static str,
    },
    /// The file system holding the clone is full: nothing was committed or pushed.
    #[error(
        "no space left on the file system holding {dir} while {action}: free space there or point daemon.state_dir at a larger file system; the clone is kept, nothing was pushed, and the next pass tries again ({detail})"
    )]
    NoSpace {
        /// The directory that could not be written (the clone's parent in the state directory).
        dir: PathBuf,
        /// What was being done, e.g. `fetching`.
        action: String,
        /// The underlying error.
        detail: String,
    },
    /// Signing the commit failed.
    #[error("signing the commit with {program} failed: {detail}; check the signing key")]
    Sign {
        /// The signing program.
        program: String,
        /// Its error output.
        detail: String,
    },
}

impl GitError {
    /// True when the error comes from a full file system (or an exhausted disk quota) on this
    /// machine: an I/O error of that kind, or git's own words for it.
    pub fn is_no_space(&self) -> bool {
        const SIGNS: [&str; 3] = [
            "no space left on device",
            "out of diskspace",
            "disk quota exceeded",
        ];
        match self {
            GitError::Io { source, .. } => matches!(
                source.kind(),
                std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded
            ),
            GitError::Command { detail, .. } => {
                let lower = detail.to_ascii_lowercase();
                SIGNS.iter().any(|sign| lower.contains(sign))
            }
            // gix's words for a failed write often leave out the I/O error beneath them
            // ("could not write loose object header"): a full file system is then read off
            // the file system itself.
            GitError::Repository { detail, dir, .. } => {
                let lower = detail.to_ascii_lowercase();
                SIGNS.iter().any(|sign| lower.contains(sign)) || file_system_full(dir)
            }
            GitError::NoSpace { .. } => true,
            _ => false,
        }
    }

    pub(crate) fn repo(
        dir: &std::path::Path,
        action: impl Into<String>,
        err: impl std::fmt::Display,
    ) -> Self {
        GitError::Repository {
            dir: dir.to_path_buf(),
            action: action.into(),
            detail: err.to_string(),
        }
    }
}

/// True when the file system holding `dir` has no block left that this user may write.
fn file_system_full(dir: &std::path::Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let Ok(path) = std::ffi::CString::new(dir.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: statvfs(3) writes only into the struct it is given; the path is a valid C string.
    unsafe {
        let mut stats: libc::statvfs = std::mem::zeroed();
        libc::statvfs(path.as_ptr(), &mut stats) == 0 && stats.f_bavail == 0
    }
}

/// What to do when a program cannot be started: only a missing program calls for installing
/// it; running out of descriptors or memory does not.
fn spawn_hint(err: &std::io::Error) -> &'static str {
    match err.raw_os_error() {
        Some(libc::EMFILE) | Some(libc::ENFILE) => {
            "too many open files: raise LimitNOFILE= (or ulimit -n) or find what holds descriptors"
        }
        Some(libc::ENOMEM) | Some(libc::EAGAIN) => {
            "the system is short of memory or processes: check MemoryMax= and TasksMax="
        }
        Some(libc::EACCES) => "permission denied: check the program's permissions",
        _ if err.kind() == std::io::ErrorKind::NotFound => "install it and make sure it is on PATH",
        _ => "check that it can be run by this user",
    }
}

#[cfg(test)]
mod spawn_hint_tests {
    use super::*;

    #[test]
    fn running_out_of_descriptors_is_not_a_missing_git() {
        let err = GitError::Spawn {
            program: "git".into(),
            source: std::io::Error::from_raw_os_error(libc::EMFILE),
        };
        let text = err.to_string();
        assert!(text.contains("LimitNOFILE"), "{text}");
        assert!(!text.contains("install"), "{text}");
        let missing = GitError::Spawn {
            program: "git".into(),
            source: std::io::Error::from(std::io::ErrorKind::NotFound),
        };
        assert!(missing.to_string().contains("install it"), "{missing}");
    }
}
