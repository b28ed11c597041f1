//! The clients of every registry in one pool, each created on first use with its host's
//! settings and shared afterwards.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use super::{RegistryClient, RegistryConfig, RegistryError, RegistrySettings, is_docker_hub};
use crate::common::secret::SecretFileError;
use crate::reference::{DOCKER_HUB, ImageName};

/// A shared pool of clients keyed by registry host, each with its own
/// settings; the daemon holds one and every scan borrows from it.
#[derive(Debug)]
pub struct Registries {
    default: RegistrySettings,
    per_host: HashMap<String, RegistrySettings>,
    clients: Mutex<HashMap<String, Arc<RegistryClient>>>,
}

impl Registries {
    /// A pool using `per_host` settings where a host is listed (keys as in the
    /// config: `ghcr.io`, `localhost:5000`, `docker.io`) and `default` elsewhere.
    pub fn new(default: RegistrySettings, per_host: HashMap<String, RegistrySettings>) -> Self {
        let per_host = per_host
            .into_iter()
            .map(|(host, settings)| (pool_key(&host), settings))
            .collect();
        Registries {
            default,
            per_host,
            clients: Mutex::new(HashMap::new()),
        }
    }

    /// A pool with the settings of every `[registries."HOST"]` section.
    pub fn from_config(
        sections: &BTreeMap<String, RegistryConfig>,
    ) -> Result<Registries, SecretFileError> {
        let mut per_host = HashMap::new();
        for (host, section) in sections {
            per_host.insert(host.clone(), RegistrySettings::from_config(Some(section))?);
        }
        Ok(Registries::new(RegistrySettings::default(), per_host))
    }

    /// The client for `host`, created on first use and shared afterwards.
    pub fn client(&self, host: &str) -> Result<Arc<RegistryClient>, RegistryError> {
        let key = pool_key(host);
        let mut clients = self.clients.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(client) = clients.get(&key) {
            return Ok(client.clone());
        }
        let settings = self
            .per_host
            .get(&key)
            .cloned()
            .unwrap_or_else(|| self.default.clone());
        let client = Arc::new(RegistryClient::new(&key, settings)?);
        clients.insert(key, client.clone());
        Ok(client)
    }

    /// The client serving `image`'s registry.
    pub fn for_image(&self, image: &ImageName) -> Result<Arc<RegistryClient>, RegistryError> {
        self.client(&image.registry)
    }

    /// The last `RateLimit-Remaining` per registry host seen so far, for metrics.
    pub fn rate_limits(&self) -> Vec<(String, u64)> {
        let clients = self.clients.lock().unwrap_or_else(|e| e.into_inner());
        let mut out: Vec<(String, u64)> = clients
            .iter()
            .filter_map(|(host, c)| c.rate_limit_remaining().map(|n| (host.clone(), n)))
            .collect();
        out.sort();
        out
    }
}

/// Every spelling of Docker Hub shares one pool entry.
fn pool_key(host: &str) -> String {
    let host = host.trim().to_ascii_lowercase();
    if is_docker_hub(&host) {
        DOCKER_HUB.to_string()
    } else {
        host
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_shares_clients_per_host() {
        let mut per_host = HashMap::new();
        per_host.insert(
            "localhost:5000".to_string(),
            RegistrySettings {
                insecure: true,
                page_size: 50,
                ..Default::default()
            },
        );
        let pool = Registries::new(RegistrySettings::default(), per_host);
        let a = pool.client("localhost:5000").unwrap();
        let b = pool
            .for_image(&ImageName::parse("localhost:5000/app").unwrap())
            .unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        assert!(a.settings().insecure);
        assert_eq!(a.settings().page_size, 50);
        let hub = pool.client("registry-1.docker.io").unwrap();
        let hub2 = pool.for_image(&ImageName::parse("nginx").unwrap()).unwrap();
        assert!(Arc::ptr_eq(&hub, &hub2));
        assert!(!hub.settings().insecure);
        assert!(pool.rate_limits().is_empty());
    }
}
