//! Encoding one tar header, with a PAX extended header in front when a value does
//! not fit the ustar fields (long names or link targets, big sizes, large ids,
//! out-of-range mtimes, extended attributes).

use std::collections::BTreeMap;
use std::path::Path;

use tar::{EntryType, Header};

use super::{LayerError, Result};

const BLOCK: usize = 512;
/// Largest value of the 8-byte octal fields (uid, gid).
const MAX_ID: u64 = 0o7777777;
/// Largest value of the 12-byte octal fields (size, mtime).
const MAX_BIG: u64 = 0o77777777777;
/// Length of the ustar name and linkname fields.
const NAME_LEN: usize = 100;

/// The normalised fields of one tar member.
pub(crate) struct HeaderSpec<'a> {
    /// Name in the tar, with a trailing `/` for directories.
    pub name: &'a [u8],
    pub entry_type: EntryType,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub mtime: i64,
    pub size: u64,
    pub link: Option<&'a [u8]>,
    pub device: (u32, u32),
    pub xattrs: &'a [(String, Vec<u8>)],
}

/// Returns the bytes of the member's header block(s): an optional PAX `x` member
/// followed by the ustar header. `path` is only used in errors.
pub(crate) fn encode_header(spec: &HeaderSpec<'_>, path: &Path) -> Result<Vec<u8>> {
    let mut records: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let mut header = Header::new_ustar();
    let ustar = header.as_ustar_mut().expect("new_ustar is ustar");
    if !fit_name(&mut ustar.name, spec.name) {
        records.insert("path".into(), spec.name.to_vec());
    }
    if let Some(link) = spec.link {
        if !fit_name(&mut ustar.linkname, link) {
            records.insert("linkpath".into(), link.to_vec());
        }
    }
    header.set_entry_type(spec.entry_type);
    header.set_mode(spec.mode & 0o7777);
    header.set_uid(big_or_pax(&mut records, "uid", spec.uid.into(), MAX_ID));
    header.set_gid(big_or_pax(&mut records, "gid", spec.gid.into(), MAX_ID));
    header.set_size(big_or_pax(&mut records, "size", spec.size, MAX_BIG));
    header.set_mtime(mtime_or_pax(&mut records, spec.mtime));
    let (major, minor) = spec.device;
    let bad_device = |e| LayerError::MalformedHeader {
        path: path.to_path_buf(),
        reason: format!("device number does not fit a ustar header: {e}"),
    };
    header.set_device_major(major).map_err(bad_device)?;
    header.set_device_minor(minor).map_err(bad_device)?;
    for (name, value) in spec.xattrs {
        if name.is_empty() || name.contains(['=', '\0', '\n']) {
            return Err(LayerError::InvalidXattr {
                path: path.to_path_buf(),
                name: name.clone(),
            });
        }
        records.insert(format!("SCHILY.xattr.{name}"), value.clone());
    }
    header.set_cksum();

    let mut out = Vec::with_capacity(BLOCK * 3);
    if !records.is_empty() {
        out.extend_from_slice(&pax_member(spec.name, &records));
    }
    out.extend_from_slice(header.as_bytes());
    Ok(out)
}

/// Copies `value` into a fixed-size name field when it fits; otherwise stores a
/// truncated copy (readers use the PAX record) and returns false.
fn fit_name(field: &mut [u8; NAME_LEN], value: &[u8]) -> bool {
    let n = value.len().min(NAME_LEN);
    field[..n].copy_from_slice(&value[..n]);
    value.len() <= NAME_LEN
}

fn big_or_pax(records: &mut BTreeMap<String, Vec<u8>>, key: &str, value: u64, max: u64) -> u64 {
    if value <= max {
        value
    } else {
        records.insert(key.into(), value.to_string().into_bytes());
        0
    }
}

fn mtime_or_pax(records: &mut BTreeMap<String, Vec<u8>>, mtime: i64) -> u64 {
    match u64::try_from(mtime) {
        Ok(m) if m <= MAX_BIG => m,
        _ => {
            records.insert("mtime".into(), mtime.to_string().into_bytes());
            0
        }
    }
}

/// A PAX extended-header member (`x`) carrying `records`, sorted by key.
fn pax_member(name: &[u8], records: &BTreeMap<String, Vec<u8>>) -> Vec<u8> {
    let mut data = Vec::new();
    for (key, value) in records {
        data.extend_from_slice(&pax_record(key, value));
    }
    let base = name
        .strip_suffix(b"/")
        .unwrap_or(name)
        .rsplit(|b| *b == b'/')
        .next()
        .unwrap_or_default();
    let mut pax_name = b"PaxHeaders.0/".to_vec();
    pax_name.extend_from_slice(base);

    let mut header = Header::new_ustar();
    let ustar = header.as_ustar_mut().expect("new_ustar is ustar");
    fit_name(&mut ustar.name, &pax_name);
    header.set_entry_type(EntryType::XHeader);
    header.set_mode(0o644);
    header.set_uid(0);
    header.set_gid(0);
    header.set_mtime(0);
    header.set_size(data.len() as u64);
    header.set_cksum();

    let mut out = header.as_bytes().to_vec();
    out.extend_from_slice(&data);
    out.resize(out.len() + padding(data.len() as u64), 0);
    out
}

/// `"<len> <key>=<value>\n"` where `<len>` counts the whole record, itself included.
fn pax_record(key: &str, value: &[u8]) -> Vec<u8> {
    let rest = key.len() + value.len() + 3; // ' ', '=', '\n'
    let mut len = rest + 1;
    while len != rest + len.to_string().len() {
        len = rest + len.to_string().len();
    }
    let mut out = format!("{len} {key}=").into_bytes();
    out.extend_from_slice(value);
    out.push(b'\n');
    out
}

/// Zero bytes needed after `size` bytes of data to reach a block boundary.
pub(crate) fn padding(size: u64) -> usize {
    ((BLOCK as u64 - size % BLOCK as u64) % BLOCK as u64) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pax_record_length_counts_itself() {
        assert_eq!(pax_record("path", b"abc"), b"12 path=abc\n");
        let long = vec![b'x'; 95];
        let rec = pax_record("path", &long);
        let len: usize = std::str::from_utf8(&rec[..3]).unwrap().parse().unwrap();
        assert_eq!(len, rec.len());
    }

    #[test]
    fn padding_rounds_to_blocks() {
        assert_eq!(padding(0), 0);
        assert_eq!(padding(1), 511);
        assert_eq!(padding(512), 0);
    }
}
