//! Typed cache keys. A step's key is the digest of a versioned, serialised
//! [`StepKey`]: the parent's key and the step's own inputs, one struct per
//! step kind (no debug strings, no positional joins), so two different
//! inputs can never share a key. Secrets' values and proxy build args are
//! never inputs.
//!
//! The inputs of the last build of each step are kept in the store (record
//! namespace `step-inputs`, keyed by the context, the Dockerfile and the
//! step's place in it), so that a step that misses the cache can say why:
//! [`explain`] compares them with the new inputs.

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use std::collections::BTreeMap;

/// Bump when a step's result for the same inputs changes.
pub const KEY_VERSION: u32 = 2;
const LAST_INPUTS: &str = "step-inputs";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "lowercase")]
pub enum StepInputs {
    From {
        /// Digest of the base's config and layer diff_ids (or its stage key).
        base: String,
        platform: String,
        source_date_epoch: Option<i64>,
    },
    Copy {
        instruction: String,
        dest: String,
        dest_is_dir: bool,
        chown: Option<String>,
        chmod: Option<String>,
        link: bool,
        unpack: Option<bool>,
        excludes: Vec<String>,
        parents: bool,
        /// Local files arrive owned by root.
        local: bool,
        /// (path, entry digest) of every selected file, in order.
        files: Vec<(String, String)>,
        /// Heredoc bodies and downloads (digest).
        other: String,
    },
    Run {
        argv: Vec<String>,
        env: Vec<String>,
        user: String,
        workdir: String,
        /// The mounts' definitions and bind contents (never secrets).
        mounts: String,
        network: String,
        hosts: Vec<(String, String)>,
        heredocs: Vec<String>,
        /// `--security=insecure` (left out when false, so other keys stay).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        insecure: bool,
    },
    Workdir {
        dir: String,
        user: String,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepKey {
    pub version: u32,
    pub parent: String,
    pub inputs: StepInputs,
}

impl StepKey {
    pub fn new(parent: &str, inputs: StepInputs) -> StepKey {
        StepKey {
            version: KEY_VERSION,
            parent: parent.to_string(),
            inputs,
        }
    }

    /// The key: hex SHA-256 of the JSON encoding (struct fields in their
    /// declared order, so the encoding is stable).
    pub fn digest(&self) -> String {
        let bytes = serde_json::to_vec(self).expect("keys serialise");
        hex::encode(Sha256::digest(&bytes))
    }
}

/// Where a step's last inputs are kept: one record per context directory,
/// Dockerfile and step position.
pub fn step_slot(context: &std::path::Path, dockerfile: &str, stage: usize, step: &str) -> String {
    let text = format!("{}\0{dockerfile}\0{stage}\0{step}", context.display());
    hex::encode(Sha256::digest(text.as_bytes()))
}

pub fn last_inputs(store: &crate::store::Store, slot: &str) -> Option<StepKey> {
    store.record_json(LAST_INPUTS, slot).ok().flatten()
}

/// Keeps `key` as the step's last inputs unless `before` (the record read
/// for this step) already holds them: a cached build writes nothing. A
/// record that cannot be written costs an explanation only.
pub fn save_inputs(
    store: &crate::store::Store,
    slot: &str,
    key: &StepKey,
    before: Option<&StepKey>,
) {
    if before != Some(key) {
        let _ = store.put_record_json(LAST_INPUTS, slot, key);
    }
}

impl super::Build<'_> {
    /// Sets the stage's key from a step's inputs and looks it up. On a miss
    /// the progress says why (compared with this step's last build), and the
    /// inputs are kept for the next explanation.
    /// The step's cache record; on a miss, waits until no other build is
    /// making the same step, looks again, and otherwise keeps the step's
    /// lock until [`remember`](super::Build::remember) records it, so a step
    /// shared by concurrent builds is made once.
    fn cached_or_claim(&self, stage: usize, key: &str) -> Option<super::layers::CacheRecord> {
        if let Some(record) = self.cached(stage, key) {
            return Some(record);
        }
        // Without the lock the step is simply made here as well.
        let lock = self.store.lock_step(key).ok()?;
        if let Some(record) = self.cached(stage, key) {
            return Some(record);
        }
        self.step_locks
            .lock()
            .expect("step locks")
            .insert(key.to_string(), lock);
        None
    }

    pub(crate) fn lookup_step(
        &self,
        state: &mut super::state::StageState,
        inputs: StepInputs,
        handle: &super::progress::StepHandle,
    ) -> Option<super::layers::CacheRecord> {
        let key = StepKey::new(&state.key, inputs);
        state.key = key.digest();
        let stage_name = self.plan.stages[state.stage].name.as_deref();
        let filtered = self.opts.no_cache_filter.iter().any(|f| {
            Some(f.to_ascii_lowercase().as_str()) == stage_name || *f == state.stage.to_string()
        });
        let forced = if self.opts.no_cache {
            Some("--no-cache")
        } else if filtered {
            Some("--no-cache-filter")
        } else {
            None
        };
        let before = last_inputs(self.store, &state.slot);
        if forced.is_none() {
            if let Some(record) = self.cached_or_claim(state.stage, &state.key) {
                save_inputs(self.store, &state.slot, &key, before.as_ref());
                return Some(record);
            }
        }
        let reason = match forced {
            Some(forced) => forced.to_string(),
            None => explain(before.as_ref(), &key),
        };
        self.progress.miss(handle, &reason);
        save_inputs(self.store, &state.slot, &key, before.as_ref());
        // The last build's snapshot may lend the new one its unchanged files.
        state.previous_key = before.map(|k| k.digest());
        None
    }
}

/// Why `now` missed the cache, compared with the step's last build.
pub fn explain(before: Option<&StepKey>, now: &StepKey) -> String {
    let Some(before) = before else {
        return "no earlier build of this step".into();
    };
    if before.version != now.version {
        return "built by an earlier rbuild version".into();
    }
    match (&before.inputs, &now.inputs) {
        (StepInputs::Copy { files: old, .. }, StepInputs::Copy { files: new, .. })
            if old != new =>
        {
            files_changed(old, new)
        }
        (
            StepInputs::Run {
                env: old, argv: a, ..
            },
            StepInputs::Run {
                env: new, argv: b, ..
            },
        ) if a == b && old != new => env_changed(old, new),
        _ if before.inputs != now.inputs => "the instruction or its options changed".into(),
        _ if before.parent != now.parent => "an earlier step was rebuilt".into(),
        _ => "its cached result is no longer in the store".into(),
    }
}

fn files_changed(old: &[(String, String)], new: &[(String, String)]) -> String {
    let old: BTreeMap<&str, &str> = old.iter().map(|(p, d)| (p.as_str(), d.as_str())).collect();
    let new: BTreeMap<&str, &str> = new.iter().map(|(p, d)| (p.as_str(), d.as_str())).collect();
    let mut changes = Vec::new();
    // `source:` entries name the instruction's sources, not files.
    let is_file = |p: &&&str| !p.starts_with("source:");
    for (path, digest) in new.iter().filter(|(p, _)| is_file(p)) {
        match old.get(path) {
            None => changes.push(format!("{path} (added)")),
            Some(d) if d != digest => changes.push(format!("{path} (changed)")),
            _ => {}
        }
    }
    changes.extend(
        old.keys()
            .filter(is_file)
            .filter(|p| !new.contains_key(*p))
            .map(|p| format!("{p} (removed)")),
    );
    if changes.is_empty() {
        return "the sources it names changed".into();
    }
    let shown = changes.len().min(5);
    let more = changes.len() - shown;
    let mut text = format!("files changed: {}", changes[..shown].join(", "));
    if more > 0 {
        text.push_str(&format!(" and {more} more"));
    }
    text
}

fn env_changed(old: &[String], new: &[String]) -> String {
    let split = |list: &[String]| -> BTreeMap<String, String> {
        list.iter()
            .map(|kv| match kv.split_once('=') {
                Some((k, v)) => (k.to_string(), v.to_string()),
                None => (kv.clone(), String::new()),
            })
            .collect()
    };
    let (old, new) = (split(old), split(new));
    let mut changes = Vec::new();
    for (name, value) in &new {
        match old.get(name) {
            None => changes.push(format!("{name} set to {value:?}")),
            Some(v) if v != value => {
                changes.push(format!("{name} changed from {v:?} to {value:?}"))
            }
            _ => {}
        }
    }
    changes.extend(
        old.keys()
            .filter(|k| !new.contains_key(*k))
            .map(|k| format!("{k} unset")),
    );
    format!("build arg or env: {}", changes.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(env: &[&str], argv: &str) -> StepKey {
        StepKey::new(
            "p",
            StepInputs::Run {
                argv: vec![argv.into()],
                env: env.iter().map(|s| s.to_string()).collect(),
                user: String::new(),
                workdir: "/".into(),
                mounts: String::new(),
                network: "host".into(),
                hosts: Vec::new(),
                heredocs: Vec::new(),
                insecure: false,
            },
        )
    }

    #[test]
    fn keys_differ_for_different_inputs_and_say_why() {
        let a = run(&["V=1"], "make");
        let b = run(&["V=2"], "make");
        assert_ne!(a.digest(), b.digest());
        assert_eq!(a.digest(), run(&["V=1"], "make").digest());
        assert_eq!(
            explain(Some(&a), &b),
            "build arg or env: V changed from \"1\" to \"2\""
        );
        assert_eq!(
            explain(Some(&a), &run(&["V=1"], "make all")),
            "the instruction or its options changed"
        );
        let mut child = a.clone();
        child.parent = "q".into();
        assert_eq!(explain(Some(&a), &child), "an earlier step was rebuilt");
        assert_eq!(explain(None, &a), "no earlier build of this step");
    }

    #[test]
    fn copy_misses_name_the_files() {
        let copy = |files: &[(&str, &str)]| {
            StepKey::new(
                "p",
                StepInputs::Copy {
                    instruction: "COPY".into(),
                    dest: "/app".into(),
                    dest_is_dir: true,
                    chown: None,
                    chmod: None,
                    link: false,
                    unpack: None,
                    excludes: Vec::new(),
                    parents: false,
                    local: true,
                    files: files
                        .iter()
                        .map(|(p, d)| (p.to_string(), d.to_string()))
                        .collect(),
                    other: String::new(),
                },
            )
        };
        let before = copy(&[("src/a.rs", "1"), ("src/b.rs", "2")]);
        let now = copy(&[("src/a.rs", "9"), ("src/c.rs", "3")]);
        assert_eq!(
            explain(Some(&before), &now),
            "files changed: src/a.rs (changed), src/c.rs (added), src/b.rs (removed)"
        );
    }
}
