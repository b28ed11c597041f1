//! The `baton` binary: everything lives in the library's `cli` module.

fn main() -> std::process::ExitCode {
    // Short-lived commands end quietly when their reader goes away (`baton tags X | head`).
    // The daemon keeps Rust's default (SIGPIPE ignored) so a closed log pipe cannot kill it.
    if !std::env::args().skip(1).any(|arg| arg == "run") {
        // SAFETY: called before any other thread exists; restores the default disposition.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        }
    }
    baton::cli::main()
}
