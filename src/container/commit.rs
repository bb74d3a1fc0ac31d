//! `rbuild run --commit REF`: what the command changed becomes one new layer
//! on the image, with a history entry naming the command, tagged REF (as
//! `docker commit` makes an image from a container).

use super::ContainerError;
use crate::export::store_image;
use crate::image::{History, Image};
use crate::layer::LayerEntry;
use crate::store::Store;

/// Writes the layer, records the image under `reference`; returns its ID.
pub fn commit(
    store: &Store,
    mut image: Image,
    changes: &[LayerEntry],
    argv: &[String],
    reference: &str,
) -> Result<String, ContainerError> {
    let layer = crate::solver::layers::commit(store, changes, None)?;
    let now = crate::solver::time::rfc3339(crate::solver::time::build_time(None));
    image.config.history.push(History {
        created: Some(now.clone()),
        created_by: Some(argv.join(" ")),
        comment: Some("rbuild run --commit".into()),
        ..History::default()
    });
    image.config.created = Some(now);
    image.layers.push(layer);
    image.manifest = None;
    let prepared = store_image(store, &image, &[reference.to_string()])?;
    Ok(prepared.config.digest.to_string())
}
