//! Errors of layer writing, compression and unpacking. Every variant names the
//! path (inside the layer, or on the host) or the stream it is about.

use std::io;
use std::path::{Path, PathBuf};

use super::Compression;

/// What went wrong while writing, compressing or unpacking a layer.
#[derive(Debug, thiserror::Error)]
pub enum LayerError {
    /// An entry path (or hard-link target) starts with `/`.
    #[error("layer entry {} has an absolute path; layer paths must be relative", path.display())]
    AbsolutePath { path: PathBuf },

    /// An entry path (or hard-link target) contains a `..` component.
    #[error("layer entry {} contains a `..` component", path.display())]
    ParentTraversal { path: PathBuf },

    /// An entry would be written through a symlink placed by an earlier entry or
    /// present in the destination tree.
    #[error(
        "layer entry {} would be written through the symlink {}",
        path.display(),
        symlink.display()
    )]
    SymlinkTraversal { path: PathBuf, symlink: PathBuf },

    /// A hard link whose target lies outside the layer root or resolves through a
    /// symlink.
    #[error(
        "hard link {} -> {}: target {reason}",
        path.display(),
        target.display()
    )]
    HardLinkEscape {
        path: PathBuf,
        target: PathBuf,
        reason: &'static str,
    },

    /// A path that cannot be represented or is reserved (empty, NUL byte, `.wh.`).
    #[error("invalid layer entry {}: {reason}", path.display())]
    InvalidPath { path: PathBuf, reason: String },

    /// Two entries map to the same name in the tar.
    #[error("duplicate layer entry {}", path.display())]
    DuplicateEntry { path: PathBuf },

    /// An extended attribute name that a PAX record cannot carry.
    #[error("layer entry {}: invalid extended attribute name {name:?}", path.display())]
    InvalidXattr { path: PathBuf, name: String },

    /// A file's content is not the size its entry declares (it changed on disk).
    #[error(
        "{}: expected {expected} bytes but found {actual} (did it change while the layer was written?)",
        path.display()
    )]
    SizeMismatch {
        path: PathBuf,
        expected: u64,
        actual: u64,
    },

    /// A tar entry type this unpacker does not handle.
    #[error("layer entry {}: unsupported tar entry type {kind:?}", path.display())]
    UnsupportedEntry { path: PathBuf, kind: char },

    /// A tar header or PAX record that cannot be parsed.
    #[error("layer entry {}: malformed header: {reason}", path.display())]
    MalformedHeader { path: PathBuf, reason: String },

    /// The tar stream itself could not be read.
    #[error("reading layer tar after entry {}: {source}", after.display())]
    ReadArchive { after: PathBuf, source: io::Error },

    /// A filesystem operation failed on `path`.
    #[error("{action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        source: io::Error,
    },

    /// Compressing or decompressing a stream failed.
    #[error("{action} {compression} stream: {source}")]
    Stream {
        action: &'static str,
        compression: Compression,
        source: io::Error,
    },
}

impl LayerError {
    /// The path this error is about, when it is about one.
    pub fn path(&self) -> Option<&Path> {
        use LayerError::*;
        match self {
            AbsolutePath { path }
            | ParentTraversal { path }
            | SymlinkTraversal { path, .. }
            | HardLinkEscape { path, .. }
            | InvalidPath { path, .. }
            | DuplicateEntry { path }
            | InvalidXattr { path, .. }
            | SizeMismatch { path, .. }
            | UnsupportedEntry { path, .. }
            | MalformedHeader { path, .. }
            | Io { path, .. } => Some(path),
            ReadArchive { after, .. } => Some(after),
            Stream { .. } => None,
        }
    }
}

/// `map_err` helper: `.map_err(io_at("creating", path))`.
pub(crate) fn io_at<'a, E: Into<io::Error>>(
    action: &'static str,
    path: &'a Path,
) -> impl FnOnce(E) -> LayerError + 'a {
    move |source| LayerError::Io {
        action,
        path: path.to_path_buf(),
        source: source.into(),
    }
}
