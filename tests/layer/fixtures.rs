//! Fixture generators and helpers for the layer tests: entry builders, a tar
//! writer that copies names verbatim (so it can produce `../evil`), and a sandbox
//! whose sibling directory must stay untouched.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use rbuild::layer::{write_layer, EntryKind, FileSource, LayerEntry, WriteOptions};
use sha2::{Digest, Sha256};
use tar::EntryType;
use tempfile::TempDir;

pub fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

pub fn file(path: &str, content: &[u8]) -> LayerEntry {
    let kind = EntryKind::File {
        source: FileSource::Bytes(content.to_vec()),
        size: content.len() as u64,
    };
    LayerEntry::new(path, kind)
}

pub fn dir(path: &str) -> LayerEntry {
    LayerEntry::new(path, EntryKind::Dir)
}

pub fn symlink(path: &str, target: &str) -> LayerEntry {
    let kind = EntryKind::Symlink {
        target: target.into(),
    };
    LayerEntry::new(path, kind)
}

pub fn hard_link(path: &str, target: &str) -> LayerEntry {
    let kind = EntryKind::HardLink {
        target: target.into(),
    };
    LayerEntry::new(path, kind)
}

pub fn with(mut e: LayerEntry, mode: u32, uid: u32, gid: u32, mtime: i64) -> LayerEntry {
    e.mode = mode;
    e.uid = uid;
    e.gid = gid;
    e.mtime = mtime;
    e
}

pub fn tar_of(entries: &[LayerEntry]) -> Vec<u8> {
    let mut out = Vec::new();
    write_layer(entries, &mut out, &WriteOptions::default()).unwrap();
    out
}

pub fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

pub fn xattr(path: &Path, name: &str) -> Option<Vec<u8>> {
    let mut buf = vec![0u8; 4096];
    let n = rustix::fs::lgetxattr(path, name, &mut buf[..]).ok()?;
    buf.truncate(n);
    Some(buf)
}

/// A capability set granting cap_net_bind_service (VFS_CAP_REVISION_2, effective).
pub fn capability_bytes() -> Vec<u8> {
    let mut v = vec![0x01, 0x00, 0x00, 0x02, 0x00, 0x04, 0x00, 0x00];
    v.resize(20, 0);
    v
}

/// One member of a hand-built tar.
pub struct Raw {
    pub name: &'static str,
    pub ty: EntryType,
    pub link: String,
    pub data: &'static [u8],
}

pub fn raw(name: &'static str, ty: EntryType) -> Raw {
    Raw {
        name,
        ty,
        link: String::new(),
        data: b"",
    }
}

pub fn raw_link(name: &'static str, ty: EntryType, link: impl Into<String>) -> Raw {
    Raw {
        link: link.into(),
        ..raw(name, ty)
    }
}

pub fn raw_file(name: &'static str, data: &'static [u8]) -> Raw {
    Raw {
        data,
        ..raw(name, EntryType::Regular)
    }
}

/// Writes the members with their names copied verbatim into the header.
pub fn raw_tar(members: &[Raw]) -> Vec<u8> {
    let mut out = Vec::new();
    for m in members {
        let mut h = tar::Header::new_ustar();
        let ustar = h.as_ustar_mut().unwrap();
        ustar.name[..m.name.len()].copy_from_slice(m.name.as_bytes());
        ustar.linkname[..m.link.len()].copy_from_slice(m.link.as_bytes());
        h.set_entry_type(m.ty);
        h.set_mode(if m.ty == EntryType::Directory {
            0o755
        } else {
            0o644
        });
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(1_000);
        h.set_size(m.data.len() as u64);
        h.set_cksum();
        out.extend_from_slice(h.as_bytes());
        out.extend_from_slice(m.data);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }
    out.resize(out.len() + 1024, 0);
    out
}

/// `outer/dest` (where layers go) next to `outer/outside/secret`, which no layer
/// may touch.
pub struct Sandbox {
    pub outer: TempDir,
}

impl Sandbox {
    pub fn new() -> Self {
        let outer = TempDir::new().unwrap();
        fs::create_dir(outer.path().join("dest")).unwrap();
        fs::create_dir(outer.path().join("outside")).unwrap();
        fs::write(outer.path().join("outside/secret"), b"secret").unwrap();
        Sandbox { outer }
    }
    pub fn dest(&self) -> PathBuf {
        self.outer.path().join("dest")
    }
    pub fn outside(&self) -> PathBuf {
        self.outer.path().join("outside")
    }
    pub fn assert_outside_untouched(&self) {
        let mut top: Vec<_> = fs::read_dir(self.outer.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        top.sort();
        assert_eq!(
            top,
            ["dest", "outside"],
            "something was written next to dest"
        );
        let inside: Vec<_> = fs::read_dir(self.outside())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(inside, ["secret"], "something was written outside dest");
        assert_eq!(fs::read(self.outside().join("secret")).unwrap(), b"secret");
        let md = fs::metadata(self.outside().join("secret")).unwrap();
        assert_eq!(md.nlink(), 1, "outside file was hard-linked into dest");
    }
}

/// Member name → header of every member (after PAX processing) plus its PAX keys.
pub fn read_headers(tar_bytes: &[u8]) -> Vec<(String, tar::Header, BTreeMap<String, Vec<u8>>)> {
    let mut archive = tar::Archive::new(tar_bytes);
    let mut out = Vec::new();
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let mut pax = BTreeMap::new();
        if let Some(records) = entry.pax_extensions().unwrap() {
            for r in records {
                let r = r.unwrap();
                pax.insert(r.key().unwrap().to_string(), r.value_bytes().to_vec());
            }
        }
        let name = String::from_utf8(entry.path_bytes().into_owned()).unwrap();
        out.push((name, entry.header().clone(), pax));
    }
    out
}
