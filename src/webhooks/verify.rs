//! Whether a webhook request comes from the holder of the hook's secret: an HMAC-SHA256
//! signature of the body, or a token, compared in constant time.

use axum::http::{HeaderMap, header};
use ring::hmac;

use super::{Verification, WebhookKind};
use crate::common::secret::Secret;

/// Header carrying GitHub's HMAC-SHA256 signature: `sha256=` and 64 hex digits.
pub const SIGNATURE_HEADER: &str = "x-hub-signature-256";

/// Header that may carry the token for token-verified kinds.
pub const TOKEN_HEADER: &str = "x-baton-token";

/// Query parameter that may carry the token, for senders that cannot set headers.
pub const TOKEN_QUERY: &str = "token";

/// Why a request was not accepted as coming from the configured sender.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// A signature was required and none was sent.
    #[error(
        "no X-Hub-Signature-256 header: set the hook's secret in the sender's webhook settings"
    )]
    MissingSignature,
    /// The signature header is not `sha256=` plus 64 hex digits.
    #[error("the X-Hub-Signature-256 header is not sha256=<64 hex digits>")]
    MalformedSignature,
    /// The signature does not match the body.
    #[error(
        "the signature does not match the body: check that the sender and secret_file hold the same secret"
    )]
    BadSignature,
    /// No token was sent.
    #[error(
        "no token: send it as Authorization: Bearer <token>, an X-Baton-Token header or ?token=<token>"
    )]
    MissingToken,
    /// A token was sent and it is not the hook's secret.
    #[error("the token does not match: check that the sender and secret_file hold the same secret")]
    BadToken,
}

/// Checks that a request comes from the holder of `secret`: an HMAC-SHA256 signature of
/// the body for GitHub (and for generic hooks that send one), a token for the others.
/// Every comparison takes the same time whatever the secret and the candidate are.
pub fn verify(
    kind: WebhookKind,
    secret: &Secret,
    headers: &HeaderMap,
    query: Option<&str>,
    body: &[u8],
) -> Result<(), VerifyError> {
    let signature = headers.get(SIGNATURE_HEADER);
    match (kind.format().verification(), signature) {
        (Verification::Signature, None) => Err(VerifyError::MissingSignature),
        (Verification::Signature | Verification::SignatureOrToken, Some(value)) => {
            let hex = value
                .to_str()
                .ok()
                .and_then(|v| v.trim().strip_prefix("sha256="))
                .ok_or(VerifyError::MalformedSignature)?;
            let tag = decode_hex(hex).ok_or(VerifyError::MalformedSignature)?;
            let key = hmac::Key::new(hmac::HMAC_SHA256, secret.expose().as_bytes());
            hmac::verify(&key, body, &tag).map_err(|_| VerifyError::BadSignature)
        }
        _ => verify_token(secret, headers, query),
    }
}

/// Checks the token a request carries in any of the places a sender can put it.
pub fn verify_token(
    secret: &Secret,
    headers: &HeaderMap,
    query: Option<&str>,
) -> Result<(), VerifyError> {
    let mut candidates: Vec<String> = Vec::new();
    for value in headers.get_all(header::AUTHORIZATION) {
        if let Ok(text) = value.to_str() {
            let text = text.trim();
            // Harbor and GitLab send the configured value verbatim; others use Bearer.
            if let Some((scheme, rest)) = text.split_once(' ')
                && scheme.eq_ignore_ascii_case("bearer")
            {
                candidates.push(rest.trim().to_string());
            }
            candidates.push(text.to_string());
        }
    }
    for value in headers.get_all(TOKEN_HEADER) {
        if let Ok(text) = value.to_str() {
            candidates.push(text.trim().to_string());
        }
    }
    if let Some(query) = query {
        candidates.extend(
            url::form_urlencoded::parse(query.as_bytes())
                .filter(|(key, _)| key == TOKEN_QUERY)
                .map(|(_, value)| value.into_owned()),
        );
    }
    if candidates.is_empty() {
        return Err(VerifyError::MissingToken);
    }
    // Compare every candidate, so that the time taken does not say which one matched.
    let matched = candidates
        .iter()
        .fold(false, |found, c| secret.matches(c) | found);
    if matched {
        Ok(())
    } else {
        Err(VerifyError::BadToken)
    }
}

fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::payload::test_support::*;
    use super::*;

    /// GitHub's documented example: secret "It's a Secret to Everybody", body "Hello, World!".
    const GITHUB_EXAMPLE_SIGNATURE: &str =
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";

    #[test]
    fn github_signatures() {
        let secret = Secret::new("It's a Secret to Everybody");
        let body = b"Hello, World!";
        let ok = headers(&[(SIGNATURE_HEADER, GITHUB_EXAMPLE_SIGNATURE)]);
        assert_eq!(
            verify(WebhookKind::GitHub, &secret, &ok, None, body),
            Ok(())
        );
        let upper = headers(&[(
            SIGNATURE_HEADER,
            &GITHUB_EXAMPLE_SIGNATURE
                .to_uppercase()
                .replace("SHA256=", "sha256="),
        )]);
        assert_eq!(
            verify(WebhookKind::GitHub, &secret, &upper, None, body),
            Ok(())
        );
        assert_eq!(
            verify(WebhookKind::GitHub, &secret, &ok, None, b"Hello, World?"),
            Err(VerifyError::BadSignature)
        );
        assert_eq!(
            verify(WebhookKind::GitHub, &Secret::new("other"), &ok, None, body),
            Err(VerifyError::BadSignature)
        );
        assert_eq!(
            verify(WebhookKind::GitHub, &secret, &HeaderMap::new(), None, body),
            Err(VerifyError::MissingSignature)
        );
        for bad in [
            "757107ea",
            "sha1=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
            "sha256=zz",
            "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e1",
        ] {
            let h = headers(&[(SIGNATURE_HEADER, bad)]);
            assert_eq!(
                verify(WebhookKind::GitHub, &secret, &h, None, body),
                Err(VerifyError::MalformedSignature),
                "{bad}"
            );
        }
        // A token is no substitute for GitHub's signature.
        let token = headers(&[("authorization", "Bearer It's a Secret to Everybody")]);
        assert_eq!(
            verify(WebhookKind::GitHub, &secret, &token, None, body),
            Err(VerifyError::MissingSignature)
        );
    }

    #[test]
    fn hmac_matches_rfc_4231_test_case_2() {
        let secret = Secret::new("Jefe");
        let h = headers(&[(
            SIGNATURE_HEADER,
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
        )]);
        assert_eq!(
            verify(
                WebhookKind::Generic,
                &secret,
                &h,
                None,
                b"what do ya want for nothing?"
            ),
            Ok(())
        );
    }

    #[test]
    fn tokens_in_every_carrier() {
        let secret = Secret::new("t0k/en+1");
        let body = b"{}";
        for kind in [
            WebhookKind::DockerHub,
            WebhookKind::Harbor,
            WebhookKind::Quay,
            WebhookKind::GitLab,
            WebhookKind::Distribution,
            WebhookKind::Generic,
        ] {
            for h in [
                headers(&[("authorization", "Bearer t0k/en+1")]),
                headers(&[("authorization", "bearer  t0k/en+1 ")]),
                headers(&[("authorization", "t0k/en+1")]),
                headers(&[(TOKEN_HEADER, "t0k/en+1")]),
                headers(&[
                    ("authorization", "Bearer wrong"),
                    (TOKEN_HEADER, "t0k/en+1"),
                ]),
            ] {
                assert_eq!(
                    verify(kind, &secret, &h, None, body),
                    Ok(()),
                    "{kind} {h:?}"
                );
            }
            let none = HeaderMap::new();
            assert_eq!(
                verify(kind, &secret, &none, Some("a=1&token=t0k%2Fen%2B1"), body),
                Ok(()),
                "{kind}"
            );
            assert_eq!(
                verify(kind, &secret, &none, Some("token=t0k/en 1"), body),
                Err(VerifyError::BadToken),
                "a '+' in the query is a space: {kind}"
            );
            assert_eq!(
                verify(
                    kind,
                    &secret,
                    &headers(&[("authorization", "Bearer t0k/en+")]),
                    None,
                    body
                ),
                Err(VerifyError::BadToken),
                "{kind}"
            );
            assert_eq!(
                verify(kind, &secret, &none, Some("tok=t0k%2Fen%2B1"), body),
                Err(VerifyError::MissingToken),
                "{kind}"
            );
            assert_eq!(
                verify(kind, &secret, &none, None, body),
                Err(VerifyError::MissingToken),
                "{kind}"
            );
        }
        // Generic hooks may sign instead; a bad signature is not rescued by a token.
        let signed = headers(&[
            (
                SIGNATURE_HEADER,
                "sha256=0000000000000000000000000000000000000000000000000000000000000000",
            ),
            (TOKEN_HEADER, "t0k/en+1"),
        ]);
        assert_eq!(
            verify(WebhookKind::Generic, &secret, &signed, None, body),
            Err(VerifyError::BadSignature)
        );
    }

    #[test]
    fn verify_errors_never_carry_the_secret() {
        let secret = Secret::new("hunter2-secret");
        let h = headers(&[("authorization", "Bearer nope")]);
        let err = verify(WebhookKind::Quay, &secret, &h, None, b"{}").unwrap_err();
        assert!(!err.to_string().contains("hunter2"), "{err}");
        assert_eq!(format!("{secret:?}"), "***");
    }
}
