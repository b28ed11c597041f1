//! The shipped artefacts: the systemd units, main and template (verified and scored by systemd-analyze), the
//! Debian package (built with cargo-deb, inspected with dpkg-deb, unpacked into a scratch
//! root) and the container image's Dockerfile (hadolint, and paths matching the binary).
//! `scripts/test` installs systemd-analyze, cargo-deb and hadolint when they are missing.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::baton::Baton;
use baton::config::{DEFAULT_CONFIG_PATH, DEFAULT_LISTEN_PORT, DEFAULT_STATE_DIR};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn run(cmd: &mut Command) -> (bool, String) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e} (scripts/test installs it)"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// The shipped units: the main one and the template for one instance per configuration.
const UNITS: [&str; 2] = ["baton.service", "baton@.service"];

/// What systemd-analyze is given for a unit file: the template as one of its instances.
fn analyzed(unit: &str) -> String {
    unit.replace("@.", "@test.")
}

/// The unit with ExecStart pointing at the binary under test, so `verify` can find it.
fn unit_for_test(dir: &Path, name: &str) -> PathBuf {
    let unit = std::fs::read_to_string(repo().join("systemd").join(name)).unwrap();
    assert!(unit.contains("ExecStart=/usr/bin/baton run"));
    std::fs::write(
        dir.join(name),
        unit.replace("/usr/bin/baton", &Baton::path().display().to_string()),
    )
    .unwrap();
    dir.join(analyzed(name))
}

#[test]
fn systemd_units_verify_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    for name in UNITS {
        let unit = unit_for_test(dir.path(), name);
        let (ok, text) = run(Command::new("systemd-analyze").arg("verify").arg(&unit));
        assert!(
            ok && text.trim().is_empty(),
            "systemd-analyze verify {}:\n{text}",
            unit.display()
        );
    }
}

#[test]
fn systemd_units_exposure_is_at_most_2() {
    let dir = tempfile::tempdir().unwrap();
    for name in UNITS {
        let unit = unit_for_test(dir.path(), name);
        let (_, text) = run(Command::new("systemd-analyze")
            .args(["security", "--offline=yes", "--no-pager"])
            .arg(&unit));
        let line = text
            .lines()
            .find(|l| l.contains("Overall exposure level"))
            .unwrap_or_else(|| panic!("no exposure level in:\n{text}"));
        let score: f64 = line
            .split(':')
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("cannot read the score from {line:?}"));
        println!("{line}");
        assert!(score <= 2.0, "{line}");
    }
}

#[test]
fn systemd_unit_has_what_the_daemon_relies_on() {
    let unit = std::fs::read_to_string(repo().join("systemd/baton.service")).unwrap();
    for line in [
        "Type=notify",
        "WatchdogSec=",
        "ExecReload=/bin/sh -c 'kill -HUP \"$MAINPID\"'",
        "Restart=on-failure",
        "StateDirectory=baton",
        "ConfigurationDirectory=baton",
        "LoadCredential=baton:/etc/baton/credentials",
        &format!("BATON_DAEMON__STATE_DIR={DEFAULT_STATE_DIR}"),
        &format!("--config {DEFAULT_CONFIG_PATH}"),
    ] {
        assert!(unit.contains(line), "unit lacks {line:?}");
    }
}

/// The template is the main unit with only what makes an instance its own changed: its
/// configuration, state directory and credentials. Every other line, the sandbox and the
/// watchdog included, is the same, so a hardening change cannot miss one of them.
#[test]
fn systemd_template_is_the_main_unit_per_instance() {
    let directives = |name: &str| -> Vec<String> {
        std::fs::read_to_string(repo().join("systemd").join(name))
            .unwrap()
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
            .map(str::to_string)
            .collect()
    };
    let main = directives("baton.service");
    let template = directives("baton@.service");
    let per_instance = [
        ("Description=Baton image automation daemon", " (%i)"),
        (
            "ExecStart=/usr/bin/baton run --config /etc/baton/",
            "%i.toml",
        ),
        ("StateDirectory=baton", "@%i"),
        ("Environment=HOME=/var/lib/baton", "@%i"),
        ("Environment=BATON_DAEMON__STATE_DIR=/var/lib/baton", "@%i"),
        ("LoadCredential=baton:/etc/baton/", "%i.credentials"),
    ];
    assert_eq!(main.len(), template.len(), "{main:#?}\n{template:#?}");
    for (m, t) in main.iter().zip(&template) {
        let expected = per_instance
            .iter()
            .find(|(prefix, _)| m.starts_with(prefix))
            .map(|(prefix, tail)| format!("{prefix}{tail}"));
        match expected {
            Some(expected) => assert_eq!(t, &expected, "the template's line for {m:?}"),
            None => assert_eq!(t, m, "the template differs from baton.service"),
        }
    }
}

#[test]
fn credentials_directory_paths_resolve_and_explain_when_missing() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("baton.toml");
    std::fs::write(
        &config,
        "[git]\nurl = \"https://git.example.com/fleet.git\"\ntoken_file = \"$CREDENTIALS_DIRECTORY/baton_git-token\"\n",
    )
    .unwrap();
    let baton = || Baton::new(["check"]).config(&config).command();
    let (ok, text) = run(baton().env_remove("CREDENTIALS_DIRECTORY"));
    assert!(!ok, "{text}");
    assert!(
        text.contains("git.token_file") && text.contains("CREDENTIALS_DIRECTORY is not set"),
        "{text}"
    );
    let (ok, text) = run(baton().env("CREDENTIALS_DIRECTORY", dir.path()));
    assert!(ok, "{text}");
}

/// The credential paths config.example.toml (shipped as /etc/baton/baton.toml) names are the
/// ones the shipped unit's `LoadCredential=ID:DIR` creates: systemd names each file FILE of a
/// directory `ID_FILE` under /run/credentials/UNIT/ (systemd.exec(5)).
#[test]
fn example_credential_paths_are_where_the_unit_puts_them() {
    let unit = std::fs::read_to_string(repo().join("systemd/baton.service")).unwrap();
    let id = unit
        .lines()
        .find_map(|l| l.strip_prefix("LoadCredential="))
        .and_then(|v| v.split_once(':'))
        .map(|(id, _)| id.to_string())
        .expect("a LoadCredential=ID:DIR line");
    let prefix = format!("/run/credentials/baton.service/{id}_");
    let mut checked = 0;
    for doc in [
        "config.example.toml",
        "docs/promotion.md",
        "docs/install.md",
    ] {
        let text = std::fs::read_to_string(repo().join(doc)).unwrap();
        for (n, line) in text.lines().enumerate() {
            for (at, _) in line.match_indices("/run/credentials/") {
                checked += 1;
                assert!(
                    line[at..].starts_with(&prefix),
                    "{doc}:{}: {line:?} is not where LoadCredential={id}:... puts a credential ({prefix}FILE)",
                    n + 1
                );
            }
            for (at, _) in line.match_indices("$CREDENTIALS_DIRECTORY/") {
                let name = &line[at + "$CREDENTIALS_DIRECTORY/".len()..];
                assert!(
                    !name.starts_with(|c: char| c.is_ascii_alphanumeric())
                        || name.starts_with(&format!("{id}_")),
                    "{doc}:{}: {line:?} is not a credential LoadCredential={id}:... creates",
                    n + 1
                );
            }
        }
    }
    assert!(
        checked >= 5,
        "config.example.toml names too few credentials"
    );
}

fn dockerfile() -> String {
    std::fs::read_to_string(repo().join("packaging/Dockerfile")).unwrap()
}

#[test]
fn dockerfile_passes_hadolint() {
    let (ok, text) = run(Command::new("hadolint")
        .arg("--failure-threshold")
        .arg("warning")
        .arg(repo().join("packaging/Dockerfile")));
    assert!(ok, "hadolint:\n{text}");
}

#[test]
fn dockerfile_runtime_matches_the_binary_defaults() {
    let text = dockerfile();
    let runtime = text
        .split("AS runtime")
        .nth(1)
        .expect("a stage named runtime");
    for needle in [
        format!("BATON_CONFIG={DEFAULT_CONFIG_PATH}"),
        format!("BATON_DAEMON__STATE_DIR={DEFAULT_STATE_DIR}"),
        format!("VOLUME [\"{DEFAULT_STATE_DIR}\"]"),
        format!("BATON_DAEMON__LISTEN=0.0.0.0:{DEFAULT_LISTEN_PORT}"),
        format!("EXPOSE {DEFAULT_LISTEN_PORT}"),
        format!("http://127.0.0.1:{DEFAULT_LISTEN_PORT}/healthz"),
        "USER 10001".to_string(),
        "COPY --from=build /out/baton /usr/bin/baton".to_string(),
        "ENTRYPOINT [\"/usr/bin/baton\"]".to_string(),
    ] {
        assert!(runtime.contains(&needle), "runtime stage lacks {needle:?}");
    }
    // The runtime image carries what Baton runs: named on the install line itself (comments
    // and other instructions do not count), with or without a version pin.
    let instructions = runtime.replace("\\\n", " ");
    let installed: Vec<&str> = instructions
        .lines()
        .filter(|l| l.trim_start().starts_with("RUN ") && l.contains("apt-get install"))
        .flat_map(|l| l.split_whitespace())
        .map(|word| word.split('=').next().unwrap_or(word))
        .collect();
    for package in ["git", "openssh-client", "ca-certificates"] {
        assert!(
            installed.contains(&package),
            "runtime stage does not install {package}: {installed:?}"
        );
    }
}

/// Builds the .deb from the already-built binary, checks its control fields and contents,
/// and unpacks it into a scratch root the way dpkg would place it.
#[test]
fn debian_package_builds_and_installs_into_a_scratch_root() {
    let out = tempfile::tempdir().unwrap();
    // The test binary's directory is the profile directory cargo-deb must read.
    let bin = Baton::path();
    let profile_dir = bin.parent().unwrap();
    let target_dir = profile_dir.parent().unwrap();
    let profile = profile_dir.file_name().unwrap().to_str().unwrap();
    let cargo_profile = if profile == "debug" { "dev" } else { profile };
    // The completions and the man page, generated from this binary, as scripts/deb does.
    let (ok, text) = run(Command::new(repo().join("scripts/package-assets")).arg(&bin));
    assert!(ok, "scripts/package-assets:\n{text}");
    let (ok, text) = run(
        Command::new(std::env::var("CARGO").unwrap_or("cargo".into()))
            .current_dir(repo())
            .args([
                "deb",
                "--no-build",
                "--no-strip",
                "--profile",
                cargo_profile,
            ])
            .arg("--output")
            .arg(out.path())
            .env("CARGO_TARGET_DIR", target_dir),
    );
    assert!(ok, "cargo deb:\n{text}");
    let deb = std::fs::read_dir(out.path())
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "deb"))
        .unwrap_or_else(|| panic!("no .deb in {}:\n{text}", out.path().display()));

    let (ok, control) = run(Command::new("dpkg-deb").arg("--info").arg(&deb));
    assert!(ok, "{control}");
    assert!(control.contains("Package: baton"), "{control}");
    let depends = control
        .lines()
        .find(|l| l.trim_start().starts_with("Depends:"))
        .unwrap_or_else(|| panic!("no Depends in {control}"));
    assert!(
        depends.contains("git") && depends.contains("openssh-client"),
        "{depends}"
    );
    for script in ["postinst", "prerm", "postrm"] {
        assert!(control.contains(script), "no {script} in {control}");
    }

    let (ok, contents) = run(Command::new("dpkg-deb").arg("--contents").arg(&deb));
    assert!(ok, "{contents}");
    for path in [
        "./usr/bin/baton",
        "./etc/baton/baton.toml",
        "./usr/lib/systemd/system/baton.service",
        "./usr/lib/systemd/system/baton@.service",
        "./usr/share/doc/baton/README.Debian",
        "./usr/share/doc/baton/README.md",
        "./usr/share/doc/baton/docs/configuration.md",
        "./usr/share/doc/baton/docs/ARCHITECTURE.md",
        "./usr/share/doc/baton/examples/baton.toml",
        "./usr/share/bash-completion/completions/baton",
        "./usr/share/zsh/vendor-completions/_baton",
        "./usr/share/fish/vendor_completions.d/baton.fish",
        "./usr/share/man/man1/baton.1.gz",
    ] {
        assert!(contents.contains(path), "package lacks {path}:\n{contents}");
    }

    let control_dir = tempfile::tempdir().unwrap();
    let (ok, text) = run(Command::new("dpkg-deb")
        .arg("--control")
        .arg(&deb)
        .arg(control_dir.path()));
    assert!(ok, "{text}");
    let conffiles = std::fs::read_to_string(control_dir.path().join("conffiles")).unwrap();
    assert!(
        conffiles.lines().any(|l| l == "/etc/baton/baton.toml"),
        "{conffiles}"
    );

    // Unpacked into a scratch root, the binary runs and accepts the shipped config.
    let root = tempfile::tempdir().unwrap();
    let (ok, text) = run(Command::new("dpkg-deb")
        .arg("--extract")
        .arg(&deb)
        .arg(root.path()));
    assert!(ok, "{text}");
    let installed = root.path().join("usr/bin/baton");
    let (ok, text) = run(Command::new(&installed).arg("--version"));
    assert!(ok && text.starts_with("baton "), "{text}");
    let (ok, text) = run(Command::new(&installed)
        .arg("check")
        .arg("--config")
        .arg(root.path().join("etc/baton/baton.toml"))
        .env_remove("BATON_CONFIG"));
    assert!(ok, "the shipped config does not pass check:\n{text}");
    // The shipped completions and man page are the installed binary's own.
    let shipped = std::fs::read(
        root.path()
            .join("usr/share/bash-completion/completions/baton"),
    )
    .unwrap();
    let fresh = Command::new(&installed)
        .args(["completions", "bash"])
        .output()
        .unwrap();
    assert_eq!(
        shipped, fresh.stdout,
        "the shipped bash completions are stale"
    );
    let (ok, text) = run(Command::new("gzip")
        .arg("-dc")
        .arg(root.path().join("usr/share/man/man1/baton.1.gz")));
    assert!(ok && text.contains(".TH baton 1"), "{text}");
}
