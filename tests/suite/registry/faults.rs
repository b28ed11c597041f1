//! The registry client against the fault-injection fake registry: what a real
//! `docker-registry` cannot be made to do (pagination, throttling, failures,
//! Bearer tokens, hostile replies).

use std::time::{Duration, Instant};

use crate::support::fake_registry::{BearerAuth, Behaviour, FakeManifest, FakeRegistry, LinkStyle};
use baton::common::secret::Secret;
use baton::registry::{Credentials, ErrorKind, RegistryClient, RegistryError, RegistrySettings};

fn settings() -> RegistrySettings {
    RegistrySettings {
        insecure: true,
        retry_base_delay: Duration::from_millis(10),
        timeout: Duration::from_secs(10),
        ..Default::default()
    }
}

fn client(fake: &FakeRegistry, settings: RegistrySettings) -> RegistryClient {
    RegistryClient::new(&fake.host(), settings).unwrap()
}

fn numbered_tags(count: usize) -> Vec<String> {
    (0..count).map(|i| format!("v{i:05}")).collect()
}

fn digest_of(c: char) -> String {
    format!("sha256:{}", c.to_string().repeat(64))
}

#[tokio::test]
async fn follows_relative_link_pages() {
    let tags = numbered_tags(2500);
    let fake = FakeRegistry::start(Behaviour {
        tags: tags.clone(),
        link: LinkStyle::Relative,
        ..Default::default()
    })
    .await;
    let list = client(&fake, settings())
        .list_tags("team/app")
        .await
        .unwrap();
    assert_eq!(list.tags, tags);
    assert_eq!(list.requests, 3);
    assert_eq!(fake.api_requests(), 3);
    assert_eq!(
        *fake.state.page_sizes.lock().unwrap(),
        ["1000", "1000", "1000"]
    );
}

#[tokio::test]
async fn follows_absolute_link_pages_with_a_server_page_cap() {
    let tags = numbered_tags(2500);
    let fake = FakeRegistry::start(Behaviour {
        tags: tags.clone(),
        link: LinkStyle::Absolute,
        server_page_cap: Some(100),
        ..Default::default()
    })
    .await;
    let list = client(&fake, settings())
        .list_tags("team/app")
        .await
        .unwrap();
    assert_eq!(list.tags, tags);
    assert_eq!(list.requests, 25);
}

#[tokio::test]
async fn refuses_links_to_other_hosts_and_loops() {
    let fake = FakeRegistry::start(Behaviour {
        tags: numbered_tags(30),
        link: LinkStyle::OtherHost,
        ..Default::default()
    })
    .await;
    let c = client(
        &fake,
        RegistrySettings {
            page_size: 10,
            ..settings()
        },
    );
    let err = c.list_tags("a").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Malformed);
    assert!(err.to_string().contains("another host"), "{err}");

    fake.configure(|b| b.link = LinkStyle::Loop);
    let err = c.list_tags("a").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Malformed);
    assert!(err.to_string().contains("loops back"), "{err}");
}

#[tokio::test]
async fn falls_back_to_100_on_quay_too_many_tags_requested() {
    let tags = numbered_tags(250);
    let fake = FakeRegistry::start(Behaviour {
        tags: tags.clone(),
        quay_limit: Some(100),
        ..Default::default()
    })
    .await;
    let c = client(&fake, settings());
    let list = c.list_tags("quay/app").await.unwrap();
    assert_eq!(list.tags, tags);
    assert_eq!(list.requests, 4);
    // The client remembers the smaller page for the next listing.
    let again = c.list_tags("quay/app").await.unwrap();
    assert_eq!(again.requests, 3);
    assert_eq!(
        *fake.state.page_sizes.lock().unwrap(),
        ["1000", "100", "100", "100", "100", "100", "100"]
    );
}

#[tokio::test]
async fn caps_tags_across_pages() {
    let fake = FakeRegistry::start(Behaviour {
        tags: numbered_tags(2500),
        ..Default::default()
    })
    .await;
    let c = client(
        &fake,
        RegistrySettings {
            max_tags: 2000,
            ..settings()
        },
    );
    let err = c.list_tags("team/app").await.unwrap_err();
    assert!(matches!(
        err,
        RegistryError::TooManyTags { limit: 2000, .. }
    ));
    assert_eq!(err.kind(), ErrorKind::TooLarge);
    assert!(
        err.to_string().contains("more than 2000 tags for team/app"),
        "{err}"
    );
}

#[tokio::test]
async fn waits_for_retry_after_on_429() {
    let fake = FakeRegistry::start(Behaviour {
        tags: vec!["1.0".into()],
        throttle_next: 1,
        retry_after: Some("1".into()),
        ..Default::default()
    })
    .await;
    let c = client(&fake, settings());
    let start = Instant::now();
    let list = c.list_tags("a").await.unwrap();
    assert!(
        start.elapsed() >= Duration::from_millis(950),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(list.tags, ["1.0"]);
    assert_eq!(list.requests, 2);

    // An HTTP-date in the past means retry now.
    fake.configure(|b| {
        b.throttle_next = 1;
        b.retry_after = Some("Wed, 21 Oct 2015 07:28:00 GMT".into());
    });
    // (How long that takes is a figure of scripts/bench's faults step, not a test.)
    assert_eq!(c.list_tags("a").await.unwrap().requests, 2);
}

#[tokio::test]
async fn gives_up_on_a_retry_after_beyond_the_bound() {
    let fake = FakeRegistry::start(Behaviour {
        tags: vec!["1.0".into()],
        throttle_next: 1,
        retry_after: Some("3600".into()),
        ..Default::default()
    })
    .await;
    let c = client(&fake, settings());
    let err = c.list_tags("library/nginx").await.unwrap_err();
    // Given up on the first answer: no second request (how soon: scripts/bench's faults step).
    assert_eq!(fake.api_requests(), 1);
    assert_eq!(err.kind(), ErrorKind::RateLimited);
    let text = err.to_string();
    assert!(
        text.contains("retry after 3600s") && text.contains("library/nginx"),
        "{text}"
    );

    // Throttled on every attempt: the retries run out.
    fake.configure(|b| {
        b.throttle_next = 100;
        b.retry_after = None;
    });
    let err = c.list_tags("a").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::RateLimited);
    assert_eq!(fake.api_requests(), 1 + 4);
}

#[tokio::test]
async fn retries_500s_then_succeeds_or_gives_up() {
    let fake = FakeRegistry::start(Behaviour {
        tags: vec!["1.0".into()],
        fail_next: 2,
        ..Default::default()
    })
    .await;
    let c = client(&fake, settings());
    let list = c.list_tags("a").await.unwrap();
    assert_eq!(list.tags, ["1.0"]);
    assert_eq!(list.requests, 3);

    fake.configure(|b| b.fail_next = 100);
    let err = c.list_tags("a").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Server);
    let text = err.to_string();
    assert!(
        text.contains("answered 500 for a after 4 attempts"),
        "{text}"
    );
}

#[tokio::test]
async fn a_stall_past_the_timeout_is_a_timeout() {
    let fake = FakeRegistry::start(Behaviour {
        tags: vec!["1.0".into()],
        stall: Some(Duration::from_secs(30)),
        ..Default::default()
    })
    .await;
    let c = client(
        &fake,
        RegistrySettings {
            timeout: Duration::from_millis(300),
            max_retries: 1,
            ..settings()
        },
    );
    let err = c.list_tags("slow/app").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout);
    assert!(
        err.to_string().contains("raise the registry timeout"),
        "{err}"
    );
    assert_eq!(fake.api_requests(), 2);
}

#[tokio::test]
async fn malformed_json_is_reported() {
    let fake = FakeRegistry::start(Behaviour {
        raw_tags_body: Some(br#"{"name":"a","tags":["1.0",}"#.to_vec()),
        ..Default::default()
    })
    .await;
    let err = client(&fake, settings()).list_tags("a").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Malformed);
    assert!(err.to_string().contains("not the expected JSON"), "{err}");
}

#[tokio::test]
async fn oversized_bodies_are_refused() {
    let mut body = br#"{"name":"a","tags":["#.to_vec();
    for i in 0..60_000 {
        body.extend_from_slice(format!("\"tag-number-{i:08}\",").as_bytes());
    }
    body.extend_from_slice(b"\"end\"]}");
    assert!(body.len() > 1024 * 1024);
    let fake = FakeRegistry::start(Behaviour {
        raw_tags_body: Some(body),
        ..Default::default()
    })
    .await;
    let c = client(
        &fake,
        RegistrySettings {
            max_response_bytes: 1024 * 1024,
            ..settings()
        },
    );
    // With a Content-Length.
    let err = c.list_tags("a").await.unwrap_err();
    assert!(
        matches!(err, RegistryError::TooLarge { limit: 1048576, .. }),
        "{err}"
    );
    // Streamed in chunks without one: aborted mid-body.
    fake.configure(|b| b.chunked = true);
    let err = c.list_tags("a").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TooLarge);
    assert!(
        err.to_string().contains("raise max_response_bytes"),
        "{err}"
    );
    // Under a larger cap the same body is fine.
    let roomy = client(&fake, settings());
    assert_eq!(roomy.list_tags("a").await.unwrap().tags.len(), 60_001);
}

#[tokio::test]
async fn anonymous_bearer_token_is_fetched_once_and_reused() {
    let digest = digest_of('a');
    let mut behaviour = Behaviour {
        tags: vec!["1.0".into(), "1.1".into()],
        bearer: Some(BearerAuth {
            expires_in: 300,
            ..Default::default()
        }),
        ..Default::default()
    };
    behaviour.manifests.insert(
        "1.0".into(),
        FakeManifest {
            body: b"{}".to_vec(),
            digest_header: Some(digest.clone()),
        },
    );
    let fake = FakeRegistry::start(behaviour).await;
    let c = client(&fake, settings());
    let first = c.list_tags("team/app").await.unwrap();
    assert_eq!(first.tags, ["1.0", "1.1"]);
    // 401, token, retry.
    assert_eq!(first.requests, 3);
    let second = c.list_tags("team/app").await.unwrap();
    assert_eq!(second.requests, 1);
    assert_eq!(c.digest("team/app", "1.0").await.unwrap(), digest);
    assert_eq!(fake.token_requests(), 1);
    // Another repository needs its own scope: one more token, fetched up front.
    let other = c.list_tags("team/other").await.unwrap();
    assert_eq!(other.requests, 2);
    assert_eq!(fake.token_requests(), 2);
}

#[tokio::test]
async fn bearer_token_with_credentials() {
    let fake = FakeRegistry::start(Behaviour {
        tags: vec!["2.0".into()],
        bearer: Some(BearerAuth {
            credentials: Some(("carol".into(), "pa55".into())),
            expires_in: 300,
            ..Default::default()
        }),
        ..Default::default()
    })
    .await;
    let good = client(
        &fake,
        RegistrySettings {
            credentials: Credentials::password("carol", Secret::new("pa55")),
            ..settings()
        },
    );
    assert_eq!(good.list_tags("private/app").await.unwrap().tags, ["2.0"]);
    assert_eq!(fake.token_requests(), 1);

    let bad = client(
        &fake,
        RegistrySettings {
            credentials: Credentials::password("carol", Secret::new("nope-nope")),
            ..settings()
        },
    );
    let err = bad.list_tags("private/app").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth);
    let text = err.to_string();
    assert!(
        text.starts_with(&format!("401 from {} for private/app", fake.host())),
        "{text}"
    );
    assert!(text.contains("token server refused"), "{text}");
    assert!(!text.contains("nope-nope"));

    let anonymous = client(&fake, settings());
    let err = anonymous.list_tags("private/app").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth);
    assert!(
        err.to_string().contains("no credentials are configured"),
        "{err}"
    );
}

#[tokio::test]
async fn identity_token_from_docker_config_uses_the_oauth2_refresh_flow() {
    let fake = FakeRegistry::start(Behaviour {
        tags: vec!["3.0".into()],
        bearer: Some(BearerAuth {
            refresh_token: Some("refresh-me".into()),
            expires_in: 300,
            ..Default::default()
        }),
        ..Default::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.json");
    std::fs::write(
        &config,
        format!(
            r#"{{"auths": {{"{}": {{"auth": "ZGF2ZTo=", "identitytoken": "refresh-me"}}}}}}"#,
            fake.host()
        ),
    )
    .unwrap();
    let c = client(
        &fake,
        RegistrySettings {
            credentials: Credentials::docker_config(config),
            ..settings()
        },
    );
    assert_eq!(c.list_tags("private/app").await.unwrap().tags, ["3.0"]);
    let log = fake.state.token_request_log.lock().unwrap().clone();
    assert_eq!(log.len(), 1);
    assert!(log[0].starts_with("POST /token"), "{log:?}");
    assert!(log[0].contains("grant_type=refresh_token"), "{log:?}");
    assert!(
        log[0].contains("scope=repository%3Aprivate%2Fapp%3Apull"),
        "{log:?}"
    );
}

#[tokio::test]
async fn credential_helper_supplies_credentials_on_stdin() {
    let fake = FakeRegistry::start(Behaviour {
        tags: vec!["4.0".into()],
        bearer: Some(BearerAuth {
            credentials: Some(("helper-user".into(), "helper-pass".into())),
            expires_in: 300,
            ..Default::default()
        }),
        ..Default::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let seen = dir.path().join("stdin-seen");
    let script = dir.path().join("docker-credential-test");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\n\
             [ \"$1\" = get ] || exit 2\n\
             read -r server\n\
             printf '%s' \"$server\" > '{}'\n\
             printf '{{\"ServerURL\":\"%s\",\"Username\":\"helper-user\",\"Secret\":\"helper-pass\"}}' \"$server\"\n",
            seen.display()
        ),
    )
    .unwrap();
    make_executable(&script);
    let config = dir.path().join("config.json");
    std::fs::write(&config, r#"{"auths": {}, "credsStore": "test"}"#).unwrap();
    let c = client(
        &fake,
        RegistrySettings {
            credentials: Credentials::docker_config(config.clone()),
            credential_helper_dir: Some(dir.path().to_path_buf()),
            ..settings()
        },
    );
    assert_eq!(c.list_tags("private/app").await.unwrap().tags, ["4.0"]);
    assert_eq!(std::fs::read_to_string(&seen).unwrap(), fake.host());

    // A helper that fails: the error names the helper and how to debug it.
    std::fs::write(
        &config,
        r#"{"credHelpers": {"HOST": "broken"}}"#.replace("HOST", &fake.host()),
    )
    .unwrap();
    let broken = dir.path().join("docker-credential-broken");
    std::fs::write(&broken, "#!/bin/sh\necho 'internal failure' >&2\nexit 3\n").unwrap();
    make_executable(&broken);
    let c = client(
        &fake,
        RegistrySettings {
            credentials: Credentials::docker_config(config),
            credential_helper_dir: Some(dir.path().to_path_buf()),
            ..settings()
        },
    );
    let err = c.list_tags("private/app").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth);
    let text = err.to_string();
    assert!(text.contains("docker-credential-broken exited"), "{text}");
    assert!(
        text.contains(&format!(
            "echo {} | docker-credential-broken get",
            fake.host()
        )),
        "{text}"
    );
}

/// Marks a freshly written script executable and waits until it can run:
/// another test thread forking at the moment the file was open for writing
/// makes exec fail with "text file busy" for a short while.
fn make_executable(path: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
    for _ in 0..100 {
        match std::process::Command::new(path)
            .arg("probe")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
        {
            Ok(_) => return,
            Err(e) if e.kind() == std::io::ErrorKind::ExecutableFileBusy => {
                std::thread::sleep(Duration::from_millis(20))
            }
            Err(e) => panic!("cannot run {}: {e}", path.display()),
        }
    }
    panic!("{} stays busy", path.display());
}

#[tokio::test]
async fn hostile_tags_are_dropped_and_counted() {
    let long = "a".repeat(200);
    let body = serde_json::json!({
        "name": "a",
        "tags": ["1.0", "1.0\n  evil: x", "../x", long, "ok_2", 5, null, "-x", "1.0"],
    })
    .to_string();
    let fake = FakeRegistry::start(Behaviour {
        raw_tags_body: Some(body.into_bytes()),
        ..Default::default()
    })
    .await;
    let list = client(&fake, settings()).list_tags("a").await.unwrap();
    assert_eq!(list.tags, ["1.0", "ok_2"]);
    assert_eq!(list.dropped_invalid, 6);
}

#[tokio::test]
async fn null_tags_mean_an_empty_repository() {
    let fake = FakeRegistry::start(Behaviour {
        raw_tags_body: Some(br#"{"name":"a","tags":null}"#.to_vec()),
        ..Default::default()
    })
    .await;
    let list = client(&fake, settings()).list_tags("a").await.unwrap();
    assert!(list.tags.is_empty());
}

#[tokio::test]
async fn reads_rate_limit_remaining() {
    let fake = FakeRegistry::start(Behaviour {
        tags: vec!["1".into()],
        rate_limit_remaining: Some("76;w=21600".into()),
        ..Default::default()
    })
    .await;
    let c = client(&fake, settings());
    assert_eq!(c.rate_limit_remaining(), None);
    c.list_tags("library/nginx").await.unwrap();
    assert_eq!(c.rate_limit_remaining(), Some(76));
    fake.configure(|b| b.rate_limit_remaining = Some("75;w=21600".into()));
    c.list_tags("library/nginx").await.unwrap();
    assert_eq!(c.rate_limit_remaining(), Some(75));
}

#[tokio::test]
async fn digest_falls_back_to_get_where_head_is_refused() {
    let body = br#"{"schemaVersion":2}"#.to_vec();
    let mut behaviour = Behaviour {
        head_status: Some(405),
        ..Default::default()
    };
    behaviour.manifests.insert(
        "with-header".into(),
        FakeManifest {
            body: body.clone(),
            digest_header: Some(digest_of('b')),
        },
    );
    behaviour.manifests.insert(
        "no-header".into(),
        FakeManifest {
            body: body.clone(),
            digest_header: None,
        },
    );
    behaviour.manifests.insert(
        "bad-digest".into(),
        FakeManifest {
            body: body.clone(),
            digest_header: Some("sha256:NOT-HEX evil".into()),
        },
    );
    let fake = FakeRegistry::start(behaviour).await;
    let c = client(&fake, settings());
    assert_eq!(c.digest("a", "with-header").await.unwrap(), digest_of('b'));
    assert_eq!(fake.api_requests(), 2);
    assert_eq!(
        c.digest("a", "no-header").await.unwrap(),
        crate::support::registry::sha256(&body)
    );
    let err = c.digest("a", "bad-digest").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Malformed);
    assert!(err.to_string().contains("not sha256 + 64 hex"), "{err}");
    let err = c.digest("a", "absent").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);

    // HEAD works and carries the digest: no GET.
    fake.configure(|b| b.head_status = None);
    let before = fake.api_requests();
    assert_eq!(c.digest("a", "with-header").await.unwrap(), digest_of('b'));
    assert_eq!(fake.api_requests(), before + 1);
}

#[tokio::test]
async fn missing_repository_and_unreachable_registry() {
    let fake = FakeRegistry::start(Behaviour {
        missing: Some("gone/app".into()),
        ..Default::default()
    })
    .await;
    let err = client(&fake, settings())
        .list_tags("gone/app")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);

    // A port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let c = RegistryClient::new(
        &format!("127.0.0.1:{port}"),
        RegistrySettings {
            max_retries: 1,
            ..settings()
        },
    )
    .unwrap();
    let err = c.list_tags("a").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Network);
    assert!(
        err.to_string()
            .contains(&format!("cannot reach 127.0.0.1:{port} for a")),
        "{err}"
    );
}

#[tokio::test]
async fn https_client_against_plain_http_points_at_insecure() {
    // Without `insecure` the client speaks TLS, which a plain HTTP server
    // cannot answer: a network error whose hint names the setting.
    let fake = FakeRegistry::start(Behaviour {
        tags: vec!["1".into()],
        ..Default::default()
    })
    .await;
    let c = client(
        &fake,
        RegistrySettings {
            insecure: false,
            max_retries: 0,
            ..settings()
        },
    );
    let err = c.list_tags("a").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Network);
    assert!(err.to_string().contains("insecure"), "{err}");
}

#[tokio::test]
async fn request_budget_paces_a_long_listing() {
    // 123 one-tag pages against a budget of 120 a minute: the burst covers
    // 120, the last three wait half a second each.
    let tags = numbered_tags(123);
    let fake = FakeRegistry::start(Behaviour {
        tags: tags.clone(),
        server_page_cap: Some(1),
        ..Default::default()
    })
    .await;
    let c = client(
        &fake,
        RegistrySettings {
            request_budget_per_minute: Some(120),
            ..settings()
        },
    );
    let start = Instant::now();
    let list = c.list_tags("a").await.unwrap();
    assert_eq!(list.tags, tags);
    assert_eq!(list.requests, 123);
    assert!(
        start.elapsed() >= Duration::from_millis(1200),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(c.budget().unwrap().available().await, 0);
}

#[tokio::test]
async fn pool_shares_one_client_and_its_tokens() {
    let fake = FakeRegistry::start(Behaviour {
        tags: vec!["1.0".into()],
        bearer: Some(BearerAuth {
            expires_in: 300,
            ..Default::default()
        }),
        ..Default::default()
    })
    .await;
    let mut per_host = std::collections::HashMap::new();
    per_host.insert(fake.host(), settings());
    let pool = baton::registry::Registries::new(RegistrySettings::default(), per_host);
    let image = baton::reference::ImageName::parse(&format!("{}/team/app", fake.host())).unwrap();
    let first = pool.for_image(&image).unwrap();
    first.list_tags(&image.repository).await.unwrap();
    let second = pool.client(&fake.host()).unwrap();
    assert_eq!(
        second.list_tags(&image.repository).await.unwrap().requests,
        1
    );
    assert_eq!(fake.token_requests(), 1);
}
