//! The `:tag` form: the scalar holds the tag alone.

use super::Resolved;
use super::form::{Form, Invalid, Part, Parts};
use crate::reference::is_valid_tag;

/// `POLICY:tag`.
pub struct Tag;

impl Form for Tag {
    fn holds(&self) -> &'static [Part] {
        &[Part::Tag]
    }

    fn read<'a>(&self, value: &'a str) -> Parts<'a> {
        Parts {
            tag: Some(value),
            ..Parts::default()
        }
    }

    fn write(&self, _: &str, resolved: &Resolved) -> Result<Option<String>, Invalid> {
        if !is_valid_tag(&resolved.tag) {
            return Err(Invalid::part("tag", &resolved.tag));
        }
        Ok(Some(resolved.tag.clone()))
    }
}
