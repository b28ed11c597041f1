//! Workspace behaviour against a real bare repository reached by path and file:// URL:
//! clone, commit, push, no-op commits, concurrent writers, refusing remotes, corrupt clones,
//! the older layout's checkout migrated, signing and history.

use std::path::PathBuf;

use crate::support::git_server::baton_side::{app_at, bump, request, settings, staging_move};
use crate::support::git_server::{APP_PATH, BRANCH, BareRepo, git, git_command, write};
use baton::git::{
    CommitRequest, GitError, HistoryQuery, PushOutcome, Signing, SigningFormat, Workspace,
    parse_moves,
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
    // The other files are untouched, and nothing was checked out: a bare repository.
    let changed = git(
        &repo.path,
        &[
            "diff",
            "--name-only",
            &format!("{commit}~1"),
            &commit.to_string(),
        ],
    );
    assert_eq!(changed, APP_PATH);
    assert_eq!(
        git(ws.git_dir(), &["rev-parse", "--is-bare-repository"]),
        "true"
    );
    assert!(!ws.git_dir().join("index").exists());
    assert!(!state.path().join("git/checkout").exists());
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
    let marker = ws.git_dir().join("baton-marker");
    std::fs::write(&marker, "x").unwrap();
    let again = Workspace::open_or_clone(state.path(), &settings(&repo.path_url()))
        .await
        .unwrap();
    assert!(again.git_dir().join("baton-marker").exists());
    assert!(!state.path().join("git/repo.broken").exists());
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
    // Writing files with the bytes they already hold changes nothing either.
    let readme = git(&repo.path, &["show", &format!("{BRANCH}:README.md")]);
    let none = ws
        .commit_contents(
            &request(&staging_move("a", "b")),
            vec![(
                PathBuf::from("README.md"),
                format!("{readme}\n").into_bytes(),
            )],
        )
        .await
        .unwrap();
    assert_eq!(none, None);
    assert_eq!(ws.head().unwrap(), first);
    assert_eq!(repo.parents(BRANCH).len(), 4);
}

#[tokio::test]
async fn new_files_are_committed_and_paths_outside_refused() {
    let repo = BareRepo::seeded();
    let state = tempfile::tempdir().unwrap();
    let ws = Workspace::open_or_clone(state.path(), &settings(&repo.file_url()))
        .await
        .unwrap();
    ws.sync().await.unwrap();
    let id = ws
        .commit_contents(
            &request(&staging_move("a", "b")),
            vec![(
                PathBuf::from("clusters/prod/new.yaml"),
                b"new: true\n".to_vec(),
            )],
        )
        .await
        .unwrap()
        .unwrap();
    ws.push(id, BRANCH, false).await.unwrap();
    let files = git(&repo.path, &["ls-tree", "-r", "--name-only", BRANCH]);
    assert_eq!(
        files.lines().collect::<Vec<_>>(),
        vec![
            "README.md",
            "clusters/prod/new.yaml",
            APP_PATH,
            "clusters/staging/other.yaml"
        ]
    );
    for bad in [
        "../outside",
        "/etc/passwd",
        ".git/config",
        "README.md/x",
        "clusters",
    ] {
        let err = ws
            .commit_contents(
                &request(&staging_move("a", "b")),
                vec![(PathBuf::from(bad), b"x\n".to_vec())],
            )
            .await
            .unwrap_err();
        assert!(matches!(err, GitError::BadPath { .. }), "{bad}: {err}");
        assert_eq!(ws.head().unwrap(), id, "{bad}");
    }
    assert!(!state.path().join("outside").exists());
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
async fn sync_drops_local_commits_and_stale_locks() {
    let repo = BareRepo::seeded();
    let state = tempfile::tempdir().unwrap();
    let ws = Workspace::open_or_clone(state.path(), &settings(&repo.file_url()))
        .await
        .unwrap();
    let dir = ws.git_dir();
    // A local commit that was never pushed is dropped from the branch (kept in the reflog).
    let local = bump(&ws, "1.0.0", "9.9.9").await.unwrap();
    // Locks a crash left behind.
    std::fs::write(dir.join("packed-refs.lock"), "").unwrap();
    std::fs::write(dir.join(format!("refs/heads/{BRANCH}.lock")), "").unwrap();
    let head = ws.sync().await.unwrap();
    assert_ne!(head, local);
    assert_eq!(Some(head.to_string()), repo.head(BRANCH));
    assert_eq!(ws.head().unwrap(), head);
    assert!(!dir.join("packed-refs.lock").exists());
    let content = git(dir, &["show", &format!("HEAD:{APP_PATH}")]);
    assert!(content.contains("app:1.0.0"), "{content}");
    let reflog = git(dir, &["reflog", "--format=%H", BRANCH]);
    assert!(reflog.contains(&local.to_string()));
}

#[tokio::test]
async fn the_checkout_of_older_versions_becomes_the_bare_repository() {
    let repo = BareRepo::seeded();
    let state = tempfile::tempdir().unwrap();
    // What older versions kept: a clone with a work tree, with a review branch's head fetched
    // under refs/baton/remote and a local commit in the reflog.
    let checkout = state.path().join("git/checkout");
    std::fs::create_dir_all(state.path().join("git")).unwrap();
    git(
        &state.path().join("git"),
        &[
            "clone",
            "--quiet",
            "--single-branch",
            "--branch",
            BRANCH,
            &repo.file_url(),
            "checkout",
        ],
    );
    let head = git(&checkout, &["rev-parse", "HEAD"]);
    git(
        &checkout,
        &["update-ref", "refs/baton/remote/baton/review", &head],
    );
    for (dirty, kept) in [(false, false), (true, true)] {
        if dirty {
            // A second state directory whose work tree a person edited by hand.
            std::fs::rename(
                state.path().join("git/repo.git"),
                state.path().join("git/first.git"),
            )
            .unwrap();
            git(
                &state.path().join("git"),
                &[
                    "clone",
                    "--quiet",
                    "--single-branch",
                    "--branch",
                    BRANCH,
                    &repo.file_url(),
                    "checkout",
                ],
            );
            write(&checkout.join("notes.txt"), "a person's notes\n");
        }
        let ws = Workspace::open_or_clone(state.path(), &settings(&repo.file_url()))
            .await
            .unwrap();
        assert_eq!(ws.git_dir(), state.path().join("git/repo.git"));
        assert_eq!(
            git(ws.git_dir(), &["rev-parse", "--is-bare-repository"]),
            "true"
        );
        assert!(!checkout.exists());
        assert!(
            !state.path().join("git/repo.broken").exists(),
            "recloned instead of moved"
        );
        assert_eq!(state.path().join("git/checkout.old").exists(), kept);
        if kept {
            assert_eq!(
                std::fs::read_to_string(state.path().join("git/checkout.old/notes.txt")).unwrap(),
                "a person's notes\n"
            );
        } else {
            // Refs fetched by the old layout are still there.
            assert_eq!(
                git(
                    ws.git_dir(),
                    &["rev-parse", "refs/baton/remote/baton/review"]
                ),
                head
            );
        }
        assert_eq!(
            Some(ws.sync().await.unwrap().to_string()),
            repo.head(BRANCH)
        );
        let to = if dirty { "1.0.4" } else { "1.0.3" };
        let commit = bump(&ws, "1.0.0", to).await.unwrap();
        if !dirty {
            assert_eq!(
                ws.push(commit, BRANCH, false).await.unwrap(),
                PushOutcome::Pushed
            );
            assert_eq!(repo.head(BRANCH), Some(commit.to_string()));
        }
    }
}

#[tokio::test]
async fn deleted_head_is_recloned() {
    let repo = BareRepo::seeded();
    let state = tempfile::tempdir().unwrap();
    let s = settings(&repo.file_url());
    let ws = Workspace::open_or_clone(state.path(), &s).await.unwrap();
    std::fs::remove_file(ws.git_dir().join("HEAD")).unwrap();
    let ws = Workspace::open_or_clone(state.path(), &s).await.unwrap();
    assert!(state.path().join("git/repo.broken").exists());
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
    let objects = ws.git_dir().join("objects");
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
    assert!(state.path().join("git/repo.broken").exists());
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
    assert!(state.path().join("git/repo.broken").exists());
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
    let req = CommitRequest {
        signing: Some(Signing {
            key: key.clone(),
            format: SigningFormat::Ssh,
        }),
        ..request(&staging_move("1.0.0", "1.0.1"))
    };
    let id = ws
        .commit_contents(&req, vec![(PathBuf::from(APP_PATH), app_at("1.0.1"))])
        .await
        .unwrap()
        .unwrap();
    let verify = |commit: &str| {
        git_command(
            ws.git_dir(),
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
    let parent = git(ws.git_dir(), &["rev-parse", "HEAD~1"]);
    assert!(!verify(&parent).status.success());
    // A missing key is a clear error.
    let bad = CommitRequest {
        signing: Some(Signing {
            key: keys.path().join("missing"),
            format: SigningFormat::Ssh,
        }),
        ..request(&staging_move("1.0.1", "1.0.2"))
    };
    let err = ws
        .commit_contents(&bad, vec![(PathBuf::from(APP_PATH), app_at("1.0.2"))])
        .await
        .unwrap_err();
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
    // A clone killed half-way leaves its temporary directory behind (older versions' too).
    write(&state.path().join("git/repo.tmp/HEAD"), "garbage");
    write(&state.path().join("git/checkout.tmp/.git/HEAD"), "garbage");
    let ws = Workspace::open_or_clone(state.path(), &settings(&repo.file_url()))
        .await
        .unwrap();
    assert!(!state.path().join("git/repo.tmp").exists());
    assert!(!state.path().join("git/checkout.tmp").exists());
    assert_eq!(Some(ws.head().unwrap().to_string()), repo.head(BRANCH));
}
