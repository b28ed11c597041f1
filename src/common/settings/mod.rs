//! Reading a TOML settings file into typed sections, every problem located by file, line and
//! key. `config` assembles Baton's file with it; each subsystem reads its own section.

mod source;
mod table;

pub use source::{ConfigError, ConfigErrors, KeyPath, Location, SpanIndex, display_path};
pub use table::{Reader, Table, describe};

use std::path::Path;

use figment::value::{Dict, Map, Value};
use figment::{Profile, Provider};

/// What a settings file and its overrides read as: each profile's values.
pub type Data = figment::Result<Map<Profile, Dict>>;

/// `file`'s values with `overrides`' merged over them as [`figment::Figment::merge`] merges a
/// provider (tables key by key, anything else replaced; a merged table takes the override's
/// tag). The file's values are parsed here rather than merged into the figment too, which
/// would keep a second copy of them for as long as the reading lasts (thousands of images).
// The error is figment's own, as `Provider::data` returns it.
#[allow(clippy::result_large_err)]
pub fn merge_over(file: impl Provider, overrides: Data) -> Data {
    let mut data = file.data()?;
    for (profile, dict) in overrides? {
        merge_dict(data.entry(profile).or_default(), dict);
    }
    Ok(data)
}

fn merge_dict(base: &mut Dict, over: Dict) {
    for (key, value) in over {
        match (base.get_mut(&key), value) {
            (Some(Value::Dict(tag, base)), Value::Dict(over_tag, over)) => {
                *tag = over_tag;
                merge_dict(base, over);
            }
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;
    use figment::providers::{Format, Toml};

    #[test]
    fn overrides_merge_as_figment_merges_them() {
        let file = "[daemon]\nconcurrency = 4\nlisten = \"a\"\n[git]\nurl = \"u\"\n";
        let over = "[daemon]\nconcurrency = 8\n[markers]\ninclude = [\"x\"]\n";
        let figment = figment::Figment::new().merge(Toml::string(over));
        let ours = merge_over(Toml::string(file), figment.data()).unwrap();
        let theirs = figment::Figment::new()
            .merge(Toml::string(file))
            .merge(Toml::string(over))
            .data()
            .unwrap();
        // The same values (compared without the tags, which differ by design: see below).
        let json = |data: &Map<Profile, Dict>| serde_json::to_value(data).unwrap();
        assert_eq!(json(&ours), json(&theirs));
        let daemon = ours[&Profile::Default]["daemon"].as_dict().unwrap();
        assert_eq!(daemon["concurrency"].to_i128(), Some(8));
        assert_eq!(daemon["listen"].as_str(), Some("a"));
        // The merged table and the overriding value carry the override's tag; the file's own
        // values carry none (they are located by the file's index instead).
        let tag = ours[&Profile::Default]["daemon"].tag();
        assert!(figment.get_metadata(tag).is_some());
        assert!(figment.get_metadata(daemon["concurrency"].tag()).is_some());
        assert!(figment.get_metadata(daemon["listen"].tag()).is_none());
    }
}
