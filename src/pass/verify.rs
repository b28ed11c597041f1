//! Verification inside a pass, before any environment moves: for every environment with
//! checks, the move that brought each image's current version is judged (its checks asked,
//! all environments at once, while its verdict is open or another environment promotes from
//! it), results are appended to the move's Git note, and a move that did not verify in time
//! is planned back where `on_verify_failure = "rollback"`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use jiff::Timestamp;

use super::{Context, gates};
use crate::forge::Forge;
use crate::git::{CommitRecord, NoteAuthor};
use crate::promotion::{self, SourceVersion};
use crate::verification::{
    self, Answer, Check, Judgement, OnFailure, Record, State, Subject, Verdict, probe,
};

/// A planned rollback of one image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rollback {
    /// The version moved back to (the failed move's `Baton-From`).
    pub to: String,
    /// The version that did not verify.
    pub of: String,
    /// The failing check, described (for `Baton-Failed-Check`).
    pub check: String,
    /// Why, in words (check and answer).
    pub reason: String,
}

/// How one image's current move in a verified environment stands.
#[derive(Debug, Clone)]
pub struct ImageVerification {
    /// The `[images]` name.
    pub image: String,
    /// The version its markers hold.
    pub version: String,
    /// The commit that brought it.
    pub commit: String,
    /// The judgement.
    pub judgement: Judgement,
    /// A rollback to make in this pass.
    pub rollback: Option<Rollback>,
    /// Why a failed move is not rolled back (a person's move, a rollback itself).
    pub kept: Option<String>,
}

/// The verification of every verified environment in this pass.
#[derive(Debug, Clone, Default)]
pub struct Verified {
    /// Environment → image → verification.
    pub by_env: BTreeMap<String, BTreeMap<String, ImageVerification>>,
}

impl Verified {
    /// The verification of `image` in `env`, when it has one.
    pub fn get(&self, env: &str, image: &str) -> Option<&ImageVerification> {
        self.by_env.get(env)?.get(image)
    }
}

/// One image's current move in an environment, read from its markers and history.
struct CurrentMove {
    env: String,
    image: String,
    version: String,
    commit: String,
    moved_at: Timestamp,
    /// The version before, from the move's trailers.
    from: Option<String>,
    /// `Baton-Promoted-By` of the move.
    promoted_by: Option<String>,
    /// The move is itself a rollback.
    is_rollback: bool,
    records: Vec<Record>,
}

/// The note author of this configuration.
fn author<'a>(cx: &'a Context<'_>) -> NoteAuthor<'a> {
    NoteAuthor {
        name: &cx.config.git.author_name,
        email: &cx.config.git.author_email,
    }
}

/// Judges the current moves of every verified environment among `names`, asking their
/// checks concurrently, and appends changed verdicts to the moves' notes (not in dry runs).
pub(super) async fn verify_all(cx: &Context<'_>, names: &[String]) -> Verified {
    let envs: Vec<&String> = names
        .iter()
        .filter(|n| {
            cx.config
                .environments
                .get(*n)
                .is_some_and(|e| e.verify.enabled())
        })
        .collect();
    if envs.is_empty() {
        return Verified::default();
    }
    if let Err(err) = cx.workspace.fetch_notes(author(cx)).await {
        tracing::warn!(error = %err, notes = crate::git::NOTES_REF, "cannot fetch the verification notes: judging from the clone's own");
    }
    let notes = cx.workspace.read_notes().await.unwrap_or_else(|err| {
        tracing::warn!(error = %err, "cannot read the verification notes");
        BTreeMap::new()
    });
    let sources: BTreeSet<&str> = cx
        .config
        .environments
        .values()
        .filter_map(|e| e.promote_from.as_deref())
        .collect();
    let mut moves = Vec::new();
    for env in &envs {
        moves.extend(current_moves(cx, env, &notes).await);
    }
    let answers = ask(cx, &moves, &sources).await;
    // The version each move came from, for the members of a group rolled back together.
    let froms: BTreeMap<(String, String), String> = moves
        .iter()
        .filter_map(|m| Some(((m.env.clone(), m.image.clone()), m.from.clone()?)))
        .collect();
    let mut out = Verified::default();
    let mut entries = Vec::new();
    for m in moves {
        let verify = &cx.config.environments[&m.env].verify;
        let key = (m.env.clone(), m.image.clone());
        let judgement = verification::judge(verification::Facts {
            subject: Subject {
                env: &m.env,
                image: &m.image,
                version: &m.version,
            },
            moved_at: m.moved_at,
            records: &m.records,
            answers: answers.get(&key).cloned(),
            timeout: verify.timeout,
            now: cx.now,
        });
        if let Some(record) = &judgement.record {
            tracing::info!(environment = %m.env, image = %m.image, version = %m.version, commit = %m.commit, verdict = record.verdict.as_str(), failing = record.failing().as_deref().unwrap_or(""), "verification verdict");
            entries.push((m.commit.clone(), record.to_line()));
        }
        let (rollback, kept) = match (&judgement.state, verify.on_failure) {
            (State::Failed { .. }, OnFailure::Rollback) => plan_rollback(&m, &judgement, verify),
            _ => (None, None),
        };
        out.by_env.entry(m.env.clone()).or_default().insert(
            m.image.clone(),
            ImageVerification {
                image: m.image,
                version: m.version,
                commit: m.commit,
                judgement,
                rollback,
                kept,
            },
        );
    }
    group_rollbacks(cx, &mut out, &froms);
    if !cx.dry_run {
        write_notes(cx, &entries).await;
    }
    out
}

/// A group moves back together: a member whose move came in the same commit as a member being
/// rolled back is rolled back too (to its own `Baton-From`), even though its checks passed.
fn group_rollbacks(
    cx: &Context<'_>,
    out: &mut Verified,
    froms: &BTreeMap<(String, String), String>,
) {
    for (env, images) in out.by_env.iter_mut() {
        let failed: Vec<(String, String, Rollback)> = images
            .values()
            .filter_map(|v| Some((v.image.clone(), v.commit.clone(), v.rollback.clone()?)))
            .collect();
        for (image, commit, rollback) in failed {
            let Some((group, members)) = cx.config.group_of(&image) else {
                continue;
            };
            for member in members.images.iter().filter(|m| **m != image) {
                let Some(v) = images.get_mut(member) else {
                    continue;
                };
                if v.rollback.is_some() || v.kept.is_some() || v.commit != commit {
                    continue;
                }
                let Some(to) = froms
                    .get(&(env.clone(), member.clone()))
                    .filter(|f| !f.is_empty())
                else {
                    continue;
                };
                tracing::info!(environment = %env, group = %group, image = %member, with = %image, "rolling back with its group");
                v.rollback = Some(Rollback {
                    to: to.clone(),
                    of: v.version.clone(),
                    check: rollback.check.clone(),
                    reason: format!(
                        "moved together with {image} in group {group}, which did not verify: {}",
                        rollback.reason
                    ),
                });
            }
        }
    }
}

/// Appends note lines and pushes them; a failure is logged (the verdicts stand for this
/// pass and are recorded by the next).
pub(super) async fn write_notes(cx: &Context<'_>, entries: &[(String, String)]) {
    if let Err(err) = cx.workspace.append_notes(entries, author(cx)).await {
        tracing::warn!(error = %err, notes = crate::git::NOTES_REF, "cannot record verification results: the next pass tries again");
    }
}

/// The rollback of a move that did not verify, or why it is kept.
fn plan_rollback(
    m: &CurrentMove,
    judgement: &Judgement,
    verify: &verification::VerifyConfig,
) -> (Option<Rollback>, Option<String>) {
    if let Some(by) = &m.promoted_by {
        return (
            None,
            Some(format!(
                "{by} moved {} to {} with baton promote: a person's move is not rolled back automatically",
                m.image, m.version
            )),
        );
    }
    if m.is_rollback {
        return (
            None,
            Some(format!(
                "{} {} is itself a rollback: it is not rolled back again; a person decides",
                m.image, m.version
            )),
        );
    }
    let Some(to) = m.from.clone().filter(|f| !f.is_empty()) else {
        return (
            None,
            Some(format!(
                "no earlier version of {} is recorded in the move's trailers: nothing to roll back to",
                m.image
            )),
        );
    };
    let failing = judgement
        .failing()
        .unwrap_or_else(|| "no check passed".to_string());
    let check = judgement
        .answers
        .iter()
        .find(|a| !a.passed)
        .map(|a| a.check.clone())
        .unwrap_or_else(|| "no answer".to_string());
    (
        Some(Rollback {
            to,
            of: m.version.clone(),
            check,
            reason: verification::rollback_reason(&m.env, &m.version, verify.timeout, &failing),
        }),
        None,
    )
}

/// Each image's current move in `env`: the version its markers agree on and the commit
/// that brought it, with the notes already on that commit.
async fn current_moves(
    cx: &Context<'_>,
    env: &str,
    notes: &BTreeMap<String, String>,
) -> Vec<CurrentMove> {
    let config = &cx.config.environments[env];
    let scan = match super::scan_paths(cx, config.paths.clone()).await {
        Ok(scan) => scan,
        Err(err) => {
            tracing::warn!(environment = %env, error = %err, "cannot scan for verification");
            return Vec::new();
        }
    };
    let records = match gates::read_history(cx.workspace, config.paths.clone()).await {
        Ok(records) => records,
        Err(err) => {
            tracing::warn!(environment = %env, error = %err, "cannot read the history for verification");
            return Vec::new();
        }
    };
    let mut images: BTreeMap<String, Vec<&crate::markers::Marker>> = BTreeMap::new();
    for marker in scan.files.iter().flat_map(|f| &f.markers) {
        if let Some(policy) = cx.config.policies.get(&marker.policy) {
            images.entry(policy.image.clone()).or_default().push(marker);
        }
    }
    let mut out = Vec::new();
    for (image, markers) in images {
        let SourceVersion::One(version) = promotion::source_version(markers) else {
            continue;
        };
        let repository = cx.config.images[&image].repository_text.clone();
        let policies: BTreeSet<String> = cx
            .config
            .policies_for_image(&image)
            .map(|(n, _)| n.clone())
            .collect();
        let Some(arrival) = gates::arrival(
            cx.workspace,
            records.clone(),
            env,
            &repository,
            &version,
            Some(&scan),
            &policies,
        )
        .await
        else {
            continue;
        };
        let id = crate::git::ObjectId::from_hex(arrival.commit.as_bytes()).ok();
        let record: Option<&CommitRecord> = records.iter().find(|r| Some(r.id) == id);
        let moved = record
            .map(|r| promotion::history::moves_for(r, env, &repository))
            .unwrap_or_default();
        let is_rollback = record.is_some_and(|r| {
            r.trailers
                .iter()
                .any(|(k, _)| k.eq_ignore_ascii_case(crate::git::message::TRAILER_ROLLBACK_OF))
        });
        out.push(CurrentMove {
            env: env.to_string(),
            from: moved
                .first()
                .and_then(|m| promotion::history::version_tags(&m.from).into_iter().next()),
            promoted_by: moved.first().and_then(|m| m.promoted_by.clone()),
            is_rollback,
            records: notes
                .get(&arrival.commit)
                .map(|text| verification::parse_note(text))
                .unwrap_or_default(),
            image,
            version,
            commit: arrival.commit,
            moved_at: arrival.time,
        });
    }
    out
}

/// Whether a move's checks are asked in this pass: until it passes, and always in an
/// environment others promote from (promotion needs it to verify now); never after it was
/// rolled back.
fn needs_asking(m: &CurrentMove, sources: &BTreeSet<&str>) -> bool {
    let mine: Vec<&Record> = m
        .records
        .iter()
        .filter(|r| r.environment == m.env && r.image == m.image && r.version == m.version)
        .collect();
    let last = mine.iter().max_by_key(|r| r.time()).map(|r| r.verdict);
    match last {
        Some(Verdict::RolledBack) => false,
        Some(Verdict::Passed) => sources.contains(m.env.as_str()),
        _ => true,
    }
}

/// Asks the checks of every move that needs it, all at once: environment-wide checks once per
/// environment, checks naming `{version}` or `{image}` once per image. Answers per (env, image).
async fn ask(
    cx: &Context<'_>,
    moves: &[CurrentMove],
    sources: &BTreeSet<&str>,
) -> BTreeMap<(String, String), Vec<Answer>> {
    let forge: Arc<Option<Result<Forge, String>>> = Arc::new(
        cx.config
            .forge
            .as_ref()
            .map(|f| Forge::from_config(f).map_err(|e| e.to_string())),
    );
    let mut set = tokio::task::JoinSet::new();
    let mut asked_env: BTreeSet<String> = BTreeSet::new();
    let mut wanted: Vec<&CurrentMove> = Vec::new();
    for m in moves.iter().filter(|m| needs_asking(m, sources)) {
        wanted.push(m);
        let checks = &cx.config.environments[&m.env].verify.checks;
        for (i, check) in checks.iter().enumerate() {
            let per_image = check.per_image();
            if !per_image && !asked_env.insert(format!("{}\u{0}{i}", m.env)) {
                continue;
            }
            let (check, forge): (Check, _) = (check.clone(), forge.clone());
            let (env, image, version, commit) = (
                m.env.clone(),
                m.image.clone(),
                m.version.clone(),
                m.commit.clone(),
            );
            set.spawn(async move {
                let subject = Subject {
                    env: &env,
                    image: &image,
                    version: &version,
                };
                let place = probe::Place {
                    commit: Some(&commit),
                    forge: forge.as_ref().as_ref(),
                };
                let answer = probe::run(&check, &subject, place).await;
                let scope = if per_image { Some(image.clone()) } else { None };
                (env, scope, i, answer)
            });
        }
    }
    let mut env_answers: BTreeMap<(String, usize), Answer> = BTreeMap::new();
    let mut image_answers: BTreeMap<(String, String, usize), Answer> = BTreeMap::new();
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok((env, None, i, answer)) => {
                env_answers.insert((env, i), answer);
            }
            Ok((env, Some(image), i, answer)) => {
                image_answers.insert((env, image, i), answer);
            }
            Err(err) => tracing::warn!(error = %err, "a verification check stopped"),
        }
    }
    let mut out = BTreeMap::new();
    for m in wanted {
        let checks = &cx.config.environments[&m.env].verify.checks;
        let answers: Vec<Answer> = (0..checks.len())
            .filter_map(|i| {
                image_answers
                    .get(&(m.env.clone(), m.image.clone(), i))
                    .or_else(|| env_answers.get(&(m.env.clone(), i)))
                    .cloned()
            })
            .collect();
        if answers.len() == checks.len() {
            out.insert((m.env.clone(), m.image.clone()), answers);
        }
    }
    out
}

/// The note line recording that `rollback` was made.
pub(super) fn rollback_record(cx: &Context<'_>, env: &str, v: &ImageVerification) -> String {
    Record {
        at: crate::common::time::rfc3339_seconds(cx.now),
        environment: env.to_string(),
        image: v.image.clone(),
        version: v.version.clone(),
        verdict: Verdict::RolledBack,
        checks: v.judgement.answers.clone(),
    }
    .to_line()
}
