//! Registry errors. Each names the registry and repository (and the digest
//! or tag) it is about; none ever carries a credential or a token.

use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error(transparent)]
    Reference(#[from] super::reference::ReferenceError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Image(#[from] crate::image::ImageError),
    #[error("{registry}: cannot connect: {reason}")]
    Connect { registry: String, reason: String },
    #[error("{registry}/{repository}: authentication required{}", if *.had_credentials { " (the credentials given were refused)" } else { " (log in with `rbuild login`)" })]
    Unauthorized {
        registry: String,
        repository: String,
        had_credentials: bool,
    },
    #[error("{registry}/{repository}: {what} not found")]
    NotFound {
        registry: String,
        repository: String,
        what: String,
    },
    #[error("{registry}/{repository}: {what} failed: HTTP {status}{}", detail.as_deref().map(|d| format!(": {d}")).unwrap_or_default())]
    Status {
        registry: String,
        repository: String,
        what: String,
        status: u16,
        detail: Option<String>,
    },
    #[error("{registry}/{repository}: blob {digest} does not match its digest (the content hashes to {actual}); nothing was stored")]
    DigestMismatch {
        registry: String,
        repository: String,
        digest: String,
        actual: String,
    },
    #[error("{registry}/{repository}: {what}: {reason}")]
    Malformed {
        registry: String,
        repository: String,
        what: String,
        reason: String,
    },
    #[error("credentials for {registry}: {reason}")]
    Credentials { registry: String, reason: String },
    #[error("{}: {source}", path.display())]
    Io {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("{registry}/{repository}: {what} was interrupted: {reason}")]
    Interrupted {
        registry: String,
        repository: String,
        what: String,
        reason: String,
    },
}

impl RegistryError {
    /// Worth trying again: a server error, throttling, or a broken connection.
    pub fn is_transient(&self) -> bool {
        match self {
            RegistryError::Status { status, .. } => *status == 429 || *status >= 500,
            RegistryError::Connect { .. } | RegistryError::Interrupted { .. } => true,
            _ => false,
        }
    }
}

pub(crate) fn io_at(
    path: impl Into<std::path::PathBuf>,
) -> impl FnOnce(std::io::Error) -> RegistryError {
    let path = path.into();
    move |source| RegistryError::Io { path, source }
}
