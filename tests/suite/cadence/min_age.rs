//! `min_age` end to end: `baton plan` and `baton once` against the real registry, with image
//! configs stating `created` (believable, in the future, unparsable) and without, the clock
//! set by `BATON_NOW`, and the judgements kept in the state directory.

use jiff::{SignedDuration, Timestamp};

use crate::support::fleet::{Fleet, STAGING_APP};

fn at(t: Timestamp) -> String {
    t.to_string()
}

fn policy<'a>(json: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    json["policies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("no policy {name} in {json}"))
}

fn plan(fleet: &Fleet, now: Timestamp) -> serde_json::Value {
    let run = fleet.baton_env(&["plan", "--json"], &[("BATON_NOW", &at(now))]);
    assert!(run.code == 0 || run.code == 2, "{}", run.both());
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.both()))
}

#[tokio::test]
async fn young_tags_wait_by_created_or_first_sighting() {
    let fleet = Fleet::start().await;
    let t0 = Timestamp::now();
    let h = |n: i64| SignedDuration::from_mins(n * 60);
    // 1.3.0 was built three hours ago, 1.4.0 ten minutes ago.
    fleet
        .registry
        .push_image_created("team/app", "1.3.0", at(t0 - h(3)).into())
        .await;
    fleet
        .registry
        .push_image_created(
            "team/app",
            "1.4.0",
            at(t0 - SignedDuration::from_mins(10)).into(),
        )
        .await;
    fleet
        .config(&fleet.remote.file_url())
        .text_value("images.app", "min_age", "2h")
        .write();

    let json = plan(&fleet, t0);
    let app = policy(&json, "app");
    assert_eq!(app["chosen"], "1.3.0", "{app}");
    let held = app["held"].as_array().unwrap();
    assert_eq!(held.len(), 1, "{app}");
    assert_eq!(held[0]["tag"], "1.4.0");
    let until = baton::common::time::rfc3339_seconds(t0 + SignedDuration::from_mins(110));
    assert_eq!(held[0]["until"], until.as_str(), "{app}");
    assert!(
        held[0]["reason"]
            .as_str()
            .unwrap()
            .starts_with(&format!("too young until {until} (created ")),
        "{app}"
    );
    assert!(
        app["reason"]
            .as_str()
            .unwrap()
            .contains("1.4.0 too young until"),
        "{app}"
    );
    // The judgements are kept: the state directory holds them.
    let stored = std::fs::read_to_string(fleet.state_dir().join("eligibility.json")).unwrap();
    assert!(
        stored.contains("1.4.0") && stored.contains("created"),
        "{stored}"
    );

    // Once 1.4.0 is old enough, it is chosen, and `once` writes it.
    let later = t0 + SignedDuration::from_mins(111);
    let json = plan(&fleet, later);
    assert_eq!(policy(&json, "app")["chosen"], "1.4.0", "{json}");
    assert!(policy(&json, "app")["held"].as_array().unwrap().is_empty());
    let run = fleet.baton_env(&["once"], &[("BATON_NOW", &at(later))]);
    assert_eq!(run.code, 0, "{}", run.both());
    assert!(
        fleet
            .show(&fleet.head(), STAGING_APP)
            .contains("app:1.4.0@sha256:"),
        "{}",
        run.both()
    );

    // Without `created`, the age counts from the first sighting; a far-future `created` or
    // one that does not parse is not believed and counts the same way.
    let later = t0 + h(3);
    fleet.push("team/app", "1.5.0").await;
    let json = plan(&fleet, later);
    let app = policy(&json, "app");
    assert_eq!(app["chosen"], "1.4.0", "{app}");
    let first_seen = baton::common::time::rfc3339_seconds(later);
    let reason = app["held"][0]["reason"].as_str().unwrap();
    assert!(
        reason.contains(&format!("(first seen {first_seen})")),
        "{reason}"
    );
    fleet
        .registry
        .push_image_created("team/app", "1.6.0", "2999-01-01T00:00:00Z".into())
        .await;
    fleet
        .registry
        .push_image_created("team/app", "1.7.0", "yesterday".into())
        .await;
    fleet
        .registry
        .push_image_created("team/app", "1.8.0", serde_json::json!({"not": "a time"}))
        .await;
    let json = plan(&fleet, later + SignedDuration::from_mins(1));
    let app = policy(&json, "app");
    assert_eq!(app["chosen"], "1.4.0", "{app}");
    let reasons: Vec<String> = app["held"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| format!("{} {}", h["tag"], h["reason"]))
        .collect();
    assert_eq!(reasons.len(), 4, "{reasons:?}");
    assert!(
        reasons[1].contains("1.7.0") && reasons[1].contains("not an RFC 3339 time"),
        "{reasons:?}"
    );
    assert!(
        reasons[2].contains("1.6.0") && reasons[2].contains("lies in the future"),
        "{reasons:?}"
    );
    // The far-future tag is eligible two hours after it was first seen, not in 2999.
    let json = plan(&fleet, later + h(2) + SignedDuration::from_mins(2));
    assert_eq!(policy(&json, "app")["chosen"], "1.8.0", "{json}");

    // A lost state directory restarts the clock: 1.5.0 (no `created`) waits again.
    std::fs::remove_file(fleet.state_dir().join("eligibility.json")).unwrap();
    let again = later + h(4);
    let json = plan(&fleet, again);
    let app = policy(&json, "app");
    assert_eq!(app["chosen"], "1.4.0", "{app}");
    let tags: Vec<&str> = app["held"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["tag"].as_str().unwrap())
        .collect();
    assert_eq!(tags, ["1.8.0", "1.7.0", "1.6.0", "1.5.0"], "{app}");
}

#[tokio::test]
async fn tags_shows_ages_and_when_young_tags_become_eligible() {
    let fleet = Fleet::start().await;
    let t0 = Timestamp::now();
    fleet
        .registry
        .push_image_created(
            "team/app",
            "1.3.0",
            at(t0 - SignedDuration::from_mins(30)).into(),
        )
        .await;
    fleet
        .config(&fleet.remote.file_url())
        .text_value("images.app", "min_age", "1h")
        .write();
    let run = fleet.baton_env(&["tags", "app"], &[("BATON_NOW", &at(t0))]);
    assert_eq!(run.code, 0, "{}", run.both());
    let until = baton::common::time::rfc3339_seconds(t0 + SignedDuration::from_mins(30));
    let line = run
        .stdout
        .lines()
        .find(|l| l.trim_start().starts_with("1.3.0"))
        .unwrap_or_else(|| panic!("{}", run.both()));
    assert!(line.contains("age 30m"), "{line}");
    assert!(line.contains(&format!("too young until {until}")), "{line}");
    let run = fleet.baton_env(&["tags", "app", "--json"], &[("BATON_NOW", &at(t0))]);
    assert_eq!(run.code, 0, "{}", run.both());
    let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let ages = &json["policies"][0]["ages"];
    assert_eq!(ages[0]["tag"], "1.3.0", "{json}");
    assert_eq!(ages[0]["from"], "created");
    assert_eq!(ages[0]["eligible"], false);
    assert_eq!(ages[0]["eligible_at"], until.as_str());
    assert_eq!(ages[0]["age_seconds"], 1800);
    // Tags without `created` count from this first sighting.
    assert_eq!(ages[1]["tag"], "1.1.0", "{json}");
    assert_eq!(ages[1]["from"], "first_seen");
    assert_eq!(json["policies"][0]["chosen"], serde_json::Value::Null);
}
