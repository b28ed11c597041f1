//! Building a commit in-process: HEAD's tree with new contents (from memory or the work
//! tree), the commit object (signed when asked), the branch moved, the work tree and index
//! brought in line.

use std::borrow::Cow;
use std::path::{Component, Path, PathBuf};

use gix::ObjectId;

use super::GitError;
use super::sign::Signing;
use super::workspace::Workspace;

/// What to commit: the message and which work-tree paths changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitRequest {
    /// The full commit message (subject, body, trailers).
    pub message: String,
    /// Author and committer name.
    pub author_name: String,
    /// Author and committer email.
    pub author_email: String,
    /// Paths relative to the work tree (or absolute inside it) whose current content goes into
    /// the commit; a path that no longer exists is removed from the tree. Content is taken
    /// byte for byte (no clean filters such as LFS or eol conversion).
    pub paths_changed: Vec<PathBuf>,
    /// Sign the commit with this key.
    pub signing: Option<Signing>,
}

/// New file contents for a commit, handed over one file at a time: a commit of thousands of
/// edited files then holds one file's bytes at once, not all of them (peak memory).
pub trait NewContents: Send + 'static {
    /// How many files.
    fn count(&self) -> usize;
    /// File `index`'s path, relative to the work tree (or absolute inside it).
    fn path(&self, index: usize) -> &Path;
    /// File `index`'s bytes; asked for once for its blob and once for the work tree, and
    /// the same bytes both times, or why they cannot be had (the commit is then not made).
    fn bytes(&self, index: usize) -> Result<Cow<'_, [u8]>, String>;
    /// Writes every file into the work tree at `dir` itself, for contents that know a
    /// better way than one file at a time from [`NewContents::bytes`]; `None` (the default)
    /// leaves that to the workspace. An error names the file and stops the commit.
    fn write_into(&self, _dir: &Path) -> Option<Result<(), String>> {
        None
    }
}

/// Paths with their bytes, all in memory.
impl NewContents for Vec<(PathBuf, Vec<u8>)> {
    fn count(&self) -> usize {
        self.len()
    }
    fn path(&self, index: usize) -> &Path {
        &self[index].0
    }
    fn bytes(&self, index: usize) -> Result<Cow<'_, [u8]>, String> {
        Ok(Cow::Borrowed(&self[index].1))
    }
}

/// [`NewContents`] with every path checked and made relative to the work tree.
struct Checked<C> {
    paths: Vec<PathBuf>,
    contents: C,
}

impl<C: NewContents> Checked<C> {
    /// No files.
    fn none() -> Checked<Vec<(PathBuf, Vec<u8>)>> {
        Checked {
            paths: Vec::new(),
            contents: Vec::new(),
        }
    }

    /// Each path with its bytes, or the error naming the file whose bytes cannot be had.
    fn files(&self) -> impl Iterator<Item = Result<(&Path, Cow<'_, [u8]>), GitError>> {
        self.paths.iter().enumerate().map(|(i, rel)| {
            let data = self.contents.bytes(i).map_err(|why| GitError::Io {
                action: "cannot take the new content of",
                path: rel.clone(),
                source: std::io::Error::other(why),
            })?;
            Ok((rel.as_path(), data))
        })
    }
}

impl Workspace {
    /// Commits the current content of `req.paths_changed` on top of HEAD, built in-process:
    /// HEAD's tree with those paths replaced (or removed when gone). Returns `None`, making no
    /// commit, when the result equals HEAD's tree. Updates the branch and the index.
    pub async fn commit(&self, req: &CommitRequest) -> Result<Option<ObjectId>, GitError> {
        self.commit_inner(req, Checked::<Vec<(PathBuf, Vec<u8>)>>::none())
            .await
            .map_err(|e| self.no_space(e, "committing"))
    }

    /// Commits `contents` (paths relative to the work tree, with their new bytes) on top of
    /// HEAD, plus the work-tree content of `req.paths_changed` as [`Workspace::commit`] does.
    /// The blobs come straight from `contents`, one file at a time, so the commit holds
    /// exactly these bytes and never all of them at once; the files
    /// are then written to the work tree (plainly: a crash before the next sync is undone by
    /// its reset) and the index is updated for them. Existing entries keep their mode; a path
    /// that is a symbolic link or leaves the work tree is refused. Returns `None`, making no
    /// commit and writing nothing, when the result equals HEAD's tree.
    pub async fn commit_contents<C: NewContents>(
        &self,
        req: &CommitRequest,
        contents: C,
    ) -> Result<Option<ObjectId>, GitError> {
        let mut paths = Vec::with_capacity(contents.count());
        for i in 0..contents.count() {
            let rel = relative_path(self.work_tree(), contents.path(i))?;
            check_plain_file(self.work_tree(), &rel)?;
            paths.push(rel);
        }
        self.commit_inner(req, Checked { paths, contents })
            .await
            .map_err(|e| self.no_space(e, "committing"))
    }

    async fn commit_inner<C: NewContents>(
        &self,
        req: &CommitRequest,
        contents: Checked<C>,
    ) -> Result<Option<ObjectId>, GitError> {
        check_identity(&req.author_name, &req.author_email)?;
        let mut rel_paths = Vec::with_capacity(req.paths_changed.len());
        for p in &req.paths_changed {
            rel_paths.push(relative_path(self.work_tree(), p)?);
        }
        let dir = self.work_tree().to_path_buf();
        let (built, contents) = tokio::task::spawn_blocking(move || {
            let built = build_tree(&dir, &rel_paths, contents.files());
            (built, contents)
        })
        .await
        .map_err(|e| GitError::repo(self.work_tree(), "building the tree", e))?;
        let Some((parent, tree)) = built? else {
            tracing::debug!("nothing changed, no commit");
            return Ok(None);
        };
        let now = gix::date::Time::now_local_or_utc();
        let who = gix::actor::Signature {
            name: req.author_name.as_str().into(),
            email: req.author_email.as_str().into(),
            time: now,
        };
        let mut message = req.message.trim_end().to_string();
        message.push('\n');
        let mut commit = gix::objs::Commit {
            tree,
            parents: [parent].into_iter().collect(),
            author: who.clone(),
            committer: who,
            encoding: None,
            message: message.into(),
            extra_headers: Vec::new(),
        };
        if let Some(signing) = &req.signing {
            let mut payload = Vec::new();
            gix::objs::WriteTo::write_to(&commit, &mut payload)
                .map_err(|e| GitError::repo(self.work_tree(), "serializing the commit", e))?;
            let sig = signing.sign(&payload).await?;
            commit.extra_headers.push(("gpgsig".into(), sig.into()));
        }
        // The work tree first: should writing fail, the branch has not moved and the caller's
        // next sync puts every file back.
        let written: Vec<PathBuf> = contents.paths.clone();
        if !written.is_empty() {
            let dir = self.work_tree().to_path_buf();
            tokio::task::spawn_blocking(move || match contents.contents.write_into(&dir) {
                Some(written) => written.map_err(|why| GitError::Io {
                    action: "cannot write the work tree at",
                    path: dir.clone(),
                    source: std::io::Error::other(why),
                }),
                None => write_work_tree(&dir, contents.files()),
            })
            .await
            .map_err(|e| GitError::repo(self.work_tree(), "writing the work tree", e))??;
        }
        let (id, name) = write_commit(self.work_tree(), &commit, parent, req)?;
        // Bring the index in line with the new HEAD (the work tree already has the content).
        // The commit stands either way and the next sync rewrites the index, so a failure here
        // is only logged.
        let refreshed = if req.paths_changed.is_empty() {
            // Only the written files differ from the index: re-read just those.
            let mut input = Vec::new();
            for p in &written {
                input.extend_from_slice(p.as_os_str().as_encoded_bytes());
                input.push(0);
            }
            let mut cmd = self.environment().local("update-index", self.work_tree());
            cmd.args(["update-index", "--add", "-z", "--stdin"])
                .stdin(input);
            cmd.run().await
        } else {
            self.environment()
                .local("reset", self.work_tree())
                .args(["reset", "--quiet"])
                .run()
                .await
        };
        if let Err(e) = refreshed {
            tracing::warn!(error = %e, "could not refresh the index after committing");
        }
        tracing::debug!(commit = %id, branch = %name, files = written.len(), "committed");
        Ok(Some(id))
    }
}

/// Writes `commit` and moves the branch HEAD names from `parent` to it; returns the commit id
/// and the reference moved. The reflog entry names the commit's identity.
fn write_commit(
    dir: &Path,
    commit: &gix::objs::Commit,
    parent: ObjectId,
    req: &CommitRequest,
) -> Result<(ObjectId, String), GitError> {
    let repo = gix::open_opts(
        dir,
        gix::open::Options::isolated().config_overrides([
            format!("committer.name={}", req.author_name),
            format!("committer.email={}", req.author_email),
        ]),
    )
    .map_err(|e| GitError::repo(dir, "opening the clone", e))?;
    let id = repo
        .write_object(commit)
        .map_err(|e| GitError::repo(dir, "writing the commit", e))?
        .detach();
    let head_ref = repo
        .head_name()
        .map_err(|e| GitError::repo(dir, "reading HEAD", e))?;
    let name = head_ref
        .map(|n| n.as_bstr().to_string())
        .unwrap_or_else(|| "HEAD".into());
    repo.reference(
        name.as_str(),
        id,
        gix::refs::transaction::PreviousValue::MustExistAndMatch(gix::refs::Target::Object(parent)),
        "commit: baton",
    )
    .map_err(|e| GitError::repo(dir, format!("moving {name} to the new commit"), e))?;
    Ok((id, name))
}

fn check_identity(name: &str, email: &str) -> Result<(), GitError> {
    let bad = |s: &str| s.trim().is_empty() || s.contains(['<', '>', '\n', '\r', '\0']);
    if bad(name) || bad(email) {
        return Err(GitError::Settings(format!(
            "author {name:?} <{email:?}> cannot go into a commit; set git.author_name and git.author_email without <, > or line breaks"
        )));
    }
    Ok(())
}

/// `p` as a clean path relative to `work_tree`, refusing anything outside it or inside `.git`.
fn relative_path(work_tree: &Path, p: &Path) -> Result<PathBuf, GitError> {
    let bad = |reason| GitError::BadPath {
        path: p.to_path_buf(),
        reason,
    };
    let rel = if p.is_absolute() {
        p.strip_prefix(work_tree)
            .map_err(|_| bad("it is outside the work tree"))?
    } else {
        p
    };
    let mut out = PathBuf::new();
    for c in rel.components() {
        match c {
            Component::Normal(n) => {
                if out.as_os_str().is_empty() && n == ".git" {
                    return Err(bad("it is inside .git"));
                }
                out.push(n);
            }
            Component::CurDir => {}
            _ => return Err(bad("it leaves the work tree")),
        }
    }
    if out.as_os_str().is_empty() {
        return Err(bad("it names the work tree itself, not a file"));
    }
    Ok(out)
}

/// Checks that `rel` is a regular file in the work tree at `dir`, or does not exist yet, and
/// that no directory on the way is a symbolic link.
fn check_plain_file(dir: &Path, rel: &Path) -> Result<(), GitError> {
    let bad = |reason| GitError::BadPath {
        path: rel.to_path_buf(),
        reason,
    };
    let mut at = dir.to_path_buf();
    let count = rel.components().count();
    for (i, part) in rel.components().enumerate() {
        at.push(part);
        let meta = match std::fs::symlink_metadata(&at) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(source) => {
                return Err(GitError::Io {
                    action: "cannot read",
                    path: at,
                    source,
                });
            }
        };
        let last = i + 1 == count;
        if meta.file_type().is_symlink() {
            return Err(bad(if last {
                "it is a symbolic link"
            } else {
                "a directory on its way is a symbolic link"
            }));
        }
        if last && !meta.is_file() {
            return Err(bad("it is not a regular file"));
        }
        if !last && !meta.is_dir() {
            return Err(bad("a part of it is not a directory"));
        }
    }
    Ok(())
}

/// Writes `contents` into the work tree at `dir` (paths checked by [`check_plain_file`]).
/// Existing files keep their permissions.
fn write_work_tree<'a>(
    dir: &Path,
    contents: impl Iterator<Item = Result<(&'a Path, Cow<'a, [u8]>), GitError>>,
) -> Result<(), GitError> {
    for file in contents {
        let (rel, data) = file?;
        check_plain_file(dir, rel)?;
        let full = dir.join(rel);
        if let Some(parent) = full.parent() {
            std::fs::create_dir_all(parent).map_err(|source| GitError::Io {
                action: "cannot create the directory of",
                path: full.clone(),
                source,
            })?;
        }
        std::fs::write(&full, &data).map_err(|source| GitError::Io {
            action: "cannot write",
            path: full.clone(),
            source,
        })?;
    }
    Ok(())
}

/// HEAD's tree with `contents` written from memory and `paths` replaced by their work-tree
/// content. `None` when it equals HEAD's tree; otherwise `(HEAD, new tree)`.
fn build_tree<'a>(
    dir: &Path,
    paths: &[PathBuf],
    contents: impl Iterator<Item = Result<(&'a Path, Cow<'a, [u8]>), GitError>>,
) -> Result<Option<(ObjectId, ObjectId)>, GitError> {
    use gix::object::tree::EntryKind;
    use std::os::unix::fs::PermissionsExt;

    let repo = gix::open_opts(dir, gix::open::Options::isolated())
        .map_err(|e| GitError::repo(dir, "opening the clone", e))?;
    let head = repo
        .head_commit()
        .map_err(|e| GitError::repo(dir, "reading the HEAD commit", e))?;
    let head_tree = head
        .tree_id()
        .map_err(|e| GitError::repo(dir, "reading the HEAD tree", e))?
        .detach();
    let mut editor = repo
        .edit_tree(head_tree)
        .map_err(|e| GitError::repo(dir, "editing the HEAD tree", e))?;
    let head_tree_object = head
        .tree()
        .map_err(|e| GitError::repo(dir, "reading the HEAD tree", e))?;
    for file in contents {
        let (rel, data) = file?;
        let key = tree_key(rel)?;
        let existing = head_tree_object
            .lookup_entry_by_path(rel)
            .map_err(|e| GitError::repo(dir, format!("looking up {}", rel.display()), e))?;
        let kind = match existing.map(|e| e.mode().kind()) {
            Some(k @ (EntryKind::Blob | EntryKind::BlobExecutable)) => k,
            Some(_) => {
                return Err(GitError::BadPath {
                    path: rel.to_path_buf(),
                    reason: "it is not a regular file in HEAD",
                });
            }
            None => EntryKind::Blob,
        };
        let blob = repo
            .write_blob(&data)
            .map_err(|e| GitError::repo(dir, "writing a blob", e))?;
        drop(data);
        editor
            .upsert(&key, kind, blob)
            .map_err(|e| GitError::repo(dir, format!("adding {}", rel.display()), e))?;
    }
    for rel in paths {
        let full = dir.join(rel);
        let io = |source| GitError::Io {
            action: "cannot read",
            path: full.clone(),
            source,
        };
        let meta = match std::fs::symlink_metadata(&full) {
            Ok(m) => Some(m),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(io(e)),
        };
        let key = tree_key(rel)?;
        let existing = editor.get(&key).map(|e| e.mode().kind());
        match meta {
            None => {
                editor
                    .remove(&key)
                    .map_err(|e| GitError::repo(dir, format!("removing {}", rel.display()), e))?;
            }
            Some(m) if m.file_type().is_symlink() => {
                let target = std::fs::read_link(&full).map_err(io)?;
                let blob = repo
                    .write_blob(target.as_os_str().as_encoded_bytes())
                    .map_err(|e| GitError::repo(dir, "writing a blob", e))?;
                editor
                    .upsert(&key, EntryKind::Link, blob)
                    .map_err(|e| GitError::repo(dir, format!("adding {}", rel.display()), e))?;
            }
            Some(m) if m.is_file() => {
                let data = std::fs::read(&full).map_err(io)?;
                let blob = repo
                    .write_blob(&data)
                    .map_err(|e| GitError::repo(dir, "writing a blob", e))?;
                let kind = match existing {
                    Some(k @ (EntryKind::Blob | EntryKind::BlobExecutable)) => k,
                    _ if m.permissions().mode() & 0o111 != 0 => EntryKind::BlobExecutable,
                    _ => EntryKind::Blob,
                };
                editor
                    .upsert(&key, kind, blob)
                    .map_err(|e| GitError::repo(dir, format!("adding {}", rel.display()), e))?;
            }
            Some(_) => {
                return Err(GitError::BadPath {
                    path: rel.clone(),
                    reason: "it is not a regular file or symlink",
                });
            }
        }
    }
    let tree = editor
        .write()
        .map_err(|e| GitError::repo(dir, "writing the tree", e))?
        .detach();
    if tree == head_tree {
        Ok(None)
    } else {
        Ok(Some((head.id, tree)))
    }
}

/// A relative path as a tree editor key.
fn tree_key(rel: &Path) -> Result<gix::bstr::BString, GitError> {
    Ok(gix::path::into_bstr(rel)
        .map_err(|_| GitError::BadPath {
            path: rel.to_path_buf(),
            reason: "it is not valid UTF-8",
        })?
        .into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_are_checked() {
        let wt = Path::new("/s/checkout");
        assert_eq!(
            relative_path(wt, Path::new("./a/b.yaml")).unwrap(),
            PathBuf::from("a/b.yaml")
        );
        assert_eq!(
            relative_path(wt, Path::new("/s/checkout/a.yaml")).unwrap(),
            PathBuf::from("a.yaml")
        );
        assert!(relative_path(wt, Path::new("/elsewhere/a")).is_err());
        assert!(relative_path(wt, Path::new("../a")).is_err());
        assert!(relative_path(wt, Path::new(".git/config")).is_err());
        assert!(relative_path(wt, Path::new(".")).is_err());
    }

    #[test]
    fn identities() {
        assert!(check_identity("baton", "baton@example.com").is_ok());
        assert!(check_identity("ba<ton", "b@x").is_err());
        assert!(check_identity("baton", "").is_err());
    }
}
