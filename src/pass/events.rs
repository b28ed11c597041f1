//! What a pass tells people: the notification events read off its report.

use super::{Outcome, PassReport, ReviewAction};
use crate::notifications::{Event, ScanFailures};

/// The commit and push-failure events of a pass: one [`Event::Committed`] per pushed
/// environment, one [`Event::PushFailed`] per failed one. Dry runs, unchanged and skipped
/// environments give none. Scan failures need a running count: see [`ScanFailures`].
pub fn events_from_report(report: &PassReport) -> Vec<Event> {
    let mut events = Vec::new();
    for env in &report.environments {
        match &env.outcome {
            Outcome::Pushed { commit, branch, .. } => events.push(Event::Committed {
                environment: env.name.clone(),
                moves: env.moves.clone(),
                commit: commit.clone(),
                branch: branch.clone(),
            }),
            Outcome::Failed(error) => events.push(Event::PushFailed {
                environment: env.name.clone(),
                error: error.clone(),
            }),
            Outcome::Unchanged
            | Outcome::Planned
            | Outcome::Skipped(_)
            | Outcome::Waiting(_)
            | Outcome::Reviewed { .. } => {}
        }
        if let Outcome::Pushed { commit, .. } = &env.outcome {
            for v in &env.verification {
                if let Some(to) = &v.rolled_back_to {
                    events.push(Event::RolledBack {
                        environment: env.name.clone(),
                        image: v.image.clone(),
                        version: v.version.clone(),
                        to: to.clone(),
                        reason: v.summary.clone(),
                        commit: commit.clone(),
                    });
                }
            }
        }
        for review in &env.reviews {
            if let ReviewAction::Opened { url, .. } = &review.action {
                events.push(Event::ReviewOpened {
                    environment: env.name.clone(),
                    image: review.image.clone(),
                    url: url.clone(),
                });
            }
        }
    }
    events
}

/// Records every scan of a pass in `failures`; the failures' events, in image-name order.
pub fn scan_failures(failures: &mut ScanFailures, report: &PassReport) -> Vec<Event> {
    report
        .scans
        .values()
        .filter_map(|scan| failures.record(&scan.image, scan.error.as_deref()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::git::message::Move;
    use crate::notifications::EventKind;
    use crate::pass::{EnvironmentReport, ImageScan};

    fn env(name: &str, outcome: Outcome, moves: Vec<Move>) -> EnvironmentReport {
        EnvironmentReport {
            moves,
            outcome,
            ..EnvironmentReport::new(name)
        }
    }

    fn scan(image: &str, error: Option<&str>) -> ImageScan {
        ImageScan {
            image: image.into(),
            registry: "ghcr.io".into(),
            tags: error.is_none().then(Vec::new),
            dropped_invalid: 0,
            requests: 1,
            error: error.map(str::to_string),
            error_kind: error.map(|_| "network"),
            judged: None,
        }
    }

    #[test]
    fn report_outcomes_become_events() {
        let report = PassReport {
            environments: vec![
                env(
                    "staging",
                    Outcome::Pushed {
                        commit: "0123456789abcdef".into(),
                        branch: "main".into(),
                        retries: 0,
                    },
                    vec![Move::example("api", "1.0.0", "1.0.1")],
                ),
                env("qa", Outcome::Failed("push failed: denied".into()), vec![]),
                env(
                    "dev",
                    Outcome::Planned,
                    vec![Move::example("api", "1.0.0", "1.0.1")],
                ),
                env("prod", Outcome::Skipped("window".into()), vec![]),
                env("idle", Outcome::Unchanged, vec![]),
            ],
            ..PassReport::default()
        };
        let events = events_from_report(&report);
        assert_eq!(events.len(), 2, "{events:#?}");
        assert_eq!(events[0].kind(), EventKind::Commit);
        assert_eq!(
            events[0].text(),
            "staging: api 1.0.0 -> 1.0.1 (commit 0123456789ab on main)"
        );
        assert_eq!(
            events[1],
            Event::PushFailed {
                environment: "qa".into(),
                error: "push failed: denied".into()
            }
        );
    }

    #[test]
    fn scan_streaks_count_and_reset() {
        let mut failures = ScanFailures::new();
        let failing = |n| PassReport {
            scans: [
                ("api".to_string(), scan("api", Some("timed out"))),
                (
                    "web".to_string(),
                    scan("web", (n == 2).then_some("refused")),
                ),
            ]
            .into_iter()
            .collect(),
            ..PassReport::default()
        };
        assert_eq!(scan_failures(&mut failures, &failing(1)).len(), 1);
        let events = scan_failures(&mut failures, &failing(2));
        assert_eq!(
            events[0],
            Event::ScanFailing {
                image: "api".into(),
                error: "timed out".into(),
                consecutive_failures: 2
            }
        );
        assert_eq!(failures.streak("web"), 1);
        scan_failures(&mut failures, &failing(3));
        assert_eq!(failures.streak("web"), 0, "a success ends the streak");
        assert_eq!(failures.streak("api"), 3);
        assert!(failures.record("api", None).is_none());
        assert_eq!(failures.streak("api"), 0);
    }
}
