//! Remote build cache: step results shared between machines through a
//! registry repository or a directory.
//!
//! # Format
//!
//! One entry per step cache key, written once and never rewritten, so
//! concurrent CI jobs cannot overwrite each other, and found with one request:
//!
//! - in a registry, the tag `PREFIX-KEY` of the cache repository (`PREFIX` is
//!   the tag of `ref=`, `latest` by default; `KEY` the 64 hex digits of the
//!   step's key). The tag names a plain OCI image manifest, so every
//!   registry that stores images stores it:
//!   `artifactType` `application/vnd.rbuild.cache.v1`, a config blob of type
//!   `application/vnd.rbuild.cache.entry.v1+json` holding the builder's record
//!   of the step, the step's layer (if it made one) as the only layer, and
//!   the annotations `dev.rbuild.cache.key` and `org.opencontainers.image.created`;
//! - in a directory (`type=local`), the same manifest at `entries/KEY` and
//!   the blobs at `blobs/sha256/HEX`, as in an OCI layout;
//! - inline (`type=inline`), in the pushed image's config under
//!   `rbuild.cache.v1`: a map from step key to the record, whose layer is one
//!   of the image's own layers.
//!
//! `rbuild cache prune` deletes registry entries older than a given age
//! (through the distribution API's manifest DELETE): a registry does not
//! report when it last served a manifest, so the age is the entry's creation.

use std::path::{Path, PathBuf};

use super::client::{check, read_small, Body, Registry, Request};
use super::error::{io_at, RegistryError};
use super::pull::{discard, fetch_blob, Report};
use super::push::push_blob;
use super::reference::Reference;
use crate::image::import::OCI_MANIFEST;
use crate::store::{Digest, Store};

pub const ARTIFACT_TYPE: &str = "application/vnd.rbuild.cache.v1";
pub const ENTRY_CONFIG: &str = "application/vnd.rbuild.cache.entry.v1+json";
pub const INLINE_FIELD: &str = "rbuild.cache.v1";
const KEY_ANNOTATION: &str = "dev.rbuild.cache.key";
const CREATED_ANNOTATION: &str = "org.opencontainers.image.created";

/// Where cache entries live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CacheLocation {
    Registry(Reference),
    Local(PathBuf),
}

/// A layer blob in the store that an entry carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryLayer {
    pub digest: Digest,
    pub media_type: String,
    pub size: u64,
}

/// One step's result: the builder's record (JSON) and its layer.
#[derive(Debug, Clone)]
pub struct Entry {
    pub key: String,
    pub record: Vec<u8>,
    pub layer: Option<EntryLayer>,
}

fn tag_for(reference: &Reference, key: &str) -> String {
    let prefix = reference.tag.as_deref().unwrap_or("latest");
    format!("{prefix}-{key}")
}

fn entry_manifest(entry: &Entry, config: &Digest, created: &str) -> Vec<u8> {
    let layers: Vec<serde_json::Value> = entry
        .layer
        .iter()
        .map(|l| {
            serde_json::json!({
                "mediaType": l.media_type, "digest": l.digest.to_string(), "size": l.size,
            })
        })
        .collect();
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": ARTIFACT_TYPE,
        "config": {
            "mediaType": ENTRY_CONFIG,
            "digest": config.to_string(),
            "size": entry.record.len(),
        },
        "layers": layers,
        "annotations": { KEY_ANNOTATION: entry.key, CREATED_ANNOTATION: created },
    });
    serde_json::to_vec(&manifest).expect("JSON values serialise")
}

/// The config and layer blobs (digest, size) an entry manifest names.
type Blobs = ((Digest, u64), Vec<(Digest, u64)>);
fn entry_blobs(manifest: &[u8], place: &str) -> Result<Blobs, RegistryError> {
    let malformed = |reason: String| RegistryError::Malformed {
        registry: String::new(),
        repository: place.to_string(),
        what: "cache entry".into(),
        reason,
    };
    let json: serde_json::Value =
        serde_json::from_slice(manifest).map_err(|e| malformed(e.to_string()))?;
    if json.get("artifactType").and_then(|a| a.as_str()) != Some(ARTIFACT_TYPE) {
        return Err(malformed("not an rbuild cache entry".into()));
    }
    let digest = |v: &serde_json::Value| -> Result<(Digest, u64), RegistryError> {
        let text = v.get("digest").and_then(|d| d.as_str()).unwrap_or("");
        let size = v.get("size").and_then(|s| s.as_u64()).unwrap_or(0);
        let digest = text
            .parse()
            .map_err(|e| malformed(format!("digest {text:?}: {e}")))?;
        Ok((digest, size))
    };
    let config = digest(json.get("config").unwrap_or(&serde_json::Value::Null))?;
    let layers = json
        .get("layers")
        .and_then(|l| l.as_array())
        .into_iter()
        .flatten()
        .map(digest)
        .collect::<Result<_, _>>()?;
    Ok((config, layers))
}

impl CacheLocation {
    /// The record stored for `key`, with its layer brought into the store;
    /// `None` when there is no entry.
    pub fn fetch(
        &self,
        client: &dyn Registry,
        store: &Store,
        key: &str,
        report: Report,
    ) -> Result<Option<Vec<u8>>, RegistryError> {
        match self {
            CacheLocation::Registry(r) => fetch_remote(client, store, r, key, report),
            CacheLocation::Local(dir) => fetch_local(store, dir, key),
        }
    }

    /// Writes `entry` unless an entry for its key exists already.
    pub fn put(
        &self,
        client: &dyn Registry,
        store: &Store,
        entry: &Entry,
        created: &str,
        report: Report,
    ) -> Result<(), RegistryError> {
        let config = store.put_blob(&entry.record)?;
        let manifest = entry_manifest(entry, &config, created);
        match self {
            CacheLocation::Registry(r) => {
                put_remote(client, store, r, entry, &manifest, &config, report)
            }
            CacheLocation::Local(dir) => put_local(store, dir, entry, &manifest, &config),
        }
    }
}

fn fetch_remote(
    client: &dyn Registry,
    store: &Store,
    reference: &Reference,
    key: &str,
    report: Report,
) -> Result<Option<Vec<u8>>, RegistryError> {
    let fetched = match super::pull::fetch_manifest(client, reference, &tag_for(reference, key)) {
        Ok(f) => f,
        Err(RegistryError::NotFound { .. }) => return Ok(None),
        Err(e) => return Err(e),
    };
    let (config, layers) = entry_blobs(&fetched.bytes, &reference.to_string())?;
    for (digest, size) in std::iter::once(&config).chain(&layers) {
        fetch_blob(client, store, reference, digest, *size, report)?;
    }
    Ok(Some(store.read_blob(&config.0)?))
}

fn put_remote(
    client: &dyn Registry,
    store: &Store,
    reference: &Reference,
    entry: &Entry,
    manifest: &[u8],
    config: &Digest,
    report: Report,
) -> Result<(), RegistryError> {
    let tag = tag_for(reference, &entry.key);
    let path = format!("/v2/{}/manifests/{tag}", reference.repository);
    let head = Request {
        method: "HEAD",
        registry: &reference.registry,
        repository: &reference.repository,
        path: path.clone(),
        headers: vec![("Accept", OCI_MANIFEST.into())],
        body: Body::Empty,
        scopes: vec![format!("repository:{}:pull,push", reference.repository)],
        what: format!("cache entry {tag}"),
    };
    let response = client.send(&head)?;
    let exists = response.status().as_u16() == 200;
    discard(response);
    if exists {
        return Ok(());
    }
    if let Some(layer) = &entry.layer {
        push_blob(client, store, reference, &layer.digest, report)?;
    }
    push_blob(client, store, reference, config, report)?;
    let put = Request {
        method: "PUT",
        body: Body::Bytes(manifest.to_vec()),
        headers: vec![("Content-Type", OCI_MANIFEST.into())],
        ..head
    };
    discard(check(client.send(&put)?, &put, &[200, 201])?);
    Ok(())
}

fn local_blob(dir: &Path, digest: &Digest) -> PathBuf {
    dir.join("blobs")
        .join(digest.algorithm())
        .join(digest.hex())
}

fn fetch_local(store: &Store, dir: &Path, key: &str) -> Result<Option<Vec<u8>>, RegistryError> {
    let path = dir.join("entries").join(key);
    let manifest = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_at(&path)(e)),
    };
    let (config, layers) = entry_blobs(&manifest, &dir.display().to_string())?;
    for (digest, _) in std::iter::once(&config).chain(&layers) {
        if store.has_blob(digest) {
            continue;
        }
        let source = local_blob(dir, digest);
        let mut file = std::fs::File::open(&source).map_err(io_at(&source))?;
        let mut writer = store.blob_writer()?;
        std::io::copy(&mut file, &mut writer).map_err(io_at(&source))?;
        writer.commit_expect(digest)?;
    }
    Ok(Some(store.read_blob(&config.0)?))
}

/// Copies a store blob into the cache directory (temp name, then rename).
fn copy_blob_out(store: &Store, dir: &Path, digest: &Digest) -> Result<(), RegistryError> {
    let dest = local_blob(dir, digest);
    if dest.exists() {
        return Ok(());
    }
    let parent = dest.parent().expect("blob path has a parent");
    std::fs::create_dir_all(parent).map_err(io_at(parent))?;
    let temp = parent.join(format!(".{}.{}", digest.hex(), std::process::id()));
    std::fs::copy(store.blob_path(digest), &temp).map_err(io_at(&temp))?;
    std::fs::rename(&temp, &dest).map_err(io_at(&dest))
}

fn put_local(
    store: &Store,
    dir: &Path,
    entry: &Entry,
    manifest: &[u8],
    config: &Digest,
) -> Result<(), RegistryError> {
    let entries = dir.join("entries");
    let path = entries.join(&entry.key);
    if path.exists() {
        return Ok(());
    }
    if let Some(layer) = &entry.layer {
        copy_blob_out(store, dir, &layer.digest)?;
    }
    copy_blob_out(store, dir, config)?;
    std::fs::create_dir_all(&entries).map_err(io_at(&entries))?;
    let temp = entries.join(format!(".{}.{}", entry.key, std::process::id()));
    std::fs::write(&temp, manifest).map_err(io_at(&temp))?;
    std::fs::rename(&temp, &path).map_err(io_at(&path))
}

/// Deletes the registry entries of `reference`'s repository (with its tag
/// as prefix) created before `cutoff` (RFC 3339, compared as text, which
/// orders UTC timestamps). Returns how many went.
pub fn prune(
    client: &dyn Registry,
    reference: &Reference,
    cutoff: &str,
    report: Report,
) -> Result<usize, RegistryError> {
    let prefix = format!("{}-", reference.tag.as_deref().unwrap_or("latest"));
    let mut removed = 0;
    for tag in list_tags(client, reference)? {
        if !tag.starts_with(&prefix) {
            continue;
        }
        let fetched = super::pull::fetch_manifest(client, reference, &tag)?;
        let json: serde_json::Value = serde_json::from_slice(&fetched.bytes).unwrap_or_default();
        if json.get("artifactType").and_then(|a| a.as_str()) != Some(ARTIFACT_TYPE) {
            continue;
        }
        let created = json
            .pointer(&format!(
                "/annotations/{}",
                CREATED_ANNOTATION.replace('/', "~1")
            ))
            .and_then(|c| c.as_str())
            .unwrap_or("");
        if created >= cutoff {
            continue;
        }
        let req = Request {
            method: "DELETE",
            registry: &reference.registry,
            repository: &reference.repository,
            path: format!("/v2/{}/manifests/{}", reference.repository, fetched.digest),
            headers: Vec::new(),
            body: Body::Empty,
            scopes: vec![format!(
                "repository:{}:delete,pull,push",
                reference.repository
            )],
            what: format!("deleting cache entry {tag}"),
        };
        discard(check(client.send(&req)?, &req, &[200, 202])?);
        report(&format!("deleted {tag} (created {created})"));
        removed += 1;
    }
    Ok(removed)
}

/// Every tag of the repository, following `Link` pagination.
fn list_tags(client: &dyn Registry, reference: &Reference) -> Result<Vec<String>, RegistryError> {
    let mut tags = Vec::new();
    let mut path = format!("/v2/{}/tags/list?n=1000", reference.repository);
    loop {
        let req = Request {
            method: "GET",
            registry: &reference.registry,
            repository: &reference.repository,
            path: path.clone(),
            headers: Vec::new(),
            body: Body::Empty,
            scopes: vec![format!("repository:{}:pull", reference.repository)],
            what: "tag list".into(),
        };
        let response = check(client.send(&req)?, &req, &[200])?;
        let next = response
            .headers()
            .get("link")
            .and_then(|l| l.to_str().ok())
            .and_then(|l| Some(l.split('<').nth(1)?.split('>').next()?.to_string()));
        let json: serde_json::Value =
            serde_json::from_slice(&read_small(response)?).unwrap_or_default();
        tags.extend(
            json.get("tags")
                .and_then(|t| t.as_array())
                .into_iter()
                .flatten()
                .filter_map(|t| t.as_str().map(str::to_string)),
        );
        match next {
            Some(link) => path = link,
            None => return Ok(tags),
        }
    }
}
