//! Pull: resolve a reference to a manifest (through an index, for the
//! platform asked for), then fetch the config and layers into the store.
//! Every blob is hashed while it streams to a temp file and published only
//! when it matches its digest; blobs the store has are never fetched again;
//! layers download concurrently; a download cut short resumes with `Range`.

use std::io::Read;
use std::time::Instant;

use oci_spec::image::{ImageIndex, ImageManifest};

use super::client::{check, read_small, Body, Registry, Request};
use super::error::RegistryError;
use super::reference::Reference;
use crate::image::import::{DOCKER_LIST, OCI_INDEX};
use crate::image::{choose_platform, load_image, Image, ImageSource, Platform};
use crate::store::{Digest, Store, StoreError};

/// Manifest media types rbuild reads, most preferred first.
pub const MANIFEST_TYPES: [&str; 4] = [
    OCI_INDEX,
    DOCKER_LIST,
    crate::image::import::OCI_MANIFEST,
    DOCKER_MANIFEST,
];
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// Attempts at one blob download (each resuming where the last stopped).
const BLOB_ATTEMPTS: u32 = 4;

/// What a pull reports, one line per event, for the progress output.
pub type Report<'a> = &'a (dyn Fn(&str) + Sync);

/// A fetched manifest: its bytes, media type and digest.
pub struct Fetched {
    pub bytes: Vec<u8>,
    pub media_type: String,
    pub digest: Digest,
}

fn scope(reference: &Reference, actions: &str) -> String {
    format!("repository:{}:{actions}", reference.repository)
}

/// GETs a manifest by tag or digest; a digest reference is verified.
pub fn fetch_manifest(
    client: &dyn Registry,
    reference: &Reference,
    name: &str,
) -> Result<Fetched, RegistryError> {
    let req = Request {
        method: "GET",
        registry: &reference.registry,
        repository: &reference.repository,
        path: format!("/v2/{}/manifests/{name}", reference.repository),
        headers: vec![("Accept", MANIFEST_TYPES.join(", "))],
        body: Body::Empty,
        scopes: vec![scope(reference, "pull")],
        what: format!("manifest {name}"),
    };
    let response = check(client.send(&req)?, &req, &[200])?;
    let media_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_string();
    let bytes = read_small(response)?;
    let digest = Digest::of(&bytes);
    if name.starts_with("sha256:") && digest.to_string() != name {
        return Err(RegistryError::DigestMismatch {
            registry: reference.registry.clone(),
            repository: reference.repository.clone(),
            digest: name.to_string(),
            actual: digest.to_string(),
        });
    }
    // Registries may answer with a generic type; the document says its own.
    let declared = serde_json::from_slice::<serde_json::Value>(&bytes)
        .ok()
        .and_then(|v| v.get("mediaType")?.as_str().map(str::to_string));
    let media_type = declared.unwrap_or(media_type);
    Ok(Fetched {
        bytes,
        media_type,
        digest,
    })
}

/// Pulls `reference` for `platform` into the store, tags it under its full
/// name, and returns the image. Docker Hub images come from the configured
/// mirrors first, in order, and from Docker Hub when none has them.
pub fn pull(
    client: &dyn Registry,
    store: &Store,
    reference: &Reference,
    platform: &Platform,
    report: Report,
) -> Result<Image, RegistryError> {
    if reference.registry == super::reference::DOCKER_HUB {
        for mirror in client.mirrors() {
            let source = Reference {
                registry: mirror.clone(),
                ..reference.clone()
            };
            match pull_from(client, store, &source, reference, platform, report) {
                Ok(image) => return Ok(image),
                Err(e) => report(&format!("mirror {mirror}: {e}; trying the next source")),
            }
        }
    }
    pull_from(client, store, reference, reference, platform, report)
}

/// Pulls from `reference` and tags the result as `name`.
fn pull_from(
    client: &dyn Registry,
    store: &Store,
    reference: &Reference,
    name: &Reference,
    platform: &Platform,
    report: Report,
) -> Result<Image, RegistryError> {
    let mut fetched = fetch_manifest(client, reference, reference.manifest_ref())?;
    if fetched.media_type == OCI_INDEX || fetched.media_type == DOCKER_LIST {
        let index: ImageIndex = parse(&fetched.bytes, reference, "index")?;
        let chosen = choose_platform(&index, platform, &reference.to_string())?;
        store.put_blob(&fetched.bytes)?;
        fetched = fetch_manifest(client, reference, chosen.digest().as_ref())?;
    }
    let manifest: ImageManifest = parse(&fetched.bytes, reference, "manifest")?;
    let started = Instant::now();
    let config = manifest.config();
    fetch_blob(
        client,
        store,
        reference,
        &digest_of(config, reference)?,
        config.size(),
        report,
    )?;
    let layers: Vec<(Digest, u64)> = manifest
        .layers()
        .iter()
        .map(|l| Ok((digest_of(l, reference)?, l.size())))
        .collect::<Result<_, RegistryError>>()?;
    fetch_concurrently(client, store, reference, &layers, report)?;
    let manifest_digest = store.put_blob(&fetched.bytes)?;
    let name = name.to_string();
    store.set_tag(&name, &manifest_digest)?;
    report(&format!(
        "pulled {name} ({manifest_digest}) in {:.1}s",
        started.elapsed().as_secs_f64()
    ));
    Ok(load_image(store, &ImageSource::Named(name), platform)?)
}

fn parse<T: serde::de::DeserializeOwned>(
    bytes: &[u8],
    reference: &Reference,
    what: &str,
) -> Result<T, RegistryError> {
    serde_json::from_slice(bytes).map_err(|e| RegistryError::Malformed {
        registry: reference.registry.clone(),
        repository: reference.repository.clone(),
        what: what.to_string(),
        reason: e.to_string(),
    })
}

fn digest_of(
    desc: &oci_spec::image::Descriptor,
    reference: &Reference,
) -> Result<Digest, RegistryError> {
    desc.digest()
        .to_string()
        .parse()
        .map_err(
            |e: crate::store::DigestParseError| RegistryError::Malformed {
                registry: reference.registry.clone(),
                repository: reference.repository.clone(),
                what: format!("descriptor {}", desc.digest()),
                reason: e.to_string(),
            },
        )
}

/// Fetches `blobs`, several at once.
fn fetch_concurrently(
    client: &dyn Registry,
    store: &Store,
    reference: &Reference,
    blobs: &[(Digest, u64)],
    report: Report,
) -> Result<(), RegistryError> {
    super::parallel::for_each(blobs, |(digest, size)| {
        fetch_blob(client, store, reference, digest, *size, report)
    })
}

/// One blob into the store, verified; skipped when present.
pub fn fetch_blob(
    client: &dyn Registry,
    store: &Store,
    reference: &Reference,
    digest: &Digest,
    size: u64,
    report: Report,
) -> Result<(), RegistryError> {
    if store.has_blob(digest) {
        report(&format!("{digest}: present"));
        return Ok(());
    }
    let started = Instant::now();
    let mut writer = store.blob_writer()?;
    let mut attempt = 0;
    loop {
        let from = writer.size();
        let mut headers = Vec::new();
        if from > 0 {
            headers.push(("Range", format!("bytes={from}-")));
        }
        let req = Request {
            method: "GET",
            registry: &reference.registry,
            repository: &reference.repository,
            path: format!("/v2/{}/blobs/{digest}", reference.repository),
            headers,
            body: Body::Empty,
            scopes: vec![scope(reference, "pull")],
            what: format!("blob {digest}"),
        };
        let response = check(client.send(&req)?, &req, &[200, 206])?;
        if from > 0 && response.status().as_u16() == 200 {
            // The registry ignored the range: start over.
            writer = store.blob_writer()?;
        }
        // Never more than the descriptor's size: a registry cannot fill the
        // disk, and a short or wrong blob fails its digest.
        let limit = if size > 0 {
            size - writer.size().min(size)
        } else {
            u64::MAX
        };
        let mut body = response.into_body().into_reader().take(limit);
        match std::io::copy(&mut body, &mut writer) {
            Ok(_) if writer.size() >= size || size == 0 => break,
            Ok(_) | Err(_) if attempt + 1 < BLOB_ATTEMPTS => attempt += 1,
            Ok(_) => {
                return Err(interrupted(
                    reference,
                    digest,
                    "the connection closed early",
                ));
            }
            Err(e) => return Err(interrupted(reference, digest, &e.to_string())),
        }
    }
    let written = writer.size();
    super::push::remember_origin(store, reference, digest);
    writer.commit_expect(digest).map_err(|e| match e {
        StoreError::DigestMismatch { actual, .. } => RegistryError::DigestMismatch {
            registry: reference.registry.clone(),
            repository: reference.repository.clone(),
            digest: digest.to_string(),
            actual: actual.to_string(),
        },
        other => other.into(),
    })?;
    report(&format!(
        "{digest}: pulled {written} bytes in {:.2}s",
        started.elapsed().as_secs_f64()
    ));
    Ok(())
}

fn interrupted(reference: &Reference, digest: &Digest, reason: &str) -> RegistryError {
    RegistryError::Interrupted {
        registry: reference.registry.clone(),
        repository: reference.repository.clone(),
        what: format!("download of blob {digest}"),
        reason: reason.to_string(),
    }
}

/// Drains and drops a response body so its connection can be reused.
pub fn discard(response: ureq::http::Response<ureq::Body>) {
    let _ = std::io::copy(
        &mut response.into_body().into_reader().take(1 << 20),
        &mut std::io::sink(),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::client::Registry;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;

    /// Serves one blob; the first answer breaks after `cut` bytes, later
    /// ones honour `Range`. Records the ranges asked for.
    struct FlakyBlob {
        data: Vec<u8>,
        cut: usize,
        calls: AtomicUsize,
        ranges: Mutex<Vec<Option<String>>>,
    }

    /// A reader that fails after its bytes, like a dropped connection.
    struct Broken(std::io::Cursor<Vec<u8>>);

    impl Read for Broken {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            match self.0.read(buf)? {
                0 => Err(std::io::Error::new(
                    std::io::ErrorKind::ConnectionReset,
                    "reset",
                )),
                n => Ok(n),
            }
        }
    }

    impl Registry for FlakyBlob {
        fn send(&self, req: &Request) -> Result<ureq::http::Response<ureq::Body>, RegistryError> {
            let range = req
                .headers
                .iter()
                .find(|(k, _)| *k == "Range")
                .map(|(_, v)| v.clone());
            self.ranges.lock().unwrap().push(range.clone());
            let first = self.calls.fetch_add(1, Ordering::SeqCst) == 0;
            let from = range
                .as_deref()
                .and_then(|r| r.strip_prefix("bytes=")?.strip_suffix('-')?.parse().ok())
                .unwrap_or(0usize);
            let (status, body) = if first {
                let part = self.data[..self.cut].to_vec();
                (
                    200,
                    ureq::Body::builder().reader(Broken(std::io::Cursor::new(part))),
                )
            } else {
                (206, ureq::Body::builder().data(self.data[from..].to_vec()))
            };
            Ok(ureq::http::Response::builder()
                .status(status)
                .body(body)
                .unwrap())
        }

        fn mirrors(&self) -> &[String] {
            &[]
        }
    }

    #[test]
    fn a_broken_download_resumes_with_a_range_and_is_verified() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        let digest = Digest::of(&data);
        let fake = FlakyBlob {
            data: data.clone(),
            cut: 30_000,
            calls: AtomicUsize::new(0),
            ranges: Mutex::new(Vec::new()),
        };
        let reference = Reference::parse("127.0.0.1:1/a/b:1").unwrap();
        fetch_blob(
            &fake,
            &store,
            &reference,
            &digest,
            data.len() as u64,
            &|_| {},
        )
        .unwrap();
        assert_eq!(store.read_blob(&digest).unwrap(), data);
        assert_eq!(
            *fake.ranges.lock().unwrap(),
            [None, Some("bytes=30000-".to_string())]
        );
    }

    #[test]
    fn a_blob_that_does_not_match_its_digest_is_not_stored() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let data = vec![7u8; 5000];
        let claimed = Digest::of(b"something else");
        let fake = FlakyBlob {
            data: data.clone(),
            cut: 5000,
            calls: AtomicUsize::new(1), // no break: every answer whole
            ranges: Mutex::new(Vec::new()),
        };
        let reference = Reference::parse("127.0.0.1:1/a/b:1").unwrap();
        let err = fetch_blob(&fake, &store, &reference, &claimed, 0, &|_| {}).unwrap_err();
        assert!(matches!(err, RegistryError::DigestMismatch { .. }), "{err}");
        assert!(!store.has_blob(&claimed));
        assert!(!store.has_blob(&Digest::of(&data)));
    }
}
