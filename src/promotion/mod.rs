//! Promotion: the gates between a candidate version and an environment, as pure decisions.
//!
//! The pass gathers the facts (marker values, Git history, the time) and asks these functions
//! what to do; nothing here reads files, Git or the clock.
//!
//! - **Candidate.** Without `promote_from` an environment's candidate is its policy's choice.
//!   With `promote_from = "staging"` it is the version staging's markers hold now on the
//!   branch, and only if this environment's own policy accepts it ([`check_candidate`]). Such
//!   an environment never moves backwards on its own: an older candidate is left for a person
//!   to promote with `baton promote --version`.
//! - **Soak.** The candidate must have been in the source environment at least `soak`,
//!   measured from the commit that brought it there ([`history::find_arrival`]).
//! - **Windows and freezes.** Outside every window, or on a frozen day, nothing moves; the
//!   environment reports why and when it may next ([`window::window_gate`]).
//! - **Manual promotions.** When the latest recorded move of an image in an environment was
//!   made by a person (`Baton-Promoted-By`), automatic moves of that image resume only with a
//!   candidate newer than every version that move named, from and to ([`check_manual`]). A
//!   rollback from 1.2.0 to 1.0.0 therefore stands until 1.2.1 (or later) is a candidate.
//! - **Holds.** Markers with `"hold"` are left alone by the marker planner and reported.

pub mod config;
pub mod group;
pub mod history;
pub mod review;
pub mod window;

use std::cmp::Ordering;
use std::fmt;
use std::time::Duration;

use jiff::Timestamp;

use crate::common::text::short_commit;
use crate::common::time::{format_duration, utc};
use crate::markers::Marker;
use crate::policy::Policy;

pub use history::{
    Arrival, Evidence, ManualPromotion, RolledBack, find_arrival, latest_manual_promotion,
    latest_rollback,
};
pub use review::{
    ReviewDetails, ReviewKey, ReviewText, parse_review_marker, review_branch, review_text,
};
pub use window::{DaySet, Freeze, TimeWindow, next_opening, window_gate};

/// Why an environment or image waits for time to pass, and until when when known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wait {
    /// The reason in words, naming the instant it ends when known.
    pub reason: String,
    /// When the wait ends.
    pub until: Option<Timestamp>,
}

impl fmt::Display for Wait {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reason)
    }
}

/// The version (tag) a marker holds, for the markers that hold one: full references and
/// `:tag` markers. `:name` and `:digest` markers say nothing about the version.
pub fn held_version(marker: &Marker) -> Option<String> {
    marker
        .field
        .read(&marker.current)
        .tag
        .filter(|t| !t.is_empty())
        .map(str::to_string)
}

/// What a source environment's markers hold for one image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceVersion {
    /// No marker of the image there.
    Absent,
    /// Every marker agrees on this version.
    One(String),
    /// Markers disagree (a move half done by hand); the versions, sorted.
    Several(Vec<String>),
}

/// The version `markers` (the source environment's markers of one image) agree on.
///
/// Held markers are lines a person froze (often one workload kept back); when the image has
/// markers that are not held, only those say what the source runs. When every marker is
/// held, the held version is what the source runs.
pub fn source_version<'a>(markers: impl IntoIterator<Item = &'a Marker>) -> SourceVersion {
    let markers: Vec<&Marker> = markers.into_iter().collect();
    let free: Vec<&Marker> = markers
        .iter()
        .copied()
        .filter(|m| m.hold.is_none())
        .collect();
    let counted = if free.iter().any(|m| held_version(m).is_some()) {
        free
    } else {
        markers
    };
    let mut versions: Vec<String> = counted.into_iter().filter_map(held_version).collect();
    versions.sort();
    versions.dedup();
    match versions.len() {
        0 => SourceVersion::Absent,
        1 => SourceVersion::One(versions.remove(0)),
        _ => SourceVersion::Several(versions),
    }
}

/// Why an image does not move now, when it is not a matter of time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hold {
    /// The environment already holds the candidate.
    UpToDate,
    /// It will not move until something changes (a new candidate, a person); the reason.
    Blocked(String),
}

/// Turns a source environment's version of an image into this environment's candidate.
///
/// `current` are the versions this environment's (not held) markers of the image hold now.
pub fn candidate_from_source(
    source: &str,
    image: &str,
    version: &SourceVersion,
) -> Result<String, Hold> {
    match version {
        SourceVersion::One(v) => Ok(v.clone()),
        SourceVersion::Absent => Err(Hold::Blocked(format!(
            "{source} has no marker for image {image}: nothing to promote"
        ))),
        SourceVersion::Several(vs) => Err(Hold::Blocked(format!(
            "{source} holds several versions of {image} ({}): waiting until they agree",
            vs.join(", ")
        ))),
    }
}

/// Checks a candidate against this environment's policy and current versions.
///
/// With `source` (promote_from) the candidate must satisfy `policy`, and it must not be older
/// than any version the environment holds now: an environment promoted from another never
/// moves backwards on its own.
pub fn check_candidate(
    environment: &str,
    image: &str,
    policy: &Policy,
    current: &[String],
    candidate: &str,
    source: Option<&str>,
) -> Result<(), Hold> {
    if !current.is_empty() && current.iter().all(|c| c == candidate) {
        return Err(Hold::UpToDate);
    }
    let Some(source) = source else {
        return Ok(());
    };
    if let Some(why) = policy.skip_reason(candidate) {
        return Err(Hold::Blocked(format!(
            "{source} holds {image} {candidate}, which {environment}'s policy {} ({}) does not accept ({why})",
            policy.name,
            policy.describe()
        )));
    }
    let newer: Vec<&str> = current
        .iter()
        .filter(|c| policy.compare(candidate, c) == Some(Ordering::Less))
        .map(String::as_str)
        .collect();
    if !newer.is_empty() {
        return Err(Hold::Blocked(format!(
            "{source} holds {image} {candidate}, older than {environment}'s {}: {environment} never moves backwards on its own; roll back with baton promote {image} --to {environment} --version {candidate}",
            newer.join(", ")
        )));
    }
    Ok(())
}

/// Checks a candidate against the latest manual promotion of the image, if any: automatic
/// moves resume only with a candidate newer, under `policy`, than every version the manual
/// move named (from and to) that the policy can order.
pub fn check_manual(
    environment: &str,
    image: &str,
    policy: &Policy,
    manual: Option<&ManualPromotion>,
    candidate: &str,
) -> Result<(), Hold> {
    let Some(manual) = manual else {
        return Ok(());
    };
    let named: Vec<&String> = manual.from.iter().chain(&manual.to).collect();
    let comparable: Vec<&String> = named
        .iter()
        .copied()
        .filter(|v| policy.accepts(v))
        .collect();
    let newer_than_all = !comparable.is_empty()
        && comparable
            .iter()
            .all(|v| policy.compare(candidate, v) == Some(Ordering::Greater));
    if newer_than_all {
        return Ok(());
    }
    let short = short_commit(&manual.commit);
    let bar = comparable
        .iter()
        .max_by(|a, b| policy.compare(a, b).unwrap_or(Ordering::Equal))
        .map(|v| format!("automatic moves resume with a version newer than {v}"))
        .unwrap_or_else(|| "automatic moves resume after the next baton promote".to_string());
    Err(Hold::Blocked(format!(
        "{} moved {image} in {environment} by hand from {} to {} (commit {short}): {bar}",
        manual.by,
        if manual.from.is_empty() {
            "?".to_string()
        } else {
            manual.from.join(", ")
        },
        manual.to.join(", "),
    )))
}

/// Checks a candidate against the latest rollback of the image in this environment, if that
/// is its latest move: automatic moves resume only with a version newer than the one rolled
/// back. A person's `baton promote` is a newer move and ends it.
pub fn check_rolled_back(
    environment: &str,
    image: &str,
    policy: &Policy,
    rolled_back: Option<&RolledBack>,
    candidate: &str,
) -> Result<(), Hold> {
    let Some(rb) = rolled_back else {
        return Ok(());
    };
    if policy.compare(candidate, &rb.of) == Some(Ordering::Greater) {
        return Ok(());
    }
    let short = short_commit(&rb.commit);
    Err(Hold::Blocked(format!(
        "{image} {} was rolled back in {environment} (commit {short}){}: automatic moves resume with a version newer than {}, or a person's baton promote",
        rb.of,
        rb.check
            .as_deref()
            .map(|c| format!(" because {c} did not pass"))
            .unwrap_or_default(),
        rb.of
    )))
}

/// Proof that a candidate soaked long enough in its source environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Soaked {
    /// The source environment.
    pub source: String,
    /// The soak asked for.
    pub soak: Duration,
    /// The commit the soak is measured from.
    pub arrival: Arrival,
    /// When it was checked.
    pub checked_at: Timestamp,
    /// Whether the soak counts from the first passed verification (the arrival's time is
    /// then that instant) rather than from the commit.
    pub verified: bool,
}

impl Soaked {
    /// `24h required; in staging since 2026-11-25 10:00 UTC (commit 0123456789ab), 25h3m`.
    pub fn describe(&self) -> String {
        format!(
            "{} required; {}in {} since {} (commit {}{}), {}",
            format_duration(self.soak),
            if self.verified { "verified " } else { "" },
            self.source,
            utc(self.arrival.time),
            self.arrival.short_commit(),
            evidence_note(&self.arrival.evidence),
            age(self.arrival.time, self.checked_at)
        )
    }
}

fn evidence_note(evidence: &Evidence) -> &'static str {
    match evidence {
        Evidence::Trailer { .. } => "",
        Evidence::Edit => ", edited without trailers",
        Evidence::Unrecorded => ", no commit records the move: counted from this one",
    }
}

/// How long from `since` to `now`, in whole minutes (`25h3m`, `0m`).
pub fn age(since: Timestamp, now: Timestamp) -> String {
    let secs = now.as_second().saturating_sub(since.as_second()).max(0) as u64;
    let minutes = Duration::from_secs(secs / 60 * 60);
    if minutes.is_zero() {
        "0m".to_string()
    } else {
        format_duration(minutes)
    }
}

/// Checks that the candidate has soaked: `arrival` is when it reached `source` (`None` when
/// the source's history is empty, which cannot prove anything). With `verified_since` (the
/// source verifies its moves) the soak counts from when its verification first passed.
pub fn check_soak(
    image: &str,
    candidate: &str,
    source: &str,
    soak: Duration,
    arrival: Option<Arrival>,
    verified_since: Option<Timestamp>,
    now: Timestamp,
) -> Result<Soaked, Wait> {
    let Some(arrival) = arrival else {
        return Err(Wait {
            reason: format!(
                "no commit in the history shows when {image} {candidate} reached {source}: cannot measure the {} soak",
                format_duration(soak)
            ),
            until: None,
        });
    };
    let mut arrival = arrival;
    if let Some(since) = verified_since {
        arrival.time = arrival.time.max(since);
    }
    let since_word = if verified_since.is_some() {
        ", verified since"
    } else {
        " since"
    };
    let secs = i64::try_from(soak.as_secs()).unwrap_or(i64::MAX);
    let ready = arrival
        .time
        .checked_add(jiff::SignedDuration::from_secs(secs))
        .unwrap_or(Timestamp::MAX);
    if now < ready {
        return Err(Wait {
            reason: format!(
                "{image} {candidate} soaking in {source}{since_word} {} (commit {}{}), {} of {}: ready at {}",
                utc(arrival.time),
                arrival.short_commit(),
                evidence_note(&arrival.evidence),
                age(arrival.time, now),
                format_duration(soak),
                utc(ready)
            ),
            until: Some(ready),
        });
    }
    Ok(Soaked {
        source: source.to_string(),
        soak,
        arrival,
        checked_at: now,
        verified: verified_since.is_some(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::markers::Field;
    use crate::policy::{Rule, SemverRange};
    use std::path::PathBuf;

    fn policy(range: &str) -> Policy {
        Policy::new("app", Rule::Semver(SemverRange::parse(range).unwrap()))
    }

    fn marker(field: Field, current: &str) -> Marker {
        Marker {
            path: PathBuf::from("a.yaml"),
            line: 1,
            policy: "app".into(),
            namespace: None,
            field,
            hold: None,
            current: current.into(),
            span: 0..0,
        }
    }

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_second(secs).unwrap()
    }

    #[test]
    fn versions_held_by_markers() {
        assert_eq!(
            held_version(&marker(Field::Full, "reg:5000/app:1.2.0@sha256:ab")),
            Some("1.2.0".into())
        );
        assert_eq!(
            held_version(&marker(Field::Tag, "1.2.0")),
            Some("1.2.0".into())
        );
        assert_eq!(held_version(&marker(Field::Full, "reg:5000/app")), None);
        assert_eq!(held_version(&marker(Field::Digest, "sha256:ab")), None);
        assert_eq!(held_version(&marker(Field::Name, "reg/app")), None);
    }

    #[test]
    fn source_versions() {
        let a = marker(Field::Full, "r/app:1.2.0");
        let b = marker(Field::Tag, "1.2.0");
        let c = marker(Field::Tag, "1.1.0");
        assert_eq!(source_version([&a, &b]), SourceVersion::One("1.2.0".into()));
        assert_eq!(
            source_version([&a, &c]),
            SourceVersion::Several(strings(&["1.1.0", "1.2.0"]))
        );
        assert_eq!(source_version([]), SourceVersion::Absent);
        // A held line does not count while others are free; alone, it does.
        let mut held = marker(Field::Tag, "1.0.0");
        held.hold = Some("INC-1".into());
        assert_eq!(
            source_version([&a, &held]),
            SourceVersion::One("1.2.0".into())
        );
        assert_eq!(source_version([&held]), SourceVersion::One("1.0.0".into()));
        let several = candidate_from_source("staging", "app", &source_version([&a, &c]));
        assert!(
            matches!(several, Err(Hold::Blocked(ref why)) if why.contains("several versions of app (1.1.0, 1.2.0)"))
        );
    }

    #[test]
    fn candidates_must_fit_the_policy_and_never_go_back() {
        let p = policy("1.x");
        let cur = strings(&["1.1.0"]);
        assert_eq!(
            check_candidate("production", "app", &p, &cur, "1.2.0", Some("staging")),
            Ok(())
        );
        assert_eq!(
            check_candidate(
                "production",
                "app",
                &p,
                &strings(&["1.2.0"]),
                "1.2.0",
                Some("staging")
            ),
            Err(Hold::UpToDate)
        );
        let Err(Hold::Blocked(why)) =
            check_candidate("production", "app", &p, &cur, "2.0.0", Some("staging"))
        else {
            panic!()
        };
        assert!(
            why.contains("policy app (semver 1.x) does not accept (out of range)"),
            "{why}"
        );
        let Err(Hold::Blocked(why)) = check_candidate(
            "production",
            "app",
            &p,
            &strings(&["1.3.0"]),
            "1.2.0",
            Some("staging"),
        ) else {
            panic!()
        };
        assert!(why.contains("older than production's 1.3.0"), "{why}");
        assert!(why.contains("baton promote app --to production --version 1.2.0"));
        // A current value the policy cannot order (a hand-written tag) does not block.
        assert_eq!(
            check_candidate(
                "production",
                "app",
                &p,
                &strings(&["latest"]),
                "1.2.0",
                Some("staging")
            ),
            Ok(())
        );
        // Without promote_from the policy's choice stands as it is.
        assert_eq!(
            check_candidate("staging", "app", &p, &strings(&["1.3.0"]), "1.2.0", None),
            Ok(())
        );
    }

    fn manual(from: &[&str], to: &[&str]) -> ManualPromotion {
        ManualPromotion {
            by: "alice".into(),
            commit: "0123456789abcdef".into(),
            time: at(0),
            from: strings(from),
            to: strings(to),
        }
    }

    #[test]
    fn a_manual_rollback_stands_until_a_newer_version() {
        let p = policy("1.x");
        let rollback = manual(&["1.2.0"], &["1.0.0"]);
        assert_eq!(check_manual("production", "app", &p, None, "1.2.0"), Ok(()));
        let Err(Hold::Blocked(why)) =
            check_manual("production", "app", &p, Some(&rollback), "1.2.0")
        else {
            panic!()
        };
        assert_eq!(
            why,
            "alice moved app in production by hand from 1.2.0 to 1.0.0 (commit 0123456789ab): automatic moves resume with a version newer than 1.2.0"
        );
        assert!(check_manual("production", "app", &p, Some(&rollback), "1.1.0").is_err());
        assert_eq!(
            check_manual("production", "app", &p, Some(&rollback), "1.2.1"),
            Ok(())
        );
        // A forward promotion that skipped the soak: only newer versions move on.
        let forward = manual(&["1.0.0"], &["1.3.0"]);
        assert!(check_manual("production", "app", &p, Some(&forward), "1.3.0").is_err());
        assert_eq!(
            check_manual("production", "app", &p, Some(&forward), "1.4.0"),
            Ok(())
        );
        // Nothing the policy can order: wait for a person.
        let odd = manual(&["latest"], &["stable"]);
        assert!(check_manual("production", "app", &p, Some(&odd), "1.4.0").is_err());
    }

    #[test]
    fn soak_waits_then_passes() {
        let arrival = Arrival {
            commit: "abcdefabcdefabcdef".into(),
            time: at(1_764_064_800), // 2025-11-25 10:00 UTC
            evidence: Evidence::Trailer { promoted_by: None },
        };
        let soak = Duration::from_secs(24 * 3600);
        let early = at(1_764_064_800 + 2 * 3600 + 59);
        let wait = check_soak(
            "app",
            "1.2.0",
            "staging",
            soak,
            Some(arrival.clone()),
            None,
            early,
        )
        .unwrap_err();
        assert_eq!(wait.until, Some(at(1_764_064_800 + 24 * 3600)));
        assert_eq!(
            wait.reason,
            "app 1.2.0 soaking in staging since 2025-11-25 10:00 UTC (commit abcdefabcdef), 2h of 24h: ready at 2025-11-26 10:00 UTC"
        );
        let late = at(1_764_064_800 + 25 * 3600 + 180);
        let soaked = check_soak(
            "app",
            "1.2.0",
            "staging",
            soak,
            Some(arrival.clone()),
            None,
            late,
        )
        .unwrap();
        assert_eq!(
            soaked.describe(),
            "24h required; in staging since 2025-11-25 10:00 UTC (commit abcdefabcdef), 25h3m"
        );
        // Exactly at the end of the soak the version is ready.
        assert!(
            check_soak(
                "app",
                "1.2.0",
                "staging",
                soak,
                Some(arrival.clone()),
                None,
                at(1_764_064_800 + 24 * 3600)
            )
            .is_ok()
        );
        let none = check_soak("app", "1.2.0", "staging", soak, None, None, late).unwrap_err();
        assert_eq!(none.until, None);
        // Verified: counted from the first passed verification, and said so.
        let verified = at(1_764_064_800 + 3600);
        let wait = check_soak(
            "app",
            "1.2.0",
            "staging",
            soak,
            Some(arrival.clone()),
            Some(verified),
            at(1_764_064_800 + 24 * 3600),
        )
        .unwrap_err();
        assert_eq!(
            wait.reason,
            "app 1.2.0 soaking in staging, verified since 2025-11-25 11:00 UTC (commit abcdefabcdef), 23h of 24h: ready at 2025-11-26 11:00 UTC"
        );
        let soaked = check_soak(
            "app",
            "1.2.0",
            "staging",
            soak,
            Some(arrival),
            Some(verified),
            at(1_764_064_800 + 25 * 3600),
        )
        .unwrap();
        assert!(
            soaked
                .describe()
                .starts_with("24h required; verified in staging since 2025-11-25 11:00 UTC"),
            "{}",
            soaked.describe()
        );
    }
}
