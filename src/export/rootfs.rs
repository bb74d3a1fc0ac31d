//! `type=local` and `type=tar`: the image's root filesystem, layers applied
//! in order (whiteouts delete, opaque directories empty).

use super::error::{io_at, ExportError};
use crate::image::{apply_layer, Image};
use crate::layer::{write_layer, WhiteoutMode, WriteOptions};
use crate::snapshot::{entries_from_dir, ScanOptions};
use crate::store::Store;
use std::path::Path;

fn apply_layers(store: &Store, image: &Image, dest: &Path) -> Result<(), ExportError> {
    std::fs::create_dir_all(dest).map_err(io_at(dest))?;
    for layer in &image.layers {
        apply_layer(store, layer, dest, WhiteoutMode::Apply)?;
    }
    Ok(())
}

pub fn write_dir(store: &Store, image: &Image, dest: &Path) -> Result<(), ExportError> {
    apply_layers(store, image, dest)
}

pub fn write_tar(store: &Store, image: &Image, dest: &Path) -> Result<(), ExportError> {
    let temp = store.temp_dir()?;
    let root = temp.path().join("rootfs");
    apply_layers(store, image, &root)?;
    let entries = entries_from_dir(&root, &ScanOptions::default())?;
    // A temp name beside the destination, removed on failure: no partial
    // file under the final name, and no stray file left behind.
    let name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let partial = dest.with_file_name(format!(".{name}.rbuild-{}.tmp", std::process::id()));
    let file = std::fs::File::create(&partial).map_err(io_at(&partial))?;
    let written = write_layer(
        &entries,
        std::io::BufWriter::new(file),
        &WriteOptions::default(),
    )
    .map_err(ExportError::from)
    .and_then(|_| std::fs::rename(&partial, dest).map_err(io_at(dest)));
    if written.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    written
}
