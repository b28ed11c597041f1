//! `baton init`: writes a commented starter configuration from flags, asking for what is
//! missing only when a person is at a terminal (a script or CI never waits for input).

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};

/// Arguments of `baton init`.
#[derive(Debug, clap::Args)]
pub struct InitArgs {
    /// Where to write the configuration ("-" for stdout).
    #[arg(long, short = 'o', value_name = "PATH", default_value = "baton.toml")]
    pub output: PathBuf,
    /// Replace the file when it exists.
    #[arg(long)]
    pub force: bool,
    /// The fleet repository: ssh://, https://, file:// or a plain path.
    #[arg(long, value_name = "URL")]
    pub git_url: Option<String>,
    /// The branch Baton clones and pushes to.
    #[arg(long, value_name = "NAME", default_value = "main")]
    pub branch: String,
    /// An image to watch, as NAME=REPOSITORY (repeatable), e.g. app=ghcr.io/example/app.
    #[arg(long = "image", value_name = "NAME=REPOSITORY")]
    pub images: Vec<String>,
    /// The semver range each image's policy follows.
    #[arg(long, value_name = "RANGE", default_value = "1.x")]
    pub semver: String,
    /// An environment, as NAME=PATH inside the repository (repeatable), e.g.
    /// staging=clusters/staging.
    #[arg(long = "env", value_name = "NAME=PATH")]
    pub environments: Vec<String>,
    /// Where Baton keeps its clone.
    #[arg(long, value_name = "PATH", default_value = crate::config::DEFAULT_STATE_DIR)]
    pub state_dir: PathBuf,
    /// Never ask, even at a terminal: what is not given gets an example value to edit.
    #[arg(long)]
    pub no_input: bool,
}

/// What the starter file is made from.
struct Answers {
    git_url: String,
    branch: String,
    images: Vec<(String, String)>,
    semver: String,
    environments: Vec<(String, String)>,
    state_dir: PathBuf,
    /// Values that are examples, to be edited.
    placeholders: Vec<&'static str>,
}

const EXAMPLE_URL: &str = "ssh://git@git.example.com/platform/fleet.git";
const EXAMPLE_IMAGE: (&str, &str) = ("app", "ghcr.io/example/app");
const EXAMPLE_ENV: (&str, &str) = ("staging", "clusters/staging");

/// Writes the starter configuration; exit 0, or 1 when the file exists (without --force).
pub fn run(args: &InitArgs) -> anyhow::Result<ExitCode> {
    let to_stdout = args.output.as_os_str() == "-";
    if !to_stdout && args.output.exists() && !args.force {
        bail!(
            "{} exists: give another --output PATH, or --force to replace it",
            args.output.display()
        );
    }
    let interactive =
        !args.no_input && std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
    let answers = gather(args, interactive)?;
    let text = render(&answers);
    if to_stdout {
        print!("{text}");
    } else {
        std::fs::write(&args.output, &text)
            .with_context(|| format!("cannot write {}", args.output.display()))?;
        eprintln!(
            "wrote {}; check it with: baton check --config {}",
            args.output.display(),
            args.output.display()
        );
    }
    if !answers.placeholders.is_empty() {
        eprintln!(
            "edit the example values before use: {}",
            answers.placeholders.join(", ")
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Splits `NAME=VALUE`, naming the flag when it is malformed.
fn pair(flag: &str, text: &str) -> anyhow::Result<(String, String)> {
    match text.split_once('=') {
        Some((name, value)) if !name.trim().is_empty() && !value.trim().is_empty() => {
            Ok((name.trim().to_string(), value.trim().to_string()))
        }
        _ => bail!(
            "{flag} {text:?}: write NAME=VALUE, e.g. {flag} {}",
            example(flag)
        ),
    }
}

fn example(flag: &str) -> &'static str {
    if flag == "--image" {
        "app=ghcr.io/example/app"
    } else {
        "staging=clusters/staging"
    }
}

/// Flags first; at a terminal, questions for what is missing; example values otherwise.
fn gather(args: &InitArgs, interactive: bool) -> anyhow::Result<Answers> {
    let mut images = args
        .images
        .iter()
        .map(|t| pair("--image", t))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mut environments = args
        .environments
        .iter()
        .map(|t| pair("--env", t))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mut placeholders = Vec::new();
    let mut git_url = args.git_url.clone().unwrap_or_default();
    if git_url.trim().is_empty() && interactive {
        git_url = ask("fleet repository URL (ssh://, https://, file:// or a path)")?;
    }
    if git_url.trim().is_empty() {
        git_url = EXAMPLE_URL.to_string();
        placeholders.push("git.url");
    }
    if images.is_empty() && interactive {
        let answer = ask("an image to watch, as NAME=REPOSITORY (e.g. app=ghcr.io/example/app)")?;
        if !answer.is_empty() {
            images.push(pair("--image", &answer)?);
        }
    }
    if images.is_empty() {
        images.push((EXAMPLE_IMAGE.0.to_string(), EXAMPLE_IMAGE.1.to_string()));
        placeholders.push("images");
    }
    if environments.is_empty() && interactive {
        let answer = ask("an environment, as NAME=PATH (e.g. staging=clusters/staging)")?;
        if !answer.is_empty() {
            environments.push(pair("--env", &answer)?);
        }
    }
    if environments.is_empty() {
        environments.push((EXAMPLE_ENV.0.to_string(), EXAMPLE_ENV.1.to_string()));
        placeholders.push("environments");
    }
    Ok(Answers {
        git_url: git_url.trim().to_string(),
        branch: args.branch.clone(),
        images,
        semver: args.semver.clone(),
        environments,
        state_dir: args.state_dir.clone(),
        placeholders,
    })
}

/// Asks one question on stderr and reads one line; an empty line (or end of input) is "".
fn ask(question: &str) -> anyhow::Result<String> {
    eprint!("{question}: ");
    std::io::stderr().flush().ok();
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("cannot read the answer")?;
    Ok(line.trim().to_string())
}

/// A TOML basic string.
fn quoted(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A TOML key: bare when it can be, quoted otherwise.
fn key(name: &str) -> String {
    if !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        name.to_string()
    } else {
        quoted(name)
    }
}

/// The starter configuration, commented.
fn render(a: &Answers) -> String {
    let mut out = String::new();
    out.push_str(
        "# Baton configuration, written by `baton init`.\n\
         # Check it with `baton check --config PATH`; preview a pass with `baton plan`.\n\
         # Every key is described in config.example.toml (installed as\n\
         # /usr/share/doc/baton/examples/baton.toml) and docs/configuration.md.\n\
         # Any key can be overridden as BATON_SECTION__KEY, e.g. BATON_GIT__BRANCH=release.\n\n",
    );
    out.push_str("[daemon]\n# Clone and caches; safe to delete.\n");
    out.push_str(&format!(
        "state_dir = {}\n",
        quoted(&a.state_dir.display().to_string())
    ));
    out.push_str(
        "# Health, metrics and status (`baton status`), loopback by default.\n\
         # listen = \"127.0.0.1:9476\"\n\n",
    );
    out.push_str("[git]\n# The repository Baton edits.\n");
    out.push_str(&format!("url = {}\n", quoted(&a.git_url)));
    out.push_str(&format!("branch = {}\n", quoted(&a.branch)));
    out.push_str(
        "# ssh remotes: a deploy key and the known_hosts file its host is checked against.\n\
         # ssh_key_file = \"/etc/baton/deploy_key\"\n\
         # known_hosts_file = \"/etc/baton/known_hosts\"\n\
         # https remotes: a file holding the token (never the token itself).\n\
         # token_file = \"/etc/baton/git-token\"\n\
         author_name = \"baton\"\n\
         author_email = \"baton@example.com\"\n\n",
    );
    out.push_str(
        "# Registries need a section only for credentials or plain http, e.g.\n\
         # [registries.\"ghcr.io\"]\n\
         # docker_config = \"/etc/baton/docker-config.json\"\n\n",
    );
    out.push_str("# Images to watch; the section name is what policies refer to.\n");
    for (name, repository) in a.images.iter() {
        out.push_str(&format!(
            "[images.{}]\nrepository = {}\ninterval = \"5m\"\n\n",
            key(name),
            quoted(repository)
        ));
    }
    out.push_str(
        "# Policies choose one tag per image; the section name is what markers name, e.g.\n\
         #   image: ghcr.io/example/app:1.0.0 # {\"$imagepolicy\": \"flux-system:app\"}\n",
    );
    for (name, _) in a.images.iter() {
        out.push_str(&format!(
            "[policies.{}]\nimage = {}\nsemver = {}\n\n",
            key(name),
            quoted(name),
            quoted(&a.semver)
        ));
    }
    out.push_str(
        "# Environments own directories of the repository; markers inside them move.\n\
         # mode = \"review\" pushes a branch per change for a person to merge instead;\n\
         # promote_from = \"staging\" with soak = \"24h\" moves only what staging has run that long.\n",
    );
    for (name, path) in &a.environments {
        out.push_str(&format!(
            "[environments.{}]\npaths = [{}]\nmode = \"push\"\n\n",
            key(name),
            quoted(path)
        ));
    }
    out.truncate(out.trim_end().len());
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_quoted_for_toml() {
        assert_eq!(quoted("a\"b\\c"), "\"a\\\"b\\\\c\"");
        assert_eq!(key("app"), "app");
        assert_eq!(key("my app"), "\"my app\"");
    }

    #[test]
    fn pairs_need_a_name_and_a_value() {
        assert_eq!(
            pair("--env", "staging=clusters/staging").unwrap(),
            ("staging".to_string(), "clusters/staging".to_string())
        );
        assert!(pair("--env", "staging").is_err());
        assert!(pair("--image", "=x").is_err());
    }
}
