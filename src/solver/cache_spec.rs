//! `--cache-from` and `--cache-to` in buildx's forms:
//! `type=registry,ref=R[,mode=min|max]`, `type=local,src=DIR` /
//! `type=local,dest=DIR[,mode=...]`, `type=inline`. A key rbuild does not
//! honour is an error, never ignored.

use crate::registry::cache::CacheLocation;
use crate::registry::Reference;
use std::path::PathBuf;

/// Where `--cache-from` reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheImport {
    pub location: CacheLocation,
}

/// Where `--cache-to` writes; `location` `None` is `type=inline` (in the
/// pushed image's config).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheExport {
    pub location: Option<CacheLocation>,
    /// `mode=max`: every step of every stage; `min` (default): the steps
    /// whose layers the final image has.
    pub max: bool,
}

fn fields(spec: &str, flag: &str) -> Result<Vec<(String, String)>, String> {
    spec.split(',')
        .map(|f| {
            f.split_once('=')
                .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                .ok_or_else(|| format!("{flag} {spec:?}: {f:?} is not KEY=VALUE"))
        })
        .collect()
}

fn reference(value: &str, flag: &str) -> Result<Reference, String> {
    Reference::parse(value).map_err(|e| format!("{flag}: {e}"))
}

impl CacheImport {
    pub fn parse(spec: &str) -> Result<CacheImport, String> {
        let flag = "--cache-from";
        // `--cache-from REF` is short for type=registry,ref=REF.
        if !spec.contains('=') {
            return Ok(CacheImport {
                location: CacheLocation::Registry(reference(spec, flag)?),
            });
        }
        let mut kind = None;
        let mut place = None;
        for (k, v) in fields(spec, flag)? {
            match k.as_str() {
                "type" => kind = Some(v),
                "ref" | "src" => place = Some(v),
                other => return Err(format!("{flag} {spec:?}: unknown key {other:?}")),
            }
        }
        let place = place.ok_or_else(|| format!("{flag} {spec:?}: ref= or src= is required"))?;
        let location = match kind.as_deref() {
            Some("registry") => CacheLocation::Registry(reference(&place, flag)?),
            Some("local") => CacheLocation::Local(PathBuf::from(place)),
            other => {
                return Err(format!(
                    "{flag} {spec:?}: type {other:?} is not supported (registry or local)"
                ))
            }
        };
        Ok(CacheImport { location })
    }
}

impl CacheExport {
    pub fn parse(spec: &str) -> Result<CacheExport, String> {
        let flag = "--cache-to";
        let mut kind = None;
        let mut place = None;
        let mut max = false;
        for (k, v) in fields(spec, flag)? {
            match k.as_str() {
                "type" => kind = Some(v),
                "ref" | "dest" => place = Some(v),
                "mode" => {
                    max = match v.as_str() {
                        "max" => true,
                        "min" => false,
                        _ => return Err(format!("{flag} {spec:?}: mode is min or max")),
                    }
                }
                other => return Err(format!("{flag} {spec:?}: unknown key {other:?}")),
            }
        }
        let needs = |what: &str| format!("{flag} {spec:?}: {what}= is required");
        let location = match kind.as_deref() {
            Some("registry") => Some(CacheLocation::Registry(reference(
                &place.ok_or_else(|| needs("ref"))?,
                flag,
            )?)),
            Some("local") => Some(CacheLocation::Local(PathBuf::from(
                place.ok_or_else(|| needs("dest"))?,
            ))),
            Some("inline") if max => {
                return Err(format!("{flag} {spec:?}: type=inline only has mode=min"))
            }
            Some("inline") => None,
            other => {
                return Err(format!(
                    "{flag} {spec:?}: type {other:?} is not supported (registry, local or inline)"
                ))
            }
        };
        Ok(CacheExport { location, max })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_and_refusals() {
        let to = CacheExport::parse("type=registry,ref=127.0.0.1:5000/c:main,mode=max").unwrap();
        assert!(to.max);
        assert!(
            matches!(to.location, Some(CacheLocation::Registry(r)) if r.tag.as_deref() == Some("main"))
        );
        assert_eq!(CacheExport::parse("type=inline").unwrap().location, None);
        assert!(CacheExport::parse("type=local,dest=/c,compression=zstd").is_err());
        assert!(CacheExport::parse("type=gha").is_err());
        let from = CacheImport::parse("type=local,src=/c").unwrap();
        assert_eq!(from.location, CacheLocation::Local("/c".into()));
        assert!(CacheImport::parse("app:cache").is_ok());
        assert!(CacheImport::parse("type=local").is_err());
    }
}
