//! The `[images.NAME.signature]` section: the cosign public keys a tag's digest must be
//! signed with, read (and every key file checked) when the configuration loads.

use std::path::PathBuf;
use std::sync::Arc;

use crate::common::settings::Table;

use super::keys::PublicKey;

/// Keys of cosign's keyless verification, refused with a pointer to the docs.
const KEYLESS_KEYS: [&str; 3] = ["keyless", "certificate_identity", "certificate_oidc_issuer"];

/// An image's signature requirement: a digest is a candidate only when signed by one of
/// `keys`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureConfig {
    /// The keys, in the order written.
    pub keys: Arc<Vec<PublicKey>>,
}

impl SignatureConfig {
    /// Reads the section; `None` when it is absent or has errors (each reported at its key).
    pub fn read(t: Table) -> Option<SignatureConfig> {
        if !t.is_present() {
            return None;
        }
        for key in KEYLESS_KEYS {
            if t.has(key) {
                t.mark_known(key);
                t.error(
                    key,
                    "keyless verification (a Fulcio certificate's identity and issuer) is not supported: sign with a key pair (cosign generate-key-pair) and give its public key as key_file; see docs/signatures.md",
                );
            }
        }
        let mut files: Vec<(PathBuf, Option<crate::common::settings::KeyPath>)> = Vec::new();
        if let Some(file) = t.file_path("key_file") {
            files.push((file, None));
        }
        if let Some(list) = t.file_path_list("key_files") {
            if list.is_empty() && !t.has("key_file") {
                t.error("key_files", "is empty: list at least one public key file");
            }
            files.extend(list.into_iter().map(|(f, p)| (f, Some(p))));
        }
        if !t.has("key_file") && !t.has("key_files") {
            t.missing(
                "key_file",
                "name the cosign public key, e.g. key_file = \"/etc/baton/cosign.pub\" (several: key_files = [...])",
            );
        }
        let mut keys = Vec::new();
        let mut ok = true;
        for (file, path) in files {
            match PublicKey::from_file(&file) {
                Ok(key) => keys.push(key),
                Err(err) => {
                    ok = false;
                    match path {
                        Some(path) => t.error_at(&path, err.to_string()),
                        None => t.error("key_file", err.to_string()),
                    }
                }
            }
        }
        t.finish();
        (ok && !keys.is_empty()).then(|| SignatureConfig {
            keys: Arc::new(keys),
        })
    }
}
