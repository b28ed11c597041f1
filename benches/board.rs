//! The board's cost for a fleet of 1,000 images in three environments: the size of its front
//! page (first page, 100 rows; and filtered) and of an image page with 1,000 tags, and the
//! time to render each, the status copy a request makes included.
//!
//! Run with `cargo bench --bench board`. With `BATON_BENCH_RESULTS=FILE` the figures are also
//! appended to FILE as `key=value` lines for `scripts/bench`.

use std::time::Instant;

use baton::config::Config;
use baton::daemon::board::{Query, Snapshot, render_image, render_index};
use baton::daemon::status::{
    EnvironmentStatus, ImageStatus, PolicyStatus, ReviewEntry, RunningEntry, Status, WaitingEntry,
};
use jiff::{SignedDuration, Timestamp};

const IMAGES: usize = 1000;
const TAGS: usize = 1000;
const ROUNDS: usize = 21;

fn config() -> Config {
    let mut text = String::from(
        "[git]\nurl = \"/srv/fleet.git\"\n\
         [environments.dev]\npaths = [\"d\"]\n\
         [environments.staging]\npaths = [\"s\"]\npromote_from = \"dev\"\n\
         [environments.production]\npaths = [\"p\"]\npromote_from = \"staging\"\nsoak = \"24h\"\nmode = \"review\"\n\
         [forge]\nkind = \"github\"\nrepository = \"platform/fleet\"\ntoken_file = \"/etc/baton/forge-token\"\n",
    );
    for i in 0..IMAGES {
        text.push_str(&format!(
            "[images.service-{i:04}]\nrepository = \"registry.example.com/platform/service-{i:04}\"\n\
             [policies.service-{i:04}]\nimage = \"service-{i:04}\"\nsemver = \"1.x\"\n"
        ));
    }
    Config::from_text(
        std::path::Path::new("/etc/baton/baton.toml"),
        &text,
        figment::providers::Env::prefixed("BATON_BENCH_UNUSED_"),
    )
    .expect("the benchmark's configuration is valid")
}

/// Every image somewhere in each environment; one in ten soaking, one in twenty held, one in
/// fifty failing its scan, one in ten under review.
fn status(now: Timestamp) -> Status {
    let mut status = Status {
        version: "0.1.0".into(),
        ready: true,
        ..Status::default()
    };
    let mut envs: Vec<EnvironmentStatus> = (0..3)
        .map(|_| EnvironmentStatus {
            outcome: Some("up to date".into()),
            last_pass: Some(now.to_string()),
            ..EnvironmentStatus::default()
        })
        .collect();
    for i in 0..IMAGES {
        let name = format!("service-{i:04}");
        status.images.insert(
            name.clone(),
            ImageStatus {
                repository: format!("registry.example.com/platform/{name}"),
                last_scan: Some(now.to_string()),
                tag_count: TAGS,
                policies: [(
                    name.clone(),
                    PolicyStatus {
                        rule: "semver 1.x".into(),
                        chosen: Some("1.9.3".into()),
                        reason: format!("chose 1.9.3 of {TAGS} tags by semver 1.x"),
                    },
                )]
                .into(),
                last_error: (i % 50 == 0).then(|| {
                    "registry.example.com answered 503 Service Unavailable: retrying".into()
                }),
            },
        );
        for (e, env) in envs.iter_mut().enumerate() {
            let version = ["1.9.3", "1.9.2", "1.9.1"][e];
            env.running.insert(
                name.clone(),
                RunningEntry {
                    versions: vec![version.into()],
                    hold: (e == 2 && i % 20 == 0).then(|| format!("INC-{i} rollback")),
                },
            );
        }
        if i % 10 == 0 {
            envs[2].waiting.push(WaitingEntry {
                image: Some(name.clone()),
                reason: format!("{name} 1.9.2 soaking in staging: 6h of 24h"),
                until: Some((now + SignedDuration::from_hours(18)).to_string()),
            });
        } else if i % 10 == 5 {
            envs[2].pending_reviews.push(ReviewEntry {
                image: name.clone(),
                branch: format!("baton/production/{name}"),
                from: "1.9.1".into(),
                to: "1.9.2".into(),
                action: "current".into(),
                number: Some(i as u64),
                url: Some(format!("https://github.com/platform/fleet/pull/{i}")),
                summary: "open".into(),
                merge: None,
            });
        }
    }
    for (name, env) in ["dev", "staging", "production"].iter().zip(envs) {
        status.environments.insert(name.to_string(), env);
    }
    status
}

/// The median of ROUNDS runs of `f`, in milliseconds, and the size of what it returned.
fn measure(label: &str, mut f: impl FnMut() -> String) -> (f64, usize) {
    let mut times = Vec::new();
    let mut size = 0;
    for _ in 0..ROUNDS {
        let start = Instant::now();
        let page = f();
        times.push(start.elapsed().as_secs_f64() * 1000.0);
        size = page.len();
        std::hint::black_box(page);
    }
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];
    println!(
        "{label}: {size} bytes ({:.1} KB), median {median:.2} ms of {ROUNDS}",
        size as f64 / 1024.0
    );
    (median, size)
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let now = Timestamp::now();
    let status = status(now);
    let snap = Snapshot::of(config());
    let all = Query::parse(None);
    let (index_ms, index_bytes) = measure("front page, 1,000 images, page 1 of 10", || {
        render_index(&status.clone(), &snap, now, &all)
    });
    let last = Query::parse(Some("page=10"));
    let (last_ms, last_bytes) = measure("front page, page 10 of 10", || {
        render_index(&status.clone(), &snap, now, &last)
    });
    let filtered = Query::parse(Some("q=service-09"));
    let (filter_ms, filter_bytes) = measure("front page filtered to 100 images", || {
        render_index(&status.clone(), &snap, now, &filtered)
    });
    let tags: Vec<String> = (0..TAGS)
        .map(|i| format!("{}.{}.{}", i / 100, (i / 10) % 10, i % 10))
        .collect();
    let (image_ms, image_bytes) = measure("image page, 1,000 tags", || {
        render_image(&status.clone(), &snap, "service-0500", Some(&tags), now)
            .expect("the image exists")
    });
    let css = baton::daemon::board::STYLESHEET.len();
    println!("stylesheet: {css} bytes");
    let figures = [
        ("board_images", IMAGES.to_string()),
        (
            "board_index_kb",
            format!("{:.1}", index_bytes as f64 / 1024.0),
        ),
        ("board_index_ms", format!("{index_ms:.2}")),
        (
            "board_last_page_kb",
            format!("{:.1}", last_bytes as f64 / 1024.0),
        ),
        ("board_last_page_ms", format!("{last_ms:.2}")),
        (
            "board_filtered_kb",
            format!("{:.1}", filter_bytes as f64 / 1024.0),
        ),
        ("board_filtered_ms", format!("{filter_ms:.2}")),
        (
            "board_image_kb",
            format!("{:.1}", image_bytes as f64 / 1024.0),
        ),
        ("board_image_ms", format!("{image_ms:.2}")),
        ("board_css_bytes", css.to_string()),
    ];
    if let Some(path) = std::env::var_os("BATON_BENCH_RESULTS") {
        use std::io::Write;
        let lines: String = figures.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
        let written = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(&path)
            .and_then(|mut f| f.write_all(lines.as_bytes()));
        if let Err(err) = written {
            eprintln!("cannot append to {}: {err}", path.to_string_lossy());
            std::process::exit(1);
        }
    }
}
