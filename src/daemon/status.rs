//! The daemon's live state as operators see it: `/api/v1/status` and `baton status`.
//!
//! Plain data, updated by the scheduler and the pass, serialised as JSON.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Everything `/api/v1/status` reports.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Status {
    /// Baton's version.
    pub version: String,
    /// When the daemon started (RFC 3339).
    pub started_at: String,
    /// The configuration in force.
    pub config: ConfigStatus,
    /// The Git workspace.
    pub git: GitStatus,
    /// Per `[images]` name.
    pub images: BTreeMap<String, ImageStatus>,
    /// Per `[environments]` name.
    pub environments: BTreeMap<String, EnvironmentStatus>,
}

/// The configuration in force and the last reload.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ConfigStatus {
    /// The file.
    pub path: String,
    /// When the configuration in force was loaded.
    pub loaded_at: String,
    /// Why the last reload was refused, if it was.
    pub last_reload_error: Option<String>,
}

/// The workspace's last sync with the remote.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct GitStatus {
    /// When the remote was last fetched successfully.
    pub last_sync: Option<String>,
    /// The remote head after that fetch.
    pub head: Option<String>,
    /// The last Git error, cleared by the next success.
    pub last_error: Option<String>,
}

/// One image's last scan and choices.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ImageStatus {
    /// The repository scanned.
    pub repository: String,
    /// When the last scan finished (RFC 3339).
    pub last_scan: Option<String>,
    /// Valid tags seen in that scan.
    pub tag_count: usize,
    /// Chosen tag per policy, with the reason.
    pub chosen: BTreeMap<String, String>,
    /// The last scan error, cleared by the next success.
    pub last_error: Option<String>,
}

/// One environment's last move and what it waits for.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct EnvironmentStatus {
    /// The last commit Baton made for it.
    pub last_commit: Option<String>,
    /// When it was made.
    pub last_commit_at: Option<String>,
    /// Review branches with changes waiting for a person.
    pub pending_reviews: Vec<String>,
    /// Why moves are waiting (window closed, soaking, hold).
    pub waiting: Vec<String>,
    /// Marker lines held by a person, with the reason.
    pub holds: Vec<String>,
}

/// The current time as RFC 3339, for status fields.
pub fn now() -> String {
    jiff::Timestamp::now().to_string()
}
