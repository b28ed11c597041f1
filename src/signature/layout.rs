//! Where cosign puts signatures in a registry and how their manifests read: the
//! `sha256-<hex>.sig` tag with simple-signing layers, and OCI 1.1 referrers (the referrers
//! API's index, or the `sha256-<hex>` referrers tag) pointing at Sigstore bundle manifests.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::reference::is_valid_digest;

/// The layer media type of a simple-signing payload.
pub const SIMPLE_SIGNING_MEDIA_TYPE: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
/// The annotation holding a simple-signing layer's base64 signature.
pub const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";
/// Sigstore bundle media types start so (`...bundle.v0.3+json`, `...bundle+json;version=0.1`).
pub const BUNDLE_MEDIA_TYPE_PREFIX: &str = "application/vnd.dev.sigstore.bundle";
/// What is asked for when fetching signature manifests and indexes.
pub const ARTIFACT_ACCEPT: &str = "application/vnd.oci.image.manifest.v1+json, \
application/vnd.oci.image.index.v1+json, \
application/vnd.docker.distribution.manifest.v2+json";

/// At most this many signature layers, bundle manifests or bundle layers are looked at for
/// one digest: a hostile registry cannot make one judgement cost hundreds of requests.
pub const MAX_ENTRIES: usize = 8;

/// The tag cosign's `.sig` layout stores signatures of `digest` under.
pub fn sig_tag(digest: &str) -> Option<String> {
    referrers_tag(digest).map(|tag| format!("{tag}.sig"))
}

/// The OCI referrers tag schema's tag for `digest` (`sha256-<hex>`).
pub fn referrers_tag(digest: &str) -> Option<String> {
    is_valid_digest(digest).then(|| digest.replacen(':', "-", 1))
}

/// A content descriptor, checked: a `sha256:` digest and a size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Descriptor {
    /// The media type, as written.
    pub media_type: String,
    /// `sha256:` + 64 hex.
    pub digest: String,
    /// The size the descriptor claims, in bytes.
    pub size: u64,
    /// `artifactType`, when given.
    pub artifact_type: Option<String>,
    /// Annotations.
    pub annotations: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawDescriptor {
    #[serde(default)]
    media_type: String,
    digest: String,
    size: u64,
    artifact_type: Option<String>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
}

impl RawDescriptor {
    fn checked(self) -> Result<Descriptor, String> {
        if !is_valid_digest(&self.digest) {
            return Err("a descriptor's digest is not sha256 + 64 hex".into());
        }
        Ok(Descriptor {
            media_type: self.media_type,
            digest: self.digest,
            size: self.size,
            artifact_type: self.artifact_type,
            annotations: self.annotations,
        })
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Manifest {
    #[serde(default)]
    artifact_type: Option<String>,
    #[serde(default)]
    layers: Vec<RawDescriptor>,
    subject: Option<RawDescriptor>,
}

#[derive(Deserialize)]
struct Index {
    #[serde(default)]
    manifests: Vec<RawDescriptor>,
}

/// One simple-signing layer of a `.sig` manifest: the payload blob and its signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedLayer {
    /// The payload blob.
    pub payload: Descriptor,
    /// The base64 signature annotation.
    pub signature: String,
}

/// The simple-signing layers of a `.sig` manifest (at most [`MAX_ENTRIES`]); layers of
/// other types or without a signature annotation are left out.
pub fn simple_signing_layers(manifest: &[u8]) -> Result<Vec<SignedLayer>, String> {
    let manifest: Manifest = serde_json::from_slice(manifest)
        .map_err(|e| format!("the signature manifest is not an image manifest ({e})"))?;
    let mut out = Vec::new();
    for layer in manifest.layers {
        if out.len() == MAX_ENTRIES {
            break;
        }
        if layer.media_type != SIMPLE_SIGNING_MEDIA_TYPE {
            continue;
        }
        let layer = layer.checked()?;
        if let Some(signature) = layer.annotations.get(SIGNATURE_ANNOTATION).cloned() {
            out.push(SignedLayer {
                payload: layer,
                signature,
            });
        }
    }
    Ok(out)
}

/// The manifests of a referrers index (from the API or the referrers tag) that may hold a
/// Sigstore bundle (at most [`MAX_ENTRIES`]): those whose `artifactType` names one, or
/// that give none.
pub fn bundle_manifests(index: &[u8]) -> Result<Vec<Descriptor>, String> {
    let index: Index = serde_json::from_slice(index)
        .map_err(|e| format!("the referrers index is not an image index ({e})"))?;
    let mut out = Vec::new();
    for entry in index.manifests {
        if out.len() == MAX_ENTRIES {
            break;
        }
        let wanted = entry
            .artifact_type
            .as_deref()
            .is_none_or(|t| t.starts_with(BUNDLE_MEDIA_TYPE_PREFIX));
        if wanted {
            out.push(entry.checked()?);
        }
    }
    Ok(out)
}

/// The bundle layers of a referrer manifest, which must name `digest` as its subject.
/// `Ok(None)` when the manifest is not a Sigstore bundle artifact (an SBOM, an attestation
/// of another kind).
pub fn bundle_layers(manifest: &[u8], digest: &str) -> Result<Option<Vec<Descriptor>>, String> {
    let manifest: Manifest = serde_json::from_slice(manifest)
        .map_err(|e| format!("a referrer manifest is not an image manifest ({e})"))?;
    let is_bundle = manifest
        .artifact_type
        .as_deref()
        .is_some_and(|t| t.starts_with(BUNDLE_MEDIA_TYPE_PREFIX))
        || manifest
            .layers
            .iter()
            .any(|l| l.media_type.starts_with(BUNDLE_MEDIA_TYPE_PREFIX));
    if !is_bundle {
        return Ok(None);
    }
    match manifest.subject {
        Some(subject) if subject.digest == digest => {}
        Some(_) => return Err("a bundle manifest refers to another image".into()),
        None => return Err("a bundle manifest has no subject".into()),
    }
    let mut out = Vec::new();
    for layer in manifest.layers {
        if out.len() == MAX_ENTRIES {
            break;
        }
        if layer.media_type.starts_with(BUNDLE_MEDIA_TYPE_PREFIX) {
            out.push(layer.checked()?);
        }
    }
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest(c: char) -> String {
        format!("sha256:{}", c.to_string().repeat(64))
    }

    #[test]
    fn tag_names() {
        let d = digest('a');
        assert_eq!(
            sig_tag(&d).unwrap(),
            format!("sha256-{}.sig", "a".repeat(64))
        );
        assert_eq!(
            referrers_tag(&d).unwrap(),
            format!("sha256-{}", "a".repeat(64))
        );
        assert_eq!(sig_tag("sha256:zz"), None);
    }

    #[test]
    fn sig_manifest_layers() {
        let text = format!(
            r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",
            "config":{{"mediaType":"application/vnd.oci.image.config.v1+json","size":10,"digest":"{c}"}},
            "layers":[
              {{"mediaType":"{SIMPLE_SIGNING_MEDIA_TYPE}","size":200,"digest":"{a}","annotations":{{"{SIGNATURE_ANNOTATION}":"MEUC"}}}},
              {{"mediaType":"{SIMPLE_SIGNING_MEDIA_TYPE}","size":200,"digest":"{b}"}},
              {{"mediaType":"text/plain","size":1,"digest":"{b}","annotations":{{"{SIGNATURE_ANNOTATION}":"x"}}}}
            ]}}"#,
            a = digest('a'),
            b = digest('b'),
            c = digest('c')
        );
        let layers = simple_signing_layers(text.as_bytes()).unwrap();
        assert_eq!(layers.len(), 1);
        assert_eq!(layers[0].payload.digest, digest('a'));
        assert_eq!(layers[0].signature, "MEUC");
        let bad = text.replace(&digest('a'), "sha256:short");
        assert!(simple_signing_layers(bad.as_bytes()).is_err());
        assert!(simple_signing_layers(b"{\"layers\":7}").is_err());
    }

    #[test]
    fn many_layers_are_capped() {
        let layer = format!(
            r#"{{"mediaType":"{SIMPLE_SIGNING_MEDIA_TYPE}","size":2,"digest":"{}","annotations":{{"{SIGNATURE_ANNOTATION}":"x"}}}}"#,
            digest('a')
        );
        let text = format!(r#"{{"layers":[{}]}}"#, vec![layer; 500].join(","));
        assert_eq!(
            simple_signing_layers(text.as_bytes()).unwrap().len(),
            MAX_ENTRIES
        );
    }

    #[test]
    fn referrers_and_bundle_manifests() {
        let index = format!(
            r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[
              {{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{a}","size":9,"artifactType":"application/vnd.dev.sigstore.bundle.v0.3+json"}},
              {{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{b}","size":9,"artifactType":"application/spdx+json"}},
              {{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{c}","size":9}}
            ]}}"#,
            a = digest('a'),
            b = digest('b'),
            c = digest('c')
        );
        let found = bundle_manifests(index.as_bytes()).unwrap();
        let digests: Vec<&str> = found.iter().map(|d| d.digest.as_str()).collect();
        assert_eq!(digests, [digest('a'), digest('c')]);

        let manifest = |subject: &str| {
            format!(
                r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",
                "artifactType":"application/vnd.dev.sigstore.bundle.v0.3+json",
                "config":{{"mediaType":"application/vnd.oci.empty.v1+json","digest":"{e}","size":2}},
                "layers":[{{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","digest":"{b}","size":4971}}],
                "subject":{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{subject}","size":500}}}}"#,
                e = digest('e'),
                b = digest('b'),
            )
        };
        let layers = bundle_layers(manifest(&digest('f')).as_bytes(), &digest('f'))
            .unwrap()
            .unwrap();
        assert_eq!(layers.len(), 1);
        assert_eq!(layers[0].size, 4971);
        let e = bundle_layers(manifest(&digest('d')).as_bytes(), &digest('f')).unwrap_err();
        assert!(e.contains("another image"), "{e}");
        let sbom = r#"{"artifactType":"application/spdx+json","layers":[]}"#;
        assert_eq!(bundle_layers(sbom.as_bytes(), &digest('f')).unwrap(), None);
    }
}
