//! `baton check`: validate a configuration and summarise what it asks for.

use std::process::ExitCode;

use crate::config::{Config, Mode};

use super::ConfigArg;

/// Loads the configuration; prints a summary (exit 0) or every error (exit 1).
pub fn run(args: &ConfigArg) -> anyhow::Result<ExitCode> {
    let path = args.path();
    match Config::load(&path) {
        Ok(config) => {
            println!("{}", summary(&config));
            for warning in warnings(&config) {
                eprintln!("{warning}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(errors) => {
            eprintln!("{errors}");
            Ok(ExitCode::FAILURE)
        }
    }
}

/// Where a valid configuration meets a deliberate difference from Flux or a Go reading
/// that may surprise (docs/flux-compatibility.md), one line per finding.
pub fn warnings(config: &Config) -> Vec<String> {
    config
        .policies
        .iter()
        .flat_map(|(name, policy)| {
            policy
                .policy
                .compatibility_warnings()
                .into_iter()
                .map(move |w| format!("warning: policy {name}: {w}"))
        })
        .collect()
}

/// A short, human summary of a valid configuration.
pub fn summary(config: &Config) -> String {
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    let mut out = format!(
        "{}: ok: {}, {}, {}, {}\n  git: {} (branch {})",
        config.source.display(),
        plural(config.registries.len(), "registry"),
        plural(config.images.len(), "image"),
        plural(config.policies.len(), "policy"),
        plural(config.environments.len(), "environment"),
        config.git.remote.url,
        config.git.remote.branch,
    )
    .replace("registrys", "registries")
    .replace("policys", "policies");
    for (name, policy) in &config.policies {
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
