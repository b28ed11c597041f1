//! Marker scans kept by git blob id in the state directory: a blob's content never changes,
//! so a file seen before is neither inflated from the pack nor scanned again.
//!
//! The file is a header line (format and SHA-256 of the body) and a JSON body. A file that is
//! unreadable, too large, of another format or whose checksum does not match is discarded, not
//! repaired; an entry is only ever used for its own blob id, and the pass checks the marked
//! values against the text of every file it edits. At most [`MAX_ENTRIES`] are kept, the ones
//! the latest scans used first.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use gix::ObjectId;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::markers::ContentScan;

/// What the first line of the file starts with; another value is another format.
const FORMAT: &str = "baton-marker-cache-1";
/// The most entries kept (about 100 bytes each in memory for a file without markers).
pub const MAX_ENTRIES: usize = 100_000;
/// A file larger than this is not read.
const MAX_FILE_BYTES: u64 = 256 * 1024 * 1024;

/// One blob's scan: its size, and what it holds when it was small enough to be read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// The blob's size in bytes.
    pub size: u64,
    /// What it holds; `None` when it was over the size cap and not read.
    pub scan: Option<ContentScan>,
}

/// The cache of one state directory, shared by every pass of the process.
#[derive(Debug)]
pub struct MarkerCache {
    path: PathBuf,
    entries: HashMap<ObjectId, Entry>,
    /// Ids in the order they were last used, oldest first (ids may repeat; the latest counts).
    order: Vec<ObjectId>,
    /// Whether entries were added since the last save.
    dirty: bool,
}

/// The cache kept at `path`, loaded on first use in this process.
pub fn shared(path: &Path) -> Arc<Mutex<MarkerCache>> {
    static CACHES: OnceLock<Mutex<HashMap<PathBuf, Arc<Mutex<MarkerCache>>>>> = OnceLock::new();
    let mut caches = CACHES
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    caches
        .entry(path.to_path_buf())
        .or_insert_with(|| Arc::new(Mutex::new(MarkerCache::load(path))))
        .clone()
}

impl MarkerCache {
    /// Reads the cache at `path`; an empty one when there is none, or when it cannot be
    /// trusted (it is then removed, and the reason logged).
    pub fn load(path: &Path) -> MarkerCache {
        let mut cache = MarkerCache {
            path: path.to_path_buf(),
            entries: HashMap::new(),
            order: Vec::new(),
            dirty: false,
        };
        match read(path) {
            Ok(None) => {}
            Ok(Some(rows)) => {
                for (id, entry) in rows {
                    cache.order.push(id);
                    cache.entries.insert(id, entry);
                }
                tracing::debug!(file = %path.display(), entries = cache.entries.len(), "marker cache loaded");
            }
            Err(reason) => {
                tracing::warn!(file = %path.display(), %reason, "marker cache discarded");
                let _ = std::fs::remove_file(path);
            }
        }
        cache
    }

    /// The entry for `id`, marked as used.
    pub fn get(&mut self, id: &ObjectId) -> Option<Entry> {
        let entry = self.entries.get(id)?.clone();
        self.order.push(*id);
        Some(entry)
    }

    /// Keeps `entry` for `id`.
    pub fn insert(&mut self, id: ObjectId, entry: Entry) {
        if self.entries.get(&id) != Some(&entry) {
            self.entries.insert(id, entry);
            self.dirty = true;
        }
        self.order.push(id);
    }

    /// Forgets every entry and removes the file (an entry disagreed with its blob).
    pub fn discard(&mut self, reason: &str) {
        tracing::warn!(file = %self.path.display(), %reason, "marker cache discarded");
        self.entries.clear();
        self.order.clear();
        self.dirty = false;
        let _ = std::fs::remove_file(&self.path);
    }

    /// How many entries are kept.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no entry is kept.
    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Drops all but the [`MAX_ENTRIES`] most recently used entries and, when something was
    /// added, writes the file (a temporary file renamed into place). A failure is logged: the
    /// cache only saves work.
    pub fn save(&mut self) {
        self.trim(MAX_ENTRIES);
        if !self.dirty {
            return;
        }
        match self.write() {
            Ok(()) => self.dirty = false,
            Err(reason) => {
                tracing::warn!(file = %self.path.display(), %reason, "marker cache not saved")
            }
        }
    }

    /// Keeps at most `max` entries, the most recently used, and the order without repeats.
    fn trim(&mut self, max: usize) {
        let mut seen = std::collections::HashSet::new();
        let mut kept: Vec<ObjectId> = Vec::new();
        for id in self.order.iter().rev() {
            if kept.len() == max {
                break;
            }
            if self.entries.contains_key(id) && seen.insert(*id) {
                kept.push(*id);
            }
        }
        kept.reverse();
        if kept.len() < self.entries.len() {
            self.entries.retain(|id, _| seen.contains(id));
            self.dirty = true;
        }
        self.order = kept;
    }

    fn write(&self) -> Result<(), String> {
        let rows: Vec<(String, &Entry)> = self
            .order
            .iter()
            .filter_map(|id| Some((id.to_string(), self.entries.get(id)?)))
            .collect();
        let body = serde_json::to_vec(&rows).map_err(|e| e.to_string())?;
        let header = format!("{FORMAT} {}\n", hex(&Sha256::digest(&body)));
        let dir = self.path.parent().unwrap_or(Path::new("."));
        let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(|e| e.to_string())?;
        use std::io::Write as _;
        tmp.write_all(header.as_bytes())
            .and_then(|()| tmp.write_all(&body))
            .map_err(|e| e.to_string())?;
        tmp.persist(&self.path).map_err(|e| e.to_string())?;
        Ok(())
    }
}

/// The rows of the file at `path`, `None` when there is none; an error says why it cannot be
/// trusted.
fn read(path: &Path) -> Result<Option<Vec<(ObjectId, Entry)>>, String> {
    let bytes = match std::fs::metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e.to_string()),
        Ok(meta) if meta.len() > MAX_FILE_BYTES => {
            return Err(format!("larger than {MAX_FILE_BYTES} bytes"));
        }
        Ok(_) => std::fs::read(path).map_err(|e| e.to_string())?,
    };
    let newline = memchr::memchr(b'\n', &bytes).ok_or("no header line")?;
    let header = std::str::from_utf8(&bytes[..newline]).map_err(|_| "a header that is not text")?;
    let body = &bytes[newline + 1..];
    let Some(sum) = header
        .strip_prefix(FORMAT)
        .and_then(|r| r.strip_prefix(' '))
    else {
        return Err("another format (written by another version of Baton)".into());
    };
    if sum != hex(&Sha256::digest(body)) {
        return Err("its checksum does not match its content".into());
    }
    let rows: Vec<(String, Entry)> =
        serde_json::from_slice(body).map_err(|e| format!("unreadable: {e}"))?;
    rows.into_iter()
        .map(|(id, entry)| {
            let id = ObjectId::from_hex(id.as_bytes()).map_err(|_| format!("a bad id {id:?}"))?;
            Ok((id, entry))
        })
        .collect::<Result<Vec<_>, String>>()
        .map(Some)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u8) -> ObjectId {
        ObjectId::from_bytes_or_panic(&[n; 20])
    }

    fn entry(size: u64) -> Entry {
        Entry {
            size,
            scan: Some(ContentScan::NoMarkers),
        }
    }

    #[test]
    fn saved_entries_load_again() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cache");
        let mut cache = MarkerCache::load(&path);
        assert!(cache.is_empty());
        cache.insert(id(1), entry(10));
        cache.insert(
            id(2),
            Entry {
                size: 1 << 30,
                scan: None,
            },
        );
        cache.save();
        let mut again = MarkerCache::load(&path);
        assert_eq!(again.len(), 2);
        assert_eq!(again.get(&id(1)), Some(entry(10)));
        assert_eq!(again.get(&id(2)).unwrap().scan, None);
    }

    #[test]
    fn a_corrupt_or_foreign_file_is_discarded() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cache");
        let mut cache = MarkerCache::load(&path);
        cache.insert(id(1), entry(10));
        cache.save();
        let good = std::fs::read(&path).unwrap();
        // One byte of the body changed: the checksum no longer matches.
        let mut bad = good.clone();
        let last = bad.len() - 3;
        bad[last] ^= 1;
        for text in [
            bad,
            b"garbage".to_vec(),
            [b"baton-marker-cache-0 ".as_slice(), &good[21..]].concat(),
        ] {
            std::fs::write(&path, &text).unwrap();
            assert!(MarkerCache::load(&path).is_empty());
            assert!(!path.exists(), "the bad file is removed");
        }
    }

    #[test]
    fn only_the_most_recently_used_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        let mut cache = MarkerCache::load(&dir.path().join("cache"));
        for n in 0..5 {
            cache.insert(id(n), entry(u64::from(n)));
        }
        cache.get(&id(0));
        cache.trim(3);
        assert_eq!(cache.len(), 3);
        assert!(cache.get(&id(0)).is_some());
        assert!(cache.get(&id(4)).is_some());
        assert!(cache.get(&id(1)).is_none());
    }
}
