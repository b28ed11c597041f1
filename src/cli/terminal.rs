//! What a person at a terminal gets and a script does not: colours, progress lines, and the
//! `-q`/`-v` verbosity every subcommand shares.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicI8, Ordering};

/// -1 with `-q`, 0 by default, 1 and more with each `-v`.
static VERBOSITY: AtomicI8 = AtomicI8::new(0);

/// Records the verbosity from `-q` and the number of `-v`.
pub fn set_verbosity(quiet: bool, verbose: u8) {
    let level = if quiet {
        -1
    } else {
        i8::try_from(verbose).unwrap_or(i8::MAX)
    };
    VERBOSITY.store(level, Ordering::Relaxed);
}

/// -1 quiet, 0 normal, 1+ verbose.
pub fn verbosity() -> i8 {
    VERBOSITY.load(Ordering::Relaxed)
}

/// True with `-q`: only results, problems and errors are printed.
pub fn quiet() -> bool {
    verbosity() < 0
}

/// Whether colours are wanted on a stream that is (or is not) a terminal: never with
/// `NO_COLOR` set, never for `TERM=dumb`.
pub fn colours_for(is_terminal: bool) -> bool {
    is_terminal
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        && std::env::var("TERM").map_or(true, |t| t != "dumb")
}

/// A progress line on stderr, only when stderr is a terminal and not `-q`: scripts and logs
/// never see it.
pub fn progress(message: &str) {
    if !quiet() && std::io::stderr().is_terminal() {
        eprintln!("... {message}");
    }
}

/// A unified diff with added lines green, removed lines red and hunk headers cyan, when
/// stdout is a terminal that wants colours; unchanged otherwise.
pub fn colour_diff(diff: &str) -> String {
    if !colours_for(std::io::stdout().is_terminal()) {
        return diff.to_string();
    }
    paint_diff(diff)
}

/// The diff with ANSI colours.
fn paint_diff(diff: &str) -> String {
    diff.lines()
        .map(|line| {
            let colour = if line.starts_with("+++") || line.starts_with("---") {
                "1"
            } else if line.starts_with('+') {
                "32"
            } else if line.starts_with('-') {
                "31"
            } else if line.starts_with("@@") {
                "36"
            } else {
                return line.to_string();
            };
            format!("\x1b[{colour}m{line}\x1b[0m")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diff_lines_get_their_colours() {
        let painted = paint_diff("--- a/x\n+++ b/x\n@@ -1 +1 @@\n-old\n+new\n same");
        let lines: Vec<&str> = painted.lines().collect();
        assert_eq!(lines[0], "\x1b[1m--- a/x\x1b[0m");
        assert_eq!(lines[2], "\x1b[36m@@ -1 +1 @@\x1b[0m");
        assert_eq!(lines[3], "\x1b[31m-old\x1b[0m");
        assert_eq!(lines[4], "\x1b[32m+new\x1b[0m");
        assert_eq!(lines[5], " same");
    }
}
