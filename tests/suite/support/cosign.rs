//! Signatures laid out in a registry exactly as cosign writes them, made with a key pair
//! generated here: the `sha256-<hex>.sig` tag with a simple-signing layer (cosign 1 and 2),
//! and a Sigstore bundle referrer with the `sha256-<hex>` referrers tag index (cosign 3 on a
//! registry without the referrers API, as go-containerregistry falls back).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair};

use super::registry::{LocalRegistry, OCI_CONFIG, OCI_INDEX, OCI_MANIFEST, sha256};

/// The DER prefix of an ECDSA P-256 SubjectPublicKeyInfo, before the 65-byte point.
const P256_SPKI_PREFIX: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];
pub const SIMPLE_SIGNING: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
pub const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";
pub const BUNDLE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
pub const EMPTY_CONFIG: &str = "application/vnd.oci.empty.v1+json";

/// A cosign key pair: signs, and writes its public key as `cosign.pub` would be.
pub struct CosignKey {
    pair: EcdsaKeyPair,
    rng: SystemRandom,
}

impl CosignKey {
    pub fn generate() -> CosignKey {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).unwrap();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref(), &rng)
            .unwrap();
        CosignKey { pair, rng }
    }

    fn spki(&self) -> Vec<u8> {
        let mut der = P256_SPKI_PREFIX.to_vec();
        der.extend_from_slice(self.pair.public_key().as_ref());
        der
    }

    /// The public key in PEM, as `cosign generate-key-pair` writes `cosign.pub`.
    pub fn public_pem(&self) -> String {
        let b64 = STANDARD.encode(self.spki());
        let lines: Vec<&str> = b64
            .as_bytes()
            .chunks(64)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect();
        format!(
            "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
            lines.join("\n")
        )
    }

    /// An ASN.1 DER ECDSA signature over `message`.
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        self.pair
            .sign(&self.rng, message)
            .unwrap()
            .as_ref()
            .to_vec()
    }
}

/// The simple-signing payload cosign signs for `reference` at `digest`.
pub fn simple_signing_payload(reference: &str, digest: &str) -> Vec<u8> {
    format!(
        r#"{{"critical":{{"identity":{{"docker-reference":"{reference}"}},"image":{{"docker-manifest-digest":"{digest}"}},"type":"cosign container image signature"}},"optional":null}}"#
    )
    .into_bytes()
}

/// One layer of a `.sig` manifest: payload bytes and the signature annotation's value.
pub struct SigLayer {
    pub payload: Vec<u8>,
    pub signature: String,
}

impl SigLayer {
    /// `key`'s signature of the payload for `reference@digest`.
    pub fn signed(key: &CosignKey, reference: &str, digest: &str) -> SigLayer {
        let payload = simple_signing_payload(reference, digest);
        let signature = STANDARD.encode(key.sign(&payload));
        SigLayer { payload, signature }
    }
}

/// The tag cosign's `.sig` layout uses for `digest`.
pub fn sig_tag(digest: &str) -> String {
    format!("{}.sig", digest.replacen(':', "-", 1))
}

/// Pushes `layers` as the `.sig` manifest of `digest` (uploading each payload) and returns
/// the manifest's bytes.
pub async fn push_sig_manifest(
    registry: &LocalRegistry,
    repo: &str,
    digest: &str,
    layers: &[SigLayer],
) -> Vec<u8> {
    let mut descriptors = Vec::new();
    let mut diff_ids = Vec::new();
    for layer in layers {
        let blob = registry.upload_blob(repo, &layer.payload).await;
        diff_ids.push(blob.clone());
        descriptors.push(serde_json::json!({
            "mediaType": SIMPLE_SIGNING,
            "size": layer.payload.len(),
            "digest": blob,
            "annotations": {SIGNATURE_ANNOTATION: layer.signature},
        }));
    }
    let manifest = sig_manifest_with(registry, repo, descriptors, diff_ids).await;
    registry
        .put_manifest(repo, &sig_tag(digest), OCI_MANIFEST, &manifest)
        .await;
    manifest
}

/// A `.sig` manifest over `descriptors` with cosign's config (its empty image's, with the
/// payloads as diff IDs); the config blob is uploaded.
pub async fn sig_manifest_with(
    registry: &LocalRegistry,
    repo: &str,
    descriptors: Vec<serde_json::Value>,
    diff_ids: Vec<String>,
) -> Vec<u8> {
    let config = serde_json::json!({
        "architecture": "",
        "created": "0001-01-01T00:00:00Z",
        "history": [{"created": "0001-01-01T00:00:00Z"}],
        "os": "",
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "config": {},
    })
    .to_string()
    .into_bytes();
    let config_digest = registry.upload_blob(repo, &config).await;
    serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "size": config.len(), "digest": config_digest},
        "layers": descriptors,
    })
    .to_string()
    .into_bytes()
}

/// The in-toto statement `cosign sign` (cosign 3) puts in its bundle for `digest`.
pub fn sign_statement(digest: &str) -> Vec<u8> {
    let hex = digest.strip_prefix("sha256:").unwrap();
    serde_json::json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"digest": {"sha256": hex}}],
        "predicateType": "https://sigstore.dev/cosign/sign/v1",
        "predicate": {},
    })
    .to_string()
    .into_bytes()
}

/// A v0.3 bundle with a DSSE envelope over `statement`, signed by `key` (no transparency
/// log entry: `cosign sign --tlog-upload=false`).
pub fn bundle(key: &CosignKey, statement: &[u8]) -> Vec<u8> {
    let payload_type = "application/vnd.in-toto+json";
    let mut pae = format!(
        "DSSEv1 {} {payload_type} {} ",
        payload_type.len(),
        statement.len()
    )
    .into_bytes();
    pae.extend_from_slice(statement);
    let hint = STANDARD.encode(ring::digest::digest(&ring::digest::SHA256, &key.spki()));
    serde_json::json!({
        "mediaType": BUNDLE,
        "verificationMaterial": {"publicKey": {"hint": hint}},
        "dsseEnvelope": {
            "payload": STANDARD.encode(statement),
            "payloadType": payload_type,
            "signatures": [{"sig": STANDARD.encode(key.sign(&pae)), "keyid": ""}],
        },
    })
    .to_string()
    .into_bytes()
}

/// Pushes `bundle` as a referrer of `subject` (a manifest of `subject_size` bytes) the way
/// cosign 3 does on a registry without the referrers API: the bundle blob, the empty
/// config, the referrer manifest by digest, and the referrer added to the `sha256-<hex>`
/// tag's index. Returns the referrer manifest's digest.
pub async fn push_bundle_referrer(
    registry: &LocalRegistry,
    repo: &str,
    subject: &str,
    subject_size: usize,
    bundle: &[u8],
) -> String {
    let bundle_digest = registry.upload_blob(repo, bundle).await;
    let empty = registry.upload_blob(repo, b"{}").await;
    let annotations = serde_json::json!({
        "dev.sigstore.bundle.content": "dsse-envelope",
        "dev.sigstore.bundle.predicateType": "https://sigstore.dev/cosign/sign/v1",
        "org.opencontainers.image.created": "2026-11-26T23:00:00Z",
    });
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": EMPTY_CONFIG, "artifactType": BUNDLE, "size": 2, "digest": empty},
        "layers": [{"mediaType": BUNDLE, "size": bundle.len(), "digest": bundle_digest}],
        "annotations": annotations,
        "subject": {"mediaType": OCI_MANIFEST, "size": subject_size, "digest": subject},
        "artifactType": BUNDLE,
    })
    .to_string()
    .into_bytes();
    let digest = sha256(&manifest);
    registry
        .put_manifest(repo, &digest, OCI_MANIFEST, &manifest)
        .await;
    let entry = serde_json::json!({
        "mediaType": OCI_MANIFEST,
        "size": manifest.len(),
        "digest": digest,
        "artifactType": BUNDLE,
        "annotations": annotations,
    });
    push_referrers_index(registry, repo, subject, vec![entry]).await;
    digest
}

/// PUTs the referrers tag index of `subject` with `entries`.
pub async fn push_referrers_index(
    registry: &LocalRegistry,
    repo: &str,
    subject: &str,
    entries: Vec<serde_json::Value>,
) {
    let index = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": entries,
    })
    .to_string()
    .into_bytes();
    registry
        .put_manifest(repo, &subject.replacen(':', "-", 1), OCI_INDEX, &index)
        .await;
}

/// The size in bytes of `repo@digest`'s manifest (a referrer's `subject` states it).
pub async fn manifest_size(registry: &LocalRegistry, repo: &str, digest: &str) -> usize {
    reqwest::Client::new()
        .get(format!(
            "http://{}/v2/{repo}/manifests/{digest}",
            registry.host()
        ))
        .header("accept", OCI_MANIFEST)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap()
        .len()
}

/// Signs `repo@digest` the cosign 3 way: a bundle referrer, found through the referrers tag.
pub async fn sign_with_bundle(registry: &LocalRegistry, key: &CosignKey, repo: &str, digest: &str) {
    let size = manifest_size(registry, repo, digest).await;
    push_bundle_referrer(
        registry,
        repo,
        digest,
        size,
        &bundle(key, &sign_statement(digest)),
    )
    .await;
}

/// Signs `repo@digest` the cosign 2 way: a `.sig` tag with one simple-signing layer.
pub async fn sign_with_sig_tag(
    registry: &LocalRegistry,
    key: &CosignKey,
    repo: &str,
    digest: &str,
) {
    let reference = format!("{}/{repo}", registry.host());
    push_sig_manifest(
        registry,
        repo,
        digest,
        &[SigLayer::signed(key, &reference, digest)],
    )
    .await;
}
