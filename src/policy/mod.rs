//! The policy engine: pure functions from a repository's tag list to the chosen tag.
//! It chooses what Flux's image-reflector-controller v1.2 chooses (semver, alphabetical,
//! numerical, `filterTags`, `exclusionList`) and explains every choice with counts of
//! skipped tags; docs/flux-compatibility.md lists the few deliberate differences.
//!
//! Evaluation of one tag, in order; the first failing step names the [`SkipReason`]:
//! 1. the tag must be a valid OCI tag (defence in depth: registries are not trusted);
//! 2. it must match no exclusion pattern (default `^.*\.sig$`, replaced by any given list);
//! 3. it must match the filter pattern, if any (Go syntax, see [`GoRegex`]); `extract`
//!    then gives the key to order (Go `Regexp.Expand`), otherwise the tag is the key;
//! 4. the key must parse for the rule (a version as Flux reads it, see [`TagVersion`],
//!    or a number as Go's `strconv.ParseFloat` reads it) and, for semver, satisfy the range.
//!
//! Flux sorts the tag list in descending byte order, maps each key to the byte-wise
//! smallest tag that yields it, and walks the keys (in Go map order when filtered, which
//! is random). Baton computes the same answer without sorting, and where Flux's answer
//! depends on map order it takes the one a descending walk of the keys gives:
//! - semver: the highest version; among equal versions (`1.2.3`, `v1.2.3`, `1.2.03`) the
//!   byte-wise greatest key; among tags with one key, the byte-wise smallest tag;
//! - alphabetical: byte-wise comparison; `asc` picks the greatest key (Flux docs: "given
//!   the letters of the alphabet as tags, ascending order would select Z"), `desc` the
//!   smallest; among tags with one key, the smallest tag;
//! - numerical: `asc` picks the largest number, `desc` the smallest; among equal numbers
//!   (`20`, `2e1`) the byte-wise smallest key, then the smallest tag. A NaN replaces
//!   whatever came before it in the walk and is replaced by whatever comes after it, as
//!   in Flux. Deviation: where Flux fails the whole policy on one key that is not a
//!   number, Baton skips and counts that tag.

pub mod config;
mod filter;
mod go_regex;
mod number;
mod semver_range;
mod version;

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use regex::{CaptureLocations, Regex};

use crate::reference::is_valid_tag;

pub use filter::{
    DEFAULT_EXCLUDE, Exclusions, FilterError, TagFilter, compile_exclusions, default_exclude,
    same_patterns,
};
pub use go_regex::{GoRegex, GoRegexError};
pub use number::parse_go_float;
pub use semver_range::{RangeError, SemverRange};
pub use version::TagVersion;

/// Sort direction for alphabetical and numerical policies, with Flux's meaning:
/// `Asc` selects the greatest value, `Desc` the smallest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Order {
    /// Ascending sort, the last (greatest) value is chosen. Flux's default.
    #[default]
    Asc,
    /// Descending sort, the last (smallest) value is chosen.
    Desc,
}

/// An order string other than `asc` or `desc`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown order {0:?}: use \"asc\" or \"desc\"")]
pub struct OrderError(pub String);

impl FromStr for Order {
    type Err = OrderError;
    /// Accepts `asc` and `desc` in any letter case (Flux's CRD writes them lower case,
    /// its controller upper case).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.eq_ignore_ascii_case("asc") {
            Ok(Order::Asc)
        } else if s.eq_ignore_ascii_case("desc") {
            Ok(Order::Desc)
        } else {
            Err(OrderError(s.to_string()))
        }
    }
}

impl fmt::Display for Order {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Order::Asc => "asc",
            Order::Desc => "desc",
        })
    }
}

/// How a policy orders the values it considers.
#[derive(Debug, Clone, PartialEq)]
pub enum Rule {
    /// Highest version satisfying a Masterminds range.
    Semver(SemverRange),
    /// Byte-wise string order.
    Alphabetical(Order),
    /// Values parsed as floating-point numbers.
    Numerical(Order),
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rule::Semver(range) => write!(f, "semver {}", range.as_str()),
            Rule::Alphabetical(order) => write!(f, "alphabetical {order}"),
            Rule::Numerical(order) => write!(f, "numerical {order}"),
        }
    }
}

/// Why a tag was not eligible; ordered in evaluation order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SkipReason {
    /// Not a valid OCI tag (`[A-Za-z0-9_][A-Za-z0-9._-]{0,127}`).
    InvalidTag,
    /// Matched an exclusion pattern.
    Excluded,
    /// Did not match the filter pattern.
    FilterMismatch,
    /// The value is not a version as Flux reads it (see [`TagVersion::parse_tag`]).
    NotSemver,
    /// A valid version outside the range (or a pre-release the range does not admit).
    OutOfRange,
    /// The value does not parse as a number.
    NotNumeric,
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SkipReason::InvalidTag => "invalid tag",
            SkipReason::Excluded => "excluded",
            SkipReason::FilterMismatch => "not matching filter",
            SkipReason::NotSemver => "not semver",
            SkipReason::OutOfRange => "out of range",
            SkipReason::NotNumeric => "not numeric",
        })
    }
}

/// The outcome of [`Policy::choose`]: the chosen tag, or why there is none, with counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// The chosen tag exactly as the registry listed it; `None` when nothing is eligible.
    pub chosen: Option<String>,
    /// How many tags were looked at.
    pub considered: usize,
    /// How many tags were eligible.
    pub eligible: usize,
    /// How many tags were skipped, per reason (reasons with zero are absent).
    pub skipped: BTreeMap<SkipReason, usize>,
    /// The rule text, as [`Policy::describe`] gives it.
    pub rule: String,
}

impl Decision {
    /// Total number of skipped tags.
    pub fn skipped_total(&self) -> usize {
        self.skipped.values().sum()
    }

    fn skipped_text(&self) -> String {
        self.skipped
            .iter()
            .map(|(reason, n)| format!("{n} {reason}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

fn tags_word(n: usize) -> &'static str {
    if n == 1 { "tag" } else { "tags" }
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.chosen {
            Some(tag) => {
                write!(
                    f,
                    "chose {tag} of {} {} by {}",
                    self.considered,
                    tags_word(self.considered),
                    self.rule
                )?;
                if !self.skipped.is_empty() {
                    write!(f, " (skipped: {})", self.skipped_text())?;
                }
                Ok(())
            }
            None if self.considered == 0 => {
                write!(
                    f,
                    "no candidate by {}: the repository lists no tags",
                    self.rule
                )
            }
            None => write!(
                f,
                "no candidate by {}: all {} {} skipped ({})",
                self.rule,
                self.considered,
                tags_word(self.considered),
                self.skipped_text()
            ),
        }
    }
}

/// A named selection policy: rule, optional filter and exclusion list.
#[derive(Debug, Clone)]
pub struct Policy {
    /// Policy name from the config (what markers refer to).
    pub name: String,
    /// How eligible values are ordered.
    pub rule: Rule,
    /// Optional `filterTags` pattern and extract template.
    pub filter: Option<TagFilter>,
    /// Tags matching any of these are skipped; [`default_exclude`] unless configured.
    pub exclude: Exclusions,
}

/// Policies are equal when they are written the same (patterns compared as text).
impl PartialEq for Policy {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
            && self.rule == other.rule
            && self.filter == other.filter
            && same_patterns(&self.exclude, &other.exclude)
    }
}

/// What an eligible tag is ordered by; its key (the tag, or the extract result) travels
/// beside it.
#[derive(Debug, Clone)]
enum Value {
    Semver(TagVersion),
    Text,
    Number(f64),
}

/// The best candidate so far, owned, with its key buffer reused between replacements.
struct Best {
    index: usize,
    value: Value,
    key: String,
}

/// Reusable buffers for a scan, so evaluation does not allocate per tag.
struct Scratch {
    locs: Option<CaptureLocations>,
    extracted: String,
}

/// Parses `text` as Flux does (`fluxcd/pkg/version.ParseVersion`): at least two dots,
/// then Masterminds' lenient `NewVersion` (see [`TagVersion`]).
pub fn parse_tag_version(text: &str) -> Option<TagVersion> {
    TagVersion::parse_tag(text)
}

impl Policy {
    /// A policy with the given rule, no filter and the default exclusion list.
    pub fn new(name: impl Into<String>, rule: Rule) -> Policy {
        Policy {
            name: name.into(),
            rule,
            filter: None,
            exclude: default_exclude(),
        }
    }

    fn scratch(&self) -> Scratch {
        Scratch {
            locs: self.filter.as_ref().map(TagFilter::locations),
            extracted: String::new(),
        }
    }

    /// Runs every eligibility step for one tag; returns what it is ordered by and its key.
    fn key<'a>(
        &self,
        tag: &'a str,
        scratch: &'a mut Scratch,
    ) -> Result<(Value, &'a str), SkipReason> {
        if !is_valid_tag(tag) {
            return Err(SkipReason::InvalidTag);
        }
        if self.exclude.iter().any(|re| excludes(re, tag)) {
            return Err(SkipReason::Excluded);
        }
        let key = match (&self.filter, &mut scratch.locs) {
            (Some(filter), Some(locs)) => filter
                .apply(tag, locs, &mut scratch.extracted)
                .ok_or(SkipReason::FilterMismatch)?,
            _ => tag,
        };
        let value = match &self.rule {
            Rule::Semver(range) => {
                let version = TagVersion::parse_tag(key).ok_or(SkipReason::NotSemver)?;
                if !range.matches(&version) {
                    return Err(SkipReason::OutOfRange);
                }
                Value::Semver(version)
            }
            Rule::Alphabetical(_) => Value::Text,
            Rule::Numerical(_) => Value::Number(parse_go_float(key).ok_or(SkipReason::NotNumeric)?),
        };
        Ok((value, key))
    }

    /// Orders two eligible candidates; `Greater` means `a` is the better choice. NaN is
    /// below every number here; [`Policy::choose`] gives NaN Flux's positional meaning.
    fn cmp_candidates(
        &self,
        (a, a_key, a_tag): (&Value, &str, &str),
        (b, b_key, b_tag): (&Value, &str, &str),
    ) -> Ordering {
        let primary = match (a, b) {
            (Value::Semver(va), Value::Semver(vb)) => va
                .cmp_precedence(vb)
                // Flux keeps the first of equal versions in its descending walk.
                .then_with(|| a_key.cmp(b_key)),
            (Value::Text, Value::Text) => match self.rule {
                Rule::Alphabetical(Order::Desc) => b_key.cmp(a_key),
                _ => a_key.cmp(b_key),
            },
            (Value::Number(x), Value::Number(y)) => {
                let by_value = match (x.is_nan(), y.is_nan()) {
                    (true, true) => Ordering::Equal,
                    (true, false) => Ordering::Less,
                    (false, true) => Ordering::Greater,
                    (false, false) => {
                        let o = x.partial_cmp(y).unwrap_or(Ordering::Equal);
                        match self.rule {
                            Rule::Numerical(Order::Desc) => o.reverse(),
                            _ => o,
                        }
                    }
                };
                // Flux keeps the last of equal numbers in its descending walk.
                by_value.then_with(|| b_key.cmp(a_key))
            }
            // Values of one policy always share a kind; order kinds arbitrarily but totally.
            _ => kind_rank(a).cmp(&kind_rank(b)),
        };
        // Flux maps a key to the byte-wise smallest tag that yields it.
        primary.then_with(|| b_tag.cmp(a_tag))
    }

    /// Chooses the tag Flux would choose and explains the outcome. Allocation-free per
    /// tag apart from pre-release text of versions.
    pub fn choose<S: AsRef<str>>(&self, tags: &[S]) -> Decision {
        let mut scratch = self.scratch();
        let mut skipped = [0usize; 6];
        let mut eligible = 0usize;
        let mut best: Option<Best> = None;
        // The byte-wise smallest NaN key and its tag: the last NaN of Flux's walk.
        let mut last_nan: Option<(String, usize)> = None;
        for (index, tag) in tags.iter().enumerate() {
            let tag = tag.as_ref();
            let (value, key) = match self.key(tag, &mut scratch) {
                Ok(found) => found,
                Err(reason) => {
                    skipped[reason as usize] += 1;
                    continue;
                }
            };
            eligible += 1;
            if matches!(value, Value::Number(n) if n.is_nan()) {
                let replace = last_nan
                    .as_ref()
                    .is_none_or(|(k, i)| (key, tag) < (k.as_str(), tags[*i].as_ref()));
                if replace {
                    last_nan = Some((key.to_string(), index));
                }
                continue;
            }
            self.offer(&mut best, tags, index, value, key);
        }
        if let Some((nan_key, nan_index)) = last_nan {
            // In Flux's walk a NaN is replaced by the next entry whatever it is, so only
            // the keys after the last NaN (byte-wise smaller) compete; none means the NaN.
            best = None;
            for (index, tag) in tags.iter().enumerate() {
                let tag = tag.as_ref();
                if let Ok((value, key)) = self.key(tag, &mut scratch)
                    && key < nan_key.as_str()
                    && !matches!(value, Value::Number(n) if n.is_nan())
                {
                    self.offer(&mut best, tags, index, value, key);
                }
            }
            if best.is_none() {
                best = Some(Best {
                    index: nan_index,
                    value: Value::Number(f64::NAN),
                    key: nan_key,
                });
            }
        }
        Decision {
            chosen: best.map(|b| tags[b.index].as_ref().to_string()),
            considered: tags.len(),
            eligible,
            skipped: skip_map(&skipped),
            rule: self.describe(),
        }
    }

    /// Keeps `value` as the best candidate when it beats the current one.
    fn offer<S: AsRef<str>>(
        &self,
        best: &mut Option<Best>,
        tags: &[S],
        index: usize,
        value: Value,
        key: &str,
    ) {
        let tag = tags[index].as_ref();
        let better = match best {
            None => true,
            Some(b) => {
                self.cmp_candidates(
                    (&value, key, tag),
                    (&b.value, &b.key, tags[b.index].as_ref()),
                ) == Ordering::Greater
            }
        };
        if better {
            let mut buffer = best.take().map(|b| b.key).unwrap_or_default();
            buffer.clear();
            buffer.push_str(key);
            *best = Some(Best {
                index,
                value,
                key: buffer,
            });
        }
    }

    /// Every eligible tag, best first (for `baton tags`); NaN values come last.
    pub fn rank<S: AsRef<str>>(&self, tags: &[S]) -> Vec<String> {
        let mut scratch = self.scratch();
        let mut ranked: Vec<(&str, Value, String)> = tags
            .iter()
            .filter_map(|tag| {
                let tag = tag.as_ref();
                self.key(tag, &mut scratch)
                    .ok()
                    .map(|(value, key)| (tag, value, key.to_string()))
            })
            .collect();
        ranked
            .sort_by(|(ta, va, ka), (tb, vb, kb)| self.cmp_candidates((vb, kb, tb), (va, ka, ta)));
        ranked
            .into_iter()
            .map(|(tag, _, _)| tag.to_string())
            .collect()
    }

    /// Short rule text for commit trailers and logs, e.g. `semver 1.x` or
    /// `numerical asc, filter ^main-(?P<ts>\d+) extract $ts`.
    pub fn describe(&self) -> String {
        let mut text = self.rule.to_string();
        if let Some(filter) = &self.filter {
            text.push_str(", filter ");
            text.push_str(filter.pattern());
            if let Some(extract) = filter.extract() {
                text.push_str(" extract ");
                text.push_str(extract);
            }
        }
        text
    }

    /// True when `tag` would be eligible under this policy (valid, not excluded, matching
    /// the filter, parseable and in range).
    pub fn accepts(&self, tag: &str) -> bool {
        self.key(tag, &mut self.scratch()).is_ok()
    }

    /// Why `tag` is not eligible, or `None` when it is.
    pub fn skip_reason(&self, tag: &str) -> Option<SkipReason> {
        self.key(tag, &mut self.scratch()).err()
    }

    /// Orders two tags under this policy (`Greater`: `a` would be chosen over `b`);
    /// `None` when either is not eligible. Without NaN values, [`Policy::choose`] picks
    /// the maximum of this total order.
    pub fn compare(&self, a: &str, b: &str) -> Option<Ordering> {
        let mut sa = self.scratch();
        let mut sb = self.scratch();
        let (va, ka) = self.key(a, &mut sa).ok()?;
        let (vb, kb) = self.key(b, &mut sb).ok()?;
        Some(self.cmp_candidates((&va, ka, a), (&vb, kb, b)))
    }

    /// Where this policy meets a deliberate difference from Flux or a Go reading that
    /// may surprise, one sentence each, for `baton check` to print as warnings.
    pub fn compatibility_warnings(&self) -> Vec<String> {
        let mut warnings = Vec::new();
        match &self.rule {
            Rule::Semver(range) if range.has_wildcard_floor_deviation() => warnings.push(format!(
                "semver range {:?} uses ^ or <= with a wildcard major: Baton reads it as any version, Flux as the 0.0.x versions only (see docs/flux-compatibility.md)",
                range.as_str()
            )),
            Rule::Numerical(_) if self.filter.is_none() => warnings.push(
                "numerical policy without a filter: Baton skips tags that are not numbers, Flux fails the whole policy on the first one (see docs/flux-compatibility.md); add a filter such as pattern = '^[0-9]+$'"
                    .to_string(),
            ),
            _ => {}
        }
        if let Some(filter) = &self.filter {
            warnings.extend(filter.notes().iter().cloned());
        }
        warnings
    }
}

/// True when exclusion pattern `re` matches `tag`. The default `^.*\.sig$` is answered
/// with `ends_with(".sig")`, which is equivalent for valid tags (they hold no newline, the
/// only character `.` does not match) and several times faster over 100,000 tags.
fn excludes(re: &Regex, tag: &str) -> bool {
    if re.as_str() == DEFAULT_EXCLUDE {
        tag.ends_with(".sig")
    } else {
        re.is_match(tag)
    }
}

fn kind_rank(value: &Value) -> u8 {
    match value {
        Value::Semver(_) => 0,
        Value::Text => 1,
        Value::Number(_) => 2,
    }
}

const ALL_REASONS: [SkipReason; 6] = [
    SkipReason::InvalidTag,
    SkipReason::Excluded,
    SkipReason::FilterMismatch,
    SkipReason::NotSemver,
    SkipReason::OutOfRange,
    SkipReason::NotNumeric,
];

fn skip_map(counts: &[usize; 6]) -> BTreeMap<SkipReason, usize> {
    ALL_REASONS
        .iter()
        .zip(counts)
        .filter(|(_, n)| **n > 0)
        .map(|(reason, n)| (*reason, *n))
        .collect()
}

#[cfg(test)]
mod tests;
