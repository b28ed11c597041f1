//! Per-tag eligibility judgements (a tag's age against `min_age`; signatures join here),
//! made once per tag digest and kept in the state directory, and what a scan found.
//!
//! A scan judges only the tags a policy would choose, best first, until one is eligible;
//! `pass` applies the verdicts when it chooses, so a young tag becomes a candidate when its
//! time comes without another request.

mod age;
mod store;

use std::collections::BTreeMap;

use jiff::Timestamp;

pub use age::{Age, AgeSource, FUTURE_SKEW, PLACEHOLDER_BEFORE};
pub use store::{DigestRecord, FILE_NAME, Store};

/// Most tags judged with registry requests per image and scan; the rest wait for the next.
pub const MAX_NEW_JUDGEMENTS: usize = 10;

/// What is known about one tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Judged: its age (when `min_age` is set).
    Judged {
        /// The age judgement, when the image has `min_age`.
        age: Option<Age>,
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
}

impl Verdict {
    /// Why the tag is not a candidate at `now`, or `None` when it is.
    pub fn hold(&self, now: Timestamp) -> Option<Hold> {
        match self {
            Verdict::Judged { age: Some(age) } if !age.old_enough(now) => Some(Hold {
                reason: age.hold_text(),
                until: Some(age.eligible_at),
            }),
            Verdict::Judged { .. } => None,
            Verdict::Unjudged { reason } => Some(Hold {
                reason: reason.clone(),
                until: None,
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
    /// New judgements made in this scan (the rest were read from the store).
    pub new: usize,
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
            }),
        }
    }
}
