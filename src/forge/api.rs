//! The three REST dialects: request shapes and reply parsing for GitHub, GitLab and
//! Gitea/Forgejo pull requests.

use serde_json::{Value, json};

use super::{Forge, ForgeError, NewPullRequest, PullRequest, PullState};

/// The error text a forge put in its reply: `message` (GitHub, Gitea, GitLab), GitHub's
/// `errors[].message`, GitLab's `error` or a `message` object of field errors.
pub(super) fn error_message(json: &Value) -> String {
    let mut parts: Vec<String> = Vec::new();
    match json.get("message") {
        Some(Value::String(s)) => parts.push(s.clone()),
        Some(Value::Array(items)) => {
            parts.extend(items.iter().filter_map(|i| i.as_str().map(String::from)))
        }
        Some(Value::Object(fields)) => {
            for (field, v) in fields {
                let text = match v {
                    Value::Array(items) => items
                        .iter()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join(", "),
                    other => other.as_str().unwrap_or_default().to_string(),
                };
                parts.push(format!("{field} {text}"));
            }
        }
        _ => {}
    }
    if let Some(Value::String(s)) = json.get("error") {
        parts.push(s.clone());
    }
    if let Some(Value::Array(errors)) = json.get("errors") {
        for e in errors {
            if let Some(m) = e.get("message").and_then(Value::as_str) {
                parts.push(m.to_string());
            } else if let Some(s) = e.as_str() {
                parts.push(s.to_string());
            }
        }
    }
    let text = parts.join("; ");
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    text.chars().take(300).collect()
}

/// `url?k=v&...` with the values form-encoded.
fn with_query(url: String, pairs: &[(&str, &str)]) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        query.append_pair(k, v);
    }
    format!("{url}?{}", query.finish())
}

fn str_field(v: &Value, key: &str) -> String {
    v.get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

fn owner_name(forge: &Forge) -> (&str, &str) {
    forge
        .repository
        .split_once('/')
        .unwrap_or((forge.repository.as_str(), ""))
}

fn array(forge: &Forge, action: &str, v: Value) -> Result<Vec<Value>, ForgeError> {
    match v {
        Value::Array(items) => Ok(items),
        other => {
            Err(forge.reply_error(action, format!("expected a list, got {}", kind_of(&other))))
        }
    }
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "nothing",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// The token's own user: `login` from `GET /user` (GitHub, Gitea/Forgejo), `username` from
/// GitLab's `GET /user`.
pub(super) async fn own_user(forge: &Forge) -> Result<String, ForgeError> {
    let action = "learn the token's own user";
    let request = forge.http.get(format!("{}/user", forge.api));
    let reply = forge.send(action, request).await?;
    let field = match forge.kind {
        super::ForgeKind::GitLab => "username",
        _ => "login",
    };
    match reply.get(field).and_then(Value::as_str) {
        Some(name) if !name.is_empty() => Ok(name.to_string()),
        _ => Err(forge.reply_error(action, format!("the reply to GET /user has no {field}"))),
    }
}

// ---- GitHub -------------------------------------------------------------------------------

/// A pull request as GitHub and Gitea/Forgejo both describe it (Gitea says `merged`,
/// GitHub `merged_at`; either means merged).
fn github_pr(forge: &Forge, action: &str, v: &Value) -> Result<PullRequest, ForgeError> {
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
    })
}

/// The repository's API root, the same path on GitHub and Gitea/Forgejo.
fn github_repo(forge: &Forge) -> String {
    let (owner, name) = owner_name(forge);
    format!("{}/repos/{owner}/{name}", forge.api)
}

pub(super) async fn github_list(
    forge: &Forge,
    branch: &str,
) -> Result<Vec<PullRequest>, ForgeError> {
    let action = format!("list pull requests for {branch}");
    let (owner, _) = owner_name(forge);
    let head = format!("{owner}:{branch}");
    let request = forge.http.get(with_query(
        format!("{}/pulls", github_repo(forge)),
        &[("head", &head), ("state", "all"), ("per_page", "100")],
    ));
    let items = array(forge, &action, forge.send(&action, request).await?)?;
    items.iter().map(|v| github_pr(forge, &action, v)).collect()
}

pub(super) async fn github_open(
    forge: &Forge,
    new: &NewPullRequest,
) -> Result<PullRequest, ForgeError> {
    let action = format!("open a pull request for {}", new.head);
    let request = forge
        .http
        .post(format!("{}/pulls", github_repo(forge)))
        .json(&json!({
            "title": new.title,
            "head": new.head,
            "base": new.base,
            "body": new.body,
            "draft": forge.draft,
            "maintainer_can_modify": false,
        }));
    let pr = github_pr(forge, &action, &forge.send(&action, request).await?)?;
    if !forge.labels.is_empty() {
        let action = format!("label pull request #{}", pr.number);
        let request = forge
            .http
            .post(format!(
                "{}/issues/{}/labels",
                github_repo(forge),
                pr.number
            ))
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
        // One request per reviewer, so one unknown name does not lose the others.
        let asks = users
            .iter()
            .map(|u| (u.as_str(), json!({ "reviewers": [u] })))
            .chain(teams.iter().map(|t| (*t, json!({ "team_reviewers": [t] }))));
        for (who, body) in asks {
            let action = format!("ask {who} to review pull request #{}", pr.number);
            let request = forge
                .http
                .post(format!(
                    "{}/pulls/{}/requested_reviewers",
                    github_repo(forge),
                    pr.number
                ))
                .json(&body);
            if let Err(e) = forge.send(&action, request).await {
                tracing::warn!(forge = %forge.kind, number = pr.number, reviewer = %who, error = %e, "cannot request a reviewer");
            }
        }
    }
    Ok(pr)
}

pub(super) async fn github_update(
    forge: &Forge,
    number: u64,
    title: &str,
    body: &str,
) -> Result<PullRequest, ForgeError> {
    let action = format!("update pull request #{number}");
    let request = forge
        .http
        .patch(format!("{}/pulls/{number}", github_repo(forge)))
        .json(&json!({ "title": title, "body": body }));
    github_pr(forge, &action, &forge.send(&action, request).await?)
}

// ---- GitLab -------------------------------------------------------------------------------

fn gitlab_project(forge: &Forge) -> String {
    let id: String = url::form_urlencoded::byte_serialize(forge.repository.as_bytes()).collect();
    format!("{}/projects/{id}", forge.api)
}

fn gitlab_mr(forge: &Forge, action: &str, v: &Value) -> Result<PullRequest, ForgeError> {
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
    })
}

pub(super) async fn gitlab_list(
    forge: &Forge,
    branch: &str,
) -> Result<Vec<PullRequest>, ForgeError> {
    let action = format!("list merge requests for {branch}");
    let request = forge.http.get(with_query(
        format!("{}/merge_requests", gitlab_project(forge)),
        &[
            ("source_branch", branch),
            ("state", "all"),
            ("per_page", "100"),
        ],
    ));
    let items = array(forge, &action, forge.send(&action, request).await?)?;
    items.iter().map(|v| gitlab_mr(forge, &action, v)).collect()
}

/// GitLab takes reviewers as user ids: looks each name up; unknown names are logged.
async fn gitlab_reviewer_ids(forge: &Forge) -> Vec<u64> {
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

pub(super) async fn gitlab_open(
    forge: &Forge,
    new: &NewPullRequest,
) -> Result<PullRequest, ForgeError> {
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
    if !forge.labels.is_empty() {
        body["labels"] = json!(forge.labels.join(","));
    }
    let reviewers = gitlab_reviewer_ids(forge).await;
    if !reviewers.is_empty() {
        body["reviewer_ids"] = json!(reviewers);
    }
    let request = forge
        .http
        .post(format!("{}/merge_requests", gitlab_project(forge)))
        .json(&body);
    gitlab_mr(forge, &action, &forge.send(&action, request).await?)
}

pub(super) async fn gitlab_update(
    forge: &Forge,
    number: u64,
    title: &str,
    body: &str,
) -> Result<PullRequest, ForgeError> {
    let action = format!("update merge request !{number}");
    let request = forge
        .http
        .put(format!("{}/merge_requests/{number}", gitlab_project(forge)))
        .json(&json!({ "title": title, "description": body }));
    gitlab_mr(forge, &action, &forge.send(&action, request).await?)
}

// ---- Gitea / Forgejo ----------------------------------------------------------------------

/// Pages read when listing Gitea pull requests (Gitea cannot filter by head branch).
const GITEA_PAGES: usize = 20;
const GITEA_PAGE_SIZE: usize = 50;

pub(super) async fn gitea_list(
    forge: &Forge,
    branch: &str,
) -> Result<Vec<PullRequest>, ForgeError> {
    let action = format!("list pull requests for {branch}");
    let mut out = Vec::new();
    for page in 1..=GITEA_PAGES {
        let (limit, page) = (GITEA_PAGE_SIZE.to_string(), page.to_string());
        let request = forge.http.get(with_query(
            format!("{}/pulls", github_repo(forge)),
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
            let pr = github_pr(forge, &action, v)?;
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

pub(super) async fn gitea_open(
    forge: &Forge,
    new: &NewPullRequest,
) -> Result<PullRequest, ForgeError> {
    let action = format!("open a pull request for {}", new.head);
    let title = if forge.draft {
        format!("WIP: {}", new.title)
    } else {
        new.title.clone()
    };
    let request = forge
        .http
        .post(format!("{}/pulls", github_repo(forge)))
        .json(&json!({
            "head": new.head,
            "base": new.base,
            "title": title,
            "body": new.body,
        }));
    let pr = github_pr(forge, &action, &forge.send(&action, request).await?)?;
    if !forge.labels.is_empty()
        && let Err(e) = gitea_label(forge, pr.number).await
    {
        tracing::warn!(forge = %forge.kind, number = pr.number, error = %e, "cannot set labels");
    }
    // One request per reviewer, so one unknown name does not lose the others.
    for who in &forge.reviewers {
        let action = format!("ask {who} to review pull request #{}", pr.number);
        let request = forge
            .http
            .post(format!(
                "{}/pulls/{}/requested_reviewers",
                github_repo(forge),
                pr.number
            ))
            .json(&json!({ "reviewers": [who] }));
        if let Err(e) = forge.send(&action, request).await {
            tracing::warn!(forge = %forge.kind, number = pr.number, reviewer = %who, error = %e, "cannot request a reviewer");
        }
    }
    Ok(pr)
}

/// Gitea labels pull requests by label id: looks the configured names up first.
async fn gitea_label(forge: &Forge, number: u64) -> Result<(), ForgeError> {
    let action = "list the repository's labels";
    let request = forge.http.get(with_query(
        format!("{}/labels", github_repo(forge)),
        &[("limit", "200")],
    ));
    let known = array(forge, action, forge.send(action, request).await?)?;
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
        .post(format!("{}/issues/{number}/labels", github_repo(forge)))
        .json(&json!({ "labels": ids }));
    forge.send(&action, request).await.map(|_| ())
}

pub(super) async fn gitea_update(
    forge: &Forge,
    number: u64,
    title: &str,
    body: &str,
) -> Result<PullRequest, ForgeError> {
    let action = format!("update pull request #{number}");
    let request = forge
        .http
        .patch(format!("{}/pulls/{number}", github_repo(forge)))
        .json(&json!({ "title": title, "body": body }));
    github_pr(forge, &action, &forge.send(&action, request).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_messages_from_each_forge() {
        assert_eq!(
            error_message(
                &json!({"message": "Validation Failed", "errors": [{"message": "A pull request already exists for o:b."}]})
            ),
            "Validation Failed; A pull request already exists for o:b."
        );
        assert_eq!(
            error_message(
                &json!({"message": ["Another open merge request already exists for this source branch: !1"]})
            ),
            "Another open merge request already exists for this source branch: !1"
        );
        assert_eq!(
            error_message(&json!({"message": {"title": ["is too long"]}})),
            "title is too long"
        );
        assert_eq!(
            error_message(&json!({"error": "invalid_token"})),
            "invalid_token"
        );
        assert_eq!(error_message(&json!([1])), "");
    }
}
