//! A registry bearer token from a file (`token_file`), sent as is on every request without
//! waiting for a challenge.

use super::AuthMethod;
use super::method::{Credentials, Holds, Key, Method, ResolvedCredential, Value};
use crate::common::secret::Secret;

/// `token_file`.
pub struct Bearer;

const TOKEN_FILE: &str = "token_file";

impl Method for Bearer {
    fn keys(&self) -> &'static [Key] {
        &[Key {
            name: TOKEN_FILE,
            holds: Holds::SecretFile,
        }]
    }

    fn preemptive(&self) -> bool {
        true
    }

    fn credential(&self, credentials: &Credentials) -> Option<ResolvedCredential> {
        let token = credentials.secret(TOKEN_FILE)?;
        Some(ResolvedCredential::Bearer(token.clone()))
    }

    fn hint(&self, _: &Credentials) -> String {
        "check the token configured for this registry".to_string()
    }
}

impl Credentials {
    /// A bearer token sent on every request.
    pub fn bearer(token: Secret) -> Credentials {
        Credentials::new(AuthMethod::Bearer).with(TOKEN_FILE, Value::Secret(token))
    }
}
