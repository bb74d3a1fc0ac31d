//! Resolving directories below the destination without ever following a symlink.
//!
//! Every lookup walks component by component from a descriptor of the root, each
//! step an `openat(O_PATH | O_DIRECTORY | O_NOFOLLOW)` relative to the previous
//! one, so neither a symlink placed by an earlier entry nor one already in the tree
//! can redirect a write, and `..` never reaches the kernel (entry paths are
//! normalised first). This works on every kernel; `openat2(RESOLVE_IN_ROOT)` would
//! follow in-root symlinks instead, which is not what we want: a layer whose entry
//! goes through a symlink is rejected, naming the entry and the symlink.

use std::ffi::OsStr;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::rc::Rc;

use rustix::fs::{mkdirat, openat, statat, AtFlags, FileType, Mode, OFlags};
use rustix::io::Errno;

use crate::layer::error::io_at;
use crate::layer::{LayerError, Result};

/// Flags of the descriptors the walk holds: no read access needed, no following.
const DIR_PATH: OFlags = OFlags::PATH
    .union(OFlags::DIRECTORY)
    .union(OFlags::NOFOLLOW)
    .union(OFlags::CLOEXEC);

/// The destination directory and a one-entry cache of the last directory resolved
/// (tar members of one directory are usually consecutive).
pub(super) struct Root {
    fd: Rc<OwnedFd>,
    cache: Option<(PathBuf, Rc<OwnedFd>)>,
}

impl Root {
    pub(super) fn open(dest: &Path) -> Result<Root> {
        let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC;
        let fd = openat(rustix::fs::CWD, dest, flags, Mode::empty())
            .map_err(io_at("opening the unpack destination", dest))?;
        Ok(Root {
            fd: Rc::new(fd),
            cache: None,
        })
    }

    /// Forgets cached descriptors; called whenever a directory is removed, since a
    /// cached descriptor would still point at the removed directory.
    pub(super) fn invalidate(&mut self) {
        self.cache = None;
    }

    /// Opens the directory `dir` (normalised; empty is the root). Missing
    /// components are created with mode 0755 and pushed to `created` when it is
    /// given, otherwise `Ok(None)` is returned. `entry` is the layer entry the
    /// lookup is for, named in errors.
    pub(super) fn dir(
        &mut self,
        dir: &Path,
        entry: &Path,
        mut created: Option<&mut Vec<PathBuf>>,
    ) -> Result<Option<Rc<OwnedFd>>> {
        let (mut cur, mut prefix) = match &self.cache {
            Some((path, fd)) if path == dir => return Ok(Some(fd.clone())),
            Some((path, fd)) if dir.starts_with(path) => (fd.clone(), path.clone()),
            _ => (self.fd.clone(), PathBuf::new()),
        };
        let rest = dir
            .strip_prefix(&prefix)
            .expect("checked above")
            .to_path_buf();
        for component in rest.components() {
            let name = component.as_os_str();
            prefix.push(name);
            let next = match open_dir(&cur, name) {
                Ok(fd) => fd,
                Err(Errno::NOENT) => match created.as_deref_mut() {
                    None => return Ok(None),
                    Some(created) => {
                        match mkdirat(&*cur, name, Mode::from_raw_mode(0o755)) {
                            Ok(()) => created.push(prefix.clone()),
                            Err(Errno::EXIST) => {}
                            Err(e) => return Err(io_at("creating the directory", &prefix)(e)),
                        }
                        open_dir(&cur, name).map_err(io_at("opening the directory", &prefix))?
                    }
                },
                Err(e) => return Err(classify(&cur, name, entry, &prefix, e)),
            };
            cur = Rc::new(next);
        }
        self.cache = Some((dir.to_path_buf(), cur.clone()));
        Ok(Some(cur))
    }
}

fn open_dir(parent: &OwnedFd, name: &OsStr) -> rustix::io::Result<OwnedFd> {
    openat(parent.as_fd(), name, DIR_PATH, Mode::empty())
}

/// Turns a failed step of the walk into an error naming the entry and the
/// component that stopped it.
fn classify(parent: &OwnedFd, name: &OsStr, entry: &Path, at: &Path, err: Errno) -> LayerError {
    if matches!(err, Errno::LOOP | Errno::NOTDIR) {
        if let Ok(st) = statat(parent, name, AtFlags::SYMLINK_NOFOLLOW) {
            if FileType::from_raw_mode(st.st_mode) == FileType::Symlink {
                return LayerError::SymlinkTraversal {
                    path: entry.to_path_buf(),
                    symlink: at.to_path_buf(),
                };
            }
            return LayerError::InvalidPath {
                path: entry.to_path_buf(),
                reason: format!("{} is not a directory", at.display()),
            };
        }
    }
    io_at("opening the directory", at)(err)
}
