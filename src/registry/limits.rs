//! Pacing and header grammar: Docker Hub's `RateLimit-Remaining`, `Link` pagination and
//! the per-registry request budget.

use std::time::{Duration, Instant};

use tokio::sync::Mutex;

/// Reads Docker Hub's `RateLimit-Remaining` (`100;w=21600` or `100`).
pub fn parse_rate_limit_remaining(value: &str) -> Option<u64> {
    value.split(';').next()?.trim().parse().ok()
}

/// Finds the `rel="next"` target in a `Link` header
/// (`<url>; rel="next"`, possibly among other comma-separated links).
pub fn next_link(header: &str) -> Option<&str> {
    let mut rest = header;
    while let Some(start) = rest.find('<') {
        let after = &rest[start + 1..];
        let end = after.find('>')?;
        let target = &after[..end];
        let params_and_more = &after[end + 1..];
        let params = match params_and_more.find('<') {
            Some(next) => &params_and_more[..next],
            None => params_and_more,
        };
        let is_next = params.split(';').any(|p| {
            let p = p.trim().trim_end_matches(',').trim();
            match p.split_once('=') {
                Some((k, v)) => {
                    k.trim().eq_ignore_ascii_case("rel")
                        && v.trim()
                            .trim_matches('"')
                            .split_ascii_whitespace()
                            .any(|r| r.eq_ignore_ascii_case("next"))
                }
                None => false,
            }
        });
        if is_next {
            return Some(target);
        }
        rest = params_and_more;
    }
    None
}

/// True when a 4xx body says the page size `n` was refused: Quay's
/// `TOO_MANY_TAGS_REQUESTED`, the spec's `PAGINATION_NUMBER_INVALID`, or a
/// message that names the `n` parameter.
pub fn refuses_page_size(status: u16, body: &[u8]) -> bool {
    let text = String::from_utf8_lossy(body);
    if text.contains("TOO_MANY_TAGS_REQUESTED") || text.contains("PAGINATION_NUMBER_INVALID") {
        return true;
    }
    if status != 400 {
        return false;
    }
    let lower = text.to_ascii_lowercase();
    lower.contains("n=")
        || lower.contains("'n'")
        || lower.contains("\\\"n\\\"")
        || lower.contains("`n`")
        || lower.contains("parameter n")
        || lower.contains("page size")
        || lower
            .split(|c: char| !c.is_ascii_alphanumeric())
            .any(|w| w == "n")
}

/// A per-registry token bucket: `per_minute` requests, refilled
/// continuously, bursting up to one minute's worth. Callers await `acquire`
/// before each request; the scheduler can read `available`.
#[derive(Debug)]
pub struct RequestBudget {
    per_minute: u32,
    state: Mutex<Bucket>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

impl Bucket {
    /// Refills for the time since `last` and either takes a token or says how long to wait.
    fn take(&mut self, now: Instant, per_minute: u32) -> Result<(), Duration> {
        let rate = f64::from(per_minute) / 60.0;
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * rate).min(f64::from(per_minute));
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - self.tokens) / rate))
        }
    }
}

impl RequestBudget {
    /// A full bucket allowing `per_minute` requests per minute (0 is treated as 1).
    pub fn new(per_minute: u32) -> Self {
        let per_minute = per_minute.max(1);
        RequestBudget {
            per_minute,
            state: Mutex::new(Bucket {
                tokens: f64::from(per_minute),
                last: Instant::now(),
            }),
        }
    }

    /// The configured rate.
    pub fn per_minute(&self) -> u32 {
        self.per_minute
    }

    /// Waits until a request may be sent, then uses up one token.
    pub async fn acquire(&self) {
        loop {
            let wait = {
                let mut bucket = self.state.lock().await;
                match bucket.take(Instant::now(), self.per_minute) {
                    Ok(()) => return,
                    Err(wait) => wait,
                }
            };
            tracing::debug!(
                wait_ms = wait.as_millis() as u64,
                "request budget exhausted, waiting"
            );
            tokio::time::sleep(wait).await;
        }
    }

    /// Whole requests that could be sent right now without waiting.
    pub async fn available(&self) -> u32 {
        let bucket = self.state.lock().await;
        let rate = f64::from(self.per_minute) / 60.0;
        let elapsed = Instant::now()
            .saturating_duration_since(bucket.last)
            .as_secs_f64();
        let tokens = (bucket.tokens + elapsed * rate).min(f64::from(self.per_minute));
        tokens.floor() as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limit_remaining() {
        assert_eq!(parse_rate_limit_remaining("100;w=21600"), Some(100));
        assert_eq!(parse_rate_limit_remaining("7"), Some(7));
        assert_eq!(parse_rate_limit_remaining(" 0 ;w=60"), Some(0));
        assert_eq!(parse_rate_limit_remaining("lots"), None);
    }

    #[test]
    fn link_headers() {
        assert_eq!(
            next_link(r#"</v2/a/tags/list?n=2&last=b>; rel="next""#),
            Some("/v2/a/tags/list?n=2&last=b")
        );
        assert_eq!(
            next_link(r#"<https://r.example/v2/a/tags/list?last=b&n=2>; rel=next"#),
            Some("https://r.example/v2/a/tags/list?last=b&n=2")
        );
        assert_eq!(
            next_link(r#"</first>; rel="first", </p2>; rel="next""#),
            Some("/p2")
        );
        assert_eq!(next_link(r#"</prev>; rel="prev""#), None);
        assert_eq!(next_link(""), None);
        assert_eq!(next_link("<unterminated; rel=next"), None);
    }

    #[test]
    fn page_size_refusals() {
        let quay = br#"{"errors":[{"code":"TOO_MANY_TAGS_REQUESTED","message":"Too many tags requested"}]}"#;
        assert!(refuses_page_size(400, quay));
        assert!(refuses_page_size(413, quay));
        assert!(refuses_page_size(
            400,
            br#"{"errors":[{"code":"PAGINATION_NUMBER_INVALID"}]}"#
        ));
        assert!(refuses_page_size(
            400,
            br#"{"errors":[{"message":"invalid value for n"}]}"#
        ));
        assert!(refuses_page_size(400, b"n=1000 exceeds the maximum"));
        assert!(!refuses_page_size(
            400,
            br#"{"errors":[{"code":"NAME_INVALID"}]}"#
        ));
        assert!(!refuses_page_size(404, b"n is wrong"));
    }

    #[test]
    fn bucket_refills() {
        let t0 = Instant::now();
        let mut b = Bucket {
            tokens: 2.0,
            last: t0,
        };
        assert!(b.take(t0, 60).is_ok());
        assert!(b.take(t0, 60).is_ok());
        let wait = b.take(t0, 60).unwrap_err();
        assert!(wait <= Duration::from_secs(1) && wait > Duration::from_millis(900));
        assert!(b.take(t0 + Duration::from_secs(1), 60).is_ok());
        // Never more than a minute's worth.
        let mut b = Bucket {
            tokens: 0.0,
            last: t0,
        };
        assert!(b.take(t0 + Duration::from_secs(3600), 60).is_ok());
        assert!((b.tokens - 59.0).abs() < 1e-9);
    }

    #[tokio::test]
    async fn budget_paces_requests() {
        let budget = RequestBudget::new(600);
        let start = Instant::now();
        for _ in 0..600 {
            budget.acquire().await;
        }
        // The burst is a minute's worth and needs no waiting.
        assert!(start.elapsed() < Duration::from_millis(100));
        assert_eq!(budget.available().await, 0);
        let before = Instant::now();
        for _ in 0..2 {
            budget.acquire().await;
        }
        // Two more at 10 per second need close to 200 ms.
        assert!(before.elapsed() >= Duration::from_millis(150));
        assert_eq!(budget.per_minute(), 600);
    }
}
