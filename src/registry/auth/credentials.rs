//! The credentials the client answers with: those configured (`Credentials`), resolved by
//! their method (a docker config, a credential helper) when first needed and every few minutes.

use std::time::{Duration, Instant};

use super::ResolvedCredential;
use crate::reference::DOCKER_HUB_API;
use crate::registry::{Call, RegistryClient, RegistryError};

/// How long credentials read from a docker config or helper are reused.
const CREDENTIALS_TTL: Duration = Duration::from_secs(300);

impl RegistryClient {
    /// The configured credentials, resolved (config file, helper) at most
    /// every few minutes.
    pub(super) async fn credentials(
        &self,
        call: &Call<'_>,
    ) -> Result<Option<ResolvedCredential>, RegistryError> {
        let mut cache = self.creds.lock().await;
        if let Some((at, creds)) = cache.as_ref()
            && at.elapsed() < CREDENTIALS_TTL
        {
            return Ok(creds.clone());
        }
        let lookup_host = if self.docker_hub {
            DOCKER_HUB_API
        } else {
            self.base.host_str().unwrap_or(&self.host)
        };
        let lookup_host = match self.base.port() {
            Some(port) if !self.docker_hub => format!("{lookup_host}:{port}"),
            _ => lookup_host.to_string(),
        };
        let creds = self
            .settings
            .credentials
            .resolve(&lookup_host, self.settings.credential_helper_dir.as_deref())
            .await
            .map_err(|detail| RegistryError::Credentials {
                registry: self.host.clone(),
                repository: call.repository.to_string(),
                detail,
            })?;
        *cache = Some((Instant::now(), creds.clone()));
        Ok(creds)
    }
}
