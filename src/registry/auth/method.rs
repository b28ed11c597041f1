//! What makes one registry auth method: the keys of `[registries."HOST"]` it reads, what it
//! puts on a request and where to look when it is refused. Each is one file registered in `AuthMethod`.

use std::collections::BTreeMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;

use super::AuthMethod;
use crate::common::secret::Secret;

/// One way of authenticating to a registry. The client does the rest: the challenge, the
/// token exchange, caching, redirects and error classification.
pub trait Method: Sync {
    /// The keys of `[registries."HOST"]` this method reads; the first that names a file names
    /// the method in messages. Only the fallback (anonymous, configured by no key) has none.
    fn keys(&self) -> &'static [Key] {
        &[]
    }

    /// Whether the keys set in a section configure this method, or which key needs another.
    /// By default: when all of [`Method::keys`] are set.
    fn configured(&self, keys: &Values) -> Configured {
        if self.keys().iter().all(|key| keys.contains_key(key.name)) {
            Configured::Yes
        } else {
            Configured::No
        }
    }

    /// Whether the method holds a credential of its own: such a method wins over one that
    /// only says where to look (a docker config) or has none (anonymous), and a section may
    /// not set two of them.
    fn exclusive(&self) -> bool {
        true
    }

    /// Whether the credential goes on every request without waiting for a challenge; a 401
    /// is then final.
    fn preemptive(&self) -> bool {
        false
    }

    /// What goes on a request, from the configured values alone; `None` is anonymous. By
    /// default none: a method that looks its credential up implements [`Method::resolve`].
    fn credential(&self, credentials: &Credentials) -> Option<ResolvedCredential> {
        let _ = credentials;
        None
    }

    /// What goes on a request to `target`; `None` is anonymous. An error is the detail of a
    /// `RegistryError::Credentials` and never holds a secret. By default
    /// [`Method::credential`], at once.
    fn resolve<'a>(&'a self, credentials: &'a Credentials, target: Target<'a>) -> Resolving<'a> {
        let _ = target;
        Box::pin(std::future::ready(Ok(self.credential(credentials))))
    }

    /// Where to look when the registry refuses these credentials, for error hints.
    fn hint(&self, credentials: &Credentials) -> String;
}

/// Where credentials are looked up for.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    /// The registry as credentials name it: `host:port`, Docker Hub's API host for Docker Hub.
    pub host: &'a str,
    /// Where `docker-credential-*` helpers are; `None` searches `PATH`.
    pub helper_dir: Option<&'a Path>,
}

/// The reply of [`Method::resolve`].
pub type Resolving<'a> =
    Pin<Box<dyn Future<Output = Result<Option<ResolvedCredential>, String>> + Send + 'a>>;

/// One key an auth method reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Key {
    /// The key in `[registries."HOST"]`.
    pub name: &'static str,
    /// What its value is.
    pub holds: Holds,
}

/// What one key holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Holds {
    /// Plain text, such as a user name.
    Text,
    /// The path of a file read each time credentials are looked up (a docker `config.json`).
    File,
    /// The path of a file holding a secret (its key ends in `_file`), read when the client
    /// is built so that a missing or empty one is reported before any request.
    SecretFile,
}

/// Whether a section's keys configure a method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Configured {
    /// They do.
    Yes,
    /// None of its keys, or not all, are set.
    No,
    /// `key` is set but needs another key: `message` says which.
    Needs {
        /// The key that is set.
        key: &'static str,
        /// What to add, as the configuration error says it.
        message: &'static str,
    },
}

/// One value of an auth key: the text or path read from the section, or the secret read
/// from its file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// A [`Holds::Text`] key.
    Text(String),
    /// A [`Holds::File`] key, or a [`Holds::SecretFile`] key before its file is read.
    Path(PathBuf),
    /// A [`Holds::SecretFile`] key's secret.
    Secret(Secret),
}

/// Auth keys by name.
pub type Values = BTreeMap<&'static str, Value>;

/// The credentials for one registry: the method and its keys' values, secrets read.
/// Debug shows the secrets as `***`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    method: AuthMethod,
    values: Values,
}

impl Default for Credentials {
    fn default() -> Self {
        Credentials::new(AuthMethod::Anonymous)
    }
}

impl Credentials {
    /// Credentials of `method` with no values yet (see [`Credentials::with`]).
    pub fn new(method: AuthMethod) -> Credentials {
        Credentials {
            method,
            values: Values::new(),
        }
    }

    /// The same, with `key` set to `value`.
    #[must_use]
    pub fn with(mut self, key: &'static str, value: Value) -> Credentials {
        self.values.insert(key, value);
        self
    }

    /// The method these credentials are for.
    pub fn method(&self) -> AuthMethod {
        self.method
    }

    /// The text of a [`Holds::Text`] key.
    pub fn text(&self, key: &str) -> Option<&str> {
        match self.values.get(key)? {
            Value::Text(text) => Some(text),
            _ => None,
        }
    }

    /// The path of a [`Holds::File`] key.
    pub fn path(&self, key: &str) -> Option<&Path> {
        match self.values.get(key)? {
            Value::Path(path) => Some(path),
            _ => None,
        }
    }

    /// The secret of a [`Holds::SecretFile`] key.
    pub fn secret(&self, key: &str) -> Option<&Secret> {
        match self.values.get(key)? {
            Value::Secret(secret) => Some(secret),
            _ => None,
        }
    }

    /// Where to look when the registry refuses these credentials, for error hints.
    pub fn describe(&self) -> String {
        self.method.method().hint(self)
    }

    /// What goes on a request to `host`, as [`Method::resolve`] says.
    pub async fn resolve(
        &self,
        host: &str,
        helper_dir: Option<&Path>,
    ) -> Result<Option<ResolvedCredential>, String> {
        let target = Target { host, helper_dir };
        self.method.method().resolve(self, target).await
    }
}

/// Credentials ready to put on a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResolvedCredential {
    /// Username and password: Basic auth, or Basic on the token request.
    Basic {
        /// Account name.
        username: String,
        /// Password.
        password: Secret,
    },
    /// An OAuth2 refresh token (`identitytoken`, or a helper's `<token>` user).
    IdentityToken {
        /// Account name, when known.
        username: String,
        /// The refresh token.
        token: Secret,
    },
    /// A registry token sent as `Authorization: Bearer` directly.
    Bearer(Secret),
}
