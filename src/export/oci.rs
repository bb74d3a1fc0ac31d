//! OCI image layout (`tar=false`) and OCI archive exports.

use super::archive::ArchiveWriter;
use super::error::{io_at, ExportError};
use super::manifest::{Blob, Prepared};
use crate::image::import::OCI_INDEX;
use crate::store::Store;
use serde_json::json;
use std::path::Path;

pub const OCI_LAYOUT: &[u8] = br#"{"imageLayoutVersion":"1.0.0"}"#;

/// `index.json` naming the manifest, annotated with the first tag.
pub fn index_json(manifest: &Blob, tag: Option<&str>) -> Vec<u8> {
    let mut desc = manifest.descriptor();
    if let Some(name) = tag {
        let short = name
            .rsplit_once(':')
            .filter(|(_, t)| !t.contains('/'))
            .map_or("latest", |(_, t)| t);
        desc["annotations"] = json!({
            "io.containerd.image.name": name,
            "org.opencontainers.image.ref.name": short,
        });
    }
    let index = json!({
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [desc],
    });
    serde_json::to_vec(&index).unwrap_or_default()
}

pub fn all_blobs(prepared: &Prepared) -> impl Iterator<Item = &Blob> {
    std::iter::once(&prepared.manifest)
        .chain(std::iter::once(&prepared.config))
        .chain(prepared.layers.iter())
}

pub fn write_archive(
    store: &Store,
    prepared: &Prepared,
    tag: Option<&str>,
    dest: &Path,
) -> Result<(), ExportError> {
    let mut w = ArchiveWriter::create(dest)?;
    w.file("oci-layout", OCI_LAYOUT)?;
    w.file("index.json", &index_json(&prepared.manifest, tag))?;
    for blob in all_blobs(prepared) {
        w.blob(store, &blob.digest)?;
    }
    w.finish()
}

/// A layout directory. Blobs are copied (never hard-linked: a tool editing
/// the layout in place must not reach into the store), each to a temp name
/// then renamed, so an interrupted export leaves no truncated blob behind.
pub fn write_layout(
    store: &Store,
    prepared: &Prepared,
    tag: Option<&str>,
    dest: &Path,
) -> Result<(), ExportError> {
    let blobs = dest.join("blobs").join("sha256");
    std::fs::create_dir_all(&blobs).map_err(io_at(&blobs))?;
    for blob in all_blobs(prepared) {
        let target = blobs.join(blob.digest.hex());
        if std::fs::metadata(&target).is_ok_and(|m| m.len() == blob.size) {
            continue;
        }
        let source = store.blob_path(&blob.digest);
        let partial = blobs.join(format!(
            ".{}.rbuild-{}.tmp",
            blob.digest.hex(),
            std::process::id()
        ));
        std::fs::copy(&source, &partial).map_err(io_at(&partial))?;
        std::fs::rename(&partial, &target).map_err(io_at(&target))?;
    }
    let write = |name: &str, data: &[u8]| {
        let path = dest.join(name);
        std::fs::write(&path, data).map_err(io_at(&path))
    };
    write("oci-layout", OCI_LAYOUT)?;
    write("index.json", &index_json(&prepared.manifest, tag))
}
