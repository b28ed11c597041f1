//! `baton tags`: list an image's tags and show what each of its policies would choose.

use std::process::ExitCode;

use anyhow::{Context, bail};

use crate::config::Config;
use crate::policy::Policy;
use crate::reference::ImageName;
use crate::registry::{Registries, RegistryClient};

use super::ConfigArg;
use super::output::{OutputArg, SCHEMA, print_json};

/// Arguments of `baton tags`.
#[derive(Debug, clap::Args)]
pub struct TagsArgs {
    /// An `[images]` name from the configuration, or a repository such as ghcr.io/example/app.
    pub image: String,
    /// Show only this policy.
    #[arg(long, value_name = "NAME")]
    pub policy: Option<String>,
    /// Show at most this many tags per list (0 for all).
    #[arg(long, default_value_t = 20)]
    pub limit: usize,
    #[command(flatten)]
    pub config: ConfigArg,
    #[command(flatten)]
    pub output: OutputArg,
}

/// `tags --json`.
#[derive(Debug, serde::Serialize)]
struct TagsJson {
    schema: u32,
    /// The repository listed.
    repository: String,
    /// Every valid tag, sorted.
    tags: Vec<String>,
    /// Invalid tags dropped from the reply.
    dropped_invalid: usize,
    /// Requests the listing took.
    requests: u32,
    /// One entry per policy choosing tags for this image.
    policies: Vec<PolicyTagsJson>,
}

/// One policy's view of the tags.
#[derive(Debug, serde::Serialize)]
struct PolicyTagsJson {
    name: String,
    rule: String,
    chosen: Option<String>,
    reason: String,
    /// Eligible tags, best first.
    ranked: Vec<String>,
    /// Tags the policy does not consider, with why.
    skipped: Vec<SkippedJson>,
}

/// A tag a policy skips.
#[derive(Debug, serde::Serialize)]
struct SkippedJson {
    tag: String,
    reason: String,
}

/// Lists the tags, ranked best-first by each matching policy.
pub fn run(args: &TagsArgs) -> anyhow::Result<ExitCode> {
    let path = args.config.path();
    let config = Config::load(&path).map_err(|errors| anyhow::anyhow!("{errors}"))?;
    let (image_name, repository_text, exclude) = match config.images.get(&args.image) {
        Some(image) => (
            image.repository.clone(),
            image.repository_text.clone(),
            Some(image.exclude.clone()),
        ),
        None => {
            // A bare word close to a configured name is a typo, not a Docker Hub repository.
            let known: Vec<&str> = config.images.keys().map(String::as_str).collect();
            if !args.image.contains(['/', '.', ':'])
                && let Some(close) = crate::common::text::suggest(&args.image, &known)
            {
                bail!(
                    "no [images] name {:?} in {}: did you mean {close:?}? (the names are {}; a repository needs its registry, e.g. ghcr.io/example/{})",
                    args.image,
                    path.display(),
                    known.join(", "),
                    args.image
                );
            }
            let name = ImageName::parse(&args.image).with_context(|| {
                format!(
                    "{:?} is neither an [images] name in {} nor a repository",
                    args.image,
                    path.display()
                )
            })?;
            (name, args.image.clone(), None)
        }
    };
    let mut policies: Vec<&Policy> = config
        .policies
        .iter()
        .filter(|(name, p)| {
            config.images.get(&p.image).map(|i| &i.repository) == Some(&image_name)
                && args.policy.as_ref().is_none_or(|only| only == *name)
        })
        .map(|(_, p)| &p.policy)
        .collect();
    if let Some(only) = &args.policy
        && policies.is_empty()
    {
        match config.policies.get(only) {
            Some(p) => bail!(
                "policy {only:?} chooses tags for image {:?}, not {:?}",
                p.image,
                args.image
            ),
            None => {
                let names: Vec<&str> = config.policies.keys().map(String::as_str).collect();
                let hint = match crate::common::text::suggest(only, &names) {
                    Some(close) => format!("did you mean {close:?}? "),
                    None => String::new(),
                };
                let of_image: Vec<&str> = config
                    .policies
                    .iter()
                    .filter(|(_, p)| {
                        config.images.get(&p.image).map(|i| &i.repository) == Some(&image_name)
                    })
                    .map(|(name, _)| name.as_str())
                    .collect();
                bail!(
                    "no policy {only:?} in {}: {hint}the policies of this image are {}",
                    path.display(),
                    if of_image.is_empty() {
                        "none".to_string()
                    } else {
                        of_image.join(", ")
                    }
                )
            }
        }
    }
    policies.sort_by(|a, b| a.name.cmp(&b.name));

    crate::common::http::install_crypto_provider();
    let registries =
        Registries::from_config(&config.registries).context("cannot read registry credentials")?;
    let client = registries
        .for_image(&image_name)
        .with_context(|| format!("cannot set up a client for {}", image_name.registry))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let list = runtime
        .block_on(list(&client, &image_name))
        .map_err(|err| anyhow::anyhow!("{err}"))?;

    if args.output.is_json() {
        let mut tags = list.tags.clone();
        tags.sort();
        if let Some(exclude) = &exclude
            && policies.is_empty()
        {
            tags.retain(|t| !exclude.iter().any(|re| re.is_match(t)));
        }
        let policies = policies
            .iter()
            .map(|policy| {
                let decision = policy.choose(&list.tags);
                let mut skipped: Vec<SkippedJson> = list
                    .tags
                    .iter()
                    .filter_map(|t| {
                        policy.skip_reason(t).map(|r| SkippedJson {
                            tag: t.clone(),
                            reason: r.to_string(),
                        })
                    })
                    .collect();
                skipped.sort_by(|a, b| a.tag.cmp(&b.tag));
                PolicyTagsJson {
                    name: policy.name.clone(),
                    rule: policy.describe(),
                    chosen: decision.chosen.clone(),
                    reason: decision.to_string(),
                    ranked: policy.rank(&list.tags),
                    skipped,
                }
            })
            .collect();
        print_json(&TagsJson {
            schema: SCHEMA,
            repository: repository_text,
            tags,
            dropped_invalid: list.dropped_invalid,
            requests: list.requests,
            policies,
        })?;
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{repository_text}: {} tags{} in {} request{}",
        list.tags.len(),
        if list.dropped_invalid > 0 {
            format!(" ({} invalid dropped)", list.dropped_invalid)
        } else {
            String::new()
        },
        list.requests,
        if list.requests == 1 { "" } else { "s" },
    );
    let limit = if args.limit == 0 {
        usize::MAX
    } else {
        args.limit
    };
    if policies.is_empty() {
        let mut tags = list.tags.clone();
        tags.sort();
        tags.reverse();
        if let Some(exclude) = exclude {
            tags.retain(|t| !exclude.iter().any(|re| re.is_match(t)));
        }
        println!("no policy chooses for this image; tags in reverse alphabetical order:");
        print_limited(&tags, limit, |t| format!("  {t}"));
        return Ok(ExitCode::SUCCESS);
    }
    for policy in &policies {
        let decision = policy.choose(&list.tags);
        println!(
            "\npolicy {} ({}): {decision}",
            policy.name,
            policy.describe()
        );
        let ranked = policy.rank(&list.tags);
        print_limited(&ranked, limit, |t| {
            if Some(t) == decision.chosen.as_ref() {
                format!("  {t}  <- chosen")
            } else {
                format!("  {t}")
            }
        });
    }
    if let [policy] = policies.as_slice() {
        let mut skipped: Vec<(String, String)> = list
            .tags
            .iter()
            .filter_map(|t| policy.skip_reason(t).map(|r| (t.clone(), r.to_string())))
            .collect();
        skipped.sort();
        if !skipped.is_empty() {
            println!("\nnot eligible under {}:", policy.name);
            print_limited(&skipped, limit, |(t, why)| format!("  {t}  ({why})"));
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn list(
    client: &RegistryClient,
    image: &ImageName,
) -> Result<crate::registry::TagList, crate::registry::RegistryError> {
    let doing = format!("listing the tags of {image}");
    super::terminal::during(&doing, client.list_tags(&image.repository)).await
}

fn print_limited<T>(items: &[T], limit: usize, line: impl Fn(&T) -> String) {
    for item in items.iter().take(limit) {
        println!("{}", line(item));
    }
    if items.len() > limit {
        println!(
            "  ... and {} more (--limit 0 shows all)",
            items.len() - limit
        );
    }
}
