use super::*;

fn at(secs: i64) -> Timestamp {
    Timestamp::from_second(secs).unwrap()
}

fn http(url: &str, expect: Option<&str>) -> Check {
    Check {
        kind: CheckKind::Http {
            url: url.into(),
            expect: expect.map(String::from),
        },
        timeout: Duration::from_secs(1),
        retries: 0,
        token_file: None,
    }
}

const SUBJECT: Subject<'static> = Subject {
    env: "staging",
    image: "app",
    version: "1.2.0",
};

fn answer(passed: bool, text: &str) -> Answer {
    Answer {
        check: "http http://s/version".into(),
        passed,
        answer: text.into(),
    }
}

fn facts<'a>(records: &'a [Record], answers: Option<Vec<Answer>>, now: i64) -> Facts<'a> {
    Facts {
        subject: SUBJECT,
        moved_at: at(1000),
        records,
        answers,
        timeout: Duration::from_secs(600),
        now: at(now),
    }
}

#[test]
fn checks_naming_the_version_or_image_run_per_image() {
    assert!(http("http://s/{image}/version", None).per_image());
    assert!(http("http://s/version", Some("{version}")).per_image());
    assert!(!http("http://s/{env}/health", None).per_image());
    let prom = Check {
        kind: CheckKind::Prometheus {
            base: "http://p:9090".into(),
            query: "up{env=\"{env}\"} == 1".into(),
        },
        ..http("x", None)
    };
    assert!(!prom.per_image());
    assert_eq!(
        fill("v={version} i={image} e={env}", &SUBJECT),
        "v=1.2.0 i=app e=staging"
    );
}

#[test]
fn shown_addresses_carry_no_credentials_or_query() {
    assert_eq!(
        shown_url("https://user:pw@s.example.com/v?token=abc#x"),
        "https://s.example.com/v?…"
    );
    assert_eq!(
        shown_url("http://s:8080/{env}/v"),
        "http://s:8080/%7Benv%7D/v"
    );
    assert_eq!(
        http(
            "https://s.example.com/version?key=secret",
            Some("{version}")
        )
        .describe(),
        "http https://s.example.com/version?… expect \"{version}\""
    );
    assert_eq!(shown_url("not a url?secret"), "not a url");
}

#[test]
fn a_first_pass_starts_the_verified_time_and_is_recorded_once() {
    let j = judge(facts(&[], Some(vec![answer(false, "answered 503")]), 1100));
    assert_eq!(j.state, State::Waiting { deadline: at(1600) });
    let failed = j.record.clone().unwrap();
    assert_eq!(failed.verdict, Verdict::Failed);
    assert!(
        j.describe()
            .contains("verifying until 1970-01-01 00:26 UTC: http http://s/version: answered 503"),
        "{}",
        j.describe()
    );
    // The same verdict again writes nothing.
    let records = vec![failed];
    let again = judge(facts(&records, Some(vec![answer(false, "503")]), 1200));
    assert_eq!(again.record, None);
    // It passes: recorded, and the verified time starts now.
    let passed = judge(facts(&records, Some(vec![answer(true, "200")]), 1300));
    assert_eq!(
        passed.state,
        State::Passed {
            since: at(1300),
            now: true
        }
    );
    let mut records = records;
    records.push(passed.record.clone().unwrap());
    // Later it fails: still verified since its first pass, failing now.
    let later = judge(facts(&records, Some(vec![answer(false, "503")]), 5000));
    assert_eq!(
        later.state,
        State::Passed {
            since: at(1300),
            now: false
        }
    );
    assert_eq!(later.record.as_ref().unwrap().verdict, Verdict::Failed);
    // Without asking, the recorded results answer.
    let read = judge(facts(&records, None, 5000));
    assert!(read.passing_now());
    assert!(read.record.is_none());
}

#[test]
fn no_pass_within_the_timeout_fails() {
    let j = judge(facts(&[], Some(vec![answer(false, "refused")]), 1600));
    assert_eq!(j.state, State::Failed { deadline: at(1600) });
    assert_eq!(
        promotable("staging", "app", "1.2.0", Some(&j)).unwrap_err(),
        "app 1.2.0 did not verify in staging by 1970-01-01 00:26 UTC: http http://s/version: refused"
    );
    // No answers at all never passes.
    let empty = judge(facts(&[], Some(Vec::new()), 1100));
    assert!(!empty.passing_now());
}

#[test]
fn records_of_other_moves_do_not_count() {
    let other = Record {
        at: "1970-01-01T00:10:00Z".into(),
        environment: "staging".into(),
        image: "app".into(),
        version: "1.1.0".into(),
        verdict: Verdict::Passed,
        checks: vec![],
    };
    let j = judge(facts(std::slice::from_ref(&other), None, 1100));
    assert!(matches!(j.state, State::Waiting { .. }));
}

#[test]
fn notes_round_trip_one_record_per_line() {
    let r = Record {
        at: "2026-11-26T10:00:00Z".into(),
        environment: "staging".into(),
        image: "app".into(),
        version: "1.2.0".into(),
        verdict: Verdict::RolledBack,
        checks: vec![answer(false, "line one\nline two")],
    };
    let line = r.to_line();
    assert!(!line.contains('\n'));
    assert!(line.starts_with("{\"at\":\"2026-11-26T10:00:00Z\""));
    let text = format!("{line}\nnot json\n\n{}\n", r.to_line());
    assert_eq!(parse_note(&text), vec![r.clone(), r]);
    assert_eq!(short(&"x".repeat(500)).chars().count(), ANSWER_CHARS + 1);
}

fn record(at: &str, version: &str, verdict: Verdict) -> Record {
    Record {
        at: at.into(),
        environment: "staging".into(),
        image: "app".into(),
        version: version.into(),
        verdict,
        checks: vec![answer(verdict == Verdict::Passed, "answered 503")],
    }
}

#[test]
fn a_recorded_pass_counts_only_for_its_version_and_before_the_instant_judged() {
    let pass = record("1970-01-01T00:10:00Z", "1.2.0", Verdict::Passed);
    assert_eq!(
        recorded_pass(std::slice::from_ref(&pass), SUBJECT, at(700)),
        Ok(at(600))
    );
    // After the instant judged, it does not count yet.
    assert!(
        recorded_pass(std::slice::from_ref(&pass), SUBJECT, at(500))
            .unwrap_err()
            .contains("has no verification recorded in staging")
    );
    // Another version's or environment's pass does not count.
    let other = record("1970-01-01T00:10:00Z", "1.1.0", Verdict::Passed);
    let mut elsewhere = pass.clone();
    elsewhere.environment = "production".into();
    assert!(recorded_pass(&[other, elsewhere], SUBJECT, at(700)).is_err());
    // A time that is not a time does not count.
    let mut garbled = pass.clone();
    garbled.at = "yesterday".into();
    assert!(recorded_pass(&[garbled], SUBJECT, at(700)).is_err());
    // A later failure or rollback undoes it, in the order of time, not of lines.
    let failed = record("1970-01-01T00:20:00Z", "1.2.0", Verdict::Failed);
    let why = recorded_pass(&[failed.clone(), pass.clone()], SUBJECT, at(1300)).unwrap_err();
    assert_eq!(
        why,
        "app 1.2.0 verified in staging since 1970-01-01 00:10 UTC, but failed there at 1970-01-01 00:20 UTC: http http://s/version: answered 503"
    );
    let back = record("1970-01-01T00:20:00Z", "1.2.0", Verdict::RolledBack);
    assert!(
        recorded_pass(&[pass.clone(), back], SUBJECT, at(1300))
            .unwrap_err()
            .contains("was rolled back in staging")
    );
    // Failures only: never passed.
    assert!(
        recorded_pass(&[failed], SUBJECT, at(1300))
            .unwrap_err()
            .starts_with("app 1.2.0 never passed verification in staging")
    );
    // Passing again after a failure counts from the first pass.
    let again = record("1970-01-01T00:30:00Z", "1.2.0", Verdict::Passed);
    let failed = record("1970-01-01T00:20:00Z", "1.2.0", Verdict::Failed);
    assert_eq!(
        recorded_pass(&[pass, failed, again], SUBJECT, at(1900)),
        Ok(at(600))
    );
}
