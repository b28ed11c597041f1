use std::path::Path;
use std::time::Duration;

use figment::providers::Env;

use super::*;
use crate::git::SigningFormat;
use crate::notifications::{EventKind, NotificationTarget, SinkKind};
use crate::webhooks::WebhookKind;

const BASE: &str = r#"
[git]
url = "file:///srv/fleet.git"

[images.app]
repository = "ghcr.io/example/app"

[policies.app]
image = "app"
semver = "1.x"

[environments.staging]
paths = ["clusters/staging"]
"#;

/// An environment source that no variable in the test process matches.
fn no_env() -> Env {
    Env::prefixed("BATON_UNIT_TEST_NOTHING_")
}

fn load(text: &str) -> Result<Config, ConfigErrors> {
    Config::from_text(Path::new("/etc/baton/baton.toml"), text, no_env())
}

fn errors(text: &str) -> Vec<String> {
    match load(text) {
        Ok(_) => panic!("expected errors for:\n{text}"),
        Err(e) => e.errors.iter().map(ToString::to_string).collect(),
    }
}

fn one_error(text: &str) -> String {
    let errs = errors(text);
    assert_eq!(errs.len(), 1, "expected one error, got {errs:#?}");
    errs.into_iter().next().unwrap()
}

#[test]
fn minimal_config_gets_defaults() {
    let config = load(BASE).unwrap();
    assert_eq!(config.git.remote.branch, "main");
    assert_eq!(config.git.interval, Duration::from_secs(60));
    assert_eq!(config.daemon.listen.to_string(), "127.0.0.1:9476");
    assert_eq!(config.daemon.state_dir, Path::new("/var/lib/baton"));
    assert_eq!(config.daemon.concurrency, 4);
    assert_eq!(config.daemon.log_format, LogFormat::Text);
    let image = &config.images["app"];
    assert_eq!(image.interval, Duration::from_secs(300));
    assert_eq!(image.repository.registry, "ghcr.io");
    assert_eq!(image.exclude.len(), 1, "flux's default exclusion applies");
    assert!(image.exclude[0].is_match("sha256-abc.sig"));
    let policy = &config.policies["app"];
    assert_eq!(policy.image, "app");
    assert_eq!(policy.pin_digest, DigestPinning::Never);
    let env = &config.environments["staging"];
    assert_eq!(env.mode, Mode::Push);
    assert_eq!(env.paths, vec![PathBuf::from("clusters/staging")]);
    assert!(env.windows.is_empty());
}

#[test]
fn relative_paths_resolve_against_the_config_directory() {
    let text = BASE.replace(
        "[git]\n",
        "[daemon]\nstate_dir = \"state\"\n[git]\nssh_key_file = \"/abs/key\"\n",
    );
    let config = load(&text).unwrap();
    assert_eq!(config.daemon.state_dir, Path::new("/etc/baton/state"));
    assert_eq!(
        config.git.remote.ssh_key_file.as_deref(),
        Some(Path::new("/abs/key"))
    );
}

#[test]
fn unknown_key_suggests_the_close_one() {
    let text = BASE.replace(
        "repository = \"ghcr.io/example/app\"",
        "repository = \"ghcr.io/example/app\"\nintervall = \"1m\"",
    );
    let e = one_error(&text);
    assert_eq!(
        e,
        "/etc/baton/baton.toml:7:1: images.app.intervall: unknown key \"intervall\": did you mean \"interval\"?"
    );
}

#[test]
fn unknown_section_is_reported() {
    let e = one_error(&format!("{BASE}\n[deamon]\nlisten = \"x\"\n"));
    assert!(
        e.contains("unknown key \"deamon\": did you mean \"daemon\"?"),
        "{e}"
    );
}

#[test]
fn wrong_types_say_what_was_expected() {
    let e = one_error(&format!("[daemon]\nconcurrency = \"four\"\n{BASE}"));
    assert_eq!(
        e,
        "/etc/baton/baton.toml:2:1: daemon.concurrency: expected an integer, found the string \"four\""
    );
    let e = one_error(&BASE.replace(
        "paths = [\"clusters/staging\"]",
        "paths = \"clusters/staging\"",
    ));
    assert!(
        e.contains("environments.staging.paths: expected an array of strings"),
        "{e}"
    );
    let e = one_error(&format!(
        "[registries.\"localhost:5000\"]\ninsecure = \"yes\"\n{BASE}"
    ));
    assert!(
        e.contains("registries.\"localhost:5000\".insecure: expected true or false, found the string \"yes\""),
        "{e}"
    );
}

#[test]
fn missing_required_keys() {
    let e = one_error(&BASE.replace("repository = \"ghcr.io/example/app\"", ""));
    assert!(
        e.starts_with("/etc/baton/baton.toml:5:9: images.app.repository: required key is missing"),
        "{e}"
    );
    let e = one_error(&BASE.replace("[git]\nurl = \"file:///srv/fleet.git\"\n", ""));
    assert!(e.contains("git: required key is missing"), "{e}");
    let e = one_error(&BASE.replace("url = \"file:///srv/fleet.git\"", ""));
    assert!(e.contains("git.url: required key is missing"), "{e}");
    let e = one_error(&BASE.replace("semver = \"1.x\"", ""));
    assert!(e.contains("exactly one of semver"), "{e}");
}

#[test]
fn policy_naming_an_unknown_image() {
    let e = one_error(&BASE.replace("image = \"app\"", "image = \"ap\""));
    assert_eq!(
        e,
        "/etc/baton/baton.toml:9:1: policies.app.image: policy names unknown image \"ap\": did you mean \"app\"?"
    );
}

#[test]
fn environment_paths_must_stay_inside_the_repository() {
    let e = one_error(&BASE.replace("\"clusters/staging\"", "\"/etc/passwd\""));
    assert!(
        e.contains("environments.staging.paths.0: \"/etc/passwd\" is absolute"),
        "{e}"
    );
    let e = one_error(&BASE.replace("\"clusters/staging\"", "\"clusters/../../x\""));
    assert!(e.contains("escapes the repository"), "{e}");
    let e = one_error(&BASE.replace("\"clusters/staging\"", "\"a/../b\""));
    assert!(e.contains("contains '..'"), "{e}");
    let e = one_error(&BASE.replace("[\"clusters/staging\"]", "[]"));
    assert!(e.contains("list at least one directory"), "{e}");
    let config = load(&BASE.replace("\"clusters/staging\"", "\"./clusters//staging/\"")).unwrap();
    assert_eq!(
        config.environments["staging"].paths,
        vec![PathBuf::from("clusters/staging")]
    );
}

#[test]
fn regexes_and_ranges_must_parse() {
    let e = one_error(&BASE.replace(
        "repository = \"ghcr.io/example/app\"",
        "repository = \"ghcr.io/example/app\"\nexclude = [\"^ok$\", \"(unclosed\"]",
    ));
    assert!(
        e.contains("images.app.exclude.1: \"(unclosed\" is not a valid regular expression"),
        "{e}"
    );
    assert!(e.starts_with("/etc/baton/baton.toml:7:"), "{e}");
    let e = one_error(&BASE.replace(
        "semver = \"1.x\"",
        "semver = \"1.x\"\nfilter = { pattern = \"[z-a]\" }",
    ));
    assert!(e.contains("policies.app.filter.pattern"), "{e}");
    let e = one_error(&BASE.replace("semver = \"1.x\"", "semver = \">= bad\""));
    assert!(e.contains("policies.app.semver"), "{e}");
}

#[test]
fn one_rule_per_policy() {
    let e = one_error(&BASE.replace(
        "semver = \"1.x\"",
        "semver = \"1.x\"\nalphabetical = \"asc\"",
    ));
    assert!(
        e.contains(
            "exactly one of semver, alphabetical, numerical; this one sets semver and alphabetical"
        ),
        "{e}"
    );
    let e = one_error(&BASE.replace("semver = \"1.x\"", "numerical = \"up\""));
    assert!(
        e.contains("policies.app.numerical: \"up\" is not an order"),
        "{e}"
    );
}

#[test]
fn intervals_have_a_floor() {
    let e = one_error(&BASE.replace(
        "repository = \"ghcr.io/example/app\"",
        "repository = \"ghcr.io/example/app\"\ninterval = \"5s\"",
    ));
    assert_eq!(
        e,
        "/etc/baton/baton.toml:7:1: images.app.interval: \"5s\" is under the minimum of 10s: use 10s or more"
    );
    let e = one_error(&BASE.replace(
        "repository = \"ghcr.io/example/app\"",
        "repository = \"ghcr.io/example/app\"\ninterval = \"soon\"",
    ));
    assert!(e.contains("is not a duration"), "{e}");
}

#[test]
fn inline_secrets_are_refused() {
    let e = one_error(&BASE.replace(
        "url = \"file:///srv/fleet.git\"",
        "url = \"file:///srv/fleet.git\"\ntoken = \"ghp_abc\"",
    ));
    assert!(
        e.contains("git.token: a secret must not be written inline"),
        "{e}"
    );
    assert!(e.contains("token_file"), "{e}");
    assert!(
        !e.contains("ghp_abc"),
        "the secret itself is never echoed: {e}"
    );
    let e = one_error(&format!(
        "[registries.\"ghcr.io\"]\npassword = \"hunter2\"\n{BASE}"
    ));
    assert!(
        e.contains("registries.\"ghcr.io\".password: a secret must not be written inline"),
        "{e}"
    );
    assert!(!e.contains("hunter2"), "{e}");
    let e = one_error(&BASE.replace(
        "file:///srv/fleet.git",
        "https://bot:s3cret@git.example.com/fleet.git",
    ));
    assert!(
        e.contains("git.url: the URL carries a password or token"),
        "{e}"
    );
    assert!(!e.contains("s3cret"), "{e}");
}

#[test]
fn five_mistakes_give_five_located_errors() {
    let text = r#"[daemon]
listen = "localhost"

[git]
url = "file:///srv/fleet.git"
brnach = "main"

[images.app]
repository = "ghcr.io/example/app"
interval = "1s"

[policies.app]
image = "missing"
semver = "1.x"

[environments.staging]
paths = ["../outside"]
"#;
    let errs = errors(text);
    assert_eq!(errs.len(), 5, "{errs:#?}");
    let lines: Vec<&str> = errs.iter().map(|e| e.split(": ").next().unwrap()).collect();
    assert_eq!(
        lines,
        [
            "/etc/baton/baton.toml:2:1",
            "/etc/baton/baton.toml:6:1",
            "/etc/baton/baton.toml:10:1",
            "/etc/baton/baton.toml:13:1",
            "/etc/baton/baton.toml:17:10",
        ]
    );
}

#[test]
fn toml_syntax_errors_are_located() {
    let e = one_error("[git]\nurl = \"unterminated\n");
    assert!(e.starts_with("/etc/baton/baton.toml:2:"), "{e}");
    assert!(e.contains("invalid TOML"), "{e}");
}

#[test]
fn promotion_references_are_checked() {
    let base = format!("{BASE}\n[environments.production]\npaths = [\"clusters/production\"]\n");
    let e = one_error(&format!("{base}promote_from = \"stagin\"\n"));
    assert!(e.contains("names unknown environment \"stagin\""), "{e}");
    let e = one_error(&format!("{base}promote_from = \"production\"\n"));
    assert!(e.contains("cannot promote from itself"), "{e}");
    let e = one_error(&format!("{base}soak = \"24h\"\n"));
    assert!(e.contains("set promote_from too"), "{e}");
    let cyclic = base.replace(
        "paths = [\"clusters/staging\"]",
        "paths = [\"clusters/staging\"]\npromote_from = \"production\"",
    ) + "promote_from = \"staging\"\n";
    let errs = errors(&cyclic);
    assert!(
        errs.iter().all(|e| e.contains("forms a cycle")),
        "{errs:#?}"
    );
    let ok = load(&format!(
        "{base}promote_from = \"staging\"\nsoak = \"24h\"\nmode = \"review\"\n"
    ))
    .unwrap();
    let production = &ok.environments["production"];
    assert_eq!(production.soak, Some(Duration::from_secs(86400)));
    assert_eq!(production.mode, Mode::Review);
    assert_eq!(production.review_branch, "baton/{env}/{image}");
}

#[test]
fn windows_and_freezes() {
    let ok = load(&format!(
        "{BASE}window = {{ days = \"mon-fri\", hours = \"09:00-16:00\", timezone = \"Europe/Berlin\" }}\nfreeze = [\"2026-12-20..2027-01-05\"]\n"
    ))
    .unwrap();
    assert_eq!(ok.environments["staging"].windows.len(), 1);
    assert_eq!(ok.environments["staging"].freeze.len(), 1);
    let ok = load(&format!(
        "{BASE}\n[[environments.staging.window]]\ndays = \"mon\"\nhours = \"09:00-12:00\"\n[[environments.staging.window]]\ndays = \"tue\"\n"
    ))
    .unwrap();
    assert_eq!(ok.environments["staging"].windows.len(), 2);
    let e = one_error(&format!(
        "{BASE}window = {{ days = \"mon-fri\", hours = \"09:00-16:00\", timezone = \"Europe/Berlinn\" }}\n"
    ));
    assert!(
        e.contains(
            "environments.staging.window.timezone: \"Europe/Berlinn\" is not a known time zone"
        ),
        "{e}"
    );
    let e = one_error(&format!(
        "{BASE}window = {{ days = \"mon\", hour = \"09:00-16:00\" }}\n"
    ));
    assert!(e.contains("did you mean \"hours\"?"), "{e}");
    let e = one_error(&format!("{BASE}freeze = [\"xmas\"]\n"));
    assert!(
        e.contains("environments.staging.freeze.0: \"xmas\" is not a date"),
        "{e}"
    );
}

#[test]
fn registry_settings() {
    let config = load(&format!(
        "[registries.\"localhost:5000\"]\ninsecure = true\nrequests_per_minute = 60\nusername = \"bot\"\npassword_file = \"/run/credentials/baton/registry\"\n{BASE}"
    ))
    .unwrap();
    let registry = &config.registries["localhost:5000"];
    assert!(registry.insecure);
    assert_eq!(registry.requests_per_minute, Some(60));
    let e = one_error(&format!(
        "[registries.\"ghcr.io\"]\nusername = \"bot\"\n{BASE}"
    ));
    assert!(e.contains("username needs password_file"), "{e}");
    let e = one_error(&format!(
        "[registries.\"ghcr.io\"]\nusername = \"bot\"\npassword_file = \"/p\"\ntoken_file = \"/t\"\n{BASE}"
    ));
    assert!(
        e.contains("token_file: token_file and password_file are both set: keep one"),
        "{e}"
    );
    let config = load(&format!(
        "[registries.\"ghcr.io\"]\ndocker_config = \"/d.json\"\ntoken_file = \"/t\"\n{BASE}"
    ))
    .unwrap();
    let auth = &config.registries["ghcr.io"].auth;
    assert_eq!(auth.method, crate::registry::AuthMethod::Bearer);
    assert_eq!(
        auth.files().count(),
        2,
        "both files are listed for check and the board"
    );
    let e = one_error(&format!("[registries.\"ghcr.io\"]\npage_size = 0\n{BASE}"));
    assert!(e.contains("0 is out of range: use 1 to 10000"), "{e}");
    let config = load(&format!(
        "[registries.\"ghcr.io\"]\nmax_response_bytes = 1048576\n{BASE}"
    ))
    .unwrap();
    let section = &config.registries["ghcr.io"];
    assert_eq!(section.max_response_bytes, Some(1 << 20));
    let settings = crate::registry::RegistrySettings::from_config(Some(section)).unwrap();
    assert_eq!(settings.max_response_bytes, 1 << 20);
    let e = one_error(&format!(
        "[registries.\"ghcr.io\"]\nmax_response_bytes = 10\n{BASE}"
    ));
    assert!(e.contains("max_response_bytes"), "{e}");
}

#[test]
fn image_names_are_checked() {
    let e = one_error(&BASE.replace("ghcr.io/example/app", "ghcr.io/example/app:1.0"));
    assert!(
        e.contains("images.app.repository: image name \"ghcr.io/example/app:1.0\" carries a tag"),
        "{e}"
    );
    let e = one_error(&BASE.replace("ghcr.io/example/app", "ghcr.io/Example/App"));
    assert!(e.contains("is not a valid repository"), "{e}");
}

#[test]
fn errors_render_with_a_header() {
    let err = load("[git]\nurl = 1\n").unwrap_err();
    let text = err.to_string();
    assert!(
        text.starts_with("/etc/baton/baton.toml has 1 error\n  /etc/baton/baton.toml:2:1: git.url"),
        "{text}"
    );
}

#[test]
fn forge_section() {
    let ok = load(&format!(
        "{BASE}\n[forge]\nkind = \"gitea\"\nbase_url = \"https://code.example.com\"\nrepository = \"platform/fleet\"\ntoken_file = \"forge-token\"\nlabels = [\"baton\"]\nreviewers = [\"alice\"]\ndraft = true\n"
    ))
    .unwrap();
    let forge = ok.forge.unwrap();
    assert_eq!(forge.kind, crate::forge::ForgeKind::Gitea);
    assert_eq!(forge.base_url.as_str(), "https://code.example.com/");
    assert_eq!(forge.token_file, PathBuf::from("/etc/baton/forge-token"));
    assert_eq!(forge.labels, vec!["baton"]);
    assert!(forge.draft);
    assert_eq!(forge.timeout, Duration::from_secs(30));
    let github = load(&format!(
        "{BASE}\n[forge]\nkind = \"github\"\nrepository = \"o/r\"\ntoken_file = \"/t\"\n"
    ))
    .unwrap()
    .forge
    .unwrap();
    assert_eq!(github.base_url.as_str(), "https://api.github.com/");
    assert!(load(BASE).unwrap().forge.is_none());

    let e = one_error(&format!(
        "{BASE}\n[forge]\nkind = \"bitbucket\"\nrepository = \"o/r\"\ntoken_file = \"/t\"\n"
    ));
    assert!(
        e.contains("forge.kind: \"bitbucket\" is not a forge"),
        "{e}"
    );
    let e = one_error(&format!(
        "{BASE}\n[forge]\nkind = \"gitea\"\nrepository = \"o/r\"\ntoken_file = \"/t\"\n"
    ));
    assert!(e.contains("forge.base_url: required key is missing"), "{e}");
    let e = one_error(&format!(
        "{BASE}\n[forge]\nkind = \"gitlab\"\nbase_url = \"http://gitlab.example.com\"\nrepository = \"o/r\"\ntoken_file = \"/t\"\n"
    ));
    assert!(e.contains("uses plain http"), "{e}");
    let e = one_error(&format!(
        "{BASE}\n[forge]\nkind = \"github\"\nrepository = \"o/r\"\ntoken = \"ghp_secret\"\ntoken_file = \"/t\"\n"
    ));
    assert!(
        e.contains("forge.token: a secret must not be written inline"),
        "{e}"
    );
    assert!(!e.contains("ghp_secret"), "{e}");
    let e = one_error(&format!(
        "{BASE}\n[forge]\nkind = \"github\"\nrepository = \"o/r\"\n"
    ));
    assert!(
        e.contains("forge.token_file: required key is missing"),
        "{e}"
    );
    let e = one_error(&format!(
        "{BASE}\n[forge]\nkind = \"github\"\nrepository = \"a/b/c\"\ntoken_file = \"/t\"\n"
    ));
    assert!(e.contains("only GitLab nests groups"), "{e}");
    assert!(e.contains(":"), "{e}");
    let nested = load(&format!(
        "{BASE}\n[forge]\nkind = \"gitlab\"\nrepository = \"a/b/c\"\ntoken_file = \"/t\"\nbase_url = \"http://127.0.0.1:8080\"\n"
    ))
    .unwrap();
    assert_eq!(nested.forge.unwrap().repository, "a/b/c");
}

#[test]
fn notification_sinks_of_each_kind() {
    let config = load(&format!(
        r#"{BASE}
[notifications.hook]
kind = "webhook"
url_file = "secrets/hook-url"

[notifications.team]
kind = "slack"
url_file = "/run/credentials/baton.service/slack"
events = ["push_failed", "commit", "commit"]
template = "{{{{ text }}}}"
max_per_minute = 5
scan_failing_after = 2
timeout = "5s"
retries = 1

[notifications.ops]
kind = "teams"
url_file = "/etc/baton/teams-url"
events = ["review_opened"]

[notifications.room]
kind = "matrix"
homeserver = "https://matrix.example.org"
room_id = "!AbCdEf:example.org"
token_file = "/etc/baton/matrix-token"
"#
    ))
    .unwrap();
    let n = &config.notifications;
    assert_eq!(n.len(), 4);
    assert_eq!(
        n["hook"].target,
        NotificationTarget::new(SinkKind::Webhook, "/etc/baton/secrets/hook-url")
    );
    assert_eq!(n["hook"].events, EventKind::ALL.to_vec());
    assert_eq!(n["hook"].max_per_minute, 10);
    assert_eq!(n["hook"].scan_failing_after, 3);
    assert_eq!(n["hook"].timeout, Duration::from_secs(10));
    assert_eq!(n["hook"].retries, 3);
    let team = &n["team"];
    assert_eq!(team.target.kind, SinkKind::Slack);
    assert_eq!(team.events, [EventKind::Commit, EventKind::PushFailed]);
    assert_eq!(team.template.as_deref(), Some("{{ text }}"));
    assert_eq!(
        (team.max_per_minute, team.scan_failing_after, team.retries),
        (5, 2, 1)
    );
    assert_eq!(team.timeout, Duration::from_secs(5));
    assert_eq!(n["ops"].target.kind, SinkKind::Teams);
    assert_eq!(
        n["room"].target,
        NotificationTarget::new(SinkKind::Matrix, "/etc/baton/matrix-token")
            .with("homeserver", "https://matrix.example.org/")
            .with("room_id", "!AbCdEf:example.org")
    );
}

#[test]
fn notification_secrets_are_never_inline() {
    let e = one_error(&format!(
        "{BASE}\n[notifications.team]\nkind = \"slack\"\nurl = \"https://hooks.slack.com/services/T0/B0/s3cr3t\"\n"
    ));
    assert!(
        e.starts_with(
            "/etc/baton/baton.toml:17:1: notifications.team.url: a webhook URL is a secret"
        ),
        "{e}"
    );
    assert!(e.contains("set url_file"), "{e}");
    assert!(!e.contains("s3cr3t"), "the URL is never echoed: {e}");
    let e = one_error(&format!(
        "{BASE}\n[notifications.room]\nkind = \"matrix\"\nhomeserver = \"https://m.example.org\"\nroom_id = \"!a:b\"\ntoken = \"syt_s3cr3t\"\n"
    ));
    assert!(
        e.contains("notifications.room.token: a secret must not be written inline"),
        "{e}"
    );
    assert!(e.contains("token_file"), "{e}");
    assert!(!e.contains("syt_s3cr3t"), "{e}");
    let e = one_error(&format!(
        "{BASE}\n[notifications.room]\nkind = \"matrix\"\nhomeserver = \"https://bot:pw@m.example.org\"\nroom_id = \"!a:b\"\ntoken_file = \"t\"\n"
    ));
    assert!(
        e.contains("notifications.room.homeserver: the homeserver URL carries credentials"),
        "{e}"
    );
    assert!(!e.contains("pw@"), "{e}");
}

#[test]
fn notification_keys_follow_the_kind() {
    let e = one_error(&format!("{BASE}\n[notifications.x]\nkind = \"slak\"\n"));
    assert!(
        e.contains("notifications.x.kind: \"slak\" is not a sink kind: did you mean \"slack\"?"),
        "{e}"
    );
    let e = one_error(&format!("{BASE}\n[notifications.x]\nkind = \"teams\"\n"));
    assert!(
        e.contains("notifications.x.url_file: required key is missing"),
        "{e}"
    );
    let e = one_error(&format!(
        "{BASE}\n[notifications.x]\nkind = \"webhook\"\nurl_file = \"u\"\nroom_id = \"!a:b\"\n"
    ));
    assert!(
        e.contains("notifications.x.room_id: room_id is for kind = \"matrix\"; a webhook sink takes url_file"),
        "{e}"
    );
    let errs = errors(&format!(
        "{BASE}\n[notifications.x]\nkind = \"matrix\"\nurl_file = \"u\"\n"
    ));
    assert_eq!(errs.len(), 4, "{errs:#?}");
    assert!(
        errs[3].contains("notifications.x.url_file: url_file is for kind = \"webhook\", \"slack\"")
            && errs[3]
                .ends_with("; a matrix sink takes homeserver, room_id and token_file: remove it"),
        "{errs:#?}"
    );
    for key in ["homeserver", "room_id", "token_file"] {
        assert!(
            errs.iter()
                .any(|e| e.contains(&format!("notifications.x.{key}: required key is missing"))),
            "{key}: {errs:#?}"
        );
    }
    let e = one_error(&format!(
        "{BASE}\n[notifications.x]\nkind = \"matrix\"\nhomeserver = \"https://m.example.org\"\nroom_id = \"#ops:example.org\"\ntoken_file = \"t\"\n"
    ));
    assert!(
        e.contains("\"#ops:example.org\" is a room alias: give the room id"),
        "{e}"
    );
    let e = one_error(&format!(
        "{BASE}\n[notifications.x]\nkind = \"matrix\"\nhomeserver = \"matrix.example.org\"\nroom_id = \"!a:b\"\ntoken_file = \"t\"\n"
    ));
    assert!(
        e.contains("notifications.x.homeserver: \"matrix.example.org\" is not a URL"),
        "{e}"
    );
}

#[test]
fn notification_events_templates_and_limits_are_checked() {
    let sink = format!("{BASE}\n[notifications.x]\nkind = \"webhook\"\nurl_file = \"u\"\n");
    let e = one_error(&format!("{sink}events = [\"commit\", \"push_fialed\"]\n"));
    assert!(
        e.starts_with("/etc/baton/baton.toml:18:21:"),
        "located at the item: {e}"
    );
    assert!(
        e.contains("notifications.x.events.1: \"push_fialed\" is not an event: did you mean \"push_failed\"?"),
        "{e}"
    );
    let e = one_error(&format!("{sink}events = []\n"));
    assert!(e.contains("list at least one of"), "{e}");
    let e = one_error(&format!("{sink}template = \"{{{{ commit }}}}\"\n"));
    assert!(
        e.contains("notifications.x.template: notification template fails for push_failed events"),
        "{e}"
    );
    load(&format!(
        "{sink}events = [\"commit\"]\ntemplate = \"{{{{ commit }}}}\"\n"
    ))
    .unwrap();
    let e = one_error(&format!("{sink}template = \"{{% if %}}\"\n"));
    assert!(
        e.contains("notifications.x.template: notification template, line 1: syntax error"),
        "{e}"
    );
    let e = one_error(&format!("{sink}max_per_minute = 0\n"));
    assert!(
        e.contains("notifications.x.max_per_minute: 0 is out of range: use 1 to 600"),
        "{e}"
    );
    let e = one_error(&format!("{sink}timeout = \"10ms\"\n"));
    assert!(
        e.contains("notifications.x.timeout: \"10ms\" is under the minimum"),
        "{e}"
    );
    let e = one_error(&format!("{sink}evnets = [\"commit\"]\n"));
    assert!(
        e.contains("unknown key \"evnets\": did you mean \"events\"?"),
        "{e}"
    );
}

#[test]
fn webhooks_are_read_with_defaults() {
    let config = load(&format!(
        "{BASE}\n[webhooks.ghcr]\nkind = \"github\"\nsecret_file = \"hooks/ghcr.secret\"\n\n[webhooks.local]\nkind = \"distribution\"\nsecret_file = \"/run/credentials/baton.service/hook\"\nimages = [\"app\"]\nregistry = \"registry.internal:5000\"\n"
    ))
    .unwrap();
    assert!(load(BASE).unwrap().webhooks.is_empty());
    let ghcr = &config.webhooks["ghcr"];
    assert_eq!(ghcr.kind, WebhookKind::GitHub);
    assert_eq!(ghcr.secret_file, Path::new("/etc/baton/hooks/ghcr.secret"));
    assert_eq!(ghcr.images, None, "no list means every image");
    assert_eq!(ghcr.registry, None);
    let local = &config.webhooks["local"];
    assert_eq!(local.kind, WebhookKind::Distribution);
    assert_eq!(local.images.as_deref(), Some(&["app".to_string()][..]));
    assert_eq!(local.registry.as_deref(), Some("registry.internal:5000"));
    for kind in WebhookKind::ALL {
        assert_eq!(kind.as_str().parse::<WebhookKind>(), Ok(kind));
    }
}

#[test]
fn webhook_kind_and_secret_file_are_required() {
    let e = one_error(&format!(
        "{BASE}\n[webhooks.hub]\nkind = \"dockerhb\"\nsecret_file = \"/etc/baton/hub\"\n"
    ));
    assert_eq!(
        e,
        "/etc/baton/baton.toml:16:1: webhooks.hub.kind: \"dockerhb\" is not a webhook kind: did you mean \"dockerhub\"?"
    );
    let e = one_error(&format!(
        "{BASE}\n[webhooks.hub]\nkind = \"nexus\"\nsecret_file = \"/etc/baton/hub\"\n"
    ));
    assert!(
        e.contains("\"nexus\" is not a webhook kind: use one of dockerhub, github, harbor, quay, gitlab, distribution, generic"),
        "{e}"
    );
    let e = one_error(&format!("{BASE}\n[webhooks.hub]\nkind = \"dockerhub\"\n"));
    assert!(
        e.starts_with("/etc/baton/baton.toml:15:11: webhooks.hub.secret_file: required key is missing: put the shared secret in a file"),
        "{e}"
    );
    let e = one_error(&format!(
        "{BASE}\n[webhooks.hub]\nsecret_file = \"/etc/baton/hub\"\n"
    ));
    assert!(
        e.contains("webhooks.hub.kind: required key is missing"),
        "{e}"
    );
}

#[test]
fn webhook_secrets_are_never_inline() {
    let e = one_error(&format!(
        "{BASE}\n[webhooks.hub]\nkind = \"dockerhub\"\nsecret_file = \"/etc/baton/hub\"\nsecret = \"s3cr3t-value\"\n"
    ));
    assert_eq!(
        e,
        "/etc/baton/baton.toml:18:1: webhooks.hub.secret: a secret must not be written inline: put it in a file readable only by baton and set secret_file"
    );
    let e = one_error(&format!(
        "{BASE}\n[webhooks.hub]\nkind = \"quay\"\nsecret_file = \"/etc/baton/hub\"\ntoken = \"s3cr3t-value\"\n"
    ));
    assert!(
        e.contains("webhooks.hub.token: a secret must not be written inline"),
        "{e}"
    );
    assert!(!e.contains("s3cr3t-value"), "{e}");
}

#[test]
fn webhook_images_names_and_registry_are_checked() {
    let hook = |extra: &str| {
        format!(
            "{BASE}\n[webhooks.hub]\nkind = \"generic\"\nsecret_file = \"/etc/baton/hub\"\n{extra}"
        )
    };
    let e = one_error(&hook("images = [\"ap\"]\n"));
    assert_eq!(
        e,
        "/etc/baton/baton.toml:18:11: webhooks.hub.images.0: webhook names unknown image \"ap\": did you mean \"app\"?"
    );
    let e = one_error(&hook("images = []\n"));
    assert!(e.contains("list at least one [images] name"), "{e}");
    let e = one_error(&hook("registry = \"https://registry.example.com\"\n"));
    assert!(
        e.contains(
            "webhooks.hub.registry: \"https://registry.example.com\" is not a registry host"
        ),
        "{e}"
    );
    let e = one_error(&hook("secret_fil = \"x\"\n"));
    assert!(e.contains("did you mean \"secret_file\"?"), "{e}");
    let e = one_error(&format!(
        "{BASE}\n[webhooks.\"a/b\"]\nkind = \"generic\"\nsecret_file = \"/etc/baton/hub\"\n"
    ));
    assert!(
        e.contains("webhook name \"a/b\" is not usable in a URL"),
        "{e}"
    );
    let ok = load(&hook("registry = \"localhost:5000\"\n")).unwrap();
    assert_eq!(
        ok.webhooks["hub"].registry.as_deref(),
        Some("localhost:5000")
    );
}

#[test]
fn a_gpg_signing_key_is_an_id_and_an_ssh_one_a_file() {
    let with = |git: &str| BASE.replace("[git]\n", &format!("[git]\n{git}\n"));
    let config = load(&with(
        "signing_key = \"Baton Bot <bot@example.com>\"\nsigning_format = \"gpg\"",
    ))
    .unwrap();
    assert_eq!(
        config.git.signing_key.as_deref(),
        Some(Path::new("Baton Bot <bot@example.com>"))
    );
    assert_eq!(config.git.signing_format, SigningFormat::Gpg);
    let config = load(&with("signing_key = \"keys/signing\"")).unwrap();
    assert_eq!(
        config.git.signing_key.as_deref(),
        Some(Path::new("/etc/baton/keys/signing"))
    );
    let err = one_error(&with(
        "signing_key = \"--output=/x\"\nsigning_format = \"gpg\"",
    ));
    assert!(
        err.contains("signing_key") && err.contains("gpg --list-secret-keys"),
        "{err}"
    );
}

const TWO: &str = r#"
[daemon]
state_dir = "/var/lib/baton"

[repositories.fleet]
url = "file:///srv/fleet.git"

[repositories.payments]
url = "file:///srv/payments.git"
branch = "deploy"

[images.app]
repository = "ghcr.io/example/app"

[policies.app]
image = "app"
semver = "1.x"

[environments.staging]
repository = "fleet"
paths = ["clusters/staging"]

[environments.payments]
repository = "payments"
paths = ["clusters/staging"]
"#;

#[test]
fn several_repositories_each_with_their_environments() {
    let config = load(TWO).unwrap();
    assert_eq!(config.repository_names(), ["fleet", "payments"]);
    assert!(config.has_named_repositories());
    assert_eq!(config.environments["payments"].repository, "payments");
    // The same path in two repositories is two different files.
    let payments = config.for_repository("payments").unwrap();
    assert_eq!(payments.git.remote.branch, "deploy");
    assert_eq!(payments.repository, "payments");
    assert_eq!(
        payments.environments.keys().collect::<Vec<_>>(),
        ["payments"]
    );
    assert_eq!(
        payments.images.len(),
        1,
        "images are shared by every repository"
    );
    assert_eq!(
        config.repository_state_dir("payments"),
        Path::new("/var/lib/baton/repositories/payments")
    );
    assert!(config.for_repository("nope").is_none());
    // `[git]` is the one repository `default`, in the state directory itself.
    let single = load(BASE).unwrap();
    assert_eq!(single.repository_names(), [DEFAULT_REPOSITORY]);
    assert!(!single.has_named_repositories());
    assert_eq!(
        single.repository_state_dir(DEFAULT_REPOSITORY),
        Path::new("/var/lib/baton")
    );
    assert_eq!(
        single.environments["staging"].repository,
        DEFAULT_REPOSITORY
    );
}

#[test]
fn a_wrong_repository_name_is_located() {
    let text = TWO.replace("repository = \"payments\"", "repository = \"payment\"");
    let e = one_error(&text);
    assert!(
        e.starts_with("/etc/baton/baton.toml:24:1: environments.payments.repository: names unknown repository \"payment\": use one of the [repositories] names (fleet, payments)"),
        "{e}"
    );
    let text = TWO.replace("repository = \"fleet\"\n", "");
    let e = one_error(&text);
    assert!(
        e.contains("environments.staging.repository: required key is missing: there are several repositories"),
        "{e}"
    );
    // With `[git]`, the one repository is `default`.
    let e = one_error(&format!("{BASE}repository = \"fleet\"\n"));
    assert!(
        e.contains(
            "names unknown repository \"fleet\": use one of the [repositories] names (default)"
        ),
        "{e}"
    );
}

#[test]
fn git_and_repositories_together_are_refused() {
    let text = format!("{TWO}\n[git]\nurl = \"file:///srv/other.git\"\n");
    let e = errors(&text);
    assert!(
        e.iter()
            .any(|e| e.contains("repositories: [git] and [repositories] are both set")),
        "{e:#?}"
    );
}

#[test]
fn hostile_repository_names_and_shared_branches_are_refused() {
    for name in ["\"../etc\"", "\"a/b\"", "\".hidden\"", "\"\"", "\"x y\""] {
        let text = TWO.replace("[repositories.payments]", &format!("[repositories.{name}]"));
        let e = errors(&text);
        assert!(
            e.iter().any(|e| e.contains("cannot name a repository")),
            "{name}: {e:#?}"
        );
    }
    // Two names for one url and branch would race each other.
    let text = TWO.replace(
        "file:///srv/payments.git\"\nbranch = \"deploy\"",
        "file:///srv/fleet.git/\"\nbranch = \"main\"",
    );
    let e = one_error(&text);
    assert!(
        e.contains(
            "repositories.payments.url: repository \"payments\" writes to the same url and branch"
        ),
        "{e}"
    );
    // Another push branch is another writer target: allowed.
    let text = TWO.replace(
        "file:///srv/payments.git\"\nbranch = \"deploy\"",
        "file:///srv/fleet.git\"\npush_branch = \"baton\"",
    );
    load(&text).unwrap();
}

#[test]
fn with_several_repositories_review_mode_is_only_for_the_forge_repository() {
    let forge =
        "\n[forge]\nkind = \"github\"\nrepository = \"platform/fleet\"\ntoken_file = \"/t\"\n";
    let review = |text: &str| {
        text.replace(
            "repository = \"payments\"\n",
            "repository = \"payments\"\nmode = \"review\"\n",
        )
    };
    // payments' remote is not the forge's platform/fleet: its pull requests could not name
    // the branch Baton pushes there.
    let e = one_error(&review(&format!("{TWO}{forge}")));
    assert!(
        e.contains("environments.payments.mode: review mode opens pull requests on the forge repository \"platform/fleet\", and the url of repository \"payments\" does not end with \"platform/fleet\"")
            && e.contains("use mode = \"push\" for payments"),
        "{e}"
    );
    assert!(e.starts_with("/etc/baton/baton.toml:"), "{e}");
    // Its remote on the forge: allowed.
    let on_forge = TWO.replace(
        "file:///srv/payments.git",
        "ssh://git@github.com/platform/fleet.git",
    );
    load(&review(&format!("{on_forge}{forge}"))).unwrap();
    // One repository keeps today's meaning: the forge is the one repository's.
    let single = format!("{BASE}{forge}").replace(
        "[environments.staging]",
        "[environments.staging]\nmode = \"review\"",
    );
    load(&single).unwrap();
}

#[test]
fn promotion_may_come_from_another_repository() {
    let text = TWO.replace(
        "repository = \"payments\"\n",
        "repository = \"payments\"\npromote_from = \"staging\"\nsoak = \"1h\"\n",
    );
    let config = load(&text).unwrap();
    // The view of payments reads staging (of fleet) as a source and never edits it.
    let payments = config.for_repository("payments").unwrap();
    assert_eq!(
        payments.environments.keys().collect::<Vec<_>>(),
        ["payments"]
    );
    assert_eq!(payments.sources.keys().collect::<Vec<_>>(), ["staging"]);
    assert_eq!(payments.sources["staging"].repository, "fleet");
    assert_eq!(
        payments.environment_or_source("staging").map(|e| &e.paths),
        Some(&vec![PathBuf::from("clusters/staging")])
    );
    let fleet = config.for_repository("fleet").unwrap();
    assert!(fleet.sources.is_empty());
    // A verified source of another repository: its verdicts are that repository's notes.
    let verified = text.replace(
        "[environments.payments]",
        "[[environments.staging.verify]]\nhttp = \"https://staging.example.com/{{image}}\"\nexpect = \"{{version}}\"\n\n[environments.payments]",
    );
    let e = one_error(&verified);
    assert!(
        e.contains("environments.payments.promote_from: \"staging\" is in repository \"fleet\" and verifies its moves")
            && e.contains("not supported yet"),
        "{e}"
    );
}

#[test]
fn rules_of_one_repository_cannot_define_anothers_environments() {
    let host = TWO.replace(
        "branch = \"deploy\"",
        "branch = \"deploy\"\nrules = \"baton.toml\"",
    );
    let config = load(&host).unwrap();
    let view = config.for_repository("payments").unwrap();
    assert!(view.rules.is_some());
    assert!(config.for_repository("fleet").unwrap().rules.is_none());
    let apply = |rules: &str| {
        view.with_rules(&RulesFiles {
            commit: Some("0123456789ab".into()),
            files: vec![("baton.toml".into(), rules.as_bytes().to_vec())],
        })
    };
    // Its own environment: placed in its repository, the view keeps only its own.
    let ok = apply("[environments.canary]\npaths = [\"canary\"]\n").unwrap();
    assert_eq!(ok.config.environments["canary"].repository, "payments");
    assert_eq!(ok.config.repository, "payments");
    assert!(!ok.config.environments.contains_key("staging"));
    // Another repository's environment, by name or by `repository`.
    let e = apply("[environments.staging]\npaths = [\"x\"]\n")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("environments.staging: defined both here and at /etc/baton/baton.toml:20:"),
        "{e}"
    );
    let e = apply("[environments.canary]\nrepository = \"fleet\"\npaths = [\"canary\"]\n")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("baton.toml:2:1@0123456789ab: environments.canary.repository: the rules of repository \"payments\" define environments of that repository only"),
        "{e}"
    );
}

#[test]
fn signature_keys_are_read_and_checked_at_load() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("cosign.pub");
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/cosign/sigstore-rs-cosign.pub"),
        &good,
    )
    .unwrap();
    let other = dir.path().join("release.pub");
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/cosign/sigstore-go-public-key.pem"),
        &other,
    )
    .unwrap();
    let text = format!(
        "{BASE}\n[images.app.signature]\nkey_file = {:?}\nkey_files = [{:?}]\n",
        good.display().to_string(),
        other.display().to_string()
    );
    let config = load(&text).unwrap();
    let signature = config.images["app"].signature.as_ref().unwrap();
    assert_eq!(signature.keys.len(), 2);
    assert_eq!(signature.keys[0].source, good);
    assert!(load(BASE).unwrap().images["app"].signature.is_none());

    // A missing file and a file that is no key: each named with its line and key.
    let not_key = dir.path().join("not.pub");
    std::fs::write(&not_key, "hello\n").unwrap();
    let text = format!(
        "{BASE}\n[images.app.signature]\nkey_file = \"/nonexistent/cosign.pub\"\nkey_files = [\n  {:?},\n]\n",
        not_key.display().to_string()
    );
    let errs = errors(&text);
    assert_eq!(errs.len(), 2, "{errs:#?}");
    assert!(
        errs[0].starts_with("/etc/baton/baton.toml:16:")
            && errs[0].contains("images.app.signature.key_file")
            && errs[0].contains("/nonexistent/cosign.pub"),
        "{errs:#?}"
    );
    assert!(
        errs[1].starts_with("/etc/baton/baton.toml:18:")
            && errs[1].contains("not a PEM public key"),
        "{errs:#?}"
    );

    // Keyless is refused with a pointer to the docs; a section without keys says what to add.
    let e = one_error(&format!(
        "{BASE}\n[images.app.signature]\nkey_file = {:?}\nkeyless = true\n",
        good.display().to_string()
    ));
    assert!(
        e.contains("keyless") && e.contains("docs/signatures.md"),
        "{e}"
    );
    let e = one_error(&format!("{BASE}\n[images.app.signature]\n"));
    assert!(e.contains("key_file"), "{e}");
    let e = one_error(&format!(
        "{BASE}\n[images.app.signature]\nkey_file = {:?}\nkey_fle = 1\n",
        good.display().to_string()
    ));
    assert!(e.contains("key_fle"), "{e}");
}

#[test]
fn verification_checks_are_read_and_bad_ones_named() {
    let config = load(&format!(
        r#"{BASE}verify_timeout = "10m"
on_verify_failure = "rollback"
[[environments.staging.verify]]
http = "https://staging.example.com/{{image}}/version"
expect = "{{version}}"
timeout = "3s"
retries = 1
[[environments.staging.verify]]
prometheus = "http://prometheus:9090"
query = 'up{{env="{{env}}"}} == 1'
[[environments.staging.verify]]
commit_status = "kustomization/*"
"#
    ))
    .unwrap();
    let verify = &config.environments["staging"].verify;
    assert_eq!(verify.timeout, Duration::from_secs(600));
    assert_eq!(verify.on_failure, crate::verification::OnFailure::Rollback);
    assert_eq!(verify.checks.len(), 3);
    assert_eq!(verify.checks[0].timeout, Duration::from_secs(3));
    assert_eq!(verify.checks[0].retries, 1);
    assert!(verify.checks[0].per_image());
    assert!(!verify.checks[1].per_image());
    let bad = |extra: &str| one_error(&format!("{BASE}{extra}"));
    assert!(
        bad("on_verify_failure = \"undo\"\n[[environments.staging.verify]]\nhttp = \"https://s/v\"\n")
            .contains("environments.staging.on_verify_failure: \"undo\" is not a choice: use \"hold\" or \"rollback\""),
    );
    assert!(
        bad("verify_timeout = \"5m\"\n")
            .contains("there is no [[environments.NAME.verify]] check to time")
    );
    let both = bad(
        "[[environments.staging.verify]]\nhttp = \"https://s/v\"\nprometheus = \"http://p\"\nquery = \"up\"\n",
    );
    assert!(both.contains("environments.staging.verify.0.prometheus: one verify check asks one thing, this one sets http and prometheus"), "{both}");
    assert!(bad("[[environments.staging.verify]]\nprometheus = \"http://p\"\n").contains("query"),);
    let secret = bad("[[environments.staging.verify]]\nhttp = \"https://user:pw@s/v\"\n");
    assert!(
        secret.contains("the address carries credentials"),
        "{secret}"
    );
    assert!(!secret.contains("pw@"), "{secret}");
    assert!(
        bad("[[environments.staging.verify]]\nhttp = \"ftp://s/v\"\n")
            .contains("is not an http(s) address")
    );
    assert!(
        bad("[[environments.staging.verify]]\ncommit_status = \"kustomization/[\"\n")
            .contains("is not a glob")
    );
    assert!(
        bad("[[environments.staging.verify]]\nexpect = \"x\"\n")
            .contains("a verify check needs one of")
    );
    let review = bad(
        "mode = \"review\"\non_verify_failure = \"rollback\"\n[[environments.staging.verify]]\nhttp = \"https://s/v\"\n",
    );
    assert!(
        review.contains("\"rollback\" needs mode = \"push\""),
        "{review}"
    );
}

#[test]
fn webhooks_may_name_images_a_repositorys_rules_define() {
    let hook = "\n[webhooks.local]\nkind = \"distribution\"\nsecret_file = \"/run/credentials/baton.service/hook\"\nimages = [\"svc\"]\n";
    // Without rules in a repository, only the host's images exist.
    let e = one_error(&format!("{BASE}{hook}"));
    assert!(e.contains("webhook names unknown image \"svc\""), "{e}");
    // With rules, `svc` may come from them: the daemon checks once it has read them.
    let with_rules = BASE.replace(
        "url = \"file:///srv/fleet.git\"\n",
        "url = \"file:///srv/fleet.git\"\nrules = \"baton.toml\"\n",
    );
    let config = load(&format!("{with_rules}{hook}")).unwrap();
    assert_eq!(
        config.webhooks["local"].images.as_deref(),
        Some(&["svc".to_string()][..])
    );
    // An empty name is still refused.
    let e = one_error(&format!("{with_rules}{}", hook.replace("\"svc\"", "\" \"")));
    assert!(e.contains("an empty name"), "{e}");
}

#[test]
fn groups_name_known_images_each_in_one_group() {
    let images = format!(
        "{BASE}\n[images.web]\nrepository = \"ghcr.io/example/web\"\n\n[images.db]\nrepository = \"ghcr.io/example/db\"\n"
    );
    let config = load(&format!(
        "{images}\n[groups.shop]\nimages = [\"app\", \"web\"]\nsame_version = true\n"
    ))
    .unwrap();
    assert_eq!(
        config.groups["shop"],
        crate::promotion::group::GroupConfig {
            images: vec!["app".into(), "web".into()],
            same_version: true,
        }
    );
    assert_eq!(
        config.group_of("web").map(|(n, _)| n.as_str()),
        Some("shop")
    );
    assert_eq!(config.group_of("db"), None);

    // An image in two groups: refused where it is named the second time.
    let err = one_error(&format!(
        "{images}\n[groups.a]\nimages = [\"app\", \"web\"]\n\n[groups.b]\nimages = [\"db\", \"web\"]\n"
    ));
    assert!(
        err.starts_with("/etc/baton/baton.toml:25:17: ")
            && err.contains("groups.b.images.1: image \"web\" is already in group \"a\" (groups.a.images): an image moves with one group only"),
        "{err}"
    );
    // Unknown names, with the close one.
    let err = one_error(&format!(
        "{images}\n[groups.shop]\nimages = [\"app\", \"webb\"]\n"
    ));
    assert!(
        err.contains("groups.shop.images.1: group \"shop\" names unknown image \"webb\": did you mean \"web\"?"),
        "{err}"
    );
    // Twice in one group, one image, none, not strings, a stray key, an image's name.
    let err = one_error(&format!(
        "{images}\n[groups.shop]\nimages = [\"app\", \"app\"]\n"
    ));
    assert!(
        err.contains("\"app\" is listed twice in group \"shop\""),
        "{err}"
    );
    let err = one_error(&format!("{images}\n[groups.shop]\nimages = [\"app\"]\n"));
    assert!(
        err.contains("group \"shop\" has 1 image: a group moves two or more"),
        "{err}"
    );
    let err = one_error(&format!("{images}\n[groups.shop]\nsame_version = true\n"));
    assert!(err.contains("groups.shop.images"), "{err}");
    let err = one_error(&format!("{images}\n[groups.shop]\nimages = [\"app\", 7]\n"));
    assert!(
        err.contains("groups.shop.images.1: expected a string"),
        "{err}"
    );
    let err = one_error(&format!(
        "{images}\n[groups.shop]\nimages = [\"app\", \"web\"]\nsame_versoin = true\n"
    ));
    assert!(err.contains("same_version"), "{err}");
    let err = one_error(&format!(
        "{images}\n[groups.web]\nimages = [\"app\", \"db\"]\n"
    ));
    assert!(
        err.contains("group \"web\" has the name of an image"),
        "{err}"
    );
    for bad in ["../x", "a b", "-x", "x.lock", "a=b"] {
        let err = one_error(&format!(
            "{images}\n[groups.\"{bad}\"]\nimages = [\"app\", \"db\"]\n"
        ));
        assert!(err.contains("must be letters, digits"), "{bad}: {err}");
    }
    let err = one_error(&format!("{images}\n[groups]\nshop = 3\n"));
    assert!(err.contains("groups.shop"), "{err}");
}
