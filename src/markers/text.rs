//! A scanned file's text as the plan and the commit read it: held in memory, or left in its
//! file and read again, checked to be the very bytes the scan read.

use std::borrow::Cow;
use std::io::Read;
use std::path::PathBuf;
use std::sync::Arc;

use sha2::{Digest, Sha256};

/// A scanned file's text.
#[derive(Debug, Clone)]
pub enum Text {
    /// The text itself.
    Held(Arc<str>),
    /// Left in the file it was read from: read again when needed, and refused unless it is
    /// still the same bytes (so thousands of marked files are never all held at once).
    File {
        /// The file as the scan opened it.
        path: PathBuf,
        /// Its length in bytes when scanned.
        len: u64,
        /// The SHA-256 of its bytes when scanned.
        sha256: [u8; 32],
    },
}

/// Why a text left in its file cannot be had again.
#[derive(Debug, thiserror::Error)]
pub enum TextError {
    /// The file cannot be opened or read (a symbolic link now stands there, or it is gone).
    #[error("cannot read the file again: {0}")]
    Io(#[from] std::io::Error),
    /// The file no longer holds the bytes scanned.
    #[error("the file changed since it was scanned")]
    Changed,
}

impl Text {
    /// A text left in the file at `path`, which holds `bytes`.
    pub fn file(path: PathBuf, bytes: &[u8]) -> Text {
        Text::File {
            path,
            len: bytes.len() as u64,
            sha256: Sha256::digest(bytes).into(),
        }
    }

    /// The text: the one held, or the file's content when it is still the bytes scanned.
    pub fn get(&self) -> Result<Cow<'_, str>, TextError> {
        match self {
            Text::Held(text) => Ok(Cow::Borrowed(text)),
            Text::File { path, len, .. } => {
                let file = super::scan::open_no_follow(path)?;
                let mut bytes = Vec::with_capacity(usize::try_from(*len).unwrap_or(0));
                // One byte past the length scanned tells a file that grew.
                file.take(len.saturating_add(1)).read_to_end(&mut bytes)?;
                if !self.holds(&bytes) {
                    return Err(TextError::Changed);
                }
                String::from_utf8(bytes)
                    .map(Cow::Owned)
                    .map_err(|_| TextError::Changed)
            }
        }
    }

    /// Whether `bytes` are the text scanned.
    pub fn holds(&self, bytes: &[u8]) -> bool {
        match self {
            Text::Held(text) => text.as_bytes() == bytes,
            Text::File { len, sha256, .. } => {
                bytes.len() as u64 == *len && Sha256::digest(bytes).as_slice() == sha256
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_text_is_read_again_only_while_unchanged() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.yaml");
        let text = "image: app:1.0 # {\"$baton\": \"app\"}\n";
        std::fs::write(&path, text).unwrap();
        let kept = Text::file(path.clone(), text.as_bytes());
        assert_eq!(kept.get().unwrap(), text);
        assert!(kept.holds(text.as_bytes()));
        assert!(!kept.holds(b"image: app:1.1"));

        // Same length, other bytes; longer; shorter: all refused.
        for changed in [
            text.replace("1.0", "1.1"),
            format!("{text}x"),
            text[1..].to_string(),
        ] {
            std::fs::write(&path, &changed).unwrap();
            assert!(matches!(kept.get(), Err(TextError::Changed)), "{changed:?}");
        }

        // A symbolic link in its place is not followed, even to the same bytes.
        let target = dir.path().join("target.yaml");
        std::fs::write(&target, text).unwrap();
        std::fs::remove_file(&path).unwrap();
        std::os::unix::fs::symlink(&target, &path).unwrap();
        assert!(matches!(kept.get(), Err(TextError::Io(_))));

        // Gone.
        std::fs::remove_file(&path).unwrap();
        assert!(matches!(kept.get(), Err(TextError::Io(_))));

        let held = Text::Held(Arc::from(text));
        assert_eq!(held.get().unwrap(), text);
        assert!(held.holds(text.as_bytes()) && !held.holds(b"x"));
    }
}
