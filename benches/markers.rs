//! The full marker pass over a generated repository: 10,000 YAML files, about 100 MB,
//! holding 2,000 markers in 1,500 files (Deployments with a full reference, Kustomize
//! `newName`/`newTag` pairs, Helm `tag:` values).
//!
//! `cargo bench --bench markers` runs criterion over scan, plan and scan+plan. The same
//! binary also serves `scripts/bench-markers`, which compares the pass with a shell floor:
//!
//! - `BATON_MARKERS_GENERATE=DIR`: write the repository into DIR and exit;
//! - `BATON_MARKERS_TIME=DIR`: time scan+plan (and, with `BATON_MARKERS_APPLY=1`,
//!   scan+plan+apply) over DIR once and print the figures as `key=value` lines.
//!
//! The generator is deterministic (xorshift64* with a fixed seed): every run sees the same bytes.

use std::collections::HashMap;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use baton::markers::{self, Marker, Resolved, ScanOptions};
use criterion::Criterion;

const FILES: usize = 10_000;
const TARGET_BYTES: usize = 100 * 1024 * 1024;
/// Files with one marker, and files with two (Kustomize name + tag).
const ONE_MARKER_FILES: usize = 1_000;
const TWO_MARKER_FILES: usize = 500;
const POLICIES: usize = 400;

/// Small deterministic generator (xorshift64*).
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

    fn word(&mut self) -> &'static str {
        const WORDS: &[&str] = &[
            "checkout", "payments", "catalog", "search", "ledger", "gateway", "worker", "cache",
            "orders", "billing", "session", "profile", "metrics", "audit", "report", "export",
        ];
        WORDS[self.below(WORDS.len() as u64) as usize]
    }

    fn hex(&mut self, len: usize) -> String {
        (0..len)
            .map(|_| char::from(b"0123456789abcdef"[self.below(16) as usize]))
            .collect()
    }
}

/// What kind of marker a file carries.
#[derive(Clone, Copy)]
enum Kind {
    None,
    Deployment,
    Helm,
    Kustomize,
}

/// One Kubernetes-like YAML file of about `size` bytes.
fn file_text(rng: &mut Rng, index: usize, kind: Kind, size: usize) -> String {
    let app = format!("{}-{index}", rng.word());
    let policy = format!("app-{}", index % POLICIES);
    let repo = format!("ghcr.io/acme/{policy}");
    let mut out = String::with_capacity(size + 1024);
    match kind {
        Kind::Kustomize => {
            out.push_str("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n");
            out.push_str("resources:\n  - deployment.yaml\n  - service.yaml\nimages:\n");
            out.push_str(&format!(
                "  - name: {policy}\n    newName: {repo} # {{\"$imagepolicy\": \"flux-system:{policy}:name\"}}\n    newTag: 1.0.{} # {{\"$imagepolicy\": \"flux-system:{policy}:tag\"}}\n",
                rng.below(50)
            ));
            out.push_str("configMapGenerator:\n  - name: settings\n    literals:\n");
        }
        Kind::Helm => {
            out.push_str(&format!("replicaCount: {}\nimage:\n", 1 + rng.below(5)));
            out.push_str(&format!(
                "  repository: {repo}\n  tag: \"1.0.{}\" # {{\"$imagepolicy\": \"flux-system:{policy}:tag\"}}\n  pullPolicy: IfNotPresent\nsettings:\n  literals:\n",
                rng.below(50)
            ));
        }
        Kind::Deployment | Kind::None => {
            out.push_str(&format!(
                "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {app}\n  namespace: {}\n  labels:\n    app.kubernetes.io/name: {app}\n    app.kubernetes.io/part-of: {}\nspec:\n  replicas: {}\n  template:\n    spec:\n      containers:\n        - name: {app}\n",
                rng.word(),
                rng.word(),
                1 + rng.below(5)
            ));
            if matches!(kind, Kind::Deployment) {
                out.push_str(&format!(
                    "          image: {repo}:1.0.{} # {{\"$imagepolicy\": \"flux-system:{policy}\"}}\n",
                    rng.below(50)
                ));
            } else {
                out.push_str(&format!(
                    "          image: ghcr.io/acme/{}:1.0.{}\n",
                    rng.word(),
                    rng.below(50)
                ));
            }
            out.push_str("          env:\n");
        }
    }
    // Padding that looks like real configuration: env vars, annotations, long values.
    let indent = match kind {
        Kind::Deployment | Kind::None => "            ",
        _ => "      ",
    };
    while out.len() < size {
        let line = match rng.below(4) {
            0 => format!(
                "{indent}- name: {}_{}_URL\n{indent}  value: \"https://{}.internal.example.com:{}/v1/{}\"\n",
                rng.word().to_uppercase(),
                rng.word().to_uppercase(),
                rng.word(),
                8000 + rng.below(1000),
                rng.hex(12)
            ),
            1 => format!(
                "{indent}- name: {}_TIMEOUT\n{indent}  value: '{}s' # seconds, see runbook {}\n",
                rng.word().to_uppercase(),
                rng.below(120),
                rng.hex(6)
            ),
            2 => format!(
                "{indent}# {} {} {} rollout note {}\n",
                rng.word(),
                rng.word(),
                rng.word(),
                rng.hex(16)
            ),
            _ => format!(
                "{indent}- name: {}_CHECKSUM\n{indent}  value: {}\n",
                rng.word().to_uppercase(),
                rng.hex(64)
            ),
        };
        out.push_str(&line);
    }
    out
}

/// Writes the repository into `dir`; returns (files, bytes, markers).
fn generate(dir: &Path) -> (usize, usize, usize) {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let average = TARGET_BYTES / FILES;
    let (mut bytes, mut markers) = (0, 0);
    for index in 0..FILES {
        // Spread the marker files evenly: 3 of every 20 files hold markers.
        let kind = match index % 20 {
            0 | 7 if index / 20 * 2 < ONE_MARKER_FILES => match index % 40 {
                0 => Kind::Helm,
                _ => Kind::Deployment,
            },
            13 if index / 20 < TWO_MARKER_FILES => Kind::Kustomize,
            _ => Kind::None,
        };
        markers += match kind {
            Kind::None => 0,
            Kind::Deployment | Kind::Helm => 1,
            Kind::Kustomize => 2,
        };
        let size = average / 2 + rng.below(average as u64) as usize;
        let text = file_text(&mut rng, index, kind, size);
        let name = match kind {
            Kind::Kustomize => "kustomization.yaml".to_string(),
            Kind::Helm => "values.yaml".to_string(),
            _ => format!("{}-{index}.yaml", rng.word()),
        };
        // Five files per application directory, 2,000 directories in all.
        let app = index / 5;
        let path = dir
            .join(format!("clusters/env-{}", app % 4))
            .join(format!("team-{:02}", app / 4 % 25))
            .join(format!("app-{app:04}"))
            .join(name);
        if let Some(parent) = path.parent()
            && let Err(err) = std::fs::create_dir_all(parent)
        {
            panic!("cannot create {}: {err}", parent.display());
        }
        if let Err(err) = std::fs::write(&path, &text) {
            panic!("cannot write {}: {err}", path.display());
        }
        bytes += text.len();
    }
    (FILES, bytes, markers)
}

/// Every policy moves to `1.1.0` of its repository.
fn resolver() -> HashMap<String, Resolved> {
    (0..POLICIES)
        .map(|n| {
            let policy = format!("app-{n}");
            let resolved = Resolved {
                repository: format!("ghcr.io/acme/{policy}"),
                tag: "1.1.0".to_string(),
                digest: None,
            };
            (policy, resolved)
        })
        .collect()
}

/// One timed pass; prints `key=value` lines for the script.
fn time_pass(dir: &Path, apply: bool) {
    let policies = resolver();
    let resolve = |m: &Marker| policies.get(&m.policy).cloned();
    let start = Instant::now();
    let scan = match markers::scan(dir, &[], &ScanOptions::default()) {
        Ok(scan) => scan,
        Err(err) => panic!("scan failed: {err}"),
    };
    let scanned = start.elapsed();
    let plan = markers::plan(&scan, &resolve);
    let planned = start.elapsed();
    let cpu_before = cpu_time();
    let written = if apply {
        match markers::apply(dir, &plan) {
            Ok(n) => n,
            Err(err) => panic!("apply failed: {err}"),
        }
    } else {
        0
    };
    let total = start.elapsed();
    let apply_cpu = cpu_time() - cpu_before;
    let changes: usize = plan.edits.iter().map(|e| e.changes.len()).sum();
    println!("files_read={}", scan.files_read);
    println!(
        "markers={}",
        scan.files.iter().map(|f| f.markers.len()).sum::<usize>()
    );
    println!("edited_files={}", plan.edits.len());
    println!("changes={changes}");
    println!("problems={}", plan.problems.len());
    println!("written={written}");
    println!("scan_s={:.4}", scanned.as_secs_f64());
    println!("plan_s={:.4}", (planned - scanned).as_secs_f64());
    println!("scan_plan_s={:.4}", planned.as_secs_f64());
    println!("total_s={:.4}", total.as_secs_f64());
    println!("apply_s={:.4}", (total - planned).as_secs_f64());
    println!("apply_cpu_s={apply_cpu:.4}");
}

/// CPU time (user + system) this process has used so far, all its threads included, in
/// seconds: on a machine other work shares, it moves much less than the wall clock.
fn cpu_time() -> f64 {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage fills the struct it is given and nothing else.
    let usage = unsafe {
        if libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr()) != 0 {
            return 0.0;
        }
        usage.assume_init()
    };
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    seconds(usage.ru_utime) + seconds(usage.ru_stime)
}

fn criterion_benches(c: &mut Criterion) {
    let dir = match tempfile::tempdir() {
        Ok(dir) => dir,
        Err(err) => panic!("no temporary directory: {err}"),
    };
    let (files, bytes, count) = generate(dir.path());
    eprintln!(
        "generated {files} files, {:.1} MB, {count} markers",
        bytes as f64 / 1e6
    );
    let root: PathBuf = dir.path().to_path_buf();
    let policies = resolver();
    let resolve = |m: &Marker| policies.get(&m.policy).cloned();
    let mut group = c.benchmark_group("markers");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(10));
    group.bench_function("scan 10k files", |b| {
        b.iter(|| black_box(markers::scan(&root, &[], &ScanOptions::default())))
    });
    let scan = match markers::scan(&root, &[], &ScanOptions::default()) {
        Ok(scan) => scan,
        Err(err) => panic!("scan failed: {err}"),
    };
    group.bench_function("plan 2000 markers", |b| {
        b.iter(|| black_box(markers::plan(&scan, &resolve)))
    });
    group.bench_function("scan and plan", |b| {
        b.iter(|| {
            let scan = markers::scan(&root, &[], &ScanOptions::default());
            black_box(scan.map(|s| markers::plan(&s, &resolve).edits.len()))
        })
    });
    group.finish();
}

fn main() {
    if let Some(dir) = std::env::var_os("BATON_MARKERS_GENERATE") {
        let (files, bytes, count) = generate(Path::new(&dir));
        println!("files={files}");
        println!("bytes={bytes}");
        println!("markers={count}");
        return;
    }
    if let Some(dir) = std::env::var_os("BATON_MARKERS_TIME") {
        let apply = std::env::var_os("BATON_MARKERS_APPLY").is_some_and(|v| v == "1");
        time_pass(Path::new(&dir), apply);
        return;
    }
    let mut criterion = Criterion::default().configure_from_args();
    criterion_benches(&mut criterion);
    criterion.final_summary();
}
