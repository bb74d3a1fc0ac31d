//! The build context: the directory `rbuild build CONTEXT` reads COPY and ADD
//! sources from, seen the way BuildKit sees it.
//!
//! - [`PatternMatcher`]: Docker's `.dockerignore` / `COPY --exclude` pattern
//!   rules (moby/patternmatcher), exceptions and the parent-directory rule
//!   included.
//! - [`Context::open`]: picks the ignore file (`<Dockerfile>.dockerignore`
//!   beside the Dockerfile before `<context>/.dockerignore`) and gives a
//!   filtered view of the directory in which excluded paths are absent.
//! - [`Context::resolve_source`]: one COPY source word to the paths it names
//!   (wildcards, symlinks followed inside the context only).
//! - [`Context::entries`]: what a resolved source contains, with `lstat`
//!   metadata, for the layer writer.
//! - [`Context::digest`] with a [`StatCache`]: the content digest that goes
//!   into COPY/ADD cache keys.
//!
//! Paths inside the context are relative, the root being the empty path.

mod digest;
mod error;
mod glob;
mod gopath;
mod ignore;
mod pattern;
mod resolve;
mod statcache;
mod walk;

use std::path::{Path, PathBuf};

pub use error::{ContextError, PatternError};
pub use ignore::{ignore_file_for, read_patterns, DOCKERIGNORE};
pub use pattern::{MatchInfo, PatternMatcher};
pub use resolve::ResolvedSource;
pub use statcache::StatCache;
pub use walk::{ContextEntry, EntryKind};

/// A build-context directory with its ignore patterns.
#[derive(Debug, Clone)]
pub struct Context {
    root: PathBuf,
    excludes: PatternMatcher,
    ignore_file: Option<PathBuf>,
}

impl Context {
    /// Opens the context at `root` (symlinks in `root` itself resolved).
    /// `dockerfile` is the Dockerfile path as the user named it; when
    /// `<dockerfile>.dockerignore` exists it replaces `<root>/.dockerignore`
    /// (behaviour 75). Pass `None` when the Dockerfile has no path (stdin).
    pub fn open(root: &Path, dockerfile: Option<&Path>) -> Result<Context, ContextError> {
        let root = canonical_dir(root)?;
        let (excludes, ignore_file) = ignore::load(&root, dockerfile)?;
        Ok(Context {
            root,
            excludes,
            ignore_file,
        })
    }

    /// Opens `root` with the given patterns instead of an ignore file.
    pub fn with_excludes(root: &Path, excludes: PatternMatcher) -> Result<Context, ContextError> {
        Ok(Context {
            root: canonical_dir(root)?,
            excludes,
            ignore_file: None,
        })
    }

    /// The context directory, canonicalized.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The ignore file in use, if any.
    pub fn ignore_file(&self) -> Option<&Path> {
        self.ignore_file.as_deref()
    }

    pub fn excludes(&self) -> &PatternMatcher {
        &self.excludes
    }

    /// The host path of a context-relative path (no symlink resolution).
    pub fn abs_path(&self, rel: &Path) -> PathBuf {
        self.root.join(gopath::normalize_rel(rel))
    }
}

fn canonical_dir(root: &Path) -> Result<PathBuf, ContextError> {
    let canon = std::fs::canonicalize(root).map_err(|e| ContextError::io(root, e))?;
    if !canon.is_dir() {
        return Err(ContextError::NotADirectory {
            path: root.to_path_buf(),
        });
    }
    Ok(canon)
}
