//! Reading a range of commits from a repository on disk (a CI checkout, or the bare
//! repository a pre-receive hook runs in, whose quarantined objects git finds through the
//! hook's environment): which commits, their time, author, message and parents, the files
//! each changes, and file contents at a commit. Every revision given from outside is checked
//! to name a commit before use, and nothing read is unbounded.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The largest file read at a commit; larger ones are reported as skipped.
pub const MAX_BLOB: usize = 1 << 20;

/// One commit of the range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RangeCommit {
    /// The full id.
    pub id: String,
    /// Parent ids (two or more for a merge).
    pub parents: Vec<String>,
    /// Committer time, seconds since the epoch (when it was made).
    pub time: i64,
    /// `Name <email>` of the author.
    pub author: String,
    /// The whole message.
    pub message: String,
}

/// A repository read with the system `git`, in `dir`, with the caller's environment (so a
/// pre-receive hook's quarantine is seen).
#[derive(Debug, Clone)]
pub struct RangeReader {
    dir: PathBuf,
}

impl RangeReader {
    /// A reader of the repository at `dir` (a work tree or a bare repository).
    pub fn new(dir: &Path) -> RangeReader {
        RangeReader {
            dir: dir.to_path_buf(),
        }
    }

    fn git(&self, args: &[&str]) -> Result<Vec<u8>, String> {
        let out = Command::new("git")
            .arg("-C")
            .arg(&self.dir)
            .args(args)
            .output()
            .map_err(|e| format!("cannot run git: {e}"))?;
        if out.status.success() {
            Ok(out.stdout)
        } else {
            Err(crate::common::text::one_line(&String::from_utf8_lossy(
                &out.stderr,
            )))
        }
    }

    fn text(&self, args: &[&str]) -> Result<String, String> {
        self.git(args)
            .map(|b| String::from_utf8_lossy(&b).trim_end().to_string())
    }

    /// The commit `rev` names, as a full id; an error for anything else (an option, a tree,
    /// an unknown name).
    pub fn resolve(&self, rev: &str) -> Result<String, String> {
        if rev.is_empty() || rev.starts_with('-') || rev.chars().any(|c| c.is_control()) {
            return Err(format!("{rev:?} is not a revision"));
        }
        let spec = format!("{rev}^{{commit}}");
        self.text(&[
            "rev-parse",
            "--verify",
            "--quiet",
            "--end-of-options",
            &spec,
        ])
        .ok()
        .filter(|id| !id.is_empty())
        .ok_or_else(|| format!("{rev:?} does not name a commit in {}", self.dir.display()))
    }

    /// The commits in `from..to`, oldest first; with `from` = `None` (a new branch) those of
    /// `to` that no existing branch has. At most `limit`: more is an error.
    pub fn commits(
        &self,
        from: Option<&str>,
        to: &str,
        limit: usize,
    ) -> Result<Vec<String>, String> {
        let max = (limit + 1).to_string();
        let range = from.map(|f| format!("{f}..{to}"));
        let mut args = vec!["rev-list", "--topo-order", "--reverse", "--max-count", &max];
        match &range {
            Some(r) => args.extend(["--end-of-options", r.as_str()]),
            None => args.extend(["--end-of-options", to, "--not", "--branches"]),
        }
        let ids: Vec<String> = self.text(&args)?.lines().map(str::to_string).collect();
        if ids.len() > limit {
            return Err(format!(
                "the range holds more than {limit} commits: check a shorter range, or raise --limit"
            ));
        }
        Ok(ids)
    }

    /// Time, author, message and parents of commit `id`.
    pub fn commit(&self, id: &str) -> Result<RangeCommit, String> {
        let raw = self.text(&["show", "-s", "--format=%P%x00%ct%x00%an <%ae>%x00%B", id])?;
        let mut parts = raw.splitn(4, '\0');
        let parents = parts
            .next()
            .unwrap_or_default()
            .split_whitespace()
            .map(str::to_string)
            .collect();
        let time = parts
            .next()
            .and_then(|t| t.trim().parse().ok())
            .ok_or_else(|| format!("commit {id} has no readable time"))?;
        Ok(RangeCommit {
            id: id.to_string(),
            parents,
            time,
            author: parts.next().unwrap_or_default().to_string(),
            message: parts.next().unwrap_or_default().to_string(),
        })
    }

    /// The files commit `c` changes: against its parent (or, for a root, everything); for a
    /// merge, the files whose content differs from every parent (what the merge itself made).
    pub fn changed_files(&self, c: &RangeCommit) -> Result<Vec<PathBuf>, String> {
        let out = match c.parents.len() {
            0 => self.git(&[
                "diff-tree",
                "-r",
                "-z",
                "--no-commit-id",
                "--name-only",
                "--root",
                &c.id,
            ])?,
            1 => self.git(&[
                "diff-tree",
                "-r",
                "-z",
                "--no-commit-id",
                "--name-only",
                &c.parents[0],
                &c.id,
            ])?,
            _ => self.git(&[
                "diff-tree",
                "-r",
                "-z",
                "--no-commit-id",
                "--name-only",
                "--cc",
                &c.id,
            ])?,
        };
        Ok(out
            .split(|b| *b == 0)
            .filter(|p| !p.is_empty())
            .map(|p| PathBuf::from(String::from_utf8_lossy(p).into_owned()))
            .collect())
    }

    /// The text of `path` at `commit`; `Ok(None)` when it does not exist there, is not text
    /// or is larger than [`MAX_BLOB`].
    pub fn file(&self, commit: &str, path: &Path) -> Result<Option<String>, String> {
        let spec = format!("{commit}:{}", path.display());
        let size = match self.text(&["cat-file", "-s", &spec]) {
            Ok(size) => size.parse::<usize>().unwrap_or(usize::MAX),
            Err(_) => return Ok(None),
        };
        if size > MAX_BLOB {
            return Ok(None);
        }
        let bytes = self.git(&["cat-file", "blob", &spec])?;
        Ok(String::from_utf8(bytes).ok())
    }

    /// The files under `paths` at `commit` (at most `limit`).
    pub fn files_under(
        &self,
        commit: &str,
        paths: &[PathBuf],
        limit: usize,
    ) -> Result<Vec<PathBuf>, String> {
        let args = with_paths(&["ls-tree", "-r", "-z", "--name-only", commit, "--"], paths);
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        Ok(self
            .git(&refs)?
            .split(|b| *b == 0)
            .filter(|p| !p.is_empty())
            .take(limit)
            .map(|p| PathBuf::from(String::from_utf8_lossy(p).into_owned()))
            .collect())
    }

    /// The commits reachable from `commit` (itself included) that changed something under
    /// `paths`, newest first, with their commit times; at most `limit`.
    pub fn path_history(
        &self,
        commit: &str,
        paths: &[PathBuf],
        limit: usize,
    ) -> Result<Vec<(String, i64)>, String> {
        let max = limit.to_string();
        let args = with_paths(
            &[
                "log",
                "--first-parent",
                "--format=%H %ct",
                "--max-count",
                &max,
                commit,
                "--",
            ],
            paths,
        );
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        Ok(self
            .text(&refs)?
            .lines()
            .filter_map(|l| {
                let (id, t) = l.split_once(' ')?;
                Some((id.to_string(), t.parse().ok()?))
            })
            .collect())
    }

    /// Whether the repository has Baton's notes ref, `refs/notes/baton`.
    pub fn has_notes(&self) -> bool {
        self.text(&[
            "rev-parse",
            "--verify",
            "--quiet",
            "--end-of-options",
            super::NOTES_REF,
        ])
        .is_ok_and(|id| !id.is_empty())
    }

    /// The text of the note on `commit` under `refs/notes/baton`; `Ok(None)` without one, or
    /// when it is larger than [`super::notes::MAX_NOTE`] or not text.
    pub fn note(&self, commit: &str) -> Result<Option<String>, String> {
        let notes_ref = format!("--ref={}", super::NOTES_REF);
        let Ok(blob) = self.text(&["notes", &notes_ref, "list", commit]) else {
            return Ok(None);
        };
        let blob = blob.trim();
        if blob.is_empty() || !blob.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(None);
        }
        let size = match self.text(&["cat-file", "-s", blob]) {
            Ok(size) => size.parse::<usize>().unwrap_or(usize::MAX),
            Err(_) => return Ok(None),
        };
        if size > super::notes::MAX_NOTE {
            return Ok(None);
        }
        let bytes = self.git(&["cat-file", "blob", blob])?;
        Ok(String::from_utf8(bytes).ok())
    }

    /// The commits reachable from `to` but not from `from` that changed something under
    /// `paths`, newest first; at most `limit`. With `from` = `None`, `to` alone.
    pub fn brought_in(
        &self,
        from: Option<&str>,
        to: &str,
        paths: &[PathBuf],
        limit: usize,
    ) -> Result<Vec<String>, String> {
        let Some(from) = from else {
            return Ok(vec![to.to_string()]);
        };
        let max = limit.to_string();
        let range = format!("{from}..{to}");
        let mut args: Vec<String> = ["rev-list", "--max-count", &max, &range, "--"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        args.extend(paths.iter().map(|p| p.display().to_string()));
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        Ok(self.text(&refs)?.lines().map(str::to_string).collect())
    }
}
/// `args` and then `paths`, as one git command line.
fn with_paths(args: &[&str], paths: &[PathBuf]) -> Vec<String> {
    args.iter()
        .map(|s| s.to_string())
        .chain(paths.iter().map(|p| p.display().to_string()))
        .collect()
}
