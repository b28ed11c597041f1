//! `baton verify --range` as CI and a pre-receive hook run it: the real binary over a real
//! repository's commits. A person's edit that skips promote_from or the soak, or lands in a
//! freeze, is named with file, line and gate; a `Baton-Promoted-By` commit passes; a
//! pre-receive hook turns the push away. Attacks: ranges that are options, trees, unknown
//! names or symmetric differences.

use std::path::Path;

use crate::support::baton::{Baton, Run};
use crate::support::git_server::git;
use crate::support::promotion::{PRODUCTION, PromotionWorld, STAGING, manifest};

const GATED: &str = "promote_from = \"staging\"\nsoak = \"24h\"\n";

fn commit(work: &Path, file: &str, text: &str, message: &str) -> String {
    std::fs::write(work.join(file), text).unwrap();
    git(work, &["add", "-A"]);
    git(work, &["commit", "--quiet", "-m", message]);
    git(work, &["rev-parse", "HEAD"])
}

fn verify(w: &PromotionWorld, repo: &Path, range: &str, json: bool) -> Run {
    let mut args = vec![
        "verify".to_string(),
        "--range".to_string(),
        range.to_string(),
        "--repo".to_string(),
        repo.display().to_string(),
    ];
    if json {
        args.push("--json".into());
    }
    Baton::new(args).config(&w.config_path).run()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hand_edits_that_skip_the_gates_are_named_with_file_line_and_gate() {
    let w = PromotionWorld::new(GATED, None).await;
    let host = w.host();
    let work = w.writer.work.clone();
    git(&work, &["pull", "--quiet", "origin", "main"]);
    let base = git(&work, &["rev-parse", "HEAD"]);

    // Production straight to 1.1.0 while staging runs 1.0.0: promote_from is not satisfied.
    let skip = commit(
        &work,
        PRODUCTION,
        &manifest(&host, "1.1.0", None),
        "hotfix prod",
    );
    let run = verify(&w, &work, &format!("{base}..{skip}"), false);
    assert_eq!(run.code, 1, "{}", run.both());
    assert!(
        run.stdout.contains(&format!(
            "{PRODUCTION}:1: app {host}/app:1.0.0 -> {host}/app:1.1.0 in production by commit {}",
            &skip[..12]
        )),
        "{}",
        run.both()
    );
    assert!(
        run.stdout
            .contains("gate promote_from: staging runs 1.0.0 there, not 1.1.0"),
        "{}",
        run.both()
    );
    let run = verify(&w, &work, &format!("{base}..{skip}"), true);
    assert_eq!(run.code, 1, "{}", run.both());
    let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(json["commits"], 1);
    assert_eq!(json["violations"][0]["gate"], "promote_from");
    assert_eq!(json["violations"][0]["file"], PRODUCTION);
    assert_eq!(json["violations"][0]["line"], 1);
    assert_eq!(json["violations"][0]["commit"], skip.as_str());
    assert_eq!(json["violations"][0]["environment"], "production");

    // Staging first, production right after: promote_from holds, the soak does not.
    git(&work, &["reset", "--quiet", "--hard", &base]);
    commit(
        &work,
        STAGING,
        &manifest(&host, "1.1.0", None),
        "staging 1.1.0",
    );
    let rushed = commit(
        &work,
        PRODUCTION,
        &manifest(&host, "1.1.0", None),
        "prod 1.1.0",
    );
    let run = verify(&w, &work, &format!("{base}..{rushed}"), true);
    assert_eq!(run.code, 1, "{}", run.both());
    let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(json["commits"], 2);
    assert_eq!(
        json["moves"], 1,
        "staging has no gates: only production's move counts"
    );
    let violations = json["violations"].as_array().unwrap();
    assert_eq!(violations.len(), 1, "{json:#}");
    assert_eq!(violations[0]["gate"], "soak");
    assert!(
        violations[0]["reason"]
            .as_str()
            .unwrap()
            .contains("24h required"),
        "{json:#}"
    );

    // The same move recorded as a person's decision (what baton promote writes) passes.
    git(&work, &["reset", "--quiet", "--hard", &base]);
    std::fs::write(work.join(PRODUCTION), manifest(&host, "1.1.0", None)).unwrap();
    git(
        &work,
        &[
            "commit",
            "--quiet",
            "-am",
            "production: app 1.0.0 -> 1.1.0\n\nBaton-Promoted-By: alice",
        ],
    );
    let promoted = git(&work, &["rev-parse", "HEAD"]);
    let run = verify(&w, &work, &format!("{base}..{promoted}"), false);
    assert_eq!(run.code, 0, "{}", run.both());
    assert!(run.stdout.contains("promoted by hand"), "{}", run.both());

    // An evil merge: both sides leave production alone, the merge itself moves it.
    git(&work, &["reset", "--quiet", "--hard", &base]);
    git(&work, &["checkout", "--quiet", "-b", "side"]);
    commit(&work, "README.side", "x\n", "side work");
    git(&work, &["checkout", "--quiet", "main"]);
    commit(&work, "README.main", "y\n", "main work");
    git(
        &work,
        &["merge", "--quiet", "--no-ff", "--no-commit", "side"],
    );
    std::fs::write(work.join(PRODUCTION), manifest(&host, "1.1.0", None)).unwrap();
    git(&work, &["add", "-A"]);
    git(&work, &["commit", "--quiet", "-m", "Merge side"]);
    let merge = git(&work, &["rev-parse", "HEAD"]);
    let run = verify(&w, &work, &format!("{base}..{merge}"), true);
    assert_eq!(run.code, 1, "{}", run.both());
    let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(json["violations"][0]["commit"], merge.as_str(), "{json:#}");
    git(&work, &["reset", "--quiet", "--hard", &base]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_freeze_is_a_gate_for_hand_edits_too() {
    let today = jiff::tz::TimeZone::UTC
        .to_datetime(jiff::Timestamp::now())
        .date();
    let w = PromotionWorld::new(&format!("freeze = [\"{today}\"]\n"), None).await;
    let host = w.host();
    let work = w.writer.work.clone();
    git(&work, &["pull", "--quiet", "origin", "main"]);
    let base = git(&work, &["rev-parse", "HEAD"]);
    let frozen = commit(
        &work,
        PRODUCTION,
        &manifest(&host, "1.1.0", None),
        "prod during freeze",
    );
    let run = verify(&w, &work, &format!("{base}..{frozen}"), false);
    assert_eq!(run.code, 1, "{}", run.both());
    assert!(
        run.stdout.contains("gate freeze: committed at"),
        "{}",
        run.both()
    );
    assert!(run.stdout.contains(&today.to_string()), "{}", run.both());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pre_receive_hook_turns_away_a_push_that_skips_the_gates() {
    let w = PromotionWorld::new(GATED, None).await;
    let host = w.host();
    w.remote.set_pre_receive(&format!(
        "while read old new ref; do\n  \"{}\" verify --range \"$old..$new\" --repo . --config \"{}\" || exit 1\ndone",
        Baton::path().display(),
        w.config_path.display()
    ));
    let work = w.writer.work.clone();
    git(&work, &["pull", "--quiet", "origin", "main"]);
    let before = w.remote.head("main");
    commit(
        &work,
        PRODUCTION,
        &manifest(&host, "1.1.0", None),
        "hotfix prod",
    );
    let push = crate::support::git_server::git_command(&work, &["push", "origin", "main"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&push.stderr);
    assert!(!push.status.success(), "{stderr}");
    assert!(stderr.contains("gate promote_from"), "{stderr}");
    assert!(stderr.contains("pre-receive hook declined"), "{stderr}");
    assert_eq!(w.remote.head("main"), before, "nothing landed");

    // The same change recorded as a promotion by hand is let in.
    git(
        &work,
        &[
            "commit",
            "--quiet",
            "--amend",
            "-m",
            "production: app 1.0.0 -> 1.1.0\n\nBaton-Promoted-By: alice",
        ],
    );
    git(&work, &["push", "--quiet", "origin", "main"]);
    assert_eq!(
        w.remote.head("main"),
        Some(git(&work, &["rev-parse", "HEAD"]))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_ranges_are_refused_before_git_sees_them() {
    let w = PromotionWorld::new(GATED, None).await;
    let work = w.writer.work.clone();
    let out = w.dir.path().join("written-by-git");
    for range in [
        format!("--output={}..HEAD", out.display()),
        format!("HEAD..--output={}", out.display()),
        "HEAD...HEAD~1".to_string(),
        "HEAD".to_string(),
        "HEAD~1..HEAD^{tree}".to_string(),
        "HEAD~1..no-such-branch".to_string(),
        "HEAD~1..HEAD\nmain".to_string(),
        "..".to_string(),
    ] {
        let run = verify(&w, &work, &range, false);
        assert_ne!(run.code, 0, "{range:?} was accepted: {}", run.both());
        assert!(run.stderr.contains("--range"), "{range:?}: {}", run.both());
        assert!(!out.exists(), "{range:?} made git write a file");
    }
    // A repository path that is not a repository.
    let run = Baton::new([
        "verify",
        "--range",
        "HEAD~1..HEAD",
        "--repo",
        "/nonexistent",
    ])
    .config(&w.config_path)
    .run();
    assert_ne!(run.code, 0, "{}", run.both());
}

/// `commit` with author and committer dates at `at`.
fn commit_at(work: &Path, file: &str, text: &str, message: &str, at: jiff::Timestamp) -> String {
    std::fs::write(work.join(file), text).unwrap();
    git(work, &["add", "-A"]);
    let date = at.to_string();
    let out = crate::support::git_server::git_command(work, &["commit", "--quiet", "-m", message])
        .env("GIT_AUTHOR_DATE", &date)
        .env("GIT_COMMITTER_DATE", &date)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    git(work, &["rev-parse", "HEAD"])
}

/// Appends `line` to the note of `commit` under refs/notes/baton.
fn note(work: &Path, commit: &str, line: &str) {
    git(
        work,
        &[
            "notes",
            "--ref=refs/notes/baton",
            "append",
            "--no-separator",
            "-m",
            line,
            commit,
        ],
    );
}

/// A note line: `verdict` for `app` `version` in staging at `at`.
fn record(version: &str, verdict: &str, at: jiff::Timestamp) -> String {
    serde_json::json!({
        "at": at.to_string(), "environment": "staging", "image": "app", "version": version,
        "verdict": verdict,
        "checks": [{"check": "http http://127.0.0.1:9/version", "passed": verdict == "passed", "answer": "answered 503"}]
    })
    .to_string()
}

/// Staging has a check; production is promoted from it with `soak`.
fn verified(soak: &str) -> String {
    format!(
        "promote_from = \"staging\"\n{soak}\n[[environments.staging.verify]]\nhttp = \"http://127.0.0.1:9/version\"\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_the_source_never_verified_is_named_by_its_notes_hostile_ones_included() {
    use crate::support::promotion::hours_from_now;
    let w = PromotionWorld::new(&verified(""), None).await;
    let host = w.host();
    let work = w.writer.work.clone();
    git(&work, &["pull", "--quiet", "origin", "main"]);
    let base = git(&work, &["rev-parse", "HEAD"]);
    // Staging gets 1.1.0 through a merge (as a review merged on the forge would), 4h ago;
    // production follows now.
    git(&work, &["checkout", "--quiet", "-b", "review"]);
    let moved = commit_at(
        &work,
        STAGING,
        &manifest(&host, "1.1.0", None),
        "staging: app 1.0.0 -> 1.1.0",
        hours_from_now(-4),
    );
    git(&work, &["checkout", "--quiet", "main"]);
    let date = hours_from_now(-3).to_string();
    let out = crate::support::git_server::git_command(
        &work,
        &[
            "merge",
            "--quiet",
            "--no-ff",
            "-m",
            "Merge review",
            "review",
        ],
    )
    .env("GIT_COMMITTER_DATE", &date)
    .output()
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let prod = commit(
        &work,
        PRODUCTION,
        &manifest(&host, "1.1.0", None),
        "prod 1.1.0",
    );
    let range = format!("{base}..{prod}");
    let gate = |json: bool| verify(&w, &work, &range, json);

    // No notes at all: refused, and told where the record lives.
    let run = gate(false);
    assert_eq!(run.code, 1, "{}", run.both());
    assert!(
        run.stdout.contains(&format!(
            "{PRODUCTION}:1: app {host}/app:1.0.0 -> {host}/app:1.1.0 in production by commit {}",
            &prod[..12]
        )),
        "{}",
        run.both()
    );
    assert!(
        run.stdout.contains("gate verification: app 1.1.0 has no verification recorded in staging: the repository has no refs/notes/baton"),
        "{}",
        run.both()
    );

    // Hostile notes: garbage on the move, a pass for another version on the move, a pass for
    // this version on a commit that did not bring it (the base), another environment's pass.
    note(&work, &moved, "{\"at\": garbage");
    note(
        &work,
        &moved,
        &record("1.2.0", "passed", hours_from_now(-2)),
    );
    note(&work, &base, &record("1.1.0", "passed", hours_from_now(-2)));
    note(
        &work,
        &moved,
        &record("1.1.0", "passed", hours_from_now(-2)).replace("\"staging\"", "\"production\""),
    );
    let run = gate(true);
    assert_eq!(run.code, 1, "{}", run.both());
    let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let violations = json["violations"].as_array().unwrap();
    assert_eq!(violations.len(), 1, "{json:#}");
    assert_eq!(violations[0]["gate"], "verification");
    assert_eq!(violations[0]["line"], 1);
    assert!(
        violations[0]["reason"]
            .as_str()
            .unwrap()
            .contains("app 1.1.0 has no verification recorded in staging before this commit"),
        "{json:#}"
    );

    // Failures only: never passed.
    note(
        &work,
        &moved,
        &record("1.1.0", "failed", hours_from_now(-3)),
    );
    let run = gate(false);
    assert_eq!(run.code, 1, "{}", run.both());
    assert!(
        run.stdout
            .contains("gate verification: app 1.1.0 never passed verification in staging"),
        "{}",
        run.both()
    );

    // A pass recorded on the commit that brought it, before production moved: let in.
    note(
        &work,
        &moved,
        &record("1.1.0", "passed", hours_from_now(-2)),
    );
    let run = gate(false);
    assert_eq!(run.code, 0, "{}", run.both());

    // The soak counts verified time: 2h verified (3h since the merge) is short of 3h.
    w.write_config(&verified("soak = \"3h\""));
    let run = gate(true);
    assert_eq!(run.code, 1, "{}", run.both());
    let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(json["violations"][0]["gate"], "soak", "{json:#}");
    assert!(
        json["violations"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("1.1.0 verified in staging at"),
        "{json:#}"
    );
    // A pass dated before the version arrived counts from its arrival (3h), still short of 4h.
    note(
        &work,
        &moved,
        &record("1.1.0", "passed", hours_from_now(-10)),
    );
    w.write_config(&verified("soak = \"4h\""));
    let run = gate(true);
    assert_eq!(run.code, 1, "{}", run.both());
    let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(json["violations"][0]["gate"], "soak", "{json:#}");
    w.write_config(&verified("soak = \"2h\""));
    assert_eq!(gate(false).code, 0);

    // A failure recorded after the pass (and before production moved) is a violation again.
    note(
        &work,
        &moved,
        &record("1.1.0", "failed", hours_from_now(-1)),
    );
    let run = gate(false);
    assert_eq!(run.code, 1, "{}", run.both());
    assert!(run.stdout.contains("but failed there at"), "{}", run.both());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn baton_s_own_verified_promotion_passes_the_gate_by_the_notes_it_pushed() {
    let server = crate::support::check_server::CheckServer::start("1.0.0").await;
    let mut w = PromotionWorld::new(
        &format!(
            "promote_from = \"staging\"\n[[environments.staging.verify]]\nhttp = \"{}/version\"\nexpect = \"{{version}}\"\nretries = 0\n",
            server.url
        ),
        None,
    )
    .await;
    let base = w.remote.head("main").unwrap();
    w.push_tag("1.1.0").await;
    // Real time: the notes' times and the commits' times are compared.
    w.pass_at(jiff::Timestamp::now()).await;
    server.answer(200, "1.1.0");
    let report = w.pass_at(jiff::Timestamp::now()).await;
    assert!(
        matches!(
            crate::support::promotion::env(&report, "production").outcome,
            baton::pass::Outcome::Pushed { .. }
        ),
        "{report:#?}"
    );
    let work = w.writer.work.clone();
    git(&work, &["pull", "--quiet", "origin", "main"]);
    let range = format!("{base}..HEAD");
    // A checkout without the notes cannot prove it, and says what to fetch.
    let run = verify(&w, &work, &range, false);
    assert_eq!(run.code, 1, "{}", run.both());
    assert!(
        run.stdout
            .contains("git fetch origin refs/notes/baton:refs/notes/baton"),
        "{}",
        run.both()
    );
    git(
        &work,
        &[
            "fetch",
            "--quiet",
            "origin",
            "refs/notes/baton:refs/notes/baton",
        ],
    );
    let run = verify(&w, &work, &range, true);
    assert_eq!(run.code, 0, "{}", run.both());
    let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(json["moves"], 1, "{json:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_several_repositories_the_range_is_judged_in_the_one_named() {
    let w = PromotionWorld::new(GATED, None).await;
    let host = w.host();
    let payments = crate::support::git_server::BareRepo::seeded();
    let config = w.dir.path().join("repositories.toml");
    // payments-prod owns the same path in its own repository and promotes from fleet's staging.
    std::fs::write(
        &config,
        format!(
            "[daemon]\nstate_dir = \"{}\"\n\n[repositories.fleet]\nurl = \"{}\"\n\n[repositories.payments]\nurl = \"{}\"\n\n[registries.\"{host}\"]\ninsecure = true\n\n[images.app]\nrepository = \"{host}/app\"\n\n[policies.app]\nimage = \"app\"\nsemver = \"1.x\"\n\n[environments.staging]\nrepository = \"fleet\"\npaths = [\"clusters/staging\"]\n\n[environments.production]\nrepository = \"fleet\"\npaths = [\"clusters/production\"]\npromote_from = \"staging\"\n\n[environments.payments-prod]\nrepository = \"payments\"\npaths = [\"clusters/production\"]\npromote_from = \"staging\"\nsoak = \"24h\"\n",
            w.state_dir().display(),
            w.remote.path_url(),
            payments.path_url()
        ),
    )
    .unwrap();
    let writer = payments.writer();
    let base = writer.commit_and_push(PRODUCTION, &manifest(&host, "1.0.0", None), "Add app");
    let edit = writer.commit_and_push(PRODUCTION, &manifest(&host, "1.1.0", None), "app 1.1.0");
    let range = format!("{base}..{edit}");
    let run = |repository: Option<&str>| {
        let mut args = vec!["verify", "--range", &range, "--repo"];
        let repo = writer.work.display().to_string();
        args.push(&repo);
        if let Some(name) = repository {
            args.extend(["--repository", name]);
        }
        Baton::new(args.iter().map(|s| s.to_string()).collect::<Vec<_>>())
            .config(&config)
            .run()
    };
    let unnamed = run(None);
    assert_eq!(unnamed.code, 1, "{}", unnamed.both());
    assert!(
        unnamed
            .stderr
            .contains("several repositories (fleet, payments): name one with --repository NAME"),
        "{}",
        unnamed.both()
    );
    // In payments, fleet's production does not apply, and the source in fleet is not judged
    // from payments' history: said, not guessed.
    let named = run(Some("payments"));
    assert_eq!(named.code, 0, "{}", named.both());
    assert!(
        named
            .stdout
            .contains("payments-prod promotes from staging of another repository"),
        "{}",
        named.both()
    );
    // The same edit judged as fleet's is a violation of production's promote_from.
    let fleet = run(Some("fleet"));
    assert_eq!(fleet.code, 1, "{}", fleet.both());
    assert!(
        fleet.stdout.contains("gate promote_from"),
        "{}",
        fleet.both()
    );
}

/// With `[groups.shop] same_version = true`, a hand edit that moves one member alone is a
/// `group` violation in any environment, gated or not; moving every member there in one
/// commit passes, as does a member with no marker in the environment or a person's recorded
/// decision. Without `same_version`, the group is only named in a note.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hand_edit_that_splits_a_same_version_group_is_named() {
    let w = PromotionWorld::new("", None).await;
    let host = w.host();
    let web_staging = "clusters/staging/web.yaml";
    let web = |tag: &str| format!("image: {host}/web:{tag} # {{\"$baton\": \"web\"}}\n");
    let group = |same_version: bool| {
        format!(
            "\n[images.web]\nrepository = \"{host}/web\"\n\n[policies.web]\nimage = \"web\"\nsemver = \"1.x\"\n\n[groups.shop]\nimages = [\"app\", \"web\"]\nsame_version = {same_version}\n"
        )
    };
    w.write_config(&group(true));
    let work = w.writer.work.clone();
    git(&work, &["pull", "--quiet", "origin", "main"]);
    let base = commit(&work, web_staging, &web("1.0.0"), "web in staging");

    // app alone in staging, where web is at 1.0.0: the group is split.
    let alone = commit(&work, STAGING, &manifest(&host, "1.1.0", None), "app first");
    let run = verify(&w, &work, &format!("{base}..{alone}"), false);
    assert_eq!(run.code, 1, "{}", run.both());
    assert!(
        run.stdout.contains(&format!(
            "{STAGING}:1: app {host}/app:1.0.0 -> {host}/app:1.1.0 in staging by commit {}",
            &alone[..12]
        )) && run.stdout.contains(
            "gate group: group shop (app, web) moves only to one version for all (same_version), and after this commit web holds 1.0.0: move every member to 1.1.0 in one commit"
        ),
        "{}",
        run.both()
    );
    let json: serde_json::Value =
        serde_json::from_str(&verify(&w, &work, &format!("{base}..{alone}"), true).stdout).unwrap();
    assert_eq!(json["violations"][0]["gate"], "group", "{json}");
    assert_eq!(json["violations"].as_array().unwrap().len(), 1, "{json}");

    // Both in one commit: no violation. In production web has no marker: app moves alone.
    git(&work, &["reset", "--quiet", "--hard", &base]);
    std::fs::write(work.join(web_staging), web("1.1.0")).unwrap();
    commit(
        &work,
        STAGING,
        &manifest(&host, "1.1.0", None),
        "app and web",
    );
    let production = commit(
        &work,
        PRODUCTION,
        &manifest(&host, "1.1.0", None),
        "app in production",
    );
    let run = verify(&w, &work, &format!("{base}..{production}"), false);
    assert_eq!(run.code, 0, "{}", run.both());

    // A person's recorded decision is listed, not judged.
    git(&work, &["reset", "--quiet", "--hard", &base]);
    let decided = commit(
        &work,
        STAGING,
        &manifest(&host, "1.1.0", None),
        "app first\n\nBaton-Promoted-By: alice",
    );
    let run = verify(&w, &work, &format!("{base}..{decided}"), false);
    assert_eq!(run.code, 0, "{}", run.both());

    // Without same_version the split is not judged, and a note says so (here nothing else
    // is gated either; with a freeze in staging, long past, the group gets its own note).
    w.write_config(&group(false));
    let run = verify(&w, &work, &format!("{base}..{alone}"), false);
    assert_eq!(run.code, 0, "{}", run.both());
    assert!(
        run.stdout
            .contains("no group has same_version: nothing to check"),
        "{}",
        run.both()
    );
    w.write_config_with(&["freeze = [\"2001-01-01\"]"], &group(false));
    let run = verify(&w, &work, &format!("{base}..{alone}"), false);
    assert_eq!(run.code, 0, "{}", run.both());
    assert!(
        run.stdout.contains(
            "group shop has no same_version: whether its members moved together is not checked"
        ),
        "{}",
        run.both()
    );
}

/// A source environment with more files than verify reads says so in a note instead of
/// judging from part of it in silence.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_past_the_file_cap_is_named_in_a_note() {
    let w = PromotionWorld::new("promote_from = \"staging\"\n", None).await;
    let host = w.host();
    let work = w.writer.work.clone();
    git(&work, &["pull", "--quiet", "origin", "main"]);
    let filler = work.join("clusters/staging/zz");
    std::fs::create_dir_all(&filler).unwrap();
    for n in 0..5000 {
        std::fs::write(filler.join(format!("f{n:04}.yaml")), "replicas: 1\n").unwrap();
    }
    let base = commit(
        &work,
        STAGING,
        &manifest(&host, "1.1.0", None),
        "staging and filler",
    );
    let moved = commit(
        &work,
        PRODUCTION,
        &manifest(&host, "1.1.0", None),
        "production",
    );
    let run = verify(&w, &work, &format!("{base}..{moved}"), false);
    assert_eq!(run.code, 0, "{}", run.both());
    assert!(
        run.stdout.contains(
            "only the first 5000 files under clusters/staging were read to learn what that environment runs"
        ),
        "{}",
        run.both()
    );
}
