//! No credentials: the fallback when a section sets no other method's keys. A Bearer
//! challenge still gets an anonymous token.

use super::method::{Credentials, Method};

/// Anonymous access.
pub struct Anonymous;

impl Method for Anonymous {
    fn exclusive(&self) -> bool {
        false
    }

    fn hint(&self, _: &Credentials) -> String {
        "no credentials are configured: add docker_config or username and password_file for this registry".to_string()
    }
}

impl Credentials {
    /// No credentials.
    pub fn anonymous() -> Credentials {
        Credentials::new(super::AuthMethod::Anonymous)
    }
}
