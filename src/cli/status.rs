//! `baton status`: asks a running daemon for its status and prints it.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;

use super::ConfigArg;
use super::output::OutputArg;
use crate::config::read_listen;
use crate::daemon::status::Status;

/// Arguments of `baton status`.
#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// The daemon's address, e.g. 127.0.0.1:9476 or http://host:9476 [default: daemon.listen
    /// of the configuration, else 127.0.0.1:9476].
    #[arg(long, value_name = "URL", conflicts_with = "config")]
    pub url: Option<String>,
    #[command(flatten)]
    pub config: ConfigArg,
    #[command(flatten)]
    pub output: OutputArg,
}

/// The base URL for a listen address; a wildcard address is reached through loopback.
pub fn url_for(listen: SocketAddr) -> String {
    let ip = match listen.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    format!("http://{}", SocketAddr::new(ip, listen.port()))
}

/// The base URL for `--url`: `host:port` without a scheme means plain http.
pub fn base_url(url: &str) -> String {
    let url = url.trim().trim_end_matches('/');
    if url.contains("://") {
        url.to_string()
    } else {
        format!("http://{url}")
    }
}

/// Where the board is, for `baton status`: its address, or why it is not served.
pub fn board_line(base: &str, board: &str) -> Option<String> {
    match board {
        "open" => Some(format!("board: {base}/ (read-only, in a browser)")),
        "token" => Some(format!(
            "board: {base}/ (open {base}/?token=TOKEN once, TOKEN from daemon.ui_token_file)"
        )),
        "refused" => Some(
            "board: not served: daemon.listen is not a loopback address; set daemon.ui_token_file"
                .to_string(),
        ),
        _ => None,
    }
}

/// Prints the status: exit 0 when the daemon is ready, 2 when it answers but is not ready,
/// 1 when it cannot be reached.
pub fn run(args: &StatusArgs) -> anyhow::Result<ExitCode> {
    let base = match &args.url {
        Some(url) => base_url(url),
        None => {
            // Only `daemon.listen` is read: a typo elsewhere must not hide a running daemon.
            let path = args.config.path();
            let (listen, why) = read_listen(&path);
            if let Some(why) = why {
                eprintln!("baton status: {why}; trying the default address {listen}");
            }
            url_for(listen)
        }
    };
    let url = format!("{base}/api/v1/status");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let body = runtime.block_on(async {
        let client = crate::common::http::client_builder()
            .timeout(Duration::from_secs(10))
            .no_proxy()
            .build()
            .context("cannot build the HTTP client")?;
        let response = client.get(&url).send().await.with_context(|| {
            format!(
                "cannot reach the daemon at {url}: is `baton run` running? Name its configuration with --config PATH (or BATON_CONFIG), or its daemon.listen address with --url HOST:PORT"
            )
        })?;
        let status = response.status();
        let body = response
            .text()
            .await
            .with_context(|| format!("cannot read the reply of {url}"))?;
        if !status.is_success() {
            anyhow::bail!("{url} answered {status}: {}", body.trim());
        }
        Ok(body)
    })?;
    let status: Status = serde_json::from_str(&body).with_context(|| {
        format!("{url} did not return a baton status: is this baton's address?")
    })?;
    if args.output.is_json() {
        println!("{}", body.trim_end());
    } else {
        print!("{}", status.to_text());
        if let Some(line) = board_line(&base, &status.board) {
            println!("\n{line}");
        }
    }
    Ok(if status.ready {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_board_line_says_where_or_why_not() {
        let base = "http://127.0.0.1:9476";
        assert_eq!(
            board_line(base, "open").unwrap(),
            "board: http://127.0.0.1:9476/ (read-only, in a browser)"
        );
        assert!(board_line(base, "token").unwrap().contains("?token=TOKEN"));
        assert!(
            board_line(base, "refused")
                .unwrap()
                .contains("daemon.ui_token_file")
        );
        assert_eq!(board_line(base, "off"), None);
        // An older daemon's status has no board field.
        assert_eq!(board_line(base, ""), None);
    }

    #[test]
    fn wildcard_listen_addresses_are_reached_through_loopback() {
        assert_eq!(
            url_for("0.0.0.0:9476".parse().unwrap()),
            "http://127.0.0.1:9476"
        );
        assert_eq!(url_for("[::]:9476".parse().unwrap()), "http://[::1]:9476");
        assert_eq!(
            url_for("127.0.0.1:1234".parse().unwrap()),
            "http://127.0.0.1:1234"
        );
    }

    #[test]
    fn a_url_without_a_scheme_is_http() {
        assert_eq!(base_url("127.0.0.1:9476"), "http://127.0.0.1:9476");
        assert_eq!(base_url("localhost:9476/"), "http://localhost:9476");
        assert_eq!(
            base_url("https://baton.example:443"),
            "https://baton.example:443"
        );
    }
}
