//! The registry client reading manifests, indexes and image configs from the real registry
//! (a platform's own digest, `created`), and the judgement walk's request counts; hostile
//! indexes from the fake.

use std::sync::Arc;

use baton::config::Config;
use baton::eligibility::Store;
use baton::pass::{ImageScan, Walk, judge_scan, policies_of};
use baton::registry::{ErrorKind, Platform, RegistryClient, RegistrySettings};

use crate::support::fake_registry::{Behaviour, FakeManifest, FakeRegistry};
use crate::support::registry::LocalRegistry;

fn client(registry: &LocalRegistry) -> RegistryClient {
    RegistryClient::new(&registry.host(), registry.settings()).unwrap()
}

#[tokio::test]
async fn platform_digests_come_from_the_index() {
    let registry = LocalRegistry::start();
    let (index, platforms) = registry
        .push_index_created("team/app", "1.0.0", Some("2026-01-02T03:04:05Z"))
        .await;
    let single = registry.push_image("team/app", "single").await;
    let client = client(&registry);
    let arm = Platform::parse("linux/arm64").unwrap();
    let amd = Platform::parse("linux/amd64").unwrap();
    assert_eq!(client.digest("team/app", "1.0.0").await.unwrap(), index);
    assert_eq!(
        client
            .platform_digest("team/app", "1.0.0", &arm)
            .await
            .unwrap(),
        platforms[1]
    );
    assert_eq!(
        client
            .platform_digest("team/app", "1.0.0", &amd)
            .await
            .unwrap(),
        platforms[0]
    );
    // A single-platform image is its own platform manifest when its config says so.
    assert_eq!(
        client
            .platform_digest("team/app", "single", &amd)
            .await
            .unwrap(),
        single
    );
    let err = client
        .platform_digest("team/app", "single", &arm)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("it has: linux/amd64"), "{err}");
    // A platform the index lacks names the tag and the platforms it has.
    let s390x = Platform::parse("linux/s390x").unwrap();
    let err = client
        .platform_digest("team/app", "1.0.0", &s390x)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    let text = err.to_string();
    assert!(text.contains("team/app:1.0.0"), "{text}");
    assert!(text.contains("platform linux/s390x"), "{text}");
    assert!(text.contains("it has: linux/amd64, linux/arm64"), "{text}");

    // `created` of an index comes from the platform's config: index, manifest, config.
    let info = client
        .created("team/app", "1.0.0", Some(&arm))
        .await
        .unwrap();
    assert_eq!(info.digest, index);
    assert_eq!(info.created.as_deref(), Some("2026-01-02T03:04:05Z"));
    assert_eq!(info.requests, 3);
    let info = client.created("team/app", "single", None).await.unwrap();
    assert_eq!(info.digest, single);
    assert_eq!(info.created, None);
    assert_eq!(info.requests, 2);
}

fn config(dir: &std::path::Path, host: &str, extra: &str) -> Config {
    let path = dir.join("baton.toml");
    std::fs::write(
        &path,
        format!(
            "[daemon]\nstate_dir = \"{state}\"\n[git]\nurl = \"file:///nowhere\"\n[registries.\"{host}\"]\ninsecure = true\n[images.app]\nrepository = \"{host}/team/app\"\nmin_age = \"1h\"\n{extra}\n[policies.app]\nimage = \"app\"\nsemver = \"*\"\n",
            state = dir.join("state").display()
        ),
    )
    .unwrap();
    Config::load(&path).unwrap()
}

async fn judge(
    config: &Config,
    client: &RegistryClient,
    store: &Store,
    now: jiff::Timestamp,
) -> Arc<baton::eligibility::Judged> {
    let tags = client.list_tags("team/app").await.unwrap().tags;
    let mut scan = ImageScan {
        image: "app".into(),
        registry: "r".into(),
        tags: Some(tags),
        dropped_invalid: 0,
        requests: 0,
        error: None,
        error_kind: None,
        judged: None,
    };
    let image = &config.images["app"];
    judge_scan(
        image,
        &policies_of(config, "app"),
        &mut scan,
        client,
        store,
        now,
        Walk::UntilEligible,
    )
    .await;
    scan.judged.unwrap()
}

#[tokio::test]
async fn each_new_tag_is_judged_once_and_never_again() {
    let registry = LocalRegistry::start();
    let dir = tempfile::tempdir().unwrap();
    let now = jiff::Timestamp::now();
    let old = (now - jiff::SignedDuration::from_hours(5)).to_string();
    registry
        .push_image_created("team/app", "1.0.0", old.clone().into())
        .await;
    registry
        .push_image_created("team/app", "1.1.0", now.to_string().into())
        .await;
    let config = config(dir.path(), &registry.host(), "");
    let client = client(&registry);
    let store = Store::open(&config.daemon.state_dir);

    // First scan: 1.1.0 is young, 1.0.0 old: two tags judged, manifest + config each.
    let judged = judge(&config, &client, &store, now).await;
    assert_eq!((judged.new, judged.requests), (2, 4), "{judged:?}");
    // Repeat scans: nothing new, no request.
    let judged = judge(&config, &client, &store, now).await;
    assert_eq!((judged.new, judged.requests), (0, 0), "{judged:?}");
    // A new tag: one more judgement; the tags judged before cost nothing.
    registry
        .push_image_created("team/app", "1.2.0", old.into())
        .await;
    let judged = judge(&config, &client, &store, now).await;
    assert_eq!((judged.new, judged.requests), (1, 2), "{judged:?}");
    // Another process reads the same state directory: still nothing to ask.
    let again = Store::open(&config.daemon.state_dir);
    let judged = judge(&config, &client, &again, now).await;
    assert_eq!((judged.new, judged.requests), (0, 0), "{judged:?}");
}

#[tokio::test]
async fn at_most_ten_new_tags_are_judged_per_scan() {
    let registry = LocalRegistry::start();
    let dir = tempfile::tempdir().unwrap();
    let tags: Vec<String> = (0..25).map(|i| format!("1.{i}.0")).collect();
    registry.push_tags("team/app", &tags).await;
    let config = config(dir.path(), &registry.host(), "");
    let client = client(&registry);
    let store = Store::open(&config.daemon.state_dir);
    let now = jiff::Timestamp::now();
    // No `created`: every tag is first seen now, so the walk never finds an old one.
    let judged = judge(&config, &client, &store, now).await;
    assert_eq!(judged.new, 10, "{judged:?}");
    assert_eq!(judged.requests, 20);
    assert!(
        judged
            .hold("1.24.0", now)
            .unwrap()
            .reason
            .starts_with("too young until")
    );
    assert!(
        judged
            .hold("1.14.0", now)
            .unwrap()
            .reason
            .contains("at most 10 new tags")
    );
    let judged = judge(&config, &client, &store, now).await;
    assert_eq!(judged.new, 10, "{judged:?}");
    let judged = judge(&config, &client, &store, now).await;
    assert_eq!(judged.new, 5, "{judged:?}");
    let judged = judge(&config, &client, &store, now).await;
    assert_eq!((judged.new, judged.requests), (0, 0));
}

fn index_with(entries: usize) -> Vec<u8> {
    let digest = format!("sha256:{}", "a".repeat(64));
    let entry = format!(
        r#"{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{digest}","size":1,"platform":{{"os":"linux","architecture":"amd64"}}}}"#
    );
    let list = vec![entry; entries].join(",");
    format!(r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{list}]}}"#)
        .into_bytes()
}

#[tokio::test]
async fn hostile_indexes_are_refused() {
    let mut manifests = std::collections::HashMap::new();
    // More entries than Baton reads, within the size cap.
    manifests.insert(
        "many".to_string(),
        FakeManifest {
            body: index_with(20_000),
            digest_header: None,
        },
    );
    // Over the size cap.
    manifests.insert(
        "huge".to_string(),
        FakeManifest {
            body: index_with(200_000),
            digest_header: None,
        },
    );
    // A digest header that does not match the bytes.
    manifests.insert(
        "lying".to_string(),
        FakeManifest {
            body: index_with(1),
            digest_header: Some(format!("sha256:{}", "b".repeat(64))),
        },
    );
    let fake = FakeRegistry::start(Behaviour {
        tags: vec!["many".into(), "huge".into(), "lying".into()],
        manifests,
        ..Default::default()
    })
    .await;
    let client = RegistryClient::new(
        &fake.host(),
        RegistrySettings {
            insecure: true,
            max_response_bytes: 4 * 1024 * 1024,
            ..Default::default()
        },
    )
    .unwrap();
    let arm = Platform::parse("linux/arm64").unwrap();
    let err = client
        .platform_digest("team/app", "many", &arm)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Malformed);
    assert!(err.to_string().contains("more than the 10000"), "{err}");
    let err = client
        .platform_digest("team/app", "huge", &arm)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TooLarge, "{err}");
    let err = client.created("team/app", "lying", None).await.unwrap_err();
    assert!(
        err.to_string().contains("does not match its digest"),
        "{err}"
    );
}
