//! rbuild: a daemonless OCI image builder.
//!
//! Modules are drawn like crates (see `../shared/DESIGN.md`): dependencies point
//! downward only, and nothing imports `cli`.

pub mod cli;
pub mod dockerfile;
pub mod ir;
pub mod lint;
pub mod shell;
