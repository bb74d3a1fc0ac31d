//! Reusing the unchanged files of an earlier snapshot.
//!
//! When one context file of a COPY is edited, the new layer's snapshot holds
//! thousands of files identical to those of the step's previous snapshot.
//! Creating and writing them again is most of the cost of the rebuild (file
//! creation and writeback, not the bytes), so a member whose path in the donor
//! snapshot is a regular file with the same owner, mode, mtime, size, no
//! extended attributes and the same bytes is hard-linked from it instead.
//!
//! That is safe because snapshots in the store are never written after they
//! are committed: they are read-only overlay lower directories (a RUN that
//! changes such a file gets its own copy in its upper directory). The bytes
//! are compared, not trusted from a record, and the tar stream is still read
//! to its end, so the layer and its digest are unchanged. An inode is linked
//! at most once per snapshot, so files that are separate in the layer stay
//! separate on disk. (A RUN on top sees such a file's link count above 1,
//! which no layer records.)

use std::collections::HashSet;
use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::fs::FileExt;
use std::path::Path;

use rustix::fs::{fstat, linkat, openat, statat, AtFlags, FileType, Mode, OFlags};

use super::item::Item;
use super::root::Root;
use crate::layer::entry::split;
use crate::layer::error::io_at;
use crate::layer::{LayerError, Result};

/// Chunk compared at a time; the unpacker's memory stays bounded.
const CHUNK: usize = 128 * 1024;

/// An earlier snapshot to take identical files from.
pub(super) struct Donor {
    root: Root,
    /// (device, inode) of the donor files linked so far.
    linked: HashSet<(u64, u64)>,
    /// The member's bytes and the candidate's, a chunk at a time.
    mine: Vec<u8>,
    theirs: Vec<u8>,
    /// A link from the donor was refused (another file system, say).
    refused: bool,
}

/// A donor file with the member's metadata.
pub(super) struct Candidate {
    file: File,
    id: (u64, u64),
    size: u64,
}

/// How a member's data compared with its candidate.
enum Compared {
    /// Every byte the same: the candidate can be linked.
    Same(Candidate),
    /// Differs after the first `len` bytes, see [`Prefix`].
    Differs(Prefix),
}

/// What of a member's data was read while comparing it: its first `len`
/// bytes are the candidate's, then came `pending`.
pub(super) struct Prefix {
    candidate: Candidate,
    len: u64,
    pending: Vec<u8>,
}

/// What the donor did for a member.
pub(super) enum Reuse {
    /// The member is in place, linked from the donor.
    Linked,
    /// The member must be written, starting with what was read of it.
    Write(Option<Prefix>),
}

impl Donor {
    /// The snapshot at `dir`, if it can be opened.
    pub(super) fn open(dir: &Path) -> Option<Donor> {
        Some(Donor {
            root: Root::open(dir).ok()?,
            linked: HashSet::new(),
            mine: vec![0; CHUNK],
            theirs: vec![0; CHUNK],
            refused: false,
        })
    }

    /// Links the regular-file member `item` at `parent/name` from the donor
    /// when the donor has it identical; otherwise says what to write. Reads
    /// the member's data only as far as it matches.
    pub(super) fn reuse(
        &mut self,
        item: &Item,
        data: &mut dyn Read,
        parent: BorrowedFd<'_>,
        name: &OsStr,
    ) -> Result<Reuse> {
        let Some(candidate) = self.candidate(item) else {
            return Ok(Reuse::Write(None));
        };
        match self.compare(candidate, data, &item.path)? {
            Compared::Same(candidate) if self.link(&candidate, parent, name) => Ok(Reuse::Linked),
            Compared::Same(candidate) => Ok(Reuse::Write(Some(Prefix {
                len: candidate.size,
                candidate,
                pending: Vec::new(),
            }))),
            Compared::Differs(prefix) => Ok(Reuse::Write(Some(prefix))),
        }
    }

    /// The donor's file at the member's path when its metadata equals the
    /// member's (never following a symlink in the donor).
    fn candidate(&mut self, item: &Item) -> Option<Candidate> {
        let size = item.size;
        if self.refused || !item.xattrs.is_empty() {
            return None;
        }
        let (parent_rel, name) = split(&item.path);
        let parent = self.root.dir(parent_rel, &item.path, None).ok()??;
        // Looked at before it is opened: opening a fifo or a device could
        // block or act on hardware.
        let st = statat(&*parent, name, AtFlags::SYMLINK_NOFOLLOW).ok()?;
        let id = (st.st_dev, st.st_ino);
        let same = FileType::from_raw_mode(st.st_mode) == FileType::RegularFile
            && st.st_mode & 0o7777 == item.mode
            && st.st_uid == item.uid
            && st.st_gid == item.gid
            && (st.st_mtime, st.st_mtime_nsec as u32) == item.mtime
            && u64::try_from(st.st_size).ok() == Some(size)
            && !self.linked.contains(&id);
        if !same {
            return None;
        }
        // Reading for the comparison leaves the shared inode's atime alone
        // (O_NOATIME needs the owner or CAP_FOWNER, hence the retry).
        let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
        let fd = openat(&*parent, name, flags | OFlags::NOATIME, Mode::empty())
            .or_else(|_| openat(&*parent, name, flags, Mode::empty()))
            .ok()?;
        let opened = fstat(&fd).ok()?;
        let still = (opened.st_dev, opened.st_ino) == id
            && rustix::fs::flistxattr(&fd, &mut [0u8; 1]).ok() == Some(0);
        still.then(|| Candidate {
            file: File::from(fd),
            id,
            size,
        })
    }

    /// Reads the member's data and compares it with `candidate`, chunk by chunk,
    /// stopping at the first difference.
    fn compare(
        &mut self,
        candidate: Candidate,
        data: &mut dyn Read,
        path: &Path,
    ) -> Result<Compared> {
        let (mine, theirs) = (&mut self.mine, &mut self.theirs);
        let mut matched = 0u64;
        loop {
            let n = fill(data, mine, path)?;
            if n == 0 {
                // The member ended: the candidate must end here too.
                if matched == candidate.size {
                    return Ok(Compared::Same(candidate));
                }
                return Ok(Compared::Differs(Prefix {
                    candidate,
                    len: matched,
                    pending: Vec::new(),
                }));
            }
            let theirs_n = read_full_at(&candidate.file, &mut theirs[..n], matched).unwrap_or(0);
            if theirs_n != n || mine[..n] != theirs[..n] {
                return Ok(Compared::Differs(Prefix {
                    candidate,
                    len: matched,
                    pending: mine[..n].to_vec(),
                }));
            }
            matched += n as u64;
        }
    }

    /// Links `candidate` at `parent/name`; false when the kernel refuses (then
    /// the caller writes the file, and the donor is not asked again: the
    /// next link would be refused too, after another read).
    fn link(&mut self, candidate: &Candidate, parent: BorrowedFd<'_>, name: &OsStr) -> bool {
        let fd = candidate.file.as_fd();
        let linked = linkat(fd, "", parent, name, AtFlags::EMPTY_PATH).is_ok()
            || linkat(
                rustix::fs::CWD,
                format!(
                    "/proc/self/fd/{}",
                    std::os::fd::AsRawFd::as_raw_fd(&candidate.file)
                ),
                parent,
                name,
                AtFlags::SYMLINK_FOLLOW,
            )
            .is_ok();
        if linked {
            self.linked.insert(candidate.id);
        } else {
            self.refused = true;
        }
        linked
    }
}

impl Prefix {
    /// Writes the prefix to `out`: the candidate's first bytes, then the
    /// pending ones. Returns the bytes written.
    pub(super) fn write_to(&self, out: &mut File, path: &Path) -> Result<u64> {
        // The candidate was only read with pread: its offset is still 0.
        let mut head = (&self.candidate.file).take(self.len);
        let copied = io::copy(&mut head, out)
            .map_err(io_at("copying the earlier snapshot's copy of", path))?;
        if copied != self.len {
            let short = io::Error::new(io::ErrorKind::UnexpectedEof, "the file shrank");
            return Err(io_at("reading the earlier snapshot's copy of", path)(short));
        }
        out.write_all(&self.pending)
            .map_err(io_at("writing", path))?;
        Ok(copied + self.pending.len() as u64)
    }
}

/// Reads until `buf` is full or the member ends.
fn fill(data: &mut dyn Read, buf: &mut [u8], path: &Path) -> Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match data.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(source) => {
                return Err(LayerError::ReadArchive {
                    after: path.to_path_buf(),
                    source,
                })
            }
        }
    }
    Ok(n)
}

/// Reads at `offset` until `buf` is full or the file ends.
fn read_full_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match file.read_at(&mut buf[n..], offset + n as u64) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}
