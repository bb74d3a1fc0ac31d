//! The entries one COPY/ADD writes, keyed by image path: later sources win,
//! hard links among copied files are kept, and parent directories are
//! added (existing ones with their metadata, missing ones created 0755).

use super::rootfs::{existing_dir_entry, RootView};
use crate::layer::{EntryKind, LayerEntry};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Entries by image path (relative, no leading `/`), later ones winning.
pub(super) struct EntryPlan {
    entries: BTreeMap<PathBuf, LayerEntry>,
    /// Files with more than one link, by (device, inode): copied hard links
    /// stay hard links.
    inodes: BTreeMap<PathBuf, (u64, u64)>,
    /// Build time, for entries made here (created directories, heredocs).
    pub time: i64,
}

impl EntryPlan {
    pub fn new(time: i64) -> Self {
        EntryPlan {
            entries: BTreeMap::new(),
            inodes: BTreeMap::new(),
            time,
        }
    }

    pub fn add(&mut self, entry: LayerEntry) {
        self.inodes.remove(&entry.path);
        self.entries.insert(entry.path.clone(), entry);
    }

    /// Adds a file that has other links (`inode` = device and inode number).
    pub fn add_linked(&mut self, entry: LayerEntry, inode: (u64, u64)) {
        let path = entry.path.clone();
        self.add(entry);
        self.inodes.insert(path, inode);
    }

    /// Every group of paths sharing an inode becomes one file (the first
    /// path in tar order) and hard links to it.
    fn link_hard_links(&mut self) {
        let mut first: BTreeMap<(u64, u64), PathBuf> = BTreeMap::new();
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
        let paths: Vec<PathBuf> = self.entries.keys().cloned().collect();
        for path in paths {
            for parent in path.ancestors().skip(1) {
                if parent.as_os_str().is_empty() || self.entries.contains_key(parent) {
                    continue;
                }
                let abs = Path::new("/").join(parent);
                let entry = existing_dir_entry(view, &abs).unwrap_or_else(|| {
                    let (uid, gid) = owner.unwrap_or((0, 0));
                    LayerEntry {
                        path: parent.to_path_buf(),
                        kind: EntryKind::Dir,
                        mode: 0o755,
                        uid,
                        gid,
                        mtime: self.time,
                        xattrs: Vec::new(),
                    }
                });
                self.entries.insert(parent.to_path_buf(), entry);
            }
        }
        self.entries.into_values().collect()
    }
}
