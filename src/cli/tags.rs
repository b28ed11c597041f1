//! `baton tags`: list an image's tags and show what each of its policies would choose.

use std::process::ExitCode;

use anyhow::{Context, bail};

use crate::common::time::{format_duration, rfc3339_seconds};
use crate::config::Config;
use crate::eligibility::{AgeSource, Follow, MAX_NEW_JUDGEMENTS, Store, Verdict};
use crate::pass::{Walk, judge_scan};
use crate::policy::Policy;
use crate::reference::ImageName;
use crate::registry::{Registries, RegistryClient};
use crate::signature::Verdict as SignatureVerdict;

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
    /// With `min_age`: the age of the best-ranked tags and when young ones become eligible.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    ages: Vec<AgeJson>,
    /// With `follow`: which sibling has the moving tag's digest, or why none.
    #[serde(skip_serializing_if = "Option::is_none")]
    follow: Option<String>,
}

/// A ranked tag's age.
#[derive(Debug, serde::Serialize)]
struct AgeJson {
    tag: String,
    /// Seconds since `created` (or first seen); `null` when not judged yet.
    age_seconds: Option<u64>,
    /// `created` or `first_seen`.
    from: Option<&'static str>,
    /// When it is old enough (RFC 3339).
    eligible_at: Option<String>,
    /// True when it is a candidate now.
    eligible: bool,
    /// Why not, when it is not.
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    /// With `signature`: `signed`, `unsigned` or `bad signature` (absent when not judged).
    #[serde(skip_serializing_if = "Option::is_none")]
    signature: Option<&'static str>,
    /// With `signature`: the key that signed (`sha256:` fingerprint), or why the signature
    /// is bad.
    #[serde(skip_serializing_if = "Option::is_none")]
    signature_detail: Option<String>,
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
    let now = super::pass::now_override()?.unwrap_or_else(jiff::Timestamp::now);
    let judged = match config.images.get(&args.image) {
        Some(image)
            if image.min_age.is_some()
                || image.signature.is_some()
                || config
                    .policies_for_image(&args.image)
                    .any(|(_, p)| p.follow.is_some()) =>
        {
            super::pass::create_state_dir(&config)?;
            let store = Store::open(&config.daemon.state_dir);
            let mut scan = crate::pass::ImageScan {
                image: args.image.clone(),
                registry: image_name.registry.clone(),
                tags: Some(list.tags.clone()),
                dropped_invalid: 0,
                requests: 0,
                error: None,
                error_kind: None,
                judged: None,
            };
            let policies = crate::pass::policies_of(&config, &args.image);
            let walk = Walk::First(if args.limit == 0 {
                MAX_NEW_JUDGEMENTS
            } else {
                args.limit
            });
            let judging = format!("judging the tags of {image_name}");
            runtime.block_on(super::terminal::during(
                &judging,
                judge_scan(image, &policies, &mut scan, &client, &store, now, walk),
            ));
            scan.judged
        }
        _ => None,
    };
    let ages_of = |policy: &Policy| -> Vec<AgeJson> {
        let Some(judged) = &judged else {
            return Vec::new();
        };
        policy
            .rank(&list.tags)
            .into_iter()
            .filter_map(|tag| {
                let verdict = judged.verdicts.get(&tag)?;
                let hold = verdict.hold(now);
                let (age, signature) = match verdict {
                    Verdict::Judged { age, signature } => (age.clone(), signature.clone()),
                    Verdict::Unjudged { .. } => (None, None),
                };
                Some(AgeJson {
                    age_seconds: age.as_ref().map(|a| a.at(now).as_secs()),
                    from: age.as_ref().map(|a| match a.source {
                        AgeSource::Created => "created",
                        AgeSource::FirstSeen => "first_seen",
                    }),
                    eligible_at: age.as_ref().map(|a| rfc3339_seconds(a.eligible_at)),
                    eligible: hold.is_none(),
                    reason: hold.map(|h| h.reason),
                    signature: signature.as_ref().map(|v| v.word()),
                    signature_detail: signature.and_then(|v| match v {
                        SignatureVerdict::Signed { key, .. } => Some(key),
                        SignatureVerdict::BadSignature { detail } => Some(detail),
                        SignatureVerdict::Unsigned => None,
                    }),
                    tag,
                })
            })
            .collect()
    };
    let follow_of = |name: &str| -> Option<String> {
        judged.as_ref()?.follows.get(name).map(|f| match f {
            Follow::Found {
                moving,
                tag,
                digest,
            } => format!("{tag} has the digest of {moving} ({digest})"),
            Follow::Failed(why) => why.clone(),
        })
    };
    let choose_for = |policy: &Policy| -> String {
        match &judged {
            Some(j) => {
                crate::pass::choose(&config, &policy.name, &list.tags, Some(j), now).reason()
            }
            None => policy.choose(&list.tags).to_string(),
        }
    };
    let chosen_for = |policy: &Policy| -> Option<String> {
        match &judged {
            Some(j) => crate::pass::choose(&config, &policy.name, &list.tags, Some(j), now)
                .chosen()
                .map(str::to_string),
            None => policy.choose(&list.tags).chosen,
        }
    };

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
                    chosen: chosen_for(policy),
                    reason: choose_for(policy),
                    ranked: policy.rank(&list.tags),
                    skipped,
                    ages: ages_of(policy),
                    follow: follow_of(&policy.name),
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
        let chosen = chosen_for(policy);
        println!(
            "\npolicy {} ({}): {}",
            policy.name,
            policy.describe(),
            choose_for(policy)
        );
        let ranked = policy.rank(&list.tags);
        let ages: std::collections::BTreeMap<String, AgeJson> = ages_of(policy)
            .into_iter()
            .map(|a| (a.tag.clone(), a))
            .collect();
        print_limited(&ranked, limit, |t| {
            let mut line = format!("  {t}");
            if let Some(age) = ages.get(t) {
                if let Some(secs) = age.age_seconds {
                    let shown = if secs < 60 { secs } else { secs - secs % 60 };
                    line.push_str(&format!(
                        "  age {}",
                        format_duration(std::time::Duration::from_secs(shown.max(1)))
                    ));
                }
                if let Some(reason) = &age.reason {
                    line.push_str(&format!("  ({reason})"));
                } else if let Some(word) = age.signature {
                    line.push_str(&format!("  {word}"));
                }
            }
            if Some(t) == chosen.as_ref() {
                line.push_str("  <- chosen");
            }
            line
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
