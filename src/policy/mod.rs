//! The policy engine: pure functions from a repository's tag list to the chosen tag.
//! It matches Flux's image-reflector-controller policies (semver, alphabetical, numerical,
//! `filterTags`, `exclusionList`) and explains every choice with counts of skipped tags.
//!
//! Evaluation of one tag, in order; the first failing step names the [`SkipReason`]:
//! 1. the tag must be a valid OCI tag (defence in depth: registries are not trusted);
//! 2. it must match no exclusion pattern (default `^.*\.sig$`, replaced by any given list);
//! 3. it must match the filter pattern, if any; `extract` then gives the value to order;
//! 4. the value must parse for the rule (strict semver with an optional leading `v`, or a
//!    float for numerical) and, for semver, satisfy the range.
//!
//! Ordering and ties (Flux decides ties by Go map order, i.e. at random; Baton does not):
//! - semver: higher precedence wins; at equal precedence a value without the `v` prefix
//!   beats one with it, then greater build metadata wins (semver crate ordering), then the
//!   byte-wise greater original tag;
//! - alphabetical: byte-wise comparison (Go `sort.Strings`); `asc` picks the greatest (Flux
//!   docs: "given the letters of the alphabet as tags, ascending order would select Z"),
//!   `desc` the smallest; equal values (possible with `extract`) fall back to the
//!   byte-wise greater original tag;
//! - numerical: the value parsed as `f64` (Go `strconv.ParseFloat`; NaN counts as not
//!   numeric; Go's hexadecimal floats such as `0x1p4` are not accepted); `asc` picks the
//!   largest, `desc` the smallest; ties as for alphabetical.
//!   Where Flux fails the whole policy on one non-numeric tag, Baton skips and counts it.

mod filter;
mod semver_range;

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use regex::{CaptureLocations, Regex};
use semver::Version;

use crate::reference::is_valid_tag;

pub use filter::{
    DEFAULT_EXCLUDE, FilterError, TagFilter, compile_exclusions, default_exclude, same_patterns,
};
pub use semver_range::{RangeError, SemverRange};

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
    /// The value is not strict semver (with an optional leading `v`).
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
    pub exclude: Vec<Regex>,
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

/// The value a tag is ordered by, borrowed from the tag or the extract buffer.
#[derive(Debug)]
enum Key<'a> {
    Semver { version: Version, v_prefix: bool },
    Text(&'a str),
    Number(f64),
}

/// An owned [`Key`], kept for the best candidate so far and for ranking.
#[derive(Debug)]
enum OwnedKey {
    Semver { version: Version, v_prefix: bool },
    Text(String),
    Number(f64),
}

/// A borrowed view of either key form, which is what comparisons work on.
#[derive(Debug, Clone, Copy)]
enum KeyRef<'a> {
    Semver {
        version: &'a Version,
        v_prefix: bool,
    },
    Text(&'a str),
    Number(f64),
}

impl Key<'_> {
    fn view(&self) -> KeyRef<'_> {
        match self {
            Key::Semver { version, v_prefix } => KeyRef::Semver {
                version,
                v_prefix: *v_prefix,
            },
            Key::Text(s) => KeyRef::Text(s),
            Key::Number(n) => KeyRef::Number(*n),
        }
    }
}

impl OwnedKey {
    fn view(&self) -> KeyRef<'_> {
        match self {
            OwnedKey::Semver { version, v_prefix } => KeyRef::Semver {
                version,
                v_prefix: *v_prefix,
            },
            OwnedKey::Text(s) => KeyRef::Text(s),
            OwnedKey::Number(n) => KeyRef::Number(*n),
        }
    }
}

/// Reusable buffers for a scan, so evaluation does not allocate per tag.
struct Scratch {
    locs: Option<CaptureLocations>,
    extracted: String,
}

/// Parses `text` as Flux does (`fluxcd/pkg/version.ParseVersion`): strip one leading `v`,
/// then require a strict semver version. Returns the version and whether `v` was there.
pub fn parse_tag_version(text: &str) -> Option<(Version, bool)> {
    let (body, v_prefix) = match text.strip_prefix('v') {
        Some(body) => (body, true),
        None => (text, false),
    };
    // Quick reject before the full parser: strict semver starts with a digit.
    if !body.as_bytes().first().is_some_and(u8::is_ascii_digit) {
        return None;
    }
    Version::parse(body).ok().map(|v| (v, v_prefix))
}

/// Parses a numerical value like Go's `strconv.ParseFloat`; NaN is refused.
fn parse_number(text: &str) -> Option<f64> {
    text.parse::<f64>().ok().filter(|n| !n.is_nan())
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

    /// Runs every eligibility step for one tag and returns the key it is ordered by.
    fn key<'a>(&self, tag: &'a str, scratch: &'a mut Scratch) -> Result<Key<'a>, SkipReason> {
        if !is_valid_tag(tag) {
            return Err(SkipReason::InvalidTag);
        }
        if self.exclude.iter().any(|re| excludes(re, tag)) {
            return Err(SkipReason::Excluded);
        }
        let value = match (&self.filter, &mut scratch.locs) {
            (Some(filter), Some(locs)) => filter
                .apply(tag, locs, &mut scratch.extracted)
                .ok_or(SkipReason::FilterMismatch)?,
            _ => tag,
        };
        match &self.rule {
            Rule::Semver(range) => {
                let (version, v_prefix) = parse_tag_version(value).ok_or(SkipReason::NotSemver)?;
                if !range.matches(&version) {
                    return Err(SkipReason::OutOfRange);
                }
                Ok(Key::Semver { version, v_prefix })
            }
            Rule::Alphabetical(_) => Ok(Key::Text(value)),
            Rule::Numerical(_) => parse_number(value)
                .map(Key::Number)
                .ok_or(SkipReason::NotNumeric),
        }
    }

    /// Orders two eligible candidates; `Greater` means `a` is the better choice.
    fn cmp_keys(&self, a: KeyRef<'_>, a_tag: &str, b: KeyRef<'_>, b_tag: &str) -> Ordering {
        let primary = match (a, b) {
            (
                KeyRef::Semver {
                    version: va,
                    v_prefix: pa,
                },
                KeyRef::Semver {
                    version: vb,
                    v_prefix: pb,
                },
            ) => va
                .cmp_precedence(vb)
                // Without `v` beats with `v`: compare the flags reversed.
                .then_with(|| pb.cmp(&pa))
                .then_with(|| va.build.cmp(&vb.build)),
            (KeyRef::Text(x), KeyRef::Text(y)) => match self.rule {
                Rule::Alphabetical(Order::Desc) => y.cmp(x),
                _ => x.cmp(y),
            },
            (KeyRef::Number(x), KeyRef::Number(y)) => match self.rule {
                Rule::Numerical(Order::Desc) => y.total_cmp(&x),
                _ => x.total_cmp(&y),
            },
            // Keys of one policy always share a kind; order kinds arbitrarily but totally.
            _ => kind_rank(a).cmp(&kind_rank(b)),
        };
        primary.then_with(|| a_tag.cmp(b_tag))
    }

    /// Chooses the best eligible tag and explains the outcome. Allocation-free per tag
    /// apart from what the semver parser needs for pre-release and build identifiers.
    pub fn choose<S: AsRef<str>>(&self, tags: &[S]) -> Decision {
        let mut scratch = self.scratch();
        let mut skipped = [0usize; 6];
        let mut eligible = 0usize;
        let mut best: Option<(usize, OwnedKey)> = None;
        for (index, tag) in tags.iter().enumerate() {
            let tag = tag.as_ref();
            let key = match self.key(tag, &mut scratch) {
                Ok(key) => key,
                Err(reason) => {
                    skipped[reason as usize] += 1;
                    continue;
                }
            };
            eligible += 1;
            let better = match &best {
                None => true,
                Some((best_index, best_key)) => {
                    let best_tag = tags[*best_index].as_ref();
                    self.cmp_keys(key.view(), tag, best_key.view(), best_tag) == Ordering::Greater
                }
            };
            if better {
                best = Some((index, replace_key(best.take().map(|(_, k)| k), key)));
            }
        }
        Decision {
            chosen: best.map(|(index, _)| tags[index].as_ref().to_string()),
            considered: tags.len(),
            eligible,
            skipped: skip_map(&skipped),
            rule: self.describe(),
        }
    }

    /// Every eligible tag, best first (for `baton tags`).
    pub fn rank<S: AsRef<str>>(&self, tags: &[S]) -> Vec<String> {
        let mut scratch = self.scratch();
        let mut ranked: Vec<(&str, OwnedKey)> = tags
            .iter()
            .filter_map(|tag| {
                let tag = tag.as_ref();
                self.key(tag, &mut scratch)
                    .ok()
                    .map(|key| (tag, replace_key(None, key)))
            })
            .collect();
        ranked.sort_by(|(ta, ka), (tb, kb)| self.cmp_keys(kb.view(), tb, ka.view(), ta));
        ranked.into_iter().map(|(tag, _)| tag.to_string()).collect()
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
    /// `None` when either is not eligible. [`Policy::choose`] picks the maximum of this
    /// total order.
    pub fn compare(&self, a: &str, b: &str) -> Option<Ordering> {
        let mut sa = self.scratch();
        let mut sb = self.scratch();
        let ka = self.key(a, &mut sa).ok()?;
        let kb = self.key(b, &mut sb).ok()?;
        Some(self.cmp_keys(ka.view(), a, kb.view(), b))
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

fn kind_rank(key: KeyRef<'_>) -> u8 {
    match key {
        KeyRef::Semver { .. } => 0,
        KeyRef::Text(_) => 1,
        KeyRef::Number(_) => 2,
    }
}

/// Turns a borrowed key into an owned one, reusing `previous`'s string buffer if possible.
fn replace_key(previous: Option<OwnedKey>, key: Key<'_>) -> OwnedKey {
    match key {
        Key::Semver { version, v_prefix } => OwnedKey::Semver { version, v_prefix },
        Key::Number(n) => OwnedKey::Number(n),
        Key::Text(text) => match previous {
            Some(OwnedKey::Text(mut buffer)) => {
                buffer.clear();
                buffer.push_str(text);
                OwnedKey::Text(buffer)
            }
            _ => OwnedKey::Text(text.to_string()),
        },
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
