//! `rbuild bake [-f compose.yaml] [SERVICE...]`: builds the Compose file's
//! services that have a `build:` section, concurrently, into one store.
//! Each target goes through exactly the options `rbuild build` takes (its
//! argument list is made and parsed by the same parser), and a step that
//! several targets share is made once: the others wait on its step lock and
//! find it cached.

use super::args::{Cli, Command, StoreArgs};
use super::Failure;
use crate::compose::{self, Plan, Target};
use clap::{Args, Parser};
use std::path::{Path, PathBuf};

#[derive(Debug, Args)]
pub struct BakeArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// The Compose file (default: compose.yaml, compose.yml, docker-compose.yaml or docker-compose.yml)
    #[arg(short = 'f', long = "file")]
    pub file: Option<PathBuf>,
    /// Print the resolved targets as JSON and build nothing
    #[arg(long)]
    pub print: bool,
    /// Push every target's tags after building it
    #[arg(long)]
    pub push: bool,
    /// Build without the cache
    #[arg(long = "no-cache")]
    pub no_cache: bool,
    /// Progress output: auto, plain, tty, quiet or rawjson
    #[arg(long, default_value = "plain")]
    pub progress: String,
    /// Services to build (default: every one with a build section)
    pub services: Vec<String>,
}

fn compose_file(given: Option<&Path>) -> Result<PathBuf, Failure> {
    if let Some(path) = given {
        return Ok(path.to_path_buf());
    }
    const NAMES: [&str; 4] = [
        "compose.yaml",
        "compose.yml",
        "docker-compose.yaml",
        "docker-compose.yml",
    ];
    NAMES
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
        .ok_or_else(|| {
            Failure::usage(format!(
                "error: no Compose file here ({}); give one with -f",
                NAMES.join(", ")
            ))
        })
}

/// The `rbuild build` arguments for one target.
fn build_argv(args: &BakeArgs, target: &Target) -> Vec<String> {
    let mut argv: Vec<String> = vec!["rbuild".into(), "build".into()];
    let mut add = |flag: &str, value: &str| {
        argv.push(flag.into());
        argv.push(value.into());
    };
    if let Some(root) = &args.store.root {
        add("--root", &root.to_string_lossy());
    }
    add("-f", &target.dockerfile.to_string_lossy());
    add("--progress", &args.progress);
    for tag in &target.tags {
        add("-t", tag);
    }
    for (k, v) in &target.args {
        add("--build-arg", &format!("{k}={v}"));
    }
    for (k, v) in &target.labels {
        add("--label", &format!("{k}={v}"));
    }
    if let Some(stage) = &target.target {
        add("--target", stage);
    }
    for c in &target.cache_from {
        add("--cache-from", c);
    }
    for c in &target.cache_to {
        add("--cache-to", c);
    }
    if args.no_cache {
        argv.push("--no-cache".into());
    }
    if args.push {
        argv.push("--push".into());
    }
    argv.push(target.context.to_string_lossy().into_owned());
    argv
}

pub fn bake(args: BakeArgs) -> Result<i32, Failure> {
    let file = compose_file(args.file.as_deref())?;
    let plan: Plan =
        compose::load(&file, &args.services).map_err(|e| Failure::usage(format!("error: {e}")))?;
    if args.print {
        let json = serde_json::to_string_pretty(&plan.to_json()).map_err(Failure::error)?;
        println!("{json}");
        return Ok(0);
    }
    // Every target's options are checked before any build starts.
    let mut builds = Vec::new();
    for (name, target) in &plan.target {
        let cli = Cli::try_parse_from(build_argv(&args, target))
            .map_err(|e| Failure::usage(format!("error: service {name:?}: {}", e.render())))?;
        let Command::Build(build) = cli.command else {
            unreachable!("the argument list starts with `build`");
        };
        builds.push((name.clone(), *build));
    }
    let results: Vec<(String, Result<i32, Failure>)> = std::thread::scope(|scope| {
        let running: Vec<_> = builds
            .into_iter()
            .map(|(name, build)| (name, scope.spawn(move || super::commands::build(build))))
            .collect();
        running
            .into_iter()
            .map(|(name, handle)| {
                let result = handle.join().unwrap_or_else(|_| {
                    Err(Failure::message("the build thread panicked".to_string()))
                });
                (name, result)
            })
            .collect()
    });
    let mut status = 0;
    for (name, result) in results {
        match result {
            Ok(0) => eprintln!("service {name}: built"),
            Ok(code) => {
                eprintln!("service {name}: exit {code}");
                status = status.max(code);
            }
            Err(failure) => {
                eprint!("service {name}: {}", failure.message);
                if !failure.message.ends_with('\n') {
                    eprintln!();
                }
                status = status.max(failure.code);
            }
        }
    }
    Ok(status)
}
