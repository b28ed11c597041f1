//! The marker scan of a pass, read from the fetched tree: blobs already scanned come from the
//! marker cache by id, the others are read (in parallel) and scanned once.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::git::{BlobData, ObjectId, TreeFile, Workspace, blob_id};
use crate::markers::{self, ContentScan, TextSource};

use super::marker_cache::{self, Entry, MarkerCache};

/// The cache file of `workspace`, beside its repository.
fn cache_path(workspace: &Workspace) -> PathBuf {
    workspace.git_dir().with_file_name("marker-cache")
}

fn lock(cache: &Mutex<MarkerCache>) -> std::sync::MutexGuard<'_, MarkerCache> {
    cache.lock().unwrap_or_else(|e| e.into_inner())
}

/// The markers in the files under `paths` in the workspace's HEAD tree (see
/// [`Workspace::list_files`] for what is refused). Only blobs the cache does not know are
/// read; the texts of the others are read when an edit needs them. Public for the markers
/// benchmark.
pub fn scan_tree(
    workspace: &Workspace,
    paths: &[PathBuf],
    globs: &[String],
    max_size: u64,
) -> Result<markers::Scan, String> {
    let filter = markers::FileFilter::new(globs).map_err(|e| e.to_string())?;
    let listed = workspace
        .list_files(paths, &|path| filter.wants(path))
        .map_err(|e| e.to_string())?;
    let shared = marker_cache::shared(&cache_path(workspace));
    let mut scan = markers::Scan::default();
    let mut unread: HashMap<PathBuf, (ObjectId, ContentScan)> = HashMap::new();
    let mut misses: Vec<(PathBuf, ObjectId)> = Vec::new();
    {
        let mut cache = lock(&shared);
        for file in listed {
            let (path, id) = match file {
                TreeFile::File { path, id } => (path, id),
                TreeFile::Symlink { .. } => {
                    scan.skipped.symlinks += 1;
                    continue;
                }
                TreeFile::Submodule { .. } => {
                    scan.skipped.submodules += 1;
                    continue;
                }
            };
            match cache.get(&id) {
                Some(entry) if entry.size > max_size => scan.skipped.too_large += 1,
                Some(Entry {
                    scan: Some(content),
                    ..
                }) => match scan.add_content(&path, &content, None) {
                    Ok(()) => {
                        if matches!(content, ContentScan::Markers { .. }) {
                            unread.insert(path, (id, content));
                        }
                    }
                    Err(reason) => {
                        cache.discard(&format!("an entry cannot be read: {reason}"));
                        misses.push((path, id));
                    }
                },
                _ => misses.push((path, id)),
            }
        }
    }
    let hits = scan.files_read;
    type Read = (u64, Option<ContentScan>, Option<Arc<str>>);
    let found: Mutex<Vec<Option<Read>>> = Mutex::new(vec![None; misses.len()]);
    let ids: Vec<ObjectId> = misses.iter().map(|(_, id)| *id).collect();
    workspace
        .read_blobs(&ids, max_size, &|i, data| {
            let read = match data {
                BlobData::TooLarge { size } => (size, None, None),
                BlobData::Bytes(bytes) => {
                    let size = bytes.len() as u64;
                    let (content, text) = ContentScan::of(bytes);
                    (size, Some(content), text)
                }
            };
            let mut found = found.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(slot) = found.get_mut(i) {
                *slot = Some(read);
            }
        })
        .map_err(|e| e.to_string())?;
    let found = found.into_inner().unwrap_or_else(|e| e.into_inner());
    {
        let mut cache = lock(&shared);
        for ((path, id), read) in misses.into_iter().zip(found) {
            let Some((size, content, text)) = read else {
                // read_blobs hands every blob over or fails.
                scan.skipped.unreadable += 1;
                continue;
            };
            if let Some(content) = &content {
                scan.add_content(&path, content, text)?;
            } else {
                scan.skipped.too_large += 1;
            }
            cache.insert(
                id,
                Entry {
                    size,
                    scan: content,
                },
            );
        }
        cache.save();
    }
    scan.sort();
    if !unread.is_empty() {
        scan.texts = Some(Arc::new(BlobTexts {
            workspace: workspace.clone(),
            unread,
            cache: shared,
            max_size,
            read: Mutex::new(HashMap::new()),
        }));
    }
    tracing::debug!(files_read = scan.files_read, from_cache = hits, marker_files = scan.files.len(), problems = scan.problems.len(), skipped = %scan.skipped, "marker scan");
    Ok(scan)
}

/// Keeps the scans of files a commit writes, so that the next pass finds them in the cache.
pub(super) fn remember_written(workspace: &Workspace, files: &[(PathBuf, Vec<u8>)], max_size: u64) {
    let shared = marker_cache::shared(&cache_path(workspace));
    let scanned: Vec<(ObjectId, Entry)> = files
        .iter()
        .filter(|(_, bytes)| bytes.len() as u64 <= max_size)
        .filter_map(|(_, bytes)| {
            let id = blob_id(bytes)?;
            let (content, _) = ContentScan::of(bytes.clone());
            Some((
                id,
                Entry {
                    size: bytes.len() as u64,
                    scan: Some(content),
                },
            ))
        })
        .collect();
    let mut cache = lock(&shared);
    for (id, entry) in scanned {
        cache.insert(id, entry);
    }
    cache.save();
}

/// The texts of files scanned from the cache, read from their blobs when an edit needs them;
/// each is scanned again and must hold exactly what the cache said, or the cache is dropped.
/// A text read once is kept, so every plan of the pass shares it (as a scan of files does).
#[derive(Debug)]
struct BlobTexts {
    workspace: Workspace,
    unread: HashMap<PathBuf, (ObjectId, ContentScan)>,
    cache: Arc<Mutex<MarkerCache>>,
    max_size: u64,
    read: Mutex<HashMap<PathBuf, Arc<str>>>,
}

impl TextSource for BlobTexts {
    fn texts(&self, paths: &[&Path]) -> Vec<Result<Arc<str>, String>> {
        let kept: Vec<Option<Arc<str>>> = {
            let read = self.read.lock().unwrap_or_else(|e| e.into_inner());
            paths.iter().map(|p| read.get(*p).cloned()).collect()
        };
        let missing: Vec<&Path> = paths
            .iter()
            .zip(&kept)
            .filter(|(_, k)| k.is_none())
            .map(|(p, _)| *p)
            .collect();
        let started = std::time::Instant::now();
        let mut fresh = self.read_texts(&missing).into_iter();
        if !missing.is_empty() {
            tracing::debug!(
                files = missing.len(),
                kept = paths.len() - missing.len(),
                elapsed_ms = started.elapsed().as_millis() as u64,
                "texts read from blobs"
            );
        }
        let mut read = self.read.lock().unwrap_or_else(|e| e.into_inner());
        paths
            .iter()
            .zip(kept)
            .map(|(path, kept)| match kept {
                Some(text) => Ok(text),
                None => {
                    let text = fresh
                        .next()
                        .unwrap_or_else(|| Err("the file's blob was not read".to_string()))?;
                    read.insert(path.to_path_buf(), text.clone());
                    Ok(text)
                }
            })
            .collect()
    }
}

impl BlobTexts {
    /// Reads and checks the texts of `paths`, in order.
    fn read_texts(&self, paths: &[&Path]) -> Vec<Result<Arc<str>, String>> {
        if paths.is_empty() {
            return Vec::new();
        }
        let wanted: Vec<Option<&(ObjectId, ContentScan)>> =
            paths.iter().map(|p| self.unread.get(*p)).collect();
        let ids: Vec<ObjectId> = wanted.iter().flatten().map(|(id, _)| *id).collect();
        // Each blob is scanned on its reading thread as soon as it is read, so only the
        // texts are kept, never the buffers the pack was decoded into.
        type Read = Option<(ContentScan, Option<Arc<str>>)>;
        let read: Mutex<Vec<Option<Read>>> = Mutex::new(vec![None; ids.len()]);
        if let Err(e) = self.workspace.read_blobs(&ids, self.max_size, &|i, data| {
            let scanned = match data {
                BlobData::Bytes(bytes) => Some(ContentScan::of(bytes)),
                BlobData::TooLarge { .. } => None,
            };
            let mut read = read.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(slot) = read.get_mut(i) {
                *slot = Some(scanned);
            }
        }) {
            return paths.iter().map(|_| Err(e.to_string())).collect();
        }
        let mut read = read
            .into_inner()
            .unwrap_or_else(|e| e.into_inner())
            .into_iter();
        let mut disagreed = false;
        let out = wanted
            .into_iter()
            .map(|w| {
                let Some((_, expected)) = w else {
                    return Err("the file was not in the scan".to_string());
                };
                match read.next().flatten() {
                    Some(Some((content, Some(text)))) if content == *expected => Ok(text),
                    Some(Some(_)) => {
                        disagreed = true;
                        Err("the marker cache disagreed with the file's content (the cache is discarded: run again)".to_string())
                    }
                    Some(None) => {
                        Err("the file is larger than markers.max_file_size".to_string())
                    }
                    None => Err("the file's blob was not read".to_string()),
                }
            })
            .collect();
        if disagreed {
            lock(&self.cache).discard("an entry disagreed with its blob's content");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::git::RemoteSettings;
    use crate::markers::{Marker, Resolved};
    use std::process::Command;

    fn git(dir: &Path, args: &[&str]) {
        let out = Command::new("git")
            .current_dir(dir)
            .args(args)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_AUTHOR_NAME", "Person")
            .env("GIT_AUTHOR_EMAIL", "person@example.com")
            .env("GIT_COMMITTER_NAME", "Person")
            .env("GIT_COMMITTER_EMAIL", "person@example.com")
            .output()
            .expect("run git");
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    const MARKED: &str = "kind: Deployment\nspec:\n  image: app:1.0 # {\"$baton\": \"app\"}\n";
    const HELD: &str = "image: app:1.0 # {\"$baton\": \"app\", \"hold\": \"INC-1\"}\n";

    /// A remote holding three files, and the workspace synced with it.
    async fn fixture(dir: &Path) -> Workspace {
        let remote = dir.join("remote.git");
        let work = dir.join("work");
        std::fs::create_dir_all(&remote).unwrap();
        git(
            &remote,
            &["init", "--quiet", "--bare", "--initial-branch", "main"],
        );
        std::fs::create_dir_all(work.join("env")).unwrap();
        git(&work, &["init", "--quiet", "--initial-branch", "main"]);
        std::fs::write(work.join("env/a.yaml"), MARKED).unwrap();
        std::fs::write(work.join("env/b.yaml"), "plain: 1\n").unwrap();
        std::fs::write(work.join("env/c.yaml"), HELD).unwrap();
        git(&work, &["add", "-A"]);
        git(&work, &["commit", "--quiet", "-m", "seed"]);
        git(
            &work,
            &["push", "--quiet", remote.to_str().unwrap(), "HEAD:main"],
        );
        let settings = RemoteSettings::new(remote.to_string_lossy(), "main");
        let ws = Workspace::open_or_clone(&dir.join("state"), &settings)
            .await
            .unwrap();
        ws.sync().await.unwrap();
        ws
    }

    fn scan(ws: &Workspace) -> markers::Scan {
        scan_tree(ws, &[PathBuf::from("env")], &[], 1 << 20).unwrap()
    }

    fn moved(m: &Marker) -> Option<Resolved> {
        (m.policy == "app").then(|| Resolved {
            repository: "app".into(),
            tag: "2.0".into(),
            digest: None,
        })
    }

    #[tokio::test]
    async fn a_second_scan_comes_from_the_cache_and_an_edit_reads_its_blob() {
        let dir = tempfile::tempdir().unwrap();
        let ws = fixture(dir.path()).await;
        let first = scan(&ws);
        assert_eq!(first.files_read, 3);
        assert!(first.files.iter().all(|f| f.text.is_some()));
        let second = scan(&ws);
        assert_eq!(second.files_read, 3);
        assert!(
            second.files.iter().all(|f| f.text.is_none()),
            "from the cache"
        );
        let markers = |s: &markers::Scan| {
            s.files
                .iter()
                .flat_map(|f| f.markers.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(markers(&first), markers(&second));
        let plan = markers::plan(&second, &moved);
        assert!(plan.problems.is_empty(), "{:?}", plan.problems);
        assert_eq!(plan.edits.len(), 1);
        assert_eq!(&*plan.edits[0].before, MARKED);
        assert_eq!(plan.edits[0].after, MARKED.replace("app:1.0", "app:2.0"));
        assert_eq!(plan.held.len(), 1);
        // Read once: every plan of the pass shares the text.
        let again = markers::plan(&second, &moved);
        assert!(Arc::ptr_eq(&plan.edits[0].before, &again.edits[0].before));
        // Kept on disk for the next process.
        assert!(cache_path(&ws).exists());
    }

    #[tokio::test]
    async fn an_entry_that_disagrees_with_its_blob_is_never_used_for_an_edit() {
        let dir = tempfile::tempdir().unwrap();
        let ws = fixture(dir.path()).await;
        scan(&ws);
        // The entry for a.yaml's blob now says the value sits one byte further on.
        let id = blob_id(MARKED.as_bytes()).unwrap();
        let shared = marker_cache::shared(&cache_path(&ws));
        let (bad, _) = ContentScan::of(MARKED.replace("app:1.0", " app:1.0").into_bytes());
        lock(&shared).insert(
            id,
            Entry {
                size: MARKED.len() as u64,
                scan: Some(bad),
            },
        );
        let second = scan(&ws);
        let plan = markers::plan(&second, &moved);
        assert!(plan.edits.is_empty(), "{:?}", plan.edits);
        assert_eq!(plan.problems.len(), 1, "{:?}", plan.problems);
        assert!(
            plan.problems[0].message.contains("marker cache disagreed"),
            "{}",
            plan.problems[0]
        );
        // The cache was dropped: the next scan reads every file and edits as it should.
        let third = scan(&ws);
        assert!(third.files.iter().all(|f| f.text.is_some()));
        let plan = markers::plan(&third, &moved);
        assert_eq!(plan.edits.len(), 1);
        assert_eq!(plan.edits[0].after, MARKED.replace("app:1.0", "app:2.0"));
    }

    #[tokio::test]
    async fn written_content_is_known_to_the_next_scan() {
        let dir = tempfile::tempdir().unwrap();
        let ws = fixture(dir.path()).await;
        let edited = MARKED.replace("app:1.0", "app:2.0").into_bytes();
        remember_written(
            &ws,
            &[(PathBuf::from("env/a.yaml"), edited.clone())],
            1 << 20,
        );
        let shared = marker_cache::shared(&cache_path(&ws));
        let entry = lock(&shared).get(&blob_id(&edited).unwrap()).unwrap();
        assert_eq!(entry.scan, Some(ContentScan::of(edited).0));
    }
}
