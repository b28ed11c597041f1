//! The board's front page: images by environments in promotion order, each cell with what
//! runs, the candidate and the gate in the way; each image's scan health; the latest moves.

use std::time::Duration;

use jiff::Timestamp;

use super::html::Html;
use super::layout::{self, Query, when};
use super::state::{Snapshot, redact};
use super::timeline::commit_url;
use crate::common::text::short_commit;
use crate::common::time::format_duration;
use crate::config::{Config, Mode};
use crate::daemon::status::{EnvironmentStatus, ImageStatus, Status, WaitingEntry};
use crate::pass::environment_order;

/// Image rows on one page: the page stays small however large the fleet.
pub const PAGE_ROWS: usize = 100;

/// The front page for `query`, judged at `now`.
pub fn render_index(status: &Status, snap: &Snapshot, now: Timestamp, query: &Query) -> String {
    let config = &*snap.config;
    let order = environment_order(config);
    let names: Vec<&String> = config
        .images
        .iter()
        .filter(|(name, image)| query.matches(name, &image.repository_text))
        .map(|(name, _)| name)
        .collect();
    let pages = names.len().div_ceil(PAGE_ROWS).max(1);
    let page = query.page.clamp(1, pages);
    let shown = names.iter().skip((page - 1) * PAGE_ROWS).take(PAGE_ROWS);
    let mut h = Html::with_capacity(4096 + PAGE_ROWS * 900 * order.len().max(1));
    layout::head(&mut h, "Promotion board", true);
    layout::banner(&mut h, status, snap, now);
    h.raw("<main id=\"main\">\n<section aria-labelledby=\"promotion\">\n<h2 id=\"promotion\">Promotion</h2>\n");
    filter_form(&mut h, query, names.len(), config.images.len());
    h.raw("<div class=\"scroll\" tabindex=\"0\" role=\"region\" aria-labelledby=\"promotion\">\n<table class=\"matrix\">\n<caption>Each image in each environment, in promotion order: what runs, the candidate and what it waits for</caption>\n<thead><tr><th scope=\"col\">Image and scan</th>");
    for env in &order {
        environment_header(&mut h, config, env, status.environments.get(env), snap, now);
    }
    h.raw("</tr></thead>\n<tbody>\n");
    for name in shown {
        image_row(&mut h, status, snap, &order, name, now);
    }
    if names.is_empty() {
        h.raw("<tr><td colspan=\"99\">No image matches.</td></tr>\n");
    }
    h.raw("</tbody>\n</table>\n</div>\n");
    pager(&mut h, query, page, pages);
    h.raw("</section>\n");
    timeline(&mut h, snap, None);
    h.raw("</main>\n");
    layout::foot(&mut h);
    h.finish()
}

fn filter_form(h: &mut Html, query: &Query, matching: usize, total: usize) {
    h.raw("<form class=\"filter\" method=\"get\" action=\"/\" role=\"search\"><label for=\"q\">Filter images</label> <input id=\"q\" name=\"q\" type=\"search\" value=\"")
        .text(&query.q)
        .raw("\"> <button type=\"submit\">Filter</button> <span class=\"count\">")
        .number(matching)
        .raw(" of ")
        .number(total)
        .raw(" images</span></form>\n");
}

fn pager(h: &mut Html, query: &Query, page: usize, pages: usize) {
    if pages <= 1 {
        return;
    }
    h.raw("<nav class=\"pager\" aria-label=\"Pages\">");
    if page > 1 {
        h.raw("<a rel=\"prev\" href=\"/?")
            .text(&query.with_page(page - 1))
            .raw("\">Previous</a> ");
    }
    h.raw("<span>Page ")
        .number(page)
        .raw(" of ")
        .number(pages)
        .raw("</span>");
    if page < pages {
        h.raw(" <a rel=\"next\" href=\"/?")
            .text(&query.with_page(page + 1))
            .raw("\">Next</a>");
    }
    h.raw("</nav>\n");
}

fn environment_header(
    h: &mut Html,
    config: &Config,
    name: &str,
    env: Option<&EnvironmentStatus>,
    snap: &Snapshot,
    now: Timestamp,
) {
    h.raw("<th scope=\"col\" data-env=\"")
        .text(name)
        .raw("\"><span class=\"env\">")
        .text(name)
        .raw("</span>");
    if let Some(cfg) = config.environments.get(name) {
        h.raw("<span class=\"rule\">");
        h.text(match cfg.mode {
            Mode::Push => "push",
            Mode::Review => "review",
        });
        if let Some(from) = &cfg.promote_from {
            h.raw(" · from ").text(from);
        }
        if let Some(soak) = cfg.soak {
            h.raw(" · soak ").text(&format_duration(soak));
        }
        h.raw("</span>");
    }
    if let Some(env) = env {
        h.raw("<span class=\"outcome\">")
            .text(env.outcome.as_deref().unwrap_or("not reconciled yet"));
        if let Some(at) = &env.last_pass {
            h.raw(", ").raw("<time datetime=\"").text(at).raw("\">");
            h.text(&when(at, now)).raw("</time>");
        }
        h.raw("</span>");
        for wait in env.waiting.iter().filter(|w| w.image.is_none()) {
            h.raw("<span class=\"gate window\" data-gate=\"environment\">")
                .text(&redact(&wait.reason, &snap.secret_paths));
            if let Some(until) = &wait.until {
                h.raw(" (until ").text(&when(until, now)).raw(")");
            }
            h.raw("</span>");
        }
        if let Some(error) = &env.last_error {
            h.raw("<span class=\"error\" data-error=\"environment\">")
                .text(&redact(error, &snap.secret_paths))
                .raw("</span>");
        }
        if !env.problems.is_empty() {
            h.raw("<span class=\"problems\">")
                .number(env.problems.len())
                .raw(if env.problems.len() == 1 {
                    " marker problem"
                } else {
                    " marker problems"
                })
                .raw("</span>");
        }
    }
    h.raw("</th>");
}

fn image_row(
    h: &mut Html,
    status: &Status,
    snap: &Snapshot,
    order: &[String],
    name: &str,
    now: Timestamp,
) {
    let config = &*snap.config;
    let default = ImageStatus::default();
    let image = status.images.get(name).unwrap_or(&default);
    h.raw("<tr data-image=\"")
        .text(name)
        .raw("\"><th scope=\"row\">");
    h.local_link("/images/", name, name);
    h.raw("<span class=\"repo\">")
        .text(&image.repository)
        .raw("</span>");
    scan_health(h, config, snap, name, image, now);
    h.raw("</th>");
    for env in order {
        cell(h, status, snap, name, env, now);
    }
    h.raw("</tr>\n");
}

/// The image's last scan: when, how many tags, the error and the registry's budget left.
pub fn scan_health(
    h: &mut Html,
    config: &Config,
    snap: &Snapshot,
    name: &str,
    image: &ImageStatus,
    now: Timestamp,
) {
    let state = match (&image.last_scan, &image.last_error) {
        (None, _) => "pending",
        (Some(_), Some(_)) => "failing",
        (Some(_), None) => "ok",
    };
    h.raw("<span class=\"scan scan-")
        .text(state)
        .raw("\" data-scan=\"")
        .text(state)
        .raw("\">");
    match &image.last_scan {
        Some(at) => {
            h.raw("scanned <time datetime=\"")
                .text(at)
                .raw("\">")
                .text(&when(at, now))
                .raw("</time>, ")
                .number(image.tag_count)
                .raw(" tags");
        }
        None => {
            h.raw("not scanned yet");
        }
    }
    if let Some(error) = &image.last_error {
        h.raw("<span class=\"error\" data-error=\"scan\"><strong>scan failing:</strong> ")
            .text(&redact(error, &snap.secret_paths))
            .raw("</span>");
    }
    let registry = config
        .images
        .get(name)
        .map(|i| i.repository.registry.as_str());
    if let Some(left) = registry.and_then(|r| snap.rate_limits.get(r)) {
        h.raw("<span class=\"budget\">")
            .number(left)
            .raw(" registry requests left in this window</span>");
    }
    h.raw("</span>");
}

/// One image in one environment.
fn cell(h: &mut Html, status: &Status, snap: &Snapshot, image: &str, env: &str, now: Timestamp) {
    let config = &*snap.config;
    let empty = EnvironmentStatus::default();
    let es = status.environments.get(env).unwrap_or(&empty);
    let running = es.running.get(image);
    let waits: Vec<&WaitingEntry> = es
        .waiting
        .iter()
        .filter(|w| w.image.as_deref() == Some(image))
        .collect();
    let reviews: Vec<_> = es
        .pending_reviews
        .iter()
        .filter(|r| r.image == image)
        .collect();
    let policies: Vec<&String> = config.policies_for_image(image).map(|(n, _)| n).collect();
    let moved: Vec<&String> = es
        .last_moves
        .iter()
        .filter(|m| {
            policies.iter().any(|p| {
                m.strip_prefix(p.as_str())
                    .is_some_and(|r| r.starts_with(' '))
            })
        })
        .collect();
    let versions: &[String] = running.map(|r| r.versions.as_slice()).unwrap_or(&[]);
    let candidate = candidate(status, config, image, env)
        .filter(|c| !versions.iter().any(|v| v == c) && !versions.is_empty());
    let soak = config.environments.get(env).and_then(|e| e.soak);
    let hold = running.and_then(|r| r.hold.as_deref());
    let state = if hold.is_some() {
        "held"
    } else if waits.iter().any(|w| soak_progress(w, soak, now).is_some()) {
        "soaking"
    } else if !waits.is_empty() {
        "waiting"
    } else if !reviews.is_empty() {
        "review"
    } else if running.is_none() {
        "absent"
    } else if candidate.is_some() {
        "behind"
    } else {
        "current"
    };
    h.raw("<td data-env=\"")
        .text(env)
        .raw("\" data-state=\"")
        .text(state)
        .raw("\" class=\"cell cell-")
        .text(state)
        .raw("\">");
    match running {
        None => {
            h.raw("<span class=\"absent\">not in this environment</span>");
        }
        Some(_) => {
            h.raw("<span class=\"running\" data-running=\"")
                .text(&versions.join(", "))
                .raw("\"><span class=\"label\">runs</span> ")
                .text(if versions.is_empty() {
                    "?"
                } else {
                    &versions[0]
                });
            for v in versions.iter().skip(1) {
                h.raw(", ").text(v);
            }
            h.raw("</span>");
        }
    }
    if !moved.is_empty() {
        h.raw("<span class=\"moved\">moved in the last commit");
        if let Some(at) = &es.last_commit_at {
            h.raw(" ").text(&when(at, now));
        }
        h.raw("</span>");
    }
    if let Some(c) = &candidate {
        h.raw("<span class=\"candidate\"><span class=\"label\">candidate</span> ")
            .text(c)
            .raw("</span>");
    }
    if let Some(reason) = hold {
        h.raw("<span class=\"gate hold\" data-gate=\"hold\"><strong>held</strong> ")
            .text(&redact(reason, &snap.secret_paths))
            .raw("</span>");
    }
    // The environment's verification of this image's current move: its state, the check
    // that fails and its last answer.
    for v in es.verification.iter().filter(|v| v.image == image) {
        h.raw("<span class=\"gate verify\" data-gate=\"verify\" data-verify=\"")
            .text(&v.state)
            .raw("\"><strong>verification</strong> ")
            .text(&redact(&v.summary, &snap.secret_paths))
            .raw("</span>");
    }
    for w in &waits {
        gate(h, w, soak, snap, now);
    }
    for r in &reviews {
        h.raw("<span class=\"gate review\" data-gate=\"review\">review ")
            .text(&r.from)
            .raw(" → ")
            .text(&r.to)
            .raw(": ");
        match (r.number, r.url.as_deref()) {
            (Some(n), url) => {
                h.link(url, &format!("pull request #{n}"));
            }
            (None, _) => {
                h.raw("branch ").text(&r.branch);
            }
        }
        h.raw("</span>");
    }
    h.raw("</td>");
}

/// The version this environment would move to: the source's for a promotion, else the
/// policy's choice.
fn candidate(status: &Status, config: &Config, image: &str, env: &str) -> Option<String> {
    let source = config
        .environments
        .get(env)
        .and_then(|e| e.promote_from.as_deref());
    match source {
        Some(source) => status
            .environments
            .get(source)?
            .running
            .get(image)?
            .versions
            .first()
            .cloned(),
        None => status
            .images
            .get(image)?
            .policies
            .values()
            .find_map(|p| p.chosen.clone()),
    }
}

/// A soak's share done (0 to 100), when `wait` is a soak with a known end.
fn soak_progress(wait: &WaitingEntry, soak: Option<Duration>, now: Timestamp) -> Option<u64> {
    let soak = soak.filter(|s| !s.is_zero())?;
    let until: Timestamp = wait.until.as_deref()?.parse().ok()?;
    let total = soak.as_secs().max(1);
    let left = (until.duration_since(now).as_secs().max(0) as u64).min(total);
    Some((total - left).saturating_mul(100) / total)
}

fn gate(
    h: &mut Html,
    wait: &WaitingEntry,
    soak: Option<Duration>,
    snap: &Snapshot,
    now: Timestamp,
) {
    match soak_progress(wait, soak, now) {
        Some(done) => {
            h.raw("<span class=\"gate soak\" data-gate=\"soak\"><label>soak <progress max=\"100\" value=\"")
                .number(done)
                .raw("\">")
                .number(done)
                .raw("%</progress> ")
                .number(done)
                .raw("%</label>");
            if let Some(until) = &wait.until {
                h.raw(" <span class=\"ready\">ready <time datetime=\"")
                    .text(until)
                    .raw("\">")
                    .text(&when(until, now))
                    .raw("</time></span>");
            }
            h.raw("<span class=\"why\">")
                .text(&redact(&wait.reason, &snap.secret_paths))
                .raw("</span></span>");
        }
        None => {
            h.raw("<span class=\"gate wait\" data-gate=\"wait\">waiting: ")
                .text(&redact(&wait.reason, &snap.secret_paths));
            if let Some(until) = &wait.until {
                h.raw(" (until ").text(&when(until, now)).raw(")");
            }
            h.raw("</span>");
        }
    }
}

/// Whether repository `name`'s remote is the forge's repository.
fn is_forge_repository(snap: &Snapshot, forge: &crate::forge::ForgeConfig, name: &str) -> bool {
    snap.config
        .repositories
        .get(name)
        .is_some_and(|r| forge.serves(&r.git.remote.url))
}

/// The latest moves, all or those of one image repository.
pub fn timeline(h: &mut Html, snap: &Snapshot, repository: Option<&str>) {
    h.raw("<section aria-labelledby=\"moves\">\n<h2 id=\"moves\">Recent moves</h2>\n");
    let entries: Vec<_> = snap
        .timeline
        .iter()
        .filter(|e| repository.is_none_or(|r| e.image == r))
        .collect();
    if entries.is_empty() {
        h.raw("<p>No moves recorded in the latest commits of the branch.</p>\n</section>\n");
        return;
    }
    h.raw("<ol class=\"timeline\">\n");
    let forge = snap.config.forge.as_ref();
    let several = snap.config.repositories.len() > 1;
    for e in entries {
        let at = Timestamp::from_second(e.time)
            .map(|t| t.strftime("%Y-%m-%d %H:%M UTC").to_string())
            .unwrap_or_default();
        h.raw("<li data-environment=\"")
            .text(&e.environment)
            .raw("\"><time>")
            .text(&at)
            .raw("</time> ");
        if several {
            h.raw("<span class=\"repository\">")
                .text(&e.repository)
                .raw("</span> ");
        }
        h.raw("<strong>")
            .text(&e.environment)
            .raw("</strong> ")
            .text(&e.image)
            .raw(" <span class=\"change\">")
            .text(&e.from)
            .raw(" → ")
            .text(&e.to)
            .raw("</span> <span class=\"policy\">")
            .text(&e.policy)
            .raw("</span> <span class=\"by\">by ")
            .text(&e.by)
            .raw("</span> ");
        let short = short_commit(&e.commit);
        // [forge] names one repository: with several, only its commits get a link.
        let url = forge
            .filter(|f| !several || is_forge_repository(snap, f, &e.repository))
            .and_then(|f| commit_url(Some(f), &e.commit));
        h.raw("<span class=\"commit\">");
        h.link(url.as_deref(), short);
        if let Some(merge) = &e.merge {
            h.raw(" (merged in ").text(short_commit(merge)).raw(")");
        }
        h.raw("</span></li>\n");
    }
    h.raw("</ol>\n</section>\n");
}
