//! Extended attributes: reading them from host paths (never following symlinks)
//! and setting them on unpacked entries.

use std::ffi::OsStr;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::path::{Path, PathBuf};

use rustix::fs::XattrFlags;
use rustix::io::Errno;

/// Overlayfs' private attributes; never copied into or out of a layer (a layer
/// that set `trusted.overlay.redirect` could otherwise steer an overlay mount).
pub(crate) fn is_overlay_private(name: &str) -> bool {
    name.starts_with("trusted.overlay.") || name.starts_with("user.overlay.")
}

/// Lists the extended attributes of `path` itself (not of a symlink's target),
/// sorted by name. A filesystem without xattr support yields none.
pub(crate) fn read_all(path: &Path) -> io::Result<Vec<(String, Vec<u8>)>> {
    let names = loop {
        let len = match rustix::fs::llistxattr_query(path) {
            Ok(len) => len,
            Err(Errno::NOTSUP) => return Ok(Vec::new()),
            Err(e) => return Err(e.into()),
        };
        let mut buf = vec![0u8; len];
        match rustix::fs::llistxattr(path, &mut buf[..]) {
            Ok(n) => {
                buf.truncate(n);
                break buf;
            }
            Err(Errno::RANGE) => continue, // grew meanwhile
            Err(e) => return Err(e.into()),
        }
    };
    let mut out = Vec::new();
    for raw in names.split(|b| *b == 0).filter(|n| !n.is_empty()) {
        let name = std::str::from_utf8(raw).map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("extended attribute name {raw:?} is not UTF-8"),
            )
        })?;
        if let Some(value) = read_one(path, name)? {
            out.push((name.to_string(), value));
        }
    }
    out.sort();
    Ok(out)
}

/// Reads one attribute of `path` itself; `None` when it is absent.
pub(crate) fn read_one(path: &Path, name: &str) -> io::Result<Option<Vec<u8>>> {
    loop {
        let len = match rustix::fs::lgetxattr_query(path, name) {
            Ok(len) => len,
            Err(Errno::NODATA | Errno::NOTSUP) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let mut buf = vec![0u8; len];
        match rustix::fs::lgetxattr(path, name, &mut buf[..]) {
            Ok(n) => {
                buf.truncate(n);
                return Ok(Some(buf));
            }
            Err(Errno::RANGE) => continue,
            Err(Errno::NODATA) => return Ok(None),
            Err(e) => return Err(e.into()),
        }
    }
}

/// Sets an attribute through an open file or directory descriptor.
pub(crate) fn set_fd(fd: impl AsFd, name: &str, value: &[u8]) -> io::Result<()> {
    rustix::fs::fsetxattr(fd, name, value, XattrFlags::empty()).map_err(Into::into)
}

/// Sets an attribute on `dir/name` without following `name` if it is a symlink and
/// without opening it (devices and fifos must not be opened). The directory is
/// reached through its descriptor via `/proc/self/fd`, so no path is re-resolved.
pub(crate) fn set_at(dir: BorrowedFd<'_>, name: &OsStr, key: &str, value: &[u8]) -> io::Result<()> {
    let path = proc_path(dir, name);
    rustix::fs::lsetxattr(&path, key, value, XattrFlags::empty()).map_err(Into::into)
}

fn proc_path(dir: BorrowedFd<'_>, name: &OsStr) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", dir.as_raw_fd())).join(name)
}

/// Whether a failure to set an attribute is the filesystem or kernel declining
/// it (as Docker does, such attributes are skipped) rather than a real error.
pub(crate) fn is_unsupported(err: &io::Error) -> bool {
    matches!(
        err.raw_os_error().map(Errno::from_raw_os_error),
        Some(Errno::NOTSUP | Errno::PERM)
    )
}
