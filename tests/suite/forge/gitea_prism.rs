//! Gitea's own REST description as the judge of the Gitea/Forgejo fake and of every Gitea call
//! Baton makes (its own user, list, open, list labels, label, request reviewers, update).
//! prism proxies the fake with the committed cut of the description (tests/fixtures/gitea,
//! made by scripts/gitea-api-subset from Forgejo 11.0.3's swagger, the Gitea 1.22 API) and
//! logs every request and reply that breaks it. Gitea's schemas mark no field required, so
//! the check is of paths, methods, query values, field names' types and status codes.

use std::path::{Path, PathBuf};

use crate::support::fake_forge::{FakeForge, FakeKind, client_config};
use crate::support::prism::{Prism, violations};
use baton::forge::{Forge, ForgeError, NewPullRequest, PullState, StatusState};

const TOKEN: &str = "forge-secret-token-456";

fn description() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/gitea/swagger.baton.json")
}

fn new_pr(to: &str) -> NewPullRequest {
    NewPullRequest {
        head: "baton/production/app".into(),
        base: "main".into(),
        title: format!("production: app 1.0.0 -> {to}"),
        body: format!("Moves app to {to}."),
    }
}

#[tokio::test]
async fn the_gitea_fake_and_batons_calls_pass_giteas_description() {
    let fake = FakeForge::start(FakeKind::Gitea, "platform/fleet", TOKEN).await;
    let prism = Prism::proxy(&description(), &fake.base_url());
    let dir = tempfile::tempdir().unwrap();
    let mut config = client_config(
        FakeKind::Gitea,
        &prism.base_url(),
        "platform/fleet",
        dir.path(),
        TOKEN,
    );
    config.reviewers.push("nobody".into());
    let forge = Forge::from_config(&config).unwrap();

    assert!(
        forge
            .pull_requests("baton/production/app")
            .await
            .unwrap()
            .is_empty()
    );
    let opened = forge.open(&new_pr("1.1.0")).await.unwrap();
    assert_eq!(opened.number, 1);
    let pull = &fake.pulls()[0];
    assert_eq!(pull.labels, vec!["baton", "promotion"]);
    assert_eq!(pull.reviewers, vec!["alice"]);
    let updated = forge
        .update(
            &opened,
            "production: app 1.0.0 -> 1.2.0",
            "Moves app to 1.2.0.",
        )
        .await
        .unwrap();
    assert_eq!(updated.title, "production: app 1.0.0 -> 1.2.0");
    let listed = forge.pull_requests("baton/production/app").await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].state, PullState::Open);
    // A second request for an open branch: Gitea's 409.
    let err = forge.open(&new_pr("1.3.0")).await.unwrap_err();
    assert!(matches!(err, ForgeError::Api { .. }), "{err}");

    // the own user, list, open, labels, label, alice, nobody (refused), update, list, open (refused).
    let log = prism.settled_log(10);
    assert_eq!(log.matches("Request received").count(), 10, "{log}");
    let bad = violations(&log, true);
    assert!(
        bad.is_empty(),
        "requests or fake replies Gitea's description refuses:\n{}\n\nfull log:\n{log}",
        bad.join("\n")
    );
    assert_eq!(fake.requests().len(), 10);

    // The check can fail: a reply whose field has the wrong type is reported, and so is a
    // request outside the description.
    fake.configure(|b| b.fail_next = Some((200, serde_json::json!([{"number": "seven"}]))));
    let _ = forge.pull_requests("baton/production/app").await;
    let log = prism.settled_log(11);
    assert!(log.contains("Violation: response"), "{log}");
    let _ = reqwest::Client::new()
        .get(format!(
            "{}/api/v1/repos/platform/fleet/pulls?state=merged",
            prism.base_url()
        ))
        .header("authorization", format!("token {TOKEN}"))
        .send()
        .await
        .unwrap();
    let log = prism.settled_log(12);
    assert!(log.contains("Violation: request.query.state"), "{log}");
}

/// Verification's `commit_status` read: Gitea's combined status of a commit (entries carry
/// `status`), request and the fake's reply judged by the description; GitLab's list of a
/// commit's statuses from the fake (judged by GitLab's description in gitlab_prism.rs).
#[tokio::test]
async fn reading_a_commits_statuses_passes_giteas_description() {
    let fake = FakeForge::start(FakeKind::Gitea, "platform/fleet", TOKEN).await;
    let prism = Prism::proxy(&description(), &fake.base_url());
    let dir = tempfile::tempdir().unwrap();
    let config = client_config(
        FakeKind::Gitea,
        &prism.base_url(),
        "platform/fleet",
        dir.path(),
        TOKEN,
    );
    let forge = Forge::from_config(&config).unwrap();
    let sha = "0123456789abcdef0123456789abcdef01234567";
    assert!(forge.commit_checks(sha).await.unwrap().is_empty());
    fake.set_status(sha, "kustomization/apps", "pending", "");
    fake.set_status(sha, "kustomization/apps", "success", "applied");
    fake.set_status(sha, "ci/lint", "warning", "");
    fake.set_status(sha, "ci/test", "error", "exit 1");
    let read: Vec<(String, StatusState)> = forge
        .commit_checks(sha)
        .await
        .unwrap()
        .into_iter()
        .map(|c| (c.context, c.state))
        .collect();
    assert_eq!(
        read,
        [
            ("kustomization/apps".to_string(), StatusState::Success),
            ("ci/lint".to_string(), StatusState::Success),
            ("ci/test".to_string(), StatusState::Failure),
        ]
    );
    // Not a commit id: refused before any request.
    assert!(forge.commit_checks("main; rm -rf").await.is_err());
    let log = prism.settled_log(2);
    let bad = violations(&log, true);
    assert!(
        bad.is_empty(),
        "requests or fake replies Gitea's description refuses:\n{}\n\nfull log:\n{log}",
        bad.join("\n")
    );
    assert_eq!(log.matches("Request received").count(), 2, "{log}");

    let gitlab = FakeForge::start(FakeKind::GitLab, "platform/fleet", TOKEN).await;
    let config = client_config(
        FakeKind::GitLab,
        &gitlab.base_url(),
        "platform/fleet",
        dir.path(),
        TOKEN,
    );
    let forge = Forge::from_config(&config).unwrap();
    gitlab.set_status(sha, "kustomization/apps", "running", "");
    gitlab.set_status(sha, "deploy", "failed", "rollout stuck");
    let read: Vec<(String, StatusState)> = forge
        .commit_checks(sha)
        .await
        .unwrap()
        .into_iter()
        .map(|c| (c.context, c.state))
        .collect();
    assert_eq!(
        read,
        [
            ("kustomization/apps".to_string(), StatusState::Pending),
            ("deploy".to_string(), StatusState::Failure),
        ]
    );
    assert!(gitlab.requests().iter().any(|r| r.method == "GET"
        && r.path
            == format!("/api/v4/projects/platform%2Ffleet/repository/commits/{sha}/statuses")));
}
