//! Workspace behaviour against a real bare repository reached by path and file:// URL:
//! clone, commit, push, no-op commits, concurrent writers, refusing remotes, corrupt clones,
//! signing and history.

use std::path::PathBuf;

use crate::support::git_server::baton_side::{bump, request, settings, staging_move};
use crate::support::git_server::{APP_PATH, BRANCH, BareRepo, git, git_command, write};
use baton::git::{
    Checkout, CommitRequest, GitError, HistoryQuery, PushOutcome, RemoteSettings, Signing,
    SigningFormat, Workspace, parse_moves,
};

#[tokio::test]
async fn clone_commit_push_over_file_url() {
    let repo = BareRepo::seeded();
    let state = tempfile::tempdir().unwrap();
    let ws = Workspace::open_or_clone(state.path(), &settings(&repo.file_url()))
        .await
        .unwrap();
    let head = ws.sync().await.unwrap();
    assert_eq!(Some(head.to_string()), repo.head(BRANCH));
    let commit = bump(&ws, "1.0.0", "1.0.1").await.expect("a commit");
    assert_eq!(
        ws.push(commit, BRANCH, false).await.unwrap(),
        PushOutcome::Pushed
    );
    assert_eq!(repo.head(BRANCH), Some(commit.to_string()));
    assert_eq!(repo.subjects(BRANCH)[0], "staging: app 1.0.0 -> 1.0.1");
    let content = git(&repo.path, &["show", &format!("{BRANCH}:{APP_PATH}")]);
    assert!(content.contains("app:1.0.1"), "{content}");
    // The other files are untouched and the index agrees with HEAD.
    let status = git(ws.work_tree(), &["status", "--porcelain"]);
    assert_eq!(status, "");
    let author = git(&repo.path, &["log", "-1", "--format=%an <%ae>", BRANCH]);
    assert_eq!(author, "baton <baton@example.com>");
}

#[tokio::test]
async fn clone_commit_push_over_plain_path() {
    let repo = BareRepo::seeded();
    let state = tempfile::tempdir().unwrap();
    let ws = Workspace::open_or_clone(state.path(), &settings(&repo.path_url()))
        .await
        .unwrap();
    let commit = bump(&ws, "1.0.0", "1.1.0").await.unwrap();
    assert_eq!(
        ws.push(commit, BRANCH, false).await.unwrap(),
        PushOutcome::Pushed
    );
    assert_eq!(repo.head(BRANCH), Some(commit.to_string()));
    // Reopening finds the same clone healthy and does not re-clone.
    let marker = ws.work_tree().join(".git/baton-marker");
    std::fs::write(&marker, "x").unwrap();
    let again = Workspace::open_or_clone(state.path(), &settings(&repo.path_url()))
        .await
        .unwrap();
    assert!(again.work_tree().join(".git/baton-marker").exists());
    assert!(!state.path().join("git/checkout.broken").exists());
}

#[tokio::test]
async fn identical_content_makes_no_commit() {
    let repo = BareRepo::seeded();
    let state = tempfile::tempdir().unwrap();
    let ws = Workspace::open_or_clone(state.path(), &settings(&repo.file_url()))
        .await
        .unwrap();
    let first = bump(&ws, "1.0.0", "1.0.1").await.unwrap();
    ws.push(first, BRANCH, false).await.unwrap();
    ws.sync().await.unwrap();
    assert_eq!(bump(&ws, "1.0.0", "1.0.1").await, None);
    // Naming untouched files changes nothing either.
    let none = ws
        .commit(&request(
            &staging_move("a", "b"),
            &["README.md", "clusters/staging/other.yaml"],
        ))
        .await
        .unwrap();
    assert_eq!(none, None);
    assert_eq!(ws.head().unwrap(), first);
    assert_eq!(repo.parents(BRANCH).len(), 4);
}

#[tokio::test]
async fn removed_and_new_files_are_committed() {
    let repo = BareRepo::seeded();
    let state = tempfile::tempdir().unwrap();
    let ws = Workspace::open_or_clone(state.path(), &settings(&repo.file_url()))
        .await
        .unwrap();
    std::fs::remove_file(ws.work_tree().join("clusters/staging/other.yaml")).unwrap();
    write(
        &ws.work_tree().join("clusters/prod/new.yaml"),
        "new: true\n",
    );
    let id = ws
        .commit(&request(
            &staging_move("a", "b"),
            &["clusters/staging/other.yaml", "clusters/prod/new.yaml"],
        ))
        .await
        .unwrap()
        .unwrap();
    ws.push(id, BRANCH, false).await.unwrap();
    let files = git(&repo.path, &["ls-tree", "-r", "--name-only", BRANCH]);
    assert_eq!(
        files.lines().collect::<Vec<_>>(),
        vec!["README.md", "clusters/prod/new.yaml", APP_PATH]
    );
    let err = ws
        .commit(&request(&staging_move("a", "b"), &["../outside"]))
        .await
        .unwrap_err();
    assert!(matches!(err, GitError::BadPath { .. }), "{err}");
}

#[tokio::test]
async fn concurrent_writer_is_rejected_then_both_commits_survive() {
    let repo = BareRepo::seeded();
    let writer = repo.writer();
    let state = tempfile::tempdir().unwrap();
    let ws = Workspace::open_or_clone(state.path(), &settings(&repo.file_url()))
        .await
        .unwrap();
    ws.sync().await.unwrap();
    let ours = bump(&ws, "1.0.0", "1.0.1").await.unwrap();
    let theirs = writer.commit_and_push("README.md", "# fleet\nby hand\n", "Edit README by hand");
    let outcome = ws.push(ours, BRANCH, false).await.unwrap();
    assert!(
        matches!(outcome, PushOutcome::Rejected { .. }),
        "{outcome:?}"
    );
    assert_eq!(repo.head(BRANCH), Some(theirs.clone()));
    // Sync, re-apply, push again.
    let head = ws.sync().await.unwrap();
    assert_eq!(head.to_string(), theirs);
    let again = bump(&ws, "1.0.0", "1.0.1").await.unwrap();
    assert_eq!(
        ws.push(again, BRANCH, false).await.unwrap(),
        PushOutcome::Pushed
    );
    let chain = repo.parents(BRANCH);
    assert_eq!(chain[0], vec![again.to_string(), theirs.clone()]);
    assert!(
        chain.iter().all(|c| c.len() <= 2),
        "linear history: {chain:?}"
    );
    let readme = git(&repo.path, &["show", &format!("{BRANCH}:README.md")]);
    assert!(readme.contains("by hand"));
}

#[tokio::test]
async fn refused_push_names_remote_and_hook_message_and_keeps_commit() {
    let repo = BareRepo::seeded();
    repo.set_pre_receive("echo 'frozen: no deploys on friday' >&2\nexit 1");
    let state = tempfile::tempdir().unwrap();
    let ws = Workspace::open_or_clone(state.path(), &settings(&repo.file_url()))
        .await
        .unwrap();
    let ours = bump(&ws, "1.0.0", "1.0.1").await.unwrap();
    let err = ws.push(ours, BRANCH, false).await.unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, GitError::PushRefused { .. }), "{text}");
    assert!(text.contains(&repo.file_url()), "{text}");
    assert!(text.contains("frozen: no deploys on friday"), "{text}");
    assert!(text.contains("pre-receive hook declined"), "{text}");
    assert_eq!(ws.head().unwrap(), ours);
    assert_ne!(repo.head(BRANCH), Some(ours.to_string()));
    // Once the remote accepts again the same commit goes through.
    repo.clear_pre_receive();
    assert_eq!(
        ws.push(ours, BRANCH, false).await.unwrap(),
        PushOutcome::Pushed
    );
    assert_eq!(repo.head(BRANCH), Some(ours.to_string()));
}

#[tokio::test]
async fn sync_drops_untracked_and_half_written_files() {
    let repo = BareRepo::seeded();
    let state = tempfile::tempdir().unwrap();
    let ws = Workspace::open_or_clone(state.path(), &settings(&repo.file_url()))
        .await
        .unwrap();
    let wt = ws.work_tree();
    write(&wt.join(APP_PATH), "image: ghcr.io/exam");
    write(&wt.join("clusters/staging/.app.yaml.tmp"), "partial");
    std::fs::write(wt.join(".git/index.lock"), "").unwrap();
    // A local commit that was never pushed is dropped from the branch (kept in the reflog).
    let local = bump(&ws, "1.0.0", "9.9.9").await.unwrap();
    let head = ws.sync().await.unwrap();
    assert_ne!(head, local);
    assert_eq!(Some(head.to_string()), repo.head(BRANCH));
    assert!(!wt.join("clusters/staging/.app.yaml.tmp").exists());
    let content = std::fs::read_to_string(wt.join(APP_PATH)).unwrap();
    assert!(content.contains("app:1.0.0"), "{content}");
    assert_eq!(git(wt, &["status", "--porcelain", "--ignored"]), "");
    let reflog = git(wt, &["reflog", "--format=%H", BRANCH]);
    assert!(reflog.contains(&local.to_string()));
}

#[tokio::test]
async fn deleted_head_is_recloned() {
    let repo = BareRepo::seeded();
    let state = tempfile::tempdir().unwrap();
    let s = settings(&repo.file_url());
    let ws = Workspace::open_or_clone(state.path(), &s).await.unwrap();
    std::fs::remove_file(ws.work_tree().join(".git/HEAD")).unwrap();
    let ws = Workspace::open_or_clone(state.path(), &s).await.unwrap();
    assert!(state.path().join("git/checkout.broken").exists());
    assert_eq!(Some(ws.head().unwrap().to_string()), repo.head(BRANCH));
    let commit = bump(&ws, "1.0.0", "1.0.2").await.unwrap();
    assert_eq!(
        ws.push(commit, BRANCH, false).await.unwrap(),
        PushOutcome::Pushed
    );
}

#[tokio::test]
async fn truncated_objects_are_recloned() {
    let repo = BareRepo::seeded();
    let state = tempfile::tempdir().unwrap();
    let s = settings(&repo.file_url());
    let ws = Workspace::open_or_clone(state.path(), &s).await.unwrap();
    let objects = ws.work_tree().join(".git/objects");
    let mut truncated = 0;
    for entry in walk(&objects) {
        let name = entry.file_name().unwrap().to_string_lossy().into_owned();
        if entry.is_file()
            && !name.starts_with("info")
            && !name.ends_with(".idx")
            && name != "packs"
        {
            let f = std::fs::OpenOptions::new()
                .write(true)
                .open(&entry)
                .unwrap();
            f.set_len(12).unwrap();
            truncated += 1;
        }
    }
    assert!(truncated > 0);
    let ws = Workspace::open_or_clone(state.path(), &s).await.unwrap();
    assert!(state.path().join("git/checkout.broken").exists());
    assert_eq!(
        Some(ws.sync().await.unwrap().to_string()),
        repo.head(BRANCH)
    );
}

fn walk(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// Files in the work tree, relative to it, `.git` left out.
fn files_in(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.file_name().is_some_and(|n| n == ".git") {
                continue;
            }
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path.strip_prefix(dir).unwrap().display().to_string());
            }
        }
    }
    out.sort();
    out
}

fn checkout_of(paths: &[&[&str]]) -> Checkout {
    let lists: Vec<Vec<PathBuf>> = paths
        .iter()
        .map(|env| env.iter().map(PathBuf::from).collect())
        .collect();
    Checkout::of(lists.iter().map(Vec::as_slice))
}

/// A work tree limited to the environments' paths holds only their files (and those git's
/// cone mode keeps on the way), is widened and narrowed when the paths change, drops files a
/// crash left edited outside them, and commits built in it keep every other file as it was.
#[tokio::test]
async fn work_tree_limited_to_paths_widens_narrows_and_keeps_the_rest() {
    let repo = BareRepo::seeded();
    let writer = repo.writer();
    for (path, text) in [
        ("platform/a/x.yaml", "x: 1\n"),
        ("platform/b/y.yaml", "y: 1\n"),
        ("clusters/prod/p.yaml", "p: 1\n"),
        ("odd \"name\"/[z]*/z.yaml", "z: 1\n"),
    ] {
        write(&writer.work.join(path), text);
    }
    git(&writer.work, &["add", "-A"]);
    git(&writer.work, &["commit", "--quiet", "-m", "More files"]);
    git(&writer.work, &["push", "--quiet", "origin", BRANCH]);
    let seeded = repo.head(BRANCH).unwrap();

    let state = tempfile::tempdir().unwrap();
    let ws = Workspace::open_or_clone(state.path(), &settings(&repo.file_url()))
        .await
        .unwrap();
    let dir = ws.work_tree().to_path_buf();
    // Not asked: a sync keeps what the clone holds (everything).
    ws.sync().await.unwrap();
    assert_eq!(files_in(&dir).len(), 7, "{:?}", files_in(&dir));

    ws.limit_work_tree(staging());
    ws.sync().await.unwrap();
    assert_eq!(files_in(&dir), STAGING_FILES);
    assert_eq!(git(&dir, &["status", "--porcelain"]), "");

    // A commit touches the edited file only; every file outside the work tree is kept.
    let new_app = "image: ghcr.io/example/app:1.1.0 # {\"$imagepolicy\": \"flux-system:app\"}\n";
    let commit = ws
        .commit_contents(
            &request(&staging_move("1.0.0", "1.1.0"), &[]),
            vec![(PathBuf::from(APP_PATH), new_app.as_bytes().to_vec())],
        )
        .await
        .unwrap()
        .expect("a commit");
    ws.push(commit, BRANCH, false).await.unwrap();
    assert_eq!(
        git(&repo.path, &["diff", "--name-only", &seeded, BRANCH]),
        APP_PATH
    );
    assert_eq!(git(&dir, &["status", "--porcelain"]), "");

    // Widened to a second environment, names with quotes and glob characters included.
    ws.limit_work_tree(checkout_of(&[
        &["clusters/staging"],
        &["platform/a", "odd \"name\"/[z]*"],
    ]));
    ws.sync().await.unwrap();
    assert_eq!(
        files_in(&dir),
        [
            "README.md",
            APP_PATH,
            "clusters/staging/other.yaml",
            "odd \"name\"/[z]*/z.yaml",
            "platform/a/x.yaml"
        ]
    );

    // Narrowed while a crash had left a file of the dropped path edited: it goes too.
    write(&dir.join("platform/a/x.yaml"), "x: half-written\n");
    ws.limit_work_tree(staging());
    ws.sync().await.unwrap();
    assert_eq!(files_in(&dir), STAGING_FILES);
    assert_eq!(git(&dir, &["status", "--porcelain"]), "");

    // A later opening of the same clone that asks nothing keeps it as it is.
    let again = Workspace::open_or_clone(state.path(), &settings(&repo.file_url()))
        .await
        .unwrap();
    again.sync().await.unwrap();
    assert_eq!(files_in(&dir).len(), 3);

    // An environment owning the whole repository: every file again, sparse checkout off.
    again.limit_work_tree(checkout_of(&[&["clusters/staging"], &[]]));
    again.sync().await.unwrap();
    assert_eq!(files_in(&dir).len(), 7, "{:?}", files_in(&dir));
    let sparse = git_command(&dir, &["config", "--bool", "core.sparseCheckout"])
        .output()
        .unwrap();
    assert_ne!(String::from_utf8_lossy(&sparse.stdout).trim(), "true");
    assert_eq!(git(&dir, &["status", "--porcelain"]), "");
}

/// The work tree of `clusters/staging` only.
fn staging() -> Checkout {
    checkout_of(&[&["clusters/staging"]])
}

/// The files of a work tree limited to [`staging`]: the root's and the path's.
const STAGING_FILES: [&str; 3] = ["README.md", APP_PATH, "clusters/staging/other.yaml"];

/// The seeded remote with a file outside `clusters/staging` (`platform/a/x.yaml`), a state
/// directory, the settings to clone it, and its clone limited to [`staging`].
async fn limited_clone_with_platform_file()
-> (BareRepo, tempfile::TempDir, RemoteSettings, Workspace) {
    let repo = BareRepo::seeded();
    let writer = repo.writer();
    write(&writer.work.join("platform/a/x.yaml"), "x: 1\n");
    git(&writer.work, &["add", "-A"]);
    git(&writer.work, &["commit", "--quiet", "-m", "More files"]);
    git(&writer.work, &["push", "--quiet", "origin", BRANCH]);
    let s = settings(&repo.file_url());
    let state = tempfile::tempdir().unwrap();
    let ws = Workspace::open_or_clone_limited(state.path(), &s, staging())
        .await
        .unwrap();
    (repo, state, s, ws)
}

/// A new clone limited to some paths writes only their files, even before its first sync:
/// the rest of the repository never lands in the work tree. A clone with no limit still
/// holds every file.
#[tokio::test]
async fn a_new_clone_limited_to_paths_writes_only_their_files() {
    let (repo, state, s, ws) = limited_clone_with_platform_file().await;
    let dir = ws.work_tree().to_path_buf();
    let limited = STAGING_FILES;
    assert_eq!(files_in(&dir), limited);
    assert_eq!(git(&dir, &["status", "--porcelain"]), "");
    assert_eq!(ws.head().unwrap().to_string(), repo.head(BRANCH).unwrap());
    ws.sync().await.unwrap();
    assert_eq!(files_in(&dir), limited);

    // Opened again with the same paths: nothing to change.
    let again = Workspace::open_or_clone_limited(state.path(), &s, staging())
        .await
        .unwrap();
    again.sync().await.unwrap();
    assert_eq!(files_in(&dir), limited);
    assert!(!state.path().join("git/checkout.broken").exists());

    let full = tempfile::tempdir().unwrap();
    let ws = Workspace::open_or_clone(full.path(), &s).await.unwrap();
    assert_eq!(
        files_in(ws.work_tree()).len(),
        4,
        "{:?}",
        files_in(ws.work_tree())
    );
    assert_eq!(git(ws.work_tree(), &["status", "--porcelain"]), "");
}

/// Makes every object of the clone at `dir` a loose object (out of its packs), so that one
/// can be removed.
fn unpack_objects(dir: &std::path::Path) {
    let pack_dir = dir.join(".git/objects/pack");
    let aside = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(&pack_dir).unwrap() {
        let path = entry.unwrap().path();
        std::fs::rename(&path, aside.path().join(path.file_name().unwrap())).unwrap();
    }
    for entry in std::fs::read_dir(aside.path()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "pack") {
            let pack = std::fs::File::open(&path).unwrap();
            let status = git_command(dir, &["unpack-objects", "-q"])
                .stdin(pack)
                .status()
                .unwrap();
            assert!(status.success());
        }
    }
}

/// Removes the loose object of `rev` (e.g. `HEAD:platform/a`) from the clone at `dir`.
fn remove_object(dir: &std::path::Path, rev: &str) {
    let id = git(dir, &["rev-parse", rev]);
    let id = id.trim();
    std::fs::remove_file(dir.join(".git/objects").join(&id[..2]).join(&id[2..])).unwrap();
}

/// The health check at opening reads the trees the work tree holds: a tree missing outside
/// the environments' paths is not read (nor needed to sync, commit and push), one missing
/// inside them has the clone cloned again.
#[tokio::test]
async fn a_limited_clone_checks_only_the_trees_of_its_paths() {
    let (repo, state, s, ws) = limited_clone_with_platform_file().await;
    let dir = ws.work_tree().to_path_buf();
    drop(ws);
    unpack_objects(&dir);
    remove_object(&dir, "HEAD:platform/a");
    let ws = Workspace::open_or_clone_limited(state.path(), &s, staging())
        .await
        .unwrap();
    assert!(!state.path().join("git/checkout.broken").exists());
    ws.sync().await.unwrap();
    let commit = bump(&ws, "1.0.0", "1.0.1").await.unwrap();
    assert_eq!(
        ws.push(commit, BRANCH, false).await.unwrap(),
        PushOutcome::Pushed
    );
    assert_eq!(repo.head(BRANCH), Some(commit.to_string()));
    drop(ws);

    remove_object(&dir, "HEAD:clusters/staging");
    let ws = Workspace::open_or_clone_limited(state.path(), &s, staging())
        .await
        .unwrap();
    assert!(state.path().join("git/checkout.broken").exists());
    assert_eq!(ws.head().unwrap().to_string(), commit.to_string());
}

#[tokio::test]
async fn changed_remote_url_is_recloned() {
    let repo = BareRepo::seeded();
    let other = BareRepo::seeded();
    let writer = other.writer();
    let marker = writer.commit_and_push("OTHER.md", "other\n", "Other repository");
    let state = tempfile::tempdir().unwrap();
    Workspace::open_or_clone(state.path(), &settings(&repo.file_url()))
        .await
        .unwrap();
    let ws = Workspace::open_or_clone(state.path(), &settings(&other.file_url()))
        .await
        .unwrap();
    assert_eq!(ws.head().unwrap().to_string(), marker);
    assert!(state.path().join("git/checkout.broken").exists());
}

#[tokio::test]
async fn force_push_only_for_owned_branches() {
    let repo = BareRepo::seeded();
    let state = tempfile::tempdir().unwrap();
    let ws = Workspace::open_or_clone(state.path(), &settings(&repo.file_url()))
        .await
        .unwrap();
    let c1 = bump(&ws, "1.0.0", "1.0.1").await.unwrap();
    let err = ws.push(c1, BRANCH, true).await.unwrap_err();
    assert!(matches!(err, GitError::ForceOnTarget { .. }), "{err}");
    assert!(err.to_string().contains("refusing to force-push main"));
    // A review branch Baton owns: created, then rewritten with a different commit.
    let review = "baton/staging-app";
    assert_eq!(
        ws.push(c1, review, true).await.unwrap(),
        PushOutcome::Pushed
    );
    assert_eq!(ws.remote_branch(review).await.unwrap(), Some(c1));
    ws.sync().await.unwrap();
    let c2 = bump(&ws, "1.0.0", "1.0.2").await.unwrap();
    assert_eq!(
        ws.push(c2, review, true).await.unwrap(),
        PushOutcome::Pushed
    );
    assert_eq!(repo.head(review), Some(c2.to_string()));
    // Without force the rewritten branch is a non-fast-forward.
    ws.sync().await.unwrap();
    let c3 = bump(&ws, "1.0.0", "1.0.3").await.unwrap();
    let outcome = ws.push(c3, review, false).await.unwrap();
    assert!(
        matches!(outcome, PushOutcome::Rejected { .. }),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn ssh_signed_commit_verifies() {
    let repo = BareRepo::seeded();
    let keys = tempfile::tempdir().unwrap();
    let key = keys.path().join("signing_key");
    let out = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "baton", "-f"])
        .arg(&key)
        .output()
        .unwrap();
    assert!(out.status.success());
    let public = std::fs::read_to_string(keys.path().join("signing_key.pub")).unwrap();
    let allowed = keys.path().join("allowed_signers");
    std::fs::write(&allowed, format!("baton@example.com {public}")).unwrap();

    let state = tempfile::tempdir().unwrap();
    let ws = Workspace::open_or_clone(state.path(), &settings(&repo.file_url()))
        .await
        .unwrap();
    write(
        &ws.work_tree().join(APP_PATH),
        "image: ghcr.io/example/app:1.0.1\n",
    );
    let req = CommitRequest {
        signing: Some(Signing {
            key: key.clone(),
            format: SigningFormat::Ssh,
        }),
        ..request(&staging_move("1.0.0", "1.0.1"), &[APP_PATH])
    };
    let id = ws.commit(&req).await.unwrap().unwrap();
    let verify = |commit: &str| {
        git_command(
            ws.work_tree(),
            &[
                "-c",
                "gpg.format=ssh",
                "-c",
                &format!("gpg.ssh.allowedSignersFile={}", allowed.display()),
                "verify-commit",
                "--raw",
                commit,
            ],
        )
        .output()
        .unwrap()
    };
    let ok = verify(&id.to_string());
    assert!(
        ok.status.success(),
        "verify-commit failed: {}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(String::from_utf8_lossy(&ok.stderr).contains("Good \"git\" signature"));
    // An unsigned commit does not verify, so the check above can fail.
    let parent = git(ws.work_tree(), &["rev-parse", "HEAD~1"]);
    assert!(!verify(&parent).status.success());
    // A missing key is a clear error.
    let bad = CommitRequest {
        signing: Some(Signing {
            key: keys.path().join("missing"),
            format: SigningFormat::Ssh,
        }),
        ..request(&staging_move("1.0.1", "1.0.2"), &[APP_PATH])
    };
    write(
        &ws.work_tree().join(APP_PATH),
        "image: ghcr.io/example/app:1.0.2\n",
    );
    let err = ws.commit(&bad).await.unwrap_err();
    assert!(matches!(err, GitError::Sign { .. }), "{err}");
    assert!(err.to_string().contains("missing"), "{err}");
}

#[tokio::test]
async fn history_reads_trailers_newest_first_and_filters_paths() {
    let repo = BareRepo::seeded();
    let state = tempfile::tempdir().unwrap();
    let ws = Workspace::open_or_clone(state.path(), &settings(&repo.file_url()))
        .await
        .unwrap();
    let c1 = bump(&ws, "1.0.0", "1.0.1").await.unwrap();
    let c2 = bump(&ws, "1.0.1", "1.0.2").await.unwrap();
    ws.push(c2, BRANCH, false).await.unwrap();

    let all = ws.history(&HistoryQuery::default()).unwrap();
    let subjects: Vec<&str> = all.iter().map(|c| c.subject.as_str()).collect();
    assert_eq!(
        subjects,
        vec![
            "staging: app 1.0.1 -> 1.0.2",
            "staging: app 1.0.0 -> 1.0.1",
            "Add other",
            "Add staging app",
            "Add README"
        ]
    );
    assert_eq!(all[0].id, c2);
    assert_eq!(all[1].id, c1);
    assert_eq!(all[0].author.name, "baton");
    assert_eq!(all[0].committer.email, "baton@example.com");
    assert!(all[0].time > 1_700_000_000);
    assert_eq!(
        all[0]
            .trailers
            .iter()
            .find(|(k, _)| k == "Baton-To")
            .map(|(_, v)| v.as_str()),
        Some("1.0.2")
    );
    let moves = parse_moves(&all[1]);
    assert_eq!(moves.len(), 1);
    assert_eq!(moves[0].environment, "staging");
    assert_eq!(moves[0].image, "ghcr.io/example/app");
    assert_eq!(
        (moves[0].from.as_str(), moves[0].to.as_str()),
        ("1.0.0", "1.0.1")
    );
    assert_eq!(moves[0].policy, "app");
    assert_eq!(moves[0].rule.as_deref(), Some("semver 1.x"));
    assert!(parse_moves(&all[2]).is_empty());

    let app_only = ws
        .history(&HistoryQuery {
            paths: vec![PathBuf::from(APP_PATH)],
            limit: None,
        })
        .unwrap();
    let subjects: Vec<&str> = app_only.iter().map(|c| c.subject.as_str()).collect();
    assert_eq!(
        subjects,
        vec![
            "staging: app 1.0.1 -> 1.0.2",
            "staging: app 1.0.0 -> 1.0.1",
            "Add staging app"
        ]
    );
    let dir_limited = ws
        .history(&HistoryQuery {
            paths: vec![PathBuf::from("clusters/staging")],
            limit: Some(3),
        })
        .unwrap();
    let subjects: Vec<&str> = dir_limited.iter().map(|c| c.subject.as_str()).collect();
    assert_eq!(
        subjects,
        vec![
            "staging: app 1.0.1 -> 1.0.2",
            "staging: app 1.0.0 -> 1.0.1",
            "Add other"
        ]
    );
    // git itself reads the same trailers back.
    let via_git = git(
        &repo.path,
        &[
            "log",
            "-1",
            "--format=%(trailers:key=Baton-Policy,valueonly)",
            BRANCH,
        ],
    );
    assert_eq!(via_git.trim(), "app (semver 1.x)");
}

#[tokio::test]
async fn leftover_partial_clone_is_removed() {
    let repo = BareRepo::seeded();
    let state = tempfile::tempdir().unwrap();
    // A clone killed half-way leaves its temporary directory behind.
    write(&state.path().join("git/checkout.tmp/.git/HEAD"), "garbage");
    let ws = Workspace::open_or_clone(state.path(), &settings(&repo.file_url()))
        .await
        .unwrap();
    assert!(!state.path().join("git/checkout.tmp").exists());
    assert_eq!(Some(ws.head().unwrap().to_string()), repo.head(BRANCH));
}
