//! `--output` in BuildKit's forms: `type=oci,dest=F[,tar=false]`,
//! `type=docker,dest=F`, `type=local,dest=DIR`, `type=tar,dest=F`, and the
//! short form `DIR` (= `type=local,dest=DIR`).

use super::error::ExportError;
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

impl Output {
    pub fn parse(spec: &str) -> Result<Output, ExportError> {
        let bad = |reason: &str| ExportError::BadSpec {
            spec: spec.to_string(),
            reason: reason.to_string(),
        };
        if !spec.contains('=') {
            return Ok(Output::Local { dest: spec.into() });
        }
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
                // Accepted for compatibility (layers follow --compression).
                "compression" | "oci-mediatypes" | "force-compression" => {}
                _ => return Err(bad(&format!("unknown key {k:?}"))),
            }
        }
        let dest = || dest.clone().ok_or_else(|| bad("dest= is required"));
        match kind.as_deref() {
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
        }
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
