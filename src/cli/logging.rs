//! Log setup for every subcommand: text or JSON on stderr, filtered by `RUST_LOG`.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use super::LogFormatArg;

/// Installs the global subscriber. `RUST_LOG` (e.g. `baton=debug`) overrides the
/// default level, which is `info` for Baton and `warn` for libraries.
pub fn init(format: LogFormatArg) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn,baton=info"));
    // Colours only for a person at a terminal: cron mail, journald and CI logs get plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr())
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr);
    let result = match format {
        LogFormatArg::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .try_init(),
        LogFormatArg::Text => builder
            .with_target(false)
            .with_ansi(std::io::stderr().is_terminal())
            .try_init(),
    };
    if let Err(err) = result {
        eprintln!("warning: logging was already set up: {err}");
    }
}
