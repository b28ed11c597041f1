//! Masterminds-compatible semver ranges (the syntax Flux's `semver.range` accepts),
//! parsed once and evaluated against `semver::Version` with Masterminds' rules.
//!
//! Grammar, as Masterminds/semver v3 reads it:
//! - `||` separates alternatives (OR); inside one alternative, comparators separated by
//!   whitespace and/or one comma are ANDed: `>= 1.2, < 2.0`, `>=1.2 <2`.
//! - A comparator is an optional operator (`=`, `!=`, `>`, `<`, `>=`, `=>`, `<=`, `=<`,
//!   `~`, `~>`, `^`; none means `=`) then a version `v?MAJOR[.MINOR[.PATCH]][-PRE][+BUILD]`
//!   where MAJOR, MINOR and PATCH may each be a wildcard `x`, `X` or `*`.
//! - `A - B` (spaces around the hyphen required) is the hyphen range `>= A, <= B`.
//! - A missing or wildcard part makes the comparator "dirty": `=1.2`/`1.2.x` behave like
//!   `~1.2`, `<=1.2` means `<1.3.0`, `>1.2` means `>=1.3.0`, and so on (see [`Comparator`]).
//! - A bare `1.2.3` means exactly 1.2.3 (not `^1.2.3` as in Cargo).
//!
//! Pre-releases (Masterminds v3.2+ rule, which Flux uses): a version with a pre-release
//! satisfies an alternative only if at least one comparator of that same alternative names
//! a pre-release (e.g. `>=1.0.0-0`). When one does, pre-releases of *any* major.minor.patch
//! are compared by ordinary semver precedence within that alternative; Masterminds
//! deliberately does not restrict them to the same major.minor.patch as npm does.
//!
//! Deviation: Masterminds documents `^*` as "any version" but its code matches only 0.0.0
//! (Masterminds/semver issue #317), and `<=*` likewise matches only 0.x. Baton makes a
//! comparator whose major is a wildcard match every version for `^` and `<=`, as it
//! already does for `=`, `~` and `>=`.

use std::cmp::Ordering;
use std::fmt;

use semver::{BuildMetadata, Prerelease, Version};

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
    /// A run of operator characters that is not an operator.
    #[error(
        "semver range {range:?} uses unknown operator {operator:?}: use =, !=, >, <, >=, <=, ~, ~> or ^"
    )]
    UnknownOperator {
        /// The range as written.
        range: String,
        /// The unknown operator.
        operator: String,
    },
    /// An operator with nothing after it.
    #[error("semver range {range:?} has operator {operator:?} with no version after it")]
    MissingVersion {
        /// The range as written.
        range: String,
        /// The operator left without a version.
        operator: String,
    },
    /// A version that does not follow `MAJOR[.MINOR[.PATCH]][-PRE][+BUILD]`.
    #[error("semver range {range:?} contains {version:?}, which is not a version: {reason}")]
    BadVersion {
        /// The range as written.
        range: String,
        /// The offending version text.
        version: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Misplaced commas or hyphens.
    #[error("semver range {range:?} is malformed: {detail}")]
    Syntax {
        /// The range as written.
        range: String,
        /// What is wrong and how to fix it.
        detail: String,
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
    version: Version,
    wildcard: Wildcard,
}

impl SemverRange {
    /// Parses a range in Masterminds syntax; the text is kept for [`SemverRange::as_str`].
    pub fn parse(text: &str) -> Result<SemverRange, RangeError> {
        if text.trim().is_empty() {
            return Err(RangeError::Empty {
                range: text.to_string(),
            });
        }
        let alternatives = text
            .split("||")
            .map(|alt| parse_alternative(text, alt))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(SemverRange {
            text: text.to_string(),
            alternatives,
        })
    }

    /// True when `v` satisfies the range (build metadata is ignored, as semver says).
    pub fn matches(&self, v: &Version) -> bool {
        self.alternatives.iter().any(|alt| {
            (v.pre.is_empty() || alt.allows_prerelease)
                && alt.comparators.iter().all(|c| c.check(v))
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

fn syntax(range: &str, detail: &str) -> RangeError {
    RangeError::Syntax {
        range: range.to_string(),
        detail: detail.to_string(),
    }
}

fn is_op_char(c: char) -> bool {
    matches!(c, '<' | '>' | '=' | '!' | '~' | '^')
}

fn is_separator(c: char) -> bool {
    c.is_whitespace() || c == ','
}

/// Parses one `||` alternative into ANDed comparators, expanding hyphen ranges.
fn parse_alternative(range: &str, alt: &str) -> Result<Alternative, RangeError> {
    if alt.trim().is_empty() {
        return Err(RangeError::EmptyAlternative {
            range: range.to_string(),
        });
    }
    let mut comparators = Vec::new();
    let mut rest = alt;
    // True right after a comma: another comparator must follow.
    let mut pending_comma = false;
    loop {
        rest = rest.trim_start();
        if rest.is_empty() {
            break;
        }
        if let Some(after) = rest.strip_prefix(',') {
            if comparators.is_empty() || pending_comma {
                return Err(syntax(
                    range,
                    "a comma must sit between two comparators, as in \">= 1.2, < 2.0\"",
                ));
            }
            pending_comma = true;
            rest = after;
            continue;
        }
        pending_comma = false;

        let op_len = rest.find(|c| !is_op_char(c)).unwrap_or(rest.len());
        let (op_text, after_op) = rest.split_at(op_len);
        let op = parse_op(range, op_text)?;
        let after_op = after_op.trim_start();
        let ver_len = after_op.find(is_separator).unwrap_or(after_op.len());
        let (ver_text, after_ver) = after_op.split_at(ver_len);
        if ver_text.is_empty() {
            if op_text.is_empty() {
                // Only reachable when `rest` started with a separator, which the loop
                // consumed; kept as a defensive error rather than a panic.
                return Err(syntax(range, "expected a comparator"));
            }
            return Err(RangeError::MissingVersion {
                range: range.to_string(),
                operator: op_text.to_string(),
            });
        }
        if ver_text == "-" {
            return Err(syntax(
                range,
                "a hyphen range needs a version on both sides, as in \"1.2 - 1.4\"",
            ));
        }
        let lower = parse_comparator(range, op, ver_text)?;
        rest = after_ver;

        // Hyphen range `A - B`: whitespace, a lone `-`, whitespace, a version.
        if let Some(upper_text) = hyphen_upper(rest) {
            if op_text.is_empty() {
                let (upper_ver, after_upper) = upper_text;
                if upper_ver.is_empty() || upper_ver.starts_with(is_op_char) {
                    return Err(syntax(
                        range,
                        "a hyphen range needs a plain version on both sides, as in \"1.2 - 1.4\"",
                    ));
                }
                comparators.push(Comparator {
                    op: Op::Ge,
                    ..lower
                });
                comparators.push(parse_comparator(range, Op::Le, upper_ver)?);
                rest = after_upper;
                continue;
            }
            return Err(syntax(
                range,
                "a hyphen range cannot carry operators: write \"1.2 - 1.4\" or \">= 1.2, <= 1.4\"",
            ));
        }
        comparators.push(lower);
    }
    if pending_comma {
        return Err(syntax(
            range,
            "the range ends with a comma: remove it or add a comparator after it",
        ));
    }
    let allows_prerelease = comparators.iter().any(|c| !c.version.pre.is_empty());
    Ok(Alternative {
        comparators,
        allows_prerelease,
    })
}

/// When `rest` is `<ws>-<ws>VERSION...`, returns VERSION and what follows it.
fn hyphen_upper(rest: &str) -> Option<(&str, &str)> {
    let trimmed = rest.trim_start();
    if trimmed.len() == rest.len() {
        return None;
    }
    let after_dash = trimmed.strip_prefix('-')?;
    let upper = after_dash.trim_start();
    if upper.len() == after_dash.len() {
        return None;
    }
    let len = upper.find(is_separator).unwrap_or(upper.len());
    Some(upper.split_at(len))
}

fn parse_op(range: &str, text: &str) -> Result<Op, RangeError> {
    Ok(match text {
        "" | "=" => Op::Eq,
        "!=" => Op::Ne,
        ">" => Op::Gt,
        "<" => Op::Lt,
        ">=" | "=>" => Op::Ge,
        "<=" | "=<" => Op::Le,
        "~" | "~>" => Op::Tilde,
        "^" => Op::Caret,
        other => {
            return Err(RangeError::UnknownOperator {
                range: range.to_string(),
                operator: other.to_string(),
            });
        }
    })
}

/// One numeric part of a comparator version: a number or a wildcard.
fn parse_part(range: &str, version: &str, part: &str) -> Result<Option<u64>, RangeError> {
    let bad = |reason: &str| RangeError::BadVersion {
        range: range.to_string(),
        version: version.to_string(),
        reason: reason.to_string(),
    };
    match part {
        "x" | "X" | "*" => Ok(None),
        "" => Err(bad("a version part is empty")),
        digits if digits.bytes().all(|b| b.is_ascii_digit()) => digits
            .parse::<u64>()
            .map(Some)
            .map_err(|_| bad("a version number is too large")),
        _ => Err(bad(
            "expected MAJOR[.MINOR[.PATCH]][-PRERELEASE][+BUILD] with numbers or x, X, *",
        )),
    }
}

fn parse_comparator(range: &str, op: Op, text: &str) -> Result<Comparator, RangeError> {
    let bad = |reason: String| RangeError::BadVersion {
        range: range.to_string(),
        version: text.to_string(),
        reason,
    };
    let body = text.strip_prefix('v').unwrap_or(text);
    let (body, build) = match body.split_once('+') {
        Some((b, build)) => (b, Some(build)),
        None => (body, None),
    };
    if let Some(build) = build {
        BuildMetadata::new(build).map_err(|e| bad(format!("bad build metadata: {e}")))?;
        if build.is_empty() {
            return Err(bad("build metadata after \"+\" is empty".to_string()));
        }
    }
    let (core, pre) = match body.split_once('-') {
        Some((c, pre)) => {
            if pre.is_empty() {
                return Err(bad("pre-release after \"-\" is empty".to_string()));
            }
            let pre = Prerelease::new(pre).map_err(|e| bad(format!("bad pre-release: {e}")))?;
            (c, pre)
        }
        None => (body, Prerelease::EMPTY),
    };
    let parts: Vec<&str> = core.split('.').collect();
    if parts.len() > 3 {
        return Err(bad(
            "a version has at most three numeric parts (MAJOR.MINOR.PATCH)".to_string(),
        ));
    }
    let major = parse_part(range, text, parts[0])?;
    let minor = match parts.get(1) {
        Some(p) => parse_part(range, text, p)?,
        None => None,
    };
    let patch = match parts.get(2) {
        Some(p) => parse_part(range, text, p)?,
        None => None,
    };
    // Same precedence as Masterminds: the first free part decides, later parts are zeroed.
    let (wildcard, major, minor, patch) = match (major, minor, patch) {
        (None, _, _) => (Wildcard::Major, 0, 0, 0),
        (Some(ma), None, _) => (Wildcard::Minor, ma, 0, 0),
        (Some(ma), Some(mi), None) => (Wildcard::Patch, ma, mi, 0),
        (Some(ma), Some(mi), Some(pa)) => (Wildcard::None, ma, mi, pa),
    };
    let mut version = Version::new(major, minor, patch);
    version.pre = pre;
    Ok(Comparator {
        op,
        version,
        wildcard,
    })
}

impl Comparator {
    /// Checks `v` against this comparator alone; the pre-release gate is applied by the
    /// alternative before this is called.
    fn check(&self, v: &Version) -> bool {
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
                        return (!v.pre.is_empty() || !con.pre.is_empty()) && v.pre != con.pre;
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
    fn tilde(&self, v: &Version, cmp: Ordering) -> bool {
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
        let v = Version::parse(version).unwrap_or_else(|e| panic!("{version}: {e}"));
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
        let cases: &[(&str, &str)] = &[
            (
                ">= bar",
                "semver range \">= bar\" contains \"bar\", which is not a version",
            ),
            ("BAR >= 1.2.3", "contains \"BAR\", which is not a version"),
            ("12.3.4.1234", "at most three numeric parts"),
            (
                "12.3.34~ 1.2.3",
                "contains \"12.3.34~\", which is not a version",
            ),
            ("", "semver range \"\" is empty"),
            ("   ", "is empty"),
            ("1.x ||", "semver range \"1.x ||\" has an empty alternative"),
            ("|| 1.x", "has an empty alternative"),
            (
                ">=",
                "semver range \">=\" has operator \">=\" with no version after it",
            ),
            (">=1.0 <", "operator \"<\" with no version after it"),
            ("=~1.2", "unknown operator \"=~\""),
            ("<>1.2", "unknown operator \"<>\""),
            ("1.2 -", "hyphen range needs"),
            ("- 1.2", "hyphen range needs"),
            (">=1.2 - 1.4", "hyphen range cannot carry operators"),
            ("1.2 - >=1.4", "plain version on both sides"),
            (">=1.0,, <2", "comma must sit between two comparators"),
            (", >=1.0", "comma must sit between two comparators"),
            (">=1.0,", "ends with a comma"),
            ("1.2.3-", "pre-release after \"-\" is empty"),
            ("1.2.3+", "build metadata after \"+\" is empty"),
            ("1.2.3-01", "bad pre-release"),
            ("1..2", "a version part is empty"),
            ("1.2x", "not a version"),
            ("V1.2.3", "not a version"),
            ("99999999999999999999", "too large"),
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
