//! The clone in the state directory: cloned on first use, checked and re-cloned when broken,
//! reset to the remote branch on every sync, its work tree limited to the paths passes read
//! (`sparse.rs`). Commits are built in `commit.rs`, pushes made in `push.rs`, past files read
//! in `tree.rs`.
//!
//! One `Workspace` per state directory and one user at a time: the caller holds a lock on the
//! state directory (stale git lock files are removed on sync as if left by a crash).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use gix::ObjectId;
use gix::bstr::ByteSlice;

use super::GitError;
use super::command::{GitEnvironment, RemoteSettings, is_valid_branch};
use super::history::{CommitRecord, HistoryQuery, read_history};
use super::sparse::Checkout;

/// A clone of the remote branch kept under `STATE_DIR/git/checkout`.
#[derive(Debug, Clone)]
pub struct Workspace {
    env: GitEnvironment,
    root: PathBuf,
    checkout: PathBuf,
    /// What the work tree should hold after the next sync (shared by clones of this value);
    /// `None` keeps what it holds.
    wanted: Arc<Mutex<Option<Checkout>>>,
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
    /// Opens the clone under `state_dir`, cloning the remote first when there is none. A clone
    /// that gix cannot open, whose HEAD, commit or trees are unreadable, or whose remote URL
    /// differs from `settings.url`, is moved to `checkout.broken` (replacing an older one) and
    /// cloned again; the reason is logged.
    pub async fn open_or_clone(
        state_dir: &Path,
        settings: &RemoteSettings,
    ) -> Result<Workspace, GitError> {
        Self::open(state_dir, settings, None).await
    }

    /// [`Workspace::open_or_clone`] with the work tree limited to `checkout` from the start
    /// (see [`Workspace::limit_work_tree`]): a new clone then writes only those files, never
    /// the whole repository.
    pub async fn open_or_clone_limited(
        state_dir: &Path,
        settings: &RemoteSettings,
        checkout: Checkout,
    ) -> Result<Workspace, GitError> {
        Self::open(state_dir, settings, Some(checkout)).await
    }

    async fn open(
        state_dir: &Path,
        settings: &RemoteSettings,
        checkout: Option<Checkout>,
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
            checkout: root.join("checkout"),
            root,
            env,
            wanted: Arc::new(Mutex::new(checkout)),
        };
        remove_dir_if_exists(&ws.root.join("checkout.tmp"))?;
        if ws.checkout.exists() {
            match ws.check_health().await {
                Ok(()) => {
                    tracing::debug!(dir = %ws.checkout.display(), "opened existing clone");
                    return Ok(ws);
                }
                Err(reason) => {
                    tracing::warn!(dir = %ws.checkout.display(), %reason, "clone unusable, cloning again");
                    ws.move_aside()?;
                }
            }
        }
        ws.clone_fresh().await?;
        Ok(ws)
    }

    /// The work tree, where edits are made before [`Workspace::commit`].
    pub fn work_tree(&self) -> &Path {
        &self.checkout
    }

    /// The remote settings in use (paths made absolute).
    pub fn settings(&self) -> &RemoteSettings {
        self.env.settings()
    }

    /// The controlled git environment, for callers that need another git command.
    pub fn environment(&self) -> &GitEnvironment {
        &self.env
    }

    pub(super) fn wanted_checkout(&self) -> &Mutex<Option<Checkout>> {
        &self.wanted
    }

    pub(super) fn open_repo(&self) -> Result<gix::Repository, GitError> {
        gix::open_opts(&self.checkout, gix::open::Options::isolated())
            .map_err(|e| GitError::repo(&self.checkout, "opening the clone", e))
    }

    /// The commit HEAD points at.
    pub fn head(&self) -> Result<ObjectId, GitError> {
        let repo = self.open_repo()?;
        repo.head_id()
            .map(|id| id.detach())
            .map_err(|e| GitError::repo(&self.checkout, "reading HEAD", e))
    }

    async fn check_health(&self) -> Result<(), String> {
        let dir = self.checkout.clone();
        let url = self.settings().url.clone();
        let shown = self.settings().display_url();
        let checkout = self
            .wanted
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        tokio::task::spawn_blocking(move || health(&dir, &url, &shown, checkout.as_ref()))
            .await
            .map_err(|e| format!("the health check did not finish: {e}"))?
    }

    fn move_aside(&self) -> Result<(), GitError> {
        let aside = self.root.join("checkout.broken");
        remove_dir_if_exists(&aside)?;
        std::fs::rename(&self.checkout, &aside).map_err(|source| GitError::Io {
            action: "cannot move broken clone aside",
            path: self.checkout.clone(),
            source,
        })
    }

    async fn clone_fresh(&self) -> Result<(), GitError> {
        let tmp = self.root.join("checkout.tmp");
        let settings = self.settings();
        tracing::info!(remote = %settings.display_url(), branch = %settings.branch, "cloning");
        let mut cmd = self.env.network("clone")?;
        cmd.current_dir(&self.root).args([
            "clone",
            "--quiet",
            "--no-checkout",
            "--no-tags",
            "--single-branch",
            "-c",
            "gc.autoDetach=false",
            "-c",
            "maintenance.autoDetach=false",
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
        std::fs::rename(&tmp, &self.checkout).map_err(|source| GitError::Io {
            action: "cannot move new clone into place",
            path: self.checkout.clone(),
            source,
        })?;
        // git creates the clone with the umask's mode; the fleet's content stays private.
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&self.checkout, std::fs::Permissions::from_mode(0o700))
                .map_err(|source| GitError::Io {
                    action: "cannot make the clone private",
                    path: self.checkout.clone(),
                    source,
                })?;
        }
        // Checked out only now, so that a work tree limited to some paths never holds the
        // rest, not even once.
        let tracking = self.tracking_ref();
        self.reset_to(&tracking)
            .await
            .map_err(|e| self.no_space(e, "checking out the new clone"))?;
        if let Err(reason) = self.check_health().await {
            return Err(GitError::repo(
                &self.checkout,
                "checking the new clone",
                reason,
            ));
        }
        Ok(())
    }

    /// Removes lock files a crashed git or Baton left behind.
    fn remove_stale_locks(&self) {
        let git = self.checkout.join(".git");
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
                .map_err(|e| GitError::repo(&self.checkout, format!("reading {push}"), e))?
                .is_some()
            {
                return Ok(push);
            }
        }
        Ok(self.tracking_ref())
    }

    /// Fetches the branch (and the push branch, when one is configured and exists) and makes
    /// the work tree exactly the remote head passes build on: the push branch while it
    /// exists, else the branch. Local commits and changes are dropped (they stay in the
    /// reflog), untracked and ignored files are removed, so nothing half-written by a crash is
    /// ever committed. A clone whose checkout fails is cloned again. Returns that remote head.
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
                    .local("update-ref", &self.checkout)
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
        if let Err(e) = self.reset_to(&base).await {
            // A full disk is no reason to throw the clone away: a new one would not fit either.
            if e.is_no_space() {
                return Err(self.no_space(e, "checking out the remote head"));
            }
            tracing::warn!(dir = %self.checkout.display(), error = %e, "resetting the clone failed, cloning again");
            self.move_aside()?;
            self.clone_fresh().await?;
            if base != tracking {
                // The fresh clone has only the branch: fetch the push branch again.
                self.fetch(&refspecs).await?;
                self.reset_to(&base).await?;
            }
        }
        let repo = self.open_repo()?;
        let id = repo
            .find_reference(base.as_str())
            .and_then(|mut r| r.peel_to_id())
            .map_err(|e| GitError::repo(&self.checkout, format!("reading {base}"), e))?;
        tracing::debug!(head = %id, base = %base, "synced with remote");
        Ok(id.detach())
    }

    /// Fetches `refspecs` from the remote, without tags.
    async fn fetch(&self, refspecs: &[String]) -> Result<(), GitError> {
        let mut fetch = self.env.network("fetch")?;
        fetch
            .current_dir(&self.checkout)
            .args(["fetch", "--quiet", "--no-tags", "origin"])
            .args(refspecs);
        fetch
            .run()
            .await
            .map(|_| ())
            .map_err(|e| self.no_space(e, "fetching"))
    }

    async fn reset_to(&self, rev: &str) -> Result<(), GitError> {
        // The sparse-checkout settings first: the checkout below then writes only the files
        // asked for, and removes those no longer asked for (even ones a crash left edited).
        self.apply_checkout().await?;
        let branch = &self.settings().branch;
        self.env
            .local("checkout", &self.checkout)
            .args([
                "checkout",
                "--quiet",
                "--force",
                "--no-track",
                "-B",
                branch,
                rev,
                "--",
            ])
            .run()
            .await?;
        self.env
            .local("clean", &self.checkout)
            .args(["clean", "-ffdxq"])
            .run()
            .await?;
        Ok(())
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
        cmd.current_dir(&self.checkout)
            .args(["ls-remote", "--quiet", "origin", &dest]);
        let out = cmd.run().await?;
        for line in out.stdout.lines() {
            if let Some((id, name)) = line.split_once('\t')
                && name == dest
            {
                return ObjectId::from_hex(id.as_bytes())
                    .map(Some)
                    .map_err(|e| GitError::repo(&self.checkout, "reading ls-remote output", e));
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

    /// Makes the work tree and the local branch exactly the remote head fetched by the last
    /// [`Workspace::sync`], without fetching: drops local commits and edits (a review commit
    /// once it is pushed to its own branch).
    pub async fn reset_to_remote(&self) -> Result<(), GitError> {
        let base = self.base_ref()?;
        self.reset_to(&base).await
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
            .local("merge-base", &self.checkout)
            .args(["merge-base", "--is-ancestor", &commit.to_string(), &base])
            .output()
            .await?;
        // It exits 1 without a word when the commit is not an ancestor.
        match (out.success, out.stderr.trim().is_empty()) {
            (true, _) => Ok(true),
            (false, true) => Ok(false),
            (false, false) => Err(GitError::repo(
                &self.checkout,
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
            .local("rev-list", &self.checkout)
            .args(["rev-list", "--count", &format!("{base}..{commit}")])
            .output()
            .await?;
        if !out.success {
            return Err(GitError::repo(
                &self.checkout,
                "counting a branch's own commits",
                out.stderr.trim(),
            ));
        }
        out.stdout.trim().parse().map_err(|_| {
            GitError::repo(
                &self.checkout,
                "counting a branch's own commits",
                "git rev-list --count printed no number",
            )
        })
    }
}

/// Checks that a clone is usable; the error says why not. The trees read are those the work
/// tree holds (`checkout`; every tree when it is not limited), so the check costs in
/// proportion to the environments' paths, as a pass does.
fn health(
    dir: &Path,
    url: &str,
    shown_url: &str,
    checkout: Option<&Checkout>,
) -> Result<(), String> {
    let repo = gix::open_opts(dir, gix::open::Options::isolated())
        .map_err(|e| format!("gix cannot open it: {e}"))?;
    if repo.workdir().is_none() {
        return Err("it has no work tree".into());
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
    match checkout {
        Some(Checkout::Paths(paths)) => check_trees_at(&repo, &tree, paths),
        _ => check_trees(&repo, &tree),
    }
    .map_err(|e| format!("a tree of HEAD is unreadable: {e}"))?;
    Ok(())
}

/// Reads the trees on the way to each of `paths` and every tree below them; a path HEAD does
/// not hold, or that names a file, ends the walk there.
fn check_trees_at(
    repo: &gix::Repository,
    root: &gix::Tree<'_>,
    paths: &std::collections::BTreeSet<PathBuf>,
) -> Result<(), gix::Error> {
    for entry in root.iter() {
        entry?;
    }
    'paths: for path in paths {
        let mut tree = root.clone();
        for component in path.components() {
            let name = component.as_os_str().as_encoded_bytes();
            let mut next = None;
            for entry in tree.iter() {
                let entry = entry?;
                if entry.filename() == name {
                    next = entry.mode().is_tree().then(|| entry.object_id());
                    break;
                }
            }
            let Some(id) = next else { continue 'paths };
            tree = repo.find_tree(id)?;
        }
        check_trees(repo, &tree)?;
    }
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
