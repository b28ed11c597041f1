//! Flux conformance: every case of tests/data/flux-conformance (Flux's answers, computed by
//! running Flux's own policy code) and of baton-*.tsv (cases added from reading Flux's
//! code), run through config parsing and the real policy engine.
//!
//! A case written as TOML becomes a one-policy configuration; `invalid` means
//! `Config::from_text` (what `baton check` runs) rejects it naming the key. Documented
//! deviations (docs/flux-compatibility.md) are listed in deviations.tsv with Baton's own
//! answer, which is asserted instead of Flux's. Run with
//! `cargo nextest run -E 'test(/^flux_conformance::/)'`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use baton::config::Config;
use figment::providers::Env;

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/flux-conformance")
}

/// Non-comment, non-empty lines of a data file, split on tabs.
fn rows(name: &str) -> Vec<Vec<String>> {
    let path = data_dir().join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| l.split('\t').map(str::to_string).collect())
        .collect()
}

#[derive(Debug)]
struct Case {
    id: String,
    image: String,
    kind: String,
    value: String,
    pattern: String,
    extract: String,
}

fn cases(name: &str) -> Vec<Case> {
    rows(name)
        .into_iter()
        .map(|r| {
            assert!(r.len() >= 6, "{name}: short row {r:?}");
            Case {
                id: r[0].clone(),
                image: r[1].clone(),
                kind: r[2].clone(),
                value: r[3].clone(),
                pattern: r[4].clone(),
                extract: r[5].clone(),
            }
        })
        .collect()
}

fn table(name: &str, value_column: usize) -> BTreeMap<String, String> {
    rows(name)
        .into_iter()
        .map(|r| (r[0].clone(), r[value_column].clone()))
        .collect()
}

fn tags(names: &[&str]) -> BTreeMap<String, Vec<String>> {
    let mut images: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for name in names {
        for r in rows(name) {
            images.entry(r[0].clone()).or_default().push(r[1].clone());
        }
    }
    images
}

/// The case as a configuration; the cells are TOML basic strings already.
fn config_text(case: &Case) -> String {
    let mut text = String::from(
        "[git]\nurl = \"file:///srv/fleet.git\"\n\n[images.img]\nrepository = \"registry.example/img\"\n\n[policies.p]\nimage = \"img\"\n",
    );
    writeln!(text, "{} = {}", case.kind, case.value).unwrap();
    if case.pattern != "-" {
        writeln!(text, "[policies.p.filter]\npattern = {}", case.pattern).unwrap();
        if case.extract != "-" {
            writeln!(text, "extract = {}", case.extract).unwrap();
        }
    }
    text.push_str("\n[environments.staging]\npaths = [\"clusters/staging\"]\n");
    text
}

/// Baton's answer in the expected.tsv vocabulary (`tag:T`, `none` or `invalid`).
fn baton_answer(case: &Case, images: &BTreeMap<String, Vec<String>>) -> String {
    let text = config_text(case);
    let config = match Config::from_text(
        Path::new("/etc/baton/baton.toml"),
        &text,
        Env::prefixed("BATON_FLUX_CONFORMANCE_NOTHING_"),
    ) {
        Ok(config) => config,
        Err(errors) => {
            let message = errors.to_string();
            let key = if case.kind == "semver" && message.contains("semver range") {
                "semver"
            } else {
                "filter.pattern"
            };
            if !message.contains(&format!("policies.p.{key}")) {
                return format!("rejected without naming policies.p.{key}: {message}");
            }
            return "invalid".to_string();
        }
    };
    let tags = images
        .get(&case.image)
        .unwrap_or_else(|| panic!("{}: no tags for image {}", case.id, case.image));
    let decision = config.policies["p"].policy.choose(tags);
    match decision.chosen {
        Some(tag) => format!("tag:{tag}"),
        None => "none".to_string(),
    }
}

/// True when `answer` is acceptable for `expected` (an `any:` set admits each member).
fn conforms(answer: &str, expected: &str) -> bool {
    match expected.strip_prefix("any:") {
        Some(set) => answer
            .strip_prefix("tag:")
            .is_some_and(|tag| set.split('|').any(|t| t == tag)),
        None => answer == expected,
    }
}

struct Outcome {
    total: usize,
    differing: Vec<String>,
    deviations: usize,
    /// Cases whose answer is not Flux's, deviations included.
    unlike_flux: usize,
}

fn run(case_file: &str, expected_file: &str, images: &BTreeMap<String, Vec<String>>) -> Outcome {
    let expected = table(expected_file, 2);
    let deviations = rows("deviations.tsv");
    let deviation: BTreeMap<&str, (&str, &str)> = deviations
        .iter()
        .map(|r| (r[0].as_str(), (r[1].as_str(), r[2].as_str())))
        .collect();
    let cases = cases(case_file);
    assert!(!cases.is_empty(), "{case_file} holds no cases");
    let mut outcome = Outcome {
        total: cases.len(),
        differing: Vec::new(),
        deviations: 0,
        unlike_flux: 0,
    };
    for case in &cases {
        let flux = expected
            .get(&case.id)
            .unwrap_or_else(|| panic!("{expected_file} has no answer for {}", case.id));
        let answer = baton_answer(case, images);
        if !conforms(&answer, flux) {
            outcome.unlike_flux += 1;
        }
        let (wanted, why) = match deviation.get(case.id.as_str()) {
            Some((baton, name)) => {
                assert!(
                    !conforms(baton, flux),
                    "{}: deviations.tsv lists {baton} but that is Flux's answer {flux}: remove the entry",
                    case.id
                );
                outcome.deviations += 1;
                (*baton, format!(" (deviation: {name})"))
            }
            None => {
                assert_ne!(
                    flux, "failed",
                    "{}: Flux fails this policy; Baton's answer must be listed in deviations.tsv",
                    case.id
                );
                (flux.as_str(), String::new())
            }
        };
        if !conforms(&answer, wanted) {
            outcome.differing.push(format!(
                "{} {} {} {} pattern {} extract {}: Baton {answer}, expected {wanted}{why} (Flux: {flux})",
                case.id, case.image, case.kind, case.value, case.pattern, case.extract
            ));
        }
    }
    outcome
}

fn report(name: &str, outcome: &Outcome) {
    eprintln!(
        "{name}: {} cases, {} answered as Flux, {} not; {} documented deviations; {} differing from the expected answer",
        outcome.total,
        outcome.total - outcome.unlike_flux,
        outcome.unlike_flux,
        outcome.deviations,
        outcome.differing.len()
    );
    assert!(
        outcome.differing.is_empty(),
        "{name}: {} of {} cases differ:\n{}",
        outcome.differing.len(),
        outcome.total,
        outcome.differing.join("\n")
    );
}

/// The 154 cases whose answers were computed by running Flux's own code.
#[test]
fn flux_computed_cases() {
    let images = tags(&["tags.tsv"]);
    let outcome = run("cases.tsv", "expected.tsv", &images);
    assert_eq!(outcome.total, 154, "cases.tsv should hold 154 cases");
    report("flux-computed cases", &outcome);
}

/// Cases added per class from reading Flux's, fluxcd/pkg's, Masterminds' and Go's code.
#[test]
fn baton_added_cases() {
    let images = tags(&["baton-tags.tsv"]);
    let outcome = run("baton-cases.tsv", "baton-expected.tsv", &images);
    report("baton-added cases", &outcome);
}

fn load(case: &Case) -> Option<Config> {
    Config::from_text(
        Path::new("/etc/baton/baton.toml"),
        &config_text(case),
        Env::prefixed("BATON_FLUX_CONFORMANCE_NOTHING_"),
    )
    .ok()
}

/// Every `failed` answer of Flux is a deviation (checked in `run`); every deviation names
/// a case and is described in the docs; `baton check` warns about the policy, except a
/// numerical policy with a filter (its keys may or may not all be numbers; the decision
/// counts the skipped ones).
#[test]
fn deviations_are_listed_by_case() {
    let doc = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/flux-compatibility.md"),
    )
    .expect("docs/flux-compatibility.md exists");
    let all: Vec<Case> = cases("cases.tsv")
        .into_iter()
        .chain(cases("baton-cases.tsv"))
        .collect();
    for r in rows("deviations.tsv") {
        assert_eq!(r.len(), 3, "deviations.tsv: id, answer, deviation: {r:?}");
        let case = all
            .iter()
            .find(|c| c.id == r[0])
            .unwrap_or_else(|| panic!("deviations.tsv names unknown case {}", r[0]));
        assert!(
            doc.contains(&format!("### {}", r[2])),
            "deviation {:?} of {} has no heading in docs/flux-compatibility.md",
            r[2],
            r[0]
        );
        let config = load(case).unwrap_or_else(|| panic!("{}: the config is valid", case.id));
        let warnings = config.policies["p"].policy.compatibility_warnings();
        if case.kind == "numerical" && case.pattern != "-" {
            assert!(warnings.is_empty(), "{}: {warnings:?}", case.id);
        } else {
            assert!(
                warnings
                    .iter()
                    .any(|w| w.contains("docs/flux-compatibility.md")),
                "{}: baton check gives no warning: {warnings:?}",
                case.id
            );
        }
    }
}

/// Ordinary policies (the first 45 cases) get no warning, except numerical policies
/// without a filter.
#[test]
fn ordinary_policies_have_no_warnings() {
    for case in cases("cases.tsv") {
        if case.id.as_str() > "p045" {
            continue;
        }
        let warnings = load(&case)
            .map(|c| c.policies["p"].policy.compatibility_warnings())
            .unwrap_or_default();
        let unfiltered_numerical = case.kind == "numerical" && case.pattern == "-";
        assert_eq!(
            warnings.is_empty(),
            !unfiltered_numerical,
            "{}: {warnings:?}",
            case.id
        );
    }
}
