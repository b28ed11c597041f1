//! The `:digest` form: the scalar holds the digest alone, pinned whatever the policy's
//! `pin_digest` says.

use super::Resolved;
use super::form::{Form, Invalid, Part, Parts};
use crate::reference::is_valid_digest;

/// `POLICY:digest`.
pub struct Digest;

impl Form for Digest {
    fn holds(&self) -> &'static [Part] {
        &[Part::Digest]
    }

    fn read<'a>(&self, value: &'a str) -> Parts<'a> {
        Parts {
            digest: Some(value),
            ..Parts::default()
        }
    }

    fn write(&self, _: &str, resolved: &Resolved) -> Result<Option<String>, Invalid> {
        match &resolved.digest {
            Some(digest) if is_valid_digest(digest) => Ok(Some(digest.clone())),
            Some(digest) => Err(Invalid::part("digest", digest)),
            None => Ok(None),
        }
    }
}
