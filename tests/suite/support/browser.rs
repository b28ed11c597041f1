//! Headless Chromium (Debian's `chromium`) for the board tests: the DOM after the page loaded
//! and ran whatever it would run, and screenshots. Without Chromium the test fails, saying how
//! to install it; scripts/test installs it or excludes the board tests by name.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A browser profile of its own in a temporary directory.
pub struct Browser {
    profile: tempfile::TempDir,
}

impl Browser {
    /// A browser; panics when `chromium` cannot be run.
    pub fn new() -> Browser {
        let found = Command::new("chromium").arg("--version").output();
        match found {
            Ok(out) if out.status.success() => {}
            _ => panic!(
                "chromium cannot be run: install Debian's chromium package (scripts/test does), or exclude the board tests with -E 'not test(/^board::/)'"
            ),
        }
        Browser {
            profile: tempfile::tempdir().unwrap(),
        }
    }

    fn command(&self) -> Command {
        let mut cmd = Command::new("chromium");
        cmd.args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", self.profile.path().display()));
        cmd
    }

    /// The DOM of `url` after loading, serialised by Chromium.
    pub fn dom(&self, url: &str) -> String {
        let out = self
            .command()
            .args(["--dump-dom", url])
            .output()
            .expect("chromium runs");
        assert!(
            out.status.success(),
            "chromium --dump-dom {url} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("the DOM is UTF-8")
    }

    /// A PNG of `url` at `width`x`height` written to `path`; returns the path.
    pub fn screenshot(&self, url: &str, path: &Path, width: u32, height: u32) -> PathBuf {
        let out = self
            .command()
            .arg(format!("--screenshot={}", path.display()))
            .arg(format!("--window-size={width},{height}"))
            .arg(url)
            .output()
            .expect("chromium runs");
        assert!(
            out.status.success(),
            "chromium --screenshot {url} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let bytes = std::fs::read(path).expect("the screenshot was written");
        assert!(
            bytes.starts_with(b"\x89PNG"),
            "{} is not a PNG",
            path.display()
        );
        path.to_path_buf()
    }
}
