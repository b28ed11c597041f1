//! Walking an environment's paths in parallel and reading the markers in each file.

use std::io::Read;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex};

use globset::{Glob, GlobSet, GlobSetBuilder};
use ignore::{WalkBuilder, WalkState};
use memchr::memmem;

use super::parse::{comment_start, locate_value, parse_marker};
use super::{FileScan, Marker, Problem, Scan, ScanOptions, Skipped, Text};

/// Why a scan could not start.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    /// The repository root does not exist or cannot be read.
    #[error("cannot read the repository at {path}: {source}")]
    Root {
        /// The root given.
        path: PathBuf,
        /// The reason.
        #[source]
        source: std::io::Error,
    },
    /// A path leaves the repository (`..`, absolute, or a symbolic link pointing out).
    #[error(
        "path {0:?} is outside the repository: environment paths are relative to the repository root"
    )]
    Outside(PathBuf),
    /// A path, or a directory on the way to it, is a symbolic link: following it could hand
    /// one environment's files to another.
    #[error(
        "path {path:?} goes through the symbolic link {link:?} in the repository: environment paths must name real directories; replace the link or point the environment at its target"
    )]
    Symlink {
        /// The configured path.
        path: PathBuf,
        /// The component that is a link.
        link: PathBuf,
    },
    /// A path does not exist in the repository.
    #[error("path {0:?} does not exist in the repository: check the environment's paths")]
    Missing(PathBuf),
    /// A configured glob does not parse.
    #[error("glob {glob:?} is invalid: {reason}")]
    Glob {
        /// The glob.
        glob: String,
        /// The parser's complaint.
        reason: String,
    },
}

/// How many leading bytes are checked for NUL to call a file binary.
const BINARY_PROBE: usize = 8192;

/// Scans `paths` (relative to `root`; the whole repository when empty) for marker files.
///
/// The walk starts at the repository root so that `.gitignore` files on the way down apply
/// and none above the root does; it only enters the given paths. Each path is resolved to
/// its real location first: a path that leaves the repository, or that goes through a
/// symbolic link anywhere, is refused. Symbolic links met during the walk are counted, never followed.
pub fn scan(root: &Path, paths: &[PathBuf], options: &ScanOptions) -> Result<Scan, ScanError> {
    let root = root.canonicalize().map_err(|source| ScanError::Root {
        path: root.to_path_buf(),
        source,
    })?;
    let mut starts: Vec<PathBuf> = Vec::new();
    for path in paths {
        if path.is_absolute() || path.components().any(|c| matches!(c, Component::ParentDir)) {
            return Err(ScanError::Outside(path.clone()));
        }
        let mut walked = PathBuf::new();
        for component in path.components() {
            walked.push(component);
            let is_link = std::fs::symlink_metadata(root.join(&walked))
                .is_ok_and(|m| m.file_type().is_symlink());
            if is_link {
                return Err(ScanError::Symlink {
                    path: path.clone(),
                    link: walked,
                });
            }
        }
        let real = root
            .join(path)
            .canonicalize()
            .map_err(|_| ScanError::Missing(path.clone()))?;
        let Ok(relative) = real.strip_prefix(&root) else {
            return Err(ScanError::Outside(path.clone()));
        };
        starts.push(relative.to_path_buf());
    }
    // The whole repository when no path, or one path, is the root itself.
    if starts.iter().any(|s| s.as_os_str().is_empty()) {
        starts.clear();
    }
    let extra = build_globs(&options.extra_globs)?;
    let mut builder = WalkBuilder::new(&root);
    let filter_root = root.clone();
    let filter_starts = starts.clone();
    builder
        .hidden(false)
        .ignore(false)
        .parents(false)
        .follow_links(false)
        .require_git(false)
        .git_global(false)
        .threads(options.threads)
        .filter_entry(move |entry| {
            if entry.file_name() == ".git" {
                return false;
            }
            if filter_starts.is_empty() {
                return true;
            }
            let relative = entry
                .path()
                .strip_prefix(&filter_root)
                .unwrap_or(entry.path());
            let is_dir = entry.file_type().is_some_and(|t| t.is_dir());
            filter_starts
                .iter()
                .any(|s| relative.starts_with(s) || (is_dir && s.starts_with(relative)))
        });
    let in_scope =
        |relative: &Path| starts.is_empty() || starts.iter().any(|s| relative.starts_with(s));

    let state = Mutex::new(Scan::default());
    builder.build_parallel().run(|| {
        let root = &root;
        let extra = &extra;
        let state = &state;
        let in_scope = &in_scope;
        Box::new(move |entry| {
            let Ok(entry) = entry else {
                return WalkState::Continue;
            };
            let Some(file_type) = entry.file_type() else {
                return WalkState::Continue;
            };
            let Ok(relative) = entry.path().strip_prefix(root) else {
                return WalkState::Continue;
            };
            if file_type.is_dir() || !in_scope(relative) || !wanted_file(relative, extra) {
                return WalkState::Continue;
            }
            if entry.path_is_symlink() || file_type.is_symlink() {
                lock(state).skipped.symlinks += 1;
                return WalkState::Continue;
            }
            if !file_type.is_file() {
                return WalkState::Continue;
            }
            let outcome = read_file(entry.path(), relative, options);
            let mut state = lock(state);
            match outcome {
                FileOutcome::Skipped(apply) => apply(&mut state.skipped),
                FileOutcome::Read(found) => {
                    state.files_read += 1;
                    if let Some((file, problems)) = found {
                        state.problems.extend(problems);
                        if !file.markers.is_empty() {
                            state.files.push(file);
                        }
                    }
                }
                FileOutcome::Problem(problem) => {
                    state.skipped.unreadable += 1;
                    state.problems.push(problem);
                }
            }
            WalkState::Continue
        })
    });
    let mut scan = state.into_inner().unwrap_or_else(|e| e.into_inner());
    scan.files.sort_by(|a, b| a.path.cmp(&b.path));
    scan.problems
        .sort_by(|a, b| (&a.path, a.line).cmp(&(&b.path, b.line)));
    tracing::debug!(files_read = scan.files_read, marker_files = scan.files.len(), problems = scan.problems.len(), skipped = %scan.skipped, "marker scan");
    Ok(scan)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn build_globs(globs: &[String]) -> Result<GlobSet, ScanError> {
    let mut set = GlobSetBuilder::new();
    for glob in globs {
        let parsed = Glob::new(glob).map_err(|e| ScanError::Glob {
            glob: glob.clone(),
            reason: e.kind().to_string(),
        })?;
        set.add(parsed);
    }
    set.build().map_err(|e| ScanError::Glob {
        glob: globs.join(", "),
        reason: e.kind().to_string(),
    })
}

/// `*.yaml`, `*.yml`, `Kustomization`, or a configured glob (matched on the relative path
/// and on the file name).
fn wanted_file(relative: &Path, extra: &GlobSet) -> bool {
    let name = relative.file_name().unwrap_or_default();
    let by_default = match Path::new(name).extension().and_then(|e| e.to_str()) {
        Some(ext) => ext.eq_ignore_ascii_case("yaml") || ext.eq_ignore_ascii_case("yml"),
        None => name == "Kustomization",
    };
    by_default || (!extra.is_empty() && (extra.is_match(relative) || extra.is_match(name)))
}

enum FileOutcome {
    Skipped(fn(&mut Skipped)),
    Read(Option<(FileScan, Vec<Problem>)>),
    Problem(Problem),
}

fn read_file(path: &Path, relative: &Path, options: &ScanOptions) -> FileOutcome {
    let max_size = options.max_file_size;
    let mut file = match open_no_follow(path) {
        Ok(file) => file,
        // The entry was swapped for a symbolic link after the walk saw it.
        Err(err) if err.raw_os_error() == Some(libc::ELOOP) => {
            return FileOutcome::Skipped(|s| s.symlinks += 1);
        }
        Err(err) => return FileOutcome::Problem(unreadable(relative, &err)),
    };
    let size = match file.metadata() {
        Ok(meta) if !meta.is_file() => return FileOutcome::Read(None),
        Ok(meta) if meta.len() > max_size => return FileOutcome::Skipped(|s| s.too_large += 1),
        Ok(meta) => meta.len(),
        Err(err) => return FileOutcome::Problem(unreadable(relative, &err)),
    };
    // Read at most one byte past the cap, in case the file grew since its size was taken.
    let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0).saturating_add(1));
    if let Err(err) = (&mut file).take(max_size + 1).read_to_end(&mut bytes) {
        return FileOutcome::Problem(unreadable(relative, &err));
    }
    if bytes.len() as u64 > max_size {
        return FileOutcome::Skipped(|s| s.too_large += 1);
    }
    if memchr::memchr(0, &bytes[..bytes.len().min(BINARY_PROBE)]).is_some() {
        return FileOutcome::Skipped(|s| s.binary += 1);
    }
    if !has_marker_text(&bytes) {
        return FileOutcome::Read(None);
    }
    let text = match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(_) => return FileOutcome::Skipped(|s| s.not_utf8 += 1),
    };
    let (markers, problems) = scan_text(relative, &text);
    let text = if options.keep_texts {
        Text::Held(Arc::from(text))
    } else {
        Text::file(path.to_path_buf(), text.as_bytes())
    };
    FileOutcome::Read(Some((
        FileScan {
            path: relative.to_path_buf(),
            markers,
            text,
        },
        problems,
    )))
}

/// Opens a file for reading without following a symbolic link in its last component.
pub(super) fn open_no_follow(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
}

fn unreadable(relative: &Path, err: &std::io::Error) -> Problem {
    Problem {
        path: relative.to_path_buf(),
        line: 0,
        message: format!("cannot read the file: {err}"),
    }
}

const FLUX_KEY: &[u8] = b"\"$imagepolicy\"";
const BATON_KEY: &[u8] = b"\"$baton\"";

/// Offsets of every `"$imagepolicy"` and `"$baton"` in `bytes`, in order, found in one pass.
fn marker_keys(bytes: &[u8]) -> impl Iterator<Item = usize> + '_ {
    memmem::find_iter(bytes, b"\"$").filter(move |&at| {
        let rest = &bytes[at..];
        rest.starts_with(FLUX_KEY) || rest.starts_with(BATON_KEY)
    })
}

fn has_marker_text(bytes: &[u8]) -> bool {
    marker_keys(bytes).next().is_some()
}

/// Reads every marker in one file's text; a malformed marker becomes a problem and the
/// rest of the file is still read.
pub(crate) fn scan_text(relative: &Path, text: &str) -> (Vec<Marker>, Vec<Problem>) {
    let bytes = text.as_bytes();
    let mut starts: Vec<usize> = marker_keys(bytes)
        .map(|at| memchr::memrchr(b'\n', &bytes[..at]).map_or(0, |nl| nl + 1))
        .collect();
    starts.dedup();
    let mut markers = Vec::new();
    let mut problems = Vec::new();
    let mut line_number = 1;
    let mut counted_to = 0;
    for start in starts {
        line_number += memchr::memchr_iter(b'\n', &bytes[counted_to..start]).count();
        counted_to = start;
        let end = memchr::memchr(b'\n', &bytes[start..]).map_or(bytes.len(), |i| start + i);
        let line = text[start..end]
            .strip_suffix('\r')
            .unwrap_or(&text[start..end]);
        let problem = |message: String| Problem {
            path: relative.to_path_buf(),
            line: line_number,
            message,
        };
        let Some(hash) = comment_start(line) else {
            continue;
        };
        let spec = match parse_marker(&line[hash + 1..]) {
            Ok(Some(spec)) => spec,
            Ok(None) => continue,
            Err(message) => {
                problems.push(problem(message));
                continue;
            }
        };
        match locate_value(&line[..hash]) {
            Ok(range) => markers.push(Marker {
                path: relative.to_path_buf(),
                line: line_number,
                current: line[range.clone()].to_string(),
                span: start + range.start..start + range.end,
                policy: spec.policy,
                namespace: spec.namespace,
                field: spec.field,
                hold: spec.hold,
            }),
            Err(message) => problems.push(problem(format!(
                "marker for policy {:?}: {message}",
                spec.policy
            ))),
        }
    }
    (markers, problems)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::markers::Field;

    #[test]
    fn reads_markers_with_lines_and_spans() {
        let text = "a: 1\r\nimage: app:1.0 # {\"$imagepolicy\": \"ns:app\"}\r\n# {\"$baton\": \"x\"}\n  tag: \"2\" # {\"$baton\": \"app:tag\", \"hold\": \"INC-1\"}\nbad: 1 # {\"$baton\": 7}\n";
        let (markers, problems) = scan_text(Path::new("f.yaml"), text);
        assert_eq!(markers.len(), 2, "{markers:?}");
        assert_eq!(
            (
                markers[0].line,
                markers[0].current.as_str(),
                markers[0].field
            ),
            (2, "app:1.0", Field::Full)
        );
        assert_eq!(&text[markers[0].span.clone()], "app:1.0");
        assert_eq!((markers[1].line, markers[1].current.as_str()), (4, "2"));
        assert_eq!(markers[1].hold.as_deref(), Some("INC-1"));
        assert_eq!(&text[markers[1].span.clone()], "2");
        // The comment-only marker line has no value; the bad marker is reported.
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert_eq!(problems[0].line, 3);
        assert!(problems[0].message.contains("no value"));
        assert_eq!(problems[1].line, 5);
        assert_eq!(
            problems[1].to_string(),
            "f.yaml:5: \"$baton\" must be a string such as \"POLICY\" or \"POLICY:tag\""
        );
    }

    #[test]
    fn default_files_and_globs() {
        let none = build_globs(&[]).unwrap();
        assert!(wanted_file(Path::new("a/b.yaml"), &none));
        assert!(wanted_file(Path::new("a/b.YML"), &none));
        assert!(wanted_file(Path::new("Kustomization"), &none));
        assert!(!wanted_file(Path::new("a/b.json"), &none));
        let extra = build_globs(&["*.env".to_string(), "deploy/**/values".to_string()]).unwrap();
        assert!(wanted_file(Path::new("x/y/prod.env"), &extra));
        assert!(wanted_file(Path::new("deploy/a/values"), &extra));
        assert!(build_globs(&["a[".to_string()]).is_err());
    }
}
