//! Errors of the build-context module. Every variant names the path (and, for
//! patterns, the pattern and its line) it is about; only the CLI renders them.

use std::io;
use std::path::PathBuf;

/// An exclude pattern that cannot be used, from a `.dockerignore` file or a
/// `COPY --exclude` list. `line` is 1-based: the line of the ignore file, or
/// the position in the list given to [`super::PatternMatcher::new`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: invalid pattern {pattern:?}: {reason}")]
pub struct PatternError {
    pub pattern: String,
    pub line: usize,
    pub reason: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ContextError {
    /// A COPY/ADD source that does not exist in the (filtered) build context.
    /// `path` is the cleaned source as BuildKit prints it, with a leading `/`.
    #[error("failed to compute cache key: failed to calculate checksum of ref context: {path:?}: not found")]
    NotFound { path: String },

    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },

    #[error("build context {} is not a directory", path.display())]
    NotADirectory { path: PathBuf },

    #[error("failed parsing {}: {source}", file.display())]
    IgnoreFile {
        file: PathBuf,
        #[source]
        source: PatternError,
    },

    /// More than 255 symbolic links were followed while resolving `path`.
    #[error("{path:?}: too many levels of symbolic links")]
    TooManyLinks { path: String },
}

impl ContextError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: io::Error) -> Self {
        ContextError::Io {
            path: path.into(),
            source,
        }
    }
}
