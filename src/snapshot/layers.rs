//! Layer snapshots in the store: each layer unpacked once into a directory
//! in overlay-lower form (whiteouts as 0/0 character devices, opaque
//! directories marked by xattr), and merged roots flattened once per chain.

use super::SnapshotError;
use crate::image::{apply_layer, LayerRef};
use crate::layer::WhiteoutMode;
use crate::store::Store;
use sha2::{Digest as _, Sha256};
use std::path::{Path, PathBuf};

/// Fills a fresh directory in a store temp dir and commits it as snapshot
/// `id` (atomically; a concurrent build committing the same id first wins).
fn build_snapshot(
    store: &Store,
    id: &str,
    fill: impl FnOnce(&Path) -> Result<(), SnapshotError>,
) -> Result<PathBuf, SnapshotError> {
    let temp = store.temp_dir()?;
    let dest = temp.path().join("rootfs");
    std::fs::create_dir(&dest).map_err(SnapshotError::io(&dest))?;
    fill(&dest)?;
    Ok(store.commit_snapshot(&dest, id)?)
}

/// Makes sure a layer's snapshot exists; returns its directory.
pub fn ensure_snapshot(store: &Store, layer: &LayerRef) -> Result<PathBuf, SnapshotError> {
    let id = layer.diff_id.hex();
    let path = store.snapshot_path(&id);
    if path.is_dir() {
        return Ok(path);
    }
    build_snapshot(store, &id, |dest| {
        apply_layer(store, layer, dest, WhiteoutMode::Overlay)?;
        Ok(())
    })
}

/// The image's merged root filesystem as one directory (layers applied in
/// order), kept in the store as a snapshot named by the layer chain.
pub fn flatten(store: &Store, layers: &[LayerRef]) -> Result<PathBuf, SnapshotError> {
    let ids: Vec<String> = layers.iter().map(|l| l.diff_id.to_string()).collect();
    let id = format!("flat-{}", chain_id(&ids.join(",")));
    let path = store.snapshot_path(&id);
    if path.is_dir() {
        return Ok(path);
    }
    build_snapshot(store, &id, |dest| {
        for layer in layers {
            apply_layer(store, layer, dest, WhiteoutMode::Apply)?;
        }
        Ok(())
    })
}

/// Names a flattened chain (the same names the store has always used, so
/// existing flattened snapshots stay found).
fn chain_id(diff_ids: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"flatten");
    h.update((diff_ids.len() as u64).to_le_bytes());
    h.update(diff_ids.as_bytes());
    hex::encode(h.finalize())
}
