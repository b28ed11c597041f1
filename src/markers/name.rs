//! The `:name` form: the scalar holds the repository alone.

use super::Resolved;
use super::form::{Form, Invalid, Part, Parts};
use crate::reference::ImageName;

/// `POLICY:name`.
pub struct Name;

impl Form for Name {
    fn holds(&self) -> &'static [Part] {
        &[Part::Name]
    }

    fn read<'a>(&self, value: &'a str) -> Parts<'a> {
        Parts {
            name: Some(value),
            ..Parts::default()
        }
    }

    fn write(&self, _: &str, resolved: &Resolved) -> Result<Option<String>, Invalid> {
        if ImageName::parse(&resolved.repository).is_err() {
            return Err(Invalid::part("repository", &resolved.repository));
        }
        Ok(Some(resolved.repository.clone()))
    }
}
