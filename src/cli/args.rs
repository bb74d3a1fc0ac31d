//! Command-line arguments (clap). `rbuild -f F .` is `rbuild build -f F .`:
//! [`with_default_subcommand`] inserts `build` when no subcommand is named.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::ffi::OsString;
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "rbuild",
    version,
    about = "Build OCI images from Dockerfiles, without a daemon"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Build an image from a Dockerfile (the default command)
    Build(Box<BuildArgs>),
    /// Run a command in a container made from an image
    Run(Box<super::run_cmd::RunArgs>),
    /// Build the services of a Compose file, concurrently
    Bake(super::bake_cmd::BakeArgs),
    /// Print the README's command reference (Markdown)
    #[command(hide = true)]
    HelpReference,
    /// Parse a Dockerfile and print its build plan
    Parse(ParseArgs),
    /// Check a Dockerfile against the build checks
    Lint(LintArgs),
    /// List images in the store
    Images(StoreArgs),
    /// Show an image's config and layers as JSON
    Inspect(InspectArgs),
    /// Write images from the store to an archive
    Save(SaveArgs),
    /// Load images from an OCI or docker archive into the store
    Load(LoadArgs),
    /// Create an image from a root filesystem tarball
    Import(ImportArgs),
    /// Give an image in the store another name
    Tag(TagArgs),
    /// Remove image names from the store
    Rmi(RmiArgs),
    /// Remove blobs, snapshots and caches no image needs
    Prune(PruneArgs),
    /// Show the store's disk usage
    Du(StoreArgs),
    /// Verify the store's blobs, tags and cache records
    Check(CheckArgs),
    /// Pull an image from a registry into the store
    Pull(PullArgs),
    /// Push an image from the store to a registry
    Push(PushArgs),
    /// Log in to a registry (writes docker's config.json)
    Login(LoginArgs),
    /// Remove a registry's credentials from docker's config.json
    Logout(LogoutArgs),
    /// Manage a remote build cache
    #[command(subcommand)]
    Cache(CacheCommand),
}

#[derive(Debug, Subcommand)]
pub enum CacheCommand {
    /// Delete registry cache entries written longer ago than --older-than
    Prune(CachePruneArgs),
}

#[derive(Debug, Args)]
pub struct CachePruneArgs {
    #[command(flatten)]
    pub registry: RegistryArgs,
    /// The cache, as given to --cache-to type=registry,ref=REF
    #[arg(long = "ref")]
    pub reference: String,
    /// Age of the entries to delete: a number with s, m, h or d (7d, 12h)
    #[arg(long = "older-than")]
    pub older_than: String,
}

pub const SUBCOMMANDS: &[&str] = &[
    "build",
    "run",
    "bake",
    "help-reference",
    "parse",
    "lint",
    "images",
    "inspect",
    "save",
    "load",
    "import",
    "tag",
    "rmi",
    "prune",
    "du",
    "check",
    "pull",
    "push",
    "login",
    "logout",
    "cache",
    "help",
];

#[derive(Debug, Args)]
pub struct StoreArgs {
    /// Store directory (default /var/lib/rbuild for root, $XDG_DATA_HOME/rbuild otherwise)
    #[arg(long, env = "RBUILD_ROOT")]
    pub root: Option<PathBuf>,
}

/// How registries are reached.
#[derive(Debug, Args, Clone)]
pub struct RegistryArgs {
    /// Allow plain HTTP for this registry host[:port] (repeatable; loopback hosts always may)
    #[arg(long = "insecure-registry")]
    pub insecure_registries: Vec<String>,
    /// Trust this CA certificate (PEM) for registries, besides the system's (repeatable)
    #[arg(long = "tls-ca")]
    pub tls_ca: Vec<PathBuf>,
    /// Pull Docker Hub images through this mirror first, URL (repeatable; tried in order)
    #[arg(long = "registry-mirror")]
    pub registry_mirrors: Vec<String>,
}

#[derive(Debug, Args)]
pub struct PullArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(flatten)]
    pub registry: RegistryArgs,
    /// Platform to pull from a multi-platform image (os/arch[/variant]); default: this machine's
    #[arg(long)]
    pub platform: Option<String>,
    /// Image reference (NAME[:TAG][@DIGEST])
    pub reference: String,
}

#[derive(Debug, Args)]
pub struct PushArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(flatten)]
    pub registry: RegistryArgs,
    /// Image in the store
    pub image: String,
    /// Where to push (default: the image's own name)
    pub destination: Option<String>,
    /// Write the pushed manifest digest to this file
    #[arg(long)]
    pub digestfile: Option<PathBuf>,
    /// Layer compression in the registry (layers already stored that way are sent as they are)
    #[arg(long, value_enum, default_value = "gzip")]
    pub compression: CompressionArg,
}

/// `512m`, `2g`, `1048576`: bytes.
pub(super) fn parse_bytes(text: &str) -> Result<u64, String> {
    let lower = text.to_ascii_lowercase();
    let (number, scale) = match lower.trim_end_matches('b').chars().last() {
        Some('k') => (&lower[..lower.find('k').unwrap_or(0)], 1u64 << 10),
        Some('m') => (&lower[..lower.find('m').unwrap_or(0)], 1 << 20),
        Some('g') => (&lower[..lower.find('g').unwrap_or(0)], 1 << 30),
        _ => (lower.as_str(), 1),
    };
    number
        .trim()
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(scale))
        .filter(|n| *n >= 4 << 20)
        .ok_or_else(|| format!("{text:?}: give bytes (at least 4m), e.g. 512m or 2g"))
}

#[derive(Debug, Args)]
pub struct LoginArgs {
    #[command(flatten)]
    pub registry_args: RegistryArgs,
    /// User name
    #[arg(short = 'u', long)]
    pub username: String,
    /// Password (prefer --password-stdin: a command line is visible to other users)
    #[arg(short = 'p', long)]
    pub password: Option<String>,
    /// Read the password from standard input
    #[arg(long)]
    pub password_stdin: bool,
    /// Registry host[:port] (default docker.io)
    #[arg(default_value = "docker.io")]
    pub registry: String,
}

#[derive(Debug, Args)]
pub struct LogoutArgs {
    /// Registry host[:port] (default docker.io)
    #[arg(default_value = "docker.io")]
    pub registry: String,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// Show each layer's size, the step that made it and the bytes later layers overwrite or delete
    #[arg(long)]
    pub layers: bool,
    /// Print each image through a Go template, as docker does (`{{.Id}}`, `{{json .Config}}`, `{{index .RepoDigests 0}}`, `{{range .Config.Env}}...{{end}}`)
    #[arg(short = 'f', long)]
    pub format: Option<String>,
    /// Image names
    #[arg(required = true)]
    pub images: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SaveFormat {
    Docker,
    Oci,
}

#[derive(Debug, Args)]
pub struct SaveArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// Output file (default: standard output is not supported; give a file)
    #[arg(short = 'o', long = "output", required = true)]
    pub output: PathBuf,
    #[arg(long, value_enum, default_value = "docker")]
    pub format: SaveFormat,
    /// Image name
    pub image: String,
}

#[derive(Debug, Args)]
pub struct LoadArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// Archive to read (OCI archive or docker-archive)
    #[arg(short = 'i', long = "input", required = true)]
    pub input: PathBuf,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// Root filesystem tarball (plain, gzip or zstd)
    pub tarball: PathBuf,
    /// Name for the new image
    pub reference: String,
}

#[derive(Debug, Args)]
pub struct TagArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    pub source: String,
    pub target: String,
}

#[derive(Debug, Args)]
pub struct RmiArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    #[arg(required = true)]
    pub images: Vec<String>,
}

#[derive(Debug, Args)]
pub struct PruneArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// Also drop the build cache and cache mounts: keep only what tags reach
    #[arg(short = 'a', long)]
    pub all: bool,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// Remove corrupt blobs, dangling tags and dangling cache records
    #[arg(long)]
    pub repair: bool,
}

/// Inserts `build` after the program name unless a subcommand (or a global
/// `--help`/`--version`) comes first.
pub fn with_default_subcommand(args: Vec<OsString>) -> Vec<OsString> {
    let first = args.get(1).and_then(|a| a.to_str()).unwrap_or("");
    let global = ["-h", "--help", "-V", "--version"].contains(&first);
    if args.len() > 1 && (SUBCOMMANDS.contains(&first) || global) {
        return args;
    }
    let mut out = args;
    out.insert(1.min(out.len()), OsString::from("build"));
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Progress {
    Auto,
    Plain,
    Tty,
    Quiet,
    Rawjson,
}

#[derive(Debug, Args)]
pub struct BuildArgs {
    /// Name of the Dockerfile (`-` reads it from standard input; default: CONTEXT/Dockerfile)
    #[arg(short = 'f', long = "file")]
    pub file: Option<String>,
    /// Name and optionally a tag for the image (repeatable)
    #[arg(short = 't', long = "tag")]
    pub tags: Vec<String>,
    /// Set a build-time variable, KEY=VALUE or KEY (taken from the environment)
    #[arg(long = "build-arg")]
    pub build_args: Vec<String>,
    /// Build this stage and what it depends on
    #[arg(long)]
    pub target: Option<String>,
    /// Do not use the cache
    #[arg(long)]
    pub no_cache: bool,
    /// Progress output
    #[arg(long, value_enum, default_value = "auto")]
    pub progress: Progress,
    /// Store directory (default /var/lib/rbuild for root, $XDG_DATA_HOME/rbuild otherwise)
    #[arg(long, env = "RBUILD_ROOT")]
    pub root: Option<PathBuf>,
    /// Where to write the image: type=oci|docker|local|tar,dest=PATH[,tar=false]
    #[arg(short = 'o', long = "output")]
    pub output: Vec<String>,
    /// Target platform (os/arch[/variant]); default: this machine's
    #[arg(long)]
    pub platform: Option<String>,
    /// Add a label to the image, KEY=VALUE (repeatable)
    #[arg(long = "label")]
    pub labels: Vec<String>,
    /// Layer compression for exports
    #[arg(long, value_enum, default_value = "gzip")]
    pub compression: CompressionArg,
    /// Write the image ID (config digest) to this file
    #[arg(long)]
    pub iidfile: Option<PathBuf>,
    /// Write the build's result as JSON (config digest, manifest digest as pushed, names)
    #[arg(long = "metadata-file")]
    pub metadata_file: Option<PathBuf>,
    /// Extra named context: NAME=DIR, NAME=docker-image://REF, NAME=oci:PATH[:TAG] (repeatable)
    #[arg(long = "build-context")]
    pub build_contexts: Vec<String>,
    /// Load the image into docker (or podman when no docker daemon answers)
    #[arg(long)]
    pub load: bool,
    /// Secret for RUN --mount=type=secret: id=ID,src=PATH or id=ID,env=VAR (repeatable)
    #[arg(long = "secret")]
    pub secrets: Vec<String>,
    /// SSH agent for RUN --mount=type=ssh: default or ID=SOCKET (repeatable)
    #[arg(long = "ssh")]
    pub ssh: Vec<String>,
    /// Network for RUN steps without --network: default (host), none or host
    #[arg(long, default_value = "default")]
    pub network: String,
    /// Add NAME:IP to /etc/hosts in RUN steps (repeatable)
    #[arg(long = "add-host")]
    pub add_hosts: Vec<String>,
    /// How RUN captures changes: overlay, native (copy and compare), or auto
    #[arg(long, value_enum, default_value = "auto", env = "RBUILD_SNAPSHOTTER")]
    pub snapshotter: SnapshotterArg,
    /// Resolve every FROM image in a registry again, even when the store has it
    #[arg(long)]
    pub pull: bool,
    /// Push the image to the registry under each -t name
    #[arg(long)]
    pub push: bool,
    #[command(flatten)]
    pub limits: LimitArgs,
    /// Grant an entitlement: security.insecure lets `RUN --security=insecure`
    /// run with every capability and no seccomp filter (repeatable)
    #[arg(long = "allow", value_parser = ["security.insecure"])]
    pub allow: Vec<String>,
    /// Build these stages (names or indexes) without the cache (repeatable)
    #[arg(long = "no-cache-filter")]
    pub no_cache_filter: Vec<String>,
    /// Stages run at once (default: every stage whose dependencies are done)
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
    pub jobs: Option<u16>,
    /// Read cached steps from type=registry,ref=REF or type=local,src=DIR (repeatable)
    #[arg(long = "cache-from")]
    pub cache_from: Vec<String>,
    /// Write the steps to type=registry,ref=REF|type=local,dest=DIR[,mode=min|max] or type=inline (repeatable)
    #[arg(long = "cache-to")]
    pub cache_to: Vec<String>,
    #[command(flatten)]
    pub registry: RegistryArgs,
    /// Build context directory
    pub context: PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SnapshotterArg {
    Auto,
    Overlay,
    Native,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CompressionArg {
    Gzip,
    Zstd,
    Uncompressed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ParseFormat {
    /// Human-readable summary of stages and steps
    Text,
    /// The typed build plan as JSON
    Json,
    /// The syntax tree as JSON
    Ast,
    /// BuildKit's parser dump (one s-expression per instruction)
    BuildkitDump,
}

#[derive(Debug, Args)]
pub struct ParseArgs {
    /// Print the build plan as JSON (same as --format json)
    #[arg(long)]
    pub json: bool,
    #[arg(long, value_enum)]
    pub format: Option<ParseFormat>,
    /// The Dockerfile (`-` for standard input)
    #[arg(default_value = "Dockerfile")]
    pub file: String,
}

#[derive(Debug, Args)]
pub struct LintArgs {
    /// Print warnings as JSON
    #[arg(long)]
    pub json: bool,
    /// The Dockerfile (`-` for standard input)
    #[arg(default_value = "Dockerfile")]
    pub file: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<OsString> {
        list.iter().map(OsString::from).collect()
    }

    #[test]
    fn build_is_the_default_subcommand() {
        assert_eq!(
            with_default_subcommand(args(&["rbuild", "-f", "D", "."])),
            args(&["rbuild", "build", "-f", "D", "."])
        );
        assert_eq!(
            with_default_subcommand(args(&["rbuild", "parse", "D"])),
            args(&["rbuild", "parse", "D"])
        );
        assert_eq!(
            with_default_subcommand(args(&["rbuild", "--help"])),
            args(&["rbuild", "--help"])
        );
    }
}

/// What a RUN step (or `rbuild run`) may use.
#[derive(Debug, Args, Clone)]
pub struct LimitArgs {
    /// Processes that may run at once; a step that reaches it is stopped (default: 16384)
    #[arg(long = "pids-limit", value_parser = clap::value_parser!(u64).range(8..))]
    pub pids_limit: Option<u64>,
    /// Memory that may be used, in bytes or with k, m, g (default: no limit)
    #[arg(long, value_parser = parse_bytes)]
    pub memory: Option<u64>,
    /// CPUs' worth of time that may be used, e.g. 1.5 (sets --cpu-quota)
    #[arg(long, conflicts_with = "cpu_quota", value_parser = parse_cpus)]
    pub cpus: Option<f64>,
    /// CPU time per period in microseconds (default: no limit)
    #[arg(long = "cpu-quota", value_parser = clap::value_parser!(u64).range(1000..))]
    pub cpu_quota: Option<u64>,
    /// The period --cpu-quota is counted in, microseconds
    #[arg(long = "cpu-period", default_value_t = crate::sandbox::DEFAULT_CPU_PERIOD, value_parser = clap::value_parser!(u64).range(1000..=1_000_000))]
    pub cpu_period: u64,
}

fn parse_cpus(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(n) if n > 0.0 && n.is_finite() => Ok(n),
        _ => Err(format!("{text:?} is not a positive number of CPUs")),
    }
}

impl LimitArgs {
    pub fn limits(&self) -> crate::sandbox::Limits {
        let quota = self.cpu_quota.or_else(|| {
            self.cpus
                .map(|n| (n * self.cpu_period as f64).round() as u64)
        });
        let defaults = crate::sandbox::Limits::default();
        crate::sandbox::Limits {
            pids: self.pids_limit.unwrap_or(defaults.pids),
            pids_asked: self.pids_limit.is_some(),
            memory: self.memory,
            cpu_quota: quota,
            cpu_period: self.cpu_period,
        }
    }
}
