//! Commit signing: the unsigned commit's bytes are signed by `ssh-keygen -Y sign` or
//! `gpg --detach-sign`, and the signature goes into the commit's `gpgsig` header as git does.

use std::path::PathBuf;
use std::process::Stdio;

use super::GitError;

/// Which signature format to produce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SigningFormat {
    /// An SSH signature (`gpg.format=ssh`); `key` is the private key file.
    Ssh,
    /// An OpenPGP signature; `key` is the key id or fingerprint in the gpg keyring.
    Gpg,
}

/// How to sign commits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signing {
    /// For [`SigningFormat::Ssh`] the private key file; for [`SigningFormat::Gpg`] the key id.
    pub key: PathBuf,
    /// The signature format.
    pub format: SigningFormat,
}

impl Signing {
    /// Signs `payload` (the serialized commit without a signature) and returns the armored
    /// signature text for the `gpgsig` header.
    pub(crate) async fn sign(&self, payload: &[u8]) -> Result<String, GitError> {
        let (program, args): (&str, Vec<std::ffi::OsString>) = match self.format {
            SigningFormat::Ssh => (
                "ssh-keygen",
                vec![
                    "-Y".into(),
                    "sign".into(),
                    "-n".into(),
                    "git".into(),
                    "-f".into(),
                    self.key.clone().into_os_string(),
                ],
            ),
            SigningFormat::Gpg => (
                "gpg",
                vec![
                    "--batch".into(),
                    "--no-tty".into(),
                    "--detach-sign".into(),
                    "--armor".into(),
                    "-u".into(),
                    self.key.clone().into_os_string(),
                ],
            ),
        };
        // The payload reaches the signer as a file, not a pipe: a signer that exits before
        // reading (an unknown key) must not raise SIGPIPE in a one-shot run, which keeps the
        // default disposition so that `baton ... | head` ends quietly.
        let payload_file = payload_file(payload).map_err(|source| GitError::Spawn {
            program: program.to_string(),
            source,
        })?;
        let child = tokio::process::Command::new(program)
            .args(&args)
            .env("LC_ALL", "C")
            .stdin(Stdio::from(payload_file))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|source| GitError::Spawn {
                program: program.to_string(),
                source,
            })?;
        let out =
            tokio::time::timeout(std::time::Duration::from_secs(60), child.wait_with_output())
                .await
                .map_err(|_| GitError::Sign {
                    program: program.to_string(),
                    detail: "it did not finish within 60s (is it waiting for a passphrase?)".into(),
                })?
                .map_err(|source| GitError::Spawn {
                    program: program.to_string(),
                    source,
                })?;
        if !out.status.success() {
            return Err(GitError::Sign {
                program: program.to_string(),
                detail: format!(
                    "key {} ({}): {}",
                    self.key.display(),
                    out.status,
                    String::from_utf8_lossy(&out.stderr).trim()
                ),
            });
        }
        let sig = String::from_utf8(out.stdout).map_err(|_| GitError::Sign {
            program: program.to_string(),
            detail: "the signature is not text".into(),
        })?;
        let sig = sig.trim_end().to_string();
        if !sig.starts_with("-----BEGIN ") {
            return Err(GitError::Sign {
                program: program.to_string(),
                detail: "it printed no armored signature".into(),
            });
        }
        Ok(sig)
    }
}

/// An unnamed temporary file holding `payload`, positioned at its start.
fn payload_file(payload: &[u8]) -> std::io::Result<std::fs::File> {
    use std::io::{Seek, Write};
    let mut file = tempfile::tempfile()?;
    file.write_all(payload)?;
    file.rewind()?;
    Ok(file)
}
