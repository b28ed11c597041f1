//! The verification keys of an `[environments.NAME]` section: `verify_timeout`,
//! `on_verify_failure` and the `[[environments.NAME.verify]]` checks.

use std::time::Duration;

use super::{Check, CheckKind, DEFAULT_TIMEOUT, OnFailure, VerifyConfig};
use crate::common::settings::Table;

/// The default deadline of one check attempt.
pub const DEFAULT_CHECK_TIMEOUT: Duration = Duration::from_secs(10);

/// Default attempts after a failed one within a pass.
pub const DEFAULT_RETRIES: u32 = 2;

/// Reads an environment's verification keys; `None` when any is invalid (each reported).
pub fn read_verify(t: &Table) -> Option<VerifyConfig> {
    let mut ok = true;
    let timeout = match t.duration("verify_timeout", Some(Duration::from_secs(1))) {
        Some(d) => d,
        None if t.has("verify_timeout") => {
            ok = false;
            DEFAULT_TIMEOUT
        }
        None => DEFAULT_TIMEOUT,
    };
    let on_failure = match t.string("on_verify_failure").as_deref() {
        None | Some("hold") => OnFailure::Hold,
        Some("rollback") => OnFailure::Rollback,
        Some(other) => {
            ok = false;
            t.error(
                "on_verify_failure",
                format!("{other:?} is not a choice: use \"hold\" or \"rollback\""),
            );
            OnFailure::Hold
        }
    };
    let mut checks = Vec::new();
    for entry in t.tables("verify", "a verify table") {
        match read_check(&entry) {
            Some(check) => checks.push(check),
            None => ok = false,
        }
        entry.finish();
    }
    if checks.is_empty() && ok {
        for key in ["verify_timeout", "on_verify_failure"] {
            if t.has(key) {
                t.error(
                    key,
                    "there is no [[environments.NAME.verify]] check to time: add one or remove the key",
                );
                ok = false;
            }
        }
    }
    ok.then_some(VerifyConfig {
        checks,
        timeout,
        on_failure,
    })
}

fn read_check(t: &Table) -> Option<Check> {
    let http = t.string("http");
    let status = t.string("commit_status");
    let prometheus = t.string("prometheus");
    let expect = t.string("expect");
    let query = t.string("query");
    let given: Vec<&str> = [
        ("http", http.is_some()),
        ("commit_status", status.is_some()),
        ("prometheus", prometheus.is_some()),
    ]
    .into_iter()
    .filter_map(|(k, set)| set.then_some(k))
    .collect();
    let kind = match given.as_slice() {
        ["http"] => {
            let url = http?;
            check_address(t, "http", &url)?;
            CheckKind::Http {
                url,
                expect: expect.clone(),
            }
        }
        ["commit_status"] => {
            let pattern = status?;
            if let Err(e) = globset::Glob::new(&pattern) {
                t.error(
                    "commit_status",
                    format!("{pattern:?} is not a glob ({e}): write e.g. \"kustomization/*\""),
                );
                return None;
            }
            CheckKind::CommitStatus { pattern }
        }
        ["prometheus"] => {
            let base = prometheus?;
            check_address(t, "prometheus", &base)?;
            let Some(query) = query else {
                t.missing(
                    "query",
                    "write the PromQL condition that holds when the environment is healthy, e.g. query = 'sum(rate(http_requests_total{code=~\"5..\"}[5m])) < 1'",
                );
                return None;
            };
            CheckKind::Prometheus { base, query }
        }
        [] => {
            t.error(
                "http",
                "a verify check needs one of http = \"URL\", commit_status = \"GLOB\" or prometheus = \"URL\" (with query)",
            );
            return None;
        }
        several => {
            t.error(
                several[1],
                format!(
                    "one verify check asks one thing, this one sets {}: split it into several [[verify]] entries",
                    several.join(" and ")
                ),
            );
            return None;
        }
    };
    if expect.is_some() && !matches!(kind, CheckKind::Http { .. }) {
        t.error("expect", "expect applies to http checks only: remove it");
        return None;
    }
    if t.has("query") && !matches!(kind, CheckKind::Prometheus { .. }) {
        t.error(
            "query",
            "query applies to prometheus checks only: remove it",
        );
        return None;
    }
    let timeout = t
        .duration("timeout", Some(Duration::from_millis(100)))
        .unwrap_or(DEFAULT_CHECK_TIMEOUT);
    let retries = t
        .integer("retries", 0, 10)
        .map_or(DEFAULT_RETRIES, |n| n as u32);
    let token_file = t.file_path("token_file");
    if token_file.is_some() && matches!(kind, CheckKind::CommitStatus { .. }) {
        t.error(
            "token_file",
            "commit_status checks ask the [forge] with its own token: remove token_file",
        );
        return None;
    }
    Some(Check {
        kind,
        timeout,
        retries,
        token_file,
    })
}

/// An http or prometheus address: http(s), no credentials in it (they belong in
/// `token_file`), plain http only where the operator wrote it.
fn check_address(t: &Table, key: &str, text: &str) -> Option<()> {
    let probe = text
        .replace("{version}", "v")
        .replace("{image}", "i")
        .replace("{env}", "e");
    match url::Url::parse(&probe) {
        Ok(u) if !matches!(u.scheme(), "http" | "https") => {
            t.error(
                key,
                format!(
                    "{:?} is not an http(s) address: write e.g. \"https://staging.example.com/version\"",
                    super::shown_url(text)
                ),
            );
            None
        }
        Ok(u) if !u.username().is_empty() || u.password().is_some() => {
            t.error(
                key,
                "the address carries credentials: remove them and put a token in token_file",
            );
            None
        }
        Ok(_) => Some(()),
        Err(e) => {
            t.error(
                key,
                format!(
                    "{:?} is not an address ({e}): write e.g. \"https://staging.example.com/version\"",
                    super::shown_url(text)
                ),
            );
            None
        }
    }
}
