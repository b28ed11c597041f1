//! Authentication grammar: `WWW-Authenticate` challenges, the token server's
//! reply and how long a token stays usable.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use serde::Deserialize;

use crate::common::secret::Secret;

/// Tokens without `expires_in` live this long (distribution token spec).
pub const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(60);
/// A token is dropped this long before it expires, to absorb request latency.
const EXPIRY_MARGIN: Duration = Duration::from_secs(5);
/// The longest a token is kept, whatever the token server says: a day. A hostile
/// `expires_in` must not overflow the clock or pin a token for ever.
pub const MAX_TOKEN_LIFETIME: Duration = Duration::from_secs(24 * 60 * 60);

/// What a registry asked for in `WWW-Authenticate`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Challenge {
    /// `Basic realm="..."`: send username and password on every request.
    Basic,
    /// `Bearer realm=...,service=...`: fetch a token from `realm`.
    Bearer {
        /// Token server URL.
        realm: String,
        /// `service` parameter to pass back, when given.
        service: Option<String>,
        /// `scope` the registry suggested, when given.
        scope: Option<String>,
    },
}

/// Parses one or more `WWW-Authenticate` header values, preferring Bearer
/// over Basic; `None` when neither is present and usable.
pub fn parse_challenges<'a>(values: impl IntoIterator<Item = &'a str>) -> Option<Challenge> {
    let mut basic = false;
    for value in values {
        for (scheme, params) in split_challenges(value) {
            if scheme.eq_ignore_ascii_case("bearer") {
                if let Some(realm) = params.get("realm").filter(|r| !r.is_empty()) {
                    return Some(Challenge::Bearer {
                        realm: realm.clone(),
                        service: params.get("service").cloned(),
                        scope: params.get("scope").cloned(),
                    });
                }
            } else if scheme.eq_ignore_ascii_case("basic") {
                basic = true;
            }
        }
    }
    basic.then_some(Challenge::Basic)
}

/// Splits a header value into `(scheme, params)` challenges. Parameter names
/// are lower-cased; values may be tokens or quoted strings with `\` escapes.
fn split_challenges(value: &str) -> Vec<(String, HashMap<String, String>)> {
    let mut out: Vec<(String, HashMap<String, String>)> = Vec::new();
    let chars: Vec<char> = value.chars().collect();
    let mut i = 0;
    let skip_ws = |i: &mut usize| {
        while *i < chars.len() && (chars[*i].is_whitespace() || chars[*i] == ',') {
            *i += 1;
        }
    };
    loop {
        skip_ws(&mut i);
        if i >= chars.len() {
            break;
        }
        // Read a token (scheme or parameter name).
        let start = i;
        while i < chars.len() && !chars[i].is_whitespace() && chars[i] != '=' && chars[i] != ',' {
            i += 1;
        }
        let word: String = chars[start..i].iter().collect();
        while i < chars.len() && chars[i] == ' ' {
            i += 1;
        }
        if i < chars.len() && chars[i] == '=' && !out.is_empty() {
            // A parameter of the current challenge.
            i += 1;
            while i < chars.len() && chars[i] == ' ' {
                i += 1;
            }
            let mut val = String::new();
            if i < chars.len() && chars[i] == '"' {
                i += 1;
                while i < chars.len() && chars[i] != '"' {
                    if chars[i] == '\\' && i + 1 < chars.len() {
                        i += 1;
                    }
                    val.push(chars[i]);
                    i += 1;
                }
                i += 1;
            } else {
                while i < chars.len() && chars[i] != ',' && !chars[i].is_whitespace() {
                    val.push(chars[i]);
                    i += 1;
                }
            }
            if let Some((_, params)) = out.last_mut() {
                params.insert(word.to_ascii_lowercase(), val);
            }
        } else if !word.is_empty() {
            out.push((word, HashMap::new()));
        } else {
            i += 1;
        }
    }
    out
}

/// The token server's JSON reply (`token` or the OAuth2 `access_token`).
#[derive(Deserialize)]
pub struct TokenReply {
    token: Option<String>,
    access_token: Option<String>,
    expires_in: Option<i64>,
    issued_at: Option<String>,
}

impl std::fmt::Debug for TokenReply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenReply")
            .field("expires_in", &self.expires_in)
            .field("issued_at", &self.issued_at)
            .finish_non_exhaustive()
    }
}

impl TokenReply {
    /// The token, preferring `token` over `access_token`; `None` when both are missing or empty.
    pub fn token(&self) -> Option<Secret> {
        self.token
            .as_deref()
            .filter(|t| !t.is_empty())
            .or(self.access_token.as_deref().filter(|t| !t.is_empty()))
            .map(Secret::new)
    }

    /// How long from `now` the token may be used: `expires_in` (default 60 s,
    /// never below 60 s as the spec promises, never above [`MAX_TOKEN_LIFETIME`]), minus
    /// the time since `issued_at` when that lies in the past, minus a small safety margin.
    pub fn lifetime(&self, now: SystemTime) -> Duration {
        let expires_in = match self.expires_in.and_then(|s| u64::try_from(s).ok()) {
            Some(s) if s > 0 => {
                Duration::from_secs(s).clamp(DEFAULT_TOKEN_LIFETIME, MAX_TOKEN_LIFETIME)
            }
            _ => DEFAULT_TOKEN_LIFETIME,
        };
        let age = self
            .issued_at
            .as_deref()
            .and_then(|t| humantime::parse_rfc3339_weak(t).ok())
            .and_then(|issued| now.duration_since(issued).ok())
            .unwrap_or(Duration::ZERO)
            .min(expires_in);
        (expires_in - age).saturating_sub(EXPIRY_MARGIN)
    }
}

/// The pull scope for a repository.
pub fn pull_scope(repository: &str) -> String {
    format!("repository:{repository}:pull")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_hub_challenge() {
        let c = parse_challenges([
            r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull""#,
        ]);
        assert_eq!(
            c,
            Some(Challenge::Bearer {
                realm: "https://auth.docker.io/token".into(),
                service: Some("registry.docker.io".into()),
                scope: Some("repository:library/nginx:pull".into()),
            })
        );
    }

    #[test]
    fn basic_and_odd_forms() {
        assert_eq!(
            parse_challenges([r#"Basic realm="Registry Realm""#]),
            Some(Challenge::Basic)
        );
        assert_eq!(parse_challenges(["basic"]), Some(Challenge::Basic));
        // Bearer wins over Basic, across headers and within one.
        assert!(matches!(
            parse_challenges(["Basic realm=x", "Bearer realm=https://t/token"]),
            Some(Challenge::Bearer { .. })
        ));
        let c = parse_challenges([
            r#"Basic realm="a, b", bearer Realm = "https://t/\"q\"" , service=svc"#,
        ]);
        assert_eq!(
            c,
            Some(Challenge::Bearer {
                realm: "https://t/\"q\"".into(),
                service: Some("svc".into()),
                scope: None,
            })
        );
        assert_eq!(parse_challenges(["Bearer service=x"]), None);
        assert_eq!(parse_challenges(["Negotiate"]), None);
        assert_eq!(parse_challenges([""]), None);
        assert_eq!(
            parse_challenges(["Bearer realm=\"unterminated"]),
            Some(Challenge::Bearer {
                realm: "unterminated".into(),
                service: None,
                scope: None
            })
        );
    }

    #[test]
    fn token_reply_fields() {
        let r: TokenReply = serde_json::from_str(r#"{"access_token":"abc"}"#).unwrap();
        assert_eq!(r.token().unwrap().expose(), "abc");
        let r: TokenReply = serde_json::from_str(r#"{"token":"t1","access_token":"t2"}"#).unwrap();
        assert_eq!(r.token().unwrap().expose(), "t1");
        let r: TokenReply = serde_json::from_str(r#"{"token":""}"#).unwrap();
        assert!(r.token().is_none());
        assert!(!format!("{r:?}").contains("t1"));
    }

    #[test]
    fn token_lifetimes() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let reply = |json: &str| serde_json::from_str::<TokenReply>(json).unwrap();
        assert_eq!(
            reply(r#"{"token":"x"}"#).lifetime(now),
            Duration::from_secs(55)
        );
        assert_eq!(
            reply(r#"{"token":"x","expires_in":300}"#).lifetime(now),
            Duration::from_secs(295)
        );
        // Below the spec's minimum, and nonsense, fall back to 60 s.
        assert_eq!(
            reply(r#"{"token":"x","expires_in":10}"#).lifetime(now),
            Duration::from_secs(55)
        );
        assert_eq!(
            reply(r#"{"token":"x","expires_in":-1}"#).lifetime(now),
            Duration::from_secs(55)
        );
        // Issued 100 s ago with 300 s to live: 200 s left.
        let issued = humantime::format_rfc3339(now - Duration::from_secs(100)).to_string();
        let json = format!(r#"{{"token":"x","expires_in":300,"issued_at":"{issued}"}}"#);
        assert_eq!(reply(&json).lifetime(now), Duration::from_secs(195));
        // Issued in the future (clock skew): full lifetime.
        let issued = humantime::format_rfc3339(now + Duration::from_secs(100)).to_string();
        let json = format!(r#"{{"token":"x","expires_in":300,"issued_at":"{issued}"}}"#);
        assert_eq!(reply(&json).lifetime(now), Duration::from_secs(295));
        // A hostile lifetime is clamped to a day.
        assert_eq!(
            reply(r#"{"token":"x","expires_in":9223372036854775807}"#).lifetime(now),
            MAX_TOKEN_LIFETIME - EXPIRY_MARGIN
        );
        // Long expired: nothing left.
        let json = r#"{"token":"x","expires_in":60,"issued_at":"2001-01-01T00:00:00Z"}"#;
        assert_eq!(reply(json).lifetime(now), Duration::ZERO);
        assert_eq!(pull_scope("a/b"), "repository:a/b:pull");
    }
}
