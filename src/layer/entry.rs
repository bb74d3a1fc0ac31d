//! The description of a layer: entries and the path rules they must follow.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use super::{LayerError, Result, OPAQUE_MARKER, WHITEOUT_PREFIX};

/// Where a regular file's content comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileSource {
    /// Read from this host path when the layer is written.
    Path(PathBuf),
    /// Held in memory.
    Bytes(Vec<u8>),
}

/// What a layer entry is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryKind {
    /// A regular file of `size` bytes.
    File { source: FileSource, size: u64 },
    /// A directory.
    Dir,
    /// A symbolic link; the target is stored verbatim and never resolved.
    Symlink { target: PathBuf },
    /// A hard link to another path inside the layer (or a lower layer).
    HardLink { target: PathBuf },
    /// A character device.
    CharDevice { major: u32, minor: u32 },
    /// A block device.
    BlockDevice { major: u32, minor: u32 },
    /// A named pipe.
    Fifo,
    /// Deletes `path` from lower layers; written as `<parent>/.wh.<name>`.
    Whiteout,
    /// Hides lower-layer contents of the directory `path`; written as
    /// `<path>/.wh..wh..opq`. The directory itself needs its own [`EntryKind::Dir`].
    OpaqueDir,
}

/// One entry of a layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerEntry {
    /// Relative path inside the layer, without a leading `/`.
    pub path: PathBuf,
    pub kind: EntryKind,
    /// Permission bits plus setuid, setgid and sticky (`0o7777`).
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    /// Modification time in seconds since the epoch.
    pub mtime: i64,
    /// Extended attributes, e.g. `("security.capability", bytes)`.
    pub xattrs: Vec<(String, Vec<u8>)>,
}

impl LayerEntry {
    /// An entry with mode 0o644 (0o755 for directories), owner 0:0, mtime 0 and no
    /// extended attributes.
    pub fn new(path: impl Into<PathBuf>, kind: EntryKind) -> Self {
        let mode = if matches!(kind, EntryKind::Dir) {
            0o755
        } else {
            0o644
        };
        LayerEntry {
            path: path.into(),
            kind,
            mode,
            uid: 0,
            gid: 0,
            mtime: 0,
            xattrs: Vec::new(),
        }
    }
}

/// Normalises a path found in a layer: drops `.` components and rejects absolute
/// paths, `..` components and NUL bytes. The result may be empty (the root).
pub(crate) fn normalize(path: &Path) -> Result<PathBuf> {
    if path.as_os_str().as_bytes().contains(&0) {
        return Err(LayerError::InvalidPath {
            path: path.to_path_buf(),
            reason: "contains a NUL byte".into(),
        });
    }
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::Normal(part) => out.push(part),
            Component::CurDir => {}
            Component::ParentDir => {
                return Err(LayerError::ParentTraversal {
                    path: path.to_path_buf(),
                })
            }
            Component::RootDir | Component::Prefix(_) => {
                return Err(LayerError::AbsolutePath {
                    path: path.to_path_buf(),
                })
            }
        }
    }
    Ok(out)
}

/// Like [`normalize`] but the result must name something below the root.
pub(crate) fn normalize_entry(path: &Path) -> Result<PathBuf> {
    let out = normalize(path)?;
    if out.as_os_str().is_empty() {
        return Err(LayerError::InvalidPath {
            path: path.to_path_buf(),
            reason: "names the layer root".into(),
        });
    }
    Ok(out)
}

/// Normalises a hard-link target; escapes are reported against the link's path.
pub(crate) fn normalize_link_target(link: &Path, target: &Path) -> Result<PathBuf> {
    let escape = |reason| LayerError::HardLinkEscape {
        path: link.to_path_buf(),
        target: target.to_path_buf(),
        reason,
    };
    match normalize(target) {
        Ok(t) if t.as_os_str().is_empty() => Err(escape("is the layer root")),
        Ok(t) => Ok(t),
        Err(LayerError::AbsolutePath { .. }) => Err(escape("is an absolute path")),
        Err(LayerError::ParentTraversal { .. }) => Err(escape("leaves the layer root")),
        Err(other) => Err(other),
    }
}

/// Splits a normalised, non-empty path into its parent (maybe empty) and name.
pub(crate) fn split(path: &Path) -> (&Path, &OsStr) {
    let name = path.file_name().unwrap_or(path.as_os_str());
    let parent = path.parent().unwrap_or(Path::new(""));
    (parent, name)
}

/// The name an entry has in the tar (without the trailing `/` of directories).
pub(crate) fn tar_path(normalized: &Path, kind: &EntryKind) -> PathBuf {
    match kind {
        EntryKind::Whiteout => {
            let (parent, name) = split(normalized);
            let mut marker = OsStr::new(WHITEOUT_PREFIX).to_os_string();
            marker.push(name);
            parent.join(marker)
        }
        EntryKind::OpaqueDir => normalized.join(OPAQUE_MARKER),
        _ => normalized.to_path_buf(),
    }
}

/// Rejects names an OCI unpacker would read as whiteouts.
pub(crate) fn check_not_reserved(path: &Path) -> Result<()> {
    let (_, name) = split(path);
    if name.as_bytes().starts_with(WHITEOUT_PREFIX.as_bytes()) {
        return Err(LayerError::InvalidPath {
            path: path.to_path_buf(),
            reason: format!("names starting with {WHITEOUT_PREFIX:?} are reserved for whiteouts"),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_drops_dot_and_rejects_escapes() {
        assert_eq!(normalize(Path::new("./a/./b")).unwrap(), Path::new("a/b"));
        assert_eq!(normalize(Path::new("./")).unwrap(), Path::new(""));
        assert!(matches!(
            normalize(Path::new("a/../../b")),
            Err(LayerError::ParentTraversal { .. })
        ));
        assert!(matches!(
            normalize(Path::new("/etc")),
            Err(LayerError::AbsolutePath { .. })
        ));
    }

    #[test]
    fn tar_path_of_whiteouts() {
        assert_eq!(
            tar_path(Path::new("a/b"), &EntryKind::Whiteout),
            Path::new("a/.wh.b")
        );
        assert_eq!(
            tar_path(Path::new("top"), &EntryKind::Whiteout),
            Path::new(".wh.top")
        );
        assert_eq!(
            tar_path(Path::new("a"), &EntryKind::OpaqueDir),
            Path::new("a/.wh..wh..opq")
        );
    }
}
