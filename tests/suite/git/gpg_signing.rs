//! GnuPG commit signing through the real binary: a throwaway key in a temporary GNUPGHOME,
//! `git.signing_key` given as a fingerprint and as an e-mail address (key ids, not paths),
//! and `git verify-commit` checking the pushed commits with that keyring.

use std::path::Path;
use std::process::Command;

use crate::support::fleet::{AUTHOR_EMAIL, Fleet};
use crate::support::git_server::git_command;

/// Runs gpg with `home` as its keyring; panics on failure.
fn gpg(home: &Path, args: &[&str]) -> String {
    let out = Command::new("gpg")
        .arg("--homedir")
        .arg(home)
        .args(["--batch", "--no-tty"])
        .args(args)
        .env("LC_ALL", "C")
        .output()
        .expect("run gpg (package gnupg)");
    assert!(
        out.status.success(),
        "gpg {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A GNUPGHOME with one signing key without passphrase; stops its agent when dropped.
struct Keyring {
    dir: tempfile::TempDir,
    fingerprint: String,
}

impl Keyring {
    fn new(user: &str) -> Keyring {
        let dir = tempfile::Builder::new().prefix("gpg").tempdir().unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
        gpg(
            dir.path(),
            &[
                "--passphrase",
                "",
                "--quick-gen-key",
                user,
                "ed25519",
                "sign",
                "never",
            ],
        );
        let listing = gpg(
            dir.path(),
            &["--with-colons", "--list-secret-keys", "--fingerprint"],
        );
        let fingerprint = listing
            .lines()
            .find_map(|l| l.strip_prefix("fpr:"))
            .and_then(|rest| rest.split(':').find(|f| f.len() == 40))
            .unwrap_or_else(|| panic!("no fingerprint in {listing}"))
            .to_string();
        Keyring { dir, fingerprint }
    }

    fn home(&self) -> &str {
        self.dir.path().to_str().unwrap()
    }
}

impl Drop for Keyring {
    fn drop(&mut self) {
        let _ = Command::new("gpgconf")
            .arg("--homedir")
            .arg(self.dir.path())
            .args(["--kill", "gpg-agent"])
            .status();
    }
}

/// `git verify-commit --raw` of `commit` in the remote with `home` as keyring.
fn verify(fleet: &Fleet, home: &str, commit: &str) -> (bool, String) {
    let out = git_command(&fleet.remote.path, &["verify-commit", "--raw", commit])
        .env("GNUPGHOME", home)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gpg_signing_by_key_id_verifies_with_git() {
    let fleet = Fleet::start().await;
    let keys = Keyring::new(&format!("Baton Bot <{AUTHOR_EMAIL}>"));
    let url = fleet.remote.file_url();
    let seed = fleet.head();

    // By fingerprint.
    fleet.write_config_with(
        &url,
        &format!(
            "signing_key = \"{}\"\nsigning_format = \"gpg\"\n",
            keys.fingerprint
        ),
        "",
    );
    let run = fleet.baton_env(&["once"], &[("GNUPGHOME", keys.home())]);
    assert_eq!(run.code, 0, "{}", run.both());
    let first = fleet.head();
    assert_ne!(first, seed, "{}", run.both());
    let (ok, raw) = verify(&fleet, keys.home(), &first);
    assert!(ok, "verify-commit failed: {raw}");
    assert!(
        raw.contains(&format!("[GNUPG:] VALIDSIG {}", keys.fingerprint)),
        "{raw}"
    );
    // The seed commit is unsigned: the check above can fail.
    assert!(!verify(&fleet, keys.home(), &seed).0);
    // Another keyring does not vouch for it: the signature is the key's, not any key's.
    let other = Keyring::new("Someone Else <else@example.com>");
    assert!(!verify(&fleet, other.home(), &first).0);

    // By e-mail address, as gpg -u takes it.
    fleet.push("team/app", "1.3.0").await;
    fleet.write_config_with(
        &url,
        &format!("signing_key = \"{AUTHOR_EMAIL}\"\nsigning_format = \"gpg\"\n"),
        "",
    );
    let run = fleet.baton_env(&["once"], &[("GNUPGHOME", keys.home())]);
    assert_eq!(run.code, 0, "{}", run.both());
    let second = fleet.head();
    assert_ne!(second, first, "{}", run.both());
    let (ok, raw) = verify(&fleet, keys.home(), &second);
    assert!(ok, "verify-commit failed: {raw}");

    // A key the keyring does not have: a clear error naming it, nothing pushed.
    fleet.push("team/app", "1.4.0").await;
    fleet.write_config_with(
        &url,
        "signing_key = \"nobody@example.com\"\nsigning_format = \"gpg\"\n",
        "",
    );
    let run = fleet.baton_env(&["once"], &[("GNUPGHOME", keys.home())]);
    assert_eq!(run.code, 1, "{}", run.both());
    assert!(
        run.both().contains("gpg") && run.both().contains("nobody@example.com"),
        "{}",
        run.both()
    );
    assert_eq!(fleet.head(), second);
}
