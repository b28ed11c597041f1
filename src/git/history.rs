//! Reading history with gix: commits newest first, optionally only those touching some paths,
//! with subject, body and trailers split the way git does.

use std::path::{Path, PathBuf};

use gix::ObjectId;

use super::GitError;
use super::trailers::split_message;

/// Which commits [`read_history`] returns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HistoryQuery {
    /// Only commits that change something under one of these paths (relative to the repository
    /// root; a directory matches everything below it). Empty means every commit.
    pub paths: Vec<PathBuf>,
    /// At most this many commits.
    pub limit: Option<usize>,
}

/// A person and time from a commit's author or committer line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The name.
    pub name: String,
    /// The email address.
    pub email: String,
    /// Seconds since the Unix epoch.
    pub time: i64,
    /// The recorded timezone offset in seconds east of UTC.
    pub offset: i32,
}

/// One commit as `baton history` and soak computation need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitRecord {
    /// The commit id.
    pub id: ObjectId,
    /// Committer time, seconds since the Unix epoch (when the commit landed).
    pub time: i64,
    /// The author.
    pub author: Identity,
    /// The committer.
    pub committer: Identity,
    /// The subject (first paragraph, joined on one line).
    pub subject: String,
    /// The text between subject and trailer block.
    pub body: String,
    /// The trailers of the last paragraph, in order.
    pub trailers: Vec<(String, String)>,
}

fn identity(sig: gix::actor::SignatureRef<'_>) -> Identity {
    let time = sig.time().unwrap_or_default();
    Identity {
        name: sig.name.to_string().trim().to_string(),
        email: sig.email.to_string().trim().to_string(),
        time: time.seconds,
        offset: time.offset,
    }
}

/// Commits reachable from `tip` in `repo`, newest first (by committer time), filtered by `query`.
/// A commit "touches" a path when the tree entry at that path differs from its first parent's.
pub(crate) fn read_history(
    repo: &gix::Repository,
    tip: ObjectId,
    query: &HistoryQuery,
) -> Result<Vec<CommitRecord>, GitError> {
    let dir = repo.git_dir().to_path_buf();
    let err = |action: &str, e: &dyn std::fmt::Display| GitError::repo(&dir, action, e);
    let walk = repo
        .rev_walk([tip])
        .sorting(gix::revision::walk::Sorting::ByCommitTime(
            gix::traverse::commit::simple::CommitTimeOrder::NewestFirst,
        ))
        .all()
        .map_err(|e| err("starting the history walk", &e))?;
    let limit = query.limit.unwrap_or(usize::MAX);
    let mut out = Vec::new();
    for info in walk {
        if out.len() >= limit {
            break;
        }
        let info = info.map_err(|e| err("walking history", &e))?;
        let commit = info.object().map_err(|e| err("reading a commit", &e))?;
        if !query.paths.is_empty() {
            let parent = info.parent_ids().next().map(|p| p.detach());
            if !touches(repo, &commit, parent, &query.paths)? {
                continue;
            }
        }
        let decoded = commit
            .decode()
            .map_err(|e| err(&format!("decoding commit {}", info.id), &e))?;
        let author = identity(decoded.author().map_err(|e| err("reading an author", &e))?);
        let committer = identity(
            decoded
                .committer()
                .map_err(|e| err("reading a committer", &e))?,
        );
        let message = String::from_utf8_lossy(decoded.message);
        let parts = split_message(&message);
        out.push(CommitRecord {
            id: info.id,
            time: committer.time,
            author,
            committer,
            subject: parts.subject,
            body: parts.body,
            trailers: parts.trailers,
        });
    }
    Ok(out)
}

/// Whether `commit` changes any of `paths` relative to `parent` (or adds them, for a root).
fn touches(
    repo: &gix::Repository,
    commit: &gix::Commit<'_>,
    parent: Option<ObjectId>,
    paths: &[PathBuf],
) -> Result<bool, GitError> {
    let dir = repo.git_dir().to_path_buf();
    let err = |action: &str, e: &dyn std::fmt::Display| GitError::repo(&dir, action, e);
    let tree = commit.tree().map_err(|e| err("reading a tree", &e))?;
    let parent_tree = match parent {
        Some(p) => Some(
            repo.find_commit(p)
                .and_then(|c| c.tree())
                .map_err(|e| err("reading a parent tree", &e))?,
        ),
        None => None,
    };
    for path in paths {
        let here = entry_id(&tree, path).map_err(|e| err("looking up a path", &e))?;
        let before = match &parent_tree {
            Some(t) => entry_id(t, path).map_err(|e| err("looking up a path", &e))?,
            None => None,
        };
        if here != before {
            return Ok(true);
        }
    }
    Ok(false)
}

fn entry_id(tree: &gix::Tree<'_>, path: &Path) -> Result<Option<ObjectId>, gix::Error> {
    if path.as_os_str().is_empty() || path == Path::new(".") {
        return Ok(Some(tree.id));
    }
    Ok(tree.lookup_entry_by_path(path)?.map(|e| e.object_id()))
}
