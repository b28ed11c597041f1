//! Cosign public keys: PEM `PUBLIC KEY` blocks holding an ECDSA P-256 SubjectPublicKeyInfo,
//! as `cosign generate-key-pair` writes them, checked with ring.

use std::path::{Path, PathBuf};

use ring::signature::{ECDSA_P256_SHA256_ASN1, UnparsedPublicKey};
use sha2::{Digest, Sha256};
use spki::der::Decode;
use spki::der::pem::PemLabel;
use spki::{ObjectIdentifier, SubjectPublicKeyInfoRef};

/// id-ecPublicKey (RFC 5480).
const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
/// prime256v1 / secp256r1 (RFC 5480).
const P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");

/// The largest key file read: a P-256 PEM key is under 200 bytes.
const MAX_KEY_FILE: u64 = 64 * 1024;

/// Why a key file cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyError {
    /// The file cannot be read.
    #[error("cannot read {path}: {detail}: check the path and its permissions")]
    Unreadable { path: String, detail: String },
    /// The file is not a PEM public key.
    #[error(
        "{path} is not a PEM public key ({detail}): give the cosign.pub that `cosign generate-key-pair` wrote (-----BEGIN PUBLIC KEY-----)"
    )]
    NotPem { path: String, detail: String },
    /// The key is of another algorithm.
    #[error(
        "{path} holds a {algorithm} key: Baton verifies ECDSA P-256 keys only (cosign generate-key-pair's kind)"
    )]
    Unsupported { path: String, algorithm: String },
}

/// One verification key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    /// Where it came from, for messages.
    pub source: PathBuf,
    /// `sha256:` + hex of the DER SubjectPublicKeyInfo (what `cosign public-key` prints, hashed).
    pub fingerprint: String,
    /// The uncompressed EC point (65 bytes).
    point: Vec<u8>,
}

impl PublicKey {
    /// Reads `path` (a PEM file with one public key).
    pub fn from_file(path: &Path) -> Result<PublicKey, KeyError> {
        let shown = path.display().to_string();
        let unreadable = |detail: String| KeyError::Unreadable {
            path: shown.clone(),
            detail,
        };
        let meta = std::fs::metadata(path).map_err(|e| unreadable(e.to_string()))?;
        if meta.len() > MAX_KEY_FILE {
            return Err(unreadable(format!(
                "{} bytes is too large for a public key",
                meta.len()
            )));
        }
        let text = std::fs::read(path).map_err(|e| unreadable(e.to_string()))?;
        PublicKey::from_pem(&text, path)
    }

    /// Parses a PEM `PUBLIC KEY` block; `source` names it in messages.
    pub fn from_pem(pem: &[u8], source: &Path) -> Result<PublicKey, KeyError> {
        let shown = source.display().to_string();
        let not_pem = |detail: String| KeyError::NotPem {
            path: shown.clone(),
            detail,
        };
        let (label, der) = spki::der::pem::decode_vec(pem).map_err(|e| not_pem(e.to_string()))?;
        if label != SubjectPublicKeyInfoRef::PEM_LABEL {
            return Err(not_pem(format!(
                "the block is labelled {label:?}, not \"PUBLIC KEY\""
            )));
        }
        PublicKey::from_der(&der, source)
    }

    /// Parses a DER SubjectPublicKeyInfo; `source` names it in messages.
    pub fn from_der(der: &[u8], source: &Path) -> Result<PublicKey, KeyError> {
        let shown = source.display().to_string();
        let info = SubjectPublicKeyInfoRef::from_der(der).map_err(|e| KeyError::NotPem {
            path: shown.clone(),
            detail: format!("not a SubjectPublicKeyInfo: {e}"),
        })?;
        let algorithm = info.algorithm.oid;
        let curve = info
            .algorithm
            .parameters
            .as_ref()
            .and_then(|p| p.decode_as::<ObjectIdentifier>().ok());
        if algorithm != EC_PUBLIC_KEY || curve != Some(P256) {
            let name = match (algorithm.to_string().as_str(), curve) {
                ("1.2.840.113549.1.1.1", _) => "RSA".to_string(),
                ("1.3.101.112", _) => "Ed25519".to_string(),
                ("1.2.840.10045.2.1", Some(c)) if c.to_string() == "1.3.132.0.34" => {
                    "ECDSA P-384".to_string()
                }
                ("1.2.840.10045.2.1", Some(c)) if c.to_string() == "1.3.132.0.35" => {
                    "ECDSA P-521".to_string()
                }
                (oid, _) => format!("algorithm {oid}"),
            };
            return Err(KeyError::Unsupported {
                path: shown,
                algorithm: name,
            });
        }
        let point = info
            .subject_public_key
            .as_bytes()
            .filter(|p| p.len() == 65 && p[0] == 4)
            .ok_or_else(|| KeyError::NotPem {
                path: shown.clone(),
                detail: "the key is not an uncompressed P-256 point".into(),
            })?
            .to_vec();
        Ok(PublicKey {
            source: source.to_path_buf(),
            fingerprint: format!("sha256:{}", hex(&Sha256::digest(der))),
            point,
        })
    }

    /// True when `signature` (ASN.1 DER ECDSA) signs `message` with this key.
    pub fn verifies(&self, message: &[u8], signature: &[u8]) -> bool {
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, &self.point)
            .verify(message, signature)
            .is_ok()
    }
}

/// Lower-case hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A key `cosign generate-key-pair` made (sigstore-rs tests, see tests/fixtures/cosign/SOURCE.md).
    pub const COSIGN_PUB: &str = "-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAENptdY/l3nB0yqkXLBWkZWQwo6+cu
OSWS1X9vPavpiQOoTTGC0xX57OojUadxF1cdQmrsiReWg2Wn4FneJfa8xw==
-----END PUBLIC KEY-----
";

    #[test]
    fn reads_a_cosign_key() {
        let key = PublicKey::from_pem(COSIGN_PUB.as_bytes(), Path::new("cosign.pub")).unwrap();
        assert!(key.fingerprint.starts_with("sha256:"));
        assert_eq!(key.point.len(), 65);
    }

    #[test]
    fn refuses_what_is_not_a_p256_key() {
        let src = Path::new("k.pem");
        let e = PublicKey::from_pem(b"hello", src).unwrap_err();
        assert!(matches!(e, KeyError::NotPem { .. }), "{e}");
        let private = COSIGN_PUB.replace("PUBLIC KEY", "ENCRYPTED SIGSTORE PRIVATE KEY");
        let e = PublicKey::from_pem(private.as_bytes(), src).unwrap_err();
        assert!(e.to_string().contains("not \"PUBLIC KEY\""), "{e}");
        // An Ed25519 SubjectPublicKeyInfo (RFC 8410's example).
        let ed = "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=\n-----END PUBLIC KEY-----\n";
        let e = PublicKey::from_pem(ed.as_bytes(), src).unwrap_err();
        assert_eq!(
            e,
            KeyError::Unsupported {
                path: "k.pem".into(),
                algorithm: "Ed25519".into()
            }
        );
        // A truncated body.
        let cut = COSIGN_PUB.replace(
            "OSWS1X9vPavpiQOoTTGC0xX57OojUadxF1cdQmrsiReWg2Wn4FneJfa8xw==\n",
            "",
        );
        assert!(PublicKey::from_pem(cut.as_bytes(), src).is_err());
    }

    #[test]
    fn key_files_are_bounded_and_named() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("none.pub");
        let e = PublicKey::from_file(&missing).unwrap_err();
        assert!(e.to_string().contains("none.pub"), "{e}");
        let big = dir.path().join("big.pub");
        std::fs::write(&big, vec![b'a'; 70 * 1024]).unwrap();
        let e = PublicKey::from_file(&big).unwrap_err();
        assert!(e.to_string().contains("too large"), "{e}");
    }
}
