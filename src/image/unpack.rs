//! Applying a stored layer blob onto a directory, whatever its compression.

use super::error::{io_at, ImageError};
use super::import::LayerRef;
use crate::layer::{
    decompressor, detect_compression, unpack_layer, SpaceBudget, UnpackOptions, WhiteoutMode,
};
use crate::store::Hasher;
use crate::store::Store;
use std::io::{BufRead, BufReader, Read};
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
    let mut stream = Hashing {
        inner: SpaceBudget::new(
            decompressor(reader, compression)?,
            dest,
            format!("layer {}", layer.blob),
        ),
        hasher: Hasher::new(),
    };
    unpack_layer(
        &mut stream,
        dest,
        &UnpackOptions {
            whiteouts,
            donor: None,
        },
    )?;
    // Drain what the unpacker left (padding after the end-of-archive marker
    // belongs to the diff_id too).
    std::io::copy(&mut stream, &mut std::io::sink())
        .map_err(io_at(store.blob_path(&layer.blob)))?;
    let actual = stream.hasher.finish();
    if actual != layer.diff_id {
        // A source that lies about its diff_ids must not poison snapshots,
        // which are shared by diff_id between images.
        return Err(ImageError::DiffIdMismatch {
            blob: layer.blob,
            expected: layer.diff_id,
            actual,
        });
    }
    Ok(())
}

/// Hashes the uncompressed tar as the unpacker reads it.
struct Hashing<R> {
    inner: R,
    hasher: Hasher,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}
