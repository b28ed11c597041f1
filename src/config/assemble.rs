//! Builds a typed [`Config`] from the merged file and environment: each section is read by the
//! module that owns its type, and every problem found is returned at once.

use std::collections::BTreeMap;
use std::path::Path;

use figment::{Figment, Profile, Provider};

use super::*;
use crate::common::settings::{ConfigError, Location, Reader, SpanIndex};
use crate::git::GitConfig;
use crate::markers::MarkersConfig;

/// Reads the whole configuration; returns every problem found.
pub(super) fn build(
    file: &Path,
    base_dir: &Path,
    figment: &Figment,
    index: &SpanIndex,
    second: Option<(&str, &SpanIndex)>,
) -> Result<Config, Vec<ConfigError>> {
    let data = match figment.data() {
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
    let git_table = top.section("git");
    let rules = rules::read_host_part(&git_table, top.table("rules"));
    let git = GitConfig::read(git_table);
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
    let environments = environments::read_environments(&top);
    // `None` when absent, `Some(None)` when present but invalid.
    let forge = top.table("forge").map(ForgeConfig::read);
    let notifications = top
        .named_tables("notifications")
        .into_iter()
        .filter_map(|(name, table)| NotificationConfig::read(table).map(|n| (name, n)))
        .collect::<BTreeMap<_, _>>();
    let webhooks = top
        .named_tables("webhooks")
        .into_iter()
        .filter_map(|(name, table)| {
            WebhookConfig::read(&name, table, &image_names).map(|w| (name, w))
        })
        .collect::<BTreeMap<_, _>>();
    if !top.has("git") {
        top.missing("git", "add a [git] section with at least url = \"...\"");
    }
    top.finish();

    if reader.is_clean()
        && let (Some(daemon), Some(git)) = (daemon, git)
    {
        return Ok(Config {
            source: file.to_path_buf(),
            daemon,
            git,
            markers,
            registries,
            images,
            policies,
            environments,
            forge: forge.flatten(),
            notifications,
            webhooks,
            rules: rules.flatten(),
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
