//! The `docker_config` auth method: credentials from a docker `config.json` (`auths`,
//! `credsStore`, `credHelpers`) and from `docker-credential-<name>` helper programs.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use base64::Engine;
use serde::Deserialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::AuthMethod;
use super::method::{
    Credentials, Holds, Key, Method, ResolvedCredential, Resolving, Target, Value,
};
use crate::common::secret::Secret;
use crate::reference::{DOCKER_HUB, DOCKER_HUB_API};

/// The key Docker uses for Docker Hub in `config.json` and with helpers.
pub const DOCKER_HUB_CONFIG_KEY: &str = "https://index.docker.io/v1/";

/// Time a credential helper may take.
const HELPER_TIMEOUT: Duration = Duration::from_secs(30);

/// The parts of `config.json` Baton reads.
#[derive(Debug, Default, Deserialize)]
pub struct DockerConfigFile {
    #[serde(default)]
    auths: HashMap<String, AuthEntry>,
    #[serde(rename = "credsStore")]
    creds_store: Option<String>,
    #[serde(rename = "credHelpers", default)]
    cred_helpers: HashMap<String, String>,
}

#[derive(Default, Deserialize)]
struct AuthEntry {
    auth: Option<String>,
    username: Option<String>,
    password: Option<String>,
    identitytoken: Option<String>,
    registrytoken: Option<String>,
}

impl std::fmt::Debug for AuthEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthEntry")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// What `config.json` says about one registry.
#[derive(Debug, PartialEq, Eq)]
pub enum Lookup {
    /// Ask `docker-credential-<helper> get` for `server`; use `fallback` if it knows nothing.
    Helper {
        /// Helper suffix (`pass`, `ecr-login`).
        helper: String,
        /// Server URL written to the helper's stdin.
        server: String,
        /// An `auths` entry to use when the helper has no credentials.
        fallback: Option<ResolvedCredential>,
    },
    /// Credentials stored in the file itself.
    Found(ResolvedCredential),
    /// Nothing for this registry: go anonymous.
    NotFound,
}

/// True for every spelling of Docker Hub's host.
pub fn is_docker_hub(host: &str) -> bool {
    matches!(
        host,
        DOCKER_HUB | DOCKER_HUB_API | "index.docker.io" | "registry.hub.docker.com"
    )
}

/// `https://host:5000/v1/` → `host:5000`, as Docker compares `auths` keys.
fn normalize_key(key: &str) -> String {
    let rest = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    rest.split('/').next().unwrap_or(rest).to_ascii_lowercase()
}

fn key_matches(key: &str, host: &str) -> bool {
    let key = normalize_key(key);
    if is_docker_hub(host) {
        is_docker_hub(&key)
    } else {
        key == host.to_ascii_lowercase()
    }
}

/// Parses `config.json` text; errors give only line and column, never content.
pub fn parse_config(text: &str) -> Result<DockerConfigFile, String> {
    serde_json::from_str(text).map_err(|e| {
        format!(
            "invalid JSON at line {} column {} ({:?})",
            e.line(),
            e.column(),
            e.classify()
        )
    })
}

/// Decides where the credentials for `host` come from, in Docker's order:
/// `credHelpers`, then `credsStore`, then `auths`.
pub fn lookup(config: &DockerConfigFile, host: &str) -> Result<Lookup, String> {
    let server = if is_docker_hub(host) {
        DOCKER_HUB_CONFIG_KEY.to_string()
    } else {
        host.to_string()
    };
    let entry = match best_match(&config.auths, host) {
        Some((key, entry)) => decode_entry(key, entry)?,
        None => None,
    };
    if let Some((_, helper)) = best_match(&config.cred_helpers, host) {
        return Ok(Lookup::Helper {
            helper: helper.clone(),
            server,
            fallback: entry,
        });
    }
    if let Some(store) = config.creds_store.as_ref().filter(|s| !s.is_empty()) {
        return Ok(Lookup::Helper {
            helper: store.clone(),
            server,
            fallback: entry,
        });
    }
    Ok(entry.map_or(Lookup::NotFound, Lookup::Found))
}

/// The entry for `host`, preferring an exact key (or Docker Hub's canonical
/// key) over other spellings so that the choice never depends on map order.
fn best_match<'a, V>(map: &'a HashMap<String, V>, host: &str) -> Option<(&'a String, &'a V)> {
    map.iter()
        .filter(|(k, _)| key_matches(k, host))
        .min_by_key(|(k, _)| {
            (
                !(k.as_str() == host || k.as_str() == DOCKER_HUB_CONFIG_KEY),
                k.as_str(),
            )
        })
}

fn decode_entry(key: &str, entry: &AuthEntry) -> Result<Option<ResolvedCredential>, String> {
    let nonempty = |v: &Option<String>| v.as_deref().filter(|s| !s.is_empty()).map(str::to_string);
    let (mut username, mut password) = (nonempty(&entry.username), nonempty(&entry.password));
    if let Some(auth) = nonempty(&entry.auth) {
        let bad = || {
            format!(
                "auths entry {key:?} has an auth value that is not base64 of user:password: run docker login again"
            )
        };
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(auth.trim())
            .map_err(|_| bad())?;
        let text = String::from_utf8(bytes).map_err(|_| bad())?;
        let (user, pass) = text.split_once(':').ok_or_else(bad)?;
        username = Some(user.to_string());
        password = Some(pass.to_string());
    }
    if let Some(token) = nonempty(&entry.identitytoken) {
        return Ok(Some(ResolvedCredential::IdentityToken {
            username: username.unwrap_or_default(),
            token: Secret::new(token),
        }));
    }
    if let Some(token) = nonempty(&entry.registrytoken) {
        return Ok(Some(ResolvedCredential::Bearer(Secret::new(token))));
    }
    match (username, password) {
        (Some(username), Some(password)) => Ok(Some(ResolvedCredential::Basic {
            username,
            password: Secret::new(password),
        })),
        _ => Ok(None),
    }
}

#[derive(Deserialize)]
struct HelperReply {
    #[serde(rename = "Username", default)]
    username: String,
    #[serde(rename = "Secret", default)]
    secret: String,
}

/// Reads a helper's JSON reply; `<token>` as username marks an identity token.
pub fn parse_helper_reply(stdout: &[u8]) -> Result<Option<ResolvedCredential>, String> {
    let reply: HelperReply = serde_json::from_slice(stdout).map_err(|e| {
        format!(
            "reply is not the expected JSON (line {} column {})",
            e.line(),
            e.column()
        )
    })?;
    if reply.secret.is_empty() {
        return Ok(None);
    }
    if reply.username == "<token>" {
        return Ok(Some(ResolvedCredential::IdentityToken {
            username: String::new(),
            token: Secret::new(reply.secret),
        }));
    }
    Ok(Some(ResolvedCredential::Basic {
        username: reply.username,
        password: Secret::new(reply.secret),
    }))
}

/// Runs `docker-credential-<helper> get` with `server` on stdin (never in argv).
pub async fn run_helper(
    helper: &str,
    server: &str,
    helper_dir: Option<&Path>,
) -> Result<Option<ResolvedCredential>, String> {
    if helper.is_empty()
        || !helper
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        || helper.starts_with('.')
    {
        return Err(format!(
            "credential helper name {helper:?} is not a plain name: fix credsStore / credHelpers"
        ));
    }
    let program_name = format!("docker-credential-{helper}");
    let program: PathBuf = match helper_dir {
        Some(dir) => dir.join(&program_name),
        None => PathBuf::from(&program_name),
    };
    let hint = format!("run `echo {server} | {program_name} get` by hand to see why");
    let mut child = tokio::process::Command::new(&program)
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| {
            format!("cannot run credential helper {program_name}: {e}: install it or fix credsStore / credHelpers")
        })?;
    let run = async {
        if let Some(mut stdin) = child.stdin.take() {
            // A helper that exits without reading its input closes the pipe:
            // its exit status tells what happened, so a broken pipe is no error.
            let written = async {
                stdin.write_all(server.as_bytes()).await?;
                stdin.shutdown().await
            };
            match written.await {
                Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => return Err(e),
                _ => {}
            }
        }
        let mut stdout = Vec::new();
        if let Some(out) = child.stdout.take() {
            out.take(1024 * 1024).read_to_end(&mut stdout).await?;
        }
        let status = child.wait().await?;
        Ok::<_, std::io::Error>((status, stdout))
    };
    let (status, stdout) = tokio::time::timeout(HELPER_TIMEOUT, run)
        .await
        .map_err(|_| format!("credential helper {program_name} did not answer within 30s: {hint}"))?
        .map_err(|e| format!("credential helper {program_name} failed: {e}: {hint}"))?;
    if !status.success() {
        if String::from_utf8_lossy(&stdout).contains("credentials not found") {
            return Ok(None);
        }
        return Err(format!(
            "credential helper {program_name} exited with {status}: {hint}"
        ));
    }
    parse_helper_reply(&stdout).map_err(|e| format!("credential helper {program_name}: {e}"))
}

/// A docker `config.json` (`docker_config`): `auths`, `credsStore` and `credHelpers`, read
/// each time credentials are looked up (the client keeps them a few minutes).
pub struct DockerConfig;

const DOCKER_CONFIG: &str = "docker_config";

impl Method for DockerConfig {
    fn keys(&self) -> &'static [Key] {
        &[Key {
            name: DOCKER_CONFIG,
            holds: Holds::File,
        }]
    }

    fn exclusive(&self) -> bool {
        false
    }

    fn resolve<'a>(&'a self, credentials: &'a Credentials, target: Target<'a>) -> Resolving<'a> {
        let Target { host, helper_dir } = target;
        Box::pin(async move {
            let Some(path) = credentials.path(DOCKER_CONFIG) else {
                return Ok(None);
            };
            let text = tokio::fs::read_to_string(path).await.map_err(|e| {
                format!(
                    "cannot read docker config {}: {e}: check docker_config",
                    path.display()
                )
            })?;
            let config = parse_config(&text)
                .map_err(|e| format!("docker config {}: {e}", path.display()))?;
            match lookup(&config, host)
                .map_err(|e| format!("docker config {}: {e}", path.display()))?
            {
                Lookup::NotFound => Ok(None),
                Lookup::Found(c) => Ok(Some(c)),
                Lookup::Helper {
                    helper,
                    server,
                    fallback,
                } => Ok(run_helper(&helper, &server, helper_dir).await?.or(fallback)),
            }
        })
    }

    fn hint(&self, credentials: &Credentials) -> String {
        let path = credentials.path(DOCKER_CONFIG).unwrap_or(Path::new(""));
        format!("check credentials in {}", path.display())
    }
}

impl Credentials {
    /// Credentials looked up in the docker `config.json` at `path`.
    pub fn docker_config(path: impl Into<PathBuf>) -> Credentials {
        Credentials::new(AuthMethod::DockerConfig).with(DOCKER_CONFIG, Value::Path(path.into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    #[test]
    fn auths_forms() {
        let text = format!(
            r#"{{"auths": {{
                "https://index.docker.io/v1/": {{"auth": "{}"}},
                "ghcr.io": {{"username": "bob", "password": "pw"}},
                "https://quay.io/v1/": {{"auth": "{}", "identitytoken": "refresh"}},
                "r.example:5000": {{"registrytoken": "bearer-tok"}},
                "empty.example": {{}}
            }}}}"#,
            b64("alice:p:w"),
            b64("carol:x")
        );
        let c = parse_config(&text).unwrap();
        let basic = |u: &str, p: &str| {
            Lookup::Found(ResolvedCredential::Basic {
                username: u.into(),
                password: Secret::new(p),
            })
        };
        assert_eq!(
            lookup(&c, "registry-1.docker.io").unwrap(),
            basic("alice", "p:w")
        );
        assert_eq!(lookup(&c, "docker.io").unwrap(), basic("alice", "p:w"));
        assert_eq!(lookup(&c, "ghcr.io").unwrap(), basic("bob", "pw"));
        assert_eq!(
            lookup(&c, "quay.io").unwrap(),
            Lookup::Found(ResolvedCredential::IdentityToken {
                username: "carol".into(),
                token: Secret::new("refresh")
            })
        );
        assert_eq!(
            lookup(&c, "r.example:5000").unwrap(),
            Lookup::Found(ResolvedCredential::Bearer(Secret::new("bearer-tok")))
        );
        assert_eq!(lookup(&c, "r.example").unwrap(), Lookup::NotFound);
        assert_eq!(lookup(&c, "empty.example").unwrap(), Lookup::NotFound);
        assert_eq!(lookup(&c, "other.example").unwrap(), Lookup::NotFound);
    }

    #[test]
    fn bad_auth_value_is_reported_without_content() {
        let c = parse_config(r#"{"auths":{"x.io":{"auth":"!!!not-base64"}}}"#).unwrap();
        let e = lookup(&c, "x.io").unwrap_err();
        assert!(e.contains("x.io") && e.contains("docker login"));
        assert!(!e.contains("!!!"));
        let c = parse_config(&format!(
            r#"{{"auths":{{"x.io":{{"auth":"{}"}}}}}}"#,
            b64("nocolon")
        ))
        .unwrap();
        assert!(lookup(&c, "x.io").is_err());
        let e = parse_config(r#"{"auths": {"x": {"password": 12345}}}"#).unwrap_err();
        assert!(e.contains("line 1") && !e.contains("12345"));
    }

    #[test]
    fn helpers_take_precedence() {
        let text = format!(
            r#"{{"auths": {{"ghcr.io": {{"auth": "{}"}}, "https://index.docker.io/v1/": {{}}}},
                "credsStore": "desktop",
                "credHelpers": {{"ghcr.io": "gh", "123.dkr.ecr.eu-west-1.amazonaws.com": "ecr-login"}}}}"#,
            b64("u:p")
        );
        let c = parse_config(&text).unwrap();
        assert_eq!(
            lookup(&c, "ghcr.io").unwrap(),
            Lookup::Helper {
                helper: "gh".into(),
                server: "ghcr.io".into(),
                fallback: Some(ResolvedCredential::Basic {
                    username: "u".into(),
                    password: Secret::new("p")
                })
            }
        );
        assert_eq!(
            lookup(&c, "registry-1.docker.io").unwrap(),
            Lookup::Helper {
                helper: "desktop".into(),
                server: DOCKER_HUB_CONFIG_KEY.into(),
                fallback: None
            }
        );
        assert!(matches!(
            lookup(&c, "123.dkr.ecr.eu-west-1.amazonaws.com").unwrap(),
            Lookup::Helper { helper, .. } if helper == "ecr-login"
        ));
    }

    #[test]
    fn helper_replies() {
        assert_eq!(
            parse_helper_reply(br#"{"ServerURL":"ghcr.io","Username":"u","Secret":"s"}"#).unwrap(),
            Some(ResolvedCredential::Basic {
                username: "u".into(),
                password: Secret::new("s")
            })
        );
        assert_eq!(
            parse_helper_reply(br#"{"Username":"<token>","Secret":"rt"}"#).unwrap(),
            Some(ResolvedCredential::IdentityToken {
                username: String::new(),
                token: Secret::new("rt")
            })
        );
        assert_eq!(
            parse_helper_reply(br#"{"Username":"u","Secret":""}"#).unwrap(),
            None
        );
        assert!(
            parse_helper_reply(b"oops secret-ish")
                .unwrap_err()
                .contains("line 1")
        );
    }

    #[tokio::test]
    async fn helper_names_are_plain() {
        for bad in ["", "../evil", "a/b", ".hidden", "x y"] {
            let e = run_helper(bad, "ghcr.io", None).await.unwrap_err();
            assert!(e.contains("not a plain name"), "{bad}: {e}");
        }
        let e = run_helper(
            "baton-test-does-not-exist",
            "ghcr.io",
            Some(Path::new("/nonexistent")),
        )
        .await
        .unwrap_err();
        assert!(
            e.contains("cannot run credential helper docker-credential-baton-test-does-not-exist")
        );
    }

    #[test]
    fn hub_spellings() {
        for h in ["docker.io", "registry-1.docker.io", "index.docker.io"] {
            assert!(is_docker_hub(h));
        }
        assert!(!is_docker_hub("ghcr.io"));
        assert_eq!(normalize_key("https://Quay.io/v1/"), "quay.io");
        assert_eq!(normalize_key("localhost:5000"), "localhost:5000");
    }
}
