//! `type=local` and `type=tar`: the image's root filesystem, layers applied
//! in order (whiteouts delete, opaque directories empty).

use super::error::{io_at, ExportError};
use crate::image::Image;
use crate::layer::{
    decompressor, detect_compression, entries_from_dir, unpack_layer, write_layer, ScanOptions,
    UnpackOptions, WhiteoutMode, WriteOptions,
};
use crate::store::Store;
use std::io::{BufRead, BufReader};
use std::path::Path;

fn apply_layers(store: &Store, image: &Image, dest: &Path) -> Result<(), ExportError> {
    std::fs::create_dir_all(dest).map_err(io_at(dest))?;
    let opts = UnpackOptions {
        whiteouts: WhiteoutMode::Apply,
    };
    for layer in &image.layers {
        let file = store.open_blob(&layer.blob)?;
        let mut reader = BufReader::new(file);
        let head = reader
            .fill_buf()
            .map_err(io_at(store.blob_path(&layer.blob)))?;
        let compression = detect_compression(head);
        unpack_layer(decompressor(reader, compression)?, dest, &opts)?;
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
    let partial = dest.with_extension("rbuild-partial");
    let file = std::fs::File::create(&partial).map_err(io_at(&partial))?;
    write_layer(
        &entries,
        std::io::BufWriter::new(file),
        &WriteOptions::default(),
    )?;
    std::fs::rename(&partial, dest).map_err(io_at(dest))
}
