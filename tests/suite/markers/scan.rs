//! `markers::scan` and `markers::apply` on real directory trees: which files are read,
//! which are skipped and counted, which paths are refused, and what apply writes.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use baton::markers::{self, ApplyError, Marker, Resolved, Scan, ScanError, ScanOptions};

const MARKED: &str = "image: ghcr.io/acme/app:1.0.0 # {\"$baton\": \"app\"}\n";

fn write(root: &Path, relative: &str, contents: impl AsRef<[u8]>) {
    let path = root.join(relative);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, contents).unwrap();
}

fn scan(root: &Path, paths: &[&str], options: &ScanOptions) -> Scan {
    let paths: Vec<PathBuf> = paths.iter().map(PathBuf::from).collect();
    markers::scan(root, &paths, options).unwrap()
}

fn found(scan: &Scan) -> Vec<String> {
    scan.files
        .iter()
        .map(|f| f.path.to_string_lossy().into_owned())
        .collect()
}

fn resolve(_: &Marker) -> Option<Resolved> {
    Some(Resolved {
        repository: "ghcr.io/acme/app".to_string(),
        tag: "1.1.0".to_string(),
        digest: None,
    })
}

#[test]
fn reads_yaml_yml_kustomization_and_configured_globs_only() {
    let repo = tempfile::tempdir().unwrap();
    let root = repo.path();
    write(root, "a.yaml", MARKED);
    write(root, "b.yml", MARKED);
    write(root, "UPPER.YAML", MARKED);
    write(root, "overlay/Kustomization", MARKED);
    write(root, "c.json", MARKED);
    write(root, "templates/d.tpl", MARKED);
    write(root, "notes.txt", MARKED);
    write(root, ".flux/hidden.yaml", MARKED);
    write(root, ".git/config.yaml", MARKED);

    let s = scan(root, &[], &ScanOptions::default());
    assert_eq!(
        found(&s),
        [
            ".flux/hidden.yaml",
            "UPPER.YAML",
            "a.yaml",
            "b.yml",
            "overlay/Kustomization"
        ]
    );
    assert_eq!(s.files_read, 5);

    let options = ScanOptions {
        extra_globs: vec!["templates/*.tpl".to_string(), "*.json".to_string()],
        ..ScanOptions::default()
    };
    let s = scan(root, &[], &options);
    assert_eq!(
        found(&s),
        [
            ".flux/hidden.yaml",
            "UPPER.YAML",
            "a.yaml",
            "b.yml",
            "c.json",
            "overlay/Kustomization",
            "templates/d.tpl"
        ]
    );
}

#[test]
fn honours_gitignore_inside_the_repository_only() {
    let outer = tempfile::tempdir().unwrap();
    // An ignore file above the repository must not hide the repository's files.
    write(outer.path(), ".gitignore", "*.yaml\n");
    write(outer.path(), ".ignore", "*.yaml\n");
    let root = outer.path().join("repo");
    std::fs::create_dir(&root).unwrap();
    std::fs::create_dir(root.join(".git")).unwrap();
    write(&root, ".gitignore", "build/\n*.generated.yaml\n");
    write(&root, "apps/.gitignore", "scratch.yaml\n");
    write(&root, "apps/app.yaml", MARKED);
    write(&root, "apps/scratch.yaml", MARKED);
    write(&root, "apps/x.generated.yaml", MARKED);
    write(&root, "build/out.yaml", MARKED);
    write(&root, "kept.yaml", MARKED);

    let s = scan(&root, &[], &ScanOptions::default());
    assert_eq!(found(&s), ["apps/app.yaml", "kept.yaml"]);
    // The root's .gitignore applies when only a subtree is scanned.
    let s = scan(&root, &["apps"], &ScanOptions::default());
    assert_eq!(found(&s), ["apps/app.yaml"]);

    // Without a .git directory the repository's own .gitignore still applies.
    std::fs::remove_dir(root.join(".git")).unwrap();
    let s = scan(&root, &[], &ScanOptions::default());
    assert_eq!(found(&s), ["apps/app.yaml", "kept.yaml"]);
}

#[test]
fn counts_files_too_large_binary_or_not_utf8() {
    let repo = tempfile::tempdir().unwrap();
    let root = repo.path();
    write(root, "ok.yaml", MARKED);
    let mut big = MARKED.to_string();
    big.push_str(&"# padding\n".repeat(200));
    write(root, "big.yaml", &big);
    let mut binary = MARKED.as_bytes().to_vec();
    binary.extend_from_slice(b"\0\x01\x02");
    write(root, "binary.yaml", binary);
    let mut latin1 = MARKED.as_bytes().to_vec();
    latin1.extend_from_slice(b"name: caf\xe9\n");
    write(root, "latin1.yaml", latin1);
    write(root, "plain.yaml", "a: 1\n");

    let options = ScanOptions {
        max_file_size: 1024,
        ..ScanOptions::default()
    };
    let s = scan(root, &[], &options);
    assert_eq!(found(&s), ["ok.yaml"]);
    assert_eq!(s.skipped.too_large, 1);
    assert_eq!(s.skipped.binary, 1);
    assert_eq!(s.skipped.not_utf8, 1);
    assert_eq!(s.skipped.total(), 3);
    assert_eq!(s.files_read, 2, "ok.yaml and plain.yaml");
    assert_eq!(s.skipped.to_string(), "1 too large, 1 binary, 1 not UTF-8");
}

#[test]
fn never_follows_symbolic_links() {
    let repo = tempfile::tempdir().unwrap();
    let root = repo.path();
    let outside = tempfile::tempdir().unwrap();
    write(outside.path(), "secret.yaml", MARKED);
    write(root, "real.yaml", MARKED);
    std::os::unix::fs::symlink("/etc/passwd", root.join("passwd.yaml")).unwrap();
    std::os::unix::fs::symlink(outside.path().join("secret.yaml"), root.join("secret.yaml"))
        .unwrap();
    std::os::unix::fs::symlink(outside.path(), root.join("linked-dir")).unwrap();
    std::os::unix::fs::symlink(root.join("real.yaml"), root.join("inside.yaml")).unwrap();

    let s = scan(root, &[], &ScanOptions::default());
    assert_eq!(found(&s), ["real.yaml"]);
    assert_eq!(
        s.skipped.symlinks, 3,
        "passwd.yaml, secret.yaml, inside.yaml"
    );
    assert!(s.problems.is_empty(), "{:?}", s.problems);
}

#[test]
fn refuses_environment_paths_that_leave_the_repository() {
    let repo = tempfile::tempdir().unwrap();
    let root = repo.path();
    let outside = tempfile::tempdir().unwrap();
    write(outside.path(), "prod/app.yaml", MARKED);
    write(root, "clusters/staging/app.yaml", MARKED);
    std::os::unix::fs::symlink(outside.path().join("prod"), root.join("clusters/prod")).unwrap();
    std::os::unix::fs::symlink("/etc", root.join("etc")).unwrap();
    std::os::unix::fs::symlink("staging", root.join("clusters/alias")).unwrap();

    let refused = |path: &str| markers::scan(root, &[PathBuf::from(path)], &ScanOptions::default());
    // A path through a symbolic link is refused, wherever the link points.
    assert!(matches!(
        refused("clusters/prod"),
        Err(ScanError::Symlink { .. })
    ));
    assert!(matches!(refused("etc"), Err(ScanError::Symlink { .. })));
    assert!(matches!(refused("../x"), Err(ScanError::Outside(_))));
    assert!(matches!(
        refused("clusters/../.."),
        Err(ScanError::Outside(_))
    ));
    assert!(matches!(refused("/etc"), Err(ScanError::Outside(_))));
    assert!(matches!(
        refused("clusters/none"),
        Err(ScanError::Missing(_))
    ));
    let err = refused("clusters/prod").unwrap_err().to_string();
    assert!(
        err.contains("clusters/prod") && err.contains("symbolic link"),
        "{err}"
    );
    // So is one that stays inside the repository: it could hand one environment's files
    // to another.
    assert!(matches!(
        refused("clusters/alias"),
        Err(ScanError::Symlink { .. })
    ));
}

#[test]
fn overlapping_paths_read_each_file_once() {
    let repo = tempfile::tempdir().unwrap();
    let root = repo.path();
    write(root, "clusters/staging/app.yaml", MARKED);
    write(root, "clusters/staging/db/db.yaml", MARKED);
    write(root, "clusters/prod/app.yaml", MARKED);
    write(root, "other/app.yaml", MARKED);

    let s = scan(
        root,
        &[
            "clusters",
            "clusters/staging",
            "clusters/staging/db/db.yaml",
            "./clusters/staging/",
        ],
        &ScanOptions::default(),
    );
    assert_eq!(
        found(&s),
        [
            "clusters/prod/app.yaml",
            "clusters/staging/app.yaml",
            "clusters/staging/db/db.yaml"
        ]
    );
    assert_eq!(s.files_read, 3);

    let s = scan(
        root,
        &["clusters/staging/db/db.yaml"],
        &ScanOptions::default(),
    );
    assert_eq!(found(&s), ["clusters/staging/db/db.yaml"]);
    let s = scan(
        root,
        &["clusters/staging", "other"],
        &ScanOptions::default(),
    );
    assert_eq!(s.files_read, 3);
    // `.` is the whole repository.
    let s = scan(root, &[".", "other"], &ScanOptions::default());
    assert_eq!(s.files_read, 4);
}

#[test]
fn apply_keeps_the_file_mode() {
    let repo = tempfile::tempdir().unwrap();
    let root = repo.path();
    write(root, "private.yaml", MARKED);
    write(root, "script.yaml", MARKED);
    std::fs::set_permissions(
        root.join("private.yaml"),
        std::fs::Permissions::from_mode(0o640),
    )
    .unwrap();
    std::fs::set_permissions(
        root.join("script.yaml"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();

    let s = scan(root, &[], &ScanOptions::default());
    let plan = markers::plan(&s, &resolve);
    assert_eq!(markers::apply(root, &plan).unwrap(), 2);
    let mode = |name: &str| {
        std::fs::metadata(root.join(name))
            .unwrap()
            .permissions()
            .mode()
            & 0o7777
    };
    assert_eq!(mode("private.yaml"), 0o640);
    assert_eq!(mode("script.yaml"), 0o755);
    assert_eq!(
        std::fs::read_to_string(root.join("private.yaml")).unwrap(),
        MARKED.replace("1.0.0", "1.1.0")
    );
    let names: Vec<_> = std::fs::read_dir(root)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 2, "no temporary file left: {names:?}");
}

#[test]
fn apply_refuses_a_file_changed_since_the_scan() {
    let repo = tempfile::tempdir().unwrap();
    let root = repo.path();
    write(root, "a.yaml", MARKED);
    let s = scan(root, &[], &ScanOptions::default());
    let plan = markers::plan(&s, &resolve);
    assert_eq!(plan.edits.len(), 1);

    let someone_else = MARKED.replace("1.0.0", "1.0.9");
    write(root, "a.yaml", &someone_else);
    let err = markers::apply(root, &plan).unwrap_err();
    assert!(matches!(err, ApplyError::Changed(_)), "{err}");
    assert_eq!(
        err.to_string(),
        "a.yaml changed since it was scanned: nothing was written to it"
    );
    assert_eq!(
        std::fs::read_to_string(root.join("a.yaml")).unwrap(),
        someone_else
    );
}

/// Texts left in their files (as a pass scans): the plan, the new text and apply read each
/// file again, and every one of them refuses a file that no longer holds the bytes scanned.
#[test]
fn texts_left_in_their_files_are_read_again_and_checked() {
    let repo = tempfile::tempdir().unwrap();
    let root = repo.path();
    write(root, "a.yaml", MARKED);
    write(root, "b.yaml", MARKED);
    let options = ScanOptions {
        keep_texts: false,
        ..ScanOptions::default()
    };
    let s = scan(root, &[], &options);
    assert!(
        s.files
            .iter()
            .all(|f| matches!(f.text, markers::Text::File { .. })),
        "{:?}",
        s.files
    );
    let plan = markers::plan(&s, &resolve);
    assert!(plan.problems.is_empty(), "{:?}", plan.problems);
    assert_eq!(plan.edits.len(), 2);
    let edited = MARKED.replace("1.0.0", "1.1.0");
    assert_eq!(plan.edits[0].after().unwrap(), edited);

    // b.yaml changes after the plan: its new text is refused, apply writes a.yaml and stops
    // at b.yaml, and a new plan over the same scan leaves b.yaml out with a problem.
    let someone_else = MARKED.replace("1.0.0", "1.0.9");
    write(root, "b.yaml", &someone_else);
    assert!(matches!(
        plan.edits[1].after(),
        Err(markers::TextError::Changed)
    ));
    let err = markers::apply(root, &plan).unwrap_err();
    assert!(matches!(err, ApplyError::Changed(_)), "{err}");
    assert_eq!(
        std::fs::read_to_string(root.join("a.yaml")).unwrap(),
        edited
    );
    assert_eq!(
        std::fs::read_to_string(root.join("b.yaml")).unwrap(),
        someone_else
    );
    write(root, "a.yaml", MARKED);
    let again = markers::plan(&s, &resolve);
    assert_eq!(again.edits.len(), 1);
    assert_eq!(again.problems.len(), 1, "{:?}", again.problems);
    assert_eq!(
        again.problems[0].to_string(),
        "b.yaml: the file changed since it was scanned: the file is left unchanged"
    );
}

#[test]
fn apply_refuses_a_file_replaced_by_a_symbolic_link() {
    let repo = tempfile::tempdir().unwrap();
    let root = repo.path();
    let outside = tempfile::tempdir().unwrap();
    write(root, "a.yaml", MARKED);
    write(outside.path(), "target.yaml", MARKED);
    let s = scan(root, &[], &ScanOptions::default());
    let plan = markers::plan(&s, &resolve);

    std::fs::remove_file(root.join("a.yaml")).unwrap();
    std::os::unix::fs::symlink(outside.path().join("target.yaml"), root.join("a.yaml")).unwrap();
    let err = markers::apply(root, &plan).unwrap_err();
    assert!(matches!(err, ApplyError::NotRegular(_)), "{err}");
    assert_eq!(
        std::fs::read_to_string(outside.path().join("target.yaml")).unwrap(),
        MARKED
    );

    // A directory on the path swapped for a link that leaves the repository.
    write(root, "dir/b.yaml", MARKED);
    let s = scan(root, &["dir"], &ScanOptions::default());
    let plan = markers::plan(&s, &resolve);
    std::fs::rename(root.join("dir"), outside.path().join("dir")).unwrap();
    std::os::unix::fs::symlink(outside.path().join("dir"), root.join("dir")).unwrap();
    let err = markers::apply(root, &plan).unwrap_err();
    assert!(matches!(err, ApplyError::NotRegular(_)), "{err}");
    assert_eq!(
        std::fs::read_to_string(outside.path().join("dir/b.yaml")).unwrap(),
        MARKED
    );
}

#[test]
fn reports_problems_with_file_and_line_and_reads_on() {
    let repo = tempfile::tempdir().unwrap();
    let root = repo.path();
    write(
        root,
        "apps/a.yaml",
        "x: 1\nbad: app:1 # {\"$baton\": 7}\nimage: ghcr.io/acme/app:1.0.0 # {\"$baton\": \"app\"}\n",
    );
    write(root, "apps/b.yaml", MARKED);
    let s = scan(root, &[], &ScanOptions::default());
    assert_eq!(found(&s), ["apps/a.yaml", "apps/b.yaml"]);
    assert_eq!(s.problems.len(), 1);
    assert_eq!(
        s.problems[0].to_string(),
        "apps/a.yaml:2: \"$baton\" must be a string such as \"POLICY\" or \"POLICY:tag\""
    );
    let plan = markers::plan(&s, &resolve);
    assert_eq!(plan.edits.len(), 2);
    assert_eq!(plan.problems.len(), 1);
}
