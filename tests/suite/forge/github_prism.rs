//! GitHub's own REST description as the judge of every GitHub call Baton makes (list, open,
//! label, request user and team reviewers, update, commit statuses, read one pull request,
//! merge; the GraphQL auto-merge mutation is checked in forge/merge.rs). Stoplight's prism serves the committed cut
//! of the description (tests/fixtures/github, made by scripts/github-api-subset) and logs each
//! request it could not validate; as a proxy in front of the fake forge it also checks the
//! fake's replies. scripts/test installs prism into target/prism (scripts/prism/package.json).

use std::path::{Path, PathBuf};

use super::scenario::{failing_status, new_pr};
use crate::support::fake_forge::{FakeForge, FakeKind, MergeGate, client_config};
use crate::support::prism::{Prism, violations};
use baton::forge::ForgeConfig;
use baton::forge::{Forge, ForgeError, MergeOutcome, PullState, StatusState};

const TOKEN: &str = "forge-secret-token-123";

fn description() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/github/api.github.com.baton.json")
}

/// The client's settings: a user and a team reviewer, draft pull requests.
fn config(base_url: &str, repository: &str, dir: &Path) -> ForgeConfig {
    let mut config = client_config(FakeKind::GitHub, base_url, repository, dir, TOKEN);
    config.reviewers.push("platform/sre".into());
    config.draft = true;
    config
}

#[tokio::test]
async fn every_github_call_passes_githubs_own_description() {
    let prism = Prism::mock(&description());
    let dir = tempfile::tempdir().unwrap();
    // GitHub's examples are all of octocat/Hello-World, opened by octocat from that repository,
    // and the example authenticated user is octocat: so the example pull request is Baton's own.
    let forge = Forge::from_config(&config(
        &prism.base_url(),
        "octocat/Hello-World",
        dir.path(),
    ))
    .unwrap();

    // GitHub's own examples come back, and Baton reads them.
    // The example's head branch is `new-topic`.
    let listed = forge.pull_requests("new-topic").await.unwrap();
    assert_eq!(listed.len(), 1, "{}", prism.log_text());
    assert_eq!(listed[0].number, 1347);
    assert_eq!(listed[0].head, "new-topic");
    let opened = forge
        .open(&new_pr("baton/production/app", "1.1.0"))
        .await
        .unwrap();
    assert_eq!(opened.number, 1347);
    // GitHub's example is of a merged pull request.
    assert_eq!(opened.state, PullState::Merged);
    let updated = forge
        .update(
            &opened,
            "production: app 1.0.0 -> 1.2.0",
            "Moves app to 1.2.0.",
        )
        .await
        .unwrap();
    assert_eq!(updated.base, "master");
    let closed = forge
        .close(
            &opened,
            "**Closed by Baton:** app is now in group **shop**.",
        )
        .await
        .unwrap();
    assert_eq!(closed.number, 1347);

    // the own user, list, open, label, one user reviewer, one team reviewer, update, close.
    let log = prism.settled_log(8);
    assert_eq!(log.matches("Request received").count(), 8, "{log}");
    assert_eq!(
        log.matches("The request passed the validation rules")
            .count(),
        8,
        "{log}"
    );
    let bad = violations(&log, false);
    assert!(
        bad.is_empty(),
        "requests GitHub's description refuses:\n{}",
        bad.join("\n")
    );

    // The check can fail: a request outside the description is reported.
    let refused = reqwest::Client::new()
        .get(format!(
            "{}/api/v3/repos/platform/fleet/pulls?state=merged",
            prism.base_url()
        ))
        .header("accept", "application/vnd.github+json")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status().as_u16(), 422);
    let log = prism.settled_log(8);
    assert!(!violations(&log, false).is_empty(), "{log}");
}

#[tokio::test]
async fn the_github_fake_answers_as_githubs_description_says() {
    let fake = FakeForge::start(FakeKind::GitHub, "platform/fleet", TOKEN).await;
    let prism = Prism::proxy(&description(), &fake.base_url());
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(&prism.base_url(), "platform/fleet", dir.path());
    config.reviewers.push("nobody".into());
    let forge = Forge::from_config(&config).unwrap();

    assert!(
        forge
            .pull_requests("baton/production/app")
            .await
            .unwrap()
            .is_empty()
    );
    let opened = forge
        .open(&new_pr("baton/production/app", "1.1.0"))
        .await
        .unwrap();
    assert_eq!(opened.number, 1);
    let pull = &fake.pulls()[0];
    assert_eq!(pull.labels, vec!["baton", "promotion"]);
    assert_eq!(pull.reviewers, vec!["alice", "team:sre"]);
    assert!(pull.draft);
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
    assert_eq!(listed[0].head, "baton/production/app");
    // A second request for an open branch: GitHub's validation-failed reply.
    let err = forge
        .open(&new_pr("baton/production/app", "1.3.0"))
        .await
        .unwrap_err();
    assert!(matches!(err, ForgeError::Api { .. }), "{err}");
    assert!(err.to_string().contains("already exists"), "{err}");

    // the own user, list, open, label, alice, sre, nobody (refused), update, list, open (refused).
    let log = prism.settled_log(10);
    assert_eq!(log.matches("Request received").count(), 10, "{log}");
    let bad = violations(&log, true);
    assert!(
        bad.is_empty(),
        "requests or fake replies GitHub's description refuses:\n{}\n\nfull log:\n{log}",
        bad.join("\n")
    );
    assert_eq!(fake.requests().len(), 10);

    // The check can fail: a reply without GitHub's required fields is reported, and so is
    // a request outside the description.
    fake.configure(|b| b.fail_next = Some((200, serde_json::json!([{"number": 7}]))));
    let _ = forge.pull_requests("baton/production/app").await;
    let log = prism.settled_log(11);
    assert!(
        log.contains(
            "Violation: response.body.0 Response body property 0 must have required property 'head'"
        ),
        "{log}"
    );
    let _ = reqwest::Client::new()
        .get(format!(
            "{}/api/v3/repos/platform/fleet/pulls?state=merged",
            prism.base_url()
        ))
        .header("accept", "application/vnd.github+json")
        .send()
        .await
        .unwrap();
    let log = prism.settled_log(12);
    assert!(log.contains("Violation: request.query.state"), "{log}");
}

#[tokio::test]
async fn statuses_and_merges_pass_githubs_own_description() {
    let prism = Prism::mock(&description());
    let dir = tempfile::tempdir().unwrap();
    let forge = Forge::from_config(&config(
        &prism.base_url(),
        "octocat/Hello-World",
        dir.path(),
    ))
    .unwrap();
    forge
        .set_status(
            "6dcb09b5b57875f334f61aebed695e2e4193db5e",
            &failing_status(),
        )
        .await
        .unwrap();
    let listed = forge.pull_requests("new-topic").await.unwrap();
    // GitHub's example pull request is clean (mergeable now) at 6dcb09b: merged at once.
    let outcome = forge.merge(&listed[0], &listed[0].head_sha).await.unwrap();
    assert_eq!(outcome, MergeOutcome::Merged, "{}", prism.log_text());

    // status, the own user, list, read the pull request, merge.
    let log = prism.settled_log(5);
    assert_eq!(log.matches("Request received").count(), 5, "{log}");
    assert_eq!(
        log.matches("The request passed the validation rules")
            .count(),
        5,
        "{log}"
    );
    let bad = violations(&log, false);
    assert!(
        bad.is_empty(),
        "requests GitHub's description refuses:\n{}",
        bad.join("\n")
    );

    // The check can fail: a status state GitHub does not know is reported.
    let _ = reqwest::Client::new()
        .post(format!(
            "{}/api/v3/repos/octocat/Hello-World/statuses/6dcb09b5b57875f334f61aebed695e2e4193db5e",
            prism.base_url()
        ))
        .header("accept", "application/vnd.github+json")
        .json(&serde_json::json!({"state": "failed", "context": "baton/rules"}))
        .send()
        .await
        .unwrap();
    let log = prism.settled_log(6);
    assert!(!violations(&log, false).is_empty(), "{log}");
    assert!(
        log.contains("Request body property state must be equal to one of the allowed values"),
        "{log}"
    );
}

#[tokio::test]
async fn the_github_fakes_statuses_and_merges_answer_as_githubs_description_says() {
    let fake = FakeForge::start(FakeKind::GitHub, "platform/fleet", TOKEN).await;
    let prism = Prism::proxy(&description(), &fake.base_url());
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(&prism.base_url(), "platform/fleet", dir.path());
    config.draft = false;
    let forge = Forge::from_config(&config).unwrap();
    forge
        .set_status(
            "0123456789abcdef0123456789abcdef01234567",
            &failing_status(),
        )
        .await
        .unwrap();
    let pr = forge
        .open(&new_pr("baton/production/app", "1.1.0"))
        .await
        .unwrap();
    // Not mergeable, and the head named is not the pull request's: GitHub's 409 reply.
    fake.set_gate(MergeGate {
        checks_green: true,
        approved: true,
        ..MergeGate::default()
    });
    let mut moved = pr.clone();
    moved.head_sha = "ffffffffffffffffffffffffffffffffffffffff".into();
    let outcome = forge.merge(&moved, &moved.head_sha).await.unwrap();
    assert!(
        matches!(&outcome, MergeOutcome::Waiting(why) if why.contains("not baton's")),
        "{outcome:?}"
    );
    let outcome = forge.merge(&pr, &pr.head_sha).await.unwrap();
    assert_eq!(outcome, MergeOutcome::Merged);
    assert!(fake.pulls()[0].merged);

    // status, own user, open, label, alice, sre, read (moved head: no merge asked), read, merge.
    let log = prism.settled_log(9);
    let bad = violations(&log, true);
    assert!(
        bad.is_empty(),
        "requests or fake replies GitHub's description refuses:\n{}\n\nfull log:\n{log}",
        bad.join("\n")
    );
    assert_eq!(
        log.matches("Request received").count(),
        fake.requests().len(),
        "{log}"
    );
    assert!(
        fake.requests()
            .iter()
            .any(|r| r.method == "PUT" && r.path.ends_with("/pulls/1/merge"))
    );
}

/// Verification's `commit_status` reads: the combined status and the check runs of a commit,
/// as GitHub's own examples answer them, then the fake's, both judged by the description.
#[tokio::test]
async fn reading_statuses_and_check_runs_passes_githubs_own_description() {
    let prism = Prism::mock(&description());
    let dir = tempfile::tempdir().unwrap();
    let forge = Forge::from_config(&config(
        &prism.base_url(),
        "octocat/Hello-World",
        dir.path(),
    ))
    .unwrap();
    let checks = forge
        .commit_checks("6dcb09b5b57875f334f61aebed695e2e4193db5e")
        .await
        .unwrap();
    let read: Vec<(&str, StatusState)> = checks
        .iter()
        .map(|c| (c.context.as_str(), c.state))
        .collect();
    assert_eq!(
        read,
        [
            ("continuous-integration/jenkins", StatusState::Success),
            ("security/brakeman", StatusState::Success),
            ("mighty_readme", StatusState::Success),
        ],
        "{}",
        prism.log_text()
    );
    let log = prism.settled_log(2);
    assert_eq!(
        log.matches("The request passed the validation rules")
            .count(),
        2,
        "{log}"
    );
    let bad = violations(&log, false);
    assert!(bad.is_empty(), "{}", bad.join("\n"));

    // The fake, with a failing status, a running and a failed check run, through the proxy.
    let fake = FakeForge::start(FakeKind::GitHub, "platform/fleet", TOKEN).await;
    let proxy = Prism::proxy(&description(), &fake.base_url());
    let sha = "0123456789abcdef0123456789abcdef01234567";
    fake.set_status(sha, "kustomization/apps", "pending", "reconciling");
    fake.set_status(sha, "kustomization/apps", "failure", "health check failed");
    fake.set_status(sha, "ci/build", "success", "");
    fake.set_check_run(sha, "deploy", "in_progress", None);
    fake.set_check_run(sha, "smoke", "completed", Some("timed_out"));
    let mut config = config(&proxy.base_url(), "platform/fleet", dir.path());
    config.draft = false;
    let forge = Forge::from_config(&config).unwrap();
    let checks = forge.commit_checks(sha).await.unwrap();
    let read: Vec<(&str, StatusState, &str)> = checks
        .iter()
        .map(|c| (c.context.as_str(), c.state, c.description.as_str()))
        .collect();
    assert_eq!(
        read,
        [
            (
                "kustomization/apps",
                StatusState::Failure,
                "health check failed"
            ),
            ("ci/build", StatusState::Success, ""),
            ("deploy", StatusState::Pending, "Mighty Readme report"),
            ("smoke", StatusState::Failure, "Mighty Readme report"),
        ]
    );
    let log = proxy.settled_log(2);
    let bad = violations(&log, true);
    assert!(
        bad.is_empty(),
        "requests or fake replies GitHub's description refuses:\n{}\n\nfull log:\n{log}",
        bad.join("\n")
    );
    assert_eq!(log.matches("Request received").count(), 2, "{log}");
}
