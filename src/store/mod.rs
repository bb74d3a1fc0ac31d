//! The content store under `--root`: blobs, tags, records, snapshots, locks.
//!
//! # Layout
//!
//! ```text
//! <root>/VERSION              schema version ("1")
//! <root>/lock                 store-wide flock: builds shared, prune exclusive
//! <root>/blobs/sha256/<hex>   content-addressed blobs (layers, configs, manifests)
//! <root>/tags/<ref>           "sha256:<hex>\n": image reference -> manifest digest
//! <root>/records/<ns>/<key>   small records (cache index, layer metadata)
//! <root>/snapshots/<id>/      unpacked layers, stacked as overlay lowers
//! <root>/tmp/                 in-progress writes, each named by its owner's pid
//! <root>/cache-mounts/<id>/   directories behind RUN --mount=type=cache
//! ```
//!
//! # Why plain files and no database
//!
//! Several rbuild processes may use one store at once and any of them may be
//! killed at any moment; there is no daemon to arbitrate. The filesystem
//! already offers the one primitive needed, an atomic `rename`, so every
//! write follows the same path: a temp file in `<root>/tmp/` (same
//! filesystem), hashed while it is written, fsynced, renamed into place, and
//! the directory fsynced. An interrupted write therefore never leaves a
//! visible partial blob: a blob path exists only with its full content.
//!
//! Tags and records are whole small files replaced by rename, so a reader
//! sees the old or the new version, never a mix, and a crash leaves one of
//! the two. Concurrent writers of one tag: the last writer wins, as with
//! `docker tag`. Keys (references, cache keys) are percent-encoded into single
//! file names ([`names`]); a reference string is never used as a path.
//!
//! Blobs need no locking: they are immutable and named by content, so two
//! processes writing the same blob write the same bytes. Only deletion races
//! with use, hence the store-wide lock: builds take it shared, garbage
//! collection exclusive. The store's methods do not take it themselves; the
//! build and `prune` commands do, for their whole duration.
//!
//! A process killed mid-write leaves a temp file. [`Store::open`] removes
//! such entries, but only when their owner is gone: each is named with the
//! writer's pid and holds an `flock` while in use (see [`temp`]), so an
//! `open` never deletes another running process's in-progress write.

mod blob;
mod digest;
mod error;
pub mod gc;
mod lock;
pub mod names;
mod records;
mod snapshot;
mod tags;
pub mod temp;

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

pub use blob::BlobWriter;
pub use digest::{Digest, Hasher};
pub use error::{DigestParseError, StoreError};
pub use lock::StoreLock;
pub use temp::TempDir;

use error::at;

/// The on-disk schema version this code reads and writes.
pub const SCHEMA_VERSION: u32 = 1;

/// The default `--root`: `$RBUILD_ROOT` if set; `/var/lib/rbuild` for root;
/// otherwise `$XDG_DATA_HOME/rbuild` or `~/.local/share/rbuild`.
pub fn default_root() -> PathBuf {
    let env_path = |name: &str| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    if let Some(root) = env_path("RBUILD_ROOT") {
        return root;
    }
    if rustix::process::geteuid().is_root() {
        return PathBuf::from("/var/lib/rbuild");
    }
    // The XDG spec says relative values are invalid and must be ignored.
    if let Some(data) = env_path("XDG_DATA_HOME").filter(|p| p.is_absolute()) {
        return data.join("rbuild");
    }
    match env_path("HOME") {
        Some(home) => home.join(".local/share/rbuild"),
        // No home directory: the system location, whose error names the path.
        None => PathBuf::from("/var/lib/rbuild"),
    }
}

/// A handle on a store directory. Cheap to clone; holds no open files.
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
}

impl Store {
    /// Open the store at `root`, creating its layout if needed, checking its
    /// schema version, and removing temp entries left by dead processes.
    pub fn open(root: &Path) -> Result<Store, StoreError> {
        let store = Store {
            root: root.to_path_buf(),
        };
        if !root.exists() {
            // A new store is private: its snapshots hold image files
            // (setuid programs, device nodes) that other users must not reach.
            use std::os::unix::fs::DirBuilderExt;
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(root)
                .map_err(at(root))?;
        }
        let tmp = store.tmp_dir();
        fs::create_dir_all(&tmp).map_err(at(&tmp))?;
        store.check_version()?;
        for dir in [store.blob_dir(), store.tags_dir(), store.records_dir()] {
            fs::create_dir_all(&dir).map_err(at(&dir))?;
        }
        let snapshots = store.snapshots_dir();
        fs::create_dir_all(&snapshots).map_err(at(&snapshots))?;
        temp::clean_stale(&tmp)?;
        Ok(store)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// A private directory under `<root>/tmp`, removed on drop. Build a
    /// snapshot in it, then [`commit_snapshot`](Store::commit_snapshot).
    pub fn temp_dir(&self) -> Result<TempDir, StoreError> {
        TempDir::create(&self.tmp_dir())
    }

    /// Remove temp entries left by dead processes (also done by `open`).
    pub fn clean_temp(&self) -> Result<usize, StoreError> {
        temp::clean_stale(&self.tmp_dir())
    }

    fn check_version(&self) -> Result<(), StoreError> {
        let path = self.root.join("VERSION");
        match fs::read_to_string(&path) {
            Ok(found) if found.trim() == SCHEMA_VERSION.to_string() => Ok(()),
            Ok(found) => Err(StoreError::UnsupportedVersion {
                path,
                found: found.trim().to_string(),
                expected: SCHEMA_VERSION,
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let text = format!("{SCHEMA_VERSION}\n");
                temp::write_atomic(&self.tmp_dir(), &path, text.as_bytes())
            }
            Err(e) => Err(StoreError::io(path, e)),
        }
    }

    pub(crate) fn blob_dir(&self) -> PathBuf {
        self.root.join("blobs").join(Digest::ALGORITHM)
    }

    pub(crate) fn tags_dir(&self) -> PathBuf {
        self.root.join("tags")
    }

    pub(crate) fn records_dir(&self) -> PathBuf {
        self.root.join("records")
    }

    pub(crate) fn snapshots_dir(&self) -> PathBuf {
        self.root.join("snapshots")
    }

    pub(crate) fn tmp_dir(&self) -> PathBuf {
        self.root.join("tmp")
    }
}
