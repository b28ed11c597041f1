//! `baton check` run as a process: exit codes, located errors, environment overrides.

use std::path::Path;
use std::process::Output;

use crate::support::baton::Baton;

fn baton(args: &[&str], env: &[(&str, &str)]) -> Output {
    Baton::new(args).envs(env).command().output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn example() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("config.example.toml")
        .display()
        .to_string()
}

#[test]
fn version() {
    let out = baton(&["--version"], &[]);
    assert!(out.status.success());
    assert_eq!(
        text(&out.stdout).trim(),
        format!("baton {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn the_example_config_is_valid() {
    let out = baton(&["check", "--config", &example()], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("ok: 3 registries, 2 images, 2 policies, 2 environments"),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "environment production: review in clusters/production, promote from staging after 24h"
        ),
        "{stdout}"
    );
}

#[test]
fn config_path_from_the_environment() {
    let out = baton(&["check"], &[("BATON_CONFIG", &example())]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    // The file named by the variable is the one read: its mistake is reported at its path.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("from-env.toml");
    std::fs::write(&path, "[daemon]\nconcurrency = \"four\"\n").unwrap();
    let out = baton(&["check"], &[("BATON_CONFIG", path.to_str().unwrap())]);
    assert!(!out.status.success());
    let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(
        all.contains(&format!("{}:2:", path.display())) && all.contains("daemon.concurrency"),
        "{all}"
    );
}

#[test]
fn five_mistakes_five_located_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("baton.toml");
    std::fs::write(
        &path,
        r#"[daemon]
concurrency = "four"

[git]
url = "file:///srv/fleet.git"
token = "do-not-print-me"

[images.app]
repository = "ghcr.io/example/app"
interval = "2s"
exclude = ["(unclosed"]

[policies.app]
image = "app"
semver = "1.x"
alphabetical = "asc"
"#,
    )
    .unwrap();
    let out = baton(&["check", "--config", path.to_str().unwrap()], &[]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("has 5 errors"), "{stderr}");
    let file = path.display().to_string();
    for (line, key) in [
        (2, "daemon.concurrency"),
        (6, "git.token"),
        (10, "images.app.interval"),
        (11, "images.app.exclude.0"),
        (16, "policies.app.alphabetical"),
    ] {
        let needle = format!("{file}:{line}:");
        let found = stderr
            .lines()
            .any(|l| l.contains(&needle) && l.contains(key));
        assert!(found, "no error at line {line} for {key}:\n{stderr}");
    }
    assert!(!stderr.contains("do-not-print-me"), "{stderr}");
}

#[test]
fn environment_overrides_are_validated_and_located() {
    let out = baton(
        &["check", "--config", &example()],
        &[
            ("BATON_DAEMON__CONCURRENCY", "lots"),
            ("BATON_GIT__BRANCH", "release"),
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("environment variable BATON_DAEMON__CONCURRENCY: daemon.concurrency: expected an integer, found the string \"lots\""),
        "{stderr}"
    );
    let out = baton(
        &["check", "--config", &example()],
        &[("BATON_GIT__BRANCH", "release")],
    );
    assert!(out.status.success());
    assert!(text(&out.stdout).contains("(branch release)"));
}

#[test]
fn a_missing_file_is_a_clear_error() {
    let out = baton(&["check", "--config", "/nonexistent/baton.toml"], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("/nonexistent/baton.toml: cannot read the configuration"));
}
