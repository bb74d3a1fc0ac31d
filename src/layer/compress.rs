//! Blob compression with digests taken in the same pass:
//! tar writer → hash (diff_id) → compressor → hash (blob digest) → out.
//!
//! Gzip is compressed in parallel by gzp on every core and zstd with libzstd's
//! worker threads. Both are deterministic: gzp cuts blocks at fixed sizes whatever
//! the thread count and writes no name or timestamp in the gzip header, and libzstd
//! produces the same frames for any number of workers >= 1.

use std::fmt;
use std::io::{self, Read, Write};
use std::sync::mpsc::{channel, Receiver, Sender};

use gzp::deflate::Gzip;
use gzp::par::compress::{ParCompress, ParCompressBuilder};
use gzp::ZWriter;

use super::hash::HashingWriter;
use super::write::{write_tar, WriteOptions};
use super::{BlobDigest, LayerDigest, LayerEntry, LayerError, Result};

/// gzip level (flate2's default, as Docker and BuildKit use).
const GZIP_LEVEL: u32 = 6;
/// zstd level (libzstd's default, as BuildKit uses).
const ZSTD_LEVEL: i32 = 3;

/// Layer blob compression.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Compression {
    /// A plain tar.
    None,
    /// gzip (`application/vnd.oci.image.layer.v1.tar+gzip`).
    #[default]
    Gzip,
    /// zstd (`application/vnd.oci.image.layer.v1.tar+zstd`).
    Zstd,
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Compression::None => "uncompressed",
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
        })
    }
}

/// Recognises gzip and zstd (including skippable frames) by their magic bytes;
/// anything else is taken as uncompressed.
pub fn detect_compression(first_bytes: &[u8]) -> Compression {
    match first_bytes {
        [0x1f, 0x8b, ..] => Compression::Gzip,
        [0x28, 0xb5, 0x2f, 0xfd, ..] => Compression::Zstd,
        [b0, 0x2a, 0x4d, 0x18, ..] if b0 & 0xf0 == 0x50 => Compression::Zstd,
        _ => Compression::None,
    }
}

/// Wraps `reader` so that reading yields the uncompressed bytes. Concatenated
/// gzip members are read as one stream.
pub fn decompressor<'a, R: Read + 'a>(
    reader: R,
    compression: Compression,
) -> Result<Box<dyn Read + 'a>> {
    Ok(match compression {
        Compression::None => Box::new(reader),
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(reader)),
        Compression::Zstd => {
            Box::new(zstd::stream::read::Decoder::new(reader).map_err(|source| {
                LayerError::Stream {
                    action: "starting to decompress the",
                    compression,
                    source,
                }
            })?)
        }
    })
}

/// Compresses `uncompressed` into `out` and returns the digest and size of the
/// bytes written to `out`, hashed as they are written.
pub fn compress_blob<R: Read, W: Write>(
    mut uncompressed: R,
    compression: Compression,
    out: W,
) -> Result<BlobDigest> {
    let stream_err = |source| LayerError::Stream {
        action: "compressing the",
        compression,
        source,
    };
    let mut encoder =
        Encoder::new(compression, HashingWriter::new(out), threads()).map_err(stream_err)?;
    io::copy(&mut uncompressed, &mut encoder).map_err(stream_err)?;
    let (digest, size, _) = encoder.finish().map_err(stream_err)?.finish();
    Ok(BlobDigest { digest, size })
}

/// Writes the layer tar of `entries` compressed into `out` in one streaming pass
/// and returns both the tar's diff_id and the blob's digest.
pub fn write_layer_compressed<W: Write>(
    entries: &[LayerEntry],
    compression: Compression,
    out: W,
    opts: &WriteOptions,
) -> Result<(LayerDigest, BlobDigest)> {
    let stream_err = |source| LayerError::Stream {
        action: "compressing the",
        compression,
        source,
    };
    let encoder =
        Encoder::new(compression, HashingWriter::new(out), threads()).map_err(stream_err)?;
    let tar_hash = write_tar(entries, HashingWriter::new(encoder), opts)?;
    let (diff_id, tar_size, encoder) = tar_hash.finish();
    let (digest, size, _) = encoder.finish().map_err(stream_err)?.finish();
    Ok((
        LayerDigest {
            diff_id,
            size: tar_size,
        },
        BlobDigest { digest, size },
    ))
}

fn threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// A compressing writer over `W`.
pub(crate) enum Encoder<W: Write> {
    Plain(W),
    Gzip(ParallelGzip<W>),
    Zstd(zstd::stream::write::Encoder<'static, W>),
}

impl<W: Write> Encoder<W> {
    pub(crate) fn new(compression: Compression, out: W, threads: usize) -> io::Result<Self> {
        Ok(match compression {
            Compression::None => Encoder::Plain(out),
            Compression::Gzip => Encoder::Gzip(ParallelGzip::new(out, threads)?),
            Compression::Zstd => {
                let mut enc = zstd::stream::write::Encoder::new(out, ZSTD_LEVEL)?;
                enc.include_checksum(true)?;
                enc.multithread(threads.max(1) as u32)?;
                Encoder::Zstd(enc)
            }
        })
    }

    /// Writes the trailer and returns the inner writer.
    pub(crate) fn finish(self) -> io::Result<W> {
        match self {
            Encoder::Plain(w) => Ok(w),
            Encoder::Gzip(gz) => gz.finish(),
            Encoder::Zstd(enc) => enc.finish(),
        }
    }
}

impl<W: Write> Write for Encoder<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Encoder::Plain(w) => w.write(buf),
            Encoder::Gzip(gz) => gz.write(buf),
            Encoder::Zstd(enc) => enc.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Encoder::Plain(w) => w.flush(),
            Encoder::Gzip(gz) => gz.flush(),
            Encoder::Zstd(enc) => enc.flush(),
        }
    }
}

/// gzp's parallel gzip needs a `Send + 'static` writer, which `out` need not be.
/// Its writer thread therefore sends compressed blocks through a channel, and the
/// caller's thread moves them into `out` after every write and at the end.
pub(crate) struct ParallelGzip<W: Write> {
    inner: ParCompress<'static, Gzip, ChannelSink>,
    blocks: Receiver<Vec<u8>>,
    out: W,
}

impl<W: Write> ParallelGzip<W> {
    fn new(out: W, threads: usize) -> io::Result<Self> {
        let (tx, blocks) = channel();
        let inner = ParCompressBuilder::<Gzip>::new()
            .num_threads(threads.max(1))
            .map_err(io::Error::other)?
            .compression_level(gzp::Compression::new(GZIP_LEVEL))
            .from_writer(ChannelSink(tx));
        Ok(ParallelGzip { inner, blocks, out })
    }

    fn drain(&mut self) -> io::Result<()> {
        while let Ok(block) = self.blocks.try_recv() {
            self.out.write_all(&block)?;
        }
        Ok(())
    }

    fn finish(self) -> io::Result<W> {
        let ParallelGzip {
            mut inner,
            blocks,
            mut out,
        } = self;
        // Joins gzp's threads; the returned sink is dropped, closing the channel.
        drop(inner.finish().map_err(io::Error::other)?);
        for block in blocks {
            out.write_all(&block)?;
        }
        Ok(out)
    }
}

impl<W: Write> Write for ParallelGzip<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.drain()?;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.drain()?;
        self.out.flush()
    }
}

/// The `Send + 'static` end gzp writes into. It never fails: gzp unwraps its
/// result when dropped unfinished (after an error elsewhere), and a panic there
/// would hide that error.
pub(crate) struct ChannelSink(Sender<Vec<u8>>);

impl Write for ChannelSink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let _ = self.0.send(buf.to_vec());
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<u8> {
        (0..3_000_000u32)
            .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8 % 17)
            .collect()
    }

    fn compress_with(compression: Compression, threads: usize, data: &[u8]) -> Vec<u8> {
        let mut enc = Encoder::new(compression, Vec::new(), threads).unwrap();
        for chunk in data.chunks(7919 * threads) {
            enc.write_all(chunk).unwrap();
        }
        enc.finish().unwrap()
    }

    #[test]
    fn output_does_not_depend_on_thread_count_or_write_sizes() {
        let data = sample();
        for compression in [Compression::Gzip, Compression::Zstd] {
            let one = compress_with(compression, 1, &data);
            let three = compress_with(compression, 3, &data);
            assert_eq!(one, three, "{compression} output differs with threads");
            let mut back = Vec::new();
            decompressor(&one[..], compression)
                .unwrap()
                .read_to_end(&mut back)
                .unwrap();
            assert_eq!(back, data);
        }
    }

    #[test]
    fn gzip_header_has_no_timestamp_or_name() {
        let gz = compress_with(Compression::Gzip, 2, b"hello");
        assert_eq!(&gz[..4], &[0x1f, 0x8b, 8, 0], "no FNAME/FCOMMENT flags");
        assert_eq!(&gz[4..8], &[0, 0, 0, 0], "MTIME is zero");
    }

    #[test]
    fn detects_magic() {
        assert_eq!(detect_compression(&[0x1f, 0x8b, 8]), Compression::Gzip);
        assert_eq!(
            detect_compression(&[0x28, 0xb5, 0x2f, 0xfd]),
            Compression::Zstd
        );
        assert_eq!(
            detect_compression(&[0x5a, 0x2a, 0x4d, 0x18]),
            Compression::Zstd
        );
        assert_eq!(detect_compression(b"etc/"), Compression::None);
        assert_eq!(detect_compression(&[]), Compression::None);
    }
}
