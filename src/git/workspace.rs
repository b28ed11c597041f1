//! The clone in the state directory: cloned on first use, checked and re-cloned when broken,
//! reset to the remote branch on every sync, committed to in-process, pushed by `git push`.
//!
//! One `Workspace` per state directory and one user at a time: the caller holds a lock on the
//! state directory (stale git lock files are removed on sync as if left by a crash).

use std::path::{Component, Path, PathBuf};

use gix::ObjectId;
use gix::bstr::ByteSlice;

use super::GitError;
use super::command::{GitEnvironment, RemoteSettings, is_valid_branch};
use super::history::{CommitRecord, HistoryQuery, read_history};
use super::sign::Signing;

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

/// How a push ended when git itself did not fail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushOutcome {
    /// The remote branch now points at the commit (or already did).
    Pushed,
    /// The remote branch moved since the last sync (non-fast-forward, fetch first, or a stale
    /// lease for owned branches): sync, re-apply and retry.
    Rejected {
        /// git's reason, e.g. `non-fast-forward`.
        reason: String,
    },
}

/// How a push that the remote could not apply raced with another writer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Race {
    /// The branch now holds exactly the pushed commit (identical work pushed by another Baton).
    SameCommit,
    /// The branch moved elsewhere.
    Moved,
}

impl Race {
    /// The race in a word, for logs.
    fn as_str(self) -> &'static str {
        match self {
            Race::SameCommit => "same_commit",
            Race::Moved => "moved",
        }
    }
}

/// A clone of the remote branch kept under `STATE_DIR/git/checkout`.
#[derive(Debug, Clone)]
pub struct Workspace {
    env: GitEnvironment,
    root: PathBuf,
    checkout: PathBuf,
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

    fn open_repo(&self) -> Result<gix::Repository, GitError> {
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
        tokio::task::spawn_blocking(move || health(&dir, &url, &shown))
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

    /// Commits the current content of `req.paths_changed` on top of HEAD, built in-process:
    /// HEAD's tree with those paths replaced (or removed when gone). Returns `None`, making no
    /// commit, when the result equals HEAD's tree. Updates the branch and the index.
    pub async fn commit(&self, req: &CommitRequest) -> Result<Option<ObjectId>, GitError> {
        self.commit_inner(req, Vec::new())
            .await
            .map_err(|e| self.no_space(e, "committing"))
    }

    /// `err` as [`GitError::NoSpace`] when a full file system caused it, unchanged otherwise.
    fn no_space(&self, err: GitError, action: &str) -> GitError {
        if !err.is_no_space() || matches!(err, GitError::NoSpace { .. }) {
            return err;
        }
        GitError::NoSpace {
            dir: self.root.clone(),
            action: action.to_string(),
            detail: err.to_string(),
        }
    }

    /// Commits `contents` (paths relative to the work tree, with their new bytes) on top of
    /// HEAD, plus the work-tree content of `req.paths_changed` as [`Workspace::commit`] does.
    /// The blobs come straight from memory, so the commit holds exactly these bytes; the files
    /// are then written to the work tree (plainly: a crash before the next sync is undone by
    /// its reset) and the index is updated for them. Existing entries keep their mode; a path
    /// that is a symbolic link or leaves the work tree is refused. Returns `None`, making no
    /// commit and writing nothing, when the result equals HEAD's tree.
    pub async fn commit_contents(
        &self,
        req: &CommitRequest,
        contents: Vec<(PathBuf, Vec<u8>)>,
    ) -> Result<Option<ObjectId>, GitError> {
        let mut checked = Vec::with_capacity(contents.len());
        for (p, data) in contents {
            let rel = relative_path(&self.checkout, &p)?;
            check_plain_file(&self.checkout, &rel)?;
            checked.push((rel, data));
        }
        self.commit_inner(req, checked)
            .await
            .map_err(|e| self.no_space(e, "committing"))
    }

    async fn commit_inner(
        &self,
        req: &CommitRequest,
        contents: Vec<(PathBuf, Vec<u8>)>,
    ) -> Result<Option<ObjectId>, GitError> {
        check_identity(&req.author_name, &req.author_email)?;
        let mut rel_paths = Vec::with_capacity(req.paths_changed.len());
        for p in &req.paths_changed {
            rel_paths.push(relative_path(&self.checkout, p)?);
        }
        let dir = self.checkout.clone();
        let (built, contents) = tokio::task::spawn_blocking(move || {
            let built = build_tree(&dir, &rel_paths, &contents);
            (built, contents)
        })
        .await
        .map_err(|e| GitError::repo(&self.checkout, "building the tree", e))?;
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
                .map_err(|e| GitError::repo(&self.checkout, "serializing the commit", e))?;
            let sig = signing.sign(&payload).await?;
            commit.extra_headers.push(("gpgsig".into(), sig.into()));
        }
        // The work tree first: should writing fail, the branch has not moved and the caller's
        // next sync puts every file back.
        let written: Vec<PathBuf> = contents.iter().map(|(p, _)| p.clone()).collect();
        if !contents.is_empty() {
            let dir = self.checkout.clone();
            tokio::task::spawn_blocking(move || write_work_tree(&dir, &contents))
                .await
                .map_err(|e| GitError::repo(&self.checkout, "writing the work tree", e))??;
        }
        let (id, name) = write_commit(&self.checkout, &commit, parent, req)?;
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
            let mut cmd = self.env.local("update-index", &self.checkout);
            cmd.args(["update-index", "--add", "-z", "--stdin"])
                .stdin(input);
            cmd.run().await
        } else {
            self.env
                .local("reset", &self.checkout)
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

    /// Pushes `commit` to `branch` on the remote. `force` is for branches the caller owns (a
    /// review branch) and is refused for the target branch; it uses a lease on the value the
    /// remote branch has just before the push, so a concurrent update is not overwritten.
    /// Returns [`PushOutcome::Rejected`] when the branch moved; a remote that refuses the push
    /// (hook, protection) is an error carrying the remote's message.
    pub async fn push(
        &self,
        commit: ObjectId,
        branch: &str,
        force: bool,
    ) -> Result<PushOutcome, GitError> {
        if !is_valid_branch(branch) {
            return Err(GitError::Settings(format!(
                "branch {branch:?} is not a valid git branch name"
            )));
        }
        let remote = self.settings().display_url();
        if force
            && (branch == self.settings().branch
                || Some(branch) == self.settings().push_branch.as_deref())
        {
            return Err(GitError::ForceOnTarget {
                branch: branch.to_string(),
                remote,
            });
        }
        let dest = format!("refs/heads/{branch}");
        let mut cmd = self.env.network("push")?;
        cmd.current_dir(&self.checkout)
            .args(["push", "--porcelain", "--no-verify"]);
        // Where the branch was before a forced push: if it is still there after a refusal,
        // nothing moved and the refusal is real (a hook), not a race.
        let mut leased = None;
        if force {
            let current = self.remote_branch(branch).await?;
            let lease = current.map(|id| id.to_string()).unwrap_or_default();
            cmd.arg(format!("--force-with-lease={dest}:{lease}"));
            leased = Some(current);
        }
        cmd.args(["origin".to_string(), format!("{commit}:{dest}")]);
        let out = cmd.output().await?;
        let Some((flag, summary)) = porcelain_status(&out.stdout, &dest) else {
            return if out.success {
                Ok(PushOutcome::Pushed)
            } else {
                Err(cmd.failure(&out))
            };
        };
        match flag {
            '!' => {
                let reason = summary_reason(&summary);
                if summary.starts_with("[rejected]") {
                    tracing::debug!(%branch, %reason, "push rejected, remote moved");
                    Ok(PushOutcome::Rejected { reason })
                } else if let Some(race) = self.race_during_push(commit, branch, leased).await {
                    // Another writer's push landed after the remote advertised the branch to
                    // us (the remote then cannot lock or update the ref): a race, not a refusal.
                    tracing::debug!(%branch, %reason, race = race.as_str(), "push raced with another writer");
                    match race {
                        Race::SameCommit => Ok(PushOutcome::Pushed),
                        Race::Moved => Ok(PushOutcome::Rejected {
                            reason: format!("the branch moved during the push ({reason})"),
                        }),
                    }
                } else {
                    Err(GitError::PushRefused {
                        remote,
                        branch: branch.to_string(),
                        reason,
                        hook: remote_messages(&out.stderr),
                    })
                }
            }
            _ if out.success => {
                tracing::debug!(%commit, %branch, "pushed");
                Ok(PushOutcome::Pushed)
            }
            _ => Err(cmd.failure(&out)),
        }
    }

    /// After the remote refused to update `branch`: whether that was a race with another
    /// writer, i.e. the branch no longer points at `commit`'s parent (the commit the push was
    /// built on). [`Race::SameCommit`] when it now points at `commit` itself (another Baton
    /// pushed the identical commit). `None` when the branch has not moved or the remote cannot
    /// be asked, so a real refusal is reported rather than retried.
    /// `leased` is where a forced push expected the branch to be; the parent does not matter
    /// then (a review branch is rebuilt on the target branch).
    async fn race_during_push(
        &self,
        commit: ObjectId,
        branch: &str,
        leased: Option<Option<ObjectId>>,
    ) -> Option<Race> {
        let parent = if let Some(leased) = leased {
            leased
        } else {
            match self.open_repo().and_then(|repo| {
                let found = repo
                    .find_commit(commit)
                    .map_err(|e| GitError::repo(&self.checkout, "reading the pushed commit", e))?;
                Ok(found.parent_ids().next().map(|id| id.detach()))
            }) {
                Ok(parent) => parent,
                Err(e) => {
                    tracing::debug!(error = %e, "cannot read the pushed commit's parent");
                    return None;
                }
            }
        };
        match self.remote_branch(branch).await {
            Ok(remote) if remote == Some(commit) => Some(Race::SameCommit),
            Ok(remote) if remote != parent => Some(Race::Moved),
            Ok(_) => None,
            Err(e) => {
                tracing::debug!(error = %e, "cannot ask the remote where the branch is");
                None
            }
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

    /// A reader for files at past commits that keeps the repository open, for many
    /// questions in a row (such as the soak's search through history).
    pub fn tree_reader(&self) -> Result<TreeReader, GitError> {
        Ok(TreeReader {
            repo: self.open_repo()?,
            dir: self.checkout.clone(),
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

/// Checks that a clone is usable; the error says why not.
fn health(dir: &Path, url: &str, shown_url: &str) -> Result<(), String> {
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
fn write_work_tree(dir: &Path, contents: &[(PathBuf, Vec<u8>)]) -> Result<(), GitError> {
    for (rel, data) in contents {
        check_plain_file(dir, rel)?;
        let full = dir.join(rel);
        if let Some(parent) = full.parent() {
            std::fs::create_dir_all(parent).map_err(|source| GitError::Io {
                action: "cannot create the directory of",
                path: full.clone(),
                source,
            })?;
        }
        std::fs::write(&full, data).map_err(|source| GitError::Io {
            action: "cannot write",
            path: full.clone(),
            source,
        })?;
    }
    Ok(())
}

/// HEAD's tree with `contents` written from memory and `paths` replaced by their work-tree
/// content. `None` when it equals HEAD's tree; otherwise `(HEAD, new tree)`.
fn build_tree(
    dir: &Path,
    paths: &[PathBuf],
    contents: &[(PathBuf, Vec<u8>)],
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
    for (rel, data) in contents {
        let key = tree_key(rel)?;
        let existing = head_tree_object
            .lookup_entry_by_path(rel)
            .map_err(|e| GitError::repo(dir, format!("looking up {}", rel.display()), e))?;
        let kind = match existing.map(|e| e.mode().kind()) {
            Some(k @ (EntryKind::Blob | EntryKind::BlobExecutable)) => k,
            Some(_) => {
                return Err(GitError::BadPath {
                    path: rel.clone(),
                    reason: "it is not a regular file in HEAD",
                });
            }
            None => EntryKind::Blob,
        };
        let blob = repo
            .write_blob(data)
            .map_err(|e| GitError::repo(dir, "writing a blob", e))?;
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

/// The porcelain status line for `dest`: its flag and summary.
fn porcelain_status(stdout: &str, dest: &str) -> Option<(char, String)> {
    for line in stdout.lines() {
        let mut fields = line.splitn(3, '\t');
        let (Some(flag), Some(refs), Some(summary)) = (fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        let to = refs.rsplit(':').next().unwrap_or("");
        if to == dest
            && let Some(f) = flag.chars().next()
        {
            return Some((f, summary.to_string()));
        }
    }
    None
}

/// `[rejected] (non-fast-forward)` → `non-fast-forward`; other summaries as they are.
fn summary_reason(summary: &str) -> String {
    match (summary.find('('), summary.rfind(')')) {
        (Some(a), Some(b)) if a < b => summary[a + 1..b].to_string(),
        _ => summary.trim().to_string(),
    }
}

/// The remote's own messages (`remote: ...` lines), as `: msg; msg`, or empty.
fn remote_messages(stderr: &str) -> String {
    let msgs: Vec<&str> = stderr
        .lines()
        .filter_map(|l| l.strip_prefix("remote:"))
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .take(20)
        .collect();
    if msgs.is_empty() {
        String::new()
    } else {
        format!(": {}", msgs.join("; "))
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
    fn porcelain_parsing() {
        let out = "To /srv/r.git\n!\tabc:refs/heads/main\t[rejected] (fetch first)\nDone\n";
        let (flag, summary) = porcelain_status(out, "refs/heads/main").unwrap();
        assert_eq!(flag, '!');
        assert_eq!(summary_reason(&summary), "fetch first");
        assert!(porcelain_status(out, "refs/heads/other").is_none());
        let ok = "To x\n \tabc:refs/heads/main\t1111..2222\nDone\n";
        assert_eq!(porcelain_status(ok, "refs/heads/main").unwrap().0, ' ');
    }

    #[test]
    fn remote_lines() {
        let err =
            "remote: \nremote: frozen: no pushes today        \nTo x\n ! [remote rejected] ...\n";
        assert_eq!(remote_messages(err), ": frozen: no pushes today");
        assert_eq!(remote_messages("fatal: x"), "");
    }

    #[test]
    fn identities() {
        assert!(check_identity("baton", "baton@example.com").is_ok());
        assert!(check_identity("ba<ton", "b@x").is_err());
        assert!(check_identity("baton", "").is_err());
    }
}
