//! Round trip: every property written by `write_layer` survives `unpack_layer`.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use rbuild::layer::{unpack_layer, EntryKind, FileSource, LayerEntry, UnpackOptions};
use tar::EntryType;
use tempfile::TempDir;

use super::fixtures::*;

fn long_path() -> String {
    format!("long/{}/{}/file", "a".repeat(90), "b".repeat(100))
}

/// Files, directories and links with unusual modes, owners and xattrs.
fn round_trip_entries() -> Vec<LayerEntry> {
    let mut caps = with(file("d/caps", b"capable"), 0o755, 0, 0, 1_600_000_000);
    caps.xattrs = vec![
        ("user.test".into(), b"hello".to_vec()),
        ("security.capability".into(), capability_bytes()),
    ];
    let mut sticky = with(dir("d"), 0o1777, 1000, 1001, 1_500_000_000);
    sticky.xattrs = vec![("user.dir".into(), b"on a dir".to_vec())];
    let long_target = format!("/{}", "t".repeat(150));
    let mut entries = vec![
        sticky,
        with(file("d/suid", b"#!/bin/sh\n"), 0o4755, 0, 0, 1_400_000_000),
        with(file("d/sgid", b"g"), 0o2711, 0, 50, 1_400_000_001),
        caps,
        with(symlink("d/link", "suid"), 0o777, 1000, 1000, 1_300_000_000),
        symlink("d/long-link", &long_target),
        hard_link("d/zhard", "d/suid"),
        with(file(&long_path(), b"deep"), 0o600, 0, 0, 1_000_000_000),
        with(
            file("bigids", b"ids"),
            0o644,
            3_000_000,
            2_500_000,
            900_000_000,
        ),
    ];
    entries.extend(special_entries());
    entries
}

/// A fifo and devices (creating them on unpack needs root).
fn special_entries() -> Vec<LayerEntry> {
    let char_dev = EntryKind::CharDevice { major: 1, minor: 3 };
    let block_dev = EntryKind::BlockDevice {
        major: 7,
        minor: 200,
    };
    vec![
        with(
            LayerEntry::new("d/fifo", EntryKind::Fifo),
            0o640,
            7,
            8,
            1_200_000_000,
        ),
        with(
            LayerEntry::new("d/null", char_dev),
            0o666,
            0,
            0,
            1_100_000_000,
        ),
        with(
            LayerEntry::new("d/loop", block_dev),
            0o660,
            0,
            6,
            1_100_000_000,
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
