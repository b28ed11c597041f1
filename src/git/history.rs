//! Reading history with gix: commits newest first, optionally only those touching some paths,
//! with subject, body and trailers split the way git does.

use std::collections::{HashMap, HashSet};
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

/// When a commit reached the branch: its own committer time when it was committed on the
/// branch's first-parent line, else the time of the merge commit that brought it in (a
/// reviewed change that waited for its pull request to be merged).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Landed {
    /// Seconds since the Unix epoch.
    pub time: i64,
    /// The merge commit, when it came in through one.
    pub merge: Option<ObjectId>,
}

/// One commit as `baton history` and soak computation need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitRecord {
    /// The commit id.
    pub id: ObjectId,
    /// Committer time, seconds since the Unix epoch (when the commit was made).
    pub time: i64,
    /// When it reached the branch read (see [`Landed`]). A fast-forward merge leaves no trace
    /// in Git: such a commit counts as landed when it was made.
    pub landed: Landed,
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
            landed: Landed {
                time: committer.time,
                merge: None,
            },
            author,
            committer,
            subject: parts.subject,
            body: parts.body,
            trailers: parts.trailers,
        });
    }
    if let Some(oldest) = out.iter().map(|r| r.time).min() {
        let merged = merged_in(repo, tip, oldest)?;
        for record in &mut out {
            if let Some(landed) = merged.get(&record.id) {
                record.landed = *landed;
            }
        }
    }
    Ok(out)
}

/// The commits that reached `tip`'s first-parent line through a merge, with the merge that
/// brought each in first. Only merges made at or after `since` (committer time) are read:
/// nothing older can have merged a commit made since then.
fn merged_in(
    repo: &gix::Repository,
    tip: ObjectId,
    since: i64,
) -> Result<HashMap<ObjectId, Landed>, GitError> {
    let dir = repo.git_dir().to_path_buf();
    let err = |action: &str, e: &dyn std::fmt::Display| GitError::repo(&dir, action, e);
    let commit_of = |id: ObjectId| -> Result<(i64, Vec<ObjectId>), GitError> {
        let commit = repo
            .find_commit(id)
            .map_err(|e| err("reading a commit", &e))?;
        let time = commit
            .time()
            .map_err(|e| err("reading a commit time", &e))?
            .seconds;
        Ok((time, commit.parent_ids().map(|p| p.detach()).collect()))
    };
    // The first-parent line, newest first, back to the first commit older than `since`.
    let mut line: Vec<(ObjectId, i64, Vec<ObjectId>)> = Vec::new();
    let mut next = Some(tip);
    while let Some(id) = next {
        let (time, parents) = commit_of(id)?;
        next = parents.first().copied();
        line.push((id, time, parents));
        if time < since {
            break;
        }
    }
    let on_line: HashSet<ObjectId> = line.iter().map(|(id, _, _)| *id).collect();
    let mut landed: HashMap<ObjectId, Landed> = HashMap::new();
    // Oldest merge first, so a commit merged twice keeps the first merge.
    for (merge, time, parents) in line.iter().rev() {
        let mut queue: Vec<ObjectId> = parents.iter().skip(1).copied().collect();
        while let Some(id) = queue.pop() {
            if on_line.contains(&id) || landed.contains_key(&id) {
                continue;
            }
            let (own, parents) = commit_of(id)?;
            if own < since {
                continue;
            }
            landed.insert(
                id,
                Landed {
                    time: *time,
                    merge: Some(*merge),
                },
            );
            queue.extend(parents);
        }
    }
    Ok(landed)
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
