//! Stoplight's prism, the judge of the forge tests: it serves or proxies an API description
//! (a committed cut of the forge's own, tests/fixtures/) and logs every request, and in proxy
//! mode every reply, that breaks it. scripts/test installs it into target/prism
//! (scripts/prism/package.json).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// prism's executable: BATON_PRISM, else where scripts/test installs it.
fn prism_binary() -> PathBuf {
    let path = std::env::var_os("BATON_PRISM")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("target/prism/node_modules/.bin/prism")
        });
    assert!(
        path.exists(),
        "prism is not installed at {}: run scripts/test (it installs scripts/prism/package.json \
         into target/prism) or set BATON_PRISM",
        path.display()
    );
    path
}

/// A running prism (mock or proxy) on a loopback port; killed when dropped.
pub struct Prism {
    child: Child,
    port: u16,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Prism {
    /// `prism mock DESCRIPTION` in static mode: answers with the description's own examples.
    pub fn mock(description: &Path) -> Prism {
        Prism::start(description, &["mock"], &[])
    }

    /// `prism proxy DESCRIPTION UPSTREAM`: forwards to `upstream` and checks both directions.
    pub fn proxy(description: &Path, upstream: &str) -> Prism {
        Prism::start(description, &["proxy"], &[upstream])
    }

    fn start(description: &Path, mode: &[&str], after: &[&str]) -> Prism {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("prism.log");
        for _ in 0..5 {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let out = std::fs::File::create(&log).unwrap();
            let child = Command::new(prism_binary())
                .args(mode)
                .arg(description)
                .args(after)
                .args(["--host", "127.0.0.1", "--port", &port.to_string()])
                .stdin(Stdio::null())
                .stdout(out.try_clone().unwrap())
                .stderr(out)
                .spawn()
                .expect("start prism");
            let mut prism = Prism {
                child,
                port,
                log: log.clone(),
                _dir: tempfile::tempdir().unwrap(),
            };
            let deadline = Instant::now() + Duration::from_secs(60);
            loop {
                let text = prism.log_text();
                if text.contains("Prism is listening") {
                    prism._dir = dir;
                    return prism;
                }
                if let Ok(Some(_)) = prism.child.try_wait() {
                    break; // most likely the port was taken meanwhile: try another
                }
                assert!(
                    Instant::now() < deadline,
                    "prism did not start in 60 s:\n{text}"
                );
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        panic!(
            "prism exited at start five times:\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
    }

    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn log_text(&self) -> String {
        let mut text = String::new();
        if let Ok(mut f) = std::fs::File::open(&self.log) {
            let _ = f.read_to_string(&mut text);
        }
        text
    }

    /// The log once `requests` requests have been handled (prism logs after replying).
    pub fn settled_log(&self, requests: usize) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let text = self.log_text();
            if text.matches("Request received").count() >= requests || Instant::now() > deadline {
                std::thread::sleep(Duration::from_millis(300));
                return self.log_text();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Prism {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What in prism's log says a request (or, with `replies`, a reply) broke the description.
pub fn violations(log: &str, replies: bool) -> Vec<String> {
    log.lines()
        .filter(|l| {
            l.contains("did not pass the validation rules")
                || l.contains("Violation: request")
                || (replies && l.contains("Violation: response"))
                || (replies && l.contains("Unable to match"))
                || l.contains("NO_PATH_MATCHED")
                || l.contains("NO_METHOD_MATCHED")
                || l.contains("Request terminated with error")
        })
        .map(str::to_string)
        .collect()
}

/// Runs scripts/prism/graphql-check.js over `bodies`; returns its output, or panics with it
/// when the check fails.
pub fn check_graphql(bodies: &[serde_json::Value]) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let modules = root.join("target/prism/node_modules");
    assert!(
        modules.join("@octokit/graphql-schema/schema.json").exists(),
        "@octokit/graphql-schema is not installed in {}: run scripts/test (it installs scripts/prism/package.json)",
        modules.display()
    );
    let mut child = Command::new("node")
        .arg(root.join("scripts/prism/graphql-check.js"))
        .env("NODE_PATH", &modules)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run node");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin
            .write_all(serde_json::to_string(bodies).unwrap().as_bytes())
            .unwrap();
    }
    let out = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "GraphQL check failed:\n{text}");
    text
}
