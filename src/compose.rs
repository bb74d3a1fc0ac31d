//! Compose files for `rbuild bake`: the services that have a `build:`
//! section, resolved into build targets (context, Dockerfile, args, target
//! stage, tags, labels, cache sources and destinations), as `docker buildx
//! bake` reads them. YAML is read with `serde-saphyr` (maintained, pure
//! Rust, serde-typed; `serde_yaml` is archived).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum ComposeError {
    #[error("{}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: {message}", path.display())]
    Invalid { path: PathBuf, message: String },
    #[error("{}: no service {name:?} (it has: {known})", path.display())]
    UnknownService {
        path: PathBuf,
        name: String,
        known: String,
    },
    #[error("{}: service {name:?} has no build section", path.display())]
    NotBuildable { path: PathBuf, name: String },
    #[error("{}: no service has a build section", path.display())]
    NothingToBuild { path: PathBuf },
}

#[derive(Debug, Deserialize)]
struct ComposeFile {
    #[serde(default)]
    services: BTreeMap<String, Service>,
}

#[derive(Debug, Deserialize)]
struct Service {
    image: Option<String>,
    build: Option<Build>,
}

/// `build: ./dir` or the long form.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Build {
    Context(String),
    Full(BuildSection),
}

#[derive(Debug, Deserialize, Default)]
struct BuildSection {
    context: Option<String>,
    dockerfile: Option<String>,
    #[serde(default)]
    args: KeyValues,
    target: Option<String>,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    labels: KeyValues,
    #[serde(default)]
    cache_from: Vec<String>,
    #[serde(default)]
    cache_to: Vec<String>,
}

/// A map, or a list of `KEY=VALUE` (Compose accepts both).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum KeyValues {
    Map(BTreeMap<String, Option<ScalarValue>>),
    List(Vec<String>),
}

impl Default for KeyValues {
    fn default() -> Self {
        KeyValues::List(Vec::new())
    }
}

/// YAML scalars a value may be written as (`PORT: 3000` is a number).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum ScalarValue {
    Text(String),
    Int(i64),
    Float(f64),
    Bool(bool),
}

impl ScalarValue {
    fn text(&self) -> String {
        match self {
            ScalarValue::Text(s) => s.clone(),
            ScalarValue::Int(n) => n.to_string(),
            ScalarValue::Float(f) => f.to_string(),
            ScalarValue::Bool(b) => b.to_string(),
        }
    }
}

impl KeyValues {
    /// As `KEY=VALUE`; a key without a value takes rbuild's environment's
    /// value, or is left out, as Compose does.
    fn pairs(&self) -> BTreeMap<String, String> {
        let from_env = |k: &str| std::env::var(k).ok().map(|v| (k.to_string(), v));
        match self {
            KeyValues::Map(map) => map
                .iter()
                .filter_map(|(k, v)| match v {
                    Some(v) => Some((k.clone(), v.text())),
                    None => from_env(k),
                })
                .collect(),
            KeyValues::List(items) => items
                .iter()
                .filter_map(|item| match item.split_once('=') {
                    Some((k, v)) => Some((k.to_string(), v.to_string())),
                    None => from_env(item),
                })
                .collect(),
        }
    }
}

/// One image to build, resolved against the Compose file's folder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Target {
    pub context: PathBuf,
    pub dockerfile: PathBuf,
    pub args: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    pub tags: Vec<String>,
    pub labels: BTreeMap<String, String>,
    #[serde(rename = "cache-from")]
    pub cache_from: Vec<String>,
    #[serde(rename = "cache-to")]
    pub cache_to: Vec<String>,
}

/// The targets to build, by service name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Plan {
    pub target: BTreeMap<String, Target>,
}

impl Plan {
    /// `--print`: the plan as `docker buildx bake --print` lays it out.
    pub fn to_json(&self) -> serde_json::Value {
        let names: Vec<&String> = self.target.keys().collect();
        serde_json::json!({
            "group": {"default": {"targets": names}},
            "target": self.target,
        })
    }
}

/// Reads `path` and resolves `services` (all buildable ones when empty).
pub fn load(path: &Path, services: &[String]) -> Result<Plan, ComposeError> {
    let text = std::fs::read_to_string(path).map_err(|source| ComposeError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let file: ComposeFile = serde_saphyr::from_str(&text).map_err(|e| ComposeError::Invalid {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    let base = path.parent().unwrap_or(Path::new("."));
    let mut plan = Plan {
        target: BTreeMap::new(),
    };
    let chosen: Vec<String> = if services.is_empty() {
        file.services
            .iter()
            .filter(|(_, s)| s.build.is_some())
            .map(|(n, _)| n.clone())
            .collect()
    } else {
        services.to_vec()
    };
    for name in chosen {
        let service = file
            .services
            .get(&name)
            .ok_or_else(|| ComposeError::UnknownService {
                path: path.to_path_buf(),
                name: name.clone(),
                known: file.services.keys().cloned().collect::<Vec<_>>().join(", "),
            })?;
        let target = resolve(base, &name, service).ok_or_else(|| ComposeError::NotBuildable {
            path: path.to_path_buf(),
            name: name.clone(),
        })?;
        plan.target.insert(name, target);
    }
    if plan.target.is_empty() {
        return Err(ComposeError::NothingToBuild {
            path: path.to_path_buf(),
        });
    }
    Ok(plan)
}

fn resolve(base: &Path, name: &str, service: &Service) -> Option<Target> {
    let default_section;
    let section = match service.build.as_ref()? {
        Build::Full(section) => section,
        Build::Context(dir) => {
            default_section = BuildSection {
                context: Some(dir.clone()),
                ..BuildSection::default()
            };
            &default_section
        }
    };
    let context = base.join(section.context.as_deref().unwrap_or("."));
    let dockerfile = context.join(section.dockerfile.as_deref().unwrap_or("Dockerfile"));
    // The image name Compose gives a service without `image:`.
    let mut tags = vec![service
        .image
        .clone()
        .unwrap_or_else(|| format!("{name}:latest"))];
    tags.extend(section.tags.iter().cloned());
    Some(Target {
        context,
        dockerfile,
        args: section.args.pairs(),
        target: section.target.clone(),
        tags,
        labels: section.labels.pairs(),
        cache_from: section.cache_from.clone(),
        cache_to: section.cache_to.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn services_resolve_against_the_compose_folder() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("compose.yaml");
        std::fs::write(
            &path,
            "services:\n  web:\n    build:\n      context: ./web\n      args:\n        PORT: 8080\n        NAME: x\n      target: final\n      tags: [extra:1]\n      labels: [a=b]\n    image: localhost/web:1\n  short:\n    build: ./s\n  db:\n    image: postgres\n",
        )
        .unwrap();
        let plan = load(&path, &[]).unwrap();
        assert_eq!(plan.target.keys().collect::<Vec<_>>(), ["short", "web"]);
        let web = &plan.target["web"];
        assert_eq!(web.context, dir.path().join("./web"));
        assert_eq!(web.dockerfile, dir.path().join("./web").join("Dockerfile"));
        assert_eq!(web.args["PORT"], "8080");
        assert_eq!(web.tags, ["localhost/web:1", "extra:1"]);
        assert_eq!(web.labels["a"], "b");
        assert_eq!(web.target.as_deref(), Some("final"));
        assert_eq!(plan.target["short"].tags, ["short:latest"]);
        let err = load(&path, &["db".into()]).unwrap_err().to_string();
        assert!(err.contains("no build section"), "{err}");
        let err = load(&path, &["nope".into()]).unwrap_err().to_string();
        assert!(
            err.contains("no service \"nope\"") && err.contains("web"),
            "{err}"
        );
    }
}
