//! The kernel as the setup sequences see it: a small trait, implemented for
//! real by `linux::LinuxSyscall` and by a recording fake in unit tests.

use std::ffi::{CStr, CString};
use std::path::{Path, PathBuf};

pub(crate) use rustix::mount::MountFlags;

/// A failed syscall: which operation, on which path, and the errno.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SysError {
    pub op: &'static str,
    pub path: PathBuf,
    pub errno: i32,
}

impl SysError {
    pub fn new(op: &'static str, path: impl Into<PathBuf>, errno: i32) -> Self {
        SysError {
            op,
            path: path.into(),
            errno,
        }
    }

    pub fn from_io(op: &'static str, path: impl Into<PathBuf>, err: rustix::io::Errno) -> Self {
        SysError::new(op, path, err.raw_os_error())
    }
}

pub(crate) type SysResult<T> = Result<T, SysError>;

/// What `lookup` found at a path (without following a final symlink).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum EntryKind {
    Missing,
    Dir,
    /// A regular file, device, socket or fifo.
    Other,
    Symlink(PathBuf),
}

/// The overlay mount of the step's root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OverlayOpts {
    /// Top first.
    pub lowers: Vec<PathBuf>,
    pub upper: PathBuf,
    pub work: PathBuf,
}

/// Every kernel operation the setup sequences need.
pub(crate) trait Syscall {
    /// `unshare` mount, uts, ipc and pid namespaces, plus net when `net`.
    fn unshare(&self, net: bool) -> SysResult<()>;
    fn set_hostname(&self, name: &str) -> SysResult<()>;
    /// Brings `lo` up in the current network namespace.
    fn loopback_up(&self) -> SysResult<()>;
    /// `mount(NULL, path, NULL, MS_REC|MS_PRIVATE, NULL)`.
    fn make_rprivate(&self, path: &Path) -> SysResult<()>;
    fn mount_overlay(&self, target: &Path, opts: &OverlayOpts) -> SysResult<()>;
    fn mount_fs(&self, fstype: &str, target: &Path, flags: MountFlags, data: &str)
        -> SysResult<()>;
    /// Recursive bind mount.
    fn bind(&self, source: &Path, target: &Path) -> SysResult<()>;
    /// Remounts a mount read-only, keeping its other flags.
    fn remount_readonly(&self, target: &Path) -> SysResult<()>;
    /// Remounts a bind nodev and nosuid (and read-only when asked), on the
    /// whole tree below it.
    fn remount_hardened(&self, target: &Path, readonly: bool) -> SysResult<()>;
    /// Remounts the step's root (native snapshotter) nodev: device nodes in
    /// it cannot be opened; setuid programs keep working.
    fn remount_nodev(&self, target: &Path) -> SysResult<()>;
    fn lookup(&self, path: &Path) -> SysResult<EntryKind>;
    fn mkdir(&self, path: &Path, mode: u32) -> SysResult<()>;
    /// Creates an empty regular file (a mount stub).
    fn create_file(&self, path: &Path, mode: u32) -> SysResult<()>;
    fn symlink(&self, target: &Path, link: &Path) -> SysResult<()>;
    /// `pivot_root(new_root, put_old)`.
    fn pivot_root(&self, new_root: &Path, put_old: &Path) -> SysResult<()>;
    /// `umount2(path, MNT_DETACH)`.
    fn umount_detach(&self, path: &Path) -> SysResult<()>;
    fn chdir(&self, path: &Path) -> SysResult<()>;
    /// Marks every descriptor from `first` up close-on-exec
    /// (`close_range(first, ~0, CLOSE_RANGE_CLOEXEC)`), so none survives
    /// `exec` while an exec failure can still be reported.
    fn close_fds_from(&self, first: u32) -> SysResult<()>;
    /// `setsid`, then `TIOCSCTTY` on stdin (a terminal).
    fn take_terminal(&self) -> SysResult<()>;
    /// `seccomp(SECCOMP_SET_MODE_FILTER)` with `program`.
    fn install_seccomp(&self, program: &[super::plan::BpfInsn]) -> SysResult<()>;
    /// Drops every capability not in `keep` from the bounding set
    /// (`PR_CAPBSET_DROP`) and clears the inheritable and ambient sets.
    fn drop_capabilities(&self, keep: &[u32]) -> SysResult<()>;
    fn set_groups(&self, gids: &[u32]) -> SysResult<()>;
    fn set_gid(&self, gid: u32) -> SysResult<()>;
    fn set_uid(&self, uid: u32) -> SysResult<()>;
    /// `execve`; returns only on failure.
    fn exec(&self, program: &CStr, argv: &[CString], env: &[CString]) -> SysError;
}
