//! Rules in the repository, end to end with `baton once` against a real registry and a bare
//! remote: Flux's own objects in the layout of Flux's image-update guide, Baton's own rules
//! file, rule changes landing by commit, invalid rule commits refused while the last good rules
//! keep working, and the host's fence that the repository cannot lift.

use crate::support::flux_fleet::{
    DEPLOYMENT, FluxFleet, POLICY_OBJECT, REGISTRY_OBJECT, policy_object,
};
use crate::support::git_server::BRANCH;

fn trailer(message: &str, key: &str) -> Option<String> {
    message
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{key}: ")))
        .map(str::to_string)
}

/// The changed lines of a diff: (`-` lines, `+` lines) and the files named.
fn changes(diff: &str) -> (Vec<String>, Vec<String>, Vec<String>) {
    let mut files = Vec::new();
    let mut removed = Vec::new();
    let mut added = Vec::new();
    for line in diff.lines() {
        if let Some(path) = line.strip_prefix("+++ b/") {
            files.push(path.to_string());
        } else if line.starts_with("+++") || line.starts_with("---") {
        } else if let Some(l) = line.strip_prefix('-') {
            removed.push(l.to_string());
        } else if let Some(l) = line.strip_prefix('+') {
            added.push(l.to_string());
        }
    }
    (files, removed, added)
}

#[tokio::test]
async fn flux_objects_drive_the_same_commits_and_rule_commits_take_effect_on_the_next_pass() {
    let fleet = FluxFleet::start().await;
    fleet.write_config("flux:clusters/my-cluster", "");
    let image = fleet.image();

    // `baton check` reads the objects from the clone and names the fields it does not use.
    let check = fleet.baton(&["check", "--repo"]).run();
    assert_eq!(check.code, 0, "{}", check.both());
    assert!(
        check
            .stderr
            .contains("clusters/my-cluster/flux-system-automation.yaml:16:24@")
            && check
                .stderr
                .contains("spec.git.commit.messageTemplate: not used by Baton"),
        "{}",
        check.both()
    );

    // The first pass writes what Flux's controllers would: 5.0.x chooses 5.0.3, the one marked
    // line of the Deployment changes and nothing else.
    let run = fleet.once();
    assert_eq!(run.code, 0, "{}", run.both());
    let first = fleet.head();
    let (files, removed, added) = changes(&fleet.diff(&first));
    assert_eq!(files, vec![DEPLOYMENT.to_string()]);
    assert_eq!(
        removed,
        vec![format!(
            "        image: {image}:5.0.0 # {{\"$imagepolicy\": \"flux-system:podinfo\"}}"
        )]
    );
    assert_eq!(
        added,
        vec![format!(
            "        image: {image}:5.0.3 # {{\"$imagepolicy\": \"flux-system:podinfo\"}}"
        )]
    );
    let message = fleet.message(&first);
    assert_eq!(
        message.lines().next(),
        Some("flux-system: flux-system:podinfo 5.0.0 -> 5.0.3"),
        "{message}"
    );
    assert_eq!(
        trailer(&message, "Baton-Policy").as_deref(),
        Some("flux-system:podinfo (semver 5.0.x)")
    );
    assert_eq!(
        trailer(&message, "Baton-Rules").as_deref(),
        Some(fleet.seeded.as_str()),
        "{message}"
    );

    // A person widens the range by a commit: the next pass applies it and names it.
    let widened = fleet.commit(POLICY_OBJECT, &policy_object("5.x"), "podinfo: follow 5.x");
    let run = fleet.once();
    assert_eq!(run.code, 0, "{}", run.both());
    let second = fleet.head();
    assert_ne!(second, widened);
    let (_, _, added) = changes(&fleet.diff(&second));
    assert_eq!(
        added,
        vec![format!(
            "        image: {image}:5.1.0 # {{\"$imagepolicy\": \"flux-system:podinfo\"}}"
        )]
    );
    assert_eq!(
        trailer(&fleet.message(&second), "Baton-Rules").as_deref(),
        Some(widened.as_str())
    );

    // An invalid change is refused with its place, commit and author; the last good rules
    // (5.x) keep working: a new 5.x tag still moves.
    let broken = fleet.commit(
        POLICY_OBJECT,
        &policy_object("'five point x'"),
        "podinfo: typo",
    );
    fleet
        .registry
        .push_image("stefanprodan/podinfo", "5.2.0")
        .await;
    let run = fleet.once();
    assert_eq!(
        run.code,
        1,
        "a refused rules change fails the run: {}",
        run.both()
    );
    let short = &broken[..12];
    assert!(
        run.stderr.contains(&format!(
            "clusters/my-cluster/podinfo-policy.yaml:11:14@{short}: spec.policy.semver.range:"
        )),
        "{}",
        run.both()
    );
    assert!(
        run.stderr.contains(&format!(
            "rules at {short} by Other Writer <other@example.com> refused"
        )),
        "{}",
        run.both()
    );
    let third = fleet.head();
    assert_ne!(third, broken);
    let (_, _, added) = changes(&fleet.diff(&third));
    assert_eq!(
        added,
        vec![format!(
            "        image: {image}:5.2.0 # {{\"$imagepolicy\": \"flux-system:podinfo\"}}"
        )]
    );
    assert_eq!(
        trailer(&fleet.message(&third), "Baton-Rules").as_deref(),
        Some(widened.as_str())
    );

    // `baton history` says whose rules let each move happen.
    let history = fleet.baton(&["history"]).run();
    assert_eq!(history.code, 0, "{}", history.both());
    let row = history
        .stdout
        .lines()
        .find(|l| l.contains("5.0.3 -> 5.1.0"))
        .unwrap_or_else(|| panic!("{}", history.both()));
    assert!(
        row.contains(&format!(
            "{} by Other Writer <other@example.com>",
            &widened[..12]
        )),
        "{}",
        history.both()
    );

    // The fix lands: the error is gone and the fixed rules are in force.
    let fixed = fleet.commit(
        POLICY_OBJECT,
        &policy_object("5.x"),
        "podinfo: fix the range",
    );
    let run = fleet.once();
    assert_eq!(run.code, 0, "{}", run.both());
    assert!(!run.stderr.contains("refused"), "{}", run.both());
    assert_eq!(fleet.head(), fixed, "nothing to move under the fixed rules");

    // The ImageRepository names a registry host the host has not configured: refused.
    let text = fleet.show(&fixed, REGISTRY_OBJECT);
    let elsewhere = text.replace(&fleet.host(), "registry.invalid:5000");
    let foreign = fleet.commit(REGISTRY_OBJECT, &elsewhere, "podinfo: move registry");
    let run = fleet.once();
    assert_eq!(run.code, 1, "{}", run.both());
    assert!(
        run.stderr.contains(&format!(
            "clusters/my-cluster/podinfo-registry.yaml:8:10@{}: spec.image: registry \"registry.invalid:5000\" is not configured on this host",
            &foreign[..12]
        )),
        "{}",
        run.both()
    );
}

/// Baton's own rules file for the podinfo image, with production's mode as given.
fn rules_file(host: &str, production_mode: Option<&str>) -> String {
    let mode = production_mode
        .map(|m| format!("mode = \"{m}\"\n"))
        .unwrap_or_default();
    format!(
        "# Promotion rules, reviewed like everything else.\n\
         [images.podinfo]\nrepository = \"{host}/stefanprodan/podinfo\"\n\n\
         [policies.podinfo]\nimage = \"podinfo\"\nsemver = \"5.0.x\"\n\n\
         [environments.staging]\npaths = [\"clusters/staging\"]\nmode = \"push\"\n\n\
         [environments.production]\npaths = [\"clusters/production\"]\n{mode}"
    )
}

#[tokio::test]
async fn a_fenced_environment_stays_in_review_whatever_the_repository_says() {
    let fleet = FluxFleet::start().await;
    let host = fleet.host();
    let marked = |version: &str| {
        format!("image: {host}/stefanprodan/podinfo:{version} # {{\"$baton\": \"podinfo\"}}\n")
    };
    fleet.commit("clusters/staging/app.yaml", &marked("5.0.0"), "staging app");
    fleet.commit(
        "clusters/production/app.yaml",
        &marked("5.0.0"),
        "production app",
    );
    let good = fleet.commit("baton.toml", &rules_file(&host, None), "promotion rules");
    fleet.write_config(
        "baton.toml",
        "[rules]\nreview_required = [\"production\"]\n",
    );

    let run = fleet.once();
    assert_eq!(run.code, 0, "{}", run.both());
    let head = fleet.head();
    assert_eq!(
        fleet.show(&head, "clusters/staging/app.yaml"),
        marked("5.0.3").trim_end()
    );
    assert_eq!(
        fleet.show(&head, "clusters/production/app.yaml"),
        marked("5.0.0").trim_end(),
        "production is fenced: it moves by review only"
    );
    assert!(
        fleet.remote.head("baton/production/podinfo").is_some(),
        "{}",
        run.both()
    );
    assert_eq!(
        trailer(&fleet.message(&head), "Baton-Rules").as_deref(),
        Some(good.as_str())
    );

    // The repository tries to switch production to push mode: refused at its line.
    let push = fleet.commit(
        "baton.toml",
        &rules_file(&host, Some("push")),
        "production: push straight to main",
    );
    fleet
        .registry
        .push_image("stefanprodan/podinfo", "5.0.4")
        .await;
    let run = fleet.once();
    assert_eq!(run.code, 1, "{}", run.both());
    assert!(
        run.stderr.contains(&format!(
            "baton.toml:15:1@{}: environments.production.mode: production must stay in review mode: the host's [rules] review_required names it",
            &push[..12]
        )),
        "{}",
        run.both()
    );
    // The last good rules keep working: staging moves on, production still only by review.
    let head = fleet.head();
    assert_eq!(
        fleet.show(&head, "clusters/staging/app.yaml"),
        marked("5.0.4").trim_end()
    );
    assert_eq!(
        fleet.show(&head, "clusters/production/app.yaml"),
        marked("5.0.0").trim_end()
    );
    assert_eq!(
        trailer(&fleet.message(&head), "Baton-Rules").as_deref(),
        Some(good.as_str())
    );
    assert_eq!(fleet.remote.head(BRANCH).unwrap(), head);

    // A hostile change: the rules file becomes a link out of the repository. It is never
    // followed; the change is refused and the last good rules still apply.
    let link = fleet.commit_symlink("baton.toml", "/etc/passwd", "rules: a link");
    fleet
        .registry
        .push_image("stefanprodan/podinfo", "5.0.5")
        .await;
    let run = fleet.once();
    assert_eq!(run.code, 1, "{}", run.both());
    assert!(
        run.stderr.contains(&format!(
            "baton.toml@{}: the rules file is a symbolic link",
            &link[..12]
        )),
        "{}",
        run.both()
    );
    let head = fleet.head();
    assert_eq!(
        fleet.show(&head, "clusters/staging/app.yaml"),
        marked("5.0.5").trim_end()
    );
    assert_eq!(
        trailer(&fleet.message(&head), "Baton-Rules").as_deref(),
        Some(good.as_str())
    );
}

#[tokio::test]
async fn check_validates_a_rules_file_offline_and_names_both_places_of_a_duplicate() {
    let fleet = FluxFleet::start().await;
    let host = fleet.host();
    let rules = fleet.dir.path().join("checkout-baton.toml");
    std::fs::write(&rules, rules_file(&host, Some("sideways"))).unwrap();
    let config = fleet.write_config(
        "baton.toml",
        &format!("[images.podinfo]\nrepository = \"{host}/stefanprodan/podinfo\"\n"),
    );
    let run = fleet
        .baton(&["check", "--rules", rules.to_str().unwrap()])
        .run();
    assert_eq!(run.code, 1, "{}", run.both());
    let shown_rules = rules.display().to_string();
    assert!(
        run.stderr.contains(&format!(
            "{shown_rules}:15:1: environments.production.mode: \"sideways\" is not a mode"
        )),
        "{}",
        run.both()
    );
    assert!(
        run.stderr.contains(&format!(
            "{shown_rules}:2:9: images.podinfo: defined both here and at {}:",
            config.display()
        )),
        "{}",
        run.both()
    );

    // Without a host configuration the file is checked on its own (CI before merge).
    std::fs::write(&rules, rules_file(&host, None)).unwrap();
    let run = crate::support::baton::Baton::new(["check", "--rules", rules.to_str().unwrap()])
        .env("BATON_CONFIG", fleet.dir.path().join("absent.toml"))
        .run();
    assert_eq!(run.code, 0, "{}", run.both());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_reads_rules_each_pass_and_reports_a_refusal_in_status_and_once_by_notification()
{
    use crate::support::daemon::{PATIENCE, wait_until};
    use crate::support::fake_forge::{FakeForge, FakeKind};
    let fleet = FluxFleet::start().await;
    let host = fleet.host();
    let marked = |version: &str| {
        format!("image: {host}/stefanprodan/podinfo:{version} # {{\"$baton\": \"podinfo\"}}\n")
    };
    fleet.commit("clusters/staging/app.yaml", &marked("5.0.0"), "staging app");
    fleet.commit(
        "clusters/production/app.yaml",
        &marked("5.0.0"),
        "production app",
    );
    let good = fleet.commit("baton.toml", &rules_file(&host, None), "promotion rules");
    let inbox = crate::support::inbox::Inbox::start();
    let url_file = fleet.dir.path().join("hook-url");
    std::fs::write(&url_file, format!("{}\n", inbox.url())).unwrap();
    // A forge: the refused rules commit gets a failing commit status there, once.
    let forge = FakeForge::start(FakeKind::GitHub, "platform/fleet", "forge-token-rules").await;
    let token_file = fleet.dir.path().join("forge-token");
    std::fs::write(&token_file, "forge-token-rules\n").unwrap();
    let port = crate::support::git_server::free_port();
    fleet
        .config("baton.toml")
        .text_value("daemon", "listen", &format!("127.0.0.1:{port}"))
        .text_value("git", "interval", "10s")
        .raw(&format!(
            "[rules]\nreview_required = [\"production\"]\n\n[notifications.audit]\nkind = \"webhook\"\nurl_file = \"{}\"\n\n{}",
            url_file.display(),
            forge.config_section(&token_file)
        ))
        .write();

    let mut daemon = fleet.daemon(port, &[]);
    daemon.wait_ready();
    wait_until(
        PATIENCE,
        "the first pass under the repository's rules",
        || {
            let status = daemon.status();
            (status["rules"]["applied"] == good.as_str()).then_some(())
        },
    );
    wait_until(PATIENCE, "staging to move", || {
        (fleet.show(&fleet.head(), "clusters/staging/app.yaml") == marked("5.0.3").trim_end())
            .then_some(())
    });

    let bad = fleet.commit(
        "baton.toml",
        &rules_file(&host, Some("push")),
        "production: push straight to main",
    );
    let status = wait_until(PATIENCE, "the refusal in the status", || {
        let status = daemon.status();
        (status["rules"]["refused"]["commit"] == bad.as_str()).then_some(status)
    });
    assert_eq!(status["rules"]["applied"], good.as_str(), "{status:#}");
    assert_eq!(
        status["rules"]["refused"]["author"],
        "Other Writer <other@example.com>"
    );
    let error = status["rules"]["refused"]["errors"][0]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        error.starts_with(&format!(
            "baton.toml:15:1@{}: environments.production.mode: production must stay in review mode",
            &bad[..12]
        )),
        "{error}"
    );
    let refused = wait_until(PATIENCE, "the rules_refused notification", || {
        let refused: Vec<_> = inbox
            .json()
            .into_iter()
            .filter(|b| b["event"] == "rules_refused")
            .collect();
        (!refused.is_empty()).then_some(refused)
    });
    assert_eq!(refused[0]["commit"], bad.as_str());
    assert_eq!(refused[0]["errors"][0], error.as_str());
    // Another pass under the same refusal sends nothing new, and the log names it each pass.
    let passes = |log: &str| log.matches("rules change refused").count();
    let seen = passes(&daemon.log());
    wait_until(PATIENCE, "another pass", || {
        (passes(&daemon.log()) > seen).then_some(())
    });
    let count = inbox
        .json()
        .iter()
        .filter(|b| b["event"] == "rules_refused")
        .count();
    assert_eq!(count, 1, "one notification per refused commit");
    // The refused commit carries a failing `baton/rules` status with the first error; the
    // good rules commit none; and only once, however many passes run under the refusal.
    let statuses = forge.statuses();
    assert_eq!(statuses.len(), 1, "{statuses:#?}");
    assert_eq!(statuses[0].sha, bad);
    assert_eq!(statuses[0].state, "failure");
    assert_eq!(statuses[0].context, "baton/rules");
    assert!(
        statuses[0]
            .description
            .starts_with("rules refused, the last good rules stay in force: baton.toml:15:1@"),
        "{statuses:#?}"
    );
    assert!(statuses[0].description.chars().count() <= 140);
}
