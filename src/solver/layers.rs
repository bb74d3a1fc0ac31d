//! Turning a step's entries into a layer blob in the store, and the step
//! cache records that let an identical step reuse it.
//!
//! New layers are kept uncompressed in the store (their blob digest is their
//! diff_id); compression happens on export, as BuildKit does, so the build
//! itself never waits for gzip.

use super::error::BuildError;
use crate::image::import::LAYER_TAR;
use crate::image::LayerRef;
use crate::layer::{write_layer, LayerDigest, LayerEntry, WriteOptions};
use crate::snapshot::EagerSnapshot;
use crate::store::{BlobWriter, Digest, Store};
use serde::{Deserialize, Serialize};

const CACHE_NAMESPACE: &str = "cache";

/// What a cached step produced.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CacheRecord {
    /// The layer the step added; `None` when it added none.
    pub layer: Option<CachedLayer>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CachedLayer {
    pub diff_id: String,
    pub blob: String,
    pub media_type: String,
    pub size: u64,
}

impl CachedLayer {
    fn from_ref(layer: &LayerRef) -> Self {
        CachedLayer {
            diff_id: layer.diff_id.to_string(),
            blob: layer.blob.to_string(),
            media_type: layer.media_type.clone(),
            size: layer.size,
        }
    }

    fn to_ref(&self) -> Option<LayerRef> {
        Some(LayerRef {
            diff_id: self.diff_id.parse().ok()?,
            blob: self.blob.parse().ok()?,
            media_type: self.media_type.clone(),
            size: self.size,
        })
    }
}

/// A cached result for `key` whose blobs are all still in the store.
pub fn lookup(store: &Store, key: &str) -> Option<CacheRecord> {
    let bytes = store.record(CACHE_NAMESPACE, key).ok()??;
    let record: CacheRecord = serde_json::from_slice(&bytes).ok()?;
    match &record.layer {
        Some(layer) => {
            let layer_ref = layer.to_ref()?;
            store.has_blob(&layer_ref.blob).then_some(record)
        }
        None => Some(record),
    }
}

pub fn cached_layer(record: &CacheRecord) -> Option<LayerRef> {
    record.layer.as_ref().and_then(CachedLayer::to_ref)
}

/// The record of a step that made `layer` (or none), as stored.
pub fn record_json(layer: Option<&LayerRef>) -> Result<Vec<u8>, BuildError> {
    let record = CacheRecord {
        layer: layer.map(CachedLayer::from_ref),
    };
    serde_json::to_vec(&record).map_err(|e| BuildError::Invalid(e.to_string()))
}

pub fn remember(store: &Store, key: &str, layer: Option<&LayerRef>) -> Result<(), BuildError> {
    store.put_record(CACHE_NAMESPACE, key, &record_json(layer)?)?;
    Ok(())
}

/// Writes `entries` as an uncompressed layer blob.
pub fn commit(
    store: &Store,
    entries: &[LayerEntry],
    source_date_epoch: Option<i64>,
) -> Result<LayerRef, BuildError> {
    let mut writer = store.blob_writer()?;
    let digest = write_layer(entries, &mut writer, &WriteOptions { source_date_epoch })?;
    finish_layer(writer, &digest)
}

/// Like [`commit`], and the layer's snapshot made in the same pass (see
/// `snapshot::EagerSnapshot`): for a layer the next step runs on. Files
/// identical to those of the snapshot of layer `donor` (the step's last
/// result) are linked from it rather than written again.
pub fn commit_with_snapshot(
    store: &Store,
    entries: &[LayerEntry],
    source_date_epoch: Option<i64>,
    donor: Option<&Digest>,
) -> Result<LayerRef, BuildError> {
    let mut writer = store.blob_writer()?;
    let donor = donor
        .map(|d| store.snapshot_path(&d.hex()))
        .filter(|dir| dir.is_dir());
    let (digest, snapshot) =
        EagerSnapshot::write_with(store, &mut writer, donor.as_deref(), |tee| {
            write_layer(entries, tee, &WriteOptions { source_date_epoch })
        })?;
    let layer = finish_layer(writer, &digest?)?;
    if let Some(snapshot) = snapshot {
        snapshot.commit(store, &layer.diff_id.hex());
    }
    Ok(layer)
}

/// Publishes a written layer blob.
fn finish_layer(writer: BlobWriter, digest: &LayerDigest) -> Result<LayerRef, BuildError> {
    let (blob, size) = writer.commit()?;
    let diff_id: Digest = digest
        .diff_id
        .parse()
        .map_err(|e| BuildError::Invalid(format!("layer writer returned a bad digest: {e}")))?;
    debug_assert_eq!(diff_id, blob);
    Ok(LayerRef {
        diff_id,
        blob,
        media_type: LAYER_TAR.to_string(),
        size,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layer::{EntryKind, FileSource};
    use crate::snapshot::{entries_from_dir, ScanOptions};
    use std::path::PathBuf;

    fn entry(path: &str, kind: EntryKind, mode: u32) -> LayerEntry {
        LayerEntry {
            path: PathBuf::from(path),
            kind,
            mode,
            uid: 0,
            gid: 0,
            mtime: 1_700_000_000,
            xattrs: Vec::new(),
        }
    }

    /// What a snapshot directory holds, comparable between two of them.
    fn listing(dir: &std::path::Path) -> Vec<String> {
        entries_from_dir(dir, &ScanOptions::default())
            .unwrap()
            .into_iter()
            .map(|e| {
                let kind = match &e.kind {
                    EntryKind::File { size, .. } => format!("file {size}"),
                    other => format!("{other:?}"),
                };
                format!("{} {kind} {:o} {}", e.path.display(), e.mode, e.mtime)
            })
            .collect()
    }

    #[test]
    fn the_eager_snapshot_equals_the_layer_unpacked_later() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("store")).unwrap();
        let entries = vec![
            entry("app", EntryKind::Dir, 0o755),
            entry(
                "app/run.sh",
                EntryKind::File {
                    source: FileSource::Bytes(b"#!/bin/sh\necho hi\n".to_vec()),
                    size: 18,
                },
                0o755,
            ),
            entry(
                "app/link",
                EntryKind::Symlink {
                    target: "run.sh".into(),
                },
                0o777,
            ),
        ];
        let layer = commit_with_snapshot(&store, &entries, None, None).unwrap();
        let eager = store.snapshot_path(&layer.diff_id.hex());
        assert!(eager.is_dir(), "the snapshot was made with the layer");
        let later = dir.path().join("later");
        std::fs::create_dir(&later).unwrap();
        crate::image::apply_layer(&store, &layer, &later, crate::layer::WhiteoutMode::Overlay)
            .unwrap();
        assert_eq!(listing(&eager), listing(&later));
        assert_eq!(
            layer,
            commit(&store, &entries, None).unwrap(),
            "same layer either way"
        );
    }
}
