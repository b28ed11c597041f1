//! Table-driven and property tests of whole policies.

use std::cmp::Ordering;

use proptest::prelude::*;

use super::*;

fn semver(range: &str) -> Policy {
    Policy::new("p", Rule::Semver(SemverRange::parse(range).unwrap()))
}

fn alpha(order: Order) -> Policy {
    Policy::new("p", Rule::Alphabetical(order))
}

fn numeric(order: Order) -> Policy {
    Policy::new("p", Rule::Numerical(order))
}

fn with_filter(mut policy: Policy, pattern: &str, extract: Option<&str>) -> Policy {
    policy.filter = Some(TagFilter::new(pattern, extract).unwrap());
    policy
}

fn chosen<S: AsRef<str>>(policy: &Policy, tags: &[S]) -> Option<String> {
    policy.choose(tags).chosen
}

/// Flux image-reflector-controller `internal/policy/semver_test.go` (TestSemVer_Latest,
/// TestNewSemVer), translated; where Flux returns an error Baton returns no candidate.
/// The timestamp tags of Flux's alphabetical and numerical tests alike.
const FLUX_TIMESTAMPS: [&str; 5] = [
    "1606234201",
    "1606364286",
    "1606334092",
    "1606334284",
    "1606334201",
];

/// Asserts what the policy `rule` makes in ascending and in descending order chooses from `tags`.
fn assert_picks(rule: fn(Order) -> Policy, tags: &[&str], asc: &str, desc: &str) {
    assert_eq!(chosen(&rule(Order::Asc), tags).as_deref(), Some(asc));
    assert_eq!(chosen(&rule(Order::Desc), tags).as_deref(), Some(desc));
}

#[test]
fn flux_semver_latest() {
    let p = semver("1.0.x");
    assert_eq!(
        chosen(
            &p,
            &["1.0.0", "1.0.0.1", "1.0.0p", "1.0.1", "1.2.0", "0.1.0"]
        )
        .as_deref(),
        Some("1.0.1")
    );
    assert_eq!(
        chosen(&p, &["v1.2.3", "v1.0.0", "v0.1.0"]).as_deref(),
        Some("v1.0.0")
    );
    assert_eq!(chosen(&p, &["b1.2.3", "b1.0.0", "b0.1.0"]), None);
    assert_eq!(chosen(&p, &[] as &[&str]), None);
    assert_eq!(chosen(&p, &["1.2.0"]), None);
    for ok in ["1.0.x", "^1.0", "=1.0.0", "~1.0", ">=1.0", ">0,<2.0"] {
        assert!(SemverRange::parse(ok).is_ok(), "{ok}");
    }
    for bad in ["1.0.0p", "1x", "x1", "-1", "a", ""] {
        assert!(SemverRange::parse(bad).is_err(), "{bad}");
    }
}

/// Flux's lenient parsing (fluxcd/pkg ParseVersion over Masterminds NewVersion): at least
/// two dots, leading zeros allowed; the original tag is chosen; pre-releases only when
/// the range admits them.
#[test]
fn semver_leniency_and_prereleases() {
    let tags = [
        "1.0",
        "1.0.0.1",
        "01.2.3",
        "V1.5.0",
        "vv1.5.0",
        "1.4.2",
        "v1.4.3-rc.1",
        "1.4.3-rc.2",
        "1.4-rc.3",
        "latest",
    ];
    let d = semver("1.x").choose(&tags);
    assert_eq!(d.chosen.as_deref(), Some("1.4.2"));
    assert_eq!(d.skipped.get(&SkipReason::NotSemver), Some(&5));
    assert_eq!(d.skipped.get(&SkipReason::OutOfRange), Some(&3));
    assert_eq!(chosen(&semver("1.2.3"), &tags).as_deref(), Some("01.2.3"));
    assert_eq!(
        chosen(&semver(">=1.0.0-0"), &tags).as_deref(),
        Some("1.4.3-rc.2")
    );
    assert_eq!(
        chosen(&semver(">=1.4.0-0 <1.4.1"), &tags).as_deref(),
        Some("1.4-rc.3")
    );
    // A pre-release in another `||` alternative does not admit them here.
    assert_eq!(
        chosen(&semver("1.x || >=9.0.0-0"), &tags).as_deref(),
        Some("1.4.2")
    );
}

/// Flux: among equal versions the first of the descending byte-sorted list wins, that
/// is the byte-wise greatest spelling; whatever the input order.
#[test]
fn semver_ties_follow_flux() {
    let p = semver("*");
    for tags in [["v1.2.3", "1.2.3"], ["1.2.3", "v1.2.3"]] {
        assert_eq!(chosen(&p, &tags).as_deref(), Some("v1.2.3"));
    }
    assert_eq!(
        chosen(&p, &["1.2.3", "1.02.3", "01.2.3"]).as_deref(),
        Some("1.2.3")
    );
    // `+` cannot appear in an OCI tag, so build metadata only reaches the policy through
    // an extract template (here `1.2.3_build1` becomes `1.2.3+build1`). Build metadata
    // never orders: equal versions with different keys take the greater key.
    assert!(!p.accepts("1.2.3+build1"));
    let b = with_filter(semver("*"), r"^(?P<v>v?[0-9.]+)_(?P<b>\w+)$", Some("$v+$b"));
    for tags in [
        ["1.2.3_build1", "1.2.3_build2"],
        ["1.2.3_build2", "1.2.3_build1"],
    ] {
        assert_eq!(chosen(&b, &tags).as_deref(), Some("1.2.3_build2"));
    }
    assert_eq!(
        chosen(&b, &["v1.2.3_zzz", "1.2.3_aaa", "v1.2.2_zzz"]).as_deref(),
        Some("v1.2.3_zzz")
    );
    assert_eq!(
        b.rank(&["v1.2.3_a", "1.2.3_b", "1.2.4_a", "1.2.3_a", "v1.2.3_b"]),
        ["1.2.4_a", "v1.2.3_b", "v1.2.3_a", "1.2.3_b", "1.2.3_a"]
    );
    assert_eq!(
        p.rank(&["v1.2.3", "1.2.3", "1.2.4", "v1.2.4"]),
        ["v1.2.4", "1.2.4", "v1.2.3", "1.2.3"]
    );
    // One key from two tags: Flux keeps the tag written last, the byte-wise smallest.
    let k = with_filter(
        semver("*"),
        r"^(?:ship-|v)?(?P<v>\d+\.\d+\.\d+)$",
        Some("$v"),
    );
    assert_eq!(
        chosen(&k, &["v7.7.0", "ship-7.7.0", "7.7.0"]).as_deref(),
        Some("7.7.0")
    );
}

/// Flux `alphabetical_test.go` (TestAlphabetical_Latest) and the API docs: ascending
/// selects Z, descending selects A.
#[test]
fn flux_alphabetical() {
    let calver = ["16.04", "16.04.1", "16.10", "20.04", "20.10"];
    assert_eq!(
        chosen(&alpha(Order::Asc), &calver).as_deref(),
        Some("20.10")
    );
    assert_eq!(
        chosen(&alpha(Order::Desc), &calver).as_deref(),
        Some("16.04")
    );
    let names = ["xenial", "yakkety", "zesty", "artful", "bionic"];
    assert_eq!(chosen(&alpha(Order::Asc), &names).as_deref(), Some("zesty"));
    assert_eq!(
        chosen(&alpha(Order::Desc), &names).as_deref(),
        Some("artful")
    );
    assert_picks(alpha, &FLUX_TIMESTAMPS, "1606364286", "1606234201");
    let rel = FLUX_TIMESTAMPS.map(|t| format!("rel-{t}"));
    assert_eq!(
        chosen(&alpha(Order::Asc), &rel).as_deref(),
        Some("rel-1606364286")
    );
    // Byte-wise: upper case sorts before lower case, as Go's sort.Strings.
    assert_eq!(
        chosen(&alpha(Order::Asc), &["b", "B", "a"]).as_deref(),
        Some("b")
    );
    assert_eq!(
        chosen(&alpha(Order::Desc), &["b", "B", "a"]).as_deref(),
        Some("B")
    );
    assert_eq!(chosen(&alpha(Order::Asc), &[] as &[&str]), None);
}

/// Flux `numerical_test.go` (TestNumerical_Latest). Negative values cannot be OCI tags
/// (a tag starts with `[A-Za-z0-9_]`), so those cases go through `extract`.
#[test]
fn flux_numerical() {
    assert_picks(numeric, &FLUX_TIMESTAMPS, "1606364286", "1606234201");
    assert_eq!(chosen(&numeric(Order::Asc), &["1"]).as_deref(), Some("1"));
    assert_eq!(chosen(&numeric(Order::Desc), &["1"]).as_deref(), Some("1"));
    // Numeric, not alphabetical: 10 > 9.
    assert_eq!(
        chosen(&numeric(Order::Asc), &["9", "10", "2"]).as_deref(),
        Some("10")
    );
    let ints = [
        "n-62", "n-88", "n73", "n72", "n15", "n16", "n15", "n29", "n-33", "n-91",
    ];
    let floats = [
        "n47.40896403322944",
        "n-27.8520927455902",
        "n-50.41072694704882",
        "n53.47333823144817",
        "n3.2008658570411086",
    ];
    let by = |order| with_filter(numeric(order), r"^n(?P<v>-?[0-9.]+)$", Some("$v"));
    assert_eq!(chosen(&by(Order::Asc), &ints).as_deref(), Some("n73"));
    assert_eq!(chosen(&by(Order::Desc), &ints).as_deref(), Some("n-91"));
    assert_eq!(
        chosen(&by(Order::Asc), &floats).as_deref(),
        Some("n53.47333823144817")
    );
    assert_eq!(
        chosen(&by(Order::Desc), &floats).as_deref(),
        Some("n-50.41072694704882")
    );
    // Flux fails the whole policy on "1a"; Baton skips and counts it.
    let d = numeric(Order::Asc).choose(&["0", "1a", "b"]);
    assert_eq!(d.chosen.as_deref(), Some("0"));
    assert_eq!(d.skipped.get(&SkipReason::NotNumeric), Some(&2));
    // NaN is not a number to order by; infinity is.
    assert_eq!(
        chosen(&numeric(Order::Asc), &["NaN", "3"]).as_deref(),
        Some("3")
    );
    assert_eq!(
        chosen(&numeric(Order::Asc), &["inf", "3"]).as_deref(),
        Some("inf")
    );
}

/// Flux docs and `flux create image policy` example: `^main-[a-f0-9]+-(?P<ts>[0-9]+)` with
/// `extract: $ts` and numerical asc.
#[test]
fn filter_and_extract() {
    let p = with_filter(
        numeric(Order::Asc),
        r"^main-[a-f0-9]+-(?P<ts>[0-9]+)",
        Some("$ts"),
    );
    let tags = [
        "main-0a1b2c3-1700000100",
        "main-9f8e7d6-1700000900",
        "main-aaaaaaa-999999999",
        "feature-abcdef0-1800000000",
        "main-zzz-1900000000",
        "1.2.3",
    ];
    let d = p.choose(&tags);
    assert_eq!(d.chosen.as_deref(), Some("main-9f8e7d6-1700000900"));
    assert_eq!(d.skipped.get(&SkipReason::FilterMismatch), Some(&3));
    assert_eq!(d.eligible, 3);
    assert_eq!(
        p.rank(&tags),
        [
            "main-9f8e7d6-1700000900",
            "main-0a1b2c3-1700000100",
            "main-aaaaaaa-999999999"
        ]
    );
    assert_eq!(
        p.describe(),
        r"numerical asc, filter ^main-[a-f0-9]+-(?P<ts>[0-9]+) extract $ts"
    );
    // Same extracted value: Flux keeps the tag written last in its descending walk, the
    // byte-wise smaller one, whatever the order.
    let tie = ["main-aaa-5", "main-bbb-5"];
    assert_eq!(chosen(&p, &tie).as_deref(), Some("main-aaa-5"));
    assert_eq!(
        chosen(&p, &["main-bbb-5", "main-aaa-5"]).as_deref(),
        Some("main-aaa-5")
    );
    // Filter with semver: the extracted value is the version, the tag is what is chosen.
    let s = with_filter(semver("^1"), r"^app-(?P<v>.+)$", Some("${v}"));
    assert_eq!(
        chosen(&s, &["app-1.2.0", "app-1.10.0", "app-2.0.0", "1.99.0"]).as_deref(),
        Some("app-1.10.0")
    );
    // A filter without extract only selects; the tag itself is ordered.
    let a = with_filter(alpha(Order::Asc), "^rc-", None);
    assert_eq!(chosen(&a, &["rc-1", "rc-2", "zz"]).as_deref(), Some("rc-2"));
}

/// Flux `exclusionList`: default `^.*\.sig$`; a given list replaces it.
#[test]
fn exclusions_default_and_replaced() {
    let sig = "sha256-3c1d2f0b5a6e7d8c9b0a1f2e3d4c5b6a7f8e9d0c1b2a3f4e5d6c7b8a9f0e1d2c.sig";
    let tags = ["zeta-1", "alpha", sig];
    let d = alpha(Order::Asc).choose(&tags);
    assert_eq!(d.chosen.as_deref(), Some("zeta-1"));
    let d = alpha(Order::Desc).choose(&tags);
    assert_eq!(d.chosen.as_deref(), Some("alpha"));
    assert_eq!(d.skipped.get(&SkipReason::Excluded), Some(&1));

    let mut replaced = alpha(Order::Asc);
    replaced.exclude = compile_exclusions(&["^zeta-", "^alpha$"]).unwrap();
    // The .sig tag is eligible again: the given list replaced the default.
    assert_eq!(chosen(&replaced, &tags).as_deref(), Some(sig));
    assert!(!replaced.accepts("zeta-1"));
    assert_eq!(replaced.skip_reason("zeta-1"), Some(SkipReason::Excluded));

    let mut none = alpha(Order::Asc);
    none.exclude = Vec::new().into();
    assert!(none.accepts(sig));
    assert_eq!(none.choose(&tags).eligible, 3);
}

/// Defence in depth: tags that are not OCI tags never get chosen.
#[test]
fn invalid_tags_are_skipped() {
    let long = "a".repeat(129);
    let tags = ["", "-1", ".hidden", "a/b", "zz z", long.as_str(), "ok"];
    let d = alpha(Order::Asc).choose(&tags);
    assert_eq!(d.chosen.as_deref(), Some("ok"));
    assert_eq!(d.skipped.get(&SkipReason::InvalidTag), Some(&6));
    assert!(!alpha(Order::Asc).accepts("a/b"));
}

#[test]
fn decision_display() {
    let mut tags: Vec<String> = Vec::new();
    tags.extend((0..3).map(|i| format!("sha256-{i}.sig")));
    tags.extend((0..5).map(|i| format!("build-{i}")));
    tags.extend(["2.0.0", "0.9.0"].map(String::from));
    tags.extend((0..26).map(|i| format!("1.{}.{}", i / 10, i % 10)));
    tags.push("1.4.2".to_string());
    let d = semver("1.x").choose(&tags);
    assert_eq!(d.considered, 37);
    assert_eq!(
        d.to_string(),
        "chose 1.4.2 of 37 tags by semver 1.x (skipped: 3 excluded, 5 not semver, 2 out of range)"
    );
    assert_eq!(d.skipped_total(), 10);
    assert_eq!(d.eligible, 27);

    let d = semver("1.x").choose(&["1.0.0"]);
    assert_eq!(d.to_string(), "chose 1.0.0 of 1 tag by semver 1.x");

    let empty = semver("1.x").choose(&[] as &[&str]);
    assert_eq!(empty.chosen, None);
    assert_eq!(empty.considered, 0);
    assert_eq!(
        empty.to_string(),
        "no candidate by semver 1.x: the repository lists no tags"
    );

    let all_skipped = semver("2.x").choose(&["latest", "1.0.0", "x.sig"]);
    assert_eq!(all_skipped.chosen, None);
    assert_eq!(all_skipped.eligible, 0);
    assert_eq!(
        all_skipped.to_string(),
        "no candidate by semver 2.x: all 3 tags skipped (1 excluded, 1 not semver, 1 out of range)"
    );
    assert!(semver("2.x").rank(&["latest", "1.0.0"]).is_empty());
}

#[test]
fn order_and_describe() {
    assert_eq!("asc".parse::<Order>(), Ok(Order::Asc));
    assert_eq!("DESC".parse::<Order>(), Ok(Order::Desc));
    assert_eq!(
        "up".parse::<Order>().unwrap_err().to_string(),
        "unknown order \"up\": use \"asc\" or \"desc\""
    );
    assert_eq!(Order::default(), Order::Asc);
    assert_eq!(Order::Desc.to_string(), "desc");
    assert_eq!(semver(">= 1.0, < 2.0").describe(), "semver >= 1.0, < 2.0");
    assert_eq!(alpha(Order::Asc).describe(), "alphabetical asc");
    assert_eq!(
        with_filter(numeric(Order::Desc), r"^main-(?P<ts>\d+)", None).describe(),
        r"numerical desc, filter ^main-(?P<ts>\d+)"
    );
    assert_eq!(
        SkipReason::FilterMismatch.to_string(),
        "not matching filter"
    );
    assert!(SkipReason::InvalidTag < SkipReason::NotNumeric);
}

#[test]
fn compare_is_none_for_ineligible_tags() {
    let p = semver("1.x");
    assert_eq!(p.compare("1.2.0", "1.1.0"), Some(Ordering::Greater));
    assert_eq!(p.compare("1.1.0", "1.2.0"), Some(Ordering::Less));
    assert_eq!(p.compare("1.1.0", "1.1.0"), Some(Ordering::Equal));
    assert_eq!(p.compare("2.0.0", "1.1.0"), None);
    assert_eq!(p.compare("1.1.0", "latest"), None);
}

// ---- property tests ----------------------------------------------------------------

/// Flux's algorithm written out step by step, as a model: drop invalid and excluded tags,
/// sort descending by bytes, map each key to the last (smallest) tag written for it, walk
/// the keys in descending order (one of Go's map orders), and apply the policy's loop.
/// Non-numeric keys are skipped rather than failing (Baton's documented deviation).
fn flux_model(policy: &Policy, tags: &[String]) -> Option<String> {
    let mut list: Vec<&str> = tags
        .iter()
        .map(String::as_str)
        .filter(|t| {
            crate::reference::is_valid_tag(t) && !policy.exclude.iter().any(|re| re.is_match(t))
        })
        .collect();
    list.sort_unstable_by(|a, b| b.cmp(a));
    list.dedup();
    let mut keys: Vec<(String, &str)> = Vec::new();
    for tag in list {
        let key = match &policy.filter {
            None => Some(tag.to_string()),
            Some(filter) => {
                let mut locs = filter.locations();
                let mut out = String::new();
                filter.apply(tag, &mut locs, &mut out).map(str::to_string)
            }
        };
        let Some(key) = key else { continue };
        match keys.iter_mut().find(|(k, _)| *k == key) {
            Some(entry) => entry.1 = tag,
            None => keys.push((key, tag)),
        }
    }
    keys.sort_by(|a, b| b.0.cmp(&a.0));
    match &policy.rule {
        Rule::Semver(range) => {
            let mut best: Option<(TagVersion, &str)> = None;
            for (key, tag) in &keys {
                if let Some(v) = TagVersion::parse_tag(key)
                    && range.matches(&v)
                    && best
                        .as_ref()
                        .is_none_or(|(b, _)| v.cmp_precedence(b) == Ordering::Greater)
                {
                    best = Some((v, tag));
                }
            }
            best.map(|(_, tag)| tag.to_string())
        }
        Rule::Alphabetical(order) => {
            let pick = match order {
                Order::Asc => keys.first(),
                Order::Desc => keys.last(),
            };
            pick.map(|(_, tag)| tag.to_string())
        }
        Rule::Numerical(order) => {
            let mut latest: Option<(f64, &str)> = None;
            for (key, tag) in &keys {
                let Some(cv) = parse_go_float(key) else {
                    continue;
                };
                let keep = match (latest, order) {
                    (None, _) => false,
                    (Some((pv, _)), Order::Asc) => cv < pv,
                    (Some((pv, _)), Order::Desc) => cv > pv,
                };
                if !keep {
                    latest = Some((cv, tag));
                }
            }
            latest.map(|(_, tag)| tag.to_string())
        }
    }
}

/// Tags shaped like real registries: semver with and without `v`, pre-releases, build
/// metadata, partial versions, numbers, branch builds, signatures and junk.
fn tag_strategy() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => (any::<bool>(), 0u64..4, 0u64..4, 0u64..4,
              prop::option::of(prop_oneof![Just("rc.1"), Just("rc.2"), Just("alpha"), Just("0")]),
              prop::option::of(prop_oneof![Just("b1"), Just("b2"), Just("10")]))
            .prop_map(|(v, ma, mi, pa, pre, build)| {
                let mut s = format!("{}{ma}.{mi}.{pa}", if v { "v" } else { "" });
                if let Some(pre) = pre { s.push('-'); s.push_str(pre); }
                if let Some(b) = build { s.push('+'); s.push_str(b); }
                s
            }),
        1 => (0u64..4, 0u64..4).prop_map(|(a, b)| format!("{a}.{b}")),
        2 => (0u32..2000).prop_map(|n| n.to_string()),
        2 => ("[a-f0-9]{3}", 0u32..50).prop_map(|(sha, ts)| format!("main-{sha}-{ts}")),
        1 => "[a-f0-9]{4}".prop_map(|h| format!("sha256-{h}.sig")),
        1 => "[A-Za-z0-9_.-]{0,6}",
        1 => prop_oneof![Just("NaN"), Just("nan"), Just("inf"), Just("-Inf"), Just("0x1p4"), Just("1_6"), Just("2e1"), Just("20"), Just("020")]
            .prop_map(str::to_string),
        1 => (0u64..3, 0u64..3, 0u64..3).prop_map(|(a, b, c)| format!("0{a}.{b}.0{c}")),
    ]
}

fn policy_strategy() -> impl Strategy<Value = Policy> {
    let ranges = prop_oneof![
        Just("*"),
        Just("1.x"),
        Just(">=1.0.0-0"),
        Just("^0.2"),
        Just("~1.2"),
        Just(">= 1.0, < 3.0 || 3.1.x"),
        Just("1.1 - 2.2"),
        Just("!=1.2.3"),
        Just("*-0"),
    ];
    let order = prop_oneof![Just(Order::Asc), Just(Order::Desc)];
    prop_oneof![
        ranges.prop_map(semver),
        order.clone().prop_map(alpha),
        order.clone().prop_map(numeric),
        order.prop_map(|o| with_filter(numeric(o), r"^main-[a-f0-9]+-(?P<ts>[0-9]+)", Some("$ts"))),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// The choice is the maximum under `compare` among eligible tags, is itself eligible
    /// (so in range for semver), and does not depend on input order.
    #[test]
    fn choice_is_the_maximum_and_order_independent(
        policy in policy_strategy(),
        (tags, shuffled) in prop::collection::vec(tag_strategy(), 0..40)
            .prop_flat_map(|tags| (Just(tags.clone()), Just(tags).prop_shuffle())),
    ) {
        let decision = policy.choose(&tags);
        prop_assert_eq!(&decision.chosen, &flux_model(&policy, &tags));
        let eligible: Vec<&String> = tags.iter().filter(|t| policy.accepts(t)).collect();
        // NaN takes its meaning from its place in Flux's walk, outside any total order.
        let has_nan = matches!(policy.rule, Rule::Numerical(_))
            && eligible.iter().any(|t| parse_go_float(t).is_some_and(f64::is_nan));
        prop_assert_eq!(decision.eligible, eligible.len());
        prop_assert_eq!(decision.considered, tags.len());
        prop_assert_eq!(decision.eligible + decision.skipped_total(), tags.len());
        match &decision.chosen {
            None => prop_assert!(eligible.is_empty()),
            Some(best) => {
                prop_assert!(policy.accepts(best));
                if !has_nan {
                    for tag in &eligible {
                        prop_assert_ne!(policy.compare(best, tag), Some(Ordering::Less));
                    }
                }
                if let Rule::Semver(range) = &policy.rule {
                    let version = parse_tag_version(best).unwrap();
                    prop_assert!(range.matches(&version));
                    // Independent of tie-breaks: no eligible version has higher precedence.
                    for tag in &eligible {
                        let other = parse_tag_version(tag).unwrap();
                        prop_assert_ne!(other.cmp_precedence(&version), Ordering::Greater);
                    }
                }
                if let Rule::Alphabetical(order) = policy.rule {
                    for tag in &eligible {
                        match order {
                            Order::Asc => prop_assert!(best.as_str() >= tag.as_str()),
                            Order::Desc => prop_assert!(best.as_str() <= tag.as_str()),
                        }
                    }
                }
            }
        }
        prop_assert_eq!(&policy.choose(&shuffled), &decision);
        let ranked = policy.rank(&tags);
        prop_assert_eq!(ranked.len(), eligible.len());
        if !has_nan {
            prop_assert_eq!(ranked.first(), decision.chosen.as_ref());
        }
        prop_assert_eq!(policy.rank(&shuffled), ranked);
    }

    /// The `ends_with(".sig")` shortcut for the default exclusion agrees with the regex.
    #[test]
    fn default_exclusion_shortcut(tag in "[A-Za-z0-9_][A-Za-z0-9._-]{0,12}(\\.sig|sig|\\.sigx)?") {
        let re = &default_exclude()[0];
        prop_assert!(crate::reference::is_valid_tag(&tag));
        prop_assert_eq!(excludes(re, &tag), re.is_match(&tag));
    }

    /// Parsing never panics on arbitrary text, and a parsed range never panics matching.
    #[test]
    fn range_parser_total(text in "[ 0-9xX*.,|<>=!~^v+a-z-]{0,24}", ma in 0u64..5, mi in 0u64..5) {
        if let Ok(range) = SemverRange::parse(&text) {
            let _ = range.matches(&TagVersion::new(ma, mi, 0));
            prop_assert_eq!(range.as_str(), text.as_str());
        }
    }
}
