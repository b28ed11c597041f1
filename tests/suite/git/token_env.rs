//! A token taken from an environment variable of the Baton process works over smart HTTP.
//! The variable is set only in a child process running this binary's `with_the_variable_set`:
//! setting it in this process would race the other tests' threads.

use std::process::Command;

use crate::support::git_server::baton_side::{bump, settings};
use crate::support::git_server::{BRANCH, BareRepo, HttpServer};
use baton::git::{GitError, PushOutcome, TokenSource, Workspace};

const VAR: &str = "BATON_TEST_GIT_TOKEN";
const TOKEN: &str = "env-token-31415926535";

#[test]
fn token_from_environment_variable() {
    let module = module_path!().split_once("::").map_or("", |(_, m)| m);
    let name = format!("{module}::with_the_variable_set");
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            name.as_str(),
            "--exact",
            "--include-ignored",
            "--test-threads=1",
        ])
        .env(VAR, TOKEN)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("test result: ok. 1 passed"),
        "{name} did not run:\n{stdout}\n{stderr}"
    );
}

#[test]
#[ignore = "run by token_from_environment_variable in a child process that has the variable set"]
fn with_the_variable_set() {
    assert_eq!(
        std::env::var(VAR).as_deref(),
        Ok(TOKEN),
        "run it through token_from_environment_variable"
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let repo = BareRepo::seeded();
        let server = HttpServer::start(&repo, TOKEN);
        let mut s = settings(&server.url());
        s.token = Some(TokenSource::Env(VAR.into()));
        let state = tempfile::tempdir().unwrap();
        let ws = Workspace::open_or_clone(state.path(), &s).await.unwrap();
        let commit = bump(&ws, "1.0.0", "1.0.1").await.unwrap();
        assert_eq!(
            ws.push(commit, BRANCH, false).await.unwrap(),
            PushOutcome::Pushed
        );
        assert_eq!(repo.head(BRANCH), Some(commit.to_string()));

        let mut unset = s.clone();
        unset.token = Some(TokenSource::Env("BATON_TEST_GIT_TOKEN_UNSET".into()));
        let err = ws_err(&unset).await;
        assert!(matches!(err, GitError::Settings(_)), "{err}");
        assert!(
            err.to_string().contains("BATON_TEST_GIT_TOKEN_UNSET"),
            "{err}"
        );
    });
}

async fn ws_err(s: &baton::git::RemoteSettings) -> GitError {
    let state = tempfile::tempdir().unwrap();
    Workspace::open_or_clone(state.path(), s).await.unwrap_err()
}
