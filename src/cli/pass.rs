//! `baton once` and `baton plan`: one full pass, for real or as a dry run.

use std::process::ExitCode;

use anyhow::Context;

use crate::config::Config;
use crate::git::{RemoteSettings, Workspace};
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

/// The remote settings for the configured repository.
pub fn remote_settings(config: &Config) -> RemoteSettings {
    let git = &config.git;
    let mut settings = RemoteSettings::new(git.url.clone(), git.branch.clone());
    settings.ssh_key_file = git.ssh_key_file.clone();
    settings.known_hosts_file = git.known_hosts_file.clone();
    settings.token = git.token.clone();
    settings.username = git.username.clone();
    settings
}

/// Loads the configuration and opens (or clones) the workspace.
pub async fn prepare(args: &ConfigArg) -> anyhow::Result<(Config, Registries, Workspace)> {
    let path = args.path();
    let config = Config::load(&path).map_err(|errors| anyhow::anyhow!("{errors}"))?;
    crate::registry::install_crypto_provider();
    let registries =
        Registries::from_config(&config).context("cannot read registry credentials")?;
    let workspace = Workspace::open_or_clone(&config.daemon.state_dir, &remote_settings(&config))
        .await
        .with_context(|| {
            format!(
                "cannot prepare the clone in {}",
                config.daemon.state_dir.display()
            )
        })?;
    Ok((config, registries, workspace))
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
        let (config, registries, workspace) = prepare(&args.config).await?;
        let options = PassOptions {
            now: now_override()?,
            ..PassOptions::default()
        };
        let report = pass::run(&config, &registries, &workspace, &options).await?;
        print_summary(&report);
        let failures = report.failures();
        if failures.is_empty() {
            Ok(ExitCode::SUCCESS)
        } else {
            eprintln!(
                "\n{} problem{}:",
                failures.len(),
                if failures.len() == 1 { "" } else { "s" }
            );
            for failure in &failures {
                eprintln!("  {failure}");
            }
            Ok(ExitCode::FAILURE)
        }
    })
}

/// One pass as a dry run: exit 0 when nothing would change, 2 when something would,
/// 1 on failure.
pub fn plan(args: &PlanArgs) -> anyhow::Result<ExitCode> {
    runtime()?.block_on(async {
        let (config, registries, workspace) = prepare(&args.config).await?;
        let options = PassOptions {
            dry_run: true,
            environments: args.environments.clone(),
            now: now_override()?,
        };
        let report = pass::run(&config, &registries, &workspace, &options).await?;
        for env in &report.environments {
            println!(
                "== environment {}: {}",
                env.name,
                outcome_text(&env.outcome)
            );
            for m in &env.moves {
                println!(
                    "  {} {} -> {} ({} {})",
                    m.policy, m.from, m.to, m.image, m.rule
                );
            }
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
            if !env.diff.is_empty() {
                println!("\n{}", env.diff.trim_end());
            }
            if let Some(message) = &env.message {
                println!("\ncommit message:\n{}", indent(message));
            }
            println!();
        }
        let failures = report.failures();
        for failure in &failures {
            eprintln!("problem: {failure}");
        }
        if report
            .environments
            .iter()
            .any(|e| matches!(e.outcome, Outcome::Failed(_)))
        {
            Ok(ExitCode::FAILURE)
        } else if report.changed() {
            Ok(ExitCode::from(2))
        } else {
            Ok(ExitCode::SUCCESS)
        }
    })
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|l| format!("  {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The outcome in words, as `once`, `plan` and `promote` print it.
pub fn outcome_text(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Unchanged => "up to date".to_string(),
        Outcome::Planned => "would move".to_string(),
        Outcome::Pushed {
            commit,
            branch,
            retries,
        } => {
            let short: String = commit.chars().take(12).collect();
            if *retries > 0 {
                format!(
                    "committed {short} and pushed to {branch} after {retries} rejected push(es)"
                )
            } else {
                format!("committed {short} and pushed to {branch}")
            }
        }
        Outcome::Skipped(why) => format!("skipped: {why}"),
        Outcome::Waiting(_) => "waiting".to_string(),
        Outcome::Reviewed { branches } => format!("review pushed to {}", branches.join(", ")),
        Outcome::Failed(why) => format!("failed: {why}"),
    }
}

/// Prints one line per image and per environment.
pub fn print_summary(report: &PassReport) {
    for scan in report.scans.values() {
        match (&scan.tags, &scan.error) {
            (Some(tags), _) => println!("image {}: {} tags", scan.image, tags.len()),
            (None, Some(err)) => println!("image {}: scan failed: {err}", scan.image),
            _ => {}
        }
    }
    for selection in report.selections.values() {
        match (&selection.decision, &selection.error) {
            (Some(decision), _) => println!("policy {}: {decision}", selection.policy),
            (None, Some(err)) => println!("policy {}: {err}", selection.policy),
            _ => {}
        }
    }
    for env in &report.environments {
        println!("environment {}: {}", env.name, outcome_text(&env.outcome));
        for m in &env.moves {
            println!("  {} {} -> {}", m.policy, m.from, m.to);
        }
        for problem in &env.problems {
            println!("  problem: {problem}");
        }
        for held in &env.held {
            println!("  hold: {held}");
        }
        for waiting in &env.waiting {
            println!("  waiting: {waiting}");
        }
        for review in &env.reviews {
            println!(
                "  review {} {} -> {} on {}: {}",
                review.image, review.from, review.to, review.branch, review.action
            );
        }
    }
}
