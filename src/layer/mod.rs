//! Layer tar writing (deterministic) and safe unpacking.
//!
//! - [`write_layer`] turns a list of [`LayerEntry`] values into a normalised tar
//!   (sorted, numeric owners, clamped mtimes, PAX where needed), hashing while it
//!   writes, like umoci's `oci/layer/tar_generate.go`.
//! - [`compress_blob`] / [`write_layer_compressed`] add gzip (parallel) or zstd
//!   (multithreaded) with the uncompressed and compressed digests from one pass.
//! - [`unpack_layer`] applies a layer onto a root directory without ever writing
//!   outside it, either flattening whiteouts or recording them overlayfs-style.

mod compress;
mod entry;
pub(crate) mod error;
mod hash;
mod pax;
mod space;
mod unpack;
mod write;
pub(crate) mod xattr;

pub use compress::{
    compress_blob, decompressor, detect_compression, write_layer_compressed, Compression,
};
pub use entry::{EntryKind, FileSource, LayerEntry};
pub use error::LayerError;
pub use hash::{BlobDigest, LayerDigest};
pub use space::SpaceBudget;
pub use unpack::{unpack_layer, UnpackOptions, UnpackStats, WhiteoutMode};
pub use write::{write_layer, WriteOptions};

/// Result type of this module.
pub type Result<T, E = LayerError> = std::result::Result<T, E>;

/// Prefix of an OCI whiteout file name (`.wh.<name>` hides `<name>`).
pub const WHITEOUT_PREFIX: &str = ".wh.";
/// Name of the OCI opaque-directory marker (`<dir>/.wh..wh..opq`).
pub const OPAQUE_MARKER: &str = ".wh..wh..opq";
/// Prefix of names reserved by the OCI spec for whiteout metadata (AUFS `.wh..wh.`).
const RESERVED_PREFIX: &str = ".wh..wh.";
