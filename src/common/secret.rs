//! Passwords, tokens and shared secrets: a wrapper whose Debug and Display print `***`,
//! read from the files (systemd credentials, mounted secrets) the configuration names.

use std::fmt;
use std::path::{Path, PathBuf};

/// A password or token: Debug and Display print `***` so that it cannot leak
/// through logs, errors or `{:?}` of a settings struct.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// Reads a secret from a file (systemd credential, mounted secret),
    /// dropping one trailing newline; an empty file is refused.
    pub fn from_file(path: &Path) -> Result<Self, SecretFileError> {
        let text = std::fs::read_to_string(path).map_err(|source| SecretFileError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let value = text
            .strip_suffix("\r\n")
            .or_else(|| text.strip_suffix('\n'))
            .unwrap_or(&text);
        if value.is_empty() {
            return Err(SecretFileError::Empty {
                path: path.to_path_buf(),
            });
        }
        Ok(Secret(value.to_string()))
    }

    /// The secret itself, for the one place that puts it in a request.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether `candidate` is this secret, in time that does not depend on where they differ
    /// (both are signed with a random per-process key and the signatures compared).
    pub fn matches(&self, candidate: &str) -> bool {
        use ring::hmac;
        static KEY: std::sync::OnceLock<hmac::Key> = std::sync::OnceLock::new();
        let key =
            KEY.get_or_init(|| hmac::Key::new(hmac::HMAC_SHA256, &rand::random::<[u8; 32]>()));
        let expected = hmac::sign(key, self.0.as_bytes());
        hmac::verify(key, candidate.as_bytes(), expected.as_ref()).is_ok()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Why a secret file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum SecretFileError {
    /// The file could not be read.
    #[error("cannot read secret file {}: {source}: check the path and its permissions", path.display())]
    Read {
        /// The file named in the config.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file holds nothing.
    #[error("secret file {} is empty: write the password or token into it", path.display())]
    Empty {
        /// The file named in the config.
        path: PathBuf,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_only_itself() {
        let s = Secret::new("t0ken");
        assert!(s.matches("t0ken"));
        assert!(!s.matches("t0kem"));
        assert!(!s.matches("t0ken "));
        assert!(!s.matches(""));
    }

    #[test]
    fn never_printed() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s}"), "***");
        assert_eq!(format!("{s:?}"), "***");
        assert_eq!(s.expose(), "hunter2");
    }

    #[test]
    fn secret_from_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pw");
        std::fs::write(&path, "s3cret\n").unwrap();
        assert_eq!(Secret::from_file(&path).unwrap().expose(), "s3cret");
        std::fs::write(&path, "a b\r\n").unwrap();
        assert_eq!(Secret::from_file(&path).unwrap().expose(), "a b");
        std::fs::write(&path, "\n").unwrap();
        let err = Secret::from_file(&path).unwrap_err();
        assert!(err.to_string().contains("is empty"));
        let err = Secret::from_file(&dir.path().join("missing")).unwrap_err();
        assert!(err.to_string().contains("missing"));
    }
}
