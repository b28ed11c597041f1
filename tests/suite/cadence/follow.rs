//! `follow`, `platform` and `pin_digest = "always"` end to end against the real registry:
//! a moving tag's sibling is written, a re-pushed moving tag moves the environment, one
//! without a sibling writes nothing; an index pins its platform's manifest; a re-pushed tag
//! moves its pinned digest.

use crate::support::fleet::{Fleet, STAGING_APP};

#[tokio::test]
async fn a_moving_tag_is_written_as_its_immutable_sibling() {
    let fleet = Fleet::start().await;
    let v1 = fleet.digest("team/app", "1.0.0");
    fleet.registry.retag("team/app", &v1, "stable").await;
    fleet
        .config(&fleet.remote.file_url())
        .text_value("policies.app", "follow", "stable")
        .write();
    let run = fleet.baton(&["plan", "--json"]);
    let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let app = json["policies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "app")
        .unwrap();
    // 1.1.0 is the best 1.x tag, but stable is 1.0.0.
    assert_eq!(app["chosen"], "1.0.0", "{app}");
    assert_eq!(
        app["follow"],
        format!("1.0.0 has the digest of stable ({v1})").as_str()
    );

    // stable is re-pushed as 1.1.0: the environment moves to 1.1.0 with its digest.
    let v11 = fleet.digest("team/app", "1.1.0");
    fleet.registry.retag("team/app", &v11, "stable").await;
    let run = fleet.baton(&["once"]);
    assert_eq!(run.code, 0, "{}", run.both());
    let staging = fleet.show(&fleet.head(), STAGING_APP);
    assert!(staging.contains(&format!("app:1.1.0@{v11}")), "{staging}");

    // stable points at an image no 1.x tag has: reported, nothing written.
    let head = fleet.head();
    let lone = fleet.registry.push_image("team/app", "stable").await;
    let run = fleet.baton(&["once"]);
    assert_eq!(run.code, 1, "{}", run.both());
    assert!(
        run.both().contains(&format!(
            "policy app: stable ({lone}) matches none of the 2 best tags of the policy: nothing is written"
        )),
        "{}",
        run.both()
    );
    assert_eq!(fleet.head(), head);
}

#[tokio::test]
async fn an_index_pins_its_platform_and_a_repushed_tag_moves_the_digest() {
    let fleet = Fleet::start().await;
    let (_, platforms) = fleet
        .registry
        .push_index_created("team/multi", "1.0.0", None)
        .await;
    let host = fleet.registry.host();
    let write = |platform: &str| {
        fleet
            .config(&fleet.remote.file_url())
            .image("multi", &format!("{host}/team/multi"))
            .text_value("images.multi", "platform", platform)
            .semver_policy("multi", "multi", "1.x")
            .text_value("policies.multi", "pin_digest", "always")
            .text_value("policies.app", "pin_digest", "always")
            .write();
    };
    write("linux/arm64");
    fleet.writer().commit_and_push(
        "clusters/staging/multi.yaml",
        &format!("image: {host}/team/multi:1.0.0 # {{\"$baton\": \"multi\"}}\n"),
        "Add multi",
    );
    let run = fleet.baton(&["once"]);
    assert_eq!(run.code, 0, "{}", run.both());
    let multi = fleet.show(&fleet.head(), "clusters/staging/multi.yaml");
    assert!(
        multi.contains(&format!("multi:1.0.0@{}", platforms[1])),
        "{multi}"
    );
    let staging = fleet.show(&fleet.head(), STAGING_APP);
    let before = fleet.digest("team/app", "1.1.0");
    assert!(
        staging.contains(&format!("app:1.1.0@{before}")),
        "{staging}"
    );

    // Re-pushed tags under pin_digest = "always": both digests move, tags stay.
    let (_, repushed) = fleet
        .registry
        .push_index_created("team/multi", "1.0.0", Some("2026-11-26T00:00:00Z"))
        .await;
    let after = fleet
        .registry
        .push_image_created("team/app", "1.1.0", "2026-11-26T00:00:00Z".into())
        .await;
    assert_ne!(before, after);
    let run = fleet.baton(&["once"]);
    assert_eq!(run.code, 0, "{}", run.both());
    let multi = fleet.show(&fleet.head(), "clusters/staging/multi.yaml");
    assert!(
        multi.contains(&format!("multi:1.0.0@{}", repushed[1])),
        "{multi}"
    );
    let staging = fleet.show(&fleet.head(), STAGING_APP);
    assert!(staging.contains(&format!("app:1.1.0@{after}")), "{staging}");
    // Identical work is a no-op.
    let head = fleet.head();
    let run = fleet.baton(&["once"]);
    assert_eq!(run.code, 0, "{}", run.both());
    assert_eq!(fleet.head(), head);

    // A platform the index lacks: a clear error naming image, tag and platforms; the marker
    // keeps its digest.
    write("linux/s390x");
    fleet
        .registry
        .push_index_created("team/multi", "1.0.0", Some("2026-11-26T01:00:00Z"))
        .await;
    let run = fleet.baton(&["once"]);
    assert_eq!(run.code, 1, "{}", run.both());
    let text = run.both();
    assert!(text.contains("image multi"), "{text}");
    assert!(
        text.contains("team/multi:1.0.0 has no manifest for platform linux/s390x (it has: linux/amd64, linux/arm64)"),
        "{text}"
    );
    assert_eq!(fleet.head(), head);
}
