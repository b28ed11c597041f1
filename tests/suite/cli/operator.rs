//! The operator's day through the real binary: `status` against a broken config, marker
//! problems and their exit code, `--json`, journal priorities and log fields, error messages
//! that name the setting, `-q`/`-v`, colours and progress at a terminal, `init`,
//! completions, the man page and `check --repo`.

use std::os::unix::fs::MetadataExt;
use std::process::{Command, Stdio};

use crate::support::daemon::{self, wait_until};
use crate::support::fleet::{Fleet, Run};
use crate::support::git_server::{BRANCH, free_port};

fn baton() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_baton"));
    cmd.env_remove("BATON_CONFIG")
        .env_remove("RUST_LOG")
        .env_remove("JOURNAL_STREAM")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null());
    cmd
}

fn run(cmd: &mut Command) -> Run {
    let out = cmd.output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn json(run: &Run) -> serde_json::Value {
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", run.both()))
}

/// Adds a file whose marker names policy "ap" (a typo of "app") to staging.
fn add_typo_marker(fleet: &Fleet) {
    let writer = fleet.writer();
    writer.commit_and_push(
        "clusters/staging/typo.yaml",
        &format!(
            "image: {}:1.0.0 # {{\"$imagepolicy\": \"flux-system:ap\"}}\n",
            fleet.image("app")
        ),
        "A marker with a typo",
    );
}

#[tokio::test]
async fn status_reads_only_the_listen_address_and_accepts_host_port() {
    let fleet = daemon::DaemonFleet::start().await;
    fleet.write_config(&fleet.config_text(""));
    let mut d = fleet.run(&[]);
    d.wait_ready();

    // A copy of the configuration with a typo far from [daemon]: status still finds it.
    let broken = fleet.dir.path().join("broken.toml");
    std::fs::write(
        &broken,
        format!(
            "[daemon]\nlisten = \"127.0.0.1:{}\"\n\n[git]\nurl = \"unclosed\n[images.app\n",
            fleet.port
        ),
    )
    .unwrap();
    let out = run(baton().arg("status").arg("--config").arg(&broken));
    assert_eq!(out.code, 0, "{}", out.both());
    assert!(out.stdout.contains("(ready)"), "{}", out.both());

    // --url without a scheme, and JSON with waits, reviews and problems as lists of objects.
    let out = run(baton().args([
        "status",
        "--json",
        "--url",
        &format!("127.0.0.1:{}", fleet.port),
    ]));
    assert_eq!(out.code, 0, "{}", out.both());
    let status = json(&out);
    assert_eq!(status["ready"], true);
    let staging = wait_until(daemon::PATIENCE, "a first pass", || {
        let s = d.status();
        s["environments"]["staging"]["last_pass"]
            .is_string()
            .then(|| s["environments"]["staging"].clone())
    });
    for key in ["waiting", "pending_reviews", "problems"] {
        assert!(staging[key].is_array(), "{key}: {staging}");
    }
    let out = run(baton().args([
        "status",
        "--output",
        "json",
        "--url",
        &format!("http://127.0.0.1:{}/", fleet.port),
    ]));
    assert_eq!(out.code, 0, "{}", out.both());
    json(&out);

    // No file at all: the default address is tried, and said.
    let out = run(baton().args(["status", "--config", "/nonexistent/baton.toml"]));
    assert!(
        out.stderr
            .contains("trying the default address 127.0.0.1:9476"),
        "{}",
        out.both()
    );
}

#[tokio::test]
async fn marker_problems_exit_3_with_did_you_mean_and_the_json_says_so() {
    let fleet = Fleet::start().await;
    add_typo_marker(&fleet);
    // An environment whose path does not exist in the repository.
    fleet.write_config_with(
        &fleet.remote.path_url(),
        "",
        "\n[environments.canary]\npaths = [\"clusters/canary\"]\nmode = \"push\"\n",
    );
    let plan = fleet.baton(&["plan"]);
    assert_eq!(plan.code, 3, "{}", plan.both());
    for needle in [
        "clusters/staging/typo.yaml:1: marker names policy \"ap\"",
        "did you mean \"app\"?",
        "clusters/canary: does not exist in the repository: create it or fix environments.canary.paths",
        "marker problems (see above): exit 3",
    ] {
        assert!(
            plan.stdout.contains(needle),
            "missing {needle:?}:\n{}",
            plan.both()
        );
    }
    // The other environments still plan their moves.
    assert!(
        plan.stdout.contains("staging: would move 1 image"),
        "{}",
        plan.both()
    );

    let plan = fleet.baton(&["plan", "--json"]);
    assert_eq!(plan.code, 3, "{}", plan.both());
    let doc = json(&plan);
    assert_eq!(doc["schema"], 1);
    assert_eq!(doc["command"], "plan");
    assert_eq!(doc["exit_code"], 3);
    assert_eq!(doc["checked"], true);
    let envs = doc["environments"].as_array().unwrap();
    let canary = envs.iter().find(|e| e["name"] == "canary").unwrap();
    assert_eq!(canary["problems"][0]["path"], "clusters/canary");
    assert_eq!(canary["problems"][0]["line"], 0);
    let staging = envs.iter().find(|e| e["name"] == "staging").unwrap();
    assert_eq!(staging["outcome"], "planned");
    assert_eq!(staging["moves"][0]["policy"], "app");
    assert_eq!(staging["moves"][0]["from"], "1.0.0");
    assert_eq!(staging["moves"][0]["to"], "1.1.0");
    assert_eq!(staging["problems"][0]["line"], 1);
    assert!(
        staging["problems"][0]["message"]
            .as_str()
            .unwrap()
            .ends_with("did you mean \"app\"?"),
        "{staging}"
    );
    let app = doc["policies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "app")
        .unwrap();
    assert_eq!(app["chosen"], "1.1.0");

    // `check --repo` finds the same, online, and exits 1.
    let check = fleet.baton(&["check", "--repo"]);
    assert_eq!(check.code, 1, "{}", check.both());
    for needle in [
        &format!("registry {}: reachable (2 images)", fleet.registry.host()),
        "environment canary: 1 marker problem",
        "did you mean \"app\"?",
        "environment production: markers ok",
    ] {
        assert!(
            check.stdout.contains(needle),
            "missing {needle:?}:\n{}",
            check.both()
        );
    }

    // `once` exits 3 as `plan` does, after pushing everything else.
    let once = fleet.baton(&["once"]);
    assert_eq!(once.code, 3, "{}", once.both());
    assert!(
        once.stdout.contains("environment staging: moved 1 image"),
        "{}",
        once.both()
    );
    assert!(
        once.stderr
            .contains("baton once: 2 marker problems (the other markers moved; exit 3"),
        "{}",
        once.both()
    );
    assert_eq!(json(&fleet.baton(&["once", "--json"]))["exit_code"], 3);
}

/// Once a review branch proposes a move, `plan` calls the environment up to date with the
/// review pending, without showing the branch's diff and message again as if they were new.
#[tokio::test]
async fn plan_says_a_pushed_review_is_pending_without_repeating_its_diff() {
    let fleet = Fleet::start().await;
    fleet
        .config(&fleet.remote.path_url())
        .text_value("environments.production", "mode", "review")
        .write();
    let plan = fleet.baton(&["plan", "--env", "production"]);
    assert_eq!(plan.code, 2, "{}", plan.both());
    assert!(plan.stdout.contains("commit message:"), "{}", plan.both());
    let once = fleet.baton(&["once"]);
    assert_eq!(once.code, 0, "{}", once.both());
    let plan = fleet.baton(&["plan", "--env", "production"]);
    assert_eq!(plan.code, 0, "{}", plan.both());
    assert!(
        plan.stdout
            .contains("== environment production: up to date: 1 review already pending (below)"),
        "{}",
        plan.both()
    );
    assert!(
        plan.stdout.contains("branch already carries this version"),
        "{}",
        plan.both()
    );
    for absent in ["+++ b/", "commit message:", "production: would move"] {
        assert!(!plan.stdout.contains(absent), "{absent}:\n{}", plan.both());
    }
}

/// A pass where only a soak holds production back says so, not "nothing was pushed" (which
/// reads as a failure).
#[tokio::test]
async fn once_with_only_a_wait_says_nothing_to_move_yet() {
    let fleet = Fleet::start().await;
    fleet
        .config(&fleet.remote.path_url())
        .text_value("environments.production", "promote_from", "staging")
        .text_value("environments.production", "soak", "24h")
        .write();
    let first = fleet.baton(&["once"]);
    assert_eq!(first.code, 0, "{}", first.both());
    let again = fleet.baton(&["once"]);
    assert_eq!(again.code, 0, "{}", again.both());
    assert!(
        again
            .stdout
            .contains("nothing to move yet\n1 environment waiting (see above)"),
        "{}",
        again.both()
    );
    assert!(
        !again.stdout.contains("nothing was pushed"),
        "{}",
        again.both()
    );
}

/// A mistyped option exits 1 for every command: 2 means "something would move" for `plan`
/// and "not ready" for `status`, and a script must not read a typo as either. Help and the
/// version exit 0.
#[test]
fn usage_errors_exit_1_never_a_code_a_script_reads_as_an_answer() {
    for args in [
        &["plan", "--nope"][..],
        &["status", "--bogus"],
        &["history", "--limit", "0"],
        &["promote", "app"],
        &["completions", "nosh"],
        &[],
    ] {
        let out = run(baton().args(args));
        assert_eq!(out.code, 1, "{args:?}: {}", out.both());
        assert!(
            out.stderr.contains("error") || out.stderr.contains("Usage"),
            "{args:?}"
        );
    }
    for args in [&["--help"][..], &["plan", "-h"], &["--version"]] {
        let out = run(baton().args(args));
        assert_eq!(out.code, 0, "{args:?}: {}", out.both());
        assert!(!out.stdout.is_empty(), "{args:?}");
    }
}

#[tokio::test]
async fn once_json_reports_what_was_pushed() {
    let fleet = Fleet::start().await;
    fleet.write_config(&fleet.remote.path_url());
    let once = fleet.baton(&["once", "--output", "json"]);
    assert_eq!(once.code, 0, "{}", once.both());
    let doc = json(&once);
    assert_eq!(doc["command"], "once");
    let staging = doc["environments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "staging")
        .unwrap()
        .clone();
    assert_eq!(staging["outcome"], "pushed");
    assert_eq!(staging["branch"], BRANCH);
    assert_eq!(staging["commit"], fleet.head());

    // history --json reads the same move back from the trailers.
    let history = fleet.baton(&["history", "--json", "--env", "staging"]);
    assert_eq!(history.code, 0, "{}", history.both());
    let doc = json(&history);
    let moves = doc["moves"].as_array().unwrap();
    assert!(
        moves.iter().any(|m| m["policy"] == "app"
            && m["from"] == "1.0.0"
            && m["to"] == "1.1.0"
            && m["commit"] == fleet.head()),
        "{doc}"
    );
    assert!(moves[0]["time"].as_str().unwrap().ends_with('Z'), "{doc}");

    // tags --json lists the registry's tags and the policy's choice.
    let tags = fleet.baton(&["tags", "app", "--json"]);
    assert_eq!(tags.code, 0, "{}", tags.both());
    let doc = json(&tags);
    assert_eq!(
        doc["tags"],
        serde_json::json!(["1.0.0", "1.1.0", "1.2.0-rc.1", "2.0.0"])
    );
    assert_eq!(doc["policies"][0]["name"], "app");
    assert_eq!(doc["policies"][0]["chosen"], "1.1.0");
    assert_eq!(doc["policies"][0]["ranked"][0], "1.1.0");
}

#[tokio::test]
async fn when_every_scan_fails_plan_says_nothing_was_checked_once_per_registry() {
    let fleet = Fleet::start().await;
    fleet.write_config(&fleet.remote.path_url());
    // Both images on a registry that is not there.
    let dead = format!("127.0.0.1:{}", free_port());
    let text = std::fs::read_to_string(fleet.config_path())
        .unwrap()
        .replace(&fleet.registry.host(), &dead);
    std::fs::write(fleet.config_path(), text).unwrap();
    let plan = fleet.baton(&["plan"]);
    assert_eq!(plan.code, 1, "{}", plan.both());
    assert!(
        plan.stdout
            .contains("nothing could be checked: no image could be scanned"),
        "{}",
        plan.both()
    );
    assert!(
        plan.stdout.contains("staging: not checked"),
        "{}",
        plan.both()
    );
    assert!(!plan.stdout.contains("up to date"), "{}", plan.both());
    assert!(
        !plan.stdout.contains("nothing would move"),
        "{}",
        plan.both()
    );
    // One line for the registry, naming both images, instead of one per image.
    let grouped = format!("registry {dead}: 2 images could not be scanned (app, web)");
    assert!(plan.stderr.contains(&grouped), "{}", plan.both());
    assert!(
        plan.stderr.contains("baton plan: 1 problem:"),
        "{}",
        plan.both()
    );
    // The log does not repeat it per image and per retry; `-v` shows those.
    for noise in ["request failed, retrying", "scan failed"] {
        assert!(!plan.stderr.contains(noise), "{noise}:\n{}", plan.both());
    }
    let verbose = fleet.baton(&["plan", "-v"]);
    assert_eq!(verbose.code, 1, "{}", verbose.both());
    assert!(
        verbose.stderr.contains("request failed, retrying")
            && verbose.stderr.matches("scan failed").count() >= 2,
        "{}",
        verbose.both()
    );

    let plan = fleet.baton(&["plan", "--json"]);
    assert_eq!(plan.code, 1, "{}", plan.both());
    assert_eq!(json(&plan)["checked"], false);

    // `check --repo` says the registry's one cause once too.
    let check = fleet.baton(&["check", "--repo"]);
    assert_eq!(check.code, 1, "{}", check.both());
    let grouped = format!("registry {dead}: 2 of 2 images failed (app, web), the first with: ");
    assert!(check.stdout.contains(&grouped), "{}", check.both());
    assert_eq!(
        check.stdout.matches("cannot reach").count(),
        1,
        "{}",
        check.both()
    );
}

/// Runs `baton plan` with stderr in a file whose device and inode `JOURNAL_STREAM` names (as
/// systemd does for a service whose output goes to the journal), or names another file.
fn plan_to_journal(fleet: &Fleet, matching: bool) -> String {
    let log = fleet.dir.path().join("journal.log");
    let file = std::fs::File::create(&log).unwrap();
    let meta = if matching {
        file.metadata().unwrap()
    } else {
        std::fs::metadata(fleet.config_path()).unwrap()
    };
    let status = fleet
        .command(&["plan"], &[])
        .env("JOURNAL_STREAM", format!("{}:{}", meta.dev(), meta.ino()))
        .stderr(file)
        .status()
        .unwrap();
    assert!(status.code().is_some());
    std::fs::read_to_string(&log).unwrap()
}

#[tokio::test]
async fn under_systemd_log_lines_carry_journal_priorities_and_no_timestamps() {
    let fleet = Fleet::start().await;
    add_typo_marker(&fleet);
    fleet.write_config(&fleet.remote.path_url());
    let log = plan_to_journal(&fleet, true);
    let lines: Vec<&str> = log.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(!lines.is_empty(), "no log");
    for line in &lines {
        let priority = line.get(..3).unwrap_or_default();
        assert!(
            ["<3>", "<4>", "<6>", "<7>"].contains(&priority),
            "no priority prefix: {line:?}\n{log}"
        );
        assert!(
            !line.contains("2026-") && !line.contains(" INFO "),
            "{line:?}"
        );
    }
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("<6>") && l.contains("policy choice")),
        "{log}"
    );
    // Another stream (a redirected child): plain lines with their own time.
    let log = plan_to_journal(&fleet, false);
    assert!(!log.contains("<6>"), "{log}");
    assert!(log.contains(" INFO "), "{log}");
}

#[tokio::test]
async fn log_fields_hold_values_not_debug_text_or_repeated_words() {
    let fleet = Fleet::start().await;
    fleet.write_config(&fleet.remote.path_url());
    // Production takes staging's versions after a day: web 3.1.0 waits.
    let plan = fleet.baton_env(
        &["plan"],
        &[
            ("BATON_ENVIRONMENTS__PRODUCTION__PROMOTE_FROM", "staging"),
            ("BATON_ENVIRONMENTS__PRODUCTION__SOAK", "24h"),
        ],
    );
    assert!(plan.stderr.contains("waiting"), "{}", plan.both());
    assert!(!plan.stderr.contains("Some("), "{}", plan.both());
    assert!(!plan.stderr.contains("reason=web: web"), "{}", plan.both());
    assert!(!plan.stdout.contains("web: web"), "{}", plan.both());
}

#[tokio::test]
async fn the_daemon_logs_a_marker_problem_once_not_every_pass() {
    let fleet = daemon::DaemonFleet::start().await;
    fleet.remote.writer().commit_and_push(
        "clusters/staging/typo.yaml",
        &format!(
            "image: {}/{}:1.0.0 # {{\"$imagepolicy\": \"flux-system:ap\"}}\n",
            fleet.registry.host(),
            daemon::REPO
        ),
        "A marker with a typo",
    );
    fleet.write_config(&fleet.config_text(""));
    let mut d = fleet.run(&[]);
    d.wait_ready();
    d.wait_event("marker problem", |e| e["level"] == "WARN");
    // Two more passes: each reload reconciles.
    for n in 1..=2 {
        d.signal(libc::SIGHUP);
        wait_until(daemon::PATIENCE, "another pass", || {
            (d.events()
                .iter()
                .filter(|e| {
                    e["message"] == "reconciled: nothing to move" || e["message"] == "reconciled"
                })
                .count()
                > n)
                .then_some(())
        });
    }
    let logged = d
        .events()
        .iter()
        .filter(|e| e["message"] == "marker problem" && e["level"] == "WARN")
        .count();
    assert_eq!(logged, 1, "{}", d.log());
    let status = d.status();
    let problem = &status["environments"]["staging"]["problems"][0];
    assert_eq!(problem["path"], "clusters/staging/typo.yaml");
    assert_eq!(problem["line"], 1);
}

#[tokio::test]
async fn errors_name_the_setting_to_change() {
    let fleet = Fleet::start().await;
    fleet.write_config(&fleet.remote.path_url());

    // A missing file.
    let out = run(baton().args(["check", "--config", "/nonexistent/baton.toml"]));
    assert_eq!(out.code, 1);
    for needle in [
        "--config",
        "BATON_CONFIG",
        "config.example.toml",
        "baton init",
    ] {
        assert!(out.stderr.contains(needle), "{needle}: {}", out.both());
    }

    // An unknown environment for plan, listing the ones there are.
    let out = fleet.baton(&["plan", "--env", "prod"]);
    assert_eq!(out.code, 1, "{}", out.both());
    assert!(
        out.stderr.contains("--env \"prod\": no such environment")
            && out.stderr.contains("production, staging"),
        "{}",
        out.both()
    );

    // tags with a typo of an [images] name.
    let out = fleet.baton(&["tags", "ap"]);
    assert_eq!(out.code, 1, "{}", out.both());
    assert!(
        out.stderr.contains("did you mean \"app\"?"),
        "{}",
        out.both()
    );

    // A branch the remote does not have: name git.branch and list the branches.
    let out = fleet.baton_env(&["plan"], &[("BATON_GIT__BRANCH", "mian")]);
    assert_eq!(out.code, 1, "{}", out.both());
    assert!(
        out.stderr.contains("branch \"mian\" does not exist")
            && out
                .stderr
                .contains("set git.branch to one of its branches: main"),
        "{}",
        out.both()
    );

    // A remote that does not exist: the setting and the file to fix it in.
    let missing = fleet.dir.path().join("no-such-remote.git");
    let out = fleet.baton_env(&["plan"], &[("BATON_GIT__URL", missing.to_str().unwrap())]);
    assert_eq!(out.code, 1, "{}", out.both());
    assert!(
        out.stderr.contains(&format!(
            "cannot prepare the clone of git.url {}",
            missing.display()
        )) && out.stderr.contains("check git.url and git.branch in"),
        "{}",
        out.both()
    );

    // A state directory that cannot be created.
    let blocker = fleet.dir.path().join("a-file");
    std::fs::write(&blocker, "").unwrap();
    let out = fleet.baton_env(
        &["plan"],
        &[(
            "BATON_DAEMON__STATE_DIR",
            blocker.join("state").to_str().unwrap(),
        )],
    );
    assert_eq!(out.code, 1, "{}", out.both());
    assert!(
        out.stderr.contains("cannot create the state directory")
            && out.stderr.contains("daemon.state_dir"),
        "{}",
        out.both()
    );

    // A duration written as a number.
    let config = fleet.dir.path().join("typed.toml");
    std::fs::write(
        &config,
        "[git]\nurl = \"/srv/fleet.git\"\n[images.app]\nrepository = \"ghcr.io/example/app\"\ninterval = 10\n",
    )
    .unwrap();
    let out = run(baton().arg("check").arg("--config").arg(&config));
    assert_eq!(out.code, 1, "{}", out.both());
    assert!(
        out.stderr.contains(
            "images.app.interval: 10 has no unit: write a duration in quotes, e.g. \"10s\""
        ),
        "{}",
        out.both()
    );

    // `tags --policy` with a name no policy has: the close one and the image's policies.
    let out = fleet.baton(&["tags", "app", "--policy", "ap"]);
    assert_eq!(out.code, 1, "{}", out.both());
    assert!(
        out.stderr
            .contains("did you mean \"app\"? the policies of this image are app"),
        "{}",
        out.both()
    );

    // `history --env` with a name no environment has (it may be a removed one): a note
    // with the close name, and the search still runs.
    let out = fleet.baton(&["history", "--env", "prod"]);
    assert_eq!(out.code, 0, "{}", out.both());
    assert!(
        out.stderr.contains("no environment \"prod\" in")
            && out.stderr.contains("(did you mean \"production\"?)"),
        "{}",
        out.both()
    );

    // `status` with no daemon listening: how to point it at the right one.
    let out = run(baton().args(["status", "--url", &format!("127.0.0.1:{}", free_port())]));
    assert_eq!(out.code, 1, "{}", out.both());
    assert!(
        out.stderr.contains("--config PATH") && out.stderr.contains("--url HOST:PORT"),
        "{}",
        out.both()
    );
}

#[tokio::test]
async fn a_hook_that_refuses_a_review_branch_is_reported_with_its_message() {
    let fleet = Fleet::start().await;
    fleet.write_config(&fleet.remote.path_url());
    fleet.remote.set_pre_receive(
        "while read old new ref; do case \"$ref\" in refs/heads/baton/*) echo \"review branches are closed today\" >&2; exit 1;; esac; done",
    );
    let once = fleet.baton_env(
        &["once"],
        &[("BATON_ENVIRONMENTS__PRODUCTION__MODE", "review")],
    );
    assert_eq!(once.code, 1, "{}", once.both());
    let both = once.both();
    assert!(both.contains("refused the push"), "{both}");
    assert!(both.contains("review branches are closed today"), "{both}");
    assert!(!both.contains("moved while pushing"), "{both}");
}

#[tokio::test]
async fn quiet_and_verbose() {
    let fleet = Fleet::start().await;
    fleet.write_config(&fleet.remote.path_url());
    let normal = fleet.baton(&["plan"]);
    assert!(
        normal.stdout.contains("image app: 4 tags"),
        "{}",
        normal.both()
    );
    assert!(normal.stderr.contains(" INFO "), "{}", normal.both());
    let quiet = fleet.baton(&["-q", "plan"]);
    assert_eq!(quiet.code, 2, "{}", quiet.both());
    assert!(
        !quiet.stdout.contains("image app: 4 tags"),
        "{}",
        quiet.both()
    );
    assert!(!quiet.stderr.contains(" INFO "), "{}", quiet.both());
    assert!(quiet.stdout.contains("would move"), "{}", quiet.both());
    let verbose = fleet.baton(&["plan", "-v"]);
    assert!(verbose.stderr.contains("DEBUG"), "{}", verbose.both());
}

/// Runs `baton ARGS --config CONFIG` under `script(1)`, so that its stdout and stderr are a
/// terminal; returns everything the terminal showed.
fn on_a_terminal(fleet: &Fleet, args: &str) -> String {
    let command = format!(
        "{} {args} --config {}",
        env!("CARGO_BIN_EXE_baton"),
        fleet.config_path().display()
    );
    let out = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .env_remove("NO_COLOR")
        .env_remove("RUST_LOG")
        .env("TERM", "xterm")
        .stdin(Stdio::null())
        .output()
        .expect("script(1) from util-linux");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test]
async fn a_terminal_gets_colours_and_progress_a_pipe_gets_neither() {
    let fleet = Fleet::start().await;
    fleet.write_config(&fleet.remote.path_url());
    let shown = on_a_terminal(&fleet, "plan");
    assert!(shown.contains("\x1b[32m+"), "no green added line:\n{shown}");
    assert!(shown.contains("\x1b[31m-"), "no red removed line:\n{shown}");
    assert!(
        shown.contains("... scanning 2 images on 1 registry"),
        "{shown}"
    );
    assert!(
        shown.contains("... working on environment staging"),
        "{shown}"
    );
    let piped = fleet.baton(&["plan"]);
    assert!(!piped.stdout.contains('\x1b'), "{}", piped.both());
    assert!(!piped.stderr.contains("... "), "{}", piped.both());
}

/// A registry that takes 5 s to answer (a fake: a real one cannot be made slow on cue): at a
/// terminal, `plan` says every few seconds which registry it still waits for and for which
/// images (one line per registry, not per image), and `tags` that it is still listing; piped
/// or with `-q`, neither says anything of the sort.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_registry_is_named_while_it_is_waited_for_at_a_terminal_only() {
    use crate::support::fake_registry::{Behaviour, FakeRegistry};
    let slow = FakeRegistry::start(Behaviour {
        tags: vec!["1.0.0".into()],
        stall: Some(std::time::Duration::from_secs(5)),
        ..Default::default()
    })
    .await;
    let fleet = Fleet::start().await;
    let extra = format!(
        "\n[registries.\"{host}\"]\ninsecure = true\n\n[images.slow-a]\nrepository = \"{host}/team/a\"\n\n[images.slow-b]\nrepository = \"{host}/team/b\"\n",
        host = slow.host()
    );
    fleet.write_config_with(&fleet.remote.path_url(), "", &extra);
    let fleet = std::sync::Arc::new(fleet);
    let at_terminal = |args: &'static str| {
        let fleet = fleet.clone();
        tokio::task::spawn_blocking(move || on_a_terminal(&fleet, args))
    };

    let shown = at_terminal("plan").await.unwrap();
    assert!(
        shown.contains("... scanning 4 images on 2 registries"),
        "{shown}"
    );
    let waiting = format!(
        "2 of 4 images scanned; still waiting {{}}s for {} (slow-a, slow-b)",
        slow.host()
    );
    let (before, after) = waiting.split_once("{}").unwrap();
    assert!(
        shown
            .lines()
            .any(|l| l.contains(before) && l.contains(after)),
        "no line naming the slow registry and its images:\n{shown}"
    );
    assert_eq!(
        shown.matches(&format!("for {} (", slow.host())).count(),
        shown.matches("images scanned; still waiting").count(),
        "one line per registry and tick:\n{shown}"
    );

    let shown = at_terminal("tags slow-a").await.unwrap();
    assert!(
        shown.contains(&format!(
            "... still listing the tags of {}/team/a (",
            slow.host()
        )),
        "{shown}"
    );

    let quiet = at_terminal("-q plan").await.unwrap();
    assert!(!quiet.contains("still waiting"), "{quiet}");
    let piped = tokio::task::spawn_blocking({
        let fleet = fleet.clone();
        move || fleet.baton(&["plan"])
    })
    .await
    .unwrap();
    assert!(!piped.stderr.contains("still waiting"), "{}", piped.both());
    assert!(!piped.stderr.contains("... "), "{}", piped.both());
}

#[test]
fn init_writes_a_config_check_accepts_and_never_waits_without_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("baton.toml");
    let out = run(baton().current_dir(dir.path()).args([
        "init",
        "--git-url",
        "/srv/fleet.git",
        "--image",
        "shop=ghcr.io/example/shop",
        "--env",
        "staging=clusters/staging",
        "--env",
        "production=clusters/production",
        "--semver",
        "~2.1",
    ]));
    assert_eq!(out.code, 0, "{}", out.both());
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.starts_with("# Baton configuration"), "{text}");
    let check = run(baton().arg("check").arg("--config").arg(&path));
    assert_eq!(check.code, 0, "{}\n{text}", check.both());
    assert!(
        check.stdout.contains("1 image, 1 policy, 2 environments")
            && check
                .stdout
                .contains("policy shop: ghcr.io/example/shop by semver ~2.1"),
        "{}",
        check.both()
    );
    // It does not overwrite.
    let again = run(baton().current_dir(dir.path()).arg("init"));
    assert_eq!(again.code, 1, "{}", again.both());
    assert!(again.stderr.contains("--force"), "{}", again.both());

    // No flags and no terminal: it finishes at once with example values and says so.
    let mut child = baton()
        .current_dir(dir.path())
        .args(["init", "--output", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // stdin stays open: a prompt would wait forever.
    let _stdin = child.stdin.take();
    let status = wait_until(daemon::PATIENCE, "init to finish", || {
        child.try_wait().unwrap()
    });
    let out = child.wait_with_output().unwrap();
    assert!(status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("edit the example values before use: git.url, images, environments"),
        "{stderr}"
    );
    let example = dir.path().join("example.toml");
    std::fs::write(&example, &out.stdout).unwrap();
    let check = run(baton().arg("check").arg("--config").arg(&example));
    assert_eq!(check.code, 0, "{}", check.both());
}

#[test]
fn check_warns_on_an_empty_config_and_on_example_paths() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.toml");
    std::fs::write(&empty, "[git]\nurl = \"/srv/fleet.git\"\n").unwrap();
    let out = run(baton().arg("check").arg("--config").arg(&empty));
    assert_eq!(out.code, 0, "{}", out.both());
    assert!(
        out.stderr.contains("warning:")
            && out
                .stderr
                .contains("nothing to do: add [images.NAME], [policies.NAME], [environments.NAME]"),
        "{}",
        out.both()
    );
    let key = dir.path().join("deploy_key");
    let config = dir.path().join("keys.toml");
    std::fs::write(
        &config,
        format!(
            "[git]\nurl = \"/srv/fleet.git\"\nssh_key_file = \"{}\"\nknown_hosts_file = \"/nonexistent/known_hosts\"\n",
            key.display()
        ),
    )
    .unwrap();
    std::fs::write(&key, "").unwrap();
    let out = run(baton().arg("check").arg("--config").arg(&config));
    assert_eq!(out.code, 0, "{}", out.both());
    assert!(
        out.stderr
            .contains("warning: git.known_hosts_file: /nonexistent/known_hosts does not exist"),
        "{}",
        out.both()
    );
    assert!(!out.stderr.contains("ssh_key_file"), "{}", out.both());
}

#[test]
fn completions_and_the_man_page() {
    for (shell, marker) in [
        ("bash", "_baton()"),
        ("zsh", "#compdef baton"),
        ("fish", "complete -c baton"),
    ] {
        let out = run(baton().args(["completions", shell]));
        assert_eq!(out.code, 0, "{}", out.both());
        assert!(out.stdout.contains(marker), "{shell}: {}", out.stdout);
        assert!(out.stdout.contains("promote"), "{shell} lacks subcommands");
    }
    // bash accepts the script.
    let out = run(baton().args(["completions", "bash"]));
    let script = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(script.path(), &out.stdout).unwrap();
    let checked = Command::new("bash")
        .arg("-n")
        .arg(script.path())
        .status()
        .unwrap();
    assert!(checked.success());

    let man = run(baton().arg("man"));
    assert_eq!(man.code, 0, "{}", man.both());
    assert!(man.stdout.contains(".TH baton 1"), "{}", man.stdout);
    for needle in ["plan", "status", "completions", "\\-\\-log\\-format"] {
        assert!(man.stdout.contains(needle), "man lacks {needle}");
    }
    // One page: every subcommand's options are on it, and it names no other page (the
    // package ships only baton.1).
    for needle in [
        ".SS \"baton promote\"",
        "\\-\\-force",
        ".SS \"baton check\"",
        "\\-\\-repo",
        ".SH \"EXIT STATUS\"",
        "BATON_CONFIG",
    ] {
        assert!(man.stdout.contains(needle), "man lacks {needle}");
    }
    assert!(
        !man.stdout.contains("(1)"),
        "names another page:\n{}",
        man.stdout
    );
    // groff (what man(1) runs) reads it without a warning.
    let page = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(page.path(), &man.stdout).unwrap();
    let groff = Command::new("groff")
        .args(["-man", "-Tutf8", "-ww", "-z"])
        .arg(page.path())
        .output()
        .expect("groff (Debian package groff-base; scripts/test installs it)");
    assert!(groff.status.success());
    assert_eq!(String::from_utf8_lossy(&groff.stderr), "", "groff warnings");
}
