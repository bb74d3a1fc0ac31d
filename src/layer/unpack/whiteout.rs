//! Whiteouts and opaque directories, and removing trees without following
//! symlinks.

use std::ffi::{OsStr, OsString};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use rustix::fs::{makedev, mknodat, openat, unlinkat, AtFlags, Dir, FileType, Mode, OFlags};
use rustix::io::Errno;

use super::create::open_dir_rdonly;
use super::item::Item;
use super::{Unpacker, WhiteoutMode};
use crate::layer::entry::split;
use crate::layer::error::io_at;
use crate::layer::xattr;
use crate::layer::Result;

/// The attribute overlayfs reads to treat a directory as opaque.
const OVERLAY_OPAQUE: &str = "trusted.overlay.opaque";

/// What [`remove_all`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Removed {
    Nothing,
    NonDir,
    Dir,
}

impl Unpacker {
    /// `.wh.<name>`: delete `item.path` from lower layers, or record a 0/0
    /// character device in overlay mode.
    pub(super) fn whiteout(&mut self, item: &Item) -> Result<()> {
        let path = item.path.as_path();
        let (parent_rel, name) = split(path);
        self.stats.whiteouts += 1;
        match self.mode {
            WhiteoutMode::Apply => {
                if self.this_layer.contains(path) {
                    return Ok(()); // same-layer entries are not hidden
                }
                let Some(parent) = self.root.dir(parent_rel, path, None)? else {
                    return Ok(());
                };
                if remove_all(parent.as_fd(), name, path)? == Removed::Dir {
                    self.root.invalidate();
                }
            }
            WhiteoutMode::Overlay => {
                let mut created = Vec::new();
                let parent = self
                    .root
                    .dir(parent_rel, path, Some(&mut created))?
                    .expect("missing parents are created");
                self.this_layer.extend(created);
                self.clear_way(parent.as_fd(), name, path, false)?;
                mknodat(
                    &*parent,
                    name,
                    FileType::CharacterDevice,
                    Mode::empty(),
                    makedev(0, 0),
                )
                .map_err(io_at("creating the whiteout device", path))?;
                self.this_layer.insert(path.to_path_buf());
            }
        }
        Ok(())
    }

    /// `.wh..wh..opq`: hide everything lower layers put in the directory
    /// `item.path`, or mark it opaque for overlayfs.
    pub(super) fn opaque(&mut self, item: &Item) -> Result<()> {
        let path = item.path.as_path();
        self.stats.opaque_dirs += 1;
        match self.mode {
            WhiteoutMode::Apply => {
                let Some(dir) = self.root.dir(path, path, None)? else {
                    return Ok(());
                };
                self.prune(dir.as_fd(), path)
            }
            WhiteoutMode::Overlay => {
                let mut created = Vec::new();
                let dir = self
                    .root
                    .dir(path, path, Some(&mut created))?
                    .expect("missing directories are created");
                self.this_layer.extend(created);
                let fd = open_dir_rdonly(dir.as_fd(), OsStr::new("."))
                    .map_err(io_at("opening the directory", path))?;
                xattr::set_fd(&fd, OVERLAY_OPAQUE, b"y")
                    .map_err(io_at("marking as opaque the directory", path))
            }
        }
    }

    /// Removes the children of `dir` (at `rel`) that this layer did not create,
    /// recursing into the directories it did (they may hold lower entries).
    fn prune(&mut self, dir: BorrowedFd<'_>, rel: &Path) -> Result<()> {
        for name in list_names(dir, rel)? {
            let child = rel.join(&name);
            if !self.this_layer.contains(&child) {
                if remove_all(dir, &name, &child)? == Removed::Dir {
                    self.root.invalidate();
                }
                continue;
            }
            let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
            match openat(dir, &name, flags, Mode::empty()) {
                Ok(sub) => self.prune(sub.as_fd(), &child)?,
                Err(Errno::NOTDIR | Errno::LOOP) => {}
                Err(e) => return Err(io_at("opening the directory", &child)(e)),
            }
        }
        Ok(())
    }
}

/// Removes `dir/name` and, if it is a directory, everything below it. Symlinks
/// are removed, never followed. `path` is the layer path, for errors.
pub(super) fn remove_all(dir: BorrowedFd<'_>, name: &OsStr, path: &Path) -> Result<Removed> {
    match unlinkat(dir, name, AtFlags::empty()) {
        Ok(()) => return Ok(Removed::NonDir),
        Err(Errno::NOENT) => return Ok(Removed::Nothing),
        Err(Errno::ISDIR) => {}
        Err(e) => return Err(io_at("removing", path)(e)),
    }
    let sub = open_dir_rdonly(dir, name).map_err(io_at("opening the directory", path))?;
    for child in list_names(sub.as_fd(), path)? {
        remove_all(sub.as_fd(), &child, &path.join(&child))?;
    }
    unlinkat(dir, name, AtFlags::REMOVEDIR).map_err(io_at("removing the directory", path))?;
    Ok(Removed::Dir)
}

/// The names in directory `dir` (any descriptor, including `O_PATH`), without
/// `.` and `..`.
fn list_names(dir: BorrowedFd<'_>, path: &Path) -> Result<Vec<OsString>> {
    let fd = open_dir_rdonly(dir, OsStr::new(".")).map_err(io_at("opening the directory", path))?;
    let mut reader = Dir::new(fd).map_err(io_at("reading the directory", path))?;
    let mut names = Vec::new();
    while let Some(entry) = reader.read() {
        let entry = entry.map_err(io_at("reading the directory", path))?;
        let name = entry.file_name().to_bytes();
        if name != b"." && name != b".." {
            names.push(OsStr::from_bytes(name).to_os_string());
        }
    }
    Ok(names)
}
