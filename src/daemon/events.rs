//! What wakes the daemon's main loop besides timers: signals and configuration file changes.
//!
//! Signals come through signal-hook on a thread; file changes through notify on the config's directory.

use std::path::{Path, PathBuf};

use notify::{RecursiveMode, Watcher};
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use tokio::sync::mpsc::UnboundedSender;

/// An event for the main loop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Re-read the configuration (SIGHUP or a change on disk).
    Reload(&'static str),
    /// Stop taking new work, finish what is in flight, exit 0.
    Shutdown,
    /// A second stop signal: exit at once.
    ShutdownNow,
}

/// Starts a thread that turns SIGHUP into reloads and SIGTERM/SIGINT into shutdowns;
/// the second stop signal asks for an immediate exit.
pub fn watch_signals(events: UnboundedSender<Event>) -> std::io::Result<()> {
    let mut signals = signal_hook::iterator::Signals::new([SIGHUP, SIGTERM, SIGINT])?;
    std::thread::Builder::new()
        .name("baton-signals".into())
        .spawn(move || {
            let mut stopping = false;
            for signal in signals.forever() {
                let event = match signal {
                    SIGHUP => Event::Reload("SIGHUP"),
                    _ if stopping => Event::ShutdownNow,
                    _ => {
                        stopping = true;
                        Event::Shutdown
                    }
                };
                if event == Event::ShutdownNow {
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

/// Watches the configuration file's directory, so that editors that replace the
/// file by rename and Kubernetes config maps (a `..data` symlink swap) are seen.
/// The returned watcher must be kept alive.
pub fn watch_config(path: &Path, events: UnboundedSender<Event>) -> notify::Result<impl Watcher> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    let name = path.file_name().map(|n| n.to_os_string());
    let mut watcher = notify::recommended_watcher(move |result: notify::Result<notify::Event>| {
        let Ok(event) = result else { return };
        if matches!(event.kind, notify::EventKind::Access(_)) {
            return;
        }
        // Any change to the file itself, or to a `..data`-style entry it resolves through.
        let relevant = event.paths.iter().any(|p| {
            p.file_name().map(|n| n.to_os_string()) == name
                || p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with(".."))
        });
        if relevant {
            let _ = events.send(Event::Reload("file change"));
        }
    })?;
    watcher.watch(&dir, RecursiveMode::NonRecursive)?;
    Ok(watcher)
}
