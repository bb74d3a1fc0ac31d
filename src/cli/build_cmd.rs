//! `rbuild build`: plan, lint, run the build, export.

use super::args::{BuildArgs, CompressionArg, Progress, SnapshotterArg};
use super::diagnostics::parse_and_lower;
use super::input::{find_dockerfile, DockerfileSource};
use super::render::{Level, Report};
use super::Failure;
use crate::build::cache_spec::{CacheExport, CacheImport};
use crate::build::{
    self, BuildOptions, NamedContext, NetworkDefault, ProgressMode, SecretSource, Snapshotter,
};
use crate::dockerfile::{Position, Span};
use crate::export::{self, LayerChoice, Output};
use crate::image::Platform;
use crate::layer::Compression;
use crate::registry::Reference;
use crate::store::{default_root, Store};
use std::collections::BTreeMap;
use std::io::IsTerminal;

fn key_values(
    items: &[String],
    what: &str,
    from_env: bool,
) -> Result<BTreeMap<String, String>, Failure> {
    let mut map = BTreeMap::new();
    for item in items {
        match item.split_once('=') {
            Some((k, v)) => {
                map.insert(k.to_string(), v.to_string());
            }
            None if from_env => {
                // `--build-arg NAME` takes the value from the environment.
                if let Ok(v) = std::env::var(item) {
                    map.insert(item.clone(), v);
                }
            }
            None => {
                return Err(Failure::usage(format!(
                    "error: {what} {item:?} must be KEY=VALUE"
                )))
            }
        }
    }
    Ok(map)
}

fn source_date_epoch(build_args: &BTreeMap<String, String>) -> Result<Option<i64>, Failure> {
    let raw = build_args
        .get("SOURCE_DATE_EPOCH")
        .cloned()
        .or_else(|| std::env::var("SOURCE_DATE_EPOCH").ok())
        .filter(|v| !v.is_empty());
    raw.map(|v| {
        v.parse::<i64>().map_err(|_| {
            Failure::usage(format!(
                "error: invalid SOURCE_DATE_EPOCH {v:?}: expected seconds since 1970"
            ))
        })
    })
    .transpose()
}

/// `--secret id=ID,src=PATH` / `id=ID,env=VAR` (`source=`/`type=file|env` accepted).
fn secrets(specs: &[String]) -> Result<BTreeMap<String, SecretSource>, Failure> {
    let mut map = BTreeMap::new();
    for spec in specs {
        let mut id = None;
        let mut source = None;
        let mut kind = "file";
        for field in spec.split(',') {
            match field.split_once('=') {
                Some(("id", v)) => id = Some(v.to_string()),
                Some(("src" | "source", v)) => source = Some(v.to_string()),
                Some(("env", v)) => {
                    kind = "env";
                    source = Some(v.to_string());
                }
                Some(("type", t @ ("file" | "env"))) => kind = t,
                _ => {
                    return Err(Failure::usage(format!(
                        "error: --secret {spec:?}: expected id=ID,src=PATH or id=ID,env=VAR"
                    )))
                }
            }
        }
        let id =
            id.ok_or_else(|| Failure::usage(format!("error: --secret {spec:?}: id= is required")))?;
        // `type=env,src=VAR` names a variable; a bare id is a variable too.
        let source = match (kind, source) {
            ("env", Some(var)) => SecretSource::Env(var),
            (_, Some(path)) => SecretSource::File(path.into()),
            (_, None) => SecretSource::Env(id.clone()),
        };
        map.insert(id, source);
    }
    Ok(map)
}

/// `--ssh default` (the host's SSH_AUTH_SOCK) or `--ssh ID=SOCKET`.
fn ssh_agents(specs: &[String]) -> Result<BTreeMap<String, std::path::PathBuf>, Failure> {
    let mut map = BTreeMap::new();
    for spec in specs {
        let (id, socket) = match spec.split_once('=') {
            Some((id, socket)) => (id.to_string(), socket.into()),
            None => {
                let socket = std::env::var_os("SSH_AUTH_SOCK").ok_or_else(|| {
                    Failure::usage(format!("error: --ssh {spec}: SSH_AUTH_SOCK is not set"))
                })?;
                (spec.clone(), socket.into())
            }
        };
        map.insert(id, socket);
    }
    Ok(map)
}

/// The error and its causes, one `caused by:` line each.
fn render_error(err: &dyn std::error::Error) -> String {
    let mut text = format!("error: {err}\n");
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(&format!("  caused by: {cause}\n"));
        source = cause.source();
    }
    text
}

/// A build error for people: the failing step's Dockerfile line as a
/// snippet, the cause with its chain, and for a failed RUN its last output
/// lines and where its whole output is kept.
fn render_build_error(err: &build::BuildError, source: &DockerfileSource) -> String {
    let build::BuildError::Step {
        line,
        source: inner,
        ..
    } = err
    else {
        return render_error(err);
    };
    let text = source.text();
    let width = text
        .lines()
        .nth(line.saturating_sub(1))
        .map_or(1, |l| l.chars().count());
    let at = |column| Position {
        line: *line,
        column,
        offset: 0,
    };
    let mut notes = Vec::new();
    if let build::BuildError::RunFailed { tail, log, .. } = inner.as_ref() {
        if !tail.is_empty() {
            let lines: Vec<String> = tail.iter().map(|l| format!("  | {l}")).collect();
            notes.push(format!("last lines of output:\n{}", lines.join("\n")));
        }
        if let Some(log) = log {
            notes.push(format!("the step's whole output: {}", log.display()));
        }
    }
    let mut message = inner.to_string();
    let mut cause = std::error::Error::source(inner.as_ref());
    while let Some(c) = cause {
        message.push_str(&format!("\n  caused by: {c}"));
        cause = c.source();
    }
    Report {
        level: Level::Error,
        message,
        span: Some(Span::new(at(1), at(width + 1))),
        hint: None,
        notes,
        file: &source.name,
        source: &text,
    }
    .render()
}

pub fn run(
    args: BuildArgs,
    lint_ok: impl FnOnce(&super::input::DockerfileSource) -> Result<(), Failure>,
) -> Result<i32, Failure> {
    if !args.context.is_dir() {
        return Err(Failure::usage(format!(
            "error: build context {} is not a directory",
            args.context.display()
        )));
    }
    // Ctrl-C and SIGTERM stop the running steps and leave the store as it
    // was (exit 130), instead of killing rbuild mid-write.
    crate::sandbox::install_interrupt_handler();
    let source = find_dockerfile(args.file.as_deref(), &args.context)?;
    lint_ok(&source)?;
    let (_, plan) = parse_and_lower(&source)?;
    let build_args = key_values(&args.build_args, "--build-arg", true)?;
    let labels = key_values(&args.labels, "--label", false)?;
    let outputs = args
        .output
        .iter()
        .map(|o| Output::parse_with_layers(o).map_err(|e| Failure::usage(format!("error: {e}"))))
        .collect::<Result<Vec<_>, _>>()?;
    let push_names = push_targets(&args, &outputs)?;
    let platform = match &args.platform {
        Some(p) => Platform::parse(p).map_err(|e| Failure::usage(format!("error: {e}")))?,
        None => Platform::host(),
    };
    if let Some(target) = &args.target {
        if plan.stage_index(target).is_none() {
            return Err(Failure::usage(format!(
                "error: target stage {target:?} could not be found"
            )));
        }
    }
    let opts = BuildOptions {
        source_date_epoch: source_date_epoch(&build_args)?,
        build_args,
        target: args.target.clone(),
        no_cache: args.no_cache,
        platform,
        labels,
        progress: match args.progress {
            Progress::Quiet => ProgressMode::Quiet,
            Progress::Plain => ProgressMode::Plain,
            Progress::Tty => ProgressMode::Tty,
            Progress::Rawjson => ProgressMode::RawJson,
            Progress::Auto if std::io::stderr().is_terminal() => ProgressMode::Tty,
            Progress::Auto => ProgressMode::Plain,
        },
        context_dir: args.context.clone(),
        dockerfile_path: args.file.as_deref().filter(|f| *f != "-").map(Into::into),
        named_contexts: args
            .build_contexts
            .iter()
            .map(|c| NamedContext::parse(c).map_err(|e| Failure::usage(format!("error: {e}"))))
            .collect::<Result<_, _>>()?,
        secrets: secrets(&args.secrets)?,
        ssh: ssh_agents(&args.ssh)?,
        network: match args.network.as_str() {
            "default" | "host" => NetworkDefault::Host,
            "none" => NetworkDefault::None,
            other => {
                return Err(Failure::usage(format!(
                    "error: --network {other:?}: use default, none or host"
                )))
            }
        },
        add_hosts: args
            .add_hosts
            .iter()
            .map(|h| {
                h.split_once(':')
                    .map(|(n, ip)| (n.to_string(), ip.to_string()))
                    .ok_or_else(|| {
                        Failure::usage(format!("error: --add-host {h:?}: expected NAME:IP"))
                    })
            })
            .collect::<Result<_, _>>()?,
        snapshotter: match args.snapshotter {
            SnapshotterArg::Auto => Snapshotter::Auto,
            SnapshotterArg::Overlay => Snapshotter::Overlay,
            SnapshotterArg::Native => Snapshotter::Native,
        },
        registry: super::registry_cmds::registry_config(&args.registry)?,
        pull: args.pull,
        cache_from: args
            .cache_from
            .iter()
            .map(|c| CacheImport::parse(c).map_err(|e| Failure::usage(format!("error: {e}"))))
            .collect::<Result<_, _>>()?,
        jobs: args.jobs.map(usize::from),
        no_cache_filter: args.no_cache_filter.clone(),
        limits: crate::sandbox::Limits {
            pids: args.pids_limit,
            memory: args.memory,
        },
        cache_to: args
            .cache_to
            .iter()
            .map(|c| CacheExport::parse(c).map_err(|e| Failure::usage(format!("error: {e}"))))
            .collect::<Result<_, _>>()?,
    };
    let root = args.root.clone().unwrap_or_else(default_root);
    let store = Store::open(&root).map_err(|e| Failure::build(render_error(&e)))?;
    let _lock = store
        .lock_shared()
        .map_err(|e| Failure::build(render_error(&e)))?;
    let image = build::build(&store, &plan, &opts).map_err(|e| {
        let code = if crate::sandbox::interrupted() {
            130
        } else {
            1
        };
        Failure {
            message: render_build_error(&e, &source),
            code,
        }
    })?;
    let compression = match args.compression {
        CompressionArg::Gzip => Compression::Gzip,
        CompressionArg::Zstd => Compression::Zstd,
        CompressionArg::Uncompressed => Compression::None,
    };
    let stored = export::store_image(&store, &image, &args.tags)
        .map_err(|e| Failure::build(render_error(&e)))?;
    for (output, layers) in &outputs {
        let chosen = layers.compression.unwrap_or(compression);
        export::export(&store, &image, output, &args.tags, chosen, layers.force)
            .map_err(|e| Failure::build(render_error(&e)))?;
    }
    // The manifest digest a registry has; else the store's.
    let mut image_digest = stored.manifest.digest;
    if !push_names.is_empty() {
        let client = crate::registry::Client::new(opts.registry.clone());
        for (name, layers) in &push_names {
            let chosen = layers.compression.unwrap_or(compression);
            image_digest = super::registry_cmds::push_image(
                &client,
                &store,
                &image,
                name,
                chosen,
                layers.force,
            )?;
        }
    }
    if let Some(path) = &args.metadata_file {
        let names: Vec<String> = push_names.iter().map(|(r, _)| r.to_string()).collect();
        let names = if names.is_empty() {
            args.tags.clone()
        } else {
            names
        };
        let metadata = serde_json::json!({
            "containerimage.config.digest": stored.config.digest.to_string(),
            "containerimage.digest": image_digest.to_string(),
            "image.name": names.join(","),
        });
        let text = serde_json::to_string_pretty(&metadata).expect("JSON values serialise");
        std::fs::write(path, text + "\n")
            .map_err(|e| Failure::build(format!("error: writing {}: {e}", path.display())))?;
    }
    if args.load {
        load_into_engine(&store, &image, &args.tags, compression)?;
    }
    if let Some(path) = &args.iidfile {
        std::fs::write(path, stored.config.digest.to_string())
            .map_err(|e| Failure::build(format!("error: writing {}: {e}", path.display())))?;
    }
    let bytes: u64 = image.layers.iter().map(|l| l.size).sum();
    match opts.progress {
        // As `docker build -q`: only the image ID, on standard output.
        ProgressMode::Quiet => println!("{}", stored.config.digest),
        ProgressMode::RawJson => eprintln!(
            "{}",
            serde_json::json!({
                "event": "image", "id": stored.config.digest.to_string(), "size": bytes,
            })
        ),
        ProgressMode::Plain | ProgressMode::Tty => eprintln!(
            "image {} built ({:.1} MB)",
            stored.config.digest,
            bytes as f64 / 1e6
        ),
    }
    Ok(0)
}

/// The references `--push` and `--output type=registry|image,push=true`
/// push to, checked before the build starts.
fn push_targets(
    args: &BuildArgs,
    outputs: &[(Output, LayerChoice)],
) -> Result<Vec<(Reference, LayerChoice)>, Failure> {
    let mut names: Vec<(String, LayerChoice)> = Vec::new();
    if args.push {
        names.extend(
            args.tags
                .iter()
                .map(|t| (t.clone(), LayerChoice::default())),
        );
    }
    for (output, layers) in outputs {
        if let Output::Image { name, push: true } = output {
            match name {
                Some(n) => names.push((n.clone(), *layers)),
                None => names.extend(args.tags.iter().map(|t| (t.clone(), *layers))),
            }
        }
    }
    let wants_push = args.push
        || outputs
            .iter()
            .any(|(o, _)| matches!(o, Output::Image { push: true, .. }));
    if wants_push && names.is_empty() {
        return Err(Failure::usage(
            "error: pushing needs a name: give -t NAME or --output type=registry,name=NAME".into(),
        ));
    }
    names.dedup_by(|a, b| a.0 == b.0);
    names
        .iter()
        .map(|(n, layers)| {
            Reference::parse(n)
                .map(|r| (r, *layers))
                .map_err(|e| Failure::usage(format!("error: {e}")))
        })
        .collect()
}

/// `--load`: a docker-archive handed to `docker load`, or to `podman load`
/// when no docker daemon answers.
fn load_into_engine(
    store: &Store,
    image: &crate::image::Image,
    tags: &[String],
    compression: Compression,
) -> Result<(), Failure> {
    let temp = store
        .temp_dir()
        .map_err(|e| Failure::build(render_error(&e)))?;
    let archive = temp.path().join("image.docker.tar");
    let output = Output::Docker {
        dest: archive.clone(),
    };
    export::export(store, image, &output, tags, compression, false)
        .map_err(|e| Failure::build(render_error(&e)))?;
    let docker_ok = std::process::Command::new("docker")
        .args(["info", "--format", "{{.ServerVersion}}"])
        .output()
        .is_ok_and(|o| o.status.success());
    let engine = if docker_ok { "docker" } else { "podman" };
    let status = std::process::Command::new(engine)
        .arg("load")
        .arg("-i")
        .arg(&archive)
        .status()
        .map_err(|e| Failure::build(format!("error: --load: running {engine}: {e}")))?;
    if !status.success() {
        return Err(Failure::build(format!(
            "error: --load: {engine} load failed ({status})"
        )));
    }
    Ok(())
}
