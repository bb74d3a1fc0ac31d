//! Snapshot directories (unpacked layers, build results) under `snapshots/`.
//!
//! A snapshot is built in a [`TempDir`](super::TempDir) on the same
//! filesystem and committed with one `rename`: a snapshot path either does
//! not exist or is complete. Snapshots are named by content (a digest or
//! cache key), so when two builds commit the same id the first one wins and
//! the other's copy is discarded.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use rustix::fs::{renameat_with, RenameFlags, CWD};
use rustix::io::Errno;

use super::error::{at, StoreError};
use super::names;
use super::temp::{fresh_path, remove_tree, sync_dir};
use super::Store;

impl Store {
    /// Where snapshot `id` lives (it may not exist). `id` is encoded into a
    /// single safe file name.
    pub fn snapshot_path(&self, id: &str) -> PathBuf {
        self.snapshots_dir().join(names::encode(id))
    }

    pub fn has_snapshot(&self, id: &str) -> bool {
        fs::symlink_metadata(self.snapshot_path(id)).is_ok_and(|m| m.is_dir())
    }

    /// Move the directory `temp` into place as snapshot `id`, atomically.
    /// If the snapshot already exists, `temp` is removed and the existing
    /// one kept. Returns the snapshot's path.
    pub fn commit_snapshot(&self, temp: &Path, id: &str) -> Result<PathBuf, StoreError> {
        names::encode_checked("snapshot id", id)?;
        let dest = self.snapshot_path(id);
        let placed = if fs::symlink_metadata(&dest).is_ok() {
            false
        } else {
            rename_noreplace(temp, &dest).map_err(|source| StoreError::Rename {
                from: temp.to_path_buf(),
                to: dest.clone(),
                source,
            })?
        };
        if placed {
            sync_dir(&self.snapshots_dir())?;
        } else {
            remove_tree(temp)?;
        }
        Ok(dest)
    }

    /// Delete a snapshot (garbage collection; hold the exclusive lock).
    /// It is first renamed into `tmp/`, so a crash mid-way never leaves a
    /// half-deleted snapshot visible. Returns false if it did not exist.
    pub fn remove_snapshot(&self, id: &str) -> Result<bool, StoreError> {
        let path = self.snapshot_path(id);
        let trash = fresh_path(&self.tmp_dir(), "trash");
        match fs::rename(&path, &trash) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
            Err(source) => {
                return Err(StoreError::Rename {
                    from: path,
                    to: trash,
                    source,
                })
            }
        }
        sync_dir(&self.snapshots_dir())?;
        remove_tree(&trash)?;
        Ok(true)
    }

    /// Every snapshot id, sorted.
    pub fn snapshots(&self) -> Result<Vec<String>, StoreError> {
        let dir = self.snapshots_dir();
        let mut ids = Vec::new();
        for entry in fs::read_dir(&dir).map_err(at(&dir))? {
            let entry = entry.map_err(at(&dir))?;
            if let Some(id) = entry.file_name().to_str().and_then(names::decode) {
                ids.push(id);
            }
        }
        ids.sort();
        Ok(ids)
    }
}

/// `rename` that never replaces `to`; Ok(false) if `to` exists. Falls back
/// to a plain rename on filesystems without `RENAME_NOREPLACE` (where a
/// directory can only replace an empty one, which is an empty snapshot of
/// the same id).
fn rename_noreplace(from: &Path, to: &Path) -> io::Result<bool> {
    match renameat_with(CWD, from, CWD, to, RenameFlags::NOREPLACE) {
        Ok(()) => Ok(true),
        Err(Errno::EXIST) => Ok(false),
        Err(Errno::INVAL) | Err(Errno::NOSYS) => match fs::rename(from, to) {
            Ok(()) => Ok(true),
            Err(e) if e.raw_os_error() == Some(Errno::NOTEMPTY.raw_os_error()) => Ok(false),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
            Err(e) => Err(e),
        },
        Err(e) => Err(e.into()),
    }
}
