//! The environment a verification check looks at: an HTTP server the test flips between
//! healthy and failing, with a Prometheus-compatible `/api/v1/query` (the reply shape of
//! Prometheus' HTTP API documentation: `{"status":"success","data":{"resultType":"vector",
//! "result":[{"metric":{..},"value":[TIME,"VALUE"]}]}}`), and the hostile answers a real
//! service can give: a redirect elsewhere, a huge body, one that never ends, a stall.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::get;

/// What the service answers now.
#[derive(Debug, Clone)]
pub struct Health {
    /// `/version`'s status code.
    pub status: u16,
    /// `/version`'s body.
    pub body: String,
    /// Whether the Prometheus query returns a series (the condition holds).
    pub query_holds: bool,
}

#[derive(Default)]
struct Seen {
    /// `Authorization` headers received, per path.
    authorization: Vec<(String, String)>,
    /// Queries received on `/api/v1/query`.
    queries: Vec<String>,
    /// Requests per path.
    paths: Vec<String>,
}

#[derive(Clone)]
struct Shared {
    health: Arc<Mutex<Health>>,
    seen: Arc<Mutex<Seen>>,
    /// Where `/redirect` points.
    redirect_to: Arc<Mutex<String>>,
}

/// The check server, stopped when dropped.
pub struct CheckServer {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    shared: Shared,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for CheckServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn note(shared: &Shared, path: &str, headers: &HeaderMap) {
    let mut seen = shared.seen.lock().unwrap();
    seen.paths.push(path.to_string());
    if let Some(auth) = headers.get("authorization").and_then(|v| v.to_str().ok()) {
        seen.authorization
            .push((path.to_string(), auth.to_string()));
    }
}

async fn version(State(s): State<Shared>, headers: HeaderMap) -> Response {
    note(&s, "/version", &headers);
    let h = s.health.lock().unwrap().clone();
    Response::builder()
        .status(h.status)
        .body(Body::from(h.body))
        .unwrap()
}

async fn query(
    State(s): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> Response {
    note(&s, "/api/v1/query", &headers);
    let text = q.get("query").cloned().unwrap_or_default();
    s.seen.lock().unwrap().queries.push(text.clone());
    let holds = s.health.lock().unwrap().query_holds;
    let result = if holds {
        serde_json::json!([{"metric": {"env": "staging"}, "value": [1_764_064_800.123, "0.2"]}])
    } else {
        serde_json::json!([])
    };
    let body = if text.starts_with("scalar(") {
        serde_json::json!({"status": "success", "data": {"resultType": "scalar", "result": [1_764_064_800.123, "1"]}})
    } else if text.contains("syntax error") {
        serde_json::json!({"status": "error", "errorType": "bad_data", "error": "1:8: parse error: unexpected identifier"})
    } else {
        serde_json::json!({"status": "success", "data": {"resultType": "vector", "result": result}})
    };
    let status = if body["status"] == "error" { 400 } else { 200 };
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap()
}

async fn redirect(State(s): State<Shared>, headers: HeaderMap) -> Response {
    note(&s, "/redirect", &headers);
    let to = s.redirect_to.lock().unwrap().clone();
    Response::builder()
        .status(StatusCode::FOUND)
        .header("location", to)
        .body(Body::empty())
        .unwrap()
}

async fn huge(State(s): State<Shared>, headers: HeaderMap) -> Response {
    note(&s, "/huge", &headers);
    // 8 MiB, announced.
    Response::builder()
        .status(200)
        .body(Body::from(vec![b'x'; 8 << 20]))
        .unwrap()
}

async fn endless(State(s): State<Shared>, headers: HeaderMap) -> Response {
    note(&s, "/endless", &headers);
    // No length, chunks forever.
    let stream = futures_stream();
    Response::builder()
        .status(200)
        .body(Body::from_stream(stream))
        .unwrap()
}

fn futures_stream()
-> impl futures_core::Stream<Item = Result<Vec<u8>, std::io::Error>> + Send + 'static {
    struct Endless(Option<std::pin::Pin<Box<tokio::time::Sleep>>>);
    impl futures_core::Stream for Endless {
        type Item = Result<Vec<u8>, std::io::Error>;
        fn poll_next(
            mut self: std::pin::Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<Self::Item>> {
            let sleep = self
                .0
                .get_or_insert_with(|| Box::pin(tokio::time::sleep(Duration::from_millis(1))));
            match sleep.as_mut().poll(cx) {
                std::task::Poll::Ready(()) => {
                    self.0 = None;
                    std::task::Poll::Ready(Some(Ok(vec![b'y'; 16 * 1024])))
                }
                std::task::Poll::Pending => std::task::Poll::Pending,
            }
        }
    }
    use std::future::Future as _;
    Endless(None)
}

async fn stall(State(s): State<Shared>, headers: HeaderMap) -> Response {
    note(&s, "/stall", &headers);
    tokio::time::sleep(Duration::from_secs(600)).await;
    Response::new(Body::empty())
}

impl CheckServer {
    /// A healthy service: `/version` answers 200 with `body`, the query holds.
    pub async fn start(body: &str) -> CheckServer {
        let shared = Shared {
            health: Arc::new(Mutex::new(Health {
                status: 200,
                body: body.to_string(),
                query_holds: true,
            })),
            seen: Arc::new(Mutex::new(Seen::default())),
            redirect_to: Arc::new(Mutex::new(
                "http://user:hunter2@elsewhere.invalid/version?token=leaked".to_string(),
            )),
        };
        let app = Router::new()
            .route("/version", get(version))
            .route("/api/v1/query", get(query))
            .route("/redirect", get(redirect))
            .route("/huge", get(huge))
            .route("/endless", get(endless))
            .route("/stall", get(stall))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        CheckServer { url, shared, task }
    }

    /// Makes `/version` answer `status` with `body`.
    pub fn answer(&self, status: u16, body: &str) {
        let mut h = self.shared.health.lock().unwrap();
        h.status = status;
        h.body = body.to_string();
    }

    /// Makes `/redirect` point at `location`.
    pub fn redirect_to(&self, location: &str) {
        *self.shared.redirect_to.lock().unwrap() = location.to_string();
    }

    /// Makes the Prometheus query hold (a series) or not (an empty vector).
    pub fn query_holds(&self, holds: bool) {
        self.shared.health.lock().unwrap().query_holds = holds;
    }

    /// The `Authorization` headers received, with their paths.
    pub fn authorization(&self) -> Vec<(String, String)> {
        self.shared.seen.lock().unwrap().authorization.clone()
    }

    /// The PromQL queries received.
    pub fn queries(&self) -> Vec<String> {
        self.shared.seen.lock().unwrap().queries.clone()
    }

    /// How many requests reached `path`.
    pub fn hits(&self, path: &str) -> usize {
        self.shared
            .seen
            .lock()
            .unwrap()
            .paths
            .iter()
            .filter(|p| *p == path)
            .count()
    }
}
