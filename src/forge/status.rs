//! Commit statuses Baton writes: a state, a context that names Baton's check, a short
//! description and an optional link, in the words each forge takes.

/// The state of a commit status Baton sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusState {
    /// Still running.
    Pending,
    /// Passed.
    Success,
    /// Failed: the commit is refused.
    Failure,
}

impl StatusState {
    /// GitHub's and Gitea/Forgejo's word for it.
    pub fn github(self) -> &'static str {
        match self {
            StatusState::Pending => "pending",
            StatusState::Success => "success",
            StatusState::Failure => "failure",
        }
    }

    /// GitLab's word for it.
    pub fn gitlab(self) -> &'static str {
        match self {
            StatusState::Pending => "pending",
            StatusState::Success => "success",
            StatusState::Failure => "failed",
        }
    }
}

/// A commit status to set on one commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitStatus {
    /// Passed, failed or pending.
    pub state: StatusState,
    /// The check's name (GitLab: `name`), e.g. `baton/rules`.
    pub context: String,
    /// One line; cut to [`MAX_DESCRIPTION`] characters.
    pub description: String,
    /// A page that explains it.
    pub target_url: Option<String>,
}

/// The longest description GitHub takes (140 characters); the others take at least as much.
pub const MAX_DESCRIPTION: usize = 140;

impl CommitStatus {
    /// The description on one line, cut to [`MAX_DESCRIPTION`] characters with `…`.
    pub fn short_description(&self) -> String {
        let line = self
            .description
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        if line.chars().count() <= MAX_DESCRIPTION {
            return line;
        }
        let mut cut: String = line.chars().take(MAX_DESCRIPTION - 1).collect();
        cut.push('…');
        cut
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_fit_on_one_line_of_140_characters() {
        let status = CommitStatus {
            state: StatusState::Failure,
            context: "baton/rules".into(),
            description: format!("first\nsecond {}", "x".repeat(300)),
            target_url: None,
        };
        let short = status.short_description();
        assert!(short.starts_with("first second x"));
        assert_eq!(short.chars().count(), MAX_DESCRIPTION);
        assert!(short.ends_with('…'));
        assert_eq!(StatusState::Failure.gitlab(), "failed");
        assert_eq!(StatusState::Failure.github(), "failure");
    }
}
