//! Operators' minijinja templates (commit messages, notifications): compiled once, rendered
//! from any serialisable context, with one error type that names the template and the line.

use serde::Serialize;

pub use minijinja::UndefinedBehavior;

/// A template could not be compiled or rendered.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    /// The template has a syntax error, or uses something the context lacks.
    #[error("{what}, line {line}: {detail}; {hint}")]
    Invalid {
        /// Which template, in words (`commit message template`).
        what: String,
        /// 1-based line in the template source (0 when minijinja gives none).
        line: usize,
        /// What minijinja reported.
        detail: String,
        /// What to do about it.
        hint: &'static str,
    },
    /// The template rendered to nothing but whitespace.
    #[error("{what}: renders an empty message; {hint}")]
    Empty {
        /// Which template, in words.
        what: String,
        /// What to do about it.
        hint: &'static str,
    },
}

/// What a template's errors say about it.
#[derive(Debug, Clone, Copy)]
pub struct Words {
    /// Which template (`commit message template`).
    pub what: &'static str,
    /// What to do about a syntax error or an undefined variable.
    pub invalid: &'static str,
    /// What to do about an empty result.
    pub empty: &'static str,
}

/// One compiled template.
pub struct Template {
    env: minijinja::Environment<'static>,
    words: Words,
}

impl std::fmt::Debug for Template {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Template")
            .field("what", &self.words.what)
            .finish_non_exhaustive()
    }
}

const NAME: &str = "template";

impl Template {
    /// Compiles `source`; `undefined` says whether printing an undefined variable fails.
    pub fn compile(
        source: impl Into<String>,
        undefined: UndefinedBehavior,
        words: Words,
    ) -> Result<Template, TemplateError> {
        let mut env = minijinja::Environment::new();
        env.set_undefined_behavior(undefined);
        env.add_template_owned(NAME, source.into())
            .map_err(|e| invalid(words.what.to_string(), words.invalid, &e))?;
        Ok(Template { env, words })
    }

    /// Renders the template with `context`, trailing whitespace kept.
    pub fn render(&self, context: &impl Serialize) -> Result<String, TemplateError> {
        self.render_as(self.words.what.to_string(), self.words.invalid, context)
    }

    /// Renders as [`Template::render`] does, with errors that call the template `what` and
    /// suggest `hint` (a template that fails for one kind of context only).
    pub fn render_as(
        &self,
        what: String,
        hint: &'static str,
        context: &impl Serialize,
    ) -> Result<String, TemplateError> {
        let template = self
            .env
            .get_template(NAME)
            .map_err(|e| invalid(what.clone(), hint, &e))?;
        let text = template
            .render(minijinja::Value::from(minijinja::value::Serde(context)))
            .map_err(|e| invalid(what.clone(), hint, &e))?;
        if text.trim().is_empty() {
            return Err(TemplateError::Empty {
                what,
                hint: self.words.empty,
            });
        }
        Ok(text)
    }
}

fn invalid(what: String, hint: &'static str, err: &minijinja::Error) -> TemplateError {
    let detail = match err.detail() {
        Some(d) => format!("{}: {d}", err.kind()),
        None => err.kind().to_string(),
    };
    TemplateError::Invalid {
        what,
        line: err.line().unwrap_or(0),
        detail,
        hint,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WORDS: Words = Words {
        what: "test template",
        invalid: "fix it",
        empty: "print something",
    };

    #[derive(Serialize)]
    struct Context {
        name: &'static str,
    }

    #[test]
    fn renders_and_reports_the_line() {
        let t = Template::compile("hello {{ name }}", UndefinedBehavior::Strict, WORDS).unwrap();
        assert_eq!(t.render(&Context { name: "world" }).unwrap(), "hello world");

        let err = Template::compile("a\n{{ oops", UndefinedBehavior::Strict, WORDS).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("test template, line 2: syntax error"),
            "{err}"
        );
        assert!(err.to_string().ends_with("; fix it"), "{err}");

        let t = Template::compile("{{ other }}", UndefinedBehavior::Strict, WORDS).unwrap();
        let err = t.render(&Context { name: "x" }).unwrap_err();
        assert!(err.to_string().contains("undefined"), "{err}");
        let err = t
            .render_as(
                "test template for x".into(),
                "guard it",
                &Context { name: "x" },
            )
            .unwrap_err();
        assert!(
            err.to_string().starts_with("test template for x, line 1"),
            "{err}"
        );
        assert!(err.to_string().ends_with("; guard it"), "{err}");

        let t = Template::compile("  {{ '' }} ", UndefinedBehavior::Strict, WORDS).unwrap();
        let err = t.render(&Context { name: "x" }).unwrap_err();
        assert_eq!(
            err.to_string(),
            "test template: renders an empty message; print something"
        );
    }
}
