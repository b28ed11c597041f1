//! `baton run` reloads: by a change of the file (rename-replace and a config-map style
//! symlink swap) and by SIGHUP, with valid and invalid configurations.

use crate::support::daemon::{Daemon, DaemonFleet, PATIENCE, STAGING, wait_until};
use crate::support::git_server::git;
use std::os::unix::fs::symlink;

fn reload_count(daemon: &Daemon, result: &str) -> f64 {
    daemon
        .metrics()
        .get(&format!("baton_reloads_total{{result=\"{result}\"}}"))
        .copied()
        .unwrap_or(0.0)
}

/// How many times the daemon found the file touched but unchanged (a debug event).
fn unchanged_count(daemon: &Daemon) -> usize {
    daemon
        .events()
        .iter()
        .filter(|e| e["message"] == "configuration file touched but unchanged")
        .count()
}

fn web_image(fleet: &DaemonFleet) -> String {
    format!(
        "\n[images.web]\nrepository = \"{}/team/web\"\ninterval = \"10s\"\n\n[policies.web]\nimage = \"web\"\nsemver = \"2.x\"\n",
        fleet.registry.host()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replaced_file_adds_and_removes_images_without_a_restart() {
    let fleet = DaemonFleet::start().await;
    fleet.registry.push_image("team/web", "2.0.0").await;
    fleet.registry.push_image("team/web", "2.1.0").await;
    fleet.write_config(&fleet.config_text(""));
    let mut notify = fleet.notify_socket();
    let socket = notify.path.display().to_string();
    let mut daemon = fleet.run(&[("NOTIFY_SOCKET", &socket)]);
    let ready = notify.wait_for("READY=1", 0);
    daemon.wait_ready();
    daemon.wait_event("reconciled: nothing to move", |_| true);

    // Add an image: saved the way editors do, by renaming a new file over the old one.
    fleet.replace_config(&fleet.config_text(&web_image(&fleet)));
    let reloading = notify.wait_for("RELOADING=1", ready);
    notify.wait_for("READY=1", reloading);
    let event = daemon.wait_event("configuration reloaded", |_| true);
    assert_eq!(event["trigger"], "file change");
    assert!(
        event["changes"].as_str().unwrap().contains("images +web"),
        "{event}"
    );
    let status = wait_until(PATIENCE, "the new image's first scan", || {
        let status = daemon.status();
        (status["images"]["web"]["policies"]["web"]["chosen"] == "2.1.0").then_some(status)
    });
    assert_eq!(status["images"]["web"]["tag_count"], 2);
    assert!(status["images"]["app"]["last_scan"].is_string());
    assert_eq!(reload_count(&daemon, "ok"), 1.0);

    // Remove the first image: its status and metric series go, the daemon keeps running.
    let without_app = fleet
        .config_text(&web_image(&fleet))
        .replace("[policies.app]\nimage = \"app\"\nsemver = \"1.x\"\n", "")
        .replace(
            &format!(
                "[images.app]\nrepository = \"{}/team/app\"\ninterval = \"10s\"\n",
                fleet.registry.host()
            ),
            "",
        );
    assert!(!without_app.contains("images.app"), "{without_app}");
    fleet.replace_config(&without_app);
    let event = daemon.wait_event("configuration reloaded", |e| {
        e["changes"].as_str().unwrap_or("").contains("-app")
    });
    assert!(
        event["changes"].as_str().unwrap().contains("policies -app"),
        "{event}"
    );
    let status = daemon.status();
    assert!(status["images"].get("app").is_none(), "{status}");
    assert!(status["images"].get("web").is_some(), "{status}");
    let metrics = daemon.metrics();
    assert!(!metrics.contains_key(r#"baton_scans_total{image="app"}"#));
    assert_eq!(metrics["baton_images"], 1.0);
    assert_eq!(reload_count(&daemon, "ok"), 2.0);

    // Touching the file without changing it is not a reload: the daemon reads it, says so,
    // and counts nothing.
    let touched_before = unchanged_count(&daemon);
    fleet.replace_config(&without_app);
    wait_until(PATIENCE, "the daemon to read the touched file", || {
        (unchanged_count(&daemon) > touched_before).then_some(())
    });
    assert_eq!(reload_count(&daemon, "ok"), 2.0);
    assert_eq!(reload_count(&daemon, "failed"), 0.0);
    let reloading = daemon
        .events()
        .iter()
        .filter(|e| e["message"] == "reloading the configuration")
        .count();
    assert_eq!(reloading, 2, "{}", daemon.log());

    daemon.signal(libc::SIGTERM);
    assert_eq!(daemon.wait_exit().code(), Some(0), "{}", daemon.log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_refuses_an_invalid_config_and_keeps_working() {
    let fleet = DaemonFleet::start().await;
    fleet.write_config(&fleet.config_text(""));
    let mut daemon = fleet.run(&[]);
    daemon.wait_ready();
    daemon.wait_event("reconciled: nothing to move", |_| true);

    // Two problems: an interval under the minimum and an unknown key.
    let invalid = fleet
        .config_text("")
        .replace("interval = \"10s\"", "interval = \"2s\"")
        .replace("mode = \"push\"", "mode = \"push\"\nmoed = \"review\"");
    fleet.write_config(&invalid);
    daemon.signal(libc::SIGHUP);
    let refused = daemon.wait_event(
        "configuration refused: the configuration in force keeps running",
        |_| true,
    );
    assert_eq!(refused["errors"], 2, "{refused}");
    let errors: Vec<serde_json::Value> = daemon
        .events()
        .into_iter()
        .filter(|e| e["message"] == "configuration error")
        .collect();
    let keys: Vec<&str> = errors.iter().map(|e| e["key"].as_str().unwrap()).collect();
    assert!(keys.contains(&"images.app.interval"), "{errors:?}");
    assert!(keys.contains(&"environments.staging.moed"), "{errors:?}");
    for error in &errors {
        let location = error["location"].as_str().unwrap();
        assert!(
            location.starts_with(&format!("{}:", fleet.config_path().display())),
            "{location}"
        );
    }
    let status = daemon.status();
    let why = status["config"]["last_reload_error"].as_str().unwrap();
    assert!(
        why.contains("images.app.interval") && why.contains("moed"),
        "{why}"
    );
    assert!(reload_count(&daemon, "failed") >= 1.0);
    assert_eq!(status["ready"], true);

    // The configuration in force still works: a new tag is still committed.
    let before = fleet.remote.head("main").unwrap();
    fleet.push_tag("1.2.0").await;
    wait_until(PATIENCE, "a commit under the old configuration", || {
        fleet.remote.head("main").filter(|h| *h != before)
    });
    assert!(fleet.staging_on_remote().contains(":1.2.0 #"));

    // A valid configuration by SIGHUP is taken and clears the error.
    fleet.write_config(&fleet.config_text(""));
    daemon.signal(libc::SIGHUP);
    daemon.wait_event("configuration reloaded", |e| e["trigger"] == "SIGHUP");
    wait_until(PATIENCE, "the reload error to clear", || {
        daemon.status()["config"]["last_reload_error"]
            .is_null()
            .then_some(())
    });
    assert!(reload_count(&daemon, "ok") >= 1.0);

    daemon.signal(libc::SIGTERM);
    assert_eq!(daemon.wait_exit().code(), Some(0), "{}", daemon.log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_config_map_symlink_swap_is_a_reload() {
    let fleet = DaemonFleet::start().await;
    fleet.registry.push_image("team/web", "2.0.0").await;
    // The layout Kubernetes gives a mounted config map:
    //   baton.toml -> ..data/baton.toml, ..data -> ..v1
    let dir = fleet.dir.path();
    std::fs::create_dir(dir.join("..v1")).unwrap();
    std::fs::write(dir.join("..v1/baton.toml"), fleet.config_text("")).unwrap();
    symlink("..v1", dir.join("..data")).unwrap();
    symlink("..data/baton.toml", fleet.config_path()).unwrap();
    let mut daemon = fleet.run(&[]);
    daemon.wait_ready();

    // An update: a new version directory, then an atomic swap of `..data`.
    std::fs::create_dir(dir.join("..v2")).unwrap();
    std::fs::write(
        dir.join("..v2/baton.toml"),
        fleet.config_text(&web_image(&fleet)),
    )
    .unwrap();
    symlink("..v2", dir.join("..data_tmp")).unwrap();
    std::fs::rename(dir.join("..data_tmp"), dir.join("..data")).unwrap();
    std::fs::remove_dir_all(dir.join("..v1")).unwrap();

    let event = daemon.wait_event("configuration reloaded", |_| true);
    assert!(
        event["changes"].as_str().unwrap().contains("images +web"),
        "{event}"
    );
    wait_until(PATIENCE, "the new image's first scan", || {
        (daemon.status()["images"]["web"]["tag_count"] == 1).then_some(())
    });

    daemon.signal(libc::SIGTERM);
    assert_eq!(daemon.wait_exit().code(), Some(0), "{}", daemon.log());
}

/// The daemon's work tree holds only its environments' paths, and a reload that adds an
/// environment widens it at the next pass, whose markers then move. (That the first clone
/// never holds more is `git::workspace::a_new_clone_limited_to_paths_writes_only_their_files`.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_that_adds_an_environment_widens_the_work_tree() {
    const PRODUCTION: &str = "clusters/production/app.yaml";
    let fleet = DaemonFleet::start().await;
    let marked = |tag: &str| {
        format!(
            "image: {}/team/app:{tag} # {{\"$imagepolicy\": \"flux-system:app\"}}\n",
            fleet.registry.host()
        )
    };
    fleet.remote.writer().commit_and_push(
        PRODUCTION,
        &marked("1.0.0"),
        "Point production at the local registry",
    );
    fleet.write_config(&fleet.config_text(""));
    let mut daemon = fleet.run(&[]);
    daemon.wait_ready();
    daemon.wait_event("reconciled: nothing to move", |_| true);
    let checkout = fleet.checkout();
    assert!(checkout.join(STAGING).is_file());
    assert!(
        !checkout.join("clusters/production").exists(),
        "production's files are in the work tree"
    );

    fleet.replace_config(&fleet.config_text(
        "\n[environments.production]\npaths = [\"clusters/production\"]\nmode = \"push\"\n",
    ));
    daemon.wait_event("configuration reloaded", |_| true);
    fleet.push_tag("1.1.0").await;
    wait_until(PATIENCE, "both environments moved", || {
        let production = git(&fleet.remote.path, &["show", &format!("main:{PRODUCTION}")]);
        (production.contains("team/app:1.1.0") && fleet.staging_on_remote().contains(":1.1.0"))
            .then_some(())
    });
    wait_until(PATIENCE, "production's files in the work tree", || {
        checkout.join(PRODUCTION).is_file().then_some(())
    });
    assert_eq!(git(&checkout, &["status", "--porcelain"]), "");
    daemon.signal(libc::SIGTERM);
    assert_eq!(daemon.wait_exit().code(), Some(0), "{}", daemon.log());
}
