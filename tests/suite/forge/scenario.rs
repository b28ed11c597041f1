//! The requests every forge's description test drives, written once: a pull request opened,
//! updated, listed and opened again (refused); a merge scheduled, cancelled, then done; one
//! closed as superseded.

use crate::support::fake_forge::{FakeForge, MergeGate};
use baton::forge::{
    CommitStatus, Forge, ForgeError, MergeOutcome, NewPullRequest, PullRequest, PullState,
    StatusState,
};

/// Baton's pull request for `head`, moving app to `to`.
pub fn new_pr(head: &str, to: &str) -> NewPullRequest {
    NewPullRequest {
        head: head.into(),
        base: "main".into(),
        title: format!("production: app 1.0.0 -> {to}"),
        body: format!("Moves app to {to}.\n\nPolicy: semver ^1"),
    }
}

/// The status Baton sets when a repository's rules are refused.
pub fn failing_status() -> CommitStatus {
    CommitStatus {
        state: StatusState::Failure,
        context: "baton/rules".into(),
        description: "baton.toml:15:1@0123456789ab: environments.production.mode: production must stay in review mode".into(),
        target_url: Some("https://baton.example.com/status".into()),
    }
}

/// Lists (none), opens with labels and alice as reviewer, updates, lists (the one, open),
/// then opens again for the same branch (the forge's 409); returns the listed pull request.
pub async fn open_update_list(forge: &Forge, fake: &FakeForge) -> PullRequest {
    let head = "baton/production/app";
    assert!(forge.pull_requests(head).await.unwrap().is_empty());
    let opened = forge.open(&new_pr(head, "1.1.0")).await.unwrap();
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
    let listed = forge.pull_requests(head).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].state, PullState::Open);
    let err = forge.open(&new_pr(head, "1.3.0")).await.unwrap_err();
    assert!(matches!(err, ForgeError::Api { .. }), "{err}");
    listed[0].clone()
}

/// Checks pending: the merge is scheduled; cancelled; merged once checks and approvals pass.
pub async fn merge_when_green(forge: &Forge, fake: &FakeForge, pr: &PullRequest) {
    assert_eq!(
        forge.merge(pr, &pr.head_sha).await.unwrap(),
        MergeOutcome::Scheduled
    );
    assert!(forge.cancel_merge(pr).await.unwrap());
    assert!(!fake.pulls()[0].auto_merge);
    fake.set_gate(MergeGate {
        checks_green: true,
        approved: true,
        ..MergeGate::default()
    });
    assert_eq!(
        forge.merge(pr, &pr.head_sha).await.unwrap(),
        MergeOutcome::Merged
    );
    assert!(fake.pulls()[0].merged);
}

/// Opens a pull request on another branch and closes it as superseded (the reason as its
/// body); listed again, it is closed. Closing one from a fork, or one another user opened, is
/// refused without a request.
pub async fn close_superseded(forge: &Forge, fake: &FakeForge) {
    let head = "baton/production/web";
    let opened = forge.open(&new_pr(head, "1.1.0")).await.unwrap();
    let body = "**Closed by Baton:** web is now in group **shop**.";
    let closed = forge.close(&opened, body).await.unwrap();
    assert_eq!(closed.state, PullState::Closed, "{closed:?}");
    let listed = forge.pull_requests(head).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].state, PullState::Closed);
    assert_eq!(listed[0].body, body);
    let requests = fake.requests().len();
    let mut foreign = opened.clone();
    foreign.author = "mallory".into();
    let mut fork = opened.clone();
    fork.same_repository = false;
    for pr in [foreign, fork] {
        let err = forge.close(&pr, "x").await.unwrap_err();
        assert!(err.to_string().contains("not baton's own"), "{err}");
    }
    assert_eq!(fake.requests().len(), requests);
}
