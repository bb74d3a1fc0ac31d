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
const DOMAIN: &[u8] = b"rbuild-context-digest-v2";

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
        for (path, digest) in self.entry_digests(sources, stat_cache)? {
            field(&mut h, path.as_bytes());
            field(&mut h, digest.as_bytes());
        }
        Ok(format!("sha256:{}", hex::encode(h.finalize())))
    }

    /// Each selected entry's path (relative to the context) and digest, in
    /// order; a source starts with a `source:` entry naming it. Cache keys
    /// keep the list, so a miss can say which files changed.
    pub fn entry_digests(
        &self,
        sources: &[ResolvedSource],
        stat_cache: &mut StatCache,
    ) -> Result<Vec<(String, String)>, ContextError> {
        let mut out = Vec::new();
        for src in sources {
            let mut h = Sha256::new();
            field(&mut h, src.rel.as_os_str().as_encoded_bytes());
            field(&mut h, src.given.as_os_str().as_encoded_bytes());
            let name = format!("source:{}", src.given.display());
            out.push((name, hex::encode(h.finalize())));
            let top = self.entry(&src.rel)?;
            let below = if top.is_dir() {
                self.entries(&src.rel)?
            } else {
                Vec::new()
            };
            for entry in std::iter::once(&top).chain(&below) {
                let mut h = Sha256::new();
                self.hash_entry(&mut h, entry, stat_cache)?;
                let path = entry.rel.to_string_lossy().into_owned();
                out.push((path, hex::encode(h.finalize())));
            }
        }
        Ok(out)
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
