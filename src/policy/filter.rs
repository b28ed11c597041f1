//! Tag filters: Flux's `filterTags` (an unanchored Go regular expression plus an optional
//! `extract` template) and the exclusion list (Flux's `exclusionList`, default `^.*\.sig$`).
//!
//! `extract` follows Go's `Regexp.Expand`: `$name` takes the longest run of letters,
//! digits and `_` (`$1x` is the group named `1x`), `${name}` is braced, a name of digits
//! without a leading zero is a group number (`$01` is the group NAMED `01`), `$$` is `$`,
//! a `$` that starts no reference stays text, and a group that does not exist or did not
//! take part expands to nothing. `baton check` warns about the last case.

use std::sync::{Arc, LazyLock};

use regex::{CaptureLocations, Regex};

use super::go_regex::{GoRegex, GoRegexError};

/// Flux's default exclusion pattern: cosign signature tags such as `sha256-….sig`.
pub const DEFAULT_EXCLUDE: &str = r"^.*\.sig$";

/// An exclusion list, shared: every policy of an image, and every image without its own
/// list, holds the same compiled patterns (a cloned `Regex` carries its own match caches).
pub type Exclusions = Arc<[Regex]>;

static DEFAULT_EXCLUSIONS: LazyLock<Exclusions> = LazyLock::new(|| {
    // A compile-time constant pattern; the unit tests compile it too.
    #[allow(clippy::expect_used)]
    let re = Regex::new(DEFAULT_EXCLUDE).expect("DEFAULT_EXCLUDE is a valid regex");
    Arc::from([re])
});

/// The exclusion list used when the operator gives none: `["^.*\.sig$"]`, as in Flux.
pub fn default_exclude() -> Exclusions {
    DEFAULT_EXCLUSIONS.clone()
}

/// Compiles an operator-given exclusion list (Go syntax); it replaces the default entirely.
pub fn compile_exclusions<S: AsRef<str>>(patterns: &[S]) -> Result<Exclusions, FilterError> {
    patterns
        .iter()
        .map(|p| {
            GoRegex::new(p.as_ref())
                .map(|re| re.regex().clone())
                .map_err(|source| FilterError::BadExclude {
                    pattern: p.as_ref().to_string(),
                    source,
                })
        })
        .collect()
}

/// Why a filter or exclusion pattern was refused.
#[derive(Debug, thiserror::Error)]
pub enum FilterError {
    /// The filter `pattern` is not a valid Go regular expression.
    #[error("filter pattern {pattern:?} is not a valid regular expression: {source}")]
    BadPattern {
        /// The pattern as written.
        pattern: String,
        /// What is wrong with it.
        source: GoRegexError,
    },
    /// An exclusion pattern is not a valid Go regular expression.
    #[error("exclusion pattern {pattern:?} is not a valid regular expression: {source}")]
    BadExclude {
        /// The pattern as written.
        pattern: String,
        /// What is wrong with it.
        source: GoRegexError,
    },
}

/// One piece of a parsed `extract` template.
#[derive(Debug, Clone)]
enum Segment {
    /// Text copied as is.
    Literal(String),
    /// The first of these groups that took part in the match (Go: a name may belong to
    /// several groups); none at all expands to nothing.
    Group(Vec<usize>),
}

/// A compiled Flux `filterTags`: tags must match `pattern` (unanchored; the empty pattern
/// matches every tag); with `extract`, the expanded template, not the tag, is what the
/// policy orders.
#[derive(Debug, Clone)]
pub struct TagFilter {
    pattern: GoRegex,
    extract: Option<(String, Vec<Segment>)>,
    notes: Vec<String>,
}

/// Whether two lists of patterns are written the same, in the same order.
pub fn same_patterns(a: &[Regex], b: &[Regex]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(a, b)| a.as_str() == b.as_str())
}

/// Filters are equal when their pattern and extract template are written the same.
impl PartialEq for TagFilter {
    fn eq(&self, other: &Self) -> bool {
        self.pattern.as_str() == other.pattern.as_str()
            && self.extract.as_ref().map(|(text, _)| text)
                == other.extract.as_ref().map(|(text, _)| text)
    }
}

impl TagFilter {
    /// Compiles `pattern` (Go syntax) and parses `extract` with Go's expansion rules.
    /// An empty `extract` is the same as none (Flux treats it so).
    pub fn new(pattern: &str, extract: Option<&str>) -> Result<TagFilter, FilterError> {
        let regex = GoRegex::new(pattern).map_err(|source| FilterError::BadPattern {
            pattern: pattern.to_string(),
            source,
        })?;
        let mut notes: Vec<String> = regex
            .notes()
            .iter()
            .map(|n| format!("filter pattern {pattern:?}: {n}"))
            .collect();
        let extract = match extract {
            None | Some("") => None,
            Some(template) => {
                let (segments, unknown) = parse_template(regex.names(), template);
                for name in unknown {
                    notes.push(format!(
                        "filter extract {template:?} refers to group {name:?}, which pattern {pattern:?} does not define: it expands to nothing, as in Flux ({})",
                        defined_groups(regex.names())
                    ));
                }
                if !segments.iter().any(|s| matches!(s, Segment::Group(_))) {
                    notes.push(format!(
                        "filter extract {template:?} refers to no capture group, so every matching tag gets the same key: use $name, ${{name}} or $1"
                    ));
                }
                Some((template.to_string(), segments))
            }
        };
        Ok(TagFilter {
            pattern: regex,
            extract,
            notes,
        })
    }

    /// The filter pattern as written.
    pub fn pattern(&self) -> &str {
        self.pattern.as_str()
    }

    /// The extract template as written, if any.
    pub fn extract(&self) -> Option<&str> {
        self.extract.as_ref().map(|(text, _)| text.as_str())
    }

    /// Warnings for `baton check`: Go readings a Perl/Rust user may not expect, and
    /// extract references that expand to nothing.
    pub fn notes(&self) -> &[String] {
        &self.notes
    }

    /// Reusable capture storage for [`TagFilter::apply`].
    pub(crate) fn locations(&self) -> CaptureLocations {
        self.pattern.regex().capture_locations()
    }

    /// Returns the value to order for `tag`, or `None` when it does not match. With an
    /// extract template the value is written into `out` (cleared first) without allocating
    /// once `out` has grown; without one the tag itself is returned.
    pub(crate) fn apply<'a>(
        &self,
        tag: &'a str,
        locs: &mut CaptureLocations,
        out: &'a mut String,
    ) -> Option<&'a str> {
        let regex = self.pattern.regex();
        match &self.extract {
            None => regex.is_match(tag).then_some(tag),
            Some((_, segments)) => {
                // The plain match test runs on the fastest engine; most tags of a busy
                // repository fail it, and only matches pay for capture positions.
                if !regex.is_match(tag) {
                    return None;
                }
                regex.captures_read(locs, tag)?;
                out.clear();
                for segment in segments {
                    match segment {
                        Segment::Literal(text) => out.push_str(text),
                        Segment::Group(candidates) => {
                            if let Some((start, end)) = candidates.iter().find_map(|i| locs.get(*i))
                            {
                                out.push_str(&tag[start..end]);
                            }
                        }
                    }
                }
                Some(out.as_str())
            }
        }
    }
}

/// Parses an extract template with Go's `Regexp.Expand` rules. Returns the segments and
/// the names that match no group.
fn parse_template(names: &[Option<String>], template: &str) -> (Vec<Segment>, Vec<String>) {
    let mut segments = Vec::new();
    let mut unknown = Vec::new();
    let mut literal = String::new();
    let mut rest = template;
    while let Some(pos) = rest.find('$') {
        literal.push_str(&rest[..pos]);
        rest = &rest[pos + 1..];
        if let Some(after) = rest.strip_prefix('$') {
            literal.push('$');
            rest = after;
            continue;
        }
        let Some((name, after)) = reference(rest) else {
            // Malformed reference: Go keeps the `$` as text.
            literal.push('$');
            continue;
        };
        rest = after;
        let candidates: Vec<usize> = match group_number(name) {
            Some(n) => (n < names.len()).then_some(n).into_iter().collect(),
            None => names
                .iter()
                .enumerate()
                .filter(|(_, n)| n.as_deref() == Some(name))
                .map(|(i, _)| i)
                .collect(),
        };
        if candidates.is_empty() && !unknown.iter().any(|u| u == name) {
            unknown.push(name.to_string());
        }
        if !literal.is_empty() {
            segments.push(Segment::Literal(std::mem::take(&mut literal)));
        }
        segments.push(Segment::Group(candidates));
    }
    literal.push_str(rest);
    if !literal.is_empty() {
        segments.push(Segment::Literal(literal));
    }
    (segments, unknown)
}

/// After a `$`: the name (`name` is the longest run of letters, digits and `_`; `{name}`
/// must close with `}`) and the text after it; `None` when malformed (Go `extract`).
fn reference(after_dollar: &str) -> Option<(&str, &str)> {
    let (body, braced) = match after_dollar.strip_prefix('{') {
        Some(body) => (body, true),
        None => (after_dollar, false),
    };
    let len: usize = body
        .chars()
        .take_while(|c| *c == '_' || c.is_alphanumeric())
        .map(char::len_utf8)
        .sum();
    if len == 0 {
        return None;
    }
    let (name, after) = body.split_at(len);
    if braced {
        return after.strip_prefix('}').map(|after| (name, after));
    }
    Some((name, after))
}

/// Go: a name of ASCII digits below 10^8 without a leading zero is a group number.
fn group_number(name: &str) -> Option<usize> {
    if name.len() > 1 && name.starts_with('0') || name.len() > 8 {
        return None;
    }
    if !name.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    name.parse().ok()
}

fn defined_groups(names: &[Option<String>]) -> String {
    let names: Vec<String> = names
        .iter()
        .enumerate()
        .map(|(i, name)| match name {
            Some(name) => format!("${{{name}}}"),
            None => format!("${i}"),
        })
        .collect();
    format!("it defines {}", names.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn extract(pattern: &str, template: &str, tag: &str) -> Option<String> {
        let f = TagFilter::new(pattern, Some(template)).unwrap();
        let mut locs = f.locations();
        let mut out = String::new();
        f.apply(tag, &mut locs, &mut out).map(str::to_string)
    }

    /// Flux docs (ImagePolicy filterTags, `flux create image policy` example).
    #[test]
    fn flux_extract_forms() {
        let p = r"^main-[a-f0-9]+-(?P<ts>[0-9]+)";
        assert_eq!(
            extract(p, "$ts", "main-abc123-1700000000").as_deref(),
            Some("1700000000")
        );
        assert_eq!(extract(p, "${ts}", "main-abc123-17").as_deref(), Some("17"));
        assert_eq!(extract(p, "$1", "main-abc123-17").as_deref(), Some("17"));
        assert_eq!(extract(p, "${1}", "main-abc123-17").as_deref(), Some("17"));
        assert_eq!(
            extract(p, "v${ts}x", "main-abc123-17").as_deref(),
            Some("v17x")
        );
        assert_eq!(
            extract(p, "$$${ts}", "main-abc123-17").as_deref(),
            Some("$17")
        );
        assert_eq!(
            extract(p, "$0", "main-abc123-17").as_deref(),
            Some("main-abc123-17")
        );
        assert_eq!(extract(p, "$ts", "feature-abc123-17"), None);
        // Unanchored, as Flux: the match may sit anywhere in the tag.
        assert_eq!(
            extract(r"(?P<n>\d+)$", "$n", "build-42").as_deref(),
            Some("42")
        );
        // An optional group that did not take part expands to nothing (Go Expand).
        assert_eq!(extract(r"^(a)?(b)", "$1$2", "b").as_deref(), Some("b"));
        // Malformed `$` stays as text.
        assert_eq!(extract(r"(?P<n>\d+)", "$-$n", "7").as_deref(), Some("$-7"));
        assert_eq!(extract(r"(?P<n>\d+)", "${n", "7").as_deref(), Some("${n"));
        assert_eq!(extract(r"(?P<n>\d+)", "${}", "7").as_deref(), Some("${}"));
        assert_eq!(extract(r"(?P<n>\d+)", "$", "7").as_deref(), Some("$"));
    }

    /// Go Regexp.Expand: names, numbers, leading zeros, unknown groups.
    #[test]
    fn go_expand_rules() {
        let p = r"^(?P<maj>\d+)\.(?P<min>\d+)\.(?P<pat>\d+)$";
        assert_eq!(extract(p, "$min_$pat", "3.4.0").as_deref(), Some("0"));
        assert_eq!(extract(p, "${min}_$pat", "3.4.0").as_deref(), Some("4_0"));
        assert_eq!(extract(p, "$2y$3", "3.4.0").as_deref(), Some("0"));
        assert_eq!(extract(p, "$02", "3.4.0").as_deref(), Some(""));
        assert_eq!(extract(p, "${02}", "3.4.0").as_deref(), Some(""));
        assert_eq!(extract(p, "$10", "3.4.0").as_deref(), Some(""));
        assert_eq!(extract(p, "$123456789", "3.4.0").as_deref(), Some(""));
        assert_eq!(extract(p, "${unknown}", "3.4.0").as_deref(), Some(""));
        assert_eq!(extract(p, "pinned", "3.4.0").as_deref(), Some("pinned"));
        assert_eq!(extract(r"^(?P<01>\d)", "$01", "7").as_deref(), Some("7"));
        // A repeated name: the first group of that name that took part.
        let dup = r"^(?:a(?P<r>\d)|b(?P<r>\d))$";
        assert_eq!(extract(dup, "$r", "a1").as_deref(), Some("1"));
        assert_eq!(extract(dup, "$r", "b2").as_deref(), Some("2"));
    }

    #[test]
    fn filter_without_extract_is_unanchored_match() {
        let f = TagFilter::new("rc", None).unwrap();
        let mut locs = f.locations();
        let mut out = String::new();
        assert_eq!(
            f.apply("1.0.0-rc.1", &mut locs, &mut out),
            Some("1.0.0-rc.1")
        );
        assert_eq!(f.apply("1.0.0", &mut locs, &mut out), None);
        assert_eq!(TagFilter::new("x", Some("")).unwrap().extract(), None);
        let every = TagFilter::new("", None).unwrap();
        assert_eq!(
            every.apply("anything", &mut locs, &mut out),
            Some("anything")
        );
    }

    #[test]
    fn notes_and_errors() {
        let f = TagFilter::new(r"^main-(?P<ts>\d+)", Some("$tss")).unwrap();
        assert_eq!(
            f.notes(),
            &["filter extract \"$tss\" refers to group \"tss\", which pattern \"^main-(?P<ts>\\\\d+)\" \
               does not define: it expands to nothing, as in Flux (it defines $0, ${ts})"
                .to_string()]
        );
        let f = TagFilter::new(r"(\d+)", Some("constant")).unwrap();
        assert!(
            f.notes()[0].contains("refers to no capture group"),
            "{:?}",
            f.notes()
        );
        assert!(
            TagFilter::new(r"(\d+)", Some("$1"))
                .unwrap()
                .notes()
                .is_empty()
        );
        let err = TagFilter::new(r"(\d+", None).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("filter pattern \"(\\\\d+\" is not a valid regular expression"),
            "{err}"
        );
        let err = TagFilter::new("(?x)a b", None).unwrap_err().to_string();
        assert!(err.contains("flag x (verbose mode)"), "{err}");
    }

    #[test]
    fn exclusions() {
        let d = default_exclude();
        assert_eq!(d.len(), 1);
        // One list for every policy that gives none, not a copy each.
        assert!(Arc::ptr_eq(&d, &default_exclude()));
        assert!(d[0].is_match("sha256-0123abcd.sig"));
        assert!(!d[0].is_match("1.2.3"));
        assert!(!d[0].is_match("sig"));
        let list = compile_exclusions(&["^dev-", "rc", r"\Q.x\E$"]).unwrap();
        assert_eq!(list.len(), 3);
        assert!(list[2].is_match("a.x") && !list[2].is_match("aax"));
        let err = compile_exclusions(&["ok", "(bad"]).unwrap_err();
        assert!(
            err.to_string().starts_with("exclusion pattern \"(bad\""),
            "{err}"
        );
    }
}
