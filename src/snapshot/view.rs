//! A read-only view of an image's root filesystem for the steps that need to
//! look at it (COPY destinations through symlinks, existing directories,
//! `--chown` names, WORKDIR): lookups walk the layers' snapshot directories
//! top-down with overlayfs's rules. Nothing is mounted and nothing is copied.

use super::layers::ensure_snapshot;
use super::SnapshotError;
use crate::image::LayerRef;
use crate::store::Store;
use std::fs::Metadata;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Component, Path, PathBuf};

pub struct RootView {
    /// Snapshot directories, top layer first.
    pub(crate) layers: Vec<PathBuf>,
}

fn is_whiteout(meta: &Metadata) -> bool {
    meta.file_type().is_char_device() && meta.rdev() == 0
}

fn is_opaque(dir: &Path) -> bool {
    ["trusted.overlay.opaque", "user.overlay.opaque"]
        .iter()
        .any(|name| rustix::fs::lgetxattr(dir, *name, &mut [0u8; 4]).is_ok_and(|n| n == 1))
}

/// Normal components of an absolute image path.
fn components(path: &Path) -> Vec<&std::ffi::OsStr> {
    path.components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n),
            _ => None,
        })
        .collect()
}

impl RootView {
    pub fn new(store: &Store, layers: &[LayerRef]) -> Result<RootView, SnapshotError> {
        let mut dirs: Vec<PathBuf> = Vec::with_capacity(layers.len());
        for layer in layers.iter().rev() {
            let dir = ensure_snapshot(store, layer)?;
            // Layers with the same diff_id share one snapshot, and overlayfs
            // refuses a directory twice in its lower stack. A repeated layer
            // below its topmost copy changes nothing (the copy above shadows
            // or re-creates all it holds), so only the topmost one is kept.
            if !dirs.contains(&dir) {
                dirs.push(dir);
            }
        }
        Ok(RootView { layers: dirs })
    }

    /// The host path and metadata of an image path (not following a final
    /// symlink), or `None` when absent.
    pub fn lookup(&self, path: &Path) -> Option<(PathBuf, Metadata)> {
        let comps = components(path);
        if comps.is_empty() {
            let top = self.layers.first()?;
            return std::fs::symlink_metadata(top)
                .ok()
                .map(|m| (top.clone(), m));
        }
        for layer in &self.layers {
            let mut host = layer.clone();
            let mut hidden_below = false;
            for (i, comp) in comps.iter().enumerate() {
                host.push(comp);
                let Ok(meta) = std::fs::symlink_metadata(&host) else {
                    break;
                };
                if is_whiteout(&meta) {
                    return None;
                }
                if i + 1 == comps.len() {
                    return Some((host, meta));
                }
                if !meta.is_dir() {
                    // A file in an upper layer hides everything below its path.
                    return None;
                }
                if is_opaque(&host) {
                    hidden_below = true;
                }
            }
            if hidden_below {
                return None;
            }
        }
        None
    }

    /// Resolves symlinks in every component of `path` inside the image root
    /// (an absolute link target restarts at the image root; `..` stops at
    /// it), as a copy into the image would follow them.
    pub fn resolve(&self, path: &Path) -> PathBuf {
        let mut resolved = PathBuf::from("/");
        let mut pending: Vec<std::ffi::OsString> = components(path)
            .into_iter()
            .rev()
            .map(|c| c.to_os_string())
            .collect();
        let mut hops = 0;
        while let Some(comp) = pending.pop() {
            if comp == ".." {
                resolved.pop();
                continue;
            }
            let candidate = resolved.join(&comp);
            match self.lookup(&candidate) {
                Some((host, meta)) if meta.file_type().is_symlink() && hops < 255 => {
                    hops += 1;
                    let Ok(target) = std::fs::read_link(&host) else {
                        resolved = candidate;
                        continue;
                    };
                    if target.is_absolute() {
                        resolved = PathBuf::from("/");
                    }
                    for c in target.components().rev() {
                        match c {
                            Component::Normal(n) => pending.push(n.to_os_string()),
                            Component::ParentDir => pending.push("..".into()),
                            _ => {}
                        }
                    }
                }
                _ => resolved = candidate,
            }
        }
        resolved
    }

    /// The contents of a small file (e.g. `/etc/passwd`), following links.
    pub fn read_file(&self, path: &Path) -> Option<String> {
        let (host, meta) = self.lookup(&self.resolve(path))?;
        (meta.is_file() && meta.len() < 16 << 20)
            .then(|| std::fs::read_to_string(host).ok())
            .flatten()
    }
}

/// A layer entry repeating an existing directory's metadata, for parents a
/// step writes into (their mtime changes, so a diff carries them).
pub fn existing_dir_entry(view: &RootView, path: &Path) -> Option<crate::layer::LayerEntry> {
    let (_, meta) = view.lookup(path)?;
    meta.is_dir().then(|| crate::layer::LayerEntry {
        path: path.strip_prefix("/").unwrap_or(path).to_path_buf(),
        kind: crate::layer::EntryKind::Dir,
        mode: meta.mode() & 0o7777,
        uid: meta.uid(),
        gid: meta.gid(),
        mtime: meta.mtime(),
        xattrs: Vec::new(),
    })
}
