//! Turning policy choices into verified byte edits, and writing them into the clone in place.

use std::collections::{BTreeMap, HashSet};
use std::io::Read;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use saphyr_parser::{Event, Parser};

use super::{Change, FileEdit, FileScan, Invalid, Marker, Plan, Problem, Resolved, Scan, Text};

/// Works out every edit for the given choices. `resolve` returns what a marker's policy
/// chose, or `None` when the policy is unknown. Files run in parallel; each edited file is
/// checked to still parse as YAML and to differ only at its marked scalars.
pub fn plan(scan: &Scan, resolve: &(dyn Fn(&Marker) -> Option<Resolved> + Sync)) -> Plan {
    let mut plan = Plan {
        problems: scan.problems.clone(),
        ..Plan::default()
    };
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(8);
    let chunk = scan.files.len().div_ceil(threads).max(64);
    let results: Vec<FilePlan> = std::thread::scope(|s| {
        let handles: Vec<_> = scan
            .files
            .chunks(chunk)
            .map(|files| {
                s.spawn(move || {
                    files
                        .iter()
                        .map(|f| plan_file(f, resolve))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    });
    for file in results {
        plan.held.extend(file.held);
        plan.problems.extend(file.problems);
        plan.edits.extend(file.edit);
    }
    plan.problems
        .sort_by(|a, b| (&a.path, a.line).cmp(&(&b.path, b.line)));
    plan
}

#[derive(Default)]
struct FilePlan {
    edit: Option<FileEdit>,
    held: Vec<Marker>,
    problems: Vec<Problem>,
}

fn plan_file(file: &FileScan, resolve: &(dyn Fn(&Marker) -> Option<Resolved> + Sync)) -> FilePlan {
    let mut out = FilePlan::default();
    let mut replacements: Vec<(Range<usize>, String)> = Vec::new();
    let mut changes = Vec::new();
    for marker in &file.markers {
        let problem = |message: String| Problem {
            path: marker.path.clone(),
            line: marker.line,
            message,
        };
        if marker.hold.is_some() {
            out.held.push(marker.clone());
            continue;
        }
        let Some(resolved) = resolve(marker) else {
            out.problems.push(problem(format!(
                "marker names policy {:?}, which is not in the configuration: add [policies.{}] or fix the marker",
                marker.policy, marker.policy
            )));
            continue;
        };
        match new_value(marker, &resolved) {
            Ok(Some(value)) => {
                changes.push(Change {
                    line: marker.line,
                    policy: marker.policy.clone(),
                    field: marker.field,
                    from: marker.current.clone(),
                    to: value.clone(),
                });
                replacements.push((marker.span.clone(), value));
            }
            Ok(None) => {}
            Err(message) => out.problems.push(problem(message)),
        }
    }
    if replacements.is_empty() {
        return out;
    }
    let text = match file.text.get() {
        Ok(text) => text,
        Err(err) => {
            out.problems.push(Problem {
                path: file.path.clone(),
                line: 0,
                message: format!("{err}: the file is left unchanged"),
            });
            return out;
        }
    };
    let (replacements, changes) = match verified_edit(file, &text, &replacements, &changes) {
        Ok(_) => (replacements, changes),
        Err(Refusal::File(message)) => {
            out.problems.push(Problem {
                path: file.path.clone(),
                line: 0,
                message: format!("{message}: the file is left unchanged"),
            });
            return out;
        }
        Err(Refusal::Edit(message)) if replacements.len() == 1 => {
            out.problems
                .push(refused(&changes[0], &file.path, &message));
            return out;
        }
        Err(Refusal::Edit(_)) => {
            // Find the values the parser does not confirm, and keep the others.
            let mut kept_replacements = Vec::new();
            let mut kept_changes = Vec::new();
            for (replacement, change) in replacements.iter().zip(&changes) {
                match verified_edit(
                    file,
                    &text,
                    std::slice::from_ref(replacement),
                    std::slice::from_ref(change),
                ) {
                    Ok(_) => {
                        kept_replacements.push(replacement.clone());
                        kept_changes.push(change.clone());
                    }
                    Err(Refusal::Edit(message) | Refusal::File(message)) => {
                        out.problems.push(refused(change, &file.path, &message));
                    }
                }
            }
            if kept_replacements.is_empty() {
                return out;
            }
            match verified_edit(file, &text, &kept_replacements, &kept_changes) {
                Ok(_) => (kept_replacements, kept_changes),
                Err(Refusal::Edit(message) | Refusal::File(message)) => {
                    out.problems.push(Problem {
                        path: file.path.clone(),
                        line: 0,
                        message: format!("{message}: the file is left unchanged"),
                    });
                    return out;
                }
            }
        }
    };
    out.edit = Some(FileEdit {
        path: file.path.clone(),
        before: file.text.clone(),
        replacements,
        changes,
    });
    out
}

/// The problem for one marked value whose edit the parser does not confirm.
fn refused(change: &Change, path: &Path, message: &str) -> Problem {
    Problem {
        path: path.to_path_buf(),
        line: change.line,
        message: format!(
            "marker for policy {:?}: {message}: this value is left unchanged",
            change.policy
        ),
    }
}

/// Why an edit was not confirmed: the file as a whole, or the edit itself.
enum Refusal {
    /// The file does not parse even before the edit.
    File(String),
    /// The edit breaks the file or changes more than the marked values.
    Edit(String),
}

/// Applies `replacements` to the file's text and checks the result with the YAML parser.
fn verified_edit(
    file: &FileScan,
    text: &str,
    replacements: &[(Range<usize>, String)],
    changes: &[Change],
) -> Result<String, Refusal> {
    let after = edit_text(text, replacements);
    if quick_verify(text, &after, replacements, changes) {
        return Ok(after);
    }
    let expected: BTreeMap<usize, (&str, &str)> = changes
        .iter()
        .map(|c| (c.line, (c.from.as_str(), c.to.as_str())))
        .collect();
    verify(&file.path, text, &after, &expected)?;
    Ok(after)
}

/// The value a marker should hold, `None` when it already does, or why it cannot be
/// written. Every part that came from a registry is checked against the OCI grammar.
fn new_value(marker: &Marker, resolved: &Resolved) -> Result<Option<String>, String> {
    match marker.field.form().write(&marker.current, resolved) {
        Ok(value) => Ok(value.filter(|value| *value != marker.current)),
        Err(Invalid::Empty) => Err(format!(
            "policy {:?} gave neither tag nor digest for {}: nothing was written",
            marker.policy, marker.current
        )),
        Err(Invalid::Part(what, value)) => Err(format!(
            "policy {:?} chose {what} {value:?}, which is not valid: nothing was written",
            marker.policy
        )),
    }
}

/// Replaces the given byte ranges of `text` (which must not overlap) and keeps every other
/// byte as it was.
pub fn edit_text(text: &str, replacements: &[(Range<usize>, String)]) -> String {
    let mut sorted: Vec<&(Range<usize>, String)> = replacements.iter().collect();
    sorted.sort_by_key(|(range, _)| range.start);
    let mut out = String::with_capacity(text.len() + 64);
    let mut at = 0;
    for (range, value) in sorted {
        out.push_str(&text[at..range.start]);
        out.push_str(value);
        at = range.end;
    }
    out.push_str(&text[at..]);
    out
}

/// `Some(quoted)` when the old value at `span` is one `quick_verify` can reason about: inside
/// quotes and made of printable ASCII without quotes or backslashes, or a plain scalar made only of the
/// characters a reference uses and starting with a letter, digit or `_`, so that it cannot
/// hold an indicator, a flow separator, a `: ` or a ` #`.
fn simple_value(text: &str, span: &Range<usize>) -> Option<bool> {
    let bytes = text.as_bytes();
    let old = bytes.get(span.clone())?;
    let quote = span.start.checked_sub(1).map(|i| bytes[i]);
    if matches!(quote, Some(b'"' | b'\'')) && bytes.get(span.end) == quote.as_ref() {
        // Printable ASCII only: a control character is not YAML, and the old text must be
        // read exactly as the new one is.
        let printable = old
            .iter()
            .all(|b| (b.is_ascii_graphic() || *b == b' ') && !matches!(b, b'"' | b'\'' | b'\\'));
        return printable.then_some(true);
    }
    let first_ok = old
        .first()
        .is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_');
    let all_ok = old.iter().all(|b| {
        b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b':' | b'/' | b'@' | b'+')
    });
    (first_ok && all_ok).then_some(false)
}

/// The fast check used for nearly every edit, with one parse instead of two.
///
/// `after` differs from `before` only inside the replaced ranges. When each old value is a
/// simple one (see `simple_value`) and each new value is a valid reference part (same
/// alphabet), the scanner reaches each range in the same state in both texts (the bytes
/// before it are the same) and reads the old and the new value as one scalar token that ends
/// where the range ends (a comment follows it on the line). Both texts then tokenize alike
/// except for those scalars' values, so checking that `after` parses and holds, at each
/// range, a scalar starting there with exactly the new value proves what the full
/// comparison in `verify` proves. Anything else goes to `verify`.
fn quick_verify(
    before: &str,
    after: &str,
    replacements: &[(Range<usize>, String)],
    changes: &[Change],
) -> bool {
    let mut sorted: Vec<(&(Range<usize>, String), &Change)> =
        replacements.iter().zip(changes).collect();
    sorted.sort_by_key(|((range, _), _)| range.start);
    // Where each new value starts in `after`, as a character index (what the parser counts),
    // with its line and value.
    let ascii = after.is_ascii();
    let mut wanted: Vec<(usize, usize, &str)> = Vec::with_capacity(sorted.len());
    let mut shift: isize = 0;
    for ((range, value), change) in &sorted {
        let Some(quoted) = simple_value(before, range) else {
            return false;
        };
        if value.is_empty()
            || !value.bytes().all(|b| {
                b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b':' | b'/' | b'@')
            })
        {
            return false;
        }
        let Some(start) = range.start.checked_add_signed(shift) else {
            return false;
        };
        let token_start = start - usize::from(quoted);
        let index = if ascii {
            token_start
        } else {
            match after.get(..token_start) {
                Some(prefix) => prefix.chars().count(),
                None => return false,
            }
        };
        wanted.push((index, change.line, value.as_str()));
        shift += value.len() as isize - range.len() as isize;
    }
    let mut found = 0;
    for event in Parser::new_from_str(after) {
        let Ok((event, span)) = event else {
            return false;
        };
        if let Event::Scalar(value, ..) = &event
            && let Ok(at) = wanted.binary_search_by_key(&span.start.index(), |w| w.0)
        {
            let (_, line, new) = wanted[at];
            if value != new || span.start.line() != line {
                return false;
            }
            found += 1;
        }
    }
    found == wanted.len()
}

fn is_yaml_name(path: &Path) -> bool {
    match path.extension().and_then(|e| e.to_str()) {
        Some(ext) => ext.eq_ignore_ascii_case("yaml") || ext.eq_ignore_ascii_case("yml"),
        None => path.file_name().is_some_and(|n| n == "Kustomization"),
    }
}

/// Checks that `after` parses as YAML and that its event stream equals `before`'s except
/// for the scalars that start on the edited lines, which must hold the new values.
/// A file matched by a non-YAML glob that does not parse before the edit is not checked.
fn verify(
    path: &Path,
    before: &str,
    after: &str,
    expected: &BTreeMap<usize, (&str, &str)>,
) -> Result<(), Refusal> {
    let mut old = Parser::new_from_str(before);
    let mut new = Parser::new_from_str(after);
    let mut seen = 0;
    loop {
        let a = old.next();
        let b = new.next();
        let (a, b) = match (a, b) {
            (None, None) => break,
            (Some(Err(err)), _) => {
                if is_yaml_name(path) {
                    return Err(Refusal::File(format!(
                        "does not parse as YAML at line {}: {}",
                        err.marker().line(),
                        err.info()
                    )));
                }
                return Ok(());
            }
            (Some(Ok(_)), Some(Err(err))) => {
                return Err(Refusal::Edit(format!(
                    "the edit would break the YAML at line {}: {}",
                    err.marker().line(),
                    err.info()
                )));
            }
            (Some(Ok(a)), Some(Ok(b))) => (a, b),
            _ => {
                return Err(Refusal::Edit(
                    "the edit changed the document's structure".to_string(),
                ));
            }
        };
        match (&a.0, &b.0) {
            (Event::Scalar(va, sa, aa, ta), Event::Scalar(vb, sb, ab, tb)) => {
                if sa != sb || aa != ab || ta != tb {
                    return Err(Refusal::Edit(format!(
                        "the edit changed a scalar's style at line {}",
                        b.1.start.line()
                    )));
                }
                let line = b.1.start.line();
                if let Some((from, to)) = expected.get(&line)
                    && va == from
                    && vb == to
                {
                    seen += 1;
                } else if va != vb {
                    return Err(Refusal::Edit(format!(
                        "the marked text is part of a longer value that starts at line {line} (a block scalar or a multi-line value): mark a value that stands on its own line"
                    )));
                }
            }
            (ea, eb) if ea == eb => {}
            _ => {
                return Err(Refusal::Edit(format!(
                    "the edit changed the document's structure at line {}",
                    b.1.start.line()
                )));
            }
        }
    }
    if seen != expected.len() {
        let lines: Vec<String> = expected.keys().map(ToString::to_string).collect();
        return Err(Refusal::Edit(format!(
            "the marked values on lines {} are not all plain YAML scalars the parser sees",
            lines.join(", ")
        )));
    }
    Ok(())
}

/// Why edits could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// The file changed on disk since it was scanned.
    #[error("{0} changed since it was scanned: nothing was written to it")]
    Changed(PathBuf),
    /// The path is not a regular file inside the repository.
    #[error("{0} is not a regular file inside the repository: nothing was written to it")]
    NotRegular(PathBuf),
    /// The file has other hard links, which an edit in place would change too.
    #[error(
        "{0} has other hard links, which an edit in place would change too: nothing was written to it (remove the other links)"
    )]
    HardLinked(PathBuf),
    /// Reading, writing or renaming failed.
    #[error("cannot write {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The reason.
        #[source]
        source: std::io::Error,
    },
}

/// Writes every edit of the plan under `root`: see [`apply_edits`].
pub fn apply(root: &Path, plan: &Plan) -> Result<usize, ApplyError> {
    apply_edits(root, &plan.edits)
}

/// Writes `edits` into the files under `root` (Baton's own clone), several files at a time.
/// Returns how many files were written.
///
/// Each file is checked first (a regular file inside `root`, reached without following a
/// link, with no other hard link, holding exactly the bytes scanned) and then rewritten in
/// place through the descriptor that was checked: no temporary file, no new inode, no
/// rename. A reader of the clone could see a file half-written, and a crash could leave one
/// so; the clone is private and the next sync puts back every file that differs from the
/// branch. Not fsynced: what must last is the commit.
///
/// On a failure the error is the one of the first failing file in `edits`' order, as if the
/// files were written one by one: every file before it has been written, it is left as it
/// was when a check refused it, and a file after it is either untouched or completely written
/// (a worker may have taken it before the failure).
pub fn apply_edits(root: &Path, edits: &[FileEdit]) -> Result<usize, ApplyError> {
    if edits.is_empty() {
        return Ok(0);
    }
    let real_root = root.canonicalize().map_err(|source| ApplyError::Io {
        path: root.to_path_buf(),
        source,
    })?;
    let threads = worker_threads(edits.len());
    // Workers take the files in order; once a file fails, none after it is started, while
    // every file before it (already taken) is finished, so the lowest failing index is the
    // failure a one-by-one write would have stopped at.
    let next = AtomicUsize::new(0);
    let first_failure = AtomicUsize::new(usize::MAX);
    let failures: Mutex<Vec<(usize, ApplyError)>> = Mutex::new(Vec::new());
    let written = AtomicUsize::new(0);
    let work = || {
        let mut dirs = HashSet::new();
        loop {
            let index = next.fetch_add(1, Ordering::Relaxed);
            if index >= edits.len() || index > first_failure.load(Ordering::Relaxed) {
                return;
            }
            let edit = &edits[index];
            match write_edit(&real_root, edit, &mut dirs) {
                Ok(()) => {
                    written.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(path = %edit.path.display(), changes = edit.changes.len(), "edited file");
                }
                Err(err) => {
                    first_failure.fetch_min(index, Ordering::Relaxed);
                    failures
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .push((index, err));
                }
            }
        }
    };
    if threads <= 1 {
        work();
    } else {
        std::thread::scope(|s| {
            for _ in 0..threads {
                s.spawn(work);
            }
        });
    }
    let failures = failures
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    match failures.into_iter().min_by_key(|(index, _)| *index) {
        Some((_, err)) => Err(err),
        None => Ok(written.into_inner()),
    }
}

/// How many threads write `files` files: one per core (at most 8), none idle.
fn worker_threads(files: usize) -> usize {
    std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(8)
        .min(files)
}

/// Writes one edit under `real_root` (the repository root with its links resolved).
/// `dirs` holds the directories, relative to the root, already found to be real directories
/// (a worker's own, so each is looked at once per `apply`).
fn write_edit(
    real_root: &Path,
    edit: &FileEdit,
    dirs: &mut HashSet<PathBuf>,
) -> Result<(), ApplyError> {
    use std::os::unix::fs::OpenOptionsExt;
    let not_regular = || ApplyError::NotRegular(edit.path.clone());
    if edit.path.is_absolute()
        || edit
            .path
            .components()
            .any(|c| !matches!(c, std::path::Component::Normal(_)))
    {
        return Err(not_regular());
    }
    let io = |source| ApplyError::Io {
        path: edit.path.clone(),
        source,
    };
    // Every directory on the way is a real directory inside the repository: a symbolic link
    // could lead anywhere, so none is followed.
    let parent = edit.path.parent().unwrap_or(Path::new(""));
    let mut walked = PathBuf::new();
    for component in parent.components() {
        walked.push(component);
        if dirs.contains(&walked) {
            continue;
        }
        let meta = std::fs::symlink_metadata(real_root.join(&walked)).map_err(io)?;
        if !meta.file_type().is_dir() {
            return Err(not_regular());
        }
        dirs.insert(walked.clone());
    }
    let path = real_root.join(&edit.path);
    // The file itself: opened without following a link (and without blocking on a FIFO),
    // then checked to be a regular file with no other link holding exactly the text that
    // was scanned.
    let current = match std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(&path)
    {
        Ok(file) => file,
        Err(err) if err.raw_os_error() == Some(libc::ELOOP) => return Err(not_regular()),
        Err(err) => return Err(io(err)),
    };
    let meta = current.metadata().map_err(io)?;
    if !meta.file_type().is_file() {
        return Err(not_regular());
    }
    if std::os::unix::fs::MetadataExt::nlink(&meta) > 1 {
        return Err(ApplyError::HardLinked(edit.path.clone()));
    }
    let scanned_len = match &edit.before {
        Text::Held(text) => text.len() as u64,
        Text::File { len, .. } => *len,
    };
    if meta.len() != scanned_len {
        return Err(ApplyError::Changed(edit.path.clone()));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(scanned_len).unwrap_or(0));
    (&current)
        .take(scanned_len.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(io)?;
    let after = match std::str::from_utf8(&bytes) {
        Ok(text) if edit.before.holds(&bytes) => edit_text(text, &edit.replacements),
        _ => return Err(ApplyError::Changed(edit.path.clone())),
    };
    // In place, through the descriptor just checked. A new file renamed over the old one
    // would make a new inode per file: on ext4 that also starts the new file's write-out at
    // the rename, and without a journal each new inode is found by skipping every recently
    // deleted one (see docs/performance.md).
    std::os::unix::fs::FileExt::write_all_at(&current, after.as_bytes(), 0).map_err(io)?;
    let new_len = after.len() as u64;
    if new_len < scanned_len {
        current.set_len(new_len).map_err(io)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::markers::scan::scan_text;
    use std::sync::Arc;

    const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn plan_text(text: &str, resolved: Resolved) -> Plan {
        let (markers, problems) = scan_text(Path::new("f.yaml"), text);
        let scan = Scan {
            files: vec![FileScan {
                path: PathBuf::from("f.yaml"),
                markers,
                text: crate::markers::Text::Held(Arc::from(text)),
            }],
            problems,
            ..Scan::default()
        };
        plan(&scan, &|m: &Marker| {
            (m.policy != "unknown").then(|| resolved.clone())
        })
    }

    fn resolved(tag: &str, digest: Option<&str>) -> Resolved {
        Resolved {
            repository: "ghcr.io/acme/app".to_string(),
            tag: tag.to_string(),
            digest: digest.map(str::to_string),
        }
    }

    #[test]
    fn edits_only_the_marked_scalar() {
        let text = "\u{feff}kind: X\r\nspec:\r\n  image: \"ghcr.io/acme/app:1.0\" # {\"$baton\": \"app\"}\r\n  other: ghcr.io/acme/app:1.0\r\n  tag: '1.0'   # {\"$imagepolicy\": \"ns:app:tag\"}";
        let p = plan_text(text, resolved("1.1", None));
        assert!(p.problems.is_empty(), "{:?}", p.problems);
        assert_eq!(p.edits.len(), 1);
        assert_eq!(
            p.edits[0].after().unwrap(),
            text.replace("app:1.0\" #", "app:1.1\" #")
                .replace("'1.0'", "'1.1'")
        );
        assert_eq!(p.edits[0].changes.len(), 2);
    }

    #[test]
    fn pins_digests_and_keeps_name_spelling() {
        let text = "image: docker.io/library/nginx:1.0 # {\"$baton\": \"app\"}\ndigest: sha256:aa # {\"$baton\": \"app:digest\"}\n";
        let (markers, _) = scan_text(Path::new("f.yaml"), text);
        let r = Resolved {
            repository: "nginx".to_string(),
            tag: "1.1".to_string(),
            digest: Some(DIGEST.to_string()),
        };
        assert_eq!(
            new_value(&markers[0], &r),
            Ok(Some(format!("docker.io/library/nginx:1.1@{DIGEST}")))
        );
        assert_eq!(new_value(&markers[1], &r), Ok(Some(DIGEST.to_string())));
        let no_digest = Resolved { digest: None, ..r };
        assert_eq!(new_value(&markers[1], &no_digest), Ok(None));
    }

    #[test]
    fn never_writes_invalid_values() {
        for bad in ["1.0\nevil: x", "", "-x", "a b"] {
            let p = plan_text(
                "image: app:1.0 # {\"$baton\": \"app\"}\n",
                resolved(bad, None),
            );
            assert!(p.edits.is_empty(), "{bad:?}");
            assert!(
                p.problems[0].message.contains("not valid")
                    || p.problems[0].message.contains("neither")
            );
        }
        let p = plan_text(
            "d: x # {\"$baton\": \"app:digest\"}\n",
            resolved("1", Some("sha256:short")),
        );
        assert!(p.edits.is_empty());
    }

    #[test]
    fn holds_unknown_policies_and_no_change() {
        let text = "a: app:1.0 # {\"$baton\": \"app\", \"hold\": \"INC-9\"}\nb: app:1.0 # {\"$baton\": \"unknown\"}\nc: ghcr.io/acme/app:1.1 # {\"$baton\": \"app\"}\n";
        let p = plan_text(text, resolved("1.1", None));
        assert!(p.edits.is_empty());
        assert_eq!(p.held.len(), 1);
        assert_eq!(p.problems.len(), 1);
        assert!(
            p.problems[0]
                .to_string()
                .starts_with("f.yaml:2: marker names policy \"unknown\"")
        );
    }

    #[test]
    fn refuses_edits_the_parser_does_not_confirm() {
        // A marker inside a literal block scalar looks like a mapping line but is text.
        let text = "script: |\n  image: app:1.0 # {\"$baton\": \"app\"}\n";
        let p = plan_text(text, resolved("1.1", None));
        assert!(p.edits.is_empty());
        assert!(
            p.problems[0].message.contains("left unchanged"),
            "{:?}",
            p.problems
        );
        // A file that does not parse is left alone.
        let p = plan_text(
            "a: [\nimage: app:1.0 # {\"$baton\": \"app\"}\n",
            resolved("1.1", None),
        );
        assert!(p.edits.is_empty());
        assert!(
            p.problems[0].message.contains("does not parse"),
            "{:?}",
            p.problems
        );
    }

    /// The one-parse check accepts the usual forms and hands everything else to `verify`.
    #[test]
    fn quick_check_takes_simple_values_only() {
        let quick = |text: &str| {
            let (markers, _) = scan_text(Path::new("f.yaml"), text);
            let r = resolved("1.1", None);
            let replacements: Vec<(Range<usize>, String)> = markers
                .iter()
                .map(|m| (m.span.clone(), new_value(m, &r).unwrap().unwrap()))
                .collect();
            let changes: Vec<Change> = markers
                .iter()
                .zip(&replacements)
                .map(|(m, (_, to))| Change {
                    line: m.line,
                    policy: m.policy.clone(),
                    field: m.field,
                    from: m.current.clone(),
                    to: to.clone(),
                })
                .collect();
            let after = edit_text(text, &replacements);
            quick_verify(text, &after, &replacements, &changes)
        };
        let m = "# {\"$baton\": \"app\"}";
        assert!(quick(&format!("image: app:1.0 {m}\n")));
        assert!(quick(&format!(
            "a:\n  - \"app:1.0\" {m}\n  - 'app:1.0' {m}\n"
        )));
        assert!(quick(&format!(
            "\u{feff}é: x\nimage: app:1.0 {m}\r\ntag: x\n"
        )));
        assert!(quick(&format!("k: [\n  app:1.0 {m}\n  ]\n")));
        // Inside a block scalar or a longer plain value: not one scalar of its own.
        assert!(!quick(&format!("script: |\n  image: app:1.0 {m}\n")));
        assert!(!quick(&format!("a: first\n  app:1.0 {m}\n")));
        // Old values outside the simple alphabet go to the full comparison.
        assert!(!quick(&format!("k: [\n  a, app:1.0 {m}\n  ]\n")));
        assert!(!quick(&format!("- ? app:1.0 {m}\n")));
        assert!(!quick(&format!("image: hello world {m}\n")));
        // Found by the fuzzer: a control character makes the old text unparseable.
        assert!(!quick(&format!("image: \"app\u{0}:1.0\" {m}\n")));
        assert!(!quick(&format!("image: 'app\u{1}:1.0' {m}\n")));
    }

    /// Found by the fuzzer: a control character inside a marked quoted value made the file
    /// unparseable, and the one-parse check, which only saw the edited text, let it through.
    #[test]
    fn never_edits_a_file_that_does_not_parse() {
        let text = "a: ghcr.io/acme/app:1.0 # {\"$baton\": \"app\"}\nb: \"ghcr.io\u{0}/acme/app:1.0\" # {\"$baton\": \"app\"}\n";
        let p = plan_text(text, resolved("1.1", None));
        assert!(p.edits.is_empty(), "{:?}", p.edits);
        assert!(
            p.problems[0].message.contains("does not parse"),
            "{:?}",
            p.problems
        );
    }

    #[test]
    fn applies_in_place_and_refuses_changed_files() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.yaml");
        let inode = |p: &Path| std::fs::metadata(p).unwrap().ino();
        // A longer value, then a shorter one (the file is cut to its new length).
        let text = "image: app:1.0 # {\"$baton\": \"app\"}\n";
        std::fs::write(&path, text).unwrap();
        let before = inode(&path);
        let p = plan_text(text, resolved("1.1", None));
        assert_eq!(apply(dir.path(), &p).unwrap(), 1);
        let longer = "image: ghcr.io/acme/app:1.1 # {\"$baton\": \"app\"}\n";
        assert_eq!(std::fs::read_to_string(&path).unwrap(), longer);
        assert!(matches!(apply(dir.path(), &p), Err(ApplyError::Changed(_))));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), longer);
        let shorter = plan_text(longer, resolved("2", None));
        assert_eq!(apply(dir.path(), &shorter).unwrap(), 1);
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "image: ghcr.io/acme/app:2 # {\"$baton\": \"app\"}\n"
        );
        assert_eq!(inode(&path), before, "written in place");
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no other file made"
        );
    }

    /// A plan editing `count` files `dir/d{i}/f.yaml`, each holding one marker.
    fn plan_files(dir: &Path, count: usize) -> (Plan, String) {
        let text = "image: app:1.0 # {\"$baton\": \"app\"}\n".to_string();
        let mut files = Vec::new();
        for i in 0..count {
            let path = PathBuf::from(format!("d{i:03}/f.yaml"));
            std::fs::create_dir_all(dir.join(path.parent().unwrap())).unwrap();
            std::fs::write(dir.join(&path), &text).unwrap();
            let (markers, _) = scan_text(&path, &text);
            files.push(FileScan {
                path,
                markers,
                text: Text::Held(Arc::from(text.as_str())),
            });
        }
        let scan = Scan {
            files,
            ..Scan::default()
        };
        let r = resolved("1.1", None);
        let plan = plan(&scan, &|_: &Marker| Some(r.clone()));
        assert_eq!(plan.edits.len(), count);
        (plan, text)
    }

    /// Every file under `dir`.
    fn files_under(dir: &Path) -> Vec<PathBuf> {
        let mut out = Vec::new();
        let mut stack = vec![dir.to_path_buf()];
        while let Some(d) = stack.pop() {
            for entry in std::fs::read_dir(&d).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() && !path.is_symlink() {
                    stack.push(path);
                } else {
                    out.push(path);
                }
            }
        }
        out
    }

    /// Files are written several at a time, but a failure is reported as a one-by-one write
    /// would: the first failing file in the plan's order, by path, with every file before it
    /// written, the failing file untouched, and every other file whole (old or new).
    #[test]
    fn parallel_apply_reports_the_first_failing_file_and_writes_nothing_partial() {
        let dir = tempfile::tempdir().unwrap();
        let (plan, old) = plan_files(dir.path(), 64);
        let new = plan.edits[0].after().unwrap();
        // Two files changed on disk since the scan: the 21st and the 50th.
        let changed = |i: usize| dir.path().join(&plan.edits[i].path);
        // The same every time, however the threads happen to run.
        for _ in 0..5 {
            for edit in &plan.edits {
                std::fs::write(dir.path().join(&edit.path), &old).unwrap();
            }
            std::fs::write(changed(20), "image: app:0.9 # {\"$baton\": \"app\"}\n").unwrap();
            std::fs::write(changed(49), "edited by hand\n").unwrap();
            match apply(dir.path(), &plan) {
                Err(ApplyError::Changed(path)) => assert_eq!(path, plan.edits[20].path),
                other => panic!("expected the 21st file to be refused: {other:?}"),
            }
            for (i, edit) in plan.edits.iter().enumerate() {
                let now = std::fs::read_to_string(dir.path().join(&edit.path)).unwrap();
                match i {
                    20 => assert_eq!(now, "image: app:0.9 # {\"$baton\": \"app\"}\n"),
                    49 => assert_eq!(now, "edited by hand\n"),
                    i if i < 20 => assert_eq!(now, new, "file {i}"),
                    i => assert!(now == old || now == new, "file {i}: {now:?}"),
                }
            }
            assert_eq!(files_under(dir.path()).len(), 64, "no other file made");
        }
        // Once the files hold what was scanned, every one is written.
        std::fs::write(changed(20), &old).unwrap();
        std::fs::write(changed(49), &old).unwrap();
        let (again, _) = plan_files(dir.path(), 64);
        assert_eq!(apply(dir.path(), &again).unwrap(), 64);
        for edit in &again.edits {
            assert_eq!(
                std::fs::read_to_string(dir.path().join(&edit.path)).unwrap(),
                new
            );
        }
    }

    /// Nothing is written through a symbolic link, a hard link or outside the repository, and
    /// a file keeps its permissions.
    #[test]
    fn apply_refuses_links_and_paths_outside_and_keeps_permissions() {
        use std::os::unix::fs::PermissionsExt;
        let outside = tempfile::tempdir().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let (plan, old) = plan_files(dir.path(), 5);
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        let first = dir.path().join(&plan.edits[0].path);
        std::fs::set_permissions(&first, std::fs::Permissions::from_mode(0o640)).unwrap();
        // The second file's directory becomes a link to a directory outside holding the same
        // text; the third file becomes a link to a file outside.
        std::fs::write(outside.path().join("f.yaml"), &old).unwrap();
        let second = dir.path().join(plan.edits[1].path.parent().unwrap());
        std::fs::remove_dir_all(&second).unwrap();
        std::os::unix::fs::symlink(outside.path(), &second).unwrap();
        let only = |i: usize| Plan {
            edits: vec![plan.edits[i].clone()],
            ..Plan::default()
        };
        assert_eq!(apply(dir.path(), &only(0)).unwrap(), 1);
        assert_eq!(mode(&first), 0o640);
        assert!(matches!(
            apply(dir.path(), &only(1)),
            Err(ApplyError::NotRegular(p)) if p == plan.edits[1].path
        ));
        let third = dir.path().join(&plan.edits[2].path);
        std::fs::remove_file(&third).unwrap();
        std::os::unix::fs::symlink(outside.path().join("f.yaml"), &third).unwrap();
        assert!(matches!(
            apply(dir.path(), &only(2)),
            Err(ApplyError::NotRegular(_))
        ));
        // A FIFO where the file was: refused at once, not waited on.
        let fourth = dir.path().join(&plan.edits[3].path);
        std::fs::remove_file(&fourth).unwrap();
        let c_path = std::ffi::CString::new(fourth.as_os_str().as_encoded_bytes()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
        assert!(matches!(
            apply(dir.path(), &only(3)),
            Err(ApplyError::NotRegular(_))
        ));
        // A file with a second name outside: an edit in place would change that one too.
        let fifth = dir.path().join(&plan.edits[4].path);
        std::fs::hard_link(&fifth, outside.path().join("linked.yaml")).unwrap();
        assert!(matches!(
            apply(dir.path(), &only(4)),
            Err(ApplyError::HardLinked(p)) if p == plan.edits[4].path
        ));
        let mut escaping = only(0);
        escaping.edits[0].path = PathBuf::from("../f.yaml");
        assert!(matches!(
            apply(dir.path(), &escaping),
            Err(ApplyError::NotRegular(_))
        ));
        assert_eq!(
            std::fs::read_to_string(outside.path().join("f.yaml")).unwrap(),
            old
        );
        assert_eq!(
            std::fs::read_to_string(outside.path().join("linked.yaml")).unwrap(),
            old
        );
        assert_eq!(files_under(outside.path()).len(), 2, "no other file made");
    }
}
