//! The sandbox that runs one RUN step: the only module with raw syscalls and
//! `unsafe` code (see DESIGN.md §8).
//!
//! `run` forks three processes:
//!
//! ```text
//! rbuild (parent: pipes, poll loop)
//!   └─ monitor   unshare(mount, uts, ipc, pid[, net]); hostname; lo up
//!        └─ init (pid 1)   private /, overlay, /proc, /dev, /sys, binds,
//!                          pivot_root, detach the old root; forwards signals,
//!                          reaps zombies, reports the command's status
//!             └─ command   close fds, seccomp filter, capability bounding set, setgroups,
//!                          setgid, setuid, exec with exactly `env`
//! ```
//!
//! Every mount lives in the monitor's mount namespace, so it vanishes when
//! the step's processes are gone: nothing outlives the call, even when rbuild
//! is SIGKILLed (`PR_SET_PDEATHSIG` takes the monitor and init with it).
//!
//! The setup sequences (`setup.rs`) talk to the kernel only through the
//! [`syscall::Syscall`] trait; the unit tests drive them with a recording
//! fake, like youki's `libcontainer/src/syscall/`.

mod cgroup;
mod error;
mod linux;
mod parent;
mod plan;
mod process;
mod publish;
mod report;
mod resolve;
mod seccomp;
mod setup;
mod syscall;
mod terminal;
mod workdir;

#[cfg(test)]
mod fake;
#[cfg(test)]
mod tests;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};

pub use cgroup::{Limits, DEFAULT_CPU_PERIOD};
pub use error::SandboxError;
pub use publish::Publish;

/// The root filesystem a step runs on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RootfsSpec {
    /// An overlay mount: read-only snapshot directories (top first) under a
    /// writable upper dir, which receives exactly the step's changes.
    Overlay {
        lowers: Vec<PathBuf>,
        upper: PathBuf,
        work: PathBuf,
    },
    /// The fallback snapshotter: run directly on a plain directory.
    Dir(PathBuf),
}

/// The step's network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Network {
    /// Share the host's network namespace (`docker build`'s default).
    #[default]
    Host,
    /// A fresh network namespace with only loopback, brought up.
    None,
}

/// What to mount at a [`Mount`]'s target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MountKind {
    /// Bind `source` (file or directory, recursively).
    Bind { readonly: bool },
    /// A fresh tmpfs; `source` is ignored.
    Tmpfs { size: Option<u64> },
}

/// An extra mount (RUN --mount): secrets, caches, bind sources, tmpfs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    /// Absolute host path (ignored for tmpfs).
    pub source: PathBuf,
    /// Absolute path inside the container.
    pub target: PathBuf,
    pub kind: MountKind,
}

/// Everything one RUN step needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunSpec {
    pub rootfs: RootfsSpec,
    /// The command; `argv[0]` without a `/` is looked up in `env`'s PATH.
    pub argv: Vec<String>,
    /// The environment, exactly (`KEY=VALUE`); nothing of rbuild's leaks in.
    pub env: Vec<String>,
    /// Absolute working directory in the container; created if missing.
    pub cwd: String,
    pub uid: u32,
    pub gid: u32,
    pub additional_gids: Vec<u32>,
    pub hostname: String,
    /// `--add-host NAME:IP` entries, as (name, ip).
    pub extra_hosts: Vec<(String, String)>,
    pub network: Network,
    pub mounts: Vec<Mount>,
    /// Bytes fed to the command's stdin; `None` gives `/dev/null`.
    pub stdin: Option<Vec<u8>>,
    /// Processes and memory the step may use.
    pub limits: Limits,
    /// `RUN --security=insecure`: every capability and no seccomp filter.
    pub privileged: bool,
    /// Where the command's standard streams go.
    pub stdio: Stdio,
    /// Host ports forwarded into the step's network (needs
    /// `Network::None`, the private namespace).
    pub publish: Vec<Publish>,
}

/// Where the command's standard streams go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Stdio {
    /// Output reaches the caller's `output` callback and `stdin` bytes are
    /// fed to the command (RUN steps).
    #[default]
    Captured,
    /// The command writes to rbuild's own stdout and stderr, and reads its
    /// stdin when `stdin` is true, else `/dev/null` (`rbuild run`).
    Inherit { stdin: bool },
    /// A pseudo-terminal is the command's controlling terminal and its
    /// standard streams, joined to rbuild's own (`rbuild run -t`).
    Terminal { stdin: bool },
}

/// Which output stream a chunk came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// How the command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatusLike {
    /// It exited with this code.
    Code(i32),
    /// It was killed by this signal.
    Signal(i32),
}

impl ExitStatusLike {
    /// True for exit code 0.
    pub fn success(&self) -> bool {
        *self == ExitStatusLike::Code(0)
    }

    /// The code a shell would report: the exit code, or 128 + signal
    /// (BuildKit reports a SIGKILLed step as exit code 137).
    pub fn exit_code(&self) -> i32 {
        match *self {
            ExitStatusLike::Code(code) => code,
            ExitStatusLike::Signal(sig) => 128 + sig,
        }
    }

    pub(crate) fn from_wait_status(raw: i32) -> Self {
        if libc::WIFSIGNALED(raw) {
            ExitStatusLike::Signal(libc::WTERMSIG(raw))
        } else {
            ExitStatusLike::Code(libc::WEXITSTATUS(raw))
        }
    }
}

/// The result of a step whose command ran (whatever its exit status).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunOutcome {
    pub status: ExitStatusLike,
    /// Mount targets the sandbox had to create in the root filesystem
    /// (absolute container paths, parents before children), such as
    /// `/etc/hosts` in an image without one. They land in the upper dir;
    /// the caller drops those still empty from the diff, as BuildKit removes
    /// its empty mount stubs.
    pub created_mount_points: Vec<PathBuf>,
    /// Directories created for a missing working directory (root-owned,
    /// 0755, parents first). BuildKit keeps these in the layer.
    pub created_dirs: Vec<PathBuf>,
}

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Kills every running step of this process and makes later ones fail with
/// [`SandboxError::Interrupted`]. Async-signal-safe (one atomic store): call
/// it from the CLI's SIGINT/SIGTERM handler. Running steps notice within
/// 100 ms, kill their namespace's pid 1 (which takes every process of the
/// step with it) and return once all of them are gone.
pub fn interrupt() {
    INTERRUPTED.store(true, Ordering::SeqCst);
}

/// Steps running right now in this process.
static RUNNING: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Whether [`interrupt`] was called.
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

extern "C" fn on_interrupt_signal(_: libc::c_int) {
    interrupt();
    if RUNNING.load(Ordering::SeqCst) == 0 {
        // No step to stop: leave at once. The store stays as it was (writes
        // in flight are temp files, removed by the next open) and no mount
        // exists outside a step's own namespace.
        // SAFETY: _exit is async-signal-safe.
        unsafe { libc::_exit(130) };
    }
}

/// Makes SIGINT and SIGTERM call [`interrupt`]: a running step is killed
/// with its whole process tree, the build fails with `Interrupted`, and its
/// temp files are cleaned up on the way out, leaving the store as it was.
pub fn install_interrupt_handler() {
    for sig in [libc::SIGINT, libc::SIGTERM] {
        process::on_signal(sig, on_interrupt_signal);
    }
}

/// Runs one step and streams its stdout/stderr chunks to `output` as they
/// arrive. A command exiting non-zero is not an error: see
/// [`RunOutcome::status`].
pub fn run(
    spec: &RunSpec,
    output: &mut dyn FnMut(Stream, &[u8]),
) -> Result<RunOutcome, SandboxError> {
    run_cancellable(spec, output, &AtomicBool::new(false))
}

/// Like [`run`], but setting `cancel` kills the step (its whole process
/// tree) and returns [`SandboxError::Interrupted`].
pub fn run_cancellable(
    spec: &RunSpec,
    output: &mut dyn FnMut(Stream, &[u8]),
    cancel: &AtomicBool,
) -> Result<RunOutcome, SandboxError> {
    RUNNING.fetch_add(1, Ordering::SeqCst);
    let result = parent::run(spec, output, cancel, &INTERRUPTED);
    RUNNING.fetch_sub(1, Ordering::SeqCst);
    result
}
