//! The REST dialect of one kind of forge: its roots, how the token is sent, and the calls
//! Baton makes. A new forge is a file implementing [`Dialect`] and one line in the
//! `ForgeKind` list (`src/forge/mod.rs`).

use std::future::Future;
use std::pin::Pin;

use super::{
    CommitCheck, CommitStatus, Forge, ForgeError, MergeOutcome, NewPullRequest, PullRequest,
};

/// The reply of one dialect call.
pub type Reply<'a, T> = Pin<Box<dyn Future<Output = Result<T, ForgeError>> + Send + 'a>>;

/// How one kind of forge speaks. `Forge` does the rest: the HTTP client, the token,
/// error classification, rate limits, ownership of pull requests and logging.
pub trait Dialect: Sync {
    /// The base URL used when `base_url` is not set; `None` makes `base_url` required.
    fn default_base_url(&self) -> Option<&'static str> {
        None
    }

    /// The API root and the web root for a configured base URL (without a trailing `/`).
    fn roots(&self, base: &str) -> (String, String);

    /// The path between the repository's web page and a commit id.
    fn commit_path(&self) -> &'static str {
        "commit"
    }

    /// The title prefix that marks a draft on forges without a draft flag in the API.
    fn draft_prefix(&self) -> Option<&'static str> {
        None
    }

    /// The field of `GET /user` that holds the token's own user name.
    fn user_field(&self) -> &'static str {
        "login"
    }

    /// The header (lower case) and value that carry the token.
    fn authorization(&self, token: &str) -> (&'static str, String);

    /// Headers every request carries besides the token.
    fn extra_headers(&self) -> &'static [(&'static str, &'static str)] {
        &[]
    }

    /// Every pull request whose head is `branch`, in any state (the caller keeps Baton's).
    fn list<'a>(&'a self, forge: &'a Forge, branch: &'a str) -> Reply<'a, Vec<PullRequest>>;

    /// Opens a pull request with the configured labels, reviewers and draft state.
    fn open<'a>(&'a self, forge: &'a Forge, new: &'a NewPullRequest) -> Reply<'a, PullRequest>;

    /// Replaces the title and body of pull request `number`, and closes it when `close`.
    fn update<'a>(
        &'a self,
        forge: &'a Forge,
        number: u64,
        title: &'a str,
        body: &'a str,
        close: bool,
    ) -> Reply<'a, PullRequest>;

    /// Sets a commit status on `commit`.
    fn set_status<'a>(
        &'a self,
        forge: &'a Forge,
        commit: &'a str,
        status: &'a CommitStatus,
    ) -> Reply<'a, ()>;

    /// Merges pull request `number` if its head is still `head`, or has the forge merge it
    /// once its required checks pass and approvals are met. "Not now" replies (405, 409...)
    /// come back as [`ForgeError::Api`] and the caller reads them as waiting.
    fn merge<'a>(&'a self, forge: &'a Forge, number: u64, head: &'a str)
    -> Reply<'a, MergeOutcome>;

    /// The commit statuses (and check runs) reported on `commit`, for verification.
    fn commit_checks<'a>(
        &'a self,
        forge: &'a Forge,
        commit: &'a str,
    ) -> Reply<'a, Vec<CommitCheck>>;
    /// Turns off a merge scheduled on pull request `number` if the token's own user (`me`)
    /// scheduled it; `true` when one was turned off. A person's own scheduling is left alone.
    fn cancel_merge<'a>(&'a self, forge: &'a Forge, number: u64, me: &'a str) -> Reply<'a, bool>;
}

/// The calls of a [`Dialect`] impl, each sent to the function of the same name in the file it
/// is written in (or imported there); `update` may name another dialect's function instead.
macro_rules! calls {
    () => {
        $crate::forge::dialect::calls!(update);
    };
    ($update:path) => {
        fn list<'a>(
            &'a self,
            forge: &'a $crate::forge::Forge,
            branch: &'a str,
        ) -> $crate::forge::Reply<'a, Vec<$crate::forge::PullRequest>> {
            Box::pin(list(forge, branch))
        }

        fn open<'a>(
            &'a self,
            forge: &'a $crate::forge::Forge,
            new: &'a $crate::forge::NewPullRequest,
        ) -> $crate::forge::Reply<'a, $crate::forge::PullRequest> {
            Box::pin(open(forge, new))
        }

        fn update<'a>(
            &'a self,
            forge: &'a $crate::forge::Forge,
            number: u64,
            title: &'a str,
            body: &'a str,
            close: bool,
        ) -> $crate::forge::Reply<'a, $crate::forge::PullRequest> {
            Box::pin($update(forge, number, title, body, close))
        }

        fn set_status<'a>(
            &'a self,
            forge: &'a $crate::forge::Forge,
            commit: &'a str,
            status: &'a $crate::forge::CommitStatus,
        ) -> $crate::forge::Reply<'a, ()> {
            Box::pin(set_status(forge, commit, status))
        }

        fn merge<'a>(
            &'a self,
            forge: &'a $crate::forge::Forge,
            number: u64,
            head: &'a str,
        ) -> $crate::forge::Reply<'a, $crate::forge::MergeOutcome> {
            Box::pin(merge(forge, number, head))
        }

        fn cancel_merge<'a>(
            &'a self,
            forge: &'a $crate::forge::Forge,
            number: u64,
            me: &'a str,
        ) -> $crate::forge::Reply<'a, bool> {
            Box::pin(cancel_merge(forge, number, me))
        }
    };
}

pub(super) use calls;
