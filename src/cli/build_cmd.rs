//! `rbuild build`: plan, lint, run the build, export.

use super::args::{BuildArgs, CompressionArg, Progress, SnapshotterArg};
use super::diagnostics::parse_and_lower;
use super::input::{find_dockerfile, DockerfileSource};
use super::registry_cmds::report_line;
use super::render::{Level, Report};
use super::Failure;
use crate::dockerfile::{Position, Span};
use crate::export::{LayerChoice, Output};
use crate::image::Platform;
use crate::layer::Compression;
use crate::pipeline::{self, Built, Delivery, PipelineError};
use crate::registry::Reference;
use crate::solver::cache_spec::{CacheExport, CacheImport};
use crate::solver::{self, BuildOptions, NamedContext, NetworkDefault, ProgressMode, SecretSource};
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

/// SOURCE_DATE_EPOCH from `--build-arg`, else the environment.
pub(super) fn source_date_epoch(
    build_args: &BTreeMap<String, String>,
) -> Result<Option<i64>, Failure> {
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

/// A build error for people: the failing step's Dockerfile line as a
/// snippet, the cause with its chain, and for a failed RUN its last output
/// lines and where its whole output is kept.
fn render_build_error(err: &solver::BuildError, source: &DockerfileSource) -> String {
    let solver::BuildError::Step {
        line,
        source: inner,
        ..
    } = err
    else {
        return super::render::error_text(err);
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
    if let solver::BuildError::RunFailed { tail, log, .. } = inner.as_ref() {
        if !tail.is_empty() {
            let lines: Vec<String> = tail.iter().map(|l| format!("  | {l}")).collect();
            notes.push(format!("last lines of output:\n{}", lines.join("\n")));
        }
        if let Some(log) = log {
            notes.push(format!("the step's whole output: {}", log.display()));
        }
    }
    let message = format!(
        "{inner}\n{}",
        super::render::cause_lines(std::error::Error::source(inner.as_ref()))
    );
    let message = message.trim_end().to_string();
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
            SnapshotterArg::Auto => crate::snapshot::SnapshotterKind::Auto,
            SnapshotterArg::Overlay => crate::snapshot::SnapshotterKind::Overlay,
            SnapshotterArg::Native => crate::snapshot::SnapshotterKind::Native,
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
        allow_insecure: args.allow.iter().any(|a| a == "security.insecure"),
        limits: args.limits.limits(),
        cache_to: args
            .cache_to
            .iter()
            .map(|c| CacheExport::parse(c).map_err(|e| Failure::usage(format!("error: {e}"))))
            .collect::<Result<_, _>>()?,
    };
    let delivery = Delivery {
        tags: args.tags.clone(),
        outputs,
        pushes: push_names,
        compression: match args.compression {
            CompressionArg::Gzip => Compression::Gzip,
            CompressionArg::Zstd => Compression::Zstd,
            CompressionArg::Uncompressed => Compression::None,
        },
        load: args.load,
    };
    let root = args.root.clone().unwrap_or_else(default_root);
    let store = Store::open(&root).map_err(Failure::error)?;
    let _lock = store.lock_shared().map_err(Failure::error)?;
    let built = pipeline::build_and_export(&store, &plan, &opts, &delivery, &report_line)
        .map_err(|e| build_failure(&e, &source))?;
    for pushed in &built.pushed {
        println!("{pushed}");
    }
    write_result_files(&args, &built, &delivery)?;
    let id = &built.config_digest;
    match opts.progress {
        // As `docker build -q`: only the image ID, on standard output.
        ProgressMode::Quiet => println!("{id}"),
        ProgressMode::RawJson => eprintln!(
            "{}",
            serde_json::json!({ "event": "image", "id": id.to_string(), "size": built.size() })
        ),
        ProgressMode::Plain | ProgressMode::Tty => {
            eprintln!("image {id} built ({:.1} MB)", built.size() as f64 / 1e6)
        }
    }
    Ok(0)
}

/// A failed build for people: a failing step with its Dockerfile line;
/// exit 130 when interrupted.
fn build_failure(err: &PipelineError, source: &DockerfileSource) -> Failure {
    let message = match err {
        PipelineError::Build(e) => render_build_error(e, source),
        other => super::render::error_text(other),
    };
    let code = if crate::sandbox::interrupted() {
        130
    } else {
        1
    };
    Failure { message, code }
}

/// `--metadata-file` and `--iidfile`.
fn write_result_files(args: &BuildArgs, built: &Built, delivery: &Delivery) -> Result<(), Failure> {
    let write = |path: &std::path::Path, text: String| {
        std::fs::write(path, text)
            .map_err(|e| Failure::message(format!("writing {}: {e}", path.display())))
    };
    if let Some(path) = &args.metadata_file {
        let names: Vec<String> = if delivery.pushes.is_empty() {
            args.tags.clone()
        } else {
            delivery.pushes.iter().map(|(r, _)| r.to_string()).collect()
        };
        let text =
            serde_json::to_string_pretty(&built.metadata(&names)).expect("JSON values serialise");
        write(path, text + "\n")?;
    }
    if let Some(path) = &args.iidfile {
        write(path, built.config_digest.to_string())?;
    }
    Ok(())
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
