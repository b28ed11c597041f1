//! Policy engine throughput over 100,000 realistic tags, one benchmark per policy kind.
//!
//! Run with `cargo bench --bench policy`. The design target is well under 20 ms per
//! semver choice over 100,000 tags on one core.

use std::hint::black_box;

use baton::policy::{Order, Policy, Rule, SemverRange, TagFilter};
use criterion::{Criterion, criterion_group, criterion_main};

const TAGS: usize = 100_000;

/// Small deterministic generator (xorshift64*), so every run sees the same tags.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn hex(&mut self, len: usize) -> String {
        (0..len)
            .map(|_| char::from(b"0123456789abcdef"[self.below(16) as usize]))
            .collect()
    }
}

/// A mix like a busy repository: releases (some `v`-prefixed, some pre-releases), branch
/// builds with timestamps, commit tags, build numbers, cosign signatures and odd names.
fn tags() -> Vec<String> {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    (0..TAGS)
        .map(|_| match rng.below(100) {
            0..=39 => {
                let v = if rng.below(4) == 0 { "v" } else { "" };
                let (ma, mi, pa) = (rng.below(20), rng.below(50), rng.below(100));
                if rng.below(10) == 0 {
                    format!("{v}{ma}.{mi}.{pa}-rc.{}", rng.below(5))
                } else {
                    format!("{v}{ma}.{mi}.{pa}")
                }
            }
            40..=59 => format!(
                "main-{}-{}",
                rng.hex(7),
                1_600_000_000 + rng.below(100_000_000)
            ),
            60..=74 => format!("sha-{}", rng.hex(7)),
            75..=84 => rng.below(1_000_000).to_string(),
            85..=94 => format!("sha256-{}.sig", rng.hex(64)),
            _ => ["latest", "stable", "1.2", "edge", "nightly"][rng.below(5) as usize].to_string(),
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let tags = tags();
    let semver = |range: &str| {
        Policy::new(
            "bench",
            Rule::Semver(SemverRange::parse(range).expect("benchmark range parses")),
        )
    };
    let mut filtered = Policy::new("bench", Rule::Numerical(Order::Asc));
    filtered.filter = Some(
        TagFilter::new(r"^main-[a-f0-9]+-(?P<ts>[0-9]+)", Some("$ts"))
            .expect("benchmark filter compiles"),
    );
    let cases = [
        ("semver ^1.0", semver("^1.0")),
        (
            "semver >= 1.0, < 15.0 || 17.x",
            semver(">= 1.0, < 15.0 || 17.x"),
        ),
        ("semver >=1.0.0-0", semver(">=1.0.0-0")),
        (
            "alphabetical asc",
            Policy::new("bench", Rule::Alphabetical(Order::Asc)),
        ),
        (
            "numerical asc",
            Policy::new("bench", Rule::Numerical(Order::Asc)),
        ),
        ("filter+extract numerical asc", filtered),
    ];
    for (name, policy) in &cases {
        assert!(
            policy.choose(&tags).chosen.is_some(),
            "{name} chooses a tag"
        );
        c.bench_function(&format!("choose 100k: {name}"), |b| {
            b.iter(|| policy.choose(black_box(&tags)))
        });
    }
    c.bench_function("rank 100k: semver ^1.0", |b| {
        b.iter(|| cases[0].1.rank(black_box(&tags)))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
