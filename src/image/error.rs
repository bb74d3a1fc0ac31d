//! Errors reading and importing images. Each names the file, digest or
//! reference it is about.

use crate::store::{Digest, StoreError};
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Layer(#[from] crate::layer::LayerError),
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{what} in {}: {reason}", path.display())]
    Malformed {
        path: PathBuf,
        what: &'static str,
        reason: String,
    },
    #[error("no image tagged {tag:?} in {}", path.display())]
    TagNotFound { path: PathBuf, tag: String },
    #[error("{} holds {count} images; name one with :TAG", path.display())]
    AmbiguousLayout { path: PathBuf, count: usize },
    #[error("no manifest for platform {platform} in {source_name} (it has: {available})")]
    PlatformNotFound {
        source_name: String,
        platform: String,
        available: String,
    },
    #[error("blob {digest} referenced by {source_name} is missing")]
    MissingBlob { source_name: String, digest: String },
    #[error("blob {digest} in {source_name} is not valid JSON: {reason}")]
    BadJson {
        source_name: String,
        digest: Digest,
        reason: String,
    },
    #[error("layer {blob} uncompresses to {actual}, but the image says its diff_id is {expected}")]
    DiffIdMismatch {
        blob: Digest,
        expected: Digest,
        actual: Digest,
    },
    #[error("image {reference:?} is not in the store")]
    NotInStore { reference: String },
    #[error("{source_name}: the config lists {diff_ids} layer diff IDs but the manifest has {layers} layers")]
    LayerCountMismatch {
        source_name: String,
        diff_ids: usize,
        layers: usize,
    },
}

pub(crate) fn io_at(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> ImageError {
    let path = path.into();
    move |source| ImageError::Io { path, source }
}
