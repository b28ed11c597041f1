//! The policy keys of a `[policies.NAME]` section and an image's `exclude` list, read into
//! the types this module evaluates: the rule, the tag filter and the exclusion patterns.

use crate::common::settings::{KeyPath, Table};

use super::{Exclusions, GoRegex, Order, Rule, SemverRange, TagFilter, default_exclude};

/// The names of the rules a policy sets, of `semver`, `alphabetical` and `numerical` (a
/// policy must set exactly one; Baton's TOML and Flux's ImagePolicy both check it).
pub fn rules_given(semver: bool, alphabetical: bool, numerical: bool) -> Vec<&'static str> {
    [
        ("semver", semver),
        ("alphabetical", alphabetical),
        ("numerical", numerical),
    ]
    .into_iter()
    .filter(|(_, set)| *set)
    .map(|(name, _)| name)
    .collect()
}

/// Reads the rule: exactly one of `semver`, `alphabetical` or `numerical`.
pub fn read_rule(t: &Table) -> Option<Rule> {
    let semver = t.string("semver");
    let alphabetical = t.string("alphabetical");
    let numerical = t.string("numerical");
    let given = rules_given(
        semver.is_some(),
        alphabetical.is_some(),
        numerical.is_some(),
    );
    match given.len() {
        0 => {
            let present = ["semver", "alphabetical", "numerical"]
                .iter()
                .any(|k| t.has(k));
            if !present {
                t.missing(
                    "semver",
                    "set exactly one of semver = \"RANGE\", alphabetical = \"asc|desc\" or numerical = \"asc|desc\"",
                );
            }
            None
        }
        1 => {
            if let Some(range) = &semver {
                match SemverRange::parse(range) {
                    Ok(range) => Some(Rule::Semver(range)),
                    Err(err) => {
                        t.error("semver", err.to_string());
                        None
                    }
                }
            } else {
                let (key, text) = match (&alphabetical, &numerical) {
                    (Some(a), _) => ("alphabetical", a),
                    (None, Some(n)) => ("numerical", n),
                    (None, None) => ("numerical", &String::new()),
                };
                match text.parse::<Order>() {
                    Ok(order) if key == "alphabetical" => Some(Rule::Alphabetical(order)),
                    Ok(order) => Some(Rule::Numerical(order)),
                    Err(_) => {
                        t.error(
                            key,
                            format!("{text:?} is not an order: use \"asc\" or \"desc\""),
                        );
                        None
                    }
                }
            }
        }
        _ => {
            t.error(
                given[1],
                format!(
                    "a policy takes exactly one of semver, alphabetical, numerical; this one sets {}",
                    given.join(" and ")
                ),
            );
            None
        }
    }
}

/// Reads the optional `[policies.NAME.filter]`: `Some(None)` when absent, `None` when invalid.
pub fn read_filter(t: &Table) -> Option<Option<TagFilter>> {
    match t.table("filter") {
        Some(f) => {
            // An empty pattern is valid and matches every tag, as in Flux.
            let pattern = if f.has("pattern") {
                f.string("pattern")
            } else {
                f.required_string(
                    "pattern",
                    "give the regular expression tags must match, e.g. pattern = '^main-(?P<ts>[0-9]+)'",
                )
            };
            let extract = f.string("extract");
            let built = pattern.as_deref().and_then(|pattern| {
                match TagFilter::new(pattern, extract.as_deref()) {
                    Ok(filter) => Some(filter),
                    Err(err) => {
                        f.error("pattern", first_line(&err.to_string()));
                        None
                    }
                }
            });
            f.finish();
            built.map(Some)
        }
        None => Some(None),
    }
}

/// Reads an image's `exclude` patterns (Go regular expressions), or the default exclusions
/// when it sets none.
pub fn read_exclude(t: &Table) -> Exclusions {
    match t.string_list("exclude") {
        Some(items) => compile_regexes(t, items),
        None => default_exclude(),
    }
}

fn compile_regexes(t: &Table, items: Vec<(String, KeyPath)>) -> Exclusions {
    items
        .into_iter()
        .filter_map(|(pattern, path)| match GoRegex::new(&pattern) {
            Ok(re) => Some(re.regex().clone()),
            Err(err) => {
                t.error_at(
                    &path,
                    format!(
                        "{pattern:?} is not a valid regular expression: {}",
                        first_line(&err.to_string())
                    ),
                );
                None
            }
        })
        .collect()
}

fn first_line(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}
