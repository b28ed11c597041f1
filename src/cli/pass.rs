//! `baton once` and `baton plan`: one full pass, for real or as a dry run.

use std::process::ExitCode;

use anyhow::Context;

use crate::common::state_lock::StateLock;
use crate::config::Config;
use crate::git::Workspace;
use crate::pass::{self, Outcome, PassOptions, PassReport};
use crate::registry::Registries;

use super::ConfigArg;
use super::output::{OutputArg, PassJson, print_json};
use super::terminal;

/// Arguments of `baton once`.
#[derive(Debug, clap::Args)]
pub struct OnceArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    #[command(flatten)]
    pub output: OutputArg,
}

/// Arguments of `baton plan`.
#[derive(Debug, clap::Args)]
pub struct PlanArgs {
    /// Only this environment (repeatable).
    #[arg(long = "env", value_name = "NAME")]
    pub environments: Vec<String>,
    #[command(flatten)]
    pub config: ConfigArg,
    #[command(flatten)]
    pub output: OutputArg,
}

/// Exit code of `plan` and `once` when a marker problem was found (a marker naming an
/// unknown policy, an environment path that does not exist) and nothing failed.
pub const EXIT_MARKER_PROBLEMS: u8 = 3;

/// Exit code of `plan` when something would move (and nothing failed, no marker problem).
pub const EXIT_WOULD_MOVE: u8 = 2;

/// False when images were to be scanned and every scan failed: no marker was checked.
pub fn anything_checked(report: &PassReport) -> bool {
    report.scans.is_empty() || report.scans.values().any(|s| s.error.is_none())
}

/// True when some environment found a marker problem.
fn has_marker_problems(report: &PassReport) -> bool {
    report.environments.iter().any(|e| !e.problems.is_empty())
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

/// Loads the configuration named by `args`, narrowed to the repository `--repository` names
/// (needed when there are several).
pub fn load(args: &ConfigArg) -> anyhow::Result<Config> {
    let config = Config::load(&args.path()).map_err(|errors| anyhow::anyhow!("{errors}"))?;
    narrow(config, args.repository.as_deref())
}

/// `config` narrowed to the repository `name`; without a name, the only one.
pub fn narrow(config: Config, name: Option<&str>) -> anyhow::Result<Config> {
    let names = config.repository_names();
    let name = match name {
        Some(name) => name.to_string(),
        None if names.len() == 1 => return Ok(config),
        None => anyhow::bail!(
            "{} has several repositories ({}): name one with --repository NAME",
            config.source.display(),
            names.join(", ")
        ),
    };
    match config.for_repository(&name) {
        Some(view) => Ok(view.into_owned()),
        None => anyhow::bail!(
            "--repository {name:?}: {} has no such repository; use one of {}",
            config.source.display(),
            names.join(", ")
        ),
    }
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
    create_state_dir(&config)?;
    // The lock is the state directory's (the daemon's, for writes); the clone is the
    // repository's, where the daemon keeps it.
    let (dir, clone_dir) = match access {
        Access::Write => (
            config.daemon.state_dir.clone(),
            config.repository_state_dir(&config.repository),
        ),
        Access::Read => {
            let dir = config.daemon.state_dir.join(READ_ONLY_DIR);
            let clone_dir = match config.has_named_repositories() {
                true => dir.join("repositories").join(&config.repository),
                false => dir.clone(),
            };
            (dir, clone_dir)
        }
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
    let preparing = format!(
        "preparing the clone of {} in {} (a first run clones the branch)",
        config.git.remote.display_url(),
        clone_dir.display()
    );
    let workspace = terminal::during(
        &preparing,
        Workspace::open_or_clone_limited(
            &clone_dir,
            &config.git.remote,
            crate::pass::work_tree_for(&config),
        ),
    )
    .await
    .with_context(|| {
        format!(
            "cannot prepare the clone of git.url {} (branch {}) in {}: check git.url and git.branch in {}",
            config.git.remote.display_url(),
            config.git.remote.branch,
            clone_dir.display(),
            config.source.display()
        )
    })?;
    Ok(Session {
        config,
        registries,
        workspace,
        _lock: lock,
    })
}

/// Progress of a pass over `config`'s images, shown at a terminal only.
fn progress_for(config: &Config) -> terminal::PassProgress {
    terminal::PassProgress::start(
        config
            .images
            .iter()
            .map(|(name, image)| (name.clone(), image.repository.registry.clone())),
    )
}

/// Creates `daemon.state_dir` when missing, with an error that names the setting.
pub fn create_state_dir(config: &Config) -> anyhow::Result<()> {
    let dir = &config.daemon.state_dir;
    std::fs::create_dir_all(dir).map_err(|err| {
        anyhow::anyhow!(
            "cannot create the state directory {} ({err}): set daemon.state_dir in {} (or BATON_DAEMON__STATE_DIR) to a directory this user may write, e.g. ~/.local/state/baton",
            dir.display(),
            config.source.display()
        )
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

/// Prints each registry's estimated requests per hour against its budget and stated limit,
/// and a warning (stderr) for each one that is close to or over it.
fn print_estimates(config: &crate::config::Config, registries: &Registries, report: &PassReport) {
    let stated = report
        .scans
        .values()
        .filter_map(|scan| {
            let limit = registries.client(&scan.registry).ok()?.rate_limit()?;
            Some((scan.registry.clone(), limit))
        })
        .collect();
    for estimate in pass::estimate(config, &report.scans, &stated) {
        let mut line = format!(
            "registry {}: about {:.0} requests/hour at the configured intervals",
            estimate.registry, estimate.per_hour
        );
        if let Some(budget) = estimate.budget {
            line.push_str(&format!(", budget {budget:.0}/hour (requests_per_minute)"));
        }
        if let Some(stated) = estimate.stated {
            line.push_str(&format!(", the registry states {stated:.0}/hour"));
        }
        println!("{line}");
        for warning in estimate.warnings() {
            eprintln!("warning: {warning}");
        }
    }
}

/// One pass for real: exit 0 when everything succeeded, 1 on a failure, 3 when nothing
/// failed but a marker has a problem (as `plan`; everything else moved and was pushed).
pub fn once(args: &OnceArgs) -> anyhow::Result<ExitCode> {
    runtime()?.block_on(async {
        let p = prepare(&args.config).await?;
        let meter = progress_for(&p.config);
        let options = PassOptions {
            now: now_override()?,
            progress: meter.listener(),
            ..PassOptions::default()
        };
        let report = pass::run(&p.config, &p.registries, &p.workspace, &options).await?;
        let failures = failures_grouped(&report);
        let code = if !failures.is_empty() {
            1
        } else if has_marker_problems(&report) {
            EXIT_MARKER_PROBLEMS
        } else {
            0
        };
        if args.output.is_json() {
            print_json(&PassJson::new("once", &report, code))?;
            return Ok(ExitCode::from(code));
        }
        print_summary(&report);
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
            _ if !anything_checked(&report) => {
                println!("nothing could be checked: no image could be scanned")
            }
            [] if failures.is_empty() && reviewed.is_empty() && waiting == 0 => {
                println!("nothing to move: every marker is up to date")
            }
            [] if !reviewed.is_empty() => {}
            [] if failures.is_empty() => println!("nothing to move yet"),
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
        let problems: Vec<String> = report
            .environments
            .iter()
            .flat_map(|e| e.problems.iter().map(|p| format!("environment {}: {p}", e.name)))
            .collect();
        if !problems.is_empty() {
            eprintln!(
                "baton once: {} marker problem{} (the other markers moved; exit {EXIT_MARKER_PROBLEMS} unless something failed):",
                problems.len(),
                plural(problems.len())
            );
            for problem in &problems {
                eprintln!("  {problem}");
            }
        }
        if !failures.is_empty() {
            print_failures("baton once", &failures);
        }
        Ok(ExitCode::from(code))
    })
}

/// Says how many marker problems there are and what the exit code means.
fn print_problem_count(report: &PassReport) {
    let problems: usize = report.environments.iter().map(|e| e.problems.len()).sum();
    if problems > 0 {
        println!(
            "{problems} marker problem{} (see above): exit {EXIT_MARKER_PROBLEMS}",
            plural(problems)
        );
    }
}

/// One pass as a dry run: exit 0 when nothing would change, 2 when something would,
/// 3 on a marker problem, 1 on any failure (a registry that could not be scanned, an
/// environment that failed).
pub fn plan(args: &PlanArgs) -> anyhow::Result<ExitCode> {
    let config = load(&args.config)?;
    check_environments(&config, &args.environments)?;
    runtime()?.block_on(async {
        let p = open(config, Access::Read).await?;
        let meter = progress_for(&p.config);
        let options = PassOptions {
            dry_run: true,
            environments: args.environments.clone(),
            now: now_override()?,
            progress: meter.listener(),
        };
        let report = pass::run(&p.config, &p.registries, &p.workspace, &options).await?;
        let failures = failures_grouped(&report);
        let code = if !failures.is_empty() {
            1
        } else if has_marker_problems(&report) {
            EXIT_MARKER_PROBLEMS
        } else if report.changed() {
            EXIT_WOULD_MOVE
        } else {
            0
        };
        if args.output.is_json() {
            print_json(&PassJson::new("plan", &report, code))?;
            return Ok(ExitCode::from(code));
        }
        let checked = anything_checked(&report);
        print_scans(&report);
        for env in &report.environments {
            println!();
            println!("== environment {}: {}", env.name, env_text(env, checked));
            // Up to date with moves: review branches already propose them; their diff and
            // message are on those branches, not news.
            let news = env.outcome != Outcome::Unchanged;
            if news {
                for m in &env.moves {
                    println!(
                        "  {} {} -> {}   ({}, {})",
                        m.policy, m.from, m.to, m.image, m.rule
                    );
                }
            }
            print_notes(env);
            if news && !env.diff.is_empty() {
                println!("\n{}", terminal::colour_diff(env.diff.trim_end()));
            }
            if let (true, Some(message)) = (news, &env.message) {
                println!("\ncommit message:\n{}", indent(message));
            }
        }
        let moving = report
            .environments
            .iter()
            .filter(|e| e.outcome == Outcome::Planned)
            .count();
        println!();
        if !checked {
            println!("nothing could be checked: no image could be scanned; nothing was written");
        } else if moving == 0 {
            println!("nothing would move; nothing was written");
        } else {
            println!(
                "{moving} environment{} would move; nothing was written",
                plural(moving)
            );
        }
        print_problem_count(&report);
        if !failures.is_empty() {
            print_failures("baton plan", &failures);
        }
        Ok(ExitCode::from(code))
    })
}

/// `baton check --repo`: clones the repository, reads every environment's markers and
/// lists every image's tags, writing nothing. Exit 0 when all is well, 1 otherwise.
pub fn check_online(args: &ConfigArg) -> anyhow::Result<ExitCode> {
    runtime()?.block_on(async {
        let p = open(load(args)?, Access::Read).await?;
        let meter = progress_for(&p.config);
        let options = PassOptions {
            dry_run: true,
            now: now_override()?,
            progress: meter.listener(),
            ..PassOptions::default()
        };
        let report = pass::run(&p.config, &p.registries, &p.workspace, &options).await?;
        let mut bad = false;
        print_rules(&report);
        if let Some(refused) = report.rules.as_ref().and_then(|r| r.refused.as_ref()) {
            bad = true;
            eprintln!("{refused}");
        }
        println!(
            "\nrepository {} (branch {}): cloned",
            p.config.git.remote.display_url(),
            p.config.git.remote.branch
        );
        let mut registries: std::collections::BTreeMap<&str, Vec<&pass::ImageScan>> =
            std::collections::BTreeMap::new();
        for scan in report.scans.values() {
            registries
                .entry(scan.registry.as_str())
                .or_default()
                .push(scan);
        }
        for (registry, scans) in &registries {
            let failed: Vec<&&pass::ImageScan> =
                scans.iter().filter(|s| s.error.is_some()).collect();
            if failed.is_empty() {
                println!(
                    "registry {registry}: reachable ({} image{})",
                    scans.len(),
                    plural(scans.len())
                );
                continue;
            }
            bad = true;
            let names: Vec<&str> = failed.iter().map(|s| s.image.as_str()).collect();
            let same_kind = failed.iter().all(|s| s.error_kind == failed[0].error_kind);
            if failed.len() > 1 && same_kind {
                // One cause (an unreachable host, refused credentials): said once.
                println!(
                    "registry {registry}: {} of {} images failed ({}), the first with: {}",
                    failed.len(),
                    scans.len(),
                    names.join(", "),
                    failed[0].error.as_deref().unwrap_or_default()
                );
            } else {
                println!(
                    "registry {registry}: {} of {} image{} failed:",
                    failed.len(),
                    scans.len(),
                    plural(scans.len())
                );
                for scan in failed {
                    println!(
                        "  {}: {}",
                        scan.image,
                        scan.error.as_deref().unwrap_or_default()
                    );
                }
            }
        }
        print_estimates(&p.config, &p.registries, &report);
        for env in &report.environments {
            if let Outcome::Failed(why) = &env.outcome {
                bad = true;
                println!("environment {}: failed: {why}", env.name);
            } else if env.problems.is_empty() {
                println!("environment {}: markers ok", env.name);
            } else {
                bad = true;
                println!(
                    "environment {}: {} marker problem{}:",
                    env.name,
                    env.problems.len(),
                    plural(env.problems.len())
                );
                for problem in &env.problems {
                    println!("  {problem}");
                }
            }
        }
        Ok(if bad {
            ExitCode::FAILURE
        } else {
            ExitCode::SUCCESS
        })
    })
}

/// Refuses `--env` names the configuration does not have, listing those it has.
fn check_environments(config: &Config, names: &[String]) -> anyhow::Result<()> {
    let known: Vec<&str> = config.environments.keys().map(String::as_str).collect();
    for name in names {
        if !config.environments.contains_key(name) {
            let hint = match crate::common::text::suggest(name, &known) {
                Some(close) => format!("did you mean {close:?}? "),
                None => String::new(),
            };
            anyhow::bail!(
                "--env {name:?}: no such environment in {}: {hint}the environments are {}",
                config.source.display(),
                if known.is_empty() {
                    "none (add [environments.NAME])".to_string()
                } else {
                    known.join(", ")
                }
            );
        }
    }
    Ok(())
}

/// An environment's outcome in words; "not checked" when no image could be scanned.
fn env_text(env: &pass::EnvironmentReport, checked: bool) -> String {
    if !checked && env.outcome == Outcome::Unchanged {
        return "not checked: no image could be scanned".to_string();
    }
    let pending = env
        .reviews
        .iter()
        .filter(|r| {
            matches!(
                r.action,
                pass::ReviewAction::BranchCurrent | pass::ReviewAction::Current { .. }
            )
        })
        .count();
    if env.outcome == Outcome::Unchanged && pending > 0 {
        return format!(
            "up to date: {pending} review{} already pending (below)",
            plural(pending)
        );
    }
    outcome_text(&env.outcome, env.moves.len())
}

/// Every failure, with scan failures grouped per registry: one line for a registry whose
/// images all failed the same way, instead of one per image.
fn failures_grouped(report: &PassReport) -> Vec<String> {
    let mut out = Vec::new();
    let mut by_registry: std::collections::BTreeMap<&str, Vec<&pass::ImageScan>> =
        std::collections::BTreeMap::new();
    for scan in report.scans.values().filter(|s| s.error.is_some()) {
        by_registry
            .entry(scan.registry.as_str())
            .or_default()
            .push(scan);
    }
    for (registry, scans) in by_registry {
        match scans.as_slice() {
            [scan] => out.push(format!(
                "image {}: {}",
                scan.image,
                scan.error.as_deref().unwrap_or_default()
            )),
            _ => {
                let names: Vec<&str> = scans.iter().map(|s| s.image.as_str()).collect();
                let first = scans[0].error.as_deref().unwrap_or_default();
                out.push(format!(
                    "registry {registry}: {} images could not be scanned ({}): {first}",
                    scans.len(),
                    names.join(", ")
                ));
            }
        }
    }
    let scan_lines = report.scans.values().filter(|s| s.error.is_some()).count();
    out.extend(report.failures().into_iter().skip(scan_lines));
    out
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
    if terminal::quiet() {
        return;
    }
    for scan in report.scans.values() {
        match (&scan.tags, &scan.error) {
            (Some(tags), _) => println!(
                "image {}: {} tag{}",
                scan.image,
                tags.len(),
                plural(tags.len())
            ),
            (None, Some(_)) => println!(
                "image {}: scan failed (registry {}, see the problems below)",
                scan.image, scan.registry
            ),
            _ => {}
        }
    }
    for selection in report.selections.values() {
        match (&selection.decision, &selection.error) {
            (Some(_), _) => println!("policy {}: {}", selection.policy, selection.reason()),
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
    for v in &env.verification {
        println!("  verify: {} {}: {}", v.image, v.version, v.summary);
    }
    for waiting in &env.waiting {
        println!("  waiting: {waiting}");
    }
    for review in &env.reviews {
        println!(
            "  review {} ({} -> {} on {}): {}{}",
            review.image,
            review.from,
            review.to,
            review.branch,
            review.action,
            review
                .merge
                .as_ref()
                .map(|m| format!("; auto-merge: {m}"))
                .unwrap_or_default()
        );
    }
    for problem in &env.problems {
        println!("  problem: {problem}");
    }
    for note in &env.notes {
        println!("  note: {note}");
    }
}

/// Prints which repository rules are in force and the fields they do not use.
pub fn print_rules(report: &PassReport) {
    let Some(rules) = &report.rules else { return };
    match &rules.applied {
        Some(commit) => println!(
            "rules: {} at {}",
            rules.source,
            crate::common::text::short_commit(commit)
        ),
        None => println!("rules: {}: none valid, only the host's apply", rules.source),
    }
    for note in &rules.notes {
        eprintln!("warning: {note}");
    }
}

/// Prints what was scanned and chosen, then one block per environment.
pub fn print_summary(report: &PassReport) {
    print_rules(report);
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
