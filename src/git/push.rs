//! Pushing a commit with the system `git`: never a forced push to the target branch, a
//! lease for the branches Baton owns, and a rejected or raced push told apart from a refusal.

use gix::ObjectId;

use super::GitError;
use super::command::is_valid_branch;
use super::workspace::Workspace;

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

impl Workspace {
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
        let mut cmd = self.environment().network("push")?;
        cmd.current_dir(self.git_dir())
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
                    .map_err(|e| GitError::repo(self.git_dir(), "reading the pushed commit", e))?;
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
}
