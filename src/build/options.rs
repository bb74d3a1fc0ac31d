//! What a build is asked to do, as the CLI hands it over.

use crate::image::Platform;
use std::collections::BTreeMap;
use std::path::PathBuf;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgressMode {
    /// One line per step event (`#3 [2/4] COPY a /b`, `#3 CACHED`).
    Plain,
    /// Errors only.
    Quiet,
}

#[derive(Debug, Clone)]
pub struct BuildOptions {
    /// `--build-arg` values (a bare `KEY` already resolved from the environment).
    pub build_args: BTreeMap<String, String>,
    pub target: Option<String>,
    pub no_cache: bool,
    pub platform: Platform,
    /// `--label` values, applied to the final image.
    pub labels: BTreeMap<String, String>,
    pub progress: ProgressMode,
    /// `SOURCE_DATE_EPOCH` (seconds): fixes every timestamp the build writes.
    pub source_date_epoch: Option<i64>,
    pub context_dir: PathBuf,
    /// Path of the Dockerfile, when it is a file (for `<name>.dockerignore`).
    pub dockerfile_path: Option<PathBuf>,
}
