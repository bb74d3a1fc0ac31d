//! The setup sequences, one per sandbox process, written against the
//! `Syscall` trait so their order is unit-tested without root.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use super::plan::{Plan, RootPlan, Step};
use super::resolve::{ensure_in_root, existing_in_root};
use super::syscall::{EntryKind, MountFlags, SysError, SysResult, Syscall};

const ENOENT: i32 = 2;
const EACCES: i32 = 13;
const ENOTDIR: i32 = 20;

/// Paths the setup created in the step's root filesystem.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Created {
    pub mount_points: Vec<PathBuf>,
    pub dirs: Vec<PathBuf>,
}

/// In the monitor: new namespaces, the hostname, loopback.
pub(crate) fn enter_namespaces(sys: &dyn Syscall, plan: &Plan) -> SysResult<()> {
    sys.unshare(plan.new_netns)?;
    if !plan.hostname.is_empty() {
        sys.set_hostname(&plan.hostname)?;
    }
    if plan.new_netns {
        sys.loopback_up()?;
    }
    Ok(())
}

/// In pid 1 of the new pid namespace: mounts the root and everything on it,
/// pivots into it and detaches the old root. `created` receives the stubs
/// it had to create even when a later step fails.
pub(crate) fn setup_root(sys: &dyn Syscall, plan: &Plan, created: &mut Created) -> SysResult<()> {
    sys.make_rprivate(Path::new("/"))?;
    match &plan.rootfs {
        RootPlan::Overlay(opts) => sys.mount_overlay(&plan.root, opts)?,
        RootPlan::Bind(dir) => {
            sys.bind(dir, &plan.root)?;
            sys.remount_nodev(&plan.root)?;
        }
    }
    refuse_redirected_system_dirs(sys, plan)?;
    let mut mounted = Vec::new();
    for step in &plan.steps {
        apply_step(sys, plan, step, &mut mounted, created)?;
    }
    // pivot_root(".", "."): the old root ends up stacked on the new one and
    // is detached at once, so no put_old directory is ever created in (and
    // captured from) the step's root. runc does the same.
    sys.chdir(&plan.root)?;
    sys.pivot_root(Path::new("."), Path::new("."))?;
    sys.umount_detach(Path::new("."))?;
    sys.chdir(Path::new("/"))?;
    let mut dirs = Vec::new();
    ensure_in_root(sys, Path::new("/"), &plan.cwd, true, &mut dirs)?;
    created
        .dirs
        .extend(dirs.into_iter().filter(|d| !under_any(d, &mounted)));
    Ok(())
}

/// `/proc`, `/sys` and `/dev` of the image must be plain directories (or
/// absent): a symlink there could send the proc/sys/dev mounts, their masks
/// and the /dev links somewhere the later mounts hide (runc refuses the same).
fn refuse_redirected_system_dirs(sys: &dyn Syscall, plan: &Plan) -> SysResult<()> {
    const ELOOP: i32 = 40;
    for name in ["proc", "sys", "dev"] {
        let path = plan.root.join(name);
        match sys.lookup(&path)? {
            EntryKind::Missing | EntryKind::Dir => {}
            _ => {
                return Err(SysError::new(
                    "refuse a rootfs whose system directory is not a directory",
                    &path,
                    ELOOP,
                ))
            }
        }
    }
    Ok(())
}

fn under_any(path: &Path, mounted: &[PathBuf]) -> bool {
    mounted.iter().any(|m| path != m && path.starts_with(m))
}

/// Creates the mount point of `target` if needed (recording it unless it
/// lies on one of our own mounts) and returns its host path.
fn mount_point(
    sys: &dyn Syscall,
    plan: &Plan,
    target: &Path,
    dir: bool,
    mounted: &mut Vec<PathBuf>,
    created: &mut Created,
) -> SysResult<PathBuf> {
    let mut new = Vec::new();
    let host = ensure_in_root(sys, &plan.root, target, dir, &mut new)?;
    let in_container = Path::new("/").join(host.strip_prefix(&plan.root).unwrap_or(&host));
    created
        .mount_points
        .extend(new.into_iter().filter(|p| !under_any(p, mounted)));
    mounted.push(in_container);
    Ok(host)
}

fn host_path(plan: &Plan, path: &Path) -> PathBuf {
    plan.root.join(path.strip_prefix("/").unwrap_or(path))
}

fn apply_step(
    sys: &dyn Syscall,
    plan: &Plan,
    step: &Step,
    mounted: &mut Vec<PathBuf>,
    created: &mut Created,
) -> SysResult<()> {
    match step {
        Step::Fs {
            fstype,
            target,
            flags,
            data,
        } => {
            let host = mount_point(sys, plan, target, true, mounted, created)?;
            sys.mount_fs(fstype, &host, *flags, data)
        }
        Step::Bind {
            source,
            target,
            readonly,
            file,
            devices,
        } => {
            let host = mount_point(sys, plan, target, !file, mounted, created)?;
            sys.bind(source, &host)?;
            if !*devices {
                sys.remount_hardened(&host, *readonly)?;
            } else if *readonly {
                sys.remount_readonly(&host)?;
            }
            Ok(())
        }
        Step::Symlink { target, link } => sys.symlink(target, &host_path(plan, link)),
        Step::Mask { path } => match existing_in_root(sys, &plan.root, path)? {
            Some((host, true)) => sys.mount_fs("tmpfs", &host, MountFlags::RDONLY, ""),
            Some((host, false)) => sys.bind(Path::new("/dev/null"), &host),
            None => Ok(()),
        },
        Step::ReadOnly { path } => match existing_in_root(sys, &plan.root, path)? {
            Some((host, _)) => {
                sys.bind(&host, &host)?;
                sys.remount_readonly(&host)
            }
            None => Ok(()),
        },
    }
}

/// In the command's process: drops everything it must not keep, then
/// execs. Returns only on failure.
pub(crate) fn exec_command(sys: &dyn Syscall, plan: &Plan) -> SysError {
    // A session of its own with the terminal as its controlling one, so a
    // shell gets job control and Ctrl-C reaches the foreground job.
    if plan.tty {
        if let Err(err) = sys.take_terminal() {
            return err;
        }
    }
    if let Err(err) = drop_privileges(sys, plan) {
        return err;
    }
    let program = plan.exec.argv.first().map(|a| a.as_bytes()).unwrap_or(b"");
    let program = PathBuf::from(OsStr::from_bytes(program));
    let mut errno = ENOENT;
    for candidate in &plan.exec.candidates {
        let err = sys.exec(candidate, &plan.exec.argv, &plan.exec.env);
        match err.errno {
            ENOENT | ENOTDIR => {}
            EACCES => errno = EACCES,
            other => return SysError::new("execve", program, other),
        }
    }
    SysError::new("execve", program, errno)
}

/// Descriptors, working directory, capabilities, then groups, gid, uid in
/// that order (DESIGN.md §8).
fn drop_privileges(sys: &dyn Syscall, plan: &Plan) -> SysResult<()> {
    sys.close_fds_from(3)?;
    // As root, before the switch: like runc, the user need not be able to
    // search the path to its working directory.
    sys.chdir(&plan.cwd)?;
    // While CAP_SYS_ADMIN is still held: no `no_new_privs` needed, so
    // setuid programs in the image keep working, as under Docker.
    for program in &plan.seccomp {
        sys.install_seccomp(program)?;
    }
    sys.drop_capabilities(&plan.caps)?;
    sys.set_groups(&plan.groups)?;
    sys.set_gid(plan.gid)?;
    sys.set_uid(plan.uid)?;
    Ok(())
}
