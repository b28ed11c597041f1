//! The Bearer token exchange: a token for the repository's pull scope from the realm the
//! registry named, cached until shortly before it expires; credentials go only to an https
//! realm (or the registry's own host).

use std::time::{Instant, SystemTime};

use reqwest::header::{AUTHORIZATION, CONTENT_TYPE};
use reqwest::{StatusCode, Url};

use super::ResolvedCredential;
use super::basic_value;
use super::challenge::{TokenReply, pull_scope};
use crate::common::secret::Secret;
use crate::registry::error::sanitize;
use crate::registry::{Call, RegistryClient, RegistryError};

impl RegistryClient {
    fn cached_token(&self, scope: &str) -> Option<Secret> {
        let state = self.auth.lock().unwrap_or_else(|e| e.into_inner());
        state
            .tokens
            .get(scope)
            .filter(|(_, expires)| Instant::now() < *expires)
            .map(|(token, _)| token.clone())
    }

    /// A token for the repository's pull scope, from the cache or the realm.
    pub(super) async fn token(
        &self,
        call: &mut Call<'_>,
        realm: &str,
        service: Option<&str>,
    ) -> Result<Secret, RegistryError> {
        let scope = pull_scope(call.repository);
        if let Some(token) = self.cached_token(&scope) {
            return Ok(token);
        }
        let _guard = self.token_lock.lock().await;
        if let Some(token) = self.cached_token(&scope) {
            return Ok(token);
        }
        let realm_url = Url::parse(realm).map_err(|_| {
            self.malformed(
                call,
                format!("the token realm {:?} is not a URL", sanitize(realm, 200)),
            )
        })?;
        match realm_url.scheme() {
            "https" => {}
            "http" if self.settings.insecure => {}
            "http" => {
                return Err(RegistryError::Config {
                    registry: self.host.clone(),
                    repository: call.repository.to_string(),
                    detail: format!(
                        "the token realm {} is plain HTTP: set insecure for this registry only if the network is trusted",
                        sanitize(realm, 200)
                    ),
                });
            }
            other => {
                return Err(self.malformed(
                    call,
                    format!("the token realm uses scheme {:?}", sanitize(other, 20)),
                ));
            }
        }
        let credentials = self.credentials(call).await?;
        let realm_host = realm_url
            .host_str()
            .unwrap_or_default()
            .to_ascii_lowercase();
        let registry_host = self
            .base
            .host_str()
            .unwrap_or_default()
            .to_ascii_lowercase();
        if realm_host != registry_host {
            if credentials.is_some() && realm_url.scheme() != "https" {
                return Err(RegistryError::Config {
                    registry: self.host.clone(),
                    repository: call.repository.to_string(),
                    detail: format!(
                        "the token realm {} is on another host than the registry and plain HTTP: credentials are sent to another host only over https; ask the registry's operator to serve its token realm over https",
                        sanitize(&realm_without_query(realm), 200)
                    ),
                });
            }
            let first = self
                .auth
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .foreign_realms
                .insert(realm_host.clone());
            if first {
                tracing::info!(registry = %self.host, realm = %sanitize(&realm_without_query(realm), 200), realm_host = %realm_host, "the registry's token realm is on another host");
            }
        }
        let request = match &credentials {
            Some(ResolvedCredential::IdentityToken { token, .. }) => {
                let mut form = url::form_urlencoded::Serializer::new(String::new());
                form.append_pair("grant_type", "refresh_token");
                if let Some(service) = service {
                    form.append_pair("service", service);
                }
                form.append_pair("scope", &scope);
                form.append_pair("client_id", "baton");
                form.append_pair("refresh_token", token.expose());
                self.token_http
                    .post(realm_url)
                    .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                    .body(form.finish())
            }
            other => {
                let mut url = realm_url;
                {
                    let mut query = url.query_pairs_mut();
                    if let Some(service) = service {
                        query.append_pair("service", service);
                    }
                    query.append_pair("scope", &scope);
                }
                let request = self.token_http.get(url);
                match other {
                    Some(ResolvedCredential::Basic { username, password }) => {
                        request.header(AUTHORIZATION, basic_value(username, password))
                    }
                    _ => request,
                }
            }
        };
        call.requests += 1;
        tracing::debug!(registry = %self.host, repository = call.repository, scope, "fetching a registry token");
        let resp = request
            .send()
            .await
            .map_err(|e| self.transport_error(call, &e))?;
        let status = resp.status();
        if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
            return Err(self.unauthorized(
                call,
                status.as_u16(),
                format!(
                    "the token server refused the credentials; {}",
                    self.settings.credentials.describe()
                ),
            ));
        }
        let server = sanitize(&realm_without_query(realm), 200);
        let hint = if status.is_redirection() {
            Some(format!(
                "the token server {server} redirected to another origin, which Baton does not follow with credentials: configure the registry's token realm to answer itself"
            ))
        } else if !status.is_success() {
            Some(format!("the token server {server} failed: try again later"))
        } else {
            None
        };
        if let Some(hint) = hint {
            return Err(RegistryError::Server {
                registry: self.host.clone(),
                repository: call.repository.to_string(),
                status: status.as_u16(),
                attempts: 1,
                hint,
            });
        }
        let body = self.read_body(call, resp).await?;
        let reply: TokenReply = serde_json::from_slice(&body).map_err(|e| {
            self.malformed(
                call,
                format!(
                    "the token server's reply is not JSON (line {} column {})",
                    e.line(),
                    e.column()
                ),
            )
        })?;
        let token = reply.token().ok_or_else(|| {
            self.malformed(call, "the token server's reply holds no token".into())
        })?;
        let lifetime = reply.lifetime(SystemTime::now());
        let mut state = self.auth.lock().unwrap_or_else(|e| e.into_inner());
        // Checked: the lifetime is clamped, but a clock near its end must not panic either.
        let now = Instant::now();
        let expires = now.checked_add(lifetime).unwrap_or(now);
        state.tokens.insert(scope, (token.clone(), expires));
        Ok(token)
    }
}

fn realm_without_query(realm: &str) -> String {
    realm.split('?').next().unwrap_or(realm).to_string()
}
