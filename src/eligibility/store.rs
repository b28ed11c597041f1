//! The judgements Baton keeps about tags in the state directory (`eligibility.json`): when
//! each tag was first seen, the digest it had when judged, and per digest what the image
//! states (its `created` time). Judged once, read on every later scan without a request.
//!
//! A missing or unreadable file starts afresh: first sightings restart, which only makes
//! tags wait longer. Writes go to a temporary file renamed into place, merged with what
//! another Baton process (a `plan` beside the daemon) wrote meanwhile.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// The file name under `daemon.state_dir`.
pub const FILE_NAME: &str = "eligibility.json";

/// What is known of one digest.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DigestRecord {
    /// The `created` text the image states, unchecked (bounded to 100 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// When it was judged, in Unix seconds.
    #[serde(default)]
    pub judged_at: i64,
    /// Signature verdicts, by the fingerprint of the key set they were reached with.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub signatures: BTreeMap<String, SignatureRecord>,
}

/// A digest's signature verdict under one key set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignatureRecord {
    /// The verdict.
    pub verdict: crate::signature::Verdict,
    /// When it was reached, in Unix seconds.
    pub judged_at: i64,
}

/// What is known of one repository (`registry/path`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Repository {
    /// Tag to the Unix second Baton first listed it.
    #[serde(default)]
    first_seen: BTreeMap<String, i64>,
    /// Tag to the digest it had when judged.
    #[serde(default)]
    tags: BTreeMap<String, String>,
    /// Digest to its record.
    #[serde(default)]
    digests: BTreeMap<String, DigestRecord>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct File {
    #[serde(default)]
    version: u32,
    #[serde(default)]
    repositories: BTreeMap<String, Repository>,
}

#[derive(Debug, Default)]
struct Data {
    file: File,
    dirty: bool,
}

/// The judgement store of one state directory, shared by every scan of the process.
#[derive(Debug)]
pub struct Store {
    path: Option<PathBuf>,
    data: Mutex<Data>,
}

impl Store {
    /// The store in `state_dir`, read now; an unreadable file is logged and set aside
    /// (renamed `eligibility.json.bad`) and the store starts empty.
    pub fn open(state_dir: &Path) -> Store {
        let path = state_dir.join(FILE_NAME);
        let file = match read(&path) {
            Ok(file) => file.unwrap_or_default(),
            Err(why) => {
                let aside = path.with_extension("json.bad");
                let _ = std::fs::rename(&path, &aside);
                tracing::warn!(path = %path.display(), error = %why, moved_to = %aside.display(), "cannot read the tag judgements: starting afresh (young tags wait their min_age again)");
                File::default()
            }
        };
        Store {
            path: Some(path),
            data: Mutex::new(Data { file, dirty: false }),
        }
    }

    /// A store kept in memory only (tests, benchmarks).
    pub fn in_memory() -> Store {
        Store {
            path: None,
            data: Mutex::new(Data::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Data> {
        self.data.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `change` on the record of `repository` (made empty when there is none); it says
    /// whether it changed anything, which marks the store to be written.
    fn change<T>(&self, repository: &str, change: impl FnOnce(&mut Repository) -> (T, bool)) -> T {
        let mut data = self.lock();
        let data = &mut *data;
        let repo = data
            .file
            .repositories
            .entry(repository.to_string())
            .or_default();
        let (out, changed) = change(repo);
        data.dirty |= changed;
        out
    }

    /// Records `tags` as listed at `now`: new tags get their first sighting, tags no longer
    /// listed are forgotten (a tag that comes back starts its clock again), and so are
    /// digests no tag has any more.
    pub fn observe(&self, repository: &str, tags: &[String], now: Timestamp) {
        self.change(repository, |repo| {
            let listed: std::collections::HashSet<&str> = tags.iter().map(String::as_str).collect();
            let before = repo.first_seen.len();
            repo.first_seen
                .retain(|tag, _| listed.contains(tag.as_str()));
            repo.tags.retain(|tag, _| listed.contains(tag.as_str()));
            let mut changed = repo.first_seen.len() != before;
            for tag in tags {
                if !repo.first_seen.contains_key(tag) {
                    repo.first_seen.insert(tag.clone(), now.as_second());
                    changed = true;
                }
            }
            if changed {
                let used: std::collections::HashSet<&String> = repo.tags.values().collect();
                repo.digests.retain(|digest, _| used.contains(digest));
            }
            ((), changed)
        })
    }

    /// When Baton first listed `tag`; `now` (recorded) when it never did.
    pub fn first_seen(&self, repository: &str, tag: &str, now: Timestamp) -> Timestamp {
        let seconds = self.change(repository, |repo| {
            let mut new = false;
            let seconds = *repo.first_seen.entry(tag.to_string()).or_insert_with(|| {
                new = true;
                now.as_second()
            });
            (seconds, new)
        });
        Timestamp::from_second(seconds).unwrap_or(now)
    }

    /// The digest `tag` had when judged and that digest's record.
    pub fn judged(&self, repository: &str, tag: &str) -> Option<(String, DigestRecord)> {
        let data = self.lock();
        let repo = data.file.repositories.get(repository)?;
        let digest = repo.tags.get(tag)?;
        let record = repo.digests.get(digest)?;
        Some((digest.clone(), record.clone()))
    }

    /// Records that `tag` had `digest`, whose image states `record`.
    pub fn record(&self, repository: &str, tag: &str, digest: &str, record: DigestRecord) {
        self.change(repository, |repo| {
            repo.tags.insert(tag.to_string(), digest.to_string());
            let entry = repo.digests.entry(digest.to_string()).or_default();
            // Signature verdicts of the digest stay: they do not depend on the tag.
            let signatures = std::mem::take(&mut entry.signatures);
            *entry = record;
            for (keys, verdict) in signatures {
                entry.signatures.entry(keys).or_insert(verdict);
            }
            ((), true)
        })
    }

    /// `digest`'s signature verdict under the key set `keys`, when one was reached.
    pub fn signature(&self, repository: &str, digest: &str, keys: &str) -> Option<SignatureRecord> {
        let data = self.lock();
        let repo = data.file.repositories.get(repository)?;
        repo.digests.get(digest)?.signatures.get(keys).cloned()
    }

    /// Records `digest`'s signature verdict under the key set `keys` (a fingerprint), beside
    /// whatever else is known of it.
    pub fn record_signature(
        &self,
        repository: &str,
        digest: &str,
        keys: &str,
        record: SignatureRecord,
    ) {
        self.change(repository, |repo| {
            repo.digests
                .entry(digest.to_string())
                .or_default()
                .signatures
                .insert(keys.to_string(), record);
            ((), true)
        })
    }

    /// Writes the store when it changed, merged with the file as it is now: the earlier
    /// first sighting of a tag wins. Failures are logged; the judgements stay in memory.
    pub fn save(&self) {
        let Some(path) = &self.path else {
            self.lock().dirty = false;
            return;
        };
        let mut data = self.lock();
        if !data.dirty {
            return;
        }
        if let Ok(Some(on_disk)) = read(path) {
            merge(&mut data.file, on_disk);
        }
        data.file.version = 1;
        match write(path, &data.file) {
            Ok(()) => data.dirty = false,
            Err(why) => {
                tracing::warn!(path = %path.display(), error = %why, "cannot save the tag judgements: they are kept in memory and saved with the next change")
            }
        }
    }
}

/// Folds `other` into `ours`: earlier first sightings, and judgements ours lacks.
fn merge(ours: &mut File, other: File) {
    for (name, theirs) in other.repositories {
        let Some(repo) = ours.repositories.get_mut(&name) else {
            continue;
        };
        for (tag, seen) in theirs.first_seen {
            if let Some(mine) = repo.first_seen.get_mut(&tag) {
                *mine = (*mine).min(seen);
            }
        }
        for (tag, digest) in theirs.tags {
            if repo.first_seen.contains_key(&tag)
                && !repo.tags.contains_key(&tag)
                && let Some(record) = theirs.digests.get(&digest)
            {
                repo.digests.entry(digest.clone()).or_insert(record.clone());
                repo.tags.insert(tag, digest);
            }
        }
    }
}

fn read(path: &Path) -> Result<Option<File>, String> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e.to_string()),
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| format!("not the expected JSON ({e})"))
}

fn write(path: &Path, file: &File) -> Result<(), String> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(|e| e.to_string())?;
    serde_json::to_writer(&mut tmp, file).map_err(|e| e.to_string())?;
    tmp.persist(path).map_err(|e| e.to_string())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: i64) -> Timestamp {
        Timestamp::from_second(s).unwrap()
    }

    #[test]
    fn first_sightings_persist_and_never_move_earlier_than_seen() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path());
        let tags = vec!["1.0.0".to_string(), "1.1.0".to_string()];
        store.observe("r/app", &tags, t(1000));
        store.observe("r/app", &tags, t(5000));
        assert_eq!(store.first_seen("r/app", "1.1.0", t(9000)), t(1000));
        store.record(
            "r/app",
            "1.1.0",
            "sha256:a",
            DigestRecord {
                created: Some("2026-01-01T00:00:00Z".into()),
                judged_at: 1000,
                ..Default::default()
            },
        );
        store.save();
        let again = Store::open(dir.path());
        assert_eq!(again.first_seen("r/app", "1.0.0", t(9000)), t(1000));
        assert_eq!(again.judged("r/app", "1.1.0").unwrap().0, "sha256:a");
        // A tag that disappears forgets its clock and its judgement.
        again.observe("r/app", &tags[..1], t(6000));
        assert!(again.judged("r/app", "1.1.0").is_none());
        again.observe("r/app", &tags, t(7000));
        assert_eq!(again.first_seen("r/app", "1.1.0", t(9000)), t(7000));
    }

    #[test]
    fn a_broken_file_is_set_aside() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(FILE_NAME), b"{not json").unwrap();
        let store = Store::open(dir.path());
        assert_eq!(store.first_seen("r/app", "1", t(42)), t(42));
        assert!(dir.path().join("eligibility.json.bad").exists());
        store.save();
        assert!(Store::open(dir.path()).judged("r/app", "1").is_none());
        assert_eq!(
            Store::open(dir.path()).first_seen("r/app", "1", t(99)),
            t(42)
        );
    }

    #[test]
    fn saves_merge_with_another_process() {
        let dir = tempfile::tempdir().unwrap();
        let daemon = Store::open(dir.path());
        let plan = Store::open(dir.path());
        let tags = vec!["1".to_string()];
        plan.observe("r/app", &tags, t(100));
        plan.save();
        daemon.observe("r/app", &tags, t(200));
        daemon.save();
        assert_eq!(
            Store::open(dir.path()).first_seen("r/app", "1", t(999)),
            t(100)
        );
    }
}
