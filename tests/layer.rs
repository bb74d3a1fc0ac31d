//! Layer writing, compression and unpacking (issue "Layers").
//!
//! Fixtures are generated here: entry lists for the writer, and hand-built tars
//! (with names the `tar` crate's builder refuses, such as `../evil`) for the
//! unpacker. Tests that need root (mknod, chown, trusted.* xattrs) print
//! "SKIPPED: needs root" otherwise.

use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use rbuild::layer::{
    compress_blob, decompressor, detect_compression, entries_from_dir, unpack_layer, write_layer,
    write_layer_compressed, Compression, EntryKind, FileSource, LayerEntry, LayerError,
    ScanOptions, UnpackOptions, WhiteoutMode, WriteOptions,
};
use sha2::{Digest, Sha256};
use tar::EntryType;
use tempfile::TempDir;

// ---------- helpers and fixture generators ----------

fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

macro_rules! require_root {
    () => {
        if !is_root() {
            println!("SKIPPED: needs root");
            return;
        }
    };
}

fn file(path: &str, content: &[u8]) -> LayerEntry {
    let kind = EntryKind::File {
        source: FileSource::Bytes(content.to_vec()),
        size: content.len() as u64,
    };
    LayerEntry::new(path, kind)
}

fn dir(path: &str) -> LayerEntry {
    LayerEntry::new(path, EntryKind::Dir)
}

fn with(mut e: LayerEntry, mode: u32, uid: u32, gid: u32, mtime: i64) -> LayerEntry {
    e.mode = mode;
    e.uid = uid;
    e.gid = gid;
    e.mtime = mtime;
    e
}

fn tar_of(entries: &[LayerEntry]) -> Vec<u8> {
    let mut out = Vec::new();
    write_layer(entries, &mut out, &WriteOptions::default()).unwrap();
    out
}

fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

fn xattr(path: &Path, name: &str) -> Option<Vec<u8>> {
    let mut buf = vec![0u8; 4096];
    let n = rustix::fs::lgetxattr(path, name, &mut buf[..]).ok()?;
    buf.truncate(n);
    Some(buf)
}

/// A capability set granting cap_net_bind_service (VFS_CAP_REVISION_2, effective).
fn capability_bytes() -> Vec<u8> {
    let mut v = vec![0x01, 0x00, 0x00, 0x02, 0x00, 0x04, 0x00, 0x00];
    v.resize(20, 0);
    v
}

/// One member of a hand-built tar.
struct Raw {
    name: &'static str,
    ty: EntryType,
    link: String,
    data: &'static [u8],
}

fn raw(name: &'static str, ty: EntryType) -> Raw {
    Raw {
        name,
        ty,
        link: String::new(),
        data: b"",
    }
}

fn raw_link(name: &'static str, ty: EntryType, link: impl Into<String>) -> Raw {
    Raw {
        link: link.into(),
        ..raw(name, ty)
    }
}

fn raw_file(name: &'static str, data: &'static [u8]) -> Raw {
    Raw {
        data,
        ..raw(name, EntryType::Regular)
    }
}

/// Writes the members with their names copied verbatim into the header.
fn raw_tar(members: &[Raw]) -> Vec<u8> {
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
struct Sandbox {
    outer: TempDir,
}

impl Sandbox {
    fn new() -> Self {
        let outer = TempDir::new().unwrap();
        fs::create_dir(outer.path().join("dest")).unwrap();
        fs::create_dir(outer.path().join("outside")).unwrap();
        fs::write(outer.path().join("outside/secret"), b"secret").unwrap();
        Sandbox { outer }
    }
    fn dest(&self) -> PathBuf {
        self.outer.path().join("dest")
    }
    fn outside(&self) -> PathBuf {
        self.outer.path().join("outside")
    }
    fn assert_outside_untouched(&self) {
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
fn read_headers(tar_bytes: &[u8]) -> Vec<(String, tar::Header, BTreeMap<String, Vec<u8>>)> {
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

// ---------- determinism ----------

fn sample_entries() -> Vec<LayerEntry> {
    vec![
        with(dir("etc"), 0o755, 0, 0, 1_700_000_000),
        with(
            file("etc/hosts", b"127.0.0.1 localhost\n"),
            0o644,
            0,
            0,
            1_700_000_001,
        ),
        LayerEntry::new(
            "etc/alias",
            EntryKind::Symlink {
                target: "hosts".into(),
            },
        ),
        with(dir("usr"), 0o755, 0, 0, 5),
        with(file("usr/big", &[7u8; 3000]), 0o600, 1000, 1000, 6),
        LayerEntry::new(
            "usr/big-link",
            EntryKind::HardLink {
                target: "usr/big".into(),
            },
        ),
        LayerEntry::new("gone", EntryKind::Whiteout),
    ]
}

#[test]
fn same_entries_give_identical_tar_and_diff_id_in_any_order() {
    let entries = sample_entries();
    let mut first = Vec::new();
    let d1 = write_layer(&entries, &mut first, &WriteOptions::default()).unwrap();
    let mut second = Vec::new();
    let d2 = write_layer(&entries, &mut second, &WriteOptions::default()).unwrap();
    assert_eq!(first, second);
    assert_eq!(d1, d2);
    assert_eq!(
        d1.diff_id,
        sha256(&first),
        "diff_id is the sha256 of the tar"
    );
    assert_eq!(d1.size, first.len() as u64);

    let mut shuffled = entries.clone();
    shuffled.reverse();
    shuffled.swap(1, 4);
    let mut third = Vec::new();
    let d3 = write_layer(&shuffled, &mut third, &WriteOptions::default()).unwrap();
    assert_eq!(first, third, "input order must not matter");
    assert_eq!(d1, d3);

    let names: Vec<String> = read_headers(&first).into_iter().map(|(n, ..)| n).collect();
    assert_eq!(
        names,
        [
            ".wh.gone",
            "etc/",
            "etc/alias",
            "etc/hosts",
            "usr/",
            "usr/big",
            "usr/big-link"
        ]
    );
}

#[test]
fn source_date_epoch_clamps_only_later_mtimes() {
    let entries = vec![
        with(file("new", b"n"), 0o644, 0, 0, 2_000_000_000),
        with(file("old", b"o"), 0o644, 0, 0, 100),
    ];
    let opts = WriteOptions {
        source_date_epoch: Some(1_000),
    };
    let mut out = Vec::new();
    write_layer(&entries, &mut out, &opts).unwrap();
    let mtimes: Vec<(String, u64)> = read_headers(&out)
        .into_iter()
        .map(|(n, h, _)| (n, h.mtime().unwrap()))
        .collect();
    assert_eq!(mtimes, [("new".into(), 1_000), ("old".into(), 100)]);
}

#[test]
fn writer_rejects_escaping_and_duplicate_paths_naming_them() {
    let cases: Vec<(LayerEntry, &str)> = vec![
        (file("../evil", b""), "../evil"),
        (file("/abs", b""), "/abs"),
        (file("a/.wh.b", b""), "a/.wh.b"),
    ];
    for (entry, name) in cases {
        let err = write_layer(&[entry], Vec::new(), &WriteOptions::default()).unwrap_err();
        assert_eq!(err.path(), Some(Path::new(name)), "{err}");
        assert!(err.to_string().contains(name), "{err}");
    }
    let link = LayerEntry::new(
        "link",
        EntryKind::HardLink {
            target: "../../etc/passwd".into(),
        },
    );
    let err = write_layer(&[link], Vec::new(), &WriteOptions::default()).unwrap_err();
    assert!(matches!(err, LayerError::HardLinkEscape { .. }), "{err}");

    let err = write_layer(
        &[file("x", b"1"), file("./x", b"2")],
        Vec::new(),
        &Default::default(),
    )
    .unwrap_err();
    assert!(matches!(err, LayerError::DuplicateEntry { ref path } if path == Path::new("x")));

    let mut lying = file("short", b"abc");
    lying.kind = EntryKind::File {
        source: FileSource::Bytes(b"abc".to_vec()),
        size: 4,
    };
    let err = write_layer(&[lying], Vec::new(), &Default::default()).unwrap_err();
    assert!(matches!(
        err,
        LayerError::SizeMismatch {
            expected: 4,
            actual: 3,
            ..
        }
    ));
}

#[test]
fn host_files_are_read_at_write_time_and_size_changes_detected() {
    let tmp = TempDir::new().unwrap();
    let host = tmp.path().join("data");
    fs::write(&host, b"hello world").unwrap();
    let entry = |size| {
        LayerEntry::new(
            "data",
            EntryKind::File {
                source: FileSource::Path(host.clone()),
                size,
            },
        )
    };
    let out = tar_of(&[entry(11)]);
    let mut archive = tar::Archive::new(&out[..]);
    let mut member = archive.entries().unwrap().next().unwrap().unwrap();
    let mut content = String::new();
    member.read_to_string(&mut content).unwrap();
    assert_eq!(content, "hello world");

    for wrong in [5, 20] {
        let err = write_layer(&[entry(wrong)], Vec::new(), &Default::default()).unwrap_err();
        match err {
            LayerError::SizeMismatch {
                path,
                expected,
                actual,
            } => {
                assert_eq!((path, expected, actual), (host.clone(), wrong, 11));
            }
            other => panic!("unexpected {other}"),
        }
    }
}

// ---------- round trip ----------

fn long_path() -> String {
    format!("long/{}/{}/file", "a".repeat(90), "b".repeat(100))
}

fn round_trip_entries() -> Vec<LayerEntry> {
    let mut with_xattrs = with(file("d/caps", b"capable"), 0o755, 0, 0, 1_600_000_000);
    with_xattrs.xattrs = vec![
        ("user.test".into(), b"hello".to_vec()),
        ("security.capability".into(), capability_bytes()),
    ];
    let mut dir_xattr = with(dir("d"), 0o1777, 1000, 1001, 1_500_000_000);
    dir_xattr.xattrs = vec![("user.dir".into(), b"on a dir".to_vec())];
    let long_target = format!("/{}", "t".repeat(150));
    vec![
        dir_xattr,
        with(file("d/suid", b"#!/bin/sh\n"), 0o4755, 0, 0, 1_400_000_000),
        with(file("d/sgid", b"g"), 0o2711, 0, 50, 1_400_000_001),
        with_xattrs,
        with(
            LayerEntry::new(
                "d/link",
                EntryKind::Symlink {
                    target: "suid".into(),
                },
            ),
            0o777,
            1000,
            1000,
            1_300_000_000,
        ),
        LayerEntry::new(
            "d/long-link",
            EntryKind::Symlink {
                target: long_target.into(),
            },
        ),
        LayerEntry::new(
            "d/zhard",
            EntryKind::HardLink {
                target: "d/suid".into(),
            },
        ),
        with(
            LayerEntry::new("d/fifo", EntryKind::Fifo),
            0o640,
            7,
            8,
            1_200_000_000,
        ),
        with(
            LayerEntry::new("d/null", EntryKind::CharDevice { major: 1, minor: 3 }),
            0o666,
            0,
            0,
            1_100_000_000,
        ),
        with(
            LayerEntry::new(
                "d/loop",
                EntryKind::BlockDevice {
                    major: 7,
                    minor: 200,
                },
            ),
            0o660,
            0,
            6,
            1_100_000_000,
        ),
        with(file(&long_path(), b"deep"), 0o600, 0, 0, 1_000_000_000),
        with(
            file("bigids", b"ids"),
            0o644,
            3_000_000,
            2_500_000,
            900_000_000,
        ),
    ]
}

#[test]
fn tar_headers_are_normalised_with_pax_where_needed() {
    let tar_bytes = tar_of(&round_trip_entries());
    let headers = read_headers(&tar_bytes);
    for (name, h, pax) in &headers {
        assert_eq!(h.username_bytes(), Some(&b""[..]), "{name}: uname");
        assert_eq!(h.groupname_bytes(), Some(&b""[..]), "{name}: gname");
        assert!(h.as_ustar().is_some(), "{name}: ustar magic");
        for key in ["atime", "ctime"] {
            assert!(!pax.contains_key(key), "{name}: {key}");
        }
    }
    let by_name: BTreeMap<&str, _> = headers
        .iter()
        .map(|(n, h, p)| (n.as_str(), (h, p)))
        .collect();
    let (h, pax) = by_name["bigids"];
    assert_eq!(pax["uid"], b"3000000");
    assert_eq!(pax["gid"], b"2500000");
    assert_eq!(h.uid().unwrap(), 3_000_000, "tar crate applies the PAX uid");
    let (_, pax) = by_name[long_path().as_str()];
    assert_eq!(pax["path"], long_path().as_bytes());
    let (_, pax) = by_name["d/long-link"];
    assert_eq!(pax["linkpath"].len(), 151);
    let (_, pax) = by_name["d/caps"];
    assert_eq!(pax["SCHILY.xattr.user.test"], b"hello");
    assert_eq!(pax["SCHILY.xattr.security.capability"], capability_bytes());
    let (h, _) = by_name["d/zhard"];
    assert_eq!(h.entry_type(), EntryType::Link);
    assert_eq!(h.link_name().unwrap().unwrap(), Path::new("d/suid"));
    let (h, _) = by_name["d/"];
    assert_eq!(h.entry_type(), EntryType::Directory);
    assert_eq!(h.mode().unwrap(), 0o1777);
    assert_eq!((h.uid().unwrap(), h.gid().unwrap()), (1000, 1001));
    let (h, _) = by_name["d/loop"];
    assert_eq!(h.device_major().unwrap(), Some(7));
    assert_eq!(h.device_minor().unwrap(), Some(200));
}

#[test]
fn round_trip_preserves_every_property() {
    require_root!();
    let tmp = TempDir::new().unwrap();
    let tar_bytes = tar_of(&round_trip_entries());
    let stats = unpack_layer(&tar_bytes[..], tmp.path(), &UnpackOptions::default()).unwrap();
    assert_eq!(stats.hardlinks, 1);
    assert_eq!(stats.special, 3);
    assert_eq!(stats.skipped_xattrs, 0);

    let root = tmp.path();
    for entry in round_trip_entries() {
        let path = root.join(&entry.path);
        let md = fs::symlink_metadata(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
        let what = entry.path.display().to_string();
        if !matches!(entry.kind, EntryKind::HardLink { .. }) {
            if !matches!(entry.kind, EntryKind::Symlink { .. }) {
                assert_eq!(md.mode() & 0o7777, entry.mode, "{what}: mode");
            }
            assert_eq!(
                (md.uid(), md.gid()),
                (entry.uid, entry.gid),
                "{what}: owner"
            );
            assert_eq!(md.mtime(), entry.mtime, "{what}: mtime");
        }
        check_kind(&path, &md, &entry.kind, &what);
        for (name, value) in &entry.xattrs {
            assert_eq!(
                xattr(&path, name).as_ref(),
                Some(value),
                "{what}: xattr {name}"
            );
        }
    }
}

fn check_kind(path: &Path, md: &fs::Metadata, kind: &EntryKind, what: &str) {
    let ft = md.file_type();
    match kind {
        EntryKind::File {
            source: FileSource::Bytes(b),
            ..
        } => {
            assert!(ft.is_file(), "{what}");
            assert_eq!(&fs::read(path).unwrap(), b, "{what}: content");
        }
        EntryKind::Dir => assert!(ft.is_dir(), "{what}"),
        EntryKind::Symlink { target } => {
            assert!(ft.is_symlink(), "{what}");
            assert_eq!(&fs::read_link(path).unwrap(), target, "{what}");
        }
        EntryKind::HardLink { target } => {
            let root = path.ancestors().nth(2).unwrap();
            let t = fs::symlink_metadata(root.join(target)).unwrap();
            assert_eq!((md.ino(), md.nlink()), (t.ino(), 2), "{what}: same inode");
        }
        EntryKind::Fifo => assert!(ft.is_fifo(), "{what}"),
        EntryKind::CharDevice { major, minor } | EntryKind::BlockDevice { major, minor } => {
            assert!(ft.is_char_device() || ft.is_block_device(), "{what}");
            assert_eq!(
                ft.is_char_device(),
                matches!(kind, EntryKind::CharDevice { .. })
            );
            let dev = md.rdev();
            assert_eq!(
                (rustix::fs::major(dev), rustix::fs::minor(dev)),
                (*major, *minor)
            );
        }
        other => panic!("{what}: unexpected {other:?}"),
    }
}

// ---------- entries_from_dir ----------

#[test]
fn entries_from_dir_reads_whiteouts_opaque_dirs_and_hard_links() {
    require_root!();
    let tmp = TempDir::new().unwrap();
    let up = tmp.path();
    fs::write(up.join("a"), b"shared").unwrap();
    fs::hard_link(up.join("a"), up.join("b")).unwrap();
    fs::create_dir(up.join("opq")).unwrap();
    fs::write(up.join("opq/new"), b"n").unwrap();
    rustix::fs::setxattr(
        up.join("opq"),
        "trusted.overlay.opaque",
        b"y",
        rustix::fs::XattrFlags::empty(),
    )
    .unwrap();
    rustix::fs::setxattr(
        up.join("a"),
        "user.kept",
        b"1",
        rustix::fs::XattrFlags::empty(),
    )
    .unwrap();
    let dev = rustix::fs::makedev(0, 0);
    rustix::fs::mknodat(
        rustix::fs::CWD,
        up.join("gone"),
        rustix::fs::FileType::CharacterDevice,
        rustix::fs::Mode::empty(),
        dev,
    )
    .unwrap();
    std::os::unix::fs::symlink("/etc", up.join("sl")).unwrap();

    let entries = entries_from_dir(up, &ScanOptions::default()).unwrap();
    let summary: Vec<(String, String)> = entries
        .iter()
        .map(|e| {
            let kind = match &e.kind {
                EntryKind::File { .. } => "file".to_string(),
                EntryKind::HardLink { target } => format!("hardlink {}", target.display()),
                EntryKind::Symlink { target } => format!("symlink {}", target.display()),
                other => format!("{other:?}"),
            };
            (e.path.display().to_string(), kind)
        })
        .collect();
    let expected = [
        ("a", "file"),
        ("b", "hardlink a"),
        ("gone", "Whiteout"),
        ("opq", "Dir"),
        ("opq", "OpaqueDir"),
        ("opq/new", "file"),
        ("sl", "symlink /etc"),
    ];
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    assert_eq!(summary, expected);
    assert_eq!(
        entries[0].xattrs,
        [("user.kept".to_string(), b"1".to_vec())]
    );
    assert!(
        entries[3].xattrs.is_empty(),
        "trusted.overlay.* is not copied"
    );

    let names: Vec<String> = read_headers(&tar_of(&entries))
        .into_iter()
        .map(|(n, ..)| n)
        .collect();
    let expected = [
        ".wh.gone",
        "a",
        "b",
        "opq/",
        "opq/.wh..wh..opq",
        "opq/new",
        "sl",
    ];
    assert_eq!(names, expected);
}

// ---------- compression ----------

#[test]
fn compressed_blobs_round_trip_with_one_pass_digests() {
    let mut entries = sample_entries();
    let noise: Vec<u8> = (0..2_000_000u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 11) as u8)
        .collect();
    entries.push(file("noise", &noise));
    let mut plain = Vec::new();
    let layer = write_layer(&entries, &mut plain, &WriteOptions::default()).unwrap();

    for compression in [Compression::None, Compression::Gzip, Compression::Zstd] {
        let mut blob = Vec::new();
        let (diff, digest) =
            write_layer_compressed(&entries, compression, &mut blob, &WriteOptions::default())
                .unwrap();
        assert_eq!(diff, layer, "{compression}: diff_id from the same pass");
        assert_eq!(digest.digest, sha256(&blob), "{compression}: blob digest");
        assert_eq!(digest.size, blob.len() as u64);
        assert_eq!(detect_compression(&blob[..4]), compression);

        let mut back = Vec::new();
        decompressor(&blob[..], compression)
            .unwrap()
            .read_to_end(&mut back)
            .unwrap();
        assert_eq!(back, plain, "{compression}: decompresses to the tar");

        let mut again = Vec::new();
        let d2 = compress_blob(&plain[..], compression, &mut again).unwrap();
        assert_eq!(again, blob, "{compression}: deterministic output");
        assert_eq!(d2, digest);
    }
    let mut gz = Vec::new();
    compress_blob(&plain[..], Compression::Gzip, &mut gz).unwrap();
    assert_eq!(&gz[4..8], &[0, 0, 0, 0], "no gzip timestamp");
}

// ---------- malicious layers ----------

fn expect_rejected(
    sandbox: &Sandbox,
    tar_bytes: &[u8],
    check: impl Fn(&LayerError) -> bool,
) -> LayerError {
    let err = unpack_layer(tar_bytes, &sandbox.dest(), &UnpackOptions::default()).unwrap_err();
    assert!(check(&err), "unexpected error: {err:?}");
    sandbox.assert_outside_untouched();
    err
}

#[test]
fn parent_traversal_and_absolute_paths_are_rejected() {
    let sb = Sandbox::new();
    let err = expect_rejected(
        &sb,
        &raw_tar(&[raw_file("../evil", b"x")]),
        |e| matches!(e, LayerError::ParentTraversal { path } if path == Path::new("../evil")),
    );
    assert!(err.to_string().contains("../evil"));
    let sb = Sandbox::new();
    let err = expect_rejected(
        &sb,
        &raw_tar(&[raw_file("a/../../outside/secret", b"x")]),
        |e| matches!(e, LayerError::ParentTraversal { .. }),
    );
    assert!(err.to_string().contains("a/../../outside/secret"));
    let sb = Sandbox::new();
    let err = expect_rejected(
        &sb,
        &raw_tar(&[raw_file("/abs", b"x")]),
        |e| matches!(e, LayerError::AbsolutePath { path } if path == Path::new("/abs")),
    );
    assert!(err.to_string().contains("/abs"));
}

#[test]
fn writes_through_symlinks_are_rejected() {
    let sb = Sandbox::new();
    let outside = sb.outside().display().to_string();
    let layer = raw_tar(&[
        raw_link("link", EntryType::Symlink, outside.clone()),
        raw_file("link/file", b"pwned"),
    ]);
    let err = expect_rejected(&sb, &layer, |e| {
        matches!(e, LayerError::SymlinkTraversal { path, symlink }
            if path == Path::new("link/file") && symlink == Path::new("link"))
    });
    assert!(err.to_string().contains("link/file"));

    let sb = Sandbox::new();
    let layer = raw_tar(&[
        raw_link("up", EntryType::Symlink, ".."),
        raw_file("up/evil", b"pwned"),
    ]);
    expect_rejected(
        &sb,
        &layer,
        |e| matches!(e, LayerError::SymlinkTraversal { path, .. } if path == Path::new("up/evil")),
    );

    let sb = Sandbox::new();
    let layer = raw_tar(&[
        raw_link("deep", EntryType::Symlink, "../outside"),
        raw(".", EntryType::Directory),
        raw_link("deep/secret", EntryType::Symlink, "/etc/passwd"),
    ]);
    expect_rejected(
        &sb,
        &layer,
        |e| matches!(e, LayerError::SymlinkTraversal { path, .. } if path == Path::new("deep/secret")),
    );

    // A symlink already in the tree (from a lower layer) is not followed either.
    let sb = Sandbox::new();
    std::os::unix::fs::symlink(sb.outside(), sb.dest().join("pre")).unwrap();
    let layer = raw_tar(&[raw(".", EntryType::Directory), raw_file("pre/x", b"pwned")]);
    expect_rejected(
        &sb,
        &layer,
        |e| matches!(e, LayerError::SymlinkTraversal { path, .. } if path == Path::new("pre/x")),
    );
    // ... nor is a whiteout applied through it.
    let layer = raw_tar(&[raw_file("pre/.wh.secret", b"")]);
    expect_rejected(&sb, &layer, |e| {
        matches!(e, LayerError::SymlinkTraversal { .. })
    });
}

#[test]
fn escaping_hard_links_and_whiteouts_are_rejected() {
    let sb = Sandbox::new();
    let layer = raw_tar(&[raw_link("hl", EntryType::Link, "../../etc/passwd")]);
    let err = expect_rejected(&sb, &layer, |e| {
        matches!(e, LayerError::HardLinkEscape { path, target, .. }
            if path == Path::new("hl") && target == Path::new("../../etc/passwd"))
    });
    assert!(err.to_string().contains("hl"));

    let sb = Sandbox::new();
    let layer = raw_tar(&[raw_link("hl", EntryType::Link, "/etc/passwd")]);
    expect_rejected(&sb, &layer, |e| {
        matches!(e, LayerError::HardLinkEscape { .. })
    });

    let sb = Sandbox::new();
    let outside = sb.outside().display().to_string();
    let layer = raw_tar(&[
        raw_link("sl", EntryType::Symlink, outside),
        raw_link("hl", EntryType::Link, "sl/secret"),
    ]);
    expect_rejected(&sb, &layer, |e| {
        matches!(e, LayerError::HardLinkEscape { path, reason, .. }
            if path == Path::new("hl") && reason.contains("symlink"))
    });

    let sb = Sandbox::new();
    let layer = raw_tar(&[raw_file(".wh...", b"")]);
    expect_rejected(
        &sb,
        &layer,
        |e| matches!(e, LayerError::InvalidPath { path, .. } if path == Path::new(".wh...")),
    );
}

// ---------- whiteouts ----------

fn lower_layer() -> Vec<u8> {
    tar_of(&[
        dir("a"),
        file("a/keep", b"k"),
        file("a/gone", b"g"),
        dir("b"),
        file("b/x", b"x"),
        dir("c"),
        file("c/lower1", b"1"),
        dir("c/sub"),
        file("c/sub/lower2", b"2"),
        file("same", b"s"),
    ])
}

fn upper_entries() -> Vec<LayerEntry> {
    vec![
        LayerEntry::new("a/gone", EntryKind::Whiteout),
        LayerEntry::new("b", EntryKind::Whiteout),
        dir("c"),
        LayerEntry::new("c", EntryKind::OpaqueDir),
        file("c/-early", b"before the marker"),
        file("c/new", b"after the marker"),
        dir("c/sub"),
        file("c/sub/new2", b"n2"),
    ]
}

fn exists(p: PathBuf) -> bool {
    fs::symlink_metadata(p).is_ok()
}

#[test]
fn apply_mode_deletes_lower_entries_and_keeps_same_layer_ones() {
    let tmp = TempDir::new().unwrap();
    let root = tmp.path();
    let opts = UnpackOptions::default();
    unpack_layer(&lower_layer()[..], root, &opts).unwrap();
    let upper = tar_of(&upper_entries());
    let names: Vec<String> = read_headers(&upper).into_iter().map(|(n, ..)| n).collect();
    let early = names.iter().position(|n| n == "c/-early").unwrap();
    let marker = names.iter().position(|n| n == "c/.wh..wh..opq").unwrap();
    assert!(
        early < marker,
        "fixture: a same-layer entry precedes the marker"
    );
    let stats = unpack_layer(&upper[..], root, &opts).unwrap();
    assert_eq!((stats.whiteouts, stats.opaque_dirs), (2, 1));

    assert!(exists(root.join("a/keep")));
    assert!(!exists(root.join("a/gone")), "file whited out");
    assert!(!exists(root.join("b")), "directory whited out");
    assert!(!exists(root.join("c/lower1")), "opaque hides lower entries");
    assert!(
        !exists(root.join("c/sub/lower2")),
        "... also inside re-created dirs"
    );
    for kept in ["c/-early", "c/new", "c/sub/new2"] {
        assert!(
            exists(root.join(kept)),
            "{kept} from the same layer must stay"
        );
    }
    // The marker may also come after same-layer entries, including directories
    // that hold lower entries (those still go).
    let lower = tar_of(&[
        dir("o"),
        dir("o/sub"),
        file("o/sub/lower", b"l"),
        file("o/l", b"l"),
    ]);
    unpack_layer(&lower[..], root, &opts).unwrap();
    let upper = raw_tar(&[
        raw("o/", EntryType::Directory),
        raw("o/sub/", EntryType::Directory),
        raw_file("o/sub/new", b"n"),
        raw_file("o/.wh..wh..opq", b""),
    ]);
    unpack_layer(&upper[..], root, &opts).unwrap();
    assert!(exists(root.join("o/sub/new")));
    assert!(
        !exists(root.join("o/sub/lower")),
        "lower entry in a same-layer dir"
    );
    assert!(!exists(root.join("o/l")));

    // A whiteout after a same-layer entry of that name does not delete it.
    let same = raw_tar(&[raw_file("same", b"new"), raw_file(".wh.same", b"")]);
    unpack_layer(&same[..], root, &opts).unwrap();
    assert_eq!(fs::read(root.join("same")).unwrap(), b"new");
    assert!(!exists(root.join(".wh.same")));
}

#[test]
fn overlay_mode_records_whiteout_devices_and_opaque_xattrs() {
    require_root!();
    let tmp = TempDir::new().unwrap();
    let root = tmp.path();
    let opts = UnpackOptions {
        whiteouts: WhiteoutMode::Overlay,
    };
    unpack_layer(&tar_of(&upper_entries())[..], root, &opts).unwrap();
    for wh in ["a/gone", "b"] {
        let md = fs::symlink_metadata(root.join(wh)).unwrap();
        assert!(md.file_type().is_char_device(), "{wh}");
        assert_eq!(md.rdev(), 0, "{wh}: 0/0 device");
    }
    assert_eq!(
        xattr(&root.join("c"), "trusted.overlay.opaque"),
        Some(b"y".to_vec())
    );
    assert!(exists(root.join("c/new")));
    assert!(!exists(root.join("c/.wh..wh..opq")));

    // The overlay form reads back as the same whiteouts.
    let entries = entries_from_dir(root, &ScanOptions::default()).unwrap();
    let kinds: Vec<(PathBuf, &EntryKind)> = entries
        .iter()
        .filter(|e| matches!(e.kind, EntryKind::Whiteout | EntryKind::OpaqueDir))
        .map(|e| (e.path.clone(), &e.kind))
        .collect();
    assert_eq!(
        kinds,
        [
            (PathBuf::from("a/gone"), &EntryKind::Whiteout),
            (PathBuf::from("b"), &EntryKind::Whiteout),
            (PathBuf::from("c"), &EntryKind::OpaqueDir),
        ]
    );
}

#[test]
fn replacing_entries_never_writes_through_existing_links() {
    let sb = Sandbox::new();
    let dest = sb.dest();
    // The tree holds a symlink and a hard link to a file outside dest (as a
    // careless lower layer or the host might); replacing them must not write
    // through either.
    std::os::unix::fs::symlink(sb.outside().join("secret"), dest.join("s")).unwrap();
    fs::hard_link(sb.outside().join("secret"), dest.join("h")).unwrap();
    let layer = raw_tar(&[raw_file("s", b"replaced"), raw_file("h", b"replaced")]);
    unpack_layer(&layer[..], &dest, &UnpackOptions::default()).unwrap();
    for name in ["s", "h"] {
        assert_eq!(fs::read(dest.join(name)).unwrap(), b"replaced");
        assert!(fs::symlink_metadata(dest.join(name)).unwrap().is_file());
    }
    sb.assert_outside_untouched();
}
