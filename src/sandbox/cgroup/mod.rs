//! Resource limits for a step: a cgroup of its own, so a fork bomb, a
//! runaway allocation or a busy loop in a stranger's Dockerfile fails or
//! slows its step, not the machine.
//!
//! Two kinds of host are served: cgroup v2 where its mount offers the
//! controllers the limits need ([`v2`]), otherwise the v1 `pids`, `memory`
//! and `cpu` hierarchies ([`v1`], what this project's VMs have). The step's
//! monitor process joins the cgroup itself, right after it is forked and
//! before it forks anything (it writes `0` to the descriptors of the
//! `cgroup.procs` files opened here), so every process of the step is
//! counted from the start and rbuild itself never moves. A step that
//! reaches its process limit is stopped (the poll loop watches
//! `pids.events`) and fails with [`SandboxError::LimitReached`], rather
//! than spinning at the limit for ever.
//!
//! A host with neither runs steps without a process limit (a known gap,
//! said in the README); a `--memory` or `--cpus` limit there is refused.
//! So does a v2 host whose cgroup2 root cannot hand out controllers (the
//! root of a container's cgroup namespace holds the container's
//! processes), with a warning.

mod v1;
mod v2;

use std::fs;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use super::SandboxError;

/// The CFS period quotas are counted in (Docker's default), microseconds.
pub const DEFAULT_CPU_PERIOD: u64 = 100_000;

/// Limits a step runs under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Processes and threads at once.
    pub pids: u64,
    /// `pids` was asked for (not the default): refused, not dropped, where
    /// the host has no pids controller.
    pub pids_asked: bool,
    /// Bytes of memory (`None`: no limit).
    pub memory: Option<u64>,
    /// CPU time per period, microseconds (`None`: no limit).
    pub cpu_quota: Option<u64>,
    /// The period `cpu_quota` is counted in, microseconds.
    pub cpu_period: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            pids: 16384,
            pids_asked: false,
            memory: None,
            cpu_quota: None,
            cpu_period: DEFAULT_CPU_PERIOD,
        }
    }
}

impl Limits {
    /// The controllers these limits need, by their v2 names.
    fn controllers(&self) -> Vec<&'static str> {
        let mut needed = vec!["pids"];
        if self.memory.is_some() {
            needed.push("memory");
        }
        if self.cpu_quota.is_some() {
            needed.push("cpu");
        }
        needed
    }
}

/// One step's cgroup (one directory per v1 hierarchy, one in v2).
pub(crate) struct StepCgroup {
    /// The directories made for the step, removed when it is dropped.
    dirs: Vec<PathBuf>,
    /// `cgroup.procs` of each, open for the monitor to join.
    procs: Vec<OwnedFd>,
    /// The `pids.events` file that counts refused forks.
    pids_events: PathBuf,
    pids_limit: u64,
}

impl StepCgroup {
    /// A fresh cgroup for one step, or `None` when the host has no cgroup
    /// with a `pids` controller (and no other limit was asked for).
    pub fn create(limits: &Limits) -> Result<Option<StepCgroup>, SandboxError> {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let name = format!("{}-{n}", std::process::id());
        let needed = limits.controllers();
        let asked = &needed[usize::from(!limits.pids_asked)..];
        if let Some(root) = v2::usable_root(&needed) {
            return match v2::create(&root, &name, limits) {
                Ok(cgroup) => Ok(Some(cgroup)),
                // Inside a container the cgroup2 root may be the container's
                // own cgroup, which holds processes and so cannot hand out
                // controllers: run without the implied limit, as before v2.
                Err(e) if asked.is_empty() && v2::is_refusal(&e) => {
                    warn_once(&format!("steps run without a process limit: {e}"));
                    Ok(None)
                }
                Err(e) => Err(e),
            };
        }
        if v1::available() {
            return v1::create(&name, limits).map(Some);
        }
        if asked.is_empty() {
            return Ok(None);
        }
        Err(SandboxError::InvalidSpec {
            what: format!(
                "{} limits need a cgroup: cgroup v2 offering the {} controllers, or the \
                 cgroup v1 pids hierarchy and those controllers' v1 hierarchies",
                asked.join(" and "),
                needed.join(", ")
            ),
        })
    }

    /// The `cgroup.procs` descriptors the monitor writes `0` to.
    pub fn join_fds(&self) -> Vec<BorrowedFd<'_>> {
        self.procs.iter().map(AsFd::as_fd).collect()
    }

    /// Whether a fork in the step was refused for the process limit.
    pub fn reached_pids_limit(&self) -> bool {
        fs::read_to_string(&self.pids_events).is_ok_and(|text| {
            text.lines()
                .any(|l| l.strip_prefix("max ").is_some_and(|n| n.trim() != "0"))
        })
    }

    pub fn pids_limit(&self) -> u64 {
        self.pids_limit
    }

    /// A cgroup with no directory yet, whose refused forks `pids_events` counts.
    fn new(pids_events: PathBuf, pids_limit: u64) -> StepCgroup {
        StepCgroup {
            dirs: Vec::new(),
            procs: Vec::new(),
            pids_events,
            pids_limit,
        }
    }

    /// Makes the directory `dir` for the step and opens its `cgroup.procs`.
    fn add_dir(&mut self, dir: PathBuf) -> Result<(), SandboxError> {
        fs::create_dir_all(&dir).map_err(|e| SandboxError::io("mkdir", &dir, e))?;
        self.dirs.push(dir.clone());
        let procs = dir.join("cgroup.procs");
        let file = fs::OpenOptions::new()
            .write(true)
            .open(&procs)
            .map_err(|e| SandboxError::io("open", &procs, e))?;
        self.procs.push(file.into());
        Ok(())
    }
}

impl Drop for StepCgroup {
    fn drop(&mut self) {
        // Empty once the step's processes are gone: the parent reaped the
        // monitor, but the rest of its pid namespace may still be exiting.
        for dir in &self.dirs {
            for _ in 0..50 {
                match fs::remove_dir(dir) {
                    Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
                        std::thread::sleep(std::time::Duration::from_millis(2));
                    }
                    _ => break,
                }
            }
        }
    }
}

/// Prints `message` as a warning the first time only.
fn warn_once(message: &str) {
    static WARNED: std::sync::Once = std::sync::Once::new();
    WARNED.call_once(|| eprintln!("warning: {message}"));
}

/// Removes the step cgroups of rbuild processes that are gone (killed
/// before they could remove them): named `<pid>-<n>`, empty once the
/// step's processes died. One still in use is left alone (rmdir fails).
fn clean_stale(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.split('-').next()) else {
            continue;
        };
        if pid.parse::<u32>().is_ok() && !Path::new("/proc").join(pid).exists() {
            let _ = fs::remove_dir(entry.path());
        }
    }
}

fn write(path: &Path, value: &str) -> Result<(), SandboxError> {
    fs::write(path, value).map_err(|e| SandboxError::io("write", path, e))
}
