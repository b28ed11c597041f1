//! Finding marker comments in a repository and rewriting only the scalars they mark.
//! Scanning and planning return data; `apply` is the one place that writes files.

mod config;
mod edit;
mod form;
mod parse;
mod scan;
mod text;

mod digest;
mod full;
mod name;
mod tag;

use std::fmt;

use crate::common::kind::named_kinds;
use std::path::PathBuf;
use std::sync::Arc;

pub use config::MarkersConfig;
pub use edit::{ApplyError, apply, apply_edits, edit_text, plan};
pub use form::{Form, Invalid, Part, Parts};
pub(crate) use scan::scan_text;
pub use scan::{ScanError, scan};
pub use text::{Text, TextError};

/// Reads the markers in one file's text, as `scan` does for each file it reads, without
/// touching the disk. `path` is the name used in markers and problems.
pub fn scan_str(path: &std::path::Path, text: &str) -> Scan {
    let (markers, problems) = scan::scan_text(path, text);
    let files = if markers.is_empty() {
        Vec::new()
    } else {
        vec![FileScan {
            path: path.to_path_buf(),
            markers,
            text: Text::Held(Arc::from(text)),
        }]
    };
    Scan {
        files,
        problems,
        skipped: Skipped::default(),
        files_read: 1,
    }
}

named_kinds! {
    /// Which part of an image reference a marked scalar holds: the marker's suffix
    /// (`POLICY:tag`), each with its [`Form`]. The first, the whole reference, has no suffix.
    pub enum Field: "a marker field", fn form -> dyn Form {
        /// The whole reference, `repo:tag` or `repo:tag@digest` (no suffix on the marker).
        Full = "reference" => full::Full,
        /// The tag only (`:tag`).
        Tag = "tag" => tag::Tag,
        /// The repository only (`:name`).
        Name = "name" => name::Name,
        /// The digest only (`:digest`).
        Digest = "digest" => digest::Digest,
    }
}

impl Field {
    /// The parts of the reference in `value`, a scalar of this form.
    pub fn read(self, value: &str) -> Parts<'_> {
        self.form().read(value)
    }

    /// True when the scalar holds `part`.
    pub fn holds(self, part: Part) -> bool {
        self.form().holds().contains(&part)
    }

    /// True when the scalar holds a digest and nothing else: pinned whatever the policy says.
    pub fn digest_only(self) -> bool {
        self.form().holds() == [Part::Digest]
    }
}

/// One marker found in a file, with the value it currently marks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Marker {
    /// Path relative to the repository root.
    pub path: PathBuf,
    /// Line number, from 1.
    pub line: usize,
    /// The policy name the marker refers to.
    pub policy: String,
    /// Flux's namespace part, for `$imagepolicy` markers.
    pub namespace: Option<String>,
    /// Which part of the reference the scalar holds.
    pub field: Field,
    /// The reason a person froze this line, if they did.
    pub hold: Option<String>,
    /// The scalar's current value, without quotes.
    pub current: String,
    /// Byte range of the value inside the file.
    pub(crate) span: std::ops::Range<usize>,
}

impl Marker {
    /// Byte range of the marked value (inside its quotes) in the file's text.
    pub fn span(&self) -> std::ops::Range<usize> {
        self.span.clone()
    }
}

/// The version a policy chose, as the edit needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The repository a full-reference or `:name` marker writes.
    pub repository: String,
    /// The tag a full-reference or `:tag` marker writes.
    pub tag: String,
    /// The digest to pin, when the policy pins digests (required for `:digest` markers).
    pub digest: Option<String>,
}

/// Where and how to look for markers.
#[derive(Debug, Clone)]
pub struct ScanOptions {
    /// Glob patterns searched besides `*.yaml`, `*.yml` and `Kustomization`.
    pub extra_globs: Vec<String>,
    /// Files larger than this many bytes are skipped and counted.
    pub max_file_size: u64,
    /// Walker threads; 0 picks one per core.
    pub threads: usize,
    /// Keep the text of every file holding markers in memory ([`Text::Held`]); when false,
    /// only its length and SHA-256 ([`Text::File`]) and the file is read again when the plan
    /// or the commit needs it: a little more CPU, and no text of the whole scan held at once.
    pub keep_texts: bool,
}

impl Default for ScanOptions {
    fn default() -> Self {
        ScanOptions {
            extra_globs: Vec::new(),
            max_file_size: 4 * 1024 * 1024,
            threads: 0,
            keep_texts: true,
        }
    }
}

/// A problem with one file or marker; the rest of the scan goes on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Path relative to the repository root.
    pub path: PathBuf,
    /// Line number from 1, or 0 when the problem is with the whole file.
    pub line: usize,
    /// What is wrong and what to do.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.path.display(), self.message)
        } else {
            write!(f, "{}:{}: {}", self.path.display(), self.line, self.message)
        }
    }
}

/// Files the scan did not read, by reason.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Skipped {
    /// Larger than the size cap.
    pub too_large: usize,
    /// Holding a NUL byte in their first 8 KiB.
    pub binary: usize,
    /// Symbolic links (never followed).
    pub symlinks: usize,
    /// Holding a marker but not valid UTF-8.
    pub not_utf8: usize,
    /// Could not be read.
    pub unreadable: usize,
}

impl Skipped {
    /// Total files skipped.
    pub fn total(&self) -> usize {
        self.too_large + self.binary + self.symlinks + self.not_utf8 + self.unreadable
    }
}

impl fmt::Display for Skipped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = [
            (self.too_large, "too large"),
            (self.binary, "binary"),
            (self.symlinks, "symbolic links"),
            (self.not_utf8, "not UTF-8"),
            (self.unreadable, "unreadable"),
        ]
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, why)| format!("{n} {why}"))
        .collect();
        if parts.is_empty() {
            f.write_str("none")
        } else {
            f.write_str(&parts.join(", "))
        }
    }
}

/// One file that holds markers.
#[derive(Debug, Clone)]
pub struct FileScan {
    /// Path relative to the repository root.
    pub path: PathBuf,
    /// The markers, in line order.
    pub markers: Vec<Marker>,
    /// The file's text as read, held or left in the file.
    pub text: Text,
}

/// What a scan found.
#[derive(Debug, Clone, Default)]
pub struct Scan {
    /// Files holding at least one well-formed marker, sorted by path.
    pub files: Vec<FileScan>,
    /// Malformed markers and unreadable files.
    pub problems: Vec<Problem>,
    /// Files not read, by reason.
    pub skipped: Skipped,
    /// How many files were read.
    pub files_read: usize,
}

/// One marked value that changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// Line number, from 1.
    pub line: usize,
    /// The marker's policy.
    pub policy: String,
    /// The part of the reference the value holds.
    pub field: Field,
    /// The value before.
    pub from: String,
    /// The value after.
    pub to: String,
}

/// The edit of one file and why it changed. The new text is not kept: [`FileEdit::after`]
/// makes it from the text as scanned whenever it is needed, so a plan of thousands of files
/// does not hold each file's new text (peak memory).
#[derive(Debug, Clone)]
pub struct FileEdit {
    /// Path relative to the repository root.
    pub path: PathBuf,
    /// The text as scanned; `apply` and `after` refuse a file that no longer holds it.
    pub before: Text,
    /// The byte ranges of `before` replaced and their new values, checked by the plan.
    pub(crate) replacements: Vec<(std::ops::Range<usize>, String)>,
    /// The values that change, in line order.
    pub changes: Vec<Change>,
}

impl FileEdit {
    /// The text to write: `before` with the planned replacements, the text the plan checked.
    pub fn after(&self) -> Result<String, TextError> {
        Ok(self.texts()?.1)
    }

    /// The text as scanned and the text to write, `before` read once.
    pub fn texts(&self) -> Result<(std::borrow::Cow<'_, str>, String), TextError> {
        let before = self.before.get()?;
        let after = edit::edit_text(&before, &self.replacements);
        Ok((before, after))
    }
}

/// Every edit a set of policy choices leads to, without anything written yet.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    /// Files to rewrite, sorted by path.
    pub edits: Vec<FileEdit>,
    /// Markers left alone because a person holds them.
    pub held: Vec<Marker>,
    /// Markers and files that could not be handled, scan problems included.
    pub problems: Vec<Problem>,
}
