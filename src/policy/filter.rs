//! Tag filters: Flux's `filterTags` (an unanchored regex plus an optional `extract`
//! template) and the exclusion list (Flux's `exclusionList`, default `^.*\.sig$`).
//!
//! `extract` uses Go's `Regexp.Expand` syntax, which the `regex` crate shares: `$name`,
//! `${name}`, `$1`, and `$$` for a literal `$`; a `$` that starts no valid reference is
//! kept as text. Unlike Flux, a reference to a group that does not exist is rejected at
//! construction instead of silently expanding to nothing.

use std::sync::LazyLock;

use regex::{CaptureLocations, Regex};

/// Flux's default exclusion pattern: cosign signature tags such as `sha256-….sig`.
pub const DEFAULT_EXCLUDE: &str = r"^.*\.sig$";

static DEFAULT_EXCLUDE_RE: LazyLock<Regex> = LazyLock::new(|| {
    // A compile-time constant pattern; the unit tests compile it too.
    #[allow(clippy::expect_used)]
    Regex::new(DEFAULT_EXCLUDE).expect("DEFAULT_EXCLUDE is a valid regex")
});

/// The exclusion list used when the operator gives none: `["^.*\.sig$"]`, as in Flux.
pub fn default_exclude() -> Vec<Regex> {
    vec![DEFAULT_EXCLUDE_RE.clone()]
}

/// Compiles an operator-given exclusion list; it replaces the default entirely.
pub fn compile_exclusions<S: AsRef<str>>(patterns: &[S]) -> Result<Vec<Regex>, FilterError> {
    patterns
        .iter()
        .map(|p| {
            Regex::new(p.as_ref()).map_err(|source| FilterError::BadExclude {
                pattern: p.as_ref().to_string(),
                source: Box::new(source),
            })
        })
        .collect()
}

/// Why a filter or exclusion pattern was refused.
#[derive(Debug, thiserror::Error)]
pub enum FilterError {
    /// The filter `pattern` is not a valid regular expression.
    #[error("filter pattern {pattern:?} is not a valid regular expression: {source}")]
    BadPattern {
        /// The pattern as written.
        pattern: String,
        /// The regex compiler's explanation.
        source: Box<regex::Error>,
    },
    /// An exclusion pattern is not a valid regular expression.
    #[error("exclusion pattern {pattern:?} is not a valid regular expression: {source}")]
    BadExclude {
        /// The pattern as written.
        pattern: String,
        /// The regex compiler's explanation.
        source: Box<regex::Error>,
    },
    /// `extract` refers to a capture group the pattern does not define.
    #[error(
        "filter extract {extract:?} refers to group {group:?}, which pattern {pattern:?} does not define: {hint}"
    )]
    UnknownGroup {
        /// The extract template as written.
        extract: String,
        /// The group name or number it refers to.
        group: String,
        /// The filter pattern.
        pattern: String,
        /// The groups the pattern does define.
        hint: String,
    },
    /// `extract` refers to no capture group at all, so every tag would sort equal.
    #[error(
        "filter extract {extract:?} refers to no capture group of pattern {pattern:?}: use $name, ${{name}} or $1"
    )]
    NoGroupReference {
        /// The extract template as written.
        extract: String,
        /// The filter pattern.
        pattern: String,
    },
}

/// One piece of a parsed `extract` template.
#[derive(Debug, Clone)]
enum Segment {
    /// Text copied as is.
    Literal(String),
    /// The text of capture group number N (empty when it did not take part in the match).
    Group(usize),
}

/// A compiled Flux `filterTags`: tags must match `pattern` (unanchored); with `extract`,
/// the expanded template, not the tag, is what the policy orders.
#[derive(Debug, Clone)]
pub struct TagFilter {
    pattern: Regex,
    extract: Option<(String, Vec<Segment>)>,
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
    /// Compiles `pattern` and checks that every group `extract` names exists in it.
    /// An empty `extract` is the same as none (Flux treats it so).
    pub fn new(pattern: &str, extract: Option<&str>) -> Result<TagFilter, FilterError> {
        let regex = Regex::new(pattern).map_err(|source| FilterError::BadPattern {
            pattern: pattern.to_string(),
            source: Box::new(source),
        })?;
        let extract = match extract {
            None | Some("") => None,
            Some(template) => Some((
                template.to_string(),
                parse_template(&regex, pattern, template)?,
            )),
        };
        Ok(TagFilter {
            pattern: regex,
            extract,
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

    /// Reusable capture storage for [`TagFilter::apply`].
    pub(crate) fn locations(&self) -> CaptureLocations {
        self.pattern.capture_locations()
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
        match &self.extract {
            None => self.pattern.is_match(tag).then_some(tag),
            Some((_, segments)) => {
                // The plain match test runs on the fastest engine; most tags of a busy
                // repository fail it, and only matches pay for capture positions.
                if !self.pattern.is_match(tag) {
                    return None;
                }
                self.pattern.captures_read(locs, tag)?;
                out.clear();
                for segment in segments {
                    match segment {
                        Segment::Literal(text) => out.push_str(text),
                        Segment::Group(i) => {
                            if let Some((start, end)) = locs.get(*i) {
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

/// Parses an extract template with Go/`regex` expansion rules, resolving each reference
/// to a group index of `regex`.
fn parse_template(
    regex: &Regex,
    pattern: &str,
    template: &str,
) -> Result<Vec<Segment>, FilterError> {
    let mut segments = Vec::new();
    let mut literal = String::new();
    let mut any_group = false;
    let mut rest = template;
    while let Some(pos) = rest.find('$') {
        literal.push_str(&rest[..pos]);
        rest = &rest[pos..];
        if let Some(after) = rest.strip_prefix("$$") {
            literal.push('$');
            rest = after;
            continue;
        }
        let (name, after) = match reference(rest) {
            Some(found) => found,
            None => {
                // Malformed reference: Go and `regex` keep the `$` as text.
                literal.push('$');
                rest = &rest[1..];
                continue;
            }
        };
        let index = group_index(regex, name).ok_or_else(|| FilterError::UnknownGroup {
            extract: template.to_string(),
            group: name.to_string(),
            pattern: pattern.to_string(),
            hint: defined_groups(regex),
        })?;
        if !literal.is_empty() {
            segments.push(Segment::Literal(std::mem::take(&mut literal)));
        }
        segments.push(Segment::Group(index));
        any_group = true;
        rest = after;
    }
    literal.push_str(rest);
    if !literal.is_empty() {
        segments.push(Segment::Literal(literal));
    }
    if !any_group {
        return Err(FilterError::NoGroupReference {
            extract: template.to_string(),
            pattern: pattern.to_string(),
        });
    }
    Ok(segments)
}

/// At a `$`: the referenced name (`$name` takes the longest `[A-Za-z0-9_]` run, `${name}`
/// anything up to `}`) and the text after the reference.
fn reference(at_dollar: &str) -> Option<(&str, &str)> {
    let body = &at_dollar[1..];
    if let Some(braced) = body.strip_prefix('{') {
        let end = braced.find('}')?;
        let name = &braced[..end];
        let valid =
            !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        return valid.then(|| (name, &braced[end + 1..]));
    }
    let len = body
        .bytes()
        .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_')
        .count();
    (len > 0).then(|| body.split_at(len))
}

/// A number is a group index, anything else a group name.
fn group_index(regex: &Regex, name: &str) -> Option<usize> {
    if name.bytes().all(|b| b.is_ascii_digit()) {
        return name
            .parse::<usize>()
            .ok()
            .filter(|i| *i < regex.captures_len());
    }
    regex.capture_names().position(|n| n == Some(name))
}

fn defined_groups(regex: &Regex) -> String {
    let names: Vec<String> = regex
        .capture_names()
        .enumerate()
        .map(|(i, name)| match name {
            Some(name) => format!("${name}"),
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
    }

    #[test]
    fn extract_validation() {
        let err = TagFilter::new(r"^main-(?P<ts>\d+)", Some("$tss")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "filter extract \"$tss\" refers to group \"tss\", which pattern \"^main-(?P<ts>\\\\d+)\" \
             does not define: it defines $0, $ts"
        );
        // `$1x` names group "1x" (Go rule), not group 1 followed by "x".
        assert!(matches!(
            TagFilter::new(r"(\d+)", Some("$1x")),
            Err(FilterError::UnknownGroup { .. })
        ));
        assert!(matches!(
            TagFilter::new(r"(\d+)", Some("$2")),
            Err(FilterError::UnknownGroup { .. })
        ));
        assert!(matches!(
            TagFilter::new(r"(\d+)", Some("${ts}")),
            Err(FilterError::UnknownGroup { .. })
        ));
        let err = TagFilter::new(r"(\d+)", Some("constant")).unwrap_err();
        assert!(
            err.to_string().contains("refers to no capture group"),
            "{err}"
        );
        let err = TagFilter::new(r"(\d+", None).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("filter pattern \"(\\\\d+\" is not a valid regular expression"),
            "{err}"
        );
    }

    #[test]
    fn exclusions() {
        let d = default_exclude();
        assert_eq!(d.len(), 1);
        assert!(d[0].is_match("sha256-0123abcd.sig"));
        assert!(!d[0].is_match("1.2.3"));
        assert!(!d[0].is_match("sig"));
        let list = compile_exclusions(&["^dev-", "rc"]).unwrap();
        assert_eq!(list.len(), 2);
        let err = compile_exclusions(&["ok", "(bad"]).unwrap_err();
        assert!(
            err.to_string().starts_with("exclusion pattern \"(bad\""),
            "{err}"
        );
    }
}
