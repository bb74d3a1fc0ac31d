//! Registry commands: `pull`, `push`, `login`, `logout`.

use super::args::{
    CachePruneArgs, CompressionArg, LoginArgs, LogoutArgs, PullArgs, PushArgs, RegistryArgs,
};
use super::image_cmds::open_store;
use super::Failure;
use crate::image::{load_image, ImageSource, Platform};
use crate::layer::Compression;
use crate::registry::auth::Credential;
use crate::registry::{login, pull, Client, Reference, RegistryConfig};
use std::io::Read;

/// Registry settings from the command line and the settings file
/// (`$RBUILD_CONFIG`, else `/etc/rbuild/config.json`), which takes docker's
/// `daemon.json` keys `registry-mirrors` and `insecure-registries`.
pub fn registry_config(args: &RegistryArgs) -> Result<RegistryConfig, Failure> {
    let mut config = RegistryConfig {
        insecure: args.insecure_registries.clone(),
        ca_files: args.tls_ca.clone(),
        ..RegistryConfig::default()
    };
    let path = std::env::var_os("RBUILD_CONFIG")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| "/etc/rbuild/config.json".into());
    let file: serde_json::Value = match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map_err(|e| Failure::usage(format!("error: {}: {e}", path.display())))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => serde_json::Value::Null,
        Err(e) => return Err(Failure::usage(format!("error: {}: {e}", path.display()))),
    };
    let list = |key: &str| -> Vec<String> {
        file.get(key)
            .and_then(|v| v.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    config.insecure.extend(list("insecure-registries"));
    for mirror in args
        .registry_mirrors
        .iter()
        .cloned()
        .chain(list("registry-mirrors"))
    {
        config.add_mirror(&mirror);
    }
    Ok(config)
}

/// Progress lines for transfers: one per blob, on standard error.
pub fn report_line(line: &str) {
    eprintln!("{line}");
}

fn parse_reference(text: &str) -> Result<Reference, Failure> {
    Reference::parse(text).map_err(|e| Failure::usage(format!("error: {e}")))
}

pub fn pull_cmd(args: PullArgs) -> Result<i32, Failure> {
    let reference = parse_reference(&args.reference)?;
    let platform = match &args.platform {
        Some(p) => Platform::parse(p).map_err(|e| Failure::usage(format!("error: {e}")))?,
        None => Platform::host(),
    };
    let store = open_store(&args.store)?;
    let _lock = store.lock_shared().map_err(Failure::error)?;
    let client = Client::new(registry_config(&args.registry)?);
    let image =
        pull::pull(&client, &store, &reference, &platform, &report_line).map_err(Failure::error)?;
    if let Some(digest) = image.manifest {
        println!("{digest}");
    }
    Ok(0)
}

pub fn push_cmd(args: PushArgs) -> Result<i32, Failure> {
    let dest = parse_reference(args.destination.as_deref().unwrap_or(&args.image))?;
    let store = open_store(&args.store)?;
    let _lock = store.lock_shared().map_err(Failure::error)?;
    let client = Client::new(registry_config(&args.registry)?);
    let image = load_image(
        &store,
        &ImageSource::Named(args.image.clone()),
        &Platform::host(),
    )
    .map_err(Failure::error)?;
    let compression = match args.compression {
        CompressionArg::Gzip => Compression::Gzip,
        CompressionArg::Zstd => Compression::Zstd,
        CompressionArg::Uncompressed => Compression::None,
    };
    let digest = crate::pipeline::push_image(
        &client,
        &store,
        &image,
        &dest,
        compression,
        false,
        &report_line,
    )
    .map_err(Failure::error)?;
    println!("{dest}@{digest}");
    if let Some(path) = &args.digestfile {
        std::fs::write(path, digest.to_string())
            .map_err(|e| Failure::message(format!("writing {}: {e}", path.display())))?;
    }
    Ok(0)
}

pub fn login_cmd(args: LoginArgs) -> Result<i32, Failure> {
    let password = match (&args.password, args.password_stdin) {
        (Some(_), true) => {
            return Err(Failure::usage(
                "error: --password and --password-stdin are mutually exclusive".into(),
            ))
        }
        (Some(p), false) => p.clone(),
        (None, true) => {
            let mut text = String::new();
            std::io::stdin().read_to_string(&mut text).map_err(|e| {
                Failure::message(format!("reading the password from standard input: {e}"))
            })?;
            text.trim_end_matches(['\n', '\r']).to_string()
        }
        (None, false) => {
            return Err(Failure::usage(
                "error: give the password with --password-stdin (or -p)".into(),
            ))
        }
    };
    let registry = normalize_registry(&args.registry);
    let credential = Credential::Basic {
        username: args.username.clone(),
        password: password.clone(),
    };
    login::verify(
        &registry_config(&args.registry_args)?,
        &registry,
        &credential,
    )
    .map_err(Failure::error)?;
    let path = login::save(&registry, &args.username, &password).map_err(Failure::error)?;
    eprintln!("Login Succeeded (credentials in {})", path.display());
    Ok(0)
}

pub fn logout_cmd(args: LogoutArgs) -> Result<i32, Failure> {
    let registry = normalize_registry(&args.registry);
    if login::remove(&registry).map_err(Failure::error)? {
        eprintln!("Removed login credentials for {registry}");
    } else {
        eprintln!("Not logged in to {registry}");
    }
    Ok(0)
}

/// `https://host/` and `index.docker.io` as the host names config.json uses.
fn normalize_registry(text: &str) -> String {
    let host = text
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap_or(text);
    match host {
        "index.docker.io" | "registry-1.docker.io" => "docker.io".into(),
        other => other.to_string(),
    }
}

/// `7d`, `12h`, `30m`, `45s` in seconds.
fn parse_age(text: &str) -> Result<i64, Failure> {
    let bad = || {
        Failure::usage(format!(
            "error: --older-than {text:?}: use a number with s, m, h or d"
        ))
    };
    let (number, unit) = text.split_at(text.len().saturating_sub(1));
    let n: i64 = number.parse().map_err(|_| bad())?;
    let scale = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86400,
        _ => return Err(bad()),
    };
    n.checked_mul(scale).filter(|s| *s >= 0).ok_or_else(bad)
}

pub fn cache_prune_cmd(args: CachePruneArgs) -> Result<i32, Failure> {
    let reference = parse_reference(&args.reference)?;
    let age = parse_age(&args.older_than)?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let cutoff = crate::solver::time::rfc3339(now - age);
    let client = Client::new(registry_config(&args.registry)?);
    let removed = crate::registry::cache::prune(&client, &reference, &cutoff, &report_line)
        .map_err(Failure::error)?;
    eprintln!("{removed} cache entries deleted from {reference}");
    Ok(0)
}
