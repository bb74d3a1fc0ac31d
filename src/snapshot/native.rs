//! The native snapshotter, for kernels without overlayfs: a step runs on a
//! private copy of its flattened parent, and its changes are what differs
//! between the copy and the parent. The copy is a whole root, not a layer,
//! so it is never kept as a snapshot.

use super::stubs::empty_stubs;
use super::{copy_tree, diff_dirs, flatten, ActiveRoot, SnapshotError, Snapshotter};
use crate::image::LayerRef;
use crate::layer::LayerEntry;
use crate::sandbox::RootfsSpec;
use crate::store::Store;
use std::path::{Path, PathBuf};

pub struct NativeSnapshotter<'a> {
    store: &'a Store,
}

impl<'a> NativeSnapshotter<'a> {
    pub fn new(store: &'a Store) -> Self {
        NativeSnapshotter { store }
    }
}

impl Snapshotter for NativeSnapshotter<'_> {
    fn prepare(&self, parent: &[LayerRef], scratch: &Path) -> Result<ActiveRoot, SnapshotError> {
        let base = flatten(self.store, parent)?;
        let copy = scratch.join("rootfs");
        copy_tree(&base, &copy)?;
        Ok(ActiveRoot {
            spec: RootfsSpec::Dir(copy.clone()),
            changed: copy,
            base: Some(base),
            stubs: Vec::new(),
        })
    }

    fn changes(
        &self,
        root: &mut ActiveRoot,
        created: &[PathBuf],
    ) -> Result<Vec<LayerEntry>, SnapshotError> {
        root.stubs = empty_stubs(&root.changed, created);
        let base = root.base.as_deref().expect("`prepare` records the parent");
        let mut entries = diff_dirs(base, &root.changed)?;
        entries.retain(|e| !root.stubs.contains(&e.path));
        Ok(entries)
    }

    fn commit(&self, _root: ActiveRoot, _diff_id: &str) -> bool {
        false
    }
}
