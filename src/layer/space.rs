//! The free-space budget of an unpacked stream.

use std::io::Read;
use std::path::Path;

/// A decompressed layer may not expand past the free space of the
/// filesystem it is unpacked on (less a reserve of 5% of that filesystem,
/// at most 1 GiB): a small compressed blob that expands to terabytes (a
/// "gzip bomb") is refused by name before it fills the disk, instead of
/// failing with ENOSPC once everything else on the machine has too.
pub struct SpaceBudget<R> {
    inner: R,
    left: u64,
    budget: u64,
    what: String,
}

impl<R> SpaceBudget<R> {
    /// `what` names the stream in the error (`layer sha256:...`).
    pub fn new(inner: R, dest: &Path, what: String) -> Self {
        let budget = rustix::fs::statvfs(dest).map_or(u64::MAX, |vfs| {
            let unit = vfs.f_frsize.max(1);
            let total = vfs.f_blocks.saturating_mul(unit);
            let reserve = (total / 20).min(1 << 30);
            vfs.f_bavail.saturating_mul(unit).saturating_sub(reserve)
        });
        SpaceBudget {
            inner,
            left: budget,
            budget,
            what,
        }
    }
}

impl<R: Read> Read for SpaceBudget<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.left = self.left.checked_sub(n as u64).ok_or_else(|| {
            std::io::Error::other(format!(
                "{} expands past the {} bytes this filesystem can spare; \
                 refused before it fills the disk",
                self.what, self.budget
            ))
        })?;
        Ok(n)
    }
}
