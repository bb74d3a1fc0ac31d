//! `rbuild run [OPTIONS] IMAGE [COMMAND...]`: a command in a container made
//! from an image (see `crate::container`); exits with the command's status.

use super::args::{LimitArgs, RegistryArgs, StoreArgs};
use super::image_cmds::open_store;
use super::Failure;
use crate::container::{self, RunOptions, Volume};
use crate::sandbox::Network;
use clap::Args;

#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// Set an environment variable (KEY=VALUE, or KEY to pass rbuild's value; repeatable)
    #[arg(short = 'e', long = "env")]
    pub env: Vec<String>,
    /// Working directory inside the container
    #[arg(short = 'w', long = "workdir")]
    pub workdir: Option<String>,
    /// User (name or id, with :group) the command runs as
    #[arg(short = 'u', long = "user")]
    pub user: Option<String>,
    /// Replace the image's entrypoint ("" clears it)
    #[arg(long)]
    pub entrypoint: Option<String>,
    /// Bind mount HOST:CONTAINER[:ro|rw] (repeatable)
    #[arg(short = 'v', long = "volume")]
    pub volumes: Vec<String>,
    /// host (the default) or none (its own network with only loopback; the default with -p)
    #[arg(long, value_parser = ["host", "none"])]
    pub network: Option<String>,
    /// Forward [IP:]HOST_PORT (IP 127.0.0.1 unless given) to CONTAINER_PORT in the container's own network (repeatable)
    #[arg(short = 'p', long = "publish")]
    pub publish: Vec<String>,
    /// Keep standard input open for the command
    #[arg(short = 'i', long)]
    pub interactive: bool,
    /// Give the command a pseudo-terminal (with -i: an interactive shell with job control)
    #[arg(short = 't', long)]
    pub tty: bool,
    /// Accepted for docker's habit: the container is always removed afterwards
    #[arg(long)]
    pub rm: bool,
    /// Keep what the command changed as a new layer, tagged REF
    #[arg(long, value_name = "REF")]
    pub commit: Option<String>,
    #[command(flatten)]
    pub limits: LimitArgs,
    #[command(flatten)]
    pub registry: RegistryArgs,
    /// The image to run
    pub image: String,
    /// The command and its arguments (default: the image's CMD)
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

pub fn run(args: RunArgs) -> Result<i32, Failure> {
    let usage = |e: container::ContainerError| Failure::usage(format!("error: {e}"));
    let volumes = args
        .volumes
        .iter()
        .map(|v| Volume::parse(v).map_err(usage))
        .collect::<Result<Vec<_>, _>>()?;
    let publish = args
        .publish
        .iter()
        .map(|p| container::parse_publish(p).map_err(usage))
        .collect::<Result<Vec<_>, _>>()?;
    let opts = RunOptions {
        image: args.image.clone(),
        command: args.command.clone(),
        entrypoint: args.entrypoint.clone(),
        env: args.env.clone(),
        workdir: args.workdir.clone(),
        user: args.user.clone(),
        volumes,
        network: match (args.network.as_deref(), publish.is_empty()) {
            (Some("host"), false) => {
                return Err(Failure::usage(
                    "error: -p forwards into the container's own network; it cannot be used with --network host".into(),
                ))
            }
            (Some("none"), _) | (None, false) => Network::None,
            _ => Network::Host,
        },
        publish,
        interactive: args.interactive,
        tty: args.tty,
        limits: args.limits.limits(),
        commit: args.commit.clone(),
        snapshotter: Default::default(),
        registry: super::registry_cmds::registry_config(&args.registry)?,
    };
    // Ctrl-C and SIGTERM stop the container and leave nothing behind.
    crate::sandbox::install_interrupt_handler();
    let store = open_store(&args.store)?;
    let _lock = store.lock_shared().map_err(Failure::error)?;
    let result = container::run(&store, &opts).map_err(|e| {
        let mut failure = Failure::error(e);
        if crate::sandbox::interrupted() {
            failure.code = 130;
        }
        failure
    })?;
    if let Some(id) = &result.committed {
        eprintln!("committed {} as {id}", opts.commit.as_deref().unwrap_or(""));
    }
    Ok(result.exit_code)
}
