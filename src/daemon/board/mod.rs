//! The read-only promotion board `baton run` serves at `/` on `daemon.listen`: where every
//! image stands in every environment, what it waits for and what moved, as plain HTML.
//!
//! Rendered on the server from the status, the configuration in force, the cached tags and
//! the branch's history; no script, one small stylesheet, a meta refresh. Nothing on it can
//! change state; every value from outside is escaped ([`html`]); secret files' paths are
//! replaced; pages are bounded (100 image rows, 50 moves, 100 tags per list). Who may see it is
//! [`access`]: anyone on loopback, else a token (`daemon.ui_token_file`), else nobody.

mod access;
mod html;
mod image;
mod index;
mod layout;
mod state;
mod timeline;

#[cfg(test)]
mod tests;

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use sha2::Digest as _;

pub use access::Access;
pub use image::render_image;
pub use index::{PAGE_ROWS, render_index};
pub use layout::Query;
pub use state::{BoardState, Snapshot};
pub use timeline::{TimelineEntry, read_timeline};

use super::state::Shared;

/// The stylesheet, served at `/board.css`.
pub const STYLESHEET: &str = include_str!("board.css");

/// The board's routes, for the listener's router.
pub fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/", get(index_page))
        .route("/images/{name}", get(image_page))
        .route("/board.css", get(stylesheet))
}

async fn index_page(State(shared): State<Arc<Shared>>, headers: HeaderMap, uri: Uri) -> Response {
    if let Some(reply) = shared.board.access().refusal(&headers, &uri) {
        return reply;
    }
    let Some(snap) = shared.board.snapshot() else {
        return unavailable();
    };
    let query = Query::parse(uri.query());
    let body = render_index(&shared.status(), &snap, jiff::Timestamp::now(), &query);
    page(&headers, body)
}

async fn image_page(
    State(shared): State<Arc<Shared>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    if let Some(reply) = shared.board.access().refusal(&headers, &uri) {
        return reply;
    }
    let Some(snap) = shared.board.snapshot() else {
        return unavailable();
    };
    let tags = shared.cached_tags(&name);
    match render_image(
        &shared.status(),
        &snap,
        &name,
        tags.as_deref().map(Vec::as_slice),
        jiff::Timestamp::now(),
    ) {
        Some(body) => page(&headers, body),
        None => (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            "no such image in the configuration\n",
        )
            .into_response(),
    }
}

async fn stylesheet(State(shared): State<Arc<Shared>>, headers: HeaderMap, uri: Uri) -> Response {
    if let Some(reply) = shared.board.access().refusal(&headers, &uri) {
        return reply;
    }
    let mut reply = (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=3600"),
        ],
        STYLESHEET,
    )
        .into_response();
    protect(reply.headers_mut());
    reply
}

fn unavailable() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        "the board is not ready: no configuration loaded yet\n",
    )
        .into_response()
}

/// An HTML page with its validator: a refresh that finds nothing changed gets 304 and an
/// empty body.
fn page(headers: &HeaderMap, body: String) -> Response {
    let digest = sha2::Sha256::digest(body.as_bytes());
    let etag: String = digest.iter().take(12).map(|b| format!("{b:02x}")).collect();
    let etag = format!("\"{etag}\"");
    let unchanged = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    let mut reply = if unchanged {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response()
    };
    let h = reply.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, value);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    protect(h);
    reply
}

/// Headers that keep the page inert even if a value ever escaped: no script runs, nothing
/// is loaded from elsewhere, no other site frames it, no referrer leaves.
fn protect(h: &mut HeaderMap) {
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
        ),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
}
