//! Reading one line: where its comment starts, whether that comment is a marker, and which
//! bytes hold the marked scalar. Pure text functions, no I/O.

use std::ops::Range;

use serde_json::Value;

use super::Field;
use crate::common::text::listed;

/// A marker comment as written, before it is tied to a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MarkerSpec {
    /// The policy name from the config.
    pub policy: String,
    /// Flux's namespace part, when the marker is a Flux `$imagepolicy` one.
    pub namespace: Option<String>,
    /// Which part of the reference the marked value holds.
    pub field: Field,
    /// Why a person froze this line, when they did.
    pub hold: Option<String>,
}

/// Byte offset where the line's comment `#` starts, if it has one. A `#` starts a comment
/// at the start of the line or after white space, outside quoted scalars.
pub(crate) fn comment_start(line: &str) -> Option<usize> {
    let bytes = line.as_bytes();
    let mut i = 0;
    let mut quote: Option<u8> = None;
    while i < bytes.len() {
        let b = bytes[i];
        match quote {
            Some(b'"') => {
                if b == b'\\' {
                    i += 1;
                } else if b == b'"' {
                    quote = None;
                }
            }
            Some(_) => {
                if b == b'\'' {
                    if bytes.get(i + 1) == Some(&b'\'') {
                        i += 1;
                    } else {
                        quote = None;
                    }
                }
            }
            None => {
                let at_token_start =
                    i == 0 || matches!(bytes[i - 1], b' ' | b'\t' | b'[' | b'{' | b',');
                if (b == b'"' || b == b'\'') && at_token_start {
                    quote = Some(b);
                } else if b == b'#' && (i == 0 || matches!(bytes[i - 1], b' ' | b'\t')) {
                    return Some(i);
                }
            }
        }
        i += 1;
    }
    None
}

/// Reads a marker from a comment's text (after the `#`). `Ok(None)` when the comment is not
/// a marker at all; `Err` with a message for the operator when it tries to be one and fails.
pub(crate) fn parse_marker(comment: &str) -> Result<Option<MarkerSpec>, String> {
    let text = comment.trim_start();
    if !text.starts_with('{') || !(text.contains("\"$imagepolicy\"") || text.contains("\"$baton\""))
    {
        return Ok(None);
    }
    let mut stream = serde_json::Deserializer::from_str(text).into_iter::<Value>();
    let value = match stream.next() {
        Some(Ok(value)) => value,
        Some(Err(err)) => {
            return Err(format!(
                "marker is not valid JSON ({err}): write it as # {{\"$baton\": \"POLICY\"}}"
            ));
        }
        None => return Ok(None),
    };
    let Value::Object(map) = value else {
        return Err(
            "marker is not a JSON object: write it as # {\"$baton\": \"POLICY\"}".to_string(),
        );
    };
    let flux = map.get("$imagepolicy");
    let own = map.get("$baton");
    let (key, setter) = match (flux, own) {
        (Some(_), Some(_)) => {
            return Err("marker has both \"$imagepolicy\" and \"$baton\": keep one".to_string());
        }
        (Some(v), None) => ("$imagepolicy", v),
        (None, Some(v)) => ("$baton", v),
        (None, None) => return Ok(None),
    };
    let Value::String(setter) = setter else {
        return Err(format!(
            "\"{key}\" must be a string such as \"POLICY\" or \"POLICY:tag\""
        ));
    };
    let mut parts: Vec<&str> = setter.split(':').map(str::trim).collect();
    let namespace = if key == "$imagepolicy" {
        if parts.len() < 2 {
            return Err(format!(
                "\"$imagepolicy\": {setter:?} has no namespace: Flux markers read \"NAMESPACE:POLICY\""
            ));
        }
        Some(parts.remove(0).to_string())
    } else {
        None
    };
    let (policy, field) = match parts.as_slice() {
        [policy] => (*policy, Field::Full),
        [policy, suffix] => {
            // Every field but the first (the full reference) is named by its suffix.
            let suffixed = &Field::ALL[1..];
            match suffixed.iter().find(|f| f.as_str() == *suffix) {
                Some(field) => (*policy, *field),
                None => {
                    let names = listed(suffixed.iter().map(|f| format!(":{f}")), "or");
                    return Err(format!(
                        "\"{key}\": unknown field {suffix:?} in {setter:?}: use {names}, or nothing for the full reference"
                    ));
                }
            }
        }
        _ => return Err(format!("\"{key}\": {setter:?} has too many ':' parts")),
    };
    if policy.is_empty() {
        return Err(format!("\"{key}\": {setter:?} names no policy"));
    }
    let hold = match map.get("hold") {
        None => None,
        Some(Value::String(reason)) if !reason.trim().is_empty() => Some(reason.trim().to_string()),
        Some(_) => {
            return Err(
                "\"hold\" must be a non-empty string saying why the line is frozen".to_string(),
            );
        }
    };
    Ok(Some(MarkerSpec {
        policy: policy.to_string(),
        namespace,
        field,
        hold,
    }))
}

/// The byte range of the scalar a marker line sets, within `content` (the line before its
/// comment). Handles `key: value`, `- value`, `- key: value`, quoted keys and values.
pub(crate) fn locate_value(content: &str) -> Result<Range<usize>, String> {
    let bytes = content.as_bytes();
    let end = content.trim_end_matches([' ', '\t']).len();
    let mut i = 0;
    // A BOM on the first line belongs to no scalar.
    if content.starts_with('\u{feff}') {
        i = '\u{feff}'.len_utf8();
    }
    // A document start marker on the same line (`--- value`).
    if bytes[i..].starts_with(b"---") && matches!(bytes.get(i + 3), Some(b' ' | b'\t')) {
        i += 3;
    }
    i = skip_blanks(bytes, i, end);
    // Sequence entries, possibly nested (`- - value`).
    while i < end && bytes[i] == b'-' && (i + 1 == end || matches!(bytes[i + 1], b' ' | b'\t')) {
        i = skip_blanks(bytes, i + 1, end);
    }
    if i >= end {
        return Err(
            "the marked line has no value: put the marker after the image reference".to_string(),
        );
    }
    if matches!(bytes[i], b'{' | b'[') {
        return Err(
            "the marked line is a flow collection: write the image reference as a block mapping value or list item".to_string(),
        );
    }
    // A key, quoted or plain, followed by `:` and a blank.
    let value_start = if matches!(bytes[i], b'"' | b'\'') {
        let close = closing_quote(bytes, i, end)?;
        let after = skip_blanks(bytes, close + 1, end);
        if after < end
            && bytes[after] == b':'
            && (after + 1 == end || matches!(bytes[after + 1], b' ' | b'\t'))
        {
            skip_blanks(bytes, after + 1, end)
        } else {
            i
        }
    } else {
        match find_key_separator(&content[i..end]) {
            Some(colon) => skip_blanks(bytes, i + colon + 1, end),
            None => i,
        }
    };
    if value_start >= end {
        return Err(
            "the marked line has a key but no value: write the image reference on the same line"
                .to_string(),
        );
    }
    match bytes[value_start] {
        b'"' | b'\'' => {
            let close = closing_quote(bytes, value_start, end)?;
            if skip_blanks(bytes, close + 1, end) != end {
                return Err("unexpected text after the quoted value".to_string());
            }
            let inner = &content[value_start + 1..close];
            if inner.contains('\\') || inner.contains('\'') {
                return Err("the marked value uses escapes, which baton does not rewrite: write it without them".to_string());
            }
            Ok(value_start + 1..close)
        }
        b'{' | b'[' | b'|' | b'>' | b'&' | b'*' | b'!' | b'%' | b'@' | b'`' => Err(
            "the marked value is not a plain or quoted scalar (flow collection, block scalar, anchor, alias or tag): write the reference as a plain or quoted value".to_string(),
        ),
        _ => {
            let value = &content[value_start..end];
            if find_key_separator(value).is_some() {
                return Err("the marked line holds more than one key: put the marker on the line of the value it sets".to_string());
            }
            Ok(value_start..end)
        }
    }
}

fn skip_blanks(bytes: &[u8], mut i: usize, end: usize) -> usize {
    while i < end && matches!(bytes[i], b' ' | b'\t') {
        i += 1;
    }
    i
}

/// Index of the quote that closes the one at `open`.
fn closing_quote(bytes: &[u8], open: usize, end: usize) -> Result<usize, String> {
    let quote = bytes[open];
    let mut i = open + 1;
    while i < end {
        if quote == b'"' && bytes[i] == b'\\' {
            i += 2;
            continue;
        }
        if bytes[i] == quote {
            if quote == b'\'' && bytes.get(i + 1) == Some(&b'\'') {
                i += 2;
                continue;
            }
            return Ok(i);
        }
        i += 1;
    }
    Err("a quoted value is not closed on the marked line".to_string())
}

/// Where a plain mapping key ends: the first `:` followed by a blank or the end.
fn find_key_separator(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    (0..bytes.len()).find(|&i| {
        bytes[i] == b':' && (i + 1 == bytes.len() || matches!(bytes[i + 1], b' ' | b'\t'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(line: &str) -> Result<&str, String> {
        let content = match comment_start(line) {
            Some(at) => &line[..at],
            None => line,
        };
        locate_value(content).map(|r| &content[r])
    }

    #[test]
    fn finds_comments_outside_quotes() {
        assert_eq!(comment_start("image: app:1 # x"), Some(13));
        assert_eq!(comment_start("# whole line"), Some(0));
        assert_eq!(comment_start("image: \"a#b\" # x"), Some(13));
        assert_eq!(comment_start("image: 'it''s # no' # x"), Some(20));
        assert_eq!(comment_start("url: http://x/#frag"), None);
        assert_eq!(comment_start("a: \"\\\"#\" #c"), Some(9));
    }

    #[test]
    fn locates_every_scalar_form() {
        assert_eq!(value("image: ghcr.io/a/b:1.0 # m"), Ok("ghcr.io/a/b:1.0"));
        assert_eq!(
            value("  - localhost:5000/app:1.0   # m"),
            Ok("localhost:5000/app:1.0")
        );
        assert_eq!(value("- image: app:1.0 # m"), Ok("app:1.0"));
        assert_eq!(value("- - app:1.0 # m"), Ok("app:1.0"));
        assert_eq!(value("  newTag: \"1.0\" # m"), Ok("1.0"));
        assert_eq!(value("  tag: '1.0' # m"), Ok("1.0"));
        assert_eq!(value("\"image\": app:1.0 # m"), Ok("app:1.0"));
        assert_eq!(value("'image':\t'app:1.0'\t# m"), Ok("app:1.0"));
        assert_eq!(value("\u{feff}image: app:1 # m"), Ok("app:1"));
        assert_eq!(value("image: app:1@sha256:abc # m"), Ok("app:1@sha256:abc"));
        assert_eq!(value("\"app:1.0\" # m"), Ok("app:1.0"));
    }

    #[test]
    fn refuses_what_it_cannot_edit_safely() {
        assert!(value("image: # m").is_err());
        assert!(value("- # m").is_err());
        assert!(value("image: {name: app} # m").is_err());
        assert!(value("image: &a app:1 # m").is_err());
        assert!(value("image: \"app\\t1\" # m").is_err());
        assert!(value("image: \"app:1 # m").is_err());
        assert!(value("a: b: c # m").is_err());
        assert!(value("image: \"app:1\" trailing # m").is_err());
    }

    #[test]
    fn reads_flux_and_baton_markers() {
        let m = parse_marker(r#" {"$imagepolicy": "flux-system:podinfo"}"#)
            .unwrap()
            .unwrap();
        assert_eq!(
            (m.policy.as_str(), m.namespace.as_deref(), m.field),
            ("podinfo", Some("flux-system"), Field::Full)
        );
        let m = parse_marker(r#"{ "$imagepolicy" : "ns:p:tag" }"#)
            .unwrap()
            .unwrap();
        assert_eq!(m.field, Field::Tag);
        let m = parse_marker(r#"{"$imagepolicy": "ns:p:name"} trailing words"#)
            .unwrap()
            .unwrap();
        assert_eq!(m.field, Field::Name);
        let m = parse_marker(r#"{"$baton": "api:digest"}"#)
            .unwrap()
            .unwrap();
        assert_eq!(
            (m.policy.as_str(), m.namespace, m.field),
            ("api", None, Field::Digest)
        );
        let m = parse_marker(r#"{"$baton": "api", "hold": " INC-123 rollback "}"#)
            .unwrap()
            .unwrap();
        assert_eq!(m.hold.as_deref(), Some("INC-123 rollback"));
        assert_eq!(parse_marker(" just a comment").unwrap(), None);
        assert_eq!(parse_marker(r#"{"other": 1}"#).unwrap(), None);
    }

    #[test]
    fn malformed_markers_say_what_is_wrong() {
        for (text, says) in [
            (
                r#"{"$imagepolicy": "flux-system:podinfo""#,
                "not valid JSON",
            ),
            (r#"{"$imagepolicy": "podinfo"}"#, "no namespace"),
            (r#"{"$imagepolicy": "ns:p:version"}"#, "unknown field"),
            (r#"{"$baton": 3}"#, "must be a string"),
            (r#"{"$baton": "a", "hold": ""}"#, "hold"),
            (r#"{"$baton": "a", "$imagepolicy": "n:a"}"#, "both"),
            (r#"{"$baton": ":tag"}"#, "names no policy"),
            (r#"{"$baton": "a:b:c"}"#, "too many"),
        ] {
            let err = parse_marker(text).unwrap_err();
            assert!(err.contains(says), "{text}: {err}");
        }
    }
}
