//! Turning a step's entries into a layer blob in the store, and the step
//! cache records that let an identical step reuse it.
//!
//! New layers are kept uncompressed in the store (their blob digest is their
//! diff_id); compression happens on export, as BuildKit does, so the build
//! itself never waits for gzip.

use super::error::BuildError;
use crate::image::import::LAYER_TAR;
use crate::image::LayerRef;
use crate::layer::{write_layer, LayerEntry, WriteOptions};
use crate::store::{Digest, Store};
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
