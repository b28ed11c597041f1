//! Review mode's words: the branch Baton owns for an environment and image, and the title and
//! body of its pull request, with a hidden marker that lets Baton recognise its own requests.

use std::fmt::Write as _;

/// The review branch for `environment` and `image` from the configured template
/// (`baton/{env}/{image}` by default).
pub fn review_branch(template: &str, environment: &str, image: &str) -> String {
    template
        .replace("{env}", environment)
        .replace("{image}", image)
}

/// What a pull request proposes, read back from its hidden marker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewKey {
    /// The environment name.
    pub environment: String,
    /// The `[images]` name.
    pub image: String,
    /// The version it moves to.
    pub version: String,
}

const MARKER_START: &str = "<!-- baton-review ";
const MARKER_END: &str = " -->";

/// The hidden line a review body ends with.
pub fn review_marker(key: &ReviewKey) -> String {
    format!(
        "{MARKER_START}environment={} image={} version={}{MARKER_END}",
        key.environment, key.image, key.version
    )
}

/// Reads the marker [`review_marker`] wrote; `None` when the body has none (a pull request
/// Baton did not write, or whose body a person replaced).
pub fn parse_review_marker(body: &str) -> Option<ReviewKey> {
    let start = body.rfind(MARKER_START)? + MARKER_START.len();
    let rest = &body[start..];
    let fields = &rest[..rest.find(MARKER_END)?];
    let mut environment = None;
    let mut image = None;
    let mut version = None;
    for field in fields.split_whitespace() {
        match field.split_once('=') {
            Some(("environment", v)) => environment = Some(v.to_string()),
            Some(("image", v)) => image = Some(v.to_string()),
            Some(("version", v)) => version = Some(v.to_string()),
            _ => {}
        }
    }
    Some(ReviewKey {
        environment: environment?,
        image: image?,
        version: version?,
    })
}

/// The body of a review Baton closes because `image` now moves with `group`: why, where the
/// group is proposed, then the old body without its marker (so the closing is not read later
/// as a person declining that version).
pub fn superseded_body(old: &str, image: &str, group: &str, group_branch: &str) -> String {
    // Every marker goes: one left behind would still be read as Baton's.
    let mut kept = old.to_string();
    while let Some(start) = kept.rfind(MARKER_START) {
        let end = kept[start..]
            .find(MARKER_END)
            .map_or(kept.len(), |e| start + e + MARKER_END.len());
        kept.replace_range(start..end, "");
    }
    format!(
        "**Closed by Baton:** {image} is now in group **{group}**, whose images move together, \
         so merging this would move {image} alone. Baton proposes it with the group, on branch \
         `{group_branch}`, once every member may move.\n\n---\n\n{}",
        kept.trim_end()
    )
}

/// Everything a review states.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewDetails {
    /// The environment that moves.
    pub environment: String,
    /// The `[images]` name.
    pub image: String,
    /// The image repository.
    pub repository: String,
    /// The version(s) it moves from.
    pub from: String,
    /// The version it moves to.
    pub to: String,
    /// `NAME (RULE)` of the environment's policy.
    pub policy: String,
    /// The environment the version comes from, with `promote_from`.
    pub source: Option<String>,
    /// Soak evidence, in words.
    pub soak: Option<String>,
    /// The person who asked for it (`baton promote`).
    pub promoted_by: Option<String>,
    /// `(text, url)` links, e.g. to the commit that brought the version to the source.
    pub links: Vec<(String, String)>,
}

/// A pull request's title and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewText {
    /// One line, the same as the commit subject.
    pub title: String,
    /// Markdown.
    pub body: String,
}

/// Markdown-safe inline code: backticks in the value are replaced.
fn code(value: &str) -> String {
    format!("`{}`", value.replace('`', "'"))
}

/// The title and body of the review for `details`.
pub fn review_text(details: &ReviewDetails) -> ReviewText {
    let title = format!(
        "{}: {} {} -> {}",
        details.environment, details.image, details.from, details.to
    );
    let mut body = String::new();
    let _ = writeln!(
        body,
        "Baton proposes moving **{}** in **{}**.\n",
        details.image, details.environment
    );
    body.push_str("| | |\n|---|---|\n");
    let _ = writeln!(body, "| image | {} |", code(&details.repository));
    let _ = writeln!(body, "| from | {} |", code(&details.from));
    let _ = writeln!(body, "| to | {} |", code(&details.to));
    let _ = writeln!(body, "| policy | {} |", code(&details.policy));
    if let Some(source) = &details.source {
        let _ = writeln!(body, "| promoted from | {source} |");
    }
    if let Some(soak) = &details.soak {
        let _ = writeln!(body, "| soak | {soak} |");
    }
    if let Some(by) = &details.promoted_by {
        let _ = writeln!(body, "| requested by | {by} |");
    }
    if !details.links.is_empty() {
        body.push('\n');
        for (text, url) in &details.links {
            let _ = writeln!(body, "- [{text}]({url})");
        }
    }
    let _ = write!(
        body,
        "\nMerging this pull request moves {env}. Closing it without merging tells Baton not to \
         propose {to} again; a newer version opens a new pull request. Baton force-pushes this \
         branch when the candidate changes.\n\n{marker}\n",
        env = details.environment,
        to = details.to,
        marker = review_marker(&ReviewKey {
            environment: details.environment.clone(),
            image: details.image.clone(),
            version: details.to.clone(),
        })
    );
    ReviewText { title, body }
}

/// One image of a group's review.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupMember {
    /// The `[images]` name.
    pub image: String,
    /// The image repository.
    pub repository: String,
    /// The version(s) it moves from.
    pub from: String,
    /// The version it moves to.
    pub to: String,
    /// `NAME (RULE)` of its policy.
    pub policy: String,
    /// Soak evidence, in words, with `promote_from`.
    pub soak: Option<String>,
}

/// The review marker's version for a group: `IMAGE=VERSION` of each member, comma-joined
/// (no spaces, so that the marker reads back).
pub fn group_version(members: &[(String, String)]) -> String {
    members
        .iter()
        .map(|(image, to)| format!("{image}={to}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// The title (`title`, the commit subject) and body of the review that moves the members of
/// the group `group` in `environment` together, in one pull request.
pub fn group_review_text(
    environment: &str,
    group: &str,
    title: &str,
    members: &[GroupMember],
    source: Option<&str>,
    links: &[(String, String)],
) -> ReviewText {
    let mut body = String::new();
    let names: Vec<&str> = members.iter().map(|m| m.image.as_str()).collect();
    let _ = writeln!(
        body,
        "Baton proposes moving the group **{group}** ({}) in **{environment}**, together.\n",
        names.join(", ")
    );
    body.push_str("| image | repository | from | to | policy |\n|---|---|---|---|---|\n");
    for m in members {
        let _ = writeln!(
            body,
            "| {} | {} | {} | {} | {} |",
            m.image,
            code(&m.repository),
            code(&m.from),
            code(&m.to),
            code(&m.policy)
        );
    }
    if let Some(source) = source {
        let _ = writeln!(body, "\nPromoted from {source}.");
        for m in members {
            if let Some(soak) = &m.soak {
                let _ = writeln!(body, "- {} soak: {soak}", m.image);
            }
        }
    }
    if !links.is_empty() {
        body.push('\n');
        for (text, url) in links {
            let _ = writeln!(body, "- [{text}]({url})");
        }
    }
    let version = group_version(
        &members
            .iter()
            .map(|m| (m.image.clone(), m.to.clone()))
            .collect::<Vec<_>>(),
    );
    let _ = write!(
        body,
        "\nMerging this pull request moves every image of {group} in {environment} at once. \
         Closing it without merging tells Baton not to propose these versions again; a newer \
         version of any of them opens a new pull request. Baton force-pushes this branch when \
         the candidates change.\n\n{marker}\n",
        marker = review_marker(&ReviewKey {
            environment: environment.to_string(),
            image: group.to_string(),
            version,
        })
    );
    ReviewText {
        title: title.to_string(),
        body,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn details() -> ReviewDetails {
        ReviewDetails {
            environment: "production".into(),
            image: "app".into(),
            repository: "registry.example.com/app".into(),
            from: "1.1.0".into(),
            to: "1.2.0".into(),
            policy: "app (semver 1.x)".into(),
            source: Some("staging".into()),
            soak: Some("24h required; in staging since 2026-11-25 10:00 UTC".into()),
            promoted_by: None,
            links: vec![(
                "commit that brought 1.2.0 to staging".into(),
                "https://example.com/c/1".into(),
            )],
        }
    }

    #[test]
    fn branch_names() {
        assert_eq!(
            review_branch("baton/{env}/{image}", "production", "app"),
            "baton/production/app"
        );
        assert_eq!(review_branch("auto-{image}", "p", "web"), "auto-web");
    }

    #[test]
    fn text_states_everything_and_round_trips_the_marker() {
        let text = review_text(&details());
        assert_eq!(text.title, "production: app 1.1.0 -> 1.2.0");
        for needle in [
            "| image | `registry.example.com/app` |",
            "| from | `1.1.0` |",
            "| to | `1.2.0` |",
            "| policy | `app (semver 1.x)` |",
            "| promoted from | staging |",
            "| soak | 24h required",
            "- [commit that brought 1.2.0 to staging](https://example.com/c/1)",
        ] {
            assert!(text.body.contains(needle), "{needle} in {}", text.body);
        }
        assert_eq!(
            parse_review_marker(&text.body),
            Some(ReviewKey {
                environment: "production".into(),
                image: "app".into(),
                version: "1.2.0".into(),
            })
        );
    }

    #[test]
    fn a_group_review_lists_every_member_and_round_trips_its_marker() {
        let member = |image: &str| GroupMember {
            image: image.into(),
            repository: format!("registry.example.com/{image}"),
            from: "1.1.0".into(),
            to: "1.2.0".into(),
            policy: format!("{image} (semver 1.x)"),
            soak: Some("24h required".into()),
        };
        let text = group_review_text(
            "production",
            "shop",
            "production: group shop: api 1.1.0 -> 1.2.0, web 1.1.0 -> 1.2.0",
            &[member("api"), member("web")],
            Some("staging"),
            &[],
        );
        assert!(text.title.starts_with("production: group shop: "));
        for needle in [
            "the group **shop** (api, web) in **production**",
            "| api | `registry.example.com/api` | `1.1.0` | `1.2.0` | `api (semver 1.x)` |",
            "| web | `registry.example.com/web` |",
            "Promoted from staging.",
            "- web soak: 24h required",
        ] {
            assert!(text.body.contains(needle), "{needle} in {}", text.body);
        }
        assert_eq!(
            parse_review_marker(&text.body),
            Some(ReviewKey {
                environment: "production".into(),
                image: "shop".into(),
                version: "api=1.2.0,web=1.2.0".into(),
            })
        );
    }

    #[test]
    fn a_superseded_body_keeps_the_text_and_drops_the_marker() {
        let key = ReviewKey {
            environment: "production".into(),
            image: "app".into(),
            version: "1.1.0".into(),
        };
        let old = format!(
            "{}\nMoves app to 1.1.0.\n\n{}\n",
            review_marker(&key),
            review_marker(&key)
        );
        let body = superseded_body(&old, "app", "shop", "baton/production/shop");
        assert!(body.starts_with("**Closed by Baton:** app is now in group **shop**"));
        assert!(body.contains("`baton/production/shop`"), "{body}");
        assert!(body.ends_with("Moves app to 1.1.0."), "{body}");
        assert_eq!(parse_review_marker(&body), None);
        // A body with no marker (a person replaced it) is kept whole.
        let body = superseded_body("a person's words", "app", "shop", "b");
        assert!(body.ends_with("a person's words"));
    }

    #[test]
    fn bodies_without_a_marker() {
        assert_eq!(parse_review_marker("a person wrote this"), None);
        assert_eq!(parse_review_marker("<!-- baton-review image=x -->"), None);
    }
}
