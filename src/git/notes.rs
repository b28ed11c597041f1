//! Git notes under Baton's own ref, `refs/notes/baton`: verification results attached to the
//! commits of moves. Before each write the remote's notes are fetched and merged (lines of
//! both kept), and the push is a plain one: rejected, it is fetched, merged and retried.

use std::collections::BTreeMap;

use gix::ObjectId;

use super::GitError;
use super::workspace::Workspace;

/// The notes ref Baton writes and reads.
pub const NOTES_REF: &str = "refs/notes/baton";

/// Where the remote's notes are fetched to before they are merged into [`NOTES_REF`].
const FETCHED_REF: &str = "refs/notes/baton-origin";

/// Pushes tried before giving up (each rejected one is fetched and merged first).
const PUSH_ATTEMPTS: u32 = 4;

/// Largest note read; a larger one (not Baton's) is skipped.
pub const MAX_NOTE: usize = 256 * 1024;

/// Who writes notes: the commit identity of the notes ref's own commits.
#[derive(Debug, Clone, Copy)]
pub struct NoteAuthor<'a> {
    /// `git.author_name`.
    pub name: &'a str,
    /// `git.author_email`.
    pub email: &'a str,
}

impl Workspace {
    /// A local git command with `author` as author and committer of the notes commits.
    fn notes_command(&self, what: &str, author: NoteAuthor<'_>) -> super::GitCommand {
        let mut cmd = self.environment().local(what, self.git_dir());
        for (key, value) in [
            ("GIT_AUTHOR_NAME", author.name),
            ("GIT_AUTHOR_EMAIL", author.email),
            ("GIT_COMMITTER_NAME", author.name),
            ("GIT_COMMITTER_EMAIL", author.email),
        ] {
            cmd.env(key, value);
        }
        cmd
    }

    /// Fetches the remote's notes and merges them into the local notes ref (the lines of both
    /// kept, sorted, duplicates dropped). A remote without notes is no error.
    pub async fn fetch_notes(&self, author: NoteAuthor<'_>) -> Result<(), GitError> {
        let mut fetch = self.environment().network("fetch")?;
        fetch.current_dir(self.git_dir()).args([
            "fetch",
            "--quiet",
            "--no-tags",
            "origin",
            &format!("+{NOTES_REF}:{FETCHED_REF}"),
        ]);
        let out = fetch.output().await?;
        if !out.success {
            if out.stderr.contains("couldn't find remote ref") {
                return Ok(());
            }
            return Err(fetch.failure(&out));
        }
        if self.local_ref(NOTES_REF)?.is_none() {
            self.environment()
                .local("update-ref", self.git_dir())
                .args(["update-ref", NOTES_REF, FETCHED_REF])
                .run()
                .await?;
            return Ok(());
        }
        self.notes_command("notes merge", author)
            .args([
                "notes",
                &format!("--ref={NOTES_REF}"),
                "merge",
                "--quiet",
                "--strategy=cat_sort_uniq",
                FETCHED_REF,
            ])
            .run()
            .await?;
        Ok(())
    }

    fn local_ref(&self, name: &str) -> Result<Option<ObjectId>, GitError> {
        let repo = self.open_repo()?;
        Ok(repo
            .try_find_reference(name)
            .map_err(|e| GitError::repo(self.git_dir(), format!("reading {name}"), e))?
            .and_then(|mut r| r.peel_to_id().ok())
            .map(|id| id.detach()))
    }

    /// Every note under [`NOTES_REF`] in the clone: commit id → text. Call
    /// [`Workspace::fetch_notes`] first for the remote's.
    pub async fn read_notes(&self) -> Result<BTreeMap<String, String>, GitError> {
        if self.local_ref(NOTES_REF)?.is_none() {
            return Ok(BTreeMap::new());
        }
        let out = self
            .environment()
            .local("notes list", self.git_dir())
            .args(["notes", &format!("--ref={NOTES_REF}"), "list"])
            .run()
            .await?;
        let repo = self.open_repo()?;
        let mut notes = BTreeMap::new();
        for line in out.stdout.lines() {
            let Some((blob, commit)) = line.split_once(' ') else {
                continue;
            };
            let Ok(blob) = ObjectId::from_hex(blob.trim().as_bytes()) else {
                continue;
            };
            let Ok(object) = repo.find_object(blob) else {
                continue;
            };
            if object.data.len() > MAX_NOTE {
                tracing::warn!(
                    commit = commit.trim(),
                    bytes = object.data.len(),
                    "skipping a note larger than baton writes"
                );
                continue;
            }
            notes.insert(
                commit.trim().to_string(),
                String::from_utf8_lossy(&object.data).into_owned(),
            );
        }
        Ok(notes)
    }

    /// Appends each `(commit, line)` to that commit's note and pushes the notes ref: fetched
    /// and merged first, and again after a rejected push; never forced.
    pub async fn append_notes(
        &self,
        entries: &[(String, String)],
        author: NoteAuthor<'_>,
    ) -> Result<(), GitError> {
        if entries.is_empty() {
            return Ok(());
        }
        self.fetch_notes(author).await?;
        for (commit, line) in entries {
            self.notes_command("notes append", author)
                .args([
                    "notes",
                    &format!("--ref={NOTES_REF}"),
                    "append",
                    "--no-separator",
                    "-m",
                    line,
                    commit,
                ])
                .run()
                .await?;
        }
        for attempt in 1..=PUSH_ATTEMPTS {
            let mut push = self.environment().network("push")?;
            push.current_dir(self.git_dir()).args([
                "push",
                "--porcelain",
                "--no-verify",
                "origin",
                &format!("{NOTES_REF}:{NOTES_REF}"),
            ]);
            let out = push.output().await?;
            if out.success {
                tracing::debug!(notes = entries.len(), attempt, "notes pushed");
                return Ok(());
            }
            let rejected = out
                .stdout
                .lines()
                .any(|l| l.starts_with('!') && l.contains("[rejected]"));
            if !rejected || attempt == PUSH_ATTEMPTS {
                return Err(push.failure(&out));
            }
            tracing::debug!(
                attempt,
                "notes push rejected: fetching, merging and retrying"
            );
            self.fetch_notes(author).await?;
        }
        Ok(())
    }
}
