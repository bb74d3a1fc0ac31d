//! Store maintenance commands: `prune`, `du`, `check [--repair]`.

use super::args::{CheckArgs, PruneArgs, StoreArgs};
use super::image_cmds::{human_size, open_store};
use super::Failure;
use crate::store::{Digest, Store};
use serde_json::Value;
use std::collections::HashSet;

pub fn prune(args: PruneArgs) -> Result<i32, Failure> {
    let store = open_store(&args.store)?;
    let _lock = store.lock_exclusive().map_err(Failure::error)?;
    let report = store.prune(args.all).map_err(Failure::error)?;
    for (blob, size) in &report.blobs {
        println!("Deleted blob: {blob} ({})", human_size(*size));
    }
    for (id, size) in &report.snapshots {
        println!("Deleted snapshot: {id} ({})", human_size(*size));
    }
    if !report.records.is_empty() {
        println!("Deleted {} cache records", report.records.len());
    }
    for (name, size) in &report.cache_mounts {
        println!("Deleted cache mount: {name} ({})", human_size(*size));
    }
    println!("Total reclaimed space: {}", human_size(report.reclaimed()));
    Ok(0)
}

pub fn du(args: StoreArgs) -> Result<i32, Failure> {
    let store = open_store(&args)?;
    let usage = store.disk_usage().map_err(Failure::error)?;
    println!("{:<14} {:>8} {:>10}", "TYPE", "COUNT", "SIZE");
    let rows = [
        ("blobs", usage.blobs),
        ("snapshots", usage.snapshots),
        ("cache mounts", usage.cache_mounts),
        ("records", usage.records),
        ("total", usage.total()),
    ];
    for (kind, row) in rows {
        println!("{kind:<14} {:>8} {:>10}", row.count, human_size(row.bytes));
    }
    Ok(0)
}

/// One thing `check` found wrong, and what `--repair` removes for it.
enum Problem {
    CorruptBlob(Digest, String),
    DanglingTag(String, String),
    DanglingCache(String, String),
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Problem::CorruptBlob(_, why) => write!(f, "corrupt blob: {why}"),
            Problem::DanglingTag(reference, why) => write!(f, "dangling tag {reference}: {why}"),
            Problem::DanglingCache(key, why) => write!(f, "dangling cache record {key}: {why}"),
        }
    }
}

/// Why a blob cannot be used: missing or corrupt.
fn unusable(store: &Store, bad: &HashSet<Digest>, d: &Digest, what: &str) -> Option<String> {
    if bad.contains(d) {
        Some(format!("{what} {d} is corrupt"))
    } else if !store.has_blob(d) {
        Some(format!(
            "{what} {d} is missing ({})",
            store.blob_path(d).display()
        ))
    } else {
        None
    }
}

/// What is wrong with the tagged manifest `d`, if anything.
fn manifest_problem(store: &Store, bad: &HashSet<Digest>, d: &Digest) -> Option<String> {
    if let Some(why) = unusable(store, bad, d, "manifest") {
        return Some(why);
    }
    let manifest: Value = match store.read_blob(d).map(|b| serde_json::from_slice(&b)) {
        Ok(Ok(value)) => value,
        Ok(Err(e)) => return Some(format!("manifest {d} is not JSON: {e}")),
        Err(e) => return Some(e.to_string()),
    };
    let digest = |v: &Value| v.as_str().and_then(|s| s.parse::<Digest>().ok());
    let mut needed = Vec::new();
    if let Some(children) = manifest["manifests"].as_array() {
        for child in children {
            needed.push(("manifest", digest(&child["digest"])));
        }
    } else {
        needed.push(("config", digest(&manifest["config"]["digest"])));
        for layer in manifest["layers"].as_array().into_iter().flatten() {
            needed.push(("layer", digest(&layer["digest"])));
        }
    }
    needed.into_iter().find_map(|(what, found)| match found {
        Some(found) => unusable(store, bad, &found, what),
        None => Some(format!("manifest {d} has an invalid {what} digest")),
    })
}

fn scan(store: &Store) -> Result<Vec<Problem>, Failure> {
    let mut problems = Vec::new();
    let mut bad = HashSet::new();
    for blob in store.blobs().map_err(Failure::error)? {
        if let Err(e) = store.verify_blob(&blob) {
            if !e.is_not_found() {
                bad.insert(blob);
                problems.push(Problem::CorruptBlob(blob, e.to_string()));
            }
        }
    }
    for (reference, manifest) in store.tags().map_err(Failure::error)? {
        if let Some(why) = manifest_problem(store, &bad, &manifest) {
            problems.push(Problem::DanglingTag(reference, why));
        }
    }
    for key in store.record_keys("cache").map_err(Failure::error)? {
        let bytes = store
            .record("cache", &key)
            .map_err(Failure::error)?
            .unwrap_or_default();
        let why = match serde_json::from_slice::<Value>(&bytes) {
            Err(e) => Some(format!("not JSON: {e}")),
            Ok(value) => match &value["layer"] {
                Value::Null => None,
                layer => match layer["blob"].as_str().and_then(|s| s.parse().ok()) {
                    Some(d) => unusable(store, &bad, &d, "layer"),
                    None => Some("no valid layer blob digest".to_string()),
                },
            },
        };
        if let Some(why) = why {
            problems.push(Problem::DanglingCache(key, why));
        }
    }
    Ok(problems)
}

fn repair(store: &Store, problem: &Problem) -> Result<String, Failure> {
    Ok(match problem {
        Problem::CorruptBlob(d, _) => {
            store.remove_blob(d).map_err(Failure::error)?;
            format!("removed corrupt blob {d}")
        }
        Problem::DanglingTag(reference, _) => {
            store.remove_tag(reference).map_err(Failure::error)?;
            format!("removed tag {reference}")
        }
        Problem::DanglingCache(key, _) => {
            store.remove_record("cache", key).map_err(Failure::error)?;
            format!("removed cache record {key}")
        }
    })
}

pub fn check(args: CheckArgs) -> Result<i32, Failure> {
    let store = open_store(&args.store)?;
    let _lock = if args.repair {
        store.lock_exclusive()
    } else {
        store.lock_shared()
    }
    .map_err(Failure::error)?;
    let problems = scan(&store)?;
    for problem in &problems {
        println!("{problem}");
    }
    if problems.is_empty() {
        println!("store OK: no problems found");
        return Ok(0);
    }
    println!("{} problem(s) found", problems.len());
    if !args.repair {
        return Ok(1);
    }
    for problem in &problems {
        println!("{}", repair(&store, problem)?);
    }
    let left = scan(&store)?;
    for problem in &left {
        println!("still broken: {problem}");
    }
    Ok(if left.is_empty() { 0 } else { 1 })
}
