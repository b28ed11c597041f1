//! The `[git]` section as the pass and the daemon take it, and its reader: the remote and its
//! credentials, the commit's author, signing and message, and the push cadence.

use std::path::PathBuf;
use std::time::Duration;

use super::command::{is_valid_branch, url_has_password};
use super::{MessageTemplate, RemoteSettings, SigningFormat, TokenSource};
use crate::common::settings::Table;
use crate::common::time::MIN_INTERVAL;

/// The `[git]` section.
#[derive(Debug, Clone, PartialEq)]
pub struct GitConfig {
    /// The remote: URL, branches and credentials, as the Git layer takes them.
    pub remote: RemoteSettings,
    /// Commit author name.
    pub author_name: String,
    /// Commit author e-mail.
    pub author_email: String,
    /// Key used to sign commits, when set.
    pub signing_key: Option<PathBuf>,
    /// Signature format of `signing_key`.
    pub signing_format: SigningFormat,
    /// Commit message template replacing the default.
    pub commit_template: Option<String>,
    /// How often the remote is fetched and reconciled even when no scan changed.
    pub interval: Duration,
    /// How many times a rejected push is re-applied and retried.
    pub push_retries: u32,
}

impl GitConfig {
    /// Reads `[git]` (`t` is empty when the section is absent, which `config` reports); `None`
    /// when it has errors (all of them reported).
    pub fn read(t: Table) -> Option<GitConfig> {
        let present = t.is_present();
        let url = if present {
            t.required_string(
                "url",
                "set the remote, e.g. url = \"ssh://git@git.example.com/fleet.git\"",
            )
        } else {
            None
        };
        if let Some(url) = &url
            && url_has_password(url)
        {
            t.error(
            "url",
            "the URL carries a password or token: remove it and set token_file (or token_env) instead",
        );
        }
        let branch = t.string("branch").unwrap_or_else(|| "main".to_string());
        check_branch_name(&t, "branch", &branch);
        let push_branch = t.string("push_branch");
        if let Some(name) = &push_branch {
            check_branch_name(&t, "push_branch", name);
        }
        let ssh_key_file = t.file_path("ssh_key_file");
        let known_hosts_file = t.file_path("known_hosts_file");
        let token_file = t.file_path("token_file");
        let token_env = t.string("token_env");
        let token = match (token_file, token_env) {
            (Some(_), Some(_)) => {
                t.error(
                    "token_env",
                    "token_file and token_env are both set: keep one",
                );
                None
            }
            (Some(file), None) => Some(TokenSource::File(file)),
            (None, Some(var)) => {
                if var.is_empty() || !var.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                    t.error(
                        "token_env",
                        format!("{var:?} is not an environment variable name"),
                    );
                }
                Some(TokenSource::Env(var))
            }
            (None, None) => None,
        };
        if let Some(url) = &url
            && token.is_some()
            && super::command::plain_http_off_loopback(url)
        {
            t.error(
            "url",
            "the remote is plain http and a token is set: the token would cross the network in clear text; use an https remote",
        );
        }
        let username = t
            .string("username")
            .unwrap_or_else(|| super::command::DEFAULT_USERNAME.to_string());
        let author_name = t
            .string("author_name")
            .unwrap_or_else(|| "baton".to_string());
        let author_email = t
            .string("author_email")
            .unwrap_or_else(|| "baton@localhost".to_string());
        if !author_email.contains('@') {
            t.error(
                "author_email",
                format!("{author_email:?} is not an e-mail address"),
            );
        }
        let signing_format = match t.string("signing_format").as_deref() {
            None | Some("ssh") => SigningFormat::Ssh,
            Some("gpg") | Some("openpgp") => SigningFormat::Gpg,
            Some(other) => {
                t.error(
                    "signing_format",
                    format!("{other:?} is not a signing format: use \"ssh\" or \"gpg\""),
                );
                SigningFormat::Ssh
            }
        };
        // An SSH key is a file; a GnuPG key is an id, fingerprint or user id in the keyring
        // ($GNUPGHOME), never a path.
        let signing_key = match signing_format {
        SigningFormat::Ssh => t.file_path("signing_key"),
        SigningFormat::Gpg => t.string("signing_key").and_then(|id| {
            let id = id.trim().to_string();
            if id.is_empty() || id.starts_with('-') || id.contains(['\n', '\0']) {
                t.error(
                    "signing_key",
                    format!(
                        "{id:?} is not a GnuPG key: give a key id, fingerprint or e-mail address from `gpg --list-secret-keys`"
                    ),
                );
                return None;
            }
            Some(PathBuf::from(id))
        }),
    };
        let commit_template = t.string("commit_template");
        if let Some(text) = &commit_template
            && let Err(err) = MessageTemplate::new(text.clone())
        {
            t.error("commit_template", err.to_string());
        }
        let interval = t
            .duration("interval", Some(MIN_INTERVAL))
            .unwrap_or(Duration::from_secs(60));
        let push_retries = t.integer("push_retries", 0, 100).unwrap_or(5) as u32;
        t.finish();
        let mut remote = RemoteSettings::new(url?, branch);
        remote.push_branch = push_branch;
        remote.ssh_key_file = ssh_key_file;
        remote.known_hosts_file = known_hosts_file;
        remote.token = token;
        remote.username = username;
        Some(GitConfig {
            remote,
            author_name,
            author_email,
            signing_key,
            signing_format,
            commit_template,
            interval,
            push_retries,
        })
    }
}

/// Reports `name` at `key` when git would not take it as a branch name.
pub fn check_branch_name(t: &Table, key: &str, name: &str) {
    if !is_valid_branch(name) {
        t.error(
            key,
            format!("{name:?} is not a valid branch name: use a name git accepts, like main or baton/updates"),
        );
    }
}
