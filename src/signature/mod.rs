//! Cosign signature verification for image digests: public keys, the registry layouts cosign
//! writes, and the payloads it signs. Pure: the registry fetches live in `registry`.

mod config;
mod keys;
mod layout;
mod payload;

pub use config::SignatureConfig;
pub use keys::{KeyError, PublicKey};
pub use layout::{
    ARTIFACT_ACCEPT, BUNDLE_MEDIA_TYPE_PREFIX, Descriptor, MAX_ENTRIES, SIGNATURE_ANNOTATION,
    SIMPLE_SIGNING_MEDIA_TYPE, SignedLayer, bundle_layers, bundle_manifests, referrers_tag,
    sig_tag, simple_signing_layers,
};
pub use payload::{
    COSIGN_SIGN_PREDICATE, IN_TOTO_PAYLOAD_TYPE, SIMPLE_SIGNING_TYPE, pae, verify_bundle,
    verify_simple_signing,
};

/// The largest simple-signing payload or bundle blob fetched: real ones are a few hundred
/// bytes (payloads) to tens of kilobytes (bundles with a certificate chain).
pub const MAX_SIGNATURE_BLOB: u64 = 256 * 1024;
/// The largest signature manifest or referrers index fetched.
pub const MAX_SIGNATURE_MANIFEST: u64 = 256 * 1024;

/// Which layout a valid signature was found in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Layout {
    /// The `sha256-<hex>.sig` tag with simple-signing layers (cosign 1 and 2).
    SigTag,
    /// A Sigstore bundle found through the referrers API or the referrers tag (cosign 3).
    Bundle,
}

/// The judgement of one manifest digest.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "verdict", rename_all = "kebab-case")]
pub enum Verdict {
    /// Signed by a configured key.
    Signed {
        /// The key's fingerprint (`sha256:` of its SubjectPublicKeyInfo).
        key: String,
        /// Where the signature was.
        layout: Layout,
    },
    /// No signature in any layout cosign writes.
    Unsigned,
    /// Signatures exist but none is valid; the first reason.
    BadSignature {
        /// Why the first signature failed.
        detail: String,
    },
}

impl Verdict {
    /// True for [`Verdict::Signed`].
    pub fn is_signed(&self) -> bool {
        matches!(self, Verdict::Signed { .. })
    }

    /// The short word `tags` and `plan` show: `signed`, `unsigned`, `bad signature`.
    pub fn word(&self) -> &'static str {
        match self {
            Verdict::Signed { .. } => "signed",
            Verdict::Unsigned => "unsigned",
            Verdict::BadSignature { .. } => "bad signature",
        }
    }
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Verdict::Signed { key, .. } => write!(f, "signed (key {key})"),
            Verdict::Unsigned => f.write_str("unsigned"),
            Verdict::BadSignature { detail } => write!(f, "bad signature: {detail}"),
        }
    }
}

/// A fingerprint of a key set, so that verdicts reached under other keys are not reused.
pub fn keys_fingerprint(keys: &[PublicKey]) -> String {
    use sha2::Digest;
    let mut prints: Vec<&str> = keys.iter().map(|k| k.fingerprint.as_str()).collect();
    prints.sort_unstable();
    prints.dedup();
    let hash = sha2::Sha256::digest(prints.join("\n").as_bytes());
    keys::hex(&hash[..8])
}

#[cfg(test)]
mod fixtures;
