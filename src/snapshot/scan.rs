//! Reading a diff directory (an overlayfs upper dir) into layer entries.

use std::collections::HashMap;
use std::fs::Metadata;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use walkdir::WalkDir;

use crate::layer::error::io_at;
use crate::layer::xattr::{self, is_overlay_private};
use crate::layer::{EntryKind, FileSource, LayerEntry, LayerError, Result};

/// How [`entries_from_dir`] reads a directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanOptions {
    /// Read overlayfs conventions: a 0/0 character device is a whiteout and a
    /// directory with `trusted.overlay.opaque=y` (or `user.overlay.opaque=y`) is
    /// opaque. On by default; turn off for a plain directory tree.
    pub overlay_whiteouts: bool,
}

impl Default for ScanOptions {
    fn default() -> Self {
        ScanOptions {
            overlay_whiteouts: true,
        }
    }
}

/// Attributes that describe the build host rather than the image and so are not
/// put into layers (Docker and containerd drop them as well).
const HOST_ONLY_XATTRS: &[&str] = &["security.selinux"];

/// Walks `dir` (never following symlinks) and returns its entries sorted by path,
/// relative to `dir`. The second path of a hard-linked inode becomes a
/// [`EntryKind::HardLink`] to the first; sockets are skipped (tar cannot hold them).
pub fn entries_from_dir(dir: &Path, opts: &ScanOptions) -> Result<Vec<LayerEntry>> {
    let mut scan = Scan {
        opts,
        inodes: HashMap::new(),
        entries: Vec::new(),
    };
    let walk = WalkDir::new(dir)
        .min_depth(1)
        .follow_links(false)
        .sort_by_file_name();
    for item in walk {
        let item = item.map_err(|e| {
            let path = e.path().unwrap_or(dir).to_path_buf();
            io_at("walking", &path)(e)
        })?;
        let md = item.metadata().map_err(|e| {
            let path = item.path().to_path_buf();
            io_at("reading the metadata of", &path)(e)
        })?;
        let rel = item
            .path()
            .strip_prefix(dir)
            .expect("walkdir yields paths below its root")
            .to_path_buf();
        scan.add(item.path(), rel, &md)?;
    }
    Ok(scan.entries)
}

struct Scan<'a> {
    opts: &'a ScanOptions,
    /// First path seen for each (device, inode) with more than one link.
    inodes: HashMap<(u64, u64), PathBuf>,
    entries: Vec<LayerEntry>,
}

impl Scan<'_> {
    fn add(&mut self, abs: &Path, rel: PathBuf, md: &Metadata) -> Result<()> {
        let ft = md.file_type();
        let overlay = self.opts.overlay_whiteouts;
        if ft.is_char_device() && md.rdev() == 0 && overlay {
            self.entries
                .push(entry(rel, EntryKind::Whiteout, md, Vec::new()));
            return Ok(());
        }
        if ft.is_socket() {
            return Ok(());
        }
        let all = xattr::read_all(abs).map_err(io_at("reading extended attributes of", abs))?;
        let opaque = overlay && ft.is_dir() && is_opaque(&all);
        let xattrs = all
            .into_iter()
            .filter(|(name, _)| !is_overlay_private(name) && !HOST_ONLY_XATTRS.contains(&&**name))
            .collect();
        if ft.is_dir() {
            self.entries
                .push(entry(rel.clone(), EntryKind::Dir, md, xattrs));
            if opaque {
                self.entries
                    .push(entry(rel, EntryKind::OpaqueDir, md, Vec::new()));
            }
            return Ok(());
        }
        if md.nlink() > 1 {
            if let Some(first) = self.inodes.get(&(md.dev(), md.ino())) {
                let kind = EntryKind::HardLink {
                    target: first.clone(),
                };
                self.entries.push(entry(rel, kind, md, xattrs));
                return Ok(());
            }
            self.inodes.insert((md.dev(), md.ino()), rel.clone());
        }
        let kind = non_dir_kind(abs, md)?;
        self.entries.push(entry(rel, kind, md, xattrs));
        Ok(())
    }
}

fn non_dir_kind(abs: &Path, md: &Metadata) -> Result<EntryKind> {
    let ft = md.file_type();
    let device = || {
        let dev = md.rdev();
        (rustix::fs::major(dev), rustix::fs::minor(dev))
    };
    Ok(if ft.is_file() {
        EntryKind::File {
            source: FileSource::Path(abs.to_path_buf()),
            size: md.len(),
        }
    } else if ft.is_symlink() {
        let target = std::fs::read_link(abs).map_err(io_at("reading the symlink", abs))?;
        EntryKind::Symlink { target }
    } else if ft.is_char_device() {
        let (major, minor) = device();
        EntryKind::CharDevice { major, minor }
    } else if ft.is_block_device() {
        let (major, minor) = device();
        EntryKind::BlockDevice { major, minor }
    } else if ft.is_fifo() {
        EntryKind::Fifo
    } else {
        return Err(LayerError::InvalidPath {
            path: abs.to_path_buf(),
            reason: format!("unsupported file type {ft:?}"),
        });
    })
}

/// The extended attributes a layer carries for `path` (not following a
/// final symlink): overlay-private and host-only names left out.
pub fn layer_xattrs(path: &Path) -> Result<Vec<(String, Vec<u8>)>> {
    let all = xattr::read_all(path).map_err(io_at("reading extended attributes of", path))?;
    Ok(all
        .into_iter()
        .filter(|(name, _)| !is_overlay_private(name) && !HOST_ONLY_XATTRS.contains(&&**name))
        .collect())
}

fn is_opaque(xattrs: &[(String, Vec<u8>)]) -> bool {
    xattrs.iter().any(|(name, value)| {
        (name == "trusted.overlay.opaque" || name == "user.overlay.opaque") && value == b"y"
    })
}

fn entry(
    path: PathBuf,
    kind: EntryKind,
    md: &Metadata,
    xattrs: Vec<(String, Vec<u8>)>,
) -> LayerEntry {
    LayerEntry {
        path,
        kind,
        mode: md.mode() & 0o7777,
        uid: md.uid(),
        gid: md.gid(),
        mtime: md.mtime(),
        xattrs,
    }
}
