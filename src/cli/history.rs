//! `baton history`: what moved, when, from what to what, why, and by which commit.

use std::process::ExitCode;

use anyhow::Context;

use crate::git::{HistoryQuery, parse_moves};

use super::ConfigArg;

/// Arguments of `baton history`.
#[derive(Debug, clap::Args)]
pub struct HistoryArgs {
    /// Only moves in this environment.
    #[arg(long = "env", value_name = "NAME")]
    pub environment: Option<String>,
    /// Only moves of this image (a policy name, an [images] name or a repository).
    #[arg(long, value_name = "NAME")]
    pub image: Option<String>,
    /// Look at most this many commits back.
    #[arg(long, default_value_t = 1000)]
    pub limit: usize,
    #[command(flatten)]
    pub config: ConfigArg,
}

/// Fetches the branch and prints the moves recorded in its commit trailers, newest first.
pub fn run(args: &HistoryArgs) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        let (config, _, workspace) = super::pass::prepare(&args.config).await?;
        workspace.sync().await.context("cannot fetch the branch")?;
        let image_repository = args.image.as_ref().map(|name| {
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
                .unwrap_or_else(|| name.clone())
        });
        let records = workspace
            .history(&HistoryQuery {
                paths: Vec::new(),
                limit: Some(args.limit),
            })
            .context("cannot read the history")?;
        let mut shown = 0;
        println!(
            "{:<20}  {:<12}  {:<24}  {:<28}  {:<30}  commit",
            "when (UTC)", "environment", "image", "move", "policy"
        );
        for record in &records {
            for m in parse_moves(record) {
                if args
                    .environment
                    .as_ref()
                    .is_some_and(|e| *e != m.environment)
                {
                    continue;
                }
                if let (Some(filter), Some(repo)) = (&args.image, &image_repository)
                    && m.image != *repo
                    && m.image != *filter
                    && m.policy != *filter
                {
                    continue;
                }
                let when = jiff::Timestamp::from_second(record.time)
                    .map(|t| t.strftime("%Y-%m-%d %H:%M").to_string())
                    .unwrap_or_default();
                let id = record.id.to_string();
                println!(
                    "{when:<20}  {:<12}  {:<24}  {:<28}  {:<30}  {} {}",
                    m.environment,
                    m.image,
                    format!("{} -> {}", m.from, m.to),
                    match &m.rule {
                        Some(rule) => format!("{} ({rule})", m.policy),
                        None => m.policy.clone(),
                    },
                    &id[..12.min(id.len())],
                    record.author.name,
                );
                shown += 1;
            }
        }
        if shown == 0 {
            println!(
                "no moves recorded{}",
                match (&args.environment, &args.image) {
                    (None, None) => String::new(),
                    _ => " for that filter".to_string(),
                }
            );
        }
        Ok(ExitCode::SUCCESS)
    })
}
