//! Mount-point stubs: the sandbox creates the directories and files it
//! mounts over (`/proc`, `/dev/null`, a cache target, ...) when the image
//! lacks them. Those still empty after the step are no part of its result
//! (BuildKit drops them too).

use std::path::{Path, PathBuf};

/// The created mount points that are still empty, relative to `root`.
/// Deepest first, so a created parent counts as empty once its stub child
/// is dropped.
pub fn empty_stubs(root: &Path, created: &[PathBuf]) -> Vec<PathBuf> {
    let mut stubs: Vec<PathBuf> = Vec::new();
    for path in created.iter().rev() {
        let rel = path.strip_prefix("/").unwrap_or(path).to_path_buf();
        let host = root.join(&rel);
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

/// Removes the (empty) stubs, deepest first; false if one could not be
/// removed.
pub fn remove_stubs(root: &Path, stubs: &[PathBuf]) -> bool {
    stubs.iter().all(|stub| {
        let path = root.join(stub);
        match std::fs::symlink_metadata(&path) {
            Ok(meta) if meta.is_dir() => std::fs::remove_dir(&path).is_ok(),
            Ok(_) => std::fs::remove_file(&path).is_ok(),
            Err(_) => true,
        }
    })
}
