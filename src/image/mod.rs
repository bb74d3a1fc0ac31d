//! Images: the config model, base-image references, platforms, and importing
//! images into the store from OCI layouts, archives and root filesystem
//! tarballs.

pub mod config;
mod error;
pub mod import;
pub mod layer_report;
pub mod platform;
pub mod reference;
mod tarball;
mod unpack;

pub use config::{HealthConfig, History, ImageConfig, RunConfig};
pub use error::ImageError;
pub use import::{choose_platform, load_image, Image, LayerRef};
pub use platform::Platform;
pub use reference::{familiar_name, normalize_name, ImageSource};
pub use tarball::{archive_names, import_rootfs};
pub use unpack::apply_layer;
