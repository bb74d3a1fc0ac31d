//! The remote cache inside a build: a step whose key the store does not know
//! is looked up in the `--cache-from` sources (a cache repository or
//! directory, or an image pushed with an inline cache), and every step's
//! result is noted so that `--cache-to` can write them once the build is
//! done. A source that cannot be read costs a warning, never the build.
//! The entry format lives in [`crate::registry::cache`].

use std::collections::HashMap;
use std::sync::Mutex;

use super::cache_spec::{CacheExport, CacheImport};
use super::error::BuildError;
use super::graph::Base;
use super::layers::{self, CacheRecord};
use super::Build;
use crate::image::{Image, LayerRef};
use crate::registry::cache::{CacheLocation, Entry, EntryLayer, INLINE_FIELD};
use crate::registry::pull::{fetch_blob, fetch_manifest};
use crate::registry::{Reference, RegistryError};
use crate::store::Digest;

/// One step's result, for `--cache-to`.
#[derive(Debug, Clone)]
struct StepResult {
    stage: usize,
    key: String,
    layer: Option<LayerRef>,
}

/// An image whose config carries an inline cache map.
struct InlineImage {
    reference: Reference,
    /// The image's layers: (blob, size, media type) and diff_id.
    layers: Vec<(Digest, u64, String, Digest)>,
    /// Step key → index of its layer (`None`: the step made none).
    map: HashMap<String, Option<usize>>,
}

enum Source {
    Entries(CacheLocation),
    Inline(InlineImage),
    /// A registry reference not yet looked at: entries or an inline image.
    Unprobed(Reference),
    /// Unreadable; warned about once.
    Broken,
}

#[derive(Default)]
pub(crate) struct RemoteCache {
    sources: Mutex<Vec<Source>>,
    results: Mutex<Vec<StepResult>>,
}

impl RemoteCache {
    pub fn new(imports: &[CacheImport]) -> RemoteCache {
        let sources = imports
            .iter()
            .map(|i| match &i.location {
                CacheLocation::Registry(r) => Source::Unprobed(r.clone()),
                local => Source::Entries(local.clone()),
            })
            .collect();
        RemoteCache {
            sources: Mutex::new(sources),
            results: Mutex::new(Vec::new()),
        }
    }
}

impl Build<'_> {
    /// The result cached for `key`: the store's, else a `--cache-from`
    /// source's (then kept in the store too). Noted for `--cache-to`.
    pub(crate) fn cached(&self, stage: usize, key: &str) -> Option<CacheRecord> {
        let record = layers::lookup(self.store, key).or_else(|| self.remote_lookup(key))?;
        self.note(stage, key, layers::cached_layer(&record));
        Some(record)
    }

    /// Keeps a step's result in the store and notes it for `--cache-to`.
    pub(crate) fn remember(
        &self,
        stage: usize,
        key: &str,
        layer: Option<&LayerRef>,
    ) -> Result<(), BuildError> {
        layers::remember(self.store, key, layer)?;
        // Builds waiting for this step find it cached now.
        self.step_locks.lock().expect("step locks").remove(key);
        self.note(stage, key, layer.cloned());
        Ok(())
    }

    fn note(&self, stage: usize, key: &str, layer: Option<LayerRef>) {
        self.remote
            .results
            .lock()
            .expect("results")
            .push(StepResult {
                stage,
                key: key.to_string(),
                layer,
            });
    }

    fn remote_lookup(&self, key: &str) -> Option<CacheRecord> {
        let mut sources = self.remote.sources.lock().expect("sources");
        for source in sources.iter_mut() {
            if let Source::Unprobed(reference) = source {
                *source = self.probe(reference.clone());
            }
            let found = match source {
                Source::Entries(location) => self.fetch_entry(location, key),
                Source::Inline(image) => self.fetch_inline(image, key),
                Source::Unprobed(_) | Source::Broken => Ok(None),
            };
            match found {
                Ok(Some(layer)) => {
                    // Kept locally: the next build needs no request.
                    layers::remember(self.store, key, layer.as_ref()).ok()?;
                    return layers::lookup(self.store, key);
                }
                Ok(None) => {}
                Err(e) => {
                    self.progress
                        .line(&format!("cache: {e}; going on without it"));
                    *source = Source::Broken;
                }
            }
        }
        None
    }

    /// A registry `ref` is an image with an inline cache when its tag names
    /// one; otherwise it is a repository of entries.
    fn probe(&self, reference: Reference) -> Source {
        let fetched = match fetch_manifest(&self.registry, &reference, reference.manifest_ref()) {
            Ok(f) => f,
            Err(RegistryError::NotFound { .. }) => {
                return Source::Entries(CacheLocation::Registry(reference))
            }
            Err(e) => {
                self.progress
                    .line(&format!("cache: {e}; going on without it"));
                return Source::Broken;
            }
        };
        match self.inline_image(&reference, &fetched.bytes) {
            Ok(Some(image)) => Source::Inline(image),
            Ok(None) => Source::Entries(CacheLocation::Registry(reference)),
            Err(e) => {
                self.progress
                    .line(&format!("cache: {e}; going on without it"));
                Source::Broken
            }
        }
    }

    fn inline_image(
        &self,
        reference: &Reference,
        manifest: &[u8],
    ) -> Result<Option<InlineImage>, RegistryError> {
        let manifest: serde_json::Value = serde_json::from_slice(manifest).unwrap_or_default();
        let Some(config) = manifest.pointer("/config/digest").and_then(|d| d.as_str()) else {
            return Ok(None);
        };
        let Ok(config) = config.parse::<Digest>() else {
            return Ok(None);
        };
        let progress = &self.progress;
        let report = |line: &str| progress.line(&format!("cache {line}"));
        fetch_blob(&self.registry, self.store, reference, &config, 0, &report)?;
        let config: serde_json::Value =
            serde_json::from_slice(&self.store.read_blob(&config)?).unwrap_or_default();
        let Some(map) = config.get(INLINE_FIELD).and_then(|m| m.as_object()) else {
            return Ok(None);
        };
        let diff_ids = config
            .pointer("/rootfs/diff_ids")
            .and_then(|d| d.as_array());
        let descs = manifest.get("layers").and_then(|l| l.as_array());
        let (Some(diff_ids), Some(descs)) = (diff_ids, descs) else {
            return Ok(None);
        };
        let layers = descs
            .iter()
            .zip(diff_ids)
            .filter_map(|(d, diff_id)| {
                Some((
                    d.get("digest")?.as_str()?.parse().ok()?,
                    d.get("size")?.as_u64()?,
                    d.get("mediaType")?.as_str()?.to_string(),
                    diff_id.as_str()?.parse().ok()?,
                ))
            })
            .collect();
        let map = map
            .iter()
            .map(|(k, v)| (k.clone(), v.as_u64().map(|i| i as usize)))
            .collect();
        Ok(Some(InlineImage {
            reference: reference.clone(),
            layers,
            map,
        }))
    }

    /// `Some(layer)` when the entry exists (its blobs now in the store).
    fn fetch_entry(
        &self,
        location: &CacheLocation,
        key: &str,
    ) -> Result<Option<Option<LayerRef>>, RegistryError> {
        let progress = &self.progress;
        let report = |line: &str| progress.line(&format!("cache {line}"));
        let Some(bytes) = location.fetch(&self.registry, self.store, key, &report)? else {
            return Ok(None);
        };
        let record: CacheRecord =
            serde_json::from_slice(&bytes).map_err(|e| RegistryError::Malformed {
                registry: String::new(),
                repository: format!("{location:?}"),
                what: format!("cache entry {key}"),
                reason: e.to_string(),
            })?;
        Ok(Some(layers::cached_layer(&record)))
    }

    fn fetch_inline(
        &self,
        image: &InlineImage,
        key: &str,
    ) -> Result<Option<Option<LayerRef>>, RegistryError> {
        let Some(index) = image.map.get(key) else {
            return Ok(None);
        };
        let Some(index) = index else {
            return Ok(Some(None));
        };
        let Some((blob, size, media_type, diff_id)) = image.layers.get(*index) else {
            return Ok(None);
        };
        let progress = &self.progress;
        let report = |line: &str| progress.line(&format!("cache {line}"));
        fetch_blob(
            &self.registry,
            self.store,
            &image.reference,
            blob,
            *size,
            &report,
        )?;
        Ok(Some(Some(LayerRef {
            diff_id: *diff_id,
            blob: *blob,
            media_type: media_type.clone(),
            size: *size,
        })))
    }
}

/// The stages whose layers the target's image holds: the target and the
/// stages it is built `FROM`, recursively.
fn target_chain(bases: &[Base], target: usize) -> Vec<usize> {
    let mut chain = vec![target];
    let mut current = target;
    while let Base::Stage(j) = &bases[current] {
        chain.push(*j);
        current = *j;
    }
    chain
}

/// Writes the noted results to every `--cache-to` location, and the inline
/// map (for `type=inline`) into the image's config.
pub(crate) fn export(
    b: &Build,
    exports: &[CacheExport],
    bases: &[Base],
    target: usize,
    image: &mut Image,
) -> Result<(), BuildError> {
    let results = b.remote.results.lock().expect("results");
    let chain = target_chain(bases, target);
    let created = super::time::rfc3339(super::time::build_time(None));
    for export in exports {
        let chosen = results
            .iter()
            .filter(|r| export.max || chain.contains(&r.stage));
        let Some(location) = &export.location else {
            let map: serde_json::Map<String, serde_json::Value> = chosen
                .map(|r| {
                    let index = r
                        .layer
                        .as_ref()
                        .and_then(|l| image.layers.iter().position(|il| il.diff_id == l.diff_id));
                    (r.key.clone(), index.into())
                })
                .collect();
            image
                .config
                .extra
                .insert(INLINE_FIELD.into(), serde_json::Value::Object(map));
            continue;
        };
        let progress = &b.progress;
        let report = |line: &str| progress.line(&format!("cache export {line}"));
        for result in chosen {
            let record = layers::record_json(result.layer.as_ref())?;
            let entry = Entry {
                key: result.key.clone(),
                record,
                layer: result.layer.as_ref().map(|l| EntryLayer {
                    digest: l.blob,
                    media_type: l.media_type.clone(),
                    size: l.size,
                }),
            };
            location.put(&b.registry, b.store, &entry, &created, &report)?;
        }
    }
    Ok(())
}
