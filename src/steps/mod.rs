//! The step executors: what a cache miss runs, one module per instruction
//! family (COPY/ADD, RUN, WORKDIR, the metadata instructions), each writing
//! its layer and recording its cache entry through the solver.

mod archive;
mod chmod;
pub(crate) mod copy;
mod entry_plan;
mod fetch;
mod git;
pub(crate) mod metadata;
mod owner;
pub(crate) mod run;
mod run_mounts;
pub(crate) mod run_user;
pub(crate) mod workdir;
