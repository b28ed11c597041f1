//! Arbitrary bytes through the marker scanner, planner and editor.
//!
//! Besides "never panics", it checks what the engine promises for every edit it plans: the
//! new text differs from the old only inside the marked values' byte ranges, each new value
//! is a valid reference part, and a file that parsed as YAML still parses.

#![no_main]

use std::path::Path;

use baton::markers::{self, Field, Marker, Resolved};
use baton::reference::{ImageName, is_valid_digest, is_valid_tag};
use libfuzzer_sys::fuzz_target;
use saphyr_parser::Parser;

const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

fn parses(text: &str) -> bool {
    Parser::new_from_str(text).all(|event| event.is_ok())
}

fn resolve(marker: &Marker) -> Option<Resolved> {
    // The policy name picks one of a few outcomes, so the fuzzer can reach each of them.
    match marker.policy.len() % 4 {
        0 => None,
        1 => Some(Resolved {
            repository: "ghcr.io/acme/app".to_string(),
            tag: "1.2.3".to_string(),
            digest: None,
        }),
        2 => Some(Resolved {
            repository: "localhost:5000/team/app".to_string(),
            tag: "v2_rc-1.0".to_string(),
            digest: Some(DIGEST.to_string()),
        }),
        _ => Some(Resolved {
            repository: "nginx".to_string(),
            tag: marker.policy.clone(),
            digest: Some(marker.policy.clone()),
        }),
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let scan = markers::scan_str(Path::new("fuzz.yaml"), text);
    let plan = markers::plan(&scan, &resolve);
    let Some(edit) = plan.edits.first() else {
        return;
    };
    assert!(plan.edits.len() == 1);
    assert!(parses(&edit.after), "an edit broke the YAML");
    assert!(parses(text), "an unparseable file was edited");

    let file = &scan.files[0];
    let mut spans: Vec<(std::ops::Range<usize>, &str)> = Vec::new();
    for change in &edit.changes {
        let marker = file
            .markers
            .iter()
            .find(|m| m.line == change.line)
            .expect("a change names a marker line");
        let valid = match change.field {
            Field::Tag => is_valid_tag(&change.to),
            Field::Digest => is_valid_digest(&change.to),
            Field::Name => ImageName::parse(&change.to).is_ok(),
            Field::Full => !change.to.is_empty() && !change.to.contains(char::is_whitespace),
        };
        assert!(valid, "invalid value written: {:?}", change.to);
        spans.push((marker.span(), change.to.as_str()));
    }
    spans.sort_by_key(|(r, _)| r.start);
    // Rebuild the expected text from the old one: only the spans may differ.
    let mut rebuilt = String::new();
    let mut at = 0;
    for (span, value) in &spans {
        rebuilt.push_str(&text[at..span.start]);
        rebuilt.push_str(value);
        at = span.end;
    }
    rebuilt.push_str(&text[at..]);
    assert!(rebuilt == edit.after, "bytes outside the marked values changed");
});
