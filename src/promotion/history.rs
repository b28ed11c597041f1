//! Reading promotion state back from Git history: when a version reached an environment (the
//! start of its soak) and whether a person's manual promotion is the latest word on an image.
//! Commits come in newest first; nothing here reads Git itself.

use jiff::Timestamp;

use crate::common::text::short_commit;
use crate::git::{CommitRecord, ParsedMove, parse_moves};

/// How the commit that brought a version was recognised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Evidence {
    /// Its `Baton-*` trailers record the move.
    Trailer {
        /// `Baton-Promoted-By`, when a person made the move.
        promoted_by: Option<String>,
    },
    /// It carries no trailers for the image, but its content shows the version arriving.
    Edit,
    /// History does not say; the commit is the latest that may have brought it, so the soak
    /// is counted from it (never from earlier than the truth).
    Unrecorded,
}

/// The commit from which a version's soak is measured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arrival {
    /// The commit id.
    pub commit: String,
    /// When it landed (committer time).
    pub time: Timestamp,
    /// How it was recognised.
    pub evidence: Evidence,
}

impl Arrival {
    /// The first 12 characters of the commit id.
    pub fn short_commit(&self) -> &str {
        short_commit(&self.commit)
    }
}

/// The versions a trailer value names: `1.2.0`, `1.2.0@sha256:ab..` or `1.1, 1.2` give their
/// tags; a digest-only value (a re-pushed tag) gives none.
pub fn version_tags(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|v| !v.is_empty() && !v.starts_with("sha256:"))
        .map(|v| v.split_once('@').map_or(v, |(tag, _)| tag).to_string())
        .collect()
}

/// True when the trailer value names only a digest (the tag stayed, its content changed).
fn digest_only(value: &str) -> bool {
    let value = value.trim();
    !value.is_empty() && version_tags(value).is_empty()
}

/// The moves in `record` for `environment` and the image repository `image`.
pub fn moves_for(record: &CommitRecord, environment: &str, image: &str) -> Vec<ParsedMove> {
    parse_moves(record)
        .into_iter()
        .filter(|m| m.environment == environment && m.image == image)
        .collect()
}

/// When the commit reached the branch (a reviewed commit: when it was merged).
fn timestamp(record: &CommitRecord) -> Timestamp {
    Timestamp::from_second(record.landed.time).unwrap_or(Timestamp::UNIX_EPOCH)
}

fn arrival(record: &CommitRecord, evidence: Evidence) -> Arrival {
    Arrival {
        commit: record.id.to_string(),
        time: timestamp(record),
        evidence,
    }
}

/// Finds the commit that brought `version` of `image` to `environment`, where that
/// environment holds it now.
///
/// `records` are the commits that touched the environment's files, newest first. The newest
/// commit whose trailers move the image in that environment decides: when it moved the image
/// to `version` (or re-pushed its digest) it is the arrival. A commit without such trailers is
/// handed to `brought_by_edit`, which answers from the files' content whether that commit
/// made the environment hold `version` (`Some(true)`), did not (`Some(false)`), or cannot
/// tell (`None`, taken as yes: the soak then starts no earlier than the truth).
///
/// When no commit in `records` brought the version, it predates all of them and the oldest
/// one read stands in for its arrival ([`Evidence::Unrecorded`]). `None` only when `records`
/// is empty.
pub fn find_arrival(
    records: &[CommitRecord],
    environment: &str,
    image: &str,
    version: &str,
    mut brought_by_edit: impl FnMut(&CommitRecord) -> Option<bool>,
) -> Option<Arrival> {
    for record in records {
        let moves = moves_for(record, environment, image);
        if moves.is_empty() {
            match brought_by_edit(record) {
                Some(false) => continue,
                Some(true) => return Some(arrival(record, Evidence::Edit)),
                None => return Some(arrival(record, Evidence::Unrecorded)),
            }
        }
        let brought = moves
            .iter()
            .find(|m| version_tags(&m.to).iter().any(|t| t == version) || digest_only(&m.to));
        return Some(match brought {
            Some(m) => arrival(
                record,
                Evidence::Trailer {
                    promoted_by: m.promoted_by.clone(),
                },
            ),
            // The newest recorded move went elsewhere, yet the environment holds `version`:
            // something later brought it unseen; count from the newest commit read.
            None => arrival(&records[0], Evidence::Unrecorded),
        });
    }
    records
        .last()
        .map(|oldest| arrival(oldest, Evidence::Unrecorded))
}

/// A person's explicit move (`baton promote`, recorded with `Baton-Promoted-By`) that is the
/// latest recorded move of an image in an environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManualPromotion {
    /// Who, from `Baton-Promoted-By`.
    pub by: String,
    /// The commit id.
    pub commit: String,
    /// When it landed.
    pub time: Timestamp,
    /// The versions it moved from.
    pub from: Vec<String>,
    /// The versions it moved to.
    pub to: Vec<String>,
}

/// The manual promotion that is the latest recorded move of `image` in `environment`, if the
/// latest recorded move is one. `records` are newest first.
pub fn latest_manual_promotion(
    records: &[CommitRecord],
    environment: &str,
    image: &str,
) -> Option<ManualPromotion> {
    for record in records {
        let moves = moves_for(record, environment, image);
        let Some(first) = moves.first() else {
            continue;
        };
        let by = first.promoted_by.clone()?;
        return Some(ManualPromotion {
            by,
            commit: record.id.to_string(),
            time: timestamp(record),
            from: moves.iter().flat_map(|m| version_tags(&m.from)).collect(),
            to: moves.iter().flat_map(|m| version_tags(&m.to)).collect(),
        });
    }
    None
}

/// A rollback after a failed verification (`Baton-Rollback-Of`) that is the latest recorded
/// move of `image` in `environment`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RolledBack {
    /// The version that did not verify.
    pub of: String,
    /// The commit of the rollback.
    pub commit: String,
    /// The check that failed, from `Baton-Failed-Check`.
    pub check: Option<String>,
}

/// The rollback that is the latest recorded move of `image` in `environment`, if it is one.
/// A person's later `baton promote` is a newer move, so it ends the rollback's hold.
pub fn latest_rollback(
    records: &[CommitRecord],
    environment: &str,
    image: &str,
) -> Option<RolledBack> {
    let record = records
        .iter()
        .find(|r| !moves_for(r, environment, image).is_empty())?;
    let value = |key: &str| {
        record
            .trailers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.trim().to_string())
    };
    Some(RolledBack {
        of: value(crate::git::message::TRAILER_ROLLBACK_OF)?,
        commit: record.id.to_string(),
        check: value(crate::git::message::TRAILER_FAILED_CHECK),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::git::trailers::split_message;
    use crate::git::{CommitMessage, Identity, Landed, Move, ObjectId};

    /// A commit record with `message`, at `time` seconds, with an id made from `n`.
    fn record(n: u8, time: i64, message: &str) -> CommitRecord {
        let parts = split_message(message);
        let who = Identity {
            name: "baton".into(),
            email: "baton@example.com".into(),
            time,
            offset: 0,
        };
        CommitRecord {
            id: ObjectId::from_hex(format!("{:02x}", n).repeat(20).as_bytes()).unwrap(),
            time,
            landed: Landed { time, merge: None },
            author: who.clone(),
            committer: who,
            subject: parts.subject,
            body: parts.body,
            trailers: parts.trailers,
        }
    }

    /// The message Baton writes for moving `app` in `env`.
    fn moved(env: &str, from: &str, to: &str, by: Option<&str>) -> String {
        CommitMessage {
            environment: env.into(),
            moves: vec![Move {
                image: "registry.example.com/app".into(),
                policy: "app".into(),
                rule: "semver 1.x".into(),
                from: from.into(),
                to: to.into(),
                digest: None,
            }],
            promoted_by: by.map(String::from),
        }
        .render(None)
        .unwrap()
    }

    const IMAGE: &str = "registry.example.com/app";

    #[test]
    fn version_tags_from_trailer_values() {
        assert_eq!(version_tags("1.2.0"), vec!["1.2.0"]);
        assert_eq!(version_tags("1.2.0@sha256:0123456789ab"), vec!["1.2.0"]);
        assert_eq!(version_tags("1.1.0, 1.2.0"), vec!["1.1.0", "1.2.0"]);
        assert!(version_tags("sha256:0123456789ab").is_empty());
        assert!(digest_only("sha256:0123456789ab"));
        assert!(!digest_only("1.2.0"));
    }

    #[test]
    fn arrival_is_the_newest_move_to_the_version() {
        let records = vec![
            record(3, 300, "fix replicas\n"),
            record(2, 200, &moved("staging", "1.1.0", "1.2.0", None)),
            record(1, 100, &moved("staging", "1.0.0", "1.1.0", None)),
        ];
        let found = find_arrival(&records, "staging", IMAGE, "1.2.0", |_| Some(false)).unwrap();
        assert_eq!(found.time, Timestamp::from_second(200).unwrap());
        assert_eq!(found.evidence, Evidence::Trailer { promoted_by: None });
        assert_eq!(found.short_commit(), "020202020202");
    }

    #[test]
    fn other_environments_and_images_are_ignored() {
        let records = vec![
            record(3, 300, &moved("production", "1.1.0", "1.2.0", None)),
            record(2, 200, &moved("staging", "1.1.0", "1.2.0", None)),
        ];
        let found = find_arrival(&records, "staging", IMAGE, "1.2.0", |_| Some(false)).unwrap();
        assert_eq!(found.time, Timestamp::from_second(200).unwrap());
        assert!(
            find_arrival(&records, "staging", "other/image", "1.2.0", |_| Some(false))
                .is_some_and(|a| a.evidence == Evidence::Unrecorded)
        );
    }

    #[test]
    fn a_rollback_and_return_restarts_the_soak() {
        let records = vec![
            record(4, 400, &moved("staging", "1.1.0", "1.2.0", None)),
            record(3, 300, &moved("staging", "1.2.0", "1.1.0", Some("alice"))),
            record(2, 200, &moved("staging", "1.1.0", "1.2.0", None)),
        ];
        let found = find_arrival(&records, "staging", IMAGE, "1.2.0", |_| Some(false)).unwrap();
        assert_eq!(found.time, Timestamp::from_second(400).unwrap());
    }

    #[test]
    fn a_repushed_digest_restarts_the_soak() {
        let records = vec![
            record(
                3,
                300,
                &moved(
                    "staging",
                    "sha256:aaaaaaaaaaaa",
                    "sha256:bbbbbbbbbbbb",
                    None,
                ),
            ),
            record(2, 200, &moved("staging", "1.1.0", "1.2.0", None)),
        ];
        let found = find_arrival(&records, "staging", IMAGE, "1.2.0", |_| Some(false)).unwrap();
        assert_eq!(found.time, Timestamp::from_second(300).unwrap());
    }

    #[test]
    fn a_hand_edit_counts_when_its_content_shows_the_version() {
        let records = vec![
            record(3, 300, "bump replicas\n"),
            record(2, 200, "hand edit to 1.2.0\n"),
            record(1, 100, &moved("staging", "1.0.0", "1.1.0", None)),
        ];
        let found = find_arrival(&records, "staging", IMAGE, "1.2.0", |r| {
            Some(r.subject.starts_with("hand edit"))
        })
        .unwrap();
        assert_eq!(found.time, Timestamp::from_second(200).unwrap());
        assert_eq!(found.evidence, Evidence::Edit);
        // When the content cannot be read, the commit counts (conservatively late).
        let found = find_arrival(&records, "staging", IMAGE, "1.2.0", |_| None).unwrap();
        assert_eq!(found.time, Timestamp::from_second(300).unwrap());
        assert_eq!(found.evidence, Evidence::Unrecorded);
    }

    #[test]
    fn a_version_older_than_the_history_read_counts_from_the_oldest_commit() {
        let records = vec![record(2, 200, "x\n"), record(1, 100, "y\n")];
        let found = find_arrival(&records, "staging", IMAGE, "1.2.0", |_| Some(false)).unwrap();
        assert_eq!(found.time, Timestamp::from_second(100).unwrap());
        assert_eq!(found.evidence, Evidence::Unrecorded);
        assert!(find_arrival(&[], "staging", IMAGE, "1.2.0", |_| Some(false)).is_none());
    }

    #[test]
    fn a_contradicting_newest_move_counts_from_the_newest_commit() {
        let records = vec![
            record(3, 300, "unrelated\n"),
            record(2, 200, &moved("staging", "1.1.0", "1.3.0", None)),
        ];
        let found = find_arrival(&records, "staging", IMAGE, "1.2.0", |_| Some(false)).unwrap();
        assert_eq!(found.time, Timestamp::from_second(300).unwrap());
        assert_eq!(found.evidence, Evidence::Unrecorded);
    }

    #[test]
    fn manual_promotion_is_found_only_when_latest() {
        let records = vec![
            record(3, 300, "unrelated\n"),
            record(
                2,
                200,
                &moved("production", "1.2.0", "1.0.0", Some("alice")),
            ),
            record(1, 100, &moved("production", "1.0.0", "1.2.0", None)),
        ];
        let pin = latest_manual_promotion(&records, "production", IMAGE).unwrap();
        assert_eq!(pin.by, "alice");
        assert_eq!(pin.from, vec!["1.2.0"]);
        assert_eq!(pin.to, vec!["1.0.0"]);
        assert!(latest_manual_promotion(&records, "staging", IMAGE).is_none());
        let later = [
            vec![record(4, 400, &moved("production", "1.0.0", "1.3.0", None))],
            records,
        ]
        .concat();
        assert!(latest_manual_promotion(&later, "production", IMAGE).is_none());
    }
}
