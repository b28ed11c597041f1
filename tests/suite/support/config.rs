//! The one configuration builder of the tests: `[section]` tables of `key = value` lines in the
//! order first set, then raw TOML, written to the world's configuration file.

use std::path::{Path, PathBuf};

/// A Baton configuration being built; values are TOML (see [`quote`] for strings).
#[derive(Debug, Clone)]
pub struct ConfigBuilder {
    path: PathBuf,
    sections: Vec<(String, Vec<(String, String)>)>,
    tail: String,
}

/// `text` as a TOML basic string.
pub fn quote(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

impl ConfigBuilder {
    /// An empty configuration to be written at `path`.
    pub fn new(path: &Path) -> ConfigBuilder {
        ConfigBuilder {
            path: path.to_path_buf(),
            sections: Vec::new(),
            tail: String::new(),
        }
    }

    /// `key = value` in `[section]` (`value` is TOML), replacing an earlier value of the key.
    pub fn set(mut self, section: &str, key: &str, value: impl Into<String>) -> ConfigBuilder {
        let value = value.into();
        let index = match self.sections.iter().position(|(s, _)| s == section) {
            Some(index) => index,
            None => {
                self.sections.push((section.to_string(), Vec::new()));
                self.sections.len() - 1
            }
        };
        let keys = &mut self.sections[index].1;
        match keys.iter_mut().find(|(k, _)| k == key) {
            Some(entry) => entry.1 = value,
            None => keys.push((key.to_string(), value)),
        }
        self
    }

    /// `key = "text"` in `[section]`.
    pub fn text_value(self, section: &str, key: &str, text: &str) -> ConfigBuilder {
        self.set(section, key, quote(text))
    }

    /// Every `key = value` line of `toml` set in `[section]`.
    pub fn lines(mut self, section: &str, toml: &str) -> ConfigBuilder {
        for line in toml.lines().filter(|l| !l.trim().is_empty()) {
            let (key, value) = line
                .split_once('=')
                .unwrap_or_else(|| panic!("not a `key = value` line: {line:?}"));
            self = self.set(section, key.trim(), value.trim());
        }
        self
    }

    /// `[images.NAME]` with its repository.
    pub fn image(self, name: &str, repository: &str) -> ConfigBuilder {
        self.text_value(&format!("images.{name}"), "repository", repository)
    }

    /// `[policies.NAME]` choosing tags of `image` by the semver range `range`.
    pub fn semver_policy(self, name: &str, image: &str, range: &str) -> ConfigBuilder {
        let section = format!("policies.{name}");
        self.text_value(&section, "image", image)
            .text_value(&section, "semver", range)
    }

    /// `[environments.NAME]` owning `paths`.
    pub fn environment(self, name: &str, paths: &[&str]) -> ConfigBuilder {
        let list: Vec<String> = paths.iter().map(|p| quote(p)).collect();
        self.set(
            &format!("environments.{name}"),
            "paths",
            format!("[{}]", list.join(", ")),
        )
    }

    /// Raw TOML appended after the tables (more tables, or keys for the last one).
    pub fn raw(mut self, toml: &str) -> ConfigBuilder {
        self.tail.push_str(toml);
        self
    }

    /// The configuration's text.
    pub fn text(&self) -> String {
        let mut out = String::new();
        for (section, keys) in &self.sections {
            if !out.is_empty() {
                out.push('\n');
            }
            out.push_str(&format!("[{section}]\n"));
            for (key, value) in keys {
                out.push_str(&format!("{key} = {value}\n"));
            }
        }
        if !self.tail.is_empty() {
            out.push('\n');
            out.push_str(&self.tail);
        }
        out
    }

    /// Writes the file and returns its path.
    pub fn write(&self) -> PathBuf {
        std::fs::write(&self.path, self.text()).unwrap();
        self.path.clone()
    }
}
