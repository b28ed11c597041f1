//! The verifier against signatures real Sigstore tools made (tests/fixtures/cosign/SOURCE.md).

use std::path::{Path, PathBuf};

use super::*;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/cosign")
        .join(name)
}

fn read(name: &str) -> Vec<u8> {
    std::fs::read(fixture(name)).unwrap()
}

const BUSYBOX: &str = "sha256:f3cfc9d0dbf931d3db4685ec659b7ac68e2a578219da4aae65427886e649b06b";

#[test]
fn cosign_simple_signing_signature_verifies() {
    let key = PublicKey::from_file(&fixture("sigstore-rs-cosign.pub")).unwrap();
    let payload = read("sigstore-rs-busybox.payload.json");
    let sig = String::from_utf8(read("sigstore-rs-busybox.sig.b64")).unwrap();
    assert_eq!(
        verify_simple_signing(std::slice::from_ref(&key), &payload, &sig, BUSYBOX),
        Ok(0)
    );
    // The second key of a list can be the one that signed.
    let other = PublicKey::from_file(&fixture("sigstore-go-public-key.pem")).unwrap();
    assert_eq!(
        verify_simple_signing(&[other.clone(), key.clone()], &payload, &sig, BUSYBOX),
        Ok(1)
    );
    // The same signature names another digest than the candidate's.
    let e = verify_simple_signing(
        std::slice::from_ref(&key),
        &payload,
        &sig,
        &format!("sha256:{}", "0".repeat(64)),
    )
    .unwrap_err();
    assert!(e.contains("another image"), "{e}");
    // Another key, a changed payload, a damaged signature.
    let e = verify_simple_signing(&[other], &payload, &sig, BUSYBOX).unwrap_err();
    assert!(e.contains("does not verify"), "{e}");
    let mut changed = payload.clone();
    changed[10] ^= 1;
    assert!(verify_simple_signing(std::slice::from_ref(&key), &changed, &sig, BUSYBOX).is_err());
    let damaged = sig.replacen('M', "N", 1);
    assert!(
        verify_simple_signing(std::slice::from_ref(&key), &payload, &damaged, BUSYBOX).is_err()
    );
    assert!(verify_simple_signing(&[key], &payload, "not base64!", BUSYBOX).is_err());
}

#[test]
fn sigstore_bundle_key_signature_verifies() {
    // A message-signature bundle: the key signs the artifact bytes directly.
    let key = PublicKey::from_file(&fixture("sigstore-go-public-key.pem")).unwrap();
    let bundle: serde_json::Value =
        serde_json::from_slice(&read("sigstore-go-public-key.sigstore.json")).unwrap();
    let sig = bundle["messageSignature"]["signature"].as_str().unwrap();
    let sig = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, sig).unwrap();
    assert!(key.verifies(b"test content", &sig));
    assert!(!key.verifies(b"test content!", &sig));
    // Not what `cosign sign` writes for an image, so not a signature of one.
    let e = verify_bundle(
        &[key],
        &read("sigstore-go-public-key.sigstore.json"),
        BUSYBOX,
    )
    .unwrap_err();
    assert!(e.contains("message signature"), "{e}");
}

#[test]
fn sigstore_dsse_envelope_signature_verifies() {
    // The envelope's signature checks out with its signer's key (the PAE is right); the
    // statement is SLSA provenance for a tarball, not a cosign image signature.
    let leaf = PublicKey::from_file(&fixture("sigstore-go-dsse-leaf.pub")).unwrap();
    let bundle = read("sigstore-go-dsse.sigstore.json");
    let e = verify_bundle(std::slice::from_ref(&leaf), &bundle, BUSYBOX).unwrap_err();
    assert!(
        e.contains("in-toto statement") || e.contains("predicate"),
        "{e}"
    );
    assert!(!e.contains("does not verify"), "{e}");
    // With another key the signature itself fails first.
    let other = PublicKey::from_file(&fixture("sigstore-rs-cosign.pub")).unwrap();
    let e = verify_bundle(&[other], &bundle, BUSYBOX).unwrap_err();
    assert!(e.contains("does not verify"), "{e}");
    // A flipped byte in the envelope's payload breaks the signature.
    let mut value: serde_json::Value = serde_json::from_slice(&bundle).unwrap();
    let payload = value["dsseEnvelope"]["payload"]
        .as_str()
        .unwrap()
        .to_string();
    let mut raw =
        base64::Engine::decode(&base64::engine::general_purpose::STANDARD, &payload).unwrap();
    raw[5] ^= 1;
    value["dsseEnvelope"]["payload"] =
        base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &raw).into();
    let e = verify_bundle(&[leaf], &serde_json::to_vec(&value).unwrap(), BUSYBOX).unwrap_err();
    assert!(e.contains("does not verify"), "{e}");
}
