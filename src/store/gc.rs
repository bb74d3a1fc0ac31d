//! Garbage collection (`rbuild prune`) and disk usage (`rbuild du`).
//!
//! Reachability is read from the JSON blobs and records with serde_json
//! alone: a manifest names `config.digest`, `layers[].digest` (and an index
//! `manifests[].digest`); a config names its layers' `rootfs.diff_ids`; a
//! `cache` record names `layer.blob` and `layer.diff_id`; a `compressed`
//! record's value is a blob digest.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::error::{at, StoreError};
use super::temp::remove_tree;
use super::{Digest, Store};

/// Record namespaces that only speed builds up; `prune --all` drops them.
pub const CACHE_NAMESPACES: [&str; 3] = ["cache", "compressed", "buildtime"];

/// What garbage collection keeps.
#[derive(Debug, Default)]
pub struct Reachable {
    pub blobs: HashSet<Digest>,
    /// Hex diff_ids of kept layers: their snapshots are kept.
    pub diff_ids: HashSet<String>,
}

/// What [`Store::prune`] removed, with sizes in bytes.
#[derive(Debug, Default)]
pub struct PruneReport {
    pub blobs: Vec<(Digest, u64)>,
    pub snapshots: Vec<(String, u64)>,
    pub records: Vec<(String, u64)>,
    pub cache_mounts: Vec<(String, u64)>,
}

impl PruneReport {
    pub fn reclaimed(&self) -> u64 {
        let sum = |v: &[(String, u64)]| v.iter().map(|(_, n)| n).sum::<u64>();
        self.blobs.iter().map(|(_, n)| n).sum::<u64>()
            + sum(&self.snapshots)
            + sum(&self.records)
            + sum(&self.cache_mounts)
    }
}

/// One row of [`Store::disk_usage`]: entry count and bytes.
#[derive(Debug, Clone, Copy, Default)]
pub struct Usage {
    pub count: u64,
    pub bytes: u64,
}

#[derive(Debug, Default)]
pub struct DiskUsage {
    pub blobs: Usage,
    pub snapshots: Usage,
    pub cache_mounts: Usage,
    pub records: Usage,
}

impl DiskUsage {
    pub fn total(&self) -> Usage {
        let rows = [self.blobs, self.snapshots, self.cache_mounts, self.records];
        Usage {
            count: rows.iter().map(|r| r.count).sum(),
            bytes: rows.iter().map(|r| r.bytes).sum(),
        }
    }
}

impl Store {
    /// `<root>/cache-mounts/`: the directories behind `RUN --mount=type=cache`.
    pub fn cache_mounts_dir(&self) -> PathBuf {
        self.root().join("cache-mounts")
    }

    /// A JSON blob; `None` if it is missing. A present blob that is corrupt
    /// or not JSON is an error: collecting around it could drop live data.
    fn json_blob(&self, d: &Digest) -> Result<Option<Value>, StoreError> {
        let bytes = match self.read_blob(d) {
            Ok(bytes) => bytes,
            Err(e) if e.is_not_found() => return Ok(None),
            Err(e) => return Err(e),
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| StoreError::CorruptRecord {
                path: self.blob_path(d),
                reason: e.to_string(),
            })
    }

    fn mark_manifest(&self, d: &Digest, keep: &mut Reachable) -> Result<(), StoreError> {
        if !keep.blobs.insert(*d) {
            return Ok(());
        }
        let Some(manifest) = self.json_blob(d)? else {
            return Ok(());
        };
        for child in digests(&manifest["manifests"]) {
            self.mark_manifest(&child, keep)?;
        }
        keep.blobs.extend(digests(&manifest["layers"]));
        let Some(config) = digest_at(&manifest["config"]["digest"]) else {
            return Ok(());
        };
        keep.blobs.insert(config);
        if let Some(config) = self.json_blob(&config)? {
            for id in config["rootfs"]["diff_ids"]
                .as_array()
                .into_iter()
                .flatten()
            {
                if let Some(d) = digest_at(id) {
                    keep.diff_ids.insert(d.hex());
                }
            }
        }
        Ok(())
    }

    /// Every blob and layer reachable from a tag, and from the `cache` and
    /// `compressed` records when `records` is true.
    pub fn reachable(&self, records: bool) -> Result<Reachable, StoreError> {
        let mut keep = Reachable::default();
        for (_, manifest) in self.tags()? {
            self.mark_manifest(&manifest, &mut keep)?;
        }
        if !records {
            return Ok(keep);
        }
        for key in self.record_keys("cache")? {
            let Some(bytes) = self.record("cache", &key)? else {
                continue;
            };
            let value: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            let layer = &value["layer"];
            keep.blobs.extend(digest_at(&layer["blob"]));
            if let Some(d) = digest_at(&layer["diff_id"]) {
                keep.diff_ids.insert(d.hex());
            }
        }
        for key in self.record_keys("compressed")? {
            let text = self.record("compressed", &key)?.unwrap_or_default();
            if let Some(d) = std::str::from_utf8(&text)
                .ok()
                .and_then(|t| t.trim().parse::<Digest>().ok())
            {
                keep.blobs.insert(d);
            }
        }
        Ok(keep)
    }

    /// Garbage collection: remove what [`reachable`](Store::reachable) does
    /// not reach, and every `flat-*` snapshot (rebuilt on demand). With
    /// `all`, first drop the cache records, and also the cache mounts.
    /// The caller holds [`lock_exclusive`](Store::lock_exclusive).
    pub fn prune(&self, all: bool) -> Result<PruneReport, StoreError> {
        let mut report = PruneReport::default();
        if all {
            for ns in CACHE_NAMESPACES {
                for key in self.record_keys(ns)? {
                    let size = fs::metadata(self.record_path(ns, &key)?).map_or(0, |m| m.len());
                    if self.remove_record(ns, &key)? {
                        report.records.push((format!("{ns}/{key}"), size));
                    }
                }
            }
        }
        let keep = self.reachable(!all)?;
        for blob in self.blobs()? {
            if keep.blobs.contains(&blob) {
                continue;
            }
            let size = self.blob_size(&blob).unwrap_or(0);
            if self.remove_blob(&blob)? {
                report.blobs.push((blob, size));
            }
        }
        for id in self.snapshots()? {
            if keep.diff_ids.contains(&id) && !id.starts_with("flat-") {
                continue;
            }
            let size = tree_freed(&self.snapshot_path(&id));
            if self.remove_snapshot(&id)? {
                report.snapshots.push((id, size));
            }
        }
        if all {
            for (name, path) in entries(&self.cache_mounts_dir())? {
                let size = tree_usage(&path).bytes;
                remove_tree(&path)?;
                report.cache_mounts.push((name, size));
            }
        }
        Ok(report)
    }

    /// Bytes used by each kind of store content.
    pub fn disk_usage(&self) -> Result<DiskUsage, StoreError> {
        let mut usage = DiskUsage::default();
        for blob in self.blobs()? {
            usage.blobs.count += 1;
            usage.blobs.bytes += self.blob_size(&blob).unwrap_or(0);
        }
        let mut seen = HashSet::new();
        for id in self.snapshots()? {
            usage.snapshots.count += 1;
            usage.snapshots.bytes += tree_usage_sharing(&self.snapshot_path(&id), &mut seen).bytes;
        }
        for (_, path) in entries(&self.cache_mounts_dir())? {
            usage.cache_mounts.count += 1;
            usage.cache_mounts.bytes += tree_usage(&path).bytes;
        }
        usage.records = tree_usage(&self.records_dir());
        Ok(usage)
    }
}

fn digest_at(value: &Value) -> Option<Digest> {
    value.as_str()?.parse().ok()
}

/// The `digest` of each element of a JSON array of descriptors.
fn digests(list: &Value) -> Vec<Digest> {
    let items = list.as_array().map(Vec::as_slice).unwrap_or_default();
    items
        .iter()
        .filter_map(|d| digest_at(&d["digest"]))
        .collect()
}

/// The entries of `dir` (none if it does not exist), sorted by name.
fn entries(dir: &Path) -> Result<Vec<(String, PathBuf)>, StoreError> {
    let list = match fs::read_dir(dir) {
        Ok(list) => list,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(StoreError::io(dir, e)),
    };
    let mut out = BTreeSet::new();
    for entry in list {
        let entry = entry.map_err(at(dir))?;
        out.insert((
            entry.file_name().to_string_lossy().into_owned(),
            entry.path(),
        ));
    }
    Ok(out.into_iter().collect())
}

/// Files under `path` and their apparent size, each hard-linked file once.
/// Best effort: unreadable directories count as empty.
pub fn tree_usage(path: &Path) -> Usage {
    tree_usage_sharing(path, &mut HashSet::new())
}

/// Like [`tree_usage`], skipping the files in `seen` (counted in another
/// tree): snapshots share the files a rebuild did not change.
fn tree_usage_sharing(path: &Path, seen: &mut HashSet<(u64, u64)>) -> Usage {
    let mut usage = Usage::default();
    walk_files(path, |meta| {
        if seen.insert((meta.dev(), meta.ino())) {
            usage.count += 1;
            usage.bytes += meta.len();
        }
    });
    usage
}

/// Bytes removing the tree at `path` frees: files with no link outside it.
fn tree_freed(path: &Path) -> u64 {
    // Per inode: links seen in the tree, links in all, size.
    let mut inodes: HashMap<(u64, u64), (u64, u64, u64)> = HashMap::new();
    walk_files(path, |meta| {
        let seen = inodes
            .entry((meta.dev(), meta.ino()))
            .or_insert((0, meta.nlink(), meta.len()));
        seen.0 += 1;
    });
    inodes
        .values()
        .filter(|(inside, all, _)| inside >= all)
        .map(|(_, _, len)| len)
        .sum()
}

/// Calls `visit` with the metadata of every non-directory below `path`.
fn walk_files(path: &Path, mut visit: impl FnMut(&fs::Metadata)) {
    let mut stack = vec![path.to_path_buf()];
    while let Some(path) = stack.pop() {
        let Ok(meta) = fs::symlink_metadata(&path) else {
            continue;
        };
        if meta.is_dir() {
            if let Ok(list) = fs::read_dir(&path) {
                stack.extend(list.flatten().map(|e| e.path()));
            }
        } else {
            visit(&meta);
        }
    }
}
