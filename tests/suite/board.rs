//! The board `baton run` serves at `/`, loaded in headless Chromium against the real registry
//! and remote: a move, a soak wait, a person's hold with a hostile reason and a failing scan
//! show in the DOM; the page passes a small accessibility check; and who may see it (token,
//! a wide listener without one, `daemon.ui = false`).
//!
//! Screenshots go to `$BATON_BOARD_SCREENSHOTS` when set (docs/board/ holds the committed ones).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::time::Duration;

use crate::support::browser::Browser;
use crate::support::daemon::{DaemonFleet, PATIENCE, wait_until};

/// The hold's reason: markup a hostile repository writer might put there.
const HOSTILE_HOLD: &str =
    "INC-42 <script>document.title='pwned'</script><img src=x onerror=alert(1)>";

/// The element of `dom` that starts with `start` (up to its `end`).
fn element<'a>(dom: &'a str, start: &str, end: &str) -> &'a str {
    let from = dom
        .find(start)
        .unwrap_or_else(|| panic!("no {start} in the DOM:\n{dom}"));
    let rest = &dom[from..];
    let to = rest.find(end).map_or(rest.len(), |i| i + end.len());
    &rest[..to]
}

/// One image's cell in one environment.
fn cell<'a>(dom: &'a str, image: &str, env: &str) -> &'a str {
    let row = element(dom, &format!("<tr data-image=\"{image}\">"), "</tr>");
    element(row, &format!("<td data-env=\"{env}\""), "</td>")
}

/// What the accessibility check finds wrong: the document language, landmarks (header, main,
/// footer), one h1, a caption on every table, a scope on every header cell, a text
/// alternative on every image, a label for every input and progress bar, and the viewport.
/// Contrast is not checked here (the stylesheet's colours are chosen for WCAG AA).
fn accessibility_problems(dom: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let mut need = |ok: bool, what: &str| {
        if !ok {
            problems.push(what.to_string());
        }
    };
    need(
        dom.contains("<html lang=\"en\">"),
        "the document has no language",
    );
    for landmark in ["<header", "<main", "<footer"] {
        need(dom.contains(landmark), &format!("no {landmark}> landmark"));
    }
    need(dom.matches("<h1").count() == 1, "not exactly one h1");
    need(
        dom.contains("name=\"viewport\" content=\"width=device-width"),
        "no viewport for phones",
    );
    need(
        dom.matches("<table").count() == dom.matches("<caption").count()
            || dom.matches("<table").count() == dom.matches("<thead").count(),
        "a table without caption or header row",
    );
    for th in dom.split("<th").skip(1) {
        let tag = &th[..th.find('>').unwrap_or(th.len())];
        if !tag.starts_with("ead") {
            need(
                tag.contains("scope="),
                &format!("a header cell without scope: <th{tag}>"),
            );
        }
    }
    for img in dom.split("<img").skip(1) {
        let tag = &img[..img.find('>').unwrap_or(img.len())];
        need(tag.contains("alt="), "an image without alt text");
    }
    for input in dom.split("<input").skip(1) {
        let tag = &input[..input.find('>').unwrap_or(input.len())];
        let id = tag
            .split("id=\"")
            .nth(1)
            .and_then(|r| r.split('"').next())
            .unwrap_or("");
        need(
            !id.is_empty() && dom.contains(&format!("<label for=\"{id}\"")),
            "an input without a label",
        );
    }
    for (i, progress) in dom.split("<progress").enumerate().skip(1) {
        let before = dom
            .split("<progress")
            .take(i)
            .collect::<Vec<_>>()
            .join("<progress");
        let open = before.rfind("<label").unwrap_or(0);
        let close = before.rfind("</label>").unwrap_or(0);
        need(
            open > close && !progress.is_empty(),
            "a progress bar outside a label",
        );
    }
    problems
}

/// Where screenshots go: `$BATON_BOARD_SCREENSHOTS` or a temporary directory.
fn screenshot_dir(tmp: &tempfile::TempDir) -> PathBuf {
    match std::env::var_os("BATON_BOARD_SCREENSHOTS") {
        Some(dir) => {
            let dir = PathBuf::from(dir);
            std::fs::create_dir_all(&dir).unwrap();
            dir
        }
        None => tmp.path().to_path_buf(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shows_a_move_a_soak_a_hold_and_a_failing_scan() {
    let browser = Browser::new();
    let fleet = DaemonFleet::start().await;
    let host = fleet.host();
    fleet.registry.push_image("team/worker", "1.0.0").await;
    fleet.registry.push_image("team/worker", "1.1.0").await;
    let writer = fleet.remote.writer();
    writer.commit_and_push(
        "clusters/production/app.yaml",
        &format!("image: {host}/team/app:1.0.0 # {{\"$imagepolicy\": \"flux-system:app\"}}\n"),
        "Add production",
    );
    writer.commit_and_push(
        "clusters/staging/worker.yaml",
        &format!(
            "image: {host}/team/worker:1.0.0 # {{\"$baton\": \"worker\", \"hold\": \"{HOSTILE_HOLD}\"}}\n"
        ),
        "Hold the worker",
    );
    let extra = format!(
        "\n[environments.production]\npaths = [\"clusters/production\"]\nmode = \"push\"\npromote_from = \"staging\"\nsoak = \"24h\"\n\n\
         [images.worker]\nrepository = \"{host}/team/worker\"\ninterval = \"10s\"\n[policies.worker]\nimage = \"worker\"\nsemver = \"1.x\"\n\n\
         [images.ghost]\nrepository = \"{host}/team/ghost\"\ninterval = \"10s\"\n[policies.ghost]\nimage = \"ghost\"\nsemver = \"*\"\n"
    );
    fleet.write_config(&fleet.config_text(&extra));
    fleet.push_tag("1.1.0").await;
    fleet.push_tag("2.0.0").await;
    let mut daemon = fleet.run(&[]);
    daemon.wait_ready();
    // Staging moves to 1.1.0; production waits for its soak.
    wait_until(PATIENCE, "staging to move and production to soak", || {
        let status = daemon.status();
        let staging = &status["environments"]["staging"];
        let production = &status["environments"]["production"];
        let moved = staging["running"]["app"]["versions"][0] == "1.1.0";
        let soaking = production["waiting"].as_array().is_some_and(|w| {
            w.iter()
                .any(|w| w["image"] == "app" && !w["until"].is_null())
        });
        (moved && soaking).then_some(())
    });
    let url = format!("http://127.0.0.1:{}/", daemon.port);
    // `baton status` says where the board is.
    let status = fleet.baton(&["status"]).run();
    assert!(
        status.stdout.contains(&format!("board: {url} (read-only")),
        "{}",
        status.stdout
    );
    let dom = browser.dom(&url);

    // A move: staging runs 1.1.0, moved in the last commit, and the timeline says so.
    let staging = cell(&dom, "app", "staging");
    assert!(staging.contains("data-running=\"1.1.0\""), "{staging}");
    assert!(staging.contains("moved in the last commit"), "{staging}");
    let moves = element(&dom, "<ol class=\"timeline\">", "</ol>");
    assert!(moves.contains("1.0.0 → 1.1.0"), "{moves}");
    assert!(moves.contains("<strong>staging</strong>"), "{moves}");

    // A soak wait: production runs 1.0.0, the candidate is 1.1.0, a progress bar and when.
    let production = cell(&dom, "app", "production");
    assert!(
        production.contains("data-state=\"soaking\""),
        "{production}"
    );
    assert!(
        production.contains("data-running=\"1.0.0\""),
        "{production}"
    );
    assert!(
        production.contains("candidate</span> 1.1.0"),
        "{production}"
    );
    assert!(
        production.contains("<progress max=\"100\" value=\""),
        "{production}"
    );
    assert!(
        production.contains("ready <time datetime=\""),
        "{production}"
    );
    assert!(
        production.contains("(in 23h") || production.contains("(in 24h"),
        "{production}"
    );

    // A hold and its reason, as text: the markup in it did nothing.
    let held = cell(&dom, "worker", "staging");
    assert!(held.contains("data-state=\"held\""), "{held}");
    assert!(
        held.contains("INC-42 &lt;script&gt;document.title='pwned'&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;"),
        "{held}"
    );
    assert!(
        !dom.contains("<script"),
        "a script element in the DOM:\n{dom}"
    );
    assert!(!dom.contains("<img"), "an img element in the DOM:\n{dom}");
    assert!(!dom.contains("pwned</title>"), "the title changed:\n{dom}");

    // A failing scan: the image that is not in the registry.
    let ghost = element(&dom, "<tr data-image=\"ghost\">", "</th>");
    assert!(ghost.contains("data-scan=\"failing\""), "{ghost}");
    assert!(ghost.contains("scan failing:"), "{ghost}");
    let app = element(&dom, "<tr data-image=\"app\">", "</th>");
    assert!(app.contains("data-scan=\"ok\""), "{app}");

    let problems = accessibility_problems(&dom);
    assert!(problems.is_empty(), "accessibility: {problems:?}\n{dom}");

    // The image page: each tag ranked, the chosen one marked.
    let page = browser.dom(&format!("{url}images/app"));
    assert!(
        page.contains("<li data-tag=\"1.1.0\">1.1.0 <strong>chosen</strong>"),
        "{page}"
    );
    assert!(page.contains("<li data-tag=\"1.0.0\">1.0.0</li>"), "{page}");
    let skipped = element(&page, "<tr data-tag=\"2.0.0\">", "</tr>");
    assert!(skipped.contains("range"), "{skipped}");
    let problems = accessibility_problems(&page);
    assert!(
        problems.is_empty(),
        "accessibility of the image page: {problems:?}\n{page}"
    );

    // The page is the same on a refresh with nothing changed: 304 for the validator.
    let (code, etag) = raw_get(daemon.port, "/", &[]);
    assert_eq!(code, 200);
    let etag = etag.expect("an ETag");
    let (code, _) = raw_get(daemon.port, "/", &[("If-None-Match", &etag)]);
    assert_eq!(code, 304);

    let tmp = tempfile::tempdir().unwrap();
    let dir = screenshot_dir(&tmp);
    browser.screenshot(&url, &dir.join("board.png"), 1280, 720);
    browser.screenshot(&url, &dir.join("board-phone.png"), 390, 844);
    browser.screenshot(
        &format!("{url}images/app"),
        &dir.join("board-image.png"),
        1280,
        720,
    );
}

/// A GET with `headers`: the status code and the ETag.
fn raw_get(port: u16, path: &str, headers: &[(&str, &str)]) -> (u16, Option<String>) {
    let reply = raw_request(port, path, headers);
    let code = reply
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let etag = reply
        .lines()
        .find_map(|l| {
            l.strip_prefix("etag: ")
                .or_else(|| l.strip_prefix("ETag: "))
        })
        .map(|v| v.trim().to_string());
    (code, etag)
}

fn raw_request(port: u16, path: &str, headers: &[(&str, &str)]) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut request = format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n");
    for (k, v) in headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).unwrap();
    let mut reply = String::new();
    stream.read_to_string(&mut reply).unwrap();
    reply
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_guards_it_and_a_wide_listener_without_one_refuses_it() {
    let browser = Browser::new();
    let fleet = DaemonFleet::start().await;
    let token_file = fleet.dir.path().join("board-token");
    std::fs::write(&token_file, "s3cret-board-t0ken\n").unwrap();
    let text = fleet
        .config()
        .text_value("daemon", "ui_token_file", &token_file.display().to_string())
        .text();
    fleet.write_config(&text);
    let mut daemon = fleet.run(&[]);
    daemon.wait_ready();
    let reply = raw_request(daemon.port, "/", &[]);
    assert!(
        reply.starts_with("HTTP/1.0 401") || reply.starts_with("HTTP/1.1 401"),
        "{reply}"
    );
    assert!(reply.contains("daemon.ui_token_file"), "{reply}");
    assert!(
        !reply.contains(&token_file.display().to_string()),
        "{reply}"
    );
    let reply = raw_request(
        daemon.port,
        "/",
        &[("Authorization", "Bearer s3cret-board-t0ken")],
    );
    assert!(reply.contains("<main id=\"main\">"), "{reply}");
    let reply = raw_request(
        daemon.port,
        "/",
        &[("Authorization", "Bearer s3cret-board-t0kem")],
    );
    assert!(reply.contains(" 401 "), "{reply}");
    // A browser opens ?token= once: a cookie, the address without the token, the board.
    let dom = browser.dom(&format!(
        "http://127.0.0.1:{}/?token=s3cret-board-t0ken",
        daemon.port
    ));
    assert!(dom.contains("<tr data-image=\"app\">"), "{dom}");
    assert!(!dom.contains("s3cret-board-t0ken"), "{dom}");
    // Everything else is served as before.
    assert_eq!(daemon.get("/api/v1/status").unwrap().0, 200);
    drop(daemon);

    // Listening on every address without a token: the board is refused, the rest served.
    let port = fleet.port;
    let text = fleet
        .config()
        .text_value("daemon", "listen", &format!("0.0.0.0:{port}"))
        .text();
    fleet.write_config(&text);
    let mut daemon = fleet.run(&[]);
    daemon.wait_ready();
    let (code, body) = daemon.get("/").unwrap();
    assert_eq!(code, 403, "{body}");
    assert!(body.contains("not a loopback address"), "{body}");
    assert!(body.contains("daemon.ui_token_file"), "{body}");
    assert_eq!(daemon.get("/api/v1/status").unwrap().0, 200);
    drop(daemon);

    // daemon.ui = false: no board at all.
    fleet.write_config(&fleet.config().set("daemon", "ui", "false").text());
    let mut daemon = fleet.run(&[]);
    daemon.wait_ready();
    assert_eq!(daemon.get("/").unwrap().0, 404);
    assert_eq!(daemon.get("/healthz").unwrap().0, 200);
}
