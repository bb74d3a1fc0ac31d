//! The sandbox's error type: each variant names what failed and the path or
//! syscall involved.

use std::io;
use std::path::{Path, PathBuf};

/// Why a step could not run. A command that runs and exits non-zero is not
/// an error (see `RunOutcome::status`).
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// The spec asks for something the sandbox refuses to do.
    #[error("invalid RUN spec: {what}")]
    InvalidSpec { what: String },

    /// Preparing the step's private files on the host failed.
    #[error("{what}{}: {source}", fmt_path(path))]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    /// Starting or supervising the step's processes failed.
    #[error("sandbox: {syscall} failed: {source}")]
    Spawn {
        syscall: &'static str,
        #[source]
        source: io::Error,
    },

    /// Setting up the step's namespaces, mounts or credentials failed.
    #[error("sandbox setup: {op}{}: {source}", fmt_path(path))]
    Setup {
        op: String,
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    /// The command could not be executed (not found, not executable).
    #[error("cannot run {program:?}: {source}")]
    Exec {
        program: String,
        #[source]
        source: io::Error,
    },

    /// The step was cancelled (`interrupt` or its cancel flag); every
    /// process of it is gone.
    #[error("RUN step interrupted")]
    Interrupted,

    /// The step tried to run more processes than its limit allows (a fork
    /// bomb, or a build that needs `--pids-limit` raised); it was stopped.
    #[error("the step reached its limit of {limit} processes and was stopped (raise it with --pids-limit)")]
    LimitReached { limit: u64 },

    /// The step's pid 1 ended without reporting the command's status.
    #[error("sandbox init ended without a status ({detail})")]
    Lost { detail: String },
}

/// " PATH", or nothing for an empty path (a syscall without one).
fn fmt_path(path: &Path) -> String {
    if path.as_os_str().is_empty() {
        String::new()
    } else {
        format!(" {}", path.display())
    }
}

impl SandboxError {
    /// Turns an error reported by a sandbox process into a `SandboxError`.
    pub(crate) fn from_child(op: String, path: PathBuf, errno: i32) -> Self {
        let source = io::Error::from_raw_os_error(errno);
        if op == "execve" {
            let program = path.to_string_lossy().into_owned();
            SandboxError::Exec { program, source }
        } else {
            SandboxError::Setup { op, path, source }
        }
    }

    pub(crate) fn io(what: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        SandboxError::Io {
            what,
            path: path.into(),
            source,
        }
    }

    pub(crate) fn spawn(syscall: &'static str, source: impl Into<io::Error>) -> Self {
        SandboxError::Spawn {
            syscall,
            source: source.into(),
        }
    }
}
