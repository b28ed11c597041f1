//! `baton run` as a real process for the daemon tests: a local registry and a seeded bare
//! remote with a staging manifest pointing at it, a config file, the daemon process with its
//! log, a NOTIFY_SOCKET the test owns (as systemd would), and plain HTTP/1.0 requests to the
//! daemon's listener.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus};
use std::time::{Duration, Instant};

use super::config::ConfigBuilder;
use super::git_server::{free_port, git};
use super::world::World;

/// The repository of the test image in the local registry.
pub const REPO: &str = "team/app";

/// Where the seeded staging manifest lives in the fleet repository.
pub const STAGING: &str = "clusters/staging/app.yaml";

/// How long any wait in these tests may take before it fails: far longer than any step
/// needs, so that a slow machine does not fail a correct daemon.
pub const PATIENCE: Duration = Duration::from_secs(60);

/// Polls `check` every 50 ms until it returns `Some`, or panics after `limit` naming `what`.
pub fn wait_until<T>(limit: Duration, what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(value) = check() {
            return value;
        }
        if Instant::now() > deadline {
            panic!("timed out waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A world with `team/app:1.0.0` in the registry and a staging manifest pointing at it, and a
/// port for the daemon.
pub struct DaemonFleet {
    /// The registry, the remote and the directory.
    pub world: World,
    /// The daemon's listen port.
    pub port: u16,
}

impl std::ops::Deref for DaemonFleet {
    type Target = World;
    fn deref(&self) -> &World {
        &self.world
    }
}

impl DaemonFleet {
    /// Starts the registry, pushes `team/app:1.0.0`, and seeds the remote's staging manifest.
    pub async fn start() -> DaemonFleet {
        let world = World::start();
        world.registry.push_image(REPO, "1.0.0").await;
        world.remote.writer().commit_and_push(
            STAGING,
            &format!(
                "image: {}/{REPO}:1.0.0 # {{\"$imagepolicy\": \"flux-system:app\"}}\n",
                world.host()
            ),
            "Point staging at the local registry",
        );
        DaemonFleet {
            world,
            port: free_port(),
        }
    }

    /// The daemon's configuration: listening on the port, the `app` image on a 10s interval
    /// with a `1.x` policy, the staging environment in push mode.
    pub fn config(&self) -> ConfigBuilder {
        let host = self.host();
        self.world
            .config(&self.remote.path_url())
            .text_value("daemon", "listen", &format!("127.0.0.1:{}", self.port))
            .text_value("git", "interval", "10m")
            .image("app", &format!("{host}/{REPO}"))
            .text_value("images.app", "interval", "10s")
            .semver_policy("app", "app", "1.x")
            .environment("staging", &["clusters/staging"])
            .text_value("environments.staging", "mode", "push")
    }

    /// The configuration's text with `extra` (TOML) appended.
    pub fn config_text(&self, extra: &str) -> String {
        self.config().raw(extra).text()
    }

    /// Writes the config file in place.
    pub fn write_config(&self, text: &str) {
        std::fs::write(self.config_path(), text).unwrap();
    }

    /// Replaces the config file the way many editors save: write a new file, rename it over.
    pub fn replace_config(&self, text: &str) {
        let tmp = self.dir.path().join(".baton.toml.tmp");
        std::fs::write(&tmp, text).unwrap();
        std::fs::rename(&tmp, self.config_path()).unwrap();
    }

    /// Pushes `team/app:TAG`.
    pub async fn push_tag(&self, tag: &str) {
        self.registry.push_image(REPO, tag).await;
    }

    /// The staging manifest on the remote's main branch.
    pub fn staging_on_remote(&self) -> String {
        git(&self.remote.path, &["show", &format!("main:{STAGING}")])
    }

    /// Starts `baton run` on the config file with `envs` added.
    pub fn run(&self, envs: &[(&str, &str)]) -> Daemon {
        self.world.daemon(self.port, envs)
    }

    /// A NOTIFY_SOCKET in the fleet's directory.
    pub fn notify_socket(&self) -> NotifySocket {
        NotifySocket::bind(&self.dir.path().join("notify.sock"))
    }
}

/// A running `baton run`; killed on drop if still running.
pub struct Daemon {
    child: Child,
    log: PathBuf,
    /// The listen port.
    pub port: u16,
    status: Option<ExitStatus>,
}

impl Daemon {
    /// The daemon started as `child`, logging to `log`, listening on `port`.
    pub fn new(child: Child, log: PathBuf, port: u16) -> Daemon {
        Daemon {
            child,
            log,
            port,
            status: None,
        }
    }

    /// The process id.
    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Everything logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The JSON log events so far.
    pub fn events(&self) -> Vec<serde_json::Value> {
        self.log()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// Waits for a log event whose message is `message` and that `matches`.
    pub fn wait_event(
        &mut self,
        message: &str,
        matches: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let what = format!("log event {message:?}");
        wait_until(PATIENCE, &what, || {
            let found = self
                .events()
                .into_iter()
                .find(|e| e["message"] == message && matches(e));
            if found.is_none()
                && let Some(status) = self.exited()
            {
                panic!(
                    "baton exited with {status} while waiting for {what}:\n{}",
                    self.log()
                );
            }
            found
        })
    }

    /// Sends `signal` to the daemon.
    pub fn signal(&self, signal: i32) {
        // SAFETY: kill(2) on our own child; no memory effects.
        let rc = unsafe { libc::kill(self.pid(), signal) };
        assert_eq!(rc, 0, "kill failed");
    }

    /// Whether the process has exited (remembering its status).
    pub fn exited(&mut self) -> Option<ExitStatus> {
        if self.status.is_none() {
            self.status = self.child.try_wait().unwrap();
        }
        self.status
    }

    /// Waits for the process to exit.
    pub fn wait_exit(&mut self) -> ExitStatus {
        wait_until(PATIENCE, "baton to exit", || self.exited())
    }

    /// GET `path` on the daemon's listener: status code and body.
    pub fn get(&self, path: &str) -> Option<(u16, String)> {
        http_get(self.port, path)
    }

    /// Waits until `/readyz` answers 200.
    pub fn wait_ready(&mut self) {
        let what = "baton to be ready";
        wait_until(PATIENCE, what, || {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "baton exited with {status} before it was ready:\n{}",
                    self.log()
                );
            }
            self.get("/readyz").filter(|(code, _)| *code == 200)
        });
    }

    /// `/api/v1/status` as JSON.
    pub fn status(&self) -> serde_json::Value {
        let (code, body) = self.get("/api/v1/status").expect("status answers");
        assert_eq!(code, 200, "{body}");
        serde_json::from_str(&body).unwrap()
    }

    /// `/metrics` parsed: `name{labels}` to value.
    pub fn metrics(&self) -> BTreeMap<String, f64> {
        let (code, body) = self.get("/metrics").expect("metrics answer");
        assert_eq!(code, 200, "{body}");
        parse_metrics(&body)
    }

    /// `/metrics` as text.
    pub fn metrics_text(&self) -> String {
        self.get("/metrics").expect("metrics answer").1
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if self.exited().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Parses the Prometheus text format: `name{labels} value` lines into a map (comments skipped).
pub fn parse_metrics(text: &str) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    for line in text.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let Some((series, value)) = line.rsplit_once(' ') else {
            panic!("malformed metrics line {line:?}");
        };
        let value: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("malformed value in {line:?}"));
        out.insert(series.to_string(), value);
    }
    out
}

/// A plain HTTP/1.0 GET to 127.0.0.1:`port`; `None` when nothing answers.
pub fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    let request = format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n");
    stream.write_all(request.as_bytes()).ok()?;
    let mut reply = String::new();
    stream.read_to_string(&mut reply).ok()?;
    let (head, body) = reply.split_once("\r\n\r\n")?;
    let code = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((code, body.to_string()))
}

/// A unix datagram socket standing in for systemd's notify socket.
pub struct NotifySocket {
    socket: UnixDatagram,
    /// Its path, for `NOTIFY_SOCKET`.
    pub path: PathBuf,
    received: Vec<String>,
}

impl NotifySocket {
    /// Binds the socket at `path`.
    pub fn bind(path: &Path) -> NotifySocket {
        let socket = UnixDatagram::bind(path).unwrap();
        socket
            .set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        NotifySocket {
            socket,
            path: path.to_path_buf(),
            received: Vec::new(),
        }
    }

    /// Reads what has arrived without waiting for more.
    fn drain(&mut self) {
        let mut buf = [0u8; 4096];
        while let Ok(n) = self.socket.recv(&mut buf) {
            self.received
                .push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
    }

    /// Waits for a message containing `needle` that arrived after the first `after`
    /// messages; returns its index.
    pub fn wait_for(&mut self, needle: &str, after: usize) -> usize {
        let what = format!("{needle:?} on the notify socket");
        wait_until(PATIENCE, &what, || {
            self.drain();
            self.received
                .iter()
                .enumerate()
                .skip(after)
                .find(|(_, m)| m.lines().any(|l| l == needle))
                .map(|(i, _)| i)
        })
    }

    /// Every message so far.
    pub fn messages(&mut self) -> Vec<String> {
        self.drain();
        self.received.clone()
    }
}
