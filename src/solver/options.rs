//! What a build is asked to do, as the CLI hands it over.

use crate::image::{ImageSource, Platform};
use std::collections::BTreeMap;
use std::path::PathBuf;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgressMode {
    /// One line per step event (`#3 [2/4] COPY a /b`, `#3 CACHED`).
    Plain,
    /// A live display for a terminal.
    Tty,
    /// One JSON object per event.
    RawJson,
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
    /// `--build-context NAME=...`, by lower-cased name.
    pub named_contexts: BTreeMap<String, NamedContext>,
    /// `--secret id=ID,src=PATH|env=VAR`, by id.
    pub secrets: BTreeMap<String, SecretSource>,
    /// `--ssh default|ID=SOCKET`: agent sockets by id.
    pub ssh: BTreeMap<String, PathBuf>,
    /// `--network`: the default for RUN steps without `--network`.
    pub network: NetworkDefault,
    /// `--add-host NAME:IP` entries for RUN's /etc/hosts.
    pub add_hosts: Vec<(String, String)>,
    pub snapshotter: crate::snapshot::SnapshotterKind,
    /// How registries are reached, for images the store lacks.
    pub registry: crate::registry::RegistryConfig,
    /// `--pull`: resolve every named image in its registry again.
    pub pull: bool,
    /// `--cache-from`: where steps missing from the store are looked up.
    pub cache_from: Vec<super::cache_spec::CacheImport>,
    /// `--cache-to`: where the steps' results go after the build.
    pub cache_to: Vec<super::cache_spec::CacheExport>,
    /// `--jobs`: stages running at once (`None`: every ready one).
    pub jobs: Option<usize>,
    /// `--no-cache-filter`: stages (by name or index) built without the cache.
    pub no_cache_filter: Vec<String>,
    /// `--allow security.insecure`: `RUN --security=insecure` may run with
    /// every capability and no seccomp filter.
    pub allow_insecure: bool,
    /// `--pids-limit`, `--memory`: what each RUN step may use.
    pub limits: crate::sandbox::Limits,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    File(PathBuf),
    Env(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NetworkDefault {
    /// The host's network, as `docker build` gives.
    #[default]
    Host,
    None,
}

/// What a `--build-context` names.
#[derive(Debug, Clone, PartialEq)]
pub enum NamedContext {
    /// A local directory, read like the main context.
    Dir(PathBuf),
    /// An image (`docker-image://REF`, `oci:PATH`, `oci-archive:PATH`, ...).
    Image(ImageSource),
}

impl NamedContext {
    /// `NAME=VALUE` as `--build-context` takes it.
    pub fn parse(spec: &str) -> Result<(String, NamedContext), String> {
        let (name, value) = spec
            .split_once('=')
            .filter(|(n, v)| !n.is_empty() && !v.is_empty())
            .ok_or_else(|| format!("invalid --build-context {spec:?}: expected NAME=VALUE"))?;
        let context = if let Some(reference) = value.strip_prefix("docker-image://") {
            NamedContext::Image(ImageSource::Named(reference.to_string()))
        } else if ["oci:", "oci-archive:", "docker-archive:"]
            .iter()
            .any(|p| value.starts_with(p))
        {
            NamedContext::Image(ImageSource::parse(value))
        } else if value.contains("://") {
            return Err(format!("--build-context {name}: {value:?} is not supported yet (use a directory, docker-image://, oci:, oci-archive: or docker-archive:)"));
        } else {
            NamedContext::Dir(PathBuf::from(value))
        };
        Ok((name.to_ascii_lowercase(), context))
    }
}
