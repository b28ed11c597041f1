//! Gitea's and Forgejo's pull requests (`/api/v1`): GitHub's shapes under another root, a
//! list that cannot filter by head, labels by id, merge when checks succeed.

use serde_json::{Value, json};

use super::api::{array, send_for_pull, with_query};
use super::dialect::{Dialect, calls};
// Commit statuses are the same request and reply as on GitHub.
use super::github::{self, pull_request, repo_url, set_status};
use super::{Forge, ForgeError, MergeOutcome, NewPullRequest, PullRequest};

/// Gitea and Forgejo (`/api/v1`).
pub struct Gitea;

impl Dialect for Gitea {
    fn roots(&self, base: &str) -> (String, String) {
        (format!("{base}/api/v1"), base.to_string())
    }

    fn draft_prefix(&self) -> Option<&'static str> {
        Some("WIP: ")
    }

    fn authorization(&self, token: &str) -> (&'static str, String) {
        ("authorization", format!("token {token}"))
    }

    fn extra_headers(&self) -> &'static [(&'static str, &'static str)] {
        &[("accept", "application/json")]
    }

    // Updating is the same request and reply as on GitHub.
    calls!(github::update);

    fn commit_checks<'a>(
        &'a self,
        forge: &'a Forge,
        commit: &'a str,
    ) -> super::Reply<'a, Vec<super::CommitCheck>> {
        Box::pin(super::statuses::gitea(forge, commit))
    }
}

/// Pages read when listing Gitea pull requests (Gitea cannot filter by head branch).
const GITEA_PAGES: usize = 20;
const GITEA_PAGE_SIZE: usize = 50;

async fn list(forge: &Forge, branch: &str) -> Result<Vec<PullRequest>, ForgeError> {
    let action = format!("list pull requests for {branch}");
    let mut out = Vec::new();
    for page in 1..=GITEA_PAGES {
        let (limit, page) = (GITEA_PAGE_SIZE.to_string(), page.to_string());
        let request = forge.http.get(with_query(
            format!("{}/pulls", repo_url(forge)),
            &[
                ("state", "all"),
                ("sort", "recentupdate"),
                ("limit", &limit),
                ("page", &page),
            ],
        ));
        let items = array(forge, &action, forge.send(&action, request).await?)?;
        let count = items.len();
        for v in &items {
            let pr = pull_request(forge, &action, v)?;
            if pr.head == branch {
                out.push(pr);
            }
        }
        if count < GITEA_PAGE_SIZE {
            break;
        }
    }
    Ok(out)
}

async fn open(forge: &Forge, new: &NewPullRequest) -> Result<PullRequest, ForgeError> {
    let action = format!("open a pull request for {}", new.head);
    let title = if forge.draft {
        format!("WIP: {}", new.title)
    } else {
        new.title.clone()
    };
    let request = forge
        .http
        .post(format!("{}/pulls", repo_url(forge)))
        .json(&json!({
            "head": new.head,
            "base": new.base,
            "title": title,
            "body": new.body,
        }));
    let pr = send_for_pull(forge, &action, request, pull_request).await?;
    if !forge.labels.is_empty()
        && let Err(e) = label(forge, pr.number).await
    {
        tracing::warn!(forge = %forge.kind, number = pr.number, error = %e, "cannot set labels");
    }
    let asks = forge
        .reviewers
        .iter()
        .map(|who| (who.as_str(), json!({ "reviewers": [who] })))
        .collect();
    github::request_reviews(forge, pr.number, asks).await;
    Ok(pr)
}

/// Gitea labels pull requests by label id: looks the configured names up first, page by page
/// (a server answers at most `MAX_RESPONSE_ITEMS`, 50 by default, whatever `limit` asks).
async fn label(forge: &Forge, number: u64) -> Result<(), ForgeError> {
    let action = "list the repository's labels";
    let mut known = Vec::new();
    for page in 1..=GITEA_PAGES {
        let (limit, page) = (GITEA_PAGE_SIZE.to_string(), page.to_string());
        let request = forge.http.get(with_query(
            format!("{}/labels", repo_url(forge)),
            &[("limit", &limit), ("page", &page)],
        ));
        let items = array(forge, action, forge.send(action, request).await?)?;
        let count = items.len();
        known.extend(items);
        let all_found = forge.labels.iter().all(|name| {
            known
                .iter()
                .any(|l| l.get("name").and_then(Value::as_str) == Some(name.as_str()))
        });
        if count < GITEA_PAGE_SIZE || all_found {
            break;
        }
    }
    let mut ids = Vec::new();
    for name in &forge.labels {
        match known
            .iter()
            .find(|l| l.get("name").and_then(Value::as_str) == Some(name.as_str()))
            .and_then(|l| l.get("id"))
            .and_then(Value::as_u64)
        {
            Some(id) => ids.push(id),
            None => {
                tracing::warn!(forge = %forge.kind, label = %name, "no such label in the repository: create it or fix forge.labels")
            }
        }
    }
    if ids.is_empty() {
        return Ok(());
    }
    let action = format!("label pull request #{number}");
    let request = forge
        .http
        .post(format!("{}/issues/{number}/labels", repo_url(forge)))
        .json(&json!({ "labels": ids }));
    forge.send(&action, request).await.map(|_| ())
}

/// Merges pull request `number` at `head` with `merge_when_checks_succeed`: Gitea/Forgejo
/// merge now when its checks and approvals pass (200), else schedule it (201); a moved head
/// is refused (409). Both replies are empty: the pull request is read back to tell which.
async fn merge(forge: &Forge, number: u64, head: &str) -> Result<MergeOutcome, ForgeError> {
    let action = format!("merge pull request #{number}");
    let request = forge
        .http
        .post(format!("{}/pulls/{number}/merge", repo_url(forge)))
        .json(&json!({
            "Do": "merge",
            "head_commit_id": head,
            "merge_when_checks_succeed": true,
        }));
    forge.send(&action, request).await?;
    let reply = github::read_pull(forge, number).await?;
    let pr = pull_request(forge, &format!("read pull request #{number}"), &reply)?;
    Ok(match pr.state {
        crate::forge::PullState::Merged => MergeOutcome::Merged,
        _ => MergeOutcome::Scheduled,
    })
}

/// Cancels a scheduled merge (`DELETE .../pulls/{n}/merge`). Gitea/Forgejo do not say who
/// scheduled it; they let only the scheduler or a maintainer cancel. Nothing scheduled (404)
/// is not an error.
async fn cancel_merge(forge: &Forge, number: u64, _me: &str) -> Result<bool, ForgeError> {
    let action = format!("cancel the scheduled merge of pull request #{number}");
    let request = forge
        .http
        .delete(format!("{}/pulls/{number}/merge", repo_url(forge)));
    match forge.send(&action, request).await {
        Ok(_) => Ok(true),
        Err(ForgeError::NotFound { .. }) => Ok(false),
        Err(err) => Err(err),
    }
}
