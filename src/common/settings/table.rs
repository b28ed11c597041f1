//! The table reader every section reader uses: typed getters that report a wrong type, a
//! missing key, an unknown key or an inline secret with its place, and carry on.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::Figment;
use figment::value::{Dict, Num, Tag, Value};

use super::source::{ConfigError, KeyPath, Location, SpanIndex, display_path};
use crate::common::text::suggest;

/// Keys that would hold a secret inline, and the key that should be used instead.
const INLINE_SECRETS: &[(&str, &str)] = &[
    ("password", "password_file"),
    ("token", "token_file"),
    ("secret", "a *_file key"),
    ("ssh_key", "ssh_key_file"),
    ("private_key", "ssh_key_file"),
];

/// One settings file being read: where its values came from, and every problem found so far.
pub struct Reader<'a> {
    file: &'a Path,
    base_dir: &'a Path,
    figment: &'a Figment,
    index: &'a SpanIndex,
    env_prefix: &'a str,
    /// A second file merged over the first, by its figment source name (the repository's rules).
    second: Option<(&'a str, &'a SpanIndex)>,
    errors: RefCell<Vec<ConfigError>>,
}

impl<'a> Reader<'a> {
    /// A reader of `figment` (the file merged with `ENV_PREFIX`-style overrides), which was
    /// read from `file`; relative paths resolve against `base_dir`.
    pub fn new(
        file: &'a Path,
        base_dir: &'a Path,
        figment: &'a Figment,
        index: &'a SpanIndex,
        env_prefix: &'a str,
    ) -> Self {
        Reader {
            file,
            base_dir,
            figment,
            index,
            env_prefix,
            second: None,
            errors: RefCell::new(Vec::new()),
        }
    }

    /// Also locates the values of a second file merged under figment source `name`.
    pub fn with_second(mut self, second: Option<(&'a str, &'a SpanIndex)>) -> Self {
        self.second = second;
        self
    }

    /// The file being read.
    pub fn file(&self) -> &Path {
        self.file
    }

    /// The top-level table: `root` is the merged data's default profile.
    pub fn root(&'a self, root: Option<&'a Dict>) -> Table<'a> {
        Table {
            cx: self,
            path: Vec::new(),
            dict: root,
            known: RefCell::new(Vec::new()),
        }
    }

    /// True when no problem has been reported.
    pub fn is_clean(&self) -> bool {
        self.errors.borrow().is_empty()
    }

    /// Every problem reported, in file order, then environment variables, then the whole file.
    pub fn into_errors(self) -> Vec<ConfigError> {
        let mut errors = self.errors.into_inner();
        errors.sort_by_key(|e| match &e.location {
            Location::File { line, column, .. } => (0, *line, *column),
            Location::Commit { line, column, .. } => (1, *line, *column),
            Location::Env(_) => (1, 0, 0),
            Location::Whole(_) => (2, 0, 0),
        });
        errors
    }

    fn locate(&self, path: &[String], tag: Option<Tag>) -> Location {
        if let Some(meta) = tag.and_then(|tag| self.figment.get_metadata(tag))
            && meta.name.contains("environment")
        {
            let var = path
                .iter()
                .map(|p| p.to_ascii_uppercase())
                .collect::<Vec<_>>()
                .join("__");
            return Location::Env(format!("{}{var}", self.env_prefix));
        }
        if let Some(meta) = tag.and_then(|tag| self.figment.get_metadata(tag))
            && let Some((name, index)) = self.second
            && meta.name == name
        {
            return index.locate(path);
        }
        self.locate_table(path)
    }

    /// The location of a table (or a key without a value of its own) in whichever file
    /// wrote more of its path.
    fn locate_table(&self, path: &[String]) -> Location {
        match self.second {
            Some((_, second)) if second.depth(path) > self.index.depth(path) => second.locate(path),
            _ => self.index.locate(path),
        }
    }

    /// Reports a problem with the value at `path`; `tag` tells an environment override apart.
    pub fn error(&self, path: &[String], tag: Option<Tag>, message: impl Into<String>) {
        self.errors.borrow_mut().push(ConfigError {
            location: self.locate(path, tag),
            key: display_path(path),
            message: message.into(),
        });
    }

    /// Resolves a configured path against the configuration file's directory.
    fn resolve(&self, path: &str) -> PathBuf {
        let path = Path::new(path);
        if path.is_absolute() {
            path.to_path_buf()
        } else {
            self.base_dir.join(path)
        }
    }
}

/// A table being read: remembers which keys were asked for, to report the rest.
pub struct Table<'a> {
    cx: &'a Reader<'a>,
    path: KeyPath,
    dict: Option<&'a Dict>,
    known: RefCell<Vec<&'static str>>,
}

impl<'a> Table<'a> {
    /// The key path of this table.
    pub fn path(&self) -> &KeyPath {
        &self.path
    }

    /// True when the table was written at all (an absent section reads as empty).
    pub fn is_present(&self) -> bool {
        self.dict.is_some()
    }

    /// True when `key` was written, without reading it.
    pub fn has(&self, key: &str) -> bool {
        self.dict.is_some_and(|d| d.contains_key(key))
    }

    /// Counts `key` as known without reading it, so that `finish` does not report it.
    pub fn mark_known(&self, key: &'static str) {
        self.known.borrow_mut().push(key);
    }

    /// Reports a problem at a path below this table (an array item, a nested key).
    pub fn error_at(&self, path: &[String], message: impl Into<String>) {
        self.cx.error(path, None, message);
    }

    /// The names of the tables in `key` (`[images.NAME]`), as written, without reading them.
    pub fn names(&self, key: &str) -> BTreeSet<String> {
        self.dict
            .and_then(|d| d.get(key))
            .and_then(Value::as_dict)
            .map(|d| d.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// The table `key`, or an empty one when it is absent (or reported as not a table).
    pub fn section(&self, key: &'static str) -> Table<'a> {
        self.table(key).unwrap_or_else(|| Table {
            cx: self.cx,
            path: self.child_path(key),
            dict: None,
            known: RefCell::new(Vec::new()),
        })
    }

    /// A required file path: reports `hint` when the key is absent.
    pub fn required_file_path(&self, key: &'static str, hint: &str) -> Option<PathBuf> {
        if self.has(key) {
            self.file_path(key)
        } else {
            self.mark_known(key);
            self.missing(key, hint);
            None
        }
    }

    /// `key` written as one table or as an array of tables (`[[...window]]`); `what` names one
    /// item in errors. An absent key is no tables.
    pub fn tables(&self, key: &'static str, what: &str) -> Vec<Table<'a>> {
        let Some(value) = self.raw(key) else {
            return Vec::new();
        };
        let mut tables = Vec::new();
        match value {
            Value::Dict(_, d) => tables.push((self.child_path(key), d)),
            Value::Array(_, items) => {
                for (i, item) in items.iter().enumerate() {
                    let mut path = self.child_path(key);
                    path.push(i.to_string());
                    match item {
                        Value::Dict(_, d) => tables.push((path, d)),
                        other => self.cx.error(
                            &path,
                            Some(other.tag()),
                            format!("expected {what}, found {}", describe(other)),
                        ),
                    }
                }
            }
            other => self.type_error(key, other, "a table or an array of tables"),
        }
        tables
            .into_iter()
            .map(|(path, dict)| Table {
                cx: self.cx,
                path,
                dict: Some(dict),
                known: RefCell::new(Vec::new()),
            })
            .collect()
    }

    /// The key path of `key` in this table.
    pub fn child_path(&self, key: &str) -> KeyPath {
        let mut path = self.path.clone();
        path.push(key.to_string());
        path
    }

    /// The value of `key` as written, counting the key as known.
    pub fn raw(&self, key: &'static str) -> Option<&'a Value> {
        self.known.borrow_mut().push(key);
        self.dict.and_then(|dict| dict.get(key))
    }

    /// Reports that `key` holds `value` where `expected` belongs.
    pub fn type_error(&self, key: &str, value: &Value, expected: &str) {
        self.cx.error(
            &self.child_path(key),
            Some(value.tag()),
            format!("expected {expected}, found {}", describe(value)),
        );
    }

    /// Reports that the required `key` is absent, located at this table; `hint` says what to write.
    pub fn missing(&self, key: &str, hint: &str) {
        let mut path = self.path.clone();
        path.push(key.to_string());
        let location = self.cx.locate_table(&self.path);
        self.cx.errors.borrow_mut().push(ConfigError {
            location,
            key: display_path(&path),
            message: format!("required key is missing: {hint}"),
        });
    }

    /// A string (an environment override's number or boolean is taken back as text).
    pub fn string(&self, key: &'static str) -> Option<String> {
        let value = self.raw(key)?;
        match value {
            Value::String(_, s) => Some(s.clone()),
            // Environment values are parsed as TOML scalars: take them back as text.
            Value::Num(tag, n) if self.is_env_sourced(*tag) => Some(num_text(n)),
            Value::Bool(tag, b) if self.is_env_sourced(*tag) => Some(b.to_string()),
            _ => {
                self.type_error(key, value, "a string");
                None
            }
        }
    }

    fn is_env_sourced(&self, tag: Tag) -> bool {
        self.cx
            .figment
            .get_metadata(tag)
            .is_some_and(|meta| meta.name.contains("environment"))
    }

    /// A string that must be present and not blank; `hint` says what to write.
    pub fn required_string(&self, key: &'static str, hint: &str) -> Option<String> {
        let present = self.dict.is_some_and(|d| d.contains_key(key));
        if !present {
            self.known.borrow_mut().push(key);
            self.missing(key, hint);
            return None;
        }
        let value = self.string(key)?;
        if value.trim().is_empty() {
            self.error(key, format!("must not be empty: {hint}"));
            return None;
        }
        Some(value)
    }

    /// `true` or `false`.
    pub fn bool(&self, key: &'static str) -> Option<bool> {
        let value = self.raw(key)?;
        match value {
            Value::Bool(_, b) => Some(*b),
            _ => {
                self.type_error(key, value, "true or false");
                None
            }
        }
    }

    /// A whole number from `min` to `max`.
    pub fn integer(&self, key: &'static str, min: u64, max: u64) -> Option<u64> {
        let value = self.raw(key)?;
        let n = match value {
            Value::Num(_, n) => n
                .to_i128()
                .and_then(|n| u64::try_from(n).ok())
                .or_else(|| n.to_u128().and_then(|n| u64::try_from(n).ok())),
            _ => None,
        };
        match n {
            Some(n) if (min..=max).contains(&n) => Some(n),
            Some(n) => {
                self.error(key, format!("{n} is out of range: use {min} to {max}"));
                None
            }
            None if matches!(value, Value::Num(..)) => {
                self.error(
                    key,
                    format!(
                        "{} is not a whole number from {min} to {max}",
                        describe(value)
                    ),
                );
                None
            }
            None => {
                self.type_error(key, value, "an integer");
                None
            }
        }
    }

    /// A duration in quotes (`"30s"`, `"5m"`), at least `min` when given.
    pub fn duration(&self, key: &'static str, min: Option<Duration>) -> Option<Duration> {
        // A bare number has no unit: say how to write it rather than "expected a string".
        if let Some(value @ Value::Num(tag, n)) = self.dict.and_then(|d| d.get(key))
            && !self.is_env_sourced(*tag)
        {
            self.known.borrow_mut().push(key);
            let n = num_text(n);
            self.cx.error(
                &self.child_path(key),
                Some(value.tag()),
                format!(
                    "{n} has no unit: write a duration in quotes, e.g. \"{n}s\", \"5m\", \"24h\""
                ),
            );
            return None;
        }
        let text = self.string(key)?;
        match humantime::parse_duration(text.trim()) {
            Ok(d) => {
                if let Some(min) = min
                    && d < min
                {
                    self.error(
                        key,
                        format!(
                            "{text:?} is under the minimum of {}: use {} or more",
                            humantime::format_duration(min),
                            humantime::format_duration(min)
                        ),
                    );
                    return None;
                }
                Some(d)
            }
            Err(err) => {
                self.error(
                    key,
                    format!(
                        "{text:?} is not a duration ({err}): write e.g. \"30s\", \"5m\", \"24h\""
                    ),
                );
                None
            }
        }
    }

    /// A file path, resolved against the file's directory; `$CREDENTIALS_DIRECTORY/NAME` and `%d/NAME` name a systemd credential.
    pub fn file_path(&self, key: &'static str) -> Option<PathBuf> {
        let text = self.string(key)?;
        let tag = self.dict.and_then(|d| d.get(key)).map(Value::tag);
        self.resolve_file(&text, &self.child_path(key), tag)
    }

    /// An array of file paths, each read as [`Table::file_path`] reads one, with its key path
    /// for errors; `None` when any item is not a string.
    pub fn file_path_list(&self, key: &'static str) -> Option<Vec<(PathBuf, KeyPath)>> {
        let items = self.string_list(key)?;
        let mut out = Vec::new();
        for (text, path) in items {
            if let Some(file) = self.resolve_file(&text, &path, None) {
                out.push((file, path));
            }
        }
        Some(out)
    }

    fn resolve_file(&self, text: &str, path: &KeyPath, tag: Option<Tag>) -> Option<PathBuf> {
        if text.trim().is_empty() {
            self.cx
                .error(path, tag, "must not be empty: give a file path");
            return None;
        }
        // systemd's LoadCredential= puts secrets in $CREDENTIALS_DIRECTORY, which is only
        // known at run time.
        for prefix in [
            "$CREDENTIALS_DIRECTORY/",
            "${CREDENTIALS_DIRECTORY}/",
            "%d/",
        ] {
            if let Some(name) = text.strip_prefix(prefix) {
                return match std::env::var_os("CREDENTIALS_DIRECTORY") {
                    Some(dir) if !dir.is_empty() => Some(Path::new(&dir).join(name)),
                    _ => {
                        self.cx.error(
                            path,
                            tag,
                            format!(
                                "{text:?} names a systemd credential but CREDENTIALS_DIRECTORY is not set: run under systemd with LoadCredential=, or give a full path"
                            ),
                        );
                        None
                    }
                };
            }
        }
        Some(self.cx.resolve(text))
    }

    /// An array of strings, each with its own key path for errors; `None` when any item is not a string.
    pub fn string_list(&self, key: &'static str) -> Option<Vec<(String, KeyPath)>> {
        let value = self.raw(key)?;
        let Value::Array(_, items) = value else {
            self.type_error(key, value, "an array of strings");
            return None;
        };
        let mut out = Vec::new();
        let mut ok = true;
        for (i, item) in items.iter().enumerate() {
            let mut path = self.child_path(key);
            path.push(i.to_string());
            match item {
                Value::String(_, s) => out.push((s.clone(), path)),
                other => {
                    ok = false;
                    self.cx.error(
                        &path,
                        Some(other.tag()),
                        format!("expected a string, found {}", describe(other)),
                    );
                }
            }
        }
        ok.then_some(out)
    }

    /// The table `key`.
    pub fn table(&self, key: &'static str) -> Option<Table<'a>> {
        let value = self.raw(key)?;
        match value {
            Value::Dict(_, dict) => Some(Table {
                cx: self.cx,
                path: self.child_path(key),
                dict: Some(dict),
                known: RefCell::new(Vec::new()),
            }),
            other => {
                self.type_error(key, other, "a table");
                None
            }
        }
    }

    /// A table of named tables (`[images.NAME]`), in name order.
    pub fn named_tables(&self, key: &'static str) -> Vec<(String, Table<'a>)> {
        let Some(outer) = self.table(key) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        if let Some(dict) = outer.dict {
            for (name, value) in dict {
                let mut path = outer.path.clone();
                path.push(name.clone());
                match value {
                    Value::Dict(_, inner) => out.push((
                        name.clone(),
                        Table {
                            cx: self.cx,
                            path,
                            dict: Some(inner),
                            known: RefCell::new(Vec::new()),
                        },
                    )),
                    other => self.cx.error(
                        &path,
                        Some(other.tag()),
                        format!(
                            "expected a table [{}], found {}",
                            display_path(&outer.child_path(name)),
                            describe(other)
                        ),
                    ),
                }
            }
        }
        out
    }

    /// Reports a problem with `key` of this table.
    pub fn error(&self, key: &str, message: impl Into<String>) {
        let tag = self.dict.and_then(|d| d.get(key)).map(Value::tag);
        self.cx.error(&self.child_path(key), tag, message);
    }

    /// Reports every key that no reader asked for, with a suggestion when one is close.
    pub fn finish(self) {
        let Some(dict) = self.dict else { return };
        let known = self.known.into_inner();
        for (key, value) in dict {
            if known.contains(&key.as_str()) {
                continue;
            }
            let path = {
                let mut p = self.path.clone();
                p.push(key.clone());
                p
            };
            if let Some((_, instead)) = INLINE_SECRETS.iter().find(|(k, _)| k == key) {
                // Where this table has a `KEY_file` key, name it rather than the generic hint.
                let file_key = format!("{key}_file");
                let instead = if known.contains(&file_key.as_str()) {
                    file_key.as_str()
                } else {
                    instead
                };
                self.cx.error(
                    &path,
                    Some(value.tag()),
                    format!(
                        "a secret must not be written inline: put it in a file readable only by baton and set {instead}"
                    ),
                );
                continue;
            }
            let message = match suggest(key, &known) {
                Some(close) => format!("unknown key {key:?}: did you mean {close:?}?"),
                None => format!(
                    "unknown key {key:?}: known keys here are {}",
                    known.join(", ")
                ),
            };
            self.cx.error(&path, Some(value.tag()), message);
        }
    }
}

/// A value as an error message names it: "the string \"x\"", "a table".
pub fn describe(value: &Value) -> String {
    match value {
        Value::String(_, s) => format!("the string {s:?}"),
        Value::Char(_, c) => format!("the character {c:?}"),
        Value::Bool(_, b) => format!("the boolean {b}"),
        Value::Num(_, n) => format!("the number {}", num_text(n)),
        Value::Empty(..) => "an empty value".to_string(),
        Value::Dict(..) => "a table".to_string(),
        Value::Array(..) => "an array".to_string(),
    }
}

fn num_text(n: &Num) -> String {
    match n {
        Num::F32(f) => f.to_string(),
        Num::F64(f) => f.to_string(),
        other => other
            .to_i128()
            .map(|i| i.to_string())
            .or_else(|| other.to_u128().map(|u| u.to_string()))
            .unwrap_or_default(),
    }
}
