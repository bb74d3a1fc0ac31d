//! The deterministic tar writer. All normalisation happens here, in one place, like
//! umoci's `oci/layer/tar_generate.go`: entries sorted by their name in the tar
//! (parents before children), numeric owners with empty uname/gname, PAX records
//! for whatever does not fit ustar, mtimes clamped to `SOURCE_DATE_EPOCH`, no
//! atime/ctime, and `..` or absolute paths rejected.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use tar::EntryType;

use super::entry::{check_not_reserved, normalize_entry, normalize_link_target, tar_path};
use super::error::io_at;
use super::hash::HashingWriter;
use super::pax::{encode_header, padding, HeaderSpec};
use super::{EntryKind, FileSource, LayerDigest, LayerEntry, LayerError, Result};

/// How layers are written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteOptions {
    /// When set, later mtimes are clamped to this value (reproducible builds).
    pub source_date_epoch: Option<i64>,
}

/// Writes `entries` as a normalised tar to `out` and returns its diff_id and size,
/// hashed while writing. The input order does not matter.
pub fn write_layer<W: Write>(
    entries: &[LayerEntry],
    out: W,
    opts: &WriteOptions,
) -> Result<LayerDigest> {
    let hashing = write_tar(entries, HashingWriter::new(out), opts)?;
    let (diff_id, size, _) = hashing.finish();
    Ok(LayerDigest { diff_id, size })
}

/// Writes the tar into `out` and returns `out` once everything is flushed into it.
pub(crate) fn write_tar<W: Write>(
    entries: &[LayerEntry],
    out: W,
    opts: &WriteOptions,
) -> Result<W> {
    let planned = plan(entries)?;
    let mut w = BufWriter::with_capacity(256 * 1024, out);
    for p in &planned {
        write_entry(&mut w, p, opts)?;
    }
    let last = planned
        .last()
        .map_or_else(PathBuf::new, |p| p.tar_path.clone());
    w.write_all(&[0u8; 1024])
        .map_err(io_at("writing the end-of-archive after", &last))?;
    w.into_inner()
        .map_err(|e| io_at("flushing the tar after", &last)(e.into_error()))
}

/// An entry with its normalised paths.
struct Planned<'a> {
    /// Name in the tar, used as the sort key.
    tar_path: PathBuf,
    /// Normalised entry path.
    path: PathBuf,
    /// Normalised hard-link target.
    link: Option<PathBuf>,
    entry: &'a LayerEntry,
}

/// Validates and sorts the entries; rejects duplicates and misordered hard links.
fn plan(entries: &[LayerEntry]) -> Result<Vec<Planned<'_>>> {
    let mut planned = entries.iter().map(plan_one).collect::<Result<Vec<_>>>()?;
    // `Path` orders component by component, so a directory comes right before
    // its own subtree: `a`, `a/x`, `a b`.
    planned.sort_by(|a, b| a.tar_path.cmp(&b.tar_path));
    if let Some(dup) = planned.windows(2).find(|w| w[0].tar_path == w[1].tar_path) {
        return Err(LayerError::DuplicateEntry {
            path: dup[0].tar_path.clone(),
        });
    }
    check_hard_links(&planned)?;
    Ok(planned)
}

fn plan_one(entry: &LayerEntry) -> Result<Planned<'_>> {
    let path = normalize_entry(&entry.path)?;
    check_not_reserved(&path)?;
    let link = match &entry.kind {
        EntryKind::HardLink { target } => Some(normalize_link_target(&path, target)?),
        EntryKind::Symlink { target } if target.as_os_str().as_bytes().contains(&0) => {
            return Err(LayerError::InvalidPath {
                path,
                reason: "symlink target contains a NUL byte".into(),
            })
        }
        _ => None,
    };
    Ok(Planned {
        tar_path: tar_path(&path, &entry.kind),
        path,
        link,
        entry,
    })
}

/// A hard link must come after its target when the target is in this layer,
/// otherwise an unpacker cannot create it. Targets from lower layers are allowed.
fn check_hard_links(planned: &[Planned<'_>]) -> Result<()> {
    let index: HashMap<&Path, usize> = planned
        .iter()
        .enumerate()
        .filter(|(_, p)| !matches!(p.entry.kind, EntryKind::Whiteout | EntryKind::OpaqueDir))
        .map(|(i, p)| (p.path.as_path(), i))
        .collect();
    for (i, p) in planned.iter().enumerate() {
        let Some(target) = &p.link else { continue };
        let problem = match index.get(target.as_path()) {
            _ if target == &p.path => Some("is the link itself"),
            Some(&j) if matches!(planned[j].entry.kind, EntryKind::Dir) => Some("is a directory"),
            Some(&j) if j > i => Some("sorts after the link, so it cannot be created first"),
            _ => None,
        };
        if let Some(problem) = problem {
            return Err(LayerError::InvalidPath {
                path: p.path.clone(),
                reason: format!("hard link target {} {problem}", target.display()),
            });
        }
    }
    Ok(())
}

fn write_entry<W: Write>(w: &mut W, p: &Planned<'_>, opts: &WriteOptions) -> Result<()> {
    let e = p.entry;
    let mut name = p.tar_path.as_os_str().as_bytes().to_vec();
    let no_device = (0, 0);
    let (entry_type, size, link, device) = match &e.kind {
        EntryKind::File { size, .. } => (EntryType::Regular, *size, None, no_device),
        EntryKind::Dir => {
            name.push(b'/');
            (EntryType::Directory, 0, None, no_device)
        }
        EntryKind::Symlink { target } => (EntryType::Symlink, 0, Some(target), no_device),
        EntryKind::HardLink { .. } => (EntryType::Link, 0, p.link.as_ref(), no_device),
        EntryKind::CharDevice { major, minor } => (EntryType::Char, 0, None, (*major, *minor)),
        EntryKind::BlockDevice { major, minor } => (EntryType::Block, 0, None, (*major, *minor)),
        EntryKind::Fifo => (EntryType::Fifo, 0, None, no_device),
        EntryKind::Whiteout | EntryKind::OpaqueDir => (EntryType::Regular, 0, None, no_device),
    };
    let xattrs: &[(String, Vec<u8>)] = match e.kind {
        EntryKind::Whiteout | EntryKind::OpaqueDir => &[],
        _ => &e.xattrs,
    };
    let spec = HeaderSpec {
        name: &name,
        entry_type,
        mode: e.mode,
        uid: e.uid,
        gid: e.gid,
        mtime: opts
            .source_date_epoch
            .map_or(e.mtime, |max| e.mtime.min(max)),
        size,
        link: link.map(|l| l.as_os_str().as_bytes()),
        device,
        xattrs,
    };
    let header = encode_header(&spec, &p.path)?;
    w.write_all(&header)
        .map_err(io_at("writing the tar header of", &p.path))?;
    if let EntryKind::File { source, size } = &e.kind {
        write_content(w, source, *size, &p.path)?;
    }
    Ok(())
}

/// Writes exactly `size` bytes of content plus block padding.
fn write_content<W: Write>(w: &mut W, source: &FileSource, size: u64, path: &Path) -> Result<()> {
    match source {
        FileSource::Bytes(bytes) => {
            if bytes.len() as u64 != size {
                return Err(LayerError::SizeMismatch {
                    path: path.to_path_buf(),
                    expected: size,
                    actual: bytes.len() as u64,
                });
            }
            w.write_all(bytes)
                .map_err(io_at("writing the tar data of", path))?;
        }
        FileSource::Path(host) => copy_file(w, host, size, path)?,
    }
    w.write_all(&vec![0u8; padding(size)])
        .map_err(io_at("writing the tar data of", path))
}

/// Copies `size` bytes of the host file `host` and fails if it has another size.
fn copy_file<W: Write>(w: &mut W, host: &Path, size: u64, path: &Path) -> Result<()> {
    let mut file = File::open(host).map_err(io_at("opening", host))?;
    let mut buf = vec![0u8; 128 * 1024];
    let mut copied = 0u64;
    loop {
        let want = (size - copied).min(buf.len() as u64) as usize;
        // One extra byte once `size` is reached detects a file that grew.
        let want = want.max(usize::from(copied == size));
        let n = read_some(&mut file, &mut buf[..want], host)?;
        if n == 0 || copied == size {
            let actual = if n == 0 {
                copied
            } else {
                file.metadata().map_or(copied + 1, |m| m.len())
            };
            if actual != size {
                return Err(LayerError::SizeMismatch {
                    path: host.to_path_buf(),
                    expected: size,
                    actual,
                });
            }
            return Ok(());
        }
        w.write_all(&buf[..n])
            .map_err(io_at("writing the tar data of", path))?;
        copied += n as u64;
    }
}

fn read_some(file: &mut File, buf: &mut [u8], host: &Path) -> Result<usize> {
    loop {
        match file.read(buf) {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            other => return other.map_err(io_at("reading", host)),
        }
    }
}
