//! `baton run`: the daemon.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;

use super::{ConfigArg, LogFormatArg};
use crate::config::{Config, LogFormat};
use crate::daemon::{self, DaemonOptions};

/// Arguments of `baton run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    /// How long SIGTERM or SIGINT waits for work in flight (a push) before exiting anyway;
    /// keep it under the service manager's stop timeout (the shipped unit allows 60s).
    #[arg(long, value_name = "DURATION", default_value = "45s", value_parser = parse_duration)]
    pub stop_timeout: Duration,
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text)
        .map_err(|e| format!("{text:?} is not a duration ({e}): write it as 30s, 2m or 1h"))
}

/// The log format `daemon.log_format` asks for, when the configuration can be read; the
/// daemon reports an unreadable configuration itself.
pub fn configured_log_format(args: &RunArgs) -> Option<LogFormatArg> {
    let config = Config::load(&args.config.path()).ok()?;
    Some(match config.daemon.log_format {
        LogFormat::Text => LogFormatArg::Text,
        LogFormat::Json => LogFormatArg::Json,
    })
}

/// Runs the daemon until SIGTERM or SIGINT: exit 0 after a clean stop, 1 when start-up
/// failed or work in flight outlived `--stop-timeout`.
pub fn run(args: &RunArgs) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(8)
        .thread_name("baton")
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let options = DaemonOptions {
        config_path: args.config.path(),
        stop_timeout: args.stop_timeout,
    };
    let clean = runtime.block_on(daemon::run(options))?;
    // Blocking work (a marker scan) abandoned at the deadline must not hold the exit up.
    runtime.shutdown_timeout(Duration::from_secs(1));
    Ok(if clean {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
