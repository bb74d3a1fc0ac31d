//! Listing the build context as BuildKit sees it after `.dockerignore`:
//! excluded entries are absent, except that an excluded directory holding
//! something an exception re-includes is still there (with only that
//! content), as fsutil's walker sends it. Symlinks are never followed here.

use std::ffi::OsString;
use std::fs::{self, Metadata};
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::error::ContextError;
use super::gopath::{normalize_rel, slash_string};
use super::pattern::MatchInfo;
use super::Context;

/// What a context entry is. `Other` covers fifos, sockets and device nodes
/// (tell them apart with the type bits of [`ContextEntry::mode`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryKind {
    File,
    Dir,
    Symlink { target: PathBuf },
    Other,
}

/// One file, directory, symlink or special file of the context, from
/// `lstat`. `rel` is relative to the context root; `mode` is the full
/// `st_mode` (type bits included, see [`ContextEntry::permissions`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContextEntry {
    pub rel: PathBuf,
    pub kind: EntryKind,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub size: u64,
    pub mtime_ns: i128,
    pub ctime_ns: i128,
    pub dev: u64,
    pub ino: u64,
    pub nlink: u64,
    pub rdev: u64,
}

impl ContextEntry {
    /// Permission and special bits (`mode & 0o7777`).
    pub fn permissions(&self) -> u32 {
        self.mode & 0o7777
    }

    pub fn is_dir(&self) -> bool {
        self.kind == EntryKind::Dir
    }

    fn from_metadata(rel: PathBuf, abs: &Path, meta: &Metadata) -> Result<Self, ContextError> {
        let ft = meta.file_type();
        let kind = if ft.is_dir() {
            EntryKind::Dir
        } else if ft.is_file() {
            EntryKind::File
        } else if ft.is_symlink() {
            let target = fs::read_link(abs).map_err(|e| ContextError::io(abs, e))?;
            EntryKind::Symlink { target }
        } else {
            EntryKind::Other
        };
        Ok(ContextEntry {
            rel,
            kind,
            mode: meta.mode(),
            uid: meta.uid(),
            gid: meta.gid(),
            size: meta.size(),
            mtime_ns: nanos(meta.mtime(), meta.mtime_nsec()),
            ctime_ns: nanos(meta.ctime(), meta.ctime_nsec()),
            dev: meta.dev(),
            ino: meta.ino(),
            nlink: meta.nlink(),
            rdev: meta.rdev(),
        })
    }
}

fn nanos(secs: i64, nsec: i64) -> i128 {
    i128::from(secs) * 1_000_000_000 + i128::from(nsec)
}

/// Errors that mean "this path is not there" rather than a failure.
pub(crate) fn is_absent(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
    )
}

/// How a COPY source or listed path is shown in errors: BuildKit's form,
/// cleaned, with a leading `/`.
pub(crate) fn display_source(rel: &Path) -> String {
    format!("/{}", slash_string(rel))
}

impl Context {
    /// Whether `rel` (relative to the root, slash-separated components) is
    /// matched by the ignore patterns, taking its parent directories into
    /// account as a walk from the root would.
    pub fn is_excluded(&self, rel: &Path) -> bool {
        self.match_chain(rel).0
    }

    /// The verdict and match info for `rel`, computed from the root down.
    pub(crate) fn match_chain(&self, rel: &Path) -> (bool, MatchInfo) {
        let mut state = (false, MatchInfo::default());
        let mut prefix = PathBuf::new();
        for comp in rel.components() {
            prefix.push(comp);
            state = self.child_verdict(&prefix, &state.1);
        }
        state
    }

    pub(crate) fn child_verdict(&self, rel: &Path, parent: &MatchInfo) -> (bool, MatchInfo) {
        if self.excludes.is_empty() {
            return (false, MatchInfo::default());
        }
        self.excludes
            .matches_using_parent(&slash_string(rel), parent)
    }

    /// Whether an entry exists in the filtered view: not excluded, or an
    /// excluded directory with something re-included below it.
    pub(crate) fn visible(
        &self,
        rel: &Path,
        is_dir: bool,
        excluded: bool,
        info: &MatchInfo,
    ) -> Result<bool, ContextError> {
        if !excluded {
            return Ok(true);
        }
        if !is_dir || !self.may_reinclude_below(rel) {
            return Ok(false);
        }
        for (name, meta) in self.read_dir_sorted(rel)? {
            let child = rel.join(name);
            let (ex, child_info) = self.child_verdict(&child, info);
            if self.visible(&child, meta.is_dir(), ex, &child_info)? {
                return Ok(true);
            }
        }
        Ok(false)
    }

    fn may_reinclude_below(&self, rel: &Path) -> bool {
        self.excludes.has_exclusions()
            && self.excludes.exception_may_match_below(&slash_string(rel))
    }

    /// `lstat` of `rel` if it exists in the filtered view, with its match
    /// info for walking below it.
    pub(crate) fn lookup(&self, rel: &Path) -> Result<Option<(Metadata, MatchInfo)>, ContextError> {
        let abs = self.root.join(rel);
        let meta = match fs::symlink_metadata(&abs) {
            Ok(meta) => meta,
            Err(e) if is_absent(&e) => return Ok(None),
            Err(e) => return Err(ContextError::io(abs, e)),
        };
        let (excluded, info) = self.match_chain(rel);
        if !self.visible(rel, meta.is_dir(), excluded, &info)? {
            return Ok(None);
        }
        Ok(Some((meta, info)))
    }

    /// The directory's entries with their `lstat`, sorted by name; entries
    /// that vanish meanwhile are skipped.
    pub(crate) fn read_dir_sorted(
        &self,
        rel: &Path,
    ) -> Result<Vec<(OsString, Metadata)>, ContextError> {
        let abs = self.root.join(rel);
        let iter = match fs::read_dir(&abs) {
            Ok(iter) => iter,
            Err(e) if is_absent(&e) => return Ok(Vec::new()),
            Err(e) => return Err(ContextError::io(abs, e)),
        };
        let mut out = Vec::new();
        for dirent in iter {
            let dirent = dirent.map_err(|e| ContextError::io(&abs, e))?;
            let path = dirent.path();
            match fs::symlink_metadata(&path) {
                Ok(meta) => out.push((dirent.file_name(), meta)),
                Err(e) if is_absent(&e) => {}
                Err(e) => return Err(ContextError::io(path, e)),
            }
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }

    /// The entry at `rel` itself (not following a final symlink), or
    /// [`ContextError::NotFound`] when it is absent from the filtered view.
    pub fn entry(&self, rel: &Path) -> Result<ContextEntry, ContextError> {
        let rel = normalize_rel(rel);
        let (meta, _) = self.lookup(&rel)?.ok_or_else(|| ContextError::NotFound {
            path: display_source(&rel),
        })?;
        ContextEntry::from_metadata(rel.clone(), &self.root.join(&rel), &meta)
    }

    /// Everything below the directory `rel`, depth first in sorted order,
    /// parents before children, paths relative to the context root; for a
    /// path that is not a directory, that entry alone. Excluded entries are
    /// left out; symlinks are listed as symlinks, never followed.
    pub fn entries(&self, rel: &Path) -> Result<Vec<ContextEntry>, ContextError> {
        let rel = normalize_rel(rel);
        let (meta, info) = self.lookup(&rel)?.ok_or_else(|| ContextError::NotFound {
            path: display_source(&rel),
        })?;
        if !meta.is_dir() {
            let entry = ContextEntry::from_metadata(rel.clone(), &self.root.join(&rel), &meta)?;
            return Ok(vec![entry]);
        }
        let mut out = Vec::new();
        self.walk_children(&rel, &info, &mut out)?;
        Ok(out)
    }

    fn walk_children(
        &self,
        rel: &Path,
        info: &MatchInfo,
        out: &mut Vec<ContextEntry>,
    ) -> Result<(), ContextError> {
        for (name, meta) in self.read_dir_sorted(rel)? {
            let child = rel.join(&name);
            let (excluded, child_info) = self.child_verdict(&child, info);
            let abs = self.root.join(&child);
            if !excluded {
                out.push(ContextEntry::from_metadata(child.clone(), &abs, &meta)?);
                if meta.is_dir() {
                    self.walk_children(&child, &child_info, out)?;
                }
            } else if meta.is_dir() && self.may_reinclude_below(&child) {
                // Descend anyway; the directory appears only if something
                // below it is re-included.
                let mut below = Vec::new();
                self.walk_children(&child, &child_info, &mut below)?;
                if !below.is_empty() {
                    out.push(ContextEntry::from_metadata(child, &abs, &meta)?);
                    out.append(&mut below);
                }
            }
        }
        Ok(())
    }
}
