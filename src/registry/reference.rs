//! Image references with Docker's rules (distribution's `reference`
//! package): `busybox` is `docker.io/library/busybox:latest`; the first
//! component is a registry when it holds a `.` or a `:`, is `localhost`, or
//! has upper-case letters; a tag follows the last `:` after the last `/`; a
//! digest follows `@`. Written here rather than taken from a crate: it is a
//! grammar of a few lines, and the crates that have it bring a whole
//! registry client with them.

use std::fmt;

pub const DOCKER_HUB: &str = "docker.io";
/// Where Docker Hub's registry API answers.
const DOCKER_HUB_API: &str = "registry-1.docker.io";
const MAX_NAME: usize = 255;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Reference {
    /// `docker.io`, `ghcr.io`, `127.0.0.1:5000`.
    pub registry: String,
    /// `library/busybox`, `org/app`.
    pub repository: String,
    pub tag: Option<String>,
    /// `sha256:<hex>`.
    pub digest: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid reference {text:?}: {reason}")]
pub struct ReferenceError {
    pub text: String,
    pub reason: &'static str,
}

fn is_component(s: &str) -> bool {
    // [a-z0-9]+ ((\.|_|__|-+) [a-z0-9]+)*
    let bytes = s.as_bytes();
    if bytes.is_empty() || !is_alnum(bytes[0]) || !is_alnum(bytes[bytes.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < bytes.len() {
        if is_alnum(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && !is_alnum(bytes[i]) {
            i += 1;
        }
        let sep = &s[start..i];
        let dashes = sep.bytes().all(|b| b == b'-');
        if !(sep == "." || sep == "_" || sep == "__" || dashes) {
            return false;
        }
    }
    true
}

fn is_alnum(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit()
}

fn is_tag(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
}

fn is_digest(s: &str) -> bool {
    match s.split_once(':') {
        Some(("sha256", hex)) => {
            hex.len() == 64
                && hex
                    .bytes()
                    .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        }
        Some(("sha512", hex)) => {
            hex.len() == 128
                && hex
                    .bytes()
                    .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        }
        _ => false,
    }
}

fn is_registry(s: &str) -> bool {
    // host[:port]; IPv6 literals in brackets.
    let host = match s.rsplit_once(':') {
        Some((h, port)) if !s.ends_with(']') => {
            if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
                return false;
            }
            h
        }
        _ => s,
    };
    if let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return inner.parse::<std::net::Ipv6Addr>().is_ok();
    }
    !host.is_empty()
        && host.split('.').all(|label| {
            !label.is_empty()
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

impl Reference {
    pub fn parse(text: &str) -> Result<Reference, ReferenceError> {
        let fail = |reason| ReferenceError {
            text: text.to_string(),
            reason,
        };
        let (name_tag, digest) = match text.split_once('@') {
            Some((n, d)) if is_digest(d) => (n, Some(d.to_string())),
            Some(_) => return Err(fail("the digest must be sha256:<64 hex digits>")),
            None => (text, None),
        };
        let last_slash = name_tag.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match name_tag[last_slash..].rfind(':') {
            Some(i) => {
                let tag = &name_tag[last_slash + i + 1..];
                if !is_tag(tag) {
                    return Err(fail("a tag is up to 128 letters, digits, '_', '.' and '-'"));
                }
                (&name_tag[..last_slash + i], Some(tag.to_string()))
            }
            None => (name_tag, None),
        };
        if name.is_empty() {
            return Err(fail("the name is empty"));
        }
        let (registry, path) = match name.split_once('/') {
            Some((first, rest))
                if first.contains(['.', ':'])
                    || first == "localhost"
                    || first.bytes().any(|b| b.is_ascii_uppercase()) =>
            {
                if !is_registry(first) {
                    return Err(fail("the registry must be host[:port]"));
                }
                (first.to_string(), rest.to_string())
            }
            _ => (DOCKER_HUB.to_string(), name.to_string()),
        };
        let registry = if registry == "index.docker.io" {
            DOCKER_HUB.to_string()
        } else {
            registry
        };
        if !path.split('/').all(is_component) {
            return Err(fail(
                "repository names are lower-case letters, digits and separators ('.', '_', '__', '-') between '/'",
            ));
        }
        let repository = if registry == DOCKER_HUB && !path.contains('/') {
            format!("library/{path}")
        } else {
            path
        };
        // Docker checks the length of the full name, defaults added.
        if registry.len() + 1 + repository.len() > MAX_NAME {
            return Err(fail(
                "the full name (registry/repository) is longer than 255 characters",
            ));
        }
        let tag = if tag.is_none() && digest.is_none() {
            Some("latest".to_string())
        } else {
            tag
        };
        Ok(Reference {
            registry,
            repository,
            tag,
            digest,
        })
    }

    /// The host (and port) the registry API answers on.
    pub fn api_host(&self) -> &str {
        if self.registry == DOCKER_HUB {
            DOCKER_HUB_API
        } else {
            &self.registry
        }
    }

    /// `registry/repository` without tag or digest.
    pub fn name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    /// What a manifest request names: the digest when there is one.
    pub fn manifest_ref(&self) -> &str {
        self.digest
            .as_deref()
            .or(self.tag.as_deref())
            .unwrap_or("latest")
    }

    /// The same repository at another tag (no digest).
    pub fn with_tag(&self, tag: &str) -> Reference {
        Reference {
            tag: Some(tag.to_string()),
            digest: None,
            ..self.clone()
        }
    }

    /// The same repository pinned to a digest (tag kept for display).
    pub fn with_digest(&self, digest: &str) -> Reference {
        Reference {
            digest: Some(digest.to_string()),
            ..self.clone()
        }
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(text: &str) -> (String, String, Option<String>, Option<String>) {
        let r = Reference::parse(text).unwrap();
        (r.registry, r.repository, r.tag, r.digest)
    }

    const D: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn docker_hub_defaults() {
        assert_eq!(
            parts("busybox"),
            (
                "docker.io".into(),
                "library/busybox".into(),
                Some("latest".into()),
                None
            )
        );
        assert_eq!(parts("org/app:1.2").1, "org/app");
        assert_eq!(parts("index.docker.io/busybox").1, "library/busybox");
        assert_eq!(
            Reference::parse("busybox").unwrap().api_host(),
            "registry-1.docker.io"
        );
    }

    #[test]
    fn registries_ports_tags_and_digests() {
        assert_eq!(
            parts("127.0.0.1:5000/a/b:v1"),
            (
                "127.0.0.1:5000".into(),
                "a/b".into(),
                Some("v1".into()),
                None
            )
        );
        assert_eq!(parts("localhost/app").0, "localhost");
        assert_eq!(parts("localhost:5000/app").0, "localhost:5000");
        let pinned = parts(&format!("ghcr.io/o/app:1@{D}"));
        assert_eq!((pinned.2, pinned.3), (Some("1".into()), Some(D.into())));
        let digest_only = parts(&format!("app@{D}"));
        assert_eq!((digest_only.2, digest_only.3), (None, Some(D.into())));
        assert_eq!(
            Reference::parse(&format!("ghcr.io/o/app:1@{D}"))
                .unwrap()
                .to_string(),
            format!("ghcr.io/o/app:1@{D}")
        );
    }

    #[test]
    fn bad_references_say_why() {
        for bad in [
            "",
            "UPPER",
            "a//b",
            "app:",
            "app:-x",
            "app@sha256:abc",
            "-app",
            "app-",
            "a..b",
            "host:port/app",
        ] {
            assert!(Reference::parse(bad).is_err(), "{bad:?} should be refused");
        }
        assert!(Reference::parse("a__b/c-d/e---f.g").is_ok());
        // Found by fuzzing: 244 characters, over 255 once `docker.io/library/`
        // is added; Docker refuses it too, and so a parsed name prints back
        // to one that parses.
        let long = format!("{}-x", "y".repeat(242));
        assert!(Reference::parse(&long).is_err());
        assert!(Reference::parse(&"y".repeat(230)).is_ok());
        assert!(Reference::parse("[::1]:5000/app").is_ok());
    }
}
