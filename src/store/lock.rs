//! The store-wide lock, `<root>/lock`: builds hold it shared, garbage
//! collection (`prune`) exclusive, so nothing is deleted while a build may
//! still reference it. It is an `flock`, released by the kernel when the
//! process dies, so a killed rbuild never leaves the store locked.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};

use super::error::{at, StoreError};
use super::Store;

/// A held store lock; released on drop.
#[derive(Debug)]
pub struct StoreLock {
    _file: File,
    path: PathBuf,
    exclusive: bool,
}

impl StoreLock {
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn is_exclusive(&self) -> bool {
        self.exclusive
    }
}

/// Opens (creating) a lock file, not yet locked.
fn open_lock_at(path: PathBuf) -> Result<(File, PathBuf), StoreError> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(at(&path))?;
    Ok((file, path))
}

impl Store {
    fn open_lock_file(&self) -> Result<(File, PathBuf), StoreError> {
        open_lock_at(self.root().join("lock"))
    }

    /// Wait for and take the lock in shared mode (builds).
    pub fn lock_shared(&self) -> Result<StoreLock, StoreError> {
        let (file, path) = self.open_lock_file()?;
        file.lock_shared().map_err(at(&path))?;
        Ok(StoreLock {
            _file: file,
            path,
            exclusive: false,
        })
    }

    /// Wait for and take the lock in exclusive mode (garbage collection).
    pub fn lock_exclusive(&self) -> Result<StoreLock, StoreError> {
        let (file, path) = self.open_lock_file()?;
        file.lock().map_err(at(&path))?;
        Ok(StoreLock {
            _file: file,
            path,
            exclusive: true,
        })
    }

    /// Take the shared lock if nobody holds it exclusively.
    pub fn try_lock_shared(&self) -> Result<Option<StoreLock>, StoreError> {
        let (file, path) = self.open_lock_file()?;
        match file.try_lock_shared() {
            Ok(()) => Ok(Some(StoreLock {
                _file: file,
                path,
                exclusive: false,
            })),
            Err(TryLockError::WouldBlock) => Ok(None),
            Err(TryLockError::Error(e)) => Err(StoreError::io(path, e)),
        }
    }

    /// Wait for and take the lock of one step's cache key: the build that
    /// holds it is making that step, so others (threads of `rbuild bake`,
    /// or other processes) wait and then find it cached instead of making
    /// it again. The lock files are tiny and left in `locks/steps/`.
    pub fn lock_step(&self, key: &str) -> Result<StoreLock, StoreError> {
        super::names::encode_checked("step key", key)?;
        let dir = self.root().join("locks").join("steps");
        std::fs::create_dir_all(&dir).map_err(at(&dir))?;
        let (file, path) = open_lock_at(dir.join(key))?;
        file.lock().map_err(at(&path))?;
        Ok(StoreLock {
            _file: file,
            path,
            exclusive: true,
        })
    }

    /// Take the exclusive lock if nobody holds the lock at all.
    pub fn try_lock_exclusive(&self) -> Result<Option<StoreLock>, StoreError> {
        let (file, path) = self.open_lock_file()?;
        match file.try_lock() {
            Ok(()) => Ok(Some(StoreLock {
                _file: file,
                path,
                exclusive: true,
            })),
            Err(TryLockError::WouldBlock) => Ok(None),
            Err(TryLockError::Error(e)) => Err(StoreError::io(path, e)),
        }
    }
}
