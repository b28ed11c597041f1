//! Verification: the checks that prove an environment runs what its markers say (HTTP,
//! commit statuses, Prometheus), and the verdicts read from their answers and from Git notes.
//!
//! This file is pure: the check definitions, the results as recorded in the notes, and the
//! judgement of a move (passed since when, waiting until when, failed). [`probe`] asks the
//! outside world; the pass decides when, and writes the notes.

pub mod config;
pub mod probe;

use std::time::Duration;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::common::time::{format_duration, rfc3339_seconds, utc};

pub use config::read_verify;

/// Longest an answer is kept in a note or a message, in characters.
pub const ANSWER_CHARS: usize = 200;

/// What one check asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckKind {
    /// `GET url` must answer 2xx; with `expect`, its body must contain that text.
    Http {
        /// The address, with `{version}`, `{image}`, `{env}` placeholders.
        url: String,
        /// Text the body must contain, with the same placeholders.
        expect: Option<String>,
    },
    /// The forge's commit statuses and check runs on the move's commit whose context
    /// (check run: name) matches the glob must all have succeeded, and at least one exist.
    CommitStatus {
        /// The glob, e.g. `kustomization/*`.
        pattern: String,
    },
    /// A Prometheus instant query must return a non-empty result.
    Prometheus {
        /// The server, e.g. `http://prometheus:9090`.
        base: String,
        /// The PromQL query, with the placeholders.
        query: String,
    },
}

/// One `[[environments.NAME.verify]]` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// What it asks.
    pub kind: CheckKind,
    /// The deadline of one attempt.
    pub timeout: Duration,
    /// Attempts after the first failed one within a pass, with backoff.
    pub retries: u32,
    /// A file holding a bearer token for HTTP and Prometheus checks, sent only to the
    /// check's own address.
    pub token_file: Option<std::path::PathBuf>,
}

/// The placeholders a check fills in.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    /// The environment.
    pub env: &'a str,
    /// The `[images]` name.
    pub image: &'a str,
    /// The version the environment's markers hold.
    pub version: &'a str,
}

impl Check {
    /// Whether the check names `{version}` or `{image}`: it then runs once per image,
    /// otherwise once per environment.
    pub fn per_image(&self) -> bool {
        let names = |s: &str| s.contains("{version}") || s.contains("{image}");
        match &self.kind {
            CheckKind::Http { url, expect } => names(url) || expect.as_deref().is_some_and(names),
            CheckKind::CommitStatus { .. } => true,
            CheckKind::Prometheus { query, .. } => names(query),
        }
    }

    /// The check in words, as notes, logs and the status show it: the address without
    /// credentials or query string (placeholders not filled).
    pub fn describe(&self) -> String {
        match &self.kind {
            CheckKind::Http { url, expect } => match expect {
                Some(e) => format!("http {} expect {e:?}", shown_url(url)),
                None => format!("http {}", shown_url(url)),
            },
            CheckKind::CommitStatus { pattern } => format!("commit_status {pattern}"),
            CheckKind::Prometheus { base, query } => {
                format!("prometheus {} query {query:?}", shown_url(base))
            }
        }
    }
}

/// `text` with `{version}`, `{image}` and `{env}` replaced.
pub fn fill(text: &str, subject: &Subject<'_>) -> String {
    text.replace("{version}", subject.version)
        .replace("{image}", subject.image)
        .replace("{env}", subject.env)
}

/// An address as it may be shown: scheme, host, port and path; user information, query and
/// fragment dropped (they may carry credentials).
pub fn shown_url(text: &str) -> String {
    match url::Url::parse(text) {
        Ok(mut u) => {
            let had_query = u.query().is_some();
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.set_query(None);
            u.set_fragment(None);
            let mut out = u.to_string();
            if had_query {
                out.push_str("?…");
            }
            out
        }
        // Before filling, placeholders may make it unparseable; cut at the query anyway.
        Err(_) => {
            let cut = text.split(['?', '#']).next().unwrap_or("");
            match cut.split_once("://") {
                Some((scheme, rest)) => {
                    let rest = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
                    format!("{scheme}://{rest}")
                }
                None => cut.to_string(),
            }
        }
    }
}

/// What to do when a move does not verify within `verify_timeout`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnFailure {
    /// Stop promoting from it and say why (the default).
    #[default]
    Hold,
    /// Commit the previous version back.
    Rollback,
}

impl OnFailure {
    /// The word the configuration uses.
    pub fn as_str(self) -> &'static str {
        match self {
            OnFailure::Hold => "hold",
            OnFailure::Rollback => "rollback",
        }
    }
}

/// An environment's verification: its checks, how long a move may take to pass them, and
/// what happens when it does not.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VerifyConfig {
    /// The checks, in the order written; none means the environment is not verified.
    pub checks: Vec<Check>,
    /// How long a move may take to verify.
    pub timeout: Duration,
    /// Hold or roll back.
    pub on_failure: OnFailure,
}

impl VerifyConfig {
    /// Whether the environment has checks.
    pub fn enabled(&self) -> bool {
        !self.checks.is_empty()
    }
}

/// The default `verify_timeout`.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(15 * 60);

/// One check's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Answer {
    /// The check in words ([`Check::describe`]).
    pub check: String,
    /// Whether it passed.
    pub passed: bool,
    /// What it answered, in at most [`ANSWER_CHARS`] characters.
    pub answer: String,
}

impl Answer {
    /// An answer, its text put on one line and cut to [`ANSWER_CHARS`].
    pub fn new(check: &Check, passed: bool, answer: &str) -> Answer {
        Answer {
            check: check.describe(),
            passed,
            answer: short(answer),
        }
    }
}

/// `text` on one line, at most [`ANSWER_CHARS`] characters.
pub fn short(text: &str) -> String {
    let line = crate::common::text::one_line(text);
    let line = line.trim();
    match line.char_indices().nth(ANSWER_CHARS) {
        Some((cut, _)) => format!("{}…", &line[..cut]),
        None => line.to_string(),
    }
}

/// The verdict of one verification run, as a note records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Every check passed.
    Passed,
    /// At least one check did not.
    Failed,
    /// The move did not verify in time and was rolled back.
    RolledBack,
}

impl Verdict {
    /// The verdict as notes write it.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Passed => "passed",
            Verdict::Failed => "failed",
            Verdict::RolledBack => "rolled_back",
        }
    }
}

/// One line of a Git note on a move's commit: a verification result for one image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// When, RFC 3339 (first, so that sorted lines are in time order).
    pub at: String,
    /// The environment.
    pub environment: String,
    /// The `[images]` name.
    pub image: String,
    /// The version verified.
    pub version: String,
    /// The verdict.
    pub verdict: Verdict,
    /// Each check's answer.
    pub checks: Vec<Answer>,
}

impl Record {
    /// The record as one note line (JSON).
    pub fn to_line(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// When it was made; `None` when the note's text is not a time.
    pub fn time(&self) -> Option<Timestamp> {
        self.at.parse().ok()
    }

    /// The first check that did not pass, in words with its answer.
    pub fn failing(&self) -> Option<String> {
        self.checks
            .iter()
            .find(|a| !a.passed)
            .map(|a| format!("{}: {}", a.check, a.answer))
    }
}

/// Reads the records in a note's text (one JSON object per line); other lines are skipped.
pub fn parse_note(text: &str) -> Vec<Record> {
    text.lines()
        .filter_map(|line| serde_json::from_str::<Record>(line.trim()).ok())
        .collect()
}

/// How a move stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    /// It passed; `since` is when it first did (the start of a soak).
    Passed {
        /// The first pass.
        since: Timestamp,
        /// Whether it passes now (the latest answers).
        now: bool,
    },
    /// Not passed yet, within `verify_timeout`.
    Waiting {
        /// When the time is up.
        deadline: Timestamp,
    },
    /// Not passed within `verify_timeout`.
    Failed {
        /// When the time was up.
        deadline: Timestamp,
    },
}

/// A move's verification: its state and the latest answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Judgement {
    /// Passed, waiting or failed.
    pub state: State,
    /// The latest answer of each check (empty before any was asked).
    pub answers: Vec<Answer>,
    /// A record to append to the move's note: the verdict differs from the last recorded.
    pub record: Option<Record>,
}

impl Judgement {
    /// Whether it passes now.
    pub fn passing_now(&self) -> bool {
        matches!(self.state, State::Passed { now: true, .. })
    }

    /// The first failing check and its answer, `check: answer`.
    pub fn failing(&self) -> Option<String> {
        self.answers
            .iter()
            .find(|a| !a.passed)
            .map(|a| format!("{}: {}", a.check, a.answer))
    }

    /// One line for people: `passed since ...`, `waiting (until ...): CHECK: ANSWER`,
    /// `failed: ...`.
    pub fn describe(&self) -> String {
        let failing = self
            .failing()
            .unwrap_or_else(|| "no answer yet".to_string());
        match &self.state {
            State::Passed { since, now: true } => format!("verified since {}", utc(*since)),
            State::Passed { since, now: false } => {
                format!("verified since {}, failing now: {failing}", utc(*since))
            }
            State::Waiting { deadline } => {
                format!("verifying until {}: {failing}", utc(*deadline))
            }
            State::Failed { deadline } => {
                format!("did not verify by {}: {failing}", utc(*deadline))
            }
        }
    }
}

/// The facts a judgement needs.
#[derive(Debug, Clone)]
pub struct Facts<'a> {
    /// Who and what: environment, image, version.
    pub subject: Subject<'a>,
    /// When the move reached the branch.
    pub moved_at: Timestamp,
    /// The records already in the move's note (any image, any environment).
    pub records: &'a [Record],
    /// This pass's answers, when the checks were asked.
    pub answers: Option<Vec<Answer>>,
    /// `verify_timeout`.
    pub timeout: Duration,
    /// The instant judged at.
    pub now: Timestamp,
}

/// Judges a move from its recorded results and this pass's answers.
pub fn judge(facts: Facts<'_>) -> Judgement {
    let subject = facts.subject;
    let mine: Vec<&Record> = facts
        .records
        .iter()
        .filter(|r| {
            r.environment == subject.env && r.image == subject.image && r.version == subject.version
        })
        .collect();
    let first_pass = mine
        .iter()
        .filter(|r| r.verdict == Verdict::Passed)
        .filter_map(|r| r.time())
        .min();
    let last = mine.iter().max_by_key(|r| r.time());
    let secs = i64::try_from(facts.timeout.as_secs()).unwrap_or(i64::MAX);
    let deadline = facts
        .moved_at
        .checked_add(jiff::SignedDuration::from_secs(secs))
        .unwrap_or(Timestamp::MAX);
    let (passing, answers) = match &facts.answers {
        Some(answers) => (
            !answers.is_empty() && answers.iter().all(|a| a.passed),
            answers.clone(),
        ),
        None => (
            last.is_some_and(|r| r.verdict == Verdict::Passed),
            last.map(|r| r.checks.clone()).unwrap_or_default(),
        ),
    };
    let verdict = if passing {
        Verdict::Passed
    } else {
        Verdict::Failed
    };
    let record = match &facts.answers {
        Some(answers) if last.map(|r| r.verdict) != Some(verdict) => Some(Record {
            at: rfc3339_seconds(facts.now),
            environment: subject.env.to_string(),
            image: subject.image.to_string(),
            version: subject.version.to_string(),
            verdict,
            checks: answers.clone(),
        }),
        _ => None,
    };
    let first_pass = match (first_pass, passing && facts.answers.is_some()) {
        (Some(t), _) => Some(t),
        (None, true) => Some(facts.now),
        (None, false) => None,
    };
    let state = match first_pass {
        Some(since) => State::Passed {
            since,
            now: passing,
        },
        None if facts.now >= deadline => State::Failed { deadline },
        None => State::Waiting { deadline },
    };
    Judgement {
        state,
        answers,
        record,
    }
}

/// Why a version cannot be promoted from `source` because of its verification; `Ok(since)`
/// with the instant its verified time starts.
pub fn promotable(
    source: &str,
    image: &str,
    version: &str,
    judgement: Option<&Judgement>,
) -> Result<Timestamp, String> {
    let Some(j) = judgement else {
        return Err(format!(
            "{image} {version} in {source}: verification has not run yet"
        ));
    };
    let failing = j.failing().unwrap_or_else(|| "no answer yet".to_string());
    match &j.state {
        State::Passed { since, now: true } => Ok(*since),
        State::Passed { since, now: false } => Err(format!(
            "{image} {version} verified in {source} since {}, but {source} fails verification now: {failing}",
            utc(*since)
        )),
        State::Waiting { deadline } => Err(format!(
            "{image} {version} not verified in {source} yet (until {}): {failing}",
            utc(*deadline)
        )),
        State::Failed { deadline } => Err(format!(
            "{image} {version} did not verify in {source} by {}: {failing}",
            utc(*deadline)
        )),
    }
}

/// Whether the recorded results say `subject` (a version in a source environment) had
/// verified at instant `at`, for `baton verify --range`: only records of that environment,
/// image and version made at or before `at` count. `Ok(since)` with the first pass when the
/// latest such record is a pass; otherwise why not, in words.
pub fn recorded_pass(
    records: &[Record],
    subject: Subject<'_>,
    at: Timestamp,
) -> Result<Timestamp, String> {
    let Subject {
        env,
        image,
        version,
    } = subject;
    let mut mine: Vec<(Timestamp, &Record)> = records
        .iter()
        .filter(|r| r.environment == env && r.image == image && r.version == version)
        .filter_map(|r| Some((r.time()?, r)))
        .filter(|(t, _)| *t <= at)
        .collect();
    mine.sort_by_key(|(t, _)| *t);
    let first_pass = mine
        .iter()
        .find(|(_, r)| r.verdict == Verdict::Passed)
        .map(|(t, _)| *t);
    let Some((last_at, last)) = mine.last() else {
        return Err(format!(
            "{image} {version} has no verification recorded in {env} before this commit"
        ));
    };
    let failing = last
        .failing()
        .unwrap_or_else(|| "no check answered".to_string());
    match (first_pass, last.verdict) {
        (Some(since), Verdict::Passed) => Ok(since),
        (_, Verdict::RolledBack) => Err(format!(
            "{image} {version} was rolled back in {env} at {}: {failing}",
            utc(*last_at)
        )),
        (Some(since), Verdict::Failed) => Err(format!(
            "{image} {version} verified in {env} since {}, but failed there at {}: {failing}",
            utc(since),
            utc(*last_at)
        )),
        (None, _) => Err(format!(
            "{image} {version} never passed verification in {env} (last recorded at {}: {failing})",
            utc(*last_at)
        )),
    }
}

/// The reason text of a rollback, for the commit body and the notification.
pub fn rollback_reason(env: &str, version: &str, timeout: Duration, failing: &str) -> String {
    format!(
        "{version} did not verify in {env} within {}: {failing}",
        format_duration(timeout)
    )
}

#[cfg(test)]
mod tests;
