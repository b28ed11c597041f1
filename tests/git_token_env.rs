//! A token taken from an environment variable of the Baton process works over smart HTTP.
//! Its own test binary: setting a variable is only sound while no other thread runs.

mod support;

use baton::git::{GitError, PushOutcome, TokenSource, Workspace};
use support::git_server::baton_side::{bump, settings};
use support::git_server::{BRANCH, BareRepo, HttpServer};

const VAR: &str = "BATON_TEST_GIT_TOKEN";
const TOKEN: &str = "env-token-31415926535";

#[test]
fn token_from_environment_variable() {
    // SAFETY: this binary's only test sets the variable before any other thread exists.
    unsafe { std::env::set_var(VAR, TOKEN) };
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
