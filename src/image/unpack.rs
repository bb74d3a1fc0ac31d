//! Applying a stored layer blob onto a directory, whatever its compression.

use super::error::{io_at, ImageError};
use super::import::LayerRef;
use crate::layer::{decompressor, detect_compression, unpack_layer, UnpackOptions, WhiteoutMode};
use crate::store::Store;
use std::io::{BufRead, BufReader};
use std::path::Path;

/// Unpacks `layer` into `dest`: `Apply` deletes what whiteouts name (a
/// flattened root filesystem); `Overlay` records them overlayfs-style (a
/// snapshot to stack as an overlay lower directory).
pub fn apply_layer(
    store: &Store,
    layer: &LayerRef,
    dest: &Path,
    whiteouts: WhiteoutMode,
) -> Result<(), ImageError> {
    let mut reader = BufReader::new(store.open_blob(&layer.blob)?);
    let head = reader
        .fill_buf()
        .map_err(io_at(store.blob_path(&layer.blob)))?;
    let compression = detect_compression(head);
    unpack_layer(
        decompressor(reader, compression)?,
        dest,
        &UnpackOptions { whiteouts },
    )?;
    Ok(())
}
