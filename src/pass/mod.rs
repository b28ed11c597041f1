//! One pass over everything: scan registries, choose versions, edit each environment's
//! marked files, commit and push. `baton once` runs one, `baton plan` one without writing.

mod auto_merge;
mod budget;
mod choose;
mod events;
mod gates;
mod groups;
mod judge;
mod moves;
mod progress;
mod promote;
pub mod range;
mod report;
mod review;
pub mod rules;
mod scan;
mod superseded;
mod verify;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::time::Duration;

use jiff::Timestamp;

use crate::common::backoff::Backoff;
use crate::common::text::short_digest;
use crate::config::{Config, DigestPinning, EnvironmentConfig, Mode};
use crate::forge::Forge;
use crate::git::message::{CommitMessage, MessageTemplate, Move};
use crate::git::{Checkout, CommitRequest, GitError, PushOutcome, Signing, Workspace};
use crate::markers::{self, Field, Marker, Part, Plan, Resolved, ScanOptions};
use crate::promotion;
use crate::registry::Registries;

pub use budget::{RegistryEstimate, WARN_SHARE, estimate};
pub use choose::choose;
pub use events::{events_from_report, scan_failures};
pub use gates::{HISTORY_LIMIT, Manual};
pub use judge::{FOLLOW_DEPTH, Walk, judge_scan};
pub use moves::moves_from_plan;
pub use progress::{Progress, Step};
pub use promote::{PromoteError, PromoteRequest, check_request, promote};
pub use report::{
    AutoMerge, EnvironmentReport, HeldTag, Outcome, PassReport, Review, ReviewAction, Running,
    Selection, Verification, Waiting, waiting_text,
};
pub use scan::{ImageScan, policies_of, scan_and_judge, scan_image, scan_images};
pub use verify::{ImageVerification, Rollback, Verified};

/// What a pass should do.
#[derive(Debug, Clone, Default)]
pub struct PassOptions {
    /// Compute everything, write and push nothing.
    pub dry_run: bool,
    /// Only these environments (all when empty).
    pub environments: Vec<String>,
    /// The time the gates (soak, windows, freezes) are judged at; the system clock when
    /// `None`. Tests and `BATON_NOW` set it; nothing ever sleeps on it.
    pub now: Option<Timestamp>,
    /// Told of each step (registry scans, the sync, each environment) as it happens, for a
    /// progress display; `None` reports nothing.
    pub progress: Option<Progress>,
}

/// Errors that stop a whole pass before any environment is processed.
#[derive(Debug, thiserror::Error)]
pub enum PassError {
    /// The workspace could not be brought up to date with the remote.
    #[error("cannot sync with the git remote: {0}")]
    Sync(#[source] GitError),
    /// An environment named on the command line does not exist.
    #[error("no environment {0:?} in the configuration")]
    UnknownEnvironment(String),
    /// The commit message template does not parse.
    #[error("git.commit_template: {0}")]
    Template(String),
}

/// Everything the per-environment steps share.
struct Context<'a> {
    config: &'a Config,
    registries: &'a Registries,
    workspace: &'a Workspace,
    selections: &'a BTreeMap<String, Selection>,
    template: Option<MessageTemplate>,
    digests: tokio::sync::Mutex<HashMap<(String, String), Result<String, String>>>,
    dry_run: bool,
    /// The instant gates are judged at.
    now: Timestamp,
    /// The forge for review mode: `None` without `[forge]`, an error when its token is unreadable.
    forge: Option<Result<Forge, String>>,
    /// Tags the registry lists, per `[images]` name, when this pass scanned them: markers
    /// holding a tag not listed are reported.
    listed: BTreeMap<String, BTreeSet<String>>,
    /// The commit of the repository's rules in force, named by every commit's `Baton-Rules`.
    rules_commit: Option<String>,
    /// How the verified environments' current moves stand, judged before any moves.
    verified: verify::Verified,
    /// Clones of the other repositories that sources (`Config::sources`) are read from, by
    /// source environment; the error when one cannot be cloned or synced.
    sources: BTreeMap<String, Result<Workspace, String>>,
}

impl<'a> Context<'a> {
    /// A pass's context, with no listed tags, no digests resolved yet and the forge for
    /// review mode when one is needed; `now` defaults to the current instant.
    fn new(
        config: &'a Config,
        registries: &'a Registries,
        workspace: &'a Workspace,
        selections: &'a BTreeMap<String, Selection>,
        template: Option<MessageTemplate>,
        dry_run: bool,
        now: Option<Timestamp>,
    ) -> Self {
        Context {
            config,
            registries,
            workspace,
            selections,
            template,
            digests: tokio::sync::Mutex::new(HashMap::new()),
            dry_run,
            now: now.unwrap_or_else(Timestamp::now),
            forge: forge_for(config),
            listed: BTreeMap::new(),
            rules_commit: None,
            verified: verify::Verified::default(),
            sources: BTreeMap::new(),
        }
    }

    /// The clone environment `name` is read from: this repository's, or for a source of
    /// another repository, that repository's (an error when it could not be synced).
    fn workspace_of(&self, name: &str) -> Result<&Workspace, String> {
        match self.sources.get(name) {
            Some(Ok(ws)) => Ok(ws),
            Some(Err(e)) => Err(e.clone()),
            None => Ok(self.workspace),
        }
    }
}

/// Clones of the repositories that `config`'s sources of other repositories are in, synced
/// to their branch now; each under `STATE_DIR/sources/REPOSITORY/SOURCE_REPOSITORY`, owned
/// by this repository's passes, so that no other reconciler's clone is read while it changes.
/// The source's branch is what it runs: a push branch for pull requests is not followed.
async fn open_sources(config: &Config) -> BTreeMap<String, Result<Workspace, String>> {
    let mut by_repository: BTreeMap<&str, Vec<&String>> = BTreeMap::new();
    for (name, env) in &config.sources {
        by_repository
            .entry(env.repository.as_str())
            .or_default()
            .push(name);
    }
    let mut out = BTreeMap::new();
    for (repository, names) in by_repository {
        let opened = match config.repositories.get(repository) {
            None => Err(format!("no repository {repository:?} in the configuration")),
            Some(source) => {
                let mut remote = source.git.remote.clone();
                remote.push_branch = None;
                let dir = config
                    .daemon
                    .state_dir
                    .join("sources")
                    .join(&config.repository)
                    .join(repository);
                let paths = names.iter().filter_map(|n| config.sources.get(*n));
                let checkout = Checkout::of(paths.map(|e| e.paths.as_slice()));
                match Workspace::open_or_clone_limited(&dir, &remote, checkout).await {
                    Ok(ws) => ws.sync().await.map(|_| ws).map_err(|e| e.to_string()),
                    Err(e) => Err(e.to_string()),
                }
                .map_err(|e| format!("cannot read repository {repository:?}: {e}"))
            }
        };
        if let Err(e) = &opened {
            tracing::warn!(repository = %config.repository, source_repository = repository, error = %e, "cannot sync the clone of a promotion source");
        }
        for name in names {
            out.insert(name.clone(), opened.clone());
        }
    }
    out
}

/// The part of the repository a pass over `config` reads from the work tree: every
/// environment's paths (the rules are read from the commit, not from files).
pub(crate) fn work_tree_for(config: &Config) -> Checkout {
    Checkout::of(config.environments.values().map(|e| e.paths.as_slice()))
}

/// The forge client for review-mode environments, when one is configured and needed.
fn forge_for(config: &Config) -> Option<Result<Forge, String>> {
    let needed = config.environments.values().any(|e| e.mode == Mode::Review);
    let forge = config.forge.as_ref().filter(|_| needed)?;
    Some(Forge::from_config(forge).map_err(|e| e.to_string()))
}

/// Runs one pass. Image scans that fail are reported and their policies hold still;
/// every other image and environment carries on.
pub async fn run(
    config: &Config,
    registries: &Registries,
    workspace: &Workspace,
    options: &PassOptions,
) -> Result<PassReport, PassError> {
    // With rules in the repository, they are read at the commit this pass builds on, before
    // anything is scanned: they say which images there are.
    let (effective, rules) = with_rules(config, workspace)
        .await
        .map_err(PassError::Sync)?;
    let config: &Config = &effective;
    check_options(config, options)?;
    if !options.dry_run {
        rules::mark_refused(config, rules.as_ref()).await;
    }
    let now = options.now.unwrap_or_else(Timestamp::now);
    let store = std::sync::Arc::new(crate::eligibility::Store::open(&config.daemon.state_dir));
    let scans = scan_images(config, registries, &store, now, options.progress.as_ref()).await;
    let selections = std::sync::Arc::new(select_at(config, &scans, now));
    let listed = scans
        .iter()
        .filter_map(|(name, scan)| {
            let tags = scan.tags.as_ref()?;
            Some((name.clone(), tags.iter().cloned().collect()))
        })
        .collect();
    let rules_commit = rules.as_ref().and_then(|r| r.applied.clone());
    let mut report = run_writing(
        config,
        registries,
        workspace,
        options,
        selections,
        listed,
        rules_commit,
    )
    .await?;
    report.scans = scans;
    report.rules = rules;
    Ok(report)
}

/// The configuration a pass or a promotion runs with: with rules in the repository, the
/// host's merged with the rules at the commit the workspace syncs to (and logged); without,
/// the host's own.
async fn with_rules<'a>(
    config: &'a Config,
    workspace: &Workspace,
) -> Result<(std::borrow::Cow<'a, Config>, Option<rules::RulesReport>), GitError> {
    if config.rules.is_none() {
        return Ok((std::borrow::Cow::Borrowed(config), None));
    }
    workspace.sync().await?;
    let (effective, report) = rules::for_pass(config, workspace);
    log_rules(report.as_ref());
    Ok((std::borrow::Cow::Owned(effective), report))
}

/// Logs which rules are in force, each note, and a refused change.
fn log_rules(report: Option<&rules::RulesReport>) {
    let Some(report) = report else { return };
    for note in &report.notes {
        tracing::info!(rules = %report.source, note = %note, "rules field not used");
    }
    if let Some(refused) = &report.refused {
        for error in &refused.errors {
            tracing::error!(rules = %report.source, commit = %refused.commit, author = %refused.author, error = %error, "rules change refused: the last good rules stay in force");
        }
    }
    match &report.applied {
        Some(commit) => tracing::info!(rules = %report.source, commit = %commit, "rules in force"),
        None => {
            tracing::error!(rules = %report.source, "no valid rules: only the host configuration's images, policies and environments apply")
        }
    }
}

/// Checks that every name in `names` is a configured environment (before any waiting or
/// network work, so a typo is reported at once).
pub fn check_environments(config: &Config, names: &[String]) -> Result<(), PassError> {
    for name in names {
        if !config.environments.contains_key(name) {
            return Err(PassError::UnknownEnvironment(name.clone()));
        }
    }
    Ok(())
}

/// Checks the environments named in `options` and parses the commit template.
fn check_options(
    config: &Config,
    options: &PassOptions,
) -> Result<Option<MessageTemplate>, PassError> {
    check_environments(config, &options.environments)?;
    match &config.git.commit_template {
        Some(text) => Ok(Some(
            MessageTemplate::new(text.clone()).map_err(|e| PassError::Template(e.to_string()))?,
        )),
        None => Ok(None),
    }
}

/// Runs the writing half of a pass with choices made beforehand (the daemon scans on its
/// own schedule and caches them): sync, then edit, commit and push each environment.
/// The report's `scans` is empty.
pub async fn run_with_selections(
    config: &Config,
    registries: &Registries,
    workspace: &Workspace,
    options: &PassOptions,
    selections: std::sync::Arc<BTreeMap<String, Selection>>,
) -> Result<PassReport, PassError> {
    run_writing(
        config,
        registries,
        workspace,
        options,
        selections,
        BTreeMap::new(),
        None,
    )
    .await
}

/// The configuration a pass over `workspace` works with: with rules in the repository, the
/// host's merged with the rules at the commit the workspace syncs to (logged), and what
/// happened to them; without, the host's own and `None`.
pub async fn read_rules<'a>(
    config: &'a Config,
    workspace: &Workspace,
) -> Result<(std::borrow::Cow<'a, Config>, Option<rules::RulesReport>), PassError> {
    with_rules(config, workspace).await.map_err(PassError::Sync)
}

/// [`run_with_selections`] over `config` as [`read_rules`] returned it: its commits name the
/// rules commit applied and the report carries `rules`.
pub async fn run_with_rules(
    config: &Config,
    report_rules: Option<rules::RulesReport>,
    registries: &Registries,
    workspace: &Workspace,
    options: &PassOptions,
    selections: std::sync::Arc<BTreeMap<String, Selection>>,
) -> Result<PassReport, PassError> {
    if !options.dry_run {
        rules::mark_refused(config, report_rules.as_ref()).await;
    }
    let rules_commit = report_rules.as_ref().and_then(|r| r.applied.clone());
    let mut report = run_writing(
        config,
        registries,
        workspace,
        options,
        selections,
        BTreeMap::new(),
        rules_commit,
    )
    .await?;
    report.rules = report_rules;
    Ok(report)
}

/// [`run_with_selections`], with the tags each image's scan listed (for the report of
/// markers holding tags the registry does not list).
async fn run_writing(
    config: &Config,
    registries: &Registries,
    workspace: &Workspace,
    options: &PassOptions,
    selections: std::sync::Arc<BTreeMap<String, Selection>>,
    listed: BTreeMap<String, BTreeSet<String>>,
    rules_commit: Option<String>,
) -> Result<PassReport, PassError> {
    let template = check_options(config, options)?;
    progress::report(options.progress.as_ref(), Step::Syncing);
    workspace.limit_work_tree(work_tree_for(config));
    workspace.sync().await.map_err(PassError::Sync)?;
    let mut cx = Context {
        listed,
        rules_commit,
        sources: open_sources(config).await,
        ..Context::new(
            config,
            registries,
            workspace,
            &selections,
            template,
            options.dry_run,
            options.now,
        )
    };
    // Every verified environment is judged first, its checks asked concurrently, so that a
    // slow check holds up no environment more than its own bounded time.
    cx.verified = verify::verify_all(&cx, &environment_order(config)).await;
    let mut environments = Vec::new();
    let mut unusable: Option<String> = None;
    for name in environment_order(config) {
        if !options.environments.is_empty() && !options.environments.contains(&name) {
            continue;
        }
        let env = &config.environments[&name];
        let report = match &unusable {
            Some(why) => {
                let mut report = EnvironmentReport::new(&name);
                report.outcome = Outcome::Failed(why.clone());
                report
            }
            None => {
                progress::report(options.progress.as_ref(), Step::Environment { name: &name });
                environment_pass(&cx, &name, env, None).await
            }
        };
        log_environment(&report);
        if !options.dry_run {
            record_rollbacks(&cx, &report).await;
        }
        if unusable.is_none() && matches!(report.outcome, Outcome::Failed(_)) && !options.dry_run {
            // The next environment must not build on this one's unpushed commit.
            if let Err(err) = workspace.sync().await {
                unusable = Some(format!(
                    "not tried: the clone could not be reset after environment {name} failed: {err}"
                ));
            }
        }
        environments.push(report);
    }
    let mut digest_failures: Vec<(String, String, String)> = cx
        .digests
        .into_inner()
        .into_iter()
        .filter_map(|((image, tag), result)| result.err().map(|why| (image, tag, why)))
        .collect();
    digest_failures.sort();
    Ok(PassReport {
        scans: BTreeMap::new(),
        selections,
        environments,
        digest_failures,
        rules: None,
    })
}

/// After an environment's push: appends a rolled-back record to the note of each move it
/// rolled back.
async fn record_rollbacks(cx: &Context<'_>, report: &EnvironmentReport) {
    if !matches!(report.outcome, Outcome::Pushed { .. }) {
        return;
    }
    let Some(images) = cx.verified.by_env.get(&report.name) else {
        return;
    };
    let entries: Vec<(String, String)> = images
        .values()
        .filter(|v| {
            v.rollback.as_ref().is_some_and(|rb| {
                report.moves.iter().any(|m| {
                    cx.config.policies.get(&m.policy).map(|p| &p.image) == Some(&v.image)
                        && m.to.split(", ").any(|t| t == rb.to)
                })
            })
        })
        .map(|v| {
            (
                v.commit.clone(),
                verify::rollback_record(cx, &report.name, v),
            )
        })
        .collect();
    verify::write_notes(cx, &entries).await;
}

/// Chooses a tag for every policy whose image scanned successfully, judged now.
pub fn select(config: &Config, scans: &BTreeMap<String, ImageScan>) -> BTreeMap<String, Selection> {
    select_at(config, scans, Timestamp::now())
}

/// Chooses a tag for every policy whose image scanned successfully, with tag judgements
/// (age) applied at `now`.
pub fn select_at(
    config: &Config,
    scans: &BTreeMap<String, ImageScan>,
    now: Timestamp,
) -> BTreeMap<String, Selection> {
    let mut out = BTreeMap::new();
    for (name, policy) in config.policies.iter() {
        let image = &config.images[&policy.image];
        let selection = match scans.get(&policy.image) {
            Some(ImageScan {
                tags: Some(tags),
                judged,
                ..
            }) => choose(config, name, tags, judged.as_deref(), now),
            scan => Selection {
                policy: name.clone(),
                image: policy.image.clone(),
                repository: image.repository_text.clone(),
                rule: policy.policy.describe(),
                decision: None,
                error: Some(match scan {
                    Some(ImageScan { error: Some(e), .. }) => format!("scan failed: {e}"),
                    _ => "image was not scanned".to_string(),
                }),
                held: Vec::new(),
                follow: None,
            },
        };
        if selection.decision.is_some() {
            tracing::info!(policy = %name, image = %policy.image, chosen = selection.chosen().unwrap_or("none"), reason = %selection.reason(), "policy choice");
        }
        out.insert(name.clone(), selection);
    }
    out
}

/// Environments in an order where every `promote_from` source comes before its target.
pub fn environment_order(config: &Config) -> Vec<String> {
    let mut order: Vec<String> = Vec::new();
    let mut visiting = BTreeSet::new();
    fn visit(
        name: &str,
        config: &Config,
        order: &mut Vec<String>,
        visiting: &mut BTreeSet<String>,
    ) {
        if order.iter().any(|n| n == name) || !visiting.insert(name.to_string()) {
            return;
        }
        // A source of another repository is read, not processed here.
        let Some(env) = config.environments.get(name) else {
            return;
        };
        if let Some(from) = env.promote_from.as_deref() {
            visit(from, config, order, visiting);
        }
        order.push(name.to_string());
    }
    for name in config.environments.keys() {
        visit(name, config, &mut order, &mut visiting);
    }
    order
}

async fn environment_pass(
    cx: &Context<'_>,
    name: &str,
    env: &EnvironmentConfig,
    manual: Option<&Manual>,
) -> EnvironmentReport {
    let mut report = EnvironmentReport::new(name);
    report.verification = verification_views(cx, name);
    // A person's explicit move is not held by windows or freezes.
    let window = match manual {
        Some(_) => None,
        None => promotion::window_gate(&env.windows, &env.freeze, cx.now).err(),
    };
    if env.mode == Mode::Review {
        return review::review_environment(cx, name, env, manual, window, report).await;
    }
    let target_branch = cx.config.git.remote.target_branch().to_string();
    let attempts = cx.config.git.push_retries + 1;
    for attempt in 0..attempts {
        if attempt > 0 {
            let delay = PUSH_BACKOFF.delay(attempt);
            tracing::debug!(environment = %name, attempt, delay_ms = delay.as_millis() as u64, "syncing and re-applying");
            tokio::time::sleep(delay).await;
            if let Err(err) = cx.workspace.sync().await {
                report.outcome =
                    Outcome::Failed(format!("cannot sync after a rejected push: {err}"));
                return report;
            }
        }
        let Some(mut prepared) =
            prepare_or_finish(cx, name, env, manual, window.as_ref(), &mut report).await
        else {
            return report;
        };
        // Re-applying after another writer pushed: its tag list may be newer than ours, so
        // a marker it moved further than our choice keeps its value.
        if attempt > 0 && manual.is_none() && !keep_newer(cx, name, &mut prepared, &mut report) {
            return report;
        }
        let text = match commit_text(cx, name, &report.moves, &prepared.targets, manual) {
            Ok(text) => text,
            Err(why) => {
                report.outcome = Outcome::Failed(why);
                return report;
            }
        };
        report.message = Some(text.clone());
        if cx.dry_run {
            report.outcome = Outcome::Planned;
            return report;
        }
        match commit_and_push(cx, name, &prepared.plan, text, &target_branch, false).await {
            Ok(Some((commit, PushOutcome::Pushed))) => {
                moved_running(cx, &mut report);
                report.outcome = Outcome::Pushed {
                    commit,
                    branch: target_branch,
                    retries: attempt,
                };
                return report;
            }
            Ok(Some((_, PushOutcome::Rejected { reason }))) => {
                tracing::info!(environment = %name, reason = %reason, attempt = attempt + 1, "push rejected because the branch moved: syncing and re-applying");
                continue;
            }
            Ok(None) => {
                report.outcome = Outcome::Unchanged;
                return report;
            }
            Err(why) => {
                report.outcome = Outcome::Failed(why);
                return report;
            }
        }
    }
    report.outcome = Outcome::Failed(format!(
        "the remote rejected the push {attempts} times because the branch kept moving: the next pass tries again"
    ));
    report
}

/// Drops from the plan every policy whose markers would move back to a version the policy
/// ranks below the one they hold (another writer knew a newer tag). Returns false, with the
/// report final, when nothing is left to write.
fn keep_newer(
    cx: &Context<'_>,
    name: &str,
    prepared: &mut Prepared,
    report: &mut EnvironmentReport,
) -> bool {
    let tag_of = |field: Field, value: &str| field.read(value).tag.map(str::to_string);
    let mut newer: BTreeSet<String> = BTreeSet::new();
    for change in prepared.plan.edits.iter().flat_map(|e| &e.changes) {
        let Some(policy) = cx.config.policies.get(&change.policy) else {
            continue;
        };
        let (Some(from), Some(to)) = (
            tag_of(change.field, &change.from),
            tag_of(change.field, &change.to),
        ) else {
            continue;
        };
        if policy.policy.compare(&to, &from) == Some(std::cmp::Ordering::Less) {
            tracing::info!(environment = %name, policy = %change.policy, kept = %from, instead_of = %to, "another writer pushed a newer version: keeping it");
            newer.insert(change.policy.clone());
        }
    }
    if newer.is_empty() {
        return true;
    }
    // A group moves as a whole: when one member keeps another writer's newer version, the
    // others keep theirs too (the next pass judges the group again).
    let images: BTreeSet<String> = newer
        .iter()
        .filter_map(|p| cx.config.policies.get(p).map(|p| p.image.clone()))
        .collect();
    for image in &images {
        if let Some((_, group)) = cx.config.group_of(image) {
            for member in &group.images {
                newer.extend(cx.config.policies_for_image(member).map(|(n, _)| n.clone()));
            }
        }
    }
    prepared.plan = plan_with(
        cx,
        &prepared.scan,
        &prepared.targets.by_policy,
        &prepared.digests,
        &|policy| !newer.contains(policy),
    );
    fill_report(cx, report, prepared);
    // The newer tag another writer pushed may postdate this pass's listing: not a tag the
    // registry lacks, and no marker problem (the next pass lists it).
    let kept: BTreeSet<(PathBuf, usize)> = prepared
        .scan
        .files
        .iter()
        .flat_map(|f| &f.markers)
        .filter(|m| newer.contains(&m.policy))
        .map(|m| (m.path.clone(), m.line))
        .collect();
    report.problems.retain(|p| {
        !(p.message.contains(" holds tag ") && kept.contains(&(p.path.clone(), p.line)))
    });
    if prepared.plan.edits.is_empty() {
        report.outcome = idle_outcome(report);
        return false;
    }
    true
}

/// The outcome of an environment with nothing to write: waiting when a gate holds a move.
fn idle_outcome(report: &EnvironmentReport) -> Outcome {
    if report.waiting.is_empty() {
        Outcome::Unchanged
    } else {
        Outcome::Waiting(
            report
                .waiting
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; "),
        )
    }
}

/// Holds every move because the environment's window is closed (or the day is frozen).
fn hold_for_window(report: &mut EnvironmentReport, wait: &promotion::Wait) {
    report.waiting.insert(
        0,
        Waiting {
            image: None,
            reason: wait.reason.clone(),
            until: wait.until,
        },
    );
    report.outcome = Outcome::Waiting(wait.reason.clone());
}

/// Copies what the preparation found into the report.
fn fill_report(cx: &Context<'_>, report: &mut EnvironmentReport, prepared: &Prepared) {
    let plan = &prepared.plan;
    report.skipped_files = prepared.skipped.clone();
    report.problems = plan
        .problems
        .iter()
        .map(|p| with_suggestion(cx.config, &prepared.scan, p))
        .collect();
    report.problems.extend(unlisted_tags(cx, &prepared.scan));
    report.held = plan
        .held
        .iter()
        .map(|m| {
            format!(
                "{}:{}: {} held: {}",
                m.path.display(),
                m.line,
                m.policy,
                m.hold.as_deref().unwrap_or("")
            )
        })
        .collect();
    report.moves = moves_from_plan(plan, cx.selections, cx.config);
    report.diff = moves::unified_diff(plan);
    report.waiting = prepared.targets.waiting.clone();
    report.running = running(cx, &prepared.scan);
}

/// What each image's markers hold, per `[images]` name, for the status and the board.
fn running(cx: &Context<'_>, scan: &markers::Scan) -> BTreeMap<String, Running> {
    let mut out: BTreeMap<String, Running> = BTreeMap::new();
    for marker in scan.files.iter().flat_map(|f| &f.markers) {
        let Some(policy) = cx.config.policies.get(&marker.policy) else {
            continue;
        };
        let current = marker.field.read(&marker.current);
        let version = match current.tag {
            Some(tag) => Some(tag.to_string()),
            None => current.digest.map(short_digest),
        };
        let entry = out.entry(policy.image.clone()).or_default();
        if let Some(version) = version.filter(|v| !v.is_empty())
            && !entry.versions.contains(&version)
        {
            entry.versions.push(version);
        }
        if entry.hold.is_none() {
            entry.hold = marker.hold.clone();
        }
    }
    out
}

/// How each image's current move verifies in environment `name`, for the report.
fn verification_views(cx: &Context<'_>, name: &str) -> Vec<report::Verification> {
    let Some(images) = cx.verified.by_env.get(name) else {
        return Vec::new();
    };
    images
        .values()
        .map(|v| {
            let (state, until) = match &v.judgement.state {
                crate::verification::State::Passed { now: true, .. } => ("passed", None),
                crate::verification::State::Passed { now: false, .. } => ("failing", None),
                crate::verification::State::Waiting { deadline } => ("waiting", Some(*deadline)),
                crate::verification::State::Failed { .. } if v.rollback.is_some() => {
                    ("rolling_back", None)
                }
                crate::verification::State::Failed { .. } => ("failed", None),
            };
            let mut summary = match &v.rollback {
                Some(rb) => rb.reason.clone(),
                None => v.judgement.describe(),
            };
            if let Some(kept) = &v.kept {
                summary.push_str(&format!("; not rolled back: {kept}"));
            }
            report::Verification {
                image: v.image.clone(),
                version: v.version.clone(),
                commit: v.commit.clone(),
                state,
                summary,
                checks: v.judgement.answers.clone(),
                until,
                rolled_back_to: v.rollback.as_ref().map(|rb| rb.to.clone()),
            }
        })
        .collect()
}

/// After a push: the moved images run the versions they moved to.
fn moved_running(cx: &Context<'_>, report: &mut EnvironmentReport) {
    for m in &report.moves {
        let Some(policy) = cx.config.policies.get(&m.policy) else {
            continue;
        };
        let entry = report.running.entry(policy.image.clone()).or_default();
        entry.versions = m.to.split(", ").map(str::to_string).collect();
    }
}

/// Markers holding a tag their image's registry did not list in this pass's scan: the
/// environment cannot pull it (a mistyped promotion, a deleted tag).
fn unlisted_tags(cx: &Context<'_>, scan: &markers::Scan) -> Vec<markers::Problem> {
    let mut out = Vec::new();
    for marker in scan.files.iter().flat_map(|f| &f.markers) {
        let Some(policy) = cx.config.policies.get(&marker.policy) else {
            continue;
        };
        let Some(listed) = cx.listed.get(&policy.image) else {
            continue;
        };
        let tag = marker.field.read(&marker.current).tag;
        if let Some(tag) = tag.filter(|t| !t.is_empty() && !listed.contains(*t)) {
            out.push(markers::Problem {
                path: marker.path.clone(),
                line: marker.line,
                message: format!(
                    "{} holds tag {tag}, which the registry does not list for {}: the environment cannot pull it; promote a listed version",
                    marker.policy,
                    cx.config.images[&policy.image].repository_text
                ),
            });
        }
    }
    out
}

/// The commit message: the rendered template or default, with the promotion evidence as a
/// body paragraph after the subject and `Baton-Promoted-By` for a person's move.
fn commit_text(
    cx: &Context<'_>,
    name: &str,
    moves: &[Move],
    targets: &gates::Targets,
    manual: Option<&Manual>,
) -> Result<String, String> {
    let message = CommitMessage {
        environment: name.to_string(),
        moves: moves.to_vec(),
        promoted_by: manual.map(|m| m.by.clone()),
    };
    let text = message
        .render(cx.template.as_ref())
        .map_err(|err| format!("cannot render the commit message: {err}"))?;
    let mut notes = Vec::new();
    for m in moves {
        if let Some(target) = targets.by_policy.get(&m.policy) {
            match (&target.source, &target.soaked) {
                (_, Some(soaked)) => notes.push(format!(
                    "{}: promoted from {}; soak {}",
                    m.policy,
                    soaked.source,
                    soaked.describe()
                )),
                (Some(source), None) => notes.push(format!("{}: promoted from {source}", m.policy)),
                _ => {}
            }
        }
    }
    if let Some(manual) = manual {
        notes.push(format!(
            "Promoted by hand by {} with baton promote; automatic moves of {} resume with a newer version.",
            manual.by, manual.image
        ));
    }
    let mut trailers = Vec::new();
    for m in moves {
        if let Some(rb) = targets
            .by_policy
            .get(&m.policy)
            .and_then(|t| t.rollback.as_ref())
        {
            notes.push(format!("{}: rolled back: {}", m.policy, rb.reason));
            let pair = (rb.of.clone(), rb.check.clone());
            if !trailers.contains(&pair) {
                trailers.push(pair);
            }
        }
    }
    // A person's `baton promote` moves its one image, not a group.
    let grouped = match manual {
        Some(_) => Vec::new(),
        None => group_moves(cx, moves),
    };
    for (group, members) in &grouped {
        let names: Vec<&str> = members.iter().map(|m| m.policy.as_str()).collect();
        notes.push(match names.as_slice() {
            [one] => {
                format!("group {group}: only {one} had to move; the others hold their versions")
            }
            _ => format!(
                "group {group}: {} move together{}",
                crate::common::text::listed(&names, "and"),
                if cx.config.groups[group].same_version {
                    ", to one version (same_version)"
                } else {
                    ""
                }
            ),
        });
    }
    let text = match (&cx.template, grouped.as_slice()) {
        (None, [(group, members)]) if members.len() == moves.len() && moves.len() > 1 => {
            with_subject(&text, &group_subject(name, group, members))
        }
        _ => text,
    };
    let text = insert_body(&text, &notes);
    let mut text = match &cx.rules_commit {
        Some(commit) => rules::with_rules_trailer(&text, commit),
        None => text,
    };
    for (of, check) in trailers {
        use crate::common::text::one_line;
        use crate::git::message::{TRAILER_FAILED_CHECK, TRAILER_ROLLBACK_OF};
        if !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str(&format!(
            "{TRAILER_ROLLBACK_OF}: {}\n{TRAILER_FAILED_CHECK}: {}\n",
            one_line(&of),
            one_line(&check)
        ));
    }
    for (group, _) in &grouped {
        if !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str(&format!(
            "{}: {group}\n",
            crate::git::message::TRAILER_GROUP
        ));
    }
    Ok(text)
}

/// The moves of `moves` whose image is in a `[groups.NAME]`, by group name.
fn group_moves<'m>(cx: &Context<'_>, moves: &'m [Move]) -> Vec<(String, Vec<&'m Move>)> {
    let mut out: Vec<(String, Vec<&Move>)> = Vec::new();
    for m in moves {
        let Some((group, _)) = cx
            .config
            .policies
            .get(&m.policy)
            .and_then(|p| cx.config.group_of(&p.image))
        else {
            continue;
        };
        match out.iter_mut().find(|(g, _)| g == group) {
            Some((_, list)) => list.push(m),
            None => out.push((group.clone(), vec![m])),
        }
    }
    out
}

/// The subject of a commit that moves one group: `ENV: group NAME: a 1 -> 2, b 1 -> 2`.
fn group_subject(env: &str, group: &str, members: &[&Move]) -> String {
    let lines: Vec<String> = members.iter().map(|m| m.line()).collect();
    crate::common::text::one_line(&format!("{env}: group {group}: {}", lines.join(", ")))
}

/// `text` with its first line replaced by `subject`.
fn with_subject(text: &str, subject: &str) -> String {
    match text.split_once('\n') {
        Some((_, rest)) => format!("{subject}\n{rest}"),
        None => subject.to_string(),
    }
}

/// Puts `lines` as a paragraph after the message's subject.
fn insert_body(text: &str, lines: &[String]) -> String {
    if lines.is_empty() {
        return text.to_string();
    }
    let paragraph = lines.join("\n");
    match text.split_once("\n\n") {
        Some((subject, rest)) => format!("{subject}\n\n{paragraph}\n\n{rest}"),
        None => format!("{}\n\n{paragraph}\n", text.trim_end()),
    }
}

/// Waits between a rejected push and the next try: 300-600 ms at first, at most 13 s.
const PUSH_BACKOFF: Backoff = Backoff::new(Duration::from_millis(600), Duration::from_secs(13));

/// An environment's markers with the versions they should hold and the resulting edits.
struct Prepared {
    /// The environment's markers.
    scan: markers::Scan,
    /// Files the scan skipped, in words.
    skipped: String,
    /// Target version per policy, and what waits.
    targets: gates::Targets,
    /// Digests per policy, for pinned markers.
    digests: HashMap<String, Result<String, String>>,
    /// The edits for every target.
    plan: Plan,
}

/// Scans `paths` for markers off the async threads.
async fn scan_paths(cx: &Context<'_>, paths: Vec<PathBuf>) -> Result<markers::Scan, String> {
    scan_paths_in(cx, cx.workspace, paths).await
}

/// [`scan_paths`] in the clone `workspace` (a source's of another repository).
async fn scan_paths_in(
    cx: &Context<'_>,
    workspace: &Workspace,
    paths: Vec<PathBuf>,
) -> Result<markers::Scan, String> {
    let root = workspace.work_tree().to_path_buf();
    // The texts stay in their files, read again (and checked unchanged) for the plan, the
    // diff and the commit: a pass never holds every marked file at once (peak memory).
    let options = ScanOptions {
        extra_globs: cx.config.markers.include.clone(),
        max_file_size: cx.config.markers.max_file_size,
        keep_texts: false,
        ..ScanOptions::default()
    };
    let mut scan = tokio::task::spawn_blocking(move || markers::scan(&root, &paths, &options))
        .await
        .map_err(|e| format!("marker scan stopped: {e}"))?
        .map_err(|e| e.to_string())?;
    rules::resolve_namespaces(cx.config, &mut scan);
    Ok(scan)
}

/// Prepares the environment and fills the report; `None` when the report is already
/// final: the preparation failed, nothing moves, or a closed window holds every move.
async fn prepare_or_finish(
    cx: &Context<'_>,
    name: &str,
    env: &EnvironmentConfig,
    manual: Option<&Manual>,
    window: Option<&promotion::Wait>,
    report: &mut EnvironmentReport,
) -> Option<Prepared> {
    let prepared = match prepare_environment(cx, name, env, manual).await {
        Ok(prepared) => prepared,
        Err(why) => {
            report.outcome = Outcome::Failed(why);
            return None;
        }
    };
    fill_report(cx, report, &prepared);
    if prepared.plan.edits.is_empty() {
        report.outcome = idle_outcome(report);
        return None;
    }
    if let Some(wait) = window {
        hold_for_window(report, wait);
        return None;
    }
    Some(prepared)
}

/// Scans the environment, works out each policy's target through the gates and plans the
/// edits. History is read only for policies whose markers would change.
async fn prepare_environment(
    cx: &Context<'_>,
    name: &str,
    env: &EnvironmentConfig,
    manual: Option<&Manual>,
) -> Result<Prepared, String> {
    let (present, missing) = split_missing_paths(cx, env);
    let mut scan = if present.is_empty() && !env.paths.is_empty() {
        // Every path is missing: an empty path list would scan the whole repository.
        markers::Scan::default()
    } else {
        scan_paths(cx, present)
            .await
            .map_err(|e| format!("environments.{name}.paths: {e}"))?
    };
    rules::keep_selected(cx.config, env, &mut scan);
    for path in missing {
        scan.problems.push(markers::Problem {
            path,
            line: 0,
            message: format!(
                "does not exist in the repository: create it or fix environments.{name}.paths"
            ),
        });
    }
    let source_scan =
        match (&env.promote_from, manual) {
            (Some(source), None) => {
                let read = async {
                    let paths = cx
                        .config
                        .environment_or_source(source)
                        .map(|e| e.paths.clone())
                        .ok_or_else(|| format!("no environment {source:?}"))?;
                    scan_paths_in(cx, cx.workspace_of(source)?, paths).await
                };
                Some(read.await.map_err(|e| {
                    format!("cannot read {source}, which {name} promotes from: {e}")
                })?)
            }
            _ => None,
        };
    let mut targets = gates::candidates(cx, name, env, &scan, source_scan.as_ref(), manual);
    let digests = resolve_digests(cx, &scan, &targets.by_policy).await;
    let mut plan = plan_with(cx, &scan, &targets.by_policy, &digests, &|_| true);
    if manual.is_none() {
        let changed: BTreeSet<String> = plan
            .edits
            .iter()
            .flat_map(|e| &e.changes)
            .map(|c| c.policy.clone())
            .collect();
        let before = targets.by_policy.len();
        gates::history_gates(cx, name, env, &changed, source_scan.as_ref(), &mut targets).await;
        if targets.by_policy.len() != before {
            plan = plan_with(cx, &scan, &targets.by_policy, &digests, &|_| true);
        }
        // Groups move as a whole, or not at all.
        if !cx.config.groups.is_empty() {
            let changed: BTreeSet<String> = plan
                .edits
                .iter()
                .flat_map(|e| &e.changes)
                .map(|c| c.policy.clone())
                .collect();
            if groups::hold_groups(cx, name, &scan, &changed, &mut targets) {
                plan = plan_with(cx, &scan, &targets.by_policy, &digests, &|_| true);
            }
        }
    }
    Ok(Prepared {
        skipped: scan.skipped.to_string(),
        scan,
        targets,
        digests,
        plan,
    })
}

/// The environment's paths that exist in the clone, and those that do not (a marker problem,
/// not a failure: the other paths still move).
fn split_missing_paths(cx: &Context<'_>, env: &EnvironmentConfig) -> (Vec<PathBuf>, Vec<PathBuf>) {
    let root = cx.workspace.work_tree();
    env.paths
        .iter()
        .cloned()
        .partition(|path| path.is_absolute() || root.join(path).exists())
}

/// The problem, with "did you mean" when a marker names an unknown policy close to a
/// configured one.
fn with_suggestion(
    config: &Config,
    scan: &markers::Scan,
    problem: &markers::Problem,
) -> markers::Problem {
    let unknown = scan
        .files
        .iter()
        .filter(|f| f.path == problem.path)
        .flat_map(|f| &f.markers)
        .find(|m| m.line == problem.line && !config.policies.contains_key(&m.policy));
    let names: Vec<&str> = config.policies.keys().map(String::as_str).collect();
    let mut problem = problem.clone();
    if let Some(name) = unknown.and_then(|m| crate::common::text::suggest(&m.policy, &names)) {
        problem.message = format!("{}; did you mean {name:?}?", problem.message);
    }
    problem
}

/// The edits that bring the markers of the policies `include` accepts to their targets;
/// every other marker keeps its value.
fn plan_with(
    cx: &Context<'_>,
    scan: &markers::Scan,
    targets: &std::collections::BTreeMap<String, gates::Target>,
    digests: &HashMap<String, Result<String, String>>,
    include: &(dyn Fn(&str) -> bool + Sync),
) -> Plan {
    let resolve = |marker: &Marker| {
        let target = targets
            .get(&marker.policy)
            .filter(|_| include(&marker.policy));
        resolve_marker(cx, target, digests, marker)
    };
    markers::plan(scan, &resolve)
}

/// The digest each targeted policy needs in this environment, resolved once per (image, tag).
async fn resolve_digests(
    cx: &Context<'_>,
    scan: &markers::Scan,
    targets: &std::collections::BTreeMap<String, gates::Target>,
) -> HashMap<String, Result<String, String>> {
    let mut needed: BTreeSet<String> = BTreeSet::new();
    for marker in scan.files.iter().flat_map(|f| &f.markers) {
        let Some(policy) = cx.config.policies.get(&marker.policy) else {
            continue;
        };
        let Some(target) = targets.get(&marker.policy) else {
            continue;
        };
        let field = marker.field;
        let wants = match policy.pin_digest {
            _ if field.digest_only() => true,
            _ if !field.holds(Part::Digest) => false,
            DigestPinning::Always => true,
            DigestPinning::IfNotPresent => {
                let current = field.read(&marker.current);
                !(current.tag == Some(target.tag.as_str()) && current.digest.is_some())
            }
            DigestPinning::Never => false,
        };
        if wants && marker.hold.is_none() {
            needed.insert(marker.policy.clone());
        }
    }
    let mut out = HashMap::new();
    // Opened once a pinned digest of a signature-checked image needs its verdict.
    let mut signature_store: Option<crate::eligibility::Store> = None;
    for policy_name in needed {
        let tag = targets[&policy_name].tag.clone();
        let image_name = &cx.config.policies[&policy_name].image;
        let image = &cx.config.images[image_name];
        let key = (image_name.clone(), tag.clone());
        let mut cache = cx.digests.lock().await;
        if !cache.contains_key(&key) {
            let result = match cx.registries.for_image(&image.repository) {
                // With a platform, its own manifest inside the index; else the tag's digest.
                Ok(client) => match &image.platform {
                    Some(platform) => client
                        .platform_digest(&image.repository.repository, &tag, platform)
                        .await
                        .map_err(|e| format!("image {image_name}: {e}")),
                    None => client
                        .digest(&image.repository.repository, &tag)
                        .await
                        .map_err(|e| e.to_string()),
                },
                Err(e) => Err(e.to_string()),
            };
            let result = match result {
                Ok(digest) if image.signature.is_some() => {
                    let store = signature_store.get_or_insert_with(|| {
                        crate::eligibility::Store::open(&cx.config.daemon.state_dir)
                    });
                    signed_pin(cx, store, image, &tag, digest).await
                }
                other => other,
            };
            if let Err(why) = &result {
                tracing::warn!(image = %image_name, tag, error = %why, "cannot resolve digest");
            }
            cache.insert(key.clone(), result);
        }
        out.insert(policy_name, cache[&key].clone());
    }
    out
}

/// `digest` (what a pinned marker of `image` would get for `tag`) when the tag's digest is
/// signed as the image requires: the tag's own digest, which with `platform` is the index
/// holding `digest`. A tag re-pushed since the scan judged it is judged again here.
async fn signed_pin(
    cx: &Context<'_>,
    store: &crate::eligibility::Store,
    image: &crate::config::ImageConfig,
    tag: &str,
    digest: String,
) -> Result<String, String> {
    let client = cx
        .registries
        .for_image(&image.repository)
        .map_err(|e| e.to_string())?;
    let signed = match image.platform {
        Some(_) => client
            .digest(&image.repository.repository, tag)
            .await
            .map_err(|e| e.to_string())?,
        None => digest.clone(),
    };
    judge::check_pinned_digest(&client, store, image, tag, &signed, cx.now)
        .await
        .map(|()| digest)
}

/// What a marker should hold now, or `None` when its policy is unknown. A policy without a
/// target (no choice, or a gate holds it) keeps the marker's current value.
fn resolve_marker(
    cx: &Context<'_>,
    target: Option<&gates::Target>,
    digests: &HashMap<String, Result<String, String>>,
    marker: &Marker,
) -> Option<Resolved> {
    let policy = cx.config.policies.get(&marker.policy)?;
    let repository = &cx.config.images.get(&policy.image)?.repository_text;
    let field = marker.field;
    let current = field.read(&marker.current);
    let Some(target) = target else {
        return Some(keep_current(repository, marker));
    };
    let tag = target.tag.as_str();
    let digest = match policy.pin_digest {
        _ if !field.holds(Part::Digest) => None,
        DigestPinning::Never if !field.digest_only() => None,
        DigestPinning::IfNotPresent
            if !field.digest_only() && current.tag == Some(tag) && current.digest.is_some() =>
        {
            current.digest.map(str::to_string)
        }
        _ => match digests.get(&marker.policy) {
            Some(Ok(d)) => Some(d.clone()),
            // Without the digest the marker keeps what it has: never write an unpinned value
            // where a pinned one was asked for.
            _ => return Some(keep_current(repository, marker)),
        },
    };
    Some(Resolved {
        repository: repository.clone(),
        tag: tag.to_string(),
        digest,
    })
}

/// A resolution that leaves the marker's value exactly as it is.
fn keep_current(repository: &str, marker: &Marker) -> Resolved {
    let current = marker.field.read(&marker.current);
    Resolved {
        repository: current.name.unwrap_or(repository).to_string(),
        tag: current.tag.unwrap_or_default().to_string(),
        digest: current.digest.map(str::to_string),
    }
}

async fn commit_and_push(
    cx: &Context<'_>,
    environment: &str,
    plan: &Plan,
    message: String,
    branch: &str,
    force: bool,
) -> Result<Option<(String, PushOutcome)>, String> {
    let git = &cx.config.git;
    let request = CommitRequest {
        message,
        author_name: git.author_name.clone(),
        author_email: git.author_email.clone(),
        paths_changed: Vec::new(),
        signing: git.signing_key.as_ref().map(|key| Signing {
            key: key.clone(),
            format: git.signing_format,
        }),
    };
    // The commit is built from the planned edits (each already checked to parse and to differ
    // only at its marked scalars), one file's new text at a time; the workspace then writes
    // the files.
    let files = plan.edits.len();
    let commit = match cx
        .workspace
        .commit_contents(&request, PlannedFiles(plan.edits.clone()))
        .await
    {
        Ok(Some(id)) => id,
        Ok(None) => return Ok(None),
        Err(err) => return Err(format!("cannot commit: {err}")),
    };
    tracing::debug!(environment = %environment, commit = %commit, files, "committed");
    match cx.workspace.push(commit, branch, force).await {
        Ok(outcome) => {
            if outcome == PushOutcome::Pushed {
                tracing::debug!(environment = %environment, commit = %commit, branch = %branch, "pushed");
            }
            Ok(Some((commit.to_string(), outcome)))
        }
        Err(err @ GitError::PushRefused { .. }) => Err(format!("{err}; the next pass tries again")),
        Err(err) => Err(format!(
            "push failed: {err}; nothing was pushed, the next pass tries again"
        )),
    }
}

/// A plan's edited files as new contents for a commit: each file's new text is made when the
/// commit asks for it and dropped once written, never all of them at once.
struct PlannedFiles(Vec<markers::FileEdit>);

impl crate::git::NewContents for PlannedFiles {
    fn count(&self) -> usize {
        self.0.len()
    }
    fn path(&self, index: usize) -> &std::path::Path {
        &self.0[index].path
    }
    fn bytes(&self, index: usize) -> Result<std::borrow::Cow<'_, [u8]>, String> {
        let after = self.0[index].after().map_err(|e| e.to_string())?;
        Ok(std::borrow::Cow::Owned(after.into_bytes()))
    }
    /// The work tree is written as `markers` writes edits: several files at a time, each
    /// checked to still hold the bytes scanned and rewritten in place.
    fn write_into(&self, dir: &std::path::Path) -> Option<Result<(), String>> {
        Some(
            markers::apply_edits(dir, &self.0)
                .map(|_| ())
                .map_err(|e| e.to_string()),
        )
    }
}

fn log_environment(report: &EnvironmentReport) {
    if !report.skipped_files.is_empty() && report.skipped_files != "none" {
        tracing::info!(environment = %report.name, skipped = %report.skipped_files, "files the marker scan did not read (symbolic links are never followed)");
    }
    // Problems are reported by the caller: `plan` and `once` print them, the daemon logs each
    // once when it appears (not on every pass).
    for problem in &report.problems {
        tracing::debug!(environment = %report.name, problem = %problem, "marker problem in this pass");
    }
    for held in &report.held {
        tracing::info!(environment = %report.name, held = %held, "marker held");
    }
    for waiting in &report.waiting {
        let image = waiting.image.as_deref().unwrap_or("*");
        match waiting.until {
            Some(until) => {
                tracing::info!(environment = %report.name, image, reason = %waiting.reason, until = %until, "waiting")
            }
            None => {
                tracing::info!(environment = %report.name, image, reason = %waiting.reason, "waiting")
            }
        }
    }
    for review in &report.reviews {
        tracing::info!(environment = %report.name, image = %review.image, branch = %review.branch, from = %review.from, to = %review.to, action = %review.action, "review");
    }
    match &report.outcome {
        Outcome::Failed(why) => {
            tracing::error!(environment = %report.name, error = %why, "environment failed")
        }
        Outcome::Skipped(why) => {
            tracing::warn!(environment = %report.name, reason = %why, "environment skipped")
        }
        Outcome::Pushed {
            commit,
            branch,
            retries,
        } => {
            tracing::info!(environment = %report.name, moves = report.moves.len(), commit = %commit, branch = %branch, retries, "environment moved")
        }
        Outcome::Planned => {
            tracing::info!(environment = %report.name, moves = report.moves.len(), "environment would move")
        }
        Outcome::Unchanged => {
            tracing::info!(environment = %report.name, "environment up to date")
        }
        // Each wait was logged above with its own fields.
        Outcome::Waiting(_) => {
            tracing::info!(environment = %report.name, waits = report.waiting.len(), "environment waiting")
        }
        Outcome::Reviewed { branches } => {
            tracing::info!(environment = %report.name, moves = report.moves.len(), branches = %branches.join(", "), "environment sent for review")
        }
    }
}
