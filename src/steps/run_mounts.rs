//! `RUN --mount` types turned into sandbox mounts: bind (context, stage or
//! image; read-only unless `rw`, whose writes are discarded), cache (kept in
//! the store across builds, never in a layer), tmpfs, secret (a private file
//! or an environment variable; never in a layer, the history or a cache key)
//! and ssh (the agent socket).

use super::workdir::normalize_workdir;
use crate::context::{Context, PatternMatcher, StatCache};
use crate::image::ImageSource;
use crate::ir::{Mount as MountDef, MountError, MountType, Run, Sharing};
use crate::sandbox::{Mount, MountKind};
use crate::snapshot::{copy_tree, flatten};
use crate::solver::options::SecretSource;
use crate::solver::state::StageState;
use crate::solver::Build;
use crate::solver::BuildError;
use crate::store::TempDir;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Mounts ready for the sandbox, and what they add to the step.
pub struct PreparedMounts {
    pub mounts: Vec<Mount>,
    /// Environment variables from `type=secret,env=` and ssh.
    pub env: Vec<String>,
    /// What the mounts contribute to the cache key (definitions and bind
    /// contents; never secret values).
    pub cache_key: String,
    /// Private files (secrets, rw bind copies) that live for the step.
    pub _temps: Vec<TempDir>,
    /// Locks held for `sharing=locked` cache mounts.
    pub _locks: Vec<std::fs::File>,
}

fn resolve(state: &StageState, def: &crate::ir::MountSpec) -> Result<MountDef, BuildError> {
    def.resolve(|v| {
        state
            .expand(v)
            .map_err(|e| MountError::Expansion(e.to_string()))
    })
    .map_err(|e| BuildError::Invalid(format!("--mount: {e}")))
}

fn target_path(state: &StageState, target: Option<&str>) -> PathBuf {
    PathBuf::from(normalize_workdir(
        &state.image.config.config.working_dir,
        target.unwrap_or(""),
    ))
}

pub fn prepare_mounts(
    b: &Build,
    state: &StageState,
    run: &Run,
) -> Result<PreparedMounts, BuildError> {
    let mut prepared = PreparedMounts {
        mounts: Vec::new(),
        env: Vec::new(),
        cache_key: String::new(),
        _temps: Vec::new(),
        _locks: Vec::new(),
    };
    for (index, spec) in run.mounts.iter().enumerate() {
        let def = resolve(state, spec)?;
        // Every option of the mount is an input of the step (a cache id,
        // its sharing, a secret's id; never a secret's value).
        let typed = serde_json::to_string(&def).expect("mounts serialise");
        prepared.cache_key.push_str(&typed);
        prepared.cache_key.push(';');
        match def.kind {
            MountType::Bind => bind(b, state, &def, &mut prepared)?,
            MountType::Cache => cache(b, state, &def, &mut prepared)?,
            MountType::Tmpfs => prepared.mounts.push(Mount {
                source: "tmpfs".into(),
                target: target_path(state, def.target.as_deref()),
                kind: MountKind::Tmpfs { size: def.size },
            }),
            MountType::Secret => secret(b, state, &def, &mut prepared)?,
            MountType::Ssh => ssh(b, &def, index, &mut prepared)?,
        }
    }
    Ok(prepared)
}

/// The directory a `from=` names, or the build context.
fn source_root(b: &Build, from: Option<&str>) -> Result<PathBuf, BuildError> {
    let Some(from) = from else {
        return Ok(b.context.root().to_path_buf());
    };
    if let Some(index) = b.plan.stage_index(from) {
        let stage = b.finished_stage(index).ok_or_else(|| {
            BuildError::Invalid(format!("--mount from={from}: stage has not been built"))
        })?;
        return Ok(flatten(b.store, &stage.image.layers)?);
    }
    if let Some(crate::solver::options::NamedContext::Dir(dir)) =
        b.opts.named_contexts.get(&from.to_ascii_lowercase())
    {
        return Ok(dir.clone());
    }
    let image = crate::solver::images::load(b, &ImageSource::parse(from), &b.opts.platform)?;
    Ok(flatten(b.store, &image.layers)?)
}

fn bind(
    b: &Build,
    state: &StageState,
    def: &MountDef,
    prepared: &mut PreparedMounts,
) -> Result<(), BuildError> {
    // The build context is the one already open (with its .dockerignore);
    // stages and images are read like contexts with nothing ignored.
    let opened;
    let ctx = match def.from.as_deref() {
        None => &b.context,
        Some(from) => {
            opened = Context::open(&source_root(b, Some(from))?, None)?;
            &opened
        }
    };
    let root = ctx.root().to_path_buf();
    let rel = def.source.as_deref().unwrap_or("").trim_start_matches('/');
    let sources = if rel.is_empty() {
        vec![crate::context::ResolvedSource::root()]
    } else {
        ctx.resolve_source(rel)?
    };
    let source = sources
        .first()
        .ok_or_else(|| BuildError::Invalid(format!("--mount source {rel:?} not found")))?;
    // The mounted content is an input of the step.
    let mut stat_cache = StatCache::new();
    prepared
        .cache_key
        .push_str(&ctx.digest(&sources, &mut stat_cache)?);
    let mut host = root.join(&source.rel);
    if source.is_dir && !ctx.excludes().is_empty() {
        // Ignored files must not show through the mount: mount a tree of
        // only what the context exposes (hard links where possible).
        let temp = b.store.temp_dir()?;
        let view = temp.path().join("bind");
        filtered_tree(ctx, &source.rel, &view)?;
        host = view;
        prepared._temps.push(temp);
    }
    if !def.readonly {
        // Writes to a rw bind mount are discarded: mount a private copy.
        let temp = b.store.temp_dir()?;
        let copy = temp.path().join("bind");
        copy_tree(&host, &copy)?;
        host = copy;
        prepared._temps.push(temp);
    }
    prepared.mounts.push(Mount {
        source: host,
        target: target_path(state, def.target.as_deref()),
        kind: MountKind::Bind {
            readonly: def.readonly,
        },
    });
    Ok(())
}

/// The context entries under `rel` recreated at `dest`: directories and
/// symlinks made anew, files hard-linked (copied across filesystems).
fn filtered_tree(ctx: &Context, rel: &Path, dest: &Path) -> Result<(), BuildError> {
    std::fs::create_dir_all(dest).map_err(BuildError::io(dest))?;
    for entry in ctx.entries(rel)? {
        let within = entry.rel.strip_prefix(rel).unwrap_or(&entry.rel);
        let target = if within.as_os_str().is_empty() {
            dest.join(entry.rel.file_name().unwrap_or_default())
        } else {
            dest.join(within)
        };
        let source = ctx.root().join(&entry.rel);
        match &entry.kind {
            crate::context::EntryKind::Dir => {
                std::fs::create_dir_all(&target).map_err(BuildError::io(&target))?
            }
            crate::context::EntryKind::Symlink { target: link } => {
                std::os::unix::fs::symlink(link, &target).map_err(BuildError::io(&target))?
            }
            crate::context::EntryKind::File => {
                if std::fs::hard_link(&source, &target).is_err() {
                    std::fs::copy(&source, &target).map_err(BuildError::io(&target))?;
                }
            }
            crate::context::EntryKind::Other => {}
        }
    }
    Ok(())
}

/// A cache mount's directory in the store, made on first use. With `from=`
/// it starts as a copy of that stage's or image's `source` directory, and
/// each seed has a cache of its own (BuildKit keys such caches by id and base).
fn cache(
    b: &Build,
    state: &StageState,
    def: &MountDef,
    prepared: &mut PreparedMounts,
) -> Result<(), BuildError> {
    let target = target_path(state, def.target.as_deref());
    let id = def
        .id
        .clone()
        .unwrap_or_else(|| target.to_string_lossy().into_owned());
    let seed = cache_seed(b, def)?;
    let name = match &seed {
        None => crate::store::names::encode(&id),
        Some(seed) => {
            let identity = seed_identity(b, seed)?;
            prepared.cache_key.push_str(&format!("seed={identity};"));
            let digest = crate::solver::state::chain_key("cache-seed", &[&id, &identity]);
            crate::store::names::encode(&format!("{id}@{}", &digest[..16]))
        }
    };
    let parent = b.store.root().join("cache-mounts");
    let dir = parent.join(&name);
    if !dir.exists() {
        // Made complete (contents, mode, owner) under a temp name, then
        // renamed: a concurrent build never mounts a half-prepared cache.
        std::fs::create_dir_all(&parent).map_err(BuildError::io(&parent))?;
        let temp = b.store.temp_dir()?;
        let fresh = temp.path().join("cache");
        match &seed {
            Some(seed) => copy_tree(seed, &fresh)?,
            None => new_cache_dir(&fresh, def)?,
        }
        // Losing the race to another build is fine: its directory is used.
        let _ = std::fs::rename(&fresh, &dir);
    }
    // `locked` waits for the other users of the id; `private` takes the
    // shared directory only when no one else uses it, and otherwise a fresh
    // one of its own for this step (BuildKit: a new mount when there are
    // several writers). Locks live apart from the cache directories (a
    // leading dot never starts an encoded id), one per id.
    let mut source = dir;
    if matches!(def.sharing, Some(Sharing::Locked | Sharing::Private)) {
        let locks = parent.join(".locks");
        std::fs::create_dir_all(&locks).map_err(BuildError::io(&locks))?;
        let lock_path = locks.join(&name);
        let file = std::fs::File::create(&lock_path).map_err(BuildError::io(&lock_path))?;
        let owned = if def.sharing == Some(Sharing::Locked) {
            file.lock().map_err(BuildError::io(&lock_path))?;
            true
        } else {
            file.try_lock().is_ok()
        };
        if owned {
            prepared._locks.push(file);
        } else {
            let temp = b.store.temp_dir()?;
            let own = temp.path().join("cache");
            match &seed {
                Some(seed) => copy_tree(seed, &own)?,
                None => new_cache_dir(&own, def)?,
            }
            source = own;
            prepared._temps.push(temp);
        }
    }
    prepared.mounts.push(Mount {
        source,
        target,
        kind: MountKind::Bind {
            readonly: def.readonly,
        },
    });
    Ok(())
}

/// What a cache seed holds: a stage's or image's snapshot is named after its
/// layers (the store's own path left out, so keys match across stores); a
/// local directory is hashed.
fn seed_identity(b: &Build, seed: &Path) -> Result<String, BuildError> {
    if let Ok(inside) = seed.strip_prefix(b.store.root()) {
        return Ok(inside.to_string_lossy().into_owned());
    }
    let ctx = Context::with_excludes(seed, PatternMatcher::default())?;
    let sources = [crate::context::ResolvedSource::root()];
    Ok(ctx.digest(&sources, &mut b.stat_cache.lock().expect("stat cache"))?)
}

/// An empty cache directory with the mount's mode and owner.
fn new_cache_dir(fresh: &Path, def: &MountDef) -> Result<(), BuildError> {
    std::fs::create_dir(fresh).map_err(BuildError::io(fresh))?;
    let mode = def.mode.unwrap_or(0o755);
    std::fs::set_permissions(fresh, std::fs::Permissions::from_mode(mode))
        .map_err(BuildError::io(fresh))?;
    std::os::unix::fs::chown(
        fresh,
        Some(def.uid.unwrap_or(0)),
        Some(def.gid.unwrap_or(0)),
    )
    .map_err(BuildError::io(fresh))
}

/// The directory a `from=` cache mount starts from: `source` (default the
/// root) inside the stage or image, symlinks resolved within it.
fn cache_seed(b: &Build, def: &MountDef) -> Result<Option<PathBuf>, BuildError> {
    let Some(from) = def.from.as_deref() else {
        return Ok(None);
    };
    let root = source_root(b, Some(from))?;
    let rel = def.source.as_deref().unwrap_or("").trim_start_matches('/');
    if rel.is_empty() {
        return Ok(Some(root));
    }
    // Read like a stage's files: a `.dockerignore` inside hides nothing.
    let found = Context::with_excludes(&root, PatternMatcher::default())?.resolve_source(rel)?;
    match found.first() {
        Some(source) if source.is_dir => Ok(Some(root.join(&source.rel))),
        _ => Err(BuildError::Invalid(format!(
            "--mount=type=cache,from={from},source={rel}: not a directory in {from}"
        ))),
    }
}

/// Secret files default to root-owned and 0400, as BuildKit's.
fn secret(
    b: &Build,
    state: &StageState,
    def: &MountDef,
    prepared: &mut PreparedMounts,
) -> Result<(), BuildError> {
    let id = def
        .id
        .clone()
        .or_else(|| {
            def.target
                .as_deref()
                .and_then(|t| Path::new(t).file_name())
                .map(|n| n.to_string_lossy().into_owned())
        })
        .unwrap_or_default();
    let value = match b.opts.secrets.get(&id) {
        Some(SecretSource::File(path)) => Some(std::fs::read(path).map_err(BuildError::io(path))?),
        Some(SecretSource::Env(var)) => std::env::var(var).ok().map(String::into_bytes),
        None => None,
    };
    let Some(value) = value else {
        if def.required {
            return Err(BuildError::Invalid(format!(
                "secret {id} not found (pass it with --secret id={id},src=PATH)"
            )));
        }
        return Ok(());
    };
    if let Some(name) = &def.env {
        prepared
            .env
            .push(format!("{name}={}", String::from_utf8_lossy(&value)));
        if def.target.is_none() {
            return Ok(());
        }
    }
    let temp = b.store.temp_dir()?;
    let file = temp.path().join("secret");
    // Created owner-only from the start: never readable by others, even
    // for a moment, whatever the umask.
    {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&file)
            .map_err(BuildError::io(&file))?;
        f.write_all(&value).map_err(BuildError::io(&file))?;
    }
    std::fs::set_permissions(
        &file,
        std::fs::Permissions::from_mode(def.mode.unwrap_or(0o400)),
    )
    .map_err(BuildError::io(&file))?;
    std::os::unix::fs::chown(
        &file,
        Some(def.uid.unwrap_or(0)),
        Some(def.gid.unwrap_or(0)),
    )
    .map_err(BuildError::io(&file))?;
    let target = match def.target.as_deref() {
        Some(t) => target_path(state, Some(t)),
        None => PathBuf::from("/run/secrets").join(&id),
    };
    prepared.mounts.push(Mount {
        source: file,
        target,
        kind: MountKind::Bind { readonly: true },
    });
    prepared._temps.push(temp);
    Ok(())
}

fn ssh(
    b: &Build,
    def: &MountDef,
    index: usize,
    prepared: &mut PreparedMounts,
) -> Result<(), BuildError> {
    let id = def.id.clone().unwrap_or_else(|| "default".into());
    let Some(socket) = b.opts.ssh.get(&id) else {
        if def.required {
            return Err(BuildError::Invalid(format!(
                "ssh agent {id} not available (pass --ssh {id})"
            )));
        }
        return Ok(());
    };
    let target = PathBuf::from(
        def.target
            .clone()
            .unwrap_or_else(|| format!("/run/buildkit/ssh_agent.{index}")),
    );
    prepared
        .env
        .push(format!("SSH_AUTH_SOCK={}", target.display()));
    prepared.mounts.push(Mount {
        source: socket.clone(),
        target,
        kind: MountKind::Bind { readonly: true },
    });
    Ok(())
}
