//! Cosign signature checks against the real registry (Debian's `docker-registry`, which has
//! no referrers API), with signatures pushed exactly as cosign lays them out, and hostile
//! variations of them.

use base64::Engine;
use baton::registry::RegistryClient;
use baton::signature::{Layout, PublicKey, Verdict};

use crate::support::cosign::{
    CosignKey, SIGNATURE_ANNOTATION, SIMPLE_SIGNING, SigLayer, bundle, push_bundle_referrer,
    push_referrers_index, push_sig_manifest, sig_manifest_with, sig_tag, sign_statement,
};
use crate::support::registry::{LocalRegistry, OCI_MANIFEST};

const REPO: &str = "team/app";

fn client(registry: &LocalRegistry) -> RegistryClient {
    RegistryClient::new(&registry.host(), registry.settings()).unwrap()
}

fn keys(key: &CosignKey) -> Vec<PublicKey> {
    vec![
        PublicKey::from_pem(
            key.public_pem().as_bytes(),
            std::path::Path::new("cosign.pub"),
        )
        .unwrap(),
    ]
}

async fn manifest_len(registry: &LocalRegistry, digest: &str) -> usize {
    crate::support::cosign::manifest_size(registry, REPO, digest).await
}

fn assert_signed(verdict: &Verdict, keys: &[PublicKey], layout: Layout) {
    let key = keys[0].fingerprint.clone();
    assert_eq!(*verdict, Verdict::Signed { key, layout });
}

fn bad(verdict: &Verdict) -> &str {
    match verdict {
        Verdict::BadSignature { detail } => detail,
        other => panic!("expected a bad signature, got {other:?}"),
    }
}

#[tokio::test]
async fn sig_tag_signatures_are_judged() {
    let registry = LocalRegistry::start();
    let key = CosignKey::generate();
    let other_key = CosignKey::generate();
    let reference = format!("{}/{REPO}", registry.host());
    let signed = registry.push_image(REPO, "1.0.0").await;
    let unsigned = registry.push_image(REPO, "1.1.0").await;
    let wrong_key = registry.push_image(REPO, "1.2.0").await;
    let other_digest = registry.push_image(REPO, "1.3.0").await;
    push_sig_manifest(
        &registry,
        REPO,
        &signed,
        &[SigLayer::signed(&key, &reference, &signed)],
    )
    .await;
    push_sig_manifest(
        &registry,
        REPO,
        &wrong_key,
        &[SigLayer::signed(&other_key, &reference, &wrong_key)],
    )
    .await;
    // A valid signature of 1.0.0 copied under 1.3.0's .sig tag.
    push_sig_manifest(
        &registry,
        REPO,
        &other_digest,
        &[SigLayer::signed(&key, &reference, &signed)],
    )
    .await;
    let client = client(&registry);
    let keys = keys(&key);

    let check = client.check_signature(REPO, &signed, &keys).await.unwrap();
    assert_signed(&check.verdict, &keys, Layout::SigTag);
    // The .sig manifest and the payload blob.
    assert_eq!(check.requests, 2);

    let check = client
        .check_signature(REPO, &unsigned, &keys)
        .await
        .unwrap();
    assert_eq!(check.verdict, Verdict::Unsigned);
    // The .sig tag, the referrers API (404 here) and the referrers tag.
    assert_eq!(check.requests, 3);
    let again = client
        .check_signature(REPO, &unsigned, &keys)
        .await
        .unwrap();
    // The registry's lack of a referrers API is remembered.
    assert_eq!(again.requests, 2);

    let check = client
        .check_signature(REPO, &wrong_key, &keys)
        .await
        .unwrap();
    assert!(
        bad(&check.verdict).contains("does not verify"),
        "{:?}",
        check.verdict
    );

    let check = client
        .check_signature(REPO, &other_digest, &keys)
        .await
        .unwrap();
    assert!(
        bad(&check.verdict).contains("another image"),
        "{:?}",
        check.verdict
    );

    // Several keys: the second signed.
    let both = [keys_of(&other_key), keys.clone()].concat();
    let check = client.check_signature(REPO, &signed, &both).await.unwrap();
    assert!(check.verdict.is_signed());
}

fn keys_of(key: &CosignKey) -> Vec<PublicKey> {
    keys(key)
}

#[tokio::test]
async fn bundle_referrers_are_judged() {
    let registry = LocalRegistry::start();
    let key = CosignKey::generate();
    let signed = registry.push_image(REPO, "2.0.0").await;
    let for_other = registry.push_image(REPO, "2.1.0").await;
    let signed_len = manifest_len(&registry, &signed).await;
    let other_len = manifest_len(&registry, &for_other).await;
    push_bundle_referrer(
        &registry,
        REPO,
        &signed,
        signed_len,
        &bundle(&key, &sign_statement(&signed)),
    )
    .await;
    // 2.1.0's referrer holds a statement about 2.0.0.
    push_bundle_referrer(
        &registry,
        REPO,
        &for_other,
        other_len,
        &bundle(&key, &sign_statement(&signed)),
    )
    .await;
    let client = client(&registry);
    let keys = keys(&key);

    let check = client.check_signature(REPO, &signed, &keys).await.unwrap();
    assert_signed(&check.verdict, &keys, Layout::Bundle);
    // .sig (404), referrers API (404), referrers tag, referrer manifest, bundle blob.
    assert_eq!(check.requests, 5);
    // The next bundle is looked for first, and the missing referrers API is remembered:
    // the referrers tag, the referrer manifest, the bundle.
    let next = registry.push_image(REPO, "2.2.0").await;
    crate::support::cosign::sign_with_bundle(&registry, &key, REPO, &next).await;
    let check = client.check_signature(REPO, &next, &keys).await.unwrap();
    assert_signed(&check.verdict, &keys, Layout::Bundle);
    assert_eq!(check.requests, 3);

    let check = client
        .check_signature(REPO, &for_other, &keys)
        .await
        .unwrap();
    assert!(
        bad(&check.verdict).contains("another image"),
        "{:?}",
        check.verdict
    );

    let other_key = CosignKey::generate();
    let check = client
        .check_signature(REPO, &signed, &keys_of(&other_key))
        .await
        .unwrap();
    assert!(
        bad(&check.verdict).contains("does not verify"),
        "{:?}",
        check.verdict
    );
}

#[tokio::test]
async fn a_referrers_tag_pointing_at_another_subject_is_refused() {
    let registry = LocalRegistry::start();
    let key = CosignKey::generate();
    let a = registry.push_image(REPO, "3.0.0").await;
    let b = registry.push_image(REPO, "3.1.0").await;
    let a_len = manifest_len(&registry, &a).await;
    let referrer = push_bundle_referrer(
        &registry,
        REPO,
        &a,
        a_len,
        &bundle(&key, &sign_statement(&a)),
    )
    .await;
    // b's referrers tag lists a's (valid) bundle manifest, whose subject is a.
    let entry = serde_json::json!({
        "mediaType": OCI_MANIFEST,
        "size": manifest_len(&registry, &referrer).await,
        "digest": referrer,
        "artifactType": "application/vnd.dev.sigstore.bundle.v0.3+json",
    });
    push_referrers_index(&registry, REPO, &b, vec![entry]).await;
    let check = client(&registry)
        .check_signature(REPO, &b, &keys(&key))
        .await
        .unwrap();
    assert!(
        bad(&check.verdict).contains("another image"),
        "{:?}",
        check.verdict
    );
}

#[tokio::test]
async fn hostile_signature_manifests_are_bounded() {
    let registry = LocalRegistry::start();
    let key = CosignKey::generate();
    let reference = format!("{}/{REPO}", registry.host());
    let client = client(&registry);
    let keys = keys(&key);

    // 500 layers, each another image's (valid) signature: at most 8 payloads are fetched.
    let many = registry.push_image(REPO, "4.0.0").await;
    let decoy = registry.push_image(REPO, "decoy").await;
    let layer = SigLayer::signed(&key, &reference, &decoy);
    let blob = registry.upload_blob(REPO, &layer.payload).await;
    let descriptor = serde_json::json!({
        "mediaType": SIMPLE_SIGNING,
        "size": layer.payload.len(),
        "digest": blob,
        "annotations": {SIGNATURE_ANNOTATION: layer.signature},
    });
    let manifest =
        sig_manifest_with(&registry, REPO, vec![descriptor; 500], vec![blob.clone()]).await;
    registry
        .put_manifest(REPO, &sig_tag(&many), OCI_MANIFEST, &manifest)
        .await;
    let check = client.check_signature(REPO, &many, &keys).await.unwrap();
    assert!(
        bad(&check.verdict).contains("another image"),
        "{:?}",
        check.verdict
    );
    assert!(check.requests <= 1 + 8 + 2, "{} requests", check.requests);

    // A layer claiming a payload over the limit is refused without fetching it.
    let huge = registry.push_image(REPO, "4.1.0").await;
    let descriptor = serde_json::json!({
        "mediaType": SIMPLE_SIGNING,
        "size": 300 * 1024,
        "digest": blob,
        "annotations": {SIGNATURE_ANNOTATION: "MEUC"},
    });
    let manifest = sig_manifest_with(&registry, REPO, vec![descriptor], vec![]).await;
    registry
        .put_manifest(REPO, &sig_tag(&huge), OCI_MANIFEST, &manifest)
        .await;
    let check = client.check_signature(REPO, &huge, &keys).await.unwrap();
    assert!(bad(&check.verdict).contains("limit"), "{:?}", check.verdict);

    // A real payload over the limit, stored and described truthfully.
    let big = registry.push_image(REPO, "4.2.0").await;
    let mut payload = crate::support::cosign::simple_signing_payload(&reference, &big);
    payload.truncate(payload.len() - 1);
    payload.extend(std::iter::repeat_n(b' ', 300 * 1024));
    payload.push(b'}');
    let signature = base64::engine::general_purpose::STANDARD.encode(key.sign(&payload));
    push_sig_manifest(&registry, REPO, &big, &[SigLayer { payload, signature }]).await;
    let check = client.check_signature(REPO, &big, &keys).await.unwrap();
    assert!(bad(&check.verdict).contains("limit"), "{:?}", check.verdict);

    // A descriptor whose digest names another blob than the one signed (the payload of
    // another image, or a size that does not match).
    let wrong = registry.push_image(REPO, "4.3.0").await;
    let good = SigLayer::signed(&key, &reference, &wrong);
    let descriptor = serde_json::json!({
        "mediaType": SIMPLE_SIGNING,
        "size": layer.payload.len(),
        "digest": blob,
        "annotations": {SIGNATURE_ANNOTATION: good.signature},
    });
    let manifest = sig_manifest_with(&registry, REPO, vec![descriptor], vec![]).await;
    registry
        .put_manifest(REPO, &sig_tag(&wrong), OCI_MANIFEST, &manifest)
        .await;
    let check = client.check_signature(REPO, &wrong, &keys).await.unwrap();
    assert!(
        bad(&check.verdict).contains("does not verify"),
        "{:?}",
        check.verdict
    );
    let descriptor = serde_json::json!({
        "mediaType": SIMPLE_SIGNING,
        "size": layer.payload.len() + 1,
        "digest": blob,
        "annotations": {SIGNATURE_ANNOTATION: good.signature},
    });
    let manifest = sig_manifest_with(&registry, REPO, vec![descriptor], vec![]).await;
    registry
        .put_manifest(REPO, &sig_tag(&wrong), OCI_MANIFEST, &manifest)
        .await;
    let check = client.check_signature(REPO, &wrong, &keys).await.unwrap();
    assert!(bad(&check.verdict).contains("bytes"), "{:?}", check.verdict);

    // A .sig tag that is not a manifest at all.
    let junk = registry.push_image(REPO, "4.4.0").await;
    let index = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}"#;
    registry
        .put_manifest(
            REPO,
            &sig_tag(&junk),
            "application/vnd.oci.image.index.v1+json",
            index,
        )
        .await;
    let check = client.check_signature(REPO, &junk, &keys).await.unwrap();
    assert!(
        bad(&check.verdict).contains("simple-signing"),
        "{:?}",
        check.verdict
    );
}

/// A registry that serves bytes other than those its descriptor's digest names: a validly
/// signed payload is refused because it does not hash to the digest (the fake, as Debian's
/// registry checks digests on upload and cannot be made to do this).
#[tokio::test]
async fn a_blob_that_does_not_hash_to_its_digest_is_refused() {
    use crate::support::fake_registry::{Behaviour, FakeManifest, FakeRegistry};
    use crate::support::registry::sha256;
    let key = CosignKey::generate();
    let image = format!("sha256:{}", "ab".repeat(32));
    let layer = SigLayer::signed(&key, "registry.example/team/app", &image);
    let claimed = sha256(b"the bytes the descriptor was made for");
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "size": 2, "digest": sha256(b"{}")},
        "layers": [{
            "mediaType": SIMPLE_SIGNING,
            "size": layer.payload.len(),
            "digest": claimed,
            "annotations": {SIGNATURE_ANNOTATION: layer.signature},
        }],
    })
    .to_string()
    .into_bytes();
    let fake = FakeRegistry::start(Behaviour {
        manifests: [(
            sig_tag(&image),
            FakeManifest {
                body: manifest,
                digest_header: None,
            },
        )]
        .into(),
        blobs: [(claimed.clone(), layer.payload.clone())].into(),
        ..Default::default()
    })
    .await;
    let settings = baton::registry::RegistrySettings {
        insecure: true,
        ..Default::default()
    };
    let client = RegistryClient::new(&fake.host(), settings).unwrap();
    let check = client
        .check_signature(REPO, &image, &keys(&key))
        .await
        .unwrap();
    // The payload's length matches the descriptor; only its hash gives it away.
    assert!(
        bad(&check.verdict).contains("does not hash"),
        "{:?}",
        check.verdict
    );
}
