//! Building a commit in-process: HEAD's tree with new file contents written from memory,
//! the commit object (signed when asked), and the branch moved to it. No work tree, no index.

use std::path::{Component, Path, PathBuf};

use gix::ObjectId;
use gix::object::tree::EntryKind;

use super::GitError;
use super::sign::Signing;
use super::workspace::Workspace;

/// What to commit besides the files: the message, the identity and the signing key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitRequest {
    /// The full commit message (subject, body, trailers).
    pub message: String,
    /// Author and committer name.
    pub author_name: String,
    /// Author and committer email.
    pub author_email: String,
    /// Sign the commit with this key.
    pub signing: Option<Signing>,
}

impl Workspace {
    /// Commits `contents` (paths relative to the repository root, with their new bytes) on top
    /// of HEAD and moves the branch HEAD names to the commit. The blobs are written straight
    /// from memory, so the commit holds exactly these bytes. An existing entry keeps its mode
    /// (a new path becomes a plain file); a path that leaves the repository, names or goes
    /// through a symbolic link, a submodule or a directory in HEAD is refused. Returns `None`,
    /// making no commit, when the result equals HEAD's tree.
    pub async fn commit_contents(
        &self,
        req: &CommitRequest,
        contents: Vec<(PathBuf, Vec<u8>)>,
    ) -> Result<Option<ObjectId>, GitError> {
        self.commit_inner(req, contents)
            .await
            .map_err(|e| self.no_space(e, "committing"))
    }

    async fn commit_inner(
        &self,
        req: &CommitRequest,
        contents: Vec<(PathBuf, Vec<u8>)>,
    ) -> Result<Option<ObjectId>, GitError> {
        check_identity(&req.author_name, &req.author_email)?;
        let mut checked = Vec::with_capacity(contents.len());
        for (p, data) in contents {
            checked.push((relative_path(&p)?, data));
        }
        let files = checked.len();
        let dir = self.git_dir().to_path_buf();
        let built = tokio::task::spawn_blocking(move || build_tree(&dir, &checked))
            .await
            .map_err(|e| GitError::repo(self.git_dir(), "building the tree", e))??;
        let Some((parent, tree)) = built else {
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
                .map_err(|e| GitError::repo(self.git_dir(), "serializing the commit", e))?;
            let sig = signing.sign(&payload).await?;
            commit.extra_headers.push(("gpgsig".into(), sig.into()));
        }
        let (id, name) = write_commit(self.git_dir(), &commit, parent, req)?;
        tracing::debug!(commit = %id, branch = %name, files, "committed");
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
    .map_err(|e| GitError::repo(dir, "opening the repository", e))?;
    let id = repo
        .write_object(commit)
        .map_err(|e| GitError::repo_chain(dir, "writing the commit", &e))?
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
    .map_err(|e| GitError::repo_chain(dir, format!("moving {name} to the new commit"), &e))?;
    Ok((id, name))
}

pub(super) fn check_identity(name: &str, email: &str) -> Result<(), GitError> {
    let bad = |s: &str| s.trim().is_empty() || s.contains(['<', '>', '\n', '\r', '\0']);
    if bad(name) || bad(email) {
        return Err(GitError::Settings(format!(
            "author {name:?} <{email:?}> cannot go into a commit; set git.author_name and git.author_email without <, > or line breaks"
        )));
    }
    Ok(())
}

/// `p` as a clean path relative to the repository root, refusing anything absolute, leaving
/// the repository or inside `.git`.
fn relative_path(p: &Path) -> Result<PathBuf, GitError> {
    let bad = |reason| GitError::BadPath {
        path: p.to_path_buf(),
        reason,
    };
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::Normal(n) => {
                if n == ".git" {
                    return Err(bad("it is inside .git"));
                }
                out.push(n);
            }
            Component::CurDir => {}
            Component::RootDir | Component::Prefix(_) => {
                return Err(bad(
                    "it is absolute: paths are relative to the repository root",
                ));
            }
            Component::ParentDir => return Err(bad("it leaves the repository")),
        }
    }
    if out.as_os_str().is_empty() {
        return Err(bad("it names the repository itself, not a file"));
    }
    Ok(out)
}

/// HEAD's tree with `contents` written from memory. `None` when it equals HEAD's tree;
/// otherwise `(HEAD, new tree)`. Each path must be a regular file in HEAD, or new with only
/// directories (or nothing) on its way.
fn build_tree(
    dir: &Path,
    contents: &[(PathBuf, Vec<u8>)],
) -> Result<Option<(ObjectId, ObjectId)>, GitError> {
    let repo = gix::open_opts(dir, gix::open::Options::isolated())
        .map_err(|e| GitError::repo(dir, "opening the repository", e))?;
    let head = repo
        .head_commit()
        .map_err(|e| GitError::repo(dir, "reading the HEAD commit", e))?;
    let head_tree = head
        .tree_id()
        .map_err(|e| GitError::repo(dir, "reading the HEAD tree", e))?
        .detach();
    let head_tree_object = head
        .tree()
        .map_err(|e| GitError::repo(dir, "reading the HEAD tree", e))?;
    let mut editor = repo
        .edit_tree(head_tree)
        .map_err(|e| GitError::repo(dir, "editing the HEAD tree", e))?;
    for (rel, data) in contents {
        let kind = kind_in_head(dir, &head_tree_object, rel)?;
        let key = tree_key(rel)?;
        let blob = repo
            .write_blob(data)
            .map_err(|e| GitError::repo_chain(dir, "writing a blob", &e))?;
        editor
            .upsert(&key, kind, blob)
            .map_err(|e| GitError::repo_chain(dir, format!("adding {}", rel.display()), &e))?;
    }
    let tree = editor
        .write()
        .map_err(|e| GitError::repo_chain(dir, "writing the tree", &e))?
        .detach();
    if tree == head_tree {
        Ok(None)
    } else {
        Ok(Some((head.id, tree)))
    }
}

/// The mode `rel` keeps: its own in HEAD when it is a regular file there, a plain file when it
/// is new. Refused when it, or an entry on its way, is anything else in HEAD.
fn kind_in_head(dir: &Path, tree: &gix::Tree<'_>, rel: &Path) -> Result<EntryKind, GitError> {
    let bad = |reason| GitError::BadPath {
        path: rel.to_path_buf(),
        reason,
    };
    let count = rel.components().count();
    let mut prefix = PathBuf::new();
    for (i, part) in rel.components().enumerate() {
        prefix.push(part);
        let last = i + 1 == count;
        let entry = tree
            .lookup_entry_by_path(&prefix)
            .map_err(|e| GitError::repo(dir, format!("looking up {}", prefix.display()), e))?;
        let Some(entry) = entry else {
            return Ok(EntryKind::Blob);
        };
        match (entry.mode().kind(), last) {
            (EntryKind::Tree, false) => {}
            (k @ (EntryKind::Blob | EntryKind::BlobExecutable), true) => return Ok(k),
            (EntryKind::Link, true) => return Err(bad("it is a symbolic link")),
            (EntryKind::Link, false) => {
                return Err(bad("a directory on its way is a symbolic link"));
            }
            (EntryKind::Commit, true) => return Err(bad("it is a submodule")),
            (EntryKind::Commit, false) => return Err(bad("a directory on its way is a submodule")),
            (EntryKind::Tree, true) => return Err(bad("it is a directory")),
            (EntryKind::Blob | EntryKind::BlobExecutable, false) => {
                return Err(bad("a part of it is not a directory"));
            }
        }
    }
    Ok(EntryKind::Blob)
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
        assert_eq!(
            relative_path(Path::new("./a/b.yaml")).unwrap(),
            PathBuf::from("a/b.yaml")
        );
        assert!(relative_path(Path::new("/s/checkout/a.yaml")).is_err());
        assert!(relative_path(Path::new("../a")).is_err());
        assert!(relative_path(Path::new("a/../../b")).is_err());
        assert!(relative_path(Path::new(".git/config")).is_err());
        assert!(relative_path(Path::new("a/.git/config")).is_err());
        assert!(relative_path(Path::new(".")).is_err());
    }

    #[test]
    fn identities() {
        assert!(check_identity("baton", "baton@example.com").is_ok());
        assert!(check_identity("ba<ton", "b@x").is_err());
        assert!(check_identity("baton", "").is_err());
    }
}
