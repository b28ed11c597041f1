//! Reading files at past commits from one open repository.

use std::path::{Path, PathBuf};

use gix::ObjectId;

use super::GitError;
use super::workspace::Workspace;

impl Workspace {
    /// A reader for files at past commits that keeps the repository open, for many
    /// questions in a row (such as the soak's search through history).
    pub fn tree_reader(&self) -> Result<TreeReader, GitError> {
        Ok(TreeReader {
            repo: self.open_repo()?,
            dir: self.work_tree().to_path_buf(),
        })
    }
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
