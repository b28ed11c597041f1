//! A username and a password from a file (`username` + `password_file`), sent as Basic auth
//! or on the Bearer token request.

use super::AuthMethod;
use super::method::{
    Configured, Credentials, Holds, Key, Method, ResolvedCredential, Value, Values,
};
use crate::common::secret::Secret;

/// `username` + `password_file`.
pub struct Password;

const USERNAME: &str = "username";
const PASSWORD_FILE: &str = "password_file";

impl Method for Password {
    fn keys(&self) -> &'static [Key] {
        &[
            Key {
                name: USERNAME,
                holds: Holds::Text,
            },
            Key {
                name: PASSWORD_FILE,
                holds: Holds::SecretFile,
            },
        ]
    }

    fn configured(&self, keys: &Values) -> Configured {
        match (
            keys.contains_key(USERNAME),
            keys.contains_key(PASSWORD_FILE),
        ) {
            (true, true) => Configured::Yes,
            (true, false) => Configured::Needs {
                key: USERNAME,
                message: "username needs password_file: put the password in a file and set password_file",
            },
            (false, true) => Configured::Needs {
                key: PASSWORD_FILE,
                message: "password_file needs username",
            },
            (false, false) => Configured::No,
        }
    }

    fn credential(&self, credentials: &Credentials) -> Option<ResolvedCredential> {
        let password = credentials.secret(PASSWORD_FILE)?;
        Some(ResolvedCredential::Basic {
            username: credentials.text(USERNAME).unwrap_or_default().to_string(),
            password: password.clone(),
        })
    }

    fn hint(&self, credentials: &Credentials) -> String {
        let username = credentials.text(USERNAME).unwrap_or_default();
        format!("check the username {username:?} and password configured for this registry")
    }
}

impl Credentials {
    /// A username and its password.
    pub fn password(username: impl Into<String>, password: Secret) -> Credentials {
        Credentials::new(AuthMethod::Password)
            .with(USERNAME, Value::Text(username.into()))
            .with(PASSWORD_FILE, Value::Secret(password))
    }
}
