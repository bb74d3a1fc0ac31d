//! Finding and reading the Dockerfile: `-f PATH`, `-f -` (stdin), or
//! `CONTEXT/Dockerfile` falling back to `CONTEXT/dockerfile` as docker does.

use super::Failure;
use std::io::Read;
use std::path::{Path, PathBuf};

/// A Dockerfile's bytes and the name errors show for it.
pub struct DockerfileSource {
    pub name: String,
    pub bytes: Vec<u8>,
}

impl DockerfileSource {
    /// Text for error snippets (invalid UTF-8 shown replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes).into_owned()
    }
}

pub fn read_dockerfile(spec: &str) -> Result<DockerfileSource, Failure> {
    if spec == "-" {
        let mut bytes = Vec::new();
        std::io::stdin().read_to_end(&mut bytes).map_err(|e| {
            Failure::usage(format!(
                "error: reading the Dockerfile from standard input: {e}"
            ))
        })?;
        return Ok(DockerfileSource {
            name: "Dockerfile".into(),
            bytes,
        });
    }
    read_path(Path::new(spec))
}

fn read_path(path: &Path) -> Result<DockerfileSource, Failure> {
    let bytes = std::fs::read(path).map_err(|e| {
        Failure::usage(format!(
            "error: failed to read Dockerfile {}: {e}",
            path.display()
        ))
    })?;
    Ok(DockerfileSource {
        name: path.display().to_string(),
        bytes,
    })
}

/// The Dockerfile for a build: `-f` if given, else the context's.
pub fn find_dockerfile(file: Option<&str>, context: &Path) -> Result<DockerfileSource, Failure> {
    if let Some(spec) = file {
        return read_dockerfile(spec);
    }
    let candidates: [PathBuf; 2] = [context.join("Dockerfile"), context.join("dockerfile")];
    match candidates.iter().find(|p| p.is_file()) {
        Some(path) => read_path(path),
        None => Err(Failure::usage(format!(
            "error: no Dockerfile found in {} (looked for Dockerfile and dockerfile)\n  = hint: name one with -f PATH",
            context.display()
        ))),
    }
}
