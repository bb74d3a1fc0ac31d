//! Image commands on the store: `images`, `inspect`, `save`, `load`,
//! `import`, `tag`, `rmi`.

use super::args::{
    ImportArgs, InspectArgs, LoadArgs, RmiArgs, SaveArgs, SaveFormat, StoreArgs, TagArgs,
};
use super::Failure;
use crate::export::{export, store_image, Output};
use crate::image::import::{layer_media_type, LayerRef};
use crate::image::{
    load_image, normalize_name, History, Image, ImageConfig, ImageSource, Platform,
};
use crate::layer::{decompressor, detect_compression, Compression};
use crate::store::{default_root, Digest, Hasher, Store};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

pub(super) fn fail(e: impl std::fmt::Display) -> Failure {
    Failure::build(format!("error: {e}"))
}

pub(super) fn open_store(args: &StoreArgs) -> Result<Store, Failure> {
    Store::open(&args.root.clone().unwrap_or_else(default_root)).map_err(fail)
}

fn load_named(store: &Store, name: &str) -> Result<Image, Failure> {
    load_image(
        store,
        &ImageSource::Named(name.to_string()),
        &Platform::host(),
    )
    .map_err(fail)
}

fn read_json(store: &Store, digest: &Digest) -> Result<Value, Failure> {
    let bytes = store.read_blob(digest).map_err(fail)?;
    serde_json::from_slice(&bytes).map_err(|e| fail(format!("blob {digest}: {e}")))
}

/// `docker.io/library/busybox:latest` → (`busybox`, `latest`).
fn split_display(reference: &str) -> (String, String) {
    let short = reference
        .strip_prefix("docker.io/library/")
        .or_else(|| reference.strip_prefix("docker.io/"))
        .unwrap_or(reference);
    match short.rsplit_once(':').filter(|(_, t)| !t.contains('/')) {
        Some((repo, tag)) => (repo.to_string(), tag.to_string()),
        None => (short.to_string(), String::new()),
    }
}

pub fn images(args: StoreArgs) -> Result<i32, Failure> {
    let store = open_store(&args)?;
    println!(
        "{:<40} {:<16} {:<14} {:<22} SIZE",
        "REPOSITORY", "TAG", "IMAGE ID", "CREATED"
    );
    for (reference, manifest_digest) in store.tags().map_err(fail)? {
        let manifest = read_json(&store, &manifest_digest)?;
        let config_digest: Digest = manifest["config"]["digest"]
            .as_str()
            .unwrap_or("")
            .parse()
            .map_err(fail)?;
        let config = read_json(&store, &config_digest)?;
        let size: u64 = manifest["layers"]
            .as_array()
            .map_or(0, |l| l.iter().filter_map(|d| d["size"].as_u64()).sum());
        let (repo, tag) = split_display(&reference);
        println!(
            "{repo:<40} {tag:<16} {:<14} {:<22} {}",
            &config_digest.hex()[..12],
            config["created"].as_str().unwrap_or(""),
            human_size(size)
        );
    }
    Ok(0)
}

pub(super) fn human_size(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 30 => format!("{:.1}GB", b as f64 / f64::from(1u32 << 30)),
        b if b >= 1 << 20 => format!("{:.1}MB", b as f64 / f64::from(1u32 << 20)),
        b if b >= 1 << 10 => format!("{:.1}kB", b as f64 / 1024.0),
        b => format!("{b}B"),
    }
}

/// `1234567` → `1.2 MB`.
fn human(bytes: u64) -> String {
    match bytes {
        b if b >= 1_000_000_000 => format!("{:.1} GB", b as f64 / 1e9),
        b if b >= 1_000_000 => format!("{:.1} MB", b as f64 / 1e6),
        b if b >= 1_000 => format!("{:.1} kB", b as f64 / 1e3),
        b => format!("{b} B"),
    }
}

/// `inspect --layers`: a table per image and what slimming would save.
fn layer_report(store: &Store, name: &str) -> Result<(), Failure> {
    let image = load_named(store, name)?;
    let costs = crate::image::layer_report::layer_costs(store, &image).map_err(fail)?;
    println!("{name}");
    println!("{:<6} {:>10} {:>10}  CREATED BY", "LAYER", "SIZE", "WASTED");
    for (i, cost) in costs.iter().enumerate() {
        let step: String = cost.created_by.chars().take(90).collect();
        println!(
            "{:<6} {:>10} {:>10}  {step}",
            i + 1,
            human(cost.content),
            human(cost.wasted)
        );
    }
    let total: u64 = costs.iter().map(|c| c.content).sum();
    let wasted: u64 = costs.iter().map(|c| c.wasted).sum();
    let share = if total == 0 {
        0.0
    } else {
        wasted as f64 * 100.0 / total as f64
    };
    println!(
        "{} in {} layers; {} ({share:.0}%) is overwritten or deleted by later layers and would be saved without it",
        human(total),
        costs.len(),
        human(wasted)
    );
    Ok(())
}

pub fn inspect(args: InspectArgs) -> Result<i32, Failure> {
    let store = open_store(&args.store)?;
    if args.layers {
        for name in &args.images {
            layer_report(&store, name)?;
        }
        return Ok(0);
    }
    let mut out = Vec::new();
    for name in &args.images {
        let reference = normalize_name(name);
        let manifest = store
            .tag(&reference)
            .map_err(fail)?
            .ok_or_else(|| fail(format!("no such image: {name}")))?;
        let image = load_named(&store, name)?;
        out.push(json!({
            "Name": reference,
            "ManifestDigest": manifest.to_string(),
            "Created": image.config.created,
            "Architecture": image.config.architecture,
            "Os": image.config.os,
            "Config": image.config.config,
            "RootFS": image.config.rootfs,
            "Layers": image.layers.iter().map(|l| json!({"digest": l.blob.to_string(), "diffID": l.diff_id.to_string(), "mediaType": l.media_type, "size": l.size})).collect::<Vec<_>>(),
            "History": image.config.history,
        }));
    }
    println!("{}", serde_json::to_string_pretty(&out).map_err(fail)?);
    Ok(0)
}

pub fn save(args: SaveArgs) -> Result<i32, Failure> {
    let store = open_store(&args.store)?;
    let image = load_named(&store, &args.image)?;
    let output = match args.format {
        SaveFormat::Docker => Output::Docker {
            dest: args.output.clone(),
        },
        SaveFormat::Oci => Output::Oci {
            dest: args.output.clone(),
            tar: true,
        },
    };
    export(
        &store,
        &image,
        &output,
        std::slice::from_ref(&args.image),
        Compression::Gzip,
        false,
    )
    .map_err(fail)?;
    Ok(0)
}

/// Names an archive carries: docker `RepoTags`, else OCI index annotations.
fn archive_names(path: &Path) -> Result<(bool, Vec<String>), Failure> {
    let file = std::fs::File::open(path).map_err(|e| fail(format!("{}: {e}", path.display())))?;
    let mut archive = tar::Archive::new(file);
    let (mut docker, mut names, mut oci_names) = (false, Vec::new(), Vec::new());
    for entry in archive
        .entries()
        .map_err(|e| fail(format!("{}: {e}", path.display())))?
    {
        let mut entry = entry.map_err(|e| fail(format!("{}: {e}", path.display())))?;
        let name = entry
            .path()
            .map(|p| p.to_string_lossy().trim_start_matches("./").to_string())
            .unwrap_or_default();
        if name != "manifest.json" && name != "index.json" {
            continue;
        }
        let mut bytes = Vec::new();
        entry
            .read_to_end(&mut bytes)
            .map_err(|e| fail(format!("{}: {e}", path.display())))?;
        let value: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if name == "manifest.json" {
            docker = true;
            names.extend(
                value[0]["RepoTags"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|t| t.as_str().map(str::to_string)),
            );
        } else {
            let annotation = &value["manifests"][0]["annotations"];
            if let Some(n) = annotation["io.containerd.image.name"].as_str() {
                oci_names.push(n.to_string());
            }
        }
    }
    if !docker {
        names = oci_names;
    }
    Ok((docker, names))
}

pub fn load(args: LoadArgs) -> Result<i32, Failure> {
    let store = open_store(&args.store)?;
    let (docker, names) = archive_names(&args.input)?;
    let source = if docker {
        ImageSource::DockerArchive {
            path: args.input.clone(),
        }
    } else {
        ImageSource::OciArchive {
            path: args.input.clone(),
            tag: None,
        }
    };
    let image = load_image(&store, &source, &Platform::host()).map_err(fail)?;
    let prepared = store_image(&store, &image, &names).map_err(fail)?;
    for name in &names {
        println!("Loaded image: {name}");
    }
    if names.is_empty() {
        println!("Loaded image ID: {}", prepared.config.digest);
    }
    Ok(0)
}

/// One layer from a root filesystem tarball, like `docker import`.
pub fn import(args: ImportArgs) -> Result<i32, Failure> {
    let store = open_store(&args.store)?;
    let path = &args.tarball;
    let io = |e: std::io::Error| fail(format!("{}: {e}", path.display()));
    let mut writer = store.blob_writer().map_err(fail)?;
    std::io::copy(&mut std::fs::File::open(path).map_err(io)?, &mut writer).map_err(io)?;
    let (blob, size) = writer.commit().map_err(fail)?;
    let mut reader = BufReader::new(store.open_blob(&blob).map_err(fail)?);
    let head = reader.fill_buf().map_err(io)?.to_vec();
    let mut tar = decompressor(reader, detect_compression(&head)).map_err(fail)?;
    let mut hasher = Hasher::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = tar.read(&mut buf).map_err(io)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    let platform = Platform::host();
    let now = crate::build::time::rfc3339(crate::build::time::build_time(None));
    let mut config = ImageConfig {
        architecture: platform.architecture.clone(),
        os: platform.os.clone(),
        created: Some(now.clone()),
        ..ImageConfig::default()
    };
    config.history.push(History {
        created: Some(now),
        comment: Some(format!("Imported from {}", path.display())),
        ..History::default()
    });
    let image = Image {
        config,
        layers: vec![LayerRef {
            diff_id: hasher.finish(),
            blob,
            media_type: layer_media_type(&head).to_string(),
            size,
        }],
        manifest: None,
    };
    let prepared =
        store_image(&store, &image, std::slice::from_ref(&args.reference)).map_err(fail)?;
    println!("{}", prepared.config.digest);
    Ok(0)
}

pub fn tag(args: TagArgs) -> Result<i32, Failure> {
    let store = open_store(&args.store)?;
    let manifest = store
        .tag(&normalize_name(&args.source))
        .map_err(fail)?
        .ok_or_else(|| fail(format!("no such image: {}", args.source)))?;
    store
        .set_tag(&normalize_name(&args.target), &manifest)
        .map_err(fail)?;
    Ok(0)
}

/// Removes names; blobs stay until garbage collection.
pub fn rmi(args: RmiArgs) -> Result<i32, Failure> {
    let store = open_store(&args.store)?;
    let mut status = 0;
    for name in &args.images {
        if store.remove_tag(&normalize_name(name)).map_err(fail)? {
            println!("Untagged: {name}");
        } else {
            eprintln!("error: no such image: {name}");
            status = 1;
        }
    }
    Ok(status)
}
