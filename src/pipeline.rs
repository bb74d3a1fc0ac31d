//! `rbuild build` as one library call: run the build, record the image in
//! the store under its tags, write every `--output`, push, and `--load` it.
//! The command line only parses options into [`BuildOptions`] and
//! [`Delivery`] and renders what comes back.

use crate::export::{self, ExportError, LayerChoice, Output};
use crate::image::Image;
use crate::ir::BuildPlan;
use crate::layer::Compression;
use crate::registry::{push, Client, Reference, RegistryError};
use crate::solver::{self, BuildError, BuildOptions};
use crate::store::{Digest, Store};

/// Where a built image goes besides the store.
#[derive(Debug, Clone, Default)]
pub struct Delivery {
    /// `-t` names, in the store (and in archives).
    pub tags: Vec<String>,
    /// `--output` destinations, each with its layer compression choice.
    pub outputs: Vec<(Output, LayerChoice)>,
    /// Registry references to push to.
    pub pushes: Vec<(Reference, LayerChoice)>,
    /// Layer compression where an output does not choose one.
    pub compression: Compression,
    /// `--load`: into docker, else podman.
    pub load: bool,
}

/// What a finished build produced.
#[derive(Debug)]
pub struct Built {
    pub image: Image,
    /// The image ID.
    pub config_digest: Digest,
    /// The manifest digest: the pushed one when pushed, else the store's.
    pub image_digest: Digest,
    /// References pushed, as `name@digest`.
    pub pushed: Vec<String>,
    /// The engine `--load` loaded the image into.
    pub loaded_into: Option<&'static str>,
}

impl Built {
    /// Uncompressed size of the image's layers.
    pub fn size(&self) -> u64 {
        self.image.layers.iter().map(|l| l.size).sum()
    }

    /// `--metadata-file` contents, with BuildKit's key names.
    pub fn metadata(&self, names: &[String]) -> serde_json::Value {
        serde_json::json!({
            "containerimage.config.digest": self.config_digest.to_string(),
            "containerimage.digest": self.image_digest.to_string(),
            "image.name": names.join(","),
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error(transparent)]
    Build(#[from] BuildError),
    #[error(transparent)]
    Export(#[from] ExportError),
    #[error(transparent)]
    Registry(#[from] RegistryError),
}

/// Builds `plan` and delivers the image; `report` receives one line per
/// blob a push moves.
pub fn build_and_export(
    store: &Store,
    plan: &BuildPlan,
    opts: &BuildOptions,
    delivery: &Delivery,
    report: &(dyn Fn(&str) + Sync),
) -> Result<Built, PipelineError> {
    let image = solver::build(store, plan, opts)?;
    let stored = export::store_image(store, &image, &delivery.tags)?;
    for (output, layers) in &delivery.outputs {
        let chosen = layers.compression.unwrap_or(delivery.compression);
        export::export(store, &image, output, &delivery.tags, chosen, layers.force)?;
    }
    let mut built = Built {
        config_digest: stored.config.digest,
        image_digest: stored.manifest.digest,
        pushed: Vec::new(),
        loaded_into: None,
        image,
    };
    if !delivery.pushes.is_empty() {
        let client = Client::new(opts.registry.clone());
        for (reference, layers) in &delivery.pushes {
            let chosen = layers.compression.unwrap_or(delivery.compression);
            let digest = push_image(
                &client,
                store,
                &built.image,
                reference,
                chosen,
                layers.force,
                report,
            )?;
            built.pushed.push(format!("{reference}@{digest}"));
            built.image_digest = digest;
        }
    }
    if delivery.load {
        built.loaded_into = Some(export::load_into_engine(
            store,
            &built.image,
            &delivery.tags,
            delivery.compression,
        )?);
    }
    Ok(built)
}

/// Pushes `image` to `dest` with its layers compressed as asked (a layer
/// already compressed that way is sent as it is); returns the manifest
/// digest.
pub fn push_image(
    client: &Client,
    store: &Store,
    image: &Image,
    dest: &Reference,
    compression: Compression,
    force: bool,
    report: &(dyn Fn(&str) + Sync),
) -> Result<Digest, PipelineError> {
    let prepared = export::prepare_forced(store, image, compression, force)?;
    Ok(push::push(
        client,
        store,
        &prepared.manifest.digest,
        dest,
        report,
    )?)
}
