//! What makes one marker form (`POLICY`, `POLICY:tag`, …): which parts of an image
//! reference its scalar holds, how they are read from it and how a choice is written.

use super::Resolved;

/// A part of an image reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// The repository, `registry.example.com/app`.
    Name,
    /// The tag, `1.2.3`.
    Tag,
    /// The digest, `sha256:…`.
    Digest,
}

/// The parts a marked scalar holds, as read from its value (a part it does not hold, or
/// that the value leaves out, is `None`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Parts<'a> {
    /// The repository as written.
    pub name: Option<&'a str>,
    /// The tag.
    pub tag: Option<&'a str>,
    /// The digest.
    pub digest: Option<&'a str>,
}

/// Why a choice cannot be written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invalid {
    /// A part that failed the OCI grammar: `tag`, `repository` or `digest`, and its value.
    Part(&'static str, String),
    /// The choice has neither tag nor digest.
    Empty,
}

impl Invalid {
    /// `value` is not a valid `what`.
    pub fn part(what: &'static str, value: &str) -> Invalid {
        Invalid::Part(what, value.to_string())
    }
}

/// One marker form. Everything else (scanning, planning, the pass's digest pinning, the
/// versions shown in status) asks the form through these methods.
pub trait Form: Sync {
    /// The parts of the reference the scalar holds.
    fn holds(&self) -> &'static [Part];

    /// The parts in `value`, the scalar's text.
    fn read<'a>(&self, value: &'a str) -> Parts<'a>;

    /// The scalar's new text for `resolved`, given its `current` text; `Ok(None)` when
    /// there is nothing to write (a digest the policy does not give). Every part that came
    /// from a registry is checked against the OCI grammar.
    fn write(&self, current: &str, resolved: &Resolved) -> Result<Option<String>, Invalid>;
}
