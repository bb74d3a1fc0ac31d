//! Store errors. Every variant names the path or digest it is about, so the
//! CLI can render a useful message without guessing.

use std::io;
use std::path::PathBuf;

use super::Digest;

/// A malformed digest string; `text` is the input as given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid digest {text:?}: {reason}")]
pub struct DigestParseError {
    pub text: String,
    pub reason: String,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },

    #[error("cannot rename {} to {}: {source}", from.display(), to.display())]
    Rename {
        from: PathBuf,
        to: PathBuf,
        source: io::Error,
    },

    #[error("blob {digest} not found in the store ({})", path.display())]
    BlobNotFound { digest: Digest, path: PathBuf },

    #[error("blob {digest} is corrupt: {} hashes to {actual}", path.display())]
    CorruptBlob {
        digest: Digest,
        actual: Digest,
        path: PathBuf,
    },

    #[error("content digest mismatch: expected {expected}, got {actual}")]
    DigestMismatch { expected: Digest, actual: Digest },

    #[error("corrupt record {}: {reason}", path.display())]
    CorruptRecord { path: PathBuf, reason: String },

    #[error("store {} has schema version {found:?}, this rbuild supports {expected}", path.display())]
    UnsupportedVersion {
        path: PathBuf,
        found: String,
        expected: u32,
    },

    #[error("invalid record namespace {namespace:?}: use lowercase letters, digits, '-' and '_'")]
    InvalidNamespace { namespace: String },

    #[error("{kind} {name:?} is too long to be stored ({len} bytes once encoded, at most {max})")]
    NameTooLong {
        kind: &'static str,
        name: String,
        len: usize,
        max: usize,
    },

    #[error("record {key:?} in {namespace:?} is not valid JSON: {source}")]
    Json {
        namespace: String,
        key: String,
        source: serde_json::Error,
    },
}

impl StoreError {
    /// Wrap an I/O error with the path it happened on.
    pub(crate) fn io(path: impl Into<PathBuf>, source: io::Error) -> Self {
        StoreError::Io {
            path: path.into(),
            source,
        }
    }

    /// Convert an `io::Error` from a store writer (e.g. after `io::copy` into a
    /// `BlobWriter`): a `StoreError` carried inside is returned as is,
    /// anything else is attributed to `path`.
    pub fn from_io(path: impl Into<PathBuf>, e: io::Error) -> Self {
        match e.downcast::<StoreError>() {
            Ok(inner) => inner,
            Err(e) => StoreError::io(path, e),
        }
    }

    /// True when the error is a missing file or blob.
    pub fn is_not_found(&self) -> bool {
        match self {
            StoreError::BlobNotFound { .. } => true,
            StoreError::Io { source, .. } => source.kind() == io::ErrorKind::NotFound,
            _ => false,
        }
    }
}

/// `map_err` helper: `.map_err(at(&path))`.
pub(crate) fn at(path: &std::path::Path) -> impl FnOnce(io::Error) -> StoreError + '_ {
    move |source| StoreError::io(path, source)
}
