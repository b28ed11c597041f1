//! Property tests for the marker engine: random YAML documents (mappings, sequences, plain
//! and quoted scalars, comments, odd indentation, LF or CRLF, BOM, missing final newline)
//! with random markers on random scalar lines. After scan and plan, the edited text differs
//! from the input only inside the marked scalars' byte ranges, holds exactly the values the
//! policies chose, still parses, and a second pass has nothing left to do.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::Path;

use baton::markers::{self, Field, Marker, Plan, Resolved};
use baton::reference::{ImageName, Reference};
use proptest::prelude::*;
use saphyr_parser::{Event, Parser};

#[derive(Debug, Clone, Copy)]
enum Style {
    Plain,
    Single,
    Double,
}

#[derive(Debug, Clone)]
struct MarkerGen {
    policy: usize,
    field: Field,
    flux: bool,
    hold: bool,
    /// Spaces inside the JSON, to show they are free.
    loose: bool,
}

#[derive(Debug, Clone)]
struct ScalarGen {
    text: String,
    style: Style,
    marker: Option<MarkerGen>,
    /// A plain comment after a value that carries no marker.
    comment: bool,
    /// The blanks between `:`/`-` and the value, and before the comment.
    gap: &'static str,
    comment_gap: &'static str,
}

#[derive(Debug, Clone)]
enum Node {
    Scalar(ScalarGen),
    Map { step: usize, entries: Vec<Node> },
    Seq { step: usize, items: Vec<Node> },
}

#[derive(Debug, Clone)]
struct DocGen {
    root: Node,
    crlf: bool,
    bom: bool,
    final_newline: bool,
    /// Comment lines put before the nth line of the rendered document.
    comment_lines: Vec<usize>,
}

/// Texts valid as plain, single- and double-quoted scalars alike.
const TEXTS: &[&str] = &[
    "ghcr.io/acme/app:1.0.0",
    "ghcr.io/acme/app0:2.3.4",
    "ghcr.io/acme/app1:v1",
    "localhost:5000/team/app:1.0",
    "registry.example.com:5000/app:0.9",
    "nginx:1.25",
    "docker.io/library/nginx:1.25",
    "ghcr.io/acme/app@sha256:fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210",
    "ghcr.io/acme/app:1.0.0@sha256:fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210",
    "ghcr.io/acme/app",
    "1.0.0",
    "v2",
    "2024.05.01",
    "hello world",
    "a#b",
    "true",
    "123",
    "x-y_z.w",
];

const REPOSITORIES: &[&str] = &[
    "ghcr.io/acme/app",
    "ghcr.io/acme/app0",
    "ghcr.io/acme/other",
    "localhost:5000/team/app",
    "registry.example.com:5000/app",
    "docker.io/library/nginx",
];

fn style() -> impl Strategy<Value = Style> {
    prop_oneof![Just(Style::Plain), Just(Style::Single), Just(Style::Double)]
}

fn field() -> impl Strategy<Value = Field> {
    prop_oneof![
        3 => Just(Field::Full),
        2 => Just(Field::Tag),
        1 => Just(Field::Name),
        1 => Just(Field::Digest),
    ]
}

fn marker() -> impl Strategy<Value = MarkerGen> {
    (
        0usize..4,
        field(),
        any::<bool>(),
        prop::bool::weighted(0.1),
        any::<bool>(),
    )
        .prop_map(|(policy, field, flux, hold, loose)| MarkerGen {
            policy,
            field,
            flux,
            hold,
            loose,
        })
}

fn scalar() -> impl Strategy<Value = ScalarGen> {
    (
        prop::sample::select(TEXTS),
        style(),
        prop::option::weighted(0.4, marker()),
        prop::bool::weighted(0.2),
        prop::sample::select(&[" ", " ", "  ", " \t"][..]),
        prop::sample::select(&[" ", " ", "\t", "    "][..]),
    )
        .prop_map(
            |(text, style, marker, comment, gap, comment_gap)| ScalarGen {
                text: text.to_string(),
                style,
                marker,
                comment,
                gap,
                comment_gap,
            },
        )
}

fn node() -> impl Strategy<Value = Node> {
    let leaf = scalar().prop_map(Node::Scalar);
    leaf.prop_recursive(4, 40, 5, |inner| {
        prop_oneof![
            (1usize..5, prop::collection::vec(inner.clone(), 1..5))
                .prop_map(|(step, entries)| Node::Map { step, entries }),
            (1usize..5, prop::collection::vec(inner, 1..5))
                .prop_map(|(step, items)| Node::Seq { step, items }),
        ]
    })
}

fn doc() -> impl Strategy<Value = DocGen> {
    (
        (1usize..4, prop::collection::vec(node(), 1..6))
            .prop_map(|(step, entries)| Node::Map { step, entries }),
        any::<bool>(),
        prop::bool::weighted(0.2),
        prop::bool::weighted(0.8),
        prop::collection::vec(0usize..40, 0..4),
    )
        .prop_map(|(root, crlf, bom, final_newline, comment_lines)| DocGen {
            root,
            crlf,
            bom,
            final_newline,
            comment_lines,
        })
}

/// A marker as the renderer wrote it: its line, the byte range of its value and what it is.
#[derive(Debug, Clone)]
struct Placed {
    line: usize,
    span: Range<usize>,
    current: String,
    marker: MarkerGen,
}

/// A marker on a rendered line: the value's range within the line, the value, the marker.
type LineMarker = (Range<usize>, String, MarkerGen);

struct Renderer {
    lines: Vec<(String, Option<LineMarker>)>,
}

impl Renderer {
    fn scalar_text(s: &ScalarGen) -> (String, Range<usize>) {
        match s.style {
            Style::Plain => (s.text.clone(), 0..s.text.len()),
            Style::Single => (format!("'{}'", s.text), 1..s.text.len() + 1),
            Style::Double => (format!("\"{}\"", s.text), 1..s.text.len() + 1),
        }
    }

    fn marker_comment(m: &MarkerGen) -> String {
        let name = format!("p{}", m.policy);
        let suffix = match m.field {
            Field::Full => "",
            Field::Tag => ":tag",
            Field::Name => ":name",
            Field::Digest => ":digest",
        };
        let (key, value) = if m.flux {
            ("$imagepolicy", format!("flux-system:{name}{suffix}"))
        } else {
            ("$baton", format!("{name}{suffix}"))
        };
        let hold = if m.hold { r#", "hold": "INC-7""# } else { "" };
        if m.loose {
            format!("#  {{ \"{key}\" :  \"{value}\" {hold} }}")
        } else {
            format!("# {{\"{key}\": \"{value}\"{hold}}}")
        }
    }

    /// Writes `prefix` + scalar (+ comment) as one line.
    fn scalar_line(&mut self, prefix: String, s: &ScalarGen) {
        let (text, inner) = Self::scalar_text(s);
        let mut line = prefix;
        line.push_str(s.gap);
        let start = line.len();
        line.push_str(&text);
        let span = start + inner.start..start + inner.end;
        let mut placed = None;
        if let Some(m) = &s.marker {
            line.push_str(s.comment_gap);
            line.push_str(&Self::marker_comment(m));
            placed = Some((span, s.text.clone(), m.clone()));
        } else if s.comment {
            line.push_str(s.comment_gap);
            line.push_str("# a plain comment: {\"not\": \"a marker\"}");
        }
        self.lines.push((line, placed));
    }

    fn node(&mut self, node: &Node, indent: usize, counter: &mut usize) {
        match node {
            Node::Scalar(_) => unreachable!("scalars are written by their parent"),
            Node::Map { step, entries } => {
                for entry in entries {
                    *counter += 1;
                    let key = format!("{}k{}:", " ".repeat(indent), counter);
                    match entry {
                        Node::Scalar(s) => self.scalar_line(key, s),
                        Node::Map { .. } => {
                            self.lines.push((key, None));
                            self.node(entry, indent + step, counter);
                        }
                        // A sequence under a key may sit at the key's own indentation.
                        Node::Seq { step: inner, .. } => {
                            self.lines.push((key, None));
                            let at = if inner % 2 == 0 {
                                indent
                            } else {
                                indent + step
                            };
                            self.node(entry, at, counter);
                        }
                    }
                }
            }
            Node::Seq { step, items } => {
                for item in items {
                    let dash = format!("{}-", " ".repeat(indent));
                    match item {
                        Node::Scalar(s) => self.scalar_line(dash, s),
                        _ => {
                            self.lines.push((dash, None));
                            self.node(item, indent + step.max(&1), counter);
                        }
                    }
                }
            }
        }
    }
}

/// Renders the document and returns its text and the markers placed in it.
fn render(doc: &DocGen) -> (String, Vec<Placed>) {
    let (text, placed, _) = render_with_junk(doc, &[]);
    (text, placed)
}

/// Lines that look like markers or break the structure around them, each with the range of
/// the scalar a marker on it could edit (when there is one), written out by hand.
const JUNK: &[(&str, Option<Range<usize>>)] = &[
    ("# {\"$baton\": ", None),
    ("# {\"$baton\": \"p0\"", None),
    ("x: # {\"$baton\": \"p1\"}", None),
    ("- # {\"$imagepolicy\": \"p2\"}", None),
    ("y: [a, b] # {\"$baton\": \"p0\"}", None),
    ("z: \"q # {\\\"$baton\\\": \\\"p0\\\"}\"", None),
    ("w: 'it''s' # {\"$baton\": \"p3:tag\"}", Some(4..9)),
    ("v: |", None),
    (
        "u: &a ghcr.io/acme/app:1 # {\"$baton\": \"p1\"}",
        Some(6..24),
    ),
    ("t: 'v1' # {\"$baton\": \"p3:tag\"}", Some(4..6)),
    (
        "s:   ghcr.io/acme/app:1   #{\"$imagepolicy\": \"ns:p1\"}",
        Some(5..23),
    ),
];

/// [`render`] with junk lines: `(position, index into JUNK)` puts that line at the root
/// level, before the position-th root key (modulo their number, the end counting as one).
/// Also returns, for every line holding a scalar a marker could edit, that scalar's byte
/// range in the text, worked out from the renderer's own positions.
fn render_with_junk(
    doc: &DocGen,
    junk: &[(usize, usize)],
) -> (String, Vec<Placed>, BTreeMap<usize, Range<usize>>) {
    let mut r = Renderer { lines: Vec::new() };
    let mut counter = 0;
    r.node(&doc.root, 0, &mut counter);
    let mut junk_spans: Vec<Option<Range<usize>>> = vec![None; r.lines.len()];
    let mut roots: Vec<usize> = (0..r.lines.len())
        .filter(|i| r.lines[*i].0.starts_with('k'))
        .collect();
    roots.push(r.lines.len());
    let mut inserts: Vec<(usize, usize)> = junk
        .iter()
        .map(|(position, which)| (roots[position % roots.len()], *which))
        .collect();
    // From the last position back, so earlier positions stay valid.
    inserts.sort_by_key(|insert| std::cmp::Reverse(insert.0));
    for (at, which) in inserts {
        let (text, span) = &JUNK[which];
        r.lines.insert(at, (text.to_string(), None));
        junk_spans.insert(at, span.clone());
    }
    for (n, at) in doc.comment_lines.iter().enumerate() {
        let at = (*at).min(r.lines.len());
        r.lines.insert(at, (format!("# comment line {n}"), None));
        junk_spans.insert(at, None);
    }
    let eol = if doc.crlf { "\r\n" } else { "\n" };
    let mut text = String::new();
    if doc.bom {
        text.push('\u{feff}');
    }
    let mut placed = Vec::new();
    let mut spans = BTreeMap::new();
    let count = r.lines.len();
    for (i, ((line, marker), junk_span)) in r.lines.into_iter().zip(junk_spans).enumerate() {
        let start = text.len();
        if let Some((span, current, marker)) = marker {
            spans.insert(i + 1, start + span.start..start + span.end);
            placed.push(Placed {
                line: i + 1,
                span: start + span.start..start + span.end,
                current,
                marker,
            });
        }
        if let Some(span) = junk_span {
            spans.insert(i + 1, start + span.start..start + span.end);
        }
        text.push_str(&line);
        if i + 1 < count || doc.final_newline {
            text.push_str(eol);
        }
    }
    (text, placed, spans)
}

fn resolution() -> impl Strategy<Value = Resolved> {
    (
        prop::sample::select(REPOSITORIES),
        "[A-Za-z0-9_][A-Za-z0-9._-]{0,12}",
        prop::option::of("[0-9a-f]{64}"),
    )
        .prop_map(|(repository, tag, digest)| Resolved {
            repository: repository.to_string(),
            tag,
            digest: digest.map(|hex| format!("sha256:{hex}")),
        })
}

/// What the marker should hold after the edit, worked out from the rules in the README.
fn expected_value(current: &str, field: Field, r: &Resolved) -> String {
    match field {
        Field::Tag => r.tag.clone(),
        Field::Name => r.repository.clone(),
        Field::Digest => r.digest.clone().unwrap_or_else(|| current.to_string()),
        Field::Full => {
            let name = Reference::split(current).name;
            let same = matches!(
                (ImageName::parse(name), ImageName::parse(&r.repository)),
                (Ok(a), Ok(b)) if a == b
            );
            let mut value = if same {
                name.to_string()
            } else {
                r.repository.clone()
            };
            value.push(':');
            value.push_str(&r.tag);
            if let Some(d) = &r.digest {
                value.push('@');
                value.push_str(d);
            }
            value
        }
    }
}

/// Every event of the document, or the parser's error.
fn events(text: &str) -> Result<Vec<Event<'_>>, String> {
    let mut out = Vec::new();
    for event in Parser::new_from_str(text) {
        match event {
            Ok((event, _)) => out.push(event),
            Err(e) => return Err(format!("line {}: {}", e.marker().line(), e.info())),
        }
    }
    Ok(out)
}

/// Checks that `after` equals `before` outside `spans` (sorted, disjoint), where span i was
/// replaced by `values[i]`.
fn differs_only_inside(
    before: &str,
    after: &str,
    spans: &[(Range<usize>, String)],
) -> Result<(), String> {
    let mut at_before = 0;
    let mut at_after = 0;
    for (span, value) in spans {
        let gap = &before[at_before..span.start];
        if !after[at_after..].starts_with(gap) {
            return Err(format!("bytes before {span:?} changed"));
        }
        at_after += gap.len();
        if !after[at_after..].starts_with(value.as_str()) {
            return Err(format!("span {span:?} does not hold {value:?}"));
        }
        at_after += value.len();
        at_before = span.end;
    }
    if after[at_after..] != before[at_before..] {
        return Err("bytes after the last span changed".to_string());
    }
    Ok(())
}

fn plan_for(text: &str, policies: &[Resolved]) -> Plan {
    let scan = markers::scan_str(Path::new("doc.yaml"), text);
    let resolve = |m: &Marker| {
        m.policy
            .strip_prefix('p')
            .and_then(|n| n.parse::<usize>().ok())
            .and_then(|n| policies.get(n).cloned())
    };
    markers::plan(&scan, &resolve)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn edits_stay_inside_the_marked_scalars(
        doc in doc(),
        policies in prop::collection::vec(resolution(), 4),
    ) {
        let (before, placed) = render(&doc);
        let before_events = events(&before);
        prop_assert!(before_events.is_ok(), "generated YAML does not parse: {:?}\n{}", before_events.err(), before);

        // The scan finds exactly the markers the renderer placed, with their spans.
        let scan = markers::scan_str(Path::new("doc.yaml"), &before);
        prop_assert!(scan.problems.is_empty(), "{:?}\n{}", scan.problems, before);
        let found: Vec<(usize, Range<usize>, String)> = scan
            .files
            .iter()
            .flat_map(|f| &f.markers)
            .map(|m| (m.line, m.span(), m.current.clone()))
            .collect();
        let wanted: Vec<(usize, Range<usize>, String)> = placed
            .iter()
            .map(|p| (p.line, p.span.clone(), p.current.clone()))
            .collect();
        prop_assert_eq!(&found, &wanted, "{}", before);

        let plan = plan_for(&before, &policies);
        prop_assert!(plan.problems.is_empty(), "{:?}\n{}", plan.problems, before);
        prop_assert_eq!(plan.held.len(), placed.iter().filter(|p| p.marker.hold).count());

        // The values each marker should end up with, worked out independently.
        let mut expected: BTreeMap<usize, (Range<usize>, String)> = BTreeMap::new();
        for p in placed.iter().filter(|p| !p.marker.hold) {
            let value = expected_value(&p.current, p.marker.field, &policies[p.marker.policy]);
            if value != p.current {
                expected.insert(p.line, (p.span.clone(), value));
            }
        }
        if expected.is_empty() {
            prop_assert!(plan.edits.is_empty());
            return Ok(());
        }
        prop_assert_eq!(plan.edits.len(), 1);
        let edit = &plan.edits[0];
        let changed: BTreeMap<usize, String> =
            edit.changes.iter().map(|c| (c.line, c.to.clone())).collect();
        let wanted_changes: BTreeMap<usize, String> =
            expected.iter().map(|(line, (_, v))| (*line, v.clone())).collect();
        prop_assert_eq!(changed, wanted_changes);

        let spans: Vec<(Range<usize>, String)> = expected.values().cloned().collect();
        let after = edit.after().unwrap();
        let confined = differs_only_inside(&before, &after, &spans);
        prop_assert!(confined.is_ok(), "{:?}\n--- before\n{}\n--- after\n{}", confined, before, after);

        // Still YAML, with the same structure and only the marked values changed.
        let after_events = events(&after);
        prop_assert!(after_events.is_ok(), "{:?}\n{}", after_events.err(), after);
        let (a, b) = (before_events.unwrap(), after_events.unwrap());
        prop_assert_eq!(a.len(), b.len());
        let differing = a.iter().zip(&b).filter(|(x, y)| x != y).count();
        prop_assert_eq!(differing, expected.len());

        // A second pass over the edited text has nothing to do.
        let again = plan_for(&after, &policies);
        prop_assert!(again.edits.is_empty(), "{:?}", again.edits[0].changes);
    }

    /// Junk lines that look like markers, put at random root positions, never break the rest
    /// of the file: every edit stays inside a scalar this test knows to be markable (the spans
    /// come from the renderer, not from the engine) and the result still parses.
    #[test]
    fn junk_markers_never_leak_outside_scalars(
        doc in doc(),
        policies in prop::collection::vec(resolution(), 4),
        junk in prop::collection::vec((0usize..40, 0..JUNK.len()), 0..4),
    ) {
        let (before, _, markable) = render_with_junk(&doc, &junk);
        let plan = plan_for(&before, &policies);
        for edit in &plan.edits {
            let mut spans: Vec<(Range<usize>, String)> = Vec::new();
            for change in &edit.changes {
                let span = markable.get(&change.line);
                prop_assert!(span.is_some(), "line {} holds no markable scalar:\n{}", change.line, before);
                spans.push((span.unwrap().clone(), change.to.clone()));
            }
            spans.sort_by_key(|(r, _)| r.start);
            let confined = differs_only_inside(&before, &edit.after().unwrap(), &spans);
            prop_assert!(confined.is_ok(), "{:?}\n{}", confined, before);
            prop_assert!(events(&edit.after().unwrap()).is_ok());
        }
    }
}
