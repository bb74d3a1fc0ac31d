//! Writing export archives: a tar of small files and store blobs, written to
//! a temp file beside the destination and renamed into place, so a failed or
//! interrupted export never leaves a half-written file under the final name;
//! or streamed into a pipe (`docker load` reading its standard input).

use super::error::{io_at, ExportError};
use super::manifest::blob_file;
use crate::store::{Digest, Store};
use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};

pub struct ArchiveWriter {
    /// `None` once finished.
    builder: Option<tar::Builder<BufWriter<Sink>>>,
    /// The file written, or what a stream is for (named in errors).
    temp: PathBuf,
    /// Where a file is renamed to once complete; `None` for a stream.
    dest: Option<PathBuf>,
    written: std::collections::BTreeSet<String>,
}

/// Where the tar bytes go.
enum Sink {
    File(File),
    Pipe(std::process::ChildStdin),
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Sink::File(f) => f.write(buf),
            Sink::Pipe(p) => p.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Sink::File(f) => f.flush(),
            Sink::Pipe(p) => p.flush(),
        }
    }
}

fn header(path: &str, size: u64, kind: tar::EntryType, mode: u32) -> tar::Header {
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(kind);
    h.set_size(size);
    h.set_mode(mode);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    // Paths here are short ASCII names; the builder falls back to GNU long
    // names if one is not.
    let _ = h.set_path(path);
    h.set_cksum();
    h
}

impl ArchiveWriter {
    pub fn create(dest: &Path) -> Result<ArchiveWriter, ExportError> {
        let name = dest
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let temp = dest.with_file_name(format!(".{name}.rbuild-{}.tmp", std::process::id()));
        let file = File::create(&temp).map_err(io_at(&temp))?;
        Ok(ArchiveWriter {
            builder: Some(tar::Builder::new(BufWriter::with_capacity(
                1 << 20,
                Sink::File(file),
            ))),
            temp,
            dest: Some(dest.to_path_buf()),
            written: Default::default(),
        })
    }

    /// Streams the archive into a child process's standard input; `label`
    /// names it in errors.
    pub fn pipe(stdin: std::process::ChildStdin, label: &str) -> ArchiveWriter {
        ArchiveWriter {
            builder: Some(tar::Builder::new(BufWriter::with_capacity(
                1 << 20,
                Sink::Pipe(stdin),
            ))),
            temp: PathBuf::from(label),
            dest: None,
            written: Default::default(),
        }
    }

    fn builder(&mut self) -> &mut tar::Builder<BufWriter<Sink>> {
        self.builder.as_mut().expect("archive not finished")
    }

    pub fn dir(&mut self, path: &str) -> Result<(), ExportError> {
        if !self.written.insert(path.to_string()) {
            return Ok(());
        }
        let mut h = header(path, 0, tar::EntryType::Directory, 0o755);
        let temp = self.temp.clone();
        self.builder()
            .append_data(&mut h, path, std::io::empty())
            .map_err(io_at(temp))
    }

    pub fn file(&mut self, path: &str, data: &[u8]) -> Result<(), ExportError> {
        self.written.insert(path.to_string());
        let mut h = header(path, data.len() as u64, tar::EntryType::Regular, 0o644);
        let temp = self.temp.clone();
        self.builder()
            .append_data(&mut h, path, data)
            .map_err(io_at(temp))
    }

    /// Adds `blobs/sha256/<hex>` from the store (once).
    pub fn blob(&mut self, store: &Store, digest: &Digest) -> Result<(), ExportError> {
        let path = format!("blobs/{}/{}", digest.algorithm(), digest.hex());
        if self.written.contains(&path) {
            return Ok(());
        }
        self.dir("blobs/")?;
        self.dir(&format!("blobs/{}/", digest.algorithm()))?;
        self.written.insert(path.clone());
        let (file, size) = blob_file(store, digest)?;
        let mut h = header(&path, size, tar::EntryType::Regular, 0o644);
        let reader: Box<dyn Read> = Box::new(file);
        self.builder()
            .append_data(&mut h, &path, reader)
            .map_err(io_at(store.blob_path(digest)))
    }

    /// Finishes the tar; a file is synced and renamed to the destination,
    /// a pipe closed.
    pub fn finish(mut self) -> Result<(), ExportError> {
        let temp = self.temp.clone();
        let builder = self.builder.take().expect("archive not finished");
        let mut out = builder.into_inner().map_err(io_at(&temp))?;
        out.flush().map_err(io_at(&temp))?;
        let sink = out.into_inner().map_err(|e| ExportError::Io {
            path: temp.clone(),
            source: e.into_error(),
        })?;
        let (Sink::File(file), Some(dest)) = (sink, &self.dest) else {
            return Ok(());
        };
        file.sync_all().map_err(io_at(&temp))?;
        std::fs::rename(&temp, dest).map_err(io_at(dest))
    }
}

impl Drop for ArchiveWriter {
    fn drop(&mut self) {
        // After `finish` the temp name no longer exists; otherwise clean up.
        if self.dest.is_some() {
            let _ = std::fs::remove_file(&self.temp);
        }
    }
}
