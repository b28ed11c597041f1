//! Commit statuses and merges against the fake forge, once per API, and the GitHub GraphQL
//! auto-merge mutation checked against GitHub's published schema (@octokit/graphql-schema,
//! with the `graphql` reference implementation: scripts/prism/graphql-check.js). Attacks: a
//! fork's pull request and one another user opened are never merged, a head that moved is
//! not merged, a repository that forbids auto-merge is reported, not worked around.

use super::scenario::new_pr;
use crate::support::fake_forge::{FakeForge, FakeKind, GitLabAutoMerge, MergeGate, client_config};
use crate::support::prism::check_graphql;
use baton::forge::{CommitStatus, Forge, MergeOutcome, PullRequest, PullState, StatusState};
use serde_json::Value;

const TOKEN: &str = "forge-secret-token-123";

async fn forge_for(kind: FakeKind) -> (FakeForge, Forge, tempfile::TempDir) {
    let fake = FakeForge::start(kind, "platform/fleet", TOKEN).await;
    let dir = tempfile::tempdir().unwrap();
    let config = client_config(kind, &fake.base_url(), "platform/fleet", dir.path(), TOKEN);
    let forge = Forge::from_config(&config).unwrap();
    (fake, forge, dir)
}

/// A forge of `kind` answering merges as `gate` says, with Baton's pull request for app open.
async fn with_open_pr(
    kind: FakeKind,
    gate: MergeGate,
) -> (FakeForge, Forge, tempfile::TempDir, PullRequest) {
    let (fake, forge, dir) = forge_for(kind).await;
    fake.set_gate(gate);
    let pr = forge
        .open(&new_pr("baton/production/app", "1.1.0"))
        .await
        .unwrap();
    (fake, forge, dir, pr)
}

async fn statuses_and_merges(kind: FakeKind) {
    let (fake, forge, _dir) = forge_for(kind).await;
    let sha = "0123456789abcdef0123456789abcdef01234567";
    forge
        .set_status(
            sha,
            &CommitStatus {
                state: StatusState::Failure,
                context: "baton/rules".into(),
                description: "baton.toml:3:1: environments.production.mode: refused".into(),
                target_url: None,
            },
        )
        .await
        .unwrap();
    let statuses = fake.statuses();
    assert_eq!(statuses.len(), 1);
    assert_eq!(statuses[0].sha, sha);
    assert_eq!(statuses[0].context, "baton/rules");
    assert_eq!(
        statuses[0].state,
        if kind == FakeKind::GitLab {
            "failed"
        } else {
            "failure"
        }
    );
    assert!(statuses[0].description.starts_with("baton.toml:3:1"));
    // Not a commit id: refused before anything is sent.
    let before = fake.requests().len();
    assert!(
        forge
            .set_status(
                "../../user",
                &CommitStatus {
                    state: StatusState::Success,
                    context: "x".into(),
                    description: String::new(),
                    target_url: None,
                }
            )
            .await
            .is_err()
    );
    assert_eq!(fake.requests().len(), before);

    // Checks pending: the forge is asked to merge once they pass; then it does.
    let pr = forge
        .open(&new_pr("baton/production/app", "1.1.0"))
        .await
        .unwrap();
    let head = pr.head_sha.clone();
    assert_eq!(head.len(), 40, "{pr:?}");
    let outcome = forge.merge(&pr, &head).await.unwrap();
    assert_eq!(outcome, MergeOutcome::Scheduled, "{:#?}", fake.requests());
    assert!(fake.pulls()[0].auto_merge);
    fake.set_gate(MergeGate {
        checks_green: true,
        approved: true,
        ..MergeGate::default()
    });
    assert!(fake.pulls()[0].merged);
    assert_eq!(
        forge.pull_requests("baton/production/app").await.unwrap()[0].state,
        PullState::Merged
    );

    // Checks green and approved: merged at once.
    let pr = forge
        .open(&new_pr("baton/staging/app", "1.1.0"))
        .await
        .unwrap();
    assert_eq!(
        forge.merge(&pr, &pr.head_sha).await.unwrap(),
        MergeOutcome::Merged
    );
    assert!(fake.pulls()[1].merged);

    // A head other than baton's: not merged, and the forge is not even asked.
    let pr = forge.open(&new_pr("baton/qa/app", "1.1.0")).await.unwrap();
    let writes = fake.writes().len();
    let outcome = forge
        .merge(&pr, "ffffffffffffffffffffffffffffffffffffffff")
        .await
        .unwrap();
    assert!(matches!(outcome, MergeOutcome::Waiting(_)), "{outcome:?}");
    assert_eq!(fake.writes().len(), writes);
    assert!(!fake.pulls()[2].merged);

    // Attacks: a fork's pull request on baton's branch name, and one another user opened
    // from this repository, are never merged, whatever the caller passes.
    let fork = fake.add_foreign("mallory", "mallory/fleet", "baton/qa2/app", "x", true);
    let other = fake.add_foreign("mallory", "platform/fleet", "baton/qa3/app", "x", true);
    for number in [fork, other] {
        let mut pr = pr.clone();
        pr.number = number;
        pr.author = "mallory".into();
        pr.same_repository = number == other;
        let err = forge.merge(&pr, &pr.head_sha.clone()).await.unwrap_err();
        assert!(err.to_string().contains("not baton's own"), "{err}");
        // Even when the caller claims it is baton's, the listing keeps it out.
        assert!(
            forge
                .pull_requests(&fake.pulls()[number as usize - 1].head)
                .await
                .unwrap()
                .is_empty()
        );
    }
    assert!(
        fake.pulls()
            .iter()
            .all(|p| !p.merged || p.author == "baton-bot")
    );
    assert!(fake.requests().iter().all(|r| r.authorized));
}

#[tokio::test]
async fn github_statuses_and_merges() {
    statuses_and_merges(FakeKind::GitHub).await;
}

#[tokio::test]
async fn gitlab_statuses_and_merges() {
    statuses_and_merges(FakeKind::GitLab).await;
}

/// GitLab renamed its "merge when the pipeline succeeds" flag to `auto_merge` in 17.11 and
/// reads either since; older GitLab reads only the old name, and a later one may drop it.
/// Baton's merge is scheduled on all three.
#[tokio::test]
async fn gitlab_schedules_a_merge_whichever_name_of_the_flag_it_reads() {
    for reads in [
        GitLabAutoMerge::Either,
        GitLabAutoMerge::OnlyDeprecated,
        GitLabAutoMerge::OnlyAutoMerge,
    ] {
        let gate = MergeGate {
            gitlab_reads: reads,
            ..MergeGate::default()
        };
        let (fake, forge, _dir, pr) = with_open_pr(FakeKind::GitLab, gate).await;
        let outcome = forge.merge(&pr, &pr.head_sha).await.unwrap();
        assert_eq!(outcome, MergeOutcome::Scheduled, "{reads:?}");
        assert!(fake.pulls()[0].auto_merge, "{reads:?}");
    }
}

#[tokio::test]
async fn gitea_statuses_and_merges() {
    statuses_and_merges(FakeKind::Gitea).await;
}

#[tokio::test]
async fn githubs_auto_merge_mutation_passes_githubs_graphql_schema() {
    let (fake, forge, _dir, pr) = with_open_pr(FakeKind::GitHub, MergeGate::default()).await;
    assert_eq!(
        forge.merge(&pr, &pr.head_sha).await.unwrap(),
        MergeOutcome::Scheduled
    );
    let bodies: Vec<Value> = fake
        .requests()
        .into_iter()
        .filter(|r| r.path == "/api/graphql")
        .map(|r| r.body)
        .collect();
    assert_eq!(bodies.len(), 1);
    assert_eq!(
        bodies[0]["variables"]["expectedHeadOid"],
        pr.head_sha.as_str()
    );
    let out = check_graphql(&bodies);
    assert!(
        out.contains("1 request(s)") && out.contains(": 0 problem(s)"),
        "{out}"
    );

    // The check can fail: a mutation GitHub's schema does not have, or missing variables.
    let mut wrong = bodies[0].clone();
    wrong["query"] = Value::String(wrong["query"].as_str().unwrap().replace(
        "expectedHeadOid: $expectedHeadOid",
        "expectedHead: $expectedHeadOid",
    ));
    let mut missing = bodies[0].clone();
    missing["variables"] = serde_json::json!({"pullRequestId": "PR_kwfake1"});
    for bad in [wrong, missing] {
        let failed = std::panic::catch_unwind(|| check_graphql(&[bad]));
        assert!(failed.is_err(), "a wrong request passed the schema");
    }

    // A repository that does not allow auto-merge: reported with GitHub's words, not merged.
    let gate = MergeGate {
        auto_merge_disallowed: true,
        ..MergeGate::default()
    };
    let (fake, forge, _dir, pr) = with_open_pr(FakeKind::GitHub, gate).await;
    let outcome = forge.merge(&pr, &pr.head_sha).await.unwrap();
    assert_eq!(
        outcome,
        MergeOutcome::Waiting(
            "mergeable_state is blocked and GitHub refused auto-merge: Pull request Auto merge is not allowed for this repository".into()
        )
    );
    assert!(!fake.pulls()[0].merged);
}

#[tokio::test]
async fn a_persons_push_to_the_branch_stops_the_merge_and_a_merge_lands_in_the_remote() {
    use crate::support::git_server::{BareRepo, git};
    let remote = BareRepo::seeded();
    let writer = remote.writer();
    let commit_on_branch = |file: &str, message: &str| {
        std::fs::write(writer.work.join(file), "x: 1\n").unwrap();
        git(&writer.work, &["add", "-A"]);
        git(&writer.work, &["commit", "--quiet", "-m", message]);
        git(
            &writer.work,
            &["push", "--quiet", "origin", "baton/production/app"],
        );
    };
    git(
        &writer.work,
        &["checkout", "--quiet", "-b", "baton/production/app"],
    );
    commit_on_branch("baton-change.yaml", "production: app 1.0.0 -> 1.1.0");
    let batons = remote.head("baton/production/app").unwrap();
    for kind in [FakeKind::GitHub, FakeKind::GitLab, FakeKind::Gitea] {
        let (fake, forge, _dir) = forge_for(kind).await;
        fake.track_remote(&remote.path);
        let pr = forge
            .open(&new_pr("baton/production/app", "1.1.0"))
            .await
            .unwrap();
        assert_eq!(pr.head_sha, batons);
        // A person pushes a commit of their own onto baton's branch.
        commit_on_branch("a-persons-change.yaml", "a person's edit");
        fake.set_gate(MergeGate {
            checks_green: true,
            approved: true,
            ..MergeGate::default()
        });
        let stale = pr.clone();
        let outcome = forge.merge(&stale, &batons).await.unwrap();
        assert!(
            matches!(outcome, MergeOutcome::Waiting(_)),
            "{kind:?}: {outcome:?}"
        );
        // Even a caller that read the new head but still names baton's: the forge refuses.
        let mut fresh = forge.pull_requests("baton/production/app").await.unwrap()[0].clone();
        assert_ne!(fresh.head_sha, batons);
        fresh.head_sha = batons.clone();
        let outcome = forge.merge(&fresh, &batons).await.unwrap();
        assert!(
            matches!(outcome, MergeOutcome::Waiting(_)),
            "{kind:?}: {outcome:?}"
        );
        assert!(!fake.pulls()[0].merged, "{kind:?}");
        assert_eq!(
            remote.head("main"),
            Some(git(&remote.path, &["rev-parse", "main"]))
        );
        // Reset the branch to baton's commit: now it merges, as a merge commit in the remote.
        git(&writer.work, &["reset", "--quiet", "--hard", &batons]);
        git(
            &writer.work,
            &[
                "push",
                "--quiet",
                "--force",
                "origin",
                "baton/production/app",
            ],
        );
        let main_before = remote.head("main").unwrap();
        let outcome = forge.merge(&pr, &batons).await.unwrap();
        assert_eq!(outcome, MergeOutcome::Merged, "{kind:?}");
        let parents = git(&remote.path, &["log", "-1", "--format=%P", "main"]);
        assert_eq!(parents, format!("{main_before} {batons}"));
        // Undo for the next forge.
        git(
            &remote.path,
            &["update-ref", "refs/heads/main", &main_before],
        );
    }
}
