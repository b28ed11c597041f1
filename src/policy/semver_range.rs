//! Masterminds-compatible semver ranges (the syntax Flux's `semver.range` accepts),
//! parsed once with Masterminds/semver v3.4's own grammar and checked with its rules.
//!
//! Grammar, as Masterminds/semver v3.4+ `NewConstraint` reads it (the same regular
//! expressions, so edge cases match):
//! - `A - B` (whitespace on both sides of the hyphen) is first rewritten to `>= A, <= B`;
//!   the rewrite also swallows the whitespace before `A`, so `<9 1.0 - 2.0` is invalid
//!   while `<9, 1.0 - 2.0` is fine; `1.0-2.0` is one version with pre-release `2.0`;
//! - `||` separates alternatives (OR); inside one, comparators separated by whitespace
//!   or a comma are ANDed; whitespace is only space, tab, CR, LF and form feed;
//! - a comparator is an optional operator (`=`, `!=`, `>`, `<`, `>=`, `=>`, `<=`, `=<`,
//!   `~`, `~>`, `^`; none means `=`) and `v?MAJOR[.MINOR[.PATCH]][-PRE][+BUILD]` where a
//!   part may be `x`, `X` or `*`; everything after the first wildcard is ignored
//!   (`1.x.99` is `1.x`), leading zeros are accepted (`~03.5`), numbers must fit in 64
//!   bits and numeric pre-release identifiers must not start with 0;
//! - a missing or wildcard part makes the comparator "dirty": `=1.2`/`1.2.x` behave like
//!   `~1.2`, `<=1.2` means `<1.3.0`, `>1.2` means `>=1.3.0`, and so on;
//! - a bare `1.2.3` means exactly 1.2.3 (not `^1.2.3` as in Cargo).
//!
//! Pre-releases (Masterminds v3.4+): a pre-release version satisfies an alternative only
//! if some comparator of that alternative names a pre-release (e.g. `>=1.0.0-0 <2`); then
//! pre-releases of any MAJOR.MINOR.PATCH are compared by precedence within its bounds.
//!
//! Deviation (docs/flux-compatibility.md): Masterminds reads `^*`/`^x` as 0.0.0 only and
//! `<=*`/`<= x` as 0.0.z only (Masterminds/semver issue #317). Baton makes `^` and `<=`
//! with a wildcard major match every version, as `=`, `~` and `>=` already do.

use std::cmp::Ordering;
use std::fmt;
use std::sync::LazyLock;

use regex::Regex;

use super::version::{TagVersion, compare_prerelease};

/// Why a semver range could not be parsed; every message names the range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RangeError {
    /// The range text is empty or only whitespace.
    #[error("semver range {range:?} is empty: give a range such as \"1.x\", \">=1.0.0\" or \"*\"")]
    Empty {
        /// The range as written.
        range: String,
    },
    /// An alternative between `||` separators has no comparator.
    #[error("semver range {range:?} has an empty alternative: remove the extra \"||\"")]
    EmptyAlternative {
        /// The range as written.
        range: String,
    },
    /// An alternative that is not a list of comparators.
    #[error(
        "semver range {range:?} is malformed at {part:?}: write comparators such as \">=1.2.0 <2.0.0\", \"1.x\", \"~1.2\" or \"^1.2\" separated by spaces or commas, alternatives separated by \"||\", hyphen ranges as \"1.2 - 1.4\""
    )]
    Syntax {
        /// The range as written.
        range: String,
        /// The alternative (after hyphen ranges were rewritten) that does not parse.
        part: String,
    },
    /// A comparator whose version numbers do not fit.
    #[error("semver range {range:?} contains {version:?}, which is not a version: {reason}")]
    BadVersion {
        /// The range as written.
        range: String,
        /// The offending version text.
        version: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// A parsed Masterminds semver range such as `1.x`, `>= 1.2, < 2.0` or `^0.2.3 || 2.1.x`.
#[derive(Debug, Clone)]
pub struct SemverRange {
    text: String,
    alternatives: Vec<Alternative>,
}

/// One `||` alternative: comparators that must all hold.
#[derive(Debug, Clone)]
struct Alternative {
    comparators: Vec<Comparator>,
    /// True when some comparator names a pre-release, which lets pre-release versions in.
    allows_prerelease: bool,
}

/// Comparison operator of one comparator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    /// `=` or no operator: equal, or tilde when the version has wildcards.
    Eq,
    /// `!=`.
    Ne,
    /// `>`.
    Gt,
    /// `<`.
    Lt,
    /// `>=` or `=>`.
    Ge,
    /// `<=` or `=<`.
    Le,
    /// `~` or `~>`.
    Tilde,
    /// `^`.
    Caret,
}

/// Which part of the comparator version was missing or a wildcard (Masterminds "dirty").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wildcard {
    /// `1.2.3`: fully specified.
    None,
    /// `1.2` or `1.2.x`: patch free (Masterminds `patchDirty`).
    Patch,
    /// `1` or `1.x`: minor and patch free (Masterminds `minorDirty`).
    Minor,
    /// `*` or `x`: everything free.
    Major,
}

/// One comparator: operator, the version with free parts set to zero, and which parts
/// were free. Evaluation mirrors Masterminds/semver v3 `constraints.go` function by function.
#[derive(Debug, Clone)]
struct Comparator {
    op: Op,
    version: TagVersion,
    wildcard: Wildcard,
}

/// Go's `\s` (RE2): space, tab, LF, FF and CR only.
const WS: &str = r"[\t\n\f\r ]";
/// Masterminds' operator alternation, in its order (leftmost-first matching depends on it).
const OPS: &str = r"=||!=|>|<|>=|=>|<=|=<|~|~>|\^";
/// Masterminds' `cvRegex`: nine groups (major, .minor, .patch, -pre, pre, .., +meta, ..).
const CV: &str = r"v?([0-9|x|X|\*]+)(\.[0-9|x|X|\*]+)?(\.[0-9|x|X|\*]+)?(-([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?(\+([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?";

/// The four expressions Masterminds compiles in `init()`, with Go's `\s` spelled out.
struct Grammar {
    /// `constraintRegex`: one whole comparator.
    comparator: Regex,
    /// `constraintRangeRegex`: a hyphen range with its surrounding whitespace.
    hyphen: Regex,
    /// `findConstraintRegex`: comparators inside an alternative.
    find: Regex,
    /// `validConstraintRegex`: a whole alternative.
    valid: Regex,
}

static GRAMMAR: LazyLock<Grammar> = LazyLock::new(|| {
    let build = |pattern: String| {
        // Constant patterns; every unit test compiles them.
        #[allow(clippy::expect_used)]
        Regex::new(&pattern).expect("Masterminds grammar compiles")
    };
    Grammar {
        comparator: build(format!(r"^{WS}*({OPS}){WS}*({CV}){WS}*$")),
        hyphen: build(format!(r"{WS}*({CV}){WS}+-{WS}+({CV}){WS}*")),
        find: build(format!(r"({OPS}){WS}*({CV})")),
        valid: build(format!(
            r"^({WS}*({OPS}){WS}*({CV}){WS}*)((?:{WS}+|,{WS}*)({OPS}){WS}*({CV}){WS}*)*$"
        )),
    }
});

impl SemverRange {
    /// Parses a range in Masterminds syntax; the text is kept for [`SemverRange::as_str`].
    pub fn parse(text: &str) -> Result<SemverRange, RangeError> {
        if text.trim().is_empty() {
            return Err(RangeError::Empty {
                range: text.to_string(),
            });
        }
        let grammar = &*GRAMMAR;
        let rewritten = rewrite_hyphens(grammar, text);
        let alternatives = rewritten
            .split("||")
            .map(|alt| parse_alternative(grammar, text, alt))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(SemverRange {
            text: text.to_string(),
            alternatives,
        })
    }

    /// True when `v` satisfies the range (build metadata never matters).
    pub fn matches(&self, v: &TagVersion) -> bool {
        self.alternatives.iter().any(|alt| {
            (!v.is_prerelease() || alt.allows_prerelease)
                && alt.comparators.iter().all(|c| c.check(v))
        })
    }

    /// True when a comparator meets Baton's deliberate deviation: `^` or `<=` with a
    /// wildcard major, which Flux reads as the bottom of the version space only.
    pub fn has_wildcard_floor_deviation(&self) -> bool {
        self.alternatives.iter().any(|alt| {
            alt.comparators
                .iter()
                .any(|c| c.wildcard == Wildcard::Major && matches!(c.op, Op::Caret | Op::Le))
        })
    }

    /// The range exactly as the operator wrote it.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

/// Ranges are equal when they are written the same.
impl PartialEq for SemverRange {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl fmt::Display for SemverRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl std::str::FromStr for SemverRange {
    type Err = RangeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SemverRange::parse(s)
    }
}

/// Masterminds `rewriteRange`: each `A - B` match becomes `>= A, <= B `, replacing the
/// first occurrence of the matched text in the text rewritten so far.
fn rewrite_hyphens(grammar: &Grammar, text: &str) -> String {
    let mut out = text.to_string();
    for caps in grammar.hyphen.captures_iter(text) {
        let (Some(whole), Some(low), Some(high)) = (caps.get(0), caps.get(1), caps.get(11)) else {
            continue;
        };
        let replacement = format!(">= {}, <= {} ", low.as_str(), high.as_str());
        out = out.replacen(whole.as_str(), &replacement, 1);
    }
    out
}

fn parse_alternative(grammar: &Grammar, range: &str, alt: &str) -> Result<Alternative, RangeError> {
    if !grammar.valid.is_match(alt) {
        if alt.bytes().all(|b| b"\t\n\x0c\r ".contains(&b)) {
            return Err(RangeError::EmptyAlternative {
                range: range.to_string(),
            });
        }
        return Err(RangeError::Syntax {
            range: range.to_string(),
            part: alt.trim().to_string(),
        });
    }
    let mut comparators = grammar
        .find
        .find_iter(alt)
        .map(|m| parse_comparator(grammar, range, m.as_str()))
        .collect::<Result<Vec<_>, _>>()?;
    if comparators.is_empty() {
        comparators.push(parse_comparator(grammar, range, alt)?);
    }
    let allows_prerelease = comparators.iter().any(|c| c.version.is_prerelease());
    Ok(Alternative {
        comparators,
        allows_prerelease,
    })
}

fn is_x(part: &str) -> bool {
    matches!(part, "x" | "X" | "*")
}

/// Masterminds `parseConstraint`: the operator, then the version with its free parts.
fn parse_comparator(grammar: &Grammar, range: &str, text: &str) -> Result<Comparator, RangeError> {
    let syntax = || RangeError::Syntax {
        range: range.to_string(),
        part: text.trim().to_string(),
    };
    let caps = grammar.comparator.captures(text).ok_or_else(syntax)?;
    let group = |i: usize| caps.get(i).map_or("", |m| m.as_str());
    let op = match group(1) {
        "" | "=" => Op::Eq,
        "!=" => Op::Ne,
        ">" => Op::Gt,
        "<" => Op::Lt,
        ">=" | "=>" => Op::Ge,
        "<=" | "=<" => Op::Le,
        "~" | "~>" => Op::Tilde,
        "^" => Op::Caret,
        _ => return Err(syntax()),
    };
    let (major, minor, patch, pre) = (
        group(3),
        group(4).trim_start_matches('.'),
        group(5).trim_start_matches('.'),
        group(6),
    );
    let (wildcard, version_text) = if is_x(major) || major.is_empty() {
        (Wildcard::Major, format!("0.0.0{pre}"))
    } else if is_x(minor) || minor.is_empty() {
        (Wildcard::Minor, format!("{major}.0.0{pre}"))
    } else if is_x(patch) || patch.is_empty() {
        (Wildcard::Patch, format!("{major}.{minor}.0{pre}"))
    } else {
        (Wildcard::None, group(2).to_string())
    };
    let version = TagVersion::parse_lenient(&version_text).ok_or_else(|| RangeError::BadVersion {
        range: range.to_string(),
        version: group(2).to_string(),
        reason: "each part must be digits that fit in 64 bits or one of x, X, *, and a numeric pre-release identifier must not start with 0".to_string(),
    })?;
    Ok(Comparator {
        op,
        version,
        wildcard,
    })
}

impl Comparator {
    /// Checks `v` against this comparator alone; the pre-release gate is applied by the
    /// alternative before this is called.
    fn check(&self, v: &TagVersion) -> bool {
        let con = &self.version;
        let dirty = self.wildcard != Wildcard::None;
        let minor_dirty = self.wildcard == Wildcard::Minor;
        let patch_dirty = self.wildcard == Wildcard::Patch;
        let cmp = v.cmp_precedence(con);
        match self.op {
            Op::Eq => {
                if dirty {
                    self.tilde(v, cmp)
                } else {
                    cmp == Ordering::Equal
                }
            }
            Op::Ne => {
                if dirty {
                    if con.major != v.major {
                        return true;
                    }
                    if con.minor != v.minor && !minor_dirty {
                        return true;
                    } else if minor_dirty {
                        return false;
                    } else if con.patch != v.patch && !patch_dirty {
                        return true;
                    } else if patch_dirty {
                        return (v.is_prerelease() || con.is_prerelease())
                            && compare_prerelease(v.pre(), con.pre()) != Ordering::Equal;
                    }
                }
                cmp != Ordering::Equal
            }
            Op::Gt => {
                if !dirty || self.wildcard == Wildcard::Major && v.major == con.major {
                    return cmp == Ordering::Greater;
                }
                if v.major != con.major {
                    return v.major > con.major;
                }
                if minor_dirty {
                    return false;
                }
                // patch_dirty: `>1.2` means a greater minor.
                v.minor > con.minor
            }
            Op::Lt => cmp == Ordering::Less,
            Op::Ge => cmp != Ordering::Less,
            Op::Le => {
                if !dirty {
                    return cmp != Ordering::Greater;
                }
                if self.wildcard == Wildcard::Major {
                    // Deviation from Masterminds (see module docs): `<=*` is any version.
                    return true;
                }
                !(v.major > con.major
                    || v.major == con.major && v.minor > con.minor && !minor_dirty)
            }
            Op::Tilde => self.tilde(v, cmp),
            Op::Caret => {
                if cmp == Ordering::Less {
                    return false;
                }
                if self.wildcard == Wildcard::Major {
                    // Deviation from Masterminds (issue #317): `^*` is any version.
                    return true;
                }
                if con.major > 0 || minor_dirty {
                    return v.major == con.major;
                }
                if v.major > 0 {
                    return false;
                }
                if con.minor > 0 || patch_dirty {
                    return v.minor == con.minor;
                }
                if v.minor > 0 {
                    return false;
                }
                v.patch == con.patch
            }
        }
    }

    /// Masterminds `constraintTilde`: `~1.2.3` is `>=1.2.3 <1.3.0`, `~1` is `>=1 <2`.
    fn tilde(&self, v: &TagVersion, cmp: Ordering) -> bool {
        let con = &self.version;
        if cmp == Ordering::Less {
            return false;
        }
        if con.major == 0
            && con.minor == 0
            && con.patch == 0
            && !matches!(self.wildcard, Wildcard::Minor | Wildcard::Patch)
        {
            return true;
        }
        v.major == con.major && (v.minor == con.minor || self.wildcard == Wildcard::Minor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(range: &str, version: &str) -> bool {
        let r = SemverRange::parse(range).unwrap_or_else(|e| panic!("{range}: {e}"));
        let v = TagVersion::parse_lenient(version).unwrap_or_else(|| panic!("{version}"));
        r.matches(&v)
    }

    /// Table of (range, version, expected). Groups cite their source.
    #[test]
    fn range_table() {
        let cases: &[(&str, &str, bool)] = &[
            // Masterminds/semver constraints_test.go, TestConstraintCheck (single comparators).
            ("=2.0.0", "1.2.3", false),
            ("=2.0.0", "2.0.0", true),
            ("=2.0", "1.2.3", false),
            ("=2.0", "2.0.0", true),
            ("=2.0", "2.0.1", true),
            ("4.1", "4.1.0", true),
            ("!=4.1.0", "4.1.0", false),
            ("!=4.1.0", "4.1.1", true),
            ("!=4.1", "4.1.0", false),
            ("!=4.1", "4.1.1", false),
            ("!=4.1", "5.1.0-alpha.1", false),
            ("!=4.1-alpha", "4.1.0", true),
            ("!=4.1", "5.1.0", true),
            ("<11", "0.1.0", true),
            ("<11", "11.1.0", false),
            ("<1.1", "0.1.0", true),
            ("<1.1", "1.1.0", false),
            ("<1.1", "1.1.1", false),
            ("<=11", "1.2.3", true),
            ("<=11", "12.2.3", false),
            ("<=11", "11.2.3", true),
            ("<=1.1", "1.2.3", false),
            ("<=1.1", "0.1.0", true),
            ("<=1.1", "1.1.0", true),
            ("<=1.1", "1.1.1", true),
            (">1.1", "4.1.0", true),
            (">1.1", "1.1.0", false),
            (">0", "0.0.0", false),
            (">0", "1.0.0", true),
            (">0", "0.0.1-alpha", false),
            (">0.0", "0.0.1-alpha", false),
            (">0-0", "0.0.1-alpha", false),
            (">0.0-0", "0.0.1-alpha", false),
            (">0", "0.0.0-alpha", false),
            (">0-0", "0.0.0-alpha", false),
            (">0.0.0-0", "0.0.0-alpha", true),
            (">1.2.3-alpha.1", "1.2.3-alpha.2", true),
            (">1.2.3-alpha.1", "1.3.3-alpha.2", true),
            (">11", "11.1.0", false),
            (">11.1", "11.1.0", false),
            (">11.1", "11.1.1", false),
            (">11.1", "11.2.1", true),
            (">=11", "11.1.2", true),
            (">=11.1", "11.1.2", true),
            (">=11.1", "11.0.2", false),
            (">=1.1", "4.1.0", true),
            (">=1.1", "1.1.0", true),
            (">=1.1", "0.0.9", false),
            (">=0", "0.0.1-alpha", false),
            (">=0.0", "0.0.1-alpha", false),
            (">=0-0", "0.0.1-alpha", true),
            (">=0.0-0", "0.0.1-alpha", true),
            (">=0", "0.0.0-alpha", false),
            (">=0-0", "0.0.0-alpha", true),
            (">=0.0.0-0", "0.0.0-alpha", true),
            (">=0.0.0-0", "1.2.3", true),
            (">=0.0.0-0", "3.4.5-beta.1", true),
            ("<0", "0.0.0-alpha", false),
            ("<0-z", "0.0.0-alpha", true),
            (">=0", "0.0.0", true),
            ("=0", "1.0.0", false),
            ("*", "1.0.0", true),
            ("*", "4.5.6", true),
            ("*", "1.2.3-alpha.1", false),
            ("*-0", "1.2.3-alpha.1", true),
            ("2.*", "1.0.0", false),
            ("2.*", "3.4.5", false),
            ("2.*", "2.1.1", true),
            ("2.1.*", "2.1.1", true),
            ("2.1.*", "2.2.1", false),
            ("2", "1.0.0", false),
            ("2", "3.4.5", false),
            ("2", "2.1.1", true),
            ("2.1", "2.1.1", true),
            ("2.1", "2.2.1", false),
            ("~1.2.3", "1.2.4", true),
            ("~1.2.3", "1.3.4", false),
            ("~1.2", "1.2.4", true),
            ("~1.2", "1.3.4", false),
            ("~1", "1.2.4", true),
            ("~1", "2.3.4", false),
            ("~0.2.3", "0.2.5", true),
            ("~0.2.3", "0.3.5", false),
            ("~1.2.3-beta.2", "1.2.3-beta.4", true),
            // Masterminds differs from npm here on purpose: pre-releases of other patches.
            ("~1.2.3-beta.2", "1.2.4-beta.2", true),
            ("~1.2.3-beta.2", "1.3.4-beta.2", false),
            ("^1.2.3", "1.8.9", true),
            ("^1.2.3", "2.8.9", false),
            ("^1.2.3", "1.2.1", false),
            ("^1.1.0", "2.1.0", false),
            ("^1.2.0", "2.2.1", false),
            ("^1.2.0", "1.2.1-alpha.1", false),
            ("^1.2.0-alpha.0", "1.2.1-alpha.1", true),
            ("^1.2.0-alpha.0", "1.2.1-alpha.0", true),
            ("^1.2.0-alpha.2", "1.2.0-alpha.1", false),
            ("^1.2", "1.8.9", true),
            ("^1.2", "2.8.9", false),
            ("^1", "1.8.9", true),
            ("^1", "2.8.9", false),
            ("^0.2.3", "0.2.5", true),
            ("^0.2.3", "0.5.6", false),
            ("^0.2", "0.2.5", true),
            ("^0.2", "0.5.6", false),
            ("^0.0.3", "0.0.3", true),
            ("^0.0.3", "0.0.4", false),
            ("^0.0", "0.0.3", true),
            ("^0.0", "0.1.4", false),
            ("^0.0", "1.0.4", false),
            ("^0", "0.2.3", true),
            ("^0", "1.1.4", false),
            ("^0.2.3-beta.2", "0.2.3-beta.4", true),
            ("^0.2.3-beta.2", "0.2.4-beta.2", true),
            ("^0.2.3-beta.2", "0.3.4-beta.2", false),
            ("^0.2.3-beta.2", "0.2.3-beta.2", true),
            // Masterminds constraints_test.go, TestConstraintsCheck (whole ranges).
            ("~0.0.0", "1.2.3", true),
            ("0.x.x", "1.2.3", false),
            ("0.0.x", "1.2.3", false),
            ("0.0.0", "1.2.3", false),
            ("^0.0.0", "1.2.3", false),
            ("= 2.0", "1.2.3", false),
            ("= 2.0", "2.0.0", true),
            ("4.1.x", "4.1.3", true),
            ("1.x", "1.4.0", true),
            ("!=4.1-alpha", "4.1.0-alpha", false),
            ("!=4.1-alpha", "4.1.1-alpha", false),
            ("!=4.x", "5.1.0", true),
            ("!=4.x", "4.1.0", false),
            ("!=4.1.x", "4.2.0", true),
            ("!=4.2.x", "4.2.3", false),
            ("<1.x", "1.1.1", false),
            ("<1.x", "0.1.1", true),
            ("<1.x", "2.0.0", false),
            ("<1.1.x", "1.2.1", false),
            ("<1.1.x", "1.1.500", false),
            ("<1.1.x", "1.0.500", true),
            ("<1.2.x", "1.1.1", true),
            (">=1.1", "4.1.0-beta", false),
            ("<=1.1", "0.1.0-alpha", false),
            ("<=1.1-a", "0.1.0-alpha", true),
            ("<=1.x", "1.1.0", true),
            ("<=2.x", "3.0.0", false),
            ("<=1.1.x", "1.2.500", false),
            ("<=4.5", "3.4.0", true),
            ("<=4.5", "3.7.0", true),
            ("<=4.5", "4.6.3", false),
            (">1.1, <2", "1.1.1", false),
            (">1.1, <2", "1.2.1", true),
            (">1.1, <3", "4.3.2", false),
            (">=1.1, <2, !=1.2.3", "1.2.3", false),
            (">1.1 <2", "1.1.1", false),
            (">1.1 <2", "1.2.1", true),
            (">1.1    <3", "4.3.2", false),
            (">=1.1    <2    !=1.2.3", "1.2.3", false),
            (">=1.1, <2, !=1.2.3 || > 3", "4.1.2", true),
            (">=1.1, <2, !=1.2.3 || > 3", "3.1.2", false),
            (">=1.1, <2, !=1.2.3 || >= 3", "3.0.0", true),
            (">=1.1, <2, !=1.2.3 || > 3", "3.0.0", false),
            (">=1.1, <2, !=1.2.3 || > 3", "1.2.3", false),
            ("> 1.1, <     2", "1.1.1", false),
            (">   1.1, <2", "1.2.1", true),
            (">=1.1    < 2    != 1.2.3", "1.2.3", false),
            (">= 1.1 < 2 !=1.2.3 || > 3", "3.0.0", false),
            ("1.1 - 2", "1.1.1", true),
            ("1.5.0 - 4.5", "3.7.0", true),
            ("1.1-3", "4.3.2", false),
            ("^1.1", "1.1.1", true),
            ("^1.1", "4.3.2", false),
            ("^1.x", "1.1.1", true),
            ("^2.x", "1.1.1", false),
            ("^1.x", "2.1.1", false),
            ("^1.x", "1.1.1-beta1", false),
            ("^1.1.2-alpha", "1.2.1-beta1", true),
            ("^1.2.x-alpha", "1.1.1-beta1", false),
            ("^0.0.1", "0.0.1", true),
            ("^0.0.1", "0.3.1", false),
            ("~*", "2.1.1", true),
            ("~1", "2.1.1", false),
            ("~1", "1.3.5", true),
            ("~1.x", "2.1.1", false),
            ("~1.x", "1.3.5", true),
            ("~1.1", "1.1.1", true),
            ("~1.1", "1.1.1-alpha", false),
            ("~1.1-alpha", "1.1.1-beta", true),
            ("~1.1.1-beta", "1.1.1-alpha", false),
            ("~1.1.1-beta", "1.1.1", true),
            ("~1.2.3", "1.2.5", true),
            ("~1.2.3", "1.2.2", false),
            ("~1.2.3", "1.3.2", false),
            ("~1.1", "1.2.3", false),
            ("~1.3", "2.4.5", false),
            ("1.0.0 - 2.0.0 <=2.0.0", "1.5.0", true),
            ("1.0.0 - 2.0.0, <=2.0.0", "1.5.0", true),
            ("~1.3.5-alpha", "1.3.5-beta", true),
            ("~1.3.5-beta", "1.3.5-alpha", false),
            ("~1.3.6-alpha", "1.3.5-beta", false),
            // Masterminds README: wildcards, tilde, caret, hyphen ranges, `-0` opt-in.
            ("1.2.x", "1.2.9", true),
            ("1.2.x", "1.3.0", false),
            (">= 1.2.x", "7.0.0", true),
            ("<= 2.x", "2.9.9", true),
            ("<= 2.x", "3.0.0", false),
            ("1.X", "1.7.0", true),
            ("1.X", "2.0.0", false),
            ("~2.3", "2.3.9", true),
            ("~2.3", "2.4.0", false),
            ("^2.3", "2.9.0", true),
            ("^2.3", "3.0.0", false),
            ("^0.2", "0.2.9", true),
            ("^0.2", "0.3.0", false),
            ("1.2 - 1.4.5", "1.4.5", true),
            ("1.2 - 1.4.5", "1.4.6", false),
            ("1.2 - 1.4.5", "1.1.9", false),
            ("2.3.4 - 4.5", "4.5.9", true),
            ("2.3.4 - 4.5", "4.6.0", false),
            (">=1.2.3", "1.2.4-beta.1", false),
            (">=1.2.3-0", "1.2.4-beta.1", true),
            // Pre-release gate is per alternative: one pre-release comparator in the group
            // admits pre-releases for the whole group (Masterminds v3.2+ `containsPre`).
            (">=1.0.0-0 <2.0.0", "1.5.0-rc.1", true),
            // 2.0.0-rc.1 precedes 2.0.0, so it is below the bound: Masterminds admits it.
            (">=1.0.0-0 <2.0.0", "2.0.0-rc.1", true),
            (">=1.0.0-0 <2.0.0-0", "2.0.0-rc.1", false),
            (">=1.0.0-0 || >=3.0.0", "3.1.0-rc.1", true),
            ("<2.0.0 || >=3.0.0-0", "1.5.0-rc.1", false),
            ("1.x || >=3.0.0-0", "3.0.0-alpha", true),
            // Brief: bare version is exact, partial versions, `v` prefixes, `=`/`!=`/`<`/`>`.
            ("1.2.3", "1.2.3", true),
            ("1.2.3", "1.2.4", false),
            ("=1.2.3", "1.2.3", true),
            ("=1.2.3", "1.2.4", false),
            ("v1.2.3", "1.2.3", true),
            (">=v1.2", "1.2.0", true),
            (">=1.2", "1.1.9", false),
            ("<1.2", "1.1.9", true),
            ("<1.2", "1.2.0", false),
            (">1.2", "1.2.9", false),
            (">1.2", "1.3.0", true),
            ("!=1.2.3", "1.2.3", false),
            ("!=1.2.3", "1.2.4", true),
            (">=1.0.0 <2.0.0", "1.9.9", true),
            (">=1.0.0 <2.0.0", "2.0.0", false),
            (">= 1.0, < 2.0", "1.0.0", true),
            (">= 1.0, < 2.0", "2.0.0", false),
            ("=>1.0 =<2.0", "2.0.5", true),
            ("~>1.2", "1.2.7", true),
            ("~>1.2", "1.3.0", false),
            // Build metadata never affects matching (semver precedence ignores it).
            ("=1.2.3+build.1", "1.2.3+build.2", true),
            ("1.2.3", "1.2.3+anything", true),
            // Baton deviation, Masterminds issue #317: `^*` and `<=*` mean any version.
            ("^*", "1.0.0", true),
            ("^*", "0.0.1", true),
            ("^*", "7.1.0-rc.1", false),
            ("<=*", "9.9.9", true),
        ];
        let mut failures = Vec::new();
        for &(range, version, expected) in cases {
            if check(range, version) != expected {
                failures.push(format!("{range:?} vs {version:?}: expected {expected}"));
            }
        }
        assert!(failures.is_empty(), "failures:\n{}", failures.join("\n"));
    }

    /// Invalid ranges and the error each produces. The first group mirrors Masterminds
    /// TestNewConstraint error cases.
    #[test]
    fn invalid_ranges() {
        const BAD: &str = "is malformed at";
        const NOT_VERSION: &str = "which is not a version";
        let cases: &[(&str, &str)] = &[
            (
                ">= bar",
                "semver range \">= bar\" is malformed at \">= bar\"",
            ),
            ("BAR >= 1.2.3", BAD),
            ("12.3.4.1234", BAD),
            ("12.3.34~ 1.2.3", BAD),
            ("", "semver range \"\" is empty"),
            ("   ", "is empty"),
            ("1.x ||", "semver range \"1.x ||\" has an empty alternative"),
            ("|| 1.x", "has an empty alternative"),
            ("6.x||", "has an empty alternative"),
            (">=", BAD),
            (">=1.0 <", BAD),
            ("=~1.2", BAD),
            ("<>1.2", BAD),
            ("1.2 -", BAD),
            ("- 1.2", BAD),
            (">=1.2 - 1.4", BAD),
            ("1.2 - >=1.4", BAD),
            // Masterminds' rewrite swallows the space before A: "<9.0.0>= 5.2.0, ...".
            ("<9.0.0 5.2.0 - 6.0.3", BAD),
            (">=1.0,, <2", BAD),
            (", >=1.0", BAD),
            (">=1.0,", BAD),
            ("1.2.3-", BAD),
            ("1.2.3+", BAD),
            ("1..2", BAD),
            ("V1.2.3", BAD),
            // Only ASCII whitespace separates comparators.
            (">=3.5.0\u{3000}<3.6.0", BAD),
            (">=3.5.0\u{2009}<3.6.0", BAD),
            (">=3.5.0\u{85}<3.6.0", BAD),
            (">=3.5.0\u{b}<3.6.0", BAD),
            ("1.2.3-01", NOT_VERSION),
            (">=2.4.7-rc.01", NOT_VERSION),
            ("1.2x", NOT_VERSION),
            ("1|2.3", NOT_VERSION),
            ("99999999999999999999", NOT_VERSION),
            ("2.3.18446744073709551616", NOT_VERSION),
            ("9.18446744073709551616.x", NOT_VERSION),
        ];
        for &(range, expected) in cases {
            match SemverRange::parse(range) {
                Ok(r) => {
                    panic!("{range:?} parsed as {r:?}, expected error containing {expected:?}")
                }
                Err(e) => {
                    let msg = e.to_string();
                    assert!(
                        msg.contains(expected),
                        "{range:?}: message {msg:?} lacks {expected:?}"
                    );
                    assert!(
                        msg.contains(&format!("{range:?}")),
                        "{range:?}: message {msg:?} does not name the range"
                    );
                    assert!(!msg.ends_with('.'), "{msg:?} ends with a period");
                }
            }
        }
    }

    /// Masterminds v3.4+ readings that follow from its regular expressions and
    /// `parseConstraint`, and the pre-release rule per AND group.
    #[test]
    fn masterminds_v34_syntax() {
        let cases: &[(&str, &str, bool)] = &[
            // Everything after the first wildcard is ignored, even out-of-range numbers.
            ("1.x.99", "1.7.0", true),
            ("1.x.99", "2.0.0", false),
            ("X.88888888888888888888", "7.1.2", true),
            ("3.x.77777777777777777777", "3.9.6", true),
            ("3.x.77777777777777777777", "4.0.0", false),
            ("*.5", "9.0.0", true),
            // Leading zeros in the three numbers.
            ("~03.5", "3.5.4", true),
            ("~03.5", "3.6.0", false),
            ("=03.05.02", "3.5.2", true),
            // Whitespace is space, tab, LF, FF and CR.
            (">=2.3.0\n<2.4.0", "2.3.11", true),
            (">=2.3.0\n<2.4.0", "2.4.0", false),
            (">=3.5.0\u{c}<3.6.0", "3.5.4", true),
            (">=3.5.0\t<3.6.0", "3.6.0", false),
            // Hyphen ranges: after a comma, or alone; without spaces it is a pre-release.
            (">=5.3.0, 5.2.0 - 6.0.3", "6.0.3", true),
            (">=5.3.0, 5.2.0 - 6.0.3", "5.2.9", false),
            ("2.3.0-2.4.0", "2.3.0-2.4.0", true),
            ("2.3.0-2.4.0", "2.3.5", false),
            // Operator spellings.
            ("=>3.5.0 =<3.6.0", "3.6.0", true),
            ("~>3.8", "3.8.2", true),
            // A pre-release in any comparator of the AND group admits pre-releases.
            ("<2.13.0-0 >=2.12.0", "2.12.6-alpha.2", true),
            (">2.3.8 <3.8.2-x", "3.1.0-rc.1", true),
            (">=2.12.0 <2.13.0 || >=9.0.0-0", "2.12.6-alpha.2", false),
            // ^x and <=x: Baton's documented deviation (any version).
            ("^x", "7.0.0", true),
            ("<=x", "7.0.0", true),
            ("^x-0", "7.0.0-rc.1", true),
            ("^X.x", "1.9.4", true),
            // Pre-release identifiers beyond 64 bits compare as text.
            (
                ">=4.8.0-0 <4.8.0-30000000000000000000",
                "4.8.0-200000000000000000000",
                true,
            ),
            (">=4.8.0-0 <4.8.0-rc", "4.8.0-30000000000000000000", true),
            (">4.8.0-9999999999", "4.8.0-200000000000000000000", true),
        ];
        let mut failures = Vec::new();
        for &(range, version, expected) in cases {
            if check(range, version) != expected {
                failures.push(format!("{range:?} vs {version:?}: expected {expected}"));
            }
        }
        assert!(failures.is_empty(), "failures:\n{}", failures.join("\n"));
        let r = SemverRange::parse("^x || >=1.0.0").unwrap();
        assert!(r.has_wildcard_floor_deviation());
        assert!(
            !SemverRange::parse("1.x")
                .unwrap()
                .has_wildcard_floor_deviation()
        );
    }

    /// Masterminds TestNewConstraint: shapes that must parse, with their OR/AND counts.
    #[test]
    fn parse_shapes() {
        let cases: &[(&str, usize, usize)] = &[
            (">= 1.1", 1, 1),
            (">40.50.60, < 50.70", 1, 2),
            ("2.0", 1, 1),
            ("v2.3.5-20161202202307-sha.e8fc5e5", 1, 1),
            (">= 1.2.3 < 2.0", 1, 2),
            (">= 1.2.3 < 2.0 || => 3.0 < 4", 2, 2),
            (">= 1.2.3, < 2.0", 1, 2),
            (">= 1.2.3, < 2.0 || => 3.0, < 4", 2, 2),
            ("3 - 4 || => 3.0, < 4", 2, 2),
            ("12.3.34 ~1.2.3", 1, 2),
            ("1.0.0 - 2.0.0, <=2.0.0", 1, 3),
            ("2 - 3, 4.0.0 - 5.1", 1, 4),
        ];
        for &(range, ors, first_ands) in cases {
            let r = SemverRange::parse(range).unwrap_or_else(|e| panic!("{range}: {e}"));
            assert_eq!(r.alternatives.len(), ors, "{range}");
            assert_eq!(r.alternatives[0].comparators.len(), first_ands, "{range}");
            assert_eq!(r.as_str(), range);
        }
    }
}
