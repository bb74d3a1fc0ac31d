//! Snapshot errors: what failed and on which path.

use crate::image::ImageError;
use crate::layer::LayerError;
use crate::store::StoreError;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Layer(#[from] LayerError),
    #[error(transparent)]
    Image(#[from] ImageError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("copying {} to {} failed: {reason}", from.display(), to.display())]
    Copy {
        from: PathBuf,
        to: PathBuf,
        reason: String,
    },
}

impl SnapshotError {
    pub fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> SnapshotError {
        let path = path.into();
        move |source| SnapshotError::Io { path, source }
    }
}
