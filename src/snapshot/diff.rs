//! The fallback snapshotter's diff, for machines without overlayfs: the step
//! runs on a private copy of the parent root filesystem, and the layer is
//! what differs between the copy and the parent. Stat first: an entry whose
//! type, mode, owner, size, mtime, device number and link target all match is
//! unchanged, and its content is never read.

use super::scan::layer_xattrs;
use super::SnapshotError;
use crate::layer::{EntryKind, FileSource, LayerEntry};
use std::collections::{BTreeSet, HashMap};
use std::fs::Metadata;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use walkdir::WalkDir;

fn same(a: &Metadata, b: &Metadata) -> bool {
    a.file_type() == b.file_type()
        && a.mode() == b.mode()
        && a.uid() == b.uid()
        && a.gid() == b.gid()
        && a.rdev() == b.rdev()
        && (a.is_dir()
            || (a.len() == b.len() && a.mtime() == b.mtime() && a.mtime_nsec() == b.mtime_nsec()))
}

fn walk_err(root: &Path) -> impl Fn(walkdir::Error) -> SnapshotError + '_ {
    move |e| SnapshotError::Io {
        path: e.path().unwrap_or(root).to_path_buf(),
        source: e
            .into_io_error()
            .unwrap_or_else(|| std::io::Error::other("walk failed")),
    }
}

fn entry(root: &Path, rel: &Path, meta: &Metadata) -> Result<LayerEntry, SnapshotError> {
    let abs = root.join(rel);
    let ft = meta.file_type();
    let kind = if ft.is_dir() {
        EntryKind::Dir
    } else if ft.is_file() {
        EntryKind::File {
            source: FileSource::Path(abs.clone()),
            size: meta.len(),
        }
    } else if ft.is_symlink() {
        EntryKind::Symlink {
            target: std::fs::read_link(&abs).map_err(SnapshotError::io(&abs))?,
        }
    } else if ft.is_char_device() {
        EntryKind::CharDevice {
            major: rustix::fs::major(meta.rdev()),
            minor: rustix::fs::minor(meta.rdev()),
        }
    } else if ft.is_block_device() {
        EntryKind::BlockDevice {
            major: rustix::fs::major(meta.rdev()),
            minor: rustix::fs::minor(meta.rdev()),
        }
    } else {
        EntryKind::Fifo
    };
    Ok(LayerEntry {
        path: rel.to_path_buf(),
        kind,
        mode: meta.mode() & 0o7777,
        uid: meta.uid(),
        gid: meta.gid(),
        mtime: meta.mtime(),
        xattrs: layer_xattrs(&abs)?,
    })
}

/// Layer entries turning `before` into `after`: new and changed entries
/// (with their parent directories), whiteouts for what disappeared, and hard
/// links among the new files kept as hard links.
pub fn diff_dirs(before: &Path, after: &Path) -> Result<Vec<LayerEntry>, SnapshotError> {
    let mut changed: BTreeSet<PathBuf> = BTreeSet::new();
    for item in WalkDir::new(after).min_depth(1).sort_by_file_name() {
        let item = item.map_err(walk_err(after))?;
        let rel = item
            .path()
            .strip_prefix(after)
            .unwrap_or(item.path())
            .to_path_buf();
        let now = item.metadata().map_err(walk_err(after))?;
        let unchanged =
            std::fs::symlink_metadata(before.join(&rel)).is_ok_and(|old| same(&old, &now));
        if !unchanged {
            changed.insert(rel);
        }
    }
    let mut removed = Vec::new();
    let mut walker = WalkDir::new(before)
        .min_depth(1)
        .sort_by_file_name()
        .into_iter();
    while let Some(item) = walker.next() {
        let item = item.map_err(walk_err(before))?;
        let rel = item
            .path()
            .strip_prefix(before)
            .unwrap_or(item.path())
            .to_path_buf();
        match std::fs::symlink_metadata(after.join(&rel)) {
            Err(_) => {
                removed.push(rel);
                if item.file_type().is_dir() {
                    walker.skip_current_dir();
                }
            }
            // Replaced by a non-directory: the new entry replaces the whole
            // tree, so nothing below needs a whiteout.
            Ok(now) if item.file_type().is_dir() && !now.is_dir() => walker.skip_current_dir(),
            Ok(_) => {}
        }
    }
    let parents: Vec<PathBuf> = changed
        .iter()
        .chain(removed.iter())
        .flat_map(|p| {
            p.ancestors()
                .skip(1)
                .filter(|a| !a.as_os_str().is_empty())
                .map(Path::to_path_buf)
                .collect::<Vec<_>>()
        })
        .collect();
    changed.extend(parents);
    let mut entries = Vec::with_capacity(changed.len() + removed.len());
    let mut inodes: HashMap<(u64, u64), PathBuf> = HashMap::new();
    for rel in &changed {
        let abs = after.join(rel);
        let meta = std::fs::symlink_metadata(&abs).map_err(SnapshotError::io(&abs))?;
        let mut e = entry(after, rel, &meta)?;
        if meta.is_file() && meta.nlink() > 1 {
            match inodes.get(&(meta.dev(), meta.ino())) {
                Some(first) => {
                    e.kind = EntryKind::HardLink {
                        target: first.clone(),
                    }
                }
                None => {
                    inodes.insert((meta.dev(), meta.ino()), rel.clone());
                }
            }
        }
        entries.push(e);
    }
    for rel in removed {
        entries.push(LayerEntry {
            path: rel,
            kind: EntryKind::Whiteout,
            mode: 0,
            uid: 0,
            gid: 0,
            mtime: 0,
            xattrs: Vec::new(),
        });
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_additions_and_deletions() {
        let before = tempfile::tempdir().unwrap();
        let after = tempfile::tempdir().unwrap();
        for root in [before.path(), after.path()] {
            std::fs::create_dir_all(root.join("keep/sub")).unwrap();
            std::fs::write(root.join("keep/same.txt"), "same").unwrap();
            std::fs::create_dir_all(root.join("gone/deep")).unwrap();
            std::fs::write(root.join("gone/deep/x"), "x").unwrap();
        }
        // Identical mtimes so the unchanged file compares equal.
        let t = std::fs::metadata(before.path().join("keep/same.txt"))
            .unwrap()
            .modified()
            .unwrap();
        std::fs::File::options()
            .write(true)
            .open(after.path().join("keep/same.txt"))
            .unwrap()
            .set_modified(t)
            .unwrap();
        std::fs::remove_dir_all(after.path().join("gone")).unwrap();
        std::fs::write(after.path().join("keep/sub/new.txt"), "new").unwrap();
        let entries = diff_dirs(before.path(), after.path()).unwrap();
        let paths: Vec<(String, bool)> = entries
            .iter()
            .map(|e| {
                (
                    e.path.to_string_lossy().into_owned(),
                    e.kind == EntryKind::Whiteout,
                )
            })
            .collect();
        assert!(paths.contains(&("keep/sub/new.txt".into(), false)));
        assert!(paths.contains(&("gone".into(), true)));
        assert!(
            !paths.iter().any(|(p, _)| p == "keep/same.txt"),
            "{paths:?}"
        );
        assert!(
            !paths.iter().any(|(p, _)| p.starts_with("gone/")),
            "no whiteouts below a removed dir"
        );
    }
}
