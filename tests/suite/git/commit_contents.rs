//! `Workspace::commit_contents`: commits bytes from memory without any work tree, keeping file
//! modes and refusing paths that are not plain files inside the repository.

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

use crate::support::git_server::baton_side::{request, settings, staging_move};
use crate::support::git_server::{APP_PATH, BRANCH, BareRepo, git, git_command, write};
use baton::git::{GitError, Workspace};

#[tokio::test]
async fn commits_memory_contents_without_a_work_tree() {
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
    let req = request(&staging_move("1.0.0", "1.1.0"));
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
    let tree = git(ws.git_dir(), &["ls-tree", "-r", "HEAD"]);
    assert!(
        tree.lines()
            .any(|l| l.starts_with("100755") && l.ends_with("bin/run.sh")),
        "{tree}"
    );
    // The link is committed as it was.
    assert!(
        tree.lines()
            .any(|l| l.starts_with("120000") && l.ends_with("bin/link")),
        "{tree}"
    );
    let blob = git_command(
        ws.git_dir(),
        &["cat-file", "blob", &format!("HEAD:{APP_PATH}")],
    )
    .output()
    .unwrap();
    assert_eq!(blob.stdout, new_app.as_bytes());
    // Nothing was written outside the repository's objects and refs.
    assert!(!ws.git_dir().join("index").exists());
    assert!(!ws.git_dir().join(APP_PATH).exists());

    // The same contents again: no commit.
    let same = ws
        .commit_contents(&req, vec![(PathBuf::from(APP_PATH), new_app.into())])
        .await
        .unwrap();
    assert_eq!(same, None);

    // A symbolic link, or a path through one, a directory, or a path leaving the repository
    // is refused and HEAD stays.
    for bad in [
        "bin/link",
        "bin/link/staging/app.yaml",
        "../outside.yaml",
        "bin",
        "/tmp/x.yaml",
    ] {
        let err = ws
            .commit_contents(&req, vec![(PathBuf::from(bad), b"x: 1\n".to_vec())])
            .await
            .unwrap_err();
        assert!(matches!(err, GitError::BadPath { .. }), "{bad}: {err}");
        assert_eq!(ws.head().unwrap(), commit, "{bad}");
    }
    assert!(!state.path().join("outside.yaml").exists());
}
