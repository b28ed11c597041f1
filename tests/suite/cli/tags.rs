//! `baton tags` as a process against a real local registry, with and without auth.

use crate::support::baton::Baton;
use std::path::Path;

use crate::support::registry::LocalRegistry;

fn write_config(dir: &Path, registry: &LocalRegistry, auth: Option<(&str, &str)>) -> String {
    let mut registry_section = format!("[registries.\"{}\"]\ninsecure = true\n", registry.host());
    if let Some((user, password)) = auth {
        let password_file = dir.join("registry-password");
        std::fs::write(&password_file, format!("{password}\n")).unwrap();
        registry_section.push_str(&format!(
            "username = \"{user}\"\npassword_file = \"{}\"\n",
            password_file.display()
        ));
    }
    let config = format!(
        r#"[git]
url = "file:///nonexistent/fleet.git"

{registry_section}
[images.app]
repository = "{host}/team/app"
interval = "1m"

[policies.app-stable]
image = "app"
semver = "^1.0"

[policies.app-latest-build]
image = "app"
numerical = "asc"
filter = {{ pattern = '^build-(?P<n>[0-9]+)$', extract = '$n' }}
"#,
        host = registry.host()
    );
    let path = dir.join("baton.toml");
    std::fs::write(&path, config).unwrap();
    path.display().to_string()
}

fn baton(args: &[&str]) -> (i32, String, String) {
    let run = Baton::new(args).run();
    (run.code, run.stdout, run.stderr)
}

async fn populate(registry: &LocalRegistry) {
    let tags: Vec<String> = [
        "1.0.0",
        "1.2.0",
        "v1.10.0",
        "2.0.0",
        "1.3.0-rc.1",
        "build-9",
        "build-10",
        "latest",
    ]
    .iter()
    .map(|t| t.to_string())
    .collect();
    registry.push_tags("team/app", &tags).await;
}

#[tokio::test]
async fn tags_ranks_by_each_policy_without_auth() {
    let registry = LocalRegistry::start();
    populate(&registry).await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &registry, None);

    let (code, out, err) = baton(&["tags", "app", "--config", &config]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("/team/app: 8 tags in 1 request"), "{out}");
    assert!(
        out.contains("policy app-stable (semver ^1.0): chose v1.10.0 of 8 tags"),
        "{out}"
    );
    assert!(
        out.contains("  v1.10.0  <- chosen\n  1.2.0\n  1.0.0\n"),
        "{out}"
    );
    assert!(out.contains("policy app-latest-build (numerical asc, filter ^build-(?P<n>[0-9]+)$ extract $n): chose build-10"), "{out}");

    let (code, out, _) = baton(&["tags", "app", "--policy", "app-stable", "--config", &config]);
    assert_eq!(code, 0);
    assert!(!out.contains("app-latest-build"), "{out}");
    assert!(out.contains("not eligible under app-stable:"), "{out}");
    assert!(out.contains("  2.0.0  (out of range)"), "{out}");

    let (code, _, err) = baton(&["tags", "app", "--policy", "nope", "--config", &config]);
    assert_eq!(code, 1);
    assert!(err.contains("no policy \"nope\""), "{err}");

    // A repository that is not in the config is listed with the host's settings.
    let other = format!("{}/team/app", registry.host());
    let (code, out, err) = baton(&["tags", &other, "--config", &config]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("policy app-stable"), "{out}");
}

#[tokio::test]
async fn tags_with_basic_auth_and_a_wrong_password() {
    let registry = LocalRegistry::start_with_auth("alice", "correct horse");
    populate(&registry).await;
    let dir = tempfile::tempdir().unwrap();

    let config = write_config(dir.path(), &registry, Some(("alice", "correct horse")));
    let (code, out, err) = baton(&["tags", "app", "--config", &config]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("chose v1.10.0"), "{out}");

    let config = write_config(dir.path(), &registry, Some(("alice", "wrong")));
    let (code, _, err) = baton(&["tags", "app", "--config", &config]);
    assert_eq!(code, 1);
    assert!(err.contains("401 from"), "{err}");
    assert!(err.contains("for team/app"), "{err}");
    assert!(!err.contains("wrong"), "the password never appears: {err}");
}

#[tokio::test]
async fn tags_reports_a_missing_password_file() {
    let registry = LocalRegistry::start();
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &registry, Some(("alice", "x")));
    std::fs::remove_file(dir.path().join("registry-password")).unwrap();
    let (code, _, err) = baton(&["tags", "app", "--config", &config]);
    assert_eq!(code, 1);
    assert!(err.contains("registry-password"), "{err}");
}

/// The real registry speaks plain HTTP; a configuration without `insecure = true` gets an
/// error that says so and names the setting, not only rustls's "corrupt message".
#[tokio::test]
async fn a_plain_http_registry_without_insecure_names_the_setting() {
    let registry = LocalRegistry::start();
    populate(&registry).await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &registry, None);
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace("insecure = true\n", "");
    std::fs::write(&config, text).unwrap();
    let (code, _, err) = baton(&["tags", "app", "--config", &config]);
    assert_eq!(code, 1, "{err}");
    let hint = format!(
        "answered in plain HTTP, not TLS: for a registry on a trusted network, set insecure = true under [registries.\"{}\"]",
        registry.host()
    );
    assert!(err.contains(&hint), "{err}");
}
