//! GitHub's pull requests (`/api/v3`): list by head, open with labels and reviewers, update,
//! commit statuses, and merging (the merge endpoint when mergeable, else auto-merge through
//! GraphQL). Gitea/Forgejo describe pull requests the same way and reuse the reader here.

use serde_json::{Value, json};

use super::api::{array, owner_name, post_status, send_for_pull, str_field, with_query};
use super::dialect::{Dialect, calls};
use super::{
    CommitStatus, Forge, ForgeError, MergeOutcome, NewPullRequest, PullRequest, PullState,
};

/// GitHub and GitHub Enterprise Server (`/api/v3`).
pub struct GitHub;

impl Dialect for GitHub {
    fn default_base_url(&self) -> Option<&'static str> {
        Some("https://api.github.com")
    }

    fn roots(&self, base: &str) -> (String, String) {
        if base == "https://api.github.com" {
            (base.to_string(), "https://github.com".to_string())
        } else if let Some(web) = base.strip_suffix("/api/v3") {
            (base.to_string(), web.to_string())
        } else {
            (format!("{base}/api/v3"), base.to_string())
        }
    }

    fn authorization(&self, token: &str) -> (&'static str, String) {
        ("authorization", format!("Bearer {token}"))
    }

    fn extra_headers(&self) -> &'static [(&'static str, &'static str)] {
        &[
            ("accept", "application/vnd.github+json"),
            ("x-github-api-version", "2022-11-28"),
        ]
    }

    calls!();

    fn commit_checks<'a>(
        &'a self,
        forge: &'a Forge,
        commit: &'a str,
    ) -> super::Reply<'a, Vec<super::CommitCheck>> {
        Box::pin(super::statuses::github(forge, commit))
    }
}

/// A pull request as GitHub and Gitea/Forgejo both describe it (Gitea says `merged`,
/// GitHub `merged_at`; either means merged).
pub(super) fn pull_request(
    forge: &Forge,
    action: &str,
    v: &Value,
) -> Result<PullRequest, ForgeError> {
    let number = v
        .get("number")
        .and_then(Value::as_u64)
        .ok_or_else(|| forge.reply_error(action, "a pull request without a number"))?;
    let merged = v.get("merged_at").is_some_and(|m| !m.is_null())
        || v.get("merged").and_then(Value::as_bool) == Some(true);
    let state = match (str_field(v, "state").as_str(), merged) {
        (_, true) => PullState::Merged,
        ("open", _) => PullState::Open,
        _ => PullState::Closed,
    };
    Ok(PullRequest {
        number,
        url: str_field(v, "html_url"),
        state,
        head: v
            .get("head")
            .map(|h| str_field(h, "ref"))
            .unwrap_or_default(),
        base: v
            .get("base")
            .map(|h| str_field(h, "ref"))
            .unwrap_or_default(),
        title: str_field(v, "title"),
        body: str_field(v, "body"),
        author: v
            .get("user")
            .map(|u| str_field(u, "login"))
            .unwrap_or_default(),
        same_repository: v
            .get("head")
            .and_then(|h| h.get("repo"))
            .map(|r| str_field(r, "full_name"))
            .is_some_and(|name| name.eq_ignore_ascii_case(&forge.repository)),
        head_sha: v
            .get("head")
            .map(|h| str_field(h, "sha"))
            .unwrap_or_default(),
    })
}

/// The repository's API root, the same path on GitHub and Gitea/Forgejo.
pub(super) fn repo_url(forge: &Forge) -> String {
    let (owner, name) = owner_name(forge);
    format!("{}/repos/{owner}/{name}", forge.api)
}

async fn list(forge: &Forge, branch: &str) -> Result<Vec<PullRequest>, ForgeError> {
    let action = format!("list pull requests for {branch}");
    let (owner, _) = owner_name(forge);
    let head = format!("{owner}:{branch}");
    let request = forge.http.get(with_query(
        format!("{}/pulls", repo_url(forge)),
        &[("head", &head), ("state", "all"), ("per_page", "100")],
    ));
    let items = array(forge, &action, forge.send(&action, request).await?)?;
    items
        .iter()
        .map(|v| pull_request(forge, &action, v))
        .collect()
}

async fn open(forge: &Forge, new: &NewPullRequest) -> Result<PullRequest, ForgeError> {
    let action = format!("open a pull request for {}", new.head);
    let request = forge
        .http
        .post(format!("{}/pulls", repo_url(forge)))
        .json(&json!({
            "title": new.title,
            "head": new.head,
            "base": new.base,
            "body": new.body,
            "draft": forge.draft,
            "maintainer_can_modify": false,
        }));
    let pr = send_for_pull(forge, &action, request, pull_request).await?;
    if !forge.labels.is_empty() {
        let action = format!("label pull request #{}", pr.number);
        let request = forge
            .http
            .post(format!("{}/issues/{}/labels", repo_url(forge), pr.number))
            .json(&json!({ "labels": forge.labels }));
        if let Err(e) = forge.send(&action, request).await {
            tracing::warn!(forge = %forge.kind, number = pr.number, error = %e, "cannot set labels");
        }
    }
    if !forge.reviewers.is_empty() {
        let (teams, users): (Vec<&String>, Vec<&String>) =
            forge.reviewers.iter().partition(|r| r.contains('/'));
        let teams: Vec<&str> = teams
            .iter()
            .filter_map(|t| t.rsplit_once('/').map(|(_, slug)| slug))
            .collect();
        let asks = users
            .iter()
            .map(|u| (u.as_str(), json!({ "reviewers": [u] })))
            .chain(teams.iter().map(|t| (*t, json!({ "team_reviewers": [t] }))))
            .collect();
        request_reviews(forge, pr.number, asks).await;
    }
    Ok(pr)
}

/// Asks each of `asks` (a name, and the request body naming it) to review pull request
/// `number`: one request each, so that one unknown name does not lose the others. Refusals
/// are logged; the pull request stands. Gitea/Forgejo take the same request.
pub(super) async fn request_reviews(forge: &Forge, number: u64, asks: Vec<(&str, Value)>) {
    for (who, body) in asks {
        let action = format!("ask {who} to review pull request #{number}");
        let request = forge
            .http
            .post(format!(
                "{}/pulls/{number}/requested_reviewers",
                repo_url(forge)
            ))
            .json(&body);
        if let Err(e) = forge.send(&action, request).await {
            tracing::warn!(forge = %forge.kind, number, reviewer = %who, error = %e, "cannot request a reviewer");
        }
    }
}

/// Replaces a pull request's title and body; Gitea/Forgejo take the same request.
pub(super) async fn update(
    forge: &Forge,
    number: u64,
    title: &str,
    body: &str,
    close: bool,
) -> Result<PullRequest, ForgeError> {
    let (action, fields) = match close {
        false => (
            format!("update pull request #{number}"),
            json!({ "title": title, "body": body }),
        ),
        true => (
            format!("close pull request #{number}"),
            json!({ "title": title, "body": body, "state": "closed" }),
        ),
    };
    let request = forge
        .http
        .patch(format!("{}/pulls/{number}", repo_url(forge)))
        .json(&fields);
    send_for_pull(forge, &action, request, pull_request).await
}

/// Sets a commit status (`POST /repos/{owner}/{repo}/statuses/{sha}`); Gitea/Forgejo take the
/// same request.
pub(super) async fn set_status(
    forge: &Forge,
    commit: &str,
    status: &CommitStatus,
) -> Result<(), ForgeError> {
    let url = format!("{}/statuses/{commit}", repo_url(forge));
    post_status(
        forge,
        url,
        commit,
        status,
        (status.state.github(), "context"),
    )
    .await
}

/// The GraphQL mutation that turns on auto-merge for a pull request whose head is still the
/// expected commit: GitHub merges it once its required checks pass and approvals are met.
pub const AUTO_MERGE_MUTATION: &str = "mutation BatonAutoMerge($pullRequestId: ID!, $expectedHeadOid: GitObjectID!) {
  enablePullRequestAutoMerge(input: {pullRequestId: $pullRequestId, expectedHeadOid: $expectedHeadOid, mergeMethod: MERGE}) {
    pullRequest {
      number
      autoMergeRequest {
        enabledAt
      }
    }
  }
}";

/// GitHub's GraphQL endpoint for the configured API root: `https://api.github.com/graphql`,
/// or `https://HOST/api/graphql` on Enterprise Server.
fn graphql_url(forge: &Forge) -> String {
    match forge.api.strip_suffix("/api/v3") {
        Some(host) => format!("{host}/api/graphql"),
        None => format!("{}/graphql", forge.api),
    }
}

/// Pull request `number` as the forge has it now (`GET /repos/{owner}/{repo}/pulls/{number}`;
/// Gitea/Forgejo take the same request).
pub(super) async fn read_pull(forge: &Forge, number: u64) -> Result<Value, ForgeError> {
    let action = format!("read pull request #{number}");
    let request = forge
        .http
        .get(format!("{}/pulls/{number}", repo_url(forge)));
    forge.send(&action, request).await
}

/// Reads pull request `number` fresh, then merges it through the merge endpoint when GitHub
/// says it can be merged now (`mergeable_state` clean, unstable or has_hooks), or turns on
/// auto-merge when it waits for required checks or approvals (blocked, behind). Both name
/// `head`, so GitHub refuses if the branch moved meanwhile.
async fn merge(forge: &Forge, number: u64, head: &str) -> Result<MergeOutcome, ForgeError> {
    let pr = read_pull(forge, number).await?;
    let sha = pr
        .get("head")
        .map(|h| str_field(h, "sha"))
        .unwrap_or_default();
    if !sha.eq_ignore_ascii_case(head) {
        return Ok(MergeOutcome::Waiting(format!(
            "the head of pull request #{number} is {sha}, not baton's {head}"
        )));
    }
    if pr.get("merged").and_then(Value::as_bool) == Some(true) {
        return Ok(MergeOutcome::Merged);
    }
    if str_field(&pr, "state") != "open" {
        return Ok(MergeOutcome::Waiting(format!(
            "pull request #{number} is closed"
        )));
    }
    if pr.get("auto_merge").is_some_and(Value::is_object) {
        return Ok(MergeOutcome::Scheduled);
    }
    let state = str_field(&pr, "mergeable_state");
    match state.as_str() {
        "clean" | "unstable" | "has_hooks" => {
            let action = format!("merge pull request #{number}");
            let request = forge
                .http
                .put(format!("{}/pulls/{number}/merge", repo_url(forge)))
                .json(&json!({ "sha": head, "merge_method": "merge" }));
            let reply = forge.send(&action, request).await?;
            Ok(
                if reply.get("merged").and_then(Value::as_bool) == Some(true) {
                    MergeOutcome::Merged
                } else {
                    MergeOutcome::Waiting(format!(
                        "GitHub did not merge it: {}",
                        str_field(&reply, "message")
                    ))
                },
            )
        }
        "blocked" | "behind" => {
            let node = str_field(&pr, "node_id");
            enable_auto_merge(forge, number, &node, head, &state).await
        }
        "dirty" => Ok(MergeOutcome::Waiting(
            "it conflicts with its base branch".to_string(),
        )),
        "draft" => Ok(MergeOutcome::Waiting("it is a draft".to_string())),
        "" | "unknown" => Ok(MergeOutcome::Waiting(
            "GitHub has not worked out yet whether it can be merged".to_string(),
        )),
        other => Ok(MergeOutcome::Waiting(format!(
            "GitHub reports mergeable_state {other:?}"
        ))),
    }
}

/// `enablePullRequestAutoMerge` through GraphQL. GitHub's refusals (auto-merge not allowed in
/// the repository, the head moved) come back as waiting, with GitHub's words.
async fn enable_auto_merge(
    forge: &Forge,
    number: u64,
    node: &str,
    head: &str,
    state: &str,
) -> Result<MergeOutcome, ForgeError> {
    let action = format!("turn on auto-merge for pull request #{number}");
    if node.is_empty() {
        return Err(forge.reply_error(&action, "the pull request has no node_id"));
    }
    let request = forge.http.post(graphql_url(forge)).json(&json!({
        "query": AUTO_MERGE_MUTATION,
        "variables": { "pullRequestId": node, "expectedHeadOid": head },
    }));
    let reply = forge.send(&action, request).await?;
    let errors: Vec<String> = reply
        .get("errors")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|e| str_field(e, "message"))
        .collect();
    if !errors.is_empty() {
        return Ok(MergeOutcome::Waiting(format!(
            "mergeable_state is {state} and GitHub refused auto-merge: {}",
            errors.join("; ")
        )));
    }
    let enabled = reply
        .pointer("/data/enablePullRequestAutoMerge/pullRequest/autoMergeRequest/enabledAt")
        .is_some_and(|v| !v.is_null());
    Ok(if enabled {
        MergeOutcome::Scheduled
    } else {
        MergeOutcome::Waiting(format!(
            "mergeable_state is {state} and GitHub did not turn auto-merge on"
        ))
    })
}

/// The GraphQL mutation that turns auto-merge off again.
pub const DISABLE_AUTO_MERGE_MUTATION: &str = "mutation BatonCancelAutoMerge($pullRequestId: ID!) {
  disablePullRequestAutoMerge(input: {pullRequestId: $pullRequestId}) {
    pullRequest {
      number
    }
  }
}";

/// Turns auto-merge off when the token's own user turned it on (`auto_merge.enabled_by`).
async fn cancel_merge(forge: &Forge, number: u64, me: &str) -> Result<bool, ForgeError> {
    let pr = read_pull(forge, number).await?;
    let by = pr
        .pointer("/auto_merge/enabled_by/login")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if by.is_empty() || !by.eq_ignore_ascii_case(me) {
        return Ok(false);
    }
    let action = format!("turn off auto-merge for pull request #{number}");
    let request = forge.http.post(graphql_url(forge)).json(&json!({
        "query": DISABLE_AUTO_MERGE_MUTATION,
        "variables": { "pullRequestId": str_field(&pr, "node_id") },
    }));
    let reply = forge.send(&action, request).await?;
    match reply.get("errors").and_then(Value::as_array) {
        Some(errors) if !errors.is_empty() => Err(forge.reply_error(
            &action,
            errors
                .iter()
                .map(|e| str_field(e, "message"))
                .collect::<Vec<_>>()
                .join("; "),
        )),
        _ => Ok(true),
    }
}
