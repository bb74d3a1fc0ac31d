//! Applying a stored layer blob onto a directory, whatever its compression.

use super::error::{io_at, ImageError};
use super::import::LayerRef;
use crate::layer::{decompressor, detect_compression, unpack_layer, UnpackOptions, WhiteoutMode};
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
        inner: SpaceBudget::new(decompressor(reader, compression)?, dest, &layer.blob),
        hasher: Hasher::new(),
    };
    unpack_layer(&mut stream, dest, &UnpackOptions { whiteouts })?;
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

/// A decompressed layer may not expand past the free space of the
/// filesystem it is unpacked on (less a reserve of 5% of that filesystem,
/// at most 1 GiB): a small compressed blob that expands to terabytes (a
/// "gzip bomb") is refused by name before it fills the disk, instead of
/// failing with ENOSPC once everything else on the machine has too.
struct SpaceBudget<R> {
    inner: R,
    left: u64,
    budget: u64,
    blob: String,
}

impl<R> SpaceBudget<R> {
    fn new(inner: R, dest: &Path, blob: &crate::store::Digest) -> Self {
        let budget = rustix::fs::statvfs(dest).map_or(u64::MAX, |vfs| {
            let unit = vfs.f_frsize.max(1);
            let total = vfs.f_blocks.saturating_mul(unit);
            let reserve = (total / 20).min(1 << 30);
            vfs.f_bavail.saturating_mul(unit).saturating_sub(reserve)
        });
        SpaceBudget {
            inner,
            left: budget,
            budget,
            blob: blob.to_string(),
        }
    }
}

impl<R: Read> Read for SpaceBudget<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.left = self.left.checked_sub(n as u64).ok_or_else(|| {
            std::io::Error::other(format!(
                "layer {} expands past the {} bytes this filesystem can spare; \
                 refused before it fills the disk",
                self.blob, self.budget
            ))
        })?;
        Ok(n)
    }
}
