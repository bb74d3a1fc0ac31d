//! RUN: the step runs in the sandbox on a root the snapshotter prepares over
//! the image's layers; what it changed becomes the new layer (and, with
//! overlayfs, that layer's snapshot as it is).

use super::run_mounts::{prepare_mounts, PreparedMounts};
use super::run_user::resolve_run_user;
use crate::image::config::DEFAULT_PATH;
use crate::ir::{CommandLine, NetworkMode, Run};
use crate::sandbox::{self, Network, RunSpec, Stream};
use crate::snapshot::RootView;
use crate::solver::cache_key::StepInputs;
use crate::solver::layers;
use crate::solver::progress::StepHandle;
use crate::solver::state::StageState;
use crate::solver::Build;
use crate::solver::BuildError;

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
    default_path_and_home(&mut env, home);
    (env, args)
}

/// PATH and HOME when the environment lacks them, as Docker gives a
/// process (RUN steps and `rbuild run`).
pub(crate) fn default_path_and_home(env: &mut Vec<String>, home: &str) {
    let has = |env: &[String], k: &str| env.iter().any(|kv| kv.split('=').next() == Some(k));
    if !has(env, "PATH") {
        env.push(format!("PATH={DEFAULT_PATH}"));
    }
    if !has(env, "HOME") {
        env.push(format!("HOME={home}"));
    }
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
    let insecure = run.security == Some(crate::ir::Security::Insecure);
    if insecure && !b.opts.allow_insecure {
        return Err(BuildError::Invalid(
            "RUN --security=insecure needs the security.insecure entitlement: \
             start the build with --allow security.insecure"
                .into(),
        ));
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
        crate::solver::options::NetworkDefault::Host => NetworkMode::Default,
        crate::solver::options::NetworkDefault::None => NetworkMode::None,
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
        insecure,
    };
    let history = created_by(&argv, &args);
    if let Some(record) = b.lookup_step(state, inputs, &handle) {
        state.image.layers.extend(layers::cached_layer(&record));
        state.history(history, record.layer.is_none());
        b.progress.cached(handle);
        return Ok(());
    }
    let temp = b.store.temp_dir()?;
    let snapshotter = b.opts.snapshotter.open(b.store);
    let mut root = snapshotter.prepare(&state.image.layers, temp.path())?;
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
        privileged: insecure,
        stdio: sandbox::Stdio::Captured,
        publish: Vec::new(),
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
    let entries = snapshotter.changes(&mut root, &outcome.created_mount_points)?;
    let layer = layers::commit(b.store, &entries, b.source_date_epoch)?;
    // When it cannot keep the result, the layer is unpacked on first use.
    snapshotter.commit(root, &layer.diff_id.hex());
    b.remember(state.stage, &state.key, Some(&layer))?;
    state.history(history, false);
    state.image.layers.push(layer);
    b.progress.done(handle);
    Ok(())
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
