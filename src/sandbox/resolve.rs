//! Resolving container paths inside the step's root before `pivot_root`:
//! symlinks are followed as the container would see them (an absolute link
//! restarts at the step's root, `..` never climbs above it), like runc's
//! securejoin, so a hostile image cannot point a mount target at the host.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::path::{Component, Path, PathBuf};

use super::syscall::{EntryKind, SysError, SysResult, Syscall};

/// The kernel's limit on symlinks followed in one lookup.
const MAX_LINKS: usize = 40;

const ENOTDIR: i32 = 20;
const ELOOP: i32 = 40;

/// A container path resolved inside a root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Resolved {
    /// The longest existing prefix, relative to the root, free of symlinks.
    pub existing: PathBuf,
    /// The components after it that do not exist (empty if all exist).
    pub missing: Vec<OsString>,
    /// What `existing` is when nothing is missing.
    pub kind: EntryKind,
}

fn push_components(todo: &mut VecDeque<OsString>, path: &Path) {
    for comp in path.components().rev() {
        match comp {
            Component::Normal(name) => todo.push_front(name.to_os_string()),
            Component::ParentDir => todo.push_front("..".into()),
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
}

/// Resolves `path` (absolute, in the container) inside the host directory
/// `root`.
pub(crate) fn resolve_in_root(sys: &dyn Syscall, root: &Path, path: &Path) -> SysResult<Resolved> {
    let mut existing = PathBuf::new();
    let mut todo = VecDeque::new();
    push_components(&mut todo, path);
    let mut links = 0;
    while let Some(name) = todo.pop_front() {
        if name == ".." {
            existing.pop();
            continue;
        }
        let candidate = existing.join(&name);
        match sys.lookup(&root.join(&candidate))? {
            EntryKind::Missing => {
                let mut missing = vec![name];
                missing.extend(todo);
                return Ok(Resolved {
                    existing,
                    missing,
                    kind: EntryKind::Missing,
                });
            }
            EntryKind::Dir => existing = candidate,
            EntryKind::Symlink(target) => {
                links += 1;
                if links > MAX_LINKS {
                    return Err(SysError::new("resolve", root.join(path_rel(path)), ELOOP));
                }
                if target.has_root() {
                    existing = PathBuf::new();
                }
                push_components(&mut todo, &target);
            }
            EntryKind::Other if todo.is_empty() => {
                return Ok(Resolved {
                    existing: candidate,
                    missing: Vec::new(),
                    kind: EntryKind::Other,
                });
            }
            EntryKind::Other => {
                return Err(SysError::new("resolve", root.join(candidate), ENOTDIR));
            }
        }
    }
    Ok(Resolved {
        existing,
        missing: Vec::new(),
        kind: EntryKind::Dir,
    })
}

fn path_rel(path: &Path) -> &Path {
    path.strip_prefix("/").unwrap_or(path)
}

/// Makes sure `path` exists inside `root` (a directory when `dir`, else an
/// empty file), creating missing components as root with mode 0755 (0644
/// for a file stub). Returns the resolved host path and appends each created
/// path, as an absolute container path, to `created`.
pub(crate) fn ensure_in_root(
    sys: &dyn Syscall,
    root: &Path,
    path: &Path,
    dir: bool,
    created: &mut Vec<PathBuf>,
) -> SysResult<PathBuf> {
    let resolved = resolve_in_root(sys, root, path)?;
    let mut rel = resolved.existing;
    let count = resolved.missing.len();
    for (i, name) in resolved.missing.into_iter().enumerate() {
        rel.push(name);
        let host = root.join(&rel);
        if i + 1 == count && !dir {
            sys.create_file(&host, 0o644)?;
        } else {
            sys.mkdir(&host, 0o755)?;
        }
        created.push(Path::new("/").join(&rel));
    }
    Ok(root.join(rel))
}

/// The host path of `path` inside `root` if it exists, symlinks resolved.
pub(crate) fn existing_in_root(
    sys: &dyn Syscall,
    root: &Path,
    path: &Path,
) -> SysResult<Option<(PathBuf, bool)>> {
    let resolved = resolve_in_root(sys, root, path)?;
    if !resolved.missing.is_empty() {
        return Ok(None);
    }
    let is_dir = resolved.kind == EntryKind::Dir;
    Ok(Some((root.join(resolved.existing), is_dir)))
}
