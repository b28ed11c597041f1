//! Per-tag eligibility judgements (a tag's age against `min_age`, its digest's cosign
//! signatures), made once per tag digest and kept in the state directory, and what a scan
//! found.
//!
//! A scan judges only the tags a policy would choose, best first, until one is eligible;
//! `pass` applies the verdicts when it chooses, so a young tag becomes a candidate when its
//! time comes without another request.

mod age;
mod store;

use std::collections::BTreeMap;

use jiff::Timestamp;

pub use age::{Age, AgeSource, FUTURE_SKEW, PLACEHOLDER_BEFORE};
pub use store::{DigestRecord, FILE_NAME, SignatureRecord, Store};

/// Most tags judged with registry requests per image and scan; the rest wait for the next.
pub const MAX_NEW_JUDGEMENTS: usize = 10;

/// How long an unsigned or bad-signature verdict stands before the digest is looked at
/// again: cosign usually signs just after the push. A signed verdict stands for good.
pub const SIGNATURE_RECHECK: std::time::Duration = std::time::Duration::from_secs(600);

/// What is known about one tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Judged: its age (when `min_age` is set) and signatures (when `signature` is).
    Judged {
        /// The age judgement, when the image has `min_age`.
        age: Option<Age>,
        /// The signature verdict of the tag's digest, when the image has `signature`.
        signature: Option<crate::signature::Verdict>,
    },
    /// Not judged yet: more new tags than one scan judges, or the registry failed.
    Unjudged {
        /// Why.
        reason: String,
    },
}

/// Why a tag is not a candidate now, and until when (when known).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hold {
    /// In words: `too young until 2026-11-27T01:00:00Z (created ...)`.
    pub reason: String,
    /// When it becomes a candidate without anything else happening.
    pub until: Option<Timestamp>,
    /// The kind, for machines: `too young`, `unsigned`, `bad signature` or `not judged`.
    pub kind: &'static str,
}

impl Verdict {
    /// Why the tag is not a candidate at `now`, or `None` when it is.
    pub fn hold(&self, now: Timestamp) -> Option<Hold> {
        match self {
            Verdict::Judged {
                signature: Some(signature),
                ..
            } if !signature.is_signed() => Some(Hold {
                reason: signature.to_string(),
                until: None,
                kind: signature.word(),
            }),
            Verdict::Judged { age: Some(age), .. } if !age.old_enough(now) => Some(Hold {
                reason: age.hold_text(),
                until: Some(age.eligible_at),
                kind: "too young",
            }),
            Verdict::Judged { .. } => None,
            Verdict::Unjudged { reason } => Some(Hold {
                reason: reason.clone(),
                until: None,
                kind: "not judged",
            }),
        }
    }
}

/// What following a moving tag found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Follow {
    /// `tag` among the policy's tags has the moving tag's `digest`.
    Found {
        /// The moving tag.
        moving: String,
        /// The sibling.
        tag: String,
        /// The shared digest.
        digest: String,
    },
    /// No sibling, or the moving tag could not be resolved: nothing is written.
    Failed(String),
}

/// Everything a scan judged about one image's tags.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Judged {
    /// Tags judged (those a policy would choose, best first, until an eligible one).
    pub verdicts: BTreeMap<String, Verdict>,
    /// Per policy with `follow`: what following found.
    pub follows: BTreeMap<String, Follow>,
    /// Registry requests the judgements took.
    pub requests: u32,
    /// Of those, the ones every scan makes again (following moving tags).
    pub per_scan: u32,
    /// New judgements made in this scan (the rest were read from the store).
    pub new: usize,
    /// The fingerprint of the signature keys the verdicts were reached with
    /// ([`crate::signature::keys_fingerprint`]), when the image has `signature`.
    pub signature_keys: Option<String>,
}

impl Judged {
    /// Why `tag` is not a candidate at `now`: held by its verdict, or never judged (it ranks
    /// below what was judged); `None` when it is a candidate.
    pub fn hold(&self, tag: &str, now: Timestamp) -> Option<Hold> {
        match self.verdicts.get(tag) {
            Some(verdict) => verdict.hold(now),
            None => Some(Hold {
                reason: "not judged".to_string(),
                until: None,
                kind: "not judged",
            }),
        }
    }
}
