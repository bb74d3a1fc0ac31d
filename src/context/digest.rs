//! The content digest of COPY/ADD sources, for cache keys: each selected
//! entry's relative path, kind, mode, owner, link target and (for files)
//! content hash, in order. Never mtime, so touching a file changes nothing.

use sha2::{Digest, Sha256};

use super::error::ContextError;
use super::resolve::ResolvedSource;
use super::statcache::StatCache;
use super::walk::{ContextEntry, EntryKind};
use super::Context;

/// Bump when the encoding below changes, so old cache keys stop matching.
const DOMAIN: &[u8] = b"rbuild-context-digest-v1";

impl Context {
    /// `sha256:<hex>` over the sources in the order given: for each, the
    /// source entry itself and, for a directory, everything below it that the
    /// ignore patterns leave in. File contents come from `stat_cache` when
    /// their stat data is unchanged.
    pub fn digest(
        &self,
        sources: &[ResolvedSource],
        stat_cache: &mut StatCache,
    ) -> Result<String, ContextError> {
        let mut h = Sha256::new();
        field(&mut h, DOMAIN);
        for src in sources {
            field(&mut h, b"source");
            field(&mut h, src.rel.as_os_str().as_encoded_bytes());
            field(&mut h, src.given.as_os_str().as_encoded_bytes());
            let top = self.entry(&src.rel)?;
            self.hash_entry(&mut h, &top, stat_cache)?;
            if top.is_dir() {
                for entry in self.entries(&src.rel)? {
                    self.hash_entry(&mut h, &entry, stat_cache)?;
                }
            }
        }
        Ok(format!("sha256:{}", hex::encode(h.finalize())))
    }

    fn hash_entry(
        &self,
        h: &mut Sha256,
        entry: &ContextEntry,
        stat_cache: &mut StatCache,
    ) -> Result<(), ContextError> {
        field(h, entry.rel.as_os_str().as_encoded_bytes());
        field(h, &entry.mode.to_le_bytes());
        field(h, &entry.uid.to_le_bytes());
        field(h, &entry.gid.to_le_bytes());
        match &entry.kind {
            EntryKind::Dir => field(h, b"dir"),
            EntryKind::File => {
                field(h, b"file");
                let abs = self.root.join(&entry.rel);
                let sha = stat_cache.file_sha256(&abs, entry)?;
                field(h, sha.as_bytes());
            }
            EntryKind::Symlink { target } => {
                field(h, b"symlink");
                field(h, target.as_os_str().as_encoded_bytes());
            }
            EntryKind::Other => {
                field(h, b"other");
                field(h, &entry.rdev.to_le_bytes());
            }
        }
        Ok(())
    }
}

/// A length-prefixed field, so no two different entry lists hash alike.
fn field(h: &mut Sha256, bytes: &[u8]) {
    h.update((bytes.len() as u64).to_le_bytes());
    h.update(bytes);
}
