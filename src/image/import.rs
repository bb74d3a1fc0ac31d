//! Bringing a base image into the store: from an OCI layout directory, an OCI
//! archive, a docker archive, or an image already in the store. Every blob is
//! verified against its digest on the way in; archives are streamed entry by
//! entry straight into the store, so no path from an archive is ever written
//! to disk.

use super::config::ImageConfig;
use super::error::{io_at, ImageError};
use super::platform::Platform;
use super::reference::{normalize_name, ImageSource};
use crate::layer::{detect_compression, Compression};
use crate::store::{Digest, Store};
use oci_spec::image::{Descriptor, ImageIndex, ImageManifest};
use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};

pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const LAYER_TAR: &str = "application/vnd.oci.image.layer.v1.tar";
pub const LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
pub const LAYER_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";
const REF_NAME: &str = "org.opencontainers.image.ref.name";

/// One layer of an image as the store holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerRef {
    /// Digest of the uncompressed tar.
    pub diff_id: Digest,
    /// Digest of the blob in the store (compressed or not).
    pub blob: Digest,
    pub media_type: String,
    pub size: u64,
}

/// An image: its config and layers, all blobs present in the store.
#[derive(Debug, Clone)]
pub struct Image {
    pub config: ImageConfig,
    pub layers: Vec<LayerRef>,
    /// The manifest it was read from (identifies the base for cache keys).
    pub manifest: Option<Digest>,
}

impl Image {
    pub fn scratch(platform: &Platform) -> Image {
        Image {
            config: ImageConfig::scratch(
                &platform.os,
                &platform.architecture,
                platform.variant.as_deref(),
            ),
            layers: Vec::new(),
            manifest: None,
        }
    }
}

/// The OCI media type for a layer whatever the manifest called it: docker's
/// `rootfs.diff.tar[.gzip|.zstd]` types name the same bytes, and an OCI
/// manifest must not mix them in.
pub fn oci_layer_media_type(media_type: &str) -> String {
    match media_type {
        "application/vnd.docker.image.rootfs.diff.tar.gzip" => LAYER_GZIP.into(),
        "application/vnd.docker.image.rootfs.diff.tar.zstd" => LAYER_ZSTD.into(),
        "application/vnd.docker.image.rootfs.diff.tar" => LAYER_TAR.into(),
        other => other.to_string(),
    }
}

/// The media type a layer blob gets from its first bytes.
pub fn layer_media_type(first_bytes: &[u8]) -> &'static str {
    match detect_compression(first_bytes) {
        Compression::Gzip => LAYER_GZIP,
        Compression::Zstd => LAYER_ZSTD,
        Compression::None => LAYER_TAR,
    }
}

/// Loads `source` for `platform`, importing whatever blobs are missing.
pub fn load_image(
    store: &Store,
    source: &ImageSource,
    platform: &Platform,
) -> Result<Image, ImageError> {
    match source {
        ImageSource::Scratch => Ok(Image::scratch(platform)),
        ImageSource::OciLayout { path, tag } => {
            let blobs = BlobSource::Layout(path.clone());
            let index: ImageIndex = read_json_file(&path.join("index.json"), "index.json")?;
            let desc = select_tagged(&index, tag.as_deref(), path)?;
            resolve(store, &blobs, &desc, platform, &source.to_string())
        }
        ImageSource::OciArchive { path, tag } => {
            let files = stream_archive(store, path)?;
            let index_bytes = files
                .small
                .get("index.json")
                .ok_or_else(|| malformed(path, "archive", "no index.json"))?;
            let index: ImageIndex = parse_json(index_bytes, path, "index.json")?;
            let desc = select_tagged(&index, tag.as_deref(), path)?;
            resolve(
                store,
                &BlobSource::Store,
                &desc,
                platform,
                &source.to_string(),
            )
        }
        ImageSource::DockerArchive { path } => load_docker_archive(store, path),
        ImageSource::Named(name) => load_named(store, name, platform),
    }
}

fn malformed(path: &Path, what: &'static str, reason: impl Into<String>) -> ImageError {
    ImageError::Malformed {
        path: path.to_path_buf(),
        what,
        reason: reason.into(),
    }
}

fn parse_json<T: serde::de::DeserializeOwned>(
    bytes: &[u8],
    path: &Path,
    what: &'static str,
) -> Result<T, ImageError> {
    serde_json::from_slice(bytes).map_err(|e| malformed(path, what, e.to_string()))
}

fn read_json_file<T: serde::de::DeserializeOwned>(
    path: &Path,
    what: &'static str,
) -> Result<T, ImageError> {
    let bytes = std::fs::read(path).map_err(io_at(path))?;
    parse_json(&bytes, path, what)
}

/// Where blobs of a source live before import.
enum BlobSource {
    Layout(PathBuf),
    /// Already streamed into the store.
    Store,
}

impl BlobSource {
    /// Makes sure the blob is in the store (verified) and returns its bytes
    /// when `read` is set.
    fn import(&self, store: &Store, digest: &Digest, source_name: &str) -> Result<(), ImageError> {
        if store.has_blob(digest) {
            return Ok(());
        }
        let BlobSource::Layout(dir) = self else {
            return Err(ImageError::MissingBlob {
                source_name: source_name.into(),
                digest: digest.to_string(),
            });
        };
        let path = dir
            .join("blobs")
            .join(digest.algorithm())
            .join(digest.hex());
        let mut file = std::fs::File::open(&path).map_err(|_| ImageError::MissingBlob {
            source_name: source_name.into(),
            digest: digest.to_string(),
        })?;
        let mut writer = store.blob_writer()?;
        std::io::copy(&mut file, &mut writer).map_err(io_at(&path))?;
        writer.commit_expect(digest)?;
        Ok(())
    }
}

fn digest_of(desc: &Descriptor, source_name: &str) -> Result<Digest, ImageError> {
    desc.digest()
        .to_string()
        .parse()
        .map_err(|e| ImageError::MissingBlob {
            source_name: source_name.into(),
            digest: format!("{} ({e})", desc.digest()),
        })
}

fn select_tagged(
    index: &ImageIndex,
    tag: Option<&str>,
    path: &Path,
) -> Result<Descriptor, ImageError> {
    let manifests = index.manifests();
    let tagged = |d: &&Descriptor| {
        d.annotations()
            .as_ref()
            .and_then(|a| a.get(REF_NAME))
            .is_some_and(|name| Some(name.as_str()) == tag)
    };
    match tag {
        Some(t) => manifests
            .iter()
            .find(tagged)
            .cloned()
            .ok_or_else(|| ImageError::TagNotFound {
                path: path.to_path_buf(),
                tag: t.to_string(),
            }),
        None if manifests.len() == 1 => Ok(manifests[0].clone()),
        None => Err(ImageError::AmbiguousLayout {
            path: path.to_path_buf(),
            count: manifests.len(),
        }),
    }
}

fn read_store_json<T: serde::de::DeserializeOwned>(
    store: &Store,
    digest: &Digest,
    source_name: &str,
) -> Result<T, ImageError> {
    let bytes = store.read_blob(digest)?;
    serde_json::from_slice(&bytes).map_err(|e| ImageError::BadJson {
        source_name: source_name.into(),
        digest: *digest,
        reason: e.to_string(),
    })
}

/// Follows an index down to the platform's manifest, then imports config and
/// layers.
fn resolve(
    store: &Store,
    blobs: &BlobSource,
    desc: &Descriptor,
    platform: &Platform,
    source_name: &str,
) -> Result<Image, ImageError> {
    let digest = digest_of(desc, source_name)?;
    blobs.import(store, &digest, source_name)?;
    let media = desc.media_type().to_string();
    if media == OCI_INDEX || media == DOCKER_LIST {
        let index: ImageIndex = read_store_json(store, &digest, source_name)?;
        let chosen = choose_platform(&index, platform, source_name)?;
        return resolve(store, blobs, &chosen, platform, source_name);
    }
    let manifest: ImageManifest = read_store_json(store, &digest, source_name)?;
    let config_digest = digest_of(manifest.config(), source_name)?;
    blobs.import(store, &config_digest, source_name)?;
    let config: ImageConfig = read_store_json(store, &config_digest, source_name)?;
    let descs = manifest.layers();
    if config.rootfs.diff_ids.len() != descs.len() {
        return Err(ImageError::LayerCountMismatch {
            source_name: source_name.into(),
            diff_ids: config.rootfs.diff_ids.len(),
            layers: descs.len(),
        });
    }
    let mut layers = Vec::with_capacity(descs.len());
    for (layer, diff_id) in descs.iter().zip(&config.rootfs.diff_ids) {
        let blob = digest_of(layer, source_name)?;
        blobs.import(store, &blob, source_name)?;
        layers.push(LayerRef {
            diff_id: diff_id.parse().map_err(|e| ImageError::BadJson {
                source_name: source_name.into(),
                digest: config_digest,
                reason: format!("bad diff_id: {e}"),
            })?,
            blob,
            media_type: oci_layer_media_type(layer.media_type().as_ref()),
            size: layer.size(),
        });
    }
    Ok(Image {
        config,
        layers,
        manifest: Some(digest),
    })
}

/// The manifest in `index` for `platform`, or an error listing what it has.
pub fn choose_platform(
    index: &ImageIndex,
    platform: &Platform,
    source_name: &str,
) -> Result<Descriptor, ImageError> {
    let fits = |d: &&Descriptor| {
        d.platform().as_ref().is_some_and(|p| {
            platform.matches(
                &p.os().to_string(),
                &p.architecture().to_string(),
                p.variant().as_deref(),
            )
        })
    };
    if let Some(d) = index.manifests().iter().find(fits) {
        return Ok(d.clone());
    }
    let available = index
        .manifests()
        .iter()
        .filter_map(|d| {
            d.platform()
                .as_ref()
                .map(|p| format!("{}/{}", p.os(), p.architecture()))
        })
        .collect::<Vec<_>>()
        .join(", ");
    Err(ImageError::PlatformNotFound {
        source_name: source_name.into(),
        platform: platform.to_string(),
        available,
    })
}

/// What streaming an archive left: small JSON files by name, and every other
/// regular file as a blob in the store.
struct ArchiveFiles {
    small: HashMap<String, Vec<u8>>,
    blobs: HashMap<String, (Digest, u64)>,
}

const SMALL_FILES: [&str; 3] = ["index.json", "manifest.json", "oci-layout"];

/// Streams every regular file of a tar archive into the store.
fn stream_archive(store: &Store, path: &Path) -> Result<ArchiveFiles, ImageError> {
    let file = std::fs::File::open(path).map_err(io_at(path))?;
    let mut archive = tar::Archive::new(file);
    let mut files = ArchiveFiles {
        small: HashMap::new(),
        blobs: HashMap::new(),
    };
    for entry in archive.entries().map_err(io_at(path))? {
        let mut entry = entry.map_err(io_at(path))?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let name = entry
            .path()
            .map_err(io_at(path))?
            .to_string_lossy()
            .trim_start_matches("./")
            .to_string();
        if SMALL_FILES.contains(&name.as_str()) {
            let mut bytes = Vec::new();
            entry.read_to_end(&mut bytes).map_err(io_at(path))?;
            files.small.insert(name, bytes);
            continue;
        }
        let mut writer = store.blob_writer()?;
        std::io::copy(&mut entry, &mut writer).map_err(io_at(path))?;
        // Files named by digest must hash to it.
        let expected = name
            .strip_prefix("blobs/sha256/")
            .and_then(|h| Digest::from_hex(h).ok());
        let (digest, size) = match expected {
            Some(want) => (want, writer.commit_expect(&want)?),
            None => writer.commit()?,
        };
        files.blobs.insert(name, (digest, size));
    }
    Ok(files)
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DockerManifestEntry {
    config: String,
    #[serde(default)]
    layers: Vec<String>,
}

fn load_docker_archive(store: &Store, path: &Path) -> Result<Image, ImageError> {
    let files = stream_archive(store, path)?;
    let manifest_bytes = files
        .small
        .get("manifest.json")
        .ok_or_else(|| malformed(path, "docker archive", "no manifest.json"))?;
    let entries: Vec<DockerManifestEntry> = parse_json(manifest_bytes, path, "manifest.json")?;
    let entry = match entries.as_slice() {
        [one] => one,
        _ => {
            return Err(ImageError::AmbiguousLayout {
                path: path.to_path_buf(),
                count: entries.len(),
            })
        }
    };
    let blob = |name: &str| {
        files
            .blobs
            .get(name.trim_start_matches("./"))
            .cloned()
            .ok_or_else(|| {
                malformed(
                    path,
                    "manifest.json",
                    format!("{name} is not in the archive"),
                )
            })
    };
    let (config_digest, _) = blob(&entry.config)?;
    let source_name = format!("docker-archive:{}", path.display());
    let config: ImageConfig = read_store_json(store, &config_digest, &source_name)?;
    if config.rootfs.diff_ids.len() != entry.layers.len() {
        return Err(ImageError::LayerCountMismatch {
            source_name,
            diff_ids: config.rootfs.diff_ids.len(),
            layers: entry.layers.len(),
        });
    }
    let mut layers = Vec::new();
    for (name, diff_id) in entry.layers.iter().zip(&config.rootfs.diff_ids) {
        let (digest, size) = blob(name)?;
        let mut head = [0u8; 8];
        let mut f = store.open_blob(&digest)?;
        let n = f.read(&mut head).map_err(io_at(store.blob_path(&digest)))?;
        layers.push(LayerRef {
            diff_id: diff_id
                .parse()
                .map_err(|e| malformed(path, "config", format!("bad diff_id: {e}")))?,
            blob: digest,
            media_type: layer_media_type(&head[..n]).to_string(),
            size,
        });
    }
    Ok(Image {
        config,
        layers,
        manifest: None,
    })
}

/// An image in the store under `name` (normalised as docker does).
fn load_named(store: &Store, name: &str, platform: &Platform) -> Result<Image, ImageError> {
    let candidates = [name.to_string(), normalize_name(name)];
    let digest = candidates
        .iter()
        .find_map(|n| store.tag(n).ok().flatten())
        .ok_or_else(|| ImageError::NotInStore {
            reference: name.to_string(),
        })?;
    let desc_json = serde_json::json!({
        "mediaType": OCI_MANIFEST,
        "digest": digest.to_string(),
        "size": store.blob_size(&digest)?,
    });
    let desc: Descriptor = serde_json::from_value(desc_json).map_err(|e| ImageError::BadJson {
        source_name: name.into(),
        digest,
        reason: e.to_string(),
    })?;
    resolve(store, &BlobSource::Store, &desc, platform, name)
}
