//! Builds a typed [`Config`] from the merged file and environment: each section is read by the
//! module that owns its type, and every problem found is returned at once.

use std::collections::BTreeMap;
use std::path::Path;

use figment::{Figment, Profile};

use super::*;
use crate::common::settings::{ConfigError, Location, Reader, SpanIndex};
use crate::markers::MarkersConfig;

/// Reads the whole configuration from `data`, the merged values (`figment` tells where each
/// tagged one came from); returns every problem found.
pub(super) fn build(
    file: &Path,
    base_dir: &Path,
    figment: &Figment,
    data: crate::common::settings::Data,
    index: &SpanIndex,
    second: Option<(&str, &SpanIndex)>,
) -> Result<Config, Vec<ConfigError>> {
    let data = match data {
        Ok(data) => data,
        Err(err) => {
            return Err(vec![ConfigError {
                location: Location::Whole(file.to_path_buf()),
                key: String::new(),
                message: format!("cannot merge configuration sources: {err}"),
            }]);
        }
    };
    let root = data.get(&Profile::Default);
    let reader = Reader::new(file, base_dir, figment, index, ENV_PREFIX).with_second(second);
    let top = reader.root(root);

    let daemon = DaemonConfig::read(top.section("daemon"));
    let repositories = repositories::read(&top);
    let repository_names = match &repositories {
        Some(r) => r.keys().cloned().collect(),
        None if top.has("repositories") => top.names("repositories"),
        None => [DEFAULT_REPOSITORY.to_string()].into(),
    };
    let markers = MarkersConfig::read(top.section("markers"));
    let registries = top
        .named_tables("registries")
        .into_iter()
        .map(|(host, table)| (host, RegistryConfig::read(table)))
        .collect::<BTreeMap<_, _>>();
    let images = top
        .named_tables("images")
        .into_iter()
        .filter_map(|(name, table)| ImageConfig::read(table).map(|image| (name, image)))
        .collect::<BTreeMap<_, _>>();
    let image_names = top.names("images");
    let policies = top
        .named_tables("policies")
        .into_iter()
        .filter_map(|(name, table)| {
            PolicyConfig::read(&name, table, &images, &image_names).map(|p| (name, p))
        })
        .collect::<BTreeMap<_, _>>();
    let environments = environments::read_environments(&top, &repository_names);
    // With rules in a repository, the host's groups may name the rules' images: they are
    // checked once the rules are merged (`second`).
    let rules_pending = second.is_none()
        && repositories
            .as_ref()
            .is_some_and(|r| r.values().any(|r| r.rules.is_some()));
    let groups = groups::read_groups(&top, (!rules_pending).then_some(&image_names), &image_names);
    // `None` when absent, `Some(None)` when present but invalid.
    let forge = top.table("forge").map(ForgeConfig::read);
    if let (Some(Some(forge)), Some(repositories)) = (&forge, &repositories)
        && repositories.len() > 1
    {
        check_review_repositories(&top, forge, repositories, &environments);
    }
    let notifications = top
        .named_tables("notifications")
        .into_iter()
        .filter_map(|(name, table)| NotificationConfig::read(table).map(|n| (name, n)))
        .collect::<BTreeMap<_, _>>();
    // With rules in a repository, hooks may name the images those rules define.
    let any_rules = repositories
        .as_ref()
        .is_some_and(|r| r.values().any(|r| r.rules.is_some()));
    let hook_images = (!any_rules).then_some(&image_names);
    let webhooks = top
        .named_tables("webhooks")
        .into_iter()
        .filter_map(|(name, table)| {
            WebhookConfig::read(&name, table, hook_images).map(|w| (name, w))
        })
        .collect::<BTreeMap<_, _>>();
    top.finish();

    if reader.is_clean()
        && let (Some(daemon), Some(repositories)) = (daemon, repositories)
        && let Some((repository, first)) = repositories.iter().next()
    {
        let (repository, git, rules) = (repository.clone(), first.git.clone(), first.rules.clone());
        return Ok(Config {
            source: file.to_path_buf(),
            daemon,
            git,
            repository,
            repositories: std::sync::Arc::new(repositories),
            markers,
            registries,
            images: std::sync::Arc::new(images),
            policies: std::sync::Arc::new(policies),
            environments,
            sources: BTreeMap::new(),
            groups,
            forge: forge.flatten(),
            notifications,
            webhooks,
            rules,
        });
    }
    let mut errors = reader.into_errors();
    if errors.is_empty() {
        errors.push(ConfigError {
            location: Location::Whole(file.to_path_buf()),
            key: String::new(),
            message: "the configuration is incomplete".to_string(),
        });
    }
    Err(errors)
}

/// `[forge]` names one repository on the forge: with several repositories, a review-mode
/// environment of another one would push its branch where that forge repository's pull
/// requests cannot name it.
fn check_review_repositories(
    top: &crate::common::settings::Table,
    forge: &ForgeConfig,
    repositories: &BTreeMap<String, RepositoryConfig>,
    environments: &BTreeMap<String, EnvironmentConfig>,
) {
    for (name, env) in environments {
        let Some(repository) = repositories.get(&env.repository) else {
            continue;
        };
        if env.mode == Mode::Review && !forge.serves(&repository.git.remote.url) {
            top.error_at(
                &["environments".to_string(), name.clone(), "mode".to_string()],
                format!(
                    "review mode opens pull requests on the forge repository {repo:?}, and the url of repository {:?} does not end with {repo:?}: [forge] serves one repository; use mode = \"push\" for {name}, or run repository {:?} in its own instance (baton@.service) with its own [forge]",
                    env.repository,
                    env.repository,
                    repo = forge.repository,
                ),
            );
        }
    }
}
