//! Snapshots: the root filesystems steps run on and the diffs they leave.
//!
//! Every layer is unpacked once into a snapshot directory in the store
//! ([`ensure_snapshot`]); a step's writable root is prepared on its parent's
//! snapshots by a [`Snapshotter`], which afterwards reads the step's changes
//! as layer entries and keeps the result as the new layer's snapshot where it
//! can, so the next step stacks it with no copy and no unpacking.
//!
//! - [`OverlaySnapshotter`]: an overlayfs mount of the parent snapshots; the
//!   upper directory is the diff and becomes the snapshot as it is.
//! - [`NativeSnapshotter`]: for kernels without overlayfs (or
//!   `--snapshotter native`): a private copy of the flattened parent,
//!   compared with it stat-first afterwards.

mod diff;
mod eager;
mod error;
mod layers;
mod native;
mod overlay;
mod scan;
mod stubs;
mod tree;
mod view;

pub use diff::diff_dirs;
pub use eager::EagerSnapshot;
pub use error::SnapshotError;
pub use layers::{ensure_snapshot, flatten};
pub use native::NativeSnapshotter;
pub use overlay::OverlaySnapshotter;
pub use scan::{entries_from_dir, layer_xattrs, ScanOptions};
pub use tree::copy_tree;
pub use view::{existing_dir_entry, RootView};

use crate::image::LayerRef;
use crate::layer::LayerEntry;
use crate::sandbox::RootfsSpec;
use crate::store::Store;
use std::path::{Path, PathBuf};

/// Prepares writable roots for steps and turns what they changed into
/// layers and snapshots.
pub trait Snapshotter {
    /// A writable root over `parent` (bottom layer first), with its working
    /// files under `scratch` (a store temp dir that outlives the step).
    fn prepare(&self, parent: &[LayerRef], scratch: &Path) -> Result<ActiveRoot, SnapshotError>;

    /// The layer entries for what the step changed. `created` lists the
    /// mount points the sandbox had to create; those still empty are left out.
    fn changes(
        &self,
        root: &mut ActiveRoot,
        created: &[PathBuf],
    ) -> Result<Vec<LayerEntry>, SnapshotError>;

    /// Keeps the result as the snapshot of layer `diff_id` when it is one
    /// (no copy); false when the layer must be unpacked on first use instead.
    fn commit(&self, root: ActiveRoot, diff_id: &str) -> bool;
}

/// A root a step runs on.
pub struct ActiveRoot {
    /// What the sandbox mounts as `/`.
    pub spec: RootfsSpec,
    /// Where the step's writes land: the overlay upper dir or the copy.
    changed: PathBuf,
    /// The parent root the native snapshotter compares with.
    base: Option<PathBuf>,
    /// Empty mount-point stubs found by [`Snapshotter::changes`].
    stubs: Vec<PathBuf>,
}

/// Which snapshotter RUN uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SnapshotterKind {
    /// Overlay when the kernel supports it, else native.
    #[default]
    Auto,
    Overlay,
    Native,
}

impl SnapshotterKind {
    pub fn use_overlay(self) -> bool {
        match self {
            SnapshotterKind::Overlay => true,
            SnapshotterKind::Native => false,
            SnapshotterKind::Auto => overlay::kernel_has_overlay(),
        }
    }

    /// The snapshotter for this choice, working in `store`.
    pub fn open(self, store: &Store) -> Box<dyn Snapshotter + Send + Sync + '_> {
        if self.use_overlay() {
            Box::new(OverlaySnapshotter::new(store))
        } else {
            Box::new(NativeSnapshotter::new(store))
        }
    }
}
