//! The daemon's HTTP listener: health, readiness, metrics and status.
//!
//! Bound to `daemon.listen` (loopback by default); handlers only read shared state.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::state::Shared;

/// The router for `daemon.listen`.
pub fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/api/v1/status", get(status))
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

/// A running listener; [`HttpServer::stop`] lets requests in progress finish.
pub struct HttpServer {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
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
        let (stop, stopped) = oneshot::channel::<()>();
        let app = match hooks {
            Some(hooks) => router(shared).merge(super::webhooks::router(hooks)),
            None => router(shared),
        };
        let task = tokio::spawn(async move {
            let served = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
            if let Err(err) = served {
                tracing::error!(error = %err, "the HTTP listener stopped");
            }
        });
        tracing::info!(listen = %addr, "serving /healthz, /readyz, /metrics and /api/v1/status");
        Ok(HttpServer {
            addr,
            stop: Some(stop),
            task,
        })
    }

    /// The bound address (the real port when the configuration asked for port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting connections and waits for requests in progress.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.task).await;
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
        shared.set_ready();
        assert!(
            shared
                .readiness()
                .unwrap_err()
                .contains("no successful git sync")
        );
        shared.synced(None);
        assert_eq!(shared.readiness(), Ok(()));
        assert!(shared.status().ready);
    }
}
