//! Go (RE2) regular expressions, as Flux compiles `filterTags.pattern` and
//! `exclusionList`, translated to the `regex` crate so that they match the same tags.
//!
//! Where the two dialects read the same text differently, the Go meaning is kept:
//! `\<` and `\>` are the literal characters, `\Q...\E` quotes, `x{,3}` and `{01}` are
//! literal braces, `\101` is octal, group names may start with a digit or repeat
//! (the first group of that name that took part in the match is used). What Go rejects
//! is rejected with the construct named: `(?x)`, `(?u)`, `(?R)`, look-around,
//! backreferences, repeat counts over 1000 and stacked repetitions such as `a**`.

use regex::Regex;

/// A compiled Go pattern: the `regex` crate expression and Go's capture group names.
#[derive(Debug, Clone)]
pub struct GoRegex {
    /// The pattern as the operator wrote it (Go syntax).
    source: String,
    /// The translated expression; every group in it is unnamed.
    regex: Regex,
    /// Go's name of each capture group by index (index 0, the whole match, has none).
    names: Vec<Option<String>>,
    /// Constructs that Go reads differently from Perl/Rust, found in the pattern.
    notes: Vec<String>,
}

/// Why a Go pattern was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GoRegexError {
    /// A construct Go's regexp package rejects (so Flux would reject it too).
    #[error("{construct} is not valid in Go's regular expression syntax (which Flux uses): {hint}")]
    Unsupported {
        /// The construct as written.
        construct: String,
        /// How to write it instead.
        hint: &'static str,
    },
    /// Any other syntax error, as the `regex` crate explains it.
    #[error("{0}")]
    Syntax(String),
}

impl GoRegex {
    /// Translates and compiles a Go pattern.
    pub fn new(pattern: &str) -> Result<GoRegex, GoRegexError> {
        let translated = translate(pattern)?;
        let regex = Regex::new(&translated.text).map_err(|e| {
            GoRegexError::Syntax(
                e.to_string()
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .collect::<Vec<_>>()
                    .join(" "),
            )
        })?;
        Ok(GoRegex {
            source: pattern.to_string(),
            regex,
            names: translated.names,
            notes: translated.notes,
        })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// The compiled expression (groups unnamed, numbered as in Go).
    pub fn regex(&self) -> &Regex {
        &self.regex
    }

    /// Go's name of each group by index; index 0 (the whole match) has none.
    pub fn names(&self) -> &[Option<String>] {
        &self.names
    }

    /// Constructs read the Go way where Perl or Rust would read them otherwise, each as
    /// a sentence for `baton check`.
    pub fn notes(&self) -> &[String] {
        &self.notes
    }
}

struct Translated {
    text: String,
    names: Vec<Option<String>>,
    notes: Vec<String>,
}

fn unsupported(construct: impl Into<String>, hint: &'static str) -> GoRegexError {
    GoRegexError::Unsupported {
        construct: construct.into(),
        hint,
    }
}

/// Appends `c` as a literal, escaped when it is a meta character in or out of a class.
fn push_literal(out: &mut String, c: char) {
    if regex_syntax_meta(c) {
        out.push('\\');
    }
    out.push(c);
}

fn regex_syntax_meta(c: char) -> bool {
    matches!(
        c,
        '\\' | '.'
            | '+'
            | '*'
            | '?'
            | '('
            | ')'
            | '|'
            | '['
            | ']'
            | '{'
            | '}'
            | '^'
            | '$'
            | '#'
            | '&'
            | '-'
            | '~'
    )
}

/// Go `parseRepeat` at a `{`: `{n}`, `{n,}` or `{n,m}` with digits and no leading zero.
/// Returns (min, max or None for open, length), or None when `{` is a literal.
fn go_repeat(chars: &[char]) -> Option<(i64, Option<i64>, usize)> {
    let mut i = 1;
    let int = |i: &mut usize| -> Option<i64> {
        let start = *i;
        if !chars.get(start)?.is_ascii_digit() {
            return None;
        }
        if chars[start] == '0' && chars.get(start + 1).is_some_and(char::is_ascii_digit) {
            return None;
        }
        let mut n: i64 = 0;
        while let Some(d) = chars.get(*i).and_then(|c| c.to_digit(10)) {
            n = if n >= 100_000_000 {
                -1
            } else {
                n * 10 + i64::from(d)
            };
            if n < 0 {
                n = i64::MAX;
            }
            *i += 1;
        }
        Some(n)
    };
    let min = int(&mut i)?;
    let max = if chars.get(i) == Some(&',') {
        i += 1;
        if chars.get(i) == Some(&'}') {
            None
        } else {
            Some(int(&mut i)?)
        }
    } else {
        Some(min)
    };
    (chars.get(i) == Some(&'}')).then_some((min, max, i + 1))
}

/// Go octal escape after `\`: `\0`, `\0NN`, `\NN`, `\NNN` (first digit 1-7 needs a second).
fn octal(chars: &[char], i: usize) -> Option<(char, usize)> {
    let first = chars.get(i)?.to_digit(8)?;
    let mut value = first;
    let mut len = 1;
    if first != 0 && !chars.get(i + 1).is_some_and(|c| c.is_digit(8)) {
        return None;
    }
    while len < 3 {
        match chars.get(i + len).and_then(|c| c.to_digit(8)) {
            Some(d) => {
                value = value * 8 + d;
                len += 1;
            }
            None => break,
        }
    }
    Some((char::from_u32(value)?, len))
}

fn translate(pattern: &str) -> Result<Translated, GoRegexError> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = String::with_capacity(pattern.len() + 8);
    let mut names: Vec<Option<String>> = vec![None];
    let mut notes: Vec<String> = Vec::new();
    let mut note = |text: String| {
        if !notes.contains(&text) {
            notes.push(text);
        }
    };
    // True right after a repetition operator: Go rejects another one there.
    let mut after_repeat: Option<String> = None;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let mut repeat: Option<String> = None;
        match c {
            '\\' => {
                let Some(&next) = chars.get(i + 1) else {
                    out.push('\\');
                    i += 1;
                    continue;
                };
                match next {
                    'Q' => {
                        let start = i + 2;
                        let mut end = start;
                        while end < chars.len()
                            && !(chars[end] == '\\' && chars.get(end + 1) == Some(&'E'))
                        {
                            end += 1;
                        }
                        for &q in &chars[start..end] {
                            push_literal(&mut out, q);
                        }
                        note("\\Q...\\E quotes its text literally (Go syntax)".to_string());
                        i = if end < chars.len() { end + 2 } else { end };
                    }
                    '<' | '>' => {
                        out.push(next);
                        note(format!(
                            "\\{next} is the literal character {next} in Go syntax, not a word boundary: write \\b for a word boundary"
                        ));
                        i += 2;
                    }
                    '0'..='7' => {
                        let (ch, len) = octal(&chars, i + 1).ok_or_else(|| {
                            unsupported(
                                format!("backreference \\{next}"),
                                "Go has no backreferences; write the text itself",
                            )
                        })?;
                        out.push_str(&format!("\\x{{{:X}}}", u32::from(ch)));
                        note(format!(
                            "\\{} is an octal escape for {ch:?} (Go syntax)",
                            chars[i + 1..i + 1 + len].iter().collect::<String>()
                        ));
                        i += 1 + len;
                    }
                    'p' | 'P' if chars.get(i + 2) == Some(&'{') => {
                        // `\p{Name}`: copy through the closing brace.
                        let end = chars[i..]
                            .iter()
                            .position(|c| *c == '}')
                            .map_or(chars.len(), |p| i + p + 1);
                        out.extend(&chars[i..end]);
                        i = end;
                    }
                    _ => {
                        out.push('\\');
                        out.push(next);
                        i += 2;
                    }
                }
            }
            '[' => {
                i = translate_class(&chars, i, &mut out, &mut note)?;
            }
            '{' => match go_repeat(&chars[i..]) {
                Some((min, max, len)) => {
                    let text: String = chars[i..i + len].iter().collect();
                    if min > 1000 || max.is_some_and(|m| m > 1000) {
                        return Err(unsupported(
                            format!("repeat count {text}"),
                            "Go allows at most 1000 repetitions: use + or * instead",
                        ));
                    }
                    if let Some(previous) = &after_repeat {
                        return Err(unsupported(
                            format!("stacked repetition {previous}{text}"),
                            "Go rejects a repetition of a repetition: wrap the first in (?:...)",
                        ));
                    }
                    out.push_str(&text);
                    i += len;
                    repeat = Some(text);
                }
                None => {
                    out.push_str("\\{");
                    if chars[i + 1..]
                        .iter()
                        .take_while(|c| **c != '}')
                        .any(|c| *c == ',')
                    {
                        note(
                            "a brace that does not start {n}, {n,} or {n,m} is a literal { in Go syntax (so {,n} matches the text)"
                                .to_string(),
                        );
                    }
                    i += 1;
                }
            },
            '*' | '+' | '?' => {
                let mut text = c.to_string();
                i += 1;
                if chars.get(i) == Some(&'?') {
                    text.push('?');
                    i += 1;
                }
                if let Some(previous) = &after_repeat {
                    return Err(unsupported(
                        format!("stacked repetition {previous}{text}"),
                        "Go rejects a repetition of a repetition: wrap the first in (?:...)",
                    ));
                }
                out.push_str(&text);
                repeat = Some(text);
            }
            '(' if chars.get(i + 1) == Some(&'?') => {
                i = translate_group(&chars, i, &mut out, &mut names)?;
            }
            '(' => {
                names.push(None);
                out.push('(');
                i += 1;
            }
            _ => {
                out.push(c);
                i += 1;
            }
        }
        // A lazy `?` after `{n}` belongs to the repetition.
        if let Some(text) = &mut repeat
            && text.starts_with('{')
            && chars.get(i) == Some(&'?')
        {
            text.push('?');
            out.push('?');
            i += 1;
        }
        after_repeat = repeat;
    }
    Ok(Translated {
        text: out,
        names,
        notes,
    })
}

/// At `(?`: named groups, non-capturing groups and flags with Go's rules.
fn translate_group(
    chars: &[char],
    start: usize,
    out: &mut String,
    names: &mut Vec<Option<String>>,
) -> Result<usize, GoRegexError> {
    let rest: String = chars[start..].iter().take(40).collect();
    let name_start = if rest.starts_with("(?P<") {
        Some(start + 4)
    } else if rest.starts_with("(?<") && !rest.starts_with("(?<=") && !rest.starts_with("(?<!") {
        Some(start + 3)
    } else {
        None
    };
    if let Some(name_start) = name_start {
        let end = chars[name_start..]
            .iter()
            .position(|c| *c == '>')
            .map(|p| name_start + p)
            .ok_or_else(|| {
                unsupported(
                    rest.clone(),
                    "a named group is written (?P<name>...) with a closing >",
                )
            })?;
        let name: String = chars[name_start..end].iter().collect();
        if name.is_empty() || !name.chars().all(|c| c == '_' || c.is_ascii_alphanumeric()) {
            return Err(unsupported(
                format!("group name {name:?}"),
                "a Go group name is made of ASCII letters, digits and _",
            ));
        }
        names.push(Some(name));
        out.push('(');
        return Ok(end + 1);
    }
    if rest.starts_with("(?P=") || rest.starts_with("(?P>") {
        return Err(unsupported(
            rest.chars().take(6).collect::<String>(),
            "Go has no backreferences or recursion; write the text itself",
        ));
    }
    if ["(?=", "(?!", "(?<=", "(?<!"]
        .iter()
        .any(|p| rest.starts_with(p))
    {
        return Err(unsupported(
            rest.chars().take(4).collect::<String>(),
            "Go has no look-around; match the text itself and use extract to keep part of it",
        ));
    }
    // Flags: (?flags) or (?flags:...), Go allows i, m, s, U and one -.
    let mut i = start + 2;
    let mut negated = false;
    let mut any = false;
    while let Some(&c) = chars.get(i) {
        match c {
            'i' | 'm' | 's' | 'U' => any = true,
            '-' if !negated => negated = true,
            ':' | ')' => break,
            'x' => {
                return Err(unsupported(
                    "flag x (verbose mode) in (?x)",
                    "Go has no verbose mode: remove the flag, the spaces and the comments",
                ));
            }
            'u' => {
                return Err(unsupported(
                    "flag u in (?u) or (?-u)",
                    "Go has no Unicode switch: remove the flag",
                ));
            }
            'R' => {
                return Err(unsupported(
                    "flag R in (?R)",
                    "Go has no CRLF mode: remove the flag",
                ));
            }
            other => {
                return Err(unsupported(
                    format!("flag {other:?} in a (?...) group"),
                    "Go allows the flags i, m, s and U",
                ));
            }
        }
        i += 1;
    }
    let text: String = chars[start..i.min(chars.len())].iter().collect();
    match chars.get(i) {
        Some(':') if !negated || any => {
            out.push_str(&text);
            out.push(':');
            Ok(i + 1)
        }
        Some(')') if any => {
            out.push_str(&text);
            out.push(')');
            Ok(i + 1)
        }
        _ => Err(unsupported(
            text,
            "write (?flags), (?flags:...) or (?:...) with the flags i, m, s and U",
        )),
    }
}

/// At `[`: a Go character class, where `[`, `&&`, `~~` and `--` are literal characters.
fn translate_class(
    chars: &[char],
    start: usize,
    out: &mut String,
    note: &mut impl FnMut(String),
) -> Result<usize, GoRegexError> {
    let unclosed = || unsupported("[", "a character class needs a closing ]");
    let mut i = start + 1;
    out.push('[');
    if chars.get(i) == Some(&'^') {
        out.push('^');
        i += 1;
    }
    let mut first = true;
    loop {
        let c = *chars.get(i).ok_or_else(unclosed)?;
        if c == ']' && !first {
            out.push(']');
            return Ok(i + 1);
        }
        first = false;
        // POSIX class [:name:].
        if c == '[' && chars.get(i + 1) == Some(&':') {
            let rest: String = chars[i..].iter().collect();
            if let Some(end) = rest[2..].find(":]") {
                let text = &rest[..end + 4];
                out.push_str(text);
                i += text.chars().count();
                continue;
            }
        }
        if c == '\\' && matches!(chars.get(i + 1), Some('p' | 'P')) {
            out.push('\\');
            out.push(chars[i + 1]);
            i += 2;
            if chars.get(i) == Some(&'{') {
                while let Some(&p) = chars.get(i) {
                    out.push(p);
                    i += 1;
                    if p == '}' {
                        break;
                    }
                }
            } else if let Some(&p) = chars.get(i) {
                out.push(p);
                i += 1;
            }
            continue;
        }
        if c == '\\' && matches!(chars.get(i + 1), Some('d' | 'D' | 's' | 'S' | 'w' | 'W')) {
            out.push('\\');
            out.push(chars[i + 1]);
            i += 2;
            continue;
        }
        i = class_char(chars, i, out, note)?;
        if chars.get(i) == Some(&'-') && chars.get(i + 1).is_some_and(|c| *c != ']') {
            out.push('-');
            i = class_char(chars, i + 1, out, note)?;
        }
        if c == '&' && chars.get(i) == Some(&'&') || c == '[' {
            note(format!(
                "{} inside a character class is literal text in Go syntax, not a class operation",
                if c == '[' { "[" } else { "&&" }
            ));
        }
    }
}

/// One class character (plain or escaped) at `chars[i]`, written as a literal.
fn class_char(
    chars: &[char],
    i: usize,
    out: &mut String,
    note: &mut impl FnMut(String),
) -> Result<usize, GoRegexError> {
    let c = *chars
        .get(i)
        .ok_or_else(|| unsupported("[", "a character class needs a closing ]"))?;
    if c != '\\' {
        push_literal(out, c);
        return Ok(i + 1);
    }
    let next = *chars
        .get(i + 1)
        .ok_or_else(|| unsupported("\\", "a pattern cannot end with a backslash"))?;
    match next {
        '0'..='7' => {
            let (ch, len) = octal(chars, i + 1).ok_or_else(|| {
                unsupported(
                    format!("backreference \\{next}"),
                    "Go has no backreferences; write the text itself",
                )
            })?;
            out.push_str(&format!("\\x{{{:X}}}", u32::from(ch)));
            note(format!("\\{next}... is an octal escape (Go syntax)"));
            Ok(i + 1 + len)
        }
        '<' | '>' => {
            out.push(next);
            Ok(i + 2)
        }
        _ => {
            out.push('\\');
            out.push(next);
            Ok(i + 2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(pattern: &str, text: &str) -> bool {
        GoRegex::new(pattern)
            .unwrap_or_else(|e| panic!("{pattern}: {e}"))
            .regex()
            .is_match(text)
    }

    /// Go regexp/syntax facts where Perl/Rust differ.
    #[test]
    fn go_dialect() {
        let cases: &[(&str, &str, bool)] = &[
            (r"^\Qv2.\E", "v2.3", true),
            (r"^\Qv2.\E", "v2x3", false),
            (r"^\Qa.b", "a.b", true),
            (r"^\Q[a]*", "[a]*", true),
            (r"2\>", "2>", true),
            (r"2\>", "2", false),
            (r"\<a", "<a", true),
            (r"^0{,1}", "0{,1}", true),
            (r"^0{,1}", "0", false),
            (r"^a{01}", "a{01}", true),
            (r"^a{2}$", "aa", true),
            (r"^a{2,}?$", "aaa", true),
            (r"^\062\0563", "2.3", true),
            (r"^\0", "\0", true),
            (r"^\101$", "A", true),
            (r"^\1010$", "A0", true),
            (r"^[\101-\103]+$", "ABC", true),
            (r"^[a-z&&[^vst]]", "v]", true),
            (r"^[a-z&&[^vst]]", "v", false),
            (r"^[a~~b]$", "~", true),
            (r"^[]a]$", "]", true),
            (r"^[-a]$", "-", true),
            (r"^[a-]$", "-", true),
            (r"^[[:digit:]]+$", "123", true),
            (r"(?i)rc", "RC", true),
            (r"(?i:v)1", "V1", true),
            (r"^\p{Lu}", "Preview", true),
            (r"^\pL+$", "prod", true),
            (r"^\pN", "7", true),
            (r"\b{start}", "a{start}", true),
        ];
        for &(pattern, text, expected) in cases {
            assert_eq!(matches(pattern, text), expected, "{pattern:?} on {text:?}");
        }
    }

    #[test]
    fn go_rejections_are_named() {
        let cases: &[(&str, &str)] = &[
            ("(?x)^a b", "flag x (verbose mode)"),
            ("(?-u)^v", "flag u"),
            ("(?R)a", "flag R"),
            ("a{1001}", "repeat count {1001}"),
            ("a{2,1001}", "repeat count {2,1001}"),
            ("a**", "stacked repetition **"),
            ("a{2}{3}", "stacked repetition {2}{3}"),
            ("a*??", "stacked repetition *??"),
            (r"(a)\1", "backreference \\1"),
            ("(?=a)", "(?=a"),
            ("(?P=n)", "(?P=n)"),
            ("(?P<a-b>x)", "group name \"a-b\""),
            ("(?)", "(?"),
        ];
        for &(pattern, construct) in cases {
            let err = GoRegex::new(pattern).unwrap_err().to_string();
            assert!(err.contains(construct), "{pattern}: {err}");
            assert!(
                err.contains("Go's regular expression syntax"),
                "{pattern}: {err}"
            );
        }
        assert!(GoRegex::new("(a").is_err());
        assert!(GoRegex::new("a{1000}").is_ok());
        assert!(GoRegex::new("a*?").is_ok());
        assert!(GoRegex::new("(?i-s:a)").is_ok());
    }

    #[test]
    fn group_names_follow_go() {
        let re = GoRegex::new(r"^(?P<01>\d)(x)(?<rel>a)|(?P<rel>b)").unwrap();
        assert_eq!(
            re.names(),
            &[
                None,
                Some("01".to_string()),
                None,
                Some("rel".to_string()),
                Some("rel".to_string())
            ]
        );
        assert!(GoRegex::new(r"2\>").unwrap().notes()[0].contains("literal character >"));
    }
}
