//! `baton promote IMAGE --to ENV [--version V] [--by NAME]`: a person's explicit move.

use std::process::ExitCode;

use anyhow::Context;

use crate::pass::{self, Outcome, PromoteRequest};

use super::ConfigArg;

/// Arguments of `baton promote`.
#[derive(Debug, clap::Args)]
pub struct PromoteArgs {
    /// The image to move: an [images] name, or a policy name standing for its image.
    #[arg(value_name = "IMAGE")]
    pub image: String,
    /// The environment to move it in.
    #[arg(long = "to", value_name = "ENV")]
    pub environment: String,
    /// The version [default: what the environment's promote_from source holds, else its
    /// policy's choice]. May be older than the current one: that is how a rollback is made.
    #[arg(long, value_name = "V")]
    pub version: Option<String>,
    /// Who promotes, recorded as Baton-Promoted-By [default: git config user.name and
    /// user.email, else $USER].
    #[arg(long, value_name = "NAME")]
    pub by: Option<String>,
    /// Show what would happen; write and push nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Write the version even when the registry does not list it (or, for digest-pinned
    /// markers, its digest cannot be read). Without it such a promotion is refused.
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub config: ConfigArg,
}

/// The person running the command, from their git identity or the login name.
fn who_by_default() -> Option<String> {
    let git = |key: &str| {
        std::process::Command::new("git")
            .args(["config", "--get", key])
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .filter(|v| !v.is_empty())
    };
    match (git("user.name"), git("user.email")) {
        (Some(name), Some(email)) => Some(format!("{name} <{email}>")),
        (Some(name), None) => Some(name),
        _ => std::env::var("USER").ok().filter(|u| !u.trim().is_empty()),
    }
}

/// Runs the promotion and prints what happened; exit 0 on success, 1 on failure.
pub fn run(args: &PromoteArgs) -> anyhow::Result<ExitCode> {
    let by = match &args.by {
        Some(by) if !by.trim().is_empty() => by.trim().to_string(),
        _ => who_by_default().context("cannot tell who promotes: say it with --by NAME")?,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let request = PromoteRequest {
        image: args.image.clone(),
        environment: args.environment.clone(),
        version: args.version.clone(),
        by,
        dry_run: args.dry_run,
        force: args.force,
        now: super::pass::now_override()?,
    };
    // Names are checked before any waiting for the state directory.
    let config = super::pass::load(&args.config)?;
    // Rules in the repository are read with the clone; only the host's names are known here.
    if config.rules.is_none() {
        pass::check_request(&config, &request)?;
    }
    runtime.block_on(async {
        // A dry run writes nothing: it reads with its own clone and never waits.
        let access = if args.dry_run {
            super::pass::Access::Read
        } else {
            super::pass::Access::Write
        };
        let prepared = super::pass::open(config, access).await?;
        let (config, registries, workspace) =
            (&prepared.config, &prepared.registries, &prepared.workspace);
        let report = pass::promote(config, registries, workspace, &request).await?;
        println!(
            "environment {}: {}",
            report.name,
            super::pass::outcome_text(&report.outcome, report.moves.len())
        );
        for m in &report.moves {
            println!(
                "  {} {} -> {}   ({}, {})",
                m.policy, m.from, m.to, m.image, m.rule
            );
        }
        super::pass::print_notes(&report);
        if args.dry_run && !report.diff.is_empty() {
            println!("\n{}", report.diff.trim_end());
        }
        if args.dry_run
            && let Some(message) = &report.message
        {
            println!("\ncommit message:");
            for line in message.lines() {
                println!("  {line}");
            }
        }
        if report.moves.is_empty() && matches!(report.outcome, Outcome::Unchanged) {
            println!(
                "  nothing to do: {} already holds that version",
                report.name
            );
        }
        Ok(match report.outcome {
            Outcome::Failed(_) => ExitCode::FAILURE,
            _ => ExitCode::SUCCESS,
        })
    })
}
