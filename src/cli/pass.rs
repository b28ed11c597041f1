//! `baton once` and `baton plan`: one full pass, for real or as a dry run.

use std::process::ExitCode;

use anyhow::Context;

use crate::common::state_lock::StateLock;
use crate::config::Config;
use crate::git::Workspace;
use crate::pass::{self, Outcome, PassOptions, PassReport};
use crate::registry::Registries;

use super::ConfigArg;

/// Arguments of `baton once`.
#[derive(Debug, clap::Args)]
pub struct OnceArgs {
    #[command(flatten)]
    pub config: ConfigArg,
}

/// Arguments of `baton plan`.
#[derive(Debug, clap::Args)]
pub struct PlanArgs {
    /// Only this environment (repeatable).
    #[arg(long = "env", value_name = "NAME")]
    pub environments: Vec<String>,
    #[command(flatten)]
    pub config: ConfigArg,
}

/// How long a command waits for another baton process to release the state directory.
const STATE_LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(120);

/// The directory under `daemon.state_dir` where read-only commands keep their own clone, so
/// they never wait for the daemon or a writing command.
pub const READ_ONLY_DIR: &str = "read-only";

/// Whether a command writes to the remote (and so shares the one clone of the state
/// directory) or only reads it (and uses its own clone beside it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// `once`, `promote`: the state directory's clone, locked.
    Write,
    /// `plan`, `history`: a clone of their own under `STATE_DIR/read-only`.
    Read,
}

/// What every pass-like command needs: the configuration, registry clients, and the clone,
/// with its directory locked for as long as this lives.
pub struct Session {
    /// The loaded configuration.
    pub config: Config,
    /// Registry clients.
    pub registries: Registries,
    /// The clone in the state directory.
    pub workspace: Workspace,
    _lock: StateLock,
}

/// Loads the configuration named by `args`.
pub fn load(args: &ConfigArg) -> anyhow::Result<Config> {
    Config::load(&args.path()).map_err(|errors| anyhow::anyhow!("{errors}"))
}

/// Loads the configuration, locks the state directory and opens (or clones) the workspace.
pub async fn prepare(args: &ConfigArg) -> anyhow::Result<Session> {
    open(load(args)?, Access::Write).await
}

/// Locks the clone's directory for `access` and opens (or clones) the workspace. A command
/// that has to wait for another process says at once which one (stderr), then waits up to
/// two minutes.
pub async fn open(config: Config, access: Access) -> anyhow::Result<Session> {
    crate::common::http::install_crypto_provider();
    let registries =
        Registries::from_config(&config.registries).context("cannot read registry credentials")?;
    let dir = match access {
        Access::Write => config.daemon.state_dir.clone(),
        Access::Read => config.daemon.state_dir.join(READ_ONLY_DIR),
    };
    let lock = StateLock::acquire_waiting(&dir, STATE_LOCK_WAIT, |holder| {
        let who = match holder {
            Some(h) => format!("baton process {h}"),
            None => "another baton process".to_string(),
        };
        eprintln!(
            "waiting for {who} to release the state directory {} (up to {}s); to go ahead now, give this command its own state directory, e.g. BATON_DAEMON__STATE_DIR=/var/tmp/baton-cli",
            dir.display(),
            STATE_LOCK_WAIT.as_secs()
        );
        tracing::debug!(state_dir = %dir.display(), holder = %holder.map(|h| h.pid).unwrap_or(0), "waiting for the state directory");
    })
    .await?;
    let workspace = Workspace::open_or_clone(&dir, &config.git.remote)
        .await
        .with_context(|| format!("cannot prepare the clone in {}", dir.display()))?;
    Ok(Session {
        config,
        registries,
        workspace,
        _lock: lock,
    })
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// The time gates are judged at: `BATON_NOW` (RFC 3339) when set, else the system clock.
///
/// `BATON_NOW` exists for tests and rehearsals ("what would happen on Friday at 17:00?"); it
/// changes only how soak, windows and freezes are judged, never commit times.
pub fn now_override() -> anyhow::Result<Option<jiff::Timestamp>> {
    match std::env::var("BATON_NOW") {
        Ok(text) if !text.trim().is_empty() => text
            .trim()
            .parse::<jiff::Timestamp>()
            .map(Some)
            .with_context(|| {
                format!(
                    "BATON_NOW={text:?} is not a time: write RFC 3339, e.g. 2026-11-25T10:00:00Z"
                )
            }),
        _ => Ok(None),
    }
}

/// One pass for real: exit 0 when everything succeeded, 1 with a summary otherwise.
pub fn once(args: &OnceArgs) -> anyhow::Result<ExitCode> {
    runtime()?.block_on(async {
        let p = prepare(&args.config).await?;
        let options = PassOptions {
            now: now_override()?,
            ..PassOptions::default()
        };
        let report = pass::run(&p.config, &p.registries, &p.workspace, &options).await?;
        print_summary(&report);
        let failures = report.failures();
        let pushed: Vec<&str> = report
            .environments
            .iter()
            .filter_map(|e| match &e.outcome {
                Outcome::Pushed { branch, .. } => Some(branch.as_str()),
                _ => None,
            })
            .collect();
        let reviewed: Vec<&str> = report
            .environments
            .iter()
            .flat_map(|e| match &e.outcome {
                Outcome::Reviewed { branches } => branches.iter().map(String::as_str).collect(),
                _ => Vec::new(),
            })
            .collect();
        let waiting = report
            .environments
            .iter()
            .filter(|e| matches!(e.outcome, Outcome::Waiting(_)))
            .count();
        println!();
        match pushed.as_slice() {
            [] if failures.is_empty() && reviewed.is_empty() && waiting == 0 => {
                println!("nothing to move: every marker is up to date")
            }
            [] if !reviewed.is_empty() => {}
            [] => println!("nothing was pushed"),
            [branch] => println!("1 commit pushed to {branch}"),
            [branch, ..] => println!("{} commits pushed to {branch}", pushed.len()),
        }
        if !reviewed.is_empty() {
            println!("review branches pushed: {}", reviewed.join(", "));
        }
        if waiting > 0 {
            println!(
                "{waiting} environment{} waiting (see above)",
                plural(waiting)
            );
        }
        if failures.is_empty() {
            return Ok(ExitCode::SUCCESS);
        }
        print_failures("baton once", &failures);
        Ok(ExitCode::FAILURE)
    })
}

/// One pass as a dry run: exit 0 when nothing would change, 2 when something would,
/// 1 on any failure (a registry that could not be scanned, an environment that failed).
pub fn plan(args: &PlanArgs) -> anyhow::Result<ExitCode> {
    let config = load(&args.config)?;
    pass::check_environments(&config, &args.environments)?;
    runtime()?.block_on(async {
        let p = open(config, Access::Read).await?;
        let options = PassOptions {
            dry_run: true,
            environments: args.environments.clone(),
            now: now_override()?,
        };
        let report = pass::run(&p.config, &p.registries, &p.workspace, &options).await?;
        print_scans(&report);
        for env in &report.environments {
            println!();
            println!(
                "== environment {}: {}",
                env.name,
                outcome_text(&env.outcome, env.moves.len())
            );
            for m in &env.moves {
                println!(
                    "  {} {} -> {}   ({}, {})",
                    m.policy, m.from, m.to, m.image, m.rule
                );
            }
            print_notes(env);
            if !env.diff.is_empty() {
                println!("\n{}", env.diff.trim_end());
            }
            if let Some(message) = &env.message {
                println!("\ncommit message:\n{}", indent(message));
            }
        }
        let moving = report
            .environments
            .iter()
            .filter(|e| e.outcome == Outcome::Planned)
            .count();
        let failures = report.failures();
        println!();
        if moving == 0 {
            println!("nothing would move; nothing was written");
        } else {
            println!(
                "{moving} environment{} would move; nothing was written",
                plural(moving)
            );
        }
        if !failures.is_empty() {
            print_failures("baton plan", &failures);
            Ok(ExitCode::FAILURE)
        } else if report.changed() {
            Ok(ExitCode::from(2))
        } else {
            Ok(ExitCode::SUCCESS)
        }
    })
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn print_failures(command: &str, failures: &[String]) {
    eprintln!(
        "{command}: {} problem{}:",
        failures.len(),
        plural(failures.len())
    );
    for failure in failures {
        eprintln!("  {failure}");
    }
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|l| {
            if l.is_empty() {
                String::new()
            } else {
                format!("  {l}")
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The outcome in words, as `once`, `plan` and `promote` print it.
pub fn outcome_text(outcome: &Outcome, moves: usize) -> String {
    let images = format!("{moves} image{}", plural(moves));
    match outcome {
        Outcome::Unchanged => "up to date".to_string(),
        Outcome::Planned => format!("would move {images}"),
        Outcome::Pushed {
            commit,
            branch,
            retries,
        } => {
            let short: String = commit.chars().take(12).collect();
            match retries {
                0 => format!("moved {images}, pushed {short} to {branch}"),
                1 => format!(
                    "moved {images}, pushed {short} to {branch} after 1 rejected push (another writer pushed first)"
                ),
                n => format!(
                    "moved {images}, pushed {short} to {branch} after {n} rejected pushes (other writers pushed first)"
                ),
            }
        }
        Outcome::Skipped(why) => format!("skipped: {why}"),
        Outcome::Waiting(_) => "waiting".to_string(),
        Outcome::Reviewed { branches } => format!("review pushed to {}", branches.join(", ")),
        Outcome::Failed(why) => format!("failed: {why}"),
    }
}

/// Prints each image's scan and each policy's choice.
fn print_scans(report: &PassReport) {
    for scan in report.scans.values() {
        match (&scan.tags, &scan.error) {
            (Some(tags), _) => println!(
                "image {}: {} tag{}",
                scan.image,
                tags.len(),
                plural(tags.len())
            ),
            (None, Some(err)) => println!("image {}: scan failed: {err}", scan.image),
            _ => {}
        }
    }
    for selection in report.selections.values() {
        match (&selection.decision, &selection.error) {
            (Some(decision), _) => println!("policy {}: {decision}", selection.policy),
            (None, Some(_))
                if report
                    .scans
                    .get(&selection.image)
                    .is_some_and(|s| s.error.is_some()) =>
            {
                println!(
                    "policy {}: holds still: image {} could not be scanned",
                    selection.policy, selection.image
                )
            }
            (None, Some(err)) => println!("policy {}: holds still: {err}", selection.policy),
            _ => {}
        }
    }
}

/// Holds, waits, reviews and marker problems of one environment.
pub(crate) fn print_notes(env: &pass::EnvironmentReport) {
    for held in &env.held {
        println!("  hold: {held}");
    }
    for waiting in &env.waiting {
        println!("  waiting: {waiting}");
    }
    for review in &env.reviews {
        println!(
            "  review {} ({} -> {} on {}): {}",
            review.image, review.from, review.to, review.branch, review.action
        );
    }
    for problem in &env.problems {
        println!("  problem: {problem}");
    }
    for note in &env.notes {
        println!("  note: {note}");
    }
}

/// Prints what was scanned and chosen, then one block per environment.
pub fn print_summary(report: &PassReport) {
    print_scans(report);
    println!();
    for env in &report.environments {
        println!(
            "environment {}: {}",
            env.name,
            outcome_text(&env.outcome, env.moves.len())
        );
        let note = match env.outcome {
            Outcome::Failed(_) => " (not pushed)",
            _ => "",
        };
        if !matches!(env.outcome, Outcome::Unchanged | Outcome::Skipped(_)) {
            for m in &env.moves {
                println!("  {} {} -> {}{note}", m.policy, m.from, m.to);
            }
        }
        print_notes(env);
    }
}
