//! Who may see the board: anyone on loopback, a token holder when the listener is reachable
//! from elsewhere, nobody when `daemon.ui = false` or no token is set for a wider listener.

use std::net::SocketAddr;

use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

use crate::common::secret::Secret;
use crate::config::Config;

/// The cookie a browser keeps the token in after opening `?token=` once.
const COOKIE: &str = "baton_board";

/// The board's access rule, from `daemon.ui`, `daemon.ui_token_file` and `daemon.listen`.
#[derive(Debug, Clone)]
pub enum Access {
    /// `daemon.ui = false`: not served.
    Off,
    /// Loopback listener without a token: served to anyone who can connect.
    Open,
    /// Served to requests carrying this token.
    Token(Secret),
    /// Not served, with the reason shown to the client (no path or secret in it).
    Refused(String),
}

impl Access {
    /// The rule for `config`. An unreadable token file is logged with its path and refuses
    /// the board; the rest of the daemon carries on.
    pub fn of(config: &Config) -> Access {
        let daemon = &config.daemon;
        if !daemon.ui {
            return Access::Off;
        }
        if let Some(path) = &daemon.ui_token_file {
            return match Secret::from_file(path) {
                Ok(secret) => Access::Token(secret),
                Err(err) => {
                    tracing::error!(error = %err, "the board is off: daemon.ui_token_file cannot be used");
                    Access::Refused(
                        "the board is off: its token file (daemon.ui_token_file) cannot be read; the daemon's log says why".into(),
                    )
                }
            };
        }
        if !is_loopback(daemon.listen) {
            tracing::warn!(listen = %daemon.listen, "the board is off: daemon.listen is not a loopback address; set daemon.ui_token_file to serve it with a token, or daemon.ui = false");
            return Access::Refused(format!(
                "the board is off: daemon.listen {} is not a loopback address; set daemon.ui_token_file to serve it with a token, or daemon.ui = false",
                daemon.listen
            ));
        }
        Access::Open
    }

    /// The rule in one word, for the status: `off`, `open`, `token` or `refused`.
    pub fn name(&self) -> &'static str {
        match self {
            Access::Off => "off",
            Access::Open => "open",
            Access::Token(_) => "token",
            Access::Refused(_) => "refused",
        }
    }

    /// `None` when the request may see the board, else the reply to send instead: 404 when
    /// off, 403 when refused, 401 without the right token, and a redirect that stores a
    /// `?token=` in a cookie and takes it out of the address.
    pub fn refusal(&self, headers: &HeaderMap, uri: &Uri) -> Option<Response> {
        let secret = match self {
            Access::Open => return None,
            Access::Off => {
                return Some(plain(
                    StatusCode::NOT_FOUND,
                    "the board is off (daemon.ui = false)\n",
                ));
            }
            Access::Refused(why) => return Some(plain(StatusCode::FORBIDDEN, &format!("{why}\n"))),
            Access::Token(secret) => secret,
        };
        if let Some(token) = query_token(uri) {
            if !secret.matches(&token) {
                return Some(unauthorized());
            }
            let mut reply = (StatusCode::SEE_OTHER, "").into_response();
            let location = without_token(uri);
            let cookie = format!(
                "{COOKIE}={}; Path=/; HttpOnly; SameSite=Strict",
                cookie_safe(&token)
            );
            if let (Ok(location), Ok(cookie)) = (
                HeaderValue::from_str(&location),
                HeaderValue::from_str(&cookie),
            ) {
                reply.headers_mut().insert(header::LOCATION, location);
                reply.headers_mut().insert(header::SET_COOKIE, cookie);
                return Some(reply);
            }
            return Some(unauthorized());
        }
        let bearer = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim);
        let cookie = headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| pair.trim().strip_prefix(COOKIE)?.strip_prefix('='))
            .next();
        let allowed = bearer.is_some_and(|t| secret.matches(t))
            || cookie.is_some_and(|c| secret.matches(&cookie_unescape(c)));
        (!allowed).then(unauthorized)
    }
}

/// Whether the listener is reachable only from this host.
pub fn is_loopback(listen: SocketAddr) -> bool {
    listen.ip().is_loopback()
}

fn plain(status: StatusCode, text: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        text.to_string(),
    )
        .into_response()
}

fn unauthorized() -> Response {
    let mut reply = plain(
        StatusCode::UNAUTHORIZED,
        "this board needs the token in daemon.ui_token_file: open /?token=TOKEN once (kept in a cookie), or send Authorization: Bearer TOKEN\n",
    );
    reply.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"baton board\""),
    );
    reply
}

/// The `token` query parameter, when there is one.
fn query_token(uri: &Uri) -> Option<String> {
    url::form_urlencoded::parse(uri.query()?.as_bytes())
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v.into_owned())
}

/// The request's path and query with `token` taken out.
fn without_token(uri: &Uri) -> String {
    let rest: Vec<(String, String)> = uri
        .query()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .filter(|(k, _)| k != "token")
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect()
        })
        .unwrap_or_default();
    if rest.is_empty() {
        return uri.path().to_string();
    }
    let query = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(rest)
        .finish();
    format!("{}?{query}", uri.path())
}

/// The token percent-encoded so any byte fits in a cookie value.
fn cookie_safe(token: &str) -> String {
    super::html::percent_encode(token)
}

/// A cookie value decoded again.
fn cookie_unescape(value: &str) -> String {
    url::form_urlencoded::parse(format!("v={}", value.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(k.clone(), HeaderValue::from_str(v).unwrap());
        }
        h
    }

    fn status(r: Option<Response>) -> u16 {
        match r {
            None => 200,
            Some(reply) => reply.status().as_u16(),
        }
    }

    #[test]
    fn a_token_is_needed_and_compared() {
        let access = Access::Token(Secret::new("s3cr3t+/=&x"));
        let uri: Uri = "/".parse().unwrap();
        assert_eq!(status(access.refusal(&HeaderMap::new(), &uri)), 401);
        let bearer = headers(&[(header::AUTHORIZATION, "Bearer s3cr3t+/=&x")]);
        assert_eq!(status(access.refusal(&bearer, &uri)), 200);
        let wrong = headers(&[(header::AUTHORIZATION, "Bearer s3cr3t")]);
        assert_eq!(status(access.refusal(&wrong, &uri)), 401);
        // ?token= answers with a cookie and the address without the token.
        let uri: Uri = "/images/app?page=2&token=s3cr3t%2B%2F%3D%26x"
            .parse()
            .unwrap();
        let reply = access.refusal(&HeaderMap::new(), &uri).unwrap();
        assert_eq!(reply.status(), 303);
        assert_eq!(reply.headers()[header::LOCATION], "/images/app?page=2");
        let cookie = reply.headers()[header::SET_COOKIE].to_str().unwrap();
        assert!(cookie.contains("HttpOnly; SameSite=Strict"), "{cookie}");
        let value = cookie.split(';').next().unwrap();
        let back = headers(&[(header::COOKIE, &format!("theme=dark; {value}"))]);
        assert_eq!(status(access.refusal(&back, &"/".parse().unwrap())), 200);
        let bad: Uri = "/?token=nope".parse().unwrap();
        assert_eq!(status(access.refusal(&HeaderMap::new(), &bad)), 401);
    }

    #[test]
    fn refused_and_off_say_why_without_secrets() {
        let uri: Uri = "/".parse().unwrap();
        assert_eq!(status(Access::Off.refusal(&HeaderMap::new(), &uri)), 404);
        assert_eq!(status(Access::Open.refusal(&HeaderMap::new(), &uri)), 200);
        let refused = Access::Refused("the board is off".into());
        assert_eq!(status(refused.refusal(&HeaderMap::new(), &uri)), 403);
        assert!(is_loopback("127.0.0.1:1".parse().unwrap()));
        assert!(is_loopback("[::1]:1".parse().unwrap()));
        assert!(!is_loopback("0.0.0.0:1".parse().unwrap()));
        assert!(!is_loopback("[::]:1".parse().unwrap()));
        assert!(!is_loopback("192.0.2.1:1".parse().unwrap()));
    }
}
