//! Adaptive polling: the rate-limit headers a registry sends (Docker Hub's and the IETF
//! draft's, from the fake: the real registry sends none) stretch the scan intervals of every
//! image on it, in the client and in the daemon's scheduler; `baton check --online`
//! estimates requests per hour against the budget, with the real registry.

use std::time::Duration;

use baton::registry::{MAX_HORIZON, Registries, RegistrySettings};

use crate::support::daemon::{DaemonFleet, PATIENCE, wait_until};
use crate::support::fake_registry::{Behaviour, FakeRegistry};
use crate::support::fleet::Fleet;

fn pool(fake: &FakeRegistry) -> Registries {
    let mut per_host = std::collections::HashMap::new();
    per_host.insert(
        fake.host(),
        RegistrySettings {
            insecure: true,
            ..Default::default()
        },
    );
    Registries::new(RegistrySettings::default(), per_host)
}

#[tokio::test]
async fn rate_limit_headers_stretch_every_image_of_the_registry() {
    let fake = FakeRegistry::start(Behaviour {
        tags: vec!["1.0.0".into()],
        ..Default::default()
    })
    .await;
    let pool = pool(&fake);
    let minute = Duration::from_secs(60);
    let a = pool.client(&fake.host()).unwrap();
    // No statement: intervals stay.
    a.list_tags("team/a").await.unwrap();
    assert_eq!(a.paced(minute), minute);

    // Docker Hub: 5 of 100 left in a six-hour window after a burst of scans: stretched, and
    // for the other image of the registry too (one client, one pace).
    fake.configure(|b| b.rate_limit_remaining = Some("5;w=21600".into()));
    for _ in 0..10 {
        a.list_tags("team/a").await.unwrap();
    }
    let b = pool.client(&fake.host()).unwrap();
    let stretched = b.paced(minute);
    assert!(stretched > minute * 10, "{stretched:?}");
    assert!(stretched <= Duration::from_secs(21600), "{stretched:?}");
    assert_eq!(b.rate_limit().unwrap().limit, Some(100));

    // The IETF draft: nothing left, reset in 30 s: no scan before the reset.
    fake.configure(|b| {
        b.rate_limit_remaining = None;
        b.extra_headers = vec![
            ("RateLimit-Limit", "100".into()),
            ("RateLimit-Remaining", "0".into()),
            ("RateLimit-Reset", "30".into()),
        ];
    });
    b.list_tags("team/b").await.unwrap();
    let paced = a.paced(Duration::from_secs(10));
    assert!(
        paced > Duration::from_secs(28) && paced <= Duration::from_secs(30),
        "{paced:?}"
    );

    // Plenty left: back to the configured interval.
    fake.configure(|b| {
        b.extra_headers = vec![
            ("RateLimit-Remaining", "100000".into()),
            ("RateLimit-Reset", "60".into()),
        ]
    });
    a.list_tags("team/a").await.unwrap();
    assert_eq!(a.paced(minute), minute);
}

#[tokio::test]
async fn absurd_rate_limit_headers_are_bounded() {
    let fake = FakeRegistry::start(Behaviour {
        tags: vec!["1.0.0".into()],
        ..Default::default()
    })
    .await;
    let pool = pool(&fake);
    let c = pool.client(&fake.host()).unwrap();
    let minute = Duration::from_secs(60);
    for (remaining, limit, reset) in [
        ("99999999999999999999999999", "1", "5"),
        ("-1", "-1", "-1"),
        ("NaN", "inf", "1e300"),
        ("12;w=abc", "12;w=", ""),
    ] {
        fake.configure(|b| {
            b.extra_headers = vec![
                ("RateLimit-Remaining", remaining.into()),
                ("RateLimit-Limit", limit.into()),
                ("RateLimit-Reset", reset.into()),
            ]
        });
        c.list_tags("team/a").await.unwrap();
        let paced = c.paced(minute);
        assert!(
            paced >= minute && paced <= MAX_HORIZON,
            "{remaining}: {paced:?}"
        );
    }
    // Nothing left "for ever": at most a day between scans, never an overflow.
    fake.configure(|b| {
        b.extra_headers = vec![
            ("RateLimit-Remaining", "0;w=18446744073709551615".into()),
            ("RateLimit-Reset", "18446744073709551615".into()),
        ]
    });
    c.list_tags("team/a").await.unwrap();
    let paced = c.paced(minute);
    assert!(
        paced > MAX_HORIZON - Duration::from_secs(5) && paced <= MAX_HORIZON,
        "{paced:?}"
    );
    assert_eq!(c.paced(Duration::MAX), Duration::MAX);
}

#[tokio::test]
async fn check_online_estimates_requests_per_hour_against_the_budget() {
    let fleet = Fleet::start().await;
    let host = fleet.registry.host();
    let section = format!("registries.\"{host}\"");
    // Both images every 5 minutes, one request each: about 24 an hour of a 600 budget.
    fleet
        .config(&fleet.remote.file_url())
        .set(&section, "requests_per_minute", "10")
        .write();
    let run = fleet.baton(&["check", "--online"]);
    assert_eq!(run.code, 0, "{}", run.both());
    assert!(
        run.stdout.contains(&format!(
            "registry {host}: about 24 requests/hour at the configured intervals, budget 600/hour (requests_per_minute)"
        )),
        "{}",
        run.both()
    );
    assert!(!run.stderr.contains("requests/hour is"), "{}", run.both());
    // Every 10 seconds: 720 an hour, over the budget: a warning that says what to change.
    fleet
        .config(&fleet.remote.file_url())
        .set(&section, "requests_per_minute", "10")
        .text_value("images.app", "interval", "10s")
        .text_value("images.web", "interval", "10s")
        .write();
    let run = fleet.baton(&["check", "--online"]);
    assert_eq!(run.code, 0, "{}", run.both());
    assert!(
        run.stderr.contains(&format!(
            "warning: registry {host}: about 720 requests/hour is 120% of its budget (requests_per_minute), 600/hour: it will be exceeded; raise the interval of app, web"
        )),
        "{}",
        run.both()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_stretches_scans_when_the_registry_runs_low() {
    let fleet = DaemonFleet::start().await;
    let fake = FakeRegistry::start(Behaviour {
        tags: vec!["1.0.0".into()],
        extra_headers: vec![
            ("RateLimit-Limit", "100".into()),
            ("RateLimit-Remaining", "0".into()),
            ("RateLimit-Reset", "40".into()),
        ],
        ..Default::default()
    })
    .await;
    let extra = format!(
        "\n[registries.\"{h}\"]\ninsecure = true\n\n[images.one]\nrepository = \"{h}/team/one\"\ninterval = \"10s\"\n\n[images.two]\nrepository = \"{h}/team/two\"\ninterval = \"10s\"\n",
        h = fake.host()
    );
    fleet.write_config(&fleet.config_text(&extra));
    let mut daemon = fleet.run(&[]);
    daemon.wait_ready();
    daemon.wait_event("every image scanned once", |_| true);
    // Both images of the limited registry wait for the reset, not their 10s interval.
    for image in ["one", "two"] {
        let event = daemon.wait_event(
            "scan interval stretched for the registry's rate limit",
            |e| e["image"] == image,
        );
        let paced = event["paced_s"].as_u64().unwrap();
        assert!((35..=40).contains(&paced), "{event}");
        assert_eq!(event["remaining"], 0);
    }
    let requests = fake.api_requests();
    std::thread::sleep(Duration::from_secs(15));
    assert_eq!(fake.api_requests(), requests, "scanned before the reset");
    // The other registry keeps its 10s interval.
    wait_until(PATIENCE, "a second scan of app", || {
        let scans = daemon
            .events()
            .into_iter()
            .filter(|e| e["message"] == "scanned" && e["image"] == "app")
            .count();
        (scans >= 2).then_some(())
    });
}
