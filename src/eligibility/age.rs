//! The `min_age` judgement: how old a tag is, from the image's own `created` time when that
//! is believable, else from when Baton first saw the tag.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};

use crate::common::time::rfc3339_seconds;

/// How far in the future a `created` time may lie before it is disbelieved (clock skew).
pub const FUTURE_SKEW: Duration = Duration::from_secs(300);

/// `created` times before this (1980-01-01) are placeholders: reproducible builds write the
/// epoch (`SOURCE_DATE_EPOCH=0`) or Go's zero time.
pub const PLACEHOLDER_BEFORE: i64 = 315_532_800;

/// Where a tag's age is measured from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgeSource {
    /// The image config's `created` (or the `org.opencontainers.image.created` annotation).
    Created,
    /// When Baton first listed the tag.
    FirstSeen,
}

/// A tag's age judgement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Age {
    /// The instant the age counts from.
    pub start: Timestamp,
    /// What `start` is.
    pub source: AgeSource,
    /// When the tag is old enough.
    pub eligible_at: Timestamp,
    /// Why a stated `created` was not used, when it was not.
    pub note: Option<String>,
}

impl Age {
    /// Judges a tag whose image states `created` (unchecked text) and that Baton first saw at
    /// `first_seen`, at `now`, against `min_age`. A `created` that does not parse, is a
    /// placeholder, or lies more than [`FUTURE_SKEW`] ahead is not believed: the age then
    /// counts from `first_seen`, which a lost state directory only moves later.
    pub fn judge(
        min_age: Duration,
        created: Option<&str>,
        first_seen: Timestamp,
        now: Timestamp,
    ) -> Age {
        let (start, source, note) = match created.map(|text| (text, believe(text, now))) {
            Some((_, Ok(at))) => (at, AgeSource::Created, None),
            Some((_, Err(why))) => (first_seen, AgeSource::FirstSeen, Some(why)),
            None => (first_seen, AgeSource::FirstSeen, None),
        };
        let min_age = SignedDuration::try_from(min_age).unwrap_or(SignedDuration::MAX);
        let eligible_at = start.checked_add(min_age).unwrap_or(Timestamp::MAX);
        Age {
            start,
            source,
            eligible_at,
            note,
        }
    }

    /// True when the tag is old enough at `now`.
    pub fn old_enough(&self, now: Timestamp) -> bool {
        now >= self.eligible_at
    }

    /// How old the tag is at `now` (zero when `start` lies ahead).
    pub fn at(&self, now: Timestamp) -> Duration {
        Duration::try_from(now.duration_since(self.start)).unwrap_or(Duration::ZERO)
    }

    /// `too young until 2026-11-27T01:00:00Z (created 2026-11-26T23:00:00Z)`.
    pub fn hold_text(&self) -> String {
        let from = match self.source {
            AgeSource::Created => format!("created {}", rfc3339_seconds(self.start)),
            AgeSource::FirstSeen => format!("first seen {}", rfc3339_seconds(self.start)),
        };
        let mut text = format!(
            "too young until {} ({from})",
            rfc3339_seconds(self.eligible_at)
        );
        if let Some(note) = &self.note {
            text.push_str("; ");
            text.push_str(note);
        }
        text
    }
}

/// `created` as an instant, or why it is not believed.
fn believe(text: &str, now: Timestamp) -> Result<Timestamp, String> {
    let shown: String = text.chars().take(40).collect();
    let at: Timestamp = text.trim().parse().map_err(|_| {
        format!("its created {shown:?} is not an RFC 3339 time Baton can read, so the age counts from when Baton first saw it")
    })?;
    if at.as_second() < PLACEHOLDER_BEFORE {
        return Err(format!(
            "its created {shown:?} is a placeholder (reproducible builds write 1970), so the age counts from when Baton first saw it"
        ));
    }
    let skew = SignedDuration::try_from(FUTURE_SKEW).unwrap_or(SignedDuration::ZERO);
    if now.checked_add(skew).is_ok_and(|limit| at > limit) {
        return Err(format!(
            "its created {shown:?} lies in the future, so the age counts from when Baton first saw it"
        ));
    }
    Ok(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    const H2: Duration = Duration::from_secs(7200);

    #[test]
    fn created_counts_when_believable() {
        let now = t("2026-11-26T12:00:00Z");
        let a = Age::judge(H2, Some("2026-11-26T11:00:00.123456789Z"), now, now);
        assert_eq!(a.source, AgeSource::Created);
        assert!(!a.old_enough(now));
        assert_eq!(a.eligible_at, t("2026-11-26T13:00:00.123456789Z"));
        assert_eq!(
            a.at(now),
            Duration::from_secs(3599) + Duration::from_nanos(876_543_211)
        );
        assert!(
            a.hold_text()
                .starts_with("too young until 2026-11-26T13:00:00Z (created 2026-11-26T11:00:00Z)"),
            "{}",
            a.hold_text()
        );
        // Older than Baton's first sighting: the image's own time wins.
        let a = Age::judge(H2, Some("2026-11-20T00:00:00+02:00"), now, now);
        assert!(a.old_enough(now));
    }

    #[test]
    fn hostile_created_falls_back_to_first_seen() {
        let now = t("2026-11-26T12:00:00Z");
        let seen = t("2026-11-26T09:00:00Z");
        for (created, word) in [
            ("9000-01-01T00:00:00Z", "future"),
            ("9999-12-31T23:59:59Z", "RFC 3339"),
            ("2026-11-26T12:10:00Z", "future"),
            ("1970-01-01T00:00:00Z", "placeholder"),
            ("0001-01-01T00:00:00Z", "placeholder"),
            ("yesterday", "RFC 3339"),
            ("", "RFC 3339"),
            ("12345", "RFC 3339"),
        ] {
            let a = Age::judge(H2, Some(created), seen, now);
            assert_eq!(a.source, AgeSource::FirstSeen, "{created}");
            assert_eq!(a.start, seen);
            assert!(a.old_enough(now), "{created}");
            assert!(
                a.note.as_deref().unwrap().contains(word),
                "{created}: {:?}",
                a.note
            );
        }
        // Within the allowed skew it is believed.
        let a = Age::judge(H2, Some("2026-11-26T12:04:00Z"), seen, now);
        assert_eq!(a.source, AgeSource::Created);
        assert_eq!(a.at(now), Duration::ZERO);
    }

    #[test]
    fn huge_ages_do_not_overflow() {
        let now = t("2026-11-26T12:00:00Z");
        let a = Age::judge(Duration::MAX, None, now, now);
        assert_eq!(a.eligible_at, Timestamp::MAX);
        assert!(!a.old_enough(now));
        let a = Age::judge(H2, None, Timestamp::MAX, now);
        assert_eq!(a.eligible_at, Timestamp::MAX);
        assert_eq!(a.at(now), Duration::ZERO);
    }
}
