//! Platforms as `os/architecture[/variant]` (`linux/arm64`, `linux/arm/v7`): read from the
//! config and matched against the entries of an image index.

use std::fmt;

/// One platform, as an image index entry or an image config names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Platform {
    /// `linux`, `windows`.
    pub os: String,
    /// `amd64`, `arm64`, `arm`.
    pub architecture: String,
    /// `v7`, `v8`; `None` matches any variant.
    pub variant: Option<String>,
}

/// A platform string that is not `os/architecture[/variant]`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{0:?} is not a platform: write os/architecture or os/architecture/variant, e.g. \"linux/arm64\" or \"linux/arm/v7\""
)]
pub struct PlatformError(pub String);

impl Platform {
    /// Parses `os/architecture[/variant]`, lower case letters, digits, `_` and `-` only.
    pub fn parse(text: &str) -> Result<Platform, PlatformError> {
        let error = || PlatformError(text.chars().take(100).collect());
        let parts: Vec<&str> = text.trim().split('/').collect();
        let word = |s: &str| {
            !s.is_empty()
                && s.len() <= 32
                && s.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
        };
        if !(2..=3).contains(&parts.len()) || !parts.iter().all(|p| word(p)) {
            return Err(error());
        }
        Ok(Platform {
            os: parts[0].to_string(),
            architecture: parts[1].to_string(),
            variant: parts.get(2).map(|v| v.to_string()),
        })
    }

    /// True when an entry for `os`/`architecture`/`variant` serves this platform: os and
    /// architecture equal, and the variant equal when this one names one.
    pub fn matches(&self, os: &str, architecture: &str, variant: Option<&str>) -> bool {
        self.os == os
            && self.architecture == architecture
            && self.variant.as_deref().is_none_or(|v| Some(v) == variant)
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(variant) = &self.variant {
            write!(f, "/{variant}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_matches() {
        let p = Platform::parse("linux/arm64").unwrap();
        assert_eq!(p.to_string(), "linux/arm64");
        assert!(p.matches("linux", "arm64", Some("v8")));
        assert!(p.matches("linux", "arm64", None));
        assert!(!p.matches("linux", "amd64", None));
        let v7 = Platform::parse("linux/arm/v7").unwrap();
        assert!(v7.matches("linux", "arm", Some("v7")));
        assert!(!v7.matches("linux", "arm", Some("v6")));
        assert!(!v7.matches("linux", "arm", None));
        for bad in [
            "",
            "linux",
            "linux/",
            "Linux/amd64",
            "a/b/c/d",
            "linux/amd 64",
            "linux//v7",
        ] {
            assert!(Platform::parse(bad).is_err(), "{bad}");
        }
    }
}
