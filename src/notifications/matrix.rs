//! A Matrix room: an `m.notice` event PUT through the client-server API, with the access
//! token from `token_file` sent to the configured homeserver only.

use serde_json::{Value, json};

use super::kind::{Endpoint, SecretFile, Settings, Sink};
use super::render::Composed;
use crate::common::settings::Table;

/// `kind = "matrix"`.
pub struct Matrix;

impl Sink for Matrix {
    fn secret(&self) -> SecretFile {
        SecretFile {
            key: "token_file",
            holds: "access token",
            example: "/run/credentials/baton.service/baton_matrix-token",
        }
    }

    fn keys(&self) -> &'static [&'static str] {
        &["homeserver", "room_id"]
    }

    fn read(&self, t: &Table) -> Option<Settings> {
        let homeserver = required(
            t,
            "homeserver",
            "give the homeserver's URL, e.g. homeserver = \"https://matrix.example.org\"",
            check_homeserver,
        );
        let room_id = required(
            t,
            "room_id",
            "give the room id, e.g. room_id = \"!AbCdEf:example.org\"",
            check_room_id,
        );
        Some(Settings::from([
            ("homeserver", homeserver?),
            ("room_id", room_id?),
        ]))
    }

    fn endpoint(&self, token: &str, settings: &Settings, txn: &str) -> Result<Endpoint, String> {
        let setting = |key| {
            settings
                .get(key)
                .ok_or_else(|| format!("serves a matrix sink without {key}: set {key}"))
        };
        let homeserver = url::Url::parse(setting("homeserver")?)
            .map_err(|e| format!("serves a matrix sink whose homeserver is not a URL: {e}"))?;
        Ok(Endpoint {
            method: reqwest::Method::PUT,
            url: send_url(&homeserver, setting("room_id")?, txn)?,
            bearer: Some(token.to_string()),
        })
    }

    // Plain `body` only, no `formatted_body`: clients show it as text, never as HTML.
    fn payload(&self, composed: &Composed) -> Value {
        json!({"msgtype": "m.notice", "body": composed.text})
    }
}

/// The string at `key`, checked; a missing key is reported with `hint`.
fn required(
    t: &Table,
    key: &'static str,
    hint: &str,
    check: fn(&Table, &str) -> Option<String>,
) -> Option<String> {
    match t.string(key) {
        Some(text) => check(t, &text),
        None => {
            // A value of the wrong type was reported by `string`.
            if !t.has(key) {
                t.missing(key, hint);
            }
            None
        }
    }
}

fn check_homeserver(t: &Table, text: &str) -> Option<String> {
    let example = "write e.g. \"https://matrix.example.org\"";
    let url = match url::Url::parse(text.trim()) {
        Ok(url) => url,
        Err(err) => {
            t.error(
                "homeserver",
                format!("{text:?} is not a URL ({err}): {example}"),
            );
            return None;
        }
    };
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        t.error(
            "homeserver",
            format!("{text:?} is not an http or https URL: {example}"),
        );
        return None;
    }
    if !url.username().is_empty() || url.password().is_some() {
        t.error(
            "homeserver",
            "the homeserver URL carries credentials: remove them and put the access token in token_file",
        );
        return None;
    }
    if url.query().is_some() || url.fragment().is_some() {
        t.error(
            "homeserver",
            format!("{text:?} has a query or fragment: give the homeserver's base URL only"),
        );
        return None;
    }
    Some(url.to_string())
}

fn check_room_id(t: &Table, text: &str) -> Option<String> {
    let text = text.trim();
    if text.starts_with('#') {
        t.error(
            "room_id",
            format!(
                "{text:?} is a room alias: give the room id (\"!...:server\", shown in the room's settings under Advanced)"
            ),
        );
        return None;
    }
    let valid = text.starts_with('!')
        && text
            .split_once(':')
            .is_some_and(|(local, server)| local.len() > 1 && !server.is_empty())
        && !text.chars().any(|c| c.is_whitespace() || c.is_control());
    if !valid {
        t.error(
            "room_id",
            format!("{text:?} is not a room id: write e.g. \"!AbCdEf:example.org\""),
        );
        return None;
    }
    Some(text.to_string())
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
fn encode_segment(segment: &str) -> String {
    let mut out = String::new();
    for byte in segment.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// `{homeserver}/_matrix/client/v3/rooms/{room}/send/m.room.message/{txn}`.
fn send_url(homeserver: &url::Url, room_id: &str, txn: &str) -> Result<url::Url, String> {
    let base = homeserver.as_str().trim_end_matches('/');
    let text = format!(
        "{base}/_matrix/client/v3/rooms/{}/send/m.room.message/{}",
        encode_segment(room_id),
        encode_segment(txn)
    );
    url::Url::parse(&text).map_err(|e| format!("cannot build the Matrix URL: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_encode_the_room() {
        let hs = url::Url::parse("https://matrix.example.org/").unwrap();
        let url = send_url(&hs, "!abc:example.org", "baton-1-2").unwrap();
        assert_eq!(
            url.as_str(),
            "https://matrix.example.org/_matrix/client/v3/rooms/%21abc%3Aexample.org/send/m.room.message/baton-1-2"
        );
        let prefixed = url::Url::parse("https://example.org/matrix").unwrap();
        assert_eq!(
            send_url(&prefixed, "!r:x", "t").unwrap().path(),
            "/matrix/_matrix/client/v3/rooms/%21r%3Ax/send/m.room.message/t"
        );
    }

    #[test]
    fn the_token_goes_to_the_homeserver_only() {
        let settings = Settings::from([
            ("homeserver", "http://127.0.0.1:8008/".to_string()),
            ("room_id", "!r:x".to_string()),
        ]);
        let endpoint = Matrix.endpoint("syt_secret", &settings, "t1").unwrap();
        assert_eq!(endpoint.method, reqwest::Method::PUT);
        assert_eq!(endpoint.url.host_str(), Some("127.0.0.1"));
        assert_eq!(endpoint.bearer.as_deref(), Some("syt_secret"));
    }
}
