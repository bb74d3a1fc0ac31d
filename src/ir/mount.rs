//! `RUN --mount=...` options: every key and alias BuildKit accepts. Values may
//! hold `$VAR`; [`MountSpec::resolve`] types them once they are expanded, and
//! lowering resolves literal ones at once so mistakes surface with a location.

use super::suggest::closest;
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MountType {
    Bind,
    Cache,
    Tmpfs,
    Secret,
    Ssh,
}

impl MountType {
    const NAMES: [&'static str; 5] = ["bind", "cache", "tmpfs", "secret", "ssh"];

    fn parse(value: &str) -> Result<Self, MountError> {
        Ok(match value.to_ascii_lowercase().as_str() {
            "bind" => MountType::Bind,
            "cache" => MountType::Cache,
            "tmpfs" => MountType::Tmpfs,
            "secret" => MountType::Secret,
            "ssh" => MountType::Ssh,
            _ => {
                return Err(MountError::UnsupportedType {
                    value: value.to_string(),
                    suggestion: closest(value, Self::NAMES).map(str::to_string),
                })
            }
        })
    }

    fn as_str(self) -> &'static str {
        Self::NAMES[self as usize]
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Sharing {
    Shared,
    Private,
    Locked,
}

/// A fully typed mount (values expanded).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Mount {
    pub kind: MountType,
    pub from: Option<String>,
    pub source: Option<String>,
    /// For secret and ssh mounts an empty target means the default path.
    pub target: Option<String>,
    pub readonly: bool,
    pub required: bool,
    pub id: Option<String>,
    pub sharing: Option<Sharing>,
    /// tmpfs size in bytes.
    pub size: Option<u64>,
    pub mode: Option<u32>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    /// secret: expose as this environment variable.
    pub env: Option<String>,
}

/// A `--mount` value split into canonical keys, not yet expanded.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MountSpec {
    /// (canonical key, value); `None` for bare keys like `ro`.
    pub fields: Vec<(&'static str, Option<String>)>,
    /// The typed mount when no value needs expansion.
    pub resolved: Option<Mount>,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MountError {
    #[error("invalid --mount value: {0}")]
    Csv(String),
    /// A value's `$VAR` expansion failed.
    #[error("{0}")]
    Expansion(String),
    #[error("unexpected key '{key}' in '{field}'")]
    UnknownKey {
        key: String,
        field: String,
        suggestion: Option<String>,
    },
    #[error("invalid field '{field}' must be a key=value pair")]
    NotKeyValue { field: String },
    #[error("unsupported mount type {value:?}")]
    UnsupportedType {
        value: String,
        suggestion: Option<String>,
    },
    #[error("unexpected key '{key}' for mount type '{kind}'")]
    KeyNotForType {
        key: &'static str,
        kind: &'static str,
    },
    #[error("invalid value {value:?} for mount key '{key}': {expected}")]
    BadValue {
        key: &'static str,
        value: String,
        expected: &'static str,
    },
    #[error("unsupported sharing value {value:?}")]
    BadSharing { value: String },
    #[error("'from' doesn't support variable expansion, define alias stage instead")]
    FromWithVariable,
    #[error("secret mount should not have a from")]
    SecretFrom,
    #[error("invalid secret mount. one of source, target required")]
    SecretWithoutName,
    #[error("both source and id can't be set for a secret mount")]
    SecretSourceAndId,
}

impl MountError {
    pub fn hint(&self) -> Option<String> {
        match self {
            MountError::UnknownKey {
                suggestion: Some(s),
                ..
            } => Some(format!("did you mean {s}?")),
            MountError::UnknownKey { .. } => Some(format!("mount keys are {}", KEYS_HELP)),
            MountError::UnsupportedType {
                suggestion: Some(s),
                ..
            } => Some(format!("did you mean {s}?")),
            MountError::UnsupportedType { .. } => {
                Some("mount types are bind, cache, tmpfs, secret, ssh".into())
            }
            _ => None,
        }
    }
}

const KEYS_HELP: &str = "type, from, source|src, target|dst|destination, readonly|ro, readwrite|rw, required, id, sharing, size, mode, uid, gid, env";

/// Every key and alias, with the canonical key it stands for.
const KEYS: &[(&str, &str)] = &[
    ("type", "type"),
    ("from", "from"),
    ("source", "source"),
    ("src", "source"),
    ("target", "target"),
    ("dst", "target"),
    ("destination", "target"),
    ("readonly", "readonly"),
    ("ro", "readonly"),
    ("readwrite", "readwrite"),
    ("rw", "readwrite"),
    ("required", "required"),
    ("id", "id"),
    ("sharing", "sharing"),
    ("size", "size"),
    ("mode", "mode"),
    ("uid", "uid"),
    ("gid", "gid"),
    ("env", "env"),
];

/// Splits a CSV record as Go's `encoding/csv` does (the format BuildKit reads
/// `--mount` with): commas separate, a field starting with `"` is quoted and
/// `""` inside it is a quote.
fn split_csv(value: &str) -> Result<Vec<String>, MountError> {
    let mut fields = Vec::new();
    let mut chars = value.chars().peekable();
    loop {
        let mut field = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next() {
                    Some('"') if chars.peek() == Some(&'"') => {
                        chars.next();
                        field.push('"');
                    }
                    Some('"') => break,
                    Some(c) => field.push(c),
                    None => {
                        return Err(MountError::Csv(
                            "extraneous or missing \" in quoted-field".into(),
                        ))
                    }
                }
            }
            match chars.next() {
                None => {
                    fields.push(field);
                    return Ok(fields);
                }
                Some(',') => {}
                Some(_) => {
                    return Err(MountError::Csv(
                        "extraneous or missing \" in quoted-field".into(),
                    ))
                }
            }
        } else {
            loop {
                match chars.next() {
                    None => {
                        fields.push(field);
                        return Ok(fields);
                    }
                    Some(',') => break,
                    Some('"') => return Err(MountError::Csv("bare \" in non-quoted-field".into())),
                    Some(c) => field.push(c),
                }
            }
        }
        fields.push(field);
    }
}

impl MountSpec {
    /// Splits and checks keys. Values are typed at once when none holds `$`.
    pub fn parse(value: &str) -> Result<MountSpec, MountError> {
        let mut fields = Vec::new();
        for field in split_csv(value)? {
            let (key, value) = match field.split_once('=') {
                Some((k, v)) => (k.to_ascii_lowercase(), Some(v.to_string())),
                None => (field.to_ascii_lowercase(), None),
            };
            let Some(&(_, canonical)) = KEYS.iter().find(|(k, _)| *k == key) else {
                return Err(MountError::UnknownKey {
                    suggestion: closest(&key, KEYS.iter().map(|(k, _)| *k)).map(str::to_string),
                    key,
                    field,
                });
            };
            if value.is_none() && !matches!(canonical, "readonly" | "readwrite" | "required") {
                return Err(MountError::NotKeyValue { field });
            }
            if canonical == "from" && value.as_deref().is_some_and(|v| v.contains('$')) {
                return Err(MountError::FromWithVariable);
            }
            fields.push((canonical, value));
        }
        let literal = fields
            .iter()
            .all(|(_, v)| v.as_deref().is_none_or(|v| !v.contains('$')));
        let mut spec = MountSpec {
            fields,
            resolved: None,
        };
        if literal {
            spec.resolved = Some(spec.resolve(|v| Ok(v.to_string()))?);
        }
        Ok(spec)
    }

    /// `from=` as written: it never holds a variable (parse refuses one),
    /// so the stages a step needs are known before anything is expanded.
    pub fn from_stage(&self) -> Option<&str> {
        self.fields
            .iter()
            .rev()
            .find(|(k, _)| *k == "from")
            .and_then(|(_, v)| v.as_deref())
    }

    /// Types the mount, expanding each value with `expand` (not `from`).
    pub fn resolve(
        &self,
        expand: impl Fn(&str) -> Result<String, MountError>,
    ) -> Result<Mount, MountError> {
        let mut m = Mount {
            kind: MountType::Bind,
            from: None,
            source: None,
            target: None,
            readonly: false,
            required: false,
            id: None,
            sharing: None,
            size: None,
            mode: None,
            uid: None,
            gid: None,
            env: None,
        };
        let mut readonly: Option<bool> = None;
        for (key, raw) in &self.fields {
            let Some(raw) = raw else {
                match *key {
                    "readonly" => readonly = Some(true),
                    "readwrite" => readonly = Some(false),
                    _ => m.required = true,
                }
                continue;
            };
            let value = if *key == "from" {
                raw.clone()
            } else {
                expand(raw)?
            };
            match *key {
                "type" => m.kind = MountType::parse(&value)?,
                "from" => m.from = Some(value),
                "source" => m.source = Some(value),
                "target" => m.target = Some(value),
                "readonly" => readonly = Some(parse_bool("readonly", &value)?),
                "readwrite" => readonly = Some(!parse_bool("readwrite", &value)?),
                "required" => m.required = parse_bool("required", &value)?,
                "id" => m.id = Some(value),
                "sharing" => {
                    m.sharing = Some(match value.to_ascii_lowercase().as_str() {
                        "shared" => Sharing::Shared,
                        "private" => Sharing::Private,
                        "locked" => Sharing::Locked,
                        _ => return Err(MountError::BadSharing { value }),
                    })
                }
                "size" => m.size = Some(parse_size(&value)?),
                "mode" => m.mode = Some(parse_number("mode", &value, 8, "an octal number")?),
                "uid" => m.uid = Some(parse_number("uid", &value, 10, "a number")?),
                "gid" => m.gid = Some(parse_number("gid", &value, 10, "a number")?),
                "env" => m.env = Some(value),
                _ => {}
            }
        }
        validate_for_type(&mut m, readonly)?;
        Ok(m)
    }
}

/// Checks keys against the mount type and fills BuildKit's defaults.
fn validate_for_type(m: &mut Mount, readonly: Option<bool>) -> Result<(), MountError> {
    let kind = m.kind.as_str();
    let file_info = matches!(
        m.kind,
        MountType::Secret | MountType::Ssh | MountType::Cache
    );
    let checks: [(&'static str, bool); 7] = [
        ("mode", m.mode.is_some() && !file_info),
        ("uid", m.uid.is_some() && !file_info),
        ("gid", m.gid.is_some() && !file_info),
        ("sharing", m.sharing.is_some() && m.kind != MountType::Cache),
        ("size", m.size.is_some() && m.kind != MountType::Tmpfs),
        (
            "required",
            m.required && !matches!(m.kind, MountType::Secret | MountType::Ssh),
        ),
        ("env", m.env.is_some() && m.kind != MountType::Secret),
    ];
    if let Some((key, _)) = checks.iter().find(|(_, bad)| *bad) {
        return Err(MountError::KeyNotForType { key, kind });
    }
    if m.kind == MountType::Secret && m.source.is_some() && m.id.is_some() {
        return Err(MountError::SecretSourceAndId);
    }
    if m.kind == MountType::Secret {
        if m.from.is_some() {
            return Err(MountError::SecretFrom);
        }
        if m.source.is_none() && m.target.is_none() && m.id.is_none() && m.env.is_none() {
            return Err(MountError::SecretWithoutName);
        }
    }
    m.readonly = readonly.unwrap_or(matches!(
        m.kind,
        MountType::Bind | MountType::Secret | MountType::Ssh
    ));
    Ok(())
}

/// Go's `strconv.ParseBool`.
fn parse_bool(key: &'static str, value: &str) -> Result<bool, MountError> {
    match value {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(false),
        _ => Err(MountError::BadValue {
            key,
            value: value.to_string(),
            expected: "true or false",
        }),
    }
}

fn parse_number(
    key: &'static str,
    value: &str,
    radix: u32,
    expected: &'static str,
) -> Result<u32, MountError> {
    u32::from_str_radix(value, radix).map_err(|_| MountError::BadValue {
        key,
        value: value.to_string(),
        expected,
    })
}

/// A size like `128m`, `1.5g`, `4096` (binary units, as docker's RAMInBytes).
pub fn parse_size(value: &str) -> Result<u64, MountError> {
    let bad = || MountError::BadValue {
        key: "size",
        value: value.to_string(),
        expected: "a size like 64m or 1g",
    };
    let lower = value.trim().to_ascii_lowercase();
    let digits_end = lower
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(lower.len());
    let (number, unit) = lower.split_at(digits_end);
    let number: f64 = number.parse().map_err(|_| bad())?;
    let shift = match unit.trim_end_matches(['b', 'i']) {
        "" => 0,
        "k" => 10,
        "m" => 20,
        "g" => 30,
        "t" => 40,
        "p" => 50,
        _ => return Err(bad()),
    };
    let bytes = number * (1u64 << shift) as f64;
    if !bytes.is_finite() || bytes < 0.0 || bytes > u64::MAX as f64 {
        return Err(bad());
    }
    Ok(bytes as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mount(v: &str) -> Mount {
        MountSpec::parse(v).unwrap().resolved.unwrap()
    }

    #[test]
    fn aliases_and_defaults() {
        let m = mount("type=cache,dst=/root/.cache,sharing=locked,mode=0755,uid=1");
        assert_eq!(m.kind, MountType::Cache);
        assert_eq!(m.target.as_deref(), Some("/root/.cache"));
        assert_eq!(m.mode, Some(0o755));
        assert!(!m.readonly);
        let m = mount("target=/ctx");
        assert_eq!(m.kind, MountType::Bind);
        assert!(m.readonly);
        let m = mount("type=bind,src=a,destination=/b,rw");
        assert!(!m.readonly);
        let m = mount("type=secret,id=tok,required,env=TOKEN");
        assert!(m.required && m.env.as_deref() == Some("TOKEN"));
        assert_eq!(
            mount("type=tmpfs,target=/t,size=128m").size,
            Some(128 << 20)
        );
    }

    #[test]
    fn errors_with_suggestions() {
        assert!(matches!(
            MountSpec::parse("typ=cache,target=/x"),
            Err(MountError::UnknownKey { suggestion: Some(s), .. }) if s == "type"
        ));
        assert!(matches!(
            MountSpec::parse("type=tmp,target=/x"),
            Err(MountError::UnsupportedType { suggestion: Some(s), .. }) if s == "tmpfs"
        ));
        assert_eq!(
            MountSpec::parse("from=$X,target=/x"),
            Err(MountError::FromWithVariable)
        );
        assert!(MountSpec::parse("type=bind,target=/x,mode=0644").is_err());
        assert!(MountSpec::parse("type=secret").is_err());
        assert!(MountSpec::parse("type=cache").is_ok());
    }

    #[test]
    fn variables_resolve_later() {
        let spec = MountSpec::parse("type=$T,target=/x").unwrap();
        assert!(spec.resolved.is_none());
        let m = spec.resolve(|v| Ok(v.replace("$T", "cache"))).unwrap();
        assert_eq!(m.kind, MountType::Cache);
    }

    #[test]
    fn csv_quotes() {
        let m = mount("type=bind,\"target=/a,b\"");
        assert_eq!(m.target.as_deref(), Some("/a,b"));
        assert!(MountSpec::parse("target=/a\"b").is_err());
    }
}
