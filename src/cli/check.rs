//! `baton check`: validate a configuration and summarise what it asks for.

use std::process::ExitCode;

use crate::config::{Config, Mode};

use super::ConfigArg;

/// Arguments of `baton check`.
#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    /// Also check online: clone the repository, read every environment's markers (unknown
    /// policies, missing paths), list every image's tags (registry reachability) and estimate
    /// each registry's requests per hour against its budget (`--online` is the same).
    #[arg(long, visible_alias = "online")]
    pub repo: bool,
    /// Check a checkout's rules file (or, for a directory, Flux's objects in it) offline, for
    /// CI before merge: inside the host configuration's fences when one is found, else alone.
    #[arg(long, value_name = "PATH", conflicts_with = "repo")]
    pub rules: Option<std::path::PathBuf>,
}

/// Loads the configuration; prints a summary and warnings (exit 0) or every error (exit 1).
/// With `--repo`, exit 1 also when a marker problem or an unreachable registry is found.
pub fn run(args: &CheckArgs) -> anyhow::Result<ExitCode> {
    if let Some(rules) = &args.rules {
        return check_rules(args, rules);
    }
    let path = args.config.path();
    let config = match Config::load(&path) {
        Ok(config) => config,
        Err(errors) => {
            eprintln!("{errors}");
            return Ok(ExitCode::FAILURE);
        }
    };
    println!("{}", summary(&config));
    for warning in warnings(&config) {
        eprintln!("warning: {warning}");
    }
    if !args.repo {
        return Ok(ExitCode::SUCCESS);
    }
    super::pass::check_online(&args.config)
}

/// `baton check --rules PATH`: the host configuration (named, or found at the default path)
/// supplies the fences and the names already taken; without one the file is checked alone.
fn check_rules(args: &CheckArgs, rules: &std::path::Path) -> anyhow::Result<ExitCode> {
    let path = args.config.path();
    let named = args.config.config.is_some()
        || std::env::var_os("BATON_CONFIG").is_some_and(|v| !v.is_empty());
    let host = match std::fs::read_to_string(&path) {
        Ok(text) => match Config::load(&path) {
            Ok(config) => Some((
                super::pass::narrow(config, args.config.repository.as_deref())?,
                text,
            )),
            Err(errors) => {
                eprintln!("{errors}");
                return Ok(ExitCode::FAILURE);
            }
        },
        Err(err) if named && err.kind() != std::io::ErrorKind::NotFound => {
            eprintln!("cannot read {}: {err}", path.display());
            return Ok(ExitCode::FAILURE);
        }
        Err(_) => None,
    };
    match Config::check_rules(host.as_ref().map(|(c, t)| (c, t.as_str())), rules) {
        Ok(checked) => {
            let c = &checked.config;
            println!(
                "{}: valid{}: {} images, {} policies, {} environments",
                rules.display(),
                match &host {
                    Some(_) => format!(" inside the fences of {}", path.display()),
                    None => " (checked alone: no host configuration found)".to_string(),
                },
                c.images.len(),
                c.policies.len(),
                c.environments.len()
            );
            for note in &checked.notes {
                eprintln!("warning: {note}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(errors) => {
            eprintln!("{errors}");
            Ok(ExitCode::FAILURE)
        }
    }
}

/// What is valid but probably not meant: nothing to do, or files named that do not exist
/// (such as the example paths of a starter configuration).
///
/// Also where a policy meets a deliberate difference from Flux or a Go reading that may
/// surprise (docs/flux-compatibility.md), one line per finding.
pub fn warnings(config: &Config) -> Vec<String> {
    let mut out: Vec<String> = config
        .policies
        .iter()
        .flat_map(|(name, policy)| {
            policy
                .policy
                .compatibility_warnings()
                .into_iter()
                .map(move |w| format!("policy {name}: {w}"))
        })
        .collect();
    // With rules in the repository the host file may name no images at all.
    if config.rules.is_none()
        && (config.images.is_empty()
            || config.policies.is_empty()
            || config.environments.is_empty())
    {
        let mut missing = Vec::new();
        for (empty, what) in [
            (config.images.is_empty(), "[images.NAME]"),
            (config.policies.is_empty(), "[policies.NAME]"),
            (config.environments.is_empty(), "[environments.NAME]"),
        ] {
            if empty {
                missing.push(what);
            }
        }
        out.push(format!(
            "{}: nothing to do: add {} (see config.example.toml or `baton init`)",
            config.source.display(),
            missing.join(", ")
        ));
    }
    let mut files: Vec<(String, &std::path::Path)> = Vec::new();
    let git = &config.git;
    for (key, path) in [
        ("git.ssh_key_file", &git.remote.ssh_key_file),
        ("git.known_hosts_file", &git.remote.known_hosts_file),
    ] {
        if let Some(path) = path {
            files.push((key.to_string(), path));
        }
    }
    if let Some(crate::git::TokenSource::File(path)) = &git.remote.token {
        files.push(("git.token_file".to_string(), path));
    }
    for (host, registry) in &config.registries {
        let section = crate::config::display_path(&["registries".to_string(), host.clone()]);
        let ca_file = registry.ca_file.as_deref().map(|path| ("ca_file", path));
        for (key, path) in registry.auth.files().chain(ca_file) {
            files.push((format!("{section}.{key}"), path));
        }
    }
    if let Some(forge) = &config.forge {
        files.push(("forge.token_file".to_string(), &forge.token_file));
    }
    for (key, path) in files {
        if !path.exists() {
            out.push(format!(
                "{key}: {} does not exist (an example path?): create it or change the setting",
                path.display()
            ));
        }
    }
    out
}

/// A short, human summary of a valid configuration.
pub fn summary(config: &Config) -> String {
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    let mut out = format!(
        "{}: ok: {}, {}, {}, {}",
        config.source.display(),
        plural(config.registries.len(), "registry"),
        plural(config.images.len(), "image"),
        plural(config.policies.len(), "policy"),
        plural(config.environments.len(), "environment"),
    )
    .replace("registrys", "registries")
    .replace("policys", "policies");
    if config.has_named_repositories() {
        for (name, repository) in config.repositories.iter() {
            let environments: Vec<&str> = config
                .environments
                .iter()
                .filter(|(_, e)| e.repository == *name)
                .map(|(n, _)| n.as_str())
                .collect();
            out.push_str(&format!(
                "\n  repository {name}: {} (branch {}), environments: {}{}",
                repository.git.remote.url,
                repository.git.remote.branch,
                match environments.is_empty() {
                    true => "none".to_string(),
                    false => environments.join(", "),
                },
                match &repository.rules {
                    Some(rules) => format!(", rules {}", rules.source),
                    None => String::new(),
                }
            ));
        }
    } else {
        out.push_str(&format!(
            "\n  git: {} (branch {})",
            config.git.remote.url, config.git.remote.branch
        ));
    }
    if let Some(rules) = &config.rules {
        out.push_str(&format!(
            "\n  rules: {} in the repository, read at the commit each pass builds on (check them with --repo or --rules PATH)",
            rules.source
        ));
        if !rules.review_required.is_empty() {
            let names: Vec<&str> = rules.review_required.iter().map(String::as_str).collect();
            out.push_str(&format!("; review required for {}", names.join(", ")));
        }
    }
    for (name, policy) in config.policies.iter() {
        let image = &config.images[&policy.image];
        out.push_str(&format!(
            "\n  policy {name}: {} by {}",
            image.repository_text,
            policy.policy.describe()
        ));
    }
    for (name, env) in &config.environments {
        let paths: Vec<String> = env.paths.iter().map(|p| p.display().to_string()).collect();
        let mut line = format!(
            "\n  environment {name}: {} in {}",
            match env.mode {
                Mode::Push => "push",
                Mode::Review => "review",
            },
            paths.join(", ")
        );
        if let Some(from) = &env.promote_from {
            line.push_str(&format!(", promote from {from}"));
        }
        if let Some(soak) = env.soak {
            line.push_str(&format!(
                " after {}",
                crate::common::time::format_duration(soak)
            ));
        }
        for window in &env.windows {
            line.push_str(&format!(", window {}", window.text));
        }
        out.push_str(&line);
    }
    for (name, group) in &config.groups {
        out.push_str(&format!(
            "\n  group {name}: {} move together, {}",
            group.images.join(", "),
            if group.same_version {
                "same version only"
            } else {
                "each at its own version"
            }
        ));
    }
    if let Some(forge) = &config.forge {
        out.push_str(&format!(
            "\n  forge: {} {} at {}",
            forge.kind, forge.repository, forge.base_url
        ));
    } else if config.environments.values().any(|e| e.mode == Mode::Review) {
        out.push_str(
            "\n  forge: none: review branches are pushed, pull requests are left to people",
        );
    }
    out
}
