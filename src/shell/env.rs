//! Where expansion looks variables up.
//!
//! The expander only needs "is this name set, and to what", so callers can keep
//! whatever map they already have. Names are compared exactly: on Linux,
//! environment names are case-sensitive (BuildKit folds case only on Windows).

use std::collections::{BTreeMap, HashMap};
use std::hash::BuildHasher;

/// A read-only set of variables.
pub trait EnvLookup {
    /// The value of `name`, or `None` when it is unset. `Some("")` is set but empty,
    /// which `${v-w}` and `${v:-w}` tell apart.
    fn get(&self, name: &str) -> Option<&str>;
    /// Every name that is set, each once.
    fn keys(&self) -> Vec<String>;
}

impl<S: BuildHasher> EnvLookup for HashMap<String, String, S> {
    fn get(&self, name: &str) -> Option<&str> {
        HashMap::get(self, name).map(String::as_str)
    }

    fn keys(&self) -> Vec<String> {
        HashMap::keys(self).cloned().collect()
    }
}

impl EnvLookup for BTreeMap<String, String> {
    fn get(&self, name: &str) -> Option<&str> {
        BTreeMap::get(self, name).map(String::as_str)
    }

    fn keys(&self) -> Vec<String> {
        BTreeMap::keys(self).cloned().collect()
    }
}

/// An ordered list of variables, as a Dockerfile stage accumulates them.
/// A later entry overrides an earlier one with the same name, so appending is
/// how a stage sets a variable again.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EnvList(pub Vec<(String, String)>);

impl EnvList {
    /// An empty list.
    pub fn new() -> Self {
        Self::default()
    }

    /// Builds a list from `KEY=VALUE` strings, splitting at the first `=`. An
    /// entry without `=` sets the name to the empty string, as BuildKit does.
    pub fn from_kv_strings<I, S>(entries: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let pairs = entries
            .into_iter()
            .map(|entry| {
                let entry = entry.as_ref();
                let (key, value) = entry.split_once('=').unwrap_or((entry, ""));
                (key.to_owned(), value.to_owned())
            })
            .collect();
        EnvList(pairs)
    }

    /// Sets `name`, overriding any earlier value.
    pub fn push(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.0.push((name.into(), value.into()));
    }
}

impl FromIterator<(String, String)> for EnvList {
    fn from_iter<T: IntoIterator<Item = (String, String)>>(iter: T) -> Self {
        EnvList(iter.into_iter().collect())
    }
}

impl EnvLookup for EnvList {
    fn get(&self, name: &str) -> Option<&str> {
        // Searching from the end makes the latest assignment win without
        // having to rebuild a map after every push.
        self.0
            .iter()
            .rev()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    fn keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = Vec::with_capacity(self.0.len());
        for (key, _) in &self.0 {
            if !keys.contains(key) {
                keys.push(key.clone());
            }
        }
        keys
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_list_later_entries_win() {
        let env = EnvList::from_kv_strings(["A=1", "B", "A=2", "C=x=y"]);
        assert_eq!(env.get("A"), Some("2"));
        assert_eq!(env.get("B"), Some(""));
        assert_eq!(env.get("C"), Some("x=y"));
        assert_eq!(env.get("a"), None);
        assert_eq!(env.keys(), vec!["A", "B", "C"]);
    }

    #[test]
    fn maps_report_set_and_unset() {
        let mut map = HashMap::new();
        map.insert("X".to_string(), String::new());
        assert_eq!(EnvLookup::get(&map, "X"), Some(""));
        assert_eq!(EnvLookup::get(&map, "Y"), None);
        let tree: BTreeMap<String, String> = [("K".to_string(), "v".to_string())].into();
        assert_eq!(EnvLookup::keys(&tree), vec!["K"]);
    }
}
