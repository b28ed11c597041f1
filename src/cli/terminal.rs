//! What a person at a terminal gets and a script does not: colours, progress on long steps,
//! and the `-q`/`-v` verbosity every subcommand shares.

use std::collections::{BTreeMap, BTreeSet};
use std::io::IsTerminal;
use std::sync::atomic::{AtomicI8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::pass::{Progress, Step};

/// -1 with `-q`, 0 by default, 1 and more with each `-v`.
static VERBOSITY: AtomicI8 = AtomicI8::new(0);

/// Records the verbosity from `-q` and the number of `-v`.
pub fn set_verbosity(quiet: bool, verbose: u8) {
    let level = if quiet {
        -1
    } else {
        i8::try_from(verbose).unwrap_or(i8::MAX)
    };
    VERBOSITY.store(level, Ordering::Relaxed);
}

/// -1 quiet, 0 normal, 1+ verbose.
pub fn verbosity() -> i8 {
    VERBOSITY.load(Ordering::Relaxed)
}

/// True with `-q`: only results, problems and errors are printed.
pub fn quiet() -> bool {
    verbosity() < 0
}

/// Whether colours are wanted on a stream that is (or is not) a terminal: never with
/// `NO_COLOR` set, never for `TERM=dumb`.
pub fn colours_for(is_terminal: bool) -> bool {
    is_terminal
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        && std::env::var("TERM").map_or(true, |t| t != "dumb")
}

/// Whether progress lines are shown: stderr is a terminal and `-q` was not given. Scripts,
/// pipes, cron mail and the journal never see them.
pub fn shows_progress() -> bool {
    !quiet() && std::io::stderr().is_terminal()
}

/// A progress line on stderr, when [`shows_progress`].
pub fn progress(message: &str) {
    if shows_progress() {
        eprintln!("... {message}");
    }
}

/// How long a step runs before a person is told it is still running, and how often after.
const STILL_RUNNING_AFTER: Duration = Duration::from_secs(2);
/// See [`STILL_RUNNING_AFTER`].
const STILL_RUNNING_EVERY: Duration = Duration::from_secs(3);

/// Runs `work`; when it takes longer than two seconds and [`shows_progress`], says on
/// stderr that it is still `doing` (e.g. "cloning ..."), every few seconds, with the time so
/// far.
pub async fn during<T>(doing: &str, work: impl Future<Output = T>) -> T {
    if !shows_progress() {
        return work.await;
    }
    let started = Instant::now();
    let mut ticks = tokio::time::interval_at(
        tokio::time::Instant::now() + STILL_RUNNING_AFTER,
        STILL_RUNNING_EVERY,
    );
    tokio::pin!(work);
    loop {
        tokio::select! {
            out = &mut work => return out,
            _ = ticks.tick() => eprintln!("... still {doing} ({}s)", started.elapsed().as_secs()),
        }
    }
}

/// Progress of a pass at a terminal: a line when the scans start, and while some are still
/// running, every few seconds, how many are done and which registries are being waited for
/// (grouped per registry, not one line per image); a line per environment, and a note when
/// the sync or an environment runs long. Does nothing unless [`shows_progress`].
pub struct PassProgress {
    state: Arc<Mutex<ProgressState>>,
    ticker: Option<tokio::task::JoinHandle<()>>,
}

/// What the pass is doing, as [`PassProgress`] follows it.
struct ProgressState {
    /// Each image's registry, by `[images]` name.
    registries: BTreeMap<String, String>,
    /// Images whose scan ended.
    scanned: BTreeSet<String>,
    /// Scans that failed.
    failed: usize,
    /// The step under way, and since when.
    step: Option<(Doing, Instant)>,
}

/// The step a pass is in.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Doing {
    Scanning,
    Syncing,
    Environment(String),
}

impl PassProgress {
    /// Follows a pass over `images` (name and registry host). Call inside a Tokio runtime.
    pub fn start(images: impl IntoIterator<Item = (String, String)>) -> Self {
        let state = Arc::new(Mutex::new(ProgressState {
            registries: images.into_iter().collect(),
            scanned: BTreeSet::new(),
            failed: 0,
            step: None,
        }));
        let ticker = shows_progress().then(|| {
            let state = state.clone();
            tokio::spawn(async move {
                let mut ticks = tokio::time::interval_at(
                    tokio::time::Instant::now() + STILL_RUNNING_AFTER,
                    STILL_RUNNING_EVERY,
                );
                loop {
                    ticks.tick().await;
                    let line = state.lock().ok().and_then(|s| s.still_running());
                    if let Some(line) = line {
                        eprintln!("... {line}");
                    }
                }
            })
        });
        PassProgress { state, ticker }
    }

    /// The listener to put in `PassOptions::progress`; `None` when progress is not shown.
    pub fn listener(&self) -> Option<Progress> {
        self.ticker.as_ref()?;
        let state = self.state.clone();
        Some(Progress::new(move |step| {
            let Ok(mut s) = state.lock() else { return };
            if let Some(line) = s.record(step) {
                eprintln!("... {line}");
            }
        }))
    }
}

impl Drop for PassProgress {
    fn drop(&mut self) {
        if let Some(ticker) = &self.ticker {
            ticker.abort();
        }
    }
}

impl ProgressState {
    /// Records `step`; the line to print at once, if any.
    fn record(&mut self, step: Step<'_>) -> Option<String> {
        let now = Instant::now();
        match step {
            Step::Scanning { images } => {
                self.step = Some((Doing::Scanning, now));
                let hosts: BTreeSet<&String> = self.registries.values().collect();
                Some(format!(
                    "scanning {images} image{} on {} registr{}",
                    plural(images),
                    hosts.len(),
                    if hosts.len() == 1 { "y" } else { "ies" }
                ))
            }
            Step::Scanned { image, ok } => {
                self.scanned.insert(image.to_string());
                if !ok {
                    self.failed += 1;
                }
                None
            }
            Step::Syncing => {
                self.step = Some((Doing::Syncing, now));
                None
            }
            Step::Environment { name } => {
                self.step = Some((Doing::Environment(name.to_string()), now));
                Some(format!("working on environment {name}"))
            }
        }
    }

    /// The line saying what is still running after a while, if anything.
    fn still_running(&self) -> Option<String> {
        let (doing, since) = self.step.as_ref()?;
        if since.elapsed() < STILL_RUNNING_AFTER {
            return None;
        }
        let secs = since.elapsed().as_secs();
        match doing {
            Doing::Scanning => {
                let mut waiting: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
                for (image, registry) in &self.registries {
                    if !self.scanned.contains(image) {
                        waiting.entry(registry).or_default().push(image);
                    }
                }
                if waiting.is_empty() {
                    return None;
                }
                let hosts: Vec<String> = waiting
                    .iter()
                    .map(|(host, images)| format!("{host} ({})", images.join(", ")))
                    .collect();
                let failed = if self.failed > 0 {
                    format!(", {} failed", self.failed)
                } else {
                    String::new()
                };
                Some(format!(
                    "{} of {} images scanned{failed}; still waiting {secs}s for {}",
                    self.scanned.len(),
                    self.registries.len(),
                    hosts.join(", ")
                ))
            }
            Doing::Syncing => Some(format!("still fetching the remote ({secs}s)")),
            Doing::Environment(name) => {
                Some(format!("still working on environment {name} ({secs}s)"))
            }
        }
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// A unified diff with added lines green, removed lines red and hunk headers cyan, when
/// stdout is a terminal that wants colours; unchanged otherwise.
pub fn colour_diff(diff: &str) -> String {
    if !colours_for(std::io::stdout().is_terminal()) {
        return diff.to_string();
    }
    paint_diff(diff)
}

/// The diff with ANSI colours.
fn paint_diff(diff: &str) -> String {
    diff.lines()
        .map(|line| {
            let colour = if line.starts_with("+++") || line.starts_with("---") {
                "1"
            } else if line.starts_with('+') {
                "32"
            } else if line.starts_with('-') {
                "31"
            } else if line.starts_with("@@") {
                "36"
            } else {
                return line.to_string();
            };
            format!("\x1b[{colour}m{line}\x1b[0m")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diff_lines_get_their_colours() {
        let painted = paint_diff("--- a/x\n+++ b/x\n@@ -1 +1 @@\n-old\n+new\n same");
        let lines: Vec<&str> = painted.lines().collect();
        assert_eq!(lines[0], "\x1b[1m--- a/x\x1b[0m");
        assert_eq!(lines[2], "\x1b[36m@@ -1 +1 @@\x1b[0m");
        assert_eq!(lines[3], "\x1b[31m-old\x1b[0m");
        assert_eq!(lines[4], "\x1b[32m+new\x1b[0m");
        assert_eq!(lines[5], " same");
    }
}
