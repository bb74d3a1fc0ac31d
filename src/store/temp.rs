//! Temporary files and directories under `<root>/tmp/`, and the primitives
//! that publish them: fsync, rename, fsync of the parent directory.
//!
//! Every temp entry is named `<pid>-<seq>-<nanos>.<kind>` and holds an
//! exclusive `flock` for its whole life. An entry is stale only when both its
//! pid is not alive *and* its lock can be taken: the pid covers the short
//! window between creating an entry and locking it, the lock covers writers
//! in another pid namespace (where the pid means nothing to us). A reused pid
//! only delays clean-up; a live writer's entry is never deleted.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use super::error::{at, StoreError};

static SEQ: AtomicU64 = AtomicU64::new(0);

/// A new, unique name for a temp entry of `kind` owned by this process.
fn temp_name(kind: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let seq = SEQ.fetch_add(1, Ordering::Relaxed);
    format!("{}-{seq}-{nanos}.{kind}", std::process::id())
}

/// A fresh path in `tmp` for an entry of `kind` (not created). An entry
/// moved there without a lock is stale as soon as this process is gone.
pub(crate) fn fresh_path(tmp: &Path, kind: &str) -> PathBuf {
    tmp.join(temp_name(kind))
}

/// The pid a temp entry name was created by.
pub(crate) fn owner_pid(name: &str) -> Option<i32> {
    name.split_once('-')?.0.parse().ok()
}

fn pid_alive(pid: i32) -> bool {
    // Never probe 0 or negative pids: kill(-1, 0) asks about every process.
    if pid <= 0 {
        return false;
    }
    let Some(pid) = rustix::process::Pid::from_raw(pid) else {
        return false;
    };
    match rustix::process::test_kill_process(pid) {
        Ok(()) => true,
        // EPERM: the process exists but belongs to someone else.
        Err(e) => e != rustix::io::Errno::SRCH,
    }
}

/// A temp file that is removed on drop unless published with [`persist`].
///
/// [`persist`]: TempFile::persist
pub(crate) struct TempFile {
    pub(crate) file: File,
    pub(crate) path: PathBuf,
    done: bool,
}

impl TempFile {
    pub(crate) fn create(tmp: &Path, kind: &str) -> Result<TempFile, StoreError> {
        loop {
            let path = tmp.join(temp_name(kind));
            match OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(file) => {
                    file.lock().map_err(at(&path))?;
                    return Ok(TempFile {
                        file,
                        path,
                        done: false,
                    });
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(StoreError::io(path, e)),
            }
        }
    }

    /// fsync the content, rename it to `dest`, fsync `dest`'s directory.
    pub(crate) fn persist(mut self, dest: &Path) -> Result<(), StoreError> {
        self.file.sync_all().map_err(at(&self.path))?;
        fs::rename(&self.path, dest).map_err(|source| StoreError::Rename {
            from: self.path.clone(),
            to: dest.to_path_buf(),
            source,
        })?;
        self.done = true;
        sync_parent(dest)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.done {
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// Replace `dest` with `bytes` atomically: readers see the old or the new
/// content, never a mix, and a crash leaves one of the two.
pub(crate) fn write_atomic(tmp: &Path, dest: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let mut temp = TempFile::create(tmp, "rec")?;
    temp.file.write_all(bytes).map_err(at(&temp.path))?;
    temp.persist(dest)
}

/// fsync a directory so a rename or unlink inside it is durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    let result = File::open(dir).and_then(|d| d.sync_all());
    match result {
        // Some filesystems cannot fsync directories; nothing more to do there.
        Err(e) if e.raw_os_error() == Some(rustix::io::Errno::INVAL.raw_os_error()) => Ok(()),
        other => other.map_err(at(dir)),
    }
}

pub(crate) fn sync_parent(path: &Path) -> Result<(), StoreError> {
    match path.parent() {
        Some(dir) => sync_dir(dir),
        None => Ok(()),
    }
}

/// A private directory under `<root>/tmp`, removed (with its content) on drop.
/// Build a snapshot inside it, then hand it to `Store::commit_snapshot`.
#[derive(Debug)]
pub struct TempDir {
    path: PathBuf,
    _lock: File,
}

impl TempDir {
    pub(crate) fn create(tmp: &Path) -> Result<TempDir, StoreError> {
        loop {
            let path = tmp.join(temp_name("dir"));
            match fs::create_dir(&path) {
                Ok(()) => {
                    let lock = File::open(&path).map_err(at(&path))?;
                    lock.lock().map_err(at(&path))?;
                    return Ok(TempDir { path, _lock: lock });
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(StoreError::io(path, e)),
            }
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Remove the directory now, reporting failure (drop ignores errors).
    pub fn close(self) -> Result<(), StoreError> {
        // Drop runs afterwards and finds nothing left to remove.
        remove_tree(&self.path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = remove_tree(&self.path);
    }
}

/// Remove a file or directory tree; a missing path is not an error.
/// Unpacked layers may contain read-only directories, which a non-root user
/// cannot empty: on `EACCES` make directories writable and try again.
pub(crate) fn remove_tree(path: &Path) -> Result<(), StoreError> {
    let meta = match fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(StoreError::io(path, e)),
    };
    let result = if meta.is_dir() {
        fs::remove_dir_all(path)
    } else {
        fs::remove_file(path)
    };
    match result {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied && meta.is_dir() => {
            make_dirs_writable(path)?;
            fs::remove_dir_all(path).map_err(at(path))
        }
        Err(e) => Err(StoreError::io(path, e)),
    }
}

fn make_dirs_writable(dir: &Path) -> Result<(), StoreError> {
    use std::os::unix::fs::PermissionsExt;
    let meta = fs::symlink_metadata(dir).map_err(at(dir))?;
    let mode = meta.permissions().mode();
    if mode & 0o700 != 0o700 {
        fs::set_permissions(dir, fs::Permissions::from_mode(mode | 0o700)).map_err(at(dir))?;
    }
    for entry in fs::read_dir(dir).map_err(at(dir))? {
        let entry = entry.map_err(at(dir))?;
        if entry.file_type().map_err(at(&entry.path()))?.is_dir() {
            make_dirs_writable(&entry.path())?;
        }
    }
    Ok(())
}

/// Remove temp entries left by dead processes; returns how many were removed.
/// Housekeeping only: an entry that cannot go now (a killed build's step
/// processes may still be dying and writing into it) stays for a later
/// clean, and never fails the caller.
pub(crate) fn clean_stale(tmp: &Path) -> Result<usize, StoreError> {
    let mut removed = 0;
    for entry in fs::read_dir(tmp).map_err(at(tmp))? {
        let Ok(entry) = entry else { continue };
        let path = entry.path();
        let name = entry.file_name();
        // Entries not named by us are left alone: we cannot tell whose they are.
        let Some(pid) = name.to_str().and_then(owner_pid) else {
            continue;
        };
        if pid_alive(pid) {
            continue;
        }
        let Ok(handle) = File::open(&path) else {
            continue;
        };
        if handle.try_lock().is_err() {
            continue;
        }
        if remove_tree(&path).is_ok() {
            removed += 1;
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_carry_the_owner_pid_and_are_unique() {
        let (a, b) = (temp_name("blob"), temp_name("blob"));
        assert_ne!(a, b);
        assert_eq!(owner_pid(&a), Some(std::process::id() as i32));
        assert!(a.ends_with(".blob"));
        assert_eq!(owner_pid("not-ours"), None);
        assert_eq!(owner_pid("12-3-4.dir"), Some(12));
    }

    #[test]
    fn liveness() {
        assert!(pid_alive(std::process::id() as i32));
        assert!(!pid_alive(4_194_304)); // above PID_MAX_LIMIT
        assert!(!pid_alive(0) && !pid_alive(-1));
    }
}
