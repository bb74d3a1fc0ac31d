//! RUN: the step runs in the sandbox on an overlay of the image's layers; the
//! overlay's upper directory is the diff, written as the new layer and kept as
//! that layer's snapshot (no re-unpacking for the next step).

use super::cache_key::StepInputs;
use super::diff::diff_dirs;
use super::error::BuildError;
use super::layers;
use super::progress::StepHandle;
use super::rootfs::{flatten, RootView};
use super::run_mounts::copy_tree;
use super::run_mounts::{prepare_mounts, PreparedMounts};
use super::run_user::resolve_run_user;
use super::state::StageState;
use super::Build;
use crate::image::config::DEFAULT_PATH;
use crate::ir::{CommandLine, NetworkMode, Run};
use crate::layer::{entries_from_dir, ScanOptions};
use crate::sandbox::{self, Network, RootfsSpec, RunSpec, Stream};
use std::path::PathBuf;

/// Output lines a failed step's error repeats.
const FAILURE_TAIL: usize = 10;

/// Build args that reach RUN without an ARG, and stay out of the cache key
/// and the history.
const PROXY_ARGS: [&str; 8] = [
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "FTP_PROXY",
    "ftp_proxy",
    "NO_PROXY",
    "no_proxy",
];

/// argv of the step, heredocs included as BuildKit does: a lone `<<EOF`
/// script runs through the shell (or its `#!` interpreter); heredocs feeding a
/// command are appended so a POSIX shell reads them natively.
fn argv(state: &StageState, run: &Run) -> Vec<String> {
    let mut shell = state.shell();
    match &run.command {
        CommandLine::Exec(args) => args.clone(),
        CommandLine::Shell(text) if run.heredocs.is_empty() => {
            shell.push(text.clone());
            shell
        }
        CommandLine::Shell(text) => {
            let lone = run.heredocs.len() == 1
                && crate::dockerfile::parse_heredoc_marker(text.trim())
                    .ok()
                    .flatten()
                    .is_some();
            if lone {
                let body = &run.heredocs[0].content;
                if body.starts_with("#!") {
                    // Run the script file itself, as its interpreter says.
                    return vec!["/dev/.rbuild-heredoc".into()];
                }
                shell.push(body.clone());
                return shell;
            }
            let mut script = text.clone();
            for h in &run.heredocs {
                script.push('\n');
                script.push_str(&h.content);
                script.push_str(&h.name);
            }
            shell.push(script);
            shell
        }
    }
}

/// ENV, then the declared ARGs (one set after an ENV of its name replaces
/// it), then proxy build args; PATH and HOME defaulted.
fn environment(b: &Build, state: &StageState, home: &str) -> (Vec<String>, Vec<String>) {
    let mut env: Vec<String> = state.image.config.env().to_vec();
    let has = |env: &[String], k: &str| env.iter().any(|kv| kv.split('=').next() == Some(k));
    let mut args = Vec::new();
    for (k, v) in state.scope.env(None).0 {
        if state.scope.overriding(&k).is_some() {
            // An ARG set after the ENV of the same name wins over it.
            env.retain(|kv| kv.split('=').next() != Some(k.as_str()));
        }
        if !has(&env, &k) {
            args.push(format!("{k}={v}"));
        }
    }
    env.extend(args.iter().cloned());
    for proxy in PROXY_ARGS {
        if let Some(v) = b.opts.build_args.get(proxy) {
            if !has(&env, proxy) {
                env.push(format!("{proxy}={v}"));
            }
        }
    }
    if !has(&env, "PATH") {
        env.push(format!("PATH={DEFAULT_PATH}"));
    }
    if !has(&env, "HOME") {
        env.push(format!("HOME={home}"));
    }
    (env, args)
}

fn created_by(argv: &[String], args: &[String]) -> String {
    let prefix = if args.is_empty() {
        String::new()
    } else {
        format!("|{} {} ", args.len(), args.join(" "))
    };
    format!("RUN {prefix}{} # buildkit", argv.join(" "))
}

pub fn run(
    b: &Build,
    state: &mut StageState,
    run: &Run,
    handle: StepHandle,
) -> Result<(), BuildError> {
    if run.security == Some(crate::ir::Security::Insecure) {
        return Err(BuildError::Unsupported {
            what: "RUN --security=insecure (a step with every capability)".into(),
        });
    }
    let view = RootView::new(b.store, &state.image.layers)?;
    let user = resolve_run_user(&view, &state.image.config.config.user)?;
    let argv = argv(state, run);
    let (mut env, args) = environment(b, state, &user.home);
    let cwd = match state.image.config.config.working_dir.as_str() {
        "" => "/".to_string(),
        dir => dir.to_string(),
    };
    let network = match run.network.unwrap_or(match b.opts.network {
        super::options::NetworkDefault::Host => NetworkMode::Default,
        super::options::NetworkDefault::None => NetworkMode::None,
    }) {
        NetworkMode::None => Network::None,
        NetworkMode::Default | NetworkMode::Host => Network::Host,
    };
    let mounts: PreparedMounts = prepare_mounts(b, state, run)?;
    // Proxy values and secrets stay out of the key.
    let key_env: Vec<String> = env
        .iter()
        .filter(|kv| !PROXY_ARGS.iter().any(|p| kv.starts_with(&format!("{p}="))))
        .cloned()
        .collect();
    env.extend(mounts.env.iter().cloned());
    let inputs = StepInputs::Run {
        argv: argv.clone(),
        env: key_env,
        user: state.image.config.config.user.clone(),
        workdir: cwd.clone(),
        mounts: mounts.cache_key.clone(),
        network: format!("{network:?}"),
        hosts: b.opts.add_hosts.clone(),
        heredocs: run.heredocs.iter().map(|h| h.content.clone()).collect(),
    };
    let history = created_by(&argv, &args);
    if let Some(record) = b.lookup_step(state, inputs, &handle) {
        state.image.layers.extend(layers::cached_layer(&record));
        state.history(history, record.layer.is_none());
        b.progress.cached(handle);
        return Ok(());
    }
    let temp = b.store.temp_dir()?;
    let root = prepare_root(b, state, &view, temp.path())?;
    let mut sandbox_mounts = mounts.mounts.clone();
    let script = heredoc_script(run, &argv, temp.path())?;
    sandbox_mounts.extend(script);
    let spec = RunSpec {
        rootfs: root.spec.clone(),
        argv: argv.clone(),
        env,
        cwd,
        uid: user.uid,
        gid: user.gid,
        additional_gids: user.additional_gids.clone(),
        hostname: "buildkitsandbox".into(),
        extra_hosts: b.opts.add_hosts.clone(),
        network,
        mounts: sandbox_mounts,
        stdin: None,
        limits: b.opts.limits,
    };
    let started = std::time::Instant::now();
    let progress = &b.progress;
    let mut tail = std::collections::VecDeque::with_capacity(FAILURE_TAIL);
    let mut on_output = |_: Stream, bytes: &[u8]| {
        for line in String::from_utf8_lossy(bytes).lines() {
            progress.output(&handle, started.elapsed().as_secs_f64(), line);
            if tail.len() == FAILURE_TAIL {
                tail.pop_front();
            }
            tail.push_back(line.to_string());
        }
    };
    let outcome = sandbox::run_cancellable(&spec, &mut on_output, &b.cancel)?;
    if !outcome.status.success() {
        let log = b.progress.log_path(&handle);
        b.progress.failed(handle);
        return Err(BuildError::RunFailed {
            command: argv.join(" "),
            code: outcome.status.exit_code(),
            tail: tail.into_iter().collect(),
            log,
        });
    }
    let stubs = empty_stubs(&root.changed, &outcome.created_mount_points);
    let mut entries = match &root.base {
        None => entries_from_dir(&root.changed, &ScanOptions::default())?,
        Some(base) => diff_dirs(base, &root.changed)?,
    };
    entries.retain(|e| !stubs.contains(&e.path));
    let layer = layers::commit(b.store, &entries, b.source_date_epoch)?;
    // An overlay upper dir is this layer's snapshot already, once the mount
    // stubs are gone: the next step stacks it as it is, with no unpacking.
    if root.base.is_none() && remove_stubs(&root.changed, &stubs) {
        let _ = b.store.commit_snapshot(&root.changed, &layer.diff_id.hex());
    }
    b.remember(state.stage, &state.key, Some(&layer))?;
    state.history(history, false);
    state.image.layers.push(layer);
    b.progress.done(handle);
    Ok(())
}

/// Lower directories stacked as they are; deeper parents are flattened.
/// (The kernel allows 500; 128 is what Docker's overlay2 driver uses.)
const MAX_OVERLAY_LOWERS: usize = 128;

/// Where a step runs and how its changes are found.
struct StepRoot {
    spec: RootfsSpec,
    /// The overlay upper dir, or the private copy the step ran in.
    changed: PathBuf,
    /// For the fallback snapshotter: the parent root filesystem to diff against.
    base: Option<PathBuf>,
}

/// Overlay when the kernel has it (the upper dir is the diff); otherwise, or
/// with `--snapshotter native`, a private copy of the flattened parent that is
/// compared with it afterwards.
fn prepare_root(
    b: &Build,
    state: &StageState,
    view: &RootView,
    temp: &std::path::Path,
) -> Result<StepRoot, BuildError> {
    if b.opts.snapshotter.use_overlay() {
        let upper = temp.join("upper");
        let work = temp.join("work");
        for dir in [&upper, &work] {
            std::fs::create_dir(dir).map_err(BuildError::io(dir))?;
        }
        // Past overlayfs's stacking limit the parent is flattened into one
        // lower directory (kept as a snapshot, so only once per parent).
        let lowers = if view.layers.len() > MAX_OVERLAY_LOWERS {
            vec![flatten(b.store, &state.image.layers)?]
        } else {
            view.layers.clone()
        };
        return Ok(StepRoot {
            spec: RootfsSpec::Overlay {
                lowers,
                upper: upper.clone(),
                work,
            },
            changed: upper,
            base: None,
        });
    }
    let base = flatten(b.store, &state.image.layers)?;
    let copy = temp.join("rootfs");
    copy_tree(&base, &copy)?;
    Ok(StepRoot {
        spec: RootfsSpec::Dir(copy.clone()),
        changed: copy,
        base: Some(base),
    })
}

/// Mount points the sandbox had to create that are still empty: they are no
/// part of the step's result (BuildKit drops them too). Deepest first, so a
/// created parent counts as empty once its stub child is dropped.
fn empty_stubs(upper: &std::path::Path, created: &[PathBuf]) -> Vec<PathBuf> {
    let mut stubs: Vec<PathBuf> = Vec::new();
    for path in created.iter().rev() {
        let rel = path.strip_prefix("/").unwrap_or(path).to_path_buf();
        let host = upper.join(&rel);
        let Ok(meta) = std::fs::symlink_metadata(&host) else {
            continue;
        };
        let empty = if meta.is_dir() {
            std::fs::read_dir(&host).is_ok_and(|d| {
                d.flatten()
                    .all(|e| stubs.contains(&rel.join(e.file_name())))
            })
        } else {
            meta.is_file() && meta.len() == 0
        };
        if empty {
            stubs.push(rel);
        }
    }
    stubs
}

/// Removes the (empty) stubs from the upper dir, deepest first; false if
/// one could not be removed, and the dir is then no snapshot.
fn remove_stubs(upper: &std::path::Path, stubs: &[PathBuf]) -> bool {
    stubs.iter().all(|stub| {
        let path = upper.join(stub);
        match std::fs::symlink_metadata(&path) {
            Ok(meta) if meta.is_dir() => std::fs::remove_dir(&path).is_ok(),
            Ok(_) => std::fs::remove_file(&path).is_ok(),
            Err(_) => true,
        }
    })
}

/// A `#!` heredoc script is mounted read-only as the file it runs as.
fn heredoc_script(
    run: &Run,
    argv: &[String],
    dir: &std::path::Path,
) -> Result<Option<crate::sandbox::Mount>, BuildError> {
    if argv.first().map(String::as_str) != Some("/dev/.rbuild-heredoc") {
        return Ok(None);
    }
    let path = dir.join("heredoc-script");
    std::fs::write(&path, &run.heredocs[0].content).map_err(BuildError::io(&path))?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
        .map_err(BuildError::io(&path))?;
    Ok(Some(crate::sandbox::Mount {
        source: path,
        target: "/dev/.rbuild-heredoc".into(),
        kind: crate::sandbox::MountKind::Bind { readonly: true },
    }))
}
