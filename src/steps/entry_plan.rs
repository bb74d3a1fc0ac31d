//! The entries one COPY/ADD writes, keyed by image path: later sources win,
//! hard links among copied files are kept, and parent directories are
//! added (existing ones with their metadata, missing ones created 0755).

use crate::layer::{EntryKind, LayerEntry};
use crate::snapshot::{existing_dir_entry, RootView};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Entries by image path (relative, no leading `/`), later ones winning.
pub(super) struct EntryPlan {
    entries: BTreeMap<PathBuf, LayerEntry>,
    /// Files with more than one link, by (source, device, inode): copied
    /// hard links stay hard links within one source.
    inodes: BTreeMap<PathBuf, (usize, u64, u64)>,
    /// Directories that must exist even with nothing copied into them.
    dirs: BTreeSet<PathBuf>,
    /// Which source of the instruction entries come from now.
    pub source: usize,
    /// Build time, for entries made here (created directories, heredocs).
    pub time: i64,
}

impl EntryPlan {
    pub fn new(time: i64) -> Self {
        EntryPlan {
            entries: BTreeMap::new(),
            inodes: BTreeMap::new(),
            dirs: BTreeSet::new(),
            source: 0,
            time,
        }
    }

    pub fn add(&mut self, entry: LayerEntry) {
        self.inodes.remove(&entry.path);
        self.entries.insert(entry.path.clone(), entry);
    }

    /// Adds a file that has other links (`inode` = device and inode number).
    pub fn add_linked(&mut self, entry: LayerEntry, (dev, ino): (u64, u64)) {
        let path = entry.path.clone();
        self.add(entry);
        self.inodes.insert(path, (self.source, dev, ino));
    }

    /// Makes sure `path` is a directory in the result: as it is in the image
    /// when it exists there, else created like a missing parent.
    pub fn require_dir(&mut self, path: PathBuf) {
        if !path.as_os_str().is_empty() {
            self.dirs.insert(path);
        }
    }

    /// Every group of paths sharing an inode becomes one file (the first
    /// path in tar order) and hard links to it.
    fn link_hard_links(&mut self) {
        let mut first: BTreeMap<(usize, u64, u64), PathBuf> = BTreeMap::new();
        for (path, inode) in &self.inodes {
            let Some(target) = first.get(inode) else {
                first.insert(*inode, path.clone());
                continue;
            };
            if let Some(entry) = self.entries.get_mut(path) {
                entry.kind = EntryKind::HardLink {
                    target: target.clone(),
                };
            }
        }
    }

    /// Adds parent directories: existing ones with their metadata from the
    /// image, missing ones as 0755 owned by `--chown` or root.
    pub fn finish(mut self, view: &RootView, owner: Option<(u32, u32)>) -> Vec<LayerEntry> {
        self.link_hard_links();
        // Every parent of an entry, and every required directory with its
        // parents, must be a directory entry of the layer.
        let mut needed: BTreeSet<PathBuf> = self
            .entries
            .keys()
            .flat_map(|p| p.ancestors().skip(1).map(Path::to_path_buf))
            .collect();
        for dir in &self.dirs {
            needed.extend(dir.ancestors().map(Path::to_path_buf));
        }
        for dir in needed {
            if dir.as_os_str().is_empty() || self.entries.contains_key(&dir) {
                continue;
            }
            let abs = Path::new("/").join(&dir);
            let entry = existing_dir_entry(view, &abs).unwrap_or_else(|| {
                let (uid, gid) = owner.unwrap_or((0, 0));
                LayerEntry {
                    path: dir.clone(),
                    kind: EntryKind::Dir,
                    mode: 0o755,
                    uid,
                    gid,
                    mtime: self.time,
                    xattrs: Vec::new(),
                }
            });
            self.entries.insert(dir, entry);
        }
        self.entries.into_values().collect()
    }
}
