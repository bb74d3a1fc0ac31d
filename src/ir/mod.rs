//! Syntax tree → typed build plan (stages, validated flags, resolved stage
//! references), with located errors. Values stay unexpanded.

mod commands;
mod error;
mod flags;
mod lower;
pub mod mount;
mod plan;
mod suggest;
mod values;

pub use error::{LowerError, LowerErrorKind};
pub use lower::{lower, meta_arg};
pub use mount::{Mount, MountError, MountSpec, MountType, Sharing};
pub use plan::*;
pub use suggest::{closest, edit_distance};
pub use values::parse_octal_mode;
