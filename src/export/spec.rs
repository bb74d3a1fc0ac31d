//! `--output` in BuildKit's forms: `type=oci,dest=F[,tar=false]`,
//! `type=docker,dest=F`, `type=local,dest=DIR`, `type=tar,dest=F`, and the
//! short form `DIR` (= `type=local,dest=DIR`).

use super::error::ExportError;
use crate::layer::Compression;
use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// OCI image archive, or an OCI layout directory when `tar` is false.
    Oci { dest: PathBuf, tar: bool },
    /// docker-archive (also carrying an OCI index.json).
    Docker { dest: PathBuf },
    /// The root filesystem as a directory.
    Local { dest: PathBuf },
    /// The root filesystem as a tar file.
    Tar { dest: PathBuf },
    /// The image named in the store (`type=image`), and pushed to its
    /// registry with `push=true` or `type=registry`. Without `name=` the
    /// `-t` names are used.
    Image { name: Option<String>, push: bool },
}

/// How an output's layers are compressed: `compression=` (else the build's
/// `--compression`), and `force-compression=true` to recompress layers that
/// are compressed another way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LayerChoice {
    pub compression: Option<Compression>,
    pub force: bool,
}

impl Output {
    pub fn parse(spec: &str) -> Result<Output, ExportError> {
        Ok(Output::parse_with_layers(spec)?.0)
    }

    /// The output and its layer options. `oci-mediatypes=true` is what
    /// rbuild writes anyway; `false` and `compression-level` are refused.
    pub fn parse_with_layers(spec: &str) -> Result<(Output, LayerChoice), ExportError> {
        let bad = |reason: &str| ExportError::BadSpec {
            spec: spec.to_string(),
            reason: reason.to_string(),
        };
        if !spec.contains('=') {
            return Ok((Output::Local { dest: spec.into() }, LayerChoice::default()));
        }
        let mut layers = LayerChoice::default();
        let mut kind = None;
        let mut dest = None;
        let mut tar = true;
        let mut name = None;
        let mut push = None;
        for field in spec.split(',') {
            let (k, v) = field
                .split_once('=')
                .ok_or_else(|| bad("fields are key=value"))?;
            match k {
                "type" => kind = Some(v.to_string()),
                "dest" => dest = Some(PathBuf::from(v)),
                "tar" => tar = v.parse().map_err(|_| bad("tar= takes true or false"))?,
                "push" => push = Some(v.parse().map_err(|_| bad("push= takes true or false"))?),
                "name" => name = Some(v.to_string()),
                "compression" => {
                    layers.compression = Some(match v {
                        "gzip" => Compression::Gzip,
                        "zstd" => Compression::Zstd,
                        "uncompressed" => Compression::None,
                        _ => return Err(bad("compression= takes gzip, zstd or uncompressed")),
                    })
                }
                "force-compression" => {
                    layers.force = v
                        .parse()
                        .map_err(|_| bad("force-compression= takes true or false"))?
                }
                "oci-mediatypes" if v == "true" => {}
                "oci-mediatypes" => {
                    return Err(bad(
                        "rbuild writes OCI media types; oci-mediatypes=false is not supported",
                    ))
                }
                "compression-level" => return Err(bad("compression-level is not supported yet")),
                _ => return Err(bad(&format!("unknown key {k:?}"))),
            }
        }
        let dest = || dest.clone().ok_or_else(|| bad("dest= is required"));
        let output = match kind.as_deref() {
            Some("oci") => Ok(Output::Oci { dest: dest()?, tar }),
            Some("docker") => Ok(Output::Docker { dest: dest()? }),
            Some("local") => Ok(Output::Local { dest: dest()? }),
            Some("tar") => Ok(Output::Tar { dest: dest()? }),
            Some("image") => Ok(Output::Image {
                name,
                push: push.unwrap_or(false),
            }),
            Some("registry") if push == Some(false) => Err(bad("type=registry always pushes")),
            Some("registry") => Ok(Output::Image { name, push: true }),
            Some(other) => Err(bad(&format!(
                "unknown type {other:?} (oci, docker, local, tar, image, registry)"
            ))),
            None => Err(bad("type= is required")),
        }?;
        let compressed = matches!(
            output,
            Output::Oci { .. } | Output::Docker { .. } | Output::Image { .. }
        );
        if !compressed && layers != LayerChoice::default() {
            return Err(bad("compression options apply to image outputs only"));
        }
        Ok((output, layers))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        assert_eq!(
            Output::parse("type=oci,dest=/x.tar").unwrap(),
            Output::Oci {
                dest: "/x.tar".into(),
                tar: true
            }
        );
        assert_eq!(
            Output::parse("type=oci,dest=/x,tar=false").unwrap(),
            Output::Oci {
                dest: "/x".into(),
                tar: false
            }
        );
        assert_eq!(
            Output::parse("out").unwrap(),
            Output::Local { dest: "out".into() }
        );
        assert!(Output::parse("type=zip,dest=x").is_err());
        assert!(Output::parse("type=docker").is_err());
    }
}
