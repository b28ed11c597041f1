//! GitLab's merge requests (`/api/v4`): list by source branch, open with labels and reviewer
//! ids, update, commit statuses, and merge when the pipeline succeeds.

use serde_json::{Value, json};

use super::api::{array, post_status, send_for_pull, str_field, with_query};
use super::dialect::{Dialect, calls};
use super::{
    CommitStatus, Forge, ForgeError, MergeOutcome, NewPullRequest, PullRequest, PullState,
};

/// GitLab (`/api/v4`): merge requests.
pub struct GitLab;

impl Dialect for GitLab {
    fn default_base_url(&self) -> Option<&'static str> {
        Some("https://gitlab.com")
    }

    fn roots(&self, base: &str) -> (String, String) {
        (format!("{base}/api/v4"), base.to_string())
    }

    fn commit_path(&self) -> &'static str {
        "-/commit"
    }

    fn draft_prefix(&self) -> Option<&'static str> {
        Some("Draft: ")
    }

    fn user_field(&self) -> &'static str {
        "username"
    }

    fn authorization(&self, token: &str) -> (&'static str, String) {
        ("private-token", token.to_string())
    }

    calls!();

    fn commit_checks<'a>(
        &'a self,
        forge: &'a Forge,
        commit: &'a str,
    ) -> super::Reply<'a, Vec<super::CommitCheck>> {
        Box::pin(super::statuses::gitlab(forge, commit))
    }
}

pub(super) fn project_url(forge: &Forge) -> String {
    let id: String = url::form_urlencoded::byte_serialize(forge.repository.as_bytes()).collect();
    format!("{}/projects/{id}", forge.api)
}

fn merge_request(forge: &Forge, action: &str, v: &Value) -> Result<PullRequest, ForgeError> {
    let number = v
        .get("iid")
        .and_then(Value::as_u64)
        .ok_or_else(|| forge.reply_error(action, "a merge request without an iid"))?;
    let state = match str_field(v, "state").as_str() {
        "opened" | "locked" => PullState::Open,
        "merged" => PullState::Merged,
        _ => PullState::Closed,
    };
    Ok(PullRequest {
        number,
        url: str_field(v, "web_url"),
        state,
        head: str_field(v, "source_branch"),
        base: str_field(v, "target_branch"),
        title: str_field(v, "title"),
        body: str_field(v, "description"),
        author: v
            .get("author")
            .map(|u| str_field(u, "username"))
            .unwrap_or_default(),
        same_repository: matches!(
            (
                v.get("source_project_id").and_then(Value::as_u64),
                v.get("target_project_id").and_then(Value::as_u64),
            ),
            (Some(source), Some(target)) if source == target
        ),
        head_sha: str_field(v, "sha"),
    })
}

async fn list(forge: &Forge, branch: &str) -> Result<Vec<PullRequest>, ForgeError> {
    let action = format!("list merge requests for {branch}");
    let request = forge.http.get(with_query(
        format!("{}/merge_requests", project_url(forge)),
        &[
            ("source_branch", branch),
            ("state", "all"),
            ("per_page", "100"),
        ],
    ));
    let items = array(forge, &action, forge.send(&action, request).await?)?;
    items
        .iter()
        .map(|v| merge_request(forge, &action, v))
        .collect()
}

/// GitLab takes reviewers as user ids: looks each name up; unknown names are logged.
async fn reviewer_ids(forge: &Forge) -> Vec<u64> {
    let mut ids = Vec::new();
    for name in &forge.reviewers {
        let action = format!("look up reviewer {name}");
        let request = forge.http.get(with_query(
            format!("{}/users", forge.api),
            &[("username", name.as_str())],
        ));
        match forge.send(&action, request).await {
            Ok(Value::Array(users)) => match users
                .first()
                .and_then(|u| u.get("id"))
                .and_then(Value::as_u64)
            {
                Some(id) => ids.push(id),
                None => {
                    tracing::warn!(forge = %forge.kind, reviewer = %name, "no such user: fix forge.reviewers")
                }
            },
            Ok(_) => {
                tracing::warn!(forge = %forge.kind, reviewer = %name, "unexpected reply to a user lookup")
            }
            Err(e) => {
                tracing::warn!(forge = %forge.kind, reviewer = %name, error = %e, "cannot look up reviewer")
            }
        }
    }
    ids
}

async fn open(forge: &Forge, new: &NewPullRequest) -> Result<PullRequest, ForgeError> {
    let action = format!("open a merge request for {}", new.head);
    let title = if forge.draft {
        format!("Draft: {}", new.title)
    } else {
        new.title.clone()
    };
    let mut body = json!({
        "source_branch": new.head,
        "target_branch": new.base,
        "title": title,
        "description": new.body,
    });
    // GitLab's description types `labels` as an array of names; its REST documentation
    // says a comma-separated string. GitLab takes both (CommaSeparatedToArray).
    if !forge.labels.is_empty() {
        body["labels"] = json!(forge.labels);
    }
    let reviewers = reviewer_ids(forge).await;
    if !reviewers.is_empty() {
        body["reviewer_ids"] = json!(reviewers);
    }
    let request = forge
        .http
        .post(format!("{}/merge_requests", project_url(forge)))
        .json(&body);
    send_for_pull(forge, &action, request, merge_request).await
}

async fn update(
    forge: &Forge,
    number: u64,
    title: &str,
    body: &str,
    close: bool,
) -> Result<PullRequest, ForgeError> {
    let (action, fields) = match close {
        false => (
            format!("update merge request !{number}"),
            json!({ "title": title, "description": body }),
        ),
        true => (
            format!("close merge request !{number}"),
            json!({ "title": title, "description": body, "state_event": "close" }),
        ),
    };
    let request = forge
        .http
        .put(format!("{}/merge_requests/{number}", project_url(forge)))
        .json(&fields);
    send_for_pull(forge, &action, request, merge_request).await
}

/// Sets a commit status (`POST /projects/:id/statuses/:sha`, the check's name as `name`).
async fn set_status(forge: &Forge, commit: &str, status: &CommitStatus) -> Result<(), ForgeError> {
    let url = format!("{}/statuses/{commit}", project_url(forge));
    post_status(forge, url, commit, status, (status.state.gitlab(), "name")).await
}

/// Accepts merge request `number` at `head` with auto-merge: GitLab merges it now when its
/// pipeline passed and approvals are met, else once they are; a moved head is refused (409).
/// Both names of the flag are sent: GitLab 17.11 and later read `auto_merge` or the deprecated
/// `merge_when_pipeline_succeeds`, older ones only the latter (and drop the unknown one).
async fn merge(forge: &Forge, number: u64, head: &str) -> Result<MergeOutcome, ForgeError> {
    let action = format!("merge merge request !{number}");
    let request = forge
        .http
        .put(format!(
            "{}/merge_requests/{number}/merge",
            project_url(forge)
        ))
        .json(&json!({
            "sha": head,
            "auto_merge": true,
            "merge_when_pipeline_succeeds": true,
        }));
    let reply = forge.send(&action, request).await?;
    Ok(match str_field(&reply, "state").as_str() {
        "merged" => MergeOutcome::Merged,
        _ if reply
            .get("merge_when_pipeline_succeeds")
            .and_then(Value::as_bool)
            == Some(true) =>
        {
            MergeOutcome::Scheduled
        }
        state => MergeOutcome::Waiting(format!(
            "GitLab left it {state} ({})",
            str_field(&reply, "detailed_merge_status")
        )),
    })
}

/// Cancels "merge when the pipeline succeeds" when the token's own user set it (`merge_user`).
async fn cancel_merge(forge: &Forge, number: u64, me: &str) -> Result<bool, ForgeError> {
    let action = format!("read merge request !{number}");
    let request = forge
        .http
        .get(format!("{}/merge_requests/{number}", project_url(forge)));
    let mr = forge.send(&action, request).await?;
    let set = mr
        .get("merge_when_pipeline_succeeds")
        .and_then(Value::as_bool)
        == Some(true);
    let by = mr
        .pointer("/merge_user/username")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if !set || !by.eq_ignore_ascii_case(me) {
        return Ok(false);
    }
    let action = format!("cancel the automatic merge of merge request !{number}");
    let request = forge.http.post(format!(
        "{}/merge_requests/{number}/cancel_merge_when_pipeline_succeeds",
        project_url(forge)
    ));
    forge.send(&action, request).await.map(|_| true)
}
