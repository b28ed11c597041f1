//! `Workspace::commit_contents`: commits bytes from memory, then writes them to the work tree
//! and the index, keeping file modes and refusing paths that are not plain files inside it.

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

use crate::support::git_server::baton_side::{request, settings, staging_move};
use crate::support::git_server::{APP_PATH, BRANCH, BareRepo, git, write};
use baton::git::{GitError, Workspace};

#[tokio::test]
async fn commits_memory_contents_writes_work_tree_and_index() {
    let repo = BareRepo::seeded();
    // An executable file and a symbolic link in the seed.
    let writer = repo.writer();
    write(&writer.work.join("bin/run.sh"), "#!/bin/sh\necho 1\n");
    std::fs::set_permissions(
        writer.work.join("bin/run.sh"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    std::os::unix::fs::symlink("../clusters", writer.work.join("bin/link")).unwrap();
    git(&writer.work, &["add", "-A"]);
    git(
        &writer.work,
        &["commit", "--quiet", "-m", "Add script and link"],
    );
    git(&writer.work, &["push", "--quiet", "origin", BRANCH]);

    let state = tempfile::tempdir().unwrap();
    let ws = Workspace::open_or_clone(state.path(), &settings(&repo.file_url()))
        .await
        .unwrap();
    ws.sync().await.unwrap();
    let req = request(&staging_move("1.0.0", "1.1.0"), &[]);
    let new_app = "image: ghcr.io/example/app:1.1.0 # {\"$imagepolicy\": \"flux-system:app\"}\n";
    let commit = ws
        .commit_contents(
            &req,
            vec![
                (PathBuf::from(APP_PATH), new_app.as_bytes().to_vec()),
                (PathBuf::from("bin/run.sh"), b"#!/bin/sh\necho 2\n".to_vec()),
            ],
        )
        .await
        .unwrap()
        .expect("a commit");
    assert_eq!(ws.head().unwrap(), commit);
    let tree = git(ws.work_tree(), &["ls-tree", "-r", "HEAD"]);
    assert!(
        tree.lines()
            .any(|l| l.starts_with("100755") && l.ends_with("bin/run.sh")),
        "{tree}"
    );
    assert_eq!(
        git(ws.work_tree(), &["show", &format!("HEAD:{APP_PATH}")]),
        new_app.trim_end()
    );
    assert_eq!(
        std::fs::read_to_string(ws.work_tree().join(APP_PATH)).unwrap(),
        new_app
    );
    // Work tree and index agree with the new HEAD.
    assert_eq!(git(ws.work_tree(), &["status", "--porcelain"]), "");

    // The same contents again: no commit.
    let same = ws
        .commit_contents(&req, vec![(PathBuf::from(APP_PATH), new_app.into())])
        .await
        .unwrap();
    assert_eq!(same, None);

    // A symbolic link, or a path through one, is refused and HEAD stays.
    for bad in ["bin/link", "bin/link/staging/app.yaml", "../outside.yaml"] {
        let err = ws
            .commit_contents(&req, vec![(PathBuf::from(bad), b"x: 1\n".to_vec())])
            .await
            .unwrap_err();
        assert!(matches!(err, GitError::BadPath { .. }), "{bad}: {err}");
        assert_eq!(ws.head().unwrap(), commit, "{bad}");
    }
    assert!(!state.path().join("outside.yaml").exists());
}

/// Contents handed over one file at a time: each file's bytes are asked for once for its blob
/// and once for the work tree, and the commit, the work tree and the index all hold them.
struct Counted {
    files: Vec<(PathBuf, Option<String>)>,
    asked: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl baton::git::NewContents for Counted {
    fn count(&self) -> usize {
        self.files.len()
    }
    fn path(&self, index: usize) -> &std::path::Path {
        &self.files[index].0
    }
    fn bytes(&self, index: usize) -> Result<std::borrow::Cow<'_, [u8]>, String> {
        self.asked.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        match &self.files[index].1 {
            Some(text) => Ok(std::borrow::Cow::Owned(text.clone().into_bytes())),
            None => Err("the file changed since it was scanned".to_string()),
        }
    }
}

#[tokio::test]
async fn contents_made_on_demand_are_asked_for_once_per_use() {
    let repo = BareRepo::seeded();
    let state = tempfile::tempdir().unwrap();
    let ws = Workspace::open_or_clone(state.path(), &settings(&repo.file_url()))
        .await
        .unwrap();
    ws.sync().await.unwrap();
    let req = request(&staging_move("1.0.0", "1.1.0"), &[]);
    let asked = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let files = vec![
        (
            PathBuf::from(APP_PATH),
            Some(
                "image: ghcr.io/example/app:1.1.0 # {\"$imagepolicy\": \"flux-system:app\"}\n"
                    .to_string(),
            ),
        ),
        (
            PathBuf::from("new/dir/added.yaml"),
            Some("a: 1\n".to_string()),
        ),
    ];
    let commit = ws
        .commit_contents(
            &req,
            Counted {
                files: files.clone(),
                asked: asked.clone(),
            },
        )
        .await
        .unwrap()
        .expect("a commit");
    assert_eq!(asked.load(std::sync::atomic::Ordering::SeqCst), 4);
    assert_eq!(ws.head().unwrap(), commit);
    for (path, text) in &files {
        let path = path.to_str().unwrap();
        let text = text.as_ref().unwrap();
        assert_eq!(
            git(ws.work_tree(), &["show", &format!("HEAD:{path}")]),
            text.trim_end()
        );
        assert_eq!(
            std::fs::read_to_string(ws.work_tree().join(path)).unwrap(),
            *text
        );
    }
    assert_eq!(git(ws.work_tree(), &["status", "--porcelain"]), "");

    // Contents that cannot be had: no commit, and the work tree left as it was.
    let err = ws
        .commit_contents(
            &req,
            Counted {
                files: vec![
                    (PathBuf::from(APP_PATH), Some("a: 2\n".to_string())),
                    (PathBuf::from("new/dir/added.yaml"), None),
                ],
                asked: asked.clone(),
            },
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("new/dir/added.yaml"), "{err}");
    assert!(
        err.to_string().contains("changed since it was scanned"),
        "{err}"
    );
    assert_eq!(ws.head().unwrap(), commit);
    assert_eq!(git(ws.work_tree(), &["status", "--porcelain"]), "");

    // A refused path is refused before any content is asked for.
    asked.store(0, std::sync::atomic::Ordering::SeqCst);
    let err = ws
        .commit_contents(
            &req,
            Counted {
                files: vec![(PathBuf::from("../outside.yaml"), Some("x: 1\n".to_string()))],
                asked: asked.clone(),
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(err, GitError::BadPath { .. }), "{err}");
    assert_eq!(asked.load(std::sync::atomic::Ordering::SeqCst), 0);
    assert_eq!(ws.head().unwrap(), commit);
}
