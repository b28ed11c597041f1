//! The audit commit message: what moved, from what, to what, under which rule, rendered by
//! default or by an operator's minijinja template, always ending with machine-readable trailers.

use std::fmt::Write as _;

use serde::Serialize;

use super::history::CommitRecord;
use crate::common::template::{Template, TemplateError, UndefinedBehavior, Words};
use crate::common::text::one_line;

/// Trailer naming the environment a move happened in.
pub const TRAILER_ENVIRONMENT: &str = "Baton-Environment";
/// Trailer naming the image repository that moved.
pub const TRAILER_IMAGE: &str = "Baton-Image";
/// Trailer with the version the image moved from.
pub const TRAILER_FROM: &str = "Baton-From";
/// Trailer with the version the image moved to.
pub const TRAILER_TO: &str = "Baton-To";
/// Trailer with the digest of the new version, when known.
pub const TRAILER_DIGEST: &str = "Baton-Digest";
/// Trailer `NAME (RULE)` naming the policy that chose the version.
pub const TRAILER_POLICY: &str = "Baton-Policy";
/// Trailer naming who or what allowed a promotion.
pub const TRAILER_PROMOTED_BY: &str = "Baton-Promoted-By";
/// Trailer of a rollback: the version that did not verify and was moved away from.
pub const TRAILER_ROLLBACK_OF: &str = "Baton-Rollback-Of";
/// Trailer of a rollback: the verification check that did not pass.
pub const TRAILER_FAILED_CHECK: &str = "Baton-Failed-Check";
/// Trailer of a group move: the `[groups.NAME]` whose images moved together in the commit.
pub const TRAILER_GROUP: &str = "Baton-Group";

/// One image moving from one version to another in an environment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Move {
    /// The image repository, e.g. `ghcr.io/example/checkout-api`.
    pub image: String,
    /// The policy name from the config (the name markers use), e.g. `checkout-api`.
    pub policy: String,
    /// The policy's rule in words, e.g. `semver 1.x`.
    pub rule: String,
    /// The version before the move.
    pub from: String,
    /// The version after the move.
    pub to: String,
    /// The digest of the new version, when the registry gave one.
    pub digest: Option<String>,
}

impl Move {
    /// `POLICY FROM -> TO` on one line, as commit bodies and messages list a move.
    pub fn line(&self) -> String {
        format!(
            "{} {} -> {}",
            one_line(&self.policy),
            one_line(&self.from),
            one_line(&self.to)
        )
    }

    /// A representative move with a digest, for checking operators' templates.
    pub fn sample() -> Move {
        Move {
            image: "registry.example.com/app".into(),
            policy: "app".into(),
            rule: "semver 1.x".into(),
            from: "1.0.0".into(),
            to: "1.0.1".into(),
            digest: Some(format!("sha256:{}", "0".repeat(64))),
        }
    }

    /// A move of `ghcr.io/example/POLICY` under `semver 1.x`, for tests.
    #[cfg(test)]
    pub(crate) fn example(policy: &str, from: &str, to: &str) -> Move {
        Move {
            image: format!("ghcr.io/example/{policy}"),
            policy: policy.into(),
            rule: "semver 1.x".into(),
            from: from.into(),
            to: to.into(),
            digest: None,
        }
    }
}

/// Everything one commit says: the environment and the moves made in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitMessage {
    /// The environment name from the config, e.g. `staging`.
    pub environment: String,
    /// The moves, in the order they should be listed.
    pub moves: Vec<Move>,
    /// Who or what allowed a promotion (a gate, a person), when this commit is one.
    pub promoted_by: Option<String>,
}

impl CommitMessage {
    /// The default subject: `ENV: NAME OLD -> NEW` for one move, `ENV: N images moved` for several.
    pub fn summary(&self) -> String {
        let env = one_line(&self.environment);
        match self.moves.as_slice() {
            [] => format!("{env}: no image moved"),
            [m] => format!(
                "{env}: {} {} -> {}",
                one_line(&m.policy),
                one_line(&m.from),
                one_line(&m.to)
            ),
            many => format!("{env}: {} images moved", many.len()),
        }
    }

    /// The trailers, one block per move in order, each starting with `Baton-Environment`.
    pub fn trailers(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        for m in &self.moves {
            out.push((TRAILER_ENVIRONMENT, one_line(&self.environment)));
            out.push((TRAILER_IMAGE, one_line(&m.image)));
            out.push((TRAILER_FROM, one_line(&m.from)));
            out.push((TRAILER_TO, one_line(&m.to)));
            if let Some(d) = &m.digest {
                out.push((TRAILER_DIGEST, one_line(d)));
            }
            let policy = if m.rule.trim().is_empty() {
                one_line(&m.policy)
            } else {
                format!("{} ({})", one_line(&m.policy), one_line(&m.rule))
            };
            out.push((TRAILER_POLICY, policy));
            if let Some(p) = &self.promoted_by {
                out.push((TRAILER_PROMOTED_BY, one_line(p)));
            }
        }
        out
    }

    /// The default text above the trailers: the subject, and one line per move when several move.
    fn default_text(&self) -> String {
        let mut text = self.summary();
        if self.moves.len() > 1 {
            text.push_str("\n\n");
            for m in &self.moves {
                let _ = writeln!(text, "- {}", m.line());
            }
        }
        text
    }

    /// Renders the message with the default text, or with `template` when given, trailers appended.
    pub fn render(&self, template: Option<&MessageTemplate>) -> Result<String, TemplateError> {
        let text = match template {
            Some(t) => t.render_text(self)?,
            None => self.default_text(),
        };
        Ok(self.append_trailers(&text))
    }

    fn append_trailers(&self, text: &str) -> String {
        let mut out = text.trim_end().to_string();
        let trailers = self.trailers();
        if !trailers.is_empty() {
            out.push_str("\n\n");
            for (k, v) in trailers {
                let _ = writeln!(out, "{k}: {v}");
            }
        } else {
            out.push('\n');
        }
        out
    }
}

/// An operator's commit message template (minijinja), checked when created.
///
/// Variables: `environment`, `moves` (each with `image`, `policy`, `rule`, `from`, `to`,
/// `digest`), `summary` (the default subject) and `promoted_by`. Undefined variables are errors.
/// Baton appends its trailers after the rendered text so `history` keeps working.
#[derive(Debug)]
pub struct MessageTemplate {
    template: Template,
}

const WORDS: Words = Words {
    what: "commit message template",
    invalid: "fix the template (variables: environment, moves, summary, promoted_by)",
    empty: "make it print at least a subject line, e.g. {{ summary }}",
};

#[derive(Serialize)]
struct TemplateContext<'a> {
    environment: &'a str,
    moves: &'a [Move],
    summary: String,
    promoted_by: Option<&'a str>,
}

impl MessageTemplate {
    /// Compiles `source` and renders it once with a sample message, so syntax errors and
    /// misspelt variables are reported when the config loads rather than at the first move.
    pub fn new(source: impl Into<String>) -> Result<Self, TemplateError> {
        let template = MessageTemplate {
            template: Template::compile(source, UndefinedBehavior::Strict, WORDS)?,
        };
        let sample = CommitMessage {
            environment: "staging".into(),
            moves: vec![Move::sample()],
            promoted_by: Some("sample".into()),
        };
        template.render_text(&sample)?;
        Ok(template)
    }

    /// The template's text for `msg`, without trailers.
    fn render_text(&self, msg: &CommitMessage) -> Result<String, TemplateError> {
        self.template.render(&TemplateContext {
            environment: &msg.environment,
            moves: &msg.moves,
            summary: msg.summary(),
            promoted_by: msg.promoted_by.as_deref(),
        })
    }
}

/// A move read back from a commit's trailers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ParsedMove {
    /// `Baton-Environment`.
    pub environment: String,
    /// `Baton-Image`.
    pub image: String,
    /// `Baton-From`.
    pub from: String,
    /// `Baton-To`.
    pub to: String,
    /// `Baton-Digest`, when present.
    pub digest: Option<String>,
    /// The policy name from `Baton-Policy: NAME (RULE)`.
    pub policy: String,
    /// The rule from `Baton-Policy: NAME (RULE)`, when present.
    pub rule: Option<String>,
    /// `Baton-Promoted-By`, when present.
    pub promoted_by: Option<String>,
}

/// Reads the moves a commit records from its trailers (see [`parse_moves_from_trailers`]).
pub fn parse_moves(record: &CommitRecord) -> Vec<ParsedMove> {
    parse_moves_from_trailers(&record.trailers)
}

/// Reads moves from trailers: each `Baton-Environment` (or a second `Baton-Image` within one
/// block) starts a move; a move is kept only when it names an environment, an image and a `to`.
/// Unknown trailers are ignored, so hand-written trailers in between do no harm.
pub fn parse_moves_from_trailers(trailers: &[(String, String)]) -> Vec<ParsedMove> {
    #[derive(Default)]
    struct Partial {
        environment: Option<String>,
        image: Option<String>,
        from: Option<String>,
        to: Option<String>,
        digest: Option<String>,
        policy: Option<String>,
        promoted_by: Option<String>,
    }
    fn finish(p: Partial, out: &mut Vec<ParsedMove>) {
        let (Some(environment), Some(image), Some(to)) = (p.environment, p.image, p.to) else {
            return;
        };
        let (policy, rule) = match p.policy {
            Some(text) => split_policy(&text),
            None => (String::new(), None),
        };
        out.push(ParsedMove {
            environment,
            image,
            from: p.from.unwrap_or_default(),
            to,
            digest: p.digest,
            policy,
            rule,
            promoted_by: p.promoted_by,
        });
    }

    let mut out = Vec::new();
    let mut cur = Partial::default();
    let mut last_env: Option<String> = None;
    for (key, value) in trailers {
        let value = value.clone();
        match key.to_ascii_lowercase().as_str() {
            "baton-environment" => {
                finish(std::mem::take(&mut cur), &mut out);
                last_env = Some(value.clone());
                cur.environment = Some(value);
            }
            "baton-image" => {
                if cur.image.is_some() {
                    finish(std::mem::take(&mut cur), &mut out);
                    cur.environment = last_env.clone();
                }
                cur.image = Some(value);
            }
            "baton-from" => cur.from = Some(value),
            "baton-to" => cur.to = Some(value),
            "baton-digest" => cur.digest = Some(value),
            "baton-policy" => cur.policy = Some(value),
            "baton-promoted-by" => cur.promoted_by = Some(value),
            _ => {}
        }
    }
    finish(cur, &mut out);
    out
}

/// `NAME (RULE)` → `(NAME, Some(RULE))`; `NAME` → `(NAME, None)`.
fn split_policy(text: &str) -> (String, Option<String>) {
    let text = text.trim();
    if let Some(stripped) = text.strip_suffix(')')
        && let Some(open) = stripped.find(" (")
    {
        return (
            stripped[..open].trim().to_string(),
            Some(stripped[open + 2..].to_string()),
        );
    }
    (text.to_string(), None)
}

#[cfg(test)]
mod tests {
    use super::super::trailers::split_message;
    use super::*;

    fn mv(policy: &str, from: &str, to: &str, digest: Option<&str>) -> Move {
        Move {
            digest: digest.map(String::from),
            ..Move::example(policy, from, to)
        }
    }

    fn digest() -> String {
        format!("sha256:{}", "a".repeat(64))
    }

    #[test]
    fn single_move_default_rendering() {
        let msg = CommitMessage {
            environment: "staging".into(),
            moves: vec![mv("checkout-api", "1.4.1", "1.4.2", Some(&digest()))],
            promoted_by: None,
        };
        let text = msg.render(None).unwrap();
        let expected = format!(
            "staging: checkout-api 1.4.1 -> 1.4.2\n\n\
             Baton-Environment: staging\n\
             Baton-Image: ghcr.io/example/checkout-api\n\
             Baton-From: 1.4.1\n\
             Baton-To: 1.4.2\n\
             Baton-Digest: {}\n\
             Baton-Policy: checkout-api (semver 1.x)\n",
            digest()
        );
        assert_eq!(text, expected);
    }

    #[test]
    fn several_moves_list_in_body_and_repeat_trailers() {
        let msg = CommitMessage {
            environment: "production".into(),
            moves: vec![
                mv("a", "1.0.0", "1.1.0", None),
                mv("b", "2.0.0", "2.0.1", Some(&digest())),
                mv("c", "v3", "v4", None),
            ],
            promoted_by: Some("staging soak 24h".into()),
        };
        let text = msg.render(None).unwrap();
        let parts = split_message(&text);
        assert_eq!(parts.subject, "production: 3 images moved");
        assert_eq!(
            parts.body,
            "- a 1.0.0 -> 1.1.0\n- b 2.0.0 -> 2.0.1\n- c v3 -> v4"
        );
        let keys: Vec<&str> = parts.trailers.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            &keys[..6],
            &[
                "Baton-Environment",
                "Baton-Image",
                "Baton-From",
                "Baton-To",
                "Baton-Policy",
                "Baton-Promoted-By"
            ]
        );
        assert_eq!(keys.len(), 6 + 7 + 6);
    }

    #[test]
    fn round_trip_through_trailers() {
        let msg = CommitMessage {
            environment: "production".into(),
            moves: vec![
                mv("a", "1.0.0", "1.1.0", None),
                mv("b", "2.0.0", "2.0.1", Some(&digest())),
            ],
            promoted_by: Some("alice".into()),
        };
        let text = msg.render(None).unwrap();
        let parsed = parse_moves_from_trailers(&split_message(&text).trailers);
        assert_eq!(parsed.len(), 2);
        for (p, m) in parsed.iter().zip(&msg.moves) {
            assert_eq!(p.environment, "production");
            assert_eq!(p.image, m.image);
            assert_eq!(p.from, m.from);
            assert_eq!(p.to, m.to);
            assert_eq!(p.digest, m.digest);
            assert_eq!(p.policy, m.policy);
            assert_eq!(p.rule.as_deref(), Some("semver 1.x"));
            assert_eq!(p.promoted_by.as_deref(), Some("alice"));
        }
    }

    #[test]
    fn template_text_then_trailers() {
        let t = MessageTemplate::new(
            "chore({{ environment }}): {{ summary }}\n\n{% for m in moves %}* {{ m.image }}: {{ m.from }} => {{ m.to }}\n{% endfor %}",
        )
        .unwrap();
        let msg = CommitMessage {
            environment: "staging".into(),
            moves: vec![mv("checkout-api", "1.4.1", "1.4.2", None)],
            promoted_by: None,
        };
        let text = msg.render(Some(&t)).unwrap();
        let parts = split_message(&text);
        assert_eq!(
            parts.subject,
            "chore(staging): staging: checkout-api 1.4.1 -> 1.4.2"
        );
        assert_eq!(parts.body, "* ghcr.io/example/checkout-api: 1.4.1 => 1.4.2");
        let parsed = parse_moves_from_trailers(&parts.trailers);
        assert_eq!(parsed.len(), 1);
        assert_eq!(parsed[0].to, "1.4.2");
    }

    #[test]
    fn template_syntax_error_is_located() {
        let err = MessageTemplate::new("ok line\n{{ summary }\n").unwrap_err();
        let text = err.to_string();
        assert!(
            matches!(err, TemplateError::Invalid { line: 2, .. }),
            "{text}"
        );
        assert!(
            text.starts_with("commit message template, line 2: syntax error"),
            "{text}"
        );
    }

    #[test]
    fn template_undefined_variable_is_an_error() {
        let err = MessageTemplate::new("{{ summary }}\n{{ enviroment }}").unwrap_err();
        let text = err.to_string();
        assert!(
            matches!(err, TemplateError::Invalid { line: 2, .. }),
            "{text}"
        );
        assert!(text.contains("undefined"), "{text}");
    }

    #[test]
    fn empty_template_output_is_an_error() {
        let err = MessageTemplate::new("{% if false %}x{% endif %}  \n").unwrap_err();
        assert!(matches!(err, TemplateError::Empty { .. }));
    }

    #[test]
    fn newlines_in_values_cannot_break_the_trailer_block() {
        let msg = CommitMessage {
            environment: "stag\ning".into(),
            moves: vec![mv("a", "1\n\nEvil: x", "2", None)],
            promoted_by: None,
        };
        let text = msg.render(None).unwrap();
        let parsed = parse_moves_from_trailers(&split_message(&text).trailers);
        assert_eq!(parsed.len(), 1);
        assert_eq!(parsed[0].environment, "stag ing");
        assert_eq!(parsed[0].from, "1 Evil: x");
    }

    #[test]
    fn parse_ignores_foreign_trailers_and_incomplete_blocks() {
        let trailers: Vec<(String, String)> = [
            ("Signed-off-by", "x"),
            ("Baton-Environment", "staging"),
            ("Baton-From", "1"),
            ("Co-authored-by", "y"),
            ("Baton-Environment", "staging"),
            ("Baton-Image", "img"),
            ("Baton-To", "2"),
            ("Baton-Policy", "p"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let parsed = parse_moves_from_trailers(&trailers);
        assert_eq!(parsed.len(), 1);
        assert_eq!(parsed[0].image, "img");
        assert_eq!(parsed[0].policy, "p");
        assert_eq!(parsed[0].rule, None);
        assert_eq!(parsed[0].from, "");
    }

    #[test]
    fn policy_rule_with_parentheses() {
        assert_eq!(
            split_policy("api (regex ^v(\\d+)$)"),
            ("api".into(), Some("regex ^v(\\d+)$".into()))
        );
    }
}
