//! Digests computed while bytes stream past.

use std::io::{self, Write};

use sha2::{Digest, Sha256};

/// Identity of an uncompressed layer tar.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LayerDigest {
    /// `sha256:<hex>` of the uncompressed tar (the image config's `diff_id`).
    pub diff_id: String,
    /// Size of the uncompressed tar in bytes.
    pub size: u64,
}

/// Identity of a (possibly compressed) blob as written.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BlobDigest {
    /// `sha256:<hex>` of the bytes written.
    pub digest: String,
    /// Number of bytes written.
    pub size: u64,
}

/// A writer that hashes and counts what it passes on to `inner`.
pub(crate) struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
    size: u64,
}

impl<W: Write> HashingWriter<W> {
    pub(crate) fn new(inner: W) -> Self {
        HashingWriter {
            inner,
            hasher: Sha256::new(),
            size: 0,
        }
    }

    /// Returns `sha256:<hex>`, the byte count and the inner writer.
    pub(crate) fn finish(self) -> (String, u64, W) {
        let digest = format!("sha256:{}", hex::encode(self.hasher.finalize()));
        (digest, self.size, self.inner)
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_what_it_writes() {
        let mut w = HashingWriter::new(Vec::new());
        w.write_all(b"abc").unwrap();
        let (digest, size, inner) = w.finish();
        assert_eq!(
            digest,
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(size, 3);
        assert_eq!(inner, b"abc");
    }
}
