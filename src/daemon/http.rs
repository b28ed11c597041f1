//! The daemon's HTTP listener: health, readiness, metrics, status and the board.
//!
//! Bound to `daemon.listen` (loopback by default); handlers only read shared state. A slow
//! or hostile client cannot hold it: headers must arrive within [`HEADER_READ_TIMEOUT`]
//! (idle keep-alive connections included), a connection lives at most
//! [`CONNECTION_LIFETIME`], and at most [`MAX_CONNECTIONS`] are served at once; the rest wait
//! in the kernel's queue without using a file descriptor.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::sync::{Semaphore, watch};
use tokio::task::{JoinHandle, JoinSet};

use super::state::Shared;

/// The router for `daemon.listen`.
pub fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/api/v1/status", get(status))
        .merge(super::board::routes())
        .with_state(shared)
}

async fn readyz(State(shared): State<Arc<Shared>>) -> Response {
    match shared.readiness() {
        Ok(()) => (StatusCode::OK, "ready\n").into_response(),
        Err(why) => (StatusCode::SERVICE_UNAVAILABLE, format!("{why}\n")).into_response(),
    }
}

async fn metrics(State(shared): State<Arc<Shared>>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        shared.metrics.render(),
    )
        .into_response()
}

async fn status(State(shared): State<Arc<Shared>>) -> Response {
    axum::Json(shared.status()).into_response()
}

/// Connections served at once; more wait in the listen queue until one closes.
pub const MAX_CONNECTIONS: usize = 128;
/// How long a client may take to send a request's headers, or stay idle between requests.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest a connection is kept, however busy: it is then closed after its request.
pub const CONNECTION_LIFETIME: Duration = Duration::from_secs(120);
/// Largest buffer for a request's headers.
const MAX_HEADER_BYTES: usize = 64 * 1024;
/// How long requests in progress may take to finish when the listener stops.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// A running listener; [`HttpServer::stop`] lets requests in progress finish.
pub struct HttpServer {
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl HttpServer {
    /// Binds `addr` and starts serving; fails when the address cannot be bound.
    /// `hooks` serves `POST /hooks/NAME` beside the daemon's own endpoints.
    pub async fn start(
        addr: SocketAddr,
        shared: Arc<Shared>,
        hooks: Option<super::webhooks::WebhookState>,
    ) -> std::io::Result<HttpServer> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = watch::channel(false);
        let app = match hooks {
            Some(hooks) => router(shared).merge(super::webhooks::router(hooks)),
            None => router(shared),
        };
        let task = tokio::spawn(serve(listener, app, stopped));
        tracing::info!(listen = %addr, "serving /healthz, /readyz, /metrics, /api/v1/status and the board at /");
        Ok(HttpServer { addr, stop, task })
    }

    /// The bound address (the real port when the configuration asked for port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting connections and waits for requests in progress.
    pub async fn stop(mut self) {
        let _ = self.stop.send(true);
        let _ = (&mut self.task).await;
    }
}

/// Accepts connections while a slot is free and serves each with the limits above.
async fn serve(listener: tokio::net::TcpListener, app: Router, mut stop: watch::Receiver<bool>) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let mut connections = JoinSet::new();
    let mut accept_failing = false;
    loop {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break,
            },
            _ = stop.wait_for(|s| *s) => break,
        };
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stop.wait_for(|s| *s) => break,
        };
        // Reap finished connections so the set stays small.
        while connections.try_join_next().is_some() {}
        let stream = match accepted {
            Ok((stream, _)) => {
                if accept_failing {
                    tracing::info!("the HTTP listener accepts connections again");
                    accept_failing = false;
                }
                stream
            }
            Err(err) => {
                // EMFILE and friends: wait for descriptors to free up instead of spinning.
                if !accept_failing {
                    tracing::warn!(error = %err, "the HTTP listener cannot accept a connection: retrying");
                    accept_failing = true;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let app = app.clone();
        let stop = stop.clone();
        connections.spawn(async move {
            let _slot = slot;
            serve_connection(stream, app, stop).await;
        });
    }
    drop(listener);
    let drained = tokio::time::timeout(DRAIN_TIMEOUT, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        connections.abort_all();
    }
}

/// Serves one connection until it closes, stays silent too long, outlives
/// [`CONNECTION_LIFETIME`] or the listener stops.
async fn serve_connection(
    stream: tokio::net::TcpStream,
    app: Router,
    mut stop: watch::Receiver<bool>,
) {
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .max_buf_size(MAX_HEADER_BYTES);
    let connection = builder.serve_connection(TokioIo::new(stream), TowerToHyperService::new(app));
    let mut connection = std::pin::pin!(connection);
    let lifetime = tokio::time::sleep(CONNECTION_LIFETIME);
    let mut lifetime = std::pin::pin!(lifetime);
    let mut closing = false;
    loop {
        tokio::select! {
            result = connection.as_mut() => {
                if let Err(err) = result {
                    tracing::debug!(error = %err, "HTTP connection ended with an error");
                }
                return;
            }
            _ = &mut lifetime => {
                if closing {
                    return;
                }
                closing = true;
                connection.as_mut().graceful_shutdown();
                // A request still in progress gets a little longer, then the connection goes.
                lifetime.as_mut().reset(tokio::time::Instant::now() + HEADER_READ_TIMEOUT);
            }
            _ = stop.wait_for(|s| *s), if !closing => {
                closing = true;
                connection.as_mut().graceful_shutdown();
                lifetime.as_mut().reset(tokio::time::Instant::now() + DRAIN_TIMEOUT);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> crate::config::Config {
        let text = "[git]\nurl = \"/nonexistent/fleet.git\"\ninterval = \"10s\"\n";
        crate::config::Config::from_text(
            std::path::Path::new("/tmp/baton.toml"),
            text,
            figment::providers::Env::prefixed("BATON_TEST_NOTHING_"),
        )
        .unwrap()
    }

    #[test]
    fn readiness_needs_a_load_and_a_recent_sync() {
        let shared = Shared::new(&config());
        assert!(
            shared
                .readiness()
                .unwrap_err()
                .contains("first configuration load")
        );
        shared.set_ready(crate::config::DEFAULT_REPOSITORY);
        assert!(
            shared
                .readiness()
                .unwrap_err()
                .contains("no successful git sync")
        );
        shared.synced(crate::config::DEFAULT_REPOSITORY, None);
        assert_eq!(shared.readiness(), Ok(()));
        assert!(shared.status().ready);
    }
}
