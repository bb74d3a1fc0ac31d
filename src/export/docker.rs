//! docker-archive export: `manifest.json` (with the `-t` names as RepoTags)
//! and `repositories` for `docker load`/`podman load`, plus an OCI
//! `index.json` and `oci-layout` so the same file also reads as an OCI
//! archive.

use super::archive::ArchiveWriter;
use super::error::ExportError;
use super::manifest::Prepared;
use super::oci::{all_blobs, index_json, OCI_LAYOUT};
use crate::image::familiar_name;
use crate::store::Store;
use serde_json::json;
use std::collections::BTreeMap;
use std::path::Path;

pub fn write(
    store: &Store,
    prepared: &Prepared,
    tags: &[String],
    dest: &Path,
) -> Result<(), ExportError> {
    write_to(store, prepared, tags, ArchiveWriter::create(dest)?)
}

/// Writes the archive into `w` (a file or a pipe).
pub fn write_to(
    store: &Store,
    prepared: &Prepared,
    tags: &[String],
    mut w: ArchiveWriter,
) -> Result<(), ExportError> {
    let blob_path = |d: &crate::store::Digest| format!("blobs/{}/{}", d.algorithm(), d.hex());
    let repo_tags: Vec<String> = tags.iter().map(|t| familiar_name(t)).collect();
    let manifest = json!([{
        "Config": blob_path(&prepared.config.digest),
        "RepoTags": repo_tags,
        "Layers": prepared.layers.iter().map(|l| blob_path(&l.digest)).collect::<Vec<_>>(),
    }]);
    let mut repositories: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for tag in &repo_tags {
        if let Some((repo, t)) = tag.rsplit_once(':').filter(|(_, t)| !t.contains('/')) {
            repositories
                .entry(repo.to_string())
                .or_default()
                .insert(t.to_string(), prepared.config.digest.hex());
        }
    }
    w.file("oci-layout", OCI_LAYOUT)?;
    w.file(
        "index.json",
        &index_json(&prepared.manifest, tags.first().map(String::as_str)),
    )?;
    for blob in all_blobs(prepared) {
        w.blob(store, &blob.digest)?;
    }
    w.file(
        "manifest.json",
        &serde_json::to_vec(&manifest).unwrap_or_default(),
    )?;
    if !repositories.is_empty() {
        w.file(
            "repositories",
            &serde_json::to_vec(&repositories).unwrap_or_default(),
        )?;
    }
    w.finish()
}
