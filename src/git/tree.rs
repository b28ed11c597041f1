//! Reading files from trees without a work tree: an environment's files from HEAD's tree
//! (symbolic links and submodules reported, never followed), and files at past commits.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use gix::ObjectId;
use gix::object::tree::EntryKind;

use super::GitError;
use super::workspace::Workspace;

/// One entry met while listing paths in a tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TreeFile {
    /// A regular or executable file: its blob, not read yet (see [`Workspace::read_blobs`]).
    File {
        /// Relative to the repository root.
        path: PathBuf,
        /// The blob's id: the same id is the same content, byte for byte.
        id: ObjectId,
    },
    /// A symbolic link: never followed.
    Symlink {
        /// Relative to the repository root.
        path: PathBuf,
    },
    /// A submodule (another repository's commit): never entered.
    Submodule {
        /// Relative to the repository root.
        path: PathBuf,
    },
}

/// One blob read by [`Workspace::read_blobs`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlobData {
    /// Its bytes, exactly as committed.
    Bytes(Vec<u8>),
    /// Larger than the size cap: not read.
    TooLarge {
        /// Its size in bytes.
        size: u64,
    },
}

/// The id git gives a blob holding `bytes`; `None` if hashing fails (a SHA-1 collision attack).
pub fn blob_id(bytes: &[u8]) -> Option<ObjectId> {
    gix::objs::compute_hash(gix::hash::Kind::Sha1, gix::objs::Kind::Blob, bytes).ok()
}

/// Why the paths asked for cannot be read from the tree.
#[derive(Debug, thiserror::Error)]
pub enum TreePathError {
    /// A path leaves the repository (`..` or absolute).
    #[error(
        "path {0:?} is outside the repository: environment paths are relative to the repository root"
    )]
    Outside(PathBuf),
    /// A path, or a directory on the way to it, is a symbolic link in the tree.
    #[error(
        "path {path:?} goes through the symbolic link {link:?} in the repository: environment paths must name real directories; replace the link or point the environment at its target"
    )]
    Symlink {
        /// The configured path.
        path: PathBuf,
        /// The entry that is a link.
        link: PathBuf,
    },
    /// A path, or a directory on the way to it, is a submodule.
    #[error(
        "path {path:?} goes through the submodule {submodule:?}: Baton never enters submodules; point the environment at directories of this repository"
    )]
    Submodule {
        /// The configured path.
        path: PathBuf,
        /// The entry that is a submodule.
        submodule: PathBuf,
    },
    /// A path does not exist in the tree.
    #[error("path {0:?} does not exist in the repository: check the environment's paths")]
    Missing(PathBuf),
    /// The repository could not be read.
    #[error(transparent)]
    Git(#[from] GitError),
}

impl Workspace {
    /// Lists the files under `paths` (relative to the repository root; the whole tree when
    /// empty) in HEAD's tree that `wanted` accepts, without reading them. Symbolic links and
    /// submodules met on the way are listed as such, never followed; a path that leaves the
    /// repository, goes through a link or a submodule, or does not exist is an error. Only
    /// the trees under `paths` are read: the cost follows the paths, not the repository.
    pub fn list_files(
        &self,
        paths: &[PathBuf],
        wanted: &dyn Fn(&Path) -> bool,
    ) -> Result<Vec<TreeFile>, TreePathError> {
        let dir = self.git_dir();
        let repo = self.open_repo()?;
        let tree = head_tree(&repo, dir)?;
        // (prefix, tree) pairs to walk; a path naming a file is listed directly.
        let mut walks: Vec<(PathBuf, ObjectId)> = Vec::new();
        let mut out: Vec<TreeFile> = Vec::new();
        let clean = clean_paths(paths)?;
        for path in &clean {
            if path.as_os_str().is_empty() {
                walks.push((PathBuf::new(), tree));
                continue;
            }
            let (kind, id) = resolve(&repo, dir, tree, path)?;
            match kind {
                EntryKind::Tree => walks.push((path.clone(), id)),
                EntryKind::Blob | EntryKind::BlobExecutable => {
                    if wanted(path) {
                        out.push(TreeFile::File {
                            path: path.clone(),
                            id,
                        });
                    }
                }
                // resolve() refuses these.
                EntryKind::Link | EntryKind::Commit => {}
            }
        }
        while let Some((prefix, id)) = walks.pop() {
            let t = repo.find_tree(id).map_err(|e| {
                GitError::repo(dir, format!("reading the tree of {}", shown(&prefix)), e)
            })?;
            for entry in t.iter() {
                let entry = entry.map_err(|e| {
                    GitError::repo(dir, format!("reading the tree of {}", shown(&prefix)), e)
                })?;
                let path = prefix.join(OsStr::from_bytes(entry.filename()));
                match entry.mode().kind() {
                    EntryKind::Tree => walks.push((path, entry.object_id())),
                    EntryKind::Blob | EntryKind::BlobExecutable => {
                        if wanted(&path) {
                            out.push(TreeFile::File {
                                path,
                                id: entry.object_id(),
                            });
                        }
                    }
                    EntryKind::Link => {
                        if wanted(&path) {
                            out.push(TreeFile::Symlink { path });
                        }
                    }
                    EntryKind::Commit => out.push(TreeFile::Submodule { path }),
                }
            }
        }
        Ok(out)
    }

    /// Reads `blobs` on up to four threads (one per core) and hands each, with its index in
    /// `blobs`, to `visit`; a blob larger than `max_size` is not read. `visit` may be called
    /// for some blobs before an error stops the others.
    pub fn read_blobs(
        &self,
        blobs: &[ObjectId],
        max_size: u64,
        visit: &(dyn Fn(usize, BlobData) + Sync),
    ) -> Result<(), GitError> {
        let dir = self.git_dir();
        let threads = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
            .clamp(1, 4)
            .min(blobs.len().div_ceil(64).max(1));
        let next = AtomicUsize::new(0);
        let failure: Mutex<Option<GitError>> = Mutex::new(None);
        let fail = |e: GitError| {
            let mut slot = failure.lock().unwrap_or_else(|p| p.into_inner());
            slot.get_or_insert(e);
            next.store(blobs.len(), Ordering::Relaxed);
        };
        // Each thread opens the repository itself (a gix repository stays on its thread).
        let work = || {
            let mut repo = match gix::open_opts(dir, gix::open::Options::isolated()) {
                Ok(repo) => repo,
                Err(e) => return fail(GitError::repo(dir, "opening the repository", e)),
            };
            set_pack_cache(&mut repo);
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(id) = blobs.get(i) else { break };
                match read_one(&repo, dir, *id, max_size) {
                    Ok(data) => visit(i, data),
                    Err(e) => return fail(e),
                }
            }
        };
        if threads <= 1 {
            work();
        } else {
            std::thread::scope(|scope| {
                for _ in 0..threads {
                    scope.spawn(work);
                }
            });
        }
        match failure.into_inner().unwrap_or_else(|p| p.into_inner()) {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// A reader for files at past commits that keeps the repository open, for many
    /// questions in a row (such as the soak's search through history).
    pub fn tree_reader(&self) -> Result<TreeReader, GitError> {
        Ok(TreeReader {
            repo: self.open_repo()?,
            dir: self.git_dir().to_path_buf(),
        })
    }

    /// Whether `path` (relative to the repository root) names anything in HEAD's tree; also
    /// true when a symbolic link or submodule is on its way, for [`Workspace::read_files`] to
    /// refuse with its reason.
    pub fn has_path(&self, path: &Path) -> Result<bool, GitError> {
        let repo = self.open_repo()?;
        let tree = head_tree(&repo, self.git_dir())?;
        let Ok(clean) = clean_paths(&[path.to_path_buf()]) else {
            return Ok(true);
        };
        match clean.first() {
            Some(p) if !p.as_os_str().is_empty() => match resolve(&repo, self.git_dir(), tree, p) {
                Ok(_) => Ok(true),
                Err(TreePathError::Missing(_)) => Ok(false),
                Err(TreePathError::Git(e)) => Err(e),
                Err(_) => Ok(true),
            },
            _ => Ok(true),
        }
    }
}

fn shown(prefix: &Path) -> String {
    if prefix.as_os_str().is_empty() {
        "the repository root".into()
    } else {
        prefix.display().to_string()
    }
}

fn head_tree(repo: &gix::Repository, dir: &Path) -> Result<ObjectId, GitError> {
    let head = repo
        .head_commit()
        .map_err(|e| GitError::repo(dir, "reading the HEAD commit", e))?;
    Ok(head
        .tree_id()
        .map_err(|e| GitError::repo(dir, "reading the HEAD tree", e))?
        .detach())
}

/// `paths` made clean and relative (`.` parts dropped; the root as an empty path), without
/// duplicates or paths inside another one; the whole repository when empty.
fn clean_paths(paths: &[PathBuf]) -> Result<Vec<PathBuf>, TreePathError> {
    let mut out: Vec<PathBuf> = Vec::new();
    for path in paths {
        let mut clean = PathBuf::new();
        for c in path.components() {
            match c {
                Component::Normal(n) => clean.push(n),
                Component::CurDir => {}
                _ => return Err(TreePathError::Outside(path.clone())),
            }
        }
        out.push(clean);
    }
    if out.is_empty() || out.iter().any(|p| p.as_os_str().is_empty()) {
        return Ok(vec![PathBuf::new()]);
    }
    out.sort();
    out.dedup();
    let mut kept: Vec<PathBuf> = Vec::new();
    for p in out {
        if !kept.iter().any(|k| p.starts_with(k)) {
            kept.push(p);
        }
    }
    Ok(kept)
}

/// The entry at `path` under `tree`, refusing a link or submodule anywhere on the way.
fn resolve(
    repo: &gix::Repository,
    dir: &Path,
    tree: ObjectId,
    path: &Path,
) -> Result<(EntryKind, ObjectId), TreePathError> {
    let mut current = (EntryKind::Tree, tree);
    let mut walked = PathBuf::new();
    for part in path.components() {
        walked.push(part);
        if current.0 != EntryKind::Tree {
            return Err(TreePathError::Missing(path.to_path_buf()));
        }
        let t = repo.find_tree(current.1).map_err(|e| {
            GitError::repo(dir, format!("reading the tree of {}", walked.display()), e)
        })?;
        let name = part.as_os_str().as_bytes();
        let entry = t
            .iter()
            .filter_map(Result::ok)
            .find(|e| e.filename() == name)
            .map(|e| (e.mode().kind(), e.object_id()));
        current = match entry {
            None => return Err(TreePathError::Missing(path.to_path_buf())),
            Some((EntryKind::Link, _)) => {
                return Err(TreePathError::Symlink {
                    path: path.to_path_buf(),
                    link: walked,
                });
            }
            Some((EntryKind::Commit, _)) => {
                return Err(TreePathError::Submodule {
                    path: path.to_path_buf(),
                    submodule: walked,
                });
            }
            Some(found) => found,
        };
    }
    Ok(current)
}

/// Keeps recently decoded delta bases, so reading many similar files from a pack does not
/// decode each delta chain from its start.
fn set_pack_cache(repo: &mut gix::Repository) {
    repo.objects.set_pack_cache(|| {
        Box::new(gix::odb::pack::cache::lru::StaticLinkedList::<64>::new(
            16 * 1024 * 1024,
        ))
    });
}

fn read_one(
    repo: &gix::Repository,
    dir: &Path,
    id: ObjectId,
    max_size: u64,
) -> Result<BlobData, GitError> {
    let err = |e: &dyn std::fmt::Display| GitError::repo(dir, format!("reading blob {id}"), e);
    let header = repo.find_header(id).map_err(|e| err(&e))?;
    if header.size() > max_size {
        return Ok(BlobData::TooLarge {
            size: header.size(),
        });
    }
    let mut found = repo.find_blob(id).map_err(|e| err(&e))?;
    // The buffer a delta was decoded into is several times the blob: keep only the blob.
    let mut data = found.take_data();
    data.shrink_to_fit();
    Ok(BlobData::Bytes(data))
}

/// Files at past commits, read from one open repository (see [`Workspace::tree_reader`]).
pub struct TreeReader {
    repo: gix::Repository,
    dir: PathBuf,
}

impl TreeReader {
    /// What `commit` did to `paths` (relative to the repository root): `None` when every one
    /// of them is the same as in its first parent; otherwise their contents before (in the
    /// first parent, nothing for a root commit) and after, in the order of `paths` (`None`
    /// where a path is not a file). One repository open for all of it.
    #[allow(clippy::type_complexity)]
    pub fn changed_files(
        &self,
        commit: ObjectId,
        paths: &[PathBuf],
    ) -> Result<Option<(Vec<Option<Vec<u8>>>, Vec<Option<Vec<u8>>>)>, GitError> {
        let repo = &self.repo;
        let err = |action: &str, e: &dyn std::fmt::Display| GitError::repo(&self.dir, action, e);
        let found = repo
            .find_commit(commit)
            .map_err(|e| err(&format!("reading commit {commit}"), &e))?;
        let tree = found
            .tree()
            .map_err(|e| err("reading a commit's tree", &e))?;
        let parent_tree = match found.parent_ids().next() {
            Some(p) => Some(
                repo.find_commit(p.detach())
                    .and_then(|c| c.tree())
                    .map_err(|e| err("reading a parent's tree", &e))?,
            ),
            None => None,
        };
        let blob_id = |tree: &gix::Tree<'_>, path: &Path| -> Result<Option<ObjectId>, GitError> {
            Ok(tree
                .lookup_entry_by_path(path)
                .map_err(|e| err("looking up a path", &e))?
                .filter(|e| e.mode().is_blob())
                .map(|e| e.object_id()))
        };
        let mut after_ids = Vec::with_capacity(paths.len());
        let mut before_ids = Vec::with_capacity(paths.len());
        for path in paths {
            after_ids.push(blob_id(&tree, path)?);
            before_ids.push(match &parent_tree {
                Some(t) => blob_id(t, path)?,
                None => None,
            });
        }
        if parent_tree.is_some() && after_ids == before_ids {
            return Ok(None);
        }
        let read = |ids: &[Option<ObjectId>]| -> Result<Vec<Option<Vec<u8>>>, GitError> {
            ids.iter()
                .map(|id| match id {
                    Some(id) => repo
                        .find_blob(*id)
                        .map(|b| Some(b.data.clone()))
                        .map_err(|e| err("reading a file", &e)),
                    None => Ok(None),
                })
                .collect()
        };
        Ok(Some((read(&before_ids)?, read(&after_ids)?)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_cleaned_and_nested_ones_dropped() {
        let p = |s: &str| PathBuf::from(s);
        assert_eq!(
            clean_paths(&[p("./a/b"), p("a"), p("c/"), p("a/b/c")]).unwrap(),
            vec![p("a"), p("c")]
        );
        assert_eq!(clean_paths(&[]).unwrap(), vec![p("")]);
        assert_eq!(clean_paths(&[p("a"), p(".")]).unwrap(), vec![p("")]);
        assert!(matches!(
            clean_paths(&[p("../x")]),
            Err(TreePathError::Outside(_))
        ));
        assert!(matches!(
            clean_paths(&[p("/etc")]),
            Err(TreePathError::Outside(_))
        ));
    }
}
