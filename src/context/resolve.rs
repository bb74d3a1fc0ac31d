//! COPY/ADD source resolution against the build context, with BuildKit's
//! rules (fsutil's `ResolveWildcards` and continuity's `RootPath`):
//!
//! - the source is cleaned as an absolute path: a leading `/` is the context
//!   root and `..` never climbs above it;
//! - the components before the first one holding a wildcard are taken
//!   literally; from there on each component is a `filepath.Match` pattern,
//!   matched against one directory level (a wildcard never crosses `/`, and
//!   the walk does not descend through symlinked directories);
//! - symlinks on the way, and the source itself, are followed as if the
//!   context root were `/`: an absolute target starts again at the root and
//!   `..` stops there, so resolution never leaves the context;
//! - excluded (dockerignored) paths are absent.

use std::collections::VecDeque;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use super::error::ContextError;
use super::glob::{contains_wildcards, match_tokens, parse_go_glob, Tok};
use super::gopath::{join, rooted_components};
use super::pattern::MatchInfo;
use super::walk::{display_source, is_absent};
use super::Context;

/// Symlinks followed for one path before giving up (as continuity does).
const MAX_SYMLINKS: usize = 255;

/// A COPY source after wildcard expansion and symlink resolution. `rel` is
/// relative to the context root (empty for the root itself).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ResolvedSource {
    /// Where the content is, every symlink followed.
    pub rel: PathBuf,
    pub is_dir: bool,
    /// The path as the instruction named it (a wildcard's match), before any
    /// symlink is followed: a copied file keeps this name, as in BuildKit.
    pub given: PathBuf,
}

impl ResolvedSource {
    /// The context root itself.
    pub fn root() -> Self {
        ResolvedSource {
            rel: PathBuf::new(),
            is_dir: true,
            given: PathBuf::new(),
        }
    }

    /// The name a copied file takes inside a destination directory.
    pub fn name(&self) -> &std::ffi::OsStr {
        self.given
            .file_name()
            .or_else(|| self.rel.file_name())
            .unwrap_or_default()
    }
}

impl Context {
    /// Resolves one (already expanded) COPY source word. A plain source that
    /// is absent is [`ContextError::NotFound`]; a wildcard that matches
    /// nothing gives an empty list, and the caller decides. Matches come in
    /// sorted order, each with its symlinks followed.
    pub fn resolve_source(&self, src: &str) -> Result<Vec<ResolvedSource>, ContextError> {
        let parts = rooted_components(src.as_bytes());
        let display = display_source(&join(&parts));
        match parts.iter().position(|p| contains_wildcards(p)) {
            None => match self.resolve_literal(&parts, &display)? {
                Some(found) => Ok(vec![found]),
                None => Err(ContextError::NotFound { path: display }),
            },
            Some(first) => self.resolve_wildcard(&parts[..first], &parts[first..], &display),
        }
    }

    fn resolve_literal(
        &self,
        parts: &[Vec<u8>],
        display: &str,
    ) -> Result<Option<ResolvedSource>, ContextError> {
        let Some(rel) = self.follow_symlinks(parts, display)? else {
            return Ok(None);
        };
        let Some((meta, _)) = self.lookup(&rel)? else {
            return Ok(None);
        };
        let given = parts
            .iter()
            .map(|p| std::ffi::OsStr::from_bytes(p))
            .collect();
        Ok(Some(ResolvedSource {
            rel,
            is_dir: meta.is_dir(),
            given,
        }))
    }

    fn resolve_wildcard(
        &self,
        base: &[Vec<u8>],
        patterns: &[Vec<u8>],
        display: &str,
    ) -> Result<Vec<ResolvedSource>, ContextError> {
        let Some(base_rel) = self.follow_symlinks(base, display)? else {
            return Ok(Vec::new());
        };
        let Some((meta, info)) = self.lookup(&base_rel)? else {
            return Ok(Vec::new());
        };
        // Like BuildKit, a malformed wildcard simply matches nothing.
        let globs: Option<Vec<Vec<Tok>>> = patterns
            .iter()
            .map(|p| parse_go_glob(&String::from_utf8_lossy(p)).ok())
            .collect();
        let (true, Some(globs)) = (meta.is_dir(), globs) else {
            return Ok(Vec::new());
        };
        let mut matches = Vec::new();
        self.expand(&base_rel, &info, &globs, &mut matches)?;
        let mut out = Vec::with_capacity(matches.len());
        for m in matches {
            let parts = rooted_components(m.as_os_str().as_bytes());
            let shown = display_source(&m);
            match self.resolve_literal(&parts, &shown)? {
                Some(found) => out.push(found),
                None => return Err(ContextError::NotFound { path: shown }),
            }
        }
        Ok(out)
    }

    /// Collects the visible paths below `dir` whose components match `globs`
    /// one level each, in sorted order.
    fn expand(
        &self,
        dir: &Path,
        info: &MatchInfo,
        globs: &[Vec<Tok>],
        out: &mut Vec<PathBuf>,
    ) -> Result<(), ContextError> {
        let Some((first, rest)) = globs.split_first() else {
            return Ok(());
        };
        for (name, meta) in self.read_dir_sorted(dir)? {
            if !match_tokens(first, &name.to_string_lossy()) {
                continue;
            }
            let child = dir.join(&name);
            let (excluded, child_info) = self.child_verdict(&child, info);
            if !self.visible(&child, meta.is_dir(), excluded, &child_info)? {
                continue;
            }
            if rest.is_empty() {
                out.push(child);
            } else if meta.is_dir() {
                self.expand(&child, &child_info, rest, out)?;
            }
        }
        Ok(())
    }

    /// Resolves every symlink in `parts` (the last one included) inside the
    /// context root, like a chroot. `None` when some component is missing,
    /// or is a symlink that the ignore patterns exclude.
    pub(crate) fn follow_symlinks(
        &self,
        parts: &[Vec<u8>],
        display: &str,
    ) -> Result<Option<PathBuf>, ContextError> {
        let mut todo: VecDeque<Vec<u8>> = parts.iter().cloned().collect();
        let mut cur: Vec<Vec<u8>> = Vec::new();
        let mut followed = 0;
        while let Some(part) = todo.pop_front() {
            match part.as_slice() {
                b"" | b"." => continue,
                b".." => {
                    cur.pop();
                    continue;
                }
                _ => cur.push(part),
            }
            let rel = join(&cur);
            let abs = self.root.join(&rel);
            let meta = match fs::symlink_metadata(&abs) {
                Ok(meta) => meta,
                Err(e) if is_absent(&e) => return Ok(None),
                Err(e) => return Err(ContextError::io(abs, e)),
            };
            if !meta.file_type().is_symlink() {
                continue;
            }
            if self.is_excluded(&rel) {
                return Ok(None);
            }
            followed += 1;
            if followed > MAX_SYMLINKS {
                return Err(ContextError::TooManyLinks {
                    path: display.to_string(),
                });
            }
            let target = fs::read_link(&abs).map_err(|e| ContextError::io(&abs, e))?;
            let target = target.as_os_str().as_bytes();
            cur.pop();
            if target.starts_with(b"/") {
                cur.clear();
            }
            for piece in target.split(|b| *b == b'/').rev() {
                todo.push_front(piece.to_vec());
            }
        }
        Ok(Some(join(&cur)))
    }
}
