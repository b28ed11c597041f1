//! The layer check: every `crate::MODULE` path in `src/` must name a module in a lower layer
//! of the table at the top of `lib.rs` (or the file's own module). Run by `scripts/test`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The layers, lowest first, read from `//! N. `name`, `name`: ...` lines.
fn parse_layers(lib_rs: &str) -> Result<Vec<Vec<String>>, String> {
    let mut layers = Vec::new();
    for line in lib_rs.lines() {
        let Some(text) = line.strip_prefix("//! ") else {
            continue;
        };
        let Some((number, rest)) = text.split_once(". ") else {
            continue;
        };
        let Ok(number) = number.trim().parse::<usize>() else {
            continue;
        };
        if number != layers.len() + 1 {
            return Err(format!("layer {number} is out of order in lib.rs"));
        }
        let names_part = rest.split_once(": ").map_or(rest, |(names, _)| names);
        let names: Vec<String> = names_part
            .split('`')
            .skip(1)
            .step_by(2)
            .map(str::to_string)
            .collect();
        if names.is_empty() {
            return Err(format!("layer {number} names no module in lib.rs"));
        }
        layers.push(names);
    }
    if layers.is_empty() {
        return Err("lib.rs has no layer table (`//! 1. `common`: ...`)".into());
    }
    Ok(layers)
}

/// `source` with comments, string and character literals blanked out (newlines kept), so
/// that only code is searched.
fn code_only(source: &str) -> String {
    let chars: Vec<char> = source.chars().collect();
    let mut out = String::with_capacity(source.len());
    let mut i = 0;
    let blank = |c: char| if c == '\n' { '\n' } else { ' ' };
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                out.push(' ');
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    out.push_str("  ");
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    out.push_str("  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    out.push(blank(chars[i]));
                    i += 1;
                }
            }
        } else if c == 'r' && (next == Some('"') || next == Some('#')) && !ident_before(&chars, i) {
            // A raw string: r"..." or r#"..."#.
            let mut j = i + 1;
            let mut hashes = 0;
            while chars.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if chars.get(j) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            j += 1;
            while j < chars.len() {
                if chars[j] == '"' && (0..hashes).all(|h| chars.get(j + 1 + h) == Some(&'#')) {
                    j += 1 + hashes;
                    break;
                }
                j += 1;
            }
            for &skipped in &chars[i..j.min(chars.len())] {
                out.push(blank(skipped));
            }
            i = j;
        } else if c == '"' {
            out.push(' ');
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' {
                    out.push(' ');
                    i += 1;
                }
                if i < chars.len() {
                    out.push(blank(chars[i]));
                    i += 1;
                }
            }
            out.push(' ');
            i += 1;
        } else if c == '\'' && (chars.get(i + 2) == Some(&'\'') || next == Some('\\')) {
            // A character literal ('x' or '\n'); a lifetime has no closing quote.
            let mut j = i + 1;
            if chars.get(j) == Some(&'\\') {
                j += 1;
            }
            while j < chars.len() && chars[j] != '\'' {
                j += 1;
            }
            for _ in i..=j.min(chars.len() - 1) {
                out.push(' ');
            }
            i = j + 1;
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

fn ident_before(chars: &[char], i: usize) -> bool {
    i > 0 && (chars[i - 1].is_alphanumeric() || chars[i - 1] == '_')
}

/// The top-level modules `code` names through `crate::`, with their 1-based lines.
fn crate_paths(code: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    for (index, line) in code.lines().enumerate() {
        let mut rest = line;
        while let Some(at) = rest.find("crate::") {
            let before = &rest[..at];
            rest = &rest[at + "crate::".len()..];
            if before.ends_with(|c: char| c.is_alphanumeric() || c == '_') {
                continue;
            }
            if let Some(group) = rest.strip_prefix('{') {
                // `crate::{a::X, b}`: the first segment of each item at the top level.
                let mut depth = 0;
                let mut item_start = true;
                for (offset, c) in group.char_indices() {
                    match c {
                        '{' => depth += 1,
                        '}' if depth == 0 => break,
                        '}' => depth -= 1,
                        ',' if depth == 0 => item_start = true,
                        c if item_start && (c.is_alphabetic() || c == '_') => {
                            item_start = false;
                            let name: String = group[offset..]
                                .chars()
                                .take_while(|c| c.is_alphanumeric() || *c == '_')
                                .collect();
                            found.push((index + 1, name));
                        }
                        _ => {}
                    }
                }
            } else {
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    found.push((index + 1, name));
                }
            }
        }
    }
    found
}

/// Every import in `files` (path relative to `src/`, source) that does not point to a lower
/// layer, as `src/FILE:LINE: ...` messages.
fn violations(layers: &[Vec<String>], files: &[(PathBuf, String)]) -> Vec<String> {
    let layer_of: HashMap<&str, usize> = layers
        .iter()
        .enumerate()
        .flat_map(|(n, names)| names.iter().map(move |name| (name.as_str(), n)))
        .collect();
    let mut problems = Vec::new();
    for (path, source) in files {
        let Some(module) = top_module(path) else {
            continue;
        };
        let shown = Path::new("src").join(path);
        let Some(&own) = layer_of.get(module.as_str()) else {
            problems.push(format!(
                "{}: module `{module}` is in no layer: add it to the table at the top of src/lib.rs",
                shown.display()
            ));
            continue;
        };
        for (line, target) in crate_paths(&code_only(source)) {
            if target == module {
                continue;
            }
            match layer_of.get(target.as_str()) {
                Some(&theirs) if theirs < own => {}
                Some(&theirs) => problems.push(format!(
                    "{}:{line}: `{module}` (layer {}) imports `crate::{target}` (layer {}): a module may import only from layers below its own (src/lib.rs)",
                    shown.display(),
                    own + 1,
                    theirs + 1
                )),
                None => {}
            }
        }
    }
    problems
}

/// The top-level module a file belongs to; `None` for the crate root, the binary and this
/// check.
fn top_module(path: &Path) -> Option<String> {
    let first = path.components().next()?.as_os_str().to_str()?;
    if matches!(first, "lib.rs" | "main.rs" | "layers.rs") {
        return None;
    }
    Some(first.strip_suffix(".rs").unwrap_or(first).to_string())
}

fn rust_files(dir: &Path, base: &Path, out: &mut Vec<(PathBuf, String)>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, base, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let source = std::fs::read_to_string(&path).unwrap();
            out.push((path.strip_prefix(base).unwrap().to_path_buf(), source));
        }
    }
}

#[test]
fn no_module_imports_upward() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let lib = std::fs::read_to_string(src.join("lib.rs")).unwrap();
    let layers = parse_layers(&lib).unwrap();
    let mut files = Vec::new();
    rust_files(&src, &src, &mut files);
    assert!(files.len() > 50, "only {} files under src/", files.len());
    let problems = violations(&layers, &files);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIB: &str = "//! Intro.\n//!\n//! 1. `common`: helpers\n//! 2. `git`, `registry`: outside\n//! 3. `pass`: one pass\n";

    fn file(path: &str, source: &str) -> (PathBuf, String) {
        (PathBuf::from(path), source.to_string())
    }

    #[test]
    fn reads_the_table() {
        let layers = parse_layers(LIB).unwrap();
        assert_eq!(
            layers,
            [vec!["common"], vec!["git", "registry"], vec!["pass"]]
        );
        assert!(parse_layers("//! 2. `x`: wrong start").is_err());
        assert!(parse_layers("no table").is_err());
    }

    #[test]
    fn finds_upward_and_sideways_imports_with_their_line() {
        let layers = parse_layers(LIB).unwrap();
        let files = [
            file("common/text.rs", "fn f() {}\nuse crate::pass::Report;\n"),
            file(
                "git/mod.rs",
                "use crate::common::text;\nuse crate::{common::x, registry::Secret};\n",
            ),
            file(
                "registry/mod.rs",
                "fn g() { let _ = crate::git::Workspace::open(); }\n",
            ),
            file(
                "pass/mod.rs",
                "use crate::git::X;\nuse crate::{common, registry::Y};\nuse super::z;\n",
            ),
            file("lib.rs", "pub mod pass;\nuse crate::pass::x;\n"),
        ];
        let problems = violations(&layers, &files);
        assert_eq!(problems.len(), 3, "{problems:#?}");
        assert!(
            problems[0].starts_with(
                "src/common/text.rs:2: `common` (layer 1) imports `crate::pass` (layer 3)"
            ),
            "{}",
            problems[0]
        );
        assert!(
            problems[1].starts_with(
                "src/git/mod.rs:2: `git` (layer 2) imports `crate::registry` (layer 2)"
            ),
            "{}",
            problems[1]
        );
        assert!(
            problems[2].starts_with("src/registry/mod.rs:1: `registry`"),
            "{}",
            problems[2]
        );
    }

    #[test]
    fn ignores_comments_and_strings_but_not_code_after_them() {
        let layers = parse_layers(LIB).unwrap();
        let source = "//! See [`crate::pass`].\n/* crate::pass */ fn f() {}\nconst A: &str = \"crate::pass\";\nconst B: &str = r#\"crate::pass \"quoted\"\"#;\nconst C: char = '\"'; fn g<'a>() { crate::pass::run() }\n";
        let problems = violations(&layers, &[file("git/x.rs", source)]);
        assert_eq!(problems.len(), 1, "{problems:#?}");
        assert!(
            problems[0].starts_with("src/git/x.rs:5:"),
            "{}",
            problems[0]
        );
    }

    #[test]
    fn a_module_outside_the_table_is_reported() {
        let layers = parse_layers(LIB).unwrap();
        let problems = violations(&layers, &[file("newthing.rs", "fn f() {}\n")]);
        assert_eq!(problems.len(), 1);
        assert!(
            problems[0].contains("`newthing` is in no layer"),
            "{}",
            problems[0]
        );
    }
}
