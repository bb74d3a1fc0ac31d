//! `Syscall` for real: rustix where it has a safe wrapper, `libc` otherwise.
//! Runs only in the forked sandbox processes (single-threaded).

use std::ffi::{CStr, CString, OsStr};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, FileType, Mode, OFlags, StatVfsMountFlags, CWD};
use rustix::io::Errno;
use rustix::mount::{MountPropagationFlags, UnmountFlags};
use rustix::thread::UnshareFlags;

use super::syscall::{EntryKind, MountFlags, OverlayOpts, SysError, SysResult, Syscall};

/// The kernel implementation of [`Syscall`].
pub(crate) struct LinuxSyscall;

/// Attaches the operation and path to a rustix error.
fn at<T>(op: &'static str, path: &Path, res: rustix::io::Result<T>) -> SysResult<T> {
    res.map_err(|e| SysError::from_io(op, path, e))
}

fn last_errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// Overlay options that keep the upper dir a plain diff (DESIGN.md §8).
const PLAIN_DIFF: &[&str] = &["index", "redirect_dir", "metacopy"];

/// The classic `mount(2)` data string, if it fits in the one page the
/// kernel copies and no path needs escaping.
fn overlay_data(opts: &OverlayOpts, plain_diff: bool) -> Option<CString> {
    let mut data = b"lowerdir=".to_vec();
    for (i, lower) in opts.lowers.iter().enumerate() {
        if i > 0 {
            data.push(b':');
        }
        data.extend_from_slice(lower.as_os_str().as_bytes());
    }
    for (key, path) in [("upperdir", &opts.upper), ("workdir", &opts.work)] {
        data.extend_from_slice(format!(",{key}=").as_bytes());
        data.extend_from_slice(path.as_os_str().as_bytes());
    }
    let paths = opts.lowers.iter().chain([&opts.upper, &opts.work]);
    let special = |p: &PathBuf| p.as_os_str().as_bytes().iter().any(|b| b",:\\".contains(b));
    if paths.clone().any(special) {
        return None;
    }
    if plain_diff {
        for key in PLAIN_DIFF {
            data.extend_from_slice(format!(",{key}=off").as_bytes());
        }
    }
    (data.len() < 4096)
        .then(|| CString::new(data).ok())
        .flatten()
}

/// Whether the overlay module turns on redirects, metacopy or the index by
/// default (module parameters read `Y`, `on` or `follow`).
fn overlay_features_on_by_default() -> bool {
    ["redirect_dir", "metacopy", "index"].iter().any(|name| {
        std::fs::read_to_string(format!("/sys/module/overlay/parameters/{name}"))
            .is_ok_and(|v| matches!(v.trim(), "Y" | "on" | "follow"))
    })
}

/// The new mount API: one `lowerdir+` per layer, no page limit.
fn overlay_fsconfig(target: &Path, opts: &OverlayOpts) -> SysResult<()> {
    use rustix::mount::{
        fsconfig_create, fsconfig_set_string, fsmount, fsopen, move_mount, FsMountFlags,
        FsOpenFlags, MountAttrFlags, MoveMountFlags,
    };
    let fs = at(
        "fsopen",
        target,
        fsopen("overlay", FsOpenFlags::FSOPEN_CLOEXEC),
    )?;
    for lower in &opts.lowers {
        at(
            "fsconfig lowerdir+",
            lower,
            fsconfig_set_string(&fs, "lowerdir+", lower),
        )?;
    }
    at(
        "fsconfig upperdir",
        &opts.upper,
        fsconfig_set_string(&fs, "upperdir", &opts.upper),
    )?;
    at(
        "fsconfig workdir",
        &opts.work,
        fsconfig_set_string(&fs, "workdir", &opts.work),
    )?;
    for key in PLAIN_DIFF {
        // An option this kernel does not know is fine only if the feature
        // is not on by default (see `overlay_features_on_by_default`).
        if fsconfig_set_string(&fs, *key, "off").is_err() && overlay_features_on_by_default() {
            return Err(SysError::from_io(
                "fsconfig overlay (redirect_dir/metacopy on by default)",
                target,
                Errno::INVAL,
            ));
        }
    }
    at("fsconfig create overlay", target, fsconfig_create(&fs))?;
    let mnt = at(
        "fsmount overlay",
        target,
        fsmount(
            &fs,
            FsMountFlags::FSMOUNT_CLOEXEC,
            MountAttrFlags::MOUNT_ATTR_NODEV,
        ),
    )?;
    at(
        "move_mount overlay",
        target,
        move_mount(
            &mnt,
            "",
            CWD,
            target,
            MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH,
        ),
    )
}

/// The per-mount flags of `target` a bind remount must keep.
const MOUNT_ATTR_RDONLY: u64 = 0x1;
const MOUNT_ATTR_NOSUID: u64 = 0x2;
const MOUNT_ATTR_NODEV: u64 = 0x4;

/// `struct mount_attr` of mount_setattr(2).
#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

/// mount_setattr(2) with `AT_RECURSIVE` (Linux 5.12+).
fn mount_setattr_recursive(target: &Path, set: u64) -> Result<(), Errno> {
    let path = CString::new(target.as_os_str().as_encoded_bytes()).map_err(|_| Errno::INVAL)?;
    let attr = MountAttr {
        attr_set: set,
        attr_clr: 0,
        propagation: 0,
        userns_fd: 0,
    };
    // SAFETY: `path` is a NUL-terminated string and `attr` a valid
    // `struct mount_attr` whose size is passed; both outlive the call.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            libc::AT_FDCWD,
            path.as_ptr(),
            libc::AT_RECURSIVE,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(Errno::from_io_error(&std::io::Error::last_os_error()).unwrap_or(Errno::INVAL))
    }
}

fn kept_flags(target: &Path) -> SysResult<MountFlags> {
    let vfs = at("statvfs", target, rustix::fs::statvfs(target))?;
    let mut flags = MountFlags::empty();
    for (st, ms) in [
        (StatVfsMountFlags::NOSUID, MountFlags::NOSUID),
        (StatVfsMountFlags::NODEV, MountFlags::NODEV),
        (StatVfsMountFlags::NOEXEC, MountFlags::NOEXEC),
        (StatVfsMountFlags::NOATIME, MountFlags::NOATIME),
        (StatVfsMountFlags::NODIRATIME, MountFlags::NODIRATIME),
        (StatVfsMountFlags::RELATIME, MountFlags::RELATIME),
    ] {
        if vfs.f_flag.contains(st) {
            flags |= ms;
        }
    }
    Ok(flags)
}

impl Syscall for LinuxSyscall {
    fn unshare(&self, net: bool) -> SysResult<()> {
        let mut flags = UnshareFlags::NEWNS
            | UnshareFlags::NEWUTS
            | UnshareFlags::NEWIPC
            | UnshareFlags::NEWPID;
        if net {
            flags |= UnshareFlags::NEWNET;
        }
        // SAFETY: only namespace flags: no CLONE_FILES/CLONE_FS, so no
        // descriptor table or fs state that Rust code relies on changes
        // under it; the process is single-threaded (forked).
        let res = unsafe { rustix::thread::unshare_unsafe(flags) };
        at("unshare", Path::new(""), res)
    }

    fn set_hostname(&self, name: &str) -> SysResult<()> {
        at(
            "sethostname",
            Path::new(name),
            rustix::system::sethostname(name.as_bytes()),
        )
    }

    fn loopback_up(&self) -> SysResult<()> {
        super::process::loopback_up().map_err(|errno| SysError::new("SIOCSIFFLAGS", "lo", errno))
    }

    fn make_rprivate(&self, path: &Path) -> SysResult<()> {
        let flags = MountPropagationFlags::PRIVATE | MountPropagationFlags::REC;
        at(
            "make private",
            path,
            rustix::mount::mount_change(path, flags),
        )
    }

    fn mount_overlay(&self, target: &Path, opts: &OverlayOpts) -> SysResult<()> {
        let Some(data) = overlay_data(opts, true) else {
            return overlay_fsconfig(target, opts);
        };
        let mount = |data: &CStr| {
            // nodev: device nodes in the image or made by the step cannot be
            // opened (no device cgroup here); /dev gets the host's own.
            rustix::mount::mount("overlay", target, "overlay", MountFlags::NODEV, data)
        };
        match mount(&data) {
            Err(Errno::INVAL) => match overlay_data(opts, false) {
                // A kernel that predates one of the plain-diff options: fine
                // only when none of those features is on by default, or the
                // upper dir would hold redirects and metacopy stubs instead of
                // a plain diff.
                Some(_) if overlay_features_on_by_default() => Err(SysError::from_io(
                    "mount overlay (redirect_dir/metacopy on by default)",
                    target,
                    Errno::INVAL,
                )),
                Some(fallback) => at("mount overlay", target, mount(&fallback)),
                None => Err(SysError::from_io("mount overlay", target, Errno::INVAL)),
            },
            res => at("mount overlay", target, res),
        }
    }

    fn mount_fs(
        &self,
        fstype: &str,
        target: &Path,
        flags: MountFlags,
        data: &str,
    ) -> SysResult<()> {
        let data = CString::new(data).map_err(|_| SysError::new("mount", target, libc::EINVAL))?;
        let op = match fstype {
            "proc" => "mount proc",
            "sysfs" => "mount sysfs",
            "devpts" => "mount devpts",
            _ => "mount tmpfs",
        };
        at(
            op,
            target,
            rustix::mount::mount(fstype, target, fstype, flags, &*data),
        )
    }

    fn bind(&self, source: &Path, target: &Path) -> SysResult<()> {
        at(
            "bind mount",
            target,
            rustix::mount::mount_bind_recursive(source, target),
        )
    }

    fn remount_hardened(&self, target: &Path, readonly: bool) -> SysResult<()> {
        // The attributes go on every mount below the bind too (a context
        // directory may hold mount points of its own).
        let mut set = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;
        if readonly {
            set |= MOUNT_ATTR_RDONLY;
        }
        match mount_setattr_recursive(target, set) {
            Err(Errno::NOSYS) => {
                let mut flags =
                    MountFlags::BIND | MountFlags::NOSUID | MountFlags::NODEV | kept_flags(target)?;
                if readonly {
                    flags |= MountFlags::RDONLY;
                }
                at(
                    "remount nodev,nosuid",
                    target,
                    rustix::mount::mount_remount(target, flags, ""),
                )
            }
            res => at("mount_setattr", target, res),
        }
    }

    fn remount_nodev(&self, target: &Path) -> SysResult<()> {
        match mount_setattr_recursive(target, MOUNT_ATTR_NODEV) {
            Err(Errno::NOSYS) => {
                let flags = MountFlags::BIND | MountFlags::NODEV | kept_flags(target)?;
                at(
                    "remount nodev",
                    target,
                    rustix::mount::mount_remount(target, flags, ""),
                )
            }
            res => at("mount_setattr", target, res),
        }
    }

    fn remount_readonly(&self, target: &Path) -> SysResult<()> {
        let flags = MountFlags::BIND | MountFlags::RDONLY | kept_flags(target)?;
        at(
            "remount read-only",
            target,
            rustix::mount::mount_remount(target, flags, ""),
        )
    }

    fn lookup(&self, path: &Path) -> SysResult<EntryKind> {
        let stat = match rustix::fs::statat(CWD, path, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(stat) => stat,
            Err(Errno::NOENT) => return Ok(EntryKind::Missing),
            Err(e) => return Err(SysError::from_io("lstat", path, e)),
        };
        Ok(match FileType::from_raw_mode(stat.st_mode) {
            FileType::Directory => EntryKind::Dir,
            FileType::Symlink => {
                let target = at(
                    "readlink",
                    path,
                    rustix::fs::readlinkat(CWD, path, Vec::new()),
                )?;
                EntryKind::Symlink(PathBuf::from(OsStr::from_bytes(target.as_bytes())))
            }
            _ => EntryKind::Other,
        })
    }

    fn mkdir(&self, path: &Path, mode: u32) -> SysResult<()> {
        at(
            "mkdir",
            path,
            rustix::fs::mkdir(path, Mode::from_raw_mode(mode)),
        )
    }

    fn create_file(&self, path: &Path, mode: u32) -> SysResult<()> {
        let flags = OFlags::CREATE | OFlags::EXCL | OFlags::WRONLY | OFlags::CLOEXEC;
        let fd = rustix::fs::openat(CWD, path, flags, Mode::from_raw_mode(mode));
        at("create mount point", path, fd).map(drop)
    }

    fn symlink(&self, target: &Path, link: &Path) -> SysResult<()> {
        at("symlink", link, rustix::fs::symlink(target, link))
    }

    fn pivot_root(&self, new_root: &Path, put_old: &Path) -> SysResult<()> {
        at(
            "pivot_root",
            new_root,
            rustix::process::pivot_root(new_root, put_old),
        )
    }

    fn umount_detach(&self, path: &Path) -> SysResult<()> {
        at(
            "umount old root",
            path,
            rustix::mount::unmount(path, UnmountFlags::DETACH),
        )
    }

    fn chdir(&self, path: &Path) -> SysResult<()> {
        at("chdir", path, rustix::process::chdir(path))
    }

    fn close_fds_from(&self, first: u32) -> SysResult<()> {
        super::process::cloexec_from(first).map_err(|e| SysError::new("close_range", "", e))
    }

    fn drop_capabilities(&self, keep: &[u32]) -> SysResult<()> {
        super::process::drop_capabilities(keep)
    }

    fn take_terminal(&self) -> SysResult<()> {
        rustix::process::setsid().map_err(|e| SysError::new("setsid", "", e.raw_os_error()))?;
        rustix::process::ioctl_tiocsctty(std::io::stdin())
            .map_err(|e| SysError::new("TIOCSCTTY", "", e.raw_os_error()))
    }

    fn install_seccomp(&self, program: &[super::plan::BpfInsn]) -> SysResult<()> {
        let fprog = libc::sock_fprog {
            len: program.len() as u16,
            filter: program.as_ptr() as *mut libc::sock_filter,
        };
        // SAFETY: `BpfInsn` is `repr(C)` with the fields of the kernel's
        // `struct sock_filter` in order, and `fprog` points at `program`,
        // which outlives the call; the kernel copies the program.
        let res = unsafe {
            libc::syscall(
                libc::SYS_seccomp,
                libc::SECCOMP_SET_MODE_FILTER,
                0,
                &fprog as *const libc::sock_fprog,
            )
        };
        if res != 0 {
            return Err(SysError::new("seccomp", "", last_errno()));
        }
        Ok(())
    }

    fn set_groups(&self, gids: &[u32]) -> SysResult<()> {
        let gids: Vec<_> = gids
            .iter()
            .map(|g| rustix::process::Gid::from_raw(*g))
            .collect();
        at(
            "setgroups",
            Path::new(""),
            rustix::thread::set_thread_groups(&gids),
        )
    }

    fn set_gid(&self, gid: u32) -> SysResult<()> {
        let gid = rustix::process::Gid::from_raw(gid);
        at(
            "setgid",
            Path::new(""),
            rustix::thread::set_thread_res_gid(gid, gid, gid),
        )
    }

    fn set_uid(&self, uid: u32) -> SysResult<()> {
        let uid = rustix::process::Uid::from_raw(uid);
        at(
            "setuid",
            Path::new(""),
            rustix::thread::set_thread_res_uid(uid, uid, uid),
        )
    }

    fn exec(&self, program: &CStr, argv: &[CString], env: &[CString]) -> SysError {
        let mut argv_ptrs: Vec<*const libc::c_char> = argv.iter().map(|a| a.as_ptr()).collect();
        argv_ptrs.push(std::ptr::null());
        let mut env_ptrs: Vec<*const libc::c_char> = env.iter().map(|e| e.as_ptr()).collect();
        env_ptrs.push(std::ptr::null());
        // SAFETY: `program` and every pointer in the arrays point into
        // NUL-terminated strings that outlive the call, and both arrays end
        // with a null pointer, as execve(2) requires.
        unsafe { libc::execve(program.as_ptr(), argv_ptrs.as_ptr(), env_ptrs.as_ptr()) };
        let path = PathBuf::from(OsStr::from_bytes(program.to_bytes()));
        SysError::new("execve", path, last_errno())
    }
}
