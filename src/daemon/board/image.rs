//! The board's page for one image: its scan, where it runs in each environment, and per policy
//! the tags of its last scan ranked, with why each skipped tag is not eligible (`baton tags`).

use std::collections::BTreeMap;

use jiff::Timestamp;

use super::html::Html;
use super::index::{scan_health, timeline};
use super::layout;
use super::state::Snapshot;
use crate::daemon::status::{ImageStatus, Status};
use crate::pass::environment_order;

/// Tags listed per list on the page; the rest are counted.
pub const TAGS_SHOWN: usize = 100;

/// The page for image `name`; `None` when the configuration has no such image.
pub fn render_image(
    status: &Status,
    snap: &Snapshot,
    name: &str,
    tags: Option<&[String]>,
    now: Timestamp,
) -> Option<String> {
    let config = &*snap.config;
    let image_config = config.images.get(name)?;
    let default = ImageStatus::default();
    let image = status.images.get(name).unwrap_or(&default);
    let mut h = Html::with_capacity(16 * 1024);
    layout::head(&mut h, name, true);
    layout::banner(&mut h, status, snap, now);
    h.raw("<main id=\"main\">\n<nav aria-label=\"Breadcrumb\"><a href=\"/\">All images</a></nav>\n<h2>")
        .text(name)
        .raw(" <span class=\"repo\">")
        .text(&image_config.repository_text)
        .raw("</span></h2>\n<p>");
    scan_health(&mut h, config, snap, name, image, now);
    h.raw("</p>\n<section aria-labelledby=\"where\">\n<h3 id=\"where\">Environments</h3>\n<table>\n<caption>What runs where</caption>\n<thead><tr><th scope=\"col\">Environment</th><th scope=\"col\">Runs</th><th scope=\"col\">Held</th></tr></thead>\n<tbody>\n");
    for env in environment_order(config) {
        let running = status
            .environments
            .get(&env)
            .and_then(|e| e.running.get(name));
        h.raw("<tr><th scope=\"row\">").text(&env).raw("</th><td>");
        match running {
            Some(r) => h.text(&r.versions.join(", ")),
            None => h.raw("not in this environment"),
        };
        h.raw("</td><td>")
            .text(running.and_then(|r| r.hold.as_deref()).unwrap_or("-"))
            .raw("</td></tr>\n");
    }
    h.raw("</tbody>\n</table>\n</section>\n");
    let policies: BTreeMap<&String, _> = config.policies_for_image(name).collect();
    for (policy_name, policy) in policies {
        let choice = image.policies.get(policy_name);
        h.raw("<section class=\"policy-tags\" aria-label=\"Policy ")
            .text(policy_name)
            .raw("\">\n<h3>Policy ")
            .text(policy_name)
            .raw(" <span class=\"rule\">")
            .text(&policy.policy.describe())
            .raw("</span></h3>\n<p>")
            .text(choice.map(|c| c.reason.as_str()).unwrap_or("no choice yet"))
            .raw("</p>\n");
        let Some(tags) = tags else {
            h.raw("<p>The tags are listed after the first successful scan.</p>\n</section>\n");
            continue;
        };
        let chosen = choice.and_then(|c| c.chosen.as_deref());
        let ranked = policy.policy.rank(tags);
        h.raw("<h4>Eligible, best first (")
            .number(ranked.len())
            .raw(")</h4>\n<ol class=\"tags\">");
        for tag in ranked.iter().take(TAGS_SHOWN) {
            h.raw("<li data-tag=\"").text(tag).raw("\">").text(tag);
            if Some(tag.as_str()) == chosen {
                h.raw(" <strong>chosen</strong>");
            }
            h.raw("</li>");
        }
        h.raw("</ol>\n");
        more(&mut h, ranked.len());
        let mut skipped: Vec<(&String, String)> = tags
            .iter()
            .filter_map(|t| policy.policy.skip_reason(t).map(|r| (t, r.to_string())))
            .collect();
        skipped.sort();
        h.raw("<h4>Not eligible (")
            .number(skipped.len())
            .raw(")</h4>\n<table class=\"skipped\">\n<thead><tr><th scope=\"col\">Tag</th><th scope=\"col\">Why not</th></tr></thead>\n<tbody>\n");
        for (tag, why) in skipped.iter().take(TAGS_SHOWN) {
            h.raw("<tr data-tag=\"")
                .text(tag)
                .raw("\"><td>")
                .text(tag)
                .raw("</td><td>")
                .text(why)
                .raw("</td></tr>\n");
        }
        h.raw("</tbody>\n</table>\n");
        more(&mut h, skipped.len());
        h.raw("</section>\n");
    }
    timeline(&mut h, snap, Some(&image_config.repository_text));
    h.raw("</main>\n");
    layout::foot(&mut h);
    Some(h.finish())
}

fn more(h: &mut Html, total: usize) {
    if total > TAGS_SHOWN {
        h.raw("<p class=\"more\">and ")
            .number(total - TAGS_SHOWN)
            .raw(" more: <code>baton tags</code> lists them all.</p>\n");
    }
}
