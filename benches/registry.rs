//! Lists 10,000 tags from a local `docker-registry` (with and without Basic
//! auth) and prints requests made and wall time per listing. Target:
//! requests = pages + at most one auth round trip.
//!
//! Debian's registry ignores `n`, so it answers in one page; a third run
//! lists the same count from the fault-injection fake registry, paginated
//! (`n=1000`, `Link`) behind a Bearer token server, to count pages and token
//! fetches.
//!
//! Run with `cargo bench --bench registry`.

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::Instant;

use baton::registry::{RegistryClient, RegistrySettings};
use support::fake_registry::{BearerAuth, Behaviour, FakeRegistry};
use support::registry::LocalRegistry;

const TAGS: usize = 10_000;
const ROUNDS: usize = 5;

async fn measure(label: &str, registry: &LocalRegistry) {
    let tags: Vec<String> = (0..TAGS)
        .map(|i| format!("1.{}.{}", i / 100, i % 100))
        .collect();
    let start = Instant::now();
    registry.push_tags("bench/app", &tags).await;
    eprintln!("{label}: pushed {TAGS} tags in {:.2?}", start.elapsed());

    let client = RegistryClient::new(&registry.host(), registry.settings()).unwrap();
    for round in 1..=ROUNDS {
        let start = Instant::now();
        let list = client.list_tags("bench/app").await.unwrap();
        let elapsed = start.elapsed();
        assert_eq!(list.tags.len(), TAGS);
        assert_eq!(list.dropped_invalid, 0);
        println!(
            "{label}: round {round}: {} tags, {} requests, {:.1} ms",
            list.tags.len(),
            list.requests,
            elapsed.as_secs_f64() * 1000.0
        );
    }
}

async fn measure_paginated() {
    let tags: Vec<String> = (0..TAGS)
        .map(|i| format!("1.{}.{}", i / 100, i % 100))
        .collect();
    let fake = FakeRegistry::start(Behaviour {
        tags,
        bearer: Some(BearerAuth {
            expires_in: 300,
            ..Default::default()
        }),
        ..Default::default()
    })
    .await;
    let settings = RegistrySettings {
        insecure: true,
        ..Default::default()
    };
    let client = RegistryClient::new(&fake.host(), settings).unwrap();
    for round in 1..=ROUNDS {
        let tokens_before = fake.token_requests();
        let start = Instant::now();
        let list = client.list_tags("bench/app").await.unwrap();
        let elapsed = start.elapsed();
        assert_eq!(list.tags.len(), TAGS);
        println!(
            "fake, n=1000, bearer: round {round}: {} tags, {} requests ({} token fetches), {:.1} ms",
            list.tags.len(),
            list.requests,
            fake.token_requests() - tokens_before,
            elapsed.as_secs_f64() * 1000.0
        );
    }
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` does not, and
    // then this only has to build.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let open = LocalRegistry::start();
        measure("no auth", &open).await;
        let locked = LocalRegistry::start_with_auth("bench", "bench-password");
        measure("basic auth", &locked).await;
        measure_paginated().await;
    });
}
