//! Asking the outside world: an HTTP check, a Prometheus instant query, the forge's commit
//! statuses. Every request is bounded in time and size, follows no redirect, sends a token
//! only to the check's own address, and is retried with backoff within one run.

use std::time::Duration;

use serde_json::Value;

use super::{Answer, Check, CheckKind, Subject, fill, short, shown_url};
use crate::common::backoff::Backoff;
use crate::common::http::{client_builder, read_bounded};
use crate::common::secret::Secret;
use crate::common::text::error_chain;
use crate::forge::{Forge, StatusState};

/// Largest answer body read from a check.
pub const MAX_BODY: usize = 64 * 1024;

/// Waits between attempts of one check.
const RETRY_BACKOFF: Backoff = Backoff::new(Duration::from_millis(500), Duration::from_secs(5));

/// Where a check asks: the commit for `commit_status`, the forge that knows it.
#[derive(Clone, Copy)]
pub struct Place<'a> {
    /// The move's commit.
    pub commit: Option<&'a str>,
    /// The configured forge (`None` without `[forge]`, or its error).
    pub forge: Option<&'a Result<Forge, String>>,
}

/// Runs `check` for `subject`, retrying a failed answer `check.retries` times with backoff.
pub async fn run(check: &Check, subject: &Subject<'_>, place: Place<'_>) -> Answer {
    let mut attempt = 0;
    loop {
        let (passed, text) = once(check, subject, place).await;
        if passed || attempt >= check.retries {
            let answer = Answer::new(check, passed, &text);
            tracing::debug!(check = %answer.check, env = subject.env, image = subject.image, version = subject.version, passed, answer = %answer.answer, attempts = attempt + 1, "verification check answered");
            return answer;
        }
        attempt += 1;
        tokio::time::sleep(RETRY_BACKOFF.delay(attempt)).await;
    }
}

/// One attempt: whether it passed, and the answer in words.
async fn once(check: &Check, subject: &Subject<'_>, place: Place<'_>) -> (bool, String) {
    match &check.kind {
        CheckKind::Http { url, expect } => {
            let url = fill(url, subject);
            let expect = expect.as_deref().map(|e| fill(e, subject));
            http(check, &url, expect.as_deref()).await
        }
        CheckKind::Prometheus { base, query } => {
            prometheus(check, base, &fill(query, subject)).await
        }
        CheckKind::CommitStatus { pattern } => commit_status(pattern, place).await,
    }
}

/// A GET of `url` with the check's timeout and token; the status and body, or the failure
/// in words: no answer, a redirect (checks follow none) or a body over [`MAX_BODY`].
async fn get(check: &Check, url: &str) -> Result<(reqwest::StatusCode, Vec<u8>), String> {
    let client = client_builder()
        .timeout(check.timeout)
        .connect_timeout(check.timeout)
        .build()
        .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
    let mut request = client.get(url);
    if let Some(path) = &check.token_file {
        let token = Secret::from_file(path).map_err(|e| e.to_string())?;
        let mut value =
            reqwest::header::HeaderValue::from_str(&format!("Bearer {}", token.expose())).map_err(
                |_| {
                    format!(
                        "the token in {} holds characters that cannot go into an HTTP header",
                        path.display()
                    )
                },
            )?;
        value.set_sensitive(true);
        request = request.header(reqwest::header::AUTHORIZATION, value);
    }
    let failed = |e: reqwest::Error| {
        if e.is_timeout() {
            format!(
                "no answer within {}",
                crate::common::time::format_duration(check.timeout)
            )
        } else {
            // The URL is left out: the check's own description names the address.
            error_chain(&e.without_url())
        }
    };
    let response = request.send().await.map_err(failed)?;
    let status = response.status();
    if status.is_redirection() {
        return Err(redirected(status, response.headers()));
    }
    let body = read_bounded(response, MAX_BODY).await.map_err(failed)?;
    body.map(|body| (status, body)).ok_or_else(|| {
        format!(
            "answered {} with a body larger than {} KiB",
            status.as_u16(),
            MAX_BODY / 1024
        )
    })
}

/// Says where a redirect pointed, without credentials or query.
fn redirected(status: reqwest::StatusCode, headers: &reqwest::header::HeaderMap) -> String {
    let location = headers
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(shown_url)
        .unwrap_or_else(|| "nowhere".to_string());
    format!(
        "answered {} redirecting to {location}: checks follow no redirect; point the check at the final address",
        status.as_u16()
    )
}

async fn http(check: &Check, url: &str, expect: Option<&str>) -> (bool, String) {
    let (status, body) = match get(check, url).await {
        Ok(reply) => reply,
        Err(why) => return (false, why),
    };
    let text = String::from_utf8_lossy(&body);
    if !status.is_success() {
        return (
            false,
            format!("answered {}: {}", status.as_u16(), short(&text)),
        );
    }
    match expect {
        Some(e) if !text.contains(e) => (
            false,
            format!(
                "answered {} without {e:?}: {}",
                status.as_u16(),
                short(&text)
            ),
        ),
        Some(e) => (true, format!("answered {} with {e:?}", status.as_u16())),
        None => (true, format!("answered {}", status.as_u16())),
    }
}

/// `GET BASE/api/v1/query?query=Q`; passes when the result is a non-empty vector or matrix
/// (Prometheus' documented reply: `{"status":"success","data":{"resultType":..,"result":[..]}}`).
async fn prometheus(check: &Check, base: &str, query: &str) -> (bool, String) {
    let mut url = format!("{}/api/v1/query?", base.trim_end_matches('/'));
    url.push_str(
        &url::form_urlencoded::Serializer::new(String::new())
            .append_pair("query", query)
            .finish(),
    );
    let (status, body) = match get(check, &url).await {
        Ok(reply) => reply,
        Err(why) => return (false, why),
    };
    let Ok(json) = serde_json::from_slice::<Value>(&body) else {
        return (
            false,
            format!(
                "answered {} with something that is not Prometheus JSON: {}",
                status.as_u16(),
                short(&String::from_utf8_lossy(&body))
            ),
        );
    };
    let field = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    if field(&json, "status") != "success" {
        return (
            false,
            format!(
                "answered {}: {} {}",
                status.as_u16(),
                field(&json, "errorType"),
                field(&json, "error")
            ),
        );
    }
    let data = json.get("data").unwrap_or(&Value::Null);
    let kind = field(data, "resultType");
    match (kind.as_str(), data.get("result")) {
        ("vector" | "matrix", Some(Value::Array(items))) if items.is_empty() => (
            false,
            "empty result: the condition does not hold".to_string(),
        ),
        ("vector" | "matrix", Some(Value::Array(items))) => {
            let first = items.first().map(sample).unwrap_or_default();
            (true, format!("{} series: {first}", items.len()))
        }
        (other, _) => (
            false,
            format!(
                "result type {other:?}: write a query that returns a vector (a comparison such as `... < 1`)"
            ),
        ),
    }
}

/// `{env="staging"} 0.2` from one series of a vector (a matrix: its last value).
fn sample(series: &Value) -> String {
    let labels = series
        .get("metric")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default();
    let value = series
        .get("value")
        .or_else(|| series.get("values").and_then(|v| v.as_array()?.last()))
        .and_then(|v| v.get(1))
        .and_then(Value::as_str)
        .unwrap_or("");
    format!("{{{labels}}} {value}")
}

/// Every commit status and check run of the move's commit matching `pattern`: passes when at
/// least one matches and all matching succeeded.
async fn commit_status(pattern: &str, place: Place<'_>) -> (bool, String) {
    let Some(commit) = place.commit else {
        return (false, "no commit records the move".to_string());
    };
    let forge = match place.forge {
        None => {
            return (
                false,
                "no [forge] configured: commit_status checks read the forge's statuses".to_string(),
            );
        }
        Some(Err(why)) => return (false, why.clone()),
        Some(Ok(forge)) => forge,
    };
    let Ok(glob) = globset::Glob::new(pattern) else {
        return (false, format!("{pattern:?} is not a glob"));
    };
    let matcher = glob.compile_matcher();
    let checks = match forge.commit_checks(commit).await {
        Ok(checks) => checks,
        Err(e) => return (false, e.to_string()),
    };
    let matching: Vec<_> = checks
        .iter()
        .filter(|c| matcher.is_match(&c.context))
        .collect();
    let short_commit = crate::common::text::short_commit(commit);
    if matching.is_empty() {
        let seen: Vec<&str> = checks.iter().map(|c| c.context.as_str()).take(5).collect();
        return (
            false,
            format!(
                "no status matches {pattern:?} on commit {short_commit} yet (seen: {})",
                if seen.is_empty() {
                    "none".to_string()
                } else {
                    seen.join(", ")
                }
            ),
        );
    }
    let words = |c: &crate::forge::CommitCheck| {
        let mut s = format!("{} {}", c.context, c.state.github());
        if !c.description.is_empty() {
            s.push_str(&format!(" ({})", short(&c.description)));
        }
        s
    };
    if let Some(bad) = matching.iter().find(|c| c.state == StatusState::Failure) {
        return (false, words(bad));
    }
    if let Some(pending) = matching.iter().find(|c| c.state == StatusState::Pending) {
        return (false, words(pending));
    }
    (
        true,
        matching
            .iter()
            .map(|c| words(c))
            .collect::<Vec<_>>()
            .join(", "),
    )
}
