fn main() {
    // As a Unix filter: `rbuild inspect IMAGE | head` ends quietly when the
    // reader goes away, instead of panicking on a broken pipe.
    // SAFETY: restoring the default disposition of SIGPIPE before any thread
    // starts; no handler runs.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    std::process::exit(rbuild::cli::run());
}
