//! Reads only `daemon.listen`, leniently, for `baton status`: a typo elsewhere in the file
//! (exactly when an operator asks a daemon what it is doing) must not stop it.

use std::net::SocketAddr;
use std::path::Path;

use super::{DEFAULT_LISTEN_PORT, ENV_PREFIX};

/// The listener address when `daemon.listen` is not set.
pub fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], DEFAULT_LISTEN_PORT))
}

/// Where the daemon configured by `path` listens, and why the default is used when it is:
/// `BATON_DAEMON__LISTEN` first, then `daemon.listen` in the file; any problem (a missing or
/// unparsable file, an invalid address) gives the default address and the reason.
pub fn read_listen(path: &Path) -> (SocketAddr, Option<String>) {
    let env_key = format!("{ENV_PREFIX}DAEMON__LISTEN");
    if let Some(text) = std::env::var(&env_key)
        .ok()
        .filter(|v| !v.trim().is_empty())
    {
        return match text.trim().parse() {
            Ok(addr) => (addr, None),
            Err(_) => fallback(format!(
                "{env_key}={text:?} is not an address (write IP:PORT)"
            )),
        };
    }
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(err) => {
            return fallback(format!("cannot read {}: {err}", path.display()));
        }
    };
    listen_in(&text).unwrap_or_else(|why| fallback(format!("{}: {why}", path.display())))
}

fn fallback(why: String) -> (SocketAddr, Option<String>) {
    (default_listen(), Some(why))
}

/// `daemon.listen` of configuration text; a file that does not parse as a whole is still read
/// line by line for a `listen = "..."` under `[daemon]`.
fn listen_in(text: &str) -> Result<(SocketAddr, Option<String>), String> {
    let value = match text.parse::<toml_edit::Document<String>>() {
        Ok(document) => document
            .get("daemon")
            .and_then(|d| d.get("listen"))
            .map(|v| {
                v.as_str()
                    .map(str::to_string)
                    .ok_or("daemon.listen is not a string")
            }),
        Err(_) => scan_lines(text).map(Ok),
    };
    match value {
        None => Ok((default_listen(), None)),
        Some(Err(why)) => Err(why.to_string()),
        Some(Ok(text)) => match text.trim().parse() {
            Ok(addr) => Ok((addr, None)),
            Err(_) => Err(format!("daemon.listen {text:?} is not an address")),
        },
    }
}

/// `listen = "ADDR"` inside the `[daemon]` table of text that is not valid TOML.
fn scan_lines(text: &str) -> Option<String> {
    let mut in_daemon = false;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_daemon = line.trim_start_matches('[').trim_end_matches(']').trim() == "daemon";
            continue;
        }
        if !in_daemon {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        if key.trim() != "listen" {
            continue;
        }
        let value = value.split('#').next().unwrap_or("").trim();
        let unquoted = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .or_else(|| value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))?;
        return Some(unquoted.to_string());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_is_read_from_valid_and_broken_files() {
        let addr = |t: &str| listen_in(t).map(|(a, _)| a.to_string());
        assert_eq!(
            addr("[daemon]\nlisten = \"127.0.0.1:1234\"\n").unwrap(),
            "127.0.0.1:1234"
        );
        assert_eq!(addr("[git]\nurl = \"x\"\n").unwrap(), "127.0.0.1:9476");
        // A typo elsewhere (an unclosed string) does not hide the address.
        let broken = "[daemon]\nlisten = \"0.0.0.0:4000\" # all\n\n[git]\nurl = \"oops\n";
        assert_eq!(addr(broken).unwrap(), "0.0.0.0:4000");
        assert!(addr("[daemon]\nlisten = \"nowhere\"\n").is_err());
        assert!(addr("[daemon]\nlisten = 9476\n").is_err());
    }
}
