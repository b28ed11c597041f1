//! A YAML document as a tree of maps, lists and scalars, each with the line and column it
//! starts at, built from saphyr-parser's events so that every error can name its place.

use std::borrow::Cow;

use saphyr_parser::{Event, Parser, ScalarStyle};

/// Nodes deeper than this are refused: a hostile file must not exhaust the stack.
const MAX_DEPTH: usize = 64;

/// Where a node starts: 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pos {
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
}

/// One YAML node with its position.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// Where the node starts.
    pub pos: Pos,
    /// What it holds.
    pub value: Value,
}

/// The content of a node.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A scalar as written (the text, and whether it was quoted, so `"true"` stays text).
    Scalar {
        /// The scalar's text after unquoting and folding.
        text: String,
        /// True for single- or double-quoted and block scalars.
        quoted: bool,
    },
    /// A sequence.
    List(Vec<Node>),
    /// A mapping; keys are scalars, kept in file order with their own positions.
    Map(Vec<(String, Pos, Node)>),
    /// An alias (`*name`): not followed (see the note on [`parse`]).
    Alias,
}

impl Node {
    /// The value under `key` when this node is a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.value {
            Value::Map(entries) => entries.iter().find(|(k, _, _)| k == key).map(|(_, _, v)| v),
            _ => None,
        }
    }

    /// The scalar's text, when this node is a scalar.
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Scalar { text, .. } => Some(text),
            _ => None,
        }
    }

    /// True for `null`, `~` or an empty plain scalar.
    pub fn is_null(&self) -> bool {
        matches!(&self.value, Value::Scalar { text, quoted: false } if text.is_empty() || text == "~" || text == "null" || text == "Null" || text == "NULL")
    }

    /// A short name of the node's kind, for messages.
    pub fn kind(&self) -> &'static str {
        match &self.value {
            Value::Scalar { .. } => "a scalar",
            Value::List(_) => "a list",
            Value::Map(_) => "a mapping",
            Value::Alias => "an alias",
        }
    }
}

/// A document that did not parse, with the place of the fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    /// Where the parser stopped.
    pub pos: Pos,
    /// What it said.
    pub message: String,
}

/// Parses every document of a (possibly multi-document) YAML text. Empty documents are
/// dropped. Anchors are accepted and aliases kept as [`Value::Alias`] (Kubernetes objects
/// do not use them; a reader that meets one reports it), so an alias bomb cannot expand.
pub fn parse(text: &str) -> Result<Vec<Node>, SyntaxError> {
    let mut parser = Parser::new_from_str(text);
    let mut docs = Vec::new();
    // Open collections: the node being built and, for maps, the key waiting for its value.
    let mut stack: Vec<(Node, Option<(String, Pos)>)> = Vec::new();
    let mut root: Option<Node> = None;
    for event in &mut parser {
        let (event, span) = event.map_err(|err| SyntaxError {
            pos: Pos {
                line: err.marker().line(),
                column: err.marker().col() + 1,
            },
            message: err.info().to_string(),
        })?;
        let pos = Pos {
            line: span.start.line(),
            column: span.start.col() + 1,
        };
        let finished = match event {
            Event::DocumentStart(_) => {
                root = None;
                None
            }
            Event::DocumentEnd => {
                if let Some(node) = root.take()
                    && !node.is_null()
                {
                    docs.push(node);
                }
                None
            }
            Event::Scalar(text, style, _, _) => Some(Node {
                pos,
                value: Value::Scalar {
                    text: Cow::into_owned(text),
                    quoted: style != ScalarStyle::Plain,
                },
            }),
            Event::Alias(_) => Some(Node {
                pos,
                value: Value::Alias,
            }),
            Event::SequenceStart(..) | Event::MappingStart(..) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(SyntaxError {
                        pos,
                        message: format!("nested deeper than {MAX_DEPTH} levels"),
                    });
                }
                let value = match event {
                    Event::SequenceStart(..) => Value::List(Vec::new()),
                    _ => Value::Map(Vec::new()),
                };
                stack.push((Node { pos, value }, None));
                None
            }
            Event::SequenceEnd | Event::MappingEnd => stack.pop().map(|(node, _)| node),
            Event::StreamStart | Event::StreamEnd | Event::Nothing => None,
        };
        let Some(node) = finished else { continue };
        match stack.last_mut() {
            None => root = Some(node),
            Some((parent, pending)) => match &mut parent.value {
                Value::List(items) => items.push(node),
                Value::Map(entries) => match pending.take() {
                    Some((key, key_pos)) => entries.push((key, key_pos, node)),
                    None => match node.value {
                        Value::Scalar { text, .. } => *pending = Some((text, node.pos)),
                        _ => {
                            return Err(SyntaxError {
                                pos: node.pos,
                                message: format!(
                                    "{} as a mapping key is not supported",
                                    node.kind()
                                ),
                            });
                        }
                    },
                },
                Value::Scalar { .. } | Value::Alias => {}
            },
        }
    }
    Ok(docs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_documents_with_positions() {
        let text = "---\napiVersion: v1\nkind: X\nspec:\n  list:\n    - a\n    - \"b\"\n---\n---\nk: [1, 2]\n";
        let docs = parse(text).unwrap();
        assert_eq!(docs.len(), 2, "the empty document is dropped");
        let spec = docs[0].get("spec").unwrap();
        assert_eq!(spec.pos, Pos { line: 5, column: 3 });
        let Value::List(items) = &spec.get("list").unwrap().value else {
            panic!("not a list")
        };
        assert_eq!(items[1].as_str(), Some("b"));
        assert_eq!(items[1].pos, Pos { line: 7, column: 7 });
        assert!(matches!(items[1].value, Value::Scalar { quoted: true, .. }));
        let Value::Map(entries) = &docs[0].value else {
            panic!("not a map")
        };
        assert_eq!(entries[1].0, "kind");
        assert_eq!(entries[1].1, Pos { line: 3, column: 1 });
        assert_eq!(docs[1].get("k").unwrap().kind(), "a list");
    }

    #[test]
    fn reports_syntax_errors_with_their_line() {
        let err = parse("a: 1\nb: [unclosed\nc: 2\n").unwrap_err();
        assert!(err.pos.line >= 2, "{err:?}");
        assert!(!err.message.is_empty());
    }

    #[test]
    fn refuses_deep_nesting_and_keeps_aliases_unexpanded() {
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        assert!(parse(&deep).unwrap_err().message.contains("nested deeper"));
        let docs = parse("a: &x {k: v}\nb: *x\n").unwrap();
        assert_eq!(docs[0].get("b").unwrap().value, Value::Alias);
        assert_eq!(
            parse("? [a]\n: b\n").unwrap_err().message,
            "a list as a mapping key is not supported"
        );
    }
}
