//! A layer's snapshot made in the same pass as its tar: the bytes the layer
//! writer produces go to the store blob and, through a pipe, to the safe
//! unpacker on a second thread, so the tar is written once and never read
//! back, and the unpacking overlaps the writing. Used for a COPY that a RUN
//! stands on next (its snapshot is needed at once).

use super::SnapshotError;
use crate::layer::{unpack_layer, UnpackOptions, WhiteoutMode};
use crate::store::Store;
use std::io::{BufReader, Write};
use std::path::{Path, PathBuf};
use std::thread::ScopedJoinHandle;

/// Bytes gathered before they go down the pipe: the tar writer's small
/// writes (a 512-byte header, then the data) would otherwise wake the
/// unpacker for each piece.
const PIPE_BATCH: usize = 1 << 20;

/// A writer that copies everything to `blob` and, while the unpacker keeps
/// reading, to `pipe`.
pub struct Tee<'a, W: Write> {
    blob: &'a mut W,
    pipe: Option<std::io::PipeWriter>,
    batch: Vec<u8>,
}

impl<W: Write> Tee<'_, W> {
    fn send_batch(&mut self) {
        if let Some(pipe) = &mut self.pipe {
            // An unpacker that stopped only costs the eager snapshot.
            if pipe.write_all(&self.batch).is_err() {
                self.pipe = None;
            }
        }
        self.batch.clear();
    }
}

impl<W: Write> Write for Tee<'_, W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.blob.write(buf)?;
        if self.pipe.is_some() {
            self.batch.extend_from_slice(&buf[..n]);
            if self.batch.len() >= PIPE_BATCH {
                self.send_batch();
            }
        }
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.blob.flush()
    }
}

/// Where the snapshot is being unpacked.
pub struct EagerSnapshot {
    dir: PathBuf,
    _temp: crate::store::TempDir,
}

impl EagerSnapshot {
    /// Runs `write` with a writer that tees into `blob` and the unpacker;
    /// returns `write`'s result and the unpacked snapshot (when it worked).
    /// Files identical to those of the snapshot `donor` are linked from it.
    pub fn write_with<W: Write, T>(
        store: &Store,
        blob: &mut W,
        donor: Option<&Path>,
        write: impl FnOnce(&mut Tee<'_, W>) -> T,
    ) -> Result<(T, Option<EagerSnapshot>), SnapshotError> {
        let temp = store.temp_dir()?;
        let dir = temp.path().join("rootfs");
        std::fs::create_dir(&dir).map_err(SnapshotError::io(&dir))?;
        let (reader, writer) = std::io::pipe().map_err(SnapshotError::io(&dir))?;
        let (result, unpacked) = std::thread::scope(|scope| {
            let unpacker: ScopedJoinHandle<'_, bool> = scope.spawn(|| {
                let stream = BufReader::with_capacity(1 << 20, reader);
                let opts = UnpackOptions {
                    whiteouts: WhiteoutMode::Overlay,
                    donor: donor.map(Path::to_path_buf),
                };
                unpack_into(stream, &dir, &opts)
            });
            let _ = rustix::pipe::fcntl_setpipe_size(&writer, PIPE_BATCH);
            let mut tee = Tee {
                blob,
                pipe: Some(writer),
                batch: Vec::with_capacity(PIPE_BATCH),
            };
            let result = write(&mut tee);
            tee.send_batch();
            drop(tee); // end of the stream for the unpacker
            (result, unpacker.join().unwrap_or(false))
        });
        let snapshot = unpacked.then_some(EagerSnapshot { dir, _temp: temp });
        Ok((result, snapshot))
    }

    /// Keeps it as the snapshot of layer `diff_id` (one made meanwhile by
    /// another build wins; this one is then dropped with its temp dir).
    pub fn commit(self, store: &Store, diff_id: &str) {
        let _ = store.commit_snapshot(&self.dir, diff_id);
    }
}

/// Unpacks the whole stream (the tar's trailing padding included, so the
/// writer never blocks on a full pipe); false on any error.
fn unpack_into(mut stream: impl std::io::Read, dir: &Path, opts: &UnpackOptions) -> bool {
    let ok = unpack_layer(&mut stream, dir, opts).is_ok();
    let drained = std::io::copy(&mut stream, &mut std::io::sink()).is_ok();
    ok && drained
}
