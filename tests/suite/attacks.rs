//! The attack suite: what a hostile registry, token server, forge user, webhook sender or
//! remote would try, run for real on loopback. Each test is named for the attack it makes
//! and fails if the attack works. SECURITY.md lists the boundaries these tests hold.

mod forge_users {
    //! Another forge user (a fork, or a collaborator) opens pull requests on Baton's review
    //! branch names, with Baton's hidden marker in the body. Baton must neither edit them nor
    //! let them decide anything.

    use baton::pass::ReviewAction;
    use baton::promotion::ReviewKey;
    use baton::promotion::review::review_marker;

    use crate::support::fake_forge::{FakeKind, TOKEN_USER};
    use crate::support::promotion::{PromotionWorld, env, hours_from_now};

    const REVIEW_SOAK: &str = "mode = \"review\"\npromote_from = \"staging\"\nsoak = \"24h\"\n";
    const BRANCH: &str = "baton/production/app";
    const KINDS: [FakeKind; 3] = [FakeKind::GitHub, FakeKind::GitLab, FakeKind::Gitea];

    fn forged_body(version: &str) -> String {
        format!(
            "Merging this pull request moves production.\n\n{}\n",
            review_marker(&ReviewKey {
                environment: "production".into(),
                image: "app".into(),
                version: version.into(),
            })
        )
    }

    /// A world where 1.1.0 has soaked in staging and production is about to be proposed.
    async fn soaked(kind: FakeKind) -> PromotionWorld {
        let mut w = PromotionWorld::new(REVIEW_SOAK, Some(kind)).await;
        w.push_tag("1.1.0").await;
        w.pass_at(hours_from_now(0)).await;
        w
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn fork_pull_request_is_not_taken_for_batons_own() {
        for kind in KINDS {
            let mut w = soaked(kind).await;
            let forge = w.forge.take().unwrap();
            // A fork with a branch of the same name, open, carrying Baton's marker.
            let fork = forge.add_foreign(
                "mallory",
                "mallory/fleet",
                BRANCH,
                &forged_body("1.0.0"),
                true,
            );

            let report = w.pass_at(hours_from_now(25)).await;
            let action = &env(&report, "production").reviews[0].action;
            let pulls = forge.pulls();
            let pr = pulls.iter().find(|p| p.number == fork).unwrap();
            assert_eq!(pr.updates, 0, "{kind:?}: baton edited the fork's {pr:#?}");
            assert_eq!(pr.body, forged_body("1.0.0"), "{kind:?}");
            let own = pulls
                .iter()
                .find(|p| p.author == TOKEN_USER)
                .unwrap_or_else(|| panic!("{kind:?}: baton opened none: {action:?} {pulls:#?}"));
            assert!(
                matches!(action, ReviewAction::Opened { number, .. } if *number == own.number),
                "{kind:?}: {action:?}"
            );
            assert_eq!(own.head_repository, "platform/fleet");
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn another_users_pull_request_on_batons_branch_is_not_edited() {
        for kind in KINDS {
            let mut w = soaked(kind).await;
            let forge = w.forge.take().unwrap();
            // A collaborator opens a pull request from Baton's branch in the repository itself.
            let theirs = forge.add_foreign(
                "mallory",
                "platform/fleet",
                BRANCH,
                &forged_body("1.0.0"),
                true,
            );

            let report = w.pass_at(hours_from_now(25)).await;
            let action = &env(&report, "production").reviews[0].action;
            let pr = forge
                .pulls()
                .into_iter()
                .find(|p| p.number == theirs)
                .unwrap();
            assert_eq!(pr.updates, 0, "{kind:?}: baton edited {pr:#?}");
            assert_eq!(pr.body, forged_body("1.0.0"), "{kind:?}");
            // The forge allows one open pull request per head branch: Baton says so and
            // waits instead of taking the other one over.
            assert!(
                matches!(action, ReviewAction::Failed(why) if why.contains("already exists")),
                "{kind:?}: {action:?}"
            );
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn closed_foreign_pull_request_with_batons_marker_does_not_decline_a_version() {
        for kind in KINDS {
            let mut w = soaked(kind).await;
            let forge = w.forge.take().unwrap();
            forge.add_foreign(
                "mallory",
                "mallory/fleet",
                BRANCH,
                &forged_body("1.1.0"),
                false,
            );
            forge.add_foreign(
                "mallory",
                "platform/fleet",
                BRANCH,
                &forged_body("1.1.0"),
                false,
            );

            let report = w.pass_at(hours_from_now(25)).await;
            let production = env(&report, "production");
            assert!(
                matches!(production.reviews[0].action, ReviewAction::Opened { .. }),
                "{kind:?}: a stranger's closed pull request declined 1.1.0: {production:#?}"
            );
        }
    }
}

mod registries {
    //! A hostile registry and token server: a realm on another host over plain HTTP, a realm
    //! that redirects the credentials elsewhere, and a token lifetime made to overflow the
    //! clock.

    use std::net::SocketAddr;
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use axum::Router;
    use axum::body::Bytes;
    use axum::http::{HeaderMap, StatusCode, Uri};
    use axum::response::{IntoResponse, Response};
    use baton::common::secret::Secret;
    use baton::registry::{Credentials, RegistryClient, RegistrySettings};

    /// A loopback server answering every request with `answer`, logging each as
    /// `METHOD path?query | authorization | body`.
    pub struct Server {
        pub addr: SocketAddr,
        pub log: Arc<Mutex<Vec<String>>>,
        task: tokio::task::JoinHandle<()>,
    }

    impl Drop for Server {
        fn drop(&mut self) {
            self.task.abort();
        }
    }

    impl Server {
        pub async fn start(
            ip: &str,
            answer: impl Fn(&Uri, &HeaderMap) -> Response + Clone + Send + Sync + 'static,
        ) -> Server {
            let listener = tokio::net::TcpListener::bind((ip, 0)).await.unwrap();
            let addr = listener.local_addr().unwrap();
            let log = Arc::new(Mutex::new(Vec::new()));
            let app = {
                let log = log.clone();
                Router::new().fallback(
                    move |method: axum::http::Method, uri: Uri, headers: HeaderMap, body: Bytes| {
                        let log = log.clone();
                        let answer = answer.clone();
                        async move {
                            let auth = headers
                                .get("authorization")
                                .and_then(|v| v.to_str().ok())
                                .unwrap_or("-")
                                .to_string();
                            log.lock().unwrap().push(format!(
                                "{method} {uri} | {auth} | {}",
                                String::from_utf8_lossy(&body)
                            ));
                            answer(&uri, &headers)
                        }
                    },
                )
            };
            let task = tokio::spawn(async move {
                let _ = axum::serve(listener, app).await;
            });
            Server { addr, log, task }
        }

        pub fn log(&self) -> Vec<String> {
            self.log.lock().unwrap().clone()
        }
    }

    /// A registry that lists `1.0.0` for a request carrying `Bearer good` and otherwise
    /// challenges with a Bearer `realm`.
    pub async fn registry(realm: String) -> Server {
        Server::start("127.0.0.1", move |_uri, headers| {
            if headers.get("authorization").and_then(|v| v.to_str().ok()) == Some("Bearer good") {
                return (
                    [("content-type", "application/json")],
                    r#"{"name":"app","tags":["1.0.0"]}"#,
                )
                    .into_response();
            }
            (
                StatusCode::UNAUTHORIZED,
                [(
                    "www-authenticate",
                    format!(r#"Bearer realm="{realm}",service="hostile""#),
                )],
                r#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}"#,
            )
                .into_response()
        })
        .await
    }

    /// A token server that hands out `good` with `expires_in`.
    pub async fn token_server(expires_in: &'static str) -> Server {
        Server::start("127.0.0.1", move |_, _| {
            (
                [("content-type", "application/json")],
                format!(r#"{{"token":"good","expires_in":{expires_in}}}"#),
            )
                .into_response()
        })
        .await
    }

    /// A server on another loopback address (another host as far as Baton can tell) that
    /// keeps whatever it is sent.
    pub async fn thief() -> Server {
        Server::start("127.0.0.2", |_, _| {
            (StatusCode::OK, r#"{"token":"stolen"}"#).into_response()
        })
        .await
    }

    pub fn settings(credentials: Credentials) -> RegistrySettings {
        RegistrySettings {
            insecure: true,
            credentials,
            retry_base_delay: Duration::from_millis(10),
            timeout: Duration::from_secs(10),
            ..Default::default()
        }
    }

    fn password() -> Credentials {
        Credentials::password("carol", Secret::new("carols-registry-password"))
    }

    #[tokio::test]
    async fn plain_http_realm_on_another_host_does_not_receive_registry_credentials() {
        baton::common::http::install_crypto_provider();
        let thief = thief().await;
        let registry = registry(format!("http://{}/token", thief.addr)).await;
        let client = RegistryClient::new(&registry.addr.to_string(), settings(password())).unwrap();
        let err = client.list_tags("app").await.unwrap_err();
        let text = err.to_string();
        let leaked: Vec<String> = thief
            .log()
            .into_iter()
            .filter(|l| !l.contains("| - |"))
            .collect();
        assert!(
            leaked.is_empty(),
            "credentials sent to another host: {leaked:?}"
        );
        assert!(text.contains("another host"), "{text}");
        assert!(!text.contains("carols-registry-password"), "{text}");
    }

    #[tokio::test]
    async fn token_realm_redirect_to_another_host_does_not_receive_the_refresh_token() {
        baton::common::http::install_crypto_provider();
        let thief = thief().await;
        let steal = format!("http://{}/steal", thief.addr);
        // The realm is on the registry's own host, and answers 307 (which keeps a POST's body).
        let realm = Server::start("127.0.0.1", move |_, _| {
            (
                StatusCode::TEMPORARY_REDIRECT,
                [("location", steal.clone())],
            )
                .into_response()
        })
        .await;
        let registry = registry(format!("http://{}/token", realm.addr)).await;
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("config.json");
        std::fs::write(
            &config,
            format!(
                r#"{{"auths": {{"{}": {{"auth": "ZGF2ZTo=", "identitytoken": "refresh-token-secret"}}}}}}"#,
                registry.addr
            ),
        )
        .unwrap();
        let client = RegistryClient::new(
            &registry.addr.to_string(),
            settings(Credentials::docker_config(config)),
        )
        .unwrap();
        let err = client.list_tags("app").await.unwrap_err();
        assert!(
            realm
                .log()
                .iter()
                .any(|l| l.contains("refresh-token-secret")),
            "the realm itself was asked: {:?}",
            realm.log()
        );
        assert!(
            thief.log().is_empty(),
            "the redirect was followed: {:?}",
            thief.log()
        );
        assert!(err.to_string().contains("redirected"), "{err}");
    }

    #[tokio::test]
    async fn token_server_expires_in_overflow_does_not_kill_scans() {
        baton::common::http::install_crypto_provider();
        let tokens = token_server("9223372036854775807").await;
        let registry = registry(format!("http://{}/token", tokens.addr)).await;
        let client = RegistryClient::new(
            &registry.addr.to_string(),
            settings(Credentials::anonymous()),
        )
        .unwrap();
        // A scan task would have panicked here (Instant + Duration overflow); twice, to use
        // the cached token too.
        for _ in 0..2 {
            let tags = client.list_tags("app").await.unwrap();
            assert_eq!(tags.tags, ["1.0.0"]);
        }
        assert_eq!(tokens.log().len(), 1, "the token is cached, not refetched");
    }
}

mod fleet_repository {
    //! Someone who can push to the fleet repository turns one environment's directory into a
    //! symbolic link to another's, or a configuration makes two environments share files.

    use baton::pass::Outcome;

    use crate::support::git_server::git;
    use crate::support::promotion::{PRODUCTION, PromotionWorld, env, hours_from_now};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn environment_path_symlinked_to_another_environment_is_refused() {
        // production is reviewed; canary pushes straight to main. canary's directory is made a
        // link to production's, so a canary move would land in production's files on main.
        let mut w = PromotionWorld::new(
            "mode = \"review\"\n\n[environments.canary]\npaths = [\"clusters/canary\"]\n",
            None,
        )
        .await;
        std::os::unix::fs::symlink("production", w.writer.work.join("clusters/canary")).unwrap();
        git(&w.writer.work, &["add", "clusters/canary"]);
        git(
            &w.writer.work,
            &["commit", "--quiet", "-m", "Link canary to production"],
        );
        git(&w.writer.work, &["push", "--quiet", "origin", "main"]);
        w.push_tag("1.1.0").await;

        let report = w.pass_at(hours_from_now(0)).await;
        let canary = env(&report, "canary");
        let Outcome::Failed(why) = &canary.outcome else {
            panic!("canary was not refused: {canary:#?}");
        };
        assert!(why.contains("environments.canary.paths"), "{why}");
        assert!(why.contains("symbolic link"), "{why}");
        assert!(
            w.file("main", PRODUCTION).contains("app:1.0.0"),
            "production moved on main without review:\n{}",
            w.file("main", PRODUCTION)
        );
    }

    #[tokio::test]
    async fn environments_with_overlapping_paths_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("baton.toml");
        std::fs::write(
            &path,
            "[git]\nurl = \"/nonexistent/fleet.git\"\n\n[environments.all]\npaths = [\"clusters\"]\nmode = \"push\"\n\n[environments.production]\npaths = [\"clusters/production\"]\nmode = \"review\"\n",
        )
        .unwrap();
        let err = baton::config::Config::load(&path).unwrap_err().to_string();
        assert!(err.contains("overlaps"), "{err}");
        assert!(err.contains("baton.toml:"), "no file:line in {err}");
        assert!(err.contains("environments.production.paths"), "{err}");
    }
}

mod git_remotes {
    //! A git remote over http that redirects Baton elsewhere, and a token configured for a
    //! plain-http remote on the network.

    use axum::http::StatusCode;
    use axum::response::IntoResponse;
    use baton::git::{TokenSource, Workspace};

    use super::registries::Server;
    use crate::support::git_server::baton_side::settings;

    const TOKEN: &str = "git-token-2718281828";

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn git_http_redirect_to_another_host_does_not_receive_the_token() {
        let thief = Server::start("127.0.0.2", |_, headers| {
            if headers.contains_key("authorization") {
                return (StatusCode::NOT_FOUND, "").into_response();
            }
            (
                StatusCode::UNAUTHORIZED,
                [("www-authenticate", "Basic realm=\"fleet\"")],
                "",
            )
                .into_response()
        })
        .await;
        let to = format!("http://{}", thief.addr);
        let remote = Server::start("127.0.0.1", move |uri, _| {
            let location = format!(
                "{to}{}",
                uri.path_and_query().map(|p| p.as_str()).unwrap_or("/")
            );
            (StatusCode::FOUND, [("location", location)]).into_response()
        })
        .await;
        let dir = tempfile::tempdir().unwrap();
        let token_file = dir.path().join("token");
        std::fs::write(&token_file, format!("{TOKEN}\n")).unwrap();
        let mut s = settings(&format!("http://{}/fleet.git", remote.addr));
        s.token = Some(TokenSource::File(token_file));
        let err = Workspace::open_or_clone(&dir.path().join("state"), &s)
            .await
            .unwrap_err();
        let leaked: Vec<String> = thief
            .log()
            .into_iter()
            .filter(|l| l.contains("Basic"))
            .collect();
        assert!(
            leaked.is_empty(),
            "the token followed the redirect: {leaked:?}"
        );
        assert!(!err.to_string().contains(TOKEN), "{err}");
    }

    #[tokio::test]
    async fn token_for_a_plain_http_remote_off_loopback_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("baton.toml");
        std::fs::write(dir.path().join("token"), "t\n").unwrap();
        std::fs::write(
            &path,
            "[git]\nurl = \"http://git.example.com/fleet.git\"\ntoken_file = \"token\"\n",
        )
        .unwrap();
        let err = baton::config::Config::load(&path).unwrap_err().to_string();
        assert!(err.contains("plain http"), "{err}");
        assert!(err.contains("git.url"), "{err}");
        // The library refuses it too, for callers that build settings themselves.
        let mut s = settings("http://git.example.com/fleet.git");
        s.token = Some(TokenSource::File(dir.path().join("token")));
        let err = Workspace::open_or_clone(&dir.path().join("state"), &s)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("plain http"), "{err}");
    }
}

mod tag_pages {
    //! A registry answers `tags/list` with a page built to cost memory: millions of entries
    //! that are not tags.

    use std::process::{Command, Stdio};

    use axum::response::IntoResponse;

    use super::registries::Server;

    /// Peak resident memory of a finished child, in KiB, reaped with wait4(2).
    fn wait_peak_rss_kib(child: std::process::Child) -> (i32, i64) {
        let mut status = 0;
        // SAFETY: an all-zero rusage is a valid value for wait4 to fill.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: wait4 on our own child, with valid pointers to locals.
        let pid = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
        assert_eq!(pid, child.id() as i32, "wait4 failed");
        (status, usage.ru_maxrss)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn tag_page_of_non_strings_does_not_cost_memory_beyond_its_size() {
        // Just under the 16 MiB reply limit: about 5.6 million empty lists.
        let mut body = String::from(r#"{"name":"app","tags":["#);
        while body.len() < 16 * 1024 * 1024 - 16 {
            body.push_str("[],");
        }
        body.push_str("[]]}");
        let body = axum::body::Bytes::from(body);
        let registry = Server::start("127.0.0.1", move |_, _| {
            ([("content-type", "application/json")], body.clone()).into_response()
        })
        .await;
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("baton.toml");
        std::fs::write(
            &config,
            format!(
                "[git]\nurl = \"/nonexistent/fleet.git\"\n\n[registries.\"{}\"]\ninsecure = true\n",
                registry.addr
            ),
        )
        .unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_baton"))
            .args(["tags", &format!("{}/app", registry.addr), "--config"])
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let (status, peak_kib) = tokio::task::spawn_blocking(move || wait_peak_rss_kib(child))
            .await
            .unwrap();
        eprintln!("baton tags: peak resident memory {} KiB", peak_kib);
        assert_ne!(
            status, 0,
            "a page with more entries than max_tags is refused"
        );
        // The reply itself is 16 MiB; a JSON tree of it took about 290 MB.
        assert!(
            peak_kib < 96 * 1024,
            "baton tags peaked at {} MiB reading a 16 MiB page",
            peak_kib / 1024
        );
    }
}

mod slow_clients {
    //! Clients that open connections to `daemon.listen` and never finish a request
    //! (slowloris), to run the daemon out of file descriptors.

    use std::io::{Read, Write};
    use std::net::TcpStream;
    use std::time::Duration;

    use crate::support::daemon::{DaemonFleet, PATIENCE, wait_until};

    fn open_descriptors(pid: i32) -> usize {
        std::fs::read_dir(format!("/proc/{pid}/fd"))
            .unwrap()
            .count()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn half_open_connections_do_not_exhaust_the_listener() {
        let fleet = DaemonFleet::start().await;
        fleet.write_config(&fleet.config_text(""));
        let mut daemon = fleet.run(&[]);
        daemon.wait_ready();
        let before = open_descriptors(daemon.pid());

        let mut slow = Vec::new();
        for _ in 0..300 {
            let mut stream = TcpStream::connect(("127.0.0.1", daemon.port)).unwrap();
            stream
                .write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
                .unwrap();
            slow.push(stream);
        }
        std::thread::sleep(Duration::from_millis(500));
        let during = open_descriptors(daemon.pid());
        assert!(
            during < before + 128 + 32,
            "the daemon holds {during} descriptors for 300 idle clients ({before} before)"
        );

        // The daemon hangs up on clients that do not finish their headers, and serves again.
        let (code, body) = wait_until(PATIENCE * 2, "/healthz to answer", || {
            daemon.get("/healthz")
        });
        assert_eq!((code, body.as_str()), (200, "ok\n"));
        for stream in &mut slow[..20] {
            stream.set_read_timeout(Some(PATIENCE)).unwrap();
            let mut buf = [0u8; 256];
            // EOF, a reset, or a 408: anything but silence.
            if let Err(err) = stream.read(&mut buf) {
                assert!(
                    !matches!(
                        err.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ),
                    "a half-open connection was kept open: {err}"
                );
            }
        }
        assert!(daemon.exited().is_none(), "{}", daemon.log());
    }
}

mod webhook_senders {
    //! A webhook sender (or whoever recorded one of its deliveries) replays it, floods the
    //! hook, or sends a wrong token with a body that never comes.

    use std::io::{Read, Write};
    use std::net::TcpStream;
    use std::time::Duration;

    use crate::support::daemon::{Daemon, DaemonFleet};

    const TOKEN: &str = "hook-token-16180339";

    async fn daemon_with_hook(fleet: &DaemonFleet) -> Daemon {
        let dir = fleet.dir.path();
        std::fs::write(dir.join("hook-secret"), format!("{TOKEN}\n")).unwrap();
        let extra = format!(
            "\n[webhooks.ci]\nkind = \"generic\"\nsecret_file = \"{}\"\n",
            dir.join("hook-secret").display()
        );
        // Only webhooks make the image scan during the test.
        let config = fleet
            .config_text(&extra)
            .replace("interval = \"10s\"", "interval = \"30m\"");
        fleet.write_config(&config);
        let mut daemon = fleet.run(&[]);
        daemon.wait_ready();
        daemon.wait_event("reconciled: nothing to move", |_| true);
        daemon
    }

    fn scans(daemon: &Daemon) -> f64 {
        daemon.metrics()[r#"baton_scans_total{image="app"}"#]
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn replayed_and_flooded_webhooks_do_not_each_cause_a_registry_listing() {
        let fleet = DaemonFleet::start().await;
        let daemon = daemon_with_hook(&fleet).await;
        let before = scans(&daemon);
        let hook = format!("http://127.0.0.1:{}/hooks/ci", daemon.port);
        let body = format!(
            "{{\"repository\": \"{}/team/app\", \"tag\": \"1.0.0\"}}",
            fleet.registry.host()
        );
        let client = reqwest::Client::new();
        let send = |id: String| {
            client
                .post(&hook)
                .bearer_auth(TOKEN)
                .header("x-request-id", id)
                .body(body.clone())
                .send()
        };
        // The same delivery 40 times, then 40 different ones.
        let started = std::time::Instant::now();
        let mut statuses = Vec::new();
        for _ in 0..40 {
            statuses.push(send("delivery-1".into()).await.unwrap().status().as_u16());
        }
        assert_eq!(
            statuses.iter().filter(|s| **s == 202).count(),
            1,
            "{statuses:?}"
        );
        for i in 0..40 {
            send(format!("flood-{i}")).await.unwrap();
        }
        let sending = started.elapsed();
        tokio::time::sleep(Duration::from_secs(5)).await;
        let metrics = daemon.metrics_text();
        assert!(
            metrics.contains(r#"baton_webhook_requests_total{hook="ci",outcome="replayed"} 39"#),
            "{metrics}"
        );
        // One scan at once, then at most one per gap while requests kept coming, and one
        // for the requests merged at the end.
        let gap = baton::daemon::scheduler::MIN_TRIGGER_GAP;
        let allowed = 2.0 + (sending.as_secs_f64() / gap.as_secs_f64()).ceil();
        let listings = scans(&daemon) - before;
        assert!(
            listings >= 1.0 && listings <= allowed,
            "80 webhook requests in {sending:?} caused {listings} registry listings (at most {allowed})"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn webhook_with_a_wrong_token_is_refused_before_its_body_is_read() {
        let fleet = DaemonFleet::start().await;
        let daemon = daemon_with_hook(&fleet).await;
        let mut stream = TcpStream::connect(("127.0.0.1", daemon.port)).unwrap();
        // Headers promise a body that never comes.
        stream
            .write_all(
                b"POST /hooks/ci HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer wrong\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n",
            )
            .unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut reply = [0u8; 64];
        let n = stream
            .read(&mut reply)
            .expect("the daemon waited for the body of an unauthorized request");
        let head = String::from_utf8_lossy(&reply[..n]);
        assert!(head.starts_with("HTTP/1.1 401"), "{head}");
    }
}

mod notification_text {
    //! A git hook (or a registry) writes Markdown into its error text, hoping it reaches a
    //! chat channel as a link people trust because Baton posted it.

    use std::sync::{Arc, Mutex};

    use axum::Router;
    use axum::routing::post;

    use crate::support::daemon::{DaemonFleet, PATIENCE, wait_until};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn markdown_in_a_git_hook_message_reaches_teams_as_text() {
        let bodies: Arc<Mutex<Vec<serde_json::Value>>> = Arc::default();
        let seen = bodies.clone();
        let app = Router::new().fallback(post(move |body: String| {
            let seen = seen.clone();
            async move {
                if let Ok(value) = serde_json::from_str(&body) {
                    seen.lock().unwrap().push(value);
                }
                "ok"
            }
        }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/workflows/teams", listener.local_addr().unwrap());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });

        let fleet = DaemonFleet::start().await;
        fleet.remote.set_pre_receive(
            "echo 'push refused: [re-authorise Baton here](https://evil.example/login) **now**' >&2\nexit 1",
        );
        let dir = fleet.dir.path();
        std::fs::write(dir.join("teams-url"), format!("{url}\n")).unwrap();
        let extra = format!(
            "\n[notifications.team]\nkind = \"teams\"\nurl_file = \"{}\"\nevents = [\"push_failed\"]\n",
            dir.join("teams-url").display()
        );
        fleet.write_config(&fleet.config_text(&extra));
        fleet.push_tag("1.1.0").await;
        let mut daemon = fleet.run(&[]);
        daemon.wait_ready();

        let card = wait_until(PATIENCE, "a Teams card", || {
            bodies.lock().unwrap().first().cloned()
        });
        let text = card["attachments"][0]["content"]["body"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|b| b["text"].as_str())
            .collect::<Vec<_>>()
            .join("\n");
        assert!(text.contains("re-authorise Baton here"), "{text}");
        assert!(
            !text.contains("[re-authorise Baton here](https://evil.example/login)"),
            "the hook's Markdown link reached Teams as a link: {text}"
        );
        assert!(
            text.contains(r"\[re-authorise Baton here\](https://evil.example/login)"),
            "{text}"
        );
        assert!(!text.contains("**now**"), "{text}");
        assert!(daemon.exited().is_none());
    }
}

mod local_files_and_replies {
    //! Another local user reads the clone (and the fleet's content) from a state directory
    //! made world-readable; a forge answers with an endless reply.

    use std::os::unix::fs::PermissionsExt;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::Duration;

    use axum::body::{Body, Bytes};
    use axum::response::Response;
    use baton::forge::{Forge, ForgeConfig, ForgeError, ForgeKind};
    use baton::git::Workspace;

    use crate::support::git_server::BareRepo;
    use crate::support::git_server::baton_side::settings;

    fn mode(path: &std::path::Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn state_directory_and_clone_are_private_outside_systemd() {
        let repo = BareRepo::seeded();
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let state = dir.path().join("state");
        let ws = Workspace::open_or_clone(&state, &settings(&repo.path_url()))
            .await
            .unwrap();
        assert_eq!(mode(&state), 0o700, "state directory");
        assert_eq!(mode(ws.git_dir()), 0o700, "clone");
        assert_eq!(mode(&state.join("git")), 0o700, "git directory");
    }

    /// Endless bytes of JSON whitespace after `[`, counting what was handed to the socket.
    struct Endless(Arc<AtomicU64>);

    impl futures_core::Stream for Endless {
        type Item = Result<Bytes, std::io::Error>;
        fn poll_next(
            self: std::pin::Pin<&mut Self>,
            _cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<Self::Item>> {
            let sent = self.0.fetch_add(64 * 1024, Ordering::SeqCst);
            if sent >= 256 * 1024 * 1024 {
                return std::task::Poll::Ready(None);
            }
            let mut chunk = vec![b' '; 64 * 1024];
            if sent == 0 {
                chunk[0] = b'[';
            }
            std::task::Poll::Ready(Some(Ok(Bytes::from(chunk))))
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn endless_forge_reply_is_not_read_whole() {
        let sent = Arc::new(AtomicU64::new(0));
        let counter = sent.clone();
        let app = axum::Router::new().fallback(move || {
            let counter = counter.clone();
            async move {
                Response::builder()
                    .header("content-type", "application/json")
                    .body(Body::from_stream(Endless(counter)))
                    .unwrap()
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        let dir = tempfile::tempdir().unwrap();
        let token_file = dir.path().join("token");
        std::fs::write(&token_file, "forge-token\n").unwrap();
        let forge = Forge::from_config(&ForgeConfig {
            kind: ForgeKind::GitHub,
            base_url: url::Url::parse(&format!("http://{addr}")).unwrap(),
            repository: "platform/fleet".into(),
            token_file,
            labels: Vec::new(),
            reviewers: Vec::new(),
            draft: false,
            timeout: Duration::from_secs(60),
        })
        .unwrap();
        let err = forge
            .pull_requests("baton/production/app")
            .await
            .unwrap_err();
        assert!(matches!(err, ForgeError::Reply { .. }), "{err}");
        assert!(err.to_string().contains("larger than"), "{err}");
        let sent = sent.load(Ordering::SeqCst);
        assert!(
            sent < 64 * 1024 * 1024,
            "baton read {} MiB of a reply it refuses above 8 MiB",
            sent / (1024 * 1024)
        );
    }
}
