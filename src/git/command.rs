//! Remote settings and the `git` command runner: a cleared environment, no prompts, one
//! credential path (askpass helper or ssh key), a time limit, and secrets redacted from errors.

use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::LazyLock;
use std::time::Duration;

use tokio::io::AsyncWriteExt;

use super::GitError;

/// Where the HTTPS token comes from. Never the token itself, so settings can be logged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenSource {
    /// A file whose first line is the token (systemd credentials, mounted secrets).
    File(PathBuf),
    /// The name of an environment variable of the Baton process holding the token.
    Env(String),
}

/// How to reach the remote and which branch Baton tracks there. Its Debug output shows the
/// URL with any password replaced.
#[derive(Clone, PartialEq, Eq)]
pub struct RemoteSettings {
    /// `ssh://`, `https://`, `http://`, `git://`, `file://`, scp-like `user@host:path`, or a path.
    /// Must not carry a password: use `token` instead.
    pub url: String,
    /// The branch Baton syncs with and commits to (never force-pushed).
    pub branch: String,
    /// A branch Baton pushes its commits to instead of `branch` (never force-pushed). While
    /// it exists on the remote, passes build on it; once it is gone (merged and deleted),
    /// they start again from `branch`.
    pub push_branch: Option<String>,
    /// Private key for ssh remotes; when unset ssh uses its default identities.
    pub ssh_key_file: Option<PathBuf>,
    /// known_hosts file for ssh remotes. Host keys are always checked strictly
    /// (`StrictHostKeyChecking=yes`); when unset, ssh's default known_hosts files are used, so an
    /// unknown host fails instead of being trusted on first use.
    pub known_hosts_file: Option<PathBuf>,
    /// Token for HTTPS remotes, handed to git by the askpass helper.
    pub token: Option<TokenSource>,
    /// Username sent with the token (forges accept any non-empty name for tokens).
    pub username: String,
    /// Time limit for one network command (clone, fetch, push).
    pub timeout: Duration,
}

/// Username used when none is configured; GitHub, GitLab and Gitea accept it with a token.
pub const DEFAULT_USERNAME: &str = "x-access-token";
/// Time limit used when none is configured.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);

impl fmt::Debug for RemoteSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteSettings")
            .field("url", &self.display_url())
            .field("branch", &self.branch)
            .field("push_branch", &self.push_branch)
            .field("ssh_key_file", &self.ssh_key_file)
            .field("known_hosts_file", &self.known_hosts_file)
            .field("token", &self.token)
            .field("username", &self.username)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl RemoteSettings {
    /// Settings for `url` and `branch` with no credentials, the default username and time limit.
    pub fn new(url: impl Into<String>, branch: impl Into<String>) -> Self {
        RemoteSettings {
            url: url.into(),
            branch: branch.into(),
            push_branch: None,
            ssh_key_file: None,
            known_hosts_file: None,
            token: None,
            username: DEFAULT_USERNAME.to_string(),
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// Checks what can be checked without the network: a URL without a password, a valid
    /// branch name, a username without newlines.
    pub fn validate(&self) -> Result<(), GitError> {
        if self.url.trim().is_empty() {
            return Err(GitError::Settings(
                "the remote url is empty; set git.url".into(),
            ));
        }
        if url_has_password(&self.url) {
            return Err(GitError::Settings(format!(
                "the remote url {} carries a password; remove it and set a token file or token environment variable instead",
                redact_url(&self.url)
            )));
        }
        if !is_valid_branch(&self.branch) {
            return Err(GitError::Settings(format!(
                "branch {:?} is not a valid git branch name; set git.branch to a name like main",
                self.branch
            )));
        }
        if let Some(push) = &self.push_branch
            && !is_valid_branch(push)
        {
            return Err(GitError::Settings(format!(
                "branch {push:?} is not a valid git branch name; set git.push_branch to a name like baton/updates"
            )));
        }
        if self.username.contains(['\n', '\r']) {
            return Err(GitError::Settings(
                "the git username contains a line break; set a single-line username".into(),
            ));
        }
        if self.token.is_some() && plain_http_off_loopback(&self.url) {
            return Err(GitError::Settings(format!(
                "the remote {} is plain http and a token is set: the token would cross the network in clear text; use an https remote",
                redact_url(&self.url)
            )));
        }
        if let Some(TokenSource::Env(name)) = &self.token
            && (name.is_empty() || name.contains(['=', '\0']))
        {
            return Err(GitError::Settings(format!(
                "{name:?} is not a valid environment variable name for the git token"
            )));
        }
        Ok(())
    }

    /// The branch commits are pushed to: `push_branch` when set, else `branch`.
    pub fn target_branch(&self) -> &str {
        self.push_branch.as_deref().unwrap_or(&self.branch)
    }

    /// `push_branch`, when it is set and differs from `branch`.
    pub fn separate_push_branch(&self) -> Option<&str> {
        self.push_branch.as_deref().filter(|p| *p != self.branch)
    }

    /// The URL with any userinfo password replaced by `***`, for logs and errors.
    pub fn display_url(&self) -> String {
        redact_url(&self.url)
    }
}

/// A branch name git accepts (`git check-ref-format --branch`, the common subset).
pub fn is_valid_branch(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with(['-', '/', '.'])
        && !name.ends_with(['/', '.'])
        && !name.ends_with(".lock")
        && !name.contains("..")
        && !name.contains("//")
        && !name.contains("@{")
        && !name.contains("/.")
        && name != "@"
        && !name
            .chars()
            .any(|c| c.is_ascii_control() || " ~^:?*[\\".contains(c))
}

static USERINFO_PASSWORD: LazyLock<regex::Regex> = LazyLock::new(|| {
    regex::Regex::new(r"(?P<pre>[A-Za-z][A-Za-z0-9+.-]*://[^/@:\s]*):[^@/\s]*@")
        .unwrap_or_else(|_| unreachable!("constant regex"))
});

/// True when `url` has `user:password@` in its authority (the part `redact_url` hides).
pub fn url_has_password(url: &str) -> bool {
    USERINFO_PASSWORD.is_match(url)
}

/// True when `url` is a plain `http://` remote on a host other than a loopback address: a
/// token sent there would cross the network in clear text.
pub fn plain_http_off_loopback(url: &str) -> bool {
    let Ok(parsed) = url::Url::parse(url.trim()) else {
        return false;
    };
    if parsed.scheme() != "http" {
        return false;
    }
    !match parsed.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// `scheme://user:secret@host` → `scheme://user:***@host`; other text unchanged.
pub fn redact_url(text: &str) -> String {
    USERINFO_PASSWORD
        .replace_all(text, "${pre}:***@")
        .into_owned()
}

/// Secret values to scrub from any text shown to a person. Its Debug output shows only a count.
#[derive(Clone, Default)]
pub(crate) struct Redactor {
    secrets: Vec<String>,
}

impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Redactor({} secrets)", self.secrets.len())
    }
}

impl Redactor {
    fn add(&mut self, secret: &str) {
        let s = secret.trim();
        if !s.is_empty() {
            self.secrets.push(s.to_string());
        }
    }

    /// `text` with every secret and every URL password replaced by `***`.
    pub(crate) fn redact(&self, text: &str) -> String {
        let mut out = redact_url(text);
        for s in &self.secrets {
            out = out.replace(s.as_str(), "***");
        }
        out
    }
}

/// The askpass helper. It holds no secret: it prints the username for git's "Username" prompt
/// and, for the password prompt, the first line of the token file or the token variable Baton
/// passes to that one child process. Only shell built-ins touch the token, so it never appears
/// in any process's arguments.
const ASKPASS_SCRIPT: &str = r#"#!/bin/sh
# Written by baton. Answers git's credential prompts; contains no secret.
case "$1" in
[Uu]sername*)
  printf '%s\n' "${BATON_GIT_USERNAME}"
  ;;
*)
  if [ -n "${BATON_GIT_TOKEN_FILE}" ]; then
    baton_token=
    IFS= read -r baton_token < "${BATON_GIT_TOKEN_FILE}" || [ -n "${baton_token}" ] || exit 1
    printf '%s\n' "${baton_token%"$(printf '\r')"}"
  elif [ -n "${BATON_GIT_TOKEN}" ]; then
    printf '%s\n' "${BATON_GIT_TOKEN}"
  else
    exit 1
  fi
  ;;
esac
"#;

/// The fixed environment every `git` child gets: a private HOME, the askpass helper, the ssh
/// command line and the remote's settings. Built once per state directory.
#[derive(Debug, Clone)]
pub struct GitEnvironment {
    settings: RemoteSettings,
    home: PathBuf,
    askpass: PathBuf,
    ssh_command: String,
}

impl GitEnvironment {
    /// Prepares `state_dir/git` (private HOME, askpass helper with mode 0700) for `settings`.
    pub fn prepare(state_dir: &Path, settings: &RemoteSettings) -> Result<Self, GitError> {
        settings.validate()?;
        let base = state_dir.join("git");
        let home = base.join("home");
        crate::common::create_private_dir(&home).map_err(|source| GitError::Io {
            action: "cannot create directory",
            path: home.clone(),
            source,
        })?;
        let home = absolute(&home)?;
        let askpass = home
            .parent()
            .map(|p| p.join("askpass.sh"))
            .unwrap_or_else(|| base.join("askpass.sh"));
        write_askpass(&askpass)?;
        let mut settings = settings.clone();
        if let Some(TokenSource::File(p)) = &settings.token {
            settings.token = Some(TokenSource::File(absolute(p)?));
        }
        if let Some(p) = &settings.ssh_key_file {
            settings.ssh_key_file = Some(absolute(p)?);
        }
        if let Some(p) = &settings.known_hosts_file {
            settings.known_hosts_file = Some(absolute(p)?);
        }
        let ssh_command = ssh_command(&settings);
        Ok(GitEnvironment {
            settings,
            home,
            askpass,
            ssh_command,
        })
    }

    /// The settings (paths made absolute).
    pub fn settings(&self) -> &RemoteSettings {
        &self.settings
    }

    /// Path of the askpass helper script.
    pub fn askpass_path(&self) -> &Path {
        &self.askpass
    }

    /// A `git` command for a network operation named `what` (clone, fetch, push): credentials
    /// are made available and the remote's time limit applies.
    pub fn network(&self, what: &str) -> Result<GitCommand, GitError> {
        let mut cmd = self.base(what, self.settings.timeout);
        cmd.env("BATON_GIT_USERNAME", &self.settings.username);
        match &self.settings.token {
            Some(TokenSource::File(path)) => {
                let token = std::fs::read_to_string(path).map_err(|source| GitError::Io {
                    action: "cannot read git token file",
                    path: path.clone(),
                    source,
                })?;
                let first = token.lines().next().unwrap_or("").trim();
                if first.is_empty() {
                    return Err(GitError::Settings(format!(
                        "git token file {} is empty; write the token on its first line",
                        path.display()
                    )));
                }
                cmd.redactor.add(first);
                cmd.env("BATON_GIT_TOKEN_FILE", path);
            }
            Some(TokenSource::Env(name)) => {
                let token = std::env::var(name).map_err(|_| {
                    GitError::Settings(format!(
                        "environment variable {name} holding the git token is not set or not valid UTF-8; set it or configure a token file"
                    ))
                })?;
                if token.trim().is_empty() {
                    return Err(GitError::Settings(format!(
                        "environment variable {name} holding the git token is empty"
                    )));
                }
                cmd.redactor.add(&token);
                cmd.env("BATON_GIT_TOKEN", token.trim());
            }
            None => {}
        }
        Ok(cmd)
    }

    /// A `git` command for a local operation named `what` in `dir` (no credentials, 10 minutes).
    pub fn local(&self, what: &str, dir: &Path) -> GitCommand {
        let mut cmd = self.base(what, Duration::from_secs(600));
        cmd.current_dir(dir);
        cmd.remote = dir.display().to_string();
        cmd
    }

    fn base(&self, what: &str, timeout: Duration) -> GitCommand {
        let mut envs: Vec<(OsString, OsString)> = Vec::new();
        let path = std::env::var_os("PATH")
            .unwrap_or_else(|| OsString::from("/usr/local/bin:/usr/bin:/bin"));
        envs.push(("PATH".into(), path));
        envs.push(("HOME".into(), self.home.clone().into_os_string()));
        envs.push((
            "XDG_CONFIG_HOME".into(),
            self.home.join(".config").into_os_string(),
        ));
        envs.push(("GIT_CONFIG_NOSYSTEM".into(), "1".into()));
        envs.push((
            "GIT_CONFIG_GLOBAL".into(),
            self.home.join(".gitconfig").into_os_string(),
        ));
        envs.push(("GIT_TERMINAL_PROMPT".into(), "0".into()));
        envs.push(("GIT_ASKPASS".into(), self.askpass.clone().into_os_string()));
        envs.push(("GIT_SSH_COMMAND".into(), self.ssh_command.clone().into()));
        envs.push(("GIT_SSH_VARIANT".into(), "ssh".into()));
        envs.push(("LC_ALL".into(), "C".into()));
        envs.push(("LANG".into(), "C".into()));
        GitCommand {
            what: what.to_string(),
            remote: self.settings.display_url(),
            // No redirects for git over http: the askpass helper answers every prompt, so a
            // redirect to another host would receive the token.
            args: vec![
                "-c".into(),
                "credential.helper=".into(),
                "-c".into(),
                "core.askPass=".into(),
                "-c".into(),
                "http.followRedirects=false".into(),
            ],
            envs,
            cwd: None,
            stdin: None,
            timeout,
            redactor: Redactor::default(),
        }
    }
}

fn absolute(p: &Path) -> Result<PathBuf, GitError> {
    std::path::absolute(p).map_err(|source| GitError::Io {
        action: "cannot resolve path",
        path: p.to_path_buf(),
        source,
    })
}

fn write_askpass(path: &Path) -> Result<(), GitError> {
    use std::os::unix::fs::PermissionsExt;
    let current = std::fs::read_to_string(path).ok();
    let mode_ok = std::fs::metadata(path)
        .map(|m| m.permissions().mode() & 0o777 == 0o700)
        .unwrap_or(false);
    if current.as_deref() == Some(ASKPASS_SCRIPT) && mode_ok {
        return Ok(());
    }
    let tmp = path.with_extension("tmp");
    let io = |action, source| GitError::Io {
        action,
        path: path.to_path_buf(),
        source,
    };
    std::fs::write(&tmp, ASKPASS_SCRIPT).map_err(|e| io("cannot write askpass helper", e))?;
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o700))
        .map_err(|e| io("cannot set mode of askpass helper", e))?;
    std::fs::rename(&tmp, path).map_err(|e| io("cannot install askpass helper", e))?;
    Ok(())
}

/// Single-quotes `s` for the shell git runs `GIT_SSH_COMMAND` with.
fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// The ssh command line: batch mode (no prompts), strict host key checking, and the configured
/// key as the only identity.
fn ssh_command(settings: &RemoteSettings) -> String {
    let mut cmd = String::from("ssh -o BatchMode=yes -o StrictHostKeyChecking=yes");
    if let Some(key) = &settings.ssh_key_file {
        cmd.push_str(" -o IdentitiesOnly=yes -i ");
        cmd.push_str(&shell_quote(&key.to_string_lossy()));
    }
    if let Some(kh) = &settings.known_hosts_file {
        cmd.push_str(" -o UserKnownHostsFile=");
        cmd.push_str(&shell_quote(&kh.to_string_lossy()));
        cmd.push_str(" -o GlobalKnownHostsFile=/dev/null");
    }
    cmd
}

/// What a finished command printed.
#[derive(Debug, Clone)]
pub struct CommandOutput {
    /// Whether it exited with status 0.
    pub success: bool,
    /// The exit status in words (`exit status: 1`, `signal: 9`).
    pub status: String,
    /// Standard output.
    pub stdout: String,
    /// Standard error, secrets redacted.
    pub stderr: String,
}

/// One `git` invocation with the controlled environment of a [`GitEnvironment`]. Its Debug
/// output lists environment variable names only.
pub struct GitCommand {
    what: String,
    remote: String,
    args: Vec<OsString>,
    envs: Vec<(OsString, OsString)>,
    cwd: Option<PathBuf>,
    stdin: Option<Vec<u8>>,
    timeout: Duration,
    redactor: Redactor,
}

impl fmt::Debug for GitCommand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GitCommand")
            .field("what", &self.what)
            .field("remote", &self.remote)
            .field(
                "args",
                &self
                    .args
                    .iter()
                    .map(|a| self.redactor.redact(&a.to_string_lossy()))
                    .collect::<Vec<_>>(),
            )
            .field(
                "env_names",
                &self.envs.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            )
            .field("cwd", &self.cwd)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl GitCommand {
    /// Appends one argument. Never pass a secret here: arguments are visible to every user.
    pub fn arg(&mut self, arg: impl Into<OsString>) -> &mut Self {
        self.args.push(arg.into());
        self
    }

    /// Appends arguments (see [`GitCommand::arg`]).
    pub fn args<I, S>(&mut self, args: I) -> &mut Self
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Sets an environment variable for the child only.
    pub fn env(&mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> &mut Self {
        self.envs.push((key.into(), value.into()));
        self
    }

    /// Runs in `dir`.
    pub fn current_dir(&mut self, dir: &Path) -> &mut Self {
        self.cwd = Some(dir.to_path_buf());
        self
    }

    /// Feeds `data` to the child's standard input.
    pub fn stdin(&mut self, data: Vec<u8>) -> &mut Self {
        self.stdin = Some(data);
        self
    }

    /// Overrides the time limit.
    pub fn timeout(&mut self, timeout: Duration) -> &mut Self {
        self.timeout = timeout;
        self
    }

    /// Runs the command and fails with a classified, redacted error unless it exits 0.
    pub async fn run(&self) -> Result<CommandOutput, GitError> {
        let out = self.output().await?;
        if out.success {
            Ok(out)
        } else {
            Err(self.failure(&out))
        }
    }

    /// The error for a failed `out`: authentication and host key problems get their own kinds.
    pub fn failure(&self, out: &CommandOutput) -> GitError {
        let detail = summarize(&out.stderr);
        let lower = out.stderr.to_ascii_lowercase();
        if lower.contains("host key verification failed")
            || lower.contains("remote host identification has changed")
            || lower.contains("host key is known")
        {
            return GitError::HostKey {
                what: self.what.clone(),
                remote: self.remote.clone(),
                detail,
            };
        }
        if lower.contains("authentication failed")
            || lower.contains("returned error: 401")
            || lower.contains("returned error: 403")
            || lower.contains("could not read username")
            || lower.contains("could not read password")
            || lower.contains("permission denied (publickey")
        {
            return GitError::Authentication {
                what: self.what.clone(),
                remote: self.remote.clone(),
                detail,
            };
        }
        GitError::Command {
            what: self.what.clone(),
            remote: self.remote.clone(),
            status: out.status.clone(),
            detail,
        }
    }

    /// The remote (or directory) this command talks to, for messages.
    pub fn remote(&self) -> &str {
        &self.remote
    }

    /// Runs the command and returns what it printed, whatever its exit status. On timeout the
    /// whole process group (git and its ssh or https helpers) is killed.
    pub async fn output(&self) -> Result<CommandOutput, GitError> {
        let mut cmd = tokio::process::Command::new("git");
        cmd.env_clear()
            .envs(self.envs.iter().map(|(k, v)| (k, v)))
            .args(&self.args)
            .stdin(if self.stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        if let Some(dir) = &self.cwd {
            cmd.current_dir(dir);
        }
        tracing::debug!(
            what = %self.what,
            remote = %self.remote,
            args = %self.args.iter().map(|a| self.redactor.redact(&a.to_string_lossy())).collect::<Vec<_>>().join(" "),
            "running git"
        );
        let mut child = cmd.spawn().map_err(|source| GitError::Spawn {
            program: "git".into(),
            source,
        })?;
        let pid = child.id();
        if let (Some(data), Some(mut stdin)) = (self.stdin.clone(), child.stdin.take()) {
            tokio::spawn(async move {
                let _ = stdin.write_all(&data).await;
            });
        }
        let started = std::time::Instant::now();
        let result = tokio::time::timeout(self.timeout, child.wait_with_output()).await;
        match result {
            Err(_) => {
                if let Some(pid) = pid {
                    kill_group(pid);
                }
                tracing::warn!(what = %self.what, remote = %self.remote, "git command timed out");
                Err(GitError::Timeout {
                    what: self.what.clone(),
                    remote: self.remote.clone(),
                    seconds: self.timeout.as_secs(),
                })
            }
            Ok(Err(source)) => Err(GitError::Spawn {
                program: "git".into(),
                source,
            }),
            Ok(Ok(out)) => {
                let output = CommandOutput {
                    success: out.status.success(),
                    status: out.status.to_string(),
                    stdout: self.redactor.redact(&String::from_utf8_lossy(&out.stdout)),
                    stderr: self.redactor.redact(&String::from_utf8_lossy(&out.stderr)),
                };
                tracing::debug!(
                    what = %self.what,
                    remote = %self.remote,
                    status = %output.status,
                    elapsed_ms = started.elapsed().as_millis() as u64,
                    "git finished"
                );
                Ok(output)
            }
        }
    }
}

/// Kills the process group led by `pid` (git and the helpers it started).
fn kill_group(pid: u32) {
    if let Ok(pid) = i32::try_from(pid) {
        // SAFETY: kill(2) with a negative pid signals a process group; it has no memory effects.
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
        }
    }
}

/// The useful part of git's stderr on one line: progress and banner lines dropped, the last
/// 12 lines joined by `; `.
fn summarize(stderr: &str) -> String {
    let lines: Vec<&str> = stderr
        .lines()
        .map(|l| l.rsplit('\r').next().unwrap_or(l).trim())
        .filter(|l| !l.is_empty() && !l.chars().all(|c| c == '@' || c == '*'))
        .collect();
    let start = lines.len().saturating_sub(12);
    let text = lines[start..].join("; ");
    if text.is_empty() {
        "no message from git".to_string()
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_in_urls_are_redacted_and_refused() {
        assert_eq!(
            redact_url("fatal: https://bob:s3cret@example.com/x.git: nope"),
            "fatal: https://bob:***@example.com/x.git: nope"
        );
        assert_eq!(
            redact_url("https://bob@example.com/x"),
            "https://bob@example.com/x"
        );
        assert_eq!(redact_url("git@host:org/repo.git"), "git@host:org/repo.git");
        let s = RemoteSettings::new("https://u:s3cr3t@h/x.git", "main");
        let err = s.validate().unwrap_err().to_string();
        assert!(!err.contains("s3cr3t"), "{err}");
        assert!(err.contains("carries a password"), "{err}");
    }

    #[test]
    fn branch_names() {
        for ok in ["main", "release/1.x", "baton/production-checkout"] {
            assert!(is_valid_branch(ok), "{ok}");
        }
        for bad in [
            "", "-x", "a..b", "a b", "x.lock", "a/", "@", "a:b", "a~1", "/a", "a//b",
        ] {
            assert!(!is_valid_branch(bad), "{bad}");
        }
    }

    #[test]
    fn redactor_scrubs_secrets_and_debug_hides_them() {
        let mut r = Redactor::default();
        r.add("tok-123\n");
        assert_eq!(r.redact("bad token tok-123 here"), "bad token *** here");
        assert!(!format!("{r:?}").contains("tok"));
    }

    #[test]
    fn ssh_command_is_strict_and_quoted() {
        let mut s = RemoteSettings::new("ssh://git@h/x", "main");
        assert_eq!(
            ssh_command(&s),
            "ssh -o BatchMode=yes -o StrictHostKeyChecking=yes"
        );
        s.ssh_key_file = Some("/k/it's key".into());
        s.known_hosts_file = Some("/k/kh".into());
        assert_eq!(
            ssh_command(&s),
            "ssh -o BatchMode=yes -o StrictHostKeyChecking=yes -o IdentitiesOnly=yes -i '/k/it'\\''s key' -o UserKnownHostsFile='/k/kh' -o GlobalKnownHostsFile=/dev/null"
        );
    }

    #[test]
    fn askpass_script_holds_no_secret_material() {
        assert!(ASKPASS_SCRIPT.contains("BATON_GIT_TOKEN_FILE"));
        assert!(!ASKPASS_SCRIPT.contains("cat "));
    }

    #[test]
    fn debug_output_holds_no_secret() {
        let dir = tempfile::tempdir().unwrap();
        let token_file = dir.path().join("token");
        std::fs::write(&token_file, "sekrit-token-value\n").unwrap();
        let mut s = RemoteSettings::new("https://user:pw-in-url@h/x.git", "main");
        assert!(!format!("{s:?}").contains("pw-in-url"));
        s.url = "https://h/x.git".into();
        s.token = Some(TokenSource::File(token_file));
        let env = GitEnvironment::prepare(dir.path(), &s).unwrap();
        let mut cmd = env.network("fetch").unwrap();
        cmd.env("EXTRA", "sekrit-token-value").arg("fetch");
        let shown = format!("{cmd:?} {env:?}");
        assert!(!shown.contains("sekrit"), "{shown}");
        assert!(shown.contains("BATON_GIT_TOKEN_FILE"), "{shown}");
        let script = std::fs::read_to_string(env.askpass_path()).unwrap();
        assert_eq!(script, ASKPASS_SCRIPT);
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(env.askpass_path())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o700);
    }

    #[test]
    fn stderr_summary_drops_progress() {
        assert_eq!(
            summarize("Counting 1%\rCounting 100%\n@@@@@@\nfatal: boom\n\n"),
            "Counting 100%; fatal: boom"
        );
        assert_eq!(summarize(""), "no message from git");
    }
}
