//! How quickly Baton gives up or carries on when a counterpart misbehaves: the wall-clock
//! figures the fault tests used to bound (tests check the behaviour, this prints the time).
//!
//! - a registry answering 429 with a `Retry-After` date in the past: retried at once;
//! - a registry answering 429 with `Retry-After: 3600`: given up at once, not waited out;
//! - a registry that stalls, with a 300 ms timeout and one retry;
//! - a Git remote that accepts the connection and never answers, with a 2 s timeout.
//!
//! Run with `cargo bench --bench faults`. With `BATON_BENCH_RESULTS=FILE` the medians are
//! also appended to FILE as `key=value` lines for `scripts/bench`.

/// The test suite's fake registry.
#[path = "../tests/suite/support"]
#[allow(dead_code)]
mod support {
    pub mod fake_registry;
}

use std::future::Future;
use std::time::{Duration, Instant};

use baton::git::{RemoteSettings, Workspace};
use baton::registry::{RegistryClient, RegistrySettings};
use support::fake_registry::{Behaviour, FakeRegistry};

const ROUNDS: usize = 5;

/// Runs `round` ROUNDS times; prints each time and returns the median in milliseconds.
async fn median_ms<F, Fut>(label: &str, mut round: F) -> f64
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    let mut millis = Vec::new();
    for n in 1..=ROUNDS {
        let start = Instant::now();
        round().await;
        let ms = start.elapsed().as_secs_f64() * 1000.0;
        println!("{label}: round {n}: {ms:.1} ms");
        millis.push(ms);
    }
    millis.sort_by(f64::total_cmp);
    let median = millis[millis.len() / 2];
    println!("{label}: median {median:.1} ms");
    median
}

fn settings() -> RegistrySettings {
    RegistrySettings {
        insecure: true,
        retry_base_delay: Duration::from_millis(10),
        timeout: Duration::from_secs(10),
        ..Default::default()
    }
}

async fn throttled(retry_after: &str) -> FakeRegistry {
    FakeRegistry::start(Behaviour {
        tags: vec!["1.0".into()],
        retry_after: Some(retry_after.into()),
        ..Default::default()
    })
    .await
}

fn record(figures: &[(&str, f64)]) {
    let Some(path) = std::env::var_os("BATON_BENCH_RESULTS") else {
        return;
    };
    let lines: String = figures
        .iter()
        .map(|(key, ms)| format!("{key}={ms:.1}\n"))
        .collect();
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    file.write_all(lines.as_bytes()).unwrap();
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` does not, and then this only
    // has to build.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    baton::common::http::install_crypto_provider();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let past = throttled("Wed, 21 Oct 2015 07:28:00 GMT").await;
        let client = RegistryClient::new(&past.host(), settings()).unwrap();
        let past_ms = median_ms("429, Retry-After in the past, then the list", || async {
            past.configure(|b| b.throttle_next = 1);
            let list = client.list_tags("a").await.unwrap();
            assert_eq!(list.requests, 2);
        })
        .await;

        let far = throttled("3600").await;
        let client = RegistryClient::new(&far.host(), settings()).unwrap();
        let far_ms = median_ms("429, Retry-After 3600 s: given up", || async {
            far.configure(|b| b.throttle_next = 1);
            assert!(client.list_tags("a").await.is_err());
        })
        .await;

        let stalled = FakeRegistry::start(Behaviour {
            tags: vec!["1.0".into()],
            stall: Some(Duration::from_secs(30)),
            ..Default::default()
        })
        .await;
        let client = RegistryClient::new(
            &stalled.host(),
            RegistrySettings {
                timeout: Duration::from_millis(300),
                max_retries: 1,
                ..settings()
            },
        )
        .unwrap();
        let stall_ms = median_ms(
            "a stalled registry, timeout 300 ms, one retry: given up",
            || async {
                assert!(client.list_tags("slow/app").await.is_err());
            },
        )
        .await;

        // A listener that accepts and never answers; connections are held until the end.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            let mut held = Vec::new();
            for conn in listener.incoming().flatten() {
                held.push(conn);
            }
        });
        let git_ms = median_ms(
            "a git remote that never answers, timeout 2 s: given up",
            || async {
                let mut s =
                    RemoteSettings::new(format!("git://127.0.0.1:{port}/fleet.git"), "main");
                s.timeout = Duration::from_secs(2);
                let state = tempfile::tempdir().unwrap();
                assert!(Workspace::open_or_clone(state.path(), &s).await.is_err());
            },
        )
        .await;

        record(&[
            ("faults_retry_after_past_ms", past_ms),
            ("faults_retry_after_beyond_ms", far_ms),
            ("faults_registry_stall_ms", stall_ms),
            ("faults_git_unresponsive_ms", git_ms),
        ]);
    });
}
