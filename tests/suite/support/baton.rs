//! The one way the tests run the `baton` binary: no inherited Baton settings (every `BATON_*`
//! variable, `RUST_LOG`, systemd's variables), no colour, git's own config files ignored, its
//! own process group; run to the end, started and left running, or as a daemon.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use super::daemon::Daemon;

/// Variables of the test's own environment that would change what Baton does.
const CLEARED: &[&str] = &["RUST_LOG", "NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"];

/// A `baton` command being built.
pub struct Baton {
    cmd: Command,
}

/// The result of one `baton` run.
#[derive(Debug)]
pub struct Run {
    /// Exit code (-1 when killed by a signal).
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error (the log).
    pub stderr: String,
}

impl Run {
    /// Both streams, for assertion messages.
    pub fn both(&self) -> String {
        format!(
            "exit {}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }

    fn from_output(out: std::process::Output) -> Run {
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

impl Baton {
    /// `baton ARGS` in a clean environment, output piped, no input.
    pub fn new<S: AsRef<std::ffi::OsStr>>(args: impl IntoIterator<Item = S>) -> Baton {
        use std::os::unix::process::CommandExt;
        let mut cmd = Command::new(Self::path());
        cmd.args(args)
            .env("NO_COLOR", "1")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("BATON_") {
                cmd.env_remove(key);
            }
        }
        for key in CLEARED {
            cmd.env_remove(key);
        }
        Baton { cmd }
    }

    /// The binary under test.
    pub fn path() -> PathBuf {
        PathBuf::from(env!("CARGO_BIN_EXE_baton"))
    }

    /// `--config PATH` after the arguments so far.
    pub fn config(mut self, path: &Path) -> Baton {
        self.cmd.arg("--config").arg(path);
        self
    }

    /// An environment variable for the process.
    pub fn env(mut self, key: &str, value: impl AsRef<std::ffi::OsStr>) -> Baton {
        self.cmd.env(key, value);
        self
    }

    /// Environment variables for the process.
    pub fn envs(mut self, vars: &[(&str, &str)]) -> Baton {
        for (key, value) in vars {
            self.cmd.env(key, value);
        }
        self
    }

    /// The command, not started.
    pub fn command(self) -> Command {
        self.cmd
    }

    /// Runs to the end.
    pub fn run(mut self) -> Run {
        Run::from_output(self.cmd.output().unwrap())
    }

    /// Starts it and leaves it running; [`finish`] collects it.
    pub fn spawn(mut self) -> Child {
        self.cmd.spawn().unwrap()
    }

    /// Starts it as a daemon whose standard error (the log) goes to `log`.
    pub fn daemon(mut self, log: PathBuf, port: u16) -> Daemon {
        let file = std::fs::File::create(&log).unwrap();
        self.cmd.stdout(Stdio::null()).stderr(file);
        Daemon::new(self.cmd.spawn().unwrap(), log, port)
    }
}

/// Waits for `child` and collects its output.
pub fn finish(child: Child) -> Run {
    Run::from_output(child.wait_with_output().unwrap())
}
