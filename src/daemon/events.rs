//! What wakes the daemon's main loop besides timers: signals and configuration file changes.
//!
//! Signals come through signal-hook on a thread; file changes through notify on the config's directory.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use notify::{RecursiveMode, Watcher};
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use tokio::sync::mpsc::UnboundedSender;

/// An event for the main loop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wake {
    /// Re-read the configuration (SIGHUP or a change on disk).
    Reload(&'static str),
    /// Stop taking new work, finish what is in flight, exit 0.
    Shutdown,
    /// A second stop signal: exit at once.
    ShutdownNow,
}

/// Starts a thread that turns SIGHUP into reloads and SIGTERM/SIGINT into shutdowns;
/// the second stop signal asks for an immediate exit.
pub fn watch_signals(events: UnboundedSender<Wake>) -> std::io::Result<()> {
    let mut signals = signal_hook::iterator::Signals::new([SIGHUP, SIGTERM, SIGINT])?;
    std::thread::Builder::new()
        .name("baton-signals".into())
        .spawn(move || {
            let mut stopping = false;
            for signal in signals.forever() {
                let event = match signal {
                    SIGHUP => Wake::Reload("SIGHUP"),
                    _ if stopping => Wake::ShutdownNow,
                    _ => {
                        stopping = true;
                        Wake::Shutdown
                    }
                };
                if event == Wake::ShutdownNow {
                    // The main loop may be blocked on the work it was asked to finish.
                    tracing::warn!("second stop signal: exiting now");
                    std::process::exit(130);
                }
                if events.send(event).is_err() {
                    break;
                }
            }
        })?;
    Ok(())
}

/// Watches the configuration file's directory, so that editors that replace the file by
/// rename and Kubernetes config maps (a `..data` symlink swap) are seen; when the file is a
/// symlink into another directory, that directory is watched too. The returned watcher must
/// be kept alive. Events are not debounced here: an editor's save is several of them.
pub fn watch_config(
    path: &Path,
    events: UnboundedSender<Wake>,
) -> notify::Result<notify::RecommendedWatcher> {
    fn parent(path: &Path) -> PathBuf {
        path.parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."))
    }
    let mut dirs = vec![parent(path)];
    let mut names: Vec<OsString> = path
        .file_name()
        .map(|n| n.to_os_string())
        .into_iter()
        .collect();
    if let Ok(real) = std::fs::canonicalize(path) {
        let real_dir = parent(&real);
        if std::fs::canonicalize(&dirs[0]).ok().as_ref() != Some(&real_dir) {
            dirs.push(real_dir);
        }
        if let Some(name) = real.file_name() {
            names.push(name.to_os_string());
        }
    }
    let mut watcher = notify::recommended_watcher(move |result: notify::Result<notify::Event>| {
        let Ok(event) = result else { return };
        if matches!(event.kind, notify::EventKind::Access(_)) {
            return;
        }
        // Any change to the file itself, or to a `..data`-style entry it resolves through.
        let relevant = event.paths.iter().any(|p| {
            p.file_name().is_some_and(|n| {
                names.iter().any(|name| name == n) || n.to_string_lossy().starts_with("..")
            })
        });
        if relevant {
            let _ = events.send(Wake::Reload("file change"));
        }
    })?;
    for dir in &dirs {
        watcher.watch(dir, RecursiveMode::NonRecursive)?;
    }
    Ok(watcher)
}
