//! Files of one commit read from its tree, never from a work tree: the rules a pass applies
//! are the rules of the commit it builds on, whatever else lies on disk.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use gix::ObjectId;
use gix::object::tree::EntryKind;

use super::GitError;
use super::workspace::Workspace;

/// The most files one snapshot reads: a rules directory is a handful of objects, not a tree.
pub const MAX_SNAPSHOT_FILES: usize = 10_000;

/// What a commit holds at one path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Snapshot {
    /// Nothing at that path.
    Missing,
    /// A file (or, for a directory, each file below it that was wanted), relative to the
    /// repository root, with its bytes. Symbolic links and submodules are listed apart, never
    /// followed.
    Files {
        /// Path and bytes of every file read.
        files: Vec<(PathBuf, Vec<u8>)>,
        /// Entries not read: symbolic links, submodules and files over the size cap.
        skipped: Vec<(PathBuf, &'static str)>,
    },
}

impl Workspace {
    /// Reads `path` (a file, or a directory walked recursively keeping the files `wanted`
    /// accepts) from `commit`'s tree. Files larger than `max_size` are listed as skipped.
    pub fn snapshot(
        &self,
        commit: ObjectId,
        path: &Path,
        wanted: &dyn Fn(&Path) -> bool,
        max_size: u64,
    ) -> Result<Snapshot, GitError> {
        let dir = self.git_dir();
        let err = |action: String, e: &dyn std::fmt::Display| GitError::repo(dir, action, e);
        let repo = gix::open_opts(dir, gix::open::Options::isolated())
            .map_err(|e| err("opening the clone".into(), &e))?;
        let tree = repo
            .find_commit(commit)
            .and_then(|c| c.tree())
            .map_err(|e| err(format!("reading the tree of commit {commit}"), &e))?;
        let mut files = Vec::new();
        let mut skipped = Vec::new();
        let mut walks: Vec<(PathBuf, ObjectId)> = Vec::new();
        let mut blobs: Vec<(PathBuf, ObjectId)> = Vec::new();
        if path.as_os_str().is_empty() {
            walks.push((PathBuf::new(), tree.id));
        } else {
            let Some(entry) = tree
                .lookup_entry_by_path(path)
                .map_err(|e| err(format!("looking up {}", path.display()), &e))?
            else {
                return Ok(Snapshot::Missing);
            };
            match entry.mode().kind() {
                EntryKind::Tree => walks.push((path.to_path_buf(), entry.object_id())),
                EntryKind::Blob | EntryKind::BlobExecutable => {
                    blobs.push((path.to_path_buf(), entry.object_id()))
                }
                EntryKind::Link => skipped.push((path.to_path_buf(), "a symbolic link")),
                EntryKind::Commit => skipped.push((path.to_path_buf(), "a submodule")),
            }
        }
        while let Some((prefix, id)) = walks.pop() {
            let t = repo
                .find_tree(id)
                .map_err(|e| err(format!("reading the tree of {}", prefix.display()), &e))?;
            for entry in t.iter() {
                let entry = entry
                    .map_err(|e| err(format!("reading the tree of {}", prefix.display()), &e))?;
                let child = prefix.join(OsStr::from_bytes(entry.filename()));
                match entry.mode().kind() {
                    EntryKind::Tree => walks.push((child, entry.object_id())),
                    EntryKind::Blob | EntryKind::BlobExecutable if wanted(&child) => {
                        blobs.push((child, entry.object_id()))
                    }
                    EntryKind::Link if wanted(&child) => skipped.push((child, "a symbolic link")),
                    EntryKind::Commit => skipped.push((child, "a submodule")),
                    _ => {}
                }
            }
            if blobs.len() > MAX_SNAPSHOT_FILES {
                return Err(GitError::repo(
                    dir,
                    format!("reading {}", path.display()),
                    format!(
                        "more than {MAX_SNAPSHOT_FILES} files: point the rules at a smaller directory"
                    ),
                ));
            }
        }
        for (child, id) in blobs {
            let header = repo
                .find_header(id)
                .map_err(|e| err(format!("reading {}", child.display()), &e))?;
            if header.size() > max_size {
                skipped.push((child, "larger than the size cap"));
                continue;
            }
            let blob = repo
                .find_blob(id)
                .map_err(|e| err(format!("reading {}", child.display()), &e))?;
            files.push((child, blob.data.clone()));
        }
        files.sort();
        skipped.sort();
        Ok(Snapshot::Files { files, skipped })
    }
}
