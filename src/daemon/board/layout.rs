//! What every board page shares: the document head with its refresh, the banner with the
//! daemon's state, the footer, the query string and how times are shown.

use jiff::Timestamp;

use super::html::Html;
use super::state::{Snapshot, redact};
use crate::daemon::status::Status;

/// Seconds between reloads of a page (a meta refresh: works without JavaScript).
pub const REFRESH_SECONDS: u32 = 15;

/// The longest filter text kept from a query.
const MAX_FILTER: usize = 100;

/// The board's query string: a filter and a page number.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    /// Images whose name or repository contains this (case-insensitive).
    pub q: String,
    /// From 1.
    pub page: usize,
}

impl Query {
    /// Reads `q` and `page` from a raw query string; anything else is ignored.
    pub fn parse(raw: Option<&str>) -> Query {
        let mut query = Query {
            q: String::new(),
            page: 1,
        };
        for (k, v) in url::form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
            match &*k {
                "q" => query.q = v.trim().chars().take(MAX_FILTER).collect(),
                "page" => query.page = v.parse().unwrap_or(1).max(1),
                _ => {}
            }
        }
        query
    }

    /// Whether an image passes the filter.
    pub fn matches(&self, name: &str, repository: &str) -> bool {
        if self.q.is_empty() {
            return true;
        }
        let q = self.q.to_lowercase();
        name.to_lowercase().contains(&q) || repository.to_lowercase().contains(&q)
    }

    /// This query's string on another page.
    pub fn with_page(&self, page: usize) -> String {
        let mut s = url::form_urlencoded::Serializer::new(String::new());
        if !self.q.is_empty() {
            s.append_pair("q", &self.q);
        }
        s.append_pair("page", &page.to_string());
        s.finish()
    }
}

/// `2026-11-26 19:53 UTC (4m ago)` for an RFC 3339 time; the text itself when it does not parse.
pub fn when(rfc3339: &str, now: Timestamp) -> String {
    let Ok(at) = rfc3339.parse::<Timestamp>() else {
        return rfc3339.to_string();
    };
    let absolute = at.strftime("%Y-%m-%d %H:%M UTC").to_string();
    let seconds = now.duration_since(at).as_secs();
    let (ago, secs) = if seconds >= 0 {
        (true, seconds)
    } else {
        (false, seconds.saturating_neg())
    };
    let span = if secs < 60 {
        format!("{secs}s")
    } else if secs < 3600 {
        format!("{}m", secs / 60)
    } else if secs < 48 * 3600 {
        format!("{}h{}m", secs / 3600, (secs % 3600) / 60)
    } else {
        format!("{}d", secs / 86400)
    };
    if ago {
        format!("{absolute} ({span} ago)")
    } else {
        format!("{absolute} (in {span})")
    }
}

/// The document's start up to `<body>` and the skip link.
pub fn head(h: &mut Html, title: &str, refresh: bool) {
    h.raw("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    if refresh {
        h.raw("<meta http-equiv=\"refresh\" content=\"")
            .number(REFRESH_SECONDS)
            .raw("\">\n");
    }
    h.raw("<title>")
        .text(title)
        .raw(" · Baton</title>\n<link rel=\"stylesheet\" href=\"/board.css\">\n</head>\n<body>\n<a class=\"skip\" href=\"#main\">Skip to the board</a>\n");
}

/// The banner: the daemon's version and readiness, the last sync and a refused reload.
pub fn banner(h: &mut Html, status: &Status, snap: &Snapshot, now: Timestamp) {
    let state = if status.stopping {
        "stopping"
    } else if status.ready {
        "ready"
    } else {
        "not ready"
    };
    h.raw("<header>\n<h1><a href=\"/\">Baton</a> <span class=\"sub\">promotion board</span></h1>\n<p class=\"daemon\"><span class=\"state state-")
        .text(&state.replace(' ', "-"))
        .raw("\">")
        .text(state)
        .raw("</span> baton ")
        .text(&status.version)
        .raw(" · last git sync ")
        .text(
            &status
                .git
                .last_sync
                .as_deref()
                .map_or_else(|| "never".to_string(), |at| when(at, now)),
        )
        .raw(" · head ")
        .text(
            status
                .git
                .head
                .as_deref()
                .map(crate::common::text::short_commit)
                .unwrap_or("-"),
        )
        .raw(" · read-only, reloads every ")
        .number(REFRESH_SECONDS)
        .raw("s</p>\n");
    if let Some(error) = &status.git.last_error {
        h.raw("<p class=\"error\" data-error=\"git\">git: ")
            .text(&redact(error, &snap.secret_paths))
            .raw("</p>\n");
    }
    if let Some(error) = &status.config.last_reload_error {
        h.raw("<p class=\"error\" data-error=\"reload\">last reload refused: ")
            .text(&redact(error, &snap.secret_paths))
            .raw("</p>\n");
    }
    h.raw("</header>\n");
}

/// The document's end.
pub fn foot(h: &mut Html) {
    h.raw("<footer><p>Read-only. The same data as <code>baton status --json</code>, <code>baton tags</code> and <code>baton history</code>.</p></footer>\n</body>\n</html>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_is_read_and_written_back() {
        let q = Query::parse(Some("q=a%20b&page=3&token=x&junk"));
        assert_eq!(
            q,
            Query {
                q: "a b".into(),
                page: 3
            }
        );
        assert_eq!(q.with_page(4), "q=a+b&page=4");
        assert_eq!(Query::parse(Some("page=0")).page, 1);
        assert_eq!(Query::parse(Some("page=-1")).page, 1);
        assert_eq!(Query::parse(None).page, 1);
        assert!(q.matches("A B c", "x"));
        assert!(!q.matches("ab", "x"));
    }

    #[test]
    fn times_are_absolute_and_relative() {
        let now: Timestamp = "2026-11-26T12:00:00Z".parse().unwrap();
        assert_eq!(
            when("2026-11-26T11:55:30.5Z", now),
            "2026-11-26 11:55 UTC (4m ago)"
        );
        assert_eq!(
            when("2026-11-27T02:30:00Z", now),
            "2026-11-27 02:30 UTC (in 14h30m)"
        );
        assert_eq!(when("never", now), "never");
    }
}
