//! Tags: image references (`name:tag`, `host:port/repo@digest`, ...) mapped to
//! a manifest digest. One small file per tag under `tags/`, named by the
//! encoded reference and replaced atomically by rename: concurrent rbuild
//! processes never read half a tag, and the last writer wins, as with
//! `docker tag`.

use std::fs;
use std::io;
use std::path::PathBuf;

use super::error::{at, StoreError};
use super::names;
use super::temp::{sync_dir, write_atomic};
use super::{Digest, Store};

impl Store {
    fn tag_path(&self, reference: &str) -> Result<PathBuf, StoreError> {
        Ok(self
            .tags_dir()
            .join(names::encode_checked("image reference", reference)?))
    }

    /// Point `reference` at `manifest`, replacing any previous value.
    pub fn set_tag(&self, reference: &str, manifest: &Digest) -> Result<(), StoreError> {
        let path = self.tag_path(reference)?;
        write_atomic(&self.tmp_dir(), &path, format!("{manifest}\n").as_bytes())
    }

    /// The manifest digest `reference` points at, if it is tagged.
    pub fn tag(&self, reference: &str) -> Result<Option<Digest>, StoreError> {
        let path = self.tag_path(reference)?;
        read_tag_file(path)
    }

    /// Remove a tag; false if it did not exist.
    pub fn remove_tag(&self, reference: &str) -> Result<bool, StoreError> {
        let path = self.tag_path(reference)?;
        match fs::remove_file(&path) {
            Ok(()) => {
                sync_dir(&self.tags_dir())?;
                Ok(true)
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(StoreError::io(path, e)),
        }
    }

    /// Every tag with its digest, sorted by reference.
    pub fn tags(&self) -> Result<Vec<(String, Digest)>, StoreError> {
        let dir = self.tags_dir();
        let mut out = Vec::new();
        for entry in fs::read_dir(&dir).map_err(at(&dir))? {
            let entry = entry.map_err(at(&dir))?;
            let Some(reference) = entry.file_name().to_str().and_then(names::decode) else {
                continue; // not a tag file
            };
            // A tag removed since the listing is simply not reported.
            if let Some(digest) = read_tag_file(entry.path())? {
                out.push((reference, digest));
            }
        }
        out.sort();
        Ok(out)
    }
}

fn read_tag_file(path: PathBuf) -> Result<Option<Digest>, StoreError> {
    let text = match fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(StoreError::io(path, e)),
    };
    match text.trim_end().parse() {
        Ok(digest) => Ok(Some(digest)),
        Err(e) => Err(StoreError::CorruptRecord {
            path,
            reason: format!("{e}"),
        }),
    }
}
