//! Manifests and image configs: the platform's own manifest digest inside an image index,
//! and the `created` time an image config (or an OCI annotation) states.
//!
//! Every body is size-capped, checked against its digest and parsed leniently: fields
//! Baton does not use are ignored, the ones it uses must have the documented types.

use serde::Deserialize;
use std::collections::BTreeMap;

use super::error::sanitize;
use super::{
    Call, MANIFEST_ACCEPT, Platform, RegistryClient, RegistryError, header_str, sha256_digest,
};
use crate::reference::{is_valid_digest, is_valid_tag};

/// The OCI annotation for when an image was built.
pub const CREATED_ANNOTATION: &str = "org.opencontainers.image.created";

/// Most index entries read; a larger index is refused as hostile.
pub const MAX_INDEX_ENTRIES: usize = 10_000;

/// A manifest as fetched: its digest and what Baton reads of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// `sha256:` digest of the bytes served.
    pub digest: String,
    /// What kind it is.
    pub kind: ManifestKind,
    /// `org.opencontainers.image.created`, when annotated.
    pub created_annotation: Option<String>,
}

/// An image index (or Docker manifest list), or a single image manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ManifestKind {
    /// Entries of an index.
    Index(Vec<IndexEntry>),
    /// An image manifest, with its config blob's digest.
    Image {
        /// The config descriptor's digest.
        config: String,
    },
}

/// One entry of an image index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexEntry {
    /// The platform manifest's digest.
    pub digest: String,
    /// `os/architecture[/variant]` when the entry names one.
    pub platform: Option<(String, String, Option<String>)>,
}

impl IndexEntry {
    fn platform_text(&self) -> Option<String> {
        let (os, arch, variant) = self.platform.as_ref()?;
        Some(match variant {
            Some(v) => format!("{os}/{arch}/{v}"),
            None => format!("{os}/{arch}"),
        })
    }
}

/// What an image config says about itself.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ImageConfigInfo {
    /// The `created` text, as written.
    pub created: Option<String>,
    /// `os/architecture[/variant]`, when present.
    pub platform: Option<String>,
}

#[derive(Deserialize)]
struct RawManifest {
    #[serde(default)]
    manifests: Option<Vec<RawDescriptor>>,
    #[serde(default)]
    config: Option<RawDescriptor>,
    #[serde(default)]
    annotations: Option<BTreeMap<String, serde_json::Value>>,
}

#[derive(Deserialize)]
struct RawDescriptor {
    digest: String,
    #[serde(default)]
    platform: Option<RawPlatform>,
}

#[derive(Deserialize)]
struct RawPlatform {
    #[serde(default)]
    os: String,
    #[serde(default)]
    architecture: String,
    #[serde(default)]
    variant: Option<String>,
}

#[derive(Deserialize)]
struct RawConfig {
    #[serde(default)]
    created: Option<serde_json::Value>,
    #[serde(default)]
    os: Option<String>,
    #[serde(default)]
    architecture: Option<String>,
    #[serde(default)]
    variant: Option<String>,
}

/// Parses a manifest body; `Err` says what is wrong in words.
pub fn parse_manifest(digest: String, body: &[u8]) -> Result<Manifest, String> {
    let raw: RawManifest = serde_json::from_slice(body)
        .map_err(|e| format!("the manifest is not the expected JSON ({e})"))?;
    let created_annotation = raw
        .annotations
        .as_ref()
        .and_then(|a| a.get(CREATED_ANNOTATION))
        .and_then(|v| v.as_str())
        .map(|s| s.chars().take(100).collect());
    let kind = match (raw.manifests, raw.config) {
        (Some(entries), _) => {
            if entries.len() > MAX_INDEX_ENTRIES {
                return Err(format!(
                    "the index lists {} manifests, more than the {MAX_INDEX_ENTRIES} Baton reads",
                    entries.len()
                ));
            }
            let mut out = Vec::with_capacity(entries.len());
            for entry in entries {
                if !is_valid_digest(&entry.digest) {
                    return Err(format!(
                        "an index entry's digest {:?} is not sha256 + 64 hex",
                        sanitize(&entry.digest, 100)
                    ));
                }
                out.push(IndexEntry {
                    digest: entry.digest,
                    platform: entry.platform.map(|p| {
                        (
                            sanitize(&p.os, 32),
                            sanitize(&p.architecture, 32),
                            p.variant.map(|v| sanitize(&v, 32)),
                        )
                    }),
                });
            }
            ManifestKind::Index(out)
        }
        (None, Some(config)) => {
            if !is_valid_digest(&config.digest) {
                return Err(format!(
                    "the config digest {:?} is not sha256 + 64 hex",
                    sanitize(&config.digest, 100)
                ));
            }
            ManifestKind::Image {
                config: config.digest,
            }
        }
        (None, None) => {
            return Err("the manifest has neither `manifests` nor `config`".to_string());
        }
    };
    Ok(Manifest {
        digest,
        kind,
        created_annotation,
    })
}

/// Parses an image config's `created` and platform.
pub fn parse_image_config(body: &[u8]) -> Result<ImageConfigInfo, String> {
    let raw: RawConfig = serde_json::from_slice(body)
        .map_err(|e| format!("the image config is not the expected JSON ({e})"))?;
    let created = match raw.created {
        Some(serde_json::Value::String(s)) => Some(s.chars().take(100).collect()),
        Some(serde_json::Value::Null) | None => None,
        // A number or an object: keep it as text, it is reported as unparsable.
        Some(other) => Some(sanitize(&other.to_string(), 100)),
    };
    let platform = match (raw.os, raw.architecture) {
        (Some(os), Some(arch)) => Some(match raw.variant {
            Some(v) => format!(
                "{}/{}/{}",
                sanitize(&os, 32),
                sanitize(&arch, 32),
                sanitize(&v, 32)
            ),
            None => format!("{}/{}", sanitize(&os, 32), sanitize(&arch, 32)),
        }),
        _ => None,
    };
    Ok(ImageConfigInfo { created, platform })
}

impl RegistryClient {
    /// Fetches the manifest `reference` (a tag or a digest) names, checking the bytes against
    /// the digest the registry states (or the one asked for).
    pub async fn read_manifest(
        &self,
        repository: &str,
        reference: &str,
    ) -> Result<Manifest, RegistryError> {
        let repo = self.repo_path(repository)?;
        let mut call = Call::new(&repo);
        self.fetch_manifest(&mut call, reference).await
    }

    async fn fetch_manifest(
        &self,
        call: &mut Call<'_>,
        reference: &str,
    ) -> Result<Manifest, RegistryError> {
        if !is_valid_tag(reference) && !is_valid_digest(reference) {
            return Err(RegistryError::Config {
                registry: self.host.clone(),
                repository: call.repository.to_string(),
                detail: format!(
                    "{:?} is neither a valid tag nor a sha256 digest",
                    sanitize(reference, 200)
                ),
            });
        }
        let resp = self
            .get(
                call,
                &format!("manifests/{reference}"),
                Some(MANIFEST_ACCEPT),
            )
            .await?;
        let status = resp.status();
        let header =
            header_str(resp.headers(), "docker-content-digest").map(|d| d.trim().to_string());
        let body = self.read_body(call, resp).await?;
        if !status.is_success() {
            let what = format!("manifest {}:{reference}", call.repository);
            return Err(self.status_error(call, status, &body, what));
        }
        let computed = sha256_digest(&body);
        let stated = if is_valid_digest(reference) {
            Some(reference.to_string())
        } else {
            header.filter(|h| h.starts_with("sha256:"))
        };
        if let Some(stated) = stated
            && stated != computed
        {
            return Err(self.malformed(
                call,
                format!(
                    "the manifest for {reference} does not match its digest {:?} (the bytes hash to {computed})",
                    sanitize(&stated, 100)
                ),
            ));
        }
        parse_manifest(computed, &body)
            .map_err(|detail| self.malformed(call, format!("manifest {reference}: {detail}")))
    }

    /// Fetches the image config blob `digest` and reads its `created` and platform.
    async fn fetch_config(
        &self,
        call: &mut Call<'_>,
        digest: &str,
    ) -> Result<ImageConfigInfo, RegistryError> {
        let resp = self.get(call, &format!("blobs/{digest}"), None).await?;
        let status = resp.status();
        let body = self.read_body(call, resp).await?;
        if !status.is_success() {
            let what = format!("config blob {digest} of {}", call.repository);
            return Err(self.status_error(call, status, &body, what));
        }
        if sha256_digest(&body) != digest {
            return Err(self.malformed(
                call,
                format!("the config blob {digest} does not match its digest"),
            ));
        }
        parse_image_config(&body).map_err(|detail| self.malformed(call, detail))
    }

    /// The digest to pin for `tag` on `platform`: the matching entry of an image index, or
    /// the manifest itself when it is a single image for that platform. A platform the tag
    /// does not have is an error naming the platforms it has.
    pub async fn platform_digest(
        &self,
        repository: &str,
        tag: &str,
        platform: &Platform,
    ) -> Result<String, RegistryError> {
        let repo = self.repo_path(repository)?;
        let mut call = Call::new(&repo);
        let manifest = self.fetch_manifest(&mut call, tag).await?;
        let present: Vec<String> = match &manifest.kind {
            ManifestKind::Index(entries) => {
                if let Some(entry) = entries.iter().find(|e| {
                    e.platform
                        .as_ref()
                        .is_some_and(|(os, arch, v)| platform.matches(os, arch, v.as_deref()))
                }) {
                    return Ok(entry.digest.clone());
                }
                entries
                    .iter()
                    .filter_map(IndexEntry::platform_text)
                    .collect()
            }
            ManifestKind::Image { config } => {
                let info = self.fetch_config(&mut call, config).await?;
                let fits = info.platform.as_deref().is_some_and(|text| {
                    Platform::parse(text).is_ok_and(|p| {
                        platform.matches(&p.os, &p.architecture, p.variant.as_deref())
                    })
                });
                if fits {
                    return Ok(manifest.digest);
                }
                info.platform.into_iter().collect()
            }
        };
        let mut present = present;
        present.sort();
        present.dedup();
        let shown: Vec<String> = present.iter().take(20).cloned().collect();
        Err(RegistryError::NoPlatform {
            registry: self.host.clone(),
            repository: repo.clone(),
            tag: tag.to_string(),
            platform: platform.to_string(),
            present: if shown.is_empty() {
                "none named".to_string()
            } else if present.len() > shown.len() {
                format!(
                    "{} and {} more",
                    shown.join(", "),
                    present.len() - shown.len()
                )
            } else {
                shown.join(", ")
            },
        })
    }

    /// What `tag` says about when it was built: the digest of the tag's manifest, and the
    /// `created` text of the index or manifest annotation, else of the image config (the
    /// entry for `platform` of an index, or its first entry naming a real platform).
    /// Returns the requests made.
    pub async fn created(
        &self,
        repository: &str,
        tag: &str,
        platform: Option<&Platform>,
    ) -> Result<CreatedInfo, RegistryError> {
        let repo = self.repo_path(repository)?;
        let mut call = Call::new(&repo);
        let manifest = self.fetch_manifest(&mut call, tag).await?;
        let digest = manifest.digest.clone();
        if let Some(created) = manifest.created_annotation {
            return Ok(CreatedInfo {
                digest,
                created: Some(created),
                requests: call.requests,
            });
        }
        let config = match manifest.kind {
            ManifestKind::Image { config } => config,
            ManifestKind::Index(entries) => {
                let chosen = entries.iter().find(|e| match (&e.platform, platform) {
                    (Some((os, arch, v)), Some(p)) => p.matches(os, arch, v.as_deref()),
                    // Attestation entries name the platform "unknown/unknown".
                    (Some((os, _, _)), None) => os != "unknown",
                    (None, _) => false,
                });
                let Some(entry) = chosen else {
                    return Ok(CreatedInfo {
                        digest,
                        created: None,
                        requests: call.requests,
                    });
                };
                let inner = self
                    .fetch_manifest(&mut call, &entry.digest.clone())
                    .await?;
                if let Some(created) = inner.created_annotation {
                    return Ok(CreatedInfo {
                        digest,
                        created: Some(created),
                        requests: call.requests,
                    });
                }
                match inner.kind {
                    ManifestKind::Image { config } => config,
                    ManifestKind::Index(_) => {
                        return Err(self.malformed(
                            &call,
                            format!("the index of {tag} nests another index, which Baton does not follow"),
                        ));
                    }
                }
            }
        };
        let info = self.fetch_config(&mut call, &config).await?;
        Ok(CreatedInfo {
            digest,
            created: info.created,
            requests: call.requests,
        })
    }
}

/// What [`RegistryClient::created`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatedInfo {
    /// The tag's manifest (or index) digest.
    pub digest: String,
    /// The `created` text as the image states it, unchecked.
    pub created: Option<String>,
    /// Requests made.
    pub requests: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:0000000000000000000000000000000000000000000000000000000000000000";

    #[test]
    fn index_and_image() {
        let index = format!(
            r#"{{"schemaVersion":2,"manifests":[{{"digest":"{D}","platform":{{"os":"linux","architecture":"arm64","variant":"v8"}}}},{{"digest":"{D}"}}],"annotations":{{"{CREATED_ANNOTATION}":"2026-01-01T00:00:00Z"}}}}"#
        );
        let m = parse_manifest(D.into(), index.as_bytes()).unwrap();
        assert_eq!(
            m.created_annotation.as_deref(),
            Some("2026-01-01T00:00:00Z")
        );
        let ManifestKind::Index(entries) = m.kind else {
            panic!()
        };
        assert_eq!(
            entries[0].platform_text().as_deref(),
            Some("linux/arm64/v8")
        );
        assert_eq!(entries[1].platform, None);
        let image = format!(r#"{{"config":{{"digest":"{D}"}},"layers":[]}}"#);
        let m = parse_manifest(D.into(), image.as_bytes()).unwrap();
        assert_eq!(m.kind, ManifestKind::Image { config: D.into() });
    }

    #[test]
    fn hostile_manifests() {
        assert!(parse_manifest(D.into(), b"{}").is_err());
        assert!(parse_manifest(D.into(), b"not json").is_err());
        assert!(parse_manifest(D.into(), br#"{"config":{"digest":"sha256:zz"}}"#).is_err());
        assert!(parse_manifest(D.into(), br#"{"manifests":[{"digest":"md5:1"}]}"#).is_err());
        let many: Vec<String> = (0..=MAX_INDEX_ENTRIES)
            .map(|_| format!(r#"{{"digest":"{D}"}}"#))
            .collect();
        let huge = format!(r#"{{"manifests":[{}]}}"#, many.join(","));
        let e = parse_manifest(D.into(), huge.as_bytes()).unwrap_err();
        assert!(e.contains("10000"), "{e}");
    }

    #[test]
    fn image_configs() {
        let c = parse_image_config(
            br#"{"created":"2026-11-26T10:00:00Z","os":"linux","architecture":"arm64"}"#,
        )
        .unwrap();
        assert_eq!(c.created.as_deref(), Some("2026-11-26T10:00:00Z"));
        assert_eq!(c.platform.as_deref(), Some("linux/arm64"));
        let c = parse_image_config(br#"{"created":12345}"#).unwrap();
        assert_eq!(c.created.as_deref(), Some("12345"));
        assert_eq!(
            parse_image_config(b"{}").unwrap(),
            ImageConfigInfo::default()
        );
        assert!(parse_image_config(b"[").is_err());
    }
}
