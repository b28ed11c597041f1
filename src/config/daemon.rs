//! The `[daemon]` section: the state directory, the listener and its board, the log format
//! and how many registry requests run at once.

use std::net::SocketAddr;
use std::path::PathBuf;

use super::{DEFAULT_LISTEN_PORT, DEFAULT_STATE_DIR};
use crate::common::settings::Table;

/// Output format of the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per event, for log shippers.
    Json,
}

/// The `[daemon]` section.
#[derive(Debug, Clone, PartialEq)]
pub struct DaemonConfig {
    /// Clone and caches; safe to delete.
    pub state_dir: PathBuf,
    /// Address of the health, metrics, status and webhook listener.
    pub listen: SocketAddr,
    /// Log format unless `--log-format` says otherwise.
    pub log_format: LogFormat,
    /// Registry requests in flight at once, across all registries.
    pub concurrency: usize,
    /// Whether the read-only board is served at `/` on `listen`.
    pub ui: bool,
    /// File holding the token the board asks for; needed when `listen` is not loopback.
    pub ui_token_file: Option<PathBuf>,
}

impl DaemonConfig {
    /// Reads `[daemon]` (empty when absent); `None` when it has errors (all of them reported).
    pub(super) fn read(t: Table) -> Option<DaemonConfig> {
        let state_dir = t
            .file_path("state_dir")
            .unwrap_or_else(|| PathBuf::from(DEFAULT_STATE_DIR));
        let listen = match t.string("listen") {
            Some(text) => match text.parse::<SocketAddr>() {
                Ok(addr) => Some(addr),
                Err(_) => {
                    t.error(
                        "listen",
                        format!(
                            "{text:?} is not an address: write IP:PORT, e.g. \"127.0.0.1:9476\""
                        ),
                    );
                    None
                }
            },
            None => Some(SocketAddr::from(([127, 0, 0, 1], DEFAULT_LISTEN_PORT))),
        };
        let log_format = match t.string("log_format").as_deref() {
            None | Some("text") => Some(LogFormat::Text),
            Some("json") => Some(LogFormat::Json),
            Some(other) => {
                t.error(
                    "log_format",
                    format!("{other:?} is not a log format: use \"text\" or \"json\""),
                );
                None
            }
        };
        let concurrency = t.integer("concurrency", 1, 256).unwrap_or(4) as usize;
        let ui = t.bool("ui").unwrap_or(true);
        let ui_token_file = t.file_path("ui_token_file");
        t.finish();
        Some(DaemonConfig {
            state_dir,
            listen: listen?,
            log_format: log_format?,
            concurrency,
            ui,
            ui_token_file,
        })
    }
}
