//! What one file's content holds, whatever its path: the unit a cache keyed by content (a git
//! blob id) keeps, so that content seen before is neither read nor scanned again.

use std::path::Path;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::scan::{BINARY_PROBE, has_marker_text, scan_text};
use super::{FileScan, Marker, Problem, Scan};

/// What a file's bytes hold for the marker scan (the size cap aside, which depends on the
/// configuration and is checked against the size kept beside it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ContentScan {
    /// A NUL byte in the first 8 KiB.
    Binary,
    /// A marker key in it, but not valid UTF-8.
    NotUtf8,
    /// No marker key anywhere.
    NoMarkers,
    /// Its markers and malformed markers, in line order.
    Markers {
        /// Well-formed markers.
        markers: Vec<ContentMarker>,
        /// Malformed markers.
        problems: Vec<ContentProblem>,
    },
}

/// A marker without its path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContentMarker {
    /// Line number, from 1.
    pub line: usize,
    /// The policy named.
    pub policy: String,
    /// Flux's namespace part.
    pub namespace: Option<String>,
    /// The marker's field, as written in the marker's suffix (`tag`, `name`, ...).
    pub field: String,
    /// Why a person froze the line.
    pub hold: Option<String>,
    /// The value marked.
    pub current: String,
    /// Byte offset where the value starts.
    pub start: usize,
    /// Byte offset where the value ends.
    pub end: usize,
}

/// A malformed marker without its path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContentProblem {
    /// Line number, from 1.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

/// Reads the texts of files a scan kept only the markers of (see [`Scan::add_content`]),
/// when an edit needs them.
pub trait TextSource: std::fmt::Debug + Send + Sync {
    /// The texts of `paths`, in the same order; an error says why one cannot be had.
    fn texts(&self, paths: &[&Path]) -> Vec<Result<Arc<str>, String>>;
}

impl ContentScan {
    /// Scans `bytes` and returns what they hold, with the text when it has markers (so a
    /// caller that just read the file need not read it again).
    pub fn of(bytes: Vec<u8>) -> (ContentScan, Option<Arc<str>>) {
        if memchr::memchr(0, &bytes[..bytes.len().min(BINARY_PROBE)]).is_some() {
            return (ContentScan::Binary, None);
        }
        if !has_marker_text(&bytes) {
            return (ContentScan::NoMarkers, None);
        }
        let Ok(text) = String::from_utf8(bytes) else {
            return (ContentScan::NotUtf8, None);
        };
        let (markers, problems) = scan_text(Path::new(""), &text);
        let scan = ContentScan::Markers {
            markers: markers
                .into_iter()
                .map(|m| ContentMarker {
                    line: m.line,
                    policy: m.policy,
                    namespace: m.namespace,
                    field: m.field.as_str().to_string(),
                    hold: m.hold,
                    current: m.current,
                    start: m.span.start,
                    end: m.span.end,
                })
                .collect(),
            problems: problems
                .into_iter()
                .map(|p| ContentProblem {
                    line: p.line,
                    message: p.message,
                })
                .collect(),
        };
        (scan, Some(Arc::from(text)))
    }

    /// The markers at `path`; an error when a field is unknown (a cache written by another
    /// version, not to be trusted).
    fn markers_at(&self, path: &Path) -> Result<Vec<Marker>, String> {
        let ContentScan::Markers { markers, .. } = self else {
            return Ok(Vec::new());
        };
        markers
            .iter()
            .map(|m| {
                Ok(Marker {
                    path: path.to_path_buf(),
                    line: m.line,
                    policy: m.policy.clone(),
                    namespace: m.namespace.clone(),
                    field: m.field.parse().map_err(|e| format!("{e}"))?,
                    hold: m.hold.clone(),
                    current: m.current.clone(),
                    span: m.start..m.end,
                })
            })
            .collect()
    }
}

impl Scan {
    /// Adds the file at `path` whose content holds `content`, as [`super::scan`] counts a
    /// file it reads. `text` is the file's text when the caller has it; without it, an edit
    /// asks [`Scan::texts`] for it. An error when `content` cannot be turned into markers.
    pub fn add_content(
        &mut self,
        path: &Path,
        content: &ContentScan,
        text: Option<Arc<str>>,
    ) -> Result<(), String> {
        match content {
            ContentScan::Binary => self.skipped.binary += 1,
            ContentScan::NotUtf8 => self.skipped.not_utf8 += 1,
            ContentScan::NoMarkers => self.files_read += 1,
            ContentScan::Markers { problems, .. } => {
                let markers = content.markers_at(path)?;
                self.files_read += 1;
                self.problems.extend(problems.iter().map(|p| Problem {
                    path: path.to_path_buf(),
                    line: p.line,
                    message: p.message.clone(),
                }));
                if !markers.is_empty() {
                    self.files.push(FileScan {
                        path: path.to_path_buf(),
                        markers,
                        text,
                    });
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_content_scan_gives_what_the_file_scan_gives() {
        let text = "a: 1\nimage: app:1.0 # {\"$imagepolicy\": \"ns:app\"}\n  tag: \"2\" # {\"$baton\": \"app:tag\", \"hold\": \"INC-1\"}\nbad: 1 # {\"$baton\": 7}\n";
        let (content, read) = ContentScan::of(text.as_bytes().to_vec());
        assert_eq!(read.as_deref(), Some(text));
        let mut from_content = Scan::default();
        from_content
            .add_content(Path::new("d/f.yaml"), &content, None)
            .unwrap();
        let from_text = super::super::scan_str(Path::new("d/f.yaml"), text);
        assert_eq!(from_content.files.len(), 1);
        assert_eq!(from_content.files[0].markers, from_text.files[0].markers);
        assert_eq!(from_content.problems, from_text.problems);
        assert!(from_content.files[0].text.is_none());
        // Survives the cache's encoding.
        let json = serde_json::to_string(&content).unwrap();
        assert_eq!(serde_json::from_str::<ContentScan>(&json).unwrap(), content);
    }

    #[test]
    fn binary_not_utf8_and_unmarked_content() {
        assert_eq!(
            ContentScan::of(b"a\0\"$baton\"".to_vec()).0,
            ContentScan::Binary
        );
        assert_eq!(
            ContentScan::of(b"a: 1\n".to_vec()).0,
            ContentScan::NoMarkers
        );
        assert_eq!(
            ContentScan::of(b"a: \xff # {\"$baton\": \"x\"}\n".to_vec()).0,
            ContentScan::NotUtf8
        );
    }

    #[test]
    fn an_unknown_field_is_refused_not_guessed() {
        let content = ContentScan::Markers {
            markers: vec![ContentMarker {
                line: 1,
                policy: "p".into(),
                namespace: None,
                field: "colour".into(),
                hold: None,
                current: "1".into(),
                start: 0,
                end: 1,
            }],
            problems: Vec::new(),
        };
        assert!(
            Scan::default()
                .add_content(Path::new("f.yaml"), &content, None)
                .is_err()
        );
    }
}
