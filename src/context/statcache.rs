//! A stat cache for content hashing: a file whose (size, mtime, ctime,
//! inode, device) are unchanged since it was last hashed is not read again.
//! Stored as JSON at a path the caller chooses; a missing or unreadable
//! cache file just means an empty cache.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::error::ContextError;
use super::walk::ContextEntry;

const VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct StatRecord {
    size: u64,
    /// (seconds, nanoseconds) of mtime and ctime.
    mtime: (i64, u32),
    ctime: (i64, u32),
    ino: u64,
    dev: u64,
    sha256: String,
}

impl StatRecord {
    fn key_of(entry: &ContextEntry) -> Self {
        StatRecord {
            size: entry.size,
            mtime: split_nanos(entry.mtime_ns),
            ctime: split_nanos(entry.ctime_ns),
            ino: entry.ino,
            dev: entry.dev,
            sha256: String::new(),
        }
    }

    fn same_stat(&self, other: &StatRecord) -> bool {
        (self.size, self.mtime, self.ctime, self.ino, self.dev)
            == (other.size, other.mtime, other.ctime, other.ino, other.dev)
    }
}

fn split_nanos(ns: i128) -> (i64, u32) {
    let secs = ns.div_euclid(1_000_000_000);
    let nsec = ns.rem_euclid(1_000_000_000) as u32;
    (i64::try_from(secs).unwrap_or(i64::MAX), nsec)
}

#[derive(Serialize, Deserialize)]
struct CacheFile {
    version: u32,
    entries: BTreeMap<String, StatRecord>,
}

/// Content hashes of context files keyed by relative path and stat data.
#[derive(Debug, Default)]
pub struct StatCache {
    entries: BTreeMap<String, StatRecord>,
    files_read: u64,
    hits: u64,
    /// Entries were added or replaced since it was loaded.
    changed: bool,
}

impl StatCache {
    pub fn new() -> Self {
        Self::default()
    }

    /// Loads the cache at `path`. A missing, unreadable, corrupt or
    /// other-version file gives an empty cache: it must never fail a build.
    pub fn load(path: &Path) -> Self {
        let parsed = std::fs::read(path)
            .ok()
            .and_then(|bytes| serde_json::from_slice::<CacheFile>(&bytes).ok())
            .filter(|file| file.version == VERSION);
        StatCache {
            entries: parsed.map(|f| f.entries).unwrap_or_default(),
            ..Self::default()
        }
    }

    /// Writes the cache to `path` (temp file, then rename), creating the
    /// parent directory if needed.
    pub fn save(&self, path: &Path) -> Result<(), ContextError> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| ContextError::io(parent, e))?;
        }
        let body = CacheFile {
            version: VERSION,
            entries: self.entries.clone(),
        };
        let json = serde_json::to_vec(&body).map_err(|e| ContextError::io(path, e.into()))?;
        let mut tmp = path.as_os_str().to_owned();
        // Unique per process and per call: parallel stages may save at once.
        static SEQ: AtomicU64 = AtomicU64::new(0);
        let seq = SEQ.fetch_add(1, Ordering::Relaxed);
        tmp.push(format!(".tmp-{}-{seq}", std::process::id()));
        let tmp = std::path::PathBuf::from(tmp);
        let mut file = File::create(&tmp).map_err(|e| ContextError::io(&tmp, e))?;
        file.write_all(&json)
            .and_then(|()| file.sync_all())
            .map_err(|e| ContextError::io(&tmp, e))?;
        std::fs::rename(&tmp, path).map_err(|e| ContextError::io(path, e))
    }

    /// Whether entries were added or replaced since it was loaded (a cache
    /// that was only read need not be written back).
    pub fn changed(&self) -> bool {
        self.changed
    }

    /// How many files had their content read (cache misses) since this
    /// cache was created or loaded.
    pub fn files_read(&self) -> u64 {
        self.files_read
    }

    /// How many file hashes were served from the cache.
    pub fn hits(&self) -> u64 {
        self.hits
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The hex sha256 of the regular file `entry` (found at `abs`), from
    /// the cache when its stat data is unchanged.
    pub(crate) fn file_sha256(
        &mut self,
        abs: &Path,
        entry: &ContextEntry,
    ) -> Result<String, ContextError> {
        let key = entry.rel.to_str().map(str::to_string);
        let fresh = StatRecord::key_of(entry);
        if let Some(cached) = key.as_ref().and_then(|k| self.entries.get(k)) {
            if cached.same_stat(&fresh) {
                self.hits += 1;
                return Ok(cached.sha256.clone());
            }
        }
        let sha = hash_file(abs).map_err(|e| ContextError::io(abs, e))?;
        self.files_read += 1;
        if let Some(key) = key {
            self.changed = true;
            self.entries.insert(
                key,
                StatRecord {
                    sha256: sha.clone(),
                    ..fresh
                },
            );
        }
        Ok(sha)
    }
}

fn hash_file(path: &Path) -> io::Result<String> {
    let mut file = File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}
