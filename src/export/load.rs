//! `--load`: the image streamed as a docker-archive into `docker load`'s
//! standard input (no file in between), or `podman load`'s when no docker
//! daemon answers.

use super::archive::ArchiveWriter;
use super::{docker, prepare_forced, ExportError};
use crate::image::Image;
use crate::layer::Compression;
use crate::store::Store;
use std::process::{Command, Stdio};

/// The engine an image is loaded into: docker when its daemon answers.
fn engine() -> &'static str {
    let docker_ok = Command::new("docker")
        .args(["info", "--format", "{{.ServerVersion}}"])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .is_ok_and(|o| o.status.success());
    if docker_ok {
        "docker"
    } else {
        "podman"
    }
}

/// Loads `image` (named by `tags`) into docker or podman; returns the
/// engine's name.
pub fn load_into_engine(
    store: &Store,
    image: &Image,
    tags: &[String],
    compression: Compression,
) -> Result<&'static str, ExportError> {
    let prepared = prepare_forced(store, image, compression, false)?;
    let engine = engine();
    let failed = |reason: String| ExportError::Other(format!("--load: {engine} load: {reason}"));
    let mut child = Command::new(engine)
        .arg("load")
        .stdin(Stdio::piped())
        .spawn()
        .map_err(|e| failed(format!("cannot run it: {e}")))?;
    let stdin = child.stdin.take().expect("stdin is piped");
    let written = docker::write_to(
        store,
        &prepared,
        tags,
        ArchiveWriter::pipe(stdin, &format!("{engine} load (standard input)")),
    );
    let status = child.wait().map_err(|e| failed(e.to_string()))?;
    // The engine's own message explains a refusal better than the broken pipe.
    if !status.success() {
        return Err(failed(format!("it failed ({status})")));
    }
    written.map(|()| engine)
}
