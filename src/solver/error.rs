//! Build errors. A step failure names the Dockerfile line it came from.

use crate::context::ContextError;
use crate::image::ImageError;
use crate::layer::LayerError;
use crate::store::StoreError;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("failed to expand {word:?}: {message}")]
    Expansion { word: String, message: String },
    #[error(transparent)]
    Image(#[from] ImageError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Layer(#[from] LayerError),
    #[error(transparent)]
    Snapshot(#[from] crate::snapshot::SnapshotError),
    #[error(transparent)]
    Context(#[from] ContextError),
    #[error(transparent)]
    Registry(#[from] crate::registry::RegistryError),
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("target stage {0:?} could not be found")]
    TargetNotFound(String),
    #[error("invalid base image reference {reference:?}: {reason}")]
    BadBase { reference: String, reason: String },
    #[error("circular dependency: stage {0} uses itself")]
    Cycle(String),
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Sandbox(#[from] crate::sandbox::SandboxError),
    #[error("process \"{command}\" did not complete successfully: exit code: {code}")]
    RunFailed {
        command: String,
        code: i32,
        /// The last lines the step printed.
        tail: Vec<String>,
        /// Where its whole output is kept.
        log: Option<PathBuf>,
    },
    #[error("stopped: another stage failed, or the build was interrupted")]
    Cancelled,
    #[error("{what} is not implemented yet")]
    Unsupported { what: String },
    #[error("Dockerfile:{line}: {instruction}")]
    Step {
        line: usize,
        instruction: String,
        #[source]
        source: Box<BuildError>,
    },
}

impl BuildError {
    pub fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> BuildError {
        let path = path.into();
        move |source| BuildError::Io { path, source }
    }

    /// Wraps an error with the step it happened in (once).
    pub fn at_step(self, line: usize, instruction: &str) -> BuildError {
        match self {
            BuildError::Step { .. } => self,
            other => BuildError::Step {
                line,
                instruction: instruction.to_string(),
                source: Box::new(other),
            },
        }
    }
}
