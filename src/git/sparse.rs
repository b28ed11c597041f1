//! Which part of the repository the clone's work tree holds: everything, or only the paths
//! passes read (a sparse checkout in cone mode with a sparse index), so that a pass costs in
//! proportion to those paths and not to the whole repository.

use std::collections::BTreeSet;
use std::path::{Component, Path, PathBuf};

use super::GitError;
use super::workspace::Workspace;

/// The part of the repository a work tree holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Checkout {
    /// Every file.
    Full,
    /// The files below these directories (or these files), plus, as git's cone mode has it,
    /// the files directly inside the root and inside each directory on the way to them.
    Paths(BTreeSet<PathBuf>),
}

impl Checkout {
    /// The checkout that holds the files of every environment in `environments`, each given
    /// by its paths: everything when one of them owns the whole repository (no paths, or the
    /// root). Paths that leave the repository (absolute, or through `..`) are left out: the
    /// scan refuses them with its own error.
    pub fn of<'a>(environments: impl IntoIterator<Item = &'a [PathBuf]>) -> Checkout {
        let mut paths = BTreeSet::new();
        for env in environments {
            if env.is_empty() {
                return Checkout::Full;
            }
            for path in env {
                match normal(path) {
                    Some(p) if p.as_os_str().is_empty() => return Checkout::Full,
                    Some(p) => {
                        paths.insert(p);
                    }
                    None => {}
                }
            }
        }
        Checkout::Paths(paths)
    }

    /// True when the work tree holds every file.
    pub fn is_full(&self) -> bool {
        matches!(self, Checkout::Full)
    }

    /// The input of `git sparse-checkout set --stdin`: one C-quoted path a line, so that no
    /// byte of a name (quote, backslash, line break) is read as anything but a name.
    fn stdin(&self) -> Vec<u8> {
        let mut out = Vec::new();
        if let Checkout::Paths(paths) = self {
            for path in paths {
                out.push(b'"');
                for &b in path.as_os_str().as_encoded_bytes() {
                    match b {
                        b'"' | b'\\' => out.extend_from_slice(&[b'\\', b]),
                        b'\n' => out.extend_from_slice(b"\\n"),
                        b if b < 0x20 || b == 0x7f => {
                            out.extend_from_slice(format!("\\{b:03o}").as_bytes());
                        }
                        b => out.push(b),
                    }
                }
                out.extend_from_slice(b"\"\n");
            }
        }
        out
    }
}

/// `path` with `.` components dropped, or `None` when it leaves the repository.
fn normal(path: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::Normal(part) => out.push(part),
            Component::CurDir => {}
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(out)
}

/// Where the paths of the current sparse checkout are recorded (inside `.git`, so a clone
/// moved aside or cloned again carries no stale record).
const RECORD: &str = "baton-checkout-paths";

impl Workspace {
    /// Makes every later sync (and reset) leave `checkout` in the work tree: widened or
    /// narrowed at the next one when it differs from what the work tree holds. Until this is
    /// called, a sync keeps what the clone holds (a new clone holds everything).
    pub fn limit_work_tree(&self, checkout: Checkout) {
        *self
            .wanted_checkout()
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(checkout);
    }

    /// Brings the clone's sparse-checkout settings in line with what was asked; called before
    /// the work tree is reset, which then writes and removes the files. Nothing runs when the
    /// clone already holds what is asked.
    pub(super) async fn apply_checkout(&self) -> Result<(), GitError> {
        let wanted = self
            .wanted_checkout()
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        let Some(wanted) = wanted else {
            return Ok(());
        };
        let dir = self.work_tree();
        let record = dir.join(".git").join(RECORD);
        let sparse = self.is_sparse()?;
        let io = |action, source| GitError::Io {
            action,
            path: record.clone(),
            source,
        };
        match &wanted {
            Checkout::Full => {
                if sparse {
                    tracing::info!(dir = %dir.display(), "work tree widened to the whole repository");
                    self.environment()
                        .local("sparse-checkout", dir)
                        .args(["sparse-checkout", "disable"])
                        .run()
                        .await?;
                }
                match std::fs::remove_file(&record) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                        return Err(io("cannot remove", e));
                    }
                    _ => {}
                }
            }
            Checkout::Paths(paths) => {
                let input = wanted.stdin();
                if sparse && std::fs::read(&record).is_ok_and(|r| r == input) {
                    return Ok(());
                }
                // Forgotten first, so that a set interrupted half-way is done again.
                match std::fs::remove_file(&record) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                        return Err(io("cannot remove", e));
                    }
                    _ => {}
                }
                tracing::info!(dir = %dir.display(), paths = paths.len(), "work tree limited to the environments' paths");
                self.environment()
                    .local("sparse-checkout", dir)
                    .args([
                        "-c",
                        "advice.sparseIndexExpanded=false",
                        "-c",
                        "advice.updateSparsePath=false",
                        "sparse-checkout",
                        "set",
                        "--cone",
                        "--sparse-index",
                        "--stdin",
                    ])
                    .stdin(input.clone())
                    .run()
                    .await?;
                std::fs::write(&record, &input).map_err(|e| io("cannot write", e))?;
            }
        }
        Ok(())
    }

    /// Whether the clone has a sparse checkout switched on.
    fn is_sparse(&self) -> Result<bool, GitError> {
        let repo = self.open_repo()?;
        Ok(repo
            .config_snapshot()
            .boolean("core.sparseCheckout")
            .unwrap_or(false))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(list: &[&str]) -> Vec<PathBuf> {
        list.iter().map(PathBuf::from).collect()
    }

    #[test]
    fn the_union_of_environments_or_everything() {
        let a = paths(&["clusters/prod", "./clusters/prod/", "apps/x.yaml"]);
        let b = paths(&["clusters/staging"]);
        assert_eq!(
            Checkout::of([a.as_slice(), b.as_slice()]),
            Checkout::Paths(
                ["apps/x.yaml", "clusters/prod", "clusters/staging"]
                    .iter()
                    .map(PathBuf::from)
                    .collect()
            )
        );
        // An environment owning the whole repository, or the root named as a path.
        assert!(Checkout::of([a.as_slice(), &[]]).is_full());
        assert!(Checkout::of([paths(&["."]).as_slice()]).is_full());
        // Paths leaving the repository are the scan's to refuse, not the checkout's to widen.
        assert_eq!(
            Checkout::of([paths(&["../x", "/etc", "a"]).as_slice()]),
            Checkout::Paths([PathBuf::from("a")].into_iter().collect())
        );
    }

    #[test]
    fn names_are_quoted_for_git() {
        let checkout =
            Checkout::of([paths(&["a\"b", "c\\d", "e\nf", "g\u{1}h", "i j"]).as_slice()]);
        assert_eq!(
            String::from_utf8(checkout.stdin()).unwrap(),
            "\"a\\\"b\"\n\"c\\\\d\"\n\"e\\nf\"\n\"g\\001h\"\n\"i j\"\n"
        );
    }
}
