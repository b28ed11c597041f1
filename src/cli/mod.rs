//! The command line: parses arguments with clap and runs one subcommand.
//!
//! Each subcommand is a thin edge over the library; errors get context here with anyhow.

mod check;
mod history;
mod init;
mod logging;
mod man;
pub mod output;
mod pass;
mod promote;
mod run;
mod status;
mod tags;
pub mod terminal;
mod verify;

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use crate::config::DEFAULT_CONFIG_PATH;

/// Git-native image automation: polls registries, edits marked image
/// references in a Git repository, commits and pushes.
#[derive(Debug, Parser)]
#[command(name = "baton", version, about, long_about = None)]
pub struct Cli {
    /// Log format (overrides `daemon.log_format`).
    #[arg(long, global = true, value_enum, help_heading = "Global options")]
    pub log_format: Option<LogFormatArg>,
    /// Print only results, problems and errors (log warnings and errors only).
    #[arg(
        short,
        long,
        global = true,
        conflicts_with = "verbose",
        help_heading = "Global options"
    )]
    pub quiet: bool,
    /// Log more: -v for debug, -vv for trace (RUST_LOG overrides both).
    #[arg(
        short,
        long,
        global = true,
        action = clap::ArgAction::Count,
        help_heading = "Global options"
    )]
    pub verbose: u8,
    /// The subcommand to run.
    #[command(subcommand)]
    pub command: Command,
}

/// `--log-format` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormatArg {
    /// Human-readable lines.
    Text,
    /// One JSON object per event.
    Json,
}

/// Where the configuration comes from.
#[derive(Debug, Clone, clap::Args)]
pub struct ConfigArg {
    /// Configuration file [default: $BATON_CONFIG, else /etc/baton/baton.toml].
    #[arg(long, short = 'c', value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// With several [repositories]: the one `once`, `plan`, `history` and `promote` work in.
    #[arg(long, value_name = "NAME")]
    pub repository: Option<String>,
}

impl ConfigArg {
    /// The path given with `--config`, else `BATON_CONFIG`, else the default.
    pub fn path(&self) -> PathBuf {
        resolve_config_path(self.config.clone(), std::env::var_os("BATON_CONFIG"))
    }
}

/// Picks the configuration path by precedence: flag, environment, default.
pub fn resolve_config_path(flag: Option<PathBuf>, env: Option<OsString>) -> PathBuf {
    flag.or_else(|| env.filter(|v| !v.is_empty()).map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from(DEFAULT_CONFIG_PATH))
}

/// Baton's subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate the configuration and print a summary; exit 1 with every error when invalid.
    Check(check::CheckArgs),
    /// List an image's tags from its registry and show what each policy would choose and why.
    Tags(tags::TagsArgs),
    /// Run one full pass: scan, choose, edit, commit and push; exit non-zero on any failure.
    Once(pass::OnceArgs),
    /// Show what one pass would change, as diffs and commit messages; exit 2 when something would.
    Plan(pass::PlanArgs),
    /// Show what moved, when, from what to what, under which policy and by which commit.
    History(history::HistoryArgs),
    /// Run the daemon: scan each image on its interval, commit and push moves, serve health,
    /// metrics and status; reload on SIGHUP or a change of the file; stop on SIGTERM/SIGINT.
    Run(run::RunArgs),
    /// Print the status of a running daemon (exit 2 when it is not ready).
    Status(status::StatusArgs),
    /// Move an image in an environment by hand (a rollback, or ahead of the gates), as a
    /// commit or review with a Baton-Promoted-By trailer the automatic passes respect.
    Promote(promote::PromoteArgs),
    /// Check that the commits in a range (for CI or a pre-receive hook) move marked images
    /// only as the environments' gates allow, or carry Baton-Promoted-By; exit 1 when not.
    Verify(verify::VerifyArgs),
    /// Write a commented starter configuration from flags (asks for the rest only at a
    /// terminal).
    Init(init::InitArgs),
    /// Print a shell completion script: bash, zsh, fish, elvish or powershell.
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff), e.g. `baton man | man -l -`.
    Man,
}

/// Prints the completion script for `shell`.
fn completions(shell: clap_complete::Shell) -> anyhow::Result<ExitCode> {
    use clap::CommandFactory;
    let mut command = Cli::command();
    clap_complete::generate(shell, &mut command, "baton", &mut std::io::stdout());
    Ok(ExitCode::SUCCESS)
}

/// Parses the process arguments, runs the subcommand and maps the outcome to an exit code.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => return usage_error(&err),
    };
    terminal::set_verbosity(cli.quiet, cli.verbose);
    let format = cli.log_format.unwrap_or_else(|| match &cli.command {
        Command::Run(args) => run::configured_log_format(args).unwrap_or(LogFormatArg::Text),
        _ => LogFormatArg::Text,
    });
    let one_shot = !matches!(cli.command, Command::Run(_));
    logging::init(format, one_shot);
    let outcome = match cli.command {
        Command::Check(args) => check::run(&args),
        Command::Tags(args) => tags::run(&args),
        Command::Once(args) => pass::once(&args),
        Command::Plan(args) => pass::plan(&args),
        Command::History(args) => history::run(&args),
        Command::Run(args) => run::run(&args),
        Command::Status(args) => status::run(&args),
        Command::Promote(args) => promote::run(&args),
        Command::Verify(args) => verify::run(&args),
        Command::Init(args) => init::run(&args),
        Command::Completions { shell } => completions(shell),
        Command::Man => man::run(),
    };
    match outcome {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {}", error_text(&err));
            ExitCode::FAILURE
        }
    }
}

/// Prints clap's answer to arguments it did not run: help and the version exit 0; a usage
/// error exits 1, not clap's 2, which `plan` and `status` give a meaning of their own
/// ("something would move", "not ready") that a script must be able to trust.
fn usage_error(err: &clap::Error) -> ExitCode {
    // Printing can fail only when stdout or stderr is gone; nothing is left to tell then.
    let _ = err.print();
    if err.use_stderr() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// The error and its causes joined by `: `, leaving out a cause whose words the text already
/// holds (most errors here name their cause in their own message).
fn error_text(err: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in err.chain() {
        let part = cause.to_string();
        if text.is_empty() {
            text = part;
        } else if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_text_says_each_cause_once() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
        let err = anyhow::Error::new(io).context("cannot read /x: no such file");
        assert_eq!(error_text(&err), "cannot read /x: no such file");
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
        let err = anyhow::Error::new(io).context("cannot read /x");
        assert_eq!(error_text(&err), "cannot read /x: no such file");
    }

    #[test]
    fn config_path_precedence() {
        let flag = Some(PathBuf::from("/a.toml"));
        let env = Some(OsString::from("/b.toml"));
        assert_eq!(
            resolve_config_path(flag.clone(), env.clone()),
            PathBuf::from("/a.toml")
        );
        assert_eq!(resolve_config_path(None, env), PathBuf::from("/b.toml"));
        assert_eq!(
            resolve_config_path(None, Some(OsString::new())),
            PathBuf::from(DEFAULT_CONFIG_PATH)
        );
        assert_eq!(
            resolve_config_path(None, None),
            PathBuf::from(DEFAULT_CONFIG_PATH)
        );
    }

    #[test]
    fn arguments_parse() {
        Cli::command_for_test();
    }

    impl Cli {
        fn command_for_test() {
            use clap::CommandFactory;
            Cli::command().debug_assert();
        }
    }
}
