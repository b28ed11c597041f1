//! `baton promote`: a person's explicit move of one image in one environment, made the way the
//! environment's mode says (a commit, or a review branch and pull request) and recorded with
//! `Baton-Promoted-By`. No gate holds it; the next automatic pass does not undo it (see
//! [`crate::promotion::check_manual`]).

use std::collections::{BTreeMap, BTreeSet};

use jiff::Timestamp;

use crate::config::{Config, DigestPinning};
use crate::git::message::MessageTemplate;
use crate::git::{GitError, Workspace};
use crate::markers::Part;
use crate::promotion::{self, SourceVersion};
use crate::registry::Registries;

use super::gates::Manual;
use super::{Context, EnvironmentReport, Selection, environment_pass, scan_paths};

/// What a person asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromoteRequest {
    /// An `[images]` name, or a policy name standing for its image.
    pub image: String,
    /// The environment to move.
    pub environment: String,
    /// The version; without it, the version the environment's `promote_from` source holds,
    /// else the environment's policy choice from the registry.
    pub version: Option<String>,
    /// Who asks (`Baton-Promoted-By`).
    pub by: String,
    /// Compute everything, write and push nothing.
    pub dry_run: bool,
    /// Skip the check that the registry has the version (and its digest, for pinned
    /// markers): for a registry that cannot list tags, or a tag pushed a moment later.
    pub force: bool,
    /// The time recorded as the check time; the system clock when `None`.
    pub now: Option<Timestamp>,
}

/// Why a promotion cannot be made.
#[derive(Debug, thiserror::Error)]
pub enum PromoteError {
    /// No such environment.
    #[error("no environment {name:?} in the configuration: known environments are {known}")]
    UnknownEnvironment {
        /// The name given.
        name: String,
        /// The configured names.
        known: String,
    },
    /// No such image or policy.
    #[error("no image or policy {name:?} in the configuration: known images are {known}")]
    UnknownImage {
        /// The name given.
        name: String,
        /// The configured image names.
        known: String,
    },
    /// The clone could not be brought up to date.
    #[error("cannot sync with the git remote: {0}")]
    Sync(#[source] GitError),
    /// The environment has no marker for the image.
    #[error(
        "environment {environment} has no marker for image {image} in {paths}: nothing to promote"
    )]
    NoMarker {
        /// The environment.
        environment: String,
        /// The image.
        image: String,
        /// Its paths.
        paths: String,
    },
    /// No version was given and none could be found.
    #[error("no version to promote {image} to in {environment}: {why}; give one with --version")]
    NoVersion {
        /// The environment.
        environment: String,
        /// The image.
        image: String,
        /// Why the default could not be found.
        why: String,
    },
    /// The version does not satisfy the environment's policy.
    #[error(
        "{version} does not satisfy policy {policy} ({rule}) of {environment}: {reason}; choose a version the policy accepts, or change policies.{policy} (--force does not override a policy)"
    )]
    Refused {
        /// The version asked for.
        version: String,
        /// The policy.
        policy: String,
        /// Its rule.
        rule: String,
        /// The environment.
        environment: String,
        /// Why the policy refuses it.
        reason: String,
    },
    /// The registry does not list the version.
    #[error(
        "{version} is not a tag of {repository}: the registry lists {count} tag{plural}{hint}; push the image first, or pass --force to write it anyway"
    )]
    NotInRegistry {
        /// The version asked for.
        version: String,
        /// The image repository.
        repository: String,
        /// How many tags the registry lists.
        count: usize,
        /// "s" or "".
        plural: &'static str,
        /// What the policy would choose instead, in words.
        hint: String,
    },
    /// The registry could not be asked.
    #[error(
        "cannot check that {version} is a tag of {repository}: {why}; try again, or pass --force to write it unchecked"
    )]
    RegistryUnreachable {
        /// The version asked for.
        version: String,
        /// The image repository.
        repository: String,
        /// Why.
        why: String,
    },
    /// A marker pins digests and the version's digest cannot be read.
    #[error(
        "markers of {policy} pin digests, but the digest of {repository}:{version} cannot be read: {why}; push the image first, or pass --force (pinned markers then keep their value)"
    )]
    NoDigest {
        /// The version asked for.
        version: String,
        /// The image repository.
        repository: String,
        /// The pinning policy.
        policy: String,
        /// Why.
        why: String,
    },
    /// Scanning the markers failed.
    #[error("{0}")]
    Scan(String),
    /// The commit template does not parse.
    #[error("git.commit_template: {0}")]
    Template(String),
}

/// Checks the names in `request` against the configuration (before any lock, fetch or
/// registry request) and returns the `[images]` name it moves.
pub fn check_request(config: &Config, request: &PromoteRequest) -> Result<String, PromoteError> {
    config
        .environments
        .get(&request.environment)
        .ok_or_else(|| PromoteError::UnknownEnvironment {
            name: request.environment.clone(),
            known: config
                .environments
                .keys()
                .cloned()
                .collect::<Vec<_>>()
                .join(", "),
        })?;
    if config.images.contains_key(&request.image) {
        Ok(request.image.clone())
    } else if let Some(policy) = config.policies.get(&request.image) {
        Ok(policy.image.clone())
    } else {
        Err(PromoteError::UnknownImage {
            name: request.image.clone(),
            known: config.images.keys().cloned().collect::<Vec<_>>().join(", "),
        })
    }
}

/// Makes a person's move: checks the request, then runs the environment's part of a pass
/// with the version fixed and every gate skipped.
pub async fn promote(
    config: &Config,
    registries: &Registries,
    workspace: &Workspace,
    request: &PromoteRequest,
) -> Result<EnvironmentReport, PromoteError> {
    // Rules in the repository name the images and environments: read them first.
    let (effective, rules) = super::with_rules(config, workspace)
        .await
        .map_err(PromoteError::Sync)?;
    let config: &Config = &effective;
    let image = check_request(config, request)?;
    let env = &config.environments[&request.environment];
    let template = match &config.git.commit_template {
        Some(text) => Some(
            MessageTemplate::new(text.clone())
                .map_err(|e| PromoteError::Template(e.to_string()))?,
        ),
        None => None,
    };
    workspace.limit_work_tree(super::work_tree_for(config));
    workspace.sync().await.map_err(PromoteError::Sync)?;
    let policies: BTreeSet<String> = config
        .policies_for_image(&image)
        .map(|(n, _)| n.clone())
        .collect();
    let selections: BTreeMap<String, Selection> = policies
        .iter()
        .map(|p| {
            let policy = &config.policies[p];
            (
                p.clone(),
                Selection {
                    policy: p.clone(),
                    image: image.clone(),
                    repository: config.images[&image].repository_text.clone(),
                    rule: policy.policy.describe(),
                    decision: None,
                    error: None,
                    held: Vec::new(),
                    follow: None,
                },
            )
        })
        .collect();
    let cx = Context {
        rules_commit: rules.and_then(|r| r.applied),
        sources: super::open_sources(config).await,
        ..Context::new(
            config,
            registries,
            workspace,
            &selections,
            template,
            request.dry_run,
            request.now,
        )
    };
    let scan = scan_paths(&cx, env.paths.clone())
        .await
        .map_err(PromoteError::Scan)?;
    let used: BTreeSet<String> = scan
        .files
        .iter()
        .flat_map(|f| &f.markers)
        .filter(|m| policies.contains(&m.policy))
        .map(|m| m.policy.clone())
        .collect();
    if used.is_empty() {
        return Err(PromoteError::NoMarker {
            environment: request.environment.clone(),
            image,
            paths: env
                .paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
        });
    }
    let no_version = |why: String| PromoteError::NoVersion {
        environment: request.environment.clone(),
        image: image.clone(),
        why,
    };
    let version = match (&request.version, &env.promote_from) {
        (Some(version), _) => version.clone(),
        (None, Some(source)) => {
            let paths = config
                .environment_or_source(source)
                .map(|e| e.paths.clone())
                .unwrap_or_default();
            let source_ws = cx.workspace_of(source).map_err(PromoteError::Scan)?;
            let source_scan = super::scan_paths_in(&cx, source_ws, paths)
                .await
                .map_err(PromoteError::Scan)?;
            let held = promotion::source_version(
                source_scan
                    .files
                    .iter()
                    .flat_map(|f| &f.markers)
                    .filter(|m| policies.contains(&m.policy)),
            );
            match held {
                SourceVersion::One(v) => v,
                SourceVersion::Absent => {
                    return Err(no_version(format!("{source} has no marker for it")));
                }
                SourceVersion::Several(vs) => {
                    return Err(no_version(format!(
                        "{source} holds several versions ({})",
                        vs.join(", ")
                    )));
                }
            }
        }
        (None, None) => registry_choice(config, registries, &image, &used)
            .await
            .map_err(no_version)?,
    };
    for policy_name in &used {
        let policy = &config.policies[policy_name].policy;
        if let Some(reason) = policy.skip_reason(&version) {
            return Err(PromoteError::Refused {
                version,
                policy: policy_name.clone(),
                rule: policy.describe(),
                environment: request.environment.clone(),
                reason: reason.to_string(),
            });
        }
    }
    if !request.force {
        let pinned: BTreeSet<String> = scan
            .files
            .iter()
            .flat_map(|f| &f.markers)
            .filter(|m| used.contains(&m.policy) && m.hold.is_none() && pins_digest(config, m))
            .map(|m| m.policy.clone())
            .collect();
        check_in_registry(config, registries, &image, &version, &used, &pinned).await?;
    }
    let manual = Manual {
        image,
        version,
        by: request.by.clone(),
    };
    tracing::info!(environment = %request.environment, image = %manual.image, version = %manual.version, by = %manual.by, "manual promotion");
    Ok(environment_pass(&cx, &request.environment, env, Some(&manual)).await)
}

/// What the environment's policies choose from the registry now; they must agree.
async fn registry_choice(
    config: &Config,
    registries: &Registries,
    image: &str,
    policies: &BTreeSet<String>,
) -> Result<String, String> {
    let repository = &config.images[image].repository;
    let client = registries
        .for_image(repository)
        .map_err(|e| e.to_string())?;
    let tags = client
        .list_tags(&repository.repository)
        .await
        .map_err(|e| format!("cannot list its tags: {e}"))?
        .tags;
    let chosen: BTreeSet<String> = policies
        .iter()
        .filter_map(|p| config.policies[p].policy.choose(&tags).chosen)
        .collect();
    match chosen.len() {
        1 => Ok(chosen.into_iter().next().unwrap_or_default()),
        0 => Err("its policies choose no tag from the registry".to_string()),
        _ => Err(format!(
            "its policies choose different tags ({})",
            chosen.into_iter().collect::<Vec<_>>().join(", ")
        )),
    }
}

/// Whether `marker` holds (or is to hold) a digest.
fn pins_digest(config: &Config, marker: &crate::markers::Marker) -> bool {
    let pinning = config.policies.get(&marker.policy).map(|p| p.pin_digest);
    let field = marker.field;
    field.digest_only()
        || (field.holds(Part::Digest)
            && matches!(
                pinning,
                Some(DigestPinning::Always | DigestPinning::IfNotPresent)
            ))
}

/// Refuses a version the registry does not list, or whose digest pinned markers need but
/// cannot be read: writing it would leave the environment unable to pull.
async fn check_in_registry(
    config: &Config,
    registries: &Registries,
    image: &str,
    version: &str,
    policies: &BTreeSet<String>,
    pinned: &BTreeSet<String>,
) -> Result<(), PromoteError> {
    let configured = &config.images[image];
    let repository = configured.repository_text.clone();
    let unreachable = |why: String| PromoteError::RegistryUnreachable {
        version: version.to_string(),
        repository: repository.clone(),
        why,
    };
    let client = registries
        .for_image(&configured.repository)
        .map_err(|e| unreachable(e.to_string()))?;
    let tags = client
        .list_tags(&configured.repository.repository)
        .await
        .map_err(|e| unreachable(format!("cannot list its tags: {e}")))?
        .tags;
    if !tags.iter().any(|t| t == version) {
        let chosen: BTreeSet<String> = policies
            .iter()
            .filter_map(|p| config.policies[p].policy.choose(&tags).chosen)
            .collect();
        let hint = match chosen.len() {
            0 => String::new(),
            _ => format!(
                " (the environment's policy would choose {})",
                chosen.into_iter().collect::<Vec<_>>().join(", ")
            ),
        };
        return Err(PromoteError::NotInRegistry {
            version: version.to_string(),
            repository,
            count: tags.len(),
            plural: if tags.len() == 1 { "" } else { "s" },
            hint,
        });
    }
    if let Some(policy) = pinned.iter().next()
        && let Err(err) = client
            .digest(&configured.repository.repository, version)
            .await
    {
        return Err(PromoteError::NoDigest {
            version: version.to_string(),
            repository,
            policy: policy.clone(),
            why: err.to_string(),
        });
    }
    Ok(())
}
