//! ARG scoping and `$VAR` expansion, as BuildKit does them: meta ARGs (before
//! the first FROM) are visible in FROM lines; inside a stage an ARG must be
//! declared to be seen, and takes the `--build-arg` value, else its default,
//! else the meta ARG's value, else the predefined platform value. BuildKit
//! keeps one environment where the last writer wins: an ENV hides an earlier
//! ARG of the same name, and an ARG given a value later hides the ENV (in
//! the steps' environment and expansion; the image's Env keeps the ENV).

use super::error::BuildError;
use crate::image::{ImageConfig, Platform};
use crate::ir::ArgDecl;
use crate::shell::{EnvList, Lexer};
use std::collections::{BTreeMap, BTreeSet};

/// ARGs every build predefines (usable in FROM; in a stage once declared).
pub fn platform_args(target: &Platform, build: &Platform) -> BTreeMap<String, String> {
    let mut args = BTreeMap::new();
    for (prefix, p) in [("TARGET", target), ("BUILD", build)] {
        args.insert(format!("{prefix}PLATFORM"), p.to_string());
        args.insert(format!("{prefix}OS"), p.os.clone());
        args.insert(format!("{prefix}ARCH"), p.architecture.clone());
        args.insert(
            format!("{prefix}VARIANT"),
            p.variant.clone().unwrap_or_default(),
        );
    }
    args
}

/// Values in scope for expansion.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    /// Declared ARGs with a value, in declaration order.
    args: Vec<(String, String)>,
    /// ARGs set since the last ENV of the same name: they win over it.
    after_env: BTreeSet<String>,
}

impl Scope {
    /// The meta scope: ARGs before the first FROM, each expanded with the ones
    /// before it and the predefined ARGs.
    pub fn meta(
        decls: &[ArgDecl],
        build_args: &BTreeMap<String, String>,
        predefined: &BTreeMap<String, String>,
        escape: char,
    ) -> Result<Scope, BuildError> {
        let mut scope = Scope {
            args: predefined
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            after_env: BTreeSet::new(),
        };
        for decl in decls {
            let value = match (build_args.get(&decl.name), &decl.default) {
                (Some(v), _) => Some(v.clone()),
                (None, Some(default)) => Some(scope.expand(default, None, escape)?),
                // A bare `ARG TARGETOS` keeps the predefined value.
                (None, None) => continue,
            };
            scope.set(&decl.name, value);
        }
        Ok(scope)
    }

    /// Sets (or with `None`, removes) an ARG value.
    pub fn set(&mut self, name: &str, value: Option<String>) {
        self.args.retain(|(k, _)| k != name);
        self.after_env.remove(name);
        if let Some(v) = value {
            self.args.push((name.to_string(), v));
            self.after_env.insert(name.to_string());
        }
    }

    /// The scope a stage built on this one starts with: the ARG values, but
    /// the image's ENV wins again (BuildKit replays the config's Env over
    /// the inherited state).
    pub fn inherited(&self) -> Scope {
        Scope {
            args: self.args.clone(),
            after_env: BTreeSet::new(),
        }
    }

    /// An ENV set `name`: it now wins over the ARG.
    pub fn env_set(&mut self, name: &str) {
        self.after_env.remove(name);
    }

    /// The ARG value that wins over the image's ENV of the same name.
    pub fn overriding(&self, name: &str) -> Option<&str> {
        self.after_env
            .contains(name)
            .then(|| self.get(name))
            .flatten()
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.args
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The environment for expansion: ARGs, then the image's ENV over them.
    pub fn env(&self, config: Option<&ImageConfig>) -> EnvList {
        let mut env: EnvList = self.args.iter().cloned().collect();
        if let Some(config) = config {
            for kv in config.env() {
                let (k, v) = kv.split_once('=').unwrap_or((kv.as_str(), ""));
                if self.overriding(k).is_none() {
                    env.push(k, v);
                }
            }
        }
        env
    }

    /// Expands one word (quotes removed, no field splitting).
    pub fn expand(
        &self,
        word: &str,
        config: Option<&ImageConfig>,
        escape: char,
    ) -> Result<String, BuildError> {
        let env = self.env(config);
        Lexer::new(escape)
            .process_word(word, &env)
            .map_err(|e| BuildError::Expansion {
                word: word.to_string(),
                message: e.to_string(),
            })
    }

    /// Expands and splits into fields (EXPOSE, VOLUME's shell form).
    pub fn expand_words(
        &self,
        word: &str,
        config: Option<&ImageConfig>,
        escape: char,
    ) -> Result<Vec<String>, BuildError> {
        let env = self.env(config);
        Lexer::new(escape)
            .process_words(word, &env)
            .map_err(|e| BuildError::Expansion {
                word: word.to_string(),
                message: e.to_string(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decl(name: &str, default: Option<&str>) -> ArgDecl {
        ArgDecl {
            name: name.into(),
            default: default.map(str::to_string),
        }
    }

    #[test]
    fn meta_args_chain_and_build_args_override() {
        let mut build = BTreeMap::new();
        build.insert("B".to_string(), "override".to_string());
        let scope = Scope::meta(
            &[
                decl("A", Some("a")),
                decl("B", Some("b")),
                decl("C", Some("$A-$B")),
                decl("D", None),
            ],
            &build,
            &BTreeMap::new(),
            '\\',
        )
        .unwrap();
        assert_eq!(scope.get("C"), Some("a-override"));
        assert_eq!(scope.get("D"), None);
    }

    #[test]
    fn the_last_of_env_and_arg_wins() {
        let mut scope = Scope::default();
        scope.set("X", Some("arg".into()));
        let mut config = ImageConfig::default();
        config.set_env("X", "env");
        assert_eq!(scope.expand("$X", Some(&config), '\\').unwrap(), "arg");
        scope.env_set("X");
        assert_eq!(scope.expand("$X", Some(&config), '\\').unwrap(), "env");
        assert_eq!(scope.expand("$X", None, '\\').unwrap(), "arg");
        scope.set("X", Some("again".into()));
        assert_eq!(scope.expand("$X", Some(&config), '\\').unwrap(), "again");
    }
}
