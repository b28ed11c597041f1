//! Forges: opening and updating the pull requests of review-mode environments on GitHub
//! (including Enterprise), GitLab and Gitea/Forgejo, over their REST APIs.
//!
//! One [`Forge`] per configuration. It lists the pull requests of a head branch (every state,
//! so a request closed without merging is seen), opens one with labels, reviewers and draft
//! state, and updates title and body. It sets commit statuses and merges Baton's own pull
//! requests (or has the forge merge them once their checks pass). The token is read from a
//! file, sent only in the header the forge expects, marked sensitive, and never appears in
//! logs or errors.

mod api;
mod config;
mod dialect;
mod merge;
mod status;
mod statuses;

// The dialects, one file each, registered in the `ForgeKind` list below.
mod gitea;
mod github;
mod gitlab;

use std::fmt;
use std::time::Duration;

use reqwest::StatusCode;

use crate::common::http::client_builder;
use crate::common::kind::named_kinds;
use crate::common::secret::Secret;
use crate::common::text::{error_chain, one_line};
use crate::common::time::utc;

pub use config::ForgeConfig;
pub use dialect::{Dialect, Reply};
pub use merge::MergeOutcome;
pub use status::{CommitStatus, StatusState};
pub use statuses::CommitCheck;

named_kinds! {
    /// Which REST API a forge speaks. Each kind names its [`Dialect`]: a new forge is a file
    /// beside this one and a line here.
    pub enum ForgeKind: "a forge", fn dialect -> dyn Dialect {
        /// GitHub or GitHub Enterprise Server (`/api/v3`).
        GitHub = "github" => github::GitHub,
        /// GitLab (`/api/v4`), merge requests.
        GitLab = "gitlab" => gitlab::GitLab,
        /// Gitea or Forgejo (`/api/v1`).
        Gitea = "gitea" | "forgejo" => gitea::Gitea,
    }
}

impl ForgeKind {
    /// The base URL used when `base_url` is not set; Gitea and Forgejo have none.
    pub fn default_base_url(self) -> Option<&'static str> {
        self.dialect().default_base_url()
    }
}

/// Where a pull request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PullState {
    /// Open (drafts included).
    Open,
    /// Closed without merging.
    Closed,
    /// Merged.
    Merged,
}

/// A pull request (GitLab: merge request) as Baton needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullRequest {
    /// Its number (GitLab: the project-level `iid`).
    pub number: u64,
    /// Its web page.
    pub url: String,
    /// Open, closed or merged.
    pub state: PullState,
    /// The head (source) branch.
    pub head: String,
    /// The base (target) branch.
    pub base: String,
    /// The title.
    pub title: String,
    /// The body (GitLab: description).
    pub body: String,
    /// Who opened it: the login (GitLab: username) of its author.
    pub author: String,
    /// Whether its head branch lives in this repository (not in a fork).
    pub same_repository: bool,
    /// The commit its head branch points at, as the forge sees it.
    pub head_sha: String,
}

/// What to open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPullRequest {
    /// The branch with the change.
    pub head: String,
    /// The branch it goes into.
    pub base: String,
    /// One line.
    pub title: String,
    /// Markdown.
    pub body: String,
}

/// A forge request failed. Messages name the forge, the action and what to do; never the token.
#[derive(Debug, thiserror::Error)]
pub enum ForgeError {
    /// The token file could not be read.
    #[error("cannot read forge.token_file {path}: {reason}; put the forge API token there")]
    Token {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        reason: String,
    },
    /// The settings cannot work (URL, HTTP client).
    #[error("forge settings: {0}")]
    Settings(String),
    /// The forge could not be reached or did not answer in time.
    #[error("{forge}: cannot {action}: {detail}; check forge.base_url and the network")]
    Unreachable {
        /// The forge kind.
        forge: ForgeKind,
        /// What was being done.
        action: String,
        /// The transport error.
        detail: String,
    },
    /// The forge's rate limit is used up.
    #[error(
        "{forge} rate limit reached while trying to {action}{reset}; the next pass tries again"
    )]
    RateLimited {
        /// The forge kind.
        forge: ForgeKind,
        /// What was being done.
        action: String,
        /// `: resets at ...` when the forge said, else empty.
        reset: String,
    },
    /// The forge refused the token (401) or its permissions (403).
    #[error(
        "{forge} refused the token ({status}{detail}) while trying to {action}: check forge.token_file and that the token may write pull requests in {repository}"
    )]
    Denied {
        /// The forge kind.
        forge: ForgeKind,
        /// What was being done.
        action: String,
        /// 401 or 403.
        status: u16,
        /// `: message` from the forge, or empty.
        detail: String,
        /// The configured repository.
        repository: String,
    },
    /// The repository (or pull request) does not exist or the token cannot see it.
    #[error(
        "{forge} answered 404 while trying to {action}: repository {repository} does not exist or the token cannot see it; check forge.repository"
    )]
    NotFound {
        /// The forge kind.
        forge: ForgeKind,
        /// What was being done.
        action: String,
        /// The configured repository.
        repository: String,
    },
    /// Any other error reply.
    #[error("{forge} answered {status} while trying to {action}{detail}")]
    Api {
        /// The forge kind.
        forge: ForgeKind,
        /// What was being done.
        action: String,
        /// The HTTP status.
        status: u16,
        /// `: message` from the forge, or empty.
        detail: String,
    },
    /// A reply could not be read.
    #[error("{forge}: unexpected reply while trying to {action}: {detail}")]
    Reply {
        /// The forge kind.
        forge: ForgeKind,
        /// What was being done.
        action: String,
        /// What was wrong with it.
        detail: String,
    },
}

/// A client for one forge and repository.
#[derive(Clone)]
pub struct Forge {
    kind: ForgeKind,
    api: String,
    web: String,
    repository: String,
    token: std::sync::Arc<Secret>,
    http: reqwest::Client,
    labels: Vec<String>,
    reviewers: Vec<String>,
    draft: bool,
    /// The token's own user, learnt once from the forge (`GET /user`).
    me: std::sync::Arc<tokio::sync::OnceCell<String>>,
    /// Pull requests on Baton's branches that are not Baton's, logged once each.
    foreign_seen: std::sync::Arc<std::sync::Mutex<std::collections::HashSet<u64>>>,
}

impl fmt::Debug for Forge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Forge")
            .field("kind", &self.kind)
            .field("api", &self.api)
            .field("repository", &self.repository)
            .field("token", &"***")
            .finish_non_exhaustive()
    }
}

/// Largest reply body read from a forge.
const MAX_REPLY: usize = 8 * 1024 * 1024;

impl Forge {
    /// A client for the configured forge; reads the token file.
    pub fn from_config(config: &ForgeConfig) -> Result<Forge, ForgeError> {
        let token = Secret::from_file(&config.token_file).map_err(|e| ForgeError::Token {
            path: config.token_file.clone(),
            reason: e.to_string(),
        })?;
        let http = client_builder()
            .connect_timeout(Duration::from_secs(10).min(config.timeout))
            .timeout(config.timeout)
            .build()
            .map_err(|e| ForgeError::Settings(format!("cannot build the HTTP client: {e}")))?;
        let (api, web) = api_and_web(config.kind, &config.base_url);
        Ok(Forge {
            kind: config.kind,
            api,
            web,
            repository: config.repository.clone(),
            token: std::sync::Arc::new(token),
            http,
            labels: config.labels.clone(),
            reviewers: config.reviewers.clone(),
            draft: config.draft,
            me: Default::default(),
            foreign_seen: Default::default(),
        })
    }

    /// Which API this forge speaks.
    pub fn kind(&self) -> ForgeKind {
        self.kind
    }

    /// The API root requests go to, e.g. `https://api.github.com`.
    pub fn api_root(&self) -> &str {
        &self.api
    }

    /// The web page of a commit in the repository.
    pub fn commit_url(&self, commit: &str) -> String {
        let path = self.kind.dialect().commit_path();
        format!("{}/{}/{path}/{commit}", self.web, self.repository)
    }

    /// Every pull request of Baton's whose head is `branch` in this repository, in any state,
    /// newest first. Baton's are those opened by the token's own user from a branch of this
    /// repository: a fork's pull request, or one another user opened on the same branch name,
    /// is not Baton's, whatever its body says, and is neither updated nor read for a decision.
    pub async fn pull_requests(&self, branch: &str) -> Result<Vec<PullRequest>, ForgeError> {
        let me = self.own_user().await?;
        let mut list = self.kind.dialect().list(self, branch).await?;
        list.retain(|pr| pr.head == branch);
        let (mut ours, foreign): (Vec<_>, Vec<_>) = list
            .into_iter()
            .partition(|pr| pr.same_repository && pr.author.eq_ignore_ascii_case(me));
        if !foreign.is_empty() {
            let mut seen = self
                .foreign_seen
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            for pr in foreign.iter().filter(|pr| seen.insert(pr.number)) {
                tracing::warn!(
                    forge = %self.kind,
                    number = pr.number,
                    url = %pr.url,
                    author = %pr.author,
                    from_fork = !pr.same_repository,
                    head = %branch,
                    "ignoring a pull request on baton's branch that baton did not open"
                );
            }
        }
        ours.sort_by_key(|pr| std::cmp::Reverse(pr.number));
        Ok(ours)
    }

    /// The login (GitLab: username) of the token's own user, asked once (`GET /user`).
    async fn own_user(&self) -> Result<&str, ForgeError> {
        self.me
            .get_or_try_init(|| api::own_user(self))
            .await
            .map(String::as_str)
    }

    /// Opens a pull request with the configured labels, reviewers and draft state. Labels and
    /// reviewers that the forge refuses are logged; the pull request stands.
    pub async fn open(&self, new: &NewPullRequest) -> Result<PullRequest, ForgeError> {
        let pr = self.kind.dialect().open(self, new).await?;
        tracing::info!(forge = %self.kind, number = pr.number, url = %pr.url, head = %new.head, "opened pull request");
        Ok(pr)
    }

    /// Replaces the title and body of an open pull request. A draft prefix the title carries
    /// (`Draft: `, `WIP: `) is kept, so a person's "ready for review" is not undone.
    pub async fn update(
        &self,
        pr: &PullRequest,
        title: &str,
        body: &str,
    ) -> Result<PullRequest, ForgeError> {
        let dialect = self.kind.dialect();
        let title = match dialect.draft_prefix() {
            Some(prefix) if pr.title.starts_with(prefix) => format!("{prefix}{title}"),
            _ => title.to_string(),
        };
        let updated = dialect.update(self, pr.number, &title, body, false).await?;
        tracing::info!(forge = %self.kind, number = updated.number, url = %updated.url, "updated pull request");
        Ok(updated)
    }

    /// Closes Baton's own open pull request `pr` without merging, with `body` saying why. One
    /// from a fork, or one the token's own user did not open, is refused.
    pub async fn close(&self, pr: &PullRequest, body: &str) -> Result<PullRequest, ForgeError> {
        self.refuse_unless_own(pr, "closes").await?;
        let closed = self
            .kind
            .dialect()
            .update(self, pr.number, &pr.title, body, true)
            .await?;
        tracing::info!(forge = %self.kind, number = closed.number, url = %closed.url, "closed pull request");
        Ok(closed)
    }

    /// An error unless `pr` was opened by the token's own user from this repository.
    async fn refuse_unless_own(&self, pr: &PullRequest, verb: &str) -> Result<(), ForgeError> {
        let me = self.own_user().await?;
        if pr.same_repository && pr.author.eq_ignore_ascii_case(me) {
            return Ok(());
        }
        Err(ForgeError::Settings(format!(
            "pull request #{} is not baton's own (opened by {} from {}): baton {verb} only pull requests it opened from this repository",
            pr.number,
            pr.author,
            if pr.same_repository {
                "this repository"
            } else {
                "a fork"
            }
        )))
    }

    /// Sets a commit status on `commit` (a full commit id) in this repository.
    pub async fn set_status(&self, commit: &str, status: &CommitStatus) -> Result<(), ForgeError> {
        if commit.len() < 40 || !commit.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(ForgeError::Settings(format!(
                "{commit:?} is not a full commit id: a commit status needs one"
            )));
        }
        self.kind.dialect().set_status(self, commit, status).await?;
        tracing::info!(forge = %self.kind, commit = %commit, context = %status.context, state = status.state.github(), "set commit status");
        Ok(())
    }

    /// Merges Baton's own pull request `pr` if its head is still `head` (a full commit id),
    /// or has the forge merge it once its required checks pass and its approvals are met.
    /// A pull request from a fork, or one the token's own user did not open, is refused
    /// whatever the caller believes; so is one whose head the forge reports elsewhere.
    pub async fn merge(&self, pr: &PullRequest, head: &str) -> Result<MergeOutcome, ForgeError> {
        self.refuse_unless_own(pr, "merges").await?;
        if !pr.head_sha.eq_ignore_ascii_case(head) {
            return Ok(MergeOutcome::Waiting(format!(
                "the forge reports head {} for pull request #{}, baton's branch is at {}",
                pr.head_sha, pr.number, head
            )));
        }
        let outcome = match self.kind.dialect().merge(self, pr.number, head).await {
            Ok(outcome) => outcome,
            Err(ForgeError::Api { status, detail, .. }) if merge::not_mergeable(status) => {
                MergeOutcome::Waiting(format!("the forge answered {status}{detail}"))
            }
            Err(err) => return Err(err),
        };
        tracing::info!(forge = %self.kind, number = pr.number, url = %pr.url, head = %head, outcome = %outcome, "asked the forge to merge");
        Ok(outcome)
    }

    /// Turns off a merge Baton scheduled on its own pull request `pr` (a person changed the
    /// branch since); one a person scheduled is left alone. `true` when one was turned off.
    pub async fn cancel_merge(&self, pr: &PullRequest) -> Result<bool, ForgeError> {
        let me = self.own_user().await?.to_string();
        if !pr.same_repository || !pr.author.eq_ignore_ascii_case(&me) {
            return Ok(false);
        }
        let cancelled = self
            .kind
            .dialect()
            .cancel_merge(self, pr.number, &me)
            .await?;
        if cancelled {
            tracing::info!(forge = %self.kind, number = pr.number, url = %pr.url, "turned off the merge baton had scheduled");
        }
        Ok(cancelled)
    }

    /// Sends a request with the token; returns the JSON reply or a classified error.
    async fn send(
        &self,
        action: &str,
        request: reqwest::RequestBuilder,
    ) -> Result<serde_json::Value, ForgeError> {
        let dialect = self.kind.dialect();
        let (name, value) = dialect.authorization(self.token.expose());
        let mut header = reqwest::header::HeaderValue::from_str(&value).map_err(|_| {
            ForgeError::Settings(
                "the forge token holds characters that cannot go into an HTTP header: check forge.token_file"
                    .to_string(),
            )
        })?;
        header.set_sensitive(true);
        let mut request = request.header(name, header);
        for (name, value) in dialect.extra_headers() {
            request = request.header(*name, *value);
        }
        let unreachable = |e: reqwest::Error| ForgeError::Unreachable {
            forge: self.kind,
            action: action.to_string(),
            detail: one_line(&error_chain(&e)),
        };
        let response = request.send().await.map_err(unreachable)?;
        let status = response.status();
        let headers = response.headers().clone();
        let Some(bytes) = crate::common::http::read_bounded(response, MAX_REPLY)
            .await
            .map_err(unreachable)?
        else {
            return Err(ForgeError::Reply {
                forge: self.kind,
                action: action.to_string(),
                detail: format!("the reply is larger than {MAX_REPLY} bytes"),
            });
        };
        let json: Option<serde_json::Value> = serde_json::from_slice(&bytes).ok();
        if status.is_success() {
            return Ok(json.unwrap_or(serde_json::Value::Null));
        }
        let message = json.as_ref().map(api::error_message).unwrap_or_default();
        let detail = if message.is_empty() {
            String::new()
        } else {
            format!(": {message}")
        };
        tracing::debug!(forge = %self.kind, action, status = status.as_u16(), %message, "forge error reply");
        if let Some(reset) = rate_limited(status, &headers, &message) {
            return Err(ForgeError::RateLimited {
                forge: self.kind,
                action: action.to_string(),
                reset,
            });
        }
        Err(match status {
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => ForgeError::Denied {
                forge: self.kind,
                action: action.to_string(),
                status: status.as_u16(),
                detail,
                repository: self.repository.clone(),
            },
            StatusCode::NOT_FOUND => ForgeError::NotFound {
                forge: self.kind,
                action: action.to_string(),
                repository: self.repository.clone(),
            },
            _ => ForgeError::Api {
                forge: self.kind,
                action: action.to_string(),
                status: status.as_u16(),
                detail,
            },
        })
    }

    fn reply_error(&self, action: &str, detail: impl Into<String>) -> ForgeError {
        ForgeError::Reply {
            forge: self.kind,
            action: action.to_string(),
            detail: detail.into(),
        }
    }
}

/// The API root and the web root for a configured base URL.
fn api_and_web(kind: ForgeKind, base: &url::Url) -> (String, String) {
    kind.dialect().roots(base.as_str().trim_end_matches('/'))
}

/// `Some(": resets at ...")` (or `Some("")`) when the reply says the rate limit is used up.
fn rate_limited(
    status: StatusCode,
    headers: &reqwest::header::HeaderMap,
    message: &str,
) -> Option<String> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    let exhausted =
        header("x-ratelimit-remaining") == Some("0") || header("ratelimit-remaining") == Some("0");
    let limited = status == StatusCode::TOO_MANY_REQUESTS
        || (status == StatusCode::FORBIDDEN
            && (exhausted || message.to_ascii_lowercase().contains("rate limit")));
    if !limited {
        return None;
    }
    let reset = header("x-ratelimit-reset")
        .or_else(|| header("ratelimit-reset"))
        .and_then(|v| v.parse::<i64>().ok())
        .and_then(|secs| jiff::Timestamp::from_second(secs).ok())
        .or_else(|| {
            header("retry-after")
                .and_then(|v| v.parse::<i64>().ok())
                .and_then(|secs| {
                    jiff::Timestamp::now()
                        .checked_add(jiff::SignedDuration::from_secs(secs))
                        .ok()
                })
        });
    Some(match reset {
        Some(t) => format!(": it resets at {}", utc(t)),
        None => String::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_parse() {
        assert_eq!("GitHub".parse::<ForgeKind>(), Ok(ForgeKind::GitHub));
        assert_eq!("forgejo".parse::<ForgeKind>(), Ok(ForgeKind::Gitea));
        assert!(
            "bitbucket"
                .parse::<ForgeKind>()
                .unwrap_err()
                .to_string()
                .contains("\"bitbucket\"")
        );
    }

    #[test]
    fn api_roots() {
        let u = |s: &str| url::Url::parse(s).unwrap();
        assert_eq!(
            api_and_web(ForgeKind::GitHub, &u("https://api.github.com")),
            ("https://api.github.com".into(), "https://github.com".into())
        );
        assert_eq!(
            api_and_web(ForgeKind::GitHub, &u("https://ghe.example.com/api/v3/")),
            (
                "https://ghe.example.com/api/v3".into(),
                "https://ghe.example.com".into()
            )
        );
        assert_eq!(
            api_and_web(ForgeKind::GitHub, &u("https://ghe.example.com")).0,
            "https://ghe.example.com/api/v3"
        );
        assert_eq!(
            api_and_web(ForgeKind::GitLab, &u("https://gitlab.example.com/")).0,
            "https://gitlab.example.com/api/v4"
        );
        assert_eq!(
            api_and_web(ForgeKind::Gitea, &u("https://code.example.com")).0,
            "https://code.example.com/api/v1"
        );
    }

    #[test]
    fn rate_limit_replies() {
        let mut h = reqwest::header::HeaderMap::new();
        assert_eq!(rate_limited(StatusCode::FORBIDDEN, &h, "no"), None);
        h.insert("x-ratelimit-remaining", "0".parse().unwrap());
        h.insert("x-ratelimit-reset", "1764064800".parse().unwrap());
        assert_eq!(
            rate_limited(StatusCode::FORBIDDEN, &h, ""),
            Some(": it resets at 2025-11-25 10:00 UTC".into())
        );
        let empty = reqwest::header::HeaderMap::new();
        assert_eq!(
            rate_limited(StatusCode::TOO_MANY_REQUESTS, &empty, ""),
            Some(String::new())
        );
        assert!(rate_limited(StatusCode::FORBIDDEN, &empty, "API rate limit exceeded").is_some());
    }
}
