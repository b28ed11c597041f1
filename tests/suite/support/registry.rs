//! A real OCI registry for tests: Debian's `docker-registry` (distribution
//! 2.8) on a free loopback port, with or without htpasswd Basic auth,
//! populated through the registry API (blob upload, manifest PUT).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use baton::common::secret::Secret;
use baton::registry::{Credentials, RegistrySettings};
use reqwest::header::{CONTENT_TYPE, LOCATION};
use sha2::{Digest, Sha256};

/// The registry binary from Debian's `docker-registry` package.
pub const REGISTRY_BIN: &str = "/usr/bin/docker-registry";

/// OCI media types used by the pushed content.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const OCI_LAYER: &str = "application/vnd.oci.image.layer.v1.tar+gzip";

/// A running `docker-registry` process, killed on drop.
pub struct LocalRegistry {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
    auth: Option<(String, String)>,
    http: reqwest::Client,
}

/// `sha256:` + hex of `bytes`.
pub fn sha256(bytes: &[u8]) -> String {
    let hash = Sha256::digest(bytes);
    let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// True once `GET /v2/` answers 200 or 401.
fn answers(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let request = format!("GET /v2/ HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut head = [0u8; 12];
    if stream.read_exact(&mut head).is_err() {
        return false;
    }
    let head = String::from_utf8_lossy(&head);
    head.ends_with(" 200") || head.ends_with(" 401")
}

impl LocalRegistry {
    /// Starts a registry without authentication.
    pub fn start() -> Self {
        Self::launch(None, None, false)
    }

    /// Starts a registry without authentication that writes an access log line per request
    /// (read with [`LocalRegistry::requests`]), to count what a client asked.
    pub fn start_with_access_log() -> Self {
        Self::launch(None, None, true)
    }

    /// How many requests the access log holds whose request line contains `needle`, e.g.
    /// `GET /v2/team/app/tags/list`.
    pub fn requests(&self, needle: &str) -> usize {
        std::fs::read_to_string(self.dir.path().join("registry.log"))
            .unwrap_or_default()
            .lines()
            .filter(|line| line.contains(needle))
            .count()
    }

    /// Starts a registry that requires htpasswd Basic auth for `user`.
    pub fn start_with_auth(user: &str, password: &str) -> Self {
        Self::launch(Some((user.to_string(), password.to_string())), None, false)
    }

    /// Starts a registry without authentication that sends its event envelopes
    /// (`notifications: endpoints:`) to `url` with `Authorization: <authorization>`.
    /// Failed deliveries are retried every 100ms until they succeed.
    pub fn start_with_notifications(url: &str, authorization: &str) -> Self {
        Self::launch(
            None,
            Some((url.to_string(), authorization.to_string())),
            false,
        )
    }

    fn launch(
        auth: Option<(String, String)>,
        notify: Option<(String, String)>,
        access_log: bool,
    ) -> Self {
        assert!(
            std::path::Path::new(REGISTRY_BIN).exists(),
            "{REGISTRY_BIN} is missing: apt-get install docker-registry"
        );
        let dir = tempfile::tempdir().unwrap();
        let auth_block = match &auth {
            Some((user, password)) => {
                let htpasswd = dir.path().join("htpasswd");
                // -i reads the password from stdin, keeping it out of argv; the
                // registry accepts bcrypt (-B) entries only.
                let mut child = Command::new("htpasswd")
                    .args(["-iBn", user])
                    .stdin(Stdio::piped())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .expect("htpasswd is missing: apt-get install apache2-utils");
                child
                    .stdin
                    .take()
                    .unwrap()
                    .write_all(password.as_bytes())
                    .unwrap();
                let out = child.wait_with_output().unwrap();
                assert!(out.status.success(), "htpasswd failed: {out:?}");
                std::fs::write(&htpasswd, &out.stdout).unwrap();
                format!(
                    "auth:\n  htpasswd:\n    realm: baton-test\n    path: {}\n",
                    htpasswd.display()
                )
            }
            None => String::new(),
        };
        let notify_block = match &notify {
            Some((url, authorization)) => format!(
                "notifications:\n  endpoints:\n    - name: baton\n      url: {}\n      headers:\n        Authorization: [{}]\n      timeout: 5s\n      threshold: 1\n      backoff: 100ms\n",
                serde_json::Value::from(url.as_str()),
                serde_json::Value::from(authorization.as_str()),
            ),
            None => String::new(),
        };
        for _ in 0..5 {
            let port = free_port();
            let config = dir.path().join("config.yml");
            std::fs::write(
                &config,
                format!(
                    "version: 0.1\n\
                     log:\n  level: error\n  accesslog:\n    disabled: {}\n\
                     storage:\n  filesystem:\n    rootdirectory: {}\n  cache:\n    blobdescriptor: inmemory\n\
                     http:\n  addr: 127.0.0.1:{port}\n  secret: baton-test-secret\n\
                     {auth_block}{notify_block}",
                    !access_log,
                    dir.path().join("data").display()
                ),
            )
            .unwrap();
            let log = std::fs::File::create(dir.path().join("registry.log")).unwrap();
            let mut child = Command::new(REGISTRY_BIN)
                .arg("serve")
                .arg(&config)
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .unwrap();
            let deadline = Instant::now() + Duration::from_secs(20);
            let mut exited = false;
            while Instant::now() < deadline {
                if child.try_wait().unwrap().is_some() {
                    exited = true;
                    break;
                }
                if answers(port) {
                    baton::common::http::install_crypto_provider();
                    let http = reqwest::Client::builder()
                        .timeout(Duration::from_secs(60))
                        .build()
                        .unwrap();
                    return LocalRegistry {
                        child,
                        port,
                        dir,
                        auth,
                        http,
                    };
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
            if !exited {
                panic!("docker-registry did not answer on port {port} within 20s");
            }
            // Most likely the port was taken in between: try another.
        }
        let log = std::fs::read_to_string(dir.path().join("registry.log")).unwrap_or_default();
        panic!("docker-registry would not start:\n{log}");
    }

    /// The registry's data and config directory.
    pub fn dir(&self) -> std::path::PathBuf {
        self.dir.path().to_path_buf()
    }

    /// `127.0.0.1:<port>`.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Client settings for this registry: plain HTTP, and its credentials
    /// when it was started with auth.
    pub fn settings(&self) -> RegistrySettings {
        RegistrySettings {
            insecure: true,
            credentials: match &self.auth {
                Some((user, password)) => {
                    Credentials::password(user.clone(), Secret::new(password.clone()))
                }
                None => Credentials::anonymous(),
            },
            ..Default::default()
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn request(&self, method: reqwest::Method, url: &str) -> reqwest::RequestBuilder {
        let request = self.http.request(method, url);
        match &self.auth {
            Some((user, password)) => request.basic_auth(user, Some(password)),
            None => request,
        }
    }

    /// Uploads a blob (POST then PUT with the digest) and returns its digest.
    pub async fn upload_blob(&self, repo: &str, bytes: &[u8]) -> String {
        let digest = sha256(bytes);
        let resp = self
            .request(
                reqwest::Method::POST,
                &self.url(&format!("/v2/{repo}/blobs/uploads/")),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 202, "blob upload start for {repo}");
        let location = resp.headers()[LOCATION].to_str().unwrap().to_string();
        let mut url = reqwest::Url::parse(&self.url("/"))
            .unwrap()
            .join(&location)
            .unwrap();
        url.query_pairs_mut().append_pair("digest", &digest);
        let resp = self
            .request(reqwest::Method::PUT, url.as_str())
            .header(CONTENT_TYPE, "application/octet-stream")
            .body(bytes.to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 201, "blob upload finish for {repo}");
        digest
    }

    /// PUTs a manifest under `reference` (tag or digest) and returns its
    /// digest, checked against the registry's `Docker-Content-Digest`.
    pub async fn put_manifest(
        &self,
        repo: &str,
        reference: &str,
        media_type: &str,
        body: &[u8],
    ) -> String {
        let digest = sha256(body);
        let resp = self
            .request(
                reqwest::Method::PUT,
                &self.url(&format!("/v2/{repo}/manifests/{reference}")),
            )
            .header(CONTENT_TYPE, media_type)
            .body(body.to_vec())
            .send()
            .await
            .unwrap();
        let status = resp.status();
        let header = resp
            .headers()
            .get("docker-content-digest")
            .map(|v| v.to_str().unwrap().to_string());
        assert_eq!(
            status,
            201,
            "manifest put {repo}:{reference}: {}",
            resp.text().await.unwrap_or_default()
        );
        assert_eq!(header.as_deref(), Some(digest.as_str()));
        digest
    }

    /// Uploads a config and a layer unique to `label` and returns the image
    /// manifest bytes that reference them.
    async fn image_manifest(&self, repo: &str, label: &str, arch: &str) -> Vec<u8> {
        self.image_manifest_created(repo, label, arch, None).await
    }

    /// As `image_manifest`, the config stating `created` when given (any JSON value).
    async fn image_manifest_created(
        &self,
        repo: &str,
        label: &str,
        arch: &str,
        created: Option<serde_json::Value>,
    ) -> Vec<u8> {
        let layer = format!("layer for {label} {arch}").into_bytes();
        let layer_digest = self.upload_blob(repo, &layer).await;
        let mut config = serde_json::json!({
            "architecture": arch,
            "os": "linux",
            "config": {"Labels": {"baton.test": label}},
            "rootfs": {"type": "layers", "diff_ids": [layer_digest]},
        });
        if let Some(created) = created {
            config["created"] = created;
        }
        let config = config.to_string().into_bytes();
        let config_digest = self.upload_blob(repo, &config).await;
        serde_json::json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, "digest": config_digest, "size": config.len()},
            "layers": [{"mediaType": OCI_LAYER, "digest": layer_digest, "size": layer.len()}],
        })
        .to_string()
        .into_bytes()
    }

    /// Pushes a single-platform image as `repo:tag`; returns its manifest digest.
    pub async fn push_image(&self, repo: &str, tag: &str) -> String {
        let manifest = self
            .image_manifest(repo, &format!("{repo}:{tag}"), "amd64")
            .await;
        self.put_manifest(repo, tag, OCI_MANIFEST, &manifest).await
    }

    /// Pushes a single-platform image as `repo:tag` whose config states `created`
    /// (RFC 3339 text, or any JSON value to attack with); returns its manifest digest.
    pub async fn push_image_created(
        &self,
        repo: &str,
        tag: &str,
        created: serde_json::Value,
    ) -> String {
        let manifest = self
            .image_manifest_created(repo, &format!("{repo}:{tag}"), "amd64", Some(created))
            .await;
        self.put_manifest(repo, tag, OCI_MANIFEST, &manifest).await
    }

    /// Pushes a multi-arch OCI index (amd64 + arm64) as `repo:tag`; returns
    /// the index digest.
    pub async fn push_index(&self, repo: &str, tag: &str) -> String {
        self.push_index_created(repo, tag, None).await.0
    }

    /// Pushes a multi-arch OCI index (amd64 + arm64) as `repo:tag`, each platform's config
    /// stating `created` when given; returns the index digest and the platform manifests'
    /// digests (amd64, arm64).
    pub async fn push_index_created(
        &self,
        repo: &str,
        tag: &str,
        created: Option<&str>,
    ) -> (String, Vec<String>) {
        let mut entries = Vec::new();
        let mut platforms = Vec::new();
        for arch in ["amd64", "arm64"] {
            let manifest = self
                .image_manifest_created(
                    repo,
                    &format!("{repo}:{tag}"),
                    arch,
                    created.map(serde_json::Value::from),
                )
                .await;
            let digest = sha256(&manifest);
            self.put_manifest(repo, &digest, OCI_MANIFEST, &manifest)
                .await;
            platforms.push(digest.clone());
            entries.push(serde_json::json!({
                "mediaType": OCI_MANIFEST,
                "digest": digest,
                "size": manifest.len(),
                "platform": {"architecture": arch, "os": "linux"},
            }));
        }
        let index = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": entries,
        })
        .to_string()
        .into_bytes();
        (
            self.put_manifest(repo, tag, OCI_INDEX, &index).await,
            platforms,
        )
    }

    /// Tags the manifest `digest` already holds as `tag` too (how `stable` is moved).
    pub async fn retag(&self, repo: &str, digest: &str, tag: &str) -> String {
        let resp = self
            .request(
                reqwest::Method::GET,
                &self.url(&format!("/v2/{repo}/manifests/{digest}")),
            )
            .header(
                reqwest::header::ACCEPT,
                format!("{OCI_MANIFEST}, {OCI_INDEX}"),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "manifest get {repo}@{digest}");
        let media_type = resp.headers()[CONTENT_TYPE].to_str().unwrap().to_string();
        let body = resp.bytes().await.unwrap();
        self.put_manifest(repo, tag, &media_type, &body).await
    }

    /// Tags one image under every name in `tags` (one manifest PUT per tag,
    /// several in flight); returns the shared digest. Fast enough for
    /// thousands of tags.
    pub async fn push_tags(&self, repo: &str, tags: &[String]) -> String {
        let manifest = Arc::new(self.image_manifest(repo, repo, "amd64").await);
        let digest = sha256(&manifest);
        let limit = Arc::new(tokio::sync::Semaphore::new(8));
        let mut tasks = tokio::task::JoinSet::new();
        for tag in tags {
            let permit = limit.clone().acquire_owned().await.unwrap();
            let request = self
                .request(
                    reqwest::Method::PUT,
                    &self.url(&format!("/v2/{repo}/manifests/{tag}")),
                )
                .header(CONTENT_TYPE, OCI_MANIFEST)
                .body(manifest.to_vec());
            let tag = tag.clone();
            tasks.spawn(async move {
                let resp = request.send().await.unwrap();
                drop(permit);
                assert_eq!(resp.status(), 201, "manifest put for tag {tag}");
            });
        }
        while let Some(result) = tasks.join_next().await {
            result.unwrap();
        }
        digest
    }
}

impl Drop for LocalRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
