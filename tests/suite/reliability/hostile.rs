//! Reliability: hostile inputs during a whole `baton once`. Tags and digests made to break
//! YAML or paths, a registry that sends a gigabyte, symbolic links out of the repository
//! (one to /etc/passwd), markers naming unknown policies, and secrets written inline in the
//! config. Each gets a clear error naming what and where, the other images keep moving, and
//! nothing outside the intended scalar is ever written.
//!
//! The registries that misbehave are fakes (`crate::support::fake_registry`): the real registry
//! refuses such tags and digests itself.

use crate::support::baton::Baton;
use crate::support::fake_registry::{Behaviour, FakeManifest, FakeRegistry};
use crate::support::fleet::{Fleet, STAGING_APP};
use crate::support::git_server::{BRANCH, git};
use crate::support::reliability::run_measured;

/// Adds `text` at `path` to the remote as another writer.
fn add_file(fleet: &Fleet, path: &str, text: &str) {
    fleet.writer().commit_and_push(path, text, "Add a file");
}

/// Every file at the remote head, with its content.
fn tree(fleet: &Fleet) -> Vec<(String, String)> {
    let head = fleet.head();
    git(&fleet.remote.path, &["ls-tree", "-r", "--name-only", &head])
        .lines()
        .map(|path| (path.to_string(), fleet.show(&head, path)))
        .collect()
}

/// The summary `baton once` prints at the end of a failed pass.
fn summary(run: &crate::support::fleet::Run) -> String {
    run.stderr
        .split("baton once:")
        .nth(1)
        .unwrap_or_else(|| panic!("no summary: {}", run.both()))
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_tags_and_digests_are_never_written() {
    let long = format!("9.9.9-{}", "a".repeat(200));
    let tags = serde_json::json!({
        "name": "team/hostile",
        "tags": [
            "1.0.0", "1.1.0",
            "9.9.9\nevil: injected", "9.9.9: x", "9.9.9 # comment", "9.9.9\"", "'9.9.9'",
            "../../../etc/passwd", "9.9.9/x", "9.9.9 ", " 9.9.9", "9.9.9\t", long,
            "9.9.9-ünïcødé", "9.9.9\u{202e}", "-9.9.9", ".9.9.9", "", 9, null, {"a": 1}
        ],
    });
    let hostile = FakeRegistry::start(Behaviour {
        raw_tags_body: Some(tags.to_string().into_bytes()),
        ..Default::default()
    })
    .await;
    let zeros = format!("sha256:{}", "0".repeat(64));
    let mut manifests = std::collections::HashMap::new();
    for (tag, digest) in [
        ("2.1.0", "sha256:../../../etc/passwd"),
        ("2.2.0", "sha256:0123"),
        ("2.3.0", "md5:d41d8cd98f00b204e9800998ecf8427e"),
    ] {
        manifests.insert(
            tag.to_string(),
            FakeManifest {
                body: b"{}".to_vec(),
                digest_header: Some(digest.to_string()),
            },
        );
    }
    let digests = FakeRegistry::start(Behaviour {
        tags: vec!["2.0.0".into(), "2.3.0".into()],
        manifests,
        ..Default::default()
    })
    .await;
    let fleet = Fleet::start().await;
    let (h, d) = (hostile.host(), digests.host());
    let extra = format!(
        r#"
[registries."{h}"]
insecure = true

[registries."{d}"]
insecure = true

[images.hostile]
repository = "{h}/team/hostile"

[images.pinned]
repository = "{d}/team/pinned"

[policies.hostile]
image = "hostile"
semver = "*"

[policies.pinned]
image = "pinned"
semver = "2.x"
pin_digest = "always"
"#
    );
    fleet.write_config_with(&fleet.remote.file_url(), "", &extra);
    let file = format!(
        "# hostile registries\nimage: {h}/team/hostile:1.0.0 # {{\"$baton\": \"hostile\"}}\ntag: \"1.0.0\" # {{\"$baton\": \"hostile:tag\"}}\npinned: {d}/team/pinned:2.0.0@{zeros} # {{\"$baton\": \"pinned\"}}\n"
    );
    add_file(&fleet, "clusters/staging/hostile.yaml", &file);

    let run = fleet.baton(&["once"]);
    // The digest that is not a digest fails the pass for that image, naming it and the tag.
    assert_eq!(run.code, 1, "{}", run.both());
    let summary = summary(&run);
    assert!(summary.contains("image pinned"), "{summary}");
    assert!(
        summary.contains(
            "\"md5:d41d8cd98f00b204e9800998ecf8427e\" for tag 2.3.0 is not sha256 + 64 hex"
        ),
        "{summary}"
    );
    // The hostile tags were dropped, named in the log with the repository; the one valid
    // newer tag won.
    let warning = run
        .stderr
        .lines()
        .find(|l| l.contains("dropped tags that are not valid OCI tags"))
        .unwrap_or_else(|| panic!("no warning: {}", run.both()));
    assert!(warning.contains("repository=team/hostile"), "{warning}");
    assert!(warning.contains("dropped=19"), "{warning}");
    assert!(warning.contains(r#""9.9.9\nevil: injected""#), "{warning}");
    let head = fleet.head();
    assert_eq!(
        fleet.show(&head, "clusters/staging/hostile.yaml"),
        file.replace(":1.0.0 #", ":1.1.0 #")
            .replace("\"1.0.0\" #", "\"1.1.0\" #")
    );
    // The other images moved as usual.
    assert!(fleet.show(&head, STAGING_APP).contains("app:1.1.0@sha256:"));
    for (path, text) in tree(&fleet) {
        for bad in ["9.9.9", "evil", "passwd", "md5:", "sha256:0123 "] {
            assert!(!text.contains(bad), "{bad:?} written into {path}:\n{text}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registry_sending_a_gigabyte_is_cut_off_and_the_others_move() {
    const GIB: u64 = 1024 * 1024 * 1024;
    let huge = FakeRegistry::start(Behaviour {
        huge_tags_body: Some(GIB),
        ..Default::default()
    })
    .await;
    let fleet = Fleet::start().await;
    let host = huge.host();
    let extra = format!(
        "\n[registries.\"{host}\"]\ninsecure = true\n\n[images.huge]\nrepository = \"{host}/team/huge\"\n\n[policies.huge]\nimage = \"huge\"\nsemver = \"*\"\n"
    );
    fleet.write_config_with(&fleet.remote.file_url(), "", &extra);
    let file = format!("image: {host}/team/huge:1.0.0 # {{\"$baton\": \"huge\"}}\n");
    add_file(&fleet, "clusters/staging/huge.yaml", &file);

    let (run, peak_kib) = run_measured(fleet.command(&["once"], &[]), fleet.dir.path());
    let sent = huge.huge_bytes_sent();
    eprintln!(
        "1 GiB offered: {} MiB sent before Baton hung up; baton's peak resident memory {} MiB",
        sent / (1024 * 1024),
        peak_kib / 1024
    );
    assert_eq!(run.code, 1, "{}", run.both());
    let summary = summary(&run);
    assert!(summary.contains("image huge"), "{summary}");
    assert!(summary.contains("raise max_response_bytes"), "{summary}");
    // Stopped reading at the 16 MiB cap (plus what the sockets buffer), with memory to match.
    assert!(sent < 128 * 1024 * 1024, "{sent} bytes were read");
    assert!(peak_kib < 256 * 1024, "peak resident memory {peak_kib} KiB");
    let head = fleet.head();
    assert!(fleet.show(&head, STAGING_APP).contains("app:1.1.0@sha256:"));
    assert_eq!(fleet.show(&head, "clusters/staging/huge.yaml"), file);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn symbolic_links_out_of_the_repository_are_never_written_through() {
    let fleet = Fleet::start().await;
    fleet.write_config(&fleet.remote.file_url());
    // A file outside the repository that carries a marker: written through a link, it would
    // move. And /etc/passwd itself, linked as a YAML file and through a linked directory.
    let outside = fleet.dir.path().join("outside.yaml");
    let outside_text = format!(
        "image: {} # {{\"$baton\": \"app\"}}\n",
        format_args!("{}:1.0.0", fleet.image("app"))
    );
    std::fs::write(&outside, &outside_text).unwrap();
    let passwd_before = std::fs::read("/etc/passwd").unwrap();
    let passwd_mtime = std::fs::metadata("/etc/passwd")
        .unwrap()
        .modified()
        .unwrap();
    let writer = fleet.writer();
    let staging = writer.work.join("clusters/staging");
    std::os::unix::fs::symlink("/etc/passwd", staging.join("passwd.yaml")).unwrap();
    std::os::unix::fs::symlink(&outside, staging.join("outside.yaml")).unwrap();
    std::os::unix::fs::symlink("/etc", staging.join("etc")).unwrap();
    git(
        &writer.work,
        &["pull", "--quiet", "--ff-only", "origin", BRANCH],
    );
    git(&writer.work, &["add", "-A"]);
    git(
        &writer.work,
        &["commit", "--quiet", "-m", "Plant symbolic links"],
    );
    git(&writer.work, &["push", "--quiet", "origin", BRANCH]);
    let planted = fleet.head();

    let run = fleet.baton(&["once"]);
    assert_eq!(run.code, 0, "{}", run.both());
    assert!(
        run.stderr.contains("skipped=2 symbolic links"),
        "{}",
        run.both()
    );
    assert_eq!(std::fs::read("/etc/passwd").unwrap(), passwd_before);
    assert_eq!(
        std::fs::metadata("/etc/passwd")
            .unwrap()
            .modified()
            .unwrap(),
        passwd_mtime
    );
    assert_eq!(std::fs::read_to_string(&outside).unwrap(), outside_text);
    // The marked files inside moved; the links are committed exactly as they were.
    let head = fleet.head();
    assert!(fleet.show(&head, STAGING_APP).contains("app:1.1.0@sha256:"));
    for link in ["passwd.yaml", "outside.yaml", "etc"] {
        let path = format!("clusters/staging/{link}");
        assert_eq!(
            git(
                &fleet.remote.path,
                &["rev-parse", &format!("{head}:{path}")]
            ),
            git(
                &fleet.remote.path,
                &["rev-parse", &format!("{planted}:{path}")]
            ),
            "{path} changed"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn markers_naming_unknown_policies_are_reported_with_file_and_line() {
    let fleet = Fleet::start().await;
    fleet.write_config(&fleet.remote.file_url());
    let app = fleet.image("app");
    let file = format!(
        "# markers for policies that do not exist\nfirst: {app}:1.0.0 # {{\"$baton\": \"nosuch\"}}\nsecond: {app}:1.0.0 # {{\"$imagepolicy\": \"flux-system:app-typo:tag\"}}\nthird: {app}:1.0.0 # {{\"$baton\": \"app\"}}\n"
    );
    add_file(&fleet, "clusters/staging/unknown.yaml", &file);

    let run = fleet.baton(&["once"]);
    // Reported, not fatal: the other markers move and are pushed; the pass exits 3, the
    // code `plan` gives marker problems too (docs/json-output.md).
    assert_eq!(run.code, 3, "{}", run.both());
    for line in run.stderr.lines().filter(|l| l.contains("unknown.yaml")) {
        eprintln!("{line}");
    }
    assert!(
        run.stderr
            .contains("clusters/staging/unknown.yaml:2: marker names policy \"nosuch\""),
        "{}",
        run.both()
    );
    assert!(
        run.stderr
            .contains("clusters/staging/unknown.yaml:3: marker names policy \"app-typo\""),
        "{}",
        run.both()
    );
    // The known markers moved, the unknown ones kept their bytes.
    let head = fleet.head();
    assert!(fleet.show(&head, STAGING_APP).contains("app:1.1.0@sha256:"));
    let after = fleet.show(&head, "clusters/staging/unknown.yaml");
    let lines: Vec<&str> = after.lines().collect();
    let before: Vec<&str> = file.lines().collect();
    assert_eq!(lines[..3], before[..3]);
    assert!(
        lines[3].starts_with(&format!("third: {app}:1.1.0@sha256:")),
        "{after}"
    );
}

#[test]
fn secrets_written_inline_are_refused_naming_key_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("baton.toml");
    let secret = "ghp_inline0secret0value0never0shown";
    std::fs::write(
        &config,
        format!(
            "[git]\nurl = \"https://git.example.com/fleet.git\"\ntoken = \"{secret}\"\n\n[registries.\"ghcr.io\"]\nusername = \"bot\"\npassword = \"{secret}\"\n"
        ),
    )
    .unwrap();
    for command in ["check", "once"] {
        let run = Baton::new([command]).config(&config).run();
        assert_ne!(run.code, 0, "{}", run.both());
        let located = |line: usize, key: &str| {
            format!(
                "{}:{line}:1: {key}: a secret must not be written inline",
                config.display()
            )
        };
        assert!(
            run.stderr.contains(&located(3, "git.token")),
            "{}",
            run.both()
        );
        assert!(
            run.stderr
                .contains(&located(7, "registries.\"ghcr.io\".password")),
            "{}",
            run.both()
        );
        assert!(!run.stdout.contains(secret) && !run.stderr.contains(secret));
    }
}
