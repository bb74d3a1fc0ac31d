//! Tarballs outside the store: a root filesystem made into a one-layer image
//! (`rbuild import`, like `docker import`), and the names a docker or OCI
//! archive carries (`rbuild load`).

use super::error::io_at;
use super::import::{layer_media_type, Image, LayerRef};
use super::{History, ImageConfig, ImageError, Platform};
use crate::layer::{decompressor, detect_compression};
use crate::store::{Hasher, Store};
use serde_json::Value;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

/// Stores the tarball at `path` (plain or compressed) as the one layer of a
/// new image for `platform`, created at `created` (RFC 3339).
pub fn import_rootfs(
    store: &Store,
    path: &Path,
    platform: &Platform,
    created: &str,
) -> Result<Image, ImageError> {
    let mut writer = store.blob_writer()?;
    let mut file = std::fs::File::open(path).map_err(io_at(path))?;
    std::io::copy(&mut file, &mut writer).map_err(io_at(path))?;
    let (blob, size) = writer.commit()?;
    let mut reader = BufReader::new(store.open_blob(&blob)?);
    let head = reader.fill_buf().map_err(io_at(path))?.to_vec();
    let mut tar = decompressor(reader, detect_compression(&head))?;
    let mut hasher = Hasher::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = tar.read(&mut buf).map_err(io_at(path))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    let mut config = ImageConfig {
        architecture: platform.architecture.clone(),
        os: platform.os.clone(),
        created: Some(created.to_string()),
        ..ImageConfig::default()
    };
    config.history.push(History {
        created: Some(created.to_string()),
        comment: Some(format!("Imported from {}", path.display())),
        ..History::default()
    });
    Ok(Image {
        config,
        layers: vec![LayerRef {
            diff_id: hasher.finish(),
            blob,
            media_type: layer_media_type(&head).to_string(),
            size,
        }],
        manifest: None,
    })
}

/// Whether the archive at `path` is a docker-archive, and the names it
/// carries: docker `RepoTags`, else OCI index annotations.
pub fn archive_names(path: &Path) -> Result<(bool, Vec<String>), ImageError> {
    let file = std::fs::File::open(path).map_err(io_at(path))?;
    let mut archive = tar::Archive::new(file);
    let (mut docker, mut names, mut oci_names) = (false, Vec::new(), Vec::new());
    for entry in archive.entries().map_err(io_at(path))? {
        let mut entry = entry.map_err(io_at(path))?;
        let name = entry
            .path()
            .map(|p| p.to_string_lossy().trim_start_matches("./").to_string())
            .unwrap_or_default();
        if name != "manifest.json" && name != "index.json" {
            continue;
        }
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).map_err(io_at(path))?;
        let value: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if name == "manifest.json" {
            docker = true;
            names.extend(
                value[0]["RepoTags"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|t| t.as_str().map(str::to_string)),
            );
        } else {
            let annotation = &value["manifests"][0]["annotations"];
            if let Some(n) = annotation["io.containerd.image.name"].as_str() {
                oci_names.push(n.to_string());
            }
        }
    }
    if !docker {
        names = oci_names;
    }
    Ok((docker, names))
}
