//! The state of a stage while its steps run: the image so far, ARGs in scope
//! and the cache key chain.

use super::scope::Scope;
use crate::image::{History, Image};
use sha2::{Digest as _, Sha256};

#[derive(Debug, Clone)]
pub struct StageState {
    /// Index of the stage in the plan (a child stage gets its own).
    pub stage: usize,
    /// The running step's place, for its cache-miss explanation.
    pub slot: String,
    pub image: Image,
    pub scope: Scope,
    /// Cache key of everything up to here (hex).
    pub key: String,
    /// After a cache miss, the key of this step's last build, if any.
    pub previous_key: Option<String>,
    /// CMD was set in this stage (ENTRYPOINT then keeps it).
    pub cmd_set: bool,
    /// The stage's next step is a RUN (it needs this step's snapshot).
    pub next_runs: bool,
    /// Build time in seconds for `created` fields.
    pub time: i64,
    pub escape: char,
}

/// A key derived from a parent key and the parts of a step's definition.
pub fn chain_key(parent: &str, parts: &[&str]) -> String {
    let mut h = Sha256::new();
    h.update(parent.as_bytes());
    for part in parts {
        // Length-prefixed so ("ab","c") and ("a","bc") differ.
        h.update((part.len() as u64).to_le_bytes());
        h.update(part.as_bytes());
    }
    hex::encode(h.finalize())
}

impl StageState {
    /// Records a history entry.
    pub fn history(&mut self, created_by: String, empty_layer: bool) {
        self.image.config.history.push(History {
            created: Some(super::time::rfc3339(self.time)),
            created_by: Some(created_by),
            author: None,
            comment: Some("buildkit.dockerfile.v0".into()),
            empty_layer,
        });
    }

    /// The shell shell-form commands run with: SHELL, else `/bin/sh -c`.
    pub fn shell(&self) -> Vec<String> {
        self.image
            .config
            .config
            .shell
            .clone()
            .unwrap_or_else(|| vec!["/bin/sh".into(), "-c".into()])
    }

    /// Expands a word with the stage's ARGs and ENV.
    pub fn expand(&self, word: &str) -> Result<String, super::error::BuildError> {
        self.scope
            .expand(word, Some(&self.image.config), self.escape)
    }

    pub fn expand_words(&self, word: &str) -> Result<Vec<String>, super::error::BuildError> {
        self.scope
            .expand_words(word, Some(&self.image.config), self.escape)
    }
}
