//! Small records in named namespaces (`cache`, `layers`, ...): one file per
//! key under `records/<namespace>/`, the key encoded into a safe file name,
//! replaced atomically by rename (last writer wins).

use std::fs;
use std::io;
use std::path::PathBuf;

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::error::{at, StoreError};
use super::names;
use super::temp::{sync_dir, write_atomic};
use super::Store;

impl Store {
    fn namespace_dir(&self, namespace: &str) -> Result<PathBuf, StoreError> {
        names::valid_namespace(namespace)?;
        Ok(self.records_dir().join(namespace))
    }

    /// Where the record for `key` lives (it may not exist).
    pub fn record_path(&self, namespace: &str, key: &str) -> Result<PathBuf, StoreError> {
        let name = names::encode_checked("record key", key)?;
        Ok(self.namespace_dir(namespace)?.join(name))
    }

    /// Store `value` under `key`, replacing any previous value atomically.
    pub fn put_record(&self, namespace: &str, key: &str, value: &[u8]) -> Result<(), StoreError> {
        let path = self.record_path(namespace, key)?;
        let dir = self.namespace_dir(namespace)?;
        fs::create_dir_all(&dir).map_err(at(&dir))?;
        write_atomic(&self.tmp_dir(), &path, value)
    }

    pub fn record(&self, namespace: &str, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let path = self.record_path(namespace, key)?;
        match fs::read(&path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(StoreError::io(path, e)),
        }
    }

    /// Remove a record; false if it did not exist.
    pub fn remove_record(&self, namespace: &str, key: &str) -> Result<bool, StoreError> {
        let path = self.record_path(namespace, key)?;
        match fs::remove_file(&path) {
            Ok(()) => {
                sync_dir(&self.namespace_dir(namespace)?)?;
                Ok(true)
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(StoreError::io(path, e)),
        }
    }

    /// The keys in a namespace, sorted (empty if the namespace has none).
    pub fn record_keys(&self, namespace: &str) -> Result<Vec<String>, StoreError> {
        let dir = self.namespace_dir(namespace)?;
        let entries = match fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(StoreError::io(dir, e)),
        };
        let mut keys = Vec::new();
        for entry in entries {
            let entry = entry.map_err(at(&dir))?;
            if let Some(key) = entry.file_name().to_str().and_then(names::decode) {
                keys.push(key);
            }
        }
        keys.sort();
        Ok(keys)
    }

    /// [`put_record`](Store::put_record) with a value serialised as JSON.
    pub fn put_record_json<T: Serialize + ?Sized>(
        &self,
        namespace: &str,
        key: &str,
        value: &T,
    ) -> Result<(), StoreError> {
        let bytes = serde_json::to_vec(value).map_err(|source| StoreError::Json {
            namespace: namespace.to_string(),
            key: key.to_string(),
            source,
        })?;
        self.put_record(namespace, key, &bytes)
    }

    /// [`record`](Store::record) parsed as JSON.
    pub fn record_json<T: DeserializeOwned>(
        &self,
        namespace: &str,
        key: &str,
    ) -> Result<Option<T>, StoreError> {
        let Some(bytes) = self.record(namespace, key)? else {
            return Ok(None);
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|source| StoreError::Json {
                namespace: namespace.to_string(),
                key: key.to_string(),
                source,
            })
    }
}
