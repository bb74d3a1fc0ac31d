//! Resource limits for a step: a cgroup of its own in the v1 `pids`,
//! `memory` and `cpu` hierarchies (what this kind of machine has), so a fork
//! bomb, a runaway allocation or a busy loop in a stranger's Dockerfile
//! fails or slows its step, not the machine.
//!
//! The step's processes must be in the cgroup from their very first fork:
//! the spawning thread moves itself into the cgroup (v1 `tasks` takes a
//! thread id), forks the step's monitor there, and moves back. A step that
//! reaches its process limit is stopped (the poll loop watches
//! `pids.events`) and fails with [`SandboxError::LimitReached`], rather than
//! spinning at the limit for ever.
//!
//! On a host without these v1 hierarchies (a cgroup2-only host), steps run
//! without limits; [`StepCgroup::create`] says so by returning `None`.

use std::fs;
use std::path::{Path, PathBuf};

use super::SandboxError;

const PIDS_ROOT: &str = "/sys/fs/cgroup/pids";
const MEMORY_ROOT: &str = "/sys/fs/cgroup/memory";
const CPU_ROOT: &str = "/sys/fs/cgroup/cpu";

/// The CFS period quotas are counted in (Docker's default), microseconds.
pub const DEFAULT_CPU_PERIOD: u64 = 100_000;

/// Limits a step runs under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Processes and threads at once.
    pub pids: u64,
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
            memory: None,
            cpu_quota: None,
            cpu_period: DEFAULT_CPU_PERIOD,
        }
    }
}

pub(crate) struct StepCgroup {
    /// The step's cgroup in each hierarchy, and the calling thread's own
    /// cgroup there (where it goes back to).
    dirs: Vec<(PathBuf, PathBuf)>,
    pids_limit: u64,
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

/// The calling thread's cgroup in the v1 hierarchy of `controller`.
fn own_cgroup(root: &str, controller: &str) -> PathBuf {
    let text = fs::read_to_string("/proc/thread-self/cgroup").unwrap_or_default();
    let path = text
        .lines()
        .filter_map(|l| {
            let mut fields = l.splitn(3, ':').skip(1);
            fields.next().zip(fields.next())
        })
        .find(|(controllers, _)| controllers.split(',').any(|c| c == controller))
        .map_or("/", |(_, path)| path);
    Path::new(root).join(path.trim_start_matches('/'))
}

fn write(path: &Path, value: &str) -> Result<(), SandboxError> {
    fs::write(path, value).map_err(|e| SandboxError::io("write", path, e))
}

/// This thread's id, as `tasks` files take it.
fn thread_id() -> String {
    rustix::thread::gettid().as_raw_nonzero().to_string()
}

impl StepCgroup {
    /// A fresh cgroup for one step, or `None` when the host has no v1
    /// `pids` hierarchy.
    pub fn create(limits: &Limits) -> Result<Option<StepCgroup>, SandboxError> {
        if !Path::new(PIDS_ROOT).join("tasks").exists() {
            return Ok(None);
        }
        clean_stale(&Path::new(PIDS_ROOT).join("rbuild"));
        clean_stale(&own_cgroup(MEMORY_ROOT, "memory").join("rbuild"));
        clean_stale(&own_cgroup(CPU_ROOT, "cpu").join("rbuild"));
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let name = format!(
            "rbuild/{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        );
        let mut cgroup = StepCgroup {
            dirs: Vec::new(),
            pids_limit: limits.pids,
        };
        let pids = Path::new(PIDS_ROOT).join(&name);
        fs::create_dir_all(&pids).map_err(|e| SandboxError::io("mkdir", &pids, e))?;
        cgroup
            .dirs
            .push((pids.clone(), own_cgroup(PIDS_ROOT, "pids")));
        write(&pids.join("pids.max"), &limits.pids.to_string())?;
        if let Some(bytes) = limits.memory {
            let memory = cgroup.join(MEMORY_ROOT, "memory", &name)?;
            write(&memory.join("memory.limit_in_bytes"), &bytes.to_string())?;
            // Swap would let the step go past the limit unseen.
            let _ = fs::write(
                memory.join("memory.memsw.limit_in_bytes"),
                bytes.to_string(),
            );
        }
        if let Some(quota) = limits.cpu_quota {
            let cpu = cgroup.join(CPU_ROOT, "cpu", &name)?;
            write(
                &cpu.join("cpu.cfs_period_us"),
                &limits.cpu_period.to_string(),
            )?;
            write(&cpu.join("cpu.cfs_quota_us"), &quota.to_string())?;
        }
        Ok(Some(cgroup))
    }

    /// A cgroup `name` for the step in the v1 hierarchy of `controller`,
    /// under rbuild's own cgroup there (so the limits on rbuild still hold).
    fn join(&mut self, root: &str, controller: &str, name: &str) -> Result<PathBuf, SandboxError> {
        if !Path::new(root).join("tasks").exists() {
            return Err(SandboxError::InvalidSpec {
                what: format!("a {controller} limit needs the cgroup v1 {controller} hierarchy"),
            });
        }
        let own = own_cgroup(root, controller);
        let dir = own.join(name);
        fs::create_dir_all(&dir).map_err(|e| SandboxError::io("mkdir", &dir, e))?;
        self.dirs.push((dir.clone(), own));
        Ok(dir)
    }

    /// Moves the calling thread into the cgroup until the guard is dropped:
    /// what it forks meanwhile starts inside.
    pub fn enter(&self) -> Result<Entered<'_>, SandboxError> {
        let tid = thread_id();
        let entered = Entered { cgroup: self, tid };
        for (dir, _) in &self.dirs {
            write(&dir.join("tasks"), &entered.tid)?;
        }
        Ok(entered)
    }

    /// Whether a fork in the step was refused for the process limit.
    pub fn reached_pids_limit(&self) -> bool {
        let events = self.dirs[0].0.join("pids.events");

        fs::read_to_string(events).is_ok_and(|text| {
            text.lines()
                .any(|l| l.strip_prefix("max ").is_some_and(|n| n.trim() != "0"))
        })
    }

    pub fn pids_limit(&self) -> u64 {
        self.pids_limit
    }
}

/// While alive, the calling thread is in the step's cgroup.
pub(crate) struct Entered<'a> {
    cgroup: &'a StepCgroup,
    tid: String,
}

impl Drop for Entered<'_> {
    fn drop(&mut self) {
        for (_, own) in &self.cgroup.dirs {
            let _ = fs::write(own.join("tasks"), &self.tid);
        }
    }
}

impl Drop for StepCgroup {
    fn drop(&mut self) {
        // Empty once the step's processes are gone (the parent reaps first).
        for (dir, _) in &self.dirs {
            let _ = fs::remove_dir(dir);
        }
    }
}
