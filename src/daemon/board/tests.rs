//! The board's pages rendered from a hand-made status: each state shows, hostile text stays
//! text, secret files' paths never show, and a large fleet gives a bounded page.

use jiff::Timestamp;

use super::*;
use crate::config::Config;
use crate::daemon::status::{
    EnvironmentStatus, ImageStatus, PolicyStatus, ReviewEntry, RunningEntry, Status,
    VerificationEntry, WaitingEntry,
};

const HOSTILE: &str = "<script>alert(1)</script><img src=x onerror=alert(2)>\"'&";

fn config(images: usize) -> Config {
    let mut text = String::from(
        "[daemon]\nui_token_file = \"/run/credentials/baton/board-token\"\n[git]\nurl = \"/srv/fleet.git\"\n\
         [registries.\"registry.example.com\"]\npassword_file = \"/etc/baton/registry-password\"\nusername = \"u\"\n\
         [environments.staging]\npaths = [\"s\"]\n\
         [environments.production]\npaths = [\"p\"]\npromote_from = \"staging\"\nsoak = \"24h\"\n",
    );
    for i in 0..images {
        text.push_str(&format!(
            "[images.app{i}]\nrepository = \"registry.example.com/team/app{i}\"\n[policies.app{i}]\nimage = \"app{i}\"\nsemver = \"1.x\"\n"
        ));
    }
    Config::from_text(
        std::path::Path::new("/etc/baton/baton.toml"),
        &text,
        figment::providers::Env::prefixed("BATON_TEST_UNUSED_"),
    )
    .unwrap()
}

fn running(version: &str, hold: Option<&str>) -> RunningEntry {
    RunningEntry {
        versions: vec![version.into()],
        hold: hold.map(str::to_string),
    }
}

/// app0 moved in staging and soaks for production; app1 is held in staging with a hostile
/// reason; app2's scan fails with a hostile error naming a secret file; app3 waits for review.
fn status(now: Timestamp, images: usize) -> Status {
    let mut status = Status {
        version: "0.1.0".into(),
        ready: true,
        ..Status::default()
    };
    for i in 0..images {
        status.images.insert(
            format!("app{i}"),
            ImageStatus {
                repository: format!("registry.example.com/team/app{i}"),
                last_scan: Some(now.to_string()),
                tag_count: 12,
                policies: [(
                    format!("app{i}"),
                    PolicyStatus {
                        rule: "semver 1.x".into(),
                        chosen: Some("1.2.0".into()),
                        reason: "chose 1.2.0 of 12 tags by semver 1.x".into(),
                    },
                )]
                .into(),
                last_error: None,
            },
        );
    }
    if let Some(app2) = status.images.get_mut("app2") {
        app2.last_error = Some(format!(
            "{HOSTILE} cannot read secret file /etc/baton/registry-password: denied"
        ));
    }
    let mut staging = EnvironmentStatus {
        outcome: Some("pushed to main".into()),
        last_moves: vec!["app0 1.1.0 -> 1.2.0".into()],
        last_commit_at: Some(now.to_string()),
        ..EnvironmentStatus::default()
    };
    let mut production = EnvironmentStatus {
        outcome: Some("waiting".into()),
        ..EnvironmentStatus::default()
    };
    for i in 0..images {
        staging
            .running
            .insert(format!("app{i}"), running("1.2.0", None));
        production
            .running
            .insert(format!("app{i}"), running("1.1.0", None));
    }
    staging
        .running
        .insert("app1".into(), running("1.1.0", Some(HOSTILE)));
    let until = now + jiff::SignedDuration::from_hours(6);
    production.waiting.push(WaitingEntry {
        image: Some("app0".into()),
        reason: "app0 1.2.0 soaking in staging: 24h required, 18h so far".into(),
        until: Some(until.to_string()),
    });
    production.pending_reviews.push(ReviewEntry {
        image: "app3".into(),
        branch: "baton/production/app3".into(),
        from: "1.1.0".into(),
        to: "1.2.0".into(),
        action: "current".into(),
        number: Some(7),
        url: Some("javascript:alert(3)".into()),
        summary: "open".into(),
        merge: None,
    });
    // app0's move in staging fails its check now.
    staging.verification.push(VerificationEntry {
        image: "app0".into(),
        version: "1.2.0".into(),
        commit: "0123456789ab".into(),
        state: "failing".into(),
        summary: format!("verified since 2026-11-27 10:05 UTC, failing now: http https://staging.example.com/version: answered 503: {HOSTILE}"),
        checks: Vec::new(),
        until: None,
    });
    status.environments.insert("staging".into(), staging);
    status.environments.insert("production".into(), production);
    status
}

fn render(images: usize) -> String {
    let now = Timestamp::now();
    let snap = Snapshot::of(config(images));
    render_index(&status(now, images), &snap, now, &Query::parse(None))
}

#[test]
fn every_state_shows() {
    let page = render(4);
    assert!(
        page.contains("<th scope=\"col\" data-env=\"staging\">"),
        "{page}"
    );
    // Promotion order: staging before production.
    assert!(page.find("data-env=\"staging\"") < page.find("data-env=\"production\""));
    assert!(page.contains("data-running=\"1.2.0\""), "{page}");
    assert!(page.contains("moved in the last commit"), "{page}");
    assert!(page.contains("data-state=\"soaking\""), "{page}");
    assert!(
        page.contains("<progress max=\"100\" value=\"75\">"),
        "{page}"
    );
    assert!(page.contains("data-state=\"held\""), "{page}");
    assert!(page.contains("data-scan=\"failing\""), "{page}");
    assert!(page.contains("data-state=\"review\""), "{page}");
    assert!(page.contains("pull request #7"), "{page}");
    assert!(
        page.contains("data-gate=\"verify\" data-verify=\"failing\"><strong>verification</strong> verified since 2026-11-27 10:05 UTC, failing now: http https://staging.example.com/version: answered 503: &lt;script&gt;"),
        "{page}"
    );
    assert!(page.contains("<meta http-equiv=\"refresh\""));
}

#[test]
fn hostile_text_stays_text() {
    let page = render(4);
    assert!(!page.contains("<script"), "{page}");
    assert!(!page.contains("<img"), "{page}");
    assert!(!page.contains("javascript:"), "{page}");
    assert!(
        page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{page}"
    );
    // No secret file's path, in an error or anywhere else.
    assert!(!page.contains("/etc/baton/registry-password"), "{page}");
    assert!(!page.contains("board-token"), "{page}");
    assert!(page.contains("[a secret file]"), "{page}");
}

#[test]
fn the_image_page_ranks_tags_and_says_why_not() {
    let now = Timestamp::now();
    let snap = Snapshot::of(config(4));
    let tags: Vec<String> = ["1.0.0", "1.2.0", "2.0.0", "latest", "1.1.0"]
        .iter()
        .map(|t| t.to_string())
        .collect();
    let page = render_image(&status(now, 4), &snap, "app1", Some(&tags), now).unwrap();
    assert!(
        page.contains("<li data-tag=\"1.2.0\">1.2.0 <strong>chosen</strong>"),
        "{page}"
    );
    assert!(
        page.contains("<tr data-tag=\"2.0.0\"><td>2.0.0</td><td>"),
        "{page}"
    );
    assert!(page.contains("<tr data-tag=\"latest\">"), "{page}");
    assert!(!page.contains("<script"), "{page}");
    assert!(render_image(&status(now, 4), &snap, "nope", None, now).is_none());
}

#[test]
fn a_thousand_images_make_a_bounded_page() {
    let page = render(1000);
    assert_eq!(page.matches("<tr data-image=").count(), PAGE_ROWS);
    assert!(page.contains("Page 1 of 10"), "pager missing");
    assert!(page.len() < 256 * 1024, "{} bytes", page.len());
    let now = Timestamp::now();
    let snap = Snapshot::of(config(1000));
    let last = render_index(
        &status(now, 1000),
        &snap,
        now,
        &Query::parse(Some("page=10")),
    );
    assert!(last.contains("data-image=\"app999\""));
    let filtered = render_index(
        &status(now, 1000),
        &snap,
        now,
        &Query::parse(Some("q=app99")),
    );
    assert_eq!(filtered.matches("<tr data-image=").count(), 11);
}

/// With several repositories the timeline holds every repository's moves, each named with its
/// repository; `[forge]` links only the commits of the repository it names.
#[test]
fn the_timeline_shows_every_repository() {
    let text = "[repositories.fleet]\nurl = \"https://github.com/platform/fleet.git\"\n\
        [repositories.payments]\nurl = \"https://github.com/payments/deploy.git\"\n\
        [forge]\nkind = \"github\"\nrepository = \"platform/fleet\"\ntoken_file = \"/etc/baton/forge-token\"\n\
        [environments.staging]\nrepository = \"fleet\"\npaths = [\"s\"]\n\
        [environments.payments-prod]\nrepository = \"payments\"\npaths = [\"p\"]\n";
    let config = Config::from_text(
        std::path::Path::new("/etc/baton/baton.toml"),
        text,
        figment::providers::Env::prefixed("BATON_TEST_UNUSED_"),
    )
    .unwrap();
    let board = BoardState::default();
    board.configure(&config);
    let moved = |repository: &str, environment: &str, time: i64, commit: &str| TimelineEntry {
        repository: repository.into(),
        environment: environment.into(),
        time,
        image: "registry.example.com/team/app".into(),
        from: "1.0.0".into(),
        to: "1.1.0".into(),
        commit: commit.repeat(40),
        ..TimelineEntry::default()
    };
    board.set_timeline(
        "fleet",
        Some("f".into()),
        vec![moved("fleet", "staging", 1_800_000_000, "a")],
    );
    board.set_timeline(
        "payments",
        Some("p".into()),
        vec![moved("payments", "payments-prod", 1_800_000_100, "b")],
    );
    assert_eq!(board.timeline_head("payments").as_deref(), Some("p"));
    let snap = board.snapshot().unwrap();
    let now = Timestamp::now();
    let page = render_index(&Status::default(), &snap, now, &Query::parse(None));
    let moves = &page[page.find("<ol class=\"timeline\">").expect(&page)..];
    let (payments, fleet) = (
        moves
            .find("<span class=\"repository\">payments</span>")
            .expect(moves),
        moves
            .find("<span class=\"repository\">fleet</span>")
            .expect(moves),
    );
    assert!(payments < fleet, "newest first: {moves}");
    assert!(
        moves.contains(&format!(
            "https://github.com/platform/fleet/commit/{}",
            "a".repeat(40)
        )),
        "{moves}"
    );
    assert!(
        !moves.contains("/commit/bbbb"),
        "payments is not the forge's repository: {moves}"
    );
    // A repository removed by a reload leaves the timeline.
    let text = text
        .replace(
            "[environments.payments-prod]\nrepository = \"payments\"\npaths = [\"p\"]\n",
            "",
        )
        .replace(
            "[repositories.payments]\nurl = \"https://github.com/payments/deploy.git\"\n",
            "",
        );
    let config = Config::from_text(
        std::path::Path::new("/etc/baton/baton.toml"),
        &text,
        figment::providers::Env::prefixed("BATON_TEST_UNUSED_"),
    )
    .unwrap();
    board.configure(&config);
    let snap = board.snapshot().unwrap();
    assert_eq!(snap.timeline.len(), 1);
    assert_eq!(snap.timeline[0].repository, "fleet");
}
