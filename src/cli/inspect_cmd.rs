//! `rbuild inspect`: docker's `image inspect` fields (plus the manifest
//! digest, layers and history), `--format` with Go's template subset, and
//! `--layers` (the layer report).

use super::args::InspectArgs;
use super::image_cmds::{load_named, open_store, read_json, split_display};
use super::template::Template;
use super::Failure;
use crate::image::{familiar_name, normalize_name};
use crate::store::{Digest, Store};
use serde_json::{json, Value};

/// One image as `docker image inspect` shows it.
fn describe(store: &Store, name: &str, tags: &[(String, Digest)]) -> Result<Value, Failure> {
    let reference = normalize_name(name);
    let manifest_digest = store
        .tag(&reference)
        .map_err(Failure::error)?
        .ok_or_else(|| Failure::message(format!("no such image: {name}")))?;
    let manifest = read_json(store, &manifest_digest)?;
    let image = load_named(store, name)?;
    let names: Vec<&String> = tags
        .iter()
        .filter(|(_, d)| *d == manifest_digest)
        .map(|(n, _)| n)
        .collect();
    let repo_tags: Vec<String> = names.iter().map(|n| familiar_name(n)).collect();
    let mut repo_digests: Vec<String> = names
        .iter()
        .map(|n| format!("{}@{manifest_digest}", split_display(n).0))
        .collect();
    repo_digests.dedup();
    let config = &image.config;
    Ok(json!({
        "Id": manifest["config"]["digest"],
        "RepoTags": repo_tags,
        "RepoDigests": repo_digests,
        "Parent": "",
        "Comment": config.history.last().and_then(|h| h.comment.clone()).unwrap_or_default(),
        "Created": config.created,
        "Author": config.author.clone().unwrap_or_default(),
        "Config": config.config,
        "Architecture": config.architecture,
        "Variant": config.variant,
        "Os": config.os,
        "Size": image.layers.iter().map(|l| l.size).sum::<u64>(),
        "RootFS": {"Type": "layers", "Layers": config.rootfs.diff_ids},
        "Name": reference,
        "ManifestDigest": manifest_digest.to_string(),
        "Layers": image.layers.iter().map(|l| json!({
            "digest": l.blob.to_string(), "diffID": l.diff_id.to_string(),
            "mediaType": l.media_type, "size": l.size,
        })).collect::<Vec<_>>(),
        "History": config.history,
    }))
}

pub fn inspect(args: InspectArgs) -> Result<i32, Failure> {
    let store = open_store(&args.store)?;
    if args.layers {
        for name in &args.images {
            super::image_cmds::layer_report(&store, name)?;
        }
        return Ok(0);
    }
    let template = args
        .format
        .as_deref()
        .map(Template::parse)
        .transpose()
        .map_err(|e| Failure::usage(format!("error: --format: {e}")))?;
    let tags = store.tags().map_err(Failure::error)?;
    let mut all = Vec::new();
    for name in &args.images {
        let value = describe(&store, name, &tags)?;
        match &template {
            Some(t) => println!(
                "{}",
                t.render(&value)
                    .map_err(|e| Failure::message(format!("--format: {name}: {e}")))?
            ),
            None => all.push(value),
        }
    }
    if template.is_none() {
        println!(
            "{}",
            serde_json::to_string_pretty(&all).map_err(Failure::error)?
        );
    }
    Ok(0)
}
