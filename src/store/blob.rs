//! Content-addressed blobs: `blobs/sha256/<hex>`.
//!
//! A blob is written to a locked temp file, hashed as it is written, fsynced
//! and only then renamed to its digest. The rename is atomic, so a blob path
//! either does not exist or holds the complete content; an interrupted write
//! leaves only a temp file, which the next `Store::open` removes.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::PathBuf;

use super::digest::Hasher;
use super::error::{at, StoreError};
use super::temp::TempFile;
use super::{Digest, Store};

const BUF_SIZE: usize = 256 * 1024;

/// Writes one blob. Content goes to a temp file; nothing is visible in the
/// store until [`commit`](BlobWriter::commit). Dropping the writer discards it.
pub struct BlobWriter {
    temp: TempFile,
    blob_dir: PathBuf,
    hasher: Hasher,
    size: u64,
    buf: Vec<u8>,
}

impl BlobWriter {
    /// Bytes written so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The temp file being written (for diagnostics).
    pub fn temp_path(&self) -> &std::path::Path {
        &self.temp.path
    }

    /// Write out the buffer; the error is the bare `io::Error`.
    fn flush_buf(&mut self) -> io::Result<()> {
        if !self.buf.is_empty() {
            let result = self.temp.file.write_all(&self.buf);
            self.buf.clear();
            result?;
        }
        Ok(())
    }

    /// Publish the blob under its digest; returns the digest and size.
    /// Content already in the store is kept and the new copy discarded.
    pub fn commit(mut self) -> Result<(Digest, u64), StoreError> {
        self.flush_buf().map_err(at(&self.temp.path))?;
        let digest = self.hasher.finish();
        let dest = self.blob_dir.join(digest.hex());
        publish(self.temp, &dest)?;
        Ok((digest, self.size))
    }

    /// Like [`commit`](BlobWriter::commit), but publish only if the content
    /// hashes to `expected`; on a mismatch nothing is published.
    pub fn commit_expect(mut self, expected: &Digest) -> Result<u64, StoreError> {
        self.flush_buf().map_err(at(&self.temp.path))?;
        let actual = self.hasher.finish();
        if actual != *expected {
            // Dropping `self.temp` removes the temp file.
            return Err(StoreError::DigestMismatch {
                expected: *expected,
                actual,
            });
        }
        let dest = self.blob_dir.join(actual.hex());
        publish(self.temp, &dest)?;
        Ok(self.size)
    }
}

impl Write for BlobWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.buf.len() + data.len() > BUF_SIZE {
            self.flush_buf()
                .map_err(|e| with_path(&self.temp.path, e))?;
        }
        if data.len() >= BUF_SIZE {
            let path = &self.temp.path;
            self.temp
                .file
                .write_all(data)
                .map_err(|e| with_path(path, e))?;
        } else {
            self.buf.extend_from_slice(data);
        }
        self.hasher.update(data);
        self.size += data.len() as u64;
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.flush_buf().map_err(|e| with_path(&self.temp.path, e))
    }
}

/// An `io::Error` that keeps its kind and carries a `StoreError` naming the
/// path; [`StoreError::from_io`] unwraps it again.
fn with_path(path: &std::path::Path, e: io::Error) -> io::Error {
    io::Error::new(e.kind(), StoreError::io(path, e))
}

fn publish(temp: TempFile, dest: &std::path::Path) -> Result<(), StoreError> {
    if fs::symlink_metadata(dest).is_ok() {
        return Ok(()); // same digest, same content; `temp` is removed on drop
    }
    temp.persist(dest)
}

impl Store {
    pub fn blob_path(&self, d: &Digest) -> PathBuf {
        self.blob_dir().join(d.hex())
    }

    pub fn has_blob(&self, d: &Digest) -> bool {
        fs::symlink_metadata(self.blob_path(d)).is_ok_and(|m| m.is_file())
    }

    /// Start writing a blob whose digest is computed as it is written.
    pub fn blob_writer(&self) -> Result<BlobWriter, StoreError> {
        Ok(BlobWriter {
            temp: TempFile::create(&self.tmp_dir(), "blob")?,
            blob_dir: self.blob_dir(),
            hasher: Hasher::new(),
            size: 0,
            buf: Vec::with_capacity(BUF_SIZE),
        })
    }

    pub fn put_blob(&self, bytes: &[u8]) -> Result<Digest, StoreError> {
        let mut writer = self.blob_writer()?;
        writer
            .write_all(bytes)
            .map_err(|e| StoreError::from_io(writer.temp_path(), e))?;
        Ok(writer.commit()?.0)
    }

    /// Open a blob for reading. The content is not verified: use
    /// [`read_blob`](Store::read_blob) or [`verify_blob`](Store::verify_blob).
    pub fn open_blob(&self, d: &Digest) -> Result<fs_err::File, StoreError> {
        let file = self.open_blob_file(d)?;
        Ok(fs_err::File::from_parts(file, self.blob_path(d)))
    }

    fn open_blob_file(&self, d: &Digest) -> Result<File, StoreError> {
        let path = self.blob_path(d);
        match File::open(&path) {
            Ok(file) => Ok(file),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                Err(StoreError::BlobNotFound { digest: *d, path })
            }
            Err(e) => Err(StoreError::io(path, e)),
        }
    }

    /// Read a whole blob into memory, verifying its digest (always: hashing
    /// costs far less than the read, and a bad manifest or config must not be
    /// trusted).
    pub fn read_blob(&self, d: &Digest) -> Result<Vec<u8>, StoreError> {
        let mut file = self.open_blob_file(d)?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)
            .map_err(at(&self.blob_path(d)))?;
        let actual = Digest::of(&bytes);
        if actual != *d {
            return Err(self.corrupt(d, actual));
        }
        Ok(bytes)
    }

    /// Re-hash a blob from disk and compare with its name.
    pub fn verify_blob(&self, d: &Digest) -> Result<(), StoreError> {
        let mut file = self.open_blob_file(d)?;
        let mut hasher = Hasher::new();
        let mut buf = vec![0u8; BUF_SIZE];
        loop {
            let n = match file.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(StoreError::io(self.blob_path(d), e)),
            };
            hasher.update(&buf[..n]);
        }
        let actual = hasher.finish();
        if actual != *d {
            return Err(self.corrupt(d, actual));
        }
        Ok(())
    }

    fn corrupt(&self, d: &Digest, actual: Digest) -> StoreError {
        StoreError::CorruptBlob {
            digest: *d,
            actual,
            path: self.blob_path(d),
        }
    }

    pub fn blob_size(&self, d: &Digest) -> Result<u64, StoreError> {
        match fs::metadata(self.blob_path(d)) {
            Ok(meta) => Ok(meta.len()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Err(StoreError::BlobNotFound {
                digest: *d,
                path: self.blob_path(d),
            }),
            Err(e) => Err(StoreError::io(self.blob_path(d), e)),
        }
    }

    /// Delete a blob (garbage collection; hold the exclusive lock).
    /// Returns false if it was not there.
    pub fn remove_blob(&self, d: &Digest) -> Result<bool, StoreError> {
        let path = self.blob_path(d);
        match fs::remove_file(&path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(StoreError::io(path, e)),
        }
    }

    /// Every blob in the store, sorted. Files not named by a digest are skipped.
    pub fn blobs(&self) -> Result<Vec<Digest>, StoreError> {
        let dir = self.blob_dir();
        let mut out = Vec::new();
        for entry in fs::read_dir(&dir).map_err(at(&dir))? {
            let entry = entry.map_err(at(&dir))?;
            if let Some(d) = entry
                .file_name()
                .to_str()
                .and_then(|n| Digest::from_hex(n).ok())
            {
                out.push(d);
            }
        }
        out.sort();
        Ok(out)
    }
}
