//! Applying a layer tar onto a root directory (OCI image-layer rules), safely.
//!
//! No member can write outside `dest`: paths are normalised (absolute paths and
//! `..` are rejected), parents are resolved without following symlinks (see
//! [`root`]), files are created with `O_EXCL | O_NOFOLLOW` after whatever was in
//! the way is removed (never written through), and metadata calls use
//! `AT_SYMLINK_NOFOLLOW` or descriptors.

mod create;
mod donor;
mod guard;
mod item;
mod root;
mod whiteout;

use guard::HeaderGuard;
use std::collections::HashSet;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use rustix::fs::{openat, Mode, OFlags, Timespec, Timestamps};
use rustix::io::Errno;

use self::item::{Item, ItemKind};
use self::root::Root;
use super::entry::split;
use super::error::io_at;
use super::{LayerError, Result};

/// What to do with whiteouts and opaque markers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WhiteoutMode {
    /// Delete the whited-out paths in `dest` (flattening layers onto one directory).
    #[default]
    Apply,
    /// Record them the overlayfs way so `dest` can be an overlay lower directory: a
    /// 0/0 character device per whiteout, `trusted.overlay.opaque=y` on opaque
    /// directories.
    Overlay,
}

/// How a layer is unpacked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UnpackOptions {
    pub whiteouts: WhiteoutMode,
    /// An earlier snapshot in the store whose identical files are hard-linked
    /// instead of written again (see `donor`).
    pub donor: Option<PathBuf>,
}

/// Counts of what [`unpack_layer`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UnpackStats {
    /// Tar members read (excluding PAX and GNU extension headers).
    pub entries: u64,
    pub files: u64,
    pub dirs: u64,
    pub symlinks: u64,
    pub hardlinks: u64,
    /// Character and block devices and fifos.
    pub special: u64,
    pub whiteouts: u64,
    pub opaque_dirs: u64,
    /// Bytes of regular-file content written.
    pub bytes: u64,
    /// Regular files hard-linked from the donor snapshot instead of written.
    pub reused: u64,
    /// Extended attributes the filesystem or kernel declined (skipped, as Docker does).
    pub skipped_xattrs: u64,
}

/// Unpacks the uncompressed layer tar `tar_stream` onto the existing directory
/// `dest`, which must be trusted (it is opened as given). The stream is read to
/// its end, so a caller hashing it sees every byte.
pub fn unpack_layer<R: Read>(
    tar_stream: R,
    dest: &Path,
    opts: &UnpackOptions,
) -> Result<UnpackStats> {
    let mut unpacker = Unpacker {
        root: Root::open(dest)?,
        mode: opts.whiteouts,
        donor: opts.donor.as_deref().and_then(donor::Donor::open),
        this_layer: HashSet::new(),
        deferred_dirs: Vec::new(),
        stats: UnpackStats::default(),
    };
    let mut archive = tar::Archive::new(HeaderGuard::new(tar_stream));
    let mut last = PathBuf::from("<start of archive>");
    let read_err = |after: &Path| {
        let after = after.to_path_buf();
        move |source| LayerError::ReadArchive { after, source }
    };
    for entry in archive.entries().map_err(read_err(&last))? {
        let mut entry = entry.map_err(read_err(&last))?;
        let item = item::parse(&mut entry)?;
        last.clone_from(&item.path);
        unpacker.stats.entries += 1;
        unpacker.apply(item, &mut entry)?;
    }
    unpacker.finish_dirs()?;
    io::copy(&mut archive.into_inner().into_inner(), &mut io::sink()).map_err(read_err(&last))?;
    Ok(unpacker.stats)
}

struct Unpacker {
    root: Root,
    mode: WhiteoutMode,
    donor: Option<donor::Donor>,
    /// Paths this layer created or replaced. Whiteouts and opaque markers only
    /// hide entries of lower layers, wherever the marker sits in the tar.
    this_layer: HashSet<PathBuf>,
    /// Directories whose mode and mtime are set at the end, once their children
    /// (which change the mtime) are in place.
    deferred_dirs: Vec<(PathBuf, u32, (i64, u32))>,
    stats: UnpackStats,
}

impl Unpacker {
    fn apply(&mut self, item: Item, data: &mut dyn Read) -> Result<()> {
        match item.kind {
            ItemKind::Ignored => Ok(()),
            ItemKind::Whiteout => self.whiteout(&item),
            ItemKind::Opaque => self.opaque(&item),
            _ => self.create(&item, data),
        }
    }

    /// Sets the deferred directory modes and mtimes, deepest last-seen first. A
    /// directory that a later member replaced (say by a symlink) is skipped.
    fn finish_dirs(&mut self) -> Result<()> {
        let dirs = std::mem::take(&mut self.deferred_dirs);
        for (path, mode, mtime) in dirs.iter().rev() {
            let (parent_rel, name) = split(path);
            let parent = match self.root.dir(parent_rel, path, None) {
                Ok(Some(parent)) => parent,
                Ok(None)
                | Err(LayerError::SymlinkTraversal { .. } | LayerError::InvalidPath { .. }) => {
                    continue
                }
                Err(e) => return Err(e),
            };
            let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
            let fd = match openat(&*parent, name, flags, Mode::empty()) {
                Ok(fd) => fd,
                Err(Errno::NOENT | Errno::LOOP | Errno::NOTDIR) => continue,
                Err(e) => return Err(io_at("opening the directory", path)(e)),
            };
            rustix::fs::fchmod(&fd, Mode::from_raw_mode(*mode))
                .map_err(io_at("changing the mode of", path))?;
            rustix::fs::futimens(&fd, &timestamps(*mtime))
                .map_err(io_at("setting the mtime of", path))?;
        }
        Ok(())
    }
}

/// Access and modification time both set to the member's mtime.
fn timestamps((secs, nanos): (i64, u32)) -> Timestamps {
    let ts = Timespec {
        tv_sec: secs,
        tv_nsec: nanos.into(),
    };
    Timestamps {
        last_access: ts,
        last_modification: ts,
    }
}
