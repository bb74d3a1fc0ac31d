//! Instructions that only change the image config: ENV, ARG, LABEL, EXPOSE,
//! VOLUME, USER, CMD, ENTRYPOINT, SHELL, STOPSIGNAL, HEALTHCHECK, ONBUILD,
//! MAINTAINER. Each writes what BuildKit writes, and a history entry.

use crate::image::config::{Empty, HealthConfig};
use crate::ir::{ArgDecl, CommandLine, Healthcheck, KeyValue};
use crate::solver::state::StageState;
use crate::solver::BuildError;
use std::collections::BTreeMap;

pub fn env(state: &mut StageState, pairs: &[KeyValue]) -> Result<(), BuildError> {
    // All values are expanded before any is set, as BuildKit does.
    let mut expanded = Vec::with_capacity(pairs.len());
    for kv in pairs {
        expanded.push((state.expand(&kv.key)?, state.expand(&kv.value)?));
    }
    let mut message = String::from("ENV");
    for (k, v) in &expanded {
        state.image.config.set_env(k, v);
        state.scope.env_set(k);
        message.push_str(&format!(" {k}={v}"));
    }
    state.history(message, true);
    Ok(())
}

pub fn label(state: &mut StageState, pairs: &[KeyValue]) -> Result<(), BuildError> {
    let mut message = String::from("LABEL");
    for kv in pairs {
        let (k, v) = (state.expand(&kv.key)?, state.expand(&kv.value)?);
        message.push_str(&format!(" {k}={v}"));
        state
            .image
            .config
            .config
            .labels
            .get_or_insert_with(BTreeMap::new)
            .insert(k, v);
    }
    state.history(message, true);
    Ok(())
}

/// ARG inside a stage: the build-arg value, else the default, else the meta
/// ARG's value, else a predefined value.
pub fn arg(
    state: &mut StageState,
    decls: &[ArgDecl],
    build_args: &BTreeMap<String, String>,
    meta: &crate::solver::scope::Scope,
) -> Result<(), BuildError> {
    let mut message = String::from("ARG");
    for decl in decls {
        let value = match (build_args.get(&decl.name), &decl.default) {
            (Some(v), _) => Some(v.clone()),
            (None, Some(default)) => Some(state.expand(default)?),
            (None, None) => meta.get(&decl.name).map(str::to_string),
        };
        match &decl.default {
            Some(_) => message.push_str(&format!(
                " {}={}",
                decl.name,
                value.as_deref().unwrap_or("")
            )),
            None => message.push_str(&format!(" {}", decl.name)),
        }
        // Without a value the ARG changes nothing: a value it already has
        // (from an earlier ARG or the parent stage) stays, as in BuildKit.
        if value.is_some() {
            state.scope.set(&decl.name, value);
        }
    }
    state.history(message, true);
    Ok(())
}

/// `80` → `80/tcp`; `8000-8002/udp` → three ports; protocols lower-cased.
fn port_specs(word: &str) -> Result<Vec<String>, BuildError> {
    let (ports, proto) = match word.split_once('/') {
        Some((p, proto)) => (p, proto.to_ascii_lowercase()),
        None => (word, "tcp".to_string()),
    };
    let bad = || BuildError::Invalid(format!("invalid port in EXPOSE: {word:?}"));
    let parse = |s: &str| s.parse::<u16>().map_err(|_| bad());
    let (start, end) = match ports.split_once('-') {
        Some((a, b)) => (parse(a)?, parse(b)?),
        None => (parse(ports)?, parse(ports)?),
    };
    if end < start || !matches!(proto.as_str(), "tcp" | "udp" | "sctp") {
        return Err(bad());
    }
    Ok((start..=end).map(|p| format!("{p}/{proto}")).collect())
}

pub fn expose(state: &mut StageState, ports: &[String]) -> Result<(), BuildError> {
    let mut all = Vec::new();
    for word in ports {
        for expanded in state.expand_words(word)? {
            all.extend(port_specs(&expanded)?);
        }
    }
    let map = state
        .image
        .config
        .config
        .exposed_ports
        .get_or_insert_with(BTreeMap::new);
    for p in &all {
        map.insert(p.clone(), Empty {});
    }
    state.history(format!("EXPOSE {}", all.join(" ")), true);
    Ok(())
}

pub fn volume(state: &mut StageState, paths: &[String]) -> Result<(), BuildError> {
    let mut expanded = Vec::new();
    for p in paths {
        let v = state.expand(p)?;
        if v.trim().is_empty() {
            return Err(BuildError::Invalid(
                "VOLUME specified can not be an empty string".into(),
            ));
        }
        expanded.push(v);
    }
    let map = state
        .image
        .config
        .config
        .volumes
        .get_or_insert_with(BTreeMap::new);
    for v in &expanded {
        map.insert(v.clone(), Empty {});
    }
    state.history(format!("VOLUME [{}]", expanded.join(" ")), true);
    Ok(())
}

pub fn user(state: &mut StageState, user: &str) -> Result<(), BuildError> {
    let user = state.expand(user)?;
    state.history(format!("USER {user}"), true);
    state.image.config.config.user = user;
    Ok(())
}

pub fn stopsignal(state: &mut StageState, signal: &str) -> Result<(), BuildError> {
    let signal = state.expand(signal)?;
    let valid = signal.parse::<u32>().is_ok()
        || signal.strip_prefix("SIG").is_some_and(|s| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'+' || b == b'-')
        });
    if !valid {
        return Err(BuildError::Invalid(format!("Invalid signal: {signal}")));
    }
    state.history(format!("STOPSIGNAL {signal}"), true);
    state.image.config.config.stop_signal = signal;
    Ok(())
}

fn argv(state: &StageState, line: &CommandLine) -> Vec<String> {
    match line {
        CommandLine::Exec(args) => args.clone(),
        CommandLine::Shell(text) => {
            let mut v = state.shell();
            v.push(text.clone());
            v
        }
    }
}

fn quoted_list(args: &[String]) -> String {
    let items: Vec<String> = args.iter().map(|a| format!("{a:?}")).collect();
    format!("[{}]", items.join(" "))
}

pub fn cmd(state: &mut StageState, line: &CommandLine) {
    let args = argv(state, line);
    state.history(format!("CMD {}", quoted_list(&args)), true);
    state.image.config.config.cmd = Some(args);
    state.cmd_set = true;
}

pub fn entrypoint(state: &mut StageState, line: &CommandLine) {
    let args = argv(state, line);
    state.history(format!("ENTRYPOINT {}", quoted_list(&args)), true);
    state.image.config.config.entrypoint = Some(args);
    // An ENTRYPOINT resets a CMD inherited from the base image.
    if !state.cmd_set {
        state.image.config.config.cmd = None;
    }
}

pub fn set_shell(state: &mut StageState, shell: &[String]) {
    state.history(format!("SHELL {}", quoted_list(shell)), true);
    state.image.config.config.shell = Some(shell.to_vec());
}

pub fn healthcheck(state: &mut StageState, check: &Healthcheck) {
    let config = match check {
        Healthcheck::None => HealthConfig {
            test: vec!["NONE".into()],
            ..HealthConfig::default()
        },
        Healthcheck::Cmd {
            test,
            interval,
            timeout,
            start_period,
            start_interval,
            retries,
        } => HealthConfig {
            test: match test {
                CommandLine::Exec(args) => std::iter::once("CMD".to_string())
                    .chain(args.iter().cloned())
                    .collect(),
                CommandLine::Shell(text) => vec!["CMD-SHELL".into(), text.clone()],
            },
            interval: interval.unwrap_or(0),
            timeout: timeout.unwrap_or(0),
            start_period: start_period.unwrap_or(0),
            start_interval: start_interval.unwrap_or(0),
            retries: retries.unwrap_or(0),
        },
    };
    state.history(format!("HEALTHCHECK {}", quoted_list(&config.test)), true);
    state.image.config.config.healthcheck = Some(config);
}

/// Only the config changes: BuildKit writes no history entry for ONBUILD.
pub fn onbuild(state: &mut StageState, trigger: &str) {
    state
        .image
        .config
        .config
        .on_build
        .get_or_insert_with(Vec::new)
        .push(trigger.to_string());
}

pub fn maintainer(state: &mut StageState, name: &str) -> Result<(), BuildError> {
    let name = state.expand(name)?;
    state.history(format!("MAINTAINER {name}"), true);
    state.image.config.author = Some(name);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_specs_follow_docker() {
        assert_eq!(port_specs("80").unwrap(), ["80/tcp"]);
        assert_eq!(port_specs("53/UDP").unwrap(), ["53/udp"]);
        assert_eq!(
            port_specs("8000-8002").unwrap(),
            ["8000/tcp", "8001/tcp", "8002/tcp"]
        );
        assert!(port_specs("http").is_err());
    }
}
