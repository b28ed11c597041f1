//! What a cosign signature signs, checked against one manifest digest: the simple-signing
//! payload of a `.sig` tag layer, and the DSSE envelope of a Sigstore bundle.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use serde::Deserialize;

use super::keys::PublicKey;

/// `critical.type` of a cosign simple-signing payload.
pub const SIMPLE_SIGNING_TYPE: &str = "cosign container image signature";
/// The DSSE payload type of an in-toto statement.
pub const IN_TOTO_PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";
/// The predicate type `cosign sign` writes into its bundle's statement (cosign 3).
pub const COSIGN_SIGN_PREDICATE: &str = "https://sigstore.dev/cosign/sign/v1";

/// Checks a simple-signing layer: `signature_b64` (the
/// `dev.cosignproject.cosign/signature` annotation) must sign `payload` with one of `keys`,
/// and the payload must name `digest`. Returns the index of the key that signed, or why not.
pub fn verify_simple_signing(
    keys: &[PublicKey],
    payload: &[u8],
    signature_b64: &str,
    digest: &str,
) -> Result<usize, String> {
    let signature = decode_base64(signature_b64)
        .ok_or_else(|| "the signature annotation is not base64".to_string())?;
    let key = keys
        .iter()
        .position(|k| k.verifies(payload, &signature))
        .ok_or_else(|| "the signature does not verify with any configured key".to_string())?;
    #[derive(Deserialize)]
    struct Payload {
        critical: Critical,
    }
    #[derive(Deserialize)]
    struct Critical {
        image: Image,
        #[serde(rename = "type")]
        kind: String,
    }
    #[derive(Deserialize)]
    struct Image {
        #[serde(rename = "docker-manifest-digest")]
        digest: String,
    }
    let parsed: Payload = serde_json::from_slice(payload)
        .map_err(|e| format!("the signed payload is not a simple-signing document ({e})"))?;
    if parsed.critical.kind != SIMPLE_SIGNING_TYPE {
        return Err(format!(
            "the signed payload is of type {:?}, not {SIMPLE_SIGNING_TYPE:?}",
            shorten(&parsed.critical.kind)
        ));
    }
    if parsed.critical.image.digest != digest {
        return Err(format!(
            "the signature is for another image ({})",
            shorten(&parsed.critical.image.digest)
        ));
    }
    Ok(key)
}

/// Checks a Sigstore bundle (v0.1 to v0.3) as `cosign sign` writes it for an image: a DSSE
/// envelope whose in-toto statement has the cosign sign predicate and `digest` as a
/// subject, signed by one of `keys`. Returns the index of the key that signed, or why not.
/// Certificates, transparency-log entries and timestamps in the bundle are not checked.
pub fn verify_bundle(keys: &[PublicKey], bundle: &[u8], digest: &str) -> Result<usize, String> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Bundle {
        media_type: String,
        dsse_envelope: Option<Envelope>,
        message_signature: Option<serde_json::Value>,
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Envelope {
        payload: String,
        payload_type: String,
        signatures: Vec<EnvelopeSignature>,
    }
    #[derive(Deserialize)]
    struct EnvelopeSignature {
        sig: String,
    }
    let bundle: Bundle = serde_json::from_slice(bundle)
        .map_err(|e| format!("the bundle is not a Sigstore bundle ({e})"))?;
    if !bundle
        .media_type
        .starts_with("application/vnd.dev.sigstore.bundle")
    {
        return Err(format!(
            "the bundle's media type is {:?}, not a Sigstore bundle",
            shorten(&bundle.media_type)
        ));
    }
    let Some(envelope) = bundle.dsse_envelope else {
        return Err(if bundle.message_signature.is_some() {
            "the bundle holds a message signature, not the DSSE image signature `cosign sign` writes".into()
        } else {
            "the bundle holds no signature".into()
        });
    };
    if envelope.payload_type != IN_TOTO_PAYLOAD_TYPE {
        return Err(format!(
            "the envelope's payload type is {:?}, not {IN_TOTO_PAYLOAD_TYPE:?}",
            shorten(&envelope.payload_type)
        ));
    }
    let payload = decode_base64(&envelope.payload)
        .ok_or_else(|| "the envelope's payload is not base64".to_string())?;
    let signed = pae(&envelope.payload_type, &payload);
    let key = envelope
        .signatures
        .iter()
        .take(16)
        .filter_map(|s| decode_base64(&s.sig))
        .find_map(|sig| keys.iter().position(|k| k.verifies(&signed, &sig)))
        .ok_or_else(|| "the signature does not verify with any configured key".to_string())?;
    statement_names(&payload, digest)?;
    Ok(key)
}

/// Checks that an in-toto statement has the cosign sign predicate and `digest` as a subject.
fn statement_names(statement: &[u8], digest: &str) -> Result<(), String> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Statement {
        #[serde(rename = "_type")]
        kind: String,
        predicate_type: String,
        subject: Vec<Subject>,
    }
    #[derive(Deserialize)]
    struct Subject {
        digest: std::collections::BTreeMap<String, String>,
    }
    let statement: Statement = serde_json::from_slice(statement)
        .map_err(|e| format!("the signed payload is not an in-toto statement ({e})"))?;
    if !statement.kind.starts_with("https://in-toto.io/Statement/") {
        return Err(format!(
            "the signed payload is of type {:?}, not an in-toto statement",
            shorten(&statement.kind)
        ));
    }
    if statement.predicate_type != COSIGN_SIGN_PREDICATE {
        return Err(format!(
            "the statement's predicate is {:?}, not the image signature {COSIGN_SIGN_PREDICATE:?}",
            shorten(&statement.predicate_type)
        ));
    }
    let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
    if statement
        .subject
        .iter()
        .any(|s| s.digest.get("sha256").is_some_and(|d| d == hex))
    {
        Ok(())
    } else {
        let other = statement
            .subject
            .first()
            .and_then(|s| s.digest.get("sha256"))
            .map(|d| format!("sha256:{}", shorten(d)))
            .unwrap_or_else(|| "no sha256 subject".into());
        Err(format!("the signature is for another image ({other})"))
    }
}

/// DSSE's pre-authentication encoding: what an envelope's signatures sign.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "DSSEv1 {} {payload_type} {} ",
        payload_type.len(),
        payload.len()
    )
    .into_bytes();
    out.extend_from_slice(payload);
    out
}

/// Standard or URL-safe base64 (DSSE allows either), surrounding white space ignored.
fn decode_base64(text: &str) -> Option<Vec<u8>> {
    let text = text.trim();
    STANDARD
        .decode(text)
        .or_else(|_| URL_SAFE.decode(text))
        .ok()
}

/// A remote value cut short and escaped for messages.
fn shorten(text: &str) -> String {
    let escaped: String = text.escape_debug().collect();
    match escaped.char_indices().nth(80) {
        Some((i, _)) => format!("{}...", &escaped[..i]),
        None => escaped,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pae_matches_the_dsse_spec_example() {
        // DSSE protocol.md: PAE("http://example.com/HelloWorld", "hello world").
        assert_eq!(
            pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world".to_vec()
        );
    }

    #[test]
    fn statements_must_name_the_digest_with_the_sign_predicate() {
        let digest = format!("sha256:{}", "a".repeat(64));
        let good = format!(
            r#"{{"_type":"https://in-toto.io/Statement/v1","subject":[{{"digest":{{"sha256":"{}"}}}}],"predicateType":"{COSIGN_SIGN_PREDICATE}","predicate":{{}}}}"#,
            "a".repeat(64)
        );
        assert_eq!(statement_names(good.as_bytes(), &digest), Ok(()));
        let other = good.replace(&"a".repeat(64), &"b".repeat(64));
        let e = statement_names(other.as_bytes(), &digest).unwrap_err();
        assert!(e.contains("another image"), "{e}");
        let slsa = good.replace(COSIGN_SIGN_PREDICATE, "https://slsa.dev/provenance/v1");
        let e = statement_names(slsa.as_bytes(), &digest).unwrap_err();
        assert!(e.contains("predicate"), "{e}");
        assert!(statement_names(b"[]", &digest).is_err());
    }
}
