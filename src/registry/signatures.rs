//! Fetches the cosign signatures of one manifest digest (the `.sig` tag, then the referrers
//! API or its `sha256-<hex>` tag fallback) and judges them with `signature`.
//!
//! Every fetch is bounded: manifests and blobs by size, entries by count; a blob whose bytes
//! do not hash to its descriptor's digest is refused.

use std::sync::atomic::Ordering;

use crate::signature::{
    ARTIFACT_ACCEPT, Descriptor, Layout, MAX_SIGNATURE_BLOB, MAX_SIGNATURE_MANIFEST, PublicKey,
    Verdict, bundle_layers, bundle_manifests, referrers_tag, sig_tag, simple_signing_layers,
    verify_bundle, verify_simple_signing,
};

use super::{Call, RegistryClient, RegistryError, sha256_digest};

/// The referrers API's support on a registry, as learnt: unknown, supported, not supported.
pub(super) const REFERRERS_UNKNOWN: u8 = 0;
const REFERRERS_SUPPORTED: u8 = 1;
const REFERRERS_UNSUPPORTED: u8 = 2;

/// A digest's signature verdict and the requests it took.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureCheck {
    /// The verdict.
    pub verdict: Verdict,
    /// HTTP requests made, token fetches included.
    pub requests: u32,
}

/// What a fetch of remote signature material gave: bytes, nothing there, or a refusal.
enum Fetched {
    Body(Vec<u8>),
    Missing,
    Refused(String),
}

impl RegistryClient {
    /// Judges the cosign signatures of `digest` in `repository` against `keys`. Registry
    /// failures (network, auth, 5xx) are errors; anything wrong with the signatures
    /// themselves is a [`Verdict::BadSignature`].
    pub async fn check_signature(
        &self,
        repository: &str,
        digest: &str,
        keys: &[PublicKey],
    ) -> Result<SignatureCheck, RegistryError> {
        let repo = self.repo_path(repository)?;
        let mut call = Call::new(&repo);
        let (Some(sig_tag), Some(referrers_tag)) = (sig_tag(digest), referrers_tag(digest)) else {
            return Err(self.malformed(&call, format!("{digest:?} is not a sha256 digest")));
        };
        let verdict = self
            .judge(&mut call, digest, keys, &sig_tag, &referrers_tag)
            .await?;
        tracing::debug!(
            registry = %self.host,
            repository = %repo,
            digest,
            verdict = verdict.word(),
            requests = call.requests,
            "signature judged"
        );
        Ok(SignatureCheck {
            verdict,
            requests: call.requests,
        })
    }

    async fn judge(
        &self,
        call: &mut Call<'_>,
        digest: &str,
        keys: &[PublicKey],
        sig_tag: &str,
        referrers_tag: &str,
    ) -> Result<Verdict, RegistryError> {
        let mut failures: Vec<String> = Vec::new();
        let mut found = false;
        // Where this registry's last signature was found is looked at first.
        let bundle_first = self.bundle_first.load(Ordering::Relaxed);
        for bundle in [bundle_first, !bundle_first] {
            let verdict = if bundle {
                self.bundle_verdict(call, digest, keys, referrers_tag, &mut failures, &mut found)
                    .await?
            } else {
                self.sig_tag_verdict(call, digest, keys, sig_tag, &mut failures, &mut found)
                    .await?
            };
            if let Some(verdict) = verdict {
                self.bundle_first.store(bundle, Ordering::Relaxed);
                return Ok(verdict);
            }
        }
        Ok(match (found, failures.into_iter().next()) {
            (_, Some(detail)) => Verdict::BadSignature { detail },
            (false, None) => Verdict::Unsigned,
            (true, None) => Verdict::BadSignature {
                detail: "signature artifacts hold no signature".into(),
            },
        })
    }

    /// cosign 1 and 2: the `.sig` tag's simple-signing layers. `Some` when one is valid.
    async fn sig_tag_verdict(
        &self,
        call: &mut Call<'_>,
        digest: &str,
        keys: &[PublicKey],
        sig_tag: &str,
        failures: &mut Vec<String>,
        found: &mut bool,
    ) -> Result<Option<Verdict>, RegistryError> {
        match self.artifact(call, sig_tag).await? {
            Fetched::Missing => {}
            Fetched::Refused(why) => {
                *found = true;
                failures.push(format!("{sig_tag}: {why}"));
            }
            Fetched::Body(manifest) => {
                *found = true;
                match simple_signing_layers(&manifest) {
                    Err(why) => failures.push(format!("{sig_tag}: {why}")),
                    Ok(layers) if layers.is_empty() => {
                        failures.push(format!("{sig_tag}: no simple-signing layer"))
                    }
                    Ok(layers) => {
                        for layer in layers {
                            let payload = match self.blob(call, &layer.payload).await? {
                                Ok(payload) => payload,
                                Err(why) => {
                                    failures.push(why);
                                    continue;
                                }
                            };
                            match verify_simple_signing(keys, &payload, &layer.signature, digest) {
                                Ok(key) => {
                                    return Ok(Some(signed(keys, key, Layout::SigTag)));
                                }
                                Err(why) => failures.push(why),
                            }
                        }
                    }
                }
            }
        }
        Ok(None)
    }

    /// cosign 3: a Sigstore bundle referring to the digest, through the referrers API or
    /// the referrers tag. `Some` when one is valid.
    async fn bundle_verdict(
        &self,
        call: &mut Call<'_>,
        digest: &str,
        keys: &[PublicKey],
        referrers_tag: &str,
        failures: &mut Vec<String>,
        found: &mut bool,
    ) -> Result<Option<Verdict>, RegistryError> {
        let index = match self.referrers(call, digest).await? {
            Some(index) => Fetched::Body(index),
            None => self.artifact(call, referrers_tag).await?,
        };
        match index {
            Fetched::Missing => {}
            Fetched::Refused(why) => {
                *found = true;
                failures.push(format!("referrers of {digest}: {why}"));
            }
            Fetched::Body(index) => match bundle_manifests(&index) {
                Err(why) => {
                    *found = true;
                    failures.push(why);
                }
                Ok(entries) => {
                    for entry in entries {
                        let manifest = match self.artifact(call, &entry.digest).await? {
                            Fetched::Body(body) if sha256_digest(&body) == entry.digest => body,
                            Fetched::Body(_) => {
                                *found = true;
                                failures.push(format!(
                                    "the referrer manifest {} does not hash to its digest",
                                    entry.digest
                                ));
                                continue;
                            }
                            Fetched::Missing => continue,
                            Fetched::Refused(why) => {
                                *found = true;
                                failures.push(why);
                                continue;
                            }
                        };
                        let layers = match bundle_layers(&manifest, digest) {
                            Ok(None) => continue,
                            Ok(Some(layers)) => layers,
                            Err(why) => {
                                *found = true;
                                failures.push(why);
                                continue;
                            }
                        };
                        *found = true;
                        if layers.is_empty() {
                            failures.push("a bundle manifest has no bundle layer".into());
                        }
                        for layer in layers {
                            let bundle = match self.blob(call, &layer).await? {
                                Ok(bundle) => bundle,
                                Err(why) => {
                                    failures.push(why);
                                    continue;
                                }
                            };
                            match verify_bundle(keys, &bundle, digest) {
                                Ok(key) => return Ok(Some(signed(keys, key, Layout::Bundle))),
                                Err(why) => failures.push(why),
                            }
                        }
                    }
                }
            },
        }
        Ok(None)
    }

    /// GETs a manifest or index by tag or digest, at most [`MAX_SIGNATURE_MANIFEST`] bytes.
    async fn artifact(
        &self,
        call: &mut Call<'_>,
        reference: &str,
    ) -> Result<Fetched, RegistryError> {
        let repo = call.repository.to_string();
        let resp = self
            .get(
                call,
                &format!("manifests/{reference}"),
                Some(ARTIFACT_ACCEPT),
            )
            .await?;
        let status = resp.status();
        if status.as_u16() == 404 {
            return Ok(Fetched::Missing);
        }
        let body = self
            .read_limited(call, resp, MAX_SIGNATURE_MANIFEST)
            .await?;
        let Some(body) = body else {
            return Ok(Fetched::Refused(format!(
                "the manifest {reference} is over {MAX_SIGNATURE_MANIFEST} bytes"
            )));
        };
        if !status.is_success() {
            return Err(self.status_error(
                call,
                status,
                &body,
                format!("manifest {repo}:{reference}"),
            ));
        }
        Ok(Fetched::Body(body))
    }

    /// The referrers API's index for `digest`; `None` when the registry does not offer the
    /// API (learnt once per registry, so later digests go straight to the referrers tag).
    async fn referrers(
        &self,
        call: &mut Call<'_>,
        digest: &str,
    ) -> Result<Option<Vec<u8>>, RegistryError> {
        if self.referrers_api.load(Ordering::Relaxed) == REFERRERS_UNSUPPORTED {
            return Ok(None);
        }
        let repo = call.repository.to_string();
        let resp = self
            .get(
                call,
                &format!("referrers/{digest}"),
                Some("application/vnd.oci.image.index.v1+json"),
            )
            .await?;
        let status = resp.status();
        if matches!(status.as_u16(), 400 | 404 | 405 | 501) {
            self.referrers_api
                .store(REFERRERS_UNSUPPORTED, Ordering::Relaxed);
            tracing::debug!(registry = %self.host, status = status.as_u16(), "no referrers API: using the referrers tag");
            return Ok(None);
        }
        let body = self
            .read_limited(call, resp, MAX_SIGNATURE_MANIFEST)
            .await?;
        let Some(body) = body else {
            return Err(self.malformed(
                call,
                format!("the referrers index of {digest} is over {MAX_SIGNATURE_MANIFEST} bytes"),
            ));
        };
        if !status.is_success() {
            return Err(self.status_error(
                call,
                status,
                &body,
                format!("referrers of {repo}@{digest}"),
            ));
        }
        self.referrers_api
            .store(REFERRERS_SUPPORTED, Ordering::Relaxed);
        Ok(Some(body))
    }

    /// GETs the blob `descriptor` names: refused when it claims or has more than
    /// [`MAX_SIGNATURE_BLOB`] bytes, differs from its claimed size or does not hash to its
    /// digest.
    async fn blob(
        &self,
        call: &mut Call<'_>,
        descriptor: &Descriptor,
    ) -> Result<Result<Vec<u8>, String>, RegistryError> {
        let digest = &descriptor.digest;
        if descriptor.size > MAX_SIGNATURE_BLOB {
            return Ok(Err(format!(
                "the blob {digest} claims {} bytes, over the {MAX_SIGNATURE_BLOB}-byte limit",
                descriptor.size
            )));
        }
        let repo = call.repository.to_string();
        let resp = self.get(call, &format!("blobs/{digest}"), None).await?;
        let status = resp.status();
        if status.as_u16() == 404 {
            return Ok(Err(format!("the blob {digest} is missing")));
        }
        let Some(body) = self.read_limited(call, resp, MAX_SIGNATURE_BLOB).await? else {
            return Ok(Err(format!(
                "the blob {digest} is over the {MAX_SIGNATURE_BLOB}-byte limit"
            )));
        };
        if !status.is_success() {
            return Err(self.status_error(call, status, &body, format!("blob {repo}@{digest}")));
        }
        if u64::try_from(body.len()).ok() != Some(descriptor.size) {
            return Ok(Err(format!(
                "the blob {digest} has {} bytes, not the {} its descriptor says",
                body.len(),
                descriptor.size
            )));
        }
        if sha256_digest(&body) != *digest {
            return Ok(Err(format!(
                "the blob {digest} does not hash to its digest"
            )));
        }
        Ok(Ok(body))
    }
}

fn signed(keys: &[PublicKey], index: usize, layout: Layout) -> Verdict {
    Verdict::Signed {
        key: keys
            .get(index)
            .map(|k| k.fingerprint.clone())
            .unwrap_or_default(),
        layout,
    }
}
