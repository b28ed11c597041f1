//! Real Git remotes for tests: a seeded bare repository with a helper for "another writer",
//! served as a path / file:// URL, by `git daemon`, by `git http-backend` behind a small CGI
//! server with HTTP Basic token auth, and by OpenSSH's `sshd` on a loopback port. Every server
//! listens on 127.0.0.1 only and is killed when dropped.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use base64::Engine as _;

/// The branch the seeded repository uses.
pub const BRANCH: &str = "main";

/// The manifest the seed commits create, with a Flux-style marker.
pub const APP_PATH: &str = "clusters/staging/app.yaml";

/// Runs `git` in `dir` with a clean identity and no user or system config; panics on failure.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = git_command(dir, args).output().expect("run git");
    assert!(
        out.status.success(),
        "git {args:?} in {} failed: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The `git` command [`git`] runs, for callers that want the raw output.
pub fn git_command(dir: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new("git");
    cmd.current_dir(dir)
        .args(args)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_NAME", "Other Writer")
        .env("GIT_AUTHOR_EMAIL", "other@example.com")
        .env("GIT_COMMITTER_NAME", "Other Writer")
        .env("GIT_COMMITTER_EMAIL", "other@example.com")
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("LC_ALL", "C");
    cmd
}

/// A bare repository with a few commits on [`BRANCH`].
pub struct BareRepo {
    dir: tempfile::TempDir,
    /// The bare repository (`<tmp>/repos/fleet.git`).
    pub path: PathBuf,
}

impl BareRepo {
    /// Creates the repository with three commits: a README, the staging manifest, a tweak.
    pub fn seeded() -> BareRepo {
        let dir = tempfile::tempdir().expect("tempdir");
        let repos = dir.path().join("repos");
        std::fs::create_dir_all(&repos).unwrap();
        let path = repos.join("fleet.git");
        git(
            &repos,
            &[
                "init",
                "--quiet",
                "--bare",
                "--initial-branch",
                BRANCH,
                "fleet.git",
            ],
        );
        let repo = BareRepo { dir, path };
        let seed = repo.dir.path().join("seed");
        git(
            repo.dir.path(),
            &["clone", "--quiet", repo.path.to_str().unwrap(), "seed"],
        );
        git(&seed, &["checkout", "--quiet", "-b", BRANCH]);
        write(&seed.join("README.md"), "# fleet\n");
        git(&seed, &["add", "-A"]);
        git(&seed, &["commit", "--quiet", "-m", "Add README"]);
        write(
            &seed.join(APP_PATH),
            "image: ghcr.io/example/app:1.0.0 # {\"$imagepolicy\": \"flux-system:app\"}\n",
        );
        git(&seed, &["add", "-A"]);
        git(&seed, &["commit", "--quiet", "-m", "Add staging app"]);
        write(&seed.join("clusters/staging/other.yaml"), "replicas: 2\n");
        git(&seed, &["add", "-A"]);
        git(&seed, &["commit", "--quiet", "-m", "Add other"]);
        git(&seed, &["push", "--quiet", "origin", BRANCH]);
        repo
    }

    /// The repository as a plain path.
    pub fn path_url(&self) -> String {
        self.path.to_string_lossy().into_owned()
    }

    /// The repository as a `file://` URL.
    pub fn file_url(&self) -> String {
        format!("file://{}", self.path.display())
    }

    /// The directory holding the bare repository (what servers export).
    pub fn root(&self) -> PathBuf {
        self.path.parent().unwrap().to_path_buf()
    }

    /// The commit `branch` points at, if it exists.
    pub fn head(&self, branch: &str) -> Option<String> {
        let out = git_command(&self.path, &["rev-parse", "--verify", "--quiet", branch])
            .output()
            .unwrap();
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    /// `git rev-list --parents` of `branch`, newest first: each entry is `[commit, parents...]`.
    pub fn parents(&self, branch: &str) -> Vec<Vec<String>> {
        git(&self.path, &["rev-list", "--parents", branch])
            .lines()
            .map(|l| l.split_whitespace().map(String::from).collect())
            .collect()
    }

    /// Subjects of `branch`, newest first.
    pub fn subjects(&self, branch: &str) -> Vec<String> {
        git(&self.path, &["log", "--format=%s", branch])
            .lines()
            .map(String::from)
            .collect()
    }

    /// Installs a `pre-receive` hook with `body` (shell).
    pub fn set_pre_receive(&self, body: &str) {
        let hook = self.path.join("hooks/pre-receive");
        write(&hook, &format!("#!/bin/sh\n{body}\n"));
        make_executable(&hook);
    }

    /// Removes the `pre-receive` hook.
    pub fn clear_pre_receive(&self) {
        let _ = std::fs::remove_file(self.path.join("hooks/pre-receive"));
    }

    /// A clone for another writer, who commits and pushes with the plain git CLI.
    pub fn writer(&self) -> Writer {
        let dir = tempfile::tempdir().expect("tempdir");
        git(
            dir.path(),
            &["clone", "--quiet", self.path.to_str().unwrap(), "work"],
        );
        Writer {
            work: dir.path().join("work"),
            _dir: dir,
        }
    }
}

/// Another writer's clone of a [`BareRepo`].
pub struct Writer {
    _dir: tempfile::TempDir,
    /// The work tree.
    pub work: PathBuf,
}

impl Writer {
    /// Pulls, writes `content` to `rel`, commits with `message` and pushes; returns the commit.
    pub fn commit_and_push(&self, rel: &str, content: &str, message: &str) -> String {
        git(
            &self.work,
            &["pull", "--quiet", "--ff-only", "origin", BRANCH],
        );
        write(&self.work.join(rel), content);
        git(&self.work, &["add", "-A"]);
        git(&self.work, &["commit", "--quiet", "-m", message]);
        git(&self.work, &["push", "--quiet", "origin", BRANCH]);
        git(&self.work, &["rev-parse", "HEAD"])
    }

    /// Commits `content` to `rel` on top of what it has, then pushes as a person would when
    /// others push too: on a rejection, pull with rebase and push again. Returns how many
    /// pushes were rejected.
    pub fn commit_and_push_racing(&self, rel: &str, content: &str, message: &str) -> usize {
        write(&self.work.join(rel), content);
        git(&self.work, &["add", "-A"]);
        git(&self.work, &["commit", "--quiet", "-m", message]);
        for rejected in 0..50 {
            let push = git_command(&self.work, &["push", "--quiet", "origin", BRANCH])
                .output()
                .unwrap();
            if push.status.success() {
                return rejected;
            }
            git(
                &self.work,
                &["pull", "--quiet", "--rebase", "origin", BRANCH],
            );
        }
        panic!("{message}: the push was rejected 50 times");
    }
}

/// Writes `content` to `path`, creating parent directories.
pub fn write(path: &Path, content: &str) {
    if let Some(p) = path.parent() {
        std::fs::create_dir_all(p).unwrap();
    }
    std::fs::write(path, content).unwrap();
}

fn make_executable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// A loopback port nobody listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_for_port(port: u16, child: &mut Child, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{what} exited early: {status}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("{what} did not listen on 127.0.0.1:{port} within 10s");
}

/// Kills `child` and its process group.
fn kill_group(child: &mut Child) {
    if let Ok(pid) = i32::try_from(child.id()) {
        // SAFETY: kill(2) on our own child's process group; no memory effects.
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
        }
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// `git daemon` exporting a [`BareRepo`]'s directory with push enabled.
pub struct GitDaemon {
    child: Child,
    /// The port it listens on.
    pub port: u16,
}

impl GitDaemon {
    /// Starts the daemon for `repo`.
    pub fn start(repo: &BareRepo) -> GitDaemon {
        Self::launch(repo, None)
    }

    /// Starts the daemon for `repo` with `--access-hook=HOOK`: the hook runs before every
    /// service with the service name (`upload-pack`, `receive-pack`) as its first argument.
    pub fn start_with_access_hook(repo: &BareRepo, hook: &Path) -> GitDaemon {
        Self::launch(repo, Some(hook))
    }

    /// Starts the daemon for `repo` on `port` (say, again after a simulated outage).
    pub fn start_on_port(repo: &BareRepo, port: u16) -> GitDaemon {
        Self::launch_on(repo, None, port)
    }

    fn launch(repo: &BareRepo, hook: Option<&Path>) -> GitDaemon {
        Self::launch_on(repo, hook, free_port())
    }

    fn launch_on(repo: &BareRepo, hook: Option<&Path>, port: u16) -> GitDaemon {
        use std::os::unix::process::CommandExt;
        let root = repo.root();
        let mut cmd = Command::new("git");
        cmd.arg("daemon");
        if let Some(hook) = hook {
            cmd.arg(format!("--access-hook={}", hook.display()));
        }
        let mut child = cmd
            .arg("--reuseaddr")
            .arg("--export-all")
            .arg("--enable=receive-pack")
            .arg("--listen=127.0.0.1")
            .arg(format!("--port={port}"))
            .arg(format!("--base-path={}", root.display()))
            .arg(&root)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("start git daemon");
        wait_for_port(port, &mut child, "git daemon");
        GitDaemon { child, port }
    }

    /// The `git://` URL of the repository.
    pub fn url(&self) -> String {
        format!("git://127.0.0.1:{}/fleet.git", self.port)
    }
}

impl Drop for GitDaemon {
    fn drop(&mut self) {
        kill_group(&mut self.child);
    }
}

/// Smart HTTP: `git http-backend` behind a minimal CGI server written for tests (a real web
/// server adds nothing here), requiring HTTP Basic auth with a fixed token on every request.
pub struct HttpServer {
    /// The port it listens on.
    pub port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    /// Requests answered with 401.
    pub unauthorized: Arc<AtomicUsize>,
    /// Usernames seen in accepted requests.
    pub users: Arc<Mutex<Vec<String>>>,
    /// When set, pushes are refused with 403 and a plain-text error that repeats the token,
    /// as a careless or hostile server might; git shows such a body to the user.
    pub echo_token_on_push: Arc<AtomicBool>,
}

impl HttpServer {
    /// Serves `repo`'s directory; requests must carry `Basic base64(any user:token)`.
    pub fn start(repo: &BareRepo, token: &str) -> HttpServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        listener.set_nonblocking(true).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let unauthorized = Arc::new(AtomicUsize::new(0));
        let users = Arc::new(Mutex::new(Vec::new()));
        let echo_token_on_push = Arc::new(AtomicBool::new(false));
        let ctx = Arc::new(CgiContext {
            root: repo.root(),
            token: token.to_string(),
            unauthorized: unauthorized.clone(),
            users: users.clone(),
            echo_token_on_push: echo_token_on_push.clone(),
        });
        let stop2 = stop.clone();
        let thread = std::thread::spawn(move || {
            while !stop2.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let ctx = ctx.clone();
                        std::thread::spawn(move || {
                            let _ = serve(stream, &ctx);
                        });
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(5));
                    }
                    Err(_) => break,
                }
            }
        });
        HttpServer {
            port,
            stop,
            thread: Some(thread),
            unauthorized,
            users,
            echo_token_on_push,
        }
    }

    /// The `http://` URL of the repository (no credentials in it).
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/fleet.git", self.port)
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

struct CgiContext {
    root: PathBuf,
    token: String,
    unauthorized: Arc<AtomicUsize>,
    users: Arc<Mutex<Vec<String>>>,
    echo_token_on_push: Arc<AtomicBool>,
}

fn serve(stream: TcpStream, ctx: &CgiContext) -> std::io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let mut parts = request_line.split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    let target = parts.next().unwrap_or("").to_string();
    let mut headers: Vec<(String, String)> = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            break;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    let header = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let mut body = Vec::new();
    if header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        loop {
            let mut size_line = String::new();
            reader.read_line(&mut size_line)?;
            let size = usize::from_str_radix(size_line.trim().split(';').next().unwrap_or("0"), 16)
                .unwrap_or(0);
            if size == 0 {
                let mut end = String::new();
                reader.read_line(&mut end)?;
                break;
            }
            let mut chunk = vec![0; size];
            reader.read_exact(&mut chunk)?;
            body.extend_from_slice(&chunk);
            let mut crlf = [0u8; 2];
            reader.read_exact(&mut crlf)?;
        }
    } else if let Some(len) = header("content-length").and_then(|v| v.parse::<usize>().ok()) {
        body.resize(len, 0);
        reader.read_exact(&mut body)?;
    }
    let mut stream = stream;

    let user = header("authorization")
        .and_then(|v| v.strip_prefix("Basic ").map(str::to_string))
        .and_then(|b| {
            base64::engine::general_purpose::STANDARD
                .decode(b.trim())
                .ok()
        })
        .and_then(|raw| String::from_utf8(raw).ok())
        .and_then(|pair| {
            let (user, pass) = pair.split_once(':')?;
            (pass == ctx.token).then(|| user.to_string())
        });
    let Some(user) = user else {
        ctx.unauthorized.fetch_add(1, Ordering::SeqCst);
        let msg = "authentication required\n";
        write!(
            stream,
            "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"baton-test\"\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{msg}",
            msg.len()
        )?;
        return stream.flush();
    };
    ctx.users.lock().unwrap().push(user.clone());
    if ctx.echo_token_on_push.load(Ordering::SeqCst) && target.contains("git-receive-pack") {
        let msg = format!("push refused: token {} may only read\n", ctx.token);
        write!(
            stream,
            "HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{msg}",
            msg.len()
        )?;
        return stream.flush();
    }

    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p.to_string(), q.to_string()),
        None => (target.clone(), String::new()),
    };
    let mut cmd = Command::new("git");
    cmd.arg("http-backend")
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_PROJECT_ROOT", &ctx.root)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("REQUEST_METHOD", &method)
        .env("PATH_INFO", &path)
        .env("QUERY_STRING", &query)
        .env("CONTENT_LENGTH", body.len().to_string())
        .env("REMOTE_USER", &user)
        .env("REMOTE_ADDR", "127.0.0.1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    if let Some(v) = header("content-type") {
        cmd.env("CONTENT_TYPE", v);
    }
    if let Some(v) = header("content-encoding") {
        cmd.env("HTTP_CONTENT_ENCODING", v);
    }
    if let Some(v) = header("git-protocol") {
        cmd.env("GIT_PROTOCOL", v);
    }
    let mut child = cmd.spawn()?;
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&body);
    });
    let out = child.wait_with_output()?;
    let _ = writer.join();
    let raw = out.stdout;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| (i, 4))
        .or_else(|| raw.windows(2).position(|w| w == b"\n\n").map(|i| (i, 2)));
    let (head, body) = match split {
        Some((i, n)) => (
            String::from_utf8_lossy(&raw[..i]).to_string(),
            &raw[i + n..],
        ),
        None => (String::new(), &raw[..]),
    };
    let mut status = "200 OK".to_string();
    let mut out_headers = String::new();
    for line in head.lines() {
        if let Some(s) = line.strip_prefix("Status:") {
            status = s.trim().to_string();
        } else if !line.trim().is_empty() {
            out_headers.push_str(line.trim_end());
            out_headers.push_str("\r\n");
        }
    }
    write!(
        stream,
        "HTTP/1.1 {status}\r\n{out_headers}Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )?;
    stream.write_all(body)?;
    stream.flush()
}

/// OpenSSH `sshd` on a loopback port with a generated host key, serving the current user with a
/// generated client key (no password logins).
pub struct SshServer {
    child: Child,
    dir: tempfile::TempDir,
    /// The port it listens on.
    pub port: u16,
    /// The client's private key.
    pub client_key: PathBuf,
    /// A known_hosts file holding this server's host key.
    pub known_hosts: PathBuf,
    /// A known_hosts file holding a different key for this server (an impostor's view).
    pub wrong_known_hosts: PathBuf,
    user: String,
}

fn keygen(path: &Path) {
    let out = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "baton-test", "-f"])
        .arg(path)
        .output()
        .expect("run ssh-keygen");
    assert!(out.status.success(), "ssh-keygen failed: {out:?}");
}

impl SshServer {
    /// Starts `/usr/sbin/sshd -D` on a free port.
    pub fn start() -> SshServer {
        use std::os::unix::process::CommandExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        let host_key = d.join("host_key");
        let other_host_key = d.join("other_host_key");
        let client_key = d.join("client_key");
        keygen(&host_key);
        keygen(&other_host_key);
        keygen(&client_key);
        std::fs::copy(d.join("client_key.pub"), d.join("authorized_keys")).unwrap();
        // sshd refuses to start without its privilege separation directory.
        std::fs::create_dir_all("/run/sshd").unwrap();
        let port = free_port();
        let config = d.join("sshd_config");
        write(
            &config,
            &format!(
                "Port {port}\nListenAddress 127.0.0.1\nHostKey {hk}\nPidFile {pid}\n\
                 AuthorizedKeysFile {ak}\nStrictModes no\nPermitRootLogin prohibit-password\n\
                 PubkeyAuthentication yes\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n\
                 UsePAM no\nLogLevel ERROR\n",
                hk = host_key.display(),
                pid = d.join("sshd.pid").display(),
                ak = d.join("authorized_keys").display(),
            ),
        );
        let log = std::fs::File::create(d.join("sshd.log")).unwrap();
        let mut child = Command::new("/usr/sbin/sshd")
            .args(["-D", "-e", "-f"])
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .process_group(0)
            .spawn()
            .expect("start /usr/sbin/sshd (Debian package openssh-server)");
        wait_for_port(port, &mut child, "sshd");
        let host_pub = std::fs::read_to_string(d.join("host_key.pub")).unwrap();
        let other_pub = std::fs::read_to_string(d.join("other_host_key.pub")).unwrap();
        let entry = |pubkey: &str| {
            let mut f = pubkey.split_whitespace();
            format!(
                "[127.0.0.1]:{port} {} {}\n",
                f.next().unwrap(),
                f.next().unwrap()
            )
        };
        let known_hosts = d.join("known_hosts");
        write(&known_hosts, &entry(&host_pub));
        let wrong_known_hosts = d.join("wrong_known_hosts");
        write(&wrong_known_hosts, &entry(&other_pub));
        let user = String::from_utf8(Command::new("id").arg("-un").output().unwrap().stdout)
            .unwrap()
            .trim()
            .to_string();
        SshServer {
            child,
            port,
            client_key,
            known_hosts,
            wrong_known_hosts,
            user,
            dir,
        }
    }

    /// The `ssh://` URL of `repo` on this server.
    pub fn url(&self, repo: &BareRepo) -> String {
        format!(
            "ssh://{}@127.0.0.1:{}{}",
            self.user,
            self.port,
            repo.path.display()
        )
    }

    /// What sshd logged so far (for failing assertions).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("sshd.log")).unwrap_or_default()
    }
}

impl Drop for SshServer {
    fn drop(&mut self) {
        kill_group(&mut self.child);
    }
}

/// Baton-side helpers shared by the git tests.
pub mod baton_side {
    use std::path::PathBuf;
    use std::time::Duration;

    use baton::git::{CommitMessage, CommitRequest, Move, ObjectId, RemoteSettings, Workspace};

    use super::{APP_PATH, BRANCH};

    /// Settings for `url` on [`BRANCH`] with a short time limit.
    pub fn settings(url: &str) -> RemoteSettings {
        let mut s = RemoteSettings::new(url, BRANCH);
        s.timeout = Duration::from_secs(60);
        s
    }

    /// The message for moving the staging app from `from` to `to`.
    pub fn staging_move(from: &str, to: &str) -> CommitMessage {
        CommitMessage {
            environment: "staging".into(),
            moves: vec![Move {
                image: "ghcr.io/example/app".into(),
                policy: "app".into(),
                rule: "semver 1.x".into(),
                from: from.into(),
                to: to.into(),
                digest: Some(format!("sha256:{}", "b".repeat(64))),
            }],
            promoted_by: None,
        }
    }

    /// A commit request with `msg`, unsigned.
    pub fn request(msg: &CommitMessage) -> CommitRequest {
        CommitRequest {
            message: msg.render(None).unwrap(),
            author_name: "baton".into(),
            author_email: "baton@example.com".into(),
            signing: None,
        }
    }

    /// The staging manifest holding tag `to`.
    pub fn app_at(to: &str) -> Vec<u8> {
        format!("image: ghcr.io/example/app:{to} # {{\"$imagepolicy\": \"flux-system:app\"}}\n")
            .into_bytes()
    }

    /// Commits the staging manifest with tag `to` as a move from `from`.
    pub async fn bump(ws: &Workspace, from: &str, to: &str) -> Option<ObjectId> {
        ws.commit_contents(
            &request(&staging_move(from, to)),
            vec![(PathBuf::from(APP_PATH), app_at(to))],
        )
        .await
        .unwrap()
    }
}
