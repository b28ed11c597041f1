//! The forge client against the fake forge (tests/suite/support/fake_forge.rs), once per API:
//! GitHub (Enterprise layout), GitLab and Gitea/Forgejo. What is checked: opening with labels,
//! reviewers and draft state; listing by head branch in every state; updating; the token in
//! the right header and never elsewhere; clear messages for refused tokens, rate limits,
//! missing repositories and error replies.

mod gitea_prism;
mod github_prism;
mod gitlab_prism;
mod merge;
mod scenario;

use std::time::Duration;

use crate::support::fake_forge::{FakeForge, FakeKind, client_config};
use baton::forge::ForgeConfig;
use baton::forge::{Forge, ForgeError, NewPullRequest, PullState};

const TOKEN: &str = "forge-secret-token-123";

struct Setup {
    fake: FakeForge,
    _dir: tempfile::TempDir,
    config: ForgeConfig,
}

async fn setup(kind: FakeKind, repository: &str) -> Setup {
    let fake = FakeForge::start(kind, repository, TOKEN).await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = client_config(kind, &fake.base_url(), repository, dir.path(), TOKEN);
    config.timeout = Duration::from_secs(10);
    Setup {
        fake,
        _dir: dir,
        config,
    }
}

fn new_pr(head: &str, to: &str) -> NewPullRequest {
    NewPullRequest {
        head: head.into(),
        base: "main".into(),
        title: format!("production: app 1.0.0 -> {to}"),
        body: format!("body for {to}"),
    }
}

async fn open_list_update(kind: FakeKind) {
    let s = setup(kind, "platform/fleet").await;
    let forge = Forge::from_config(&s.config).unwrap();
    assert!(
        forge
            .pull_requests("baton/production/app")
            .await
            .unwrap()
            .is_empty()
    );

    let pr = forge
        .open(&new_pr("baton/production/app", "1.1.0"))
        .await
        .unwrap();
    assert_eq!(pr.number, 1);
    assert_eq!(pr.state, PullState::Open);
    assert_eq!(pr.head, "baton/production/app");
    assert_eq!(pr.base, "main");
    assert!(pr.url.starts_with("http://127.0.0.1:"), "{}", pr.url);

    let fake_pr = &s.fake.pulls()[0];
    assert_eq!(fake_pr.labels, vec!["baton", "promotion"]);
    assert_eq!(fake_pr.reviewers, vec!["alice"]);
    assert_eq!(fake_pr.title, "production: app 1.0.0 -> 1.1.0");

    // Another branch's request is not listed for this one.
    forge
        .open(&new_pr("baton/production/web", "2.0.0"))
        .await
        .unwrap();
    let listed = forge.pull_requests("baton/production/app").await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].body, "body for 1.1.0");

    let updated = forge
        .update(
            &listed[0],
            "production: app 1.0.0 -> 1.2.0",
            "body for 1.2.0",
        )
        .await
        .unwrap();
    assert_eq!(updated.number, 1);
    assert_eq!(updated.title, "production: app 1.0.0 -> 1.2.0");
    assert_eq!(s.fake.pulls()[0].updates, 1);

    // Closed and merged requests are listed with their state, newest first.
    s.fake.close(1);
    forge
        .open(&new_pr("baton/production/app", "1.3.0"))
        .await
        .unwrap();
    s.fake.mark_merged(3);
    let listed = forge.pull_requests("baton/production/app").await.unwrap();
    let states: Vec<(u64, PullState)> = listed.iter().map(|p| (p.number, p.state)).collect();
    assert_eq!(states, vec![(3, PullState::Merged), (1, PullState::Closed)]);

    // Every request carried the token in the forge's header, and nothing else did.
    let requests = s.fake.requests();
    assert!(requests.iter().all(|r| r.authorized), "{requests:#?}");
    assert!(requests.iter().all(|r| !r.query.contains(TOKEN)
        && !r.path.contains(TOKEN)
        && !r.body.to_string().contains(TOKEN)));
}

#[tokio::test]
async fn github_enterprise_open_list_update() {
    open_list_update(FakeKind::GitHub).await;
}

#[tokio::test]
async fn gitlab_open_list_update() {
    open_list_update(FakeKind::GitLab).await;
}

#[tokio::test]
async fn gitea_open_list_update() {
    open_list_update(FakeKind::Gitea).await;
}

#[tokio::test]
async fn gitlab_nested_project_paths_are_encoded() {
    let s = setup(FakeKind::GitLab, "platform/infra/fleet").await;
    let forge = Forge::from_config(&s.config).unwrap();
    forge.open(&new_pr("baton/p/app", "1.1.0")).await.unwrap();
    let paths: Vec<String> = s.fake.requests().iter().map(|r| r.path.clone()).collect();
    assert!(
        paths.contains(&"/api/v4/projects/platform%2Finfra%2Ffleet/merge_requests".to_string()),
        "{paths:?}"
    );
}

#[tokio::test]
async fn drafts_on_each_forge() {
    for kind in [FakeKind::GitHub, FakeKind::GitLab, FakeKind::Gitea] {
        let mut s = setup(kind, "platform/fleet").await;
        s.config.draft = true;
        let forge = Forge::from_config(&s.config).unwrap();
        let pr = forge
            .open(&new_pr("baton/production/app", "1.1.0"))
            .await
            .unwrap();
        let fake_pr = &s.fake.pulls()[0];
        match kind {
            FakeKind::GitHub => assert!(fake_pr.draft),
            FakeKind::GitLab => assert_eq!(fake_pr.title, "Draft: production: app 1.0.0 -> 1.1.0"),
            FakeKind::Gitea => assert_eq!(fake_pr.title, "WIP: production: app 1.0.0 -> 1.1.0"),
        }
        // An update keeps the draft prefix the request still has.
        let updated = forge
            .update(&pr, "production: app 1.0.0 -> 1.2.0", "b")
            .await
            .unwrap();
        if kind != FakeKind::GitHub {
            assert!(
                updated.title.ends_with(": production: app 1.0.0 -> 1.2.0")
                    && updated.title != "production: app 1.0.0 -> 1.2.0",
                "{kind:?}: {}",
                updated.title
            );
        }
    }
}

#[tokio::test]
async fn github_team_reviewers() {
    let mut s = setup(FakeKind::GitHub, "platform/fleet").await;
    s.config.reviewers = vec!["alice".into(), "platform/sre".into()];
    let forge = Forge::from_config(&s.config).unwrap();
    forge.open(&new_pr("b", "1")).await.unwrap();
    assert_eq!(s.fake.pulls()[0].reviewers, vec!["alice", "team:sre"]);
}

#[tokio::test]
async fn unknown_labels_and_reviewers_do_not_stop_the_request() {
    for kind in [FakeKind::GitHub, FakeKind::GitLab, FakeKind::Gitea] {
        let mut s = setup(kind, "platform/fleet").await;
        s.config.labels = vec!["baton".into(), "nonexistent".into()];
        s.config.reviewers = vec!["nobody".into(), "bob".into()];
        let forge = Forge::from_config(&s.config).unwrap();
        forge.open(&new_pr("b", "1")).await.unwrap();
        let pr = &s.fake.pulls()[0];
        assert_eq!(pr.reviewers, vec!["bob"], "{kind:?}");
        assert!(pr.labels.contains(&"baton".to_string()), "{kind:?}");
    }
}

#[tokio::test]
async fn a_wrong_token_is_refused_with_a_clear_message() {
    for kind in [FakeKind::GitHub, FakeKind::GitLab, FakeKind::Gitea] {
        let s = setup(kind, "platform/fleet").await;
        std::fs::write(&s.config.token_file, "wrong-token\n").unwrap();
        let forge = Forge::from_config(&s.config).unwrap();
        let err = forge
            .pull_requests("baton/production/app")
            .await
            .unwrap_err();
        assert!(
            matches!(err, ForgeError::Denied { status: 401, .. }),
            "{err:?}"
        );
        let text = err.to_string();
        assert!(
            text.contains("refused the token (401")
                && text.contains("check forge.token_file")
                && text.contains("platform/fleet"),
            "{text}"
        );
        assert!(!text.contains("wrong-token"), "{text}");
        assert!(!format!("{forge:?}").contains("wrong-token"));
        assert!(!s.fake.requests()[0].authorized);
    }
}

#[tokio::test]
async fn rate_limits_say_when_they_reset() {
    for kind in [FakeKind::GitHub, FakeKind::GitLab, FakeKind::Gitea] {
        let s = setup(kind, "platform/fleet").await;
        let forge = Forge::from_config(&s.config).unwrap();
        // The first listing also learns the token's user; the limit hits the next one.
        forge.pull_requests("b").await.unwrap();
        s.fake.configure(|b| b.rate_limited = 1);
        let err = forge.pull_requests("b").await.unwrap_err();
        assert!(
            matches!(err, ForgeError::RateLimited { .. }),
            "{kind:?}: {err:?}"
        );
        let text = err.to_string();
        assert!(
            text.starts_with(&format!(
                "{} rate limit reached while trying to list",
                kind.config_name()
            )),
            "{text}"
        );
        assert!(text.ends_with("the next pass tries again"), "{text}");
        if kind != FakeKind::Gitea {
            assert!(text.contains("it resets at 2025-11-25 10:00 UTC"), "{text}");
        }
        // The next request goes through.
        forge.open(&new_pr("b", "1")).await.unwrap();
    }
}

#[tokio::test]
async fn error_replies_carry_the_forge_message() {
    let s = setup(FakeKind::GitHub, "platform/fleet").await;
    let forge = Forge::from_config(&s.config).unwrap();
    forge.open(&new_pr("b", "1")).await.unwrap();
    let err = forge.open(&new_pr("b", "2")).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "github answered 422 while trying to open a pull request for b: Validation Failed; A pull request already exists for platform:b."
    );
    let s = setup(FakeKind::GitLab, "platform/fleet").await;
    let forge = Forge::from_config(&s.config).unwrap();
    forge.pull_requests("b").await.unwrap();
    s.fake.configure(|b| {
        b.fail_next = Some((
            500,
            serde_json::json!({"message": "500 Internal Server Error"}),
        ))
    });
    let err = forge.pull_requests("b").await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "gitlab answered 500 while trying to list merge requests for b: 500 Internal Server Error"
    );
}

#[tokio::test]
async fn a_missing_repository_names_the_setting() {
    let mut s = setup(FakeKind::Gitea, "platform/fleet").await;
    s.config.repository = "platform/flet".into();
    let forge = Forge::from_config(&s.config).unwrap();
    let err = forge.pull_requests("b").await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "gitea answered 404 while trying to list pull requests for b: repository platform/flet does not exist or the token cannot see it; check forge.repository"
    );
}

#[tokio::test]
async fn an_unreachable_forge_names_the_setting() {
    let s = setup(FakeKind::GitHub, "platform/fleet").await;
    let mut config = s.config.clone();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    config.base_url = url::Url::parse(&format!("http://127.0.0.1:{port}")).unwrap();
    let forge = Forge::from_config(&config).unwrap();
    let err = forge.pull_requests("b").await.unwrap_err();
    assert!(matches!(err, ForgeError::Unreachable { .. }), "{err:?}");
    assert!(err.to_string().contains("check forge.base_url"), "{err}");
}

#[tokio::test]
async fn a_missing_token_file_is_reported() {
    let s = setup(FakeKind::GitHub, "platform/fleet").await;
    let mut config = s.config.clone();
    config.token_file = s._dir.path().join("missing");
    let err = Forge::from_config(&config).unwrap_err();
    let text = err.to_string();
    assert!(text.starts_with("cannot read forge.token_file"), "{text}");
    assert!(text.contains("missing"), "{text}");
}

#[tokio::test]
async fn gitea_lists_across_pages() {
    let s = setup(FakeKind::Gitea, "platform/fleet").await;
    let forge = Forge::from_config(&s.config).unwrap();
    forge.open(&new_pr("wanted", "1")).await.unwrap();
    for i in 0..60 {
        forge
            .open(&new_pr(&format!("other-{i}"), "1"))
            .await
            .unwrap();
    }
    let listed = forge.pull_requests("wanted").await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].number, 1);
    let pages = s
        .fake
        .requests()
        .iter()
        .filter(|r| r.method == "GET" && r.path.ends_with("/pulls"))
        .count();
    assert_eq!(pages, 2);
}
