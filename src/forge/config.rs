//! The `[forge]` section as the forge client takes it.

use std::path::PathBuf;
use std::time::Duration;

use super::ForgeKind;

/// The `[forge]` section: where review-mode environments open pull requests.
#[derive(Debug, Clone)]
pub struct ForgeConfig {
    /// Which API the forge speaks.
    pub kind: ForgeKind,
    /// The API's base URL: GitHub's API root (`https://api.github.com`, or
    /// `https://HOST/api/v3` for Enterprise), the GitLab or Gitea/Forgejo instance URL.
    pub base_url: url::Url,
    /// `OWNER/NAME` (GitLab: the project path, groups included).
    pub repository: String,
    /// File holding the API token.
    pub token_file: PathBuf,
    /// Labels put on every pull request Baton opens.
    pub labels: Vec<String>,
    /// User names asked to review every pull request Baton opens.
    pub reviewers: Vec<String>,
    /// Open pull requests as drafts.
    pub draft: bool,
    /// Total deadline of one API request.
    pub timeout: Duration,
}
