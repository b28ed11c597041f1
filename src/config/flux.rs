//! Flux's image automation objects as Baton's rules: each ImageRepository an image
//! (`NAMESPACE/NAME`), each ImagePolicy a policy (`NAMESPACE:NAME`, what markers write), each
//! ImageUpdateAutomation an environment owning its update path, inside the host's fences.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::rules::{RulesConfig, RulesFiles, WithRules, unconfigured_registry};
use super::{Config, DigestPinning, EnvironmentConfig, ImageConfig, Mode, PolicyConfig};
use crate::common::settings::{self, ConfigError, Location};
use crate::common::time::MIN_INTERVAL;
use crate::flux::{self, DigestReflection, Place, Severity};
use crate::policy::Policy;
use crate::reference::ImageName;

/// The scan deadline when an ImageRepository gives no `timeout`.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// The `[images]` name of an ImageRepository.
pub fn image_key(id: &flux::ObjectRef) -> String {
    format!("{}/{}", id.namespace, id.name)
}

/// Applies the objects in `files` to `host`.
pub(super) fn apply(
    host: &Config,
    rules: &RulesConfig,
    files: &RulesFiles,
) -> Result<WithRules, Vec<ConfigError>> {
    let commit = files.commit.as_deref();
    let at = |place: &Place| {
        Location::File {
            path: place.file.clone(),
            line: place.line,
            column: place.column,
        }
        .at_commit(commit)
    };
    let error = |place: &Place, field: &str, message: String| ConfigError {
        location: at(place),
        key: field.to_string(),
        message,
    };
    let mut errors = Vec::new();
    let mut texts = Vec::new();
    for (path, bytes) in &files.files {
        match String::from_utf8(bytes.clone()) {
            Ok(text) => texts.push((path.clone(), text)),
            Err(_)
                if bytes
                    .windows(flux::API_GROUP.len())
                    .any(|w| w == flux::API_GROUP.as_bytes()) =>
            {
                errors.push(error(
                    &Place {
                        file: path.clone(),
                        line: 1,
                        column: 1,
                    },
                    "",
                    "is not UTF-8 text, so its image automation objects cannot be read".to_string(),
                ))
            }
            Err(_) => {}
        }
    }
    let (objects, problems) = flux::read(&texts);
    let mut notes = Vec::new();
    for problem in problems {
        match problem.severity {
            Severity::Error => errors.push(error(&problem.place, &problem.field, problem.message)),
            Severity::Note => notes.push(format!(
                "{}: note: {}: {}",
                at(&problem.place),
                problem.field,
                problem.message
            )),
        }
    }
    let mut config = host.clone();
    let host_index = settings::parse_toml(&host.source, &rules.host_text).ok();
    let host_place = |path: &[&str]| {
        let path: Vec<String> = path.iter().map(|s| s.to_string()).collect();
        host_index
            .as_ref()
            .map(|i| i.locate(&path).to_string())
            .unwrap_or_else(|| host.source.display().to_string())
    };

    for repo in &objects.repositories {
        let key = image_key(&repo.id);
        let Ok(name) = ImageName::parse(&repo.image) else {
            continue; // reported by the reader
        };
        let registry = host.registry_for(&name);
        if rules.fenced && registry.is_none() {
            errors.push(error(
                &repo.image_place,
                "spec.image",
                unconfigured_registry(&name, &host.source),
            ));
            continue;
        }
        if let (Some(place), Some(registry)) = (&repo.insecure, registry)
            && !registry.insecure
        {
            errors.push(error(
                place,
                "spec.insecure",
                format!(
                    "plain HTTP to {:?} is the host's decision: set insecure = true in [registries.{:?}] of {}",
                    name.registry,
                    name.registry,
                    host.source.display()
                ),
            ));
        }
        if repo.interval < MIN_INTERVAL {
            errors.push(error(
                &repo.interval_place,
                "spec.interval",
                format!(
                    "{} is under Baton's minimum scan interval of {}s: registries are shared services; use 10s or more",
                    humantime::format_duration(repo.interval),
                    MIN_INTERVAL.as_secs()
                ),
            ));
        }
        let exclude = match &repo.exclusion_list {
            Some(list) => list
                .iter()
                .filter_map(|(p, _)| {
                    crate::policy::GoRegex::new(p)
                        .ok()
                        .map(|r| r.regex().clone())
                })
                .collect(),
            None => crate::policy::default_exclude(),
        };
        if config.images.contains_key(&key) {
            errors.push(error(
                &repo.place,
                "metadata.name",
                format!(
                    "image {key:?} is defined both here and at {}: define it in one place",
                    host_place(&["images", &key])
                ),
            ));
            continue;
        }
        std::sync::Arc::make_mut(&mut config.images).insert(
            key,
            ImageConfig {
                repository: name,
                repository_text: repo.image.clone(),
                interval: repo.interval,
                exclude,
                timeout: repo.timeout.unwrap_or(DEFAULT_TIMEOUT),
                // Flux's ImageRepository names no signature keys: images read from Flux
                // objects are not signature-checked.
                signature: None,
                min_age: None,
                platform: None,
            },
        );
    }

    for policy in objects.policies.iter() {
        let key = policy.id.to_string();
        let image = image_key(&policy.repository);
        let Some(image_config) = config.images.get(&image) else {
            continue; // its repository was refused above
        };
        if config.policies.contains_key(&key) {
            errors.push(error(
                &policy.place,
                "metadata.name",
                format!(
                    "policy {key:?} is defined both here and at {}: define it in one place",
                    host_place(&["policies", &key])
                ),
            ));
            continue;
        }
        std::sync::Arc::make_mut(&mut config.policies).insert(
            key.clone(),
            PolicyConfig {
                image,
                policy: Policy {
                    name: key,
                    rule: policy.rule.clone(),
                    filter: policy.filter.clone(),
                    exclude: image_config.exclude.clone(),
                },
                pin_digest: match policy.digest {
                    DigestReflection::Never => DigestPinning::Never,
                    DigestReflection::IfNotPresent => DigestPinning::IfNotPresent,
                    DigestReflection::Always => DigestPinning::Always,
                },
                follow: None,
            },
        );
    }

    let branch = host.git.remote.branch.clone();
    let target = host.git.remote.target_branch().to_string();
    let mut owners: BTreeMap<String, &flux::ImageUpdateAutomation> = BTreeMap::new();
    let mut owned: Vec<(String, PathBuf, Place)> = Vec::new();
    for automation in &objects.automations {
        let name = automation.id.name.clone();
        if let Some(first) = owners.get(&name) {
            errors.push(error(
                &automation.place,
                "metadata.name",
                format!(
                    "ImageUpdateAutomation {} and {} (at {}) would both be environment {name:?}: rename one",
                    automation.id,
                    first.id,
                    at(&first.place)
                ),
            ));
            continue;
        }
        owners.insert(name.clone(), automation);
        // Without a host (`baton check --rules` alone) there is no branch to compare with.
        if let Some((checkout, place)) = &automation.checkout_branch
            && rules.fenced
            && *checkout != branch
        {
            errors.push(error(
                place,
                "spec.git.checkout.ref.branch",
                format!(
                    "{checkout:?} is not the host's branch {branch:?}: Baton works on [git] branch of {}; set it there or change the object",
                    host.source.display()
                ),
            ));
        }
        if let Some((push, place)) = &automation.push_branch
            && rules.fenced
            && *push != target
        {
            errors.push(error(
                place,
                "spec.git.push.branch",
                format!(
                    "{push:?} is not the branch this host pushes to ({target:?}): set [git] push_branch = {push:?} in {} or change the object",
                    host.source.display()
                ),
            ));
        }
        if automation
            .author_email
            .as_deref()
            .is_some_and(|e| *e != host.git.author_email)
            || automation
                .author_name
                .as_deref()
                .is_some_and(|n| *n != host.git.author_name)
        {
            notes.push(format!(
                "{}: note: spec.git.commit.author: commits are authored by the host's [git] author_name and author_email ({} <{}>)",
                at(&automation.place),
                host.git.author_name,
                host.git.author_email
            ));
        }
        if config.environments.contains_key(&name) {
            errors.push(error(
                &automation.place,
                "metadata.name",
                format!(
                    "environment {name:?} is defined both here and at {}: define it in one place",
                    host_place(&["environments", &name])
                ),
            ));
            continue;
        }
        owned.push((
            name.clone(),
            automation.path.clone(),
            automation.path_place.clone(),
        ));
        let policies: BTreeSet<String> = objects
            .policies_of(automation)
            .map(|p| p.id.to_string())
            .filter(|k| config.policies.contains_key(k))
            .collect();
        let mode = if rules.review_required.contains(&name) {
            Mode::Review
        } else {
            Mode::Push
        };
        config.environments.insert(
            name,
            EnvironmentConfig {
                repository: host.repository.clone(),
                paths: vec![automation.path.clone()],
                mode,
                review_branch: "baton/{env}/{image}".to_string(),
                promote_from: None,
                soak: None,
                windows: Vec::new(),
                freeze: Vec::new(),
                policies: Some(policies),
                verify: Default::default(),
                auto_merge: false,
            },
        );
    }
    // Each file belongs to one environment, as with Baton's own environments.
    let host_owned = host_paths(host);
    for (i, (name, path, place)) in owned.iter().enumerate() {
        let clash = owned[..i]
            .iter()
            .chain(host_owned.iter())
            .find(|(other, p, _)| other != name && (p.starts_with(path) || path.starts_with(p)));
        if let Some((other, other_path, _)) = clash {
            errors.push(error(
                place,
                "spec.update.path",
                format!(
                    "{} overlaps {} of environment {other:?}: Baton gives each file to one environment; make the update paths disjoint",
                    shown(path),
                    shown(other_path)
                ),
            ));
        }
    }
    for fenced in &rules.review_required {
        if let Some(env) = config.environments.get(fenced)
            && env.mode != Mode::Review
        {
            errors.push(ConfigError {
                location: host_index
                    .as_ref()
                    .map(|i| i.locate(&["environments".into(), fenced.clone(), "mode".into()]))
                    .unwrap_or_else(|| Location::Whole(host.source.clone())),
                key: format!("environments.{fenced}.mode"),
                message: format!(
                    "{fenced} must stay in review mode: [rules] review_required names it"
                ),
            });
        }
    }
    if !errors.is_empty() {
        super::rules::sort_located(&mut errors);
        return Err(errors);
    }
    Ok(WithRules { config, notes })
}

fn host_paths(host: &Config) -> Vec<(String, PathBuf, Place)> {
    host.environments
        .iter()
        .flat_map(|(name, env)| {
            env.paths
                .iter()
                .map(move |p| (name.clone(), p.clone(), Place::default()))
        })
        .collect()
}

fn shown(path: &Path) -> String {
    if path.as_os_str().is_empty() {
        "\".\"".to_string()
    } else {
        format!("{:?}", path.display().to_string())
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use figment::providers::Env;

    use super::*;

    fn host(registry: &str) -> Config {
        let text = format!(
            "[git]\nurl = \"file:///srv/fleet.git\"\nbranch = \"main\"\nrules = \"flux:clusters/c\"\n\n[registries.\"registry.example.com\"]\n{registry}\n[rules]\nreview_required = [\"prod\"]\n"
        );
        Config::from_text(
            Path::new("/etc/baton/baton.toml"),
            &text,
            Env::raw().only(&[]),
        )
        .unwrap()
    }

    fn objects(branch: &str, insecure: bool) -> RulesFiles {
        let text = format!(
            "apiVersion: image.toolkit.fluxcd.io/v1\nkind: ImageRepository\nmetadata:\n  name: app\n  namespace: apps\nspec:\n  image: registry.example.com/app\n  interval: 5m\n  insecure: {insecure}\n---\napiVersion: image.toolkit.fluxcd.io/v1\nkind: ImagePolicy\nmetadata:\n  name: app\n  namespace: apps\nspec:\n  imageRepositoryRef:\n    name: app\n  policy:\n    semver:\n      range: 1.x\n  digestReflectionPolicy: Always\n  interval: 10m\n---\napiVersion: image.toolkit.fluxcd.io/v1\nkind: ImageUpdateAutomation\nmetadata:\n  name: prod\n  namespace: apps\nspec:\n  interval: 5m\n  sourceRef:\n    kind: GitRepository\n    name: fleet\n  git:\n    checkout:\n      ref:\n        branch: {branch}\n    commit:\n      author:\n        email: baton@localhost\n        name: baton\n  update:\n    path: ./clusters/c\n"
        );
        RulesFiles {
            commit: Some("0123456789ab".into()),
            files: vec![(PathBuf::from("clusters/c/auto.yaml"), text.into_bytes())],
        }
    }

    #[test]
    fn objects_become_images_policies_and_fenced_environments() {
        let applied = host("insecure = true")
            .with_rules(&objects("main", true))
            .unwrap();
        let config = applied.config;
        assert_eq!(
            config.images["apps/app"].repository_text,
            "registry.example.com/app"
        );
        let policy = &config.policies["apps:app"];
        assert_eq!(policy.image, "apps/app");
        assert_eq!(policy.pin_digest, DigestPinning::Always);
        let env = &config.environments["prod"];
        assert_eq!(env.paths, vec![PathBuf::from("clusters/c")]);
        assert_eq!(env.mode, Mode::Review, "the host fences prod");
        assert_eq!(
            env.policies.as_ref().unwrap().iter().collect::<Vec<_>>(),
            vec!["apps:app"]
        );
        assert_eq!(
            applied.notes,
            vec![
                "clusters/c/auto.yaml:23:13@0123456789ab: note: spec.interval: not used by Baton: with digestReflectionPolicy Always Baton resolves the digest on every pass"
            ]
        );
    }

    #[test]
    fn the_objects_cannot_turn_on_plain_http_or_another_branch() {
        let errors = host("").with_rules(&objects("release", true)).unwrap_err();
        let shown: Vec<String> = errors.errors.iter().map(ToString::to_string).collect();
        assert_eq!(shown.len(), 2, "{shown:#?}");
        assert!(
            shown[0].starts_with("clusters/c/auto.yaml:9:13@0123456789ab: spec.insecure: plain HTTP to \"registry.example.com\" is the host's decision"),
            "{shown:#?}"
        );
        assert!(
            shown[1].starts_with("clusters/c/auto.yaml:38:17@0123456789ab: spec.git.checkout.ref.branch: \"release\" is not the host's branch \"main\""),
            "{shown:#?}"
        );
    }
}
