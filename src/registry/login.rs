//! `rbuild login` and `logout`: check credentials against the registry, then
//! write them to docker's `config.json` (`$DOCKER_CONFIG` or `~/.docker`),
//! the file docker, podman and rbuild all read. Other entries and fields of
//! the file are kept; it is replaced atomically and readable by its owner only.

use std::path::PathBuf;

use base64::Engine;

use super::auth::{config_key, Credential};
use super::client::{check, Body, Client, RegistryConfig, Request};
use super::error::{io_at, RegistryError};
use super::pull::discard;

/// The config.json docker would use.
pub fn docker_config_path() -> Option<PathBuf> {
    std::env::var_os("DOCKER_CONFIG")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".docker")))
        .map(|dir| dir.join("config.json"))
}

/// Checks `credential` against `registry` (a registry API ping that must
/// come back 200 once authenticated).
pub fn verify(
    config: &RegistryConfig,
    registry: &str,
    credential: &Credential,
) -> Result<(), RegistryError> {
    let client = Client::new(RegistryConfig {
        credential: Some(credential.clone()),
        ..config.clone()
    });
    let req = Request {
        method: "GET",
        registry,
        repository: "",
        path: "/v2/".into(),
        headers: Vec::new(),
        body: Body::Empty,
        scopes: Vec::new(),
        what: "login".into(),
    };
    discard(check(client.send(&req)?, &req, &[200])?);
    Ok(())
}

fn read_config(
    path: &PathBuf,
) -> Result<serde_json::Map<String, serde_json::Value>, RegistryError> {
    match std::fs::read(path) {
        Ok(bytes) if bytes.iter().all(u8::is_ascii_whitespace) => Ok(Default::default()),
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| RegistryError::Credentials {
            registry: String::new(),
            reason: format!("{} is not a JSON object: {e}", path.display()),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Default::default()),
        Err(e) => Err(io_at(path)(e)),
    }
}

fn write_config(
    path: &PathBuf,
    config: &serde_json::Map<String, serde_json::Value>,
) -> Result<(), RegistryError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let dir = path.parent().unwrap_or(std::path::Path::new("."));
    std::fs::create_dir_all(dir).map_err(io_at(dir))?;
    let temp = dir.join(format!(".config.json.{}", std::process::id()));
    let text = serde_json::to_vec_pretty(config).expect("JSON values serialise");
    let written = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&temp)?;
        f.write_all(&text)?;
        f.sync_all()?;
        std::fs::rename(&temp, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    written.map_err(io_at(path))
}

/// Stores `username`/`password` for `registry` in docker's config.json.
pub fn save(registry: &str, username: &str, password: &str) -> Result<PathBuf, RegistryError> {
    let path = docker_config_path().ok_or_else(|| RegistryError::Credentials {
        registry: registry.to_string(),
        reason: "neither DOCKER_CONFIG nor HOME is set".into(),
    })?;
    let mut config = read_config(&path)?;
    let auths = config
        .entry("auths")
        .or_insert_with(|| serde_json::json!({}));
    if !auths.is_object() {
        *auths = serde_json::json!({});
    }
    let encoded =
        base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"));
    auths[config_key(registry)] = serde_json::json!({ "auth": encoded });
    write_config(&path, &config)?;
    Ok(path)
}

/// Removes `registry`'s entry; false when there was none.
pub fn remove(registry: &str) -> Result<bool, RegistryError> {
    let Some(path) = docker_config_path() else {
        return Ok(false);
    };
    let mut config = read_config(&path)?;
    let removed = config
        .get_mut("auths")
        .and_then(|a| a.as_object_mut())
        .is_some_and(|auths| auths.remove(&config_key(registry)).is_some());
    if removed {
        write_config(&path, &config)?;
    }
    Ok(removed)
}
