//! One policy's choice from a scan: the policy's rule over the tags a judgement does not
//! hold back, or the sibling of a followed moving tag. The pass and the daemon share it.

use jiff::Timestamp;

use crate::config::Config;
use crate::eligibility::{Follow, Judged};

use super::report::{HeldTag, Selection};

/// Chooses for `policy_name` from `tags` (its image's listing) with the judgements of that
/// listing, at `now`: young tags ranked above the choice are reported as held.
pub fn choose(
    config: &Config,
    policy_name: &str,
    tags: &[String],
    judged: Option<&Judged>,
    now: Timestamp,
) -> Selection {
    let policy = &config.policies[policy_name];
    let image = &config.images[&policy.image];
    let mut selection = Selection {
        policy: policy_name.to_string(),
        image: policy.image.clone(),
        repository: image.repository_text.clone(),
        rule: policy.policy.describe(),
        decision: None,
        error: None,
        held: Vec::new(),
        follow: None,
    };
    let per_tag = image.min_age.is_some() || image.signature.is_some();
    let keys = image
        .signature
        .as_ref()
        .map(|required| crate::signature::keys_fingerprint(&required.keys));
    let judged = judged.filter(|j| keys.is_none() || j.signature_keys == keys);
    let Some(judged) = judged else {
        if image.signature.is_some() {
            // Never a tag whose signature nobody looked at (a listing from before the
            // keys were configured or changed).
            selection.error =
                Some("signatures not checked yet: the next scan of the image checks them".into());
            return selection;
        }
        selection.decision = Some(policy.policy.choose(tags));
        return selection;
    };
    let candidates: Vec<&String> = match (&policy.follow, judged.follows.get(policy_name)) {
        (
            Some(_),
            Some(Follow::Found {
                moving,
                tag,
                digest,
            }),
        ) => {
            selection.follow = Some(format!("{tag} has the digest of {moving} ({digest})"));
            tags.iter().filter(|t| *t == tag).collect()
        }
        (Some(_), Some(Follow::Failed(why))) => {
            selection.error = Some(why.clone());
            return selection;
        }
        (Some(moving), None) => {
            selection.error = Some(format!(
                "the followed tag {moving} was not resolved in this scan"
            ));
            return selection;
        }
        (None, _) => tags.iter().collect(),
    };
    let mut eligible: Vec<&str> = Vec::new();
    let mut held = Vec::new();
    for tag in candidates {
        match per_tag.then(|| judged.hold(tag, now)).flatten() {
            None => eligible.push(tag),
            Some(hold) if judged.verdicts.contains_key(tag.as_str()) => held.push((tag, hold)),
            // Never judged: it ranks below a tag that was, so it is no candidate either.
            Some(_) => {}
        }
    }
    // Counts over the whole listing; the choice among the tags no judgement holds back.
    let mut decision = policy.policy.choose(tags);
    decision.chosen = policy.policy.choose(&eligible).chosen;
    decision.eligible = eligible.len();
    let chosen = decision.chosen.clone();
    selection.decision = Some(decision);
    selection.held = held
        .into_iter()
        .filter(|(tag, _)| {
            policy.policy.accepts(tag)
                && chosen.as_deref().is_none_or(|c| {
                    policy.policy.compare(tag, c) == Some(std::cmp::Ordering::Greater)
                })
        })
        .map(|(tag, hold)| HeldTag {
            tag: tag.clone(),
            reason: hold.reason,
            until: hold.until,
            kind: hold.kind,
        })
        .collect();
    selection
        .held
        .sort_by(|a, b| match policy.policy.compare(&a.tag, &b.tag) {
            Some(o) => o.reverse(),
            None => a.tag.cmp(&b.tag),
        });
    selection
}

#[cfg(test)]
mod signature_tests {
    use std::collections::BTreeMap;

    use crate::eligibility::{Judged, Verdict};
    use crate::signature::{Layout, Verdict as Signature, keys_fingerprint};

    fn config() -> crate::config::Config {
        let key = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/cosign/sigstore-rs-cosign.pub");
        let text = format!(
            "[git]\nurl = \"file:///srv/fleet.git\"\n[images.app]\nrepository = \"ghcr.io/example/app\"\n[images.app.signature]\nkey_file = {:?}\n[policies.app]\nimage = \"app\"\nsemver = \"1.x\"\n[environments.staging]\npaths = [\"s\"]\n",
            key.display().to_string()
        );
        crate::config::Config::from_text(
            std::path::Path::new("/etc/baton/baton.toml"),
            &text,
            figment::providers::Env::prefixed("BATON_UNIT_TEST_NOTHING_"),
        )
        .unwrap()
    }

    fn judged(keys: Option<String>) -> Judged {
        let signed = Verdict::Judged {
            age: None,
            signature: Some(Signature::Signed {
                key: "sha256:k".into(),
                layout: Layout::SigTag,
            }),
        };
        let unsigned = Verdict::Judged {
            age: None,
            signature: Some(Signature::Unsigned),
        };
        Judged {
            verdicts: BTreeMap::from([("1.1.0".into(), unsigned), ("1.0.0".into(), signed)]),
            signature_keys: keys,
            ..Judged::default()
        }
    }

    #[test]
    fn verdicts_count_only_under_the_keys_they_were_reached_with() {
        let config = config();
        let tags: Vec<String> = vec!["1.0.0".into(), "1.1.0".into()];
        let now = jiff::Timestamp::now();
        let keys = keys_fingerprint(&config.images["app"].signature.as_ref().unwrap().keys);
        let current = judged(Some(keys));
        let selection = super::choose(&config, "app", &tags, Some(&current), now);
        assert_eq!(selection.chosen(), Some("1.0.0"));
        assert_eq!(selection.held.len(), 1);
        assert_eq!(selection.held[0].kind, "unsigned");
        // Verdicts from other keys (a reload changed them), or none at all: nothing moves.
        let stale = judged(Some("another key set".into()));
        let selection = super::choose(&config, "app", &tags, Some(&stale), now);
        assert_eq!(selection.chosen(), None);
        assert!(
            selection
                .error
                .unwrap()
                .contains("signatures not checked yet")
        );
        let selection = super::choose(&config, "app", &tags, None, now);
        assert_eq!(selection.chosen(), None);
    }
}
