//! Creating files, directories, links and special files with their metadata.

use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

use rustix::fs::{
    chmodat, chownat, linkat, makedev, mkdirat, mknodat, openat, statat, symlinkat, utimensat,
    AtFlags, FileType, Gid, Mode, OFlags, Uid,
};
use rustix::io::Errno;

use super::donor::Reuse;
use super::item::{Item, ItemKind};
use super::whiteout::{remove_all, Removed};
use super::{timestamps, Unpacker};
use crate::layer::entry::{normalize_link_target, split};
use crate::layer::error::io_at;
use crate::layer::xattr::{self, is_overlay_private};
use crate::layer::{LayerError, Result};

impl Unpacker {
    /// Creates the member `item` (anything but whiteouts), replacing what is in
    /// the way unless both are directories.
    pub(super) fn create(&mut self, item: &Item, data: &mut dyn Read) -> Result<()> {
        let path = item.path.as_path();
        let (parent_rel, name) = split(path);
        let mut created = Vec::new();
        let parent = self
            .root
            .dir(parent_rel, path, Some(&mut created))?
            .expect("missing parents are created");
        self.this_layer.extend(created);
        if let ItemKind::HardLink(target) = &item.kind {
            self.hard_link(parent.as_fd(), name, path, target)?;
            self.this_layer.insert(path.to_path_buf());
            return Ok(());
        }
        let is_dir = item.kind == ItemKind::Dir;
        let keep_dir = self.clear_way(parent.as_fd(), name, path, is_dir)?;
        let parent = parent.as_fd();
        match &item.kind {
            ItemKind::File => self.file(parent, name, item, data)?,
            ItemKind::Dir => self.directory(parent, name, item, keep_dir)?,
            ItemKind::Symlink(target) => self.symlink(parent, name, item, target)?,
            ItemKind::Char(major, minor) => self.special(
                parent,
                name,
                item,
                FileType::CharacterDevice,
                (*major, *minor),
            )?,
            ItemKind::Block(major, minor) => {
                self.special(parent, name, item, FileType::BlockDevice, (*major, *minor))?
            }
            ItemKind::Fifo => self.special(parent, name, item, FileType::Fifo, (0, 0))?,
            ItemKind::HardLink(_) | ItemKind::Whiteout | ItemKind::Opaque | ItemKind::Ignored => {
                unreachable!("handled by the caller")
            }
        }
        self.this_layer.insert(path.to_path_buf());
        Ok(())
    }

    /// Removes whatever is at `parent/name`, except an existing directory when the
    /// member is a directory too (then `true` is returned and it is reused).
    pub(super) fn clear_way(
        &mut self,
        parent: BorrowedFd<'_>,
        name: &OsStr,
        path: &Path,
        member_is_dir: bool,
    ) -> Result<bool> {
        match statat(parent, name, AtFlags::SYMLINK_NOFOLLOW) {
            Err(Errno::NOENT) => Ok(false),
            Err(e) => Err(io_at("inspecting", path)(e)),
            Ok(st) => {
                let is_dir = FileType::from_raw_mode(st.st_mode) == FileType::Directory;
                if is_dir && member_is_dir {
                    return Ok(true);
                }
                if remove_all(parent, name, path)? == Removed::Dir {
                    self.root.invalidate();
                }
                Ok(false)
            }
        }
    }

    fn file(
        &mut self,
        parent: BorrowedFd<'_>,
        name: &OsStr,
        item: &Item,
        data: &mut dyn Read,
    ) -> Result<()> {
        let path = &item.path;
        // An earlier snapshot may hold this file already (see `donor`).
        let prefix = match &mut self.donor {
            Some(donor) => match donor.reuse(item, data, parent, name)? {
                Reuse::Linked => {
                    self.stats.files += 1;
                    self.stats.reused += 1;
                    return Ok(());
                }
                Reuse::Write(prefix) => prefix,
            },
            None => None,
        };
        let flags =
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let fd = openat(parent, name, flags, Mode::from_raw_mode(0o600))
            .map_err(io_at("creating", path))?;
        let mut file = File::from(fd);
        if let Some(prefix) = prefix {
            self.stats.bytes += prefix.write_to(&mut file, path)?;
        }
        self.stats.bytes += copy_data(data, &mut file, path)?;
        rustix::fs::fchown(&file, Some(uid(item)), Some(gid(item)))
            .map_err(io_at("changing the owner of", path))?;
        rustix::fs::fchmod(&file, Mode::from_raw_mode(item.mode))
            .map_err(io_at("changing the mode of", path))?;
        // After chown, which clears security.capability.
        self.set_xattrs(item, |k, v| xattr::set_fd(&file, k, v))?;
        rustix::fs::futimens(&file, &timestamps(item.mtime))
            .map_err(io_at("setting the mtime of", path))?;
        self.stats.files += 1;
        Ok(())
    }

    fn directory(
        &mut self,
        parent: BorrowedFd<'_>,
        name: &OsStr,
        item: &Item,
        exists: bool,
    ) -> Result<()> {
        let path = &item.path;
        if !exists {
            mkdirat(parent, name, Mode::from_raw_mode(0o700))
                .map_err(io_at("creating the directory", path))?;
        }
        let fd = open_dir_rdonly(parent, name).map_err(io_at("opening the directory", path))?;
        rustix::fs::fchown(&fd, Some(uid(item)), Some(gid(item)))
            .map_err(io_at("changing the owner of", path))?;
        self.set_xattrs(item, |k, v| xattr::set_fd(&fd, k, v))?;
        self.deferred_dirs
            .push((path.clone(), item.mode, item.mtime));
        self.stats.dirs += 1;
        Ok(())
    }

    fn symlink(
        &mut self,
        parent: BorrowedFd<'_>,
        name: &OsStr,
        item: &Item,
        target: &Path,
    ) -> Result<()> {
        let path = &item.path;
        symlinkat(target, parent, name).map_err(io_at("creating the symlink", path))?;
        self.finish_at(parent, name, item, false)?;
        self.stats.symlinks += 1;
        Ok(())
    }

    fn special(
        &mut self,
        parent: BorrowedFd<'_>,
        name: &OsStr,
        item: &Item,
        kind: FileType,
        (major, minor): (u32, u32),
    ) -> Result<()> {
        let mode = Mode::from_raw_mode(item.mode & 0o777);
        mknodat(parent, name, kind, mode, makedev(major, minor))
            .map_err(io_at("creating the special file", &item.path))?;
        self.finish_at(parent, name, item, true)?;
        self.stats.special += 1;
        Ok(())
    }

    /// Owner, mode, xattrs and mtime of something that must not be opened
    /// (symlinks, devices, fifos); never follows `name`.
    fn finish_at(
        &mut self,
        parent: BorrowedFd<'_>,
        name: &OsStr,
        item: &Item,
        chmod: bool,
    ) -> Result<()> {
        let path = &item.path;
        chownat(
            parent,
            name,
            Some(uid(item)),
            Some(gid(item)),
            AtFlags::SYMLINK_NOFOLLOW,
        )
        .map_err(io_at("changing the owner of", path))?;
        if chmod {
            // `name` was just created by mknodat, so it is not a symlink.
            chmodat(
                parent,
                name,
                Mode::from_raw_mode(item.mode),
                AtFlags::empty(),
            )
            .map_err(io_at("changing the mode of", path))?;
        }
        self.set_xattrs(item, |k, v| xattr::set_at(parent, name, k, v))?;
        utimensat(
            parent,
            name,
            &timestamps(item.mtime),
            AtFlags::SYMLINK_NOFOLLOW,
        )
        .map_err(io_at("setting the mtime of", path))
    }

    /// Links `parent/name` to `target`, which must lie below the root and be
    /// reachable without symlinks. Replaces what is at `name`.
    fn hard_link(
        &mut self,
        parent: BorrowedFd<'_>,
        name: &OsStr,
        path: &Path,
        raw: &Path,
    ) -> Result<()> {
        let target = normalize_link_target(path, raw)?;
        if target == path {
            return Ok(());
        }
        let escape = |reason| LayerError::HardLinkEscape {
            path: path.to_path_buf(),
            target: raw.to_path_buf(),
            reason,
        };
        let (target_parent, target_name) = split(&target);
        let target_dir = match self.root.dir(target_parent, path, None) {
            Ok(Some(dir)) => dir,
            Ok(None) => return Err(escape("does not exist")),
            Err(LayerError::SymlinkTraversal { .. }) => {
                return Err(escape("resolves through a symlink"))
            }
            Err(e) => return Err(e),
        };
        if statat(&*target_dir, target_name, AtFlags::SYMLINK_NOFOLLOW).is_err() {
            return Err(escape("does not exist"));
        }
        self.clear_way(parent, name, path, false)?;
        linkat(&*target_dir, target_name, parent, name, AtFlags::empty())
            .map_err(io_at("creating the hard link", path))?;
        self.stats.hardlinks += 1;
        Ok(())
    }

    fn set_xattrs(
        &mut self,
        item: &Item,
        mut set: impl FnMut(&str, &[u8]) -> io::Result<()>,
    ) -> Result<()> {
        for (key, value) in &item.xattrs {
            if is_overlay_private(key) {
                continue;
            }
            match set(key, value) {
                Ok(()) => {}
                Err(e) if xattr::is_unsupported(&e) => self.stats.skipped_xattrs += 1,
                Err(e) => return Err(io_at("setting an extended attribute on", &item.path)(e)),
            }
        }
        Ok(())
    }
}

pub(super) fn open_dir_rdonly(parent: BorrowedFd<'_>, name: &OsStr) -> rustix::io::Result<OwnedFd> {
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    openat(parent, name, flags, Mode::empty())
}

/// Copies a member's data, telling read (archive) failures from write failures.
fn copy_data(data: &mut dyn Read, file: &mut File, path: &Path) -> Result<u64> {
    let mut buf = vec![0u8; 128 * 1024];
    let mut total = 0u64;
    loop {
        let n = match data.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(source) => {
                return Err(LayerError::ReadArchive {
                    after: path.to_path_buf(),
                    source,
                })
            }
        };
        file.write_all(&buf[..n]).map_err(io_at("writing", path))?;
        total += n as u64;
    }
}

fn uid(item: &Item) -> Uid {
    Uid::from_raw(item.uid)
}

fn gid(item: &Item) -> Gid {
    Gid::from_raw(item.gid)
}
