//! One daemon, several repositories (`[repositories.NAME]`), against real bare remotes and the
//! real registry: each image is listed once per scan however many repositories use it (counted
//! in the registry's own access log), a remote that is down holds up no other, a rejected push
//! in one is fetched, re-applied and retried, and a reload adds and removes repositories
//! without restarting the others.

use std::path::Path;

use crate::support::daemon::{Daemon, PATIENCE, STAGING, wait_until};
use crate::support::git_server::{BRANCH, BareRepo, free_port, git, write};
use crate::support::registry::LocalRegistry;
use crate::support::world::World;

/// The registry's request line for listing `team/app`'s tags.
const TAGS_LIST: &str = "GET /v2/team/app/tags/list";

/// A world whose registry keeps an access log, with `team/app:1.0.0`.
async fn world() -> World {
    let world = World::with_registry(LocalRegistry::start_with_access_log());
    world.registry.push_image("team/app", "1.0.0").await;
    world
}

/// A bare remote whose staging manifest points at `team/app:1.0.0` in `host`.
fn remote(host: &str) -> BareRepo {
    let repo = BareRepo::seeded();
    repo.writer().commit_and_push(
        STAGING,
        &format!("image: {host}/team/app:1.0.0 # {{\"$imagepolicy\": \"flux-system:app\"}}\n"),
        "Point staging at the local registry",
    );
    repo
}

/// A `[repositories.NAME]` section and its staging environment.
fn repository(name: &str, url: &str, extra: &str) -> String {
    format!(
        "[repositories.{name}]\nurl = \"{url}\"\nbranch = \"{BRANCH}\"\nauthor_name = \"baton\"\nauthor_email = \"baton@example.com\"\n{extra}\n[environments.{name}-staging]\nrepository = \"{name}\"\npaths = [\"clusters/staging\"]\n\n"
    )
}

/// The host configuration: the daemon, the registry, `app` on a 10s interval, `repositories`.
fn config(world: &World, port: u16, repositories: &str) -> String {
    format!(
        "[daemon]\nlisten = \"127.0.0.1:{port}\"\nstate_dir = \"{state}\"\n\n[registries.\"{host}\"]\ninsecure = true\n\n[images.app]\nrepository = \"{host}/team/app\"\ninterval = \"10s\"\n\n[policies.app]\nimage = \"app\"\nsemver = \"1.x\"\n\n{repositories}",
        state = world.state_dir().display(),
        host = world.host(),
    )
}

fn staging(repo: &BareRepo) -> String {
    git(&repo.path, &["show", &format!("{BRANCH}:{STAGING}")])
}

fn wait_moved(repo: &BareRepo, tag: &str, what: &str) {
    let needle = format!("team/app:{tag} ");
    wait_until(PATIENCE, what, || {
        staging(repo).contains(&needle).then_some(())
    });
}

/// The `repository` field of the events with `message`.
fn repositories_of(daemon: &Daemon, message: &str) -> Vec<String> {
    daemon
        .events()
        .into_iter()
        .filter(|e| e["message"] == message)
        .filter_map(|e| e["repository"].as_str().map(str::to_string))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_repositories_share_each_scan_and_a_down_one_holds_up_none() {
    let world = world().await;
    let host = world.host();
    let (fleet, payments) = (remote(&host), remote(&host));
    let down = world.dir.path().join("gone/down.git");
    let port = free_port();
    let text = config(
        &world,
        port,
        &format!(
            "{}{}{}",
            repository("fleet", &fleet.path_url(), ""),
            repository("payments", &payments.path_url(), ""),
            repository("down", &down.display().to_string(), ""),
        ),
    );
    std::fs::write(world.config_path(), &text).unwrap();
    let check = world.baton(&["check"]).run();
    assert_eq!(check.code, 0, "{}", check.both());
    assert!(
        check.stdout.contains("repository payments: ")
            && check.stdout.contains("environments: payments-staging"),
        "{}",
        check.both()
    );

    let mut daemon = world.daemon(port, &[]);
    // Both reachable repositories are reconciled while the third cannot even be cloned.
    for name in ["fleet", "payments"] {
        daemon.wait_event("reconciled: nothing to move", |e| e["repository"] == name);
    }
    daemon.wait_event("cannot prepare the clone", |e| e["repository"] == "down");
    world.registry.push_image("team/app", "1.1.0").await;
    wait_moved(&fleet, "1.1.0", "fleet to move to 1.1.0");
    wait_moved(&payments, "1.1.0", "payments to move to 1.1.0");

    // One listing per scan of the image, whichever repositories use it: the registry's own
    // log and the daemon's count agree, and both repositories moved on the same scans.
    let scans = wait_until(PATIENCE, "the scan count to settle", || {
        let metrics = daemon.metrics();
        let scans = metrics.get(r#"baton_scans_total{image="app"}"#).copied()? as usize;
        (world.registry.requests(TAGS_LIST) == scans).then_some(scans)
    });
    assert!(scans >= 2, "{scans} scans");
    for name in ["fleet", "payments"] {
        // The remote has the commit a moment before the daemon records its push.
        let key = format!(r#"baton_pushes_total{{repository="{name}",result="ok"}}"#);
        wait_until(PATIENCE, &key, || {
            (daemon.metrics().get(&key) == Some(&1.0)).then_some(())
        });
        let metrics = daemon.metrics();
        let key = format!(r#"baton_repository_last_sync_timestamp_seconds{{repository="{name}"}}"#);
        assert!(metrics.get(&key).is_some_and(|t| *t > 1.7e9), "{key}");
    }
    let metrics = daemon.metrics();
    assert_eq!(
        metrics.get(r#"baton_pushes_total{repository="down",result="ok"}"#),
        Some(&0.0)
    );
    // The board's timeline has both repositories' moves, each named.
    let (code, board) = daemon.get("/").unwrap();
    assert_eq!(code, 200, "{board}");
    for name in ["fleet", "payments"] {
        assert!(
            board.contains(&format!(
                "<span class=\"repository\">{name}</span> <strong>{name}-staging</strong>"
            )),
            "{board}"
        );
    }

    // Status per repository; the down one says why, and readiness names it.
    let status = daemon.status();
    let repos = &status["repositories"];
    assert!(repos["fleet"]["git"]["last_sync"].is_string(), "{status:#}");
    assert!(repos["payments"]["git"]["head"].is_string(), "{status:#}");
    assert!(
        repos["down"]["git"]["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("down.git")),
        "{status:#}"
    );
    assert_eq!(
        status["environments"]["payments-staging"]["repository"],
        "payments"
    );
    assert_eq!(
        status["environments"]["payments-staging"]["outcome"],
        "pushed to main"
    );
    let (code, body) = daemon.get("/readyz").unwrap();
    assert_eq!(code, 503, "{body}");
    assert!(body.contains("repository down"), "{body}");
    let text = world.baton(&["status"]).run();
    assert!(text.stdout.contains("repositories:"), "{}", text.both());
    assert!(text.stdout.contains("  down ("), "{}", text.both());
    assert!(
        text.stdout
            .contains("payments-staging (payments): pushed to main"),
        "{}",
        text.both()
    );

    // Each repository's history is its own.
    let history = world.baton(&["history", "--repository", "payments"]).run();
    assert_eq!(history.code, 0, "{}", history.both());
    assert!(history.stdout.contains("1.1.0"), "{}", history.both());
    let unnamed = world.baton(&["history"]).run();
    assert_ne!(unnamed.code, 0);
    assert!(
        unnamed.stderr.contains(
            "has several repositories (down, fleet, payments): name one with --repository NAME"
        ),
        "{}",
        unnamed.both()
    );
}

/// A pre-receive hook that, on its first run only, pushes a hand edit straight to `repo` (the
/// nested run sees the lock and does nothing), so that Baton's push in flight is rejected.
fn race_first_push(repo: &BareRepo, dir: &Path) {
    let writer = repo.writer();
    let lock = dir.join("race-lock");
    let script = format!(
        "#!/bin/sh\ncat >/dev/null\nif mkdir '{lock}' 2>/dev/null; then\n\
         env -i PATH=\"$PATH\" GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null sh -c '\
         cd \"{work}\" && git pull -q --ff-only origin {BRANCH} && printf \"hand edit\\n\" >> README.md && \
         git -c user.name=Other -c user.email=other@example.com commit -qam \"Hand edit during the push\" && \
         git push -q origin {BRANCH}' >/dev/null 2>&1 || exit 1\nfi\nexit 0\n",
        lock = lock.display(),
        work = writer.work.display(),
    );
    let hook = repo.path.join("hooks/pre-receive");
    write(&hook, &script);
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).unwrap();
    // The writer's clone must outlive this function: keep its directory.
    std::mem::forget(writer);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_push_is_retried_and_a_reload_adds_and_removes_repositories() {
    let world = world().await;
    let host = world.host();
    let (fleet, payments, added) = (remote(&host), remote(&host), remote(&host));
    race_first_push(&payments, world.dir.path());
    let port = free_port();
    let two = format!(
        "{}{}",
        repository("fleet", &fleet.path_url(), ""),
        repository("payments", &payments.path_url(), "push_retries = 3\n"),
    );
    std::fs::write(world.config_path(), config(&world, port, &two)).unwrap();
    let mut daemon = world.daemon(port, &[]);
    daemon.wait_ready();
    world.registry.push_image("team/app", "1.1.0").await;
    wait_moved(&fleet, "1.1.0", "fleet to move to 1.1.0");
    wait_moved(
        &payments,
        "1.1.0",
        "payments to move to 1.1.0 after a rejected push",
    );
    // The other writer's commit is kept under Baton's.
    let log = git(&payments.path, &["log", "--format=%s", BRANCH]);
    assert!(log.contains("Hand edit during the push"), "{log}");
    wait_until(PATIENCE, "the payments push to be recorded", || {
        (daemon
            .metrics()
            .get(r#"baton_pushes_total{repository="payments",result="ok"}"#)
            == Some(&1.0))
        .then_some(())
    });
    let metrics = daemon.metrics();
    assert_eq!(
        metrics.get(r#"baton_push_retries_total{repository="payments"}"#),
        Some(&1.0),
        "{}",
        daemon.metrics_text()
    );
    assert_eq!(
        metrics.get(r#"baton_push_retries_total{repository="fleet"}"#),
        Some(&0.0)
    );

    // Remove payments, add another: fleet's reconciler keeps running (no second clone).
    let swapped = format!(
        "{}{}",
        repository("fleet", &fleet.path_url(), ""),
        repository("added", &added.path_url(), ""),
    );
    std::fs::write(world.config_path(), config(&world, port, &swapped)).unwrap();
    daemon.wait_event("configuration reloaded", |_| true);
    wait_moved(&added, "1.1.0", "the added repository to move to 1.1.0");
    daemon.wait_event(
        "repository removed: its reconciler stops after the pass in progress",
        |e| e["repository"] == "payments",
    );
    let ready = repositories_of(&daemon, "workspace ready");
    assert_eq!(
        ready.iter().filter(|n| *n == "fleet").count(),
        1,
        "fleet was reopened: {ready:?}"
    );
    assert!(ready.contains(&"added".to_string()), "{ready:?}");
    let status = daemon.status();
    let names: Vec<&String> = status["repositories"].as_object().unwrap().keys().collect();
    assert_eq!(names, ["added", "fleet"], "{status:#}");
    let metrics = daemon.metrics_text();
    assert!(!metrics.contains("repository=\"payments\""), "{metrics}");
    // Each clone lives in its own directory under the state directory.
    for name in ["fleet", "added"] {
        let repo = world
            .state_dir()
            .join(format!("repositories/{name}/git/repo.git"));
        git(&repo, &["cat-file", "-e", &format!("HEAD:{STAGING}")]);
    }
}

/// `promote_from` naming an environment of another repository: the candidate is the version
/// that environment runs in its own repository, and the soak counts from the commit that
/// brought it there, read from that repository's history; nothing is written to it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn promotion_from_an_environment_of_another_repository() {
    let world = world().await;
    let host = world.host();
    let (fleet, payments) = (remote(&host), remote(&host));
    let payments_section = format!(
        "[repositories.payments]\nurl = \"{}\"\nbranch = \"{BRANCH}\"\nauthor_name = \"baton\"\nauthor_email = \"baton@example.com\"\n\n[environments.payments-prod]\nrepository = \"payments\"\npaths = [\"clusters/staging\"]\npromote_from = \"fleet-staging\"\nsoak = \"1h\"\n",
        payments.path_url()
    );
    let text = config(
        &world,
        free_port(),
        &format!(
            "{}{payments_section}",
            repository("fleet", &fleet.path_url(), "")
        ),
    );
    std::fs::write(world.config_path(), &text).unwrap();
    let check = world.baton(&["check"]).run();
    assert_eq!(check.code, 0, "{}", check.both());
    world.registry.push_image("team/app", "1.1.0").await;
    let once = |repository: &str, envs: &[(&str, &str)]| {
        let run = world
            .baton(&["once", "--repository", repository])
            .envs(envs)
            .run();
        assert_eq!(
            run.code,
            0,
            "once --repository {repository}: {}",
            run.both()
        );
        run
    };

    // The registry has 1.1.0, but fleet-staging still runs 1.0.0: payments-prod stays.
    let run = once("payments", &[]);
    assert!(
        staging(&payments).contains("team/app:1.0.0 "),
        "{}",
        run.both()
    );
    once("fleet", &[]);
    wait_moved(&fleet, "1.1.0", "fleet-staging to move to 1.1.0");
    let moved_at = jiff::Timestamp::now();
    let fleet_head = git(&fleet.path, &["rev-parse", BRANCH]);

    // 1.1.0 arrived in fleet-staging just now: payments-prod waits for the soak.
    let run = once("payments", &[]);
    assert!(
        run.both().contains("soaking in fleet-staging"),
        "{}",
        run.both()
    );
    assert!(
        staging(&payments).contains("team/app:1.0.0 "),
        "{}",
        run.both()
    );

    // Two hours later it has soaked: payments-prod takes fleet-staging's version.
    let later = (moved_at + jiff::SignedDuration::from_hours(2)).to_string();
    let run = once("payments", &[("BATON_NOW", &later)]);
    wait_moved(
        &payments,
        "1.1.0",
        "payments-prod to take 1.1.0 from fleet-staging",
    );
    let message = git(&payments.path, &["log", "-1", "--format=%B", BRANCH]);
    assert!(
        message.contains("fleet-staging"),
        "{message}\n{}",
        run.both()
    );

    // The source was only read, from a clone of its own under the state directory.
    assert_eq!(git(&fleet.path, &["rev-parse", BRANCH]), fleet_head);
    let source = world
        .state_dir()
        .join("sources/payments/fleet/git/repo.git");
    let text = git(&source, &["show", &format!("HEAD:{STAGING}")]);
    assert!(
        text.contains("team/app:1.1.0 "),
        "{}: {text}",
        source.display()
    );

    // In the daemon, without a soak and with hour-long git intervals: fleet's push wakes
    // payments' reconciler, which follows at once instead of an hour later.
    let port = free_port();
    let text = config(
        &world,
        port,
        &format!(
            "{}{}",
            repository("fleet", &fleet.path_url(), "interval = \"1h\"\n"),
            payments_section
                .replace("soak = \"1h\"\n", "")
                .replace("author_name", "interval = \"1h\"\nauthor_name"),
        ),
    );
    std::fs::write(world.config_path(), &text).unwrap();
    world.registry.push_image("team/app", "1.2.0").await;
    let mut daemon = world.daemon(port, &[]);
    daemon.wait_ready();
    wait_moved(&fleet, "1.2.0", "fleet-staging to move to 1.2.0");
    wait_moved(
        &payments,
        "1.2.0",
        "payments-prod to follow fleet-staging to 1.2.0",
    );
}
