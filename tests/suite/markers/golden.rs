//! Golden-file tests for the marker engine.
//!
//! Each directory under `tests/golden/markers/` is one case and holds:
//!
//! - one input file under its real name (`input.yaml`, `kustomization.yaml`, `Kustomization`,
//!   `docker-compose.yml`, `values.yaml`, ...);
//! - `policies.toml`: what each policy resolves to, one table per policy:
//!   `[policies.NAME]` with `repository`, `tag` and optionally `digest`. A marker naming a
//!   policy that is not listed resolves to nothing (an unknown policy);
//! - `expected.yaml`: the input after the edit, byte for byte (equal to the input when
//!   nothing changes);
//! - `changes.txt`, written by hand: each line the edit changes, as `LINE: the whole line
//!   after the edit` (without its line ending or BOM); every other line stays as it is;
//! - `problems.txt`, when the case expects any: the plan's problems, then its held markers,
//!   one per line, as `FILE:LINE: message` and `FILE:LINE: held: reason`;
//! - `README.md`, optionally: where the case comes from.
//!
//! The `flux-setters-*` cases are Flux's own setter test data (fluxcd/image-automation-controller,
//! `internal/update/testdata/setters`): Flux's input and Flux's expected output.
//!
//! The test first checks that `expected.yaml` is the input with exactly the lines of
//! `changes.txt` replaced (worked out here, line endings and BOM kept), so the expectation
//! never comes from the engine. Then it copies the input into an empty directory, runs
//! `markers::scan` over it, plans with a resolver built from `policies.toml`, compares the
//! edited text with `expected.yaml` and the report with `problems.txt`, runs `markers::apply`
//! and checks that the file on disk is then exactly `expected.yaml`, and finally scans and
//! plans again to check that a second pass has nothing left to do.
//!
//! There is no way to regenerate the expected files from the engine's output: after a
//! deliberate change, edit `changes.txt` and `expected.yaml` by hand. `tests/golden/.gitattributes`
//! keeps Git from touching line endings, so the CRLF, BOM and no-newline cases stay as they are.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use baton::markers::{self, Marker, Plan, Resolved, ScanOptions};

const CONTROL_FILES: [&str; 5] = [
    "policies.toml",
    "expected.yaml",
    "changes.txt",
    "problems.txt",
    "README.md",
];

/// Every form issue 4 names has a case; losing one is a failure, not a silent gap.
const REQUIRED_CASES: &[&str] = &[
    "block-mapping",
    "list-items",
    "kustomize-images",
    "kustomization-file",
    "helm-values",
    "compose",
    "quoting",
    "digest-references",
    "registry-ports",
    "crlf",
    "no-trailing-newline",
    "bom",
    "tabs-odd-indent",
    "holds",
    "malformed",
    "unknown-policy",
    "digest-pinning",
    "invalid-values",
    "no-change",
    "multi-document",
    "flux-guide-deployment",
    "flux-guide-helmrelease",
    "flux-guide-tekton-task",
    "flux-guide-flux-kustomization",
    "flux-guide-kustomize-config",
    "flux-guide-kustomize-patches",
    "unparseable",
    "tab-after-colon",
    "flux-setters-marked",
    "flux-setters-kustomization",
    "flux-setters-kustomization-file",
    "flux-setters-unmarked",
    "flux-setters-otherns",
];

/// Required cases whose file is rightly left as it is.
const UNCHANGED_CASES: &[&str] = &[
    "no-change",
    "invalid-values",
    "unparseable",
    "tab-after-colon",
    "flux-setters-unmarked",
];

fn cases_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/markers")
}

/// The input with the lines of `changes.txt` replaced: each line keeps its own line ending
/// (and the first its BOM).
fn expected_from_changes(case: &Path, input: &str) -> Result<String, String> {
    let path = case.join("changes.txt");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut lines: Vec<String> = input.split('\n').map(str::to_string).collect();
    for (n, row) in text.lines().enumerate() {
        if row.starts_with('#') || row.trim().is_empty() {
            continue;
        }
        let (number, after) = row
            .split_once(": ")
            .ok_or_else(|| format!("changes.txt:{}: want `LINE: text`", n + 1))?;
        let number: usize = number
            .parse()
            .map_err(|_| format!("changes.txt:{}: {number:?} is not a line number", n + 1))?;
        let line = number
            .checked_sub(1)
            .and_then(|i| lines.get_mut(i))
            .ok_or_else(|| format!("changes.txt:{}: the input has no line {number}", n + 1))?;
        let bom = if number == 1 && line.starts_with('\u{feff}') {
            "\u{feff}"
        } else {
            ""
        };
        let cr = if line.ends_with('\r') { "\r" } else { "" };
        let new = format!("{bom}{after}{cr}");
        if *line == new {
            return Err(format!(
                "changes.txt:{}: line {number} does not change",
                n + 1
            ));
        }
        *line = new;
    }
    Ok(lines.join("\n"))
}

/// Reads `policies.toml` into policy name -> resolution.
fn read_policies(path: &Path) -> BTreeMap<String, Resolved> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let doc: toml_edit::DocumentMut = text
        .parse()
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut out = BTreeMap::new();
    if let Some(policies) = doc.get("policies").and_then(|p| p.as_table()) {
        for (name, item) in policies.iter() {
            let table = item
                .as_table()
                .unwrap_or_else(|| panic!("{}: [policies.{name}] is not a table", path.display()));
            let get = |key: &str| table.get(key).and_then(|v| v.as_str()).map(str::to_string);
            out.insert(
                name.to_string(),
                Resolved {
                    repository: get("repository").unwrap_or_default(),
                    tag: get("tag").unwrap_or_default(),
                    digest: get("digest"),
                },
            );
        }
    }
    out
}

fn input_file(case: &Path) -> String {
    let mut inputs: Vec<String> = std::fs::read_dir(case)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| !CONTROL_FILES.contains(&name.as_str()))
        .collect();
    assert_eq!(
        inputs.len(),
        1,
        "{}: want exactly one input file besides {CONTROL_FILES:?}, found {inputs:?}",
        case.display()
    );
    inputs.remove(0)
}

/// The problems and held markers, as `problems.txt` holds them.
fn report(plan: &Plan) -> String {
    let mut out = String::new();
    for problem in &plan.problems {
        writeln!(out, "{problem}").unwrap();
    }
    for held in &plan.held {
        writeln!(
            out,
            "{}:{}: held: {}",
            held.path.display(),
            held.line,
            held.hold.as_deref().unwrap_or_default()
        )
        .unwrap();
    }
    out
}

fn scan_and_plan(dir: &Path, policies: &BTreeMap<String, Resolved>) -> Plan {
    let scan = markers::scan(dir, &[], &ScanOptions::default()).unwrap();
    let resolve = |m: &Marker| policies.get(&m.policy).cloned();
    markers::plan(&scan, &resolve)
}

/// Runs one case; returns what went wrong, if anything.
fn run_case(case: &Path) -> Result<(), String> {
    let input_name = input_file(case);
    let input = std::fs::read(case.join(&input_name)).unwrap();
    let input_text = String::from_utf8(input.clone()).map_err(|e| format!("input: {e}"))?;
    let policies = read_policies(&case.join("policies.toml"));

    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join(&input_name);
    std::fs::write(&target, &input).unwrap();
    let plan = scan_and_plan(dir.path(), &policies);

    let edited = match plan.edits.as_slice() {
        [] => input_text.clone(),
        [edit] => {
            if edit.path != Path::new(&input_name) {
                return Err(format!("edit names {:?}", edit.path));
            }
            if edit.before.get().unwrap() != *input_text {
                return Err("the edit's before text is not the input".to_string());
            }
            edit.after().unwrap()
        }
        more => return Err(format!("{} edits for one input file", more.len())),
    };
    let problems = report(&plan);

    let expected_path = case.join("expected.yaml");
    let problems_path = case.join("problems.txt");
    let expected =
        std::fs::read(&expected_path).map_err(|e| format!("{}: {e}", expected_path.display()))?;
    if expected_from_changes(case, &input_text)?.as_bytes() != expected.as_slice() {
        return Err(
            "expected.yaml is not the input with the lines of changes.txt replaced".to_string(),
        );
    }
    if edited.as_bytes() != expected.as_slice() {
        return Err(format!(
            "edited text differs from expected.yaml:\n--- expected\n{}\n--- got\n{}",
            String::from_utf8_lossy(&expected),
            edited
        ));
    }
    let expected_problems = std::fs::read_to_string(&problems_path).unwrap_or_default();
    if problems != expected_problems {
        return Err(format!(
            "problems differ from problems.txt:\n--- expected\n{expected_problems}--- got\n{problems}"
        ));
    }

    // apply writes exactly the planned text.
    let written = markers::apply(dir.path(), &plan).map_err(|e| format!("apply: {e}"))?;
    if written != plan.edits.len() {
        return Err(format!(
            "apply wrote {written} files, plan has {}",
            plan.edits.len()
        ));
    }
    let on_disk = std::fs::read(&target).unwrap();
    if on_disk != expected {
        return Err("the file apply wrote differs from expected.yaml".to_string());
    }
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| *n != *input_name)
        .collect();
    if !leftovers.is_empty() {
        return Err(format!("apply left files behind: {leftovers:?}"));
    }

    // A second pass over the written file has nothing left to do.
    let again = scan_and_plan(dir.path(), &policies);
    if !again.edits.is_empty() {
        return Err(format!(
            "a second pass still edits: {:?}",
            again.edits[0].changes
        ));
    }
    Ok(())
}

#[test]
fn golden_cases() {
    let root = cases_dir();
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    let names: Vec<String> = cases
        .iter()
        .map(|c| c.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    for required in REQUIRED_CASES {
        assert!(
            names.iter().any(|n| n == required),
            "golden case {required} is missing"
        );
    }
    let mut failures = Vec::new();
    for (case, name) in cases.iter().zip(&names) {
        if let Err(why) = run_case(case) {
            failures.push(format!("{name}: {why}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} golden cases failed:\n\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
}

/// The cases that exist to show the engine changes something do change something, and the
/// ones that show a file left alone leave it alone.
#[test]
fn golden_cases_that_edit_do_edit() {
    for name in REQUIRED_CASES {
        let case = cases_dir().join(name);
        let input_name = input_file(&case);
        let input = std::fs::read(case.join(&input_name)).unwrap();
        let expected = std::fs::read(case.join("expected.yaml")).unwrap();
        if UNCHANGED_CASES.contains(name) {
            assert_eq!(
                input, expected,
                "{name}: expected.yaml differs from the input"
            );
        } else {
            assert_ne!(input, expected, "{name}: expected.yaml equals the input");
        }
    }
}
