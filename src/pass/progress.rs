//! Steps of a pass as they happen, for whoever wants to show progress (a person at a
//! terminal); the daemon and scripts pass no listener and nothing is reported.

use std::sync::Arc;

/// One step of a pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step<'a> {
    /// The registry scans begin, `images` of them.
    Scanning {
        /// How many images are scanned.
        images: usize,
    },
    /// One image's scan ended.
    Scanned {
        /// The `[images]` name.
        image: &'a str,
        /// Whether its tags were listed.
        ok: bool,
    },
    /// The clone is brought up to date with the remote.
    Syncing,
    /// An environment's markers are read, edited and committed.
    Environment {
        /// Its name.
        name: &'a str,
    },
}

/// A listener for [`Step`]s.
#[derive(Clone)]
pub struct Progress(Arc<dyn Fn(Step<'_>) + Send + Sync>);

impl Progress {
    /// A listener that calls `f` with every step.
    pub fn new(f: impl Fn(Step<'_>) + Send + Sync + 'static) -> Self {
        Progress(Arc::new(f))
    }

    /// Tells the listener of `step`.
    pub fn report(&self, step: Step<'_>) {
        (self.0)(step)
    }
}

impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Progress")
    }
}

/// Tells `progress`, when there is one, of `step`.
pub fn report(progress: Option<&Progress>, step: Step<'_>) {
    if let Some(p) = progress {
        p.report(step);
    }
}
