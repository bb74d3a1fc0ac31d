//! `rbuild run`: a command in a container made from an image, in the same
//! sandbox RUN steps use (namespaces, Docker's capabilities, the default
//! seccomp filter, cgroup limits), for CI smoke tests without a daemon.
//! The container's root is an overlay over the image's layer snapshots;
//! what the command changes is thrown away afterwards, or committed as a new
//! layer on the image (`--commit`, like `docker commit`).

mod commit;
mod error;

pub use error::ContainerError;

use crate::image::{load_image, Image, ImageError, ImageSource, Platform};
use crate::registry::{pull, Client, Reference, RegistryConfig};
use crate::sandbox::{self, Limits, Mount, MountKind, Network, Publish, RunSpec, Stdio};
use crate::snapshot::{RootView, SnapshotterKind};
use crate::store::Store;
use std::path::PathBuf;

/// What `rbuild run` was asked to do.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    pub image: String,
    /// The command (`CMD` is replaced; the entrypoint stays unless
    /// `entrypoint` is set).
    pub command: Vec<String>,
    /// `--entrypoint`: replaces the image's (an empty string clears it).
    pub entrypoint: Option<String>,
    /// `-e KEY=VALUE`, after the image's environment.
    pub env: Vec<String>,
    /// `-w`
    pub workdir: Option<String>,
    /// `-u user[:group]`
    pub user: Option<String>,
    /// `-v HOST:CONTAINER[:ro]`
    pub volumes: Vec<Volume>,
    pub network: Network,
    /// `-p`: host ports forwarded into the container's own network.
    pub publish: Vec<Publish>,
    /// `-i`: the command reads rbuild's standard input.
    pub interactive: bool,
    /// `-t`: a pseudo-terminal as the command's terminal.
    pub tty: bool,
    pub limits: Limits,
    /// `--commit REF`: keep the command's changes as a new image.
    pub commit: Option<String>,
    pub snapshotter: SnapshotterKind,
    pub registry: RegistryConfig,
}

/// A bind mount from the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Volume {
    pub host: PathBuf,
    pub container: PathBuf,
    pub readonly: bool,
}

impl Volume {
    /// `HOST:CONTAINER[:ro|rw]`, both absolute (a relative host path is
    /// taken from the current directory, as `docker run` does).
    pub fn parse(spec: &str) -> Result<Volume, ContainerError> {
        let bad = |reason: &str| ContainerError::BadOption {
            option: format!("-v {spec}"),
            reason: reason.into(),
        };
        let parts: Vec<&str> = spec.split(':').collect();
        let (host, container, readonly) = match parts.as_slice() {
            [h, c] => (*h, *c, false),
            [h, c, "ro"] => (*h, *c, true),
            [h, c, "rw"] => (*h, *c, false),
            [_, _, other] => return Err(bad(&format!("unknown mode {other:?}: use ro or rw"))),
            _ => return Err(bad("expected HOST:CONTAINER[:ro]")),
        };
        if !container.starts_with('/') {
            return Err(bad("the container path must be absolute"));
        }
        let host = std::path::absolute(host).map_err(|e| bad(&e.to_string()))?;
        if !host.exists() {
            return Err(bad(&format!("{} does not exist", host.display())));
        }
        Ok(Volume {
            host,
            container: container.into(),
            readonly,
        })
    }
}

/// `[IP:]HOST:CONTAINER` (IP defaults to 127.0.0.1: the host's loopback).
pub fn parse_publish(spec: &str) -> Result<Publish, ContainerError> {
    let bad = |reason: String| ContainerError::BadOption {
        option: format!("-p {spec}"),
        reason,
    };
    let (host_part, container) = spec
        .rsplit_once(':')
        .ok_or_else(|| bad("expected [IP:]HOST_PORT:CONTAINER_PORT".into()))?;
    let container = container.trim_end_matches("/tcp");
    let container_port: u16 = container
        .parse()
        .map_err(|_| bad(format!("container port {container:?} is not a port number")))?;
    let (ip, host_port) = match host_part.rsplit_once(':') {
        Some((ip, port)) => (ip.trim_matches(['[', ']']), port),
        None => ("127.0.0.1", host_part),
    };
    let host_port: u16 = host_port
        .parse()
        .map_err(|_| bad(format!("host port {host_port:?} is not a port number")))?;
    let ip: std::net::IpAddr = ip
        .parse()
        .map_err(|_| bad(format!("{ip:?} is not an IP address")))?;
    Ok(Publish {
        host: std::net::SocketAddr::new(ip, host_port),
        container_port,
    })
}

/// How the command ended, and the image `--commit` made.
#[derive(Debug)]
pub struct RunResult {
    /// The exit status `docker run` gives: the code, or 128 + a signal.
    pub exit_code: i32,
    /// The committed image's ID.
    pub committed: Option<String>,
}

/// The image from the store, else pulled from its registry (as `docker run`
/// does).
fn image_for(store: &Store, opts: &RunOptions) -> Result<Image, ContainerError> {
    let platform = Platform::host();
    match load_image(store, &ImageSource::Named(opts.image.clone()), &platform) {
        Err(ImageError::NotInStore { .. }) => {
            let reference =
                Reference::parse(&opts.image).map_err(|e| ContainerError::BadOption {
                    option: opts.image.clone(),
                    reason: e.to_string(),
                })?;
            let client = Client::new(opts.registry.clone());
            let report = |line: &str| eprintln!("{line}");
            Ok(pull::pull(&client, store, &reference, &platform, &report)?)
        }
        other => Ok(other?),
    }
}

/// The argv: `--entrypoint` or the image's, then the command or CMD.
fn argv(image: &Image, opts: &RunOptions) -> Result<Vec<String>, ContainerError> {
    let config = &image.config.config;
    let mut argv = match &opts.entrypoint {
        Some(e) if e.is_empty() => Vec::new(),
        Some(e) => vec![e.clone()],
        None => config.entrypoint.clone().unwrap_or_default(),
    };
    if !opts.command.is_empty() {
        argv.extend(opts.command.iter().cloned());
    } else if opts.entrypoint.is_none() {
        argv.extend(config.cmd.clone().unwrap_or_default());
    }
    if argv.is_empty() {
        return Err(ContainerError::NoCommand {
            image: opts.image.clone(),
        });
    }
    Ok(argv)
}

/// The image's environment with `-e` values over it; PATH and HOME
/// defaulted as Docker does.
fn environment(image: &Image, opts: &RunOptions, home: &str) -> Vec<String> {
    let mut env: Vec<String> = image.config.env().to_vec();
    for item in &opts.env {
        let kv = match item.split_once('=') {
            Some(_) => item.clone(),
            // `-e NAME`: the value from rbuild's environment, if set.
            None => match std::env::var(item) {
                Ok(v) => format!("{item}={v}"),
                Err(_) => continue,
            },
        };
        let name = kv.split('=').next().unwrap_or("").to_string();
        env.retain(|e| e.split('=').next() != Some(name.as_str()));
        env.push(kv);
    }
    crate::steps::run::default_path_and_home(&mut env, home);
    env
}

/// Runs the command; returns its exit status (and the committed image).
pub fn run(store: &Store, opts: &RunOptions) -> Result<RunResult, ContainerError> {
    let image = image_for(store, opts)?;
    let view = RootView::new(store, &image.layers)?;
    let user_spec = opts.user.as_deref().unwrap_or(&image.config.config.user);
    let user = crate::steps::run_user::resolve_run_user(&view, user_spec)?;
    let argv = argv(&image, opts)?;
    let cwd = match opts.workdir.as_deref() {
        Some(dir) => dir.to_string(),
        None => match image.config.config.working_dir.as_str() {
            "" => "/".to_string(),
            dir => dir.to_string(),
        },
    };
    let temp = store.temp_dir()?;
    let snapshotter = opts.snapshotter.open(store);
    let mut root = snapshotter.prepare(&image.layers, temp.path())?;
    let spec = RunSpec {
        rootfs: root.spec.clone(),
        env: environment(&image, opts, &user.home),
        argv: argv.clone(),
        cwd,
        uid: user.uid,
        gid: user.gid,
        additional_gids: user.additional_gids.clone(),
        hostname: "rbuild".into(),
        extra_hosts: Vec::new(),
        network: opts.network,
        mounts: opts
            .volumes
            .iter()
            .map(|v| Mount {
                source: v.host.clone(),
                target: v.container.clone(),
                kind: MountKind::Bind {
                    readonly: v.readonly,
                },
            })
            .collect(),
        stdin: None,
        limits: opts.limits,
        privileged: false,
        stdio: if opts.tty {
            Stdio::Terminal {
                stdin: opts.interactive,
            }
        } else {
            Stdio::Inherit {
                stdin: opts.interactive,
            }
        },
        publish: opts.publish.clone(),
    };
    let outcome = sandbox::run_cancellable(&spec, &mut |_, _| {}, &Default::default())?;
    let exit_code = match outcome.status {
        sandbox::ExitStatusLike::Code(code) => code,
        sandbox::ExitStatusLike::Signal(signal) => 128 + signal,
    };
    let committed = match &opts.commit {
        Some(reference) => {
            let changes = snapshotter.changes(&mut root, &outcome.created_mount_points)?;
            Some(commit::commit(store, image, &changes, &argv, reference)?)
        }
        None => None,
    };
    Ok(RunResult {
        exit_code,
        committed,
    })
}
