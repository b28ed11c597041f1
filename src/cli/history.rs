//! `baton history`: what moved, when, from what to what, why, and by which commit.

use std::process::ExitCode;

use anyhow::Context;

use crate::config::Config;
use crate::git::{HistoryQuery, ParsedMove, parse_moves};

use super::ConfigArg;
use super::output::{OutputArg, SCHEMA, print_json};

/// Arguments of `baton history`.
#[derive(Debug, clap::Args)]
pub struct HistoryArgs {
    /// Only moves in this environment.
    #[arg(long = "env", value_name = "NAME")]
    pub environment: Option<String>,
    /// Only moves of this image (a policy name, an [images] name or a repository).
    #[arg(long, value_name = "NAME")]
    pub image: Option<String>,
    /// Look at most this many commits back (1 or more).
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..))]
    pub limit: u32,
    #[command(flatten)]
    pub config: ConfigArg,
    #[command(flatten)]
    pub output: OutputArg,
}

/// One move as `history --json` prints it.
#[derive(Debug, serde::Serialize)]
struct MoveJson {
    /// When the move reached the branch (RFC 3339, UTC): the merge time for a reviewed move.
    time: String,
    /// When the reviewed commit was made, for a move that came in through a merge.
    proposed: Option<String>,
    /// The merge commit it came in through, if any.
    merge: Option<String>,
    environment: String,
    image: String,
    from: String,
    to: String,
    digest: Option<String>,
    policy: String,
    rule: Option<String>,
    promoted_by: Option<String>,
    /// The full commit id.
    commit: String,
    /// With rules in the repository: the commit of the rules that let the move happen.
    rules: Option<String>,
    /// That commit's author, when it is within the commits looked at.
    rules_author: Option<String>,
    /// The verification results recorded for this move (Git notes under refs/notes/baton).
    verification: Vec<crate::verification::Record>,
}

/// `history --json`.
#[derive(Debug, serde::Serialize)]
struct HistoryJson {
    schema: u32,
    branch: String,
    /// Commits looked at.
    commits: usize,
    /// Newest first.
    moves: Vec<MoveJson>,
}

/// One printed row.
struct Row {
    /// When the move reached the branch (for a reviewed move, when it was merged).
    when: String,
    environment: String,
    image: String,
    change: String,
    policy: String,
    commit: String,
    /// For a move merged from a review: the merge commit and when the move was proposed.
    merged: String,
    /// The rules commit (`Baton-Rules`) and its author.
    rules: String,
    /// The verification results recorded for the move, one line each.
    verification: Vec<String>,
}

/// Whether `m` passes the `--env` and `--image` filters.
fn wanted(m: &ParsedMove, args: &HistoryArgs, repository: Option<&str>) -> bool {
    if args
        .environment
        .as_ref()
        .is_some_and(|e| *e != m.environment)
    {
        return false;
    }
    match &args.image {
        None => true,
        Some(filter) => {
            m.image == *filter || m.policy == *filter || repository.is_some_and(|r| m.image == r)
        }
    }
}

/// The repository an `--image` filter names: an `[images]` name, a policy's image, or itself.
fn repository_for(config: &Config, name: &str) -> Option<String> {
    config
        .images
        .get(name)
        .map(|i| i.repository_text.clone())
        .or_else(|| {
            config
                .policies
                .get(name)
                .and_then(|p| config.images.get(&p.image))
                .map(|i| i.repository_text.clone())
        })
}

/// Unix seconds as RFC 3339 in UTC.
fn utc_rfc3339(seconds: i64) -> String {
    jiff::Timestamp::from_second(seconds)
        .map(|t| t.to_string())
        .unwrap_or_default()
}

/// Fetches the branch and prints the moves recorded in its commit trailers, newest first.
pub fn run(args: &HistoryArgs) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let config = super::pass::load(&args.config)?;
    runtime.block_on(async {
        let prepared = super::pass::open(config, super::pass::Access::Read).await?;
        let (config, workspace) = (&prepared.config, &prepared.workspace);
        if let Some(env) = &args.environment
            && !config.environments.contains_key(env)
        {
            // A removed environment's moves are still in the history: a note, not an error.
            let known: Vec<&str> = config.environments.keys().map(String::as_str).collect();
            let hint = match crate::common::text::suggest(env, &known) {
                Some(close) => format!(" (did you mean {close:?}?)"),
                None => String::new(),
            };
            eprintln!(
                "baton history: no environment {env:?} in {}{hint}: showing moves recorded under that name",
                config.source.display()
            );
        }
        workspace
            .sync()
            .await
            .context("cannot fetch the branch to read its history")?;
        let notes = read_notes(config, workspace).await;
        let repository = args
            .image
            .as_deref()
            .and_then(|name| repository_for(config, name));
        let records = workspace
            .history(&HistoryQuery {
                paths: Vec::new(),
                limit: Some(usize::try_from(args.limit).unwrap_or(usize::MAX)),
            })
            .context("cannot read the history")?;
        let authors: std::collections::HashMap<String, String> = records
            .iter()
            .map(|r| {
                (
                    r.id.to_string(),
                    format!("{} <{}>", r.author.name, r.author.email),
                )
            })
            .collect();
        let mut rows = Vec::new();
        let mut json = Vec::new();
        for record in &records {
            let rules = record
                .trailers
                .iter()
                .find(|(k, _)| k == crate::pass::rules::TRAILER_RULES)
                .map(|(_, v)| v.trim().to_string());
            let rules_author = rules.as_ref().and_then(|c| authors.get(c).cloned());
            let recorded = notes
                .get(&record.id.to_string())
                .map(|text| crate::verification::parse_note(text))
                .unwrap_or_default();
            for m in parse_moves(record) {
                if !wanted(&m, args, repository.as_deref()) {
                    continue;
                }
                let tags = crate::promotion::history::version_tags(&m.to);
                let verification: Vec<crate::verification::Record> = recorded
                    .iter()
                    .filter(|r| r.environment == m.environment && tags.contains(&r.version))
                    .cloned()
                    .collect();
                json.push(MoveJson {
                    time: utc_rfc3339(record.landed.time),
                    proposed: record.landed.merge.map(|_| utc_rfc3339(record.time)),
                    merge: record.landed.merge.map(|m| m.to_string()),
                    environment: m.environment.clone(),
                    image: m.image.clone(),
                    from: m.from.clone(),
                    to: m.to.clone(),
                    digest: m.digest.clone(),
                    policy: m.policy.clone(),
                    rule: m.rule.clone(),
                    promoted_by: m.promoted_by.clone(),
                    commit: record.id.to_string(),
                    rules: rules.clone(),
                    rules_author: rules_author.clone(),
                    verification: verification.clone(),
                });
                let when = utc(record.landed.time);
                let id = record.id.to_string();
                let merged = match record.landed.merge {
                    Some(merge) => {
                        let merge = merge.to_string();
                        format!(
                            "merged in {}, proposed {}",
                            &merge[..12.min(merge.len())],
                            utc(record.time)
                        )
                    }
                    None => String::new(),
                };
                rows.push(Row {
                    when,
                    environment: m.environment.clone(),
                    image: m.image.clone(),
                    change: format!("{} -> {}", m.from, m.to),
                    policy: match &m.rule {
                        Some(rule) => format!("{} ({rule})", m.policy),
                        None => m.policy.clone(),
                    },
                    commit: id[..12.min(id.len())].to_string(),
                    merged,
                    rules: match (&rules, &rules_author) {
                        (Some(c), Some(a)) => {
                            format!("{} by {a}", crate::common::text::short_commit(c))
                        }
                        (Some(c), None) => crate::common::text::short_commit(c).to_string(),
                        _ => String::new(),
                    },
                    verification: verification.iter().map(verdict_line).collect(),
                });
            }
        }
        if args.output.is_json() {
            print_json(&HistoryJson {
                schema: SCHEMA,
                branch: config.git.remote.branch.clone(),
                commits: records.len(),
                moves: json,
            })?;
            return Ok(ExitCode::SUCCESS);
        }
        if rows.is_empty() {
            let filtered = args.environment.is_some() || args.image.is_some();
            println!(
                "no moves recorded{} in the last {} commits of {}",
                if filtered { " for that filter" } else { "" },
                records.len(),
                config.git.remote.branch
            );
            return Ok(ExitCode::SUCCESS);
        }
        rows.sort_by(|a, b| b.when.cmp(&a.when));
        print_table(&rows);
        Ok(ExitCode::SUCCESS)
    })
}

/// The notes under refs/notes/baton (the remote's fetched first); none when they cannot be
/// read, which is said on stderr.
async fn read_notes(
    config: &Config,
    workspace: &crate::git::Workspace,
) -> std::collections::BTreeMap<String, String> {
    let author = crate::git::NoteAuthor {
        name: &config.git.author_name,
        email: &config.git.author_email,
    };
    if let Err(err) = workspace.fetch_notes(author).await {
        eprintln!(
            "baton history: cannot fetch the verification notes ({err}): showing the clone's own"
        );
    }
    workspace.read_notes().await.unwrap_or_else(|err| {
        eprintln!("baton history: cannot read the verification notes: {err}");
        Default::default()
    })
}

/// `verified 2026-11-27 10:05:00: every check passed` and the like.
fn verdict_line(r: &crate::verification::Record) -> String {
    use crate::verification::Verdict;
    let when = r
        .time()
        .map(|t| utc(t.as_second()))
        .unwrap_or_else(|| r.at.clone());
    let what = match r.verdict {
        Verdict::Passed => "verified",
        Verdict::Failed => "verification failed",
        Verdict::RolledBack => "rolled back",
    };
    match r.failing() {
        Some(failing) => format!("{what} {when}: {failing}"),
        None => format!("{what} {when}: every check passed"),
    }
}

/// `YYYY-MM-DD HH:MM:SS` in UTC.
fn utc(seconds: i64) -> String {
    jiff::Timestamp::from_second(seconds)
        .map(|t| t.strftime("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_default()
}

fn print_table(rows: &[Row]) {
    let header = Row {
        when: "WHEN (UTC)".into(),
        environment: "ENVIRONMENT".into(),
        image: "IMAGE".into(),
        change: "FROM -> TO".into(),
        policy: "POLICY".into(),
        commit: "COMMIT".into(),
        verification: Vec::new(),
        merged: if rows.iter().any(|r| !r.merged.is_empty()) {
            "REVIEW".into()
        } else {
            String::new()
        },
        rules: if rows.iter().any(|r| !r.rules.is_empty()) {
            "RULES".into()
        } else {
            String::new()
        },
    };
    let width = |f: fn(&Row) -> &str| {
        rows.iter()
            .chain(std::iter::once(&header))
            .map(|r| f(r).chars().count())
            .max()
            .unwrap_or(0)
    };
    let w = [
        width(|r| &r.when),
        width(|r| &r.environment),
        width(|r| &r.image),
        width(|r| &r.change),
        width(|r| &r.policy),
        width(|r| &r.commit),
        width(|r| &r.rules),
    ];
    let with_rules = !header.rules.is_empty();
    for row in std::iter::once(&header).chain(rows) {
        let rules = if with_rules {
            format!("{:<w6$}  ", row.rules, w6 = w[6])
        } else {
            String::new()
        };
        let line = format!(
            "{:<w0$}  {:<w1$}  {:<w2$}  {:<w3$}  {:<w4$}  {:<w5$}  {rules}{}",
            row.when,
            row.environment,
            row.image,
            row.change,
            row.policy,
            row.commit,
            row.merged,
            w0 = w[0],
            w1 = w[1],
            w2 = w[2],
            w3 = w[3],
            w4 = w[4],
            w5 = w[5],
        );
        println!("{}", line.trim_end());
        for verdict in &row.verification {
            println!("  {verdict}");
        }
    }
}
