//! How the client answers a registry's auth challenge: Basic with the configured or looked-up
//! credentials, Bearer with a token from the realm (`token`), or a configured token as is.
//! Each auth method is one file implementing [`Method`], registered in [`AuthMethod`].

mod challenge;
mod config;
mod credentials;
mod method;
mod token;

mod anonymous;
mod bearer;
mod docker_config;
mod password;

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use base64::Engine;
use reqwest::header::{HeaderMap, HeaderValue};

use super::{Call, RegistryClient, RegistryError};
use crate::common::kind::named_kinds;
use crate::common::secret::Secret;

pub use challenge::{Challenge, parse_challenges, pull_scope};
pub use config::AuthConfig;
pub use docker_config::{DOCKER_HUB_CONFIG_KEY, is_docker_hub};
pub use method::{
    Configured, Credentials, Holds, Key, Method, ResolvedCredential, Resolving, Target, Value,
    Values,
};

named_kinds! {
    /// How Baton authenticates to a registry, chosen by the keys a `[registries."HOST"]`
    /// section sets (see `AuthConfig`); keys are read, and listed, in this order.
    pub enum AuthMethod: "an auth method", fn method -> dyn Method {
        /// `docker_config`: a docker `config.json` and its credential helpers.
        DockerConfig = "docker_config" => docker_config::DockerConfig,
        /// `username` + `password_file`: Basic auth, or Basic on the token request.
        Password = "password" => password::Password,
        /// `token_file`: a bearer token sent as is on every request.
        Bearer = "bearer" => bearer::Bearer,
        /// No credentials (the fallback; a Bearer challenge still gets an anonymous token).
        Anonymous = "anonymous" => anonymous::Anonymous,
    }
}

/// What the client has learnt of a registry's auth: its challenge and the tokens it gave.
#[derive(Default)]
pub(super) struct AuthState {
    pub(super) challenge: Option<Challenge>,
    tokens: HashMap<String, (Secret, Instant)>,
    /// Token realms on another host than the registry, logged once each.
    foreign_realms: HashSet<String>,
}

impl RegistryClient {
    /// Learns the auth scheme from a 401 so that the next attempt can answer it.
    pub(super) async fn handle_challenge(
        &self,
        call: &mut Call<'_>,
        headers: &HeaderMap,
    ) -> Result<(), RegistryError> {
        let values = headers
            .get_all(reqwest::header::WWW_AUTHENTICATE)
            .iter()
            .filter_map(|v| v.to_str().ok());
        let Some(challenge) = parse_challenges(values) else {
            return Err(self.unauthorized(
                call,
                401,
                format!(
                    "the registry sent no usable WWW-Authenticate challenge; {}",
                    self.settings.credentials.describe()
                ),
            ));
        };
        if challenge == Challenge::Basic && self.credentials(call).await?.is_none() {
            return Err(self.unauthorized(
                call,
                401,
                format!(
                    "the registry requires credentials; {}",
                    self.settings.credentials.describe()
                ),
            ));
        }
        let mut state = self.auth.lock().unwrap_or_else(|e| e.into_inner());
        state.tokens.remove(&pull_scope(call.repository));
        state.challenge = Some(challenge);
        Ok(())
    }

    /// The `Authorization` value for the next request, fetching a token when
    /// the registry speaks Bearer and none is cached.
    pub(super) async fn auth_header(
        &self,
        call: &mut Call<'_>,
    ) -> Result<Option<HeaderValue>, RegistryError> {
        let challenge = self
            .auth
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .challenge
            .clone();
        if self.settings.credentials.method().method().preemptive() {
            return self.credential_header(call).await;
        }
        match challenge {
            None => Ok(None),
            Some(Challenge::Basic) => self.credential_header(call).await,
            Some(Challenge::Bearer { realm, service, .. }) => {
                let token = self.token(call, &realm, service.as_deref()).await?;
                Ok(Some(self.bearer_value(call, &token)?))
            }
        }
    }

    /// The configured credential itself as the `Authorization` value.
    async fn credential_header(
        &self,
        call: &mut Call<'_>,
    ) -> Result<Option<HeaderValue>, RegistryError> {
        match self.credentials(call).await? {
            Some(ResolvedCredential::Basic { username, password }) => {
                Ok(Some(basic_value(&username, &password)))
            }
            Some(ResolvedCredential::IdentityToken { username, token }) => {
                Ok(Some(basic_value(&username, &token)))
            }
            Some(ResolvedCredential::Bearer(token)) => Ok(Some(self.bearer_value(call, &token)?)),
            None => Ok(None),
        }
    }

    fn bearer_value(&self, call: &Call<'_>, token: &Secret) -> Result<HeaderValue, RegistryError> {
        let mut value =
            HeaderValue::from_str(&format!("Bearer {}", token.expose())).map_err(|_| {
                self.unauthorized(
                    call,
                    401,
                    "the token holds characters not allowed in a header; check the token".into(),
                )
            })?;
        value.set_sensitive(true);
        Ok(value)
    }
}

fn basic_value(username: &str, password: &Secret) -> HeaderValue {
    let encoded = base64::engine::general_purpose::STANDARD
        .encode(format!("{username}:{}", password.expose()));
    // Base64 output is always a valid header value.
    let mut value = HeaderValue::from_str(&format!("Basic {encoded}"))
        .unwrap_or_else(|_| HeaderValue::from_static("Basic"));
    value.set_sensitive(true);
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_header_is_sensitive() {
        let v = basic_value("u", &Secret::new("p"));
        assert!(v.is_sensitive());
        assert_eq!(v.to_str().unwrap(), "Basic dTpw");
    }
}
