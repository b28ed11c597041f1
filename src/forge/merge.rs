//! Merging Baton's own pull requests: what the forge answered when asked to merge one, or to
//! merge it once its required checks pass and its approvals are met.

/// What came of asking the forge to merge a pull request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MergeOutcome {
    /// Merged now.
    Merged,
    /// The forge merges it by itself once its required checks pass and approvals are met
    /// (GitHub auto-merge, GitLab merge when the pipeline succeeds, Gitea/Forgejo merge when
    /// checks succeed).
    Scheduled,
    /// Not merged and not scheduled: the forge's reason (checks failing, approvals missing,
    /// conflicts, the head moved). The next pass asks again.
    Waiting(String),
}

impl std::fmt::Display for MergeOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MergeOutcome::Merged => f.write_str("merged"),
            MergeOutcome::Scheduled => {
                f.write_str("the forge merges it once its required checks and approvals pass")
            }
            MergeOutcome::Waiting(why) => write!(f, "not merged yet: {why}"),
        }
    }
}

/// HTTP statuses with which the forges say "not mergeable now" rather than "broken":
/// 405 (not allowed yet: checks, approvals, draft), 406 (GitLab: not mergeable),
/// 409 (the head moved), 422 (the branch cannot be merged).
pub(super) fn not_mergeable(status: u16) -> bool {
    matches!(status, 405 | 406 | 409 | 422)
}
