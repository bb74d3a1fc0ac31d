//! Turning a built image into exportable blobs: the config, compressed layers
//! (compressed once per diff_id and compression, then reused), and the OCI
//! manifest that ties them together.

use super::error::{io_at, ExportError};
use crate::image::import::{LAYER_GZIP, LAYER_TAR, LAYER_ZSTD, OCI_CONFIG, OCI_MANIFEST};
use crate::image::{Image, LayerRef};
use crate::layer::{compress_blob, decompressor, Compression};
use crate::store::{Digest, Store};
use serde_json::json;

/// A blob as a descriptor lists it.
#[derive(Debug, Clone)]
pub struct Blob {
    pub media_type: String,
    pub digest: Digest,
    pub size: u64,
}

impl Blob {
    pub fn descriptor(&self) -> serde_json::Value {
        json!({
            "mediaType": self.media_type,
            "digest": self.digest.to_string(),
            "size": self.size,
        })
    }
}

/// An image ready to be written out: every blob is in the store.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub config: Blob,
    pub layers: Vec<Blob>,
    pub manifest: Blob,
}

const COMPRESSED_NAMESPACE: &str = "compressed";

/// The layer as exported with `compression`: new (uncompressed) layers are
/// compressed once and remembered; layers already compressed (from a base
/// image) keep their blob unless `force` asks for `compression` anyway.
fn export_layer(
    store: &Store,
    layer: &LayerRef,
    compression: Compression,
    force: bool,
) -> Result<Blob, ExportError> {
    let stored = Blob {
        media_type: layer.media_type.clone(),
        digest: layer.blob,
        size: layer.size,
    };
    let media_type = match compression {
        Compression::Zstd => LAYER_ZSTD,
        Compression::Gzip => LAYER_GZIP,
        Compression::None => LAYER_TAR,
    };
    let stored_compression = match layer.media_type.as_str() {
        LAYER_TAR => Compression::None,
        LAYER_ZSTD => Compression::Zstd,
        _ => Compression::Gzip,
    };
    if layer.media_type == media_type || (stored_compression != Compression::None && !force) {
        return Ok(stored);
    }
    let key = format!("{}-{compression}", layer.diff_id.hex());
    if let Some(bytes) = store.record(COMPRESSED_NAMESPACE, &key)? {
        let text = String::from_utf8_lossy(&bytes);
        if let Ok(digest) = text.trim().parse::<Digest>() {
            if store.has_blob(&digest) {
                let size = store.blob_size(&digest)?;
                return Ok(Blob {
                    media_type: media_type.into(),
                    digest,
                    size,
                });
            }
        }
    }
    let source = decompressor(store.open_blob(&layer.blob)?, stored_compression)?;
    let mut writer = store.blob_writer()?;
    compress_blob(source, compression, &mut writer)?;
    let (digest, size) = writer.commit()?;
    store.put_record(COMPRESSED_NAMESPACE, &key, digest.to_string().as_bytes())?;
    Ok(Blob {
        media_type: media_type.into(),
        digest,
        size,
    })
}

fn json_bytes(value: &impl serde::Serialize, what: &'static str) -> Result<Vec<u8>, ExportError> {
    serde_json::to_vec(value).map_err(|e| ExportError::Json {
        what,
        reason: e.to_string(),
    })
}

/// Writes config and manifest blobs (and compressed layers) into the store.
pub fn prepare(
    store: &Store,
    image: &Image,
    compression: Compression,
) -> Result<Prepared, ExportError> {
    prepare_forced(store, image, compression, false)
}

/// [`prepare`], recompressing base layers too when `force` is set.
pub fn prepare_forced(
    store: &Store,
    image: &Image,
    compression: Compression,
    force: bool,
) -> Result<Prepared, ExportError> {
    let mut config = image.config.clone();
    config.rootfs.diff_ids = image.layers.iter().map(|l| l.diff_id.to_string()).collect();
    let config_bytes = json_bytes(&config, "the image config")?;
    let config_blob = Blob {
        media_type: OCI_CONFIG.into(),
        digest: store.put_blob(&config_bytes)?,
        size: config_bytes.len() as u64,
    };
    let layers = image
        .layers
        .iter()
        .map(|l| export_layer(store, l, compression, force))
        .collect::<Result<Vec<_>, _>>()?;
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": config_blob.descriptor(),
        "layers": layers.iter().map(Blob::descriptor).collect::<Vec<_>>(),
    });
    let manifest_bytes = json_bytes(&manifest, "the image manifest")?;
    let manifest_blob = Blob {
        media_type: OCI_MANIFEST.into(),
        digest: store.put_blob(&manifest_bytes)?,
        size: manifest_bytes.len() as u64,
    };
    Ok(Prepared {
        config: config_blob,
        layers,
        manifest: manifest_blob,
    })
}

/// Reads a blob's bytes for writing into an archive.
pub fn blob_file(store: &Store, digest: &Digest) -> Result<(std::fs::File, u64), ExportError> {
    let path = store.blob_path(digest);
    let file = std::fs::File::open(&path).map_err(io_at(&path))?;
    let size = file.metadata().map_err(io_at(&path))?.len();
    Ok((file, size))
}
