//! What a registry's webhook says: the pushes it reports, read by the format of the hook's
//! kind, and the helpers the formats share.

use std::fmt;

use axum::http::{HeaderMap, header};
use serde_json::Value;

use super::WebhookKind;
use crate::reference;

/// One image push read from a webhook payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushEvent {
    /// Registry host named by the payload, when it names one.
    pub host: Option<String>,
    /// Repository path inside the registry, as the payload wrote it.
    pub repository: String,
    /// The pushed tag, when the payload names a valid one.
    pub tag: Option<String>,
}

impl fmt::Display for PushEvent {
    /// `host/repository:tag`, leaving out what the payload left out.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(host) = &self.host {
            write!(f, "{host}/")?;
        }
        f.write_str(&self.repository)?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        Ok(())
    }
}

/// What a verified payload asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    /// Pushes to act on.
    Pushes(Vec<PushEvent>),
    /// A well-formed event that is not a push (a ping, a pull, a deletion): nothing to do.
    Ignored(String),
}

/// Why a payload could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// The body is not JSON.
    #[error("the body is not JSON ({0}): send the registry's JSON payload unchanged")]
    Json(String),
    /// A field the format requires is absent or empty.
    #[error("the payload has no {field}: check that the hook's kind ({kind}) matches the sender")]
    Missing {
        /// The hook's kind.
        kind: WebhookKind,
        /// Dotted path of the missing field.
        field: &'static str,
    },
    /// The generic format names something that is not an image name.
    #[error("{0}")]
    Name(#[from] reference::NameError),
}

/// How a sender proves that it holds the hook's secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verification {
    /// A token: `Authorization`, `X-Baton-Token` or `?token=`.
    Token,
    /// An HMAC-SHA256 signature of the body in `X-Hub-Signature-256`, always.
    Signature,
    /// A signature when the sender sends one, a token otherwise.
    SignatureOrToken,
}

/// One registry's webhook format: how its sender is verified and how its payload reads. A
/// format is a file in `src/webhooks/` implementing this, registered by one line in the
/// `WebhookKind` list (`src/webhooks/config.rs`).
pub trait Format {
    /// How requests are verified.
    fn verification(&self) -> Verification {
        Verification::Token
    }

    /// True when the sender may send the JSON form-encoded, in a `payload` field (GitHub).
    fn accepts_form(&self) -> bool {
        false
    }

    /// Reads the pushes (or why there are none to act on) from the payload.
    fn parse(&self, payload: &Payload<'_>) -> Result<Parsed, ParseError>;
}

/// A payload as a [`Format`] reads it.
pub struct Payload<'a> {
    /// The JSON object sent.
    pub value: &'a Value,
    /// The request's headers (GitHub's event type travels in one).
    pub headers: &'a HeaderMap,
    kind: WebhookKind,
}

impl Payload<'_> {
    /// The error for a required `field` that is absent.
    pub fn missing(&self, field: &'static str) -> ParseError {
        ParseError::Missing {
            kind: self.kind,
            field,
        }
    }
}

/// Reads the push events out of a payload of `kind`. `headers` matter for GitHub, whose
/// event type travels in `X-GitHub-Event` and whose default content type,
/// `application/x-www-form-urlencoded`, carries the JSON in a `payload` field.
pub fn parse(kind: WebhookKind, headers: &HeaderMap, body: &[u8]) -> Result<Parsed, ParseError> {
    let format = kind.format();
    let form_encoded = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim_start()
                .starts_with("application/x-www-form-urlencoded")
        });
    let form_payload = if format.accepts_form() && form_encoded {
        let payload = url::form_urlencoded::parse(body)
            .find(|(key, _)| key == "payload")
            .map(|(_, value)| value.into_owned());
        Some(payload.ok_or(ParseError::Missing {
            kind,
            field: "payload form field",
        })?)
    } else {
        None
    };
    let body = form_payload.as_ref().map_or(body, |p| p.as_bytes());
    let value: Value =
        serde_json::from_slice(body).map_err(|err| ParseError::Json(json_error(&err)))?;
    if !value.is_object() {
        return Err(ParseError::Json("expected a JSON object".to_string()));
    }
    format.parse(&Payload {
        value: &value,
        headers,
        kind,
    })
}

/// serde_json's message without any of the body's content (it only names positions).
pub(super) fn json_error(err: &serde_json::Error) -> String {
    format!(
        "{:?} error at line {} column {}",
        err.classify(),
        err.line(),
        err.column()
    )
    .to_lowercase()
}

/// The non-empty, trimmed string at `path`.
pub(super) fn text_at<'a>(value: &'a Value, path: &[&str]) -> Option<&'a str> {
    let mut current = value;
    for key in path {
        current = current.get(key)?;
    }
    current.as_str().map(str::trim).filter(|s| !s.is_empty())
}

/// `repository.FULL` (the full name), or in older payloads `repository.namespace` and
/// `repository.name` joined by `/`.
pub(super) fn repository_name(value: &Value, full: &str) -> Option<String> {
    if let Some(name) = text_at(value, &["repository", full]) {
        return Some(name.to_string());
    }
    let namespace = text_at(value, &["repository", "namespace"])?;
    let name = text_at(value, &["repository", "name"])?;
    Some(format!("{namespace}/{name}"))
}

/// A tag worth reporting: valid OCI grammar (digests and empty strings are not tags).
pub(super) fn valid_tag(tag: Option<&str>) -> Option<String> {
    tag.filter(|t| reference::is_valid_tag(t))
        .map(str::to_string)
}

/// The host part of `host/path...` when the first component looks like a host.
pub(super) fn host_of(text: &str) -> Option<String> {
    let text = text
        .trim()
        .trim_start_matches("https://")
        .trim_start_matches("http://");
    let first = text.split('/').next()?;
    let looks_like_host = first.contains('.') || first.contains(':') || first == "localhost";
    (looks_like_host && text.contains('/')).then(|| first.to_string())
}

/// Helpers the format tests share: fixtures from `tests/fixtures/webhooks` and headers.
#[cfg(test)]
pub(super) mod test_support {
    pub use super::*;
    pub use axum::http::{HeaderMap, HeaderValue};

    pub fn fixture(name: &str) -> Vec<u8> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/webhooks")
            .join(name);
        std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    pub fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    pub fn push(host: Option<&str>, repository: &str, tag: Option<&str>) -> PushEvent {
        PushEvent {
            host: host.map(str::to_string),
            repository: repository.to_string(),
            tag: tag.map(str::to_string),
        }
    }

    pub fn pushes(kind: WebhookKind, hdrs: &HeaderMap, body: &[u8]) -> Vec<PushEvent> {
        match parse(kind, hdrs, body) {
            Ok(Parsed::Pushes(events)) => events,
            other => panic!("expected pushes, got {other:?}"),
        }
    }

    pub fn ignored(kind: WebhookKind, hdrs: &HeaderMap, body: &[u8]) -> String {
        match parse(kind, hdrs, body) {
            Ok(Parsed::Ignored(why)) => why,
            other => panic!("expected ignored, got {other:?}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::*;

    #[test]
    fn bodies_that_are_not_json_objects_are_malformed() {
        for kind in WebhookKind::ALL {
            let err = parse(kind, &HeaderMap::new(), b"token=abc&x=1").unwrap_err();
            assert!(matches!(err, ParseError::Json(_)), "{kind}: {err}");
            assert!(!err.to_string().contains("abc"), "{err}");
            let err = parse(kind, &HeaderMap::new(), b"[1, 2]").unwrap_err();
            assert_eq!(
                err.to_string(),
                "the body is not JSON (expected a JSON object): send the registry's JSON payload unchanged"
            );
        }
    }
}
