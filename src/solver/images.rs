//! Images a build reads (FROM, `COPY --from`, `RUN --mount=from=`): from the
//! store, or pulled from their registry when the store lacks them or
//! `--pull` asks for a fresh resolve. Each name is resolved once per build,
//! so every step of one build sees the same digest.

use super::error::BuildError;
use super::Build;
use crate::image::{load_image, Image, ImageError, ImageSource, Platform};
use crate::registry::{pull, Reference};

pub(crate) fn load(
    b: &Build,
    source: &ImageSource,
    platform: &Platform,
) -> Result<Image, BuildError> {
    let ImageSource::Named(name) = source else {
        return Ok(load_image(b.store, source, platform)?);
    };
    let key = format!("{name} {platform}");
    if let Some(image) = b.pulled.lock().expect("pulled").get(&key) {
        return Ok(image.clone());
    }
    if !b.opts.pull {
        match load_image(b.store, source, platform) {
            Err(ImageError::NotInStore { .. }) => {}
            other => return Ok(other?),
        }
    }
    let reference = Reference::parse(name).map_err(|e| BuildError::BadBase {
        reference: name.clone(),
        reason: e.to_string(),
    })?;
    let progress = &b.progress;
    let report = |line: &str| progress.line(&format!("pull {line}"));
    let image = pull::pull(&b.registry, b.store, &reference, platform, &report)?;
    b.pulled.lock().expect("pulled").insert(key, image.clone());
    Ok(image)
}
