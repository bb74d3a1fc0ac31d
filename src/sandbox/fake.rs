//! A recording `Syscall` for unit tests: logs each call, keeps a tiny
//! in-memory file tree for `lookup`, and fails on request.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::ffi::{CStr, CString};
use std::path::{Path, PathBuf};

use super::syscall::{EntryKind, MountFlags, OverlayOpts, SysError, SysResult, Syscall};

#[derive(Default)]
pub(crate) struct RecordingSyscall {
    pub log: RefCell<Vec<String>>,
    /// Host paths that exist (anything else is missing).
    pub tree: RefCell<HashMap<PathBuf, EntryKind>>,
    /// Operations (the log entry's name) that fail with EPERM.
    pub fail: HashSet<&'static str>,
    /// Programs whose exec "succeeds" (reported as errno 0).
    pub programs: HashSet<PathBuf>,
    cwd: RefCell<PathBuf>,
    /// The new root after `pivot_root`: later paths are looked up under it.
    root: RefCell<Option<PathBuf>>,
}

impl RecordingSyscall {
    pub fn with_dirs(dirs: &[&str]) -> Self {
        let fake = RecordingSyscall::default();
        for dir in dirs {
            fake.tree
                .borrow_mut()
                .insert(PathBuf::from(dir), EntryKind::Dir);
        }
        fake
    }

    pub fn entries(&self) -> Vec<String> {
        self.log.borrow().clone()
    }

    /// Index of the first log entry starting with `prefix`.
    pub fn position(&self, prefix: &str) -> usize {
        self.log
            .borrow()
            .iter()
            .position(|e| e.starts_with(prefix))
            .unwrap_or_else(|| panic!("no {prefix:?} in {:#?}", self.log.borrow()))
    }

    fn record(&self, name: &'static str, detail: String) -> SysResult<()> {
        self.log.borrow_mut().push(format!("{name}({detail})"));
        if self.fail.contains(name) {
            return Err(SysError::new(name, detail, 1));
        }
        Ok(())
    }

    fn add(&self, path: &Path, kind: EntryKind) {
        let path = self.host(path);
        self.tree.borrow_mut().insert(path, kind);
    }

    /// Where `path` is in the tree, once the root has been pivoted.
    fn host(&self, path: &Path) -> PathBuf {
        match &*self.root.borrow() {
            Some(root) => root.join(path.strip_prefix("/").unwrap_or(path)),
            None => path.to_path_buf(),
        }
    }
}

/// Mount flags as sorted words (`nodev,noexec,nosuid`), for assertions.
fn flag_names(flags: MountFlags) -> String {
    let known = [
        (MountFlags::RDONLY, "ro"),
        (MountFlags::NOSUID, "nosuid"),
        (MountFlags::NODEV, "nodev"),
        (MountFlags::NOEXEC, "noexec"),
        (MountFlags::STRICTATIME, "strictatime"),
        (MountFlags::RELATIME, "relatime"),
        (MountFlags::NOATIME, "noatime"),
    ];
    let mut names: Vec<&str> = known
        .iter()
        .filter(|(f, _)| flags.contains(*f))
        .map(|(_, n)| *n)
        .collect();
    names.sort_unstable();
    names.join(",")
}

fn d(path: &Path) -> String {
    path.display().to_string()
}

impl Syscall for RecordingSyscall {
    fn unshare(&self, net: bool) -> SysResult<()> {
        self.record("unshare", format!("net={net}"))
    }

    fn set_hostname(&self, name: &str) -> SysResult<()> {
        self.record("sethostname", name.to_string())
    }

    fn loopback_up(&self) -> SysResult<()> {
        self.record("loopback_up", String::new())
    }

    fn make_rprivate(&self, path: &Path) -> SysResult<()> {
        self.record("make_rprivate", d(path))
    }

    fn mount_overlay(&self, target: &Path, opts: &OverlayOpts) -> SysResult<()> {
        let lowers: Vec<_> = opts.lowers.iter().map(|l| d(l)).collect();
        self.record(
            "mount_overlay",
            format!("{} lowers={}", d(target), lowers.join(":")),
        )
    }

    fn mount_fs(
        &self,
        fstype: &str,
        target: &Path,
        flags: MountFlags,
        data: &str,
    ) -> SysResult<()> {
        self.record(
            "mount",
            format!("{fstype} {} {data} [{}]", d(target), flag_names(flags)),
        )
    }

    fn bind(&self, source: &Path, target: &Path) -> SysResult<()> {
        self.record("bind", format!("{} {}", d(source), d(target)))
    }

    fn remount_readonly(&self, target: &Path) -> SysResult<()> {
        self.record("remount_readonly", d(target))
    }

    fn remount_nodev(&self, target: &Path) -> SysResult<()> {
        self.record("remount_nodev", d(target))
    }

    fn remount_hardened(&self, target: &Path, readonly: bool) -> SysResult<()> {
        self.record(
            if readonly {
                "remount_hardened_ro"
            } else {
                "remount_hardened"
            },
            d(target),
        )
    }

    fn lookup(&self, path: &Path) -> SysResult<EntryKind> {
        Ok(self
            .tree
            .borrow()
            .get(&self.host(path))
            .cloned()
            .unwrap_or(EntryKind::Missing))
    }

    fn mkdir(&self, path: &Path, mode: u32) -> SysResult<()> {
        self.record("mkdir", format!("{} {mode:o}", d(path)))?;
        self.add(path, EntryKind::Dir);
        Ok(())
    }

    fn create_file(&self, path: &Path, mode: u32) -> SysResult<()> {
        self.record("create_file", format!("{} {mode:o}", d(path)))?;
        self.add(path, EntryKind::Other);
        Ok(())
    }

    fn symlink(&self, target: &Path, link: &Path) -> SysResult<()> {
        self.record("symlink", format!("{} -> {}", d(link), d(target)))
    }

    fn pivot_root(&self, new_root: &Path, put_old: &Path) -> SysResult<()> {
        self.record("pivot_root", format!("{} {}", d(new_root), d(put_old)))?;
        *self.root.borrow_mut() = Some(self.cwd.borrow().clone());
        Ok(())
    }

    fn umount_detach(&self, path: &Path) -> SysResult<()> {
        self.record("umount_detach", d(path))
    }

    fn chdir(&self, path: &Path) -> SysResult<()> {
        self.record("chdir", d(path))?;
        if path.is_absolute() {
            *self.cwd.borrow_mut() = path.to_path_buf();
        }
        Ok(())
    }

    fn close_fds_from(&self, first: u32) -> SysResult<()> {
        self.record("close_fds_from", first.to_string())
    }

    fn take_terminal(&self) -> SysResult<()> {
        self.record("take_terminal", String::new())
    }

    fn install_seccomp(&self, program: &[crate::sandbox::plan::BpfInsn]) -> SysResult<()> {
        self.record("install_seccomp", format!("{} instructions", program.len()))
    }

    fn drop_capabilities(&self, keep: &[u32]) -> SysResult<()> {
        self.record("drop_capabilities", format!("{keep:?}"))
    }

    fn set_groups(&self, gids: &[u32]) -> SysResult<()> {
        self.record("setgroups", format!("{gids:?}"))
    }

    fn set_gid(&self, gid: u32) -> SysResult<()> {
        self.record("setgid", gid.to_string())
    }

    fn set_uid(&self, uid: u32) -> SysResult<()> {
        self.record("setuid", uid.to_string())
    }

    fn exec(&self, program: &CStr, argv: &[CString], env: &[CString]) -> SysError {
        let path = PathBuf::from(program.to_str().unwrap());
        let _ = self.record("exec", format!("{} argv={argv:?} env={env:?}", d(&path)));
        let errno = if self.programs.contains(&path) { 0 } else { 2 };
        SysError::new("execve", path, errno)
    }
}
