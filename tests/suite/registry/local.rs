//! The registry client against a real registry: Debian's `docker-registry`,
//! started per test on a free loopback port, with and without Basic auth.

use crate::support::registry::LocalRegistry;
use base64::Engine;
use baton::common::secret::Secret;
use baton::registry::{Credentials, ErrorKind, RegistryClient, RegistryError};

fn client(registry: &LocalRegistry) -> RegistryClient {
    RegistryClient::new(&registry.host(), registry.settings()).unwrap()
}

#[tokio::test]
async fn lists_tags_and_resolves_image_and_index_digests() {
    let registry = LocalRegistry::start();
    let v1 = registry.push_image("team/app", "1.0.0").await;
    let v2 = registry.push_image("team/app", "1.1.0").await;
    let multi = registry.push_index("team/app", "multi").await;
    assert_ne!(v1, v2);
    let client = client(&registry);

    let mut list = client.list_tags("team/app").await.unwrap();
    list.tags.sort();
    assert_eq!(list.tags, ["1.0.0", "1.1.0", "multi"]);
    assert_eq!(list.dropped_invalid, 0);
    assert_eq!(list.requests, 1);

    assert_eq!(client.digest("team/app", "1.0.0").await.unwrap(), v1);
    assert_eq!(client.digest("team/app", "1.1.0").await.unwrap(), v2);
    assert_eq!(client.digest("team/app", "multi").await.unwrap(), multi);
}

#[tokio::test]
async fn missing_repository_and_tag_are_not_found() {
    let registry = LocalRegistry::start();
    registry.push_image("team/app", "1.0").await;
    let client = client(&registry);

    let err = client.list_tags("team/nothing").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    let text = err.to_string();
    assert!(text.contains(&registry.host()), "{text}");
    assert!(text.contains("team/nothing"), "{text}");
    assert!(text.contains("check the image name"), "{text}");

    let err = client.digest("team/app", "9.9").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert!(err.to_string().contains("team/app:9.9"), "{err}");

    let err = client.digest("team/app", "../x").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
}

#[tokio::test]
async fn many_tags_are_listed_and_capped() {
    let registry = LocalRegistry::start();
    let tags: Vec<String> = (0..300).map(|i| format!("1.{i}.0")).collect();
    let digest = registry.push_tags("bulk", &tags).await;
    let client = client(&registry);
    let mut list = client.list_tags("bulk").await.unwrap();
    list.tags.sort();
    let mut expected = tags.clone();
    expected.sort();
    assert_eq!(list.tags, expected);
    assert_eq!(client.digest("bulk", "1.299.0").await.unwrap(), digest);

    let capped = RegistryClient::new(
        &registry.host(),
        baton::registry::RegistrySettings {
            max_tags: 100,
            ..registry.settings()
        },
    )
    .unwrap();
    let err = capped.list_tags("bulk").await.unwrap_err();
    assert!(
        matches!(err, RegistryError::TooManyTags { limit: 100, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("raise max_tags"));
}

#[tokio::test]
async fn basic_auth_with_right_and_wrong_password() {
    let registry = LocalRegistry::start_with_auth("alice", "correct horse");
    let digest = registry.push_image("private/app", "2.0").await;

    // Right password: one 401 to learn the scheme, then Basic up front.
    let client = client(&registry);
    let list = client.list_tags("private/app").await.unwrap();
    assert_eq!(list.tags, ["2.0"]);
    assert_eq!(list.requests, 2);
    let again = client.list_tags("private/app").await.unwrap();
    assert_eq!(again.requests, 1);
    assert_eq!(client.digest("private/app", "2.0").await.unwrap(), digest);

    // Wrong password: a clear 401 naming registry, repository and what to check.
    let wrong = RegistryClient::new(
        &registry.host(),
        baton::registry::RegistrySettings {
            credentials: Credentials::password("alice", Secret::new("wrong-password")),
            ..registry.settings()
        },
    )
    .unwrap();
    let err = wrong.list_tags("private/app").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth);
    let text = err.to_string();
    assert!(
        text.starts_with(&format!("401 from {} for private/app", registry.host())),
        "{text}"
    );
    assert!(text.contains("username \"alice\""), "{text}");
    assert!(!text.contains("wrong-password") && !format!("{err:?}").contains("wrong-password"));

    // No credentials at all.
    let anonymous = RegistryClient::new(
        &registry.host(),
        baton::registry::RegistrySettings {
            credentials: Credentials::anonymous(),
            ..registry.settings()
        },
    )
    .unwrap();
    let err = anonymous.list_tags("private/app").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth);
    assert!(err.to_string().contains("requires credentials"), "{err}");
}

#[tokio::test]
async fn basic_auth_from_docker_config() {
    let registry = LocalRegistry::start_with_auth("bob", "s3cret");
    registry.push_image("private/app", "1.0").await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.json");
    let auth = base64::engine::general_purpose::STANDARD.encode("bob:s3cret");
    std::fs::write(
        &config,
        format!(
            r#"{{"auths": {{"http://{}": {{"auth": "{auth}"}}}}}}"#,
            registry.host()
        ),
    )
    .unwrap();
    let client = RegistryClient::new(
        &registry.host(),
        baton::registry::RegistrySettings {
            credentials: Credentials::docker_config(config.clone()),
            ..registry.settings()
        },
    )
    .unwrap();
    assert_eq!(client.list_tags("private/app").await.unwrap().tags, ["1.0"]);

    // A config without this registry: the error points at the file.
    std::fs::write(&config, r#"{"auths": {"other.example": {"auth": "eDp5"}}}"#).unwrap();
    let client = RegistryClient::new(
        &registry.host(),
        baton::registry::RegistrySettings {
            credentials: Credentials::docker_config(config.clone()),
            ..registry.settings()
        },
    )
    .unwrap();
    let err = client.list_tags("private/app").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth);
    assert!(
        err.to_string()
            .contains(&format!("check credentials in {}", config.display())),
        "{err}"
    );
}
