//! `baton once` against registries that are not simply open: htpasswd Basic auth, and images
//! whose scan fails (a repository the registry does not have, a registry that is down) while
//! the other images still move.

use crate::support::baton::Baton;
use crate::support::fleet::{Fleet, STAGING_APP};
use crate::support::git_server::{BRANCH, free_port};

#[tokio::test]
async fn registry_with_htpasswd_auth() {
    let password = "pw-5ac1-registry-secret";
    let fleet = Fleet::start_with_registry_auth("fleet-bot", password).await;
    fleet.write_config(&fleet.remote.file_url());
    let seeded = fleet.head();
    let run = fleet.baton_env(&["once"], &[("RUST_LOG", "debug")]);
    assert_eq!(run.code, 0, "{}", run.both());
    assert_eq!(fleet.remote.parents(BRANCH)[2][0], seeded);
    assert!(
        fleet
            .show(&fleet.head(), STAGING_APP)
            .contains("app:1.1.0@sha256:")
    );
    assert!(!run.stdout.contains(password) && !run.stderr.contains(password));

    // Without credentials the scan fails with a clear error and nothing moves.
    let config = std::fs::read_to_string(fleet.config_path()).unwrap();
    let stripped: String = config
        .lines()
        .filter(|l| !l.starts_with("username") && !l.starts_with("password_file"))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(fleet.config_path(), stripped).unwrap();
    fleet.push("team/app", "1.3.0").await;
    let head = fleet.head();
    let run = fleet.baton(&["once"]);
    assert_ne!(run.code, 0, "{}", run.both());
    // Both images of the registry failed alike: one line names them.
    assert!(
        run.stderr
            .contains("2 images could not be scanned (app, web)"),
        "{}",
        run.both()
    );
    assert_eq!(fleet.head(), head);
}

#[tokio::test]
async fn one_image_failing_does_not_stop_the_others() {
    let fleet = Fleet::start().await;
    let down = format!("127.0.0.1:{}", free_port());
    let extra = format!(
        r#"
[registries."{down}"]
insecure = true
timeout = "5s"

[images.gone]
repository = "{host}/team/gone"

[images.down]
repository = "{down}/team/down"

[policies.gone]
image = "gone"
semver = "*"

[policies.down]
image = "down"
semver = "*"
"#,
        host = fleet.registry.host()
    );
    fleet.write_config_with(&fleet.remote.file_url(), "", &extra);
    let gone_file = format!(
        "a: {host}/team/gone:1.0.0 # {{\"$baton\": \"gone\"}}\nb: {down}/team/down:1.0.0 # {{\"$baton\": \"down\"}}\n",
        host = fleet.registry.host()
    );
    fleet
        .writer()
        .commit_and_push("clusters/staging/more.yaml", &gone_file, "Add more");
    let seeded = fleet.head();

    let run = fleet.baton(&["once"]);
    assert_eq!(run.code, 1, "{}", run.both());
    // The summary at the end names both images and why.
    let summary = run
        .stderr
        .split("baton once:")
        .nth(1)
        .unwrap_or_else(|| panic!("no summary: {}", run.both()));
    assert!(summary.contains("2 problems"), "{summary}");
    assert!(summary.contains("image gone"), "{summary}");
    assert!(summary.contains("image down"), "{summary}");
    assert!(summary.contains(&down), "{summary}");
    // The other images moved anyway, and the failed images' markers kept their values.
    assert_eq!(fleet.remote.parents(BRANCH)[2][0], seeded);
    let head = fleet.head();
    assert!(fleet.show(&head, STAGING_APP).contains("app:1.1.0@sha256:"));
    assert_eq!(fleet.show(&head, "clusters/staging/more.yaml"), gone_file);
    assert!(
        run.stdout.contains("policy gone: holds still"),
        "{}",
        run.both()
    );

    // plan reports the same failure with exit 1, not 0 or 2.
    let plan = fleet.baton(&["plan"]);
    assert_eq!(plan.code, 1, "{}", plan.both());
    assert!(plan.stderr.contains("image gone"), "{}", plan.both());
}

/// A fake registry (the real one cannot list a tag whose manifest it cannot serve) lists tags
/// but answers 500 for every manifest: a policy that pins digests cannot move, says so, and the
/// pass fails while the other images move.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreadable_digest_keeps_pinned_markers_and_is_reported() {
    use crate::support::fake_registry::{Behaviour, FakeRegistry};
    let fake = FakeRegistry::start(Behaviour {
        tags: vec!["5.0.0".into(), "5.1.0".into()],
        head_status: Some(500),
        ..Default::default()
    })
    .await;
    let fleet = Fleet::start().await;
    let extra = format!(
        r#"
[registries."{fake}"]
insecure = true

[images.pinned]
repository = "{fake}/team/pinned"

[policies.pinned]
image = "pinned"
semver = "5.x"
pin_digest = "always"
"#,
        fake = fake.host()
    );
    fleet.write_config_with(&fleet.remote.file_url(), "", &extra);
    let text = format!(
        "image: {}/team/pinned:5.0.0 # {{\"$baton\": \"pinned\"}}\n",
        fake.host()
    );
    fleet
        .writer()
        .commit_and_push("clusters/staging/pinned.yaml", &text, "Add pinned");

    let run = tokio::task::spawn_blocking({
        let config = fleet.config_path();
        move || {
            Baton::new(["once"])
                .config(&config)
                .command()
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr),
    );
    assert_eq!(run.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("image pinned: cannot read the digest of 5.1.0"),
        "{stderr}"
    );
    let head = fleet.head();
    assert_eq!(fleet.show(&head, "clusters/staging/pinned.yaml"), text);
    assert!(fleet.show(&head, STAGING_APP).contains("app:1.1.0@sha256:"));
}

/// A cosign signature tag (`sha256-<digest>.sig`) sorts after every other tag of an
/// alphabetical policy; with no `exclude` set, Flux's default exclusion keeps it from being
/// chosen, and the newest build tag moves instead.
#[tokio::test]
async fn a_signature_tag_is_excluded_by_default() {
    let fleet = Fleet::start().await;
    let digest = fleet.push("team/build", "build-001").await;
    fleet.push("team/build", "build-002").await;
    let signature = format!("{}.sig", digest.replace(':', "-"));
    fleet.push("team/build", &signature).await;
    let host = fleet.registry.host();
    fleet
        .config(&fleet.remote.file_url())
        .image("build", &format!("{host}/team/build"))
        .text_value("policies.build", "image", "build")
        .text_value("policies.build", "alphabetical", "asc")
        .write();
    fleet.writer().commit_and_push(
        "clusters/staging/build.yaml",
        &format!("image: {host}/team/build:build-001 # {{\"$baton\": \"build\"}}\n"),
        "Add build",
    );
    let run = fleet.baton(&["once"]);
    assert_eq!(run.code, 0, "{}", run.both());
    let text = fleet.show(&fleet.head(), "clusters/staging/build.yaml");
    assert_eq!(
        text,
        format!("image: {host}/team/build:build-002 # {{\"$baton\": \"build\"}}\n"),
        "{}",
        run.both()
    );
    assert!(!text.contains(".sig"));
}
