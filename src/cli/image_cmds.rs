//! Image commands on the store: `images`, `inspect`, `save`, `load`,
//! `import`, `tag`, `rmi`.

use super::args::{ImportArgs, LoadArgs, RmiArgs, SaveArgs, SaveFormat, StoreArgs, TagArgs};
use super::Failure;
use crate::export::{export, store_image, Output};
use crate::image::{load_image, normalize_name, Image, ImageSource, Platform};
use crate::layer::Compression;
use crate::store::{default_root, Digest, Store};
use serde_json::Value;

pub(super) fn open_store(args: &StoreArgs) -> Result<Store, Failure> {
    Store::open(&args.root.clone().unwrap_or_else(default_root)).map_err(Failure::error)
}

pub(super) fn load_named(store: &Store, name: &str) -> Result<Image, Failure> {
    load_image(
        store,
        &ImageSource::Named(name.to_string()),
        &Platform::host(),
    )
    .map_err(Failure::error)
}

pub(super) fn read_json(store: &Store, digest: &Digest) -> Result<Value, Failure> {
    let bytes = store.read_blob(digest).map_err(Failure::error)?;
    serde_json::from_slice(&bytes).map_err(|e| Failure::message(format!("blob {digest}: {e}")))
}

/// `docker.io/library/busybox:latest` → (`busybox`, `latest`).
/// The familiar repository and the tag of a stored name.
pub(super) fn split_display(reference: &str) -> (String, String) {
    let short = crate::image::familiar_name(reference);
    match short.rsplit_once(':').filter(|(_, t)| !t.contains('/')) {
        Some((repo, tag)) => (repo.to_string(), tag.to_string()),
        None => (short, String::new()),
    }
}

pub fn images(args: StoreArgs) -> Result<i32, Failure> {
    let store = open_store(&args)?;
    println!(
        "{:<40} {:<16} {:<14} {:<22} SIZE",
        "REPOSITORY", "TAG", "IMAGE ID", "CREATED"
    );
    for (reference, manifest_digest) in store.tags().map_err(Failure::error)? {
        let manifest = read_json(&store, &manifest_digest)?;
        let config_digest: Digest = manifest["config"]["digest"]
            .as_str()
            .unwrap_or("")
            .parse()
            .map_err(Failure::error)?;
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
pub(super) fn layer_report(store: &Store, name: &str) -> Result<(), Failure> {
    let image = load_named(store, name)?;
    let costs = crate::image::layer_report::layer_costs(store, &image).map_err(Failure::error)?;
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
    .map_err(Failure::error)?;
    Ok(0)
}

pub fn load(args: LoadArgs) -> Result<i32, Failure> {
    let store = open_store(&args.store)?;
    let (docker, names) = crate::image::archive_names(&args.input).map_err(Failure::error)?;
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
    let image = load_image(&store, &source, &Platform::host()).map_err(Failure::error)?;
    let prepared = store_image(&store, &image, &names).map_err(Failure::error)?;
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
    // SOURCE_DATE_EPOCH makes an import of the same tarball the same image.
    let epoch = super::build_cmd::source_date_epoch(&Default::default())?;
    let now = crate::solver::time::rfc3339(crate::solver::time::build_time(epoch));
    let image = crate::image::import_rootfs(&store, &args.tarball, &Platform::host(), &now)
        .map_err(Failure::error)?;
    let prepared = store_image(&store, &image, std::slice::from_ref(&args.reference))
        .map_err(Failure::error)?;
    println!("{}", prepared.config.digest);
    Ok(0)
}

pub fn tag(args: TagArgs) -> Result<i32, Failure> {
    let store = open_store(&args.store)?;
    let manifest = store
        .tag(&normalize_name(&args.source))
        .map_err(Failure::error)?
        .ok_or_else(|| Failure::message(format!("no such image: {}", args.source)))?;
    store
        .set_tag(&normalize_name(&args.target), &manifest)
        .map_err(Failure::error)?;
    Ok(0)
}

/// Removes names; blobs stay until garbage collection.
pub fn rmi(args: RmiArgs) -> Result<i32, Failure> {
    let store = open_store(&args.store)?;
    let mut status = 0;
    for name in &args.images {
        if store
            .remove_tag(&normalize_name(name))
            .map_err(Failure::error)?
        {
            println!("Untagged: {name}");
        } else {
            eprintln!("error: no such image: {name}");
            status = 1;
        }
    }
    Ok(status)
}
