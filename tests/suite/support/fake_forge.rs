//! A fake forge: the parts of the GitHub, GitLab and Gitea/Forgejo REST APIs that Baton uses
//! for pull requests, in memory, on a loopback port. No real forge can run in a test, so this
//! fake stands in for all three. It enforces the token the way each forge expects it, records
//! every request (never the token), and can be told to answer with rate limits or errors.
//!
//! Which documentation each dialect follows (every field Baton sends or reads was checked):
//! - GitHub: GitHub's own REST description (@octokit/openapi 23.0.2, cut down in
//!   tests/fixtures/github). Replies are built from its examples and checked against its
//!   schemas by tests/suite/forge/github_prism.rs (prism proxy).
//! - Gitea/Forgejo: the swagger description a Gitea or Forgejo server serves, cut down in
//!   tests/fixtures/gitea (Forgejo 11.0.3, the Gitea 1.22 API; scripts/gitea-api-subset), and
//!   checked against it by tests/suite/forge/gitea_prism.rs (prism proxy: every request and
//!   reply). The same fields as Gitea's own templates/swagger/v1_json.tmpl (go-gitea/gitea):
//!   list `state` open|closed|all, `sort=recentupdate`, `page`, `limit`; create (`head`,
//!   `base`, `title`, `body`) answers 201, an existing one 409; edit (PATCH) answers 201;
//!   PullRequest `number`, `html_url`, `state`, `merged`, `merged_at` (a date-time string:
//!   left out until merged), `title`, `body`, `head.ref`, `base.ref`, `labels`; labels by
//!   id; `requested_reviewers` takes `reviewers` and answers 201 with a list, 422 for an
//!   unknown user.
//! - GitLab: GitLab's REST documentation, doc/api/merge_requests.md (gitlabhq/gitlabhq,
//!   the GitLab 13 page) and the create attributes as GitLab's current documentation
//!   lists them: list by `source_branch`, `state=all`, `per_page`; create takes
//!   `source_branch`, `target_branch`, `title`, `description`, `labels` (comma-separated)
//!   and `reviewer_ids`; update is PUT `merge_requests/:merge_request_iid`; replies carry
//!   `iid`, `web_url`, `state` (opened|closed|locked|merged), `title`, `description`,
//!   `source_branch`, `target_branch`, `labels`. Not from the documentation: the 409 with
//!   a `message` list for a second open request, and `GET /users?username=` (a list of
//!   users with `id`), as GitLab answers them.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
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
        });
        number
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
        self.updates += 1;
    }
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
    }
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

// ---- GitLab -----------------------------------------------------------------------------

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
                labels: str_of(body, "labels")
                    .split(',')
                    .filter(|l| !l.is_empty())
                    .map(String::from)
                    .collect(),
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
    });
    // The description types `merged_at` as a date-time string, never null (servers send null
    // for an unmerged pull request; Baton reads either): left out until merged.
    if p.merged {
        v["merged_at"] = json!("2026-11-25T10:00:00Z");
    }
    v
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
            let limit: usize = query
                .get("limit")
                .and_then(|l| l.parse().ok())
                .unwrap_or(30);
            let page: usize = query.get("page").and_then(|l| l.parse().ok()).unwrap_or(1);
            let want_all = query.get("state").map(String::as_str) == Some("all");
            let mut all: Vec<&FakePull> =
                state.pulls.iter().filter(|p| want_all || p.open).collect();
            all.reverse();
            let list: Vec<Value> = all
                .into_iter()
                .skip((page - 1) * limit)
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
        ("GET", ["labels"]) => {
            let list: Vec<Value> = state
                .labels
                .iter()
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
