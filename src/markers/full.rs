//! The full-reference form (`# {"$baton": "POLICY"}`): `repo:tag`, `repo@digest` or
//! `repo:tag@digest`, the name kept as the file spells it when it means the same image.

use super::Resolved;
use super::form::{Form, Invalid, Part, Parts};
use crate::reference::{ImageName, Reference, is_valid_digest, is_valid_tag};

/// No suffix.
pub struct Full;

impl Form for Full {
    fn holds(&self) -> &'static [Part] {
        &[Part::Name, Part::Tag, Part::Digest]
    }

    fn read<'a>(&self, value: &'a str) -> Parts<'a> {
        let split = Reference::split(value);
        Parts {
            name: Some(split.name),
            tag: split.tag,
            digest: split.digest,
        }
    }

    fn write(&self, current: &str, resolved: &Resolved) -> Result<Option<String>, Invalid> {
        let current = Reference::split(current);
        // Keep the file's spelling of the name when it means the same image.
        let mut value = match (
            ImageName::parse(current.name),
            ImageName::parse(&resolved.repository),
        ) {
            (Ok(a), Ok(b)) if a == b => current.name.to_string(),
            (_, Ok(_)) => resolved.repository.clone(),
            (_, Err(_)) => return Err(Invalid::part("repository", &resolved.repository)),
        };
        if !resolved.tag.is_empty() {
            if !is_valid_tag(&resolved.tag) {
                return Err(Invalid::part("tag", &resolved.tag));
            }
            value.push(':');
            value.push_str(&resolved.tag);
        }
        if let Some(digest) = &resolved.digest {
            if !is_valid_digest(digest) {
                return Err(Invalid::part("digest", digest));
            }
            value.push('@');
            value.push_str(digest);
        }
        if resolved.tag.is_empty() && resolved.digest.is_none() {
            return Err(Invalid::Empty);
        }
        Ok(Some(value))
    }
}
