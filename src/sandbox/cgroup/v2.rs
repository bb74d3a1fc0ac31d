//! cgroup v2: the step's cgroup is `rbuild/<pid>-<n>` below the root of the
//! cgroup2 mount, with the controllers the limits need enabled on the way
//! down (`cgroup.subtree_control` of the root and of `rbuild/`).
//!
//! Why below the root and not below rbuild's own cgroup: v2 lets a cgroup
//! hand controllers to its children only while it holds no processes, and
//! rbuild's own cgroup holds rbuild. Docker's `cgroupfs` driver places its
//! containers the same way. The cost, a known gap: limits set on rbuild's
//! own cgroup (a CI job's, a systemd unit's) do not cover its steps on v2.
//! Moving rbuild into a leaf of its own cgroup first, as docker-in-docker
//! entrypoints do, would keep them.

use std::fs;
use std::path::{Path, PathBuf};

use super::{clean_stale, write, Limits, StepCgroup};
use crate::sandbox::SandboxError;

/// The cgroup2 mount when it offers every controller in `needed`.
pub(super) fn usable_root(needed: &[&str]) -> Option<PathBuf> {
    let mountinfo = fs::read_to_string("/proc/self/mountinfo").ok()?;
    let root = cgroup2_mount(&mountinfo)?;
    let offered = fs::read_to_string(root.join("cgroup.controllers")).ok()?;
    offers(&offered, needed).then_some(root)
}

/// Whether the `cgroup.controllers` text `offered` lists all of `needed`.
fn offers(offered: &str, needed: &[&str]) -> bool {
    needed
        .iter()
        .all(|c| offered.split_whitespace().any(|o| o == *c))
}

/// The mount point of the first cgroup2 file system in `mountinfo`.
fn cgroup2_mount(mountinfo: &str) -> Option<PathBuf> {
    mountinfo.lines().find_map(|line| {
        let (mount, fs) = line.split_once(" - ")?;
        let fstype = fs.split_whitespace().next()?;
        let point = mount.split_whitespace().nth(4)?;
        // Spaces and the like are octal escapes (`\040`) in mountinfo.
        (fstype == "cgroup2" && !point.contains('\\')).then(|| PathBuf::from(point))
    })
}

/// The step's cgroup `name` under `root`, with `limits` written.
pub(super) fn create(root: &Path, name: &str, limits: &Limits) -> Result<StepCgroup, SandboxError> {
    let parent = root.join("rbuild");
    clean_stale(&parent);
    let controllers = limits.controllers();
    enable(root, &controllers)?;
    fs::create_dir_all(&parent).map_err(|e| SandboxError::io("mkdir", &parent, e))?;
    enable(&parent, &controllers)?;
    let dir = parent.join(name);
    let mut cgroup = StepCgroup::new(dir.join("pids.events"), limits.pids);
    cgroup.add_dir(dir.clone())?;
    for (file, value) in limit_files(limits) {
        write(&dir.join(file), &value)?;
    }
    // Swap would let the step go past its memory limit unseen (no swap
    // accounting on the host: nothing to turn off).
    if limits.memory.is_some() {
        let _ = fs::write(dir.join("memory.swap.max"), "0");
    }
    Ok(cgroup)
}

/// Whether `err` is the kernel refusing to set up cgroups here (busy,
/// read-only or not permitted), rather than a fault.
pub(super) fn is_refusal(err: &SandboxError) -> bool {
    matches!(
        err,
        SandboxError::Io { source, .. }
            if matches!(
                source.raw_os_error(),
                Some(libc::EBUSY | libc::EROFS | libc::EACCES | libc::EPERM)
            )
    )
}

/// The interface files of a v2 cgroup that set `limits`, with their values.
fn limit_files(limits: &Limits) -> Vec<(&'static str, String)> {
    let mut files = vec![("pids.max", limits.pids.to_string())];
    if let Some(bytes) = limits.memory {
        files.push(("memory.max", bytes.to_string()));
    }
    if let Some(quota) = limits.cpu_quota {
        files.push(("cpu.max", format!("{quota} {}", limits.cpu_period)));
    }
    files
}

/// Enables `controllers` for the children of `dir`, unless they already are.
fn enable(dir: &Path, controllers: &[&str]) -> Result<(), SandboxError> {
    let path = dir.join("cgroup.subtree_control");
    let enabled = fs::read_to_string(&path).map_err(|e| SandboxError::io("read", &path, e))?;
    let missing: Vec<String> = controllers
        .iter()
        .filter(|c| !offers(&enabled, &[c]))
        .map(|c| format!("+{c}"))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    write(&path, &missing.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cgroup2_mount_is_found_in_mountinfo() {
        let hybrid = "\
30 23 0:26 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro,mode=755
31 30 0:27 / /sys/fs/cgroup/unified rw,nosuid,nodev - cgroup2 cgroup2 rw
32 30 0:28 / /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids
";
        assert_eq!(
            cgroup2_mount(hybrid),
            Some(PathBuf::from("/sys/fs/cgroup/unified"))
        );
        let unified = "40 1 0:30 / /sys/fs/cgroup rw shared:9 - cgroup2 cgroup2 rw,nsdelegate\n";
        assert_eq!(
            cgroup2_mount(unified),
            Some(PathBuf::from("/sys/fs/cgroup"))
        );
        assert_eq!(
            cgroup2_mount(&hybrid.replace("cgroup2 cgroup2", "x x")),
            None
        );
    }

    #[test]
    fn a_mount_is_usable_only_with_every_controller_the_limits_need() {
        // This machine's hybrid mount offers only hugetlb.
        assert!(!offers("hugetlb\n", &["pids"]));
        assert!(offers(
            "cpuset cpu io memory hugetlb pids rdma misc\n",
            &["pids", "memory", "cpu"]
        ));
        assert!(!offers("cpu io pids\n", &["pids", "memory"]));
        let limits = Limits {
            memory: Some(1 << 20),
            ..Limits::default()
        };
        assert_eq!(limits.controllers(), ["pids", "memory"]);
    }

    #[test]
    fn limits_are_written_in_v2_syntax() {
        let limits = Limits {
            pids: 64,
            pids_asked: true,
            memory: Some(16 << 20),
            cpu_quota: Some(25_000),
            cpu_period: 100_000,
        };
        assert_eq!(
            limit_files(&limits),
            [
                ("pids.max", "64".to_string()),
                ("memory.max", "16777216".to_string()),
                ("cpu.max", "25000 100000".to_string()),
            ]
        );
        assert_eq!(limit_files(&Limits::default()).len(), 1);
    }

    #[test]
    fn a_busy_or_read_only_root_is_a_refusal_other_errors_are_faults() {
        let err = |errno| {
            let source = std::io::Error::from_raw_os_error(errno);
            SandboxError::io("write", "/sys/fs/cgroup/cgroup.subtree_control", source)
        };
        assert!(is_refusal(&err(libc::EBUSY)));
        assert!(is_refusal(&err(libc::EROFS)));
        assert!(!is_refusal(&err(libc::ENOENT)));
        assert!(!is_refusal(&SandboxError::InvalidSpec { what: "x".into() }));
    }

    #[test]
    fn only_missing_controllers_are_enabled() {
        let dir = tempfile::tempdir().unwrap();
        let control = dir.path().join("cgroup.subtree_control");
        fs::write(&control, "cpu pids\n").unwrap();
        enable(dir.path(), &["pids", "memory", "cpu"]).unwrap();
        assert_eq!(fs::read_to_string(&control).unwrap(), "+memory");
        fs::write(&control, "memory pids\n").unwrap();
        enable(dir.path(), &["pids", "memory"]).unwrap();
        assert_eq!(
            fs::read_to_string(&control).unwrap(),
            "memory pids\n",
            "untouched"
        );
    }

    /// On the real cgroup2 mount (this machine's offers no pids controller,
    /// but joining works without one): a forked child that writes `0` to a
    /// `cgroup.procs` descriptor, as the step's monitor does, is in that
    /// cgroup before it runs anything.
    #[test]
    fn a_forked_child_joins_a_cgroup2_cgroup_through_its_procs_descriptor() {
        use std::os::unix::process::CommandExt;
        let mountinfo = fs::read_to_string("/proc/self/mountinfo").unwrap();
        let root = match cgroup2_mount(&mountinfo) {
            Some(root) if rustix::process::geteuid().is_root() => root,
            _ => {
                assert!(std::env::var_os("CI").is_none(), "cannot run in CI");
                eprintln!("SKIPPED: needs root and a cgroup2 mount");
                return;
            }
        };
        let dir = root.join(format!("rbuild-test-{}", std::process::id()));
        fs::create_dir(&dir).unwrap();
        let procs = fs::OpenOptions::new()
            .write(true)
            .open(dir.join("cgroup.procs"))
            .unwrap();
        let fd = std::os::fd::AsRawFd::as_raw_fd(&procs);
        let mut command = std::process::Command::new("sleep");
        command.arg("5");
        // SAFETY: the hook only writes to a descriptor that stays open.
        unsafe {
            command.pre_exec(move || {
                let fd = std::os::fd::BorrowedFd::borrow_raw(fd);
                crate::sandbox::process::join_cgroups(&[fd])
                    .map_err(|e| std::io::Error::from_raw_os_error(e.errno))
            });
        }
        let mut child = command.spawn().unwrap();
        let listed = fs::read_to_string(dir.join("cgroup.procs")).unwrap();
        let own = fs::read_to_string(format!("/proc/{}/cgroup", child.id())).unwrap();
        child.kill().unwrap();
        child.wait().unwrap();
        fs::remove_dir(&dir).unwrap();
        assert_eq!(listed.trim(), child.id().to_string());
        let name = dir.file_name().unwrap().to_string_lossy();
        assert!(own.lines().any(|l| l == format!("0::/{name}")), "{own}");
    }
}
