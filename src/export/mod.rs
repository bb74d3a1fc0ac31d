//! Exports: OCI archive or layout, docker-archive, the root filesystem as a
//! directory or tar, the local store (`-t`), and `docker load` (`--load`).

mod archive;
mod docker;
mod error;
mod load;
pub mod manifest;
mod oci;
mod rootfs;
mod spec;

pub use error::ExportError;
pub use load::load_into_engine;
pub use manifest::{prepare, prepare_forced, Prepared};
pub use spec::{LayerChoice, Output};

use crate::image::{normalize_name, Image};
use crate::layer::Compression;
use crate::store::Store;

/// Writes `image` where `output` says; `tags` name it.
pub fn export(
    store: &Store,
    image: &Image,
    output: &Output,
    tags: &[String],
    compression: Compression,
    force: bool,
) -> Result<(), ExportError> {
    match output {
        Output::Oci { dest, tar } => {
            let prepared = prepare_forced(store, image, compression, force)?;
            let tag = tags.first().map(|t| normalize_name(t));
            if *tar {
                oci::write_archive(store, &prepared, tag.as_deref(), dest)
            } else {
                oci::write_layout(store, &prepared, tag.as_deref(), dest)
            }
        }
        Output::Docker { dest } => {
            let prepared = prepare_forced(store, image, compression, force)?;
            docker::write(store, &prepared, tags, dest)
        }
        Output::Local { dest } => rootfs::write_dir(store, image, dest),
        Output::Tar { dest } => rootfs::write_tar(store, image, dest),
        // Named in the store here; pushing is the caller's (registry) part.
        Output::Image { name, .. } => {
            let names: Vec<String> = name.iter().cloned().collect();
            store_image(store, image, if names.is_empty() { tags } else { &names })?;
            Ok(())
        }
    }
}

/// Records the image in the store under each tag (layers as stored).
pub fn store_image(store: &Store, image: &Image, tags: &[String]) -> Result<Prepared, ExportError> {
    let prepared = prepare(store, image, Compression::None)?;
    for tag in tags {
        store.set_tag(&normalize_name(tag), &prepared.manifest.digest)?;
    }
    Ok(prepared)
}
