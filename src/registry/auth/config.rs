//! The auth keys of one `[registries."HOST"]` section: read for every registered method,
//! the method they configure chosen, and its secret files read when the client is built.

use std::path::Path;

use super::AuthMethod;
use super::method::{Configured, Credentials, Holds, Value, Values};
use crate::common::secret::{Secret, SecretFileError};
use crate::common::settings::Table;

/// The auth keys of one section and the method they configure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthConfig {
    /// The method the keys configure: the first in `AuthMethod`'s list that holds
    /// credentials of its own (`Method::exclusive`), else the first configured.
    pub method: AuthMethod,
    /// Every auth key set, of any method (paths not read yet).
    pub values: Values,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            method: AuthMethod::Anonymous,
            values: Values::new(),
        }
    }
}

impl AuthConfig {
    /// Reads every registered method's keys from the section, reporting a key that needs
    /// another and two methods that both hold credentials.
    pub fn read(t: &Table) -> AuthConfig {
        let mut values = Values::new();
        for method in AuthMethod::ALL {
            for key in method.method().keys() {
                let value = match key.holds {
                    Holds::Text => t.string(key.name).map(Value::Text),
                    Holds::File | Holds::SecretFile => t.file_path(key.name).map(Value::Path),
                };
                if let Some(value) = value {
                    values.insert(key.name, value);
                }
            }
        }
        let (config, problems) = AuthConfig::choose(values);
        for (key, message) in problems {
            t.error(key, message);
        }
        config
    }

    /// The method `values` configure, and the problems to report on them (key, message).
    pub fn choose(values: Values) -> (AuthConfig, Vec<(&'static str, String)>) {
        let mut problems = Vec::new();
        let mut configured = Vec::new();
        // The key naming each method that holds credentials and is set, in list order.
        let mut holders: Vec<&'static str> = Vec::new();
        for method in AuthMethod::ALL {
            let imp = method.method();
            match imp.configured(&values) {
                Configured::Yes => configured.push(method),
                Configured::No => {}
                Configured::Needs { key, message } => problems.push((key, message.to_string())),
            }
            if imp.exclusive()
                && let Some(key) = main_key(method)
                && values.contains_key(key)
            {
                if let Some(first) = holders.first() {
                    problems.push((key, format!("{key} and {first} are both set: keep one")));
                }
                holders.push(key);
            }
        }
        // Explicit credentials win over a place to look them up, and that over none.
        let chosen = configured
            .iter()
            .find(|method| method.method().exclusive())
            .or(configured.first());
        let config = AuthConfig {
            method: chosen.copied().unwrap_or(AuthMethod::Anonymous),
            values,
        };
        (config, problems)
    }

    /// Every file the auth keys name (secret files and docker configs), by key.
    pub fn files(&self) -> impl Iterator<Item = (&'static str, &Path)> {
        self.values.iter().filter_map(|(key, value)| match value {
            Value::Path(path) => Some((*key, path.as_path())),
            _ => None,
        })
    }

    /// The chosen method's credentials, its secret files read now.
    pub fn load(&self) -> Result<Credentials, SecretFileError> {
        let mut credentials = Credentials::new(self.method);
        for key in self.method.method().keys() {
            let Some(value) = self.values.get(key.name) else {
                continue;
            };
            let value = match (key.holds, value) {
                (Holds::SecretFile, Value::Path(path)) => Value::Secret(Secret::from_file(path)?),
                (_, value) => value.clone(),
            };
            credentials = credentials.with(key.name, value);
        }
        Ok(credentials)
    }
}

/// The key that names `method` in messages: its first key that names a file.
pub fn main_key(method: AuthMethod) -> Option<&'static str> {
    method
        .method()
        .keys()
        .iter()
        .find(|key| key.holds != Holds::Text)
        .map(|key| key.name)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::registry::ResolvedCredential;

    const SECRET: &str = "s3cret-value";

    /// Every key of `method` set: text to `x`, files to paths in `dir` holding `SECRET`.
    fn all_keys(method: AuthMethod, dir: &Path) -> Values {
        let mut values = Values::new();
        for key in method.method().keys() {
            let value = match key.holds {
                Holds::Text => Value::Text("x".into()),
                Holds::File | Holds::SecretFile => {
                    let path = dir.join(key.name);
                    std::fs::write(&path, format!("{SECRET}\n")).unwrap();
                    Value::Path(path)
                }
            };
            values.insert(key.name, value);
        }
        values
    }

    /// A method registered without what it needs fails here: keys shared with another
    /// method, a secret key not named `*_file`, no key to name it in messages, another
    /// method (or the fallback) taking its keys, a secret in its hints, nothing resolved.
    #[tokio::test]
    async fn every_registered_method_is_complete() {
        let dir = tempfile::tempdir().unwrap();
        let mut seen = BTreeSet::new();
        let fallbacks: Vec<AuthMethod> = AuthMethod::ALL
            .into_iter()
            .filter(|m| m.method().keys().is_empty())
            .collect();
        assert_eq!(
            fallbacks,
            [AuthMethod::Anonymous],
            "one fallback, anonymous"
        );
        assert_eq!(AuthMethod::ALL.last(), Some(&AuthMethod::Anonymous));
        assert!(!AuthMethod::Anonymous.method().exclusive());
        for method in AuthMethod::ALL {
            let imp = method.method();
            for key in imp.keys() {
                assert!(seen.insert(key.name), "{method}: key {} is taken", key.name);
                if key.holds == Holds::SecretFile {
                    assert!(key.name.ends_with("_file"), "{method}: {}", key.name);
                }
            }
            if method != AuthMethod::Anonymous {
                assert!(main_key(method).is_some(), "{method} has no file key");
            }
            let (config, problems) = AuthConfig::choose(all_keys(method, dir.path()));
            assert_eq!(config.method, method, "its own keys choose {method}");
            assert!(problems.is_empty(), "{method}: {problems:?}");
            let credentials = config.load().unwrap();
            assert_eq!(credentials.method(), method);
            let hint = credentials.describe();
            assert!(
                !hint.is_empty() && !hint.contains(SECRET),
                "{method}: {hint}"
            );
            assert!(!format!("{credentials:?}").contains(SECRET));
            let needs_file = imp.keys().iter().any(|k| k.holds == Holds::File);
            if !needs_file {
                let resolved = credentials.resolve("r.example", None).await.unwrap();
                assert_eq!(
                    resolved.is_some(),
                    method != AuthMethod::Anonymous,
                    "{method}"
                );
                if imp.preemptive() {
                    assert!(matches!(resolved, Some(ResolvedCredential::Bearer(_))));
                }
            }
        }
    }

    #[test]
    fn precedence_and_conflicts() {
        let path = |p: &str| Value::Path(p.into());
        let values = |pairs: &[(&'static str, Value)]| pairs.iter().cloned().collect::<Values>();
        let (config, problems) = AuthConfig::choose(values(&[
            ("docker_config", path("/d")),
            ("username", Value::Text("u".into())),
            ("password_file", path("/p")),
        ]));
        assert_eq!(config.method, AuthMethod::Password);
        assert!(problems.is_empty());
        assert_eq!(
            config.files().collect::<Vec<_>>(),
            [
                ("docker_config", Path::new("/d")),
                ("password_file", Path::new("/p"))
            ]
        );
        let (config, problems) = AuthConfig::choose(values(&[
            ("username", Value::Text("u".into())),
            ("password_file", path("/p")),
            ("token_file", path("/t")),
        ]));
        assert_eq!(config.method, AuthMethod::Password);
        assert_eq!(
            problems,
            [(
                "token_file",
                "token_file and password_file are both set: keep one".to_string()
            )]
        );
        let (config, problems) =
            AuthConfig::choose(values(&[("username", Value::Text("u".into()))]));
        assert_eq!(config.method, AuthMethod::Anonymous);
        assert_eq!(problems.len(), 1);
        assert!(problems[0].1.starts_with("username needs password_file"));
        let (config, _) = AuthConfig::choose(Values::new());
        assert_eq!(config, AuthConfig::default());
    }
}
