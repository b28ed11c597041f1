//! The daemon's HTTP listener: health, readiness, metrics and status.
//!
//! Bound to `daemon.listen` (loopback by default); handlers only read shared state.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::sync::RwLock;

use super::metrics::Metrics;
use super::status::Status;

/// State shared by the daemon's tasks and the HTTP handlers.
pub struct Shared {
    /// Every metric.
    pub metrics: Metrics,
    /// What `/api/v1/status` returns.
    pub status: RwLock<Status>,
    /// Set once the first configuration load and clone succeeded.
    pub ready: AtomicBool,
    /// When the remote was last fetched successfully.
    pub last_sync: std::sync::Mutex<Option<Instant>>,
    /// How old the last sync may be before `/readyz` fails.
    pub sync_deadline: std::sync::Mutex<Duration>,
}

impl Shared {
    /// Fresh state for a daemon that has not synced yet.
    pub fn new(status: Status, sync_deadline: Duration) -> Self {
        Shared {
            metrics: Metrics::new(),
            status: RwLock::new(status),
            ready: AtomicBool::new(false),
            last_sync: std::sync::Mutex::new(None),
            sync_deadline: std::sync::Mutex::new(sync_deadline),
        }
    }

    /// Records a successful sync with the remote.
    pub fn synced(&self) {
        if let Ok(mut last) = self.last_sync.lock() {
            *last = Some(Instant::now());
        }
    }

    /// `Ok` when ready, else the reason it is not.
    pub fn readiness(&self) -> Result<(), String> {
        if !self.ready.load(Ordering::SeqCst) {
            return Err(
                "not ready: the first configuration load and clone have not finished".into(),
            );
        }
        let deadline = self
            .sync_deadline
            .lock()
            .map(|d| *d)
            .unwrap_or(Duration::MAX);
        let last = self.last_sync.lock().ok().and_then(|l| *l);
        match last {
            Some(at) if at.elapsed() <= deadline => Ok(()),
            Some(at) => Err(format!(
                "not ready: the last successful git sync was {}s ago (limit {}s)",
                at.elapsed().as_secs(),
                deadline.as_secs()
            )),
            None => Err("not ready: no successful git sync yet".into()),
        }
    }
}

/// The router for `daemon.listen`; `extra` adds routes (webhooks).
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
    let status = shared.status.read().await.clone();
    axum::Json(status).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readiness_needs_a_load_and_a_recent_sync() {
        let shared = Shared::new(Status::default(), Duration::from_secs(60));
        assert!(
            shared
                .readiness()
                .unwrap_err()
                .contains("first configuration load")
        );
        shared.ready.store(true, Ordering::SeqCst);
        assert!(
            shared
                .readiness()
                .unwrap_err()
                .contains("no successful git sync")
        );
        shared.synced();
        assert_eq!(shared.readiness(), Ok(()));
        *shared.sync_deadline.lock().unwrap() = Duration::ZERO;
        std::thread::sleep(Duration::from_millis(5));
        assert!(
            shared
                .readiness()
                .unwrap_err()
                .contains("last successful git sync")
        );
    }
}
