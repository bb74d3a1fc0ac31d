//! WORKDIR: sets the working directory and creates it when missing (a layer
//! holding the new directories, owned by the stage's USER as BuildKit does;
//! empty when nothing was missing, as BuildKit's is).

use super::owner::resolve_owner;
use crate::layer::{EntryKind, LayerEntry};
use crate::snapshot::{existing_dir_entry, RootView};
use crate::solver::cache_key::StepInputs;
use crate::solver::layers;
use crate::solver::progress::StepHandle;
use crate::solver::state::StageState;
use crate::solver::Build;
use crate::solver::BuildError;
use std::path::{Component, Path, PathBuf};

/// Joins and cleans like Go's `path.Join("/", base, p)`.
pub fn normalize_workdir(current: &str, path: &str) -> String {
    let joined = if path.starts_with('/') {
        PathBuf::from(path)
    } else {
        Path::new("/").join(current).join(path)
    };
    let mut out = PathBuf::from("/");
    for c in joined.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::ParentDir => {
                out.pop();
            }
            _ => {}
        }
    }
    out.to_string_lossy().into_owned()
}

pub fn run(
    b: &Build,
    state: &mut StageState,
    path: &str,
    handle: StepHandle,
) -> Result<(), BuildError> {
    let expanded = state.expand(path)?;
    let dir = normalize_workdir(&state.image.config.config.working_dir, &expanded);
    state.image.config.config.working_dir = dir.clone();
    if dir == "/" {
        state.history(format!("WORKDIR {dir}"), true);
        b.progress.cached(handle);
        return Ok(());
    }
    let user = state.image.config.config.user.clone();
    let inputs = StepInputs::Workdir {
        dir: dir.clone(),
        user: user.clone(),
    };
    if let Some(record) = b.lookup_step(state, inputs, &handle) {
        state.history(format!("WORKDIR {dir}"), false);
        state.image.layers.extend(layers::cached_layer(&record));
        b.progress.cached(handle);
        return Ok(());
    }
    let view = RootView::new(b.store, &state.image.layers)?;
    let (uid, gid) = if user.is_empty() {
        (0, 0)
    } else {
        resolve_owner(Some(&view), &user)?
    };
    // BuildKit gives every WORKDIR but `/` a layer, empty when the
    // directory exists already.
    let entries = missing_dirs(&view, Path::new(&dir), uid, gid, state.time);
    let layer = layers::commit(b.store, &entries, b.source_date_epoch)?;
    b.remember(state.stage, &state.key, Some(&layer))?;
    state.history(format!("WORKDIR {dir}"), false);
    state.image.layers.push(layer);
    b.progress.done(handle);
    Ok(())
}

/// Directory entries for every missing component of `dir` (after following
/// symlinks in the image), like `mkdir -p`, plus the existing parents with
/// their metadata (a diff carries them, and they keep overlay lookups exact).
/// Empty when nothing is missing.
fn missing_dirs(view: &RootView, dir: &Path, uid: u32, gid: u32, mtime: i64) -> Vec<LayerEntry> {
    let target = view.resolve(dir);
    let mut entries = Vec::new();
    let mut missing = false;
    let mut current = PathBuf::from("/");
    for comp in target
        .components()
        .filter(|c| matches!(c, Component::Normal(_)))
    {
        current.push(comp);
        if let Some(existing) = existing_dir_entry(view, &current) {
            entries.push(existing);
            continue;
        }
        missing = true;
        entries.push(LayerEntry {
            path: current.strip_prefix("/").unwrap_or(&current).to_path_buf(),
            kind: EntryKind::Dir,
            mode: 0o755,
            uid,
            gid,
            mtime,
            xattrs: Vec::new(),
        });
    }
    if !missing {
        entries.clear();
    }
    entries
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workdirs_stack_and_clean() {
        assert_eq!(normalize_workdir("", "/a/b/../c"), "/a/c");
        assert_eq!(normalize_workdir("/test1", "test2"), "/test1/test2");
        assert_eq!(normalize_workdir("/x", "/"), "/");
        assert_eq!(normalize_workdir("", "rel"), "/rel");
    }
}
