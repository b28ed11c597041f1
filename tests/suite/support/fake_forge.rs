//! A fake forge: the parts of the GitHub, GitLab and Gitea/Forgejo REST APIs that Baton uses
//! for pull requests, commit statuses and merges, in memory, on a loopback port. No real forge can run in a test, so this
//! fake stands in for all three. It enforces the token the way each forge expects it, records
//! every request (never the token), and can be told to answer with rate limits or errors.
//!
//! Which documentation each dialect follows (every field Baton sends or reads was checked):
//! - GitHub: GitHub's own REST description (@octokit/openapi 23.0.2, cut down in
//!   tests/fixtures/github). Replies are built from its examples and checked against its
//!   schemas by tests/suite/forge/github_prism.rs (prism proxy).
//! - Gitea/Forgejo: each project's own swagger template, templates/swagger/v1_json.tmpl, cut
//!   down in tests/fixtures/gitea (scripts/gitea-api-subset): Gitea's at go-gitea/gitea
//!   67ce9ca1, Forgejo's at 7d05b5ac (2023-11, after Forgejo 1.21.0). Every request and reply
//!   is checked against both by tests/suite/forge/gitea_prism.rs (prism proxy). List `state`
//!   open|closed|all, `sort=recentupdate`, `page`, `limit`; create (`head`, `base`, `title`,
//!   `body`) answers 201, an existing one 409; edit (PATCH, `state` closes) answers 201; PullRequest `number`,
//!   `html_url`, `state`, `merged`, `merged_at` (a date-time string: left out until merged),
//!   `title`, `body`, `head.ref`, `head.sha`, `head.repo.full_name`, `base.ref`, `labels`;
//!   labels by id, listed page by page (`limit` 30 by default, 50 at most, as a server's
//!   `DEFAULT_PAGING_NUM`/`MAX_RESPONSE_ITEMS`); `requested_reviewers` takes `reviewers` and
//!   answers 201 with a list, 422
//!   for an unknown user. A merge scheduled for when checks succeed answers 201, as Gitea's
//!   routers/api/v1/repo/pull.go (at 000762f8) does, though the swagger comment omits 201.
//! - GitLab: GitLab's own OpenAPI file, doc/api/openapi/openapi_v2.yaml (gitlabhq/gitlabhq
//!   @ 0338625c, API v4, GitLab 18.8), cut down in tests/fixtures/gitlab
//!   (scripts/gitlab-api-subset) and checked against it by tests/suite/forge/gitlab_prism.rs
//!   (prism proxy): list (`source_branch`, `state=all`, `per_page`), create (`source_branch`,
//!   `target_branch`, `title`, `description`, `labels` as an array of names, `reviewer_ids`;
//!   201, 409 for a second open one), read and update (PUT, `state_event` closes) `merge_requests/:iid`, merge,
//!   cancel, commit statuses. Where that file contradicts GitLab's REST documentation of the
//!   same commit (doc/api/merge_requests.md), the fake follows the documentation and the test
//!   lists the contradiction: `draft`, `merge_when_pipeline_succeeds` booleans, `labels` and
//!   `reviewers` arrays, `source_project_id`/`target_project_id` integers, `merge_user` null
//!   until set (the file types each as a string or as one object). Not in the file,
//!   checked by hand against doc/api/users.md (gitlabhq @ 000087ab): `GET /user` (`username`)
//!   and `GET /users?username=` (a list of users with `id`). Replies carry `iid`, `web_url`,
//!   `state` (opened|closed|locked|merged), `title`, `description`, `source_branch`,
//!   `target_branch`, `sha`, `author`, `detailed_merge_status`.
//!
//! Statuses and merges (issue 18 item 5; GitHub's shapes come from the same description,
//! the GraphQL mutation is checked against @octokit/graphql-schema by the auto-merge tests):
//! - GitHub: `POST /repos/{o}/{r}/statuses/{sha}` (201, a Status); `GET .../pulls/{n}` with
//!   `head.sha`, `node_id`, `mergeable_state` (clean, blocked, dirty, draft) and `auto_merge`;
//!   `PUT .../pulls/{n}/merge` with `sha` (200 merged, 405 not mergeable, 409 "Head branch was
//!   modified"); `POST /api/graphql` `enablePullRequestAutoMerge` with `expectedHeadOid`
//!   (errors in a 200 reply, as GitHub's GraphQL API answers them).
//! - GitLab (openapi_v2.yaml as above; doc/api/commits.md @ 00359ec1 for the statuses'
//!   nulls): `POST /projects/:id/statuses/:sha` (`state`, `name`, `description`,
//!   `target_url`; 201, as Grape answers lib/api/commit_statuses.rb's POST, though the file
//!   says 200);
//!   `PUT .../merge_requests/:iid/merge` with `sha` and `auto_merge` or the deprecated
//!   `merge_when_pipeline_succeeds` (which of the two it reads: [`GitLabAutoMerge`])
//!   (200 with the merge request, 405 when it cannot be merged, 409 when `sha` is not the
//!   head); replies carry `sha`, `merge_when_pipeline_succeeds`, `detailed_merge_status`.
//! - Gitea/Forgejo (swagger `MergePullRequestOption`, `CreateStatusOption`): `POST
//!   /repos/{o}/{r}/statuses/{sha}` (201, a CommitStatus); `POST .../pulls/{n}/merge` with
//!   `Do`, `head_commit_id`, `merge_when_checks_succeed` (200 merged, 201 scheduled, both
//!   empty; 405 not mergeable; 409 head out of date); `DELETE .../pulls/{n}/merge` cancels
//!   a scheduled merge (204, 404 when none); `GET .../pulls/{n}`.
//! - Reading statuses (verification's `commit_status`): GitHub `GET .../commits/{ref}/status`
//!   (a CombinedCommitStatus, the latest per context) and `GET .../commits/{ref}/check-runs`
//!   (`total_count`, `check_runs` with `name`, `status`, `conclusion`), both from the
//!   description's examples; Gitea `GET .../commits/{ref}/status` (a CombinedStatus whose
//!   entries carry `status`); GitLab `GET /projects/:id/repository/commits/:sha/statuses`
//!   (doc/api/commits.md: a list with `name`, `status`, `description`, `target_url`).
//! - Cancelling: GitHub `disablePullRequestAutoMerge` (GraphQL), with `auto_merge.enabled_by`
//!   read first; GitLab `POST .../merge_requests/:iid/cancel_merge_when_pipeline_succeeds`
//!   (201; 406 when nothing is set), with `merge_user` read first (`GET .../merge_requests/:iid`).
//! - Closing (a group member's own review, superseded by the group's): GitHub and Gitea
//!   `PATCH .../pulls/{n}` with `state: closed`, GitLab `PUT .../merge_requests/:iid` with
//!   `state_event: close` (each description's update body); a merged one stays merged.
//!
//! With [`FakeForge::track_remote`], heads are read from the bare remote, so a person's push
//! to the branch moves the head as on a real forge, and merges are made in the remote.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::Response;
use baton::forge::{ForgeConfig, ForgeKind};
use serde_json::{Value, json};

/// Which API the fake speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FakeKind {
    /// GitHub (Enterprise layout: `/api/v3`).
    GitHub,
    /// GitLab (`/api/v4`).
    GitLab,
    /// Gitea / Forgejo (`/api/v1`).
    Gitea,
}

impl FakeKind {
    /// Baton's own name for this API.
    pub fn forge_kind(self) -> ForgeKind {
        match self {
            FakeKind::GitHub => ForgeKind::GitHub,
            FakeKind::GitLab => ForgeKind::GitLab,
            FakeKind::Gitea => ForgeKind::Gitea,
        }
    }

    /// The `kind` value in Baton's `[forge]` section.
    pub fn config_name(self) -> &'static str {
        match self {
            FakeKind::GitHub => "github",
            FakeKind::GitLab => "gitlab",
            FakeKind::Gitea => "gitea",
        }
    }
}

/// Baton's forge settings for a client of `kind` at `base_url`: `token` written to a file in
/// `dir`, labels `baton` and `promotion`, reviewer `alice`, no draft.
pub fn client_config(
    kind: FakeKind,
    base_url: &str,
    repository: &str,
    dir: &Path,
    token: &str,
) -> ForgeConfig {
    let token_file = dir.join("token");
    std::fs::write(&token_file, format!("{token}\n")).unwrap();
    ForgeConfig {
        kind: kind.forge_kind(),
        base_url: url::Url::parse(base_url).unwrap(),
        repository: repository.to_string(),
        token_file,
        labels: vec!["baton".into(), "promotion".into()],
        reviewers: vec!["alice".into()],
        draft: false,
        timeout: Duration::from_secs(30),
    }
}

/// One pull request held by the fake.
#[derive(Debug, Clone, PartialEq)]
pub struct FakePull {
    /// Number (GitLab iid).
    pub number: u64,
    /// Head branch.
    pub head: String,
    /// Base branch.
    pub base: String,
    /// Title.
    pub title: String,
    /// Body.
    pub body: String,
    /// Open (false once closed or merged).
    pub open: bool,
    /// Merged.
    pub merged: bool,
    /// Draft flag (GitHub).
    pub draft: bool,
    /// Label names.
    pub labels: Vec<String>,
    /// Reviewer names (GitHub teams as `team:SLUG`).
    pub reviewers: Vec<String>,
    /// How many times title or body were updated.
    pub updates: u32,
    /// Who opened it (the login, GitLab: username).
    pub author: String,
    /// The repository its head branch lives in (`OWNER/NAME`): the fake's own one, or a fork.
    pub head_repository: String,
    /// Its head commit when the fake does not track a remote (or the head is in a fork).
    pub head_sha: String,
    /// Auto-merge is on: the fake merges it once checks and approvals pass.
    pub auto_merge: bool,
}

/// A commit status someone set.
#[derive(Debug, Clone, PartialEq)]
pub struct FakeStatus {
    /// The commit.
    pub sha: String,
    /// The state word as sent (GitLab's `failed`, GitHub's `failure`).
    pub state: String,
    /// GitHub and Gitea `context`, GitLab `name`.
    pub context: String,
    /// The description.
    pub description: String,
    /// The link, when given.
    pub target_url: Option<String>,
}

/// A GitHub check run someone reported on a commit.
#[derive(Debug, Clone, PartialEq)]
pub struct FakeCheckRun {
    /// The commit.
    pub sha: String,
    /// Its name.
    pub name: String,
    /// `queued`, `in_progress` or `completed`.
    pub status: String,
    /// With `completed`: `success`, `failure`, `neutral`...
    pub conclusion: Option<String>,
}

/// What the forge says about a pull request's mergeability.
#[derive(Debug, Clone, Copy, Default)]
pub struct MergeGate {
    /// The required checks passed.
    pub checks_green: bool,
    /// The required approvals are there.
    pub approved: bool,
    /// The repository allows auto-merge (GitHub's setting).
    pub auto_merge_disallowed: bool,
    /// Which names of its auto-merge flag GitLab's merge call reads.
    pub gitlab_reads: GitLabAutoMerge,
}

impl MergeGate {
    /// Checks passed and approvals met: a merge goes through at once.
    pub const GREEN: MergeGate = MergeGate {
        checks_green: true,
        approved: true,
        auto_merge_disallowed: false,
        gitlab_reads: GitLabAutoMerge::Either,
    };
}

/// The names GitLab's `PUT .../merge_requests/:iid/merge` reads for "merge once the checks
/// pass" (Grape drops a parameter an endpoint does not declare).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum GitLabAutoMerge {
    /// GitLab 17.11 and later: `merge_when_pipeline_succeeds || auto_merge` (its
    /// `lib/api/merge_requests.rb`).
    #[default]
    Either,
    /// Before 17.11: only `merge_when_pipeline_succeeds`.
    OnlyDeprecated,
    /// Only `auto_merge` in the request (what Baton relies on should GitLab drop the old
    /// name; replies still carry `merge_when_pipeline_succeeds`, as GitLab 18.8's
    /// description has them).
    OnlyAutoMerge,
}

/// The login of the user the fake's token belongs to (what `GET /user` answers).
pub const TOKEN_USER: &str = "baton-bot";

/// One request as the fake saw it.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// The method.
    pub method: String,
    /// The path, undecoded.
    pub path: String,
    /// The query string.
    pub query: String,
    /// The JSON body, `Null` when none.
    pub body: Value,
    /// Whether it carried the right token in the right header.
    pub authorized: bool,
}

/// How the next requests are answered.
#[derive(Debug, Clone, Default)]
pub struct FakeBehaviour {
    /// Answer this many requests with the forge's rate-limit reply.
    pub rate_limited: u32,
    /// Answer the next request with this status and JSON body.
    pub fail_next: Option<(u16, Value)>,
}

#[derive(Debug)]
struct ForgeState {
    kind: FakeKind,
    token: String,
    repository: String,
    pulls: Vec<FakePull>,
    labels: Vec<(u64, String)>,
    users: Vec<(u64, String)>,
    requests: Vec<Recorded>,
    behaviour: FakeBehaviour,
    addr: Option<SocketAddr>,
    statuses: Vec<FakeStatus>,
    check_runs: Vec<FakeCheckRun>,
    gate: MergeGate,
    remote: Option<PathBuf>,
}

/// A running fake forge; stops when dropped.
pub struct FakeForge {
    addr: SocketAddr,
    state: Arc<Mutex<ForgeState>>,
    task: tokio::task::JoinHandle<()>,
    /// The kind it speaks.
    pub kind: FakeKind,
}

impl FakeForge {
    /// Starts a fake `kind` forge for `repository` (`OWNER/NAME`) that accepts only `token`.
    pub async fn start(kind: FakeKind, repository: &str, token: &str) -> FakeForge {
        let state = Arc::new(Mutex::new(ForgeState {
            kind,
            token: token.to_string(),
            repository: repository.to_string(),
            pulls: Vec::new(),
            labels: vec![(1, "baton".into()), (2, "promotion".into())],
            users: vec![(11, "alice".into()), (12, "bob".into())],
            requests: Vec::new(),
            behaviour: FakeBehaviour::default(),
            addr: None,
            statuses: Vec::new(),
            check_runs: Vec::new(),
            gate: MergeGate::default(),
            remote: None,
        }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        state.lock().unwrap().addr = Some(addr);
        let app = Router::new().fallback(handle).with_state(state.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeForge {
            addr,
            state,
            task,
            kind,
        }
    }

    /// The `base_url` to configure: the server's root (GitHub: Enterprise layout).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A `[forge]` section for this fake, with the token in `token_file`.
    pub fn config_section(&self, token_file: &std::path::Path) -> String {
        let repository = self.state.lock().unwrap().repository.clone();
        format!(
            "[forge]\nkind = \"{}\"\nbase_url = \"{}\"\nrepository = \"{repository}\"\ntoken_file = \"{}\"\n",
            self.kind.config_name(),
            self.base_url(),
            token_file.display()
        )
    }

    /// Every pull request, by number.
    pub fn pulls(&self) -> Vec<FakePull> {
        self.state.lock().unwrap().pulls.clone()
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.state.lock().unwrap().requests.clone()
    }

    /// Requests that change something (not GET).
    pub fn writes(&self) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.method != "GET")
            .collect()
    }

    /// Changes how the next requests are answered.
    pub fn configure(&self, change: impl FnOnce(&mut FakeBehaviour)) {
        change(&mut self.state.lock().unwrap().behaviour);
    }

    /// Closes pull request `number` without merging, as a person would.
    pub fn close(&self, number: u64) {
        let mut state = self.state.lock().unwrap();
        let pr = state.pulls.iter_mut().find(|p| p.number == number).unwrap();
        pr.open = false;
    }

    /// A person reopens pull request `number`.
    pub fn reopen(&self, number: u64) {
        let mut state = self.state.lock().unwrap();
        let pr = state.pulls.iter_mut().find(|p| p.number == number).unwrap();
        pr.open = true;
    }

    /// Adds a pull request that Baton did not open: by `author`, from a branch named `head` in
    /// `head_repository` (the fake's own repository, or a fork such as `mallory/fleet`), open
    /// or closed, with `body`. Returns its number.
    pub fn add_foreign(
        &self,
        author: &str,
        head_repository: &str,
        head: &str,
        body: &str,
        open: bool,
    ) -> u64 {
        let mut state = self.state.lock().unwrap();
        let number = next_number(&state);
        state.pulls.push(FakePull {
            number,
            head: head.to_string(),
            base: "main".to_string(),
            title: format!("{author}'s change"),
            body: body.to_string(),
            open,
            merged: false,
            draft: false,
            labels: Vec::new(),
            reviewers: Vec::new(),
            updates: 0,
            author: author.to_string(),
            head_repository: head_repository.to_string(),
            head_sha: format!("{:040x}", 0xf0f0_u64 + number),
            auto_merge: false,
        });
        number
    }

    /// Puts `count` other labels in the repository ahead of Baton's own (`baton`, `promotion`).
    pub fn add_labels_before(&self, count: u64) {
        let mut state = self.state.lock().unwrap();
        let mut labels: Vec<(u64, String)> =
            (0..count).map(|i| (100 + i, format!("area/{i}"))).collect();
        labels.append(&mut state.labels);
        state.labels = labels;
    }

    /// Reads pull request heads from the bare repository at `remote` and makes merges there.
    pub fn track_remote(&self, remote: &Path) {
        self.state.lock().unwrap().remote = Some(remote.to_path_buf());
    }

    /// Every commit status set so far.
    pub fn statuses(&self) -> Vec<FakeStatus> {
        self.state.lock().unwrap().statuses.clone()
    }

    /// Records a commit status on `sha` as another tool (Flux's notification-controller, a
    /// CI) would set it: `state` in the forge's own word.
    pub fn set_status(&self, sha: &str, context: &str, state: &str, description: &str) {
        self.state.lock().unwrap().statuses.push(FakeStatus {
            sha: sha.to_string(),
            state: state.to_string(),
            context: context.to_string(),
            description: description.to_string(),
            target_url: None,
        });
    }

    /// Records a GitHub check run on `sha`.
    pub fn set_check_run(&self, sha: &str, name: &str, status: &str, conclusion: Option<&str>) {
        self.state.lock().unwrap().check_runs.push(FakeCheckRun {
            sha: sha.to_string(),
            name: name.to_string(),
            status: status.to_string(),
            conclusion: conclusion.map(String::from),
        });
    }

    /// Sets what the forge reports about checks and approvals; pull requests with auto-merge
    /// on are merged when both pass, as the forge would.
    pub fn set_gate(&self, gate: MergeGate) {
        let mut state = self.state.lock().unwrap();
        state.gate = gate;
        settle_auto_merges(&mut state);
    }

    /// Marks pull request `number` merged (the test merges the branch in the remote itself).
    pub fn mark_merged(&self, number: u64) {
        let mut state = self.state.lock().unwrap();
        let pr = state.pulls.iter_mut().find(|p| p.number == number).unwrap();
        pr.open = false;
        pr.merged = true;
    }
}

impl Drop for FakeForge {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn reply(status: StatusCode, headers: &[(&str, String)], body: Value) -> Response {
    let mut response = Response::new(Body::from(body.to_string()));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert("content-type", HeaderValue::from_static("application/json"));
    for (name, value) in headers {
        response.headers_mut().insert(
            axum::http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
    }
    response
}

fn query_map(uri: &Uri) -> HashMap<String, String> {
    url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
        .into_owned()
        .collect()
}

fn authorized(state: &ForgeState, headers: &HeaderMap) -> bool {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    match state.kind {
        FakeKind::GitHub => header("authorization") == Some(&format!("Bearer {}", state.token)),
        FakeKind::GitLab => header("private-token") == Some(state.token.as_str()),
        FakeKind::Gitea => header("authorization") == Some(&format!("token {}", state.token)),
    }
}

async fn handle(
    State(state): State<Arc<Mutex<ForgeState>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut state = state.lock().unwrap();
    let json: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let ok = authorized(&state, &headers);
    state.requests.push(Recorded {
        method: method.to_string(),
        path: uri.path().to_string(),
        query: uri.query().unwrap_or("").to_string(),
        body: json.clone(),
        authorized: ok,
    });
    if state.behaviour.rate_limited > 0 {
        state.behaviour.rate_limited -= 1;
        return rate_limit_reply(state.kind);
    }
    if let Some((status, body)) = state.behaviour.fail_next.take() {
        return reply(StatusCode::from_u16(status).unwrap(), &[], body);
    }
    if !ok {
        let message = match state.kind {
            FakeKind::GitHub => {
                json!({"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"})
            }
            FakeKind::GitLab => json!({"message": "401 Unauthorized"}),
            FakeKind::Gitea => json!({"message": "token is required"}),
        };
        return reply(StatusCode::UNAUTHORIZED, &[], message);
    }
    let query = query_map(&uri);
    let segments: Vec<String> = uri
        .path()
        .trim_matches('/')
        .split('/')
        .map(|s| {
            url::form_urlencoded::parse(format!("x={s}").as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default()
        })
        .collect();
    let segs: Vec<&str> = segments.iter().map(String::as_str).collect();
    match state.kind {
        FakeKind::GitHub => github(&mut state, &method, &segs, &query, &json),
        FakeKind::GitLab => gitlab(&mut state, &method, &segs, &query, &json),
        FakeKind::Gitea => gitea(&mut state, &method, &segs, &query, &json),
    }
}

fn rate_limit_reply(kind: FakeKind) -> Response {
    match kind {
        FakeKind::GitHub => reply(
            StatusCode::FORBIDDEN,
            &[
                ("x-ratelimit-limit", "5000".into()),
                ("x-ratelimit-remaining", "0".into()),
                ("x-ratelimit-reset", "1764064800".into()),
            ],
            json!({"message": "API rate limit exceeded for user ID 1."}),
        ),
        FakeKind::GitLab => reply(
            StatusCode::TOO_MANY_REQUESTS,
            &[
                ("ratelimit-remaining", "0".into()),
                ("ratelimit-reset", "1764064800".into()),
                ("retry-after", "60".into()),
            ],
            json!({"message": "Retry later"}),
        ),
        FakeKind::Gitea => reply(
            StatusCode::TOO_MANY_REQUESTS,
            &[],
            json!({"message": "rate limited"}),
        ),
    }
}

fn not_found() -> Response {
    reply(StatusCode::NOT_FOUND, &[], json!({"message": "Not Found"}))
}

fn next_number(state: &ForgeState) -> u64 {
    state.pulls.iter().map(|p| p.number).max().unwrap_or(0) + 1
}

/// The pull request numbered `n` (a path segment), if any.
fn pull_mut<'a>(state: &'a mut ForgeState, n: &str) -> Option<&'a mut FakePull> {
    let n: u64 = n.parse().ok()?;
    state.pulls.iter_mut().find(|p| p.number == n)
}

/// The open pull request from `head` of this repository (a fork's branch of the same name
/// is another head): every forge allows one.
fn open_pull<'a>(state: &'a ForgeState, head: &str) -> Option<&'a FakePull> {
    state
        .pulls
        .iter()
        .find(|p| p.open && p.head == head && p.head_repository == state.repository)
}

impl FakePull {
    /// A new open pull request by the token's user from `head` of this repository.
    fn new(
        state: &ForgeState,
        head: String,
        base: String,
        title: String,
        body: String,
    ) -> FakePull {
        FakePull {
            number: next_number(state),
            head,
            base,
            title,
            body,
            open: true,
            merged: false,
            draft: false,
            labels: Vec::new(),
            reviewers: Vec::new(),
            updates: 0,
            author: TOKEN_USER.to_string(),
            head_repository: state.repository.clone(),
            head_sha: format!("{:040x}", 0xa0a0_u64 + next_number(state)),
            auto_merge: false,
        }
    }

    /// Takes a new `title` and body (the field `body_key` of `request`), when given.
    fn edit(&mut self, request: &Value, body_key: &str) {
        if let Some(t) = request.get("title").and_then(Value::as_str) {
            self.title = t.to_string();
        }
        if let Some(b) = request.get(body_key).and_then(Value::as_str) {
            self.body = b.to_string();
        }
        // GitHub and Gitea: `state`; GitLab: `state_event`. A merged one stays merged.
        match (
            request.get("state").and_then(Value::as_str),
            request.get("state_event").and_then(Value::as_str),
        ) {
            (Some("closed"), _) | (_, Some("close")) if !self.merged => self.open = false,
            (Some("open"), _) | (_, Some("reopen")) if !self.merged => self.open = true,
            _ => {}
        }
        self.updates += 1;
    }
}

/// The head commit of `p`: its branch in the tracked remote, else the one it was given.
fn head_sha(state: &ForgeState, p: &FakePull) -> String {
    if let Some(remote) = &state.remote
        && p.head_repository == state.repository
    {
        let out = std::process::Command::new("git")
            .arg("--git-dir")
            .arg(remote)
            .args(["rev-parse", "--verify", "--quiet"])
            .arg(format!("refs/heads/{}", p.head))
            .output()
            .unwrap();
        if out.status.success() {
            return String::from_utf8_lossy(&out.stdout).trim().to_string();
        }
    }
    p.head_sha.clone()
}

/// Whether the forge would merge `p` now: open, not a draft, checks green, approved.
fn mergeable(state: &ForgeState, p: &FakePull) -> bool {
    p.open && !p.draft && state.gate.checks_green && state.gate.approved
}

/// Merges pull request `number`: in the tracked remote (a merge commit of its head into its
/// base, as a forge's merge button makes), then marks it merged. Err on a conflict.
fn merge_pull(state: &mut ForgeState, number: u64) -> Result<(), String> {
    let p = state
        .pulls
        .iter()
        .find(|p| p.number == number)
        .cloned()
        .ok_or("no such pull request")?;
    if let Some(remote) = state.remote.clone() {
        let head = head_sha(state, &p);
        let git = |args: &[&str]| -> Result<String, String> {
            let out = std::process::Command::new("git")
                .arg("--git-dir")
                .arg(&remote)
                .args(args)
                .env("GIT_AUTHOR_NAME", "Forge")
                .env("GIT_AUTHOR_EMAIL", "forge@example.com")
                .env("GIT_COMMITTER_NAME", "Forge")
                .env("GIT_COMMITTER_EMAIL", "forge@example.com")
                .output()
                .unwrap();
            if out.status.success() {
                Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
            } else {
                Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
            }
        };
        let base = git(&["rev-parse", &format!("refs/heads/{}", p.base)])?;
        let tree = git(&["merge-tree", "--write-tree", &base, &head])?;
        let tree = tree.lines().next().unwrap_or_default().to_string();
        let message = format!("Merge pull request #{number} from {}", p.head);
        let commit = git(&[
            "commit-tree",
            &tree,
            "-p",
            &base,
            "-p",
            &head,
            "-m",
            &message,
        ])?;
        git(&[
            "update-ref",
            &format!("refs/heads/{}", p.base),
            &commit,
            &base,
        ])?;
    }
    let p = state.pulls.iter_mut().find(|p| p.number == number).unwrap();
    p.open = false;
    p.merged = true;
    p.auto_merge = false;
    Ok(())
}

/// Merges every open pull request with auto-merge on that the forge would merge now.
fn settle_auto_merges(state: &mut ForgeState) {
    let ready: Vec<u64> = state
        .pulls
        .iter()
        .filter(|p| p.auto_merge && mergeable(state, p))
        .map(|p| p.number)
        .collect();
    for number in ready {
        let _ = merge_pull(state, number);
    }
}

/// The latest status per context on `sha`, oldest context first.
fn latest_statuses(state: &ForgeState, sha: &str) -> Vec<FakeStatus> {
    let mut out: Vec<FakeStatus> = Vec::new();
    for s in state.statuses.iter().filter(|s| s.sha == sha) {
        match out.iter_mut().find(|o| o.context == s.context) {
            Some(o) => *o = s.clone(),
            None => out.push(s.clone()),
        }
    }
    out
}

/// The combined state of `statuses` as GitHub and Gitea compute it: failure (or error) wins,
/// then pending, then success; no status is pending.
fn combined_state(statuses: &[FakeStatus]) -> &'static str {
    if statuses
        .iter()
        .any(|s| s.state == "failure" || s.state == "error")
    {
        "failure"
    } else if statuses.is_empty() || statuses.iter().any(|s| s.state == "pending") {
        "pending"
    } else {
        "success"
    }
}

/// Records a commit status from `body`, the check's name under `name_key`.
fn record_status(state: &mut ForgeState, sha: &str, body: &Value, name_key: &str) -> FakeStatus {
    let status = FakeStatus {
        sha: sha.to_string(),
        state: str_of(body, "state"),
        context: str_of(body, name_key),
        description: str_of(body, "description"),
        target_url: body
            .get("target_url")
            .and_then(Value::as_str)
            .map(String::from),
    };
    state.statuses.push(status.clone());
    status
}

fn web(state: &ForgeState, kind_path: &str, number: u64) -> String {
    format!(
        "http://{}/{}/{kind_path}/{number}",
        state.addr.unwrap(),
        state.repository
    )
}

fn str_of(v: &Value, key: &str) -> String {
    v.get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

// ---- GitHub -----------------------------------------------------------------------------

/// GitHub's own examples from its REST description (the fixture the prism tests use), so
/// that the fake's replies carry every field GitHub documents; the prism proxy test checks
/// them against the description's schemas.
fn github_examples() -> &'static Value {
    static EXAMPLES: std::sync::OnceLock<Value> = std::sync::OnceLock::new();
    EXAMPLES.get_or_init(|| {
        let description: Value = serde_json::from_str(include_str!(
            "../../fixtures/github/api.github.com.baton.json"
        ))
        .unwrap();
        description["components"]["examples"].clone()
    })
}

/// A team as GitHub describes it; the example lacks the required `parent` and `type`.
fn github_team(slug: &str) -> Value {
    let mut team = github_examples()["pull-request"]["value"]["requested_teams"][0].clone();
    team["slug"] = json!(slug);
    team["name"] = json!(slug);
    team["parent"] = Value::Null;
    team["type"] = json!("organization");
    team
}

/// A pull request in GitHub's shape: the full one (`pull-request`, for opening and updating)
/// or the list form (`pull-request-simple`, for listing and requesting reviewers).
fn github_pull(state: &ForgeState, p: &FakePull, full: bool) -> Value {
    let mut pr = if full {
        github_examples()["pull-request"]["value"].clone()
    } else {
        github_examples()["pull-request-simple-items"]["value"][0].clone()
    };
    let label = &github_examples()["label-items"]["value"][0];
    let user = &github_examples()["pull-request"]["value"]["requested_reviewers"][0];
    pr["number"] = json!(p.number);
    pr["id"] = json!(1000 + p.number);
    pr["html_url"] = json!(web(state, "pull", p.number));
    pr["state"] = json!(if p.open { "open" } else { "closed" });
    pr["merged_at"] = if p.merged {
        json!("2026-11-25T10:00:00Z")
    } else {
        Value::Null
    };
    pr["closed_at"] = if p.open {
        Value::Null
    } else {
        json!("2026-11-25T10:00:00Z")
    };
    if full {
        pr["merged"] = json!(p.merged);
        pr["mergeable"] = json!(p.open && !p.draft);
        pr["mergeable_state"] = json!(if !p.open {
            "unknown"
        } else if p.draft {
            "draft"
        } else if mergeable(state, p) {
            "clean"
        } else {
            "blocked"
        });
        pr["auto_merge"] = if p.auto_merge {
            let mut by = github_examples()["pull-request"]["value"]["user"].clone();
            by["login"] = json!(TOKEN_USER);
            json!({
                "enabled_by": by,
                "merge_method": "merge",
                "commit_title": format!("Merge pull request #{}", p.number),
                "commit_message": "",
            })
        } else {
            Value::Null
        };
    }
    pr["node_id"] = json!(format!("PR_kwfake{}", p.number));
    pr["head"]["sha"] = json!(head_sha(state, p));
    pr["title"] = json!(p.title);
    pr["body"] = json!(p.body);
    pr["draft"] = json!(p.draft);
    pr["head"]["ref"] = json!(p.head);
    pr["head"]["label"] = json!(format!("{}:{}", owner_of(&p.head_repository), p.head));
    pr["head"]["user"]["login"] = json!(owner_of(&p.head_repository));
    pr["head"]["repo"]["full_name"] = json!(p.head_repository);
    pr["head"]["repo"]["owner"]["login"] = json!(owner_of(&p.head_repository));
    pr["user"]["login"] = json!(p.author);
    pr["user"]["id"] = json!(user_id(&p.author));
    pr["base"]["repo"]["full_name"] = json!(state.repository);
    pr["base"]["ref"] = json!(p.base);
    pr["labels"] = p
        .labels
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let mut l = label.clone();
            l["id"] = json!(i + 1);
            l["name"] = json!(name);
            l
        })
        .collect();
    let (teams, users): (Vec<&String>, Vec<&String>) =
        p.reviewers.iter().partition(|r| r.starts_with("team:"));
    pr["requested_reviewers"] = users
        .iter()
        .map(|name| {
            let mut u = user.clone();
            u["login"] = json!(name);
            u
        })
        .collect();
    pr["requested_teams"] = teams
        .iter()
        .map(|t| github_team(t.trim_start_matches("team:")))
        .collect();
    pr
}

/// GitHub's `validation_failed` reply.
fn github_validation_failed(message: &str, errors: Value) -> Response {
    reply(
        StatusCode::UNPROCESSABLE_ENTITY,
        &[],
        json!({"message": message, "errors": errors, "documentation_url": "https://docs.github.com/rest"}),
    )
}

fn owner_of(repository: &str) -> &str {
    repository.split('/').next().unwrap_or_default()
}

/// A stable numeric id for a login (GitLab and GitHub give every user one).
fn user_id(login: &str) -> u64 {
    if login == TOKEN_USER {
        7
    } else {
        100 + login.len() as u64
    }
}

/// GitLab's project id for a repository: the fake's own is 42, any fork another.
fn project_id(state: &ForgeState, repository: &str) -> u64 {
    if repository == state.repository {
        42
    } else {
        4200 + repository.len() as u64
    }
}

/// `GET /user` as each forge documents it: GitHub and Gitea answer `login`, GitLab `username`.
fn own_user(kind: FakeKind) -> Response {
    let body = match kind {
        FakeKind::GitHub => {
            // GitHub's own example of an authenticated user, renamed to the fake's token user.
            let mut user =
                github_examples()["private-user-response-with-public-profile-information"]["value"]
                    .clone();
            user["login"] = json!(TOKEN_USER);
            user["id"] = json!(user_id(TOKEN_USER));
            user
        }
        FakeKind::GitLab => {
            json!({"id": user_id(TOKEN_USER), "username": TOKEN_USER, "name": "Baton", "state": "active"})
        }
        FakeKind::Gitea => {
            json!({"id": user_id(TOKEN_USER), "login": TOKEN_USER, "full_name": "Baton"})
        }
    };
    reply(StatusCode::OK, &[], body)
}

fn github(
    state: &mut ForgeState,
    method: &Method,
    segs: &[&str],
    query: &HashMap<String, String>,
    body: &Value,
) -> Response {
    if let ("GET", ["api", "v3", "user"]) = (method.as_str(), segs) {
        return own_user(state.kind);
    }
    if let ("POST", ["api", "graphql"]) = (method.as_str(), segs) {
        return github_graphql(state, body);
    }
    let repo = state.repository.clone();
    let (owner, name) = repo.split_once('/').unwrap();
    let ["api", "v3", "repos", o, r, rest @ ..] = segs else {
        return not_found();
    };
    if *o != owner || *r != name {
        return not_found();
    }
    match (method.as_str(), rest) {
        ("GET", ["pulls"]) => {
            let head = query.get("head").cloned().unwrap_or_default();
            let want_all = query.get("state").map(String::as_str) == Some("all");
            let list: Vec<Value> = state
                .pulls
                .iter()
                // GitHub filters by `user:ref-name`: the owner of the head repository.
                .filter(|p| {
                    head.is_empty()
                        || head == format!("{}:{}", owner_of(&p.head_repository), p.head)
                })
                .filter(|p| want_all || p.open)
                .map(|p| github_pull(state, p, false))
                .collect();
            reply(StatusCode::OK, &[], Value::Array(list))
        }
        ("POST", ["pulls"]) => {
            let head = str_of(body, "head");
            if open_pull(state, &head).is_some() {
                return github_validation_failed(
                    "Validation Failed",
                    json!([{"resource": "PullRequest", "code": "custom", "message": format!("A pull request already exists for {owner}:{head}.")}]),
                );
            }
            let pr = FakePull {
                draft: body.get("draft").and_then(Value::as_bool).unwrap_or(false),
                ..FakePull::new(
                    state,
                    head,
                    str_of(body, "base"),
                    str_of(body, "title"),
                    str_of(body, "body"),
                )
            };
            let out = github_pull(state, &pr, true);
            state.pulls.push(pr);
            reply(StatusCode::CREATED, &[], out)
        }
        ("PATCH", ["pulls", n]) => {
            let Some(p) = pull_mut(state, n) else {
                return not_found();
            };
            p.edit(body, "body");
            let p = p.clone();
            reply(StatusCode::OK, &[], github_pull(state, &p, true))
        }
        ("GET", ["pulls", n]) => {
            let Some(p) = pull_mut(state, n).map(|p| p.clone()) else {
                return not_found();
            };
            reply(StatusCode::OK, &[], github_pull(state, &p, true))
        }
        ("PUT", ["pulls", n, "merge"]) => {
            let Some(p) = pull_mut(state, n).map(|p| p.clone()) else {
                return not_found();
            };
            let head = head_sha(state, &p);
            if body
                .get("sha")
                .and_then(Value::as_str)
                .is_some_and(|s| s != head)
            {
                return reply(
                    StatusCode::CONFLICT,
                    &[],
                    json!({"message": "Head branch was modified. Review and try the merge again.", "documentation_url": "https://docs.github.com/rest"}),
                );
            }
            if !mergeable(state, &p) {
                return reply(
                    StatusCode::METHOD_NOT_ALLOWED,
                    &[],
                    json!({"message": "Pull Request is not mergeable", "documentation_url": "https://docs.github.com/rest"}),
                );
            }
            if let Err(why) = merge_pull(state, p.number) {
                return reply(
                    StatusCode::METHOD_NOT_ALLOWED,
                    &[],
                    json!({"message": format!("Merge conflict: {why}")}),
                );
            }
            reply(
                StatusCode::OK,
                &[],
                json!({"sha": head, "merged": true, "message": "Pull Request successfully merged"}),
            )
        }
        ("GET", ["commits", sha, "status"]) => {
            // GitHub's combined status: the latest status per context.
            let statuses = latest_statuses(state, sha);
            let mut out = github_examples()["combined-commit-status"]["value"].clone();
            let template = out["statuses"][0].clone();
            out["state"] = json!(combined_state(&statuses));
            out["sha"] = json!(sha);
            out["total_count"] = json!(statuses.len());
            out["statuses"] = Value::Array(
                statuses
                    .iter()
                    .enumerate()
                    .map(|(i, s)| {
                        let mut v = template.clone();
                        v["id"] = json!(i + 1);
                        v["state"] = json!(s.state);
                        v["context"] = json!(s.context);
                        v["description"] = json!(s.description);
                        v["target_url"] = json!(s.target_url);
                        v
                    })
                    .collect(),
            );
            reply(StatusCode::OK, &[], out)
        }
        ("GET", ["commits", sha, "check-runs"]) => {
            let mut out = github_examples()["check-run-paginated"]["value"].clone();
            let template = out["check_runs"][0].clone();
            let runs: Vec<Value> = state
                .check_runs
                .iter()
                .filter(|r| r.sha == *sha)
                .enumerate()
                .map(|(i, r)| {
                    let mut v = template.clone();
                    v["id"] = json!(i + 1);
                    v["head_sha"] = json!(sha);
                    v["name"] = json!(r.name);
                    v["status"] = json!(r.status);
                    v["conclusion"] = json!(r.conclusion);
                    if r.conclusion.is_none() {
                        v["completed_at"] = Value::Null;
                    }
                    v
                })
                .collect();
            out["total_count"] = json!(runs.len());
            out["check_runs"] = Value::Array(runs);
            reply(StatusCode::OK, &[], out)
        }
        ("POST", ["statuses", sha]) => {
            let status = record_status(state, sha, body, "context");
            let mut out = github_examples()["status"]["value"].clone();
            out["state"] = json!(status.state);
            out["context"] = json!(status.context);
            out["description"] = json!(status.description);
            out["target_url"] = json!(status.target_url);
            out["url"] = json!(format!(
                "http://{}/repos/{repo}/statuses/{sha}",
                state.addr.unwrap()
            ));
            reply(StatusCode::CREATED, &[], out)
        }
        ("POST", ["issues", n, "labels"]) => {
            let Some(p) = pull_mut(state, n) else {
                return not_found();
            };
            for l in body
                .get("labels")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                p.labels.push(l.as_str().unwrap_or_default().to_string());
            }
            let p = p.clone();
            reply(
                StatusCode::OK,
                &[],
                github_pull(state, &p, false)["labels"].clone(),
            )
        }
        ("POST", ["pulls", n, "requested_reviewers"]) => {
            let users = state.users.clone();
            let Some(p) = pull_mut(state, n) else {
                return not_found();
            };
            for r in body
                .get("reviewers")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let name = r.as_str().unwrap_or_default().to_string();
                if !users.iter().any(|(_, u)| *u == name) {
                    return github_validation_failed(
                        "Reviews may only be requested from collaborators. One or more of the users or teams you specified is not a collaborator of the platform/fleet repository.",
                        json!([]),
                    );
                }
                p.reviewers.push(name);
            }
            for t in body
                .get("team_reviewers")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                p.reviewers
                    .push(format!("team:{}", t.as_str().unwrap_or_default()));
            }
            let p = p.clone();
            reply(StatusCode::CREATED, &[], github_pull(state, &p, false))
        }
        _ => not_found(),
    }
}

/// GitHub's GraphQL endpoint, for the one mutation Baton sends: `enablePullRequestAutoMerge`
/// by node id with `expectedHeadOid`. Refusals come back in `errors` with status 200, as
/// GitHub answers them. (The tests check the query itself against GitHub's schema.)
fn github_graphql(state: &mut ForgeState, body: &Value) -> Response {
    let refuse = |message: &str| {
        reply(
            StatusCode::OK,
            &[],
            json!({"data": {"enablePullRequestAutoMerge": null}, "errors": [{"type": "UNPROCESSABLE", "path": ["enablePullRequestAutoMerge"], "message": message}]}),
        )
    };
    let query = str_of(body, "query");
    let vars = body.get("variables").cloned().unwrap_or(Value::Null);
    let node = str_of(&vars, "pullRequestId");
    if query.contains("disablePullRequestAutoMerge") {
        let Some(p) = state
            .pulls
            .iter_mut()
            .find(|p| format!("PR_kwfake{}", p.number) == node)
        else {
            return refuse(&format!(
                "Could not resolve to a node with the global id of '{node}'"
            ));
        };
        p.auto_merge = false;
        return reply(
            StatusCode::OK,
            &[],
            json!({"data": {"disablePullRequestAutoMerge": {"pullRequest": {"number": p.number}}}}),
        );
    }
    if !query.contains("enablePullRequestAutoMerge") {
        return refuse(
            "the fake knows only enablePullRequestAutoMerge and disablePullRequestAutoMerge",
        );
    }
    let expected = str_of(&vars, "expectedHeadOid");
    let Some(p) = state
        .pulls
        .iter()
        .find(|p| format!("PR_kwfake{}", p.number) == node)
        .cloned()
    else {
        return refuse(&format!(
            "Could not resolve to a node with the global id of '{node}'"
        ));
    };
    if state.gate.auto_merge_disallowed {
        return refuse("Pull request Auto merge is not allowed for this repository");
    }
    if !p.open {
        return refuse("Pull request is closed");
    }
    if mergeable(state, &p) {
        return refuse("Pull request is in clean status");
    }
    if head_sha(state, &p) != expected {
        return refuse("Head sha didn't match expected head sha");
    }
    if let Some(p) = state.pulls.iter_mut().find(|q| q.number == p.number) {
        p.auto_merge = true;
    }
    reply(
        StatusCode::OK,
        &[],
        json!({"data": {"enablePullRequestAutoMerge": {"pullRequest": {"number": p.number, "autoMergeRequest": {"enabledAt": "2026-11-25T10:00:00Z"}}}}}),
    )
}

// ---- GitLab -----------------------------------------------------------------------------

/// The `labels` of a GitLab request, as GitLab reads them (CommaSeparatedToArray): a
/// comma-separated string or an array of names, each of which may hold commas itself.
fn gitlab_labels(body: &Value) -> Vec<String> {
    let parts: Vec<String> = match body.get("labels") {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().map_or_else(|| v.to_string(), String::from))
            .collect(),
        _ => Vec::new(),
    };
    parts
        .iter()
        .flat_map(|p| p.split(','))
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect()
}

fn gitlab_json(state: &ForgeState, p: &FakePull) -> Value {
    json!({
        "iid": p.number,
        "id": 1000 + p.number,
        "web_url": web(state, "-/merge_requests", p.number),
        "state": if p.merged { "merged" } else if p.open { "opened" } else { "closed" },
        "title": p.title,
        "description": p.body,
        "source_branch": p.head,
        "target_branch": p.base,
        "source_project_id": project_id(state, &p.head_repository),
        "target_project_id": project_id(state, &state.repository),
        "author": {"id": user_id(&p.author), "username": p.author, "name": p.author, "state": "active"},
        "draft": p.title.starts_with("Draft: "),
        "labels": p.labels,
        "reviewers": p.reviewers.iter().map(|r| json!({"username": r})).collect::<Vec<_>>(),
        "sha": head_sha(state, p),
        "merge_when_pipeline_succeeds": p.auto_merge,
        "merge_user": if p.auto_merge {
            json!({"id": user_id(TOKEN_USER), "username": TOKEN_USER, "name": "Baton", "state": "active"})
        } else {
            Value::Null
        },
        "detailed_merge_status": if !p.open {
            "not_open"
        } else if !state.gate.checks_green {
            "ci_still_running"
        } else if !state.gate.approved {
            "not_approved"
        } else {
            "mergeable"
        },
    })
}

fn gitlab(
    state: &mut ForgeState,
    method: &Method,
    segs: &[&str],
    query: &HashMap<String, String>,
    body: &Value,
) -> Response {
    if let ("GET", ["api", "v4", "user"]) = (method.as_str(), segs) {
        return own_user(state.kind);
    }
    if let ("GET", ["api", "v4", "users"]) = (method.as_str(), segs) {
        let name = query.get("username").cloned().unwrap_or_default();
        let found: Vec<Value> = state
            .users
            .iter()
            .filter(|(_, u)| *u == name)
            .map(|(id, u)| json!({"id": id, "username": u}))
            .collect();
        return reply(StatusCode::OK, &[], Value::Array(found));
    }
    let ["api", "v4", "projects", project, rest @ ..] = segs else {
        return not_found();
    };
    if *project != state.repository {
        return not_found();
    }
    match (method.as_str(), rest) {
        ("GET", ["merge_requests"]) => {
            let branch = query.get("source_branch").cloned().unwrap_or_default();
            let want_all = query.get("state").map(String::as_str) == Some("all");
            let list: Vec<Value> = state
                .pulls
                .iter()
                .filter(|p| branch.is_empty() || p.head == branch)
                .filter(|p| want_all || p.open)
                .map(|p| gitlab_json(state, p))
                .collect();
            reply(StatusCode::OK, &[], Value::Array(list))
        }
        ("POST", ["merge_requests"]) => {
            let head = str_of(body, "source_branch");
            if let Some(open) = open_pull(state, &head) {
                return reply(
                    StatusCode::CONFLICT,
                    &[],
                    json!({"message": [format!("Another open merge request already exists for this source branch: !{}", open.number)]}),
                );
            }
            let users = state.users.clone();
            let pr = FakePull {
                labels: gitlab_labels(body),
                reviewers: body
                    .get("reviewer_ids")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|id| {
                        users
                            .iter()
                            .find(|(u, _)| Some(*u) == id.as_u64())
                            .map(|(_, n)| n.clone())
                    })
                    .collect(),
                ..FakePull::new(
                    state,
                    head,
                    str_of(body, "target_branch"),
                    str_of(body, "title"),
                    str_of(body, "description"),
                )
            };
            let out = gitlab_json(state, &pr);
            state.pulls.push(pr);
            reply(StatusCode::CREATED, &[], out)
        }
        ("PUT", ["merge_requests", n]) => {
            let Some(p) = pull_mut(state, n) else {
                return not_found();
            };
            p.edit(body, "description");
            let p = p.clone();
            reply(StatusCode::OK, &[], gitlab_json(state, &p))
        }
        ("GET", ["merge_requests", n]) => {
            let Some(p) = pull_mut(state, n).map(|p| p.clone()) else {
                return not_found();
            };
            reply(StatusCode::OK, &[], gitlab_json(state, &p))
        }
        ("POST", ["merge_requests", n, "cancel_merge_when_pipeline_succeeds"]) => {
            let Some(p) = pull_mut(state, n) else {
                return not_found();
            };
            if !p.auto_merge {
                return reply(
                    StatusCode::NOT_ACCEPTABLE,
                    &[],
                    json!({"message": "Can't cancel the automatic merge"}),
                );
            }
            p.auto_merge = false;
            let p = p.clone();
            reply(StatusCode::CREATED, &[], gitlab_json(state, &p))
        }
        ("PUT", ["merge_requests", n, "merge"]) => {
            let Some(p) = pull_mut(state, n).map(|p| p.clone()) else {
                return not_found();
            };
            let head = head_sha(state, &p);
            if body
                .get("sha")
                .and_then(Value::as_str)
                .is_some_and(|s| s != head)
            {
                return reply(
                    StatusCode::CONFLICT,
                    &[],
                    json!({"message": format!("SHA does not match HEAD of source branch: {head}")}),
                );
            }
            if !p.open {
                return reply(
                    StatusCode::METHOD_NOT_ALLOWED,
                    &[],
                    json!({"message": "405 Method Not Allowed"}),
                );
            }
            let flag = |name: &str| body.get(name).and_then(Value::as_bool) == Some(true);
            let auto_merge = match state.gate.gitlab_reads {
                GitLabAutoMerge::Either => {
                    flag("merge_when_pipeline_succeeds") || flag("auto_merge")
                }
                GitLabAutoMerge::OnlyDeprecated => flag("merge_when_pipeline_succeeds"),
                GitLabAutoMerge::OnlyAutoMerge => flag("auto_merge"),
            };
            if mergeable(state, &p) {
                if let Err(why) = merge_pull(state, p.number) {
                    return reply(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        &[],
                        json!({"message": format!("Branch cannot be merged: {why}")}),
                    );
                }
            } else if auto_merge {
                if let Some(p) = pull_mut(state, n) {
                    p.auto_merge = true;
                }
            } else {
                return reply(
                    StatusCode::METHOD_NOT_ALLOWED,
                    &[],
                    json!({"message": "405 Method Not Allowed"}),
                );
            }
            let p = pull_mut(state, n).unwrap().clone();
            reply(StatusCode::OK, &[], gitlab_json(state, &p))
        }
        ("GET", ["repository", "commits", sha, "statuses"]) => {
            // The latest status per name, as GitLab lists them without `all`.
            let statuses: Vec<Value> = latest_statuses(state, sha)
                .iter()
                .enumerate()
                .map(|(i, s)| {
                    json!({
                        "id": i + 1,
                        "sha": sha,
                        "ref": "main",
                        "status": s.state,
                        "name": s.context,
                        "target_url": s.target_url,
                        "description": s.description,
                        "created_at": "2026-11-25T10:00:00.000Z",
                        "started_at": null,
                        "finished_at": "2026-11-25T10:00:00.000Z",
                        "allow_failure": false,
                        "author": {"id": 11, "username": "flux", "name": "Flux", "state": "active"},
                    })
                })
                .collect();
            reply(StatusCode::OK, &[], Value::Array(statuses))
        }
        ("POST", ["statuses", sha]) => {
            let status = record_status(state, sha, body, "name");
            reply(
                StatusCode::CREATED,
                &[],
                json!({
                    "id": state.statuses.len(),
                    "sha": sha,
                    "ref": null,
                    "status": status.state,
                    "name": status.context,
                    "description": status.description,
                    "target_url": status.target_url,
                    "created_at": "2026-11-25T10:00:00.000Z",
                    "started_at": null,
                    "finished_at": "2026-11-25T10:00:00.000Z",
                    "allow_failure": false,
                    "author": {"id": user_id(TOKEN_USER), "username": TOKEN_USER, "name": "Baton", "state": "active"},
                }),
            )
        }
        _ => not_found(),
    }
}

// ---- Gitea ------------------------------------------------------------------------------

fn gitea_json(state: &ForgeState, p: &FakePull) -> Value {
    let mut v = json!({
        "id": 2000 + p.number,
        "number": p.number,
        "html_url": web(state, "pulls", p.number),
        "state": if p.open { "open" } else { "closed" },
        "merged": p.merged,
        "title": p.title,
        "body": p.body,
        "user": {"id": user_id(&p.author), "login": p.author},
        "head": {
            "ref": p.head,
            "label": p.head,
            "sha": head_sha(state, p),
            "repo_id": project_id(state, &p.head_repository),
            "repo": {"id": project_id(state, &p.head_repository), "full_name": p.head_repository, "owner": {"login": owner_of(&p.head_repository)}},
        },
        "base": {
            "ref": p.base,
            "label": p.base,
            "repo_id": project_id(state, &state.repository),
            "repo": {"id": project_id(state, &state.repository), "full_name": state.repository},
        },
        "labels": p.labels.iter().map(|l| json!({"name": l})).collect::<Vec<_>>(),
        "mergeable": mergeable(state, p),
    });
    // The description types `merged_at` as a date-time string, never null (servers send null
    // for an unmerged pull request; Baton reads either): left out until merged.
    if p.merged {
        v["merged_at"] = json!("2026-11-25T10:00:00Z");
    }
    v
}

/// `limit` and `page` as a Gitea server reads them: 30 by default, at most 50
/// (`DEFAULT_PAGING_NUM`, `MAX_RESPONSE_ITEMS`), pages from 1.
fn gitea_page(query: &HashMap<String, String>) -> (usize, usize) {
    let limit = query
        .get("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .filter(|l| *l > 0)
        .unwrap_or(30)
        .min(50);
    let page = query
        .get("page")
        .and_then(|p| p.parse::<usize>().ok())
        .filter(|p| *p > 0)
        .unwrap_or(1);
    (limit, page)
}

fn gitea(
    state: &mut ForgeState,
    method: &Method,
    segs: &[&str],
    query: &HashMap<String, String>,
    body: &Value,
) -> Response {
    if let ("GET", ["api", "v1", "user"]) = (method.as_str(), segs) {
        return own_user(state.kind);
    }
    let repo = state.repository.clone();
    let (owner, name) = repo.split_once('/').unwrap();
    let ["api", "v1", "repos", o, r, rest @ ..] = segs else {
        return not_found();
    };
    if *o != owner || *r != name {
        return not_found();
    }
    match (method.as_str(), rest) {
        ("GET", ["pulls"]) => {
            let (limit, page) = gitea_page(query);
            let want_all = query.get("state").map(String::as_str) == Some("all");
            let mut all: Vec<&FakePull> =
                state.pulls.iter().filter(|p| want_all || p.open).collect();
            all.reverse();
            let list: Vec<Value> = all
                .into_iter()
                .skip((page - 1).saturating_mul(limit))
                .take(limit)
                .map(|p| gitea_json(state, p))
                .collect();
            reply(StatusCode::OK, &[], Value::Array(list))
        }
        ("POST", ["pulls"]) => {
            let head = str_of(body, "head");
            if open_pull(state, &head).is_some() {
                return reply(
                    StatusCode::CONFLICT,
                    &[],
                    json!({"message": "pull request already exists for these targets"}),
                );
            }
            let pr = FakePull::new(
                state,
                head,
                str_of(body, "base"),
                str_of(body, "title"),
                str_of(body, "body"),
            );
            let out = gitea_json(state, &pr);
            state.pulls.push(pr);
            reply(StatusCode::CREATED, &[], out)
        }
        ("PATCH", ["pulls", n]) => {
            let Some(p) = pull_mut(state, n) else {
                return not_found();
            };
            p.edit(body, "body");
            let p = p.clone();
            reply(StatusCode::CREATED, &[], gitea_json(state, &p))
        }
        ("GET", ["pulls", n]) => {
            let Some(p) = pull_mut(state, n).map(|p| p.clone()) else {
                return not_found();
            };
            reply(StatusCode::OK, &[], gitea_json(state, &p))
        }
        ("DELETE", ["pulls", n, "merge"]) => match pull_mut(state, n) {
            Some(p) if p.auto_merge => {
                p.auto_merge = false;
                let mut r = Response::new(Body::empty());
                *r.status_mut() = StatusCode::NO_CONTENT;
                r
            }
            _ => not_found(),
        },
        ("POST", ["pulls", n, "merge"]) => {
            let Some(p) = pull_mut(state, n).map(|p| p.clone()) else {
                return not_found();
            };
            let head = head_sha(state, &p);
            if body
                .get("head_commit_id")
                .and_then(Value::as_str)
                .is_some_and(|s| !s.is_empty() && s != head)
            {
                return reply(
                    StatusCode::CONFLICT,
                    &[],
                    json!({"message": "head out of date"}),
                );
            }
            if !p.open {
                return reply(
                    StatusCode::METHOD_NOT_ALLOWED,
                    &[],
                    json!({"message": "pull request is closed"}),
                );
            }
            if mergeable(state, &p) {
                if let Err(why) = merge_pull(state, p.number) {
                    return reply(
                        StatusCode::CONFLICT,
                        &[],
                        json!({"message": format!("merge conflict: {why}")}),
                    );
                }
                return Response::new(Body::empty());
            }
            if body
                .get("merge_when_checks_succeed")
                .and_then(Value::as_bool)
                == Some(true)
            {
                if let Some(p) = pull_mut(state, n) {
                    p.auto_merge = true;
                }
                let mut r = Response::new(Body::empty());
                *r.status_mut() = StatusCode::CREATED;
                return r;
            }
            reply(
                StatusCode::METHOD_NOT_ALLOWED,
                &[],
                json!({"message": "Please try again later"}),
            )
        }
        ("GET", ["commits", sha, "status"]) => {
            // Gitea's CombinedStatus: entries say `status` where GitHub's say `state`.
            let statuses = latest_statuses(state, sha);
            let addr = state.addr.unwrap();
            let repo = state.repository.clone();
            let items: Vec<Value> = statuses
                .iter()
                .enumerate()
                .map(|(i, s)| {
                    json!({
                        "id": i + 1,
                        "status": s.state,
                        "context": s.context,
                        "description": s.description,
                        "target_url": s.target_url.clone().unwrap_or_default(),
                        "url": format!("http://{addr}/api/v1/repos/{repo}/statuses/{sha}"),
                        "created_at": "2026-11-25T10:00:00Z",
                        "updated_at": "2026-11-25T10:00:00Z",
                        "creator": {"id": 21, "login": "flux"},
                    })
                })
                .collect();
            reply(
                StatusCode::OK,
                &[],
                json!({
                    "sha": sha,
                    "state": combined_state(&statuses),
                    "total_count": items.len(),
                    "statuses": items,
                    "commit_url": format!("http://{addr}/api/v1/repos/{repo}/git/commits/{sha}"),
                    "url": format!("http://{addr}/api/v1/repos/{repo}/commits/{sha}/status"),
                }),
            )
        }
        ("POST", ["statuses", sha]) => {
            let status = record_status(state, sha, body, "context");
            reply(
                StatusCode::CREATED,
                &[],
                json!({
                    "id": state.statuses.len(),
                    "status": status.state,
                    "context": status.context,
                    "description": status.description,
                    "target_url": status.target_url.unwrap_or_default(),
                    "url": format!("http://{}/api/v1/repos/{}/statuses/{sha}", state.addr.unwrap(), state.repository),
                    "created_at": "2026-11-25T10:00:00Z",
                    "updated_at": "2026-11-25T10:00:00Z",
                    "creator": {"id": user_id(TOKEN_USER), "login": TOKEN_USER},
                }),
            )
        }
        ("GET", ["labels"]) => {
            let (limit, page) = gitea_page(query);
            let list: Vec<Value> = state
                .labels
                .iter()
                .skip((page - 1).saturating_mul(limit))
                .take(limit)
                .map(|(id, n)| json!({"id": id, "name": n}))
                .collect();
            reply(StatusCode::OK, &[], Value::Array(list))
        }
        ("POST", ["issues", n, "labels"]) => {
            let labels = state.labels.clone();
            let Some(p) = pull_mut(state, n) else {
                return not_found();
            };
            for id in body
                .get("labels")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let Some((_, name)) = labels.iter().find(|(l, _)| Some(*l) == id.as_u64()) {
                    p.labels.push(name.clone());
                }
            }
            // The labels now (LabelList).
            let now: Vec<Value> = p
                .labels
                .iter()
                .filter_map(|name| labels.iter().find(|(_, l)| l == name))
                .map(|(id, name)| json!({"id": id, "name": name}))
                .collect();
            reply(StatusCode::OK, &[], Value::Array(now))
        }
        ("POST", ["pulls", n, "requested_reviewers"]) => {
            let users = state.users.clone();
            let Some(p) = pull_mut(state, n) else {
                return not_found();
            };
            for r in body
                .get("reviewers")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let name = r.as_str().unwrap_or_default().to_string();
                if !users.iter().any(|(_, u)| *u == name) {
                    return reply(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        &[],
                        json!({"message": format!("user does not exist [uid: 0, name: {name}]")}),
                    );
                }
                p.reviewers.push(name);
            }
            reply(StatusCode::CREATED, &[], json!([]))
        }
        _ => not_found(),
    }
}
