//! Where each value of a settings file came from, and the located errors built from it.
//!
//! A key path maps to a line and column of the TOML file, or to the environment variable that set it.

use std::collections::HashMap;
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// A key path inside the configuration, one element per table level
/// (`["registries", "registry.example.com:5000", "insecure"]`).
pub type KeyPath = Vec<String>;

/// Renders a key path the way it would be written in TOML, quoting parts
/// that are not bare keys (`registries."localhost:5000".insecure`).
pub fn display_path(path: &[String]) -> String {
    path.iter()
        .map(|part| {
            let bare = !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if bare {
                part.clone()
            } else {
                format!("{part:?}")
            }
        })
        .collect::<Vec<_>>()
        .join(".")
}

/// Where a value was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A line and column (both 1-based) in a file.
    File {
        /// The configuration file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column, in characters.
        column: usize,
    },
    /// A line and column in a file of the repository at one commit (the rules Baton reads
    /// from Git), shown `path:line:column@commit`.
    Commit {
        /// The file, relative to the repository root.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column, in characters.
        column: usize,
        /// The commit the file was read at.
        commit: String,
    },
    /// An environment variable override.
    Env(String),
    /// The file as a whole (a missing key has no line of its own).
    Whole(PathBuf),
}

impl Location {
    /// The same place, read at `commit` (unchanged when `None`).
    pub fn at_commit(self, commit: Option<&str>) -> Location {
        match (self, commit) {
            (Location::File { path, line, column }, Some(commit)) => Location::Commit {
                path,
                line,
                column,
                commit: commit.to_string(),
            },
            (Location::Whole(path), Some(commit)) => {
                Location::Whole(PathBuf::from(format!("{}@{commit}", path.display())))
            }
            (other, _) => other,
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::File { path, line, column } => {
                write!(f, "{}:{line}:{column}", path.display())
            }
            Location::Commit {
                path,
                line,
                column,
                commit,
            } => write!(f, "{}:{line}:{column}@{commit}", path.display()),
            Location::Env(var) => write!(f, "environment variable {var}"),
            Location::Whole(path) => write!(f, "{}", path.display()),
        }
    }
}

/// One problem in the configuration, with its place and the key at fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// Where the offending value (or its enclosing table) was written.
    pub location: Location,
    /// The dotted key path at fault (empty for file-level problems).
    pub key: String,
    /// What is wrong, in lower case, naming the offending value.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.key.is_empty() {
            write!(f, "{}: {}", self.location, self.message)
        } else {
            write!(f, "{}: {}: {}", self.location, self.key, self.message)
        }
    }
}

/// Every problem found in one configuration, reported together.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigErrors {
    /// The file that was loaded.
    pub path: PathBuf,
    /// The problems, in file order.
    pub errors: Vec<ConfigError>,
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = self.errors.len();
        write!(
            f,
            "{} has {count} error{}",
            self.path.display(),
            if count == 1 { "" } else { "s" }
        )?;
        for error in &self.errors {
            write!(f, "\n  {error}")?;
        }
        Ok(())
    }
}

/// Byte spans of every key in a TOML document, used to locate errors.
#[derive(Debug, Default)]
pub struct SpanIndex {
    file: PathBuf,
    commit: Option<String>,
    line_starts: Vec<usize>,
    text: String,
    keys: HashMap<KeyPath, Range<usize>>,
}

impl SpanIndex {
    /// Indexes a parsed TOML document; `text` is the file's contents.
    pub fn new(file: &Path, text: &str, document: &toml_edit::Document<String>) -> Self {
        let mut index = SpanIndex {
            file: file.to_path_buf(),
            commit: None,
            line_starts: line_starts(text),
            text: text.to_string(),
            keys: HashMap::new(),
        };
        let mut path = Vec::new();
        index.walk_table(document.as_table(), &mut path);
        index
    }

    /// An index for a file that did not parse: only byte offsets can be located.
    pub fn unparsed(file: &Path, text: &str) -> Self {
        SpanIndex {
            file: file.to_path_buf(),
            commit: None,
            line_starts: line_starts(text),
            text: text.to_string(),
            keys: HashMap::new(),
        }
    }

    fn walk_table(&mut self, table: &dyn toml_edit::TableLike, path: &mut KeyPath) {
        for (key, item) in table.iter() {
            path.push(key.to_string());
            if let Some(span) = table.key(key).and_then(|k| k.span()) {
                self.keys.entry(path.clone()).or_insert(span);
            } else if let Some(span) = item.span() {
                self.keys.entry(path.clone()).or_insert(span);
            }
            self.walk_item(item, path);
            path.pop();
        }
    }

    fn walk_item(&mut self, item: &toml_edit::Item, path: &mut KeyPath) {
        match item {
            toml_edit::Item::Table(table) => {
                if let Some(span) = table.span() {
                    self.keys.entry(path.clone()).or_insert(span);
                }
                self.walk_table(table, path);
            }
            toml_edit::Item::Value(toml_edit::Value::InlineTable(table)) => {
                self.walk_table(table, path);
            }
            toml_edit::Item::Value(toml_edit::Value::Array(array)) => {
                for (i, value) in array.iter().enumerate() {
                    path.push(i.to_string());
                    if let Some(span) = value.span() {
                        self.keys.insert(path.clone(), span);
                    }
                    if let toml_edit::Value::InlineTable(table) = value {
                        self.walk_table(table, path);
                    }
                    path.pop();
                }
            }
            toml_edit::Item::ArrayOfTables(tables) => {
                for (i, table) in tables.iter().enumerate() {
                    path.push(i.to_string());
                    if let Some(span) = table.span() {
                        self.keys.insert(path.clone(), span);
                    }
                    self.walk_table(table, path);
                    path.pop();
                }
            }
            _ => {}
        }
    }

    /// The same index for a file read at `commit`: locations show `@commit`.
    pub fn at_commit(mut self, commit: Option<&str>) -> Self {
        self.commit = commit.map(str::to_string);
        self
    }

    /// The location of a key, or of its nearest enclosing table that has one.
    pub fn locate(&self, path: &[String]) -> Location {
        for end in (1..=path.len()).rev() {
            if let Some(span) = self.keys.get(&path[..end]) {
                return self.at_offset(span.start);
            }
        }
        Location::Whole(self.file.clone()).at_commit(self.commit.as_deref())
    }

    /// How many leading parts of `path` this file wrote (0 when none): of two files merged,
    /// the one that wrote more of a path is where it came from.
    pub fn depth(&self, path: &[String]) -> usize {
        (1..=path.len())
            .rev()
            .find(|end| self.keys.contains_key(&path[..*end]))
            .unwrap_or(0)
    }

    /// The location of a byte offset in the file.
    pub fn at_offset(&self, offset: usize) -> Location {
        let line = match self.line_starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i.saturating_sub(1),
        };
        let start = self.line_starts.get(line).copied().unwrap_or(0);
        let column = self
            .text
            .get(start..offset.min(self.text.len()))
            .map(|s| s.chars().count())
            .unwrap_or(0)
            + 1;
        Location::File {
            path: self.file.clone(),
            line: line + 1,
            column,
        }
        .at_commit(self.commit.as_deref())
    }
}

fn line_starts(text: &str) -> Vec<usize> {
    std::iter::once(0)
        .chain(text.match_indices('\n').map(|(i, _)| i + 1))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locates_keys_and_tables() {
        let text = "[daemon]\nlisten = \"x\"\n\n[registries.\"a.b:5000\"]\ninsecure = true\n[[environments.p.window]]\ndays = \"mon\"\n";
        let doc = toml_edit::Document::parse(text.to_string()).unwrap();
        let index = SpanIndex::new(Path::new("b.toml"), text, &doc);
        let at = |p: &[&str]| index.locate(&p.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(at(&["daemon", "listen"]).to_string(), "b.toml:2:1");
        assert_eq!(
            at(&["registries", "a.b:5000", "insecure"]).to_string(),
            "b.toml:5:1"
        );
        assert_eq!(at(&["daemon", "missing"]).to_string(), "b.toml:1:2");
        assert_eq!(
            at(&["environments", "p", "window", "0", "days"]).to_string(),
            "b.toml:7:1"
        );
        assert_eq!(at(&["nothing"]).to_string(), "b.toml");
    }

    #[test]
    fn paths_display_like_toml() {
        let p = |v: &[&str]| display_path(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(
            p(&["images", "checkout-api", "interval"]),
            "images.checkout-api.interval"
        );
        assert_eq!(
            p(&["registries", "localhost:5000"]),
            "registries.\"localhost:5000\""
        );
    }
}
