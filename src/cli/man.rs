//! `baton man`: one manual page with every subcommand's options, the exit codes, the
//! environment and the files, so `man baton` answers without other pages to install.

use std::io::Write;
use std::process::ExitCode;

use clap::CommandFactory;

use super::Cli;

/// The options every subcommand shares, described once at the top of the page.
const GLOBAL_OPTIONS: [&str; 3] = ["log_format", "quiet", "verbose"];

/// Prints the manual page (roff) on stdout.
pub fn run() -> anyhow::Result<ExitCode> {
    let page = render()?;
    std::io::stdout().write_all(page.as_bytes())?;
    Ok(ExitCode::SUCCESS)
}

/// The whole page.
pub fn render() -> anyhow::Result<String> {
    let mut command = Cli::command();
    command.build();
    let top = clap_mangen::Man::new(command.clone())
        .section("1")
        .manual("Baton manual");
    let mut out = Vec::new();
    top.render_title(&mut out)?;
    top.render_name_section(&mut out)?;
    top.render_synopsis_section(&mut out)?;
    top.render_description_section(&mut out)?;
    top.render_options_section(&mut out)?;
    out.extend_from_slice(b".SH COMMANDS\n");
    for sub in command.get_subcommands() {
        if sub.get_name() == "help" || sub.is_hide_set() {
            continue;
        }
        let mut sub = sub.clone();
        for id in GLOBAL_OPTIONS {
            if sub.get_arguments().any(|a| a.get_id() == id) {
                sub = sub.mut_arg(id, |a| a.hide(true));
            }
        }
        let bin = format!("baton {}", sub.get_name());
        let page = clap_mangen::Man::new(sub.bin_name(&bin));
        writeln!(out, ".SS \"{}\"", escape(&bin))?;
        out.extend(body(&page, |m, w| m.render_synopsis_section(w))?);
        out.extend_from_slice(b".PP\n");
        out.extend(body(&page, |m, w| m.render_description_section(w))?);
        let options = body(&page, |m, w| m.render_options_section(w))?;
        if !options.is_empty() {
            out.extend_from_slice(b".PP\nOptions:\n");
            out.extend(options);
        }
    }
    out.extend_from_slice(EXTRA_SECTIONS.as_bytes());
    Ok(String::from_utf8(out)?)
}

/// A section of `page` without its `.SH` heading, which the page's own layout replaces.
fn body(
    page: &clap_mangen::Man,
    section: impl Fn(&clap_mangen::Man, &mut Vec<u8>) -> std::io::Result<()>,
) -> anyhow::Result<Vec<u8>> {
    let mut text = Vec::new();
    section(page, &mut text)?;
    let text = String::from_utf8(text)?;
    let kept: Vec<&str> = text.lines().filter(|l| !l.starts_with(".SH")).collect();
    if kept.is_empty() {
        return Ok(Vec::new());
    }
    Ok(format!("{}\n", kept.join("\n")).into_bytes())
}

/// A text made safe for roff: backslashes and hyphens escaped.
fn escape(text: &str) -> String {
    text.replace('\\', "\\e").replace('-', "\\-")
}

/// Exit status, environment, files and where the rest is documented.
const EXTRA_SECTIONS: &str = r#".SH "EXIT STATUS"
.TP
0
Success: for \fBplan\fR, nothing would move; for \fBstatus\fR, the daemon is ready.
.TP
1
A failure: an invalid configuration or argument, a registry that could not be scanned, an environment that failed, a daemon that cannot be reached. Nothing that failed was pushed.
.TP
2
\fBplan\fR: something would move. \fBstatus\fR: the daemon answers but is not ready.
.TP
3
\fBplan\fR and \fBonce\fR: a marker has a problem (it names an unknown policy, or an environment path is missing) and nothing failed; \fBonce\fR pushed everything else.
.PP
When several apply, 1 wins over 3 and 3 over 2. A usage error (an unknown option, a missing or invalid value) exits 1 for every command; \fB\-\-help\fR and \fB\-\-version\fR exit 0.
.SH ENVIRONMENT
.TP
BATON_CONFIG
The configuration file when \fB\-\-config\fR is not given (default /etc/baton/baton.toml).
.TP
BATON_SECTION__KEY
Overrides one key of the configuration, e.g. BATON_GIT__BRANCH=release or BATON_DAEMON__STATE_DIR=/var/tmp/baton.
.TP
RUST_LOG
Filters the log (e.g. baton=debug), overriding \fB\-q\fR and \fB\-v\fR.
.TP
NO_COLOR
When set, no colours even at a terminal.
.TP
BATON_NOW
An RFC 3339 time at which \fBplan\fR, \fBonce\fR and \fBpromote\fR judge soak times, windows and freezes (a rehearsal); commit times are not changed.
.TP
CREDENTIALS_DIRECTORY
Set by systemd's LoadCredential=; a *_file path starting with $CREDENTIALS_DIRECTORY/ is read from it.
.SH FILES
.TP
/etc/baton/baton.toml
The configuration; /usr/share/doc/baton/examples/baton.toml describes every key.
.TP
/var/lib/baton
The state directory (daemon.state_dir): the clone, and baton.lock naming the process that writes there.
.TP
/etc/baton/credentials/
Secrets for the systemd unit, seen by the service as /run/credentials/baton.service/baton_FILE.
.SH "SEE ALSO"
/usr/share/doc/baton/README.md and /usr/share/doc/baton/docs/ (one-shot runs, the daemon, promotion, JSON output).
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_subcommand_has_a_section_and_no_missing_page_is_named() {
        let page = render().unwrap();
        for name in ["check", "plan", "once", "promote", "status", "init", "man"] {
            assert!(
                page.contains(&format!(".SS \"baton {name}\"")),
                "no section for {name}"
            );
        }
        assert!(!page.contains("baton\\-promote(1)"), "{page}");
        assert!(page.contains(".SH \"EXIT STATUS\""));
    }
}
