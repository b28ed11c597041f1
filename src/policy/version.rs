//! Versions read the way Flux reads tags: fluxcd/pkg `version.ParseVersion` (at least two
//! dots) over Masterminds/semver v3 `NewVersion` in its default, coercing mode.
//!
//! Lenient on purpose: leading zeros (`1.4.07`, calver `2024.01.15`), a lower-case `v`
//! prefix and missing parts (`1.2-rc.1` is 1.2.0-rc.1) are accepted, because Flux accepts
//! them. Ordering is Masterminds' `Compare`: build metadata is ignored and numeric
//! pre-release identifiers too large for 64 bits compare as text.

use std::cmp::Ordering;
use std::fmt;

/// A parsed version; build metadata is validated but not kept (it never orders).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TagVersion {
    /// Major number (leading zeros dropped).
    pub major: u64,
    /// Minor number, 0 when absent.
    pub minor: u64,
    /// Patch number, 0 when absent.
    pub patch: u64,
    /// Pre-release identifiers joined by `.`; empty for a release.
    pre: String,
}

impl TagVersion {
    /// A release version `major.minor.patch`.
    pub fn new(major: u64, minor: u64, patch: u64) -> TagVersion {
        TagVersion {
            major,
            minor,
            patch,
            pre: String::new(),
        }
    }

    /// Parses a tag as Flux does: the text must hold at least two dots (anywhere, even
    /// in the pre-release or metadata), then [`TagVersion::parse_lenient`] applies.
    pub fn parse_tag(text: &str) -> Option<TagVersion> {
        memchr::memchr_iter(b'.', text.as_bytes()).nth(1)?;
        TagVersion::parse_lenient(text)
    }

    /// Masterminds `NewVersion` (coercing): `v?MAJOR(.MINOR)?(.PATCH)?(-PRE)?(+META)?`
    /// with ASCII digits, each number fitting in 64 bits, leading zeros allowed in the
    /// three numbers but not in numeric pre-release identifiers.
    pub fn parse_lenient(text: &str) -> Option<TagVersion> {
        let b = text.as_bytes();
        let mut i = usize::from(b.first() == Some(&b'v'));
        let major = number(b, &mut i)?;
        let mut minor = 0;
        let mut patch = 0;
        if b.get(i) == Some(&b'.') {
            i += 1;
            minor = number(b, &mut i)?;
            if b.get(i) == Some(&b'.') {
                i += 1;
                patch = number(b, &mut i)?;
            }
        }
        let rest = &text[i..];
        let (pre, meta) = match rest.split_once('+') {
            Some((pre, meta)) => (pre, Some(meta)),
            None => (rest, None),
        };
        let pre = match pre.as_bytes().first() {
            None => "",
            Some(b'-') if valid_prerelease(&pre[1..]) => &pre[1..],
            Some(_) => return None,
        };
        if let Some(meta) = meta
            && !meta.split('.').all(valid_identifier)
        {
            return None;
        }
        Some(TagVersion {
            major,
            minor,
            patch,
            pre: pre.to_string(),
        })
    }

    /// The pre-release identifiers joined by `.` (empty for a release).
    pub fn pre(&self) -> &str {
        &self.pre
    }

    /// True for a pre-release version.
    pub fn is_prerelease(&self) -> bool {
        !self.pre.is_empty()
    }

    /// Masterminds `Version.Compare`: numbers, then a release above its pre-releases,
    /// then pre-release identifiers left to right.
    pub fn cmp_precedence(&self, other: &TagVersion) -> Ordering {
        self.major
            .cmp(&other.major)
            .then(self.minor.cmp(&other.minor))
            .then(self.patch.cmp(&other.patch))
            .then_with(|| match (self.pre.is_empty(), other.pre.is_empty()) {
                (true, true) => Ordering::Equal,
                (true, false) => Ordering::Greater,
                (false, true) => Ordering::Less,
                (false, false) => compare_prerelease(&self.pre, &other.pre),
            })
    }
}

impl fmt::Display for TagVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)?;
        if !self.pre.is_empty() {
            write!(f, "-{}", self.pre)?;
        }
        Ok(())
    }
}

/// One run of ASCII digits at `b[*i..]` as a u64 (Go `strconv.ParseUint(s, 10, 64)`).
fn number(b: &[u8], i: &mut usize) -> Option<u64> {
    let start = *i;
    let mut value: u64 = 0;
    while let Some(d) = b.get(*i).filter(|c| c.is_ascii_digit()) {
        value = value.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
        *i += 1;
    }
    (*i > start).then_some(value)
}

/// Go `strconv.ParseUint(s, 10, 64)`: only digits, at least one, no overflow.
pub(crate) fn parse_uint(s: &str) -> Option<u64> {
    let mut i = 0;
    let value = number(s.as_bytes(), &mut i)?;
    (i == s.len()).then_some(value)
}

fn valid_identifier(ident: &str) -> bool {
    !ident.is_empty()
        && ident
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-')
}

/// Non-empty `[0-9A-Za-z-]` identifiers; a purely numeric one has no leading zero.
pub(crate) fn valid_prerelease(pre: &str) -> bool {
    pre.split('.').all(|ident| {
        valid_identifier(ident)
            && !(ident.len() > 1
                && ident.starts_with('0')
                && ident.bytes().all(|c| c.is_ascii_digit()))
    })
}

/// Masterminds `comparePrerelease`: identifier by identifier, a missing one is lowest.
pub(crate) fn compare_prerelease(a: &str, b: &str) -> Ordering {
    let mut left = a.split('.');
    let mut right = b.split('.');
    loop {
        match (left.next(), right.next()) {
            (None, None) => return Ordering::Equal,
            (x, y) => {
                let d = compare_pre_part(x.unwrap_or(""), y.unwrap_or(""));
                if d != Ordering::Equal {
                    return d;
                }
            }
        }
    }
}

/// Masterminds `comparePrePart`: identifiers that both fit in a u64 compare as numbers,
/// a number is below a non-number, and everything else (including numbers too large for
/// 64 bits) compares as bytes.
fn compare_pre_part(s: &str, o: &str) -> Ordering {
    if s == o {
        return Ordering::Equal;
    }
    if s.is_empty() {
        return Ordering::Less;
    }
    if o.is_empty() {
        return Ordering::Greater;
    }
    match (parse_uint(s), parse_uint(o)) {
        (None, None) => s.cmp(o),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (Some(x), Some(y)) if x > y => Ordering::Greater,
        (Some(_), Some(_)) => Ordering::Less,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(text: &str) -> Option<String> {
        TagVersion::parse_tag(text).map(|v| v.to_string())
    }

    /// fluxcd/pkg ParseVersion + Masterminds NewVersion (coercing), as the conformance
    /// README lists them.
    #[test]
    fn lenient_parsing() {
        let cases: &[(&str, Option<&str>)] = &[
            ("1.2.3", Some("1.2.3")),
            ("v1.2.3", Some("1.2.3")),
            ("03.5.2", Some("3.5.2")),
            ("v5.03.1", Some("5.3.1")),
            ("2022.03.10", Some("2022.3.10")),
            ("v2026.05.06-rc.2", Some("2026.5.6-rc.2")),
            ("2.11-beta.3", Some("2.11.0-beta.3")),
            ("6-rc.2.1", Some("6.0.0-rc.2.1")),
            ("1+a.b.c", Some("1.0.0")),
            ("1+a.b", None),
            ("1.2.3+build.07", Some("1.2.3")),
            ("1.2.3--", Some("1.2.3--")),
            ("18446744073709551615.0.0", Some("18446744073709551615.0.0")),
            ("2.8", None),
            ("v9.1", None),
            ("7-rc.1", None),
            ("2.3.11-rc.07", None),
            ("18446744073709551616.0.0", None),
            ("V1.2.3", None),
            ("vv1.2.3", None),
            ("1.2.3.4", None),
            ("1.2.3-", None),
            ("1.2.3+", None),
            ("1.2.3-a..b", None),
            ("1..2.3", None),
            ("1.2.x", None),
            ("1.2.3_4", None),
            ("+1.2.3", None),
            ("1.2.3-rc+a+b", None),
        ];
        for &(text, expected) in cases {
            assert_eq!(v(text).as_deref(), expected, "{text}");
        }
    }

    #[test]
    fn masterminds_order() {
        let ordered = [
            "0.0.0-alpha",
            "1.0.0-1",
            "1.0.0-2",
            "1.0.0-10",
            "1.0.0-9999999999",
            "1.0.0-200000000000000000000",
            "1.0.0-30000000000000000000",
            "1.0.0-RC",
            "1.0.0-rc",
            "1.0.0-rc.1",
            "1.0.0-rc.1.0",
            "1.0.0",
            "1.0.1",
            "1.10.0",
            "18446744073709551615.0.0",
        ];
        for pair in ordered.windows(2) {
            let a = TagVersion::parse_lenient(pair[0]).unwrap();
            let b = TagVersion::parse_lenient(pair[1]).unwrap();
            assert_eq!(a.cmp_precedence(&b), Ordering::Less, "{pair:?}");
            assert_eq!(b.cmp_precedence(&a), Ordering::Greater, "{pair:?}");
        }
        let a = TagVersion::parse_lenient("v4.2.09+x").unwrap();
        let b = TagVersion::parse_lenient("4.2.9").unwrap();
        assert_eq!(a.cmp_precedence(&b), Ordering::Equal);
    }
}
