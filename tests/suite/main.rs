//! Baton's integration tests: one test binary, so the library is linked once. Each subject is
//! a module below (run one with `cargo nextest run -E 'test(/^daemon::/)'`); `support` holds the
//! real servers, fakes and the shared fixture they use.

mod support;

mod attacks;
mod board;
mod cadence {
    mod follow;
    mod manifests;
    mod min_age;
    mod polling;
}
mod cli {
    mod check;
    mod operator;
    mod tags;
}
mod daemon {
    mod hooks;
    mod reload;
    mod repositories;
    mod run;
    mod stop;
    mod wake;
}
mod flux_conformance;
mod forge;
mod git {
    mod commit_contents;
    mod gpg_signing;
    mod remotes;
    mod token_env;
    mod workspace;
}
mod markers {
    mod golden;
    mod props;
    mod scan;
}
mod notifications;
mod once {
    mod conflicts;
    mod flow;
    mod registry;
    mod remotes;
}
mod packaging;
mod promotion {
    mod auto_merge;
    mod cli;
    mod flow;
    mod full_cycle;
    mod groups;
    mod human_control;
    mod verify;
    mod verify_attacks;
    mod verify_range;
}
mod redaction;
mod rules;
mod signing {
    mod flow;
}
mod registry {
    mod faults;
    mod local;
    mod signatures;
}
mod reliability {
    mod crash;
    mod disk;
    mod faults;
    mod hostile;
    mod reload;
    mod writers;
}
mod webhooks;
