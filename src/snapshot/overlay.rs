//! The overlay snapshotter: the parent's layer snapshots are the lower
//! directories of an overlayfs mount (made by the sandbox), and the upper
//! directory receives the step's writes. That upper dir is the diff in
//! overlayfs form, read straight into layer entries, and, once the mount
//! stubs are gone, the new layer's snapshot as it is.

use super::stubs::{empty_stubs, remove_stubs};
use super::{
    entries_from_dir, flatten, ActiveRoot, RootView, ScanOptions, SnapshotError, Snapshotter,
};
use crate::image::LayerRef;
use crate::layer::LayerEntry;
use crate::sandbox::RootfsSpec;
use crate::store::Store;
use std::path::{Path, PathBuf};

/// Lower directories stacked as they are; deeper parents are flattened.
/// (The kernel allows 500; 128 is what Docker's overlay2 driver uses.)
const MAX_OVERLAY_LOWERS: usize = 128;

pub struct OverlaySnapshotter<'a> {
    store: &'a Store,
}

/// Whether the running kernel lists overlayfs.
pub(super) fn kernel_has_overlay() -> bool {
    std::fs::read_to_string("/proc/filesystems").is_ok_and(|fs| {
        fs.lines()
            .any(|l| l.split_whitespace().last() == Some("overlay"))
    })
}

impl<'a> OverlaySnapshotter<'a> {
    pub fn new(store: &'a Store) -> Self {
        OverlaySnapshotter { store }
    }
}

impl Snapshotter for OverlaySnapshotter<'_> {
    fn prepare(&self, parent: &[LayerRef], scratch: &Path) -> Result<ActiveRoot, SnapshotError> {
        let upper = scratch.join("upper");
        let work = scratch.join("work");
        for dir in [&upper, &work] {
            std::fs::create_dir(dir).map_err(SnapshotError::io(dir))?;
        }
        let view = RootView::new(self.store, parent)?;
        // Past overlayfs's stacking limit the parent is flattened into one
        // lower directory (kept as a snapshot, so only once per parent).
        let lowers = if view.layers.len() > MAX_OVERLAY_LOWERS {
            vec![flatten(self.store, parent)?]
        } else {
            view.layers
        };
        Ok(ActiveRoot {
            spec: RootfsSpec::Overlay {
                lowers,
                upper: upper.clone(),
                work,
            },
            changed: upper,
            base: None,
            stubs: Vec::new(),
        })
    }

    fn changes(
        &self,
        root: &mut ActiveRoot,
        created: &[PathBuf],
    ) -> Result<Vec<LayerEntry>, SnapshotError> {
        root.stubs = empty_stubs(&root.changed, created);
        let mut entries = entries_from_dir(&root.changed, &ScanOptions::default())?;
        entries.retain(|e| !root.stubs.contains(&e.path));
        Ok(entries)
    }

    fn commit(&self, root: ActiveRoot, diff_id: &str) -> bool {
        // A stub that cannot be removed would show in the next step's root,
        // so that upper dir is no snapshot; the layer is unpacked instead.
        remove_stubs(&root.changed, &root.stubs)
            && self.store.commit_snapshot(&root.changed, diff_id).is_ok()
    }
}
