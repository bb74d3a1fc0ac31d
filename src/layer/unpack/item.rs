//! Reading one tar member into a validated, normalised [`Item`].

use std::ffi::OsStr;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use tar::EntryType;

use crate::layer::entry::normalize;
use crate::layer::{LayerError, Result, OPAQUE_MARKER, RESERVED_PREFIX, WHITEOUT_PREFIX};

/// What a member asks the unpacker to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum ItemKind {
    File,
    Dir,
    Symlink(PathBuf),
    /// Hard link to this target path (as written in the tar, not yet validated).
    HardLink(PathBuf),
    Char(u32, u32),
    Block(u32, u32),
    Fifo,
    /// `.wh.<name>`: `path` is the path to delete.
    Whiteout,
    /// `.wh..wh..opq`: `path` is the directory.
    Opaque,
    /// Nothing to do (the root itself, PAX global headers, reserved names).
    Ignored,
}

/// A member with its normalised path and metadata.
#[derive(Debug)]
pub(super) struct Item {
    pub path: PathBuf,
    pub kind: ItemKind,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub mtime: (i64, u32),
    pub xattrs: Vec<(String, Vec<u8>)>,
    /// Bytes of data the member carries.
    pub size: u64,
}

pub(super) fn parse<R: Read>(entry: &mut tar::Entry<'_, R>) -> Result<Item> {
    let raw = PathBuf::from(OsStr::from_bytes(&entry.path_bytes()));
    let path = normalize(&raw)?;
    let malformed = |reason: String| LayerError::MalformedHeader {
        path: raw.clone(),
        reason,
    };
    let (pax_mtime, xattrs) = read_pax(entry).map_err(|e| malformed(e.to_string()))?;
    let header = entry.header();
    let link = || -> Result<PathBuf> {
        match entry.link_name_bytes() {
            Some(bytes) => Ok(PathBuf::from(OsStr::from_bytes(&bytes))),
            None => Err(malformed("link entry without a target".into())),
        }
    };
    let device = || -> Result<(u32, u32)> {
        let major = header
            .device_major()
            .map_err(|e| malformed(e.to_string()))?;
        let minor = header
            .device_minor()
            .map_err(|e| malformed(e.to_string()))?;
        Ok((major.unwrap_or(0), minor.unwrap_or(0)))
    };
    let ty = header.entry_type();
    let kind = match ty {
        EntryType::Regular | EntryType::Continuous | EntryType::GNUSparse => ItemKind::File,
        EntryType::Directory => ItemKind::Dir,
        EntryType::Symlink => ItemKind::Symlink(link()?),
        EntryType::Link => ItemKind::HardLink(link()?),
        EntryType::Char => device().map(|(a, b)| ItemKind::Char(a, b))?,
        EntryType::Block => device().map(|(a, b)| ItemKind::Block(a, b))?,
        EntryType::Fifo => ItemKind::Fifo,
        EntryType::XGlobalHeader => ItemKind::Ignored,
        other => {
            return Err(LayerError::UnsupportedEntry {
                path: raw,
                kind: other.as_byte() as char,
            })
        }
    };
    let (path, kind) = whiteout(&raw, path, kind)?;
    let id = |v: std::io::Result<u64>| -> Result<u32> {
        let v = v.map_err(|e| malformed(e.to_string()))?;
        // -1 means "unchanged" to chown(2), so it cannot be an owner.
        u32::try_from(v)
            .ok()
            .filter(|v| *v != u32::MAX)
            .ok_or_else(|| malformed(format!("owner id {v} is out of range")))
    };
    let mtime = match pax_mtime {
        Some(t) => t,
        None => {
            let m = header.mtime().map_err(|e| malformed(e.to_string()))?;
            (i64::try_from(m).unwrap_or(i64::MAX), 0)
        }
    };
    Ok(Item {
        path,
        kind,
        mode: header.mode().map_err(|e| malformed(e.to_string()))? & 0o7777,
        uid: id(header.uid())?,
        gid: id(header.gid())?,
        mtime,
        xattrs,
        size: entry.size(),
    })
}

/// Recognises `.wh.` names; returns the effective path and kind.
fn whiteout(raw: &Path, path: PathBuf, kind: ItemKind) -> Result<(PathBuf, ItemKind)> {
    let Some(name) = path.file_name().map(|n| n.as_bytes()) else {
        // The root itself ("./"): nothing to create.
        return Ok((path, ItemKind::Ignored));
    };
    let Some(target) = name.strip_prefix(WHITEOUT_PREFIX.as_bytes()) else {
        return Ok((path, kind));
    };
    let parent = path.parent().unwrap_or(Path::new("")).to_path_buf();
    if name == OPAQUE_MARKER.as_bytes() {
        return Ok((parent, ItemKind::Opaque));
    }
    if name.starts_with(RESERVED_PREFIX.as_bytes()) {
        return Ok((path, ItemKind::Ignored));
    }
    if target.is_empty() || target == b"." || target == b".." {
        return Err(LayerError::InvalidPath {
            path: raw.to_path_buf(),
            reason: "whiteout of an empty, `.` or `..` name".into(),
        });
    }
    Ok((parent.join(OsStr::from_bytes(target)), ItemKind::Whiteout))
}

type PaxData = (Option<(i64, u32)>, Vec<(String, Vec<u8>)>);

/// Reads the PAX `mtime` and `SCHILY.xattr.*` records (the tar crate applies
/// `path`, `linkpath`, `size`, `uid` and `gid` itself).
fn read_pax<R: Read>(entry: &mut tar::Entry<'_, R>) -> std::io::Result<PaxData> {
    let mut mtime = None;
    let mut xattrs = Vec::new();
    let Some(records) = entry.pax_extensions()? else {
        return Ok((None, xattrs));
    };
    for record in records {
        let record = record?;
        let Ok(key) = record.key() else { continue };
        if key == "mtime" {
            let value = record.value().ok().and_then(parse_pax_time);
            mtime = Some(value.ok_or_else(|| {
                std::io::Error::other(format!("bad PAX mtime {:?}", record.value_bytes()))
            })?);
        } else if let Some(name) = key.strip_prefix("SCHILY.xattr.") {
            xattrs.push((name.to_string(), record.value_bytes().to_vec()));
        }
    }
    Ok((mtime, xattrs))
}

/// Parses a PAX time (`"1700000000"`, `"1700000000.5"`, `"-1.25"`) into seconds
/// and nanoseconds (`nanos` always counts forward from `secs`).
pub(super) fn parse_pax_time(text: &str) -> Option<(i64, u32)> {
    let (int, frac) = text.split_once('.').unwrap_or((text, ""));
    let negative = int.starts_with('-');
    let secs: i64 = int.parse().ok()?;
    if !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let digits: String = frac.chars().chain("000000000".chars()).take(9).collect();
    let nanos: u32 = digits.parse().ok()?;
    if negative && nanos > 0 {
        Some((secs.checked_sub(1)?, 1_000_000_000 - nanos))
    } else {
        Some((secs, nanos))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pax_times() {
        assert_eq!(parse_pax_time("12"), Some((12, 0)));
        assert_eq!(parse_pax_time("12.5"), Some((12, 500_000_000)));
        assert_eq!(parse_pax_time("-1.25"), Some((-2, 750_000_000)));
        assert_eq!(parse_pax_time("1.0000000019"), Some((1, 1)));
        assert_eq!(parse_pax_time("x"), None);
    }

    #[test]
    fn whiteout_names() {
        let w = |p: &str| whiteout(Path::new(p), PathBuf::from(p), ItemKind::File);
        assert_eq!(
            w("a/.wh.b").unwrap(),
            (PathBuf::from("a/b"), ItemKind::Whiteout)
        );
        assert_eq!(
            w("a/.wh..wh..opq").unwrap(),
            (PathBuf::from("a"), ItemKind::Opaque)
        );
        assert_eq!(w("a/.wh..wh.plnk").unwrap().1, ItemKind::Ignored);
        assert!(w("a/.wh...").is_err());
        assert_eq!(w("a/b").unwrap().1, ItemKind::File);
    }
}
