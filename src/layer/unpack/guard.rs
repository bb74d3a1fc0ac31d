//! A guard on the tar stream before the tar parser sees it: the parser reads
//! a PAX or GNU long-name extension header's whole content into memory, as
//! large as the header claims, so a crafted layer (or a small gzip of one)
//! could make it allocate gigabytes. The guard looks at every 512-byte block
//! boundary and refuses an extension header over [`MAX_EXTENSION`] bytes.
//!
//! File data passes the same boundaries, so a file holding an uncompressed
//! tar with an extension header over the limit is refused too; no tool
//! writes such headers (a long path or a few xattrs take kilobytes).

use std::io::{self, Read};

/// The largest PAX (`x`, `g`) or GNU long-name (`L`, `K`) header content
/// accepted.
pub const MAX_EXTENSION: u64 = 16 << 20;

pub struct HeaderGuard<R> {
    inner: R,
    block: [u8; 512],
    /// Bytes of the current block seen so far.
    filled: usize,
}

impl<R> HeaderGuard<R> {
    pub fn new(inner: R) -> Self {
        HeaderGuard {
            inner,
            block: [0; 512],
            filled: 0,
        }
    }

    pub fn into_inner(self) -> R {
        self.inner
    }
}

/// A tar header's octal (or base-256) number field.
fn number(field: &[u8]) -> Option<u64> {
    if field.first().is_some_and(|b| b & 0x80 != 0) {
        // GNU base-256: big-endian, first byte's top bit set.
        return field[1..]
            .iter()
            .try_fold(u64::from(field[0] & 0x7f), |n, b| {
                n.checked_mul(256)?.checked_add(u64::from(*b))
            });
    }
    let text = std::str::from_utf8(field).ok()?;
    let digits = text.trim_matches(|c: char| c == '\0' || c == ' ');
    u64::from_str_radix(digits, 8).ok()
}

/// The oversized extension header this block is, if it is one.
fn oversized_extension(block: &[u8; 512]) -> Option<(char, u64)> {
    let kind = block[156];
    if !matches!(kind, b'x' | b'g' | b'L' | b'K') {
        return None;
    }
    let size = number(&block[124..136])?;
    if size <= MAX_EXTENSION {
        return None;
    }
    // Only a real header (its checksum matches) counts.
    let stored = number(&block[148..156])?;
    let sum: u64 = block
        .iter()
        .enumerate()
        .map(|(i, b)| {
            if (148..156).contains(&i) {
                32
            } else {
                u64::from(*b)
            }
        })
        .sum();
    (sum == stored).then_some((char::from(kind), size))
}

impl<R: Read> Read for HeaderGuard<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let mut rest = &buf[..n];
        while !rest.is_empty() {
            let take = (512 - self.filled).min(rest.len());
            self.block[self.filled..self.filled + take].copy_from_slice(&rest[..take]);
            self.filled += take;
            rest = &rest[take..];
            if self.filled == 512 {
                self.filled = 0;
                if let Some((kind, size)) = oversized_extension(&self.block) {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!(
                            "a tar extension header (type {kind:?}) of {size} bytes, over the \
                             {MAX_EXTENSION}-byte limit"
                        ),
                    ));
                }
            }
        }
        Ok(n)
    }
}
