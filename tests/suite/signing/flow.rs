//! `[images.NAME.signature]` end to end: `baton plan`, `once` and `tags` against the real
//! registry, with signatures pushed as cosign lays them out (the `.sig` tag, and a bundle
//! referrer behind the referrers tag), and unsigned, wrongly signed and misdirected ones.

use crate::support::cosign::{
    CosignKey, SigLayer, push_sig_manifest, sign_with_bundle, sign_with_sig_tag,
};
use crate::support::fleet::{Fleet, STAGING_APP};

const APP: &str = "team/app";

fn policy<'a>(json: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    json["policies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("no policy {name} in {json}"))
}

fn plan(fleet: &Fleet) -> serde_json::Value {
    let run = fleet.baton(&["plan", "--json"]);
    assert!(run.code == 0 || run.code == 2, "{}", run.both());
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.both()))
}

/// `(tag, kind)` of each held tag of policy `app`, best first.
fn held(json: &serde_json::Value) -> Vec<(String, String)> {
    policy(json, "app")["held"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h["tag"].as_str().unwrap().to_string(),
                h["kind"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// The fleet with `[images.app.signature]` naming `key`'s public key.
fn configure(fleet: &Fleet, key: &CosignKey, pin: &str) {
    let path = fleet.dir.path().join("cosign.pub");
    std::fs::write(&path, key.public_pem()).unwrap();
    fleet
        .config(&fleet.remote.file_url())
        .text_value("policies.app", "pin_digest", pin)
        .text_value(
            "images.app.signature",
            "key_file",
            &path.display().to_string(),
        )
        .write();
}

#[tokio::test]
async fn only_signed_tags_move() {
    let fleet = Fleet::start().await;
    let key = CosignKey::generate();
    let stranger = CosignKey::generate();
    let registry = &fleet.registry;
    // The fleet's 1.x tags: 1.0.0 (deployed) and 1.1.0; 1.0.0 is signed, 1.1.0 is not.
    sign_with_sig_tag(registry, &key, APP, &fleet.digest(APP, "1.0.0")).await;
    configure(&fleet, &key, "if_not_present");

    let json = plan(&fleet);
    assert_eq!(policy(&json, "app")["chosen"], "1.0.0", "{json}");
    assert_eq!(held(&json), [("1.1.0".to_string(), "unsigned".to_string())]);

    // 1.2.0 signed by another key; 1.3.0 carries 1.0.0's valid signature.
    let d120 = fleet.push(APP, "1.2.0").await;
    sign_with_sig_tag(registry, &stranger, APP, &d120).await;
    let d130 = fleet.push(APP, "1.3.0").await;
    let reference = format!("{}/{APP}", registry.host());
    push_sig_manifest(
        registry,
        APP,
        &d130,
        &[SigLayer::signed(
            &key,
            &reference,
            &fleet.digest(APP, "1.0.0"),
        )],
    )
    .await;
    let json = plan(&fleet);
    let app = policy(&json, "app");
    assert_eq!(app["chosen"], "1.0.0", "{json}");
    let kinds = held(&json);
    assert_eq!(
        kinds,
        [
            ("1.3.0".to_string(), "bad signature".to_string()),
            ("1.2.0".to_string(), "bad signature".to_string()),
            ("1.1.0".to_string(), "unsigned".to_string()),
        ]
    );
    let reasons = app["held"].to_string();
    assert!(reasons.contains("another image"), "{reasons}");
    assert!(reasons.contains("does not verify"), "{reasons}");
    let run = fleet.baton(&["plan"]);
    assert!(run.stdout.contains("1.1.0 unsigned"), "{}", run.both());

    // 1.4.0 signed the cosign 3 way moves, pinned to its digest.
    let d140 = fleet.push(APP, "1.4.0").await;
    sign_with_bundle(registry, &key, APP, &d140).await;
    let json = plan(&fleet);
    assert_eq!(policy(&json, "app")["chosen"], "1.4.0", "{json}");
    let run = fleet.baton(&["once"]);
    assert_eq!(run.code, 0, "{}", run.both());
    let staging = fleet.show(&fleet.head(), STAGING_APP);
    assert!(staging.contains(&format!("app:1.4.0@{d140}")), "{staging}");

    // The verdicts are kept by digest in the state directory.
    let stored = std::fs::read_to_string(fleet.state_dir().join("eligibility.json")).unwrap();
    assert!(
        stored.contains(&d140) && stored.contains("\"signed\""),
        "{stored}"
    );
    assert!(
        stored.contains("\"bad-signature\"") && stored.contains("\"unsigned\""),
        "{stored}"
    );

    // `baton tags` says which are signed and why the others are not.
    let run = fleet.baton(&["tags", "app"]);
    assert_eq!(run.code, 0, "{}", run.both());
    let line = |tag: &str| {
        run.stdout
            .lines()
            .find(|l| l.trim_start().starts_with(tag))
            .unwrap_or_else(|| panic!("{}", run.both()))
            .to_string()
    };
    assert!(line("1.4.0").contains("signed"), "{}", run.both());
    assert!(line("1.4.0").contains("<- chosen"), "{}", run.both());
    let run = fleet.baton(&["tags", "app", "--json"]);
    let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let entries = json["policies"][0]["ages"].as_array().unwrap();
    assert_eq!(entries[0]["tag"], "1.4.0", "{json}");
    assert_eq!(entries[0]["signature"], "signed");
    assert!(
        entries[0]["signature_detail"]
            .as_str()
            .unwrap()
            .starts_with("sha256:"),
        "{json}"
    );
}

#[tokio::test]
async fn a_pinned_tag_re_pushed_unsigned_is_not_written() {
    let fleet = Fleet::start().await;
    let key = CosignKey::generate();
    let signed = fleet.push(APP, "1.5.0").await;
    sign_with_sig_tag(&fleet.registry, &key, APP, &signed).await;
    configure(&fleet, &key, "always");
    let run = fleet.baton(&["once"]);
    assert_eq!(run.code, 0, "{}", run.both());
    assert!(
        fleet
            .show(&fleet.head(), STAGING_APP)
            .contains(&format!("app:1.5.0@{signed}"))
    );

    // Someone pushes another, unsigned image under the judged tag.
    let swapped = fleet
        .registry
        .push_image_created(APP, "1.5.0", "2026-11-26T00:00:00Z".into())
        .await;
    assert_ne!(swapped, signed);
    let before = fleet.head();
    let run = fleet.baton(&["once"]);
    assert!(
        run.both().contains("unsigned") && run.both().contains(&swapped),
        "{}",
        run.both()
    );
    assert_eq!(fleet.head(), before, "{}", run.both());
    assert!(
        fleet
            .show(&fleet.head(), STAGING_APP)
            .contains(&format!("app:1.5.0@{signed}"))
    );
}

#[tokio::test]
async fn check_names_the_line_of_a_bad_key_file() {
    let fleet = Fleet::start().await;
    let path = fleet.dir.path().join("cosign.pub");
    std::fs::write(
        &path,
        "-----BEGIN PUBLIC KEY-----\nnot base64\n-----END PUBLIC KEY-----\n",
    )
    .unwrap();
    let config = fleet
        .config(&fleet.remote.file_url())
        .text_value(
            "images.app.signature",
            "key_file",
            &path.display().to_string(),
        )
        .write();
    let run = fleet.baton(&["check"]);
    assert_ne!(run.code, 0, "{}", run.both());
    let text = run.both();
    assert!(text.contains("images.app.signature.key_file"), "{text}");
    assert!(text.contains(&format!("{}:", config.display())), "{text}");
    assert!(text.contains("not a PEM public key"), "{text}");
}
