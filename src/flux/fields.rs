//! Reading one object's fields: typed getters that record what was asked for, so every
//! field left over is reported by name, and every problem carries its file and line.

use std::cell::RefCell;
use std::path::Path;
use std::time::Duration;

use super::yaml::{Node, Pos, Value};
use super::{Place, Problem, Severity};
use crate::common::text::suggest;

/// Collects the problems of one file.
pub(super) struct Sink<'a> {
    pub file: &'a Path,
    pub problems: RefCell<Vec<Problem>>,
}

impl Sink<'_> {
    pub fn place(&self, pos: Pos) -> Place {
        Place {
            file: self.file.to_path_buf(),
            line: pos.line,
            column: pos.column,
        }
    }

    pub fn push(&self, severity: Severity, pos: Pos, field: &str, message: impl Into<String>) {
        self.problems.borrow_mut().push(Problem {
            severity,
            place: self.place(pos),
            field: field.to_string(),
            message: message.into(),
        });
    }

    pub fn error(&self, pos: Pos, field: &str, message: impl Into<String>) {
        self.push(Severity::Error, pos, field, message);
    }
}

/// A mapping being read: remembers which keys were asked for.
pub(super) struct Fields<'a> {
    pub sink: &'a Sink<'a>,
    /// Dotted path of this mapping (`spec.policy`).
    pub path: String,
    pub node: &'a Node,
    known: RefCell<Vec<&'static str>>,
}

impl<'a> Fields<'a> {
    /// Reads `node` as a mapping; `None` (reported) when it is something else.
    pub fn new(sink: &'a Sink<'a>, path: &str, node: &'a Node) -> Option<Fields<'a>> {
        if !matches!(node.value, Value::Map(_)) {
            sink.error(
                node.pos,
                path,
                format!("expected a mapping, found {}", node.kind()),
            );
            return None;
        }
        Some(Fields {
            sink,
            path: path.to_string(),
            node,
            known: RefCell::new(Vec::new()),
        })
    }

    pub fn child_path(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    /// The node under `key`, unless absent or null.
    pub fn raw(&self, key: &'static str) -> Option<&'a Node> {
        self.known.borrow_mut().push(key);
        self.node.get(key).filter(|n| !n.is_null())
    }

    pub fn error(&self, key: &str, message: impl Into<String>) {
        let pos = self.node.get(key).map_or(self.node.pos, |n| n.pos);
        self.sink.error(pos, &self.child_path(key), message);
    }

    /// Marks `key` as known and reports it, when present, with `severity` and `why`.
    pub fn unsupported(&self, key: &'static str, severity: Severity, why: &str) {
        if let Some(node) = self.raw(key) {
            let message = match severity {
                Severity::Error => format!("not supported by Baton: {why}"),
                Severity::Note => format!("not used by Baton: {why}"),
            };
            self.sink
                .push(severity, node.pos, &self.child_path(key), message);
        }
    }

    pub fn string(&self, key: &'static str) -> Option<(String, Pos)> {
        let node = self.raw(key)?;
        match node.as_str() {
            Some(text) => Some((text.to_string(), node.pos)),
            None => {
                self.error(key, format!("expected a string, found {}", node.kind()));
                None
            }
        }
    }

    pub fn required_string(&self, key: &'static str, hint: &str) -> Option<(String, Pos)> {
        if self.node.get(key).is_none_or(Node::is_null) {
            self.known.borrow_mut().push(key);
            self.sink.error(
                self.node.pos,
                &self.child_path(key),
                format!("required field is missing: {hint}"),
            );
            return None;
        }
        let (text, pos) = self.string(key)?;
        if text.trim().is_empty() {
            self.error(key, format!("must not be empty: {hint}"));
            return None;
        }
        Some((text, pos))
    }

    pub fn bool(&self, key: &'static str) -> Option<bool> {
        let node = self.raw(key)?;
        match &node.value {
            Value::Scalar {
                text,
                quoted: false,
            } if text == "true" || text == "false" => Some(text == "true"),
            _ => {
                self.error(key, "expected true or false");
                None
            }
        }
    }

    /// A Kubernetes duration (`1m`, `1m30s`, `500ms`).
    pub fn duration(&self, key: &'static str) -> Option<Duration> {
        let (text, _) = self.string(key)?;
        match parse_go_duration(&text) {
            Some(d) => Some(d),
            None => {
                self.error(
                    key,
                    format!("{text:?} is not a duration: write e.g. \"1m\", \"5m30s\", \"1h\""),
                );
                None
            }
        }
    }

    pub fn mapping(&self, key: &'static str) -> Option<Fields<'a>> {
        let node = self.raw(key)?;
        Fields::new(self.sink, &self.child_path(key), node)
    }

    /// A list of strings, each with its position.
    pub fn string_list(&self, key: &'static str) -> Option<Vec<(String, Pos)>> {
        let node = self.raw(key)?;
        let Value::List(items) = &node.value else {
            self.error(key, format!("expected a list, found {}", node.kind()));
            return None;
        };
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            match item.as_str() {
                Some(text) => out.push((text.to_string(), item.pos)),
                None => self.sink.error(
                    item.pos,
                    &format!("{}[{i}]", self.child_path(key)),
                    format!("expected a string, found {}", item.kind()),
                ),
            }
        }
        Some(out)
    }

    /// A mapping of strings to strings (labels, matchLabels).
    pub fn string_map(&self, key: &'static str) -> Vec<(String, String)> {
        let Some(node) = self.raw(key) else {
            return Vec::new();
        };
        let Value::Map(entries) = &node.value else {
            self.error(key, format!("expected a mapping, found {}", node.kind()));
            return Vec::new();
        };
        let mut out = Vec::new();
        for (k, _, v) in entries {
            match v.as_str() {
                Some(text) => out.push((k.clone(), text.to_string())),
                None => self.sink.error(
                    v.pos,
                    &format!("{}.{k}", self.child_path(key)),
                    format!("expected a string, found {}", v.kind()),
                ),
            }
        }
        out
    }

    /// Reports every key no reader asked for, with a suggestion when one is close.
    pub fn finish(&self) {
        let Value::Map(entries) = &self.node.value else {
            return;
        };
        let known = self.known.borrow().clone();
        for (key, pos, _) in entries {
            if known.contains(&key.as_str()) {
                continue;
            }
            let message = match suggest(key, &known) {
                Some(close) => format!("unknown field {key:?}: did you mean {close:?}?"),
                None => format!(
                    "unknown field {key:?}: Baton knows {}",
                    if known.is_empty() {
                        "no fields here".to_string()
                    } else {
                        known.join(", ")
                    }
                ),
            };
            self.sink.error(*pos, &self.child_path(key), message);
        }
    }
}

/// Parses a Go/Kubernetes duration: one or more `NUMBER UNIT` with units `ms`, `s`, `m`,
/// `h` (the pattern Flux's CRDs validate against), e.g. `1m0s`, `1.5h`.
pub fn parse_go_duration(text: &str) -> Option<Duration> {
    let mut rest = text.trim();
    if rest.is_empty() {
        return None;
    }
    let mut total = Duration::ZERO;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (number, tail) = rest.split_at(digits);
        if number.is_empty() || number.starts_with('.') || number.ends_with('.') {
            return None;
        }
        let value: f64 = number.parse().ok()?;
        let (seconds, tail) = if let Some(t) = tail.strip_prefix("ms") {
            (value / 1000.0, t)
        } else if let Some(t) = tail.strip_prefix('s') {
            (value, t)
        } else if let Some(t) = tail.strip_prefix('m') {
            (value * 60.0, t)
        } else if let Some(t) = tail.strip_prefix('h') {
            (value * 3600.0, t)
        } else {
            return None;
        };
        // Larger than a year is not a scan interval: refuse rather than overflow.
        if !seconds.is_finite() || seconds > 366.0 * 86400.0 {
            return None;
        }
        total = total.checked_add(Duration::from_secs_f64(seconds))?;
        rest = tail;
    }
    Some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_kubernetes_durations() {
        assert_eq!(parse_go_duration("1m0s"), Some(Duration::from_secs(60)));
        assert_eq!(parse_go_duration("5m"), Some(Duration::from_secs(300)));
        assert_eq!(parse_go_duration("1h30m"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_go_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_go_duration("1.5h"), Some(Duration::from_secs(5400)));
        for bad in [
            "",
            "5",
            "m",
            "1d",
            "1m 0s",
            ".5s",
            "5.s",
            "-1m",
            "99999999999h",
        ] {
            assert_eq!(parse_go_duration(bad), None, "{bad:?}");
        }
    }
}
