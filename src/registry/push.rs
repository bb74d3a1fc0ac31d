//! Push: an image from the store to a repository. Blobs the registry has
//! are skipped (HEAD); a blob known to be in another repository of the same
//! registry is mounted from there (falling back to an upload when the
//! registry answers 202); others are uploaded whole from the store's file
//! (POST, then PUT with the digest), layers several at once; the manifest
//! goes last, so a registry never holds a manifest whose blobs are missing.

use std::time::Instant;

use super::client::{check, Body, Registry, Request};
use super::error::RegistryError;
use super::pull::discard;
use super::reference::Reference;
use crate::image::import::OCI_MANIFEST;
use crate::store::{Digest, Store};

/// Blobs larger than this are uploaded in chunks of this size.
const CHUNK: u64 = 32 << 20;
/// Record namespace: which repository of a registry last held a blob.
const ORIGINS: &str = "registry-origins";

/// Where a blob went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlobOutcome {
    Present,
    Mounted,
    Uploaded,
}

/// Notes that `reference`'s repository holds `digest`, for later mounts.
pub fn remember_origin(store: &Store, reference: &Reference, digest: &Digest) {
    let key = format!("{} {digest}", reference.registry);
    // Only an optimisation: a failed write costs an upload later.
    let _ = store.put_record(ORIGINS, &key, reference.repository.as_bytes());
}

fn origin(store: &Store, reference: &Reference, digest: &Digest) -> Option<String> {
    let key = format!("{} {digest}", reference.registry);
    let repo = String::from_utf8(store.record(ORIGINS, &key).ok()??).ok()?;
    (repo != reference.repository).then_some(repo)
}

/// Pushes the manifest `manifest` (in the store) and everything it names to
/// `dest`; returns the manifest digest the registry stored.
pub fn push(
    client: &dyn Registry,
    store: &Store,
    manifest: &Digest,
    dest: &Reference,
    report: super::pull::Report,
) -> Result<Digest, RegistryError> {
    let started = Instant::now();
    let bytes = store.read_blob(manifest)?;
    let json: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|e| RegistryError::Malformed {
            registry: dest.registry.clone(),
            repository: dest.repository.clone(),
            what: format!("manifest {manifest} in the store"),
            reason: e.to_string(),
        })?;
    let media_type = json
        .get("mediaType")
        .and_then(|m| m.as_str())
        .unwrap_or(OCI_MANIFEST)
        .to_string();
    let mut blobs: Vec<Digest> = Vec::new();
    for desc in json
        .get("layers")
        .and_then(|l| l.as_array())
        .into_iter()
        .flatten()
    {
        blobs.push(descriptor_digest(desc, dest)?);
    }
    if let Some(config) = json.get("config") {
        blobs.push(descriptor_digest(config, dest)?);
    }
    push_concurrently(client, store, dest, &blobs, report)?;
    let tag = dest.tag.clone().unwrap_or_else(|| manifest.to_string());
    let req = Request {
        method: "PUT",
        registry: &dest.registry,
        repository: &dest.repository,
        path: format!("/v2/{}/manifests/{tag}", dest.repository),
        headers: vec![("Content-Type", media_type)],
        body: Body::Bytes(bytes),
        scopes: vec![push_scope(dest)],
        what: format!("manifest {tag}"),
    };
    let response = check(client.send(&req)?, &req, &[200, 201])?;
    discard(response);
    report(&format!(
        "pushed {dest} ({manifest}) in {:.1}s",
        started.elapsed().as_secs_f64()
    ));
    Ok(*manifest)
}

fn descriptor_digest(desc: &serde_json::Value, dest: &Reference) -> Result<Digest, RegistryError> {
    let text = desc.get("digest").and_then(|d| d.as_str()).unwrap_or("");
    text.parse().map_err(
        |e: crate::store::DigestParseError| RegistryError::Malformed {
            registry: dest.registry.clone(),
            repository: dest.repository.clone(),
            what: format!("descriptor {text:?}"),
            reason: e.to_string(),
        },
    )
}

fn push_scope(dest: &Reference) -> String {
    format!("repository:{}:pull,push", dest.repository)
}

fn push_concurrently(
    client: &dyn Registry,
    store: &Store,
    dest: &Reference,
    blobs: &[Digest],
    report: super::pull::Report,
) -> Result<(), RegistryError> {
    super::parallel::for_each(blobs, |digest| {
        push_blob(client, store, dest, digest, report).map(|_| ())
    })
}

/// One blob: skipped, mounted or uploaded.
pub fn push_blob(
    client: &dyn Registry,
    store: &Store,
    dest: &Reference,
    digest: &Digest,
    report: super::pull::Report,
) -> Result<BlobOutcome, RegistryError> {
    let started = Instant::now();
    let size = store.blob_size(digest)?;
    let outcome = if blob_exists(client, dest, digest)? {
        BlobOutcome::Present
    } else {
        let from = origin(store, dest, digest);
        match start_upload(client, dest, digest, from.as_deref())? {
            None => BlobOutcome::Mounted,
            Some(location) => {
                upload(client, store, dest, digest, &location)?;
                BlobOutcome::Uploaded
            }
        }
    };
    remember_origin(store, dest, digest);
    let word = match outcome {
        BlobOutcome::Present => "already present",
        BlobOutcome::Mounted => "mounted",
        BlobOutcome::Uploaded => "uploaded",
    };
    report(&format!(
        "{digest}: {word} ({size} bytes, {:.2}s)",
        started.elapsed().as_secs_f64()
    ));
    Ok(outcome)
}

fn blob_exists(
    client: &dyn Registry,
    dest: &Reference,
    digest: &Digest,
) -> Result<bool, RegistryError> {
    let req = Request {
        method: "HEAD",
        registry: &dest.registry,
        repository: &dest.repository,
        path: format!("/v2/{}/blobs/{digest}", dest.repository),
        headers: Vec::new(),
        body: Body::Empty,
        scopes: vec![push_scope(dest)],
        what: format!("blob {digest}"),
    };
    let response = client.send(&req)?;
    let status = response.status().as_u16();
    discard(response);
    Ok(status == 200)
}

/// Starts an upload (asking for a cross-repository mount when `from` is
/// known): `None` when the blob was mounted, else the upload location.
fn start_upload(
    client: &dyn Registry,
    dest: &Reference,
    digest: &Digest,
    from: Option<&str>,
) -> Result<Option<String>, RegistryError> {
    let mut path = format!("/v2/{}/blobs/uploads/", dest.repository);
    let mut scopes = vec![push_scope(dest)];
    if let Some(from) = from {
        path.push_str(&format!("?mount={digest}&from={from}"));
        scopes.push(format!("repository:{from}:pull"));
    }
    let req = Request {
        method: "POST",
        registry: &dest.registry,
        repository: &dest.repository,
        path,
        headers: vec![("Content-Length", "0".into())],
        body: Body::Empty,
        scopes,
        what: format!("upload of blob {digest}"),
    };
    let response = check(client.send(&req)?, &req, &[201, 202])?;
    let mounted = response.status().as_u16() == 201;
    let location = response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    discard(response);
    if mounted {
        return Ok(None);
    }
    location.map(Some).ok_or_else(|| RegistryError::Malformed {
        registry: dest.registry.clone(),
        repository: dest.repository.clone(),
        what: format!("upload of blob {digest}"),
        reason: "the registry gave no upload location".into(),
    })
}

/// Sends the blob to `location` and closes the upload with its digest:
/// whole in one PUT, or in PATCH chunks when it is large (a registry then
/// never has to take one huge request).
fn upload(
    client: &dyn Registry,
    store: &Store,
    dest: &Reference,
    digest: &Digest,
    location: &str,
) -> Result<(), RegistryError> {
    let path = store.blob_path(digest);
    let size = store.blob_size(digest)?;
    let (location, body) = if size > CHUNK {
        (
            upload_chunks(client, dest, digest, location, &path, size)?,
            Body::Empty,
        )
    } else {
        (location.to_string(), Body::File(path))
    };
    let separator = if location.contains('?') { '&' } else { '?' };
    let req = Request {
        method: "PUT",
        registry: &dest.registry,
        repository: &dest.repository,
        path: format!("{location}{separator}digest={digest}"),
        headers: vec![("Content-Type", "application/octet-stream".into())],
        body,
        scopes: vec![push_scope(dest)],
        what: format!("upload of blob {digest}"),
    };
    let response = check(client.send(&req)?, &req, &[201, 204])?;
    discard(response);
    Ok(())
}

/// PATCHes the blob in [`CHUNK`]-sized pieces; returns where to close it.
fn upload_chunks(
    client: &dyn Registry,
    dest: &Reference,
    digest: &Digest,
    location: &str,
    path: &std::path::Path,
    size: u64,
) -> Result<String, RegistryError> {
    let mut location = location.to_string();
    let mut offset = 0;
    while offset < size {
        let len = CHUNK.min(size - offset);
        let req = Request {
            method: "PATCH",
            registry: &dest.registry,
            repository: &dest.repository,
            path: location.clone(),
            headers: vec![
                ("Content-Type", "application/octet-stream".into()),
                ("Content-Range", format!("{offset}-{}", offset + len - 1)),
            ],
            body: Body::FileRange {
                path: path.to_path_buf(),
                offset,
                len,
            },
            scopes: vec![push_scope(dest)],
            what: format!("upload of blob {digest}"),
        };
        let response = check(client.send(&req)?, &req, &[202])?;
        if let Some(next) = response
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
        {
            location = next.to_string();
        }
        discard(response);
        offset += len;
    }
    Ok(location)
}
