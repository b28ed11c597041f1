//! Turning policy choices into verified byte edits, and writing them atomically.

use std::collections::BTreeMap;
use std::io::Write;
use std::ops::Range;
use std::path::{Path, PathBuf};

use saphyr_parser::{Event, Parser};

use super::{Change, FileEdit, FileScan, Invalid, Marker, Plan, Problem, Resolved, Scan};

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

/// Writes every edit of the plan under `root`, each file atomically (temporary file in the
/// same directory, same permissions, then rename; not fsynced, see `write_edit`). Returns how many files were written.
/// Stops at the first failure; files written before it hold complete new contents.
pub fn apply(root: &Path, plan: &Plan) -> Result<usize, ApplyError> {
    if plan.edits.is_empty() {
        return Ok(0);
    }
    let real_root = root.canonicalize().map_err(|source| ApplyError::Io {
        path: root.to_path_buf(),
        source,
    })?;
    let mut written = 0;
    for edit in &plan.edits {
        write_edit(root, &real_root, edit)?;
        written += 1;
        tracing::debug!(path = %edit.path.display(), changes = edit.changes.len(), "edited file");
    }
    Ok(written)
}

fn write_edit(root: &Path, real_root: &Path, edit: &FileEdit) -> Result<(), ApplyError> {
    let not_regular = || ApplyError::NotRegular(edit.path.clone());
    if edit.path.is_absolute()
        || edit
            .path
            .components()
            .any(|c| !matches!(c, std::path::Component::Normal(_)))
    {
        return Err(not_regular());
    }
    let path = root.join(&edit.path);
    let io = |source| ApplyError::Io {
        path: edit.path.clone(),
        source,
    };
    let meta = std::fs::symlink_metadata(&path).map_err(io)?;
    if !meta.file_type().is_file() {
        return Err(not_regular());
    }
    // The directory must be inside the repository once symbolic links are resolved.
    let dir = path.parent().unwrap_or(root);
    let real_dir = dir.canonicalize().map_err(io)?;
    if !real_dir.starts_with(real_root) {
        return Err(not_regular());
    }
    let current = std::fs::read(&path).map_err(io)?;
    let after = match std::str::from_utf8(&current) {
        Ok(text) if edit.before.holds(&current) => edit_text(text, &edit.replacements),
        _ => return Err(ApplyError::Changed(edit.path.clone())),
    };
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let (temp, mut file) = create_temp(&real_dir, &file_name).map_err(io)?;
    let result = (|| {
        file.write_all(after.as_bytes())?;
        file.set_permissions(meta.permissions())?;
        // No fsync: the rename makes the write atomic for readers, and the work tree is a
        // disposable clone that the next pass re-applies; what must last is the commit.
        drop(file);
        std::fs::rename(&temp, real_dir.join(&file_name))
    })();
    if let Err(err) = result {
        let _ = std::fs::remove_file(&temp);
        return Err(io(err));
    }
    Ok(())
}

/// Creates a new temporary file next to the target. `create_new` refuses an existing path,
/// symbolic links included, so nothing planted in the repository is written through.
fn create_temp(dir: &Path, file_name: &str) -> std::io::Result<(PathBuf, std::fs::File)> {
    let mut last = None;
    for _ in 0..16 {
        let temp = dir.join(format!(
            ".{file_name}.baton-{}-{:016x}.tmp",
            std::process::id(),
            rand::random::<u64>()
        ));
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp)
        {
            Ok(file) => return Ok((temp, file)),
            Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => last = Some(err),
            Err(err) => return Err(err),
        }
    }
    Err(last.unwrap_or_else(|| std::io::Error::other("no free temporary file name")))
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
    fn applies_atomically_and_refuses_changed_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.yaml");
        let text = "image: app:1.0 # {\"$baton\": \"app\"}\n";
        std::fs::write(&path, text).unwrap();
        let p = plan_text(text, resolved("1.1", None));
        assert_eq!(apply(dir.path(), &p).unwrap(), 1);
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "image: ghcr.io/acme/app:1.1 # {\"$baton\": \"app\"}\n"
        );
        assert!(matches!(apply(dir.path(), &p), Err(ApplyError::Changed(_))));
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temporary file left"
        );
    }
}
