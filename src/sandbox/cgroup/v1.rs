//! cgroup v1: the step's cgroup in the `pids` hierarchy (under its root's
//! `rbuild/`), and, when asked, in the `memory` and `cpu` hierarchies under
//! rbuild's own cgroup there (so the limits on rbuild still hold).

use std::fs;
use std::path::{Path, PathBuf};

use super::{clean_stale, write, Limits, StepCgroup};
use crate::sandbox::SandboxError;

const PIDS_ROOT: &str = "/sys/fs/cgroup/pids";
const MEMORY_ROOT: &str = "/sys/fs/cgroup/memory";
const CPU_ROOT: &str = "/sys/fs/cgroup/cpu";

/// Whether the host has the v1 `pids` hierarchy.
pub(super) fn available() -> bool {
    Path::new(PIDS_ROOT).join("tasks").exists()
}

pub(super) fn create(name: &str, limits: &Limits) -> Result<StepCgroup, SandboxError> {
    clean_stale(&Path::new(PIDS_ROOT).join("rbuild"));
    clean_stale(&own_cgroup(MEMORY_ROOT, "memory").join("rbuild"));
    clean_stale(&own_cgroup(CPU_ROOT, "cpu").join("rbuild"));
    let pids = Path::new(PIDS_ROOT).join("rbuild").join(name);
    let mut cgroup = StepCgroup::new(pids.join("pids.events"), limits.pids);
    cgroup.add_dir(pids.clone())?;
    write(&pids.join("pids.max"), &limits.pids.to_string())?;
    if let Some(bytes) = limits.memory {
        let memory = hierarchy_dir(MEMORY_ROOT, "memory", name)?;
        cgroup.add_dir(memory.clone())?;
        write(&memory.join("memory.limit_in_bytes"), &bytes.to_string())?;
        // Swap would let the step go past the limit unseen.
        let _ = fs::write(
            memory.join("memory.memsw.limit_in_bytes"),
            bytes.to_string(),
        );
    }
    if let Some(quota) = limits.cpu_quota {
        let cpu = hierarchy_dir(CPU_ROOT, "cpu", name)?;
        cgroup.add_dir(cpu.clone())?;
        write(
            &cpu.join("cpu.cfs_period_us"),
            &limits.cpu_period.to_string(),
        )?;
        write(&cpu.join("cpu.cfs_quota_us"), &quota.to_string())?;
    }
    Ok(cgroup)
}

/// Where the step's cgroup `name` goes in the hierarchy of `controller`:
/// under rbuild's own cgroup there.
fn hierarchy_dir(root: &str, controller: &str, name: &str) -> Result<PathBuf, SandboxError> {
    if !Path::new(root).join("tasks").exists() {
        return Err(SandboxError::InvalidSpec {
            what: format!("a {controller} limit needs the cgroup v1 {controller} hierarchy"),
        });
    }
    Ok(own_cgroup(root, controller).join("rbuild").join(name))
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
