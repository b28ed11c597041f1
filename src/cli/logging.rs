//! Log setup for every subcommand: text or JSON on stderr, filtered by `-q`/`-v` or `RUST_LOG`;
//! under systemd (stderr is the journal) each line starts with its sd-daemon(3) priority.

use std::fmt;

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;

use super::LogFormatArg;
use super::terminal;

/// The default filter for a verbosity: warnings only with `-q`, Baton's info by default,
/// debug with `-v`, trace with `-vv`.
fn default_filter(verbosity: i8) -> &'static str {
    match verbosity {
        i8::MIN..=-1 => "warn",
        0 => "warn,baton=info",
        1 => "warn,baton=debug",
        _ => "info,baton=trace",
    }
}

/// Installs the global subscriber. `RUST_LOG` (e.g. `baton=debug`) overrides the level the
/// verbosity gives. For a one-shot command (`one_shot`) at the default verbosity, per-image
/// retries and scan failures are left out of the log: the command's own summary reports
/// them once per registry; `-v` or `RUST_LOG` shows them.
pub fn init(format: LogFormatArg, one_shot: bool) {
    let from_env = EnvFilter::try_from_default_env().ok();
    let per_image_noise_hidden = one_shot && from_env.is_none() && terminal::verbosity() <= 0;
    let filter = from_env.unwrap_or_else(|| EnvFilter::new(default_filter(terminal::verbosity())));
    let noise = tracing_subscriber::filter::filter_fn(move |meta| {
        !(per_image_noise_hidden && is_per_image_noise(meta))
    });
    let journal = stderr_is_journal();
    // Colours only for a person at a terminal: cron mail, journald and CI logs get plain text.
    let ansi =
        !journal && terminal::colours_for(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    let base = tracing_subscriber::registry().with(filter).with(noise);
    let layer = tracing_subscriber::fmt::layer()
        .with_ansi(ansi)
        .with_writer(std::io::stderr);
    let result = match format {
        LogFormatArg::Json => base
            .with(layer.json().flatten_event(true).with_current_span(false))
            .try_init(),
        // The journal stamps and ranks every line itself: no time, no level word, a
        // `<N>` prefix instead.
        LogFormatArg::Text if journal => base
            .with(
                layer.event_format(Prioritised(
                    tracing_subscriber::fmt::format()
                        .without_time()
                        .with_level(false)
                        .with_target(false)
                        .with_ansi(false),
                )),
            )
            .try_init(),
        LogFormatArg::Text => base.with(layer.with_target(false)).try_init(),
    };
    if let Err(err) = result {
        eprintln!("warning: logging was already set up: {err}");
    }
}

/// A warning about one image that a one-shot command's summary reports grouped per
/// registry: a registry request being retried or waited out (it carries `delay_ms`), and a
/// failed scan.
fn is_per_image_noise(meta: &tracing::Metadata<'_>) -> bool {
    let target = meta.target();
    *meta.level() == Level::WARN
        && ((target.starts_with("baton::registry") && meta.fields().field("delay_ms").is_some())
            || target == "baton::pass::scan")
}

/// True when stderr is the stream systemd connected to the journal: `JOURNAL_STREAM` holds
/// its `DEVICE:INODE` (systemd.exec(5)), checked so that a child whose stderr was redirected
/// does not inherit the prefixes.
fn stderr_is_journal() -> bool {
    let Ok(value) = std::env::var("JOURNAL_STREAM") else {
        return false;
    };
    let Some((dev, ino)) = value.split_once(':') else {
        return false;
    };
    let (Ok(dev), Ok(ino)) = (dev.parse::<u64>(), ino.parse::<u64>()) else {
        return false;
    };
    let mut stat = std::mem::MaybeUninit::<libc::stat>::uninit();
    // SAFETY: fstat writes a whole `stat` into the buffer when it returns 0.
    let rc = unsafe { libc::fstat(libc::STDERR_FILENO, stat.as_mut_ptr()) };
    if rc != 0 {
        return false;
    }
    // SAFETY: fstat returned 0, so the buffer was filled.
    let stat = unsafe { stat.assume_init() };
    #[allow(clippy::unnecessary_cast, clippy::useless_conversion)]
    let matches = u64::from(stat.st_dev as u64) == dev && u64::from(stat.st_ino as u64) == ino;
    matches
}

/// The sd-daemon(3) priority of a level: 3 err, 4 warning, 6 info, 7 debug.
fn priority(level: &Level) -> u8 {
    match *level {
        Level::ERROR => 3,
        Level::WARN => 4,
        Level::INFO => 6,
        _ => 7,
    }
}

/// Puts `<N>` before each event the inner format writes.
struct Prioritised<F>(F);

impl<S, N, F> FormatEvent<S, N> for Prioritised<F>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        write!(writer, "<{}>", priority(event.metadata().level()))?;
        self.0.format_event(ctx, writer, event)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_map_to_journal_priorities() {
        assert_eq!(priority(&Level::ERROR), 3);
        assert_eq!(priority(&Level::WARN), 4);
        assert_eq!(priority(&Level::INFO), 6);
        assert_eq!(priority(&Level::DEBUG), 7);
    }

    #[test]
    fn verbosity_sets_the_default_filter() {
        assert_eq!(default_filter(-1), "warn");
        assert_eq!(default_filter(0), "warn,baton=info");
        assert_eq!(default_filter(1), "warn,baton=debug");
    }
}
