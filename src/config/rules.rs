//! Rules that live in the repository (`[git] rules`): Baton's own rules file or Flux's image
//! automation objects at one commit, merged with the host configuration inside the host's
//! fences (`[rules]`), every problem located at file:line@commit.

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use figment::providers::{Env, Format, Toml};
use figment::value::{Dict, Map, Tag, Value};
use figment::{Figment, Metadata, Profile, Provider};

use super::{Config, ENV_PREFIX, assemble};
use crate::common::settings::{
    self, ConfigError, ConfigErrors, KeyPath, Location, SpanIndex, Table,
};
use crate::reference::ImageName;

/// The sections a repository's rules file may hold; everything else is the host's.
pub const RULE_SECTIONS: &[&str] = &["images", "policies", "environments", "groups"];

/// The name the rules file's values carry in the merged configuration.
pub(super) const RULES_SOURCE: &str = "repository rules";

/// Where the repository's rules are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RulesSource {
    /// Baton's own TOML with `[images]`, `[policies]`, `[environments]` and `[groups]`.
    File(PathBuf),
    /// Flux's ImageRepository, ImagePolicy and ImageUpdateAutomation objects in the YAML
    /// files under this directory (`flux:DIR`; empty for the whole repository).
    Flux(PathBuf),
}

impl RulesSource {
    /// Reads `[git] rules`: `PATH` or `flux:DIR`, relative to the repository root.
    pub fn parse(text: &str) -> Result<RulesSource, String> {
        let (flux, path) = match text.strip_prefix("flux:") {
            Some(dir) => (true, dir),
            None => (false, text),
        };
        let clean =
            crate::flux::repo_path(path).map_err(|why| format!("{text:?}: the path {why}"))?;
        if flux {
            Ok(RulesSource::Flux(clean))
        } else if clean.as_os_str().is_empty() {
            Err(format!(
                "{text:?} names no file: give the rules file's path in the repository, e.g. \"baton.toml\", or \"flux:clusters/NAME\" for Flux's objects"
            ))
        } else {
            Ok(RulesSource::File(clean))
        }
    }

    /// The file or directory read.
    pub fn path(&self) -> &Path {
        match self {
            RulesSource::File(p) | RulesSource::Flux(p) => p,
        }
    }

    /// Whether a file below [`RulesSource::path`] is part of the rules.
    pub fn wants(&self, path: &Path) -> bool {
        match self {
            RulesSource::File(p) => path == p,
            RulesSource::Flux(_) => crate::flux::is_object_file(path),
        }
    }
}

impl fmt::Display for RulesSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RulesSource::File(p) => write!(f, "{}", p.display()),
            RulesSource::Flux(p) if p.as_os_str().is_empty() => f.write_str("flux:."),
            RulesSource::Flux(p) => write!(f, "flux:{}", p.display()),
        }
    }
}

/// The host's part of the rules: where they are and what they may not decide.
#[derive(Debug, Clone, PartialEq)]
pub struct RulesConfig {
    /// `[git] rules`.
    pub source: RulesSource,
    /// `[rules] review_required`: environments that move by review whatever the rules say.
    pub review_required: BTreeSet<String>,
    /// The host file's text, merged with each commit's rules.
    pub(super) host_text: Arc<str>,
    /// False for `baton check --rules` without a host configuration: no registry fence.
    pub(super) fenced: bool,
}

/// The rules of one commit as read from the repository (or from disk by `baton check --rules`).
#[derive(Debug, Clone, Default)]
pub struct RulesFiles {
    /// The commit they were read at, shown after file:line; `None` for files on disk.
    pub commit: Option<String>,
    /// Path (relative to the repository root, or as given) and bytes of each file read.
    pub files: Vec<(PathBuf, Vec<u8>)>,
}

/// A configuration with the repository's rules applied, and what was noted on the way.
#[derive(Debug, Clone)]
pub struct WithRules {
    /// The host configuration plus the rules.
    pub config: Config,
    /// Fields read but not acted on, located (`file:line@commit: note: ...`).
    pub notes: Vec<String>,
}

/// Reads `[git] rules` (from the `[git]` table, before its own reader finishes it) and the
/// `[rules]` section. `Some(None)` without rules, `None` when invalid (reported).
pub(super) fn read_host_part(git: &Table, section: Option<Table>) -> Option<Option<RulesConfig>> {
    let source = git
        .string("rules")
        .and_then(|text| match RulesSource::parse(text.trim()) {
            Ok(source) => Some(source),
            Err(why) => {
                git.error("rules", why);
                None
            }
        });
    let review_required = read_fences(section, git.has("rules"));
    if git.has("rules") && source.is_none() {
        return None;
    }
    let review_required = review_required?;
    Some(source.map(|source| RulesConfig {
        source,
        review_required,
        host_text: Arc::from(""),
        fenced: true,
    }))
}

/// Reads the `[rules]` section; `any_rules` tells whether some repository has rules to fence.
/// `None` when invalid (reported).
pub(super) fn read_fences(section: Option<Table>, any_rules: bool) -> Option<BTreeSet<String>> {
    let mut review_required = BTreeSet::new();
    let mut ok = true;
    if let Some(t) = section {
        if !any_rules {
            t.error_at(
                t.path(),
                "[rules] fences the repository's rules, but [git] rules is not set: set rules = \"baton.toml\" (or \"flux:DIR\") in [git], or remove [rules]",
            );
            ok = false;
        }
        for (name, path) in t.string_list("review_required").unwrap_or_default() {
            if name.trim().is_empty() {
                t.error_at(&path, "an empty name: give environment names");
                ok = false;
            } else {
                review_required.insert(name);
            }
        }
        t.finish();
    }
    ok.then_some(review_required)
}

/// The rules file's filtered values as a figment provider named [`RULES_SOURCE`].
struct RulesData(Dict);

impl Provider for RulesData {
    fn metadata(&self) -> Metadata {
        Metadata::named(RULES_SOURCE)
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        let mut map = Map::new();
        map.insert(Profile::Default, self.0.clone());
        Ok(map)
    }
}

/// The location of a key in `index`, as a [`ConfigError`].
pub(super) fn located(index: &SpanIndex, path: &[String], message: String) -> ConfigError {
    ConfigError {
        location: index.locate(path),
        key: settings::display_path(path),
        message,
    }
}

fn key(parts: &[&str]) -> KeyPath {
    parts.iter().map(|s| s.to_string()).collect()
}

impl Config {
    /// This configuration with the repository's rules in `files` applied: the same syntax and
    /// checks as the host file, plus the fences. Errors name file:line@commit.
    pub fn with_rules(&self, files: &RulesFiles) -> Result<WithRules, ConfigErrors> {
        let Some(rules) = &self.rules else {
            return Ok(WithRules {
                config: self.clone(),
                notes: Vec::new(),
            });
        };
        let shown = shown_source(&rules.source, files.commit.as_deref());
        let fail = |errors: Vec<ConfigError>| ConfigErrors {
            path: PathBuf::from(&shown),
            errors,
        };
        match &rules.source {
            RulesSource::File(path) => self
                .file_rules(rules, path, files)
                .map(|config| WithRules {
                    config,
                    notes: Vec::new(),
                })
                .map_err(fail),
            RulesSource::Flux(_) => super::flux::apply(self, rules, files).map_err(fail),
        }
    }

    /// Validates a rules file (or, for a directory, Flux's objects in it) on disk, for CI
    /// before merge: inside the fences of the host configuration `host` (its text beside it)
    /// when given, else on its own.
    pub fn check_rules(
        host: Option<(&Config, &str)>,
        path: &Path,
    ) -> Result<WithRules, ConfigErrors> {
        let fail = |message: String| ConfigErrors {
            path: path.to_path_buf(),
            errors: vec![ConfigError {
                location: Location::Whole(path.to_path_buf()),
                key: String::new(),
                message,
            }],
        };
        let flux = path.is_dir();
        let mut files = Vec::new();
        if flux {
            let walker = ignore::WalkBuilder::new(path)
                .standard_filters(false)
                .follow_links(false)
                .build();
            for entry in walker.flatten() {
                let p = entry.path();
                if entry.file_type().is_some_and(|t| t.is_file()) && crate::flux::is_object_file(p)
                {
                    match std::fs::read(p) {
                        Ok(bytes) => files.push((p.to_path_buf(), bytes)),
                        Err(err) => {
                            return Err(fail(format!("cannot read {}: {err}", p.display())));
                        }
                    }
                }
            }
            files.sort();
        } else {
            match std::fs::read(path) {
                Ok(bytes) => files.push((path.to_path_buf(), bytes)),
                Err(err) => return Err(fail(format!("cannot read the rules file: {err}"))),
            }
        }
        let source = if flux {
            RulesSource::Flux(path.to_path_buf())
        } else {
            RulesSource::File(path.to_path_buf())
        };
        let (mut base, host_text, fenced) = match host {
            Some((config, text)) => (config.clone(), text.to_string(), true),
            None => {
                // Only what a configuration needs to exist: the rules are checked on their own.
                let text = "[git]\nurl = \"repository\"\n";
                let config = Config::from_text(
                    Path::new("(no host configuration)"),
                    text,
                    Env::raw().only(&[]),
                )?;
                (config, text.to_string(), false)
            }
        };
        let review_required = base
            .rules
            .as_ref()
            .map(|r| r.review_required.clone())
            .unwrap_or_default();
        base.rules = Some(RulesConfig {
            source,
            review_required,
            host_text: Arc::from(host_text),
            fenced,
        });
        base.with_rules(&RulesFiles {
            commit: None,
            files,
        })
    }

    /// Baton's own rules file merged with the host file.
    fn file_rules(
        &self,
        rules: &RulesConfig,
        path: &Path,
        files: &RulesFiles,
    ) -> Result<Config, Vec<ConfigError>> {
        let commit = files.commit.as_deref();
        let whole = |message: String| {
            vec![ConfigError {
                location: Location::Whole(PathBuf::from(shown_source(&rules.source, commit))),
                key: String::new(),
                message,
            }]
        };
        let Some((shown_path, bytes)) = files
            .files
            .iter()
            .find(|(p, _)| p == path || files.commit.is_none())
        else {
            return Err(whole(format!(
                "the rules file {} does not exist{}: add it, or fix [git] rules in {}",
                path.display(),
                commit
                    .map(|c| format!(" at commit {c}"))
                    .unwrap_or_default(),
                self.source.display()
            )));
        };
        let Ok(text) = std::str::from_utf8(bytes) else {
            return Err(whole("the rules file is not UTF-8 text".to_string()));
        };
        let index = settings::parse_toml(shown_path, text)
            .map(|i| i.at_commit(commit))
            .map_err(|e| {
                let mut e = e;
                e.location = e.location.at_commit(commit);
                vec![e]
            })?;
        let mut dict = match Toml::string(text).data() {
            Ok(mut data) => data.remove(&Profile::Default).unwrap_or_default(),
            Err(err) => return Err(whole(format!("invalid TOML: {err}"))),
        };
        let host_index = settings::parse_toml(&self.source, &rules.host_text).ok();
        let host_dict = Toml::string(&rules.host_text)
            .data()
            .ok()
            .and_then(|mut d| d.remove(&Profile::Default))
            .unwrap_or_default();
        let mut errors = Vec::new();
        // Only the rule sections: the daemon, the remote, credentials, registries, the forge,
        // notifications and webhooks are the host's.
        let foreign: Vec<String> = dict
            .keys()
            .filter(|k| !RULE_SECTIONS.contains(&k.as_str()))
            .cloned()
            .collect();
        for section in foreign {
            errors.push(located(
                &index,
                &key(&[&section]),
                format!(
                    "[{section}] belongs to the host configuration: the repository's rules may set only [images], [policies], [environments] and [groups]"
                ),
            ));
            dict.remove(&section);
        }
        // A name defined in both places.
        for section in RULE_SECTIONS {
            let (Some(Value::Dict(_, ours)), Some(Value::Dict(_, theirs))) =
                (dict.get(*section), host_dict.get(*section))
            else {
                continue;
            };
            for name in ours.keys().filter(|n| theirs.contains_key(*n)) {
                let path = key(&[section, name]);
                let there = host_index
                    .as_ref()
                    .map(|i| i.locate(&path).to_string())
                    .unwrap_or_else(|| self.source.display().to_string());
                errors.push(located(
                    &index,
                    &path,
                    format!(
                        "defined both here and at {there}: define it in one place, the repository's rules or the host configuration"
                    ),
                ));
            }
        }
        // The host's fence: these environments move by review; absent `mode` means review.
        if let Some(Value::Dict(_, envs)) = dict.get_mut("environments") {
            for (name, value) in envs.iter_mut() {
                if !rules.review_required.contains(name) {
                    continue;
                }
                let Value::Dict(_, table) = value else {
                    continue;
                };
                match table.get("mode") {
                    None => {
                        table.insert("mode".into(), Value::String(Tag::Default, "review".into()));
                    }
                    Some(Value::String(_, mode)) if mode == "review" => {}
                    Some(_) => errors.push(located(
                        &index,
                        &key(&["environments", name, "mode"]),
                        format!(
                            "{name} must stay in review mode: the host's [rules] review_required names it; remove mode or set mode = \"review\""
                        ),
                    )),
                }
            }
        }
        // The repository's rules place environments in this repository only.
        if self.has_named_repositories()
            && let Some(Value::Dict(_, envs)) = dict.get_mut("environments")
        {
            for (name, value) in envs.iter_mut() {
                let Value::Dict(_, table) = value else {
                    continue;
                };
                match table.get("repository") {
                    None => {
                        table.insert(
                            "repository".into(),
                            Value::String(Tag::Default, self.repository.clone()),
                        );
                    }
                    Some(Value::String(_, owner)) if *owner == self.repository => {}
                    Some(_) => errors.push(located(
                        &index,
                        &key(&["environments", name, "repository"]),
                        format!(
                            "the rules of repository {:?} define environments of that repository only: remove repository here, or define {name} in the other repository's rules or the host configuration",
                            self.repository
                        ),
                    )),
                }
            }
        }
        // Signature keys name files on this host and decide what may deploy: never the
        // repository's to choose.
        if let Some(Value::Dict(_, images)) = dict.get("images") {
            for (name, value) in images {
                if value.as_dict().is_some_and(|t| t.contains_key("signature")) {
                    errors.push(located(
                        &index,
                        &key(&["images", name, "signature"]),
                        format!(
                            "[images.{name}.signature] belongs to the host configuration: the repository's rules cannot choose the keys that sign what deploys; set it in {}",
                            self.source.display()
                        ),
                    ));
                }
            }
        }
        // The host's fence: registries the host has not configured.
        if rules.fenced
            && let Some(Value::Dict(_, images)) = dict.get("images")
        {
            for (name, value) in images {
                let Some(Value::String(_, repository)) =
                    value.as_dict().and_then(|t| t.get("repository"))
                else {
                    continue;
                };
                if let Ok(image) = ImageName::parse(repository)
                    && self.registry_for(&image).is_none()
                {
                    errors.push(located(
                        &index,
                        &key(&["images", name, "repository"]),
                        unconfigured_registry(&image, &self.source),
                    ));
                }
            }
        }
        let env = Env::prefixed(ENV_PREFIX)
            .filter(|key| key.as_str().contains("__"))
            .split("__");
        let figment = Figment::new()
            .merge(Toml::string(&rules.host_text))
            .merge(RulesData(dict))
            .merge(env);
        let host_index =
            host_index.unwrap_or_else(|| SpanIndex::unparsed(&self.source, &rules.host_text));
        let base_dir = self
            .source
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        // The same checks as the host file, over both: every problem is reported at once.
        let built = assemble::build(
            &self.source,
            &base_dir,
            &figment,
            figment::Provider::data(&figment),
            &host_index,
            Some((RULES_SOURCE, &index)),
        );
        match built {
            Ok(config) if errors.is_empty() => {
                // Narrowed to this repository again, as the configuration it was applied to.
                let mut config = match config.for_repository(&self.repository) {
                    Some(view) => view.into_owned(),
                    None => config,
                };
                config.rules = self.rules.clone();
                Ok(config)
            }
            Ok(_) => {
                sort_located(&mut errors);
                Err(errors)
            }
            Err(more) => {
                errors.extend(more);
                sort_located(&mut errors);
                Err(errors)
            }
        }
    }
}

/// Orders errors by file, line and column; environment variables and whole files last.
pub(super) fn sort_located(errors: &mut [ConfigError]) {
    errors.sort_by_key(|e| match &e.location {
        Location::Commit {
            path, line, column, ..
        }
        | Location::File { path, line, column } => (0, path.clone(), *line, *column),
        Location::Env(_) | Location::Whole(_) => (1, PathBuf::new(), 0, 0),
    });
}

/// The error for an image whose registry the host has not configured.
pub(super) fn unconfigured_registry(image: &ImageName, host: &Path) -> String {
    format!(
        "registry {:?} is not configured on this host: the repository cannot add registries; add [registries.{:?}] to {}",
        image.registry,
        image.registry,
        host.display()
    )
}

/// `baton.toml@abc123` or `flux:clusters/x@abc123`, for messages about the rules as a whole.
fn shown_source(source: &RulesSource, commit: Option<&str>) -> String {
    match commit {
        Some(c) => format!("{source}@{c}"),
        None => source.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Mode;

    fn host(extra: &str) -> Config {
        let text = format!(
            "[git]\nurl = \"file:///srv/fleet.git\"\nrules = \"baton.toml\"\n\n[registries.\"registry.example.com\"]\n\n{extra}"
        );
        Config::from_text(
            Path::new("/etc/baton/baton.toml"),
            &text,
            Env::raw().only(&[]),
        )
        .unwrap()
    }

    fn apply(config: &Config, rules: &str) -> Result<Config, Vec<String>> {
        config
            .with_rules(&RulesFiles {
                commit: Some("0123456789ab".into()),
                files: vec![(PathBuf::from("baton.toml"), rules.as_bytes().to_vec())],
            })
            .map(|w| w.config)
            .map_err(|e| e.errors.iter().map(ToString::to_string).collect())
    }

    const RULES: &str = "[images.app]\nrepository = \"registry.example.com/app\"\n\n[policies.app]\nimage = \"app\"\nsemver = \"1.x\"\n\n[environments.production]\npaths = [\"prod\"]\n";

    #[test]
    fn rules_merge_with_the_host_and_fenced_environments_default_to_review() {
        let config = host("[rules]\nreview_required = [\"production\"]\n");
        assert_eq!(
            config.rules.as_ref().unwrap().source,
            RulesSource::File("baton.toml".into())
        );
        let merged = apply(&config, RULES).unwrap();
        assert_eq!(
            merged.images["app"].repository_text,
            "registry.example.com/app"
        );
        assert_eq!(merged.environments["production"].mode, Mode::Review);
        assert!(
            merged.rules.is_some(),
            "the merged configuration keeps its rules source"
        );
    }

    #[test]
    fn the_repository_cannot_lift_a_fence_or_take_the_hosts_sections() {
        let config = host("[rules]\nreview_required = [\"production\"]\n");
        let text =
            format!("{RULES}mode = \"push\"\n\n[git]\nurl = \"https://evil.example.com/x.git\"\n");
        let errors = apply(&config, &text).unwrap_err();
        assert_eq!(
            errors,
            vec![
                "baton.toml:10:1@0123456789ab: environments.production.mode: production must stay in review mode: the host's [rules] review_required names it; remove mode or set mode = \"review\"".to_string(),
                "baton.toml:12:2@0123456789ab: git: [git] belongs to the host configuration: the repository's rules may set only [images], [policies], [environments] and [groups]".to_string(),
            ]
        );
        let foreign = RULES.replace("registry.example.com/app", "ghcr.io/evil/app");
        let errors = apply(&config, &foreign).unwrap_err();
        assert_eq!(errors.len(), 1, "{errors:#?}");
        assert!(
            errors[0].starts_with("baton.toml:2:1@0123456789ab: images.app.repository: registry \"ghcr.io\" is not configured on this host"),
            "{errors:#?}"
        );
    }

    #[test]
    fn the_repository_cannot_choose_signature_keys() {
        let config = host("[rules]\n");
        let text = format!("{RULES}\n[images.app.signature]\nkey_file = \"/etc/passwd\"\n");
        let errors = apply(&config, &text).unwrap_err();
        assert!(
            errors.iter().any(|e| e.contains("images.app.signature")
                && e.contains("belongs to the host configuration")),
            "{errors:#?}"
        );
    }

    #[test]
    fn a_name_in_both_places_names_both_and_rule_errors_keep_their_lines() {
        let config = host("[images.app]\nrepository = \"registry.example.com/app\"\n");
        let text = RULES.replace("semver = \"1.x\"", "semver = \"one\"");
        let errors = apply(&config, &text).unwrap_err();
        assert!(
            errors[0].starts_with("baton.toml:1:9@0123456789ab: images.app: defined both here and at /etc/baton/baton.toml:7:9"),
            "{errors:#?}"
        );
        assert!(
            errors
                .iter()
                .any(|e| e.starts_with("baton.toml:6:1@0123456789ab: policies.app.semver:")),
            "{errors:#?}"
        );
        // A missing key is located in the rules file too.
        let errors = apply(&host(""), "[environments.x]\nmode = \"push\"\n").unwrap_err();
        assert!(
            errors[0].starts_with(
                "baton.toml:1:15@0123456789ab: environments.x.paths: required key is missing"
            ),
            "{errors:#?}"
        );
        let missing = host("").with_rules(&RulesFiles {
            commit: Some("0123456789ab".into()),
            files: vec![],
        });
        assert!(
            missing
                .unwrap_err()
                .to_string()
                .contains("the rules file baton.toml does not exist at commit 0123456789ab")
        );
    }

    #[test]
    fn groups_may_live_in_the_rules_and_are_checked_there() {
        // The host's images grouped with the rules' image: known once merged.
        let config = host(
            "[images.web]\nrepository = \"registry.example.com/web\"\n\n[groups.shop]\nimages = [\"app\", \"web\"]\n",
        );
        let merged = apply(&config, RULES).unwrap();
        assert_eq!(merged.groups["shop"].images, ["app", "web"]);
        // A group in the rules file.
        let text = format!(
            "{RULES}\n[images.web]\nrepository = \"registry.example.com/web\"\n\n[groups.shop]\nimages = [\"app\", \"web\"]\nsame_version = true\n"
        );
        let merged = apply(&host(""), &text).unwrap();
        assert!(merged.groups["shop"].same_version);
        // Its mistakes are located in the rules file; a name in both places is refused.
        let errors = apply(&host(""), &text.replace("\"web\"]", "\"wbe\"]")).unwrap_err();
        assert_eq!(errors.len(), 1, "{errors:#?}");
        assert!(
            errors[0].starts_with("baton.toml:15:18@0123456789ab: groups.shop.images.1: group \"shop\" names unknown image \"wbe\""),
            "{errors:#?}"
        );
        let errors = apply(&config, &text).unwrap_err();
        assert!(
            errors
                .iter()
                .any(|e| e.contains("groups.shop: defined both here and at /etc/baton/baton.toml")),
            "{errors:#?}"
        );
    }

    #[test]
    fn the_host_part_is_checked() {
        assert_eq!(
            RulesSource::parse("flux:./clusters/prod/").unwrap(),
            RulesSource::Flux("clusters/prod".into())
        );
        assert!(RulesSource::parse("../outside.toml").is_err());
        assert!(RulesSource::parse("flux:/abs").is_err());
        assert!(RulesSource::parse(".").is_err());
        let text = "[git]\nurl = \"file:///srv/fleet.git\"\n\n[rules]\nreview_required = [\"production\"]\n";
        let err = Config::from_text(Path::new("h.toml"), text, Env::raw().only(&[])).unwrap_err();
        assert!(
            err.to_string().contains("h.toml:4:2: rules: [rules] fences the repository's rules, but [git] rules is not set"),
            "{err}"
        );
    }

    #[test]
    fn a_rules_file_checks_on_its_own_without_a_host() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("baton.toml");
        std::fs::write(&path, RULES.replace("registry.example.com", "ghcr.io")).unwrap();
        let checked = Config::check_rules(None, &path).unwrap();
        assert_eq!(checked.config.environments.len(), 1);
        std::fs::write(&path, "[daemon]\nlisten = \"x\"\n").unwrap();
        let err = Config::check_rules(None, &path).unwrap_err().to_string();
        assert!(
            err.contains("baton.toml:1:2: daemon: [daemon] belongs to the host"),
            "{err}"
        );
    }
}
