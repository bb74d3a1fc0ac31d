//! Errors of `rbuild run`, each naming the option, image or step concerned.

#[derive(Debug, thiserror::Error)]
pub enum ContainerError {
    #[error("{option}: {reason}")]
    BadOption { option: String, reason: String },
    #[error("{image} has no command: give one after the image name, or --entrypoint")]
    NoCommand { image: String },
    #[error(transparent)]
    Image(#[from] crate::image::ImageError),
    #[error(transparent)]
    Registry(#[from] crate::registry::RegistryError),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error(transparent)]
    Snapshot(#[from] crate::snapshot::SnapshotError),
    #[error(transparent)]
    Sandbox(#[from] crate::sandbox::SandboxError),
    #[error(transparent)]
    Build(#[from] crate::solver::BuildError),
    #[error(transparent)]
    Export(#[from] crate::export::ExportError),
}
