//! Reading what CI and deployment tools reported on a commit: commit statuses (all three
//! forges) and GitHub's check runs, as one list of named checks for verification.

use serde_json::Value;

use super::api::{array, str_field, with_query};
use super::{Forge, ForgeError, StatusState};

/// One commit status or check run on a commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitCheck {
    /// The status context (GitLab: name; check run: name).
    pub context: String,
    /// Where it stands.
    pub state: StatusState,
    /// Its description (check run: its output title), possibly empty.
    pub description: String,
}

/// Most statuses or check runs read per commit (one page of 100 each).
const PAGE: &str = "100";

/// Gitea's and Forgejo's largest page (their default `MAX_RESPONSE_ITEMS`).
const GITEA_PAGE: &str = "50";

impl Forge {
    /// The commit statuses and check runs reported on `commit` (the latest per context).
    pub async fn commit_checks(&self, commit: &str) -> Result<Vec<CommitCheck>, ForgeError> {
        if commit.is_empty() || !commit.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(ForgeError::Settings(format!(
                "{commit:?} is not a commit id"
            )));
        }
        self.kind.dialect().commit_checks(self, commit).await
    }
}

/// GitHub: the combined status (`GET .../commits/REF/status`, latest per context) and the
/// check runs (`GET .../commits/REF/check-runs`).
pub(super) async fn github(forge: &Forge, commit: &str) -> Result<Vec<CommitCheck>, ForgeError> {
    let repo = super::github::repo_url(forge);
    let mut out = combined(
        forge,
        &format!("{repo}/commits/{commit}/status"),
        ("per_page", PAGE),
        "state",
    )
    .await?;
    let action = format!("read the check runs of commit {commit}");
    let request = forge.http.get(with_query(
        format!("{repo}/commits/{commit}/check-runs"),
        &[("per_page", PAGE)],
    ));
    let reply = forge.send(&action, request).await?;
    let runs = reply
        .get("check_runs")
        .cloned()
        .ok_or_else(|| forge.reply_error(&action, "the reply has no check_runs"))?;
    for run in array(forge, &action, runs)? {
        let state = match (
            str_field(&run, "status").as_str(),
            str_field(&run, "conclusion").as_str(),
        ) {
            ("completed", "success" | "neutral" | "skipped") => StatusState::Success,
            ("completed", _) => StatusState::Failure,
            _ => StatusState::Pending,
        };
        out.push(CommitCheck {
            context: str_field(&run, "name"),
            state,
            description: run
                .get("output")
                .map(|o| str_field(o, "title"))
                .unwrap_or_default(),
        });
    }
    Ok(out)
}

/// Gitea and Forgejo: the combined status (`GET .../commits/REF/status`), whose entries say
/// `status` where GitHub's say `state`.
pub(super) async fn gitea(forge: &Forge, commit: &str) -> Result<Vec<CommitCheck>, ForgeError> {
    let repo = super::github::repo_url(forge);
    combined(
        forge,
        &format!("{repo}/commits/{commit}/status"),
        ("limit", GITEA_PAGE),
        "status",
    )
    .await
}

/// A combined status reply: `{"state": .., "statuses": [{"context", STATE_FIELD, "description"}]}`.
async fn combined(
    forge: &Forge,
    url: &str,
    page: (&str, &str),
    state_field: &str,
) -> Result<Vec<CommitCheck>, ForgeError> {
    let action = "read the commit statuses";
    let request = forge.http.get(with_query(url.to_string(), &[page]));
    let reply = forge.send(action, request).await?;
    let statuses = match reply.get("statuses") {
        Some(Value::Null) | None => return Ok(Vec::new()),
        Some(v) => array(forge, action, v.clone())?,
    };
    Ok(statuses
        .iter()
        .map(|s| CommitCheck {
            context: str_field(s, "context"),
            state: match str_field(s, state_field).as_str() {
                "success" | "warning" => StatusState::Success,
                "pending" => StatusState::Pending,
                _ => StatusState::Failure,
            },
            description: str_field(s, "description"),
        })
        .collect())
}

/// GitLab: `GET /projects/ID/repository/commits/SHA/statuses` (the latest per name).
pub(super) async fn gitlab(forge: &Forge, commit: &str) -> Result<Vec<CommitCheck>, ForgeError> {
    let action = "read the commit statuses";
    let request = forge.http.get(with_query(
        format!(
            "{}/repository/commits/{commit}/statuses",
            super::gitlab::project_url(forge)
        ),
        &[("per_page", PAGE)],
    ));
    let items = array(forge, action, forge.send(action, request).await?)?;
    Ok(items
        .iter()
        .map(|s| CommitCheck {
            context: str_field(s, "name"),
            state: match str_field(s, "status").as_str() {
                "success" | "skipped" => StatusState::Success,
                "failed" | "canceled" => StatusState::Failure,
                _ => StatusState::Pending,
            },
            description: str_field(s, "description"),
        })
        .collect())
}
