//! Lists 10,000 tags from a local `docker-registry` (with and without Basic
//! auth) and prints requests made and wall time per listing. Target:
//! requests = pages + at most one auth round trip.
//!
//! Debian's registry ignores `n`, so it answers in one page; a third run
//! lists the same count from the fault-injection fake registry, paginated
//! (`n=1000`, `Link`) behind a Bearer token server, to count pages and token
//! fetches.
//!
//! A fourth run counts the extra requests `min_age` costs per scan against the real
//! registry: on the first scan, on a repeat scan, for one new tag, for one new multi-arch
//! index (goal: at most one per new candidate tag, none for tags already judged).
//!
//! A fifth part counts the extra registry requests a scan makes with
//! `[images.NAME.signature]` on (cosign signatures, the `.sig` tag and bundles behind the
//! referrers tag): the first scan, a repeat scan, and a scan after one new signed tag.
//!
//! Run with `cargo bench --bench registry`. With `BATON_BENCH_RESULTS=FILE` the
//! figures (requests of the first and of later listings, median time) are also appended
//! to FILE as `key=value` lines for `scripts/bench`; `BATON_BENCH_TAGS=N` lists N tags
//! instead of 10,000 (its quick mode).

/// The test suite's registries; this benchmark uses a part of them.
#[path = "../tests/suite/support"]
#[allow(dead_code)]
mod support {
    pub mod cosign;
    pub mod fake_registry;
    pub mod registry;
}

use std::time::Instant;

use baton::registry::{RegistryClient, RegistrySettings};
use support::fake_registry::{BearerAuth, Behaviour, FakeRegistry};
use support::registry::LocalRegistry;

const DEFAULT_TAGS: usize = 10_000;
const ROUNDS: usize = 5;

/// How many tags to list: `BATON_BENCH_TAGS`, or 10,000.
fn tag_count() -> usize {
    std::env::var("BATON_BENCH_TAGS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_TAGS)
}

/// Requests and milliseconds of each round.
struct Rounds {
    requests: Vec<u32>,
    millis: Vec<f64>,
}

impl Rounds {
    /// Appends `KEY_tags`, `KEY_first_requests`, `KEY_requests` (the later rounds') and
    /// `KEY_median_ms` to `BATON_BENCH_RESULTS`, when it is set.
    fn record(&self, key: &str, tags: usize) {
        let Some(path) = std::env::var_os("BATON_BENCH_RESULTS") else {
            return;
        };
        let mut millis = self.millis.clone();
        millis.sort_by(f64::total_cmp);
        let median = millis[millis.len() / 2];
        let later = self.requests.last().copied().unwrap_or_default();
        let lines = format!(
            "{key}_tags={tags}\n{key}_first_requests={}\n{key}_requests={later}\n{key}_median_ms={median:.1}\n",
            self.requests[0]
        );
        use std::io::Write;
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .unwrap();
        file.write_all(lines.as_bytes()).unwrap();
    }
}

fn tags() -> Vec<String> {
    (0..tag_count())
        .map(|i| format!("1.{}.{}", i / 100, i % 100))
        .collect()
}

async fn measure(label: &str, registry: &LocalRegistry) -> Rounds {
    let tags = tags();
    let start = Instant::now();
    registry.push_tags("bench/app", &tags).await;
    eprintln!(
        "{label}: pushed {} tags in {:.2?}",
        tags.len(),
        start.elapsed()
    );

    let client = RegistryClient::new(&registry.host(), registry.settings()).unwrap();
    let mut rounds = Rounds {
        requests: Vec::new(),
        millis: Vec::new(),
    };
    for round in 1..=ROUNDS {
        let start = Instant::now();
        let list = client.list_tags("bench/app").await.unwrap();
        let elapsed = start.elapsed();
        assert_eq!(list.tags.len(), tags.len());
        assert_eq!(list.dropped_invalid, 0);
        println!(
            "{label}: round {round}: {} tags, {} requests, {:.1} ms",
            list.tags.len(),
            list.requests,
            elapsed.as_secs_f64() * 1000.0
        );
        rounds.requests.push(list.requests);
        rounds.millis.push(elapsed.as_secs_f64() * 1000.0);
    }
    rounds
}

async fn measure_paginated() -> Rounds {
    let tags = tags();
    let count = tags.len();
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
    let mut rounds = Rounds {
        requests: Vec::new(),
        millis: Vec::new(),
    };
    for round in 1..=ROUNDS {
        let tokens_before = fake.token_requests();
        let start = Instant::now();
        let list = client.list_tags("bench/app").await.unwrap();
        let elapsed = start.elapsed();
        assert_eq!(list.tags.len(), count);
        println!(
            "fake, n=1000, bearer: round {round}: {} tags, {} requests ({} token fetches), {:.1} ms",
            list.tags.len(),
            list.requests,
            fake.token_requests() - tokens_before,
            elapsed.as_secs_f64() * 1000.0
        );
        rounds.requests.push(list.requests);
        rounds.millis.push(elapsed.as_secs_f64() * 1000.0);
    }
    rounds
}

/// Appends `key=value` lines to `BATON_BENCH_RESULTS`, when it is set.
fn append_results(lines: &str) {
    let Some(path) = std::env::var_os("BATON_BENCH_RESULTS") else {
        return;
    };
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    file.write_all(lines.as_bytes()).unwrap();
}

/// Appends `key=value` lines for `values` to `BATON_BENCH_RESULTS`, when it is set.
fn record_values(values: &[(&str, u32)]) {
    let lines: String = values.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
    append_results(&lines);
}

/// Tags of the signature measurement: 20 versions, the newest `unsigned` of them unsigned,
/// the rest signed one way (the `.sig` tag, or cosign 3's bundle).
const SIGNED_REPO_TAGS: usize = 20;

/// Requests of one scan of `config`'s only image (listing and judging), less the listing's.
async fn scan_extra(
    config: &baton::config::Config,
    registries: &baton::registry::Registries,
    store: &std::sync::Arc<baton::eligibility::Store>,
) -> u32 {
    let scans =
        baton::pass::scan_images(config, registries, store, jiff::Timestamp::now(), None).await;
    let scan = scans.values().next().unwrap();
    assert!(scan.error.is_none(), "{:?}", scan.error);
    // Debian's registry lists every tag in one page.
    scan.requests - 1
}

/// Extra requests per scan with signatures on, for a repository whose newest `unsigned`
/// tags are unsigned and the rest signed with bundles (`bundles`) or `.sig` tags. Returns
/// (first scan, repeat scan, after one new signed tag).
async fn measure_signatures(unsigned: usize, bundles: bool) -> (u32, u32, u32) {
    use support::cosign::{CosignKey, sign_with_bundle, sign_with_sig_tag};
    let registry = LocalRegistry::start();
    let key = CosignKey::generate();
    let repo = "bench/signed";
    let dir = tempfile::tempdir().unwrap();
    for i in 0..SIGNED_REPO_TAGS {
        let digest = registry.push_image(repo, &format!("1.{i}.0")).await;
        if i + unsigned < SIGNED_REPO_TAGS {
            if bundles {
                sign_with_bundle(&registry, &key, repo, &digest).await;
            } else {
                sign_with_sig_tag(&registry, &key, repo, &digest).await;
            }
        }
    }
    let key_file = dir.path().join("cosign.pub");
    std::fs::write(&key_file, key.public_pem()).unwrap();
    let config_file = dir.path().join("baton.toml");
    std::fs::write(
        &config_file,
        format!(
            "[daemon]\nstate_dir = {state:?}\n[git]\nurl = \"file:///nonexistent.git\"\n\
             [registries.\"{host}\"]\ninsecure = true\n\
             [images.app]\nrepository = \"{host}/{repo}\"\nexclude = ['\\.sig$', '^sha256-']\n\
             [images.app.signature]\nkey_file = {key:?}\n\
             [policies.app]\nimage = \"app\"\nsemver = \"1.x\"\n\
             [environments.prod]\npaths = [\"prod\"]\n",
            state = dir.path().join("state").display().to_string(),
            host = registry.host(),
            key = key_file.display().to_string(),
        ),
    )
    .unwrap();
    let config = baton::config::Config::load(&config_file).unwrap();
    let registries = baton::registry::Registries::from_config(&config.registries).unwrap();
    let store = std::sync::Arc::new(baton::eligibility::Store::in_memory());
    let first = scan_extra(&config, &registries, &store).await;
    let repeat = scan_extra(&config, &registries, &store).await;
    let digest = registry
        .push_image(repo, &format!("1.{SIGNED_REPO_TAGS}.0"))
        .await;
    if bundles {
        sign_with_bundle(&registry, &key, repo, &digest).await;
    } else {
        sign_with_sig_tag(&registry, &key, repo, &digest).await;
    }
    let new_tag = scan_extra(&config, &registries, &store).await;
    let layout = if bundles { "bundles" } else { ".sig tags" };
    println!(
        "signatures on, {SIGNED_REPO_TAGS} tags signed with {layout}, newest {unsigned} unsigned: extra requests per scan: first {first}, repeat {repeat}, after one new signed tag {new_tag}"
    );
    (first, repeat, new_tag)
}

/// One scan of `bench/aged` with its judgements: (listing requests, judgement requests, new
/// judgements).
async fn judged_scan(
    config: &baton::config::Config,
    client: &RegistryClient,
    store: &baton::eligibility::Store,
) -> (u32, u32, usize) {
    let list = client.list_tags("bench/aged").await.unwrap();
    let listing = list.requests;
    let mut scan = baton::pass::ImageScan {
        image: "aged".into(),
        registry: "bench".into(),
        tags: Some(list.tags),
        dropped_invalid: 0,
        requests: listing,
        error: None,
        error_kind: None,
        judged: None,
    };
    let policies = baton::pass::policies_of(config, "aged");
    baton::pass::judge_scan(
        &config.images["aged"],
        &policies,
        &mut scan,
        client,
        store,
        jiff::Timestamp::now(),
        baton::pass::Walk::UntilEligible,
    )
    .await;
    let judged = scan.judged.unwrap();
    (listing, judged.requests, judged.new)
}

/// Extra registry requests per scan with `min_age = "1h"`: ten tags built two hours ago and
/// two young ones on top, then a repeat scan, then one new young tag, then a new index.
async fn measure_min_age(registry: &LocalRegistry) {
    let old = (jiff::Timestamp::now() - jiff::SignedDuration::from_hours(2)).to_string();
    for i in 0..10 {
        registry
            .push_image_created("bench/aged", &format!("1.0.{i}"), old.clone().into())
            .await;
    }
    let young = jiff::Timestamp::now().to_string();
    for i in 0..2 {
        registry
            .push_image_created("bench/aged", &format!("1.1.{i}"), young.clone().into())
            .await;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("baton.toml");
    std::fs::write(
        &path,
        format!(
            "[daemon]\nstate_dir = \"{}\"\n[git]\nurl = \"file:///nowhere\"\n[registries.\"{h}\"]\ninsecure = true\n[images.aged]\nrepository = \"{h}/bench/aged\"\nmin_age = \"1h\"\n[policies.aged]\nimage = \"aged\"\nsemver = \"*\"\n",
            dir.path().join("state").display(),
            h = registry.host()
        ),
    )
    .unwrap();
    let config = baton::config::Config::load(&path).unwrap();
    let client = RegistryClient::new(&registry.host(), registry.settings()).unwrap();
    let store = baton::eligibility::Store::open(&config.daemon.state_dir);
    let first = judged_scan(&config, &client, &store).await;
    let repeat = judged_scan(&config, &client, &store).await;
    registry
        .push_image_created("bench/aged", "1.2.0", young.clone().into())
        .await;
    let new_tag = judged_scan(&config, &client, &store).await;
    registry
        .push_index_created("bench/aged", "1.3.0", Some(&young))
        .await;
    let new_index = judged_scan(&config, &client, &store).await;
    for (label, (listing, extra, new)) in [
        ("first scan (12 tags, 2 young on top)", first),
        ("repeat scan", repeat),
        ("one new tag", new_tag),
        ("one new multi-arch index", new_index),
    ] {
        println!(
            "min_age: {label}: listing {listing} request(s), judgements {extra} extra request(s) for {new} new tag(s)"
        );
    }
    append_results(&format!(
        "min_age_first_extra={}\nmin_age_first_new={}\nmin_age_repeat_extra={}\nmin_age_new_tag_extra={}\nmin_age_new_index_extra={}\n",
        first.1, first.2, repeat.1, new_tag.1, new_index.1
    ));
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
        let count = tag_count();
        let open = LocalRegistry::start();
        measure("no auth", &open)
            .await
            .record("registry_open", count);
        let locked = LocalRegistry::start_with_auth("bench", "bench-password");
        measure("basic auth", &locked)
            .await
            .record("registry_basic", count);
        measure_paginated().await.record("registry_paged", count);
        measure_min_age(&open).await;
        let (first, repeat, new_tag) = measure_signatures(0, false).await;
        let (bundle_first, bundle_repeat, bundle_new_tag) = measure_signatures(0, true).await;
        let (unsigned_first, unsigned_repeat, _) = measure_signatures(3, false).await;
        record_values(&[
            ("signatures_tags", SIGNED_REPO_TAGS as u32),
            ("signatures_first_extra", first),
            ("signatures_repeat_extra", repeat),
            ("signatures_new_tag_extra", new_tag),
            ("signatures_bundle_first_extra", bundle_first),
            ("signatures_bundle_repeat_extra", bundle_repeat),
            ("signatures_bundle_new_tag_extra", bundle_new_tag),
            ("signatures_unsigned3_first_extra", unsigned_first),
            ("signatures_unsigned3_repeat_extra", unsigned_repeat),
        ]);
    });
}
