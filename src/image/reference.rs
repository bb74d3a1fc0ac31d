//! Where a base image comes from: `scratch`, a containers-transport path
//! (`oci:PATH[:TAG]`, `oci-archive:PATH[:TAG]`, `docker-archive:PATH`), or a
//! name (looked up in the local store; registries come later).

use std::fmt;
use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageSource {
    Scratch,
    OciLayout {
        path: PathBuf,
        tag: Option<String>,
    },
    OciArchive {
        path: PathBuf,
        tag: Option<String>,
    },
    DockerArchive {
        path: PathBuf,
    },
    /// A name like `busybox`, `registry:5000/app:1` or `app@sha256:...`.
    Named(String),
}

impl fmt::Display for ImageSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tagged = |f: &mut fmt::Formatter<'_>, kind, path: &PathBuf, tag: &Option<String>| {
            write!(f, "{kind}:{}", path.display())?;
            match tag {
                Some(t) => write!(f, ":{t}"),
                None => Ok(()),
            }
        };
        match self {
            ImageSource::Scratch => write!(f, "scratch"),
            ImageSource::OciLayout { path, tag } => tagged(f, "oci", path, tag),
            ImageSource::OciArchive { path, tag } => tagged(f, "oci-archive", path, tag),
            ImageSource::DockerArchive { path } => write!(f, "docker-archive:{}", path.display()),
            ImageSource::Named(n) => write!(f, "{n}"),
        }
    }
}

/// Splits `PATH[:TAG]`: the tag is what follows the last `:` when it holds no
/// `/` (so `/a:b/c` is a path, `/a/c:latest` a path and a tag).
fn path_and_tag(rest: &str) -> (PathBuf, Option<String>) {
    match rest.rsplit_once(':') {
        Some((path, tag)) if !tag.contains('/') && !path.is_empty() => (
            PathBuf::from(path),
            Some(tag.to_string()).filter(|t| !t.is_empty()),
        ),
        _ => (PathBuf::from(rest), None),
    }
}

impl ImageSource {
    pub fn parse(text: &str) -> ImageSource {
        if text.eq_ignore_ascii_case("scratch") {
            return ImageSource::Scratch;
        }
        if let Some(rest) = text.strip_prefix("oci-archive:") {
            let (path, tag) = path_and_tag(rest);
            return ImageSource::OciArchive { path, tag };
        }
        if let Some(rest) = text.strip_prefix("oci:") {
            let (path, tag) = path_and_tag(rest);
            return ImageSource::OciLayout { path, tag };
        }
        if let Some(rest) = text.strip_prefix("docker-archive:") {
            // A docker archive may name an image inside (`PATH:name:tag`);
            // the path is what exists.
            let path = PathBuf::from(rest);
            if !path.exists() {
                if let Some((p, _)) = rest.split_once(':') {
                    return ImageSource::DockerArchive { path: p.into() };
                }
            }
            return ImageSource::DockerArchive { path };
        }
        ImageSource::Named(text.to_string())
    }
}

/// The short form docker prints (`RepoTags`, `docker images`): Docker Hub's
/// `docker.io/library/` and `docker.io/` dropped.
pub fn familiar_name(name: &str) -> String {
    let full = normalize_name(name);
    full.strip_prefix("docker.io/library/")
        .or_else(|| full.strip_prefix("docker.io/"))
        .unwrap_or(&full)
        .to_string()
}

/// Docker's normalisation of image names: `busybox` →
/// `docker.io/library/busybox:latest`, `app:1` → `docker.io/library/app:1`,
/// `localhost/x` stays on `localhost`.
pub fn normalize_name(name: &str) -> String {
    let (repo, suffix) = split_tag(name);
    let first = repo.split('/').next().unwrap_or("");
    let has_domain =
        repo.contains('/') && (first.contains('.') || first.contains(':') || first == "localhost");
    let repo = if has_domain {
        repo.to_string()
    } else if repo.contains('/') {
        format!("docker.io/{repo}")
    } else {
        format!("docker.io/library/{repo}")
    };
    match suffix {
        Some(s) => format!("{repo}{s}"),
        None => format!("{repo}:latest"),
    }
}

/// (`repo`, `:tag` or `@digest`).
fn split_tag(name: &str) -> (&str, Option<&str>) {
    if let Some(at) = name.find('@') {
        return (&name[..at], Some(&name[at..]));
    }
    let last_slash = name.rfind('/').map_or(0, |i| i + 1);
    match name[last_slash..].rfind(':') {
        Some(i) => (&name[..last_slash + i], Some(&name[last_slash + i..])),
        None => (name, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transports() {
        assert_eq!(
            ImageSource::parse("oci:/tmp/lay:latest"),
            ImageSource::OciLayout {
                path: "/tmp/lay".into(),
                tag: Some("latest".into())
            }
        );
        assert_eq!(
            ImageSource::parse("oci:/tmp/a:b/lay"),
            ImageSource::OciLayout {
                path: "/tmp/a:b/lay".into(),
                tag: None
            }
        );
        assert_eq!(ImageSource::parse("SCRATCH"), ImageSource::Scratch);
        assert!(matches!(
            ImageSource::parse("busybox"),
            ImageSource::Named(_)
        ));
    }

    #[test]
    fn names_normalise_like_docker() {
        assert_eq!(
            normalize_name("busybox"),
            "docker.io/library/busybox:latest"
        );
        assert_eq!(normalize_name("user/app:1"), "docker.io/user/app:1");
        assert_eq!(
            normalize_name("localhost/acceptance/x:latest"),
            "localhost/acceptance/x:latest"
        );
        assert_eq!(normalize_name("reg:5000/app"), "reg:5000/app:latest");
        assert_eq!(
            normalize_name("app@sha256:abc"),
            "docker.io/library/app@sha256:abc"
        );
    }
}
