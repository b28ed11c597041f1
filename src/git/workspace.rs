//! The repository in the state directory: a bare clone of the remote branch, fetched into on
//! every sync, committed to in-process and pushed by `git push`. No work tree and no index:
//! files are read from trees and written as blobs (see `tree.rs` and `commit.rs`).
//!
//! One `Workspace` per state directory and one user at a time: the caller holds a lock on the
//! state directory (stale git lock files are removed on sync as if left by a crash).

use std::path::{Path, PathBuf};

use gix::ObjectId;
use gix::bstr::ByteSlice;

use super::GitError;
use super::command::{GitEnvironment, RemoteSettings, is_valid_branch};
use super::history::{CommitRecord, HistoryQuery, read_history};

/// A bare clone of the remote branch kept under `STATE_DIR/git/repo.git`.
#[derive(Debug, Clone)]
pub struct Workspace {
    env: GitEnvironment,
    root: PathBuf,
    repo: PathBuf,
}

/// Whether `url` names a local path rather than a URL or an scp-like `host:path`.
fn is_plain_path(url: &str) -> bool {
    if url.contains("://") {
        return false;
    }
    match (url.find(':'), url.find('/')) {
        (Some(colon), Some(slash)) => slash < colon,
        (Some(_), None) => false,
        _ => true,
    }
}

impl Workspace {
    /// Opens the repository under `state_dir`, cloning the remote first when there is none.
    /// A state directory holding the checkout of older versions (`git/checkout`) is turned
    /// into the bare repository, keeping its objects, refs and reflogs. A repository that gix
    /// cannot open, whose HEAD, commit or trees are unreadable, or whose remote URL differs
    /// from `settings.url`, is moved to `repo.broken` (replacing an older one) and cloned
    /// again; the reason is logged.
    pub async fn open_or_clone(
        state_dir: &Path,
        settings: &RemoteSettings,
    ) -> Result<Workspace, GitError> {
        let mut settings = settings.clone();
        if is_plain_path(&settings.url) {
            settings.url = std::path::absolute(&settings.url)
                .map_err(|source| GitError::Io {
                    action: "cannot resolve remote path",
                    path: PathBuf::from(&settings.url),
                    source,
                })?
                .to_string_lossy()
                .into_owned();
        }
        let env = GitEnvironment::prepare(state_dir, &settings)?;
        let root = std::path::absolute(state_dir.join("git")).map_err(|source| GitError::Io {
            action: "cannot resolve state directory",
            path: state_dir.to_path_buf(),
            source,
        })?;
        let ws = Workspace {
            repo: root.join("repo.git"),
            root,
            env,
        };
        remove_dir_if_exists(&ws.root.join("repo.tmp"))?;
        // What an interrupted clone of older versions left.
        remove_dir_if_exists(&ws.root.join("checkout.tmp"))?;
        if !ws.repo.exists() && ws.root.join("checkout").exists() {
            ws.migrate_checkout().await?;
        }
        if ws.repo.exists() {
            match ws.check_health().await {
                Ok(()) => {
                    tracing::debug!(dir = %ws.repo.display(), "opened existing repository");
                    return Ok(ws);
                }
                Err(reason) => {
                    tracing::warn!(dir = %ws.repo.display(), %reason, "repository unusable, cloning again");
                    ws.move_aside()?;
                }
            }
        }
        ws.clone_fresh().await?;
        Ok(ws)
    }

    /// The bare repository (what `git -C` needs to look inside).
    pub fn git_dir(&self) -> &Path {
        &self.repo
    }

    /// The remote settings in use (paths made absolute).
    pub fn settings(&self) -> &RemoteSettings {
        self.env.settings()
    }

    /// The controlled git environment, for callers that need another git command.
    pub fn environment(&self) -> &GitEnvironment {
        &self.env
    }

    pub(super) fn open_repo(&self) -> Result<gix::Repository, GitError> {
        gix::open_opts(&self.repo, gix::open::Options::isolated())
            .map_err(|e| GitError::repo(&self.repo, "opening the repository", e))
    }

    /// The commit HEAD points at: the remote head after a sync, then each commit made on it.
    pub fn head(&self) -> Result<ObjectId, GitError> {
        let repo = self.open_repo()?;
        repo.head_id()
            .map(|id| id.detach())
            .map_err(|e| GitError::repo(&self.repo, "reading HEAD", e))
    }

    async fn check_health(&self) -> Result<(), String> {
        let dir = self.repo.clone();
        let url = self.settings().url.clone();
        let shown = self.settings().display_url();
        tokio::task::spawn_blocking(move || health(&dir, &url, &shown))
            .await
            .map_err(|e| format!("the health check did not finish: {e}"))?
    }

    fn move_aside(&self) -> Result<(), GitError> {
        let aside = self.root.join("repo.broken");
        remove_dir_if_exists(&aside)?;
        std::fs::rename(&self.repo, &aside).map_err(|source| GitError::Io {
            action: "cannot move broken repository aside",
            path: self.repo.clone(),
            source,
        })
    }

    /// Turns the checkout older versions kept (`git/checkout`) into `git/repo.git`: its
    /// `.git` becomes the bare repository, with every object, ref and reflog. The files of
    /// the work tree are removed when they are exactly HEAD's; otherwise the work tree is kept
    /// as `git/checkout.old` for a person to look at. Logged either way.
    async fn migrate_checkout(&self) -> Result<(), GitError> {
        let checkout = self.root.join("checkout");
        let dot_git = checkout.join(".git");
        if !dot_git.is_dir() {
            tracing::warn!(dir = %checkout.display(), "the checkout of an older version has no .git directory: cloning anew and leaving it where it is");
            return Ok(());
        }
        // Whether a person changed anything there (Baton's own edits are all committed).
        let status = self
            .env
            .local("status", &checkout)
            .args([
                "status",
                "--porcelain",
                "--untracked-files=all",
                "--ignored",
            ])
            .output()
            .await;
        let changed = match &status {
            Ok(out) if out.success => !out.stdout.trim().is_empty(),
            _ => true,
        };
        self.env
            .local("config", &dot_git)
            .args(["config", "--file", "config", "core.bare", "true"])
            .run()
            .await?;
        std::fs::rename(&dot_git, &self.repo).map_err(|source| GitError::Io {
            action: "cannot move the checkout's repository to",
            path: self.repo.clone(),
            source,
        })?;
        let _ = std::fs::remove_file(self.repo.join("index"));
        if changed {
            let old = self.root.join("checkout.old");
            remove_dir_if_exists(&old)?;
            std::fs::rename(&checkout, &old).map_err(|source| GitError::Io {
                action: "cannot move the old work tree to",
                path: old.clone(),
                source,
            })?;
            tracing::warn!(repository = %self.repo.display(), kept = %old.display(), "moved the clone of an older version to a bare repository; its work tree had files that differ from HEAD and is kept for you to look at (Baton no longer uses it; remove it when done)");
        } else {
            remove_dir_if_exists(&checkout)?;
            tracing::info!(repository = %self.repo.display(), "moved the clone of an older version to a bare repository, with every commit and ref; its work tree held only HEAD's files and was removed");
        }
        Ok(())
    }

    async fn clone_fresh(&self) -> Result<(), GitError> {
        let tmp = self.root.join("repo.tmp");
        let settings = self.settings();
        tracing::info!(remote = %settings.display_url(), branch = %settings.branch, "cloning");
        let mut cmd = self.env.network("clone")?;
        cmd.current_dir(&self.root).args([
            "clone",
            "--bare",
            "--quiet",
            "--no-tags",
            "--single-branch",
            "-c",
            "gc.autoDetach=false",
            "-c",
            "maintenance.autoDetach=false",
            // Bare repositories keep no reflog by default: dropped local commits stay findable.
            "-c",
            "core.logAllRefUpdates=true",
            "--branch",
            &settings.branch,
            "--",
            &settings.url,
        ]);
        cmd.arg(&tmp);
        if let Err(e) = cmd.run().await {
            let _ = remove_dir_if_exists(&tmp);
            if let GitError::Command { detail, .. } = &e
                && detail.contains("not found in upstream")
            {
                return Err(self.missing_branch().await.unwrap_or(e));
            }
            return Err(self.no_space(e, "cloning"));
        }
        // What a clone with a work tree has: `git push` then moves the tracking ref of the
        // branch it pushed, so the base of the next commit in this pass is that push.
        let tracking = self.tracking_ref();
        let spec = format!("+refs/heads/{}:{tracking}", settings.branch);
        self.env
            .local("config", &tmp)
            .args(["config", "remote.origin.fetch", &spec])
            .run()
            .await
            .map_err(|e| self.no_space(e, "cloning"))?;
        std::fs::rename(&tmp, &self.repo).map_err(|source| GitError::Io {
            action: "cannot move new clone into place",
            path: self.repo.clone(),
            source,
        })?;
        // git creates the clone with the umask's mode; the fleet's content stays private.
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&self.repo, std::fs::Permissions::from_mode(0o700)).map_err(
                |source| GitError::Io {
                    action: "cannot make the clone private",
                    path: self.repo.clone(),
                    source,
                },
            )?;
        }
        if let Err(reason) = self.check_health().await {
            return Err(GitError::repo(&self.repo, "checking the new clone", reason));
        }
        Ok(())
    }

    /// Removes lock files a crashed git or Baton left behind.
    fn remove_stale_locks(&self) {
        let git = &self.repo;
        let branch = &self.settings().branch;
        let candidates = [
            git.join("index.lock"),
            git.join("HEAD.lock"),
            git.join("config.lock"),
            git.join("packed-refs.lock"),
            git.join("shallow.lock"),
            git.join("refs/heads").join(format!("{branch}.lock")),
            git.join("refs/remotes/origin")
                .join(format!("{branch}.lock")),
        ];
        let push = self
            .settings()
            .separate_push_branch()
            .map(|push| git.join("refs/remotes/origin").join(format!("{push}.lock")));
        for lock in candidates.into_iter().chain(push) {
            if lock.exists() {
                tracing::warn!(file = %lock.display(), "removing stale git lock file");
                let _ = std::fs::remove_file(&lock);
            }
        }
    }

    fn tracking_ref(&self) -> String {
        format!("refs/remotes/origin/{}", self.settings().branch)
    }

    /// Where the separate push branch is kept after a fetch, when one is configured.
    fn push_tracking_ref(&self) -> Option<String> {
        self.settings()
            .separate_push_branch()
            .map(|push| format!("refs/remotes/origin/{push}"))
    }

    /// The ref passes build on: the push branch as last fetched while it exists on the
    /// remote, else the tracked branch.
    fn base_ref(&self) -> Result<String, GitError> {
        if let Some(push) = self.push_tracking_ref() {
            let repo = self.open_repo()?;
            if repo
                .try_find_reference(push.as_str())
                .map_err(|e| GitError::repo(&self.repo, format!("reading {push}"), e))?
                .is_some()
            {
                return Ok(push);
            }
        }
        Ok(self.tracking_ref())
    }

    /// Fetches the branch (and the push branch, when one is configured and exists) and points
    /// HEAD's branch at the remote head passes build on: the push branch while it exists,
    /// else the branch. Local commits are dropped (they stay in the reflog). A repository
    /// whose fetched head cannot be read is cloned again. Returns that remote head.
    pub async fn sync(&self) -> Result<ObjectId, GitError> {
        self.remove_stale_locks();
        let branch = self.settings().branch.clone();
        let tracking = self.tracking_ref();
        let mut refspecs = vec![format!("+refs/heads/{branch}:{tracking}")];
        if let (Some(push), Some(push_tracking)) = (
            self.settings().separate_push_branch().map(str::to_string),
            self.push_tracking_ref(),
        ) {
            if self.remote_branch(&push).await?.is_some() {
                refspecs.push(format!("+refs/heads/{push}:{push_tracking}"));
            } else {
                // Merged and deleted (or never pushed): the next commit starts from the branch.
                self.env
                    .local("update-ref", &self.repo)
                    .args(["update-ref", "-d", &push_tracking])
                    .run()
                    .await?;
            }
        }
        if let Err(e) = self.fetch(&refspecs).await {
            if let GitError::Command { detail, .. } = &e
                && detail.contains(&format!("couldn't find remote ref refs/heads/{branch}"))
            {
                return Err(self.missing_branch().await.unwrap_or(e));
            }
            return Err(e);
        }
        let base = self.base_ref()?;
        let id = match self.reset_to(&base).await {
            Ok(id) => id,
            Err(e) => {
                if e.is_no_space() {
                    return Err(self.no_space(e, "moving to the remote head"));
                }
                tracing::warn!(dir = %self.repo.display(), error = %e, "the fetched head is unreadable, cloning again");
                self.move_aside()?;
                self.clone_fresh().await?;
                self.fetch(&refspecs).await?;
                self.reset_to(&base).await?
            }
        };
        tracing::debug!(head = %id, base = %base, "synced with remote");
        Ok(id)
    }

    /// Fetches `refspecs` from the remote, without tags.
    async fn fetch(&self, refspecs: &[String]) -> Result<(), GitError> {
        let mut fetch = self.env.network("fetch")?;
        fetch
            .current_dir(&self.repo)
            .args(["fetch", "--quiet", "--no-tags", "origin"])
            .args(refspecs);
        fetch
            .run()
            .await
            .map(|_| ())
            .map_err(|e| self.no_space(e, "fetching"))
    }

    /// Points HEAD at `refs/heads/BRANCH` and that branch at what `rev` names, after checking
    /// that its commit and root tree can be read. Returns the commit.
    async fn reset_to(&self, rev: &str) -> Result<ObjectId, GitError> {
        let head_ref = format!("refs/heads/{}", self.settings().branch);
        let (id, current) = {
            let repo = self.open_repo()?;
            let id = repo
                .find_reference(rev)
                .and_then(|mut r| r.peel_to_id())
                .map_err(|e| GitError::repo(&self.repo, format!("reading {rev}"), e))?
                .detach();
            repo.find_commit(id)
                .and_then(|c| c.tree())
                .map_err(|e| GitError::repo(&self.repo, format!("reading the tree of {rev}"), e))?;
            let current = repo
                .head_name()
                .map_err(|e| GitError::repo(&self.repo, "reading HEAD", e))?
                .map(|n| n.as_bstr().to_string());
            (id, current)
        };
        if current.as_deref() != Some(head_ref.as_str()) {
            // The branch changed in the configuration (or HEAD was damaged).
            self.env
                .local("symbolic-ref", &self.repo)
                .args(["symbolic-ref", "HEAD", &head_ref])
                .run()
                .await?;
        }
        let repo = gix::open_opts(
            &self.repo,
            gix::open::Options::isolated()
                .config_overrides(["committer.name=baton", "committer.email=baton@localhost"]),
        )
        .map_err(|e| GitError::repo(&self.repo, "opening the repository", e))?;
        repo.reference(
            head_ref.as_str(),
            id,
            gix::refs::transaction::PreviousValue::Any,
            format!("baton: reset to {rev}"),
        )
        .map_err(|e| GitError::repo_chain(&self.repo, format!("moving {head_ref}"), &e))?;
        Ok(id)
    }

    /// Points the local branch back at the remote head fetched by the last
    /// [`Workspace::sync`], without fetching: drops local commits (a review commit once it is
    /// pushed to its own branch).
    pub async fn reset_to_remote(&self) -> Result<(), GitError> {
        let base = self.base_ref()?;
        self.reset_to(&base).await.map(|_| ())
    }

    /// `err` as [`GitError::NoSpace`] when a full file system caused it, unchanged otherwise.
    pub(super) fn no_space(&self, err: GitError, action: &str) -> GitError {
        if !err.is_no_space() || matches!(err, GitError::NoSpace { .. }) {
            return err;
        }
        GitError::NoSpace {
            dir: self.root.clone(),
            action: action.to_string(),
            detail: err.to_string(),
        }
    }

    /// The error for a `git.branch` the remote does not have, listing the branches it has;
    /// `None` when they cannot be listed.
    async fn missing_branch(&self) -> Option<GitError> {
        let settings = self.settings();
        let mut cmd = self.env.network("ls-remote").ok()?;
        cmd.current_dir(&self.root)
            .args(["ls-remote", "--quiet", "--heads", "--", &settings.url]);
        let out = cmd.run().await.ok()?;
        let branches: Vec<&str> = out
            .stdout
            .lines()
            .filter_map(|line| line.split_once('\t')?.1.strip_prefix("refs/heads/"))
            .collect();
        if branches.contains(&settings.branch.as_str()) {
            return None;
        }
        Some(GitError::MissingBranch {
            remote: settings.display_url(),
            branch: settings.branch.clone(),
            branches: if branches.is_empty() {
                "none (the repository is empty: push a first commit)".to_string()
            } else {
                branches.join(", ")
            },
        })
    }

    /// The commit `branch` points at on the remote, `None` when it does not exist.
    pub async fn remote_branch(&self, branch: &str) -> Result<Option<ObjectId>, GitError> {
        let dest = format!("refs/heads/{branch}");
        let mut cmd = self.env.network("ls-remote")?;
        cmd.current_dir(&self.repo)
            .args(["ls-remote", "--quiet", "origin", &dest]);
        let out = cmd.run().await?;
        for line in out.stdout.lines() {
            if let Some((id, name)) = line.split_once('\t')
                && name == dest
            {
                return ObjectId::from_hex(id.as_bytes())
                    .map(Some)
                    .map_err(|e| GitError::repo(&self.repo, "reading ls-remote output", e));
            }
        }
        Ok(None)
    }

    /// Commits reachable from HEAD, newest first, filtered by `query`, read with gix.
    pub fn history(&self, query: &HistoryQuery) -> Result<Vec<CommitRecord>, GitError> {
        let repo = self.open_repo()?;
        let tip = self.head()?;
        read_history(&repo, tip, query)
    }

    /// Fetches `branch` (a branch Baton owns, such as a review branch) and returns its head
    /// commit, or `None` when the remote has no such branch. It is kept under
    /// `refs/baton/remote/BRANCH`, apart from the tracked branch.
    pub async fn fetch_branch_head(&self, branch: &str) -> Result<Option<CommitRecord>, GitError> {
        if !is_valid_branch(branch) {
            return Err(GitError::Settings(format!(
                "branch {branch:?} is not a valid git branch name"
            )));
        }
        let Some(id) = self.remote_branch(branch).await? else {
            return Ok(None);
        };
        let local = format!("refs/baton/remote/{branch}");
        self.fetch(&[format!("+refs/heads/{branch}:{local}")])
            .await?;
        let repo = self.open_repo()?;
        let tip = repo
            .find_reference(local.as_str())
            .and_then(|mut r| r.peel_to_id())
            .map(|id| id.detach())
            .unwrap_or(id);
        let mut records = read_history(
            &repo,
            tip,
            &HistoryQuery {
                paths: Vec::new(),
                limit: Some(1),
            },
        )?;
        Ok(records.pop())
    }

    /// Whether `commit` is reachable from the remote head the last [`Workspace::sync`]
    /// fetched (a review branch merged with a merge commit or a fast-forward).
    pub async fn is_merged(&self, commit: ObjectId) -> Result<bool, GitError> {
        let base = self.base_ref()?;
        let out = self
            .env
            .local("merge-base", &self.repo)
            .args(["merge-base", "--is-ancestor", &commit.to_string(), &base])
            .output()
            .await?;
        // It exits 1 without a word when the commit is not an ancestor.
        match (out.success, out.stderr.trim().is_empty()) {
            (true, _) => Ok(true),
            (false, true) => Ok(false),
            (false, false) => Err(GitError::repo(
                &self.repo,
                "checking whether a commit is merged",
                out.stderr.trim(),
            )),
        }
    }

    /// How many commits `commit` has that the remote head of the last sync does not (a review
    /// branch Baton made holds exactly one).
    pub async fn commits_ahead(&self, commit: ObjectId) -> Result<usize, GitError> {
        let base = self.base_ref()?;
        let out = self
            .env
            .local("rev-list", &self.repo)
            .args(["rev-list", "--count", &format!("{base}..{commit}")])
            .output()
            .await?;
        if !out.success {
            return Err(GitError::repo(
                &self.repo,
                "counting a branch's own commits",
                out.stderr.trim(),
            ));
        }
        out.stdout.trim().parse().map_err(|_| {
            GitError::repo(
                &self.repo,
                "counting a branch's own commits",
                "git rev-list --count printed no number",
            )
        })
    }
}

/// Checks that a repository is a usable bare clone of `url`; the error says why not.
fn health(dir: &Path, url: &str, shown_url: &str) -> Result<(), String> {
    let repo = gix::open_opts(dir, gix::open::Options::isolated())
        .map_err(|e| format!("gix cannot open it: {e}"))?;
    if repo.workdir().is_some() {
        return Err("it is not a bare repository".into());
    }
    let config = repo.config_snapshot();
    let origin = config
        .string("remote.origin.url")
        .map(|u| u.to_str_lossy().into_owned());
    match origin {
        Some(o) if o == url => {}
        Some(o) => {
            return Err(format!(
                "its remote url {} differs from the configured {shown_url}",
                super::command::redact_url(&o)
            ));
        }
        None => return Err("it has no origin remote".into()),
    }
    let commit = repo
        .head_commit()
        .map_err(|e| format!("HEAD does not name a readable commit: {e}"))?;
    let tree = commit
        .tree()
        .map_err(|e| format!("the tree of HEAD is unreadable: {e}"))?;
    check_trees(&repo, &tree).map_err(|e| format!("a tree of HEAD is unreadable: {e}"))?;
    Ok(())
}

/// Reads every tree below `tree`, so missing or corrupt tree objects are found up front.
fn check_trees(repo: &gix::Repository, tree: &gix::Tree<'_>) -> Result<(), gix::Error> {
    let mut stack: Vec<ObjectId> = Vec::new();
    for entry in tree.iter() {
        let entry = entry?;
        if entry.mode().is_tree() {
            stack.push(entry.object_id());
        }
    }
    while let Some(id) = stack.pop() {
        let t = repo.find_tree(id)?;
        for entry in t.iter() {
            let entry = entry?;
            if entry.mode().is_tree() {
                stack.push(entry.object_id());
            }
        }
    }
    Ok(())
}

fn remove_dir_if_exists(dir: &Path) -> Result<(), GitError> {
    match std::fs::remove_dir_all(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(GitError::Io {
            action: "cannot remove",
            path: dir.to_path_buf(),
            source,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_paths_and_urls() {
        assert!(is_plain_path("/srv/git/fleet.git"));
        assert!(is_plain_path("../fleet"));
        assert!(is_plain_path("./a:b/c"));
        assert!(!is_plain_path("file:///srv/git/fleet.git"));
        assert!(!is_plain_path("git@host:org/fleet.git"));
        assert!(!is_plain_path("host:fleet"));
    }
}
