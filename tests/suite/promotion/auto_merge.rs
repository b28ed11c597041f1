//! `auto_merge = true` end to end: a real registry, a real bare remote, the fake forge reading
//! pull request heads from that remote and merging there. Production's pull request is merged
//! by the forge once checks and approvals pass (GitHub through GraphQL auto-merge, checked
//! against GitHub's schema; GitLab merge when the pipeline succeeds; Gitea when checks
//! succeed). Attacks: a person's commit on Baton's branch, an amended head, a fork's pull
//! request on Baton's branch name.

use crate::support::fake_forge::{FakeKind, MergeGate};
use crate::support::git_server::git;
use crate::support::prism::check_graphql;
use crate::support::promotion::{PRODUCTION, PromotionWorld, env, hours_from_now, manifest};
use baton::pass::{AutoMerge, Outcome, ReviewAction};

const AUTO: &str =
    "mode = \"review\"\npromote_from = \"staging\"\nsoak = \"24h\"\nauto_merge = true\n";

const GREEN: MergeGate = MergeGate::GREEN;

async fn merges_itself_once_checks_pass(kind: FakeKind) {
    let mut w = PromotionWorld::new(AUTO, Some(kind)).await;
    let host = w.host();
    let forge = w.forge.take().unwrap();
    forge.track_remote(&w.remote.path);
    w.push_tag("1.1.0").await;
    w.pass_at(hours_from_now(0)).await;
    let report = w.pass_at(hours_from_now(25)).await;
    let production = env(&report, "production");
    assert!(
        matches!(
            production.reviews[0].action,
            ReviewAction::Opened { number: 1, .. }
        ),
        "{production:#?}"
    );
    // Checks still running: the forge is asked to merge once they pass.
    assert_eq!(
        production.reviews[0].merge,
        Some(AutoMerge::Scheduled),
        "{kind:?}: {production:#?}"
    );
    assert!(forge.pulls()[0].auto_merge);
    assert_eq!(
        w.file("main", PRODUCTION),
        manifest(&host, "1.0.0", None).trim_end()
    );

    // The same pass again changes nothing on the branch; the forge still holds it.
    let branch = w.remote.head("baton/production/app");
    let report = w.pass_at(hours_from_now(26)).await;
    assert_eq!(
        env(&report, "production").reviews[0].merge,
        Some(AutoMerge::Scheduled)
    );
    assert_eq!(w.remote.head("baton/production/app"), branch);

    // Checks pass and the approval comes: the forge merges it, in the remote.
    forge.set_gate(GREEN);
    assert!(forge.pulls()[0].merged);
    assert_eq!(
        w.file("main", PRODUCTION),
        manifest(&host, "1.1.0", None).trim_end()
    );
    let report = w.pass_at(hours_from_now(27)).await;
    assert_eq!(
        env(&report, "production").outcome,
        Outcome::Unchanged,
        "{report:#?}"
    );
    assert!(forge.requests().iter().all(|r| r.authorized));

    if kind == FakeKind::GitHub {
        let bodies: Vec<_> = forge
            .requests()
            .into_iter()
            .filter(|r| r.path == "/api/graphql")
            .map(|r| r.body)
            .collect();
        assert_eq!(bodies.len(), 1, "auto-merge is turned on once");
        check_graphql(&bodies);
    }

    // Already green when the next version's pull request opens: merged in the same pass.
    w.push_tag("1.2.0").await;
    // (The pass judges time at +28h, a day after staging's commit: staging moves and
    // production's review opens in the same pass.)
    let report = w.pass_at(hours_from_now(28)).await;
    let production = env(&report, "production");
    assert_eq!(
        production.reviews[0].merge,
        Some(AutoMerge::Merged),
        "{production:#?}"
    );
    assert_eq!(
        w.file("main", PRODUCTION),
        manifest(&host, "1.2.0", None).trim_end()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn github_pull_requests_merge_themselves_once_checks_pass() {
    merges_itself_once_checks_pass(FakeKind::GitHub).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gitlab_merge_requests_merge_themselves_once_the_pipeline_passes() {
    merges_itself_once_checks_pass(FakeKind::GitLab).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gitea_pull_requests_merge_themselves_once_checks_pass() {
    merges_itself_once_checks_pass(FakeKind::Gitea).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_persons_commit_on_batons_branch_is_never_merged_automatically() {
    for kind in [FakeKind::GitHub, FakeKind::GitLab, FakeKind::Gitea] {
        let mut w = PromotionWorld::new(AUTO, Some(kind)).await;
        let forge = w.forge.take().unwrap();
        forge.track_remote(&w.remote.path);
        w.push_tag("1.1.0").await;
        w.pass_at(hours_from_now(0)).await;
        let report = w.pass_at(hours_from_now(25)).await;
        assert_eq!(
            env(&report, "production").reviews[0].merge,
            Some(AutoMerge::Scheduled),
            "{kind:?}"
        );

        // A person pushes a commit of their own onto Baton's branch.
        let work = &w.writer.work.clone();
        git(
            work,
            &["fetch", "--quiet", "origin", "baton/production/app"],
        );
        git(work, &["checkout", "--quiet", "-B", "person", "FETCH_HEAD"]);
        std::fs::write(work.join("clusters/production/extra.yaml"), "debug: true\n").unwrap();
        git(work, &["add", "-A"]);
        git(work, &["commit", "--quiet", "-m", "turn on debugging"]);
        git(
            work,
            &["push", "--quiet", "origin", "person:baton/production/app"],
        );
        git(work, &["checkout", "--quiet", "main"]);
        let persons = w.remote.head("baton/production/app");
        let merges_before = merge_calls(&forge);

        // The next pass leaves the branch alone, does not merge, and turns off the merge it
        // had scheduled: when the checks pass later, the forge does not merge it either.
        let report = w.pass_at(hours_from_now(26)).await;
        let production = env(&report, "production");
        assert!(!production.reviews.is_empty(), "{kind:?}: {report:#?}");
        let merge = production.reviews[0].merge.clone();
        assert!(
            matches!(&merge, Some(AutoMerge::Refused(why))
                if why.contains("a person changed it") && why.contains("the merge baton had scheduled is turned off")),
            "{kind:?}: {production:#?}"
        );
        assert!(
            production
                .waiting
                .iter()
                .any(|w| w.reason.contains("is not merged automatically")),
            "{production:#?}"
        );
        assert_eq!(
            merge_calls(&forge),
            merges_before,
            "{kind:?}: no merge asked"
        );
        assert!(!forge.pulls()[0].auto_merge, "{kind:?}");
        assert_eq!(
            w.remote.head("baton/production/app"),
            persons,
            "not pushed over"
        );
        forge.set_gate(GREEN);
        assert!(!forge.pulls()[0].merged, "{kind:?}");
        let entry = baton::daemon::status::ReviewEntry::from(&production.reviews[0]);
        assert!(
            entry
                .to_string()
                .contains("auto-merge: not merged automatically"),
            "{entry}"
        );

        // An amended head (the person rewrote Baton's commit in place) is refused too.
        git(
            work,
            &["fetch", "--quiet", "origin", "baton/production/app"],
        );
        git(
            work,
            &["checkout", "--quiet", "-B", "person", "FETCH_HEAD~1"],
        );
        git(
            work,
            &[
                "commit",
                "--quiet",
                "--amend",
                "--no-edit",
                "--reset-author",
            ],
        );
        git(
            work,
            &[
                "push",
                "--quiet",
                "--force",
                "origin",
                "person:baton/production/app",
            ],
        );
        git(work, &["checkout", "--quiet", "main"]);
        let report = w.pass_at(hours_from_now(27)).await;
        let production = env(&report, "production");
        assert!(
            matches!(&production.reviews[0].merge, Some(AutoMerge::Refused(_))),
            "{kind:?}: {production:#?}"
        );
        assert!(!forge.pulls()[0].merged, "{kind:?}");
        if kind == FakeKind::GitHub {
            let bodies: Vec<_> = forge
                .requests()
                .into_iter()
                .filter(|r| r.path == "/api/graphql")
                .map(|r| r.body)
                .collect();
            assert_eq!(bodies.len(), 2, "enable, then disable");
            check_graphql(&bodies);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fork_pull_request_on_batons_branch_name_is_never_merged() {
    let mut w = PromotionWorld::new(AUTO, Some(FakeKind::GitHub)).await;
    let forge = w.forge.take().unwrap();
    forge.track_remote(&w.remote.path);
    forge.set_gate(GREEN);
    let fork = forge.add_foreign(
        "mallory",
        "mallory/fleet",
        "baton/production/app",
        "<!-- baton:review production app 1.1.0 -->",
        true,
    );
    w.push_tag("1.1.0").await;
    w.pass_at(hours_from_now(0)).await;
    let report = w.pass_at(hours_from_now(25)).await;
    let production = env(&report, "production");
    // Baton opens its own pull request and merges that one; the others stay untouched.
    let ReviewAction::Opened { number, .. } = production.reviews[0].action else {
        panic!("{production:#?}");
    };
    assert_ne!(number, fork);
    assert_eq!(production.reviews[0].merge, Some(AutoMerge::Merged));
    let pulls = forge.pulls();
    let p = pulls.iter().find(|p| p.number == fork).unwrap();
    assert!(!p.merged && p.open && !p.auto_merge, "{p:?}");
    assert!(
        forge
            .requests()
            .iter()
            .all(|r| !r.path.ends_with(&format!("/pulls/{fork}/merge")))
    );
}

fn merge_calls(forge: &crate::support::fake_forge::FakeForge) -> usize {
    forge
        .requests()
        .iter()
        .filter(|r| r.method != "DELETE" && r.path.ends_with("/merge"))
        .count()
}
