//! A changed choice wakes only the repositories whose markers use it (issue 20: with 50
//! repositories in one daemon, 49 needless passes held up the one that mattered), and markers
//! committed after a repository's last pass still move at its next one. Against real bare
//! remotes and the real registry.

use crate::support::daemon::{Daemon, PATIENCE, wait_until};
use crate::support::git_server::{BRANCH, BareRepo, free_port, git};
use crate::support::world::World;

/// What the daemon logs when a scan changed a choice, with the repositories it woke.
const WAKING: &str = "a choice changed: waking the repositories that use it";

/// A marked manifest of `team/IMAGE:TAG` in `host`, using policy IMAGE.
fn manifest(host: &str, image: &str, tag: &str) -> String {
    format!("image: {host}/team/{image}:{tag} # {{\"$imagepolicy\": \"flux-system:{image}\"}}\n")
}

fn path(image: &str) -> String {
    format!("clusters/staging/{image}.yaml")
}

/// A bare remote whose staging holds a marked manifest of each of `images` at 1.0.0 and
/// no other marker.
fn remote(host: &str, images: &[&str]) -> BareRepo {
    let repo = BareRepo::seeded();
    let writer = repo.writer();
    // The seed's own app manifest, unless app is one of `images`, holds no marker.
    writer.commit_and_push(&path("app"), "replicas: 1\n", "No app here");
    for image in images {
        writer.commit_and_push(&path(image), &manifest(host, image, "1.0.0"), "Seed");
    }
    repo
}

/// Images `app` and `pay` on 10s intervals; repository `fleet` (markers of app) with an
/// hour-long git interval, `payments` (markers of pay) with `payments_interval`.
fn config(
    world: &World,
    port: u16,
    fleet: &BareRepo,
    payments: &BareRepo,
    payments_interval: &str,
) -> String {
    let host = world.host();
    let mut text = format!(
        "[daemon]\nlisten = \"127.0.0.1:{port}\"\nstate_dir = \"{}\"\n\n[registries.\"{host}\"]\ninsecure = true\n\n",
        world.state_dir().display()
    );
    for image in ["app", "pay"] {
        text.push_str(&format!(
            "[images.{image}]\nrepository = \"{host}/team/{image}\"\ninterval = \"10s\"\n[policies.{image}]\nimage = \"{image}\"\nsemver = \"1.x\"\n\n"
        ));
    }
    for (name, repo, interval) in [
        ("fleet", fleet, "1h"),
        ("payments", payments, payments_interval),
    ] {
        text.push_str(&format!(
            "[repositories.{name}]\nurl = \"{}\"\nbranch = \"{BRANCH}\"\nauthor_name = \"baton\"\nauthor_email = \"baton@example.com\"\ninterval = \"{interval}\"\n[environments.{name}-staging]\nrepository = \"{name}\"\npaths = [\"clusters/staging\"]\n\n",
            repo.path_url()
        ));
    }
    text
}

/// Waits until `repo`'s branch holds `team/IMAGE:TAG` in IMAGE's manifest.
fn wait_holds(repo: &BareRepo, image: &str, tag: &str, what: &str) {
    let needle = format!("team/{image}:{tag} ");
    wait_until(PATIENCE, what, || {
        git(&repo.path, &["show", &format!("{BRANCH}:{}", path(image))])
            .contains(&needle)
            .then_some(())
    });
}

/// `name`'s successful passes and pushes so far.
fn counts(daemon: &Daemon, name: &str) -> (f64, f64) {
    let metrics = daemon.metrics();
    let get = |metric: &str| {
        let key = format!(r#"{metric}{{repository="{name}",result="ok"}}"#);
        metrics.get(&key).copied().unwrap_or(0.0)
    };
    (get("baton_passes_total"), get("baton_pushes_total"))
}

/// Waits until `name` has pushed `pushes` times and returns its passes then.
fn passes_after_pushes(daemon: &Daemon, name: &str, pushes: f64) -> f64 {
    wait_until(PATIENCE, &format!("{name}'s push to be recorded"), || {
        let (passes, pushed) = counts(daemon, name);
        (pushed == pushes).then_some(passes)
    })
}

/// The repositories each wake-up for `image` woke, in order.
fn woken(daemon: &Daemon, image: &str) -> Vec<String> {
    daemon
        .events()
        .into_iter()
        .filter(|e| e["message"] == WAKING && e["image"] == image)
        .map(|e| e["woken"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_choice_wakes_only_the_repositories_whose_markers_use_it() {
    let world = World::start();
    for image in ["team/app", "team/pay"] {
        world.registry.push_image(image, "1.0.0").await;
    }
    let host = world.host();
    let (fleet, payments) = (remote(&host, &["app"]), remote(&host, &["pay"]));
    let port = free_port();
    std::fs::write(
        world.config_path(),
        config(&world, port, &fleet, &payments, "1h"),
    )
    .unwrap();
    let mut daemon = world.daemon(port, &[]);
    for name in ["fleet", "payments"] {
        daemon.wait_event("reconciled: nothing to move", |e| e["repository"] == name);
    }
    assert_eq!(counts(&daemon, "payments"), (1.0, 0.0));

    // A new app tag moves fleet; payments, which has no app marker, runs no pass for it.
    world.registry.push_image("team/app", "1.1.0").await;
    wait_holds(&fleet, "app", "1.1.0", "fleet to move app to 1.1.0");
    daemon.wait_event(WAKING, |e| e["image"] == "app");
    assert_eq!(woken(&daemon, "app"), ["fleet"], "{}", daemon.log());
    // A pay tag then moves payments in its second pass, and fleet runs none for it.
    world.registry.push_image("team/pay", "1.1.0").await;
    wait_holds(&payments, "pay", "1.1.0", "payments to move pay to 1.1.0");
    assert_eq!(
        passes_after_pushes(&daemon, "payments", 1.0),
        2.0,
        "{}",
        daemon.metrics_text()
    );
    assert_eq!(
        passes_after_pushes(&daemon, "fleet", 1.0),
        2.0,
        "{}",
        daemon.metrics_text()
    );
    assert_eq!(woken(&daemon, "pay"), ["payments"], "{}", daemon.log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn markers_committed_after_a_pass_move_at_the_next_and_then_wake_it() {
    let world = World::start();
    for image in ["team/app", "team/pay"] {
        world.registry.push_image(image, "1.0.0").await;
    }
    let host = world.host();
    let (fleet, payments) = (remote(&host, &["app"]), remote(&host, &["pay"]));
    let port = free_port();
    std::fs::write(
        world.config_path(),
        config(&world, port, &fleet, &payments, "10s"),
    )
    .unwrap();
    let mut daemon = world.daemon(port, &[]);
    for name in ["fleet", "payments"] {
        daemon.wait_event("reconciled: nothing to move", |e| e["repository"] == name);
    }
    // Someone adds an app marker to payments after its first pass.
    payments.writer().commit_and_push(
        &path("app"),
        &manifest(&host, "app", "1.0.0"),
        "Run app in payments too",
    );
    world.registry.push_image("team/app", "1.1.0").await;
    wait_holds(&fleet, "app", "1.1.0", "fleet to move app to 1.1.0");
    // Payments' next pass (its git interval, if the change did not wake it) moves it too.
    wait_holds(
        &payments,
        "app",
        "1.1.0",
        "payments to move its new app marker to 1.1.0",
    );

    // From then on an app change wakes payments as well (or, arriving during one of its
    // passes, runs another after it): both move to 1.2.0.
    world.registry.push_image("team/app", "1.2.0").await;
    wait_holds(&fleet, "app", "1.2.0", "fleet to move app to 1.2.0");
    wait_holds(&payments, "app", "1.2.0", "payments to move app to 1.2.0");
    let events = daemon.events();
    let woke_payments = events.iter().any(|e| {
        e["message"] == WAKING
            && e["image"] == "app"
            && e["woken"]
                .as_str()
                .is_some_and(|w| w.split(',').any(|n| n == "payments"))
    }) || events.iter().any(|e| {
        e["message"] == "a choice it uses changed during the pass: another pass follows"
            && e["repository"] == "payments"
    });
    assert!(woke_payments, "{}", daemon.log());
}
