//! rbuild: a daemonless OCI image builder.
//!
//! Modules are drawn like crates (see `../shared/DESIGN.md`): dependencies point
//! downward only, and nothing imports `cli`.

pub mod cli;
pub mod compose;
pub mod container;
pub mod context;
pub mod dockerfile;
pub mod export;
pub mod image;
pub mod ir;
pub mod layer;
pub mod lint;
pub mod pipeline;
pub mod registry;
pub mod sandbox;
pub mod shell;
pub mod snapshot;
pub mod solver;
pub mod steps;
pub mod store;
