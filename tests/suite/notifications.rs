//! Notifications against local receivers on loopback: the bodies each kind of sink gets,
//! Matrix's bearer token and transaction ids, retries on 5xx, 429 `Retry-After`, rate
//! limiting with a summary, dead sinks that never hold up `send`, and secrets that never
//! reach the log.
//!
//! `FakeReceiver` is an axum server that records every request and answers as scripted.
//! It stands in for Slack, Teams and a Matrix homeserver, which cannot run here (they are
//! hosted services, and no Matrix homeserver is packaged for this machine); for the generic
//! webhook it is simply the receiving end.

use std::collections::{BTreeMap, VecDeque};
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use baton::git::message::Move;
use baton::notifications::{Event, Notifier, NotifierOptions, SinkStats};
use baton::notifications::{EventKind, NotificationConfig, NotificationTarget, SinkKind};

/// One scripted answer.
#[derive(Debug, Clone)]
struct Reply {
    status: u16,
    retry_after: Option<String>,
    /// Sent as the body; `{path}` and `{auth}` are replaced with the request's path and
    /// Authorization header, as a careless sink might echo them.
    body: String,
}

impl Reply {
    fn status(status: u16) -> Reply {
        Reply {
            status,
            retry_after: None,
            body: String::new(),
        }
    }
}

#[derive(Debug, Clone)]
struct Recorded {
    method: String,
    /// The path as received, percent-encoding intact.
    path: String,
    headers: HeaderMap,
    body: Value,
    at: Instant,
}

#[derive(Default)]
struct ReceiverState {
    requests: Vec<Recorded>,
    script: VecDeque<Reply>,
}

/// A recording HTTP receiver on loopback imitating Slack, Teams and Matrix endpoints:
/// it accepts any method and path and answers 200 unless scripted otherwise.
struct FakeReceiver {
    addr: SocketAddr,
    state: Arc<Mutex<ReceiverState>>,
}

async fn record(
    State(state): State<Arc<Mutex<ReceiverState>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let reply = {
        let mut state = state.lock().unwrap();
        state.requests.push(Recorded {
            method: method.to_string(),
            path: uri.path().to_string(),
            headers: headers.clone(),
            body: serde_json::from_slice(&body).unwrap_or(Value::Null),
            at: Instant::now(),
        });
        state.script.pop_front()
    };
    let reply = reply.unwrap_or(Reply {
        status: 200,
        retry_after: None,
        body: "ok".into(),
    });
    let body = reply
        .body
        .replace("{path}", uri.path())
        .replace("{auth}", &auth);
    let mut response = (StatusCode::from_u16(reply.status).unwrap(), body).into_response();
    if let Some(after) = reply.retry_after {
        response
            .headers_mut()
            .insert("retry-after", after.parse().unwrap());
    }
    response
}

impl FakeReceiver {
    async fn start() -> FakeReceiver {
        let state = Arc::new(Mutex::new(ReceiverState::default()));
        let app = Router::new().fallback(record).with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        FakeReceiver { addr, state }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn script(&self, replies: impl IntoIterator<Item = Reply>) {
        self.state.lock().unwrap().script.extend(replies);
    }

    fn requests(&self) -> Vec<Recorded> {
        self.state.lock().unwrap().requests.clone()
    }

    async fn wait_for(&self, count: usize) -> Vec<Recorded> {
        wait_until(|| self.requests().len() >= count).await;
        self.requests()
    }
}

/// Waits (up to a generous deadline, yielding to the sinks' tasks) until `done` holds.
async fn wait_until(mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(Instant::now() < deadline, "condition not met in time");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A loopback port that refuses connections: bound, so no other test can take it, but
/// not listening. Keep the socket alive as long as the port is used.
fn refused_port() -> (tokio::net::TcpSocket, u16) {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let port = socket.local_addr().unwrap().port();
    (socket, port)
}

/// A server that accepts connections and never answers.
async fn stalled_server() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    addr
}

fn secret_file(dir: &Path, name: &str, content: &str) -> PathBuf {
    let path = dir.join(name);
    let mut file = std::fs::File::create(&path).unwrap();
    writeln!(file, "{content}").unwrap();
    path
}

fn sink(target: NotificationTarget) -> NotificationConfig {
    NotificationConfig {
        target,
        events: EventKind::ALL.to_vec(),
        template: None,
        max_per_minute: 60,
        scan_failing_after: 1,
        timeout: Duration::from_secs(5),
        retries: 3,
    }
}

fn fast() -> NotifierOptions {
    NotifierOptions {
        backoff_base: Duration::from_millis(10),
        max_backoff: Duration::from_millis(50),
        ..NotifierOptions::default()
    }
}

fn start(sinks: Vec<(&str, NotificationConfig)>, options: NotifierOptions) -> Notifier {
    let sinks: BTreeMap<String, NotificationConfig> = sinks
        .into_iter()
        .map(|(name, config)| (name.to_string(), config))
        .collect();
    let (notifier, problems) = Notifier::start(&sinks, options);
    assert!(problems.is_empty(), "{problems:?}");
    notifier
}

fn committed() -> Event {
    Event::Committed {
        environment: "staging".into(),
        moves: vec![Move {
            image: "ghcr.io/example/checkout-api".into(),
            policy: "checkout-api".into(),
            rule: "semver 1.x".into(),
            from: "1.4.1".into(),
            to: "1.4.2".into(),
            digest: None,
        }],
        commit: "8d3f2c1a9b7e6d5c4b3a29181716151413121110".into(),
        branch: "main".into(),
    }
}

fn push_failed(environment: &str) -> Event {
    Event::PushFailed {
        environment: environment.into(),
        error: "push failed: the remote refused it".into(),
    }
}

fn stats_of<'a>(stats: &'a [SinkStats], name: &str) -> &'a SinkStats {
    stats.iter().find(|s| s.name == name).unwrap()
}

#[tokio::test]
async fn the_webhook_gets_the_documented_json() {
    let receiver = FakeReceiver::start().await;
    let dir = tempfile::tempdir().unwrap();
    let url_file = secret_file(dir.path(), "hook", &receiver.url("/hooks/baton"));
    let notifier = start(
        vec![(
            "audit",
            sink(NotificationTarget::new(SinkKind::Webhook, url_file)),
        )],
        fast(),
    );
    notifier.send(committed());
    let requests = receiver.wait_for(1).await;
    let request = &requests[0];
    assert_eq!(request.method, "POST");
    assert_eq!(request.path, "/hooks/baton");
    assert_eq!(request.headers["content-type"], "application/json");
    assert!(
        request.headers["user-agent"]
            .to_str()
            .unwrap()
            .starts_with("baton/")
    );
    let body = &request.body;
    assert_eq!(body["version"], 1);
    assert_eq!(body["source"], "baton");
    assert_eq!(body["event"], "commit");
    assert_eq!(body["environment"], "staging");
    assert_eq!(body["branch"], "main");
    assert_eq!(body["commit"], "8d3f2c1a9b7e6d5c4b3a29181716151413121110");
    assert_eq!(body["summary"], "staging: checkout-api 1.4.1 -> 1.4.2");
    assert_eq!(
        body["text"],
        "staging: checkout-api 1.4.1 -> 1.4.2 (commit 8d3f2c1a9b7e on main)"
    );
    assert_eq!(body["moves"][0]["image"], "ghcr.io/example/checkout-api");
    assert_eq!(body["moves"][0]["from"], "1.4.1");
    assert!(
        body["time"].as_str().unwrap().ends_with('Z'),
        "{}",
        body["time"]
    );
    let stats = notifier.shutdown(Duration::from_secs(10)).await;
    assert_eq!(stats[0].sent, 1);
    assert_eq!(stats[0].failed, 0);
    assert_eq!(stats[0].pending, 0);
}

#[tokio::test]
async fn slack_and_teams_get_their_own_formats() {
    let receiver = FakeReceiver::start().await;
    let dir = tempfile::tempdir().unwrap();
    let slack = secret_file(
        dir.path(),
        "slack",
        &receiver.url("/services/T000/B000/slacktoken"),
    );
    let teams = secret_file(
        dir.path(),
        "teams",
        &receiver.url("/workflows/abc/triggers/manual/paths/invoke"),
    );
    let mut slack_sink = sink(NotificationTarget::new(SinkKind::Slack, slack));
    slack_sink.template =
        Some("{% if event == \"commit\" %}deployed: {% endif %}{{ text }}".into());
    let notifier = start(
        vec![
            ("chat", slack_sink),
            (
                "teams",
                sink(NotificationTarget::new(SinkKind::Teams, teams)),
            ),
        ],
        fast(),
    );
    notifier.send(committed());
    let requests = receiver.wait_for(2).await;
    let by_path = |prefix: &str| {
        requests
            .iter()
            .find(|r| r.path.starts_with(prefix))
            .unwrap()
            .body
            .clone()
    };
    let slack = by_path("/services/");
    assert_eq!(
        slack["text"],
        "deployed: staging: checkout-api 1.4.1 -&gt; 1.4.2 (commit 8d3f2c1a9b7e on main)"
    );
    assert_eq!(slack["blocks"][0]["type"], "section");
    assert_eq!(slack["blocks"][0]["text"]["text"], slack["text"]);
    assert_eq!(slack["blocks"][1]["type"], "context");
    let teams = by_path("/workflows/");
    assert_eq!(teams["type"], "message");
    let card = &teams["attachments"][0];
    assert_eq!(
        card["contentType"],
        "application/vnd.microsoft.card.adaptive"
    );
    assert_eq!(card["content"]["type"], "AdaptiveCard");
    assert_eq!(
        card["content"]["body"][0]["text"],
        "staging: checkout-api 1.4.1 -> 1.4.2 (commit 8d3f2c1a9b7e on main)"
    );
    notifier.shutdown(Duration::from_secs(10)).await;
}

#[tokio::test]
async fn matrix_puts_a_notice_with_the_bearer_token_and_retries_with_the_same_txn() {
    let homeserver = FakeReceiver::start().await;
    homeserver.script([Reply::status(500)]);
    let dir = tempfile::tempdir().unwrap();
    let token_file = secret_file(dir.path(), "token", "syt_matrix_access_token");
    let notifier = start(
        vec![(
            "room",
            sink(
                NotificationTarget::new(SinkKind::Matrix, token_file)
                    .with(
                        "homeserver",
                        url::Url::parse(&homeserver.url("/")).unwrap().to_string(),
                    )
                    .with("room_id", "!ops:example.org"),
            ),
        )],
        fast(),
    );
    notifier.send(push_failed("production"));
    let requests = homeserver.wait_for(2).await;
    for request in &requests {
        assert_eq!(request.method, "PUT");
        assert!(
            request
                .path
                .starts_with("/_matrix/client/v3/rooms/%21ops%3Aexample.org/send/m.room.message/"),
            "{}",
            request.path
        );
        assert_eq!(
            request.headers["authorization"],
            "Bearer syt_matrix_access_token"
        );
        assert_eq!(request.body["msgtype"], "m.notice");
        assert_eq!(
            request.body["body"],
            "production: push failed: the remote refused it"
        );
    }
    assert_eq!(
        requests[0].path, requests[1].path,
        "a retry reuses the transaction id, so the homeserver can drop a duplicate"
    );
    notifier.send(push_failed("staging"));
    let requests = homeserver.wait_for(3).await;
    assert_ne!(
        requests[2].path, requests[1].path,
        "a new message, a new txn"
    );
    let stats = notifier.shutdown(Duration::from_secs(10)).await;
    assert_eq!((stats[0].sent, stats[0].retries), (2, 1));
}

#[tokio::test]
async fn server_errors_are_retried_with_backoff_and_client_errors_are_not() {
    let receiver = FakeReceiver::start().await;
    receiver.script([Reply::status(500), Reply::status(503)]);
    let dir = tempfile::tempdir().unwrap();
    let url_file = secret_file(dir.path(), "hook", &receiver.url("/hook"));
    let notifier = start(
        vec![(
            "audit",
            sink(NotificationTarget::new(SinkKind::Webhook, url_file)),
        )],
        fast(),
    );
    notifier.send(committed());
    let requests = receiver.wait_for(3).await;
    assert_eq!(requests[0].body, requests[2].body, "the same message again");
    wait_until(|| notifier.stats()[0].sent == 1).await;
    let stats = notifier.stats();
    assert_eq!((stats[0].retries, stats[0].failed), (2, 0));

    receiver.script([Reply::status(400)]);
    notifier.send(push_failed("staging"));
    wait_until(|| notifier.stats()[0].failed == 1).await;
    receiver.script([
        Reply::status(500),
        Reply::status(500),
        Reply::status(500),
        Reply::status(500),
    ]);
    notifier.send(push_failed("qa"));
    wait_until(|| notifier.stats()[0].failed == 2).await;
    let stats = notifier.shutdown(Duration::from_secs(10)).await;
    assert_eq!(
        receiver.requests().len(),
        3 + 1 + 4,
        "400 is tried once; 500 four times (retries = 3)"
    );
    assert_eq!(stats[0].retries, 2 + 3);
    assert_eq!(stats[0].sent, 1);
}

#[tokio::test]
async fn retry_after_is_honoured() {
    let receiver = FakeReceiver::start().await;
    receiver.script([Reply {
        status: 429,
        retry_after: Some("1".into()),
        body: "rate_limited".into(),
    }]);
    let dir = tempfile::tempdir().unwrap();
    let url_file = secret_file(dir.path(), "slack", &receiver.url("/services/T/B/x"));
    let notifier = start(
        vec![(
            "chat",
            sink(NotificationTarget::new(SinkKind::Slack, url_file)),
        )],
        fast(),
    );
    notifier.send(committed());
    let requests = receiver.wait_for(2).await;
    let waited = requests[1].at - requests[0].at;
    assert!(
        waited >= Duration::from_millis(950),
        "waited {waited:?}, not the 1s Retry-After (backoff alone is 10ms)"
    );
    let stats = notifier.shutdown(Duration::from_secs(10)).await;
    assert_eq!((stats[0].sent, stats[0].retries), (1, 1));
}

#[tokio::test]
async fn a_retry_after_beyond_the_limit_gives_the_message_up() {
    let receiver = FakeReceiver::start().await;
    receiver.script([Reply {
        status: 429,
        retry_after: Some("3600".into()),
        body: String::new(),
    }]);
    let dir = tempfile::tempdir().unwrap();
    let url_file = secret_file(dir.path(), "hook", &receiver.url("/hook"));
    let options = NotifierOptions {
        max_retry_after: Duration::from_secs(5),
        ..fast()
    };
    let notifier = start(
        vec![(
            "audit",
            sink(NotificationTarget::new(SinkKind::Webhook, url_file)),
        )],
        options,
    );
    notifier.send(committed());
    wait_until(|| notifier.stats()[0].failed == 1).await;
    notifier.send(push_failed("staging"));
    wait_until(|| notifier.stats()[0].sent == 1).await;
    notifier.shutdown(Duration::from_secs(10)).await;
    assert_eq!(receiver.requests().len(), 2, "no retry of the first");
}

/// A current-thread runtime: the sinks' tasks only run when the test yields, so a `send`
/// that waited for a sink would hang this test, and the burst reaches the sink in one go.
#[tokio::test(flavor = "current_thread")]
async fn the_rate_limit_sends_a_summary_and_shutdown_flushes_what_is_held() {
    let receiver = FakeReceiver::start().await;
    let dir = tempfile::tempdir().unwrap();
    let url_file = secret_file(dir.path(), "hook", &receiver.url("/hook"));
    let mut config = sink(NotificationTarget::new(SinkKind::Webhook, url_file));
    config.max_per_minute = 2;
    let notifier = start(vec![("audit", config)], fast());
    for n in 1..=6 {
        notifier.send(push_failed(&format!("env{n}")));
    }
    let requests = receiver.wait_for(2).await;
    assert_eq!(requests[0].body["event"], "push_failed");
    assert_eq!(requests[0].body["environment"], "env1");
    let summary = &requests[1].body;
    assert_eq!(summary["event"], "summary");
    assert_eq!(
        summary["summary"],
        "5 events held back by the rate limit (2 messages a minute)"
    );
    let held: Vec<&str> = summary["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["environment"].as_str().unwrap())
        .collect();
    assert_eq!(held, ["env2", "env3", "env4", "env5", "env6"]);
    assert_eq!(summary["dropped"], 0);

    // The minute's budget is spent: the next event waits...
    notifier.send(push_failed("env7"));
    wait_until(|| notifier.stats()[0].held == 1).await;
    assert_eq!(notifier.stats()[0].sent, 2);
    assert_eq!(receiver.requests().len(), 2);
    assert_eq!(notifier.stats()[0].pending, 1);
    // ...and goes out at shutdown.
    let stats = notifier.shutdown(Duration::from_secs(10)).await;
    let requests = receiver.requests();
    assert_eq!(requests.len(), 3);
    assert_eq!(requests[2].body["environment"], "env7");
    let audit = &stats[0];
    assert_eq!(
        (audit.accepted, audit.sent, audit.coalesced, audit.pending),
        (7, 3, 5, 0)
    );
}

#[tokio::test(flavor = "current_thread")]
async fn dead_sinks_never_block_send_nor_the_healthy_sink() {
    let receiver = FakeReceiver::start().await;
    let stalled = stalled_server().await;
    let dir = tempfile::tempdir().unwrap();
    let (_bound, port) = refused_port();
    let refused = secret_file(
        dir.path(),
        "refused",
        &format!("http://127.0.0.1:{port}/hook"),
    );
    let stalled = secret_file(dir.path(), "stalled", &format!("http://{stalled}/hook"));
    let healthy = secret_file(dir.path(), "healthy", &receiver.url("/hook"));
    let short = |url_file| NotificationConfig {
        timeout: Duration::from_secs(1),
        retries: 1,
        max_per_minute: 600,
        ..sink(NotificationTarget::new(SinkKind::Webhook, url_file))
    };
    let options = NotifierOptions {
        queue_capacity: 4,
        ..fast()
    };
    let notifier = start(
        vec![
            ("healthy", short(healthy)),
            ("refused", short(refused)),
            ("stalled", short(stalled)),
        ],
        options,
    );
    // 100 events, sent without yielding: the sinks' tasks cannot run in between, so every
    // sink's queue fills and the rest is dropped and counted, not waited for.
    for n in 0..100 {
        notifier.send(push_failed(&format!("env{n}")));
    }
    let stats = notifier.stats();
    for name in ["healthy", "refused", "stalled"] {
        let s = stats_of(&stats, name);
        assert_eq!((s.accepted, s.dropped), (4, 96), "{name}: {s:?}");
    }
    wait_until(|| stats_of(&notifier.stats(), "healthy").sent >= 1).await;
    wait_until(|| stats_of(&notifier.stats(), "refused").failed >= 1).await;
    // The stalled sink's first request times out after 1s, its retry too: meanwhile the
    // healthy sink delivered everything it took.
    wait_until(|| stats_of(&notifier.stats(), "healthy").pending == 0).await;
    let stats = notifier.shutdown(Duration::from_millis(500)).await;
    let healthy = stats_of(&stats, "healthy");
    assert_eq!(healthy.failed, 0);
    let stalled = stats_of(&stats, "stalled");
    assert_eq!(stalled.sent, 0);
    assert_eq!(stalled.pending, 0, "{stalled:?}");
    assert_eq!(
        stalled.dropped + stalled.failed,
        100,
        "every event is accounted for, as failed or dropped: {stalled:?}"
    );
    let received: usize = receiver
        .requests()
        .iter()
        .map(|r| match r.body["event"].as_str() {
            Some("summary") => r.body["events"].as_array().unwrap().len(),
            _ => 1,
        })
        .sum();
    assert_eq!(received, 4);
}

/// Everything every test logs, at every level.
fn captured_logs() -> &'static Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let writer = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("trace"))
            .with_ansi(false)
            .json()
            .with_writer(move || BufferWriter(writer.clone()))
            .finish();
        tracing::subscriber::set_global_default(subscriber).unwrap();
        buffer
    })
}

struct BufferWriter(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for BufferWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn secrets_never_reach_the_log() {
    let logs = captured_logs();
    // Sinks that echo the request path and Authorization header in their errors.
    let receiver = FakeReceiver::start().await;
    receiver.script([Reply {
        status: 404,
        retry_after: None,
        body: "no_service {path}".into(),
    }]);
    let homeserver = FakeReceiver::start().await;
    homeserver.script([Reply {
        status: 401,
        retry_after: None,
        body: "M_UNKNOWN_TOKEN {auth}".into(),
    }]);
    let dir = tempfile::tempdir().unwrap();
    let echoing = secret_file(
        dir.path(),
        "echoing",
        &receiver.url("/services/T0/B0/SLACKSECRET1"),
    );
    let (_bound, port) = refused_port();
    let refused = secret_file(
        dir.path(),
        "refused",
        &format!("http://127.0.0.1:{port}/services/T0/B0/SLACKSECRET2?token=QUERYSECRET"),
    );
    let token_file = secret_file(dir.path(), "token", "syt_MATRIXSECRET");
    let mut matrix = sink(
        NotificationTarget::new(SinkKind::Matrix, token_file)
            .with(
                "homeserver",
                url::Url::parse(&homeserver.url("")).unwrap().to_string(),
            )
            .with("room_id", "!ops:example.org"),
    );
    matrix.retries = 0;
    let notifier = start(
        vec![
            (
                "echoing-slack",
                sink(NotificationTarget::new(SinkKind::Slack, echoing)),
            ),
            (
                "refused-teams",
                sink(NotificationTarget::new(SinkKind::Teams, refused)),
            ),
            ("matrix-room", matrix),
        ],
        fast(),
    );
    notifier.send(push_failed("staging"));
    wait_until(|| notifier.stats().iter().all(|s| s.failed == 1)).await;
    let stats = notifier.shutdown(Duration::from_secs(10)).await;
    assert!(stats.iter().all(|s| s.sent == 0), "{stats:?}");
    let text = String::from_utf8(logs.lock().unwrap().clone()).unwrap();
    for sink in ["echoing-slack", "refused-teams", "matrix-room"] {
        assert!(
            text.contains(&format!("\"sink\":\"{sink}\"")),
            "{sink} logged its failure: {text}"
        );
    }
    assert!(text.contains("notification failed"), "{text}");
    assert!(text.contains("no_service [redacted]"), "{text}");
    assert!(text.contains("M_UNKNOWN_TOKEN Bearer [redacted]"), "{text}");
    for secret in ["SLACKSECRET", "QUERYSECRET", "MATRIXSECRET", "/services/T0"] {
        assert!(
            !text.contains(secret),
            "{secret} leaked into the log:\n{text}"
        );
    }
}

#[tokio::test]
async fn unreadable_secrets_disable_that_sink_only() {
    let receiver = FakeReceiver::start().await;
    let dir = tempfile::tempdir().unwrap();
    let good = secret_file(dir.path(), "good", &receiver.url("/hook"));
    let not_a_url = secret_file(dir.path(), "bad", "hooks.example.com/SECRETPATH");
    let empty = secret_file(dir.path(), "empty", "");
    let sinks: BTreeMap<String, NotificationConfig> = [
        (
            "good",
            sink(NotificationTarget::new(SinkKind::Webhook, good)),
        ),
        (
            "missing",
            sink(NotificationTarget::new(
                SinkKind::Slack,
                dir.path().join("nope"),
            )),
        ),
        (
            "not-a-url",
            sink(NotificationTarget::new(SinkKind::Teams, not_a_url)),
        ),
        (
            "empty",
            sink(
                NotificationTarget::new(SinkKind::Matrix, empty)
                    .with(
                        "homeserver",
                        url::Url::parse("http://127.0.0.1:1").unwrap().to_string(),
                    )
                    .with("room_id", "!a:b"),
            ),
        ),
    ]
    .into_iter()
    .map(|(n, c)| (n.to_string(), c))
    .collect();
    let (notifier, problems) = Notifier::start(&sinks, fast());
    let problems: Vec<String> = problems.iter().map(ToString::to_string).collect();
    assert_eq!(problems.len(), 3, "{problems:#?}");
    assert!(
        problems[0].starts_with("notifications.empty.token_file: "),
        "{problems:#?}"
    );
    assert!(problems[0].ends_with("is empty: put the access token in it"));
    assert!(problems[1].starts_with("notifications.missing.url_file: cannot read "));
    assert!(problems[2].contains("does not hold an http or https URL"));
    assert!(problems.iter().all(|p| !p.contains("SECRETPATH")));
    notifier.send(committed());
    receiver.wait_for(1).await;
    let stats = notifier.shutdown(Duration::from_secs(10)).await;
    assert_eq!(stats.len(), 1);
    assert_eq!(stats[0].name, "good");
}
