//! The `[forge]` section as the forge client takes it, and its reader: the kind, the base URL
//! (https, no credentials), the repository path and the token file.

use std::path::PathBuf;
use std::time::Duration;

use super::ForgeKind;
use crate::common::settings::Table;

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

impl ForgeConfig {
    /// Reads `[forge]`; `None` when it has errors (all of them reported).
    pub fn read(t: Table) -> Option<ForgeConfig> {
        let kind = t
            .required_string(
                "kind",
                "set kind = \"github\", \"gitlab\", \"gitea\" or \"forgejo\"",
            )
            .and_then(|text| match text.parse::<ForgeKind>() {
                Ok(kind) => Some(kind),
                Err(why) => {
                    t.error("kind", why.to_string());
                    None
                }
            });
        let base_text = t.string("base_url");
        let base_url = match (&kind, base_text) {
            (_, Some(text)) => match check_forge_url(&text) {
                Ok(url) => Some(url),
                Err(why) => {
                    t.error("base_url", why);
                    None
                }
            },
            (Some(kind), None) => match kind.default_base_url() {
                Some(url) => url::Url::parse(url).ok(),
                None => {
                    t.missing(
                    "base_url",
                    "a Gitea or Forgejo forge needs its address, e.g. base_url = \"https://gitea.example.com\"",
                );
                    None
                }
            },
            (None, None) => None,
        };
        let repository = t.required_string(
            "repository",
            "name the repository on the forge, e.g. repository = \"platform/fleet\"",
        );
        if let Some(repo) = &repository {
            let parts: Vec<&str> = repo.split('/').collect();
            if parts.len() < 2
                || parts
                    .iter()
                    .any(|p| p.trim().is_empty() || p.contains(char::is_whitespace))
            {
                t.error(
                "repository",
                format!(
                    "{repo:?} is not OWNER/NAME: write it as on the forge, e.g. \"platform/fleet\""
                ),
            );
            } else if kind.is_some_and(|k| k != ForgeKind::GitLab) && parts.len() != 2 {
                t.error(
                    "repository",
                    format!(
                        "{repo:?} has more than one '/': only GitLab nests groups; write OWNER/NAME"
                    ),
                );
            }
        }
        let token_file = t.required_file_path(
            "token_file",
            "put the forge API token in a file readable only by baton and set token_file",
        );
        let list =
            |key: &'static str| -> Vec<String> {
                t.string_list(key)
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(|(value, path)| {
                        if value.trim().is_empty() || value.contains(',') {
                            t.error_at(
                        &path,
                        format!("{value:?} is not a name: give one name per entry, without commas"),
                    );
                            None
                        } else {
                            Some(value.trim().to_string())
                        }
                    })
                    .collect()
            };
        let labels = list("labels");
        let reviewers = list("reviewers");
        let draft = t.bool("draft").unwrap_or(false);
        let timeout = t
            .duration("timeout", Some(Duration::from_secs(1)))
            .unwrap_or(Duration::from_secs(30));
        t.finish();
        Some(ForgeConfig {
            kind: kind?,
            base_url: base_url?,
            repository: repository?.trim().to_string(),
            token_file: token_file?,
            labels,
            reviewers,
            draft,
            timeout,
        })
    }

    /// Whether a Git remote URL is this forge repository's (it ends with `OWNER/NAME`, with
    /// or without `.git`, after a `/` or an scp-style `:`): review branches pushed there are
    /// the ones its pull requests can name. Forges resolve repository paths without regard to
    /// case, so the comparison ignores it too.
    pub fn serves(&self, remote_url: &str) -> bool {
        let url = remote_url.trim_end_matches('/').to_ascii_lowercase();
        let url = url.strip_suffix(".git").unwrap_or(&url);
        let repository = self.repository.trim_matches('/').to_ascii_lowercase();
        !repository.is_empty()
            && url
                .strip_suffix(repository.as_str())
                .is_some_and(|rest| rest.ends_with('/') || rest.ends_with(':'))
    }
}

/// A forge base URL: http(s), no credentials, plain HTTP only on a loopback address.
fn check_forge_url(text: &str) -> Result<url::Url, String> {
    let url = url::Url::parse(text.trim()).map_err(|e| {
        format!("{text:?} is not a URL ({e}): write e.g. \"https://gitea.example.com\"")
    })?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err("the URL carries credentials: remove them and set token_file".to_string());
    }
    let loopback = match url.host() {
        Some(url::Host::Domain(d)) => d == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    match url.scheme() {
        "https" => Ok(url),
        "http" if loopback => Ok(url),
        "http" => Err(format!(
            "{text:?} uses plain http: the token would cross the network in clear text; use https"
        )),
        other => Err(format!("{text:?} has scheme {other:?}: use https")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn forge(repository: &str) -> ForgeConfig {
        ForgeConfig {
            kind: ForgeKind::GitHub,
            base_url: url::Url::parse("https://api.github.com").unwrap(),
            repository: repository.to_string(),
            token_file: PathBuf::from("/dev/null"),
            labels: Vec::new(),
            reviewers: Vec::new(),
            draft: false,
            timeout: Duration::from_secs(30),
        }
    }

    #[test]
    fn a_remote_is_the_forge_repositorys_when_it_ends_with_its_path() {
        let f = forge("platform/fleet");
        for url in [
            "ssh://git@github.com/platform/fleet.git",
            "git@github.com:platform/fleet.git",
            "https://github.com/platform/fleet",
            "https://github.com/platform/fleet/",
        ] {
            assert!(f.serves(url), "{url}");
        }
        for url in [
            "ssh://git@github.com/platform/fleet-old.git",
            "ssh://git@github.com/other-platform/fleet.git",
            "https://github.com/payments/deploy.git",
            "/srv/git/fleet.git",
        ] {
            assert!(!f.serves(url), "{url}");
        }
        assert!(
            forge("platform/infra/fleet")
                .serves("https://gitlab.example.com/platform/infra/fleet.git")
        );
        assert!(!forge("").serves("https://github.com/x/"));
        // Forges resolve paths without regard to case.
        assert!(forge("Platform/Fleet").serves("git@github.com:platform/fleet.git"));
        assert!(f.serves("https://GitHub.com/PLATFORM/Fleet.GIT"));
    }
}
