//! Reading a TOML settings file into typed sections, every problem located by file, line and
//! key. `config` assembles Baton's file with it; each subsystem reads its own section.

mod source;
mod table;

pub use source::{ConfigError, ConfigErrors, KeyPath, Location, SpanIndex, display_path};
pub use table::{Reader, Table, describe};

use std::path::Path;

/// Parses `text` (read from `path`) as TOML and indexes where every key was written, or gives
/// the located syntax error.
pub fn parse_toml(path: &Path, text: &str) -> Result<SpanIndex, ConfigError> {
    match toml_edit::Document::parse(text.to_string()) {
        Ok(document) => Ok(SpanIndex::new(path, text, &document)),
        Err(err) => {
            let index = SpanIndex::unparsed(path, text);
            let location = match err.span() {
                Some(span) => index.at_offset(span.start),
                None => Location::Whole(path.to_path_buf()),
            };
            let message = err.message().trim().to_string();
            Err(ConfigError {
                location,
                key: String::new(),
                message: format!("invalid TOML: {message}"),
            })
        }
    }
}
