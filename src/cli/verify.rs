//! `baton verify --range A..B`: the environments' gates applied to commits people made, for
//! CI or a pre-receive hook; exits 1 when a move breaks one.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};

use crate::config::{Config, RulesFiles, RulesSource};
use crate::git::range::RangeReader;
use crate::pass::range::{RangeReport, judge};

use super::ConfigArg;
use super::output::{OutputArg, SCHEMA, print_json};
use crate::common::text::short_commit;

/// Arguments of `baton verify`.
#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// The commits to check, `OLD..NEW` (a pre-receive hook's old and new ids; an old id of
    /// zeros, a new branch, checks the commits no existing branch has).
    #[arg(long, value_name = "A..B")]
    pub range: String,
    /// The repository: a checkout or a bare repository [default: the current directory].
    #[arg(long, value_name = "PATH", default_value = ".")]
    pub repo: PathBuf,
    /// Refuse ranges of more commits than this.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u32).range(1..))]
    pub limit: u32,
    #[command(flatten)]
    pub config: ConfigArg,
    #[command(flatten)]
    pub output: OutputArg,
}

/// `verify --json`.
#[derive(Debug, serde::Serialize)]
struct VerifyJson<'a> {
    schema: u32,
    /// The range as given.
    range: &'a str,
    #[serde(flatten)]
    report: &'a RangeReport,
}

/// Splits `A..B`; `A` of zeros (or empty) means a new branch.
fn split_range(range: &str) -> anyhow::Result<(Option<&str>, &str)> {
    if range.contains("...") {
        bail!("--range {range:?}: write OLD..NEW (two dots), not a symmetric difference");
    }
    let Some((from, to)) = range.split_once("..") else {
        bail!("--range {range:?}: write OLD..NEW, e.g. origin/main..HEAD");
    };
    if to.is_empty() {
        bail!("--range {range:?}: name the new commit after the two dots");
    }
    let new_branch = from.is_empty() || (from.len() >= 40 && from.bytes().all(|b| b == b'0'));
    Ok((if new_branch { None } else { Some(from) }, to))
}

/// Runs `baton verify`.
pub fn run(args: &VerifyArgs) -> anyhow::Result<ExitCode> {
    let path = args.config.path();
    let config = Config::load(&path).map_err(|e| anyhow::anyhow!("{e}"))?;
    // With several repositories, the range is in one of them: only its environments apply.
    let mut config = super::pass::narrow(config, args.config.repository.as_deref())?;
    let reader = RangeReader::new(&args.repo);
    let (from, to) = split_range(&args.range)?;
    let to = reader
        .resolve(to)
        .map_err(|e| anyhow::anyhow!("--range: {e}"))?;
    let from = match from {
        Some(f) => Some(
            reader
                .resolve(f)
                .map_err(|e| anyhow::anyhow!("--range: {e}"))?,
        ),
        None => None,
    };
    let ids = reader
        .commits(from.as_deref(), &to, args.limit as usize)
        .map_err(|e| anyhow::anyhow!("--range {}: {e}", args.range))?;
    let mut notes = Vec::new();
    // With rules in the repository, the rules at the range's end apply.
    if let Some(rules) = config.rules.clone() {
        match &rules.source {
            RulesSource::File(file) => {
                let bytes = reader
                    .file(&to, file)
                    .map_err(|e| anyhow::anyhow!(e))?
                    .with_context(|| {
                        format!("the rules file {} is not at {to}", file.display())
                    })?;
                let files = RulesFiles {
                    commit: Some(short_commit(&to).to_string()),
                    files: vec![(file.clone(), bytes.into_bytes())],
                };
                config = config
                    .with_rules(&files)
                    .map_err(|e| anyhow::anyhow!("{e}"))?
                    .config;
            }
            RulesSource::Flux(_) => notes.push(
                "the rules are Flux's objects in the repository: only the host configuration's environments are checked".to_string(),
            ),
        }
    }
    let mut report = judge(&config, &reader, &ids).map_err(|e| anyhow::anyhow!(e))?;
    report.notes.extend(notes);
    if args.output.is_json() {
        print_json(&VerifyJson {
            schema: SCHEMA,
            range: &args.range,
            report: &report,
        })?;
    } else {
        println!(
            "baton verify {}: {} commit{}, {} move{} in gated environments, {} violation{}",
            args.range,
            report.commits,
            if report.commits == 1 { "" } else { "s" },
            report.moves,
            if report.moves == 1 { "" } else { "s" },
            report.violations.len(),
            if report.violations.len() == 1 {
                ""
            } else {
                "s"
            },
        );
        for v in &report.violations {
            println!("  {v}");
        }
        for e in &report.exempt {
            println!(
                "  promoted by hand: {} (Baton-Promoted-By: {})",
                short_commit(&e.commit),
                e.promoted_by
            );
        }
        for note in &report.notes {
            println!("  note: {note}");
        }
    }
    Ok(if report.violations.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

#[cfg(test)]
mod tests {
    use super::split_range;

    #[test]
    fn ranges_are_two_revisions() {
        assert_eq!(split_range("a..b").unwrap(), (Some("a"), "b"));
        assert_eq!(
            split_range(&format!("{}..b", "0".repeat(40))).unwrap(),
            (None, "b")
        );
        assert!(split_range("a...b").is_err());
        assert!(split_range("a").is_err());
        assert!(split_range("a..").is_err());
    }
}
