//! Unpacking onto an earlier snapshot's files: identical files are linked from
//! the donor, everything else is written, and the result is the same tree.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use rbuild::layer::{
    unpack_layer, EntryKind, LayerEntry, UnpackOptions, UnpackStats, WhiteoutMode,
};
use rbuild::snapshot::{entries_from_dir, ScanOptions};
use tempfile::TempDir;

use super::fixtures::*;

const T: i64 = 1_700_000_000;

fn at(e: LayerEntry) -> LayerEntry {
    with(e, 0o644, 0, 0, T)
}

/// 300 KiB, so a difference in its last byte lies past the first chunks.
fn big(last: u8) -> Vec<u8> {
    let mut bytes: Vec<u8> = (0..300 * 1024).map(|i| (i % 251) as u8).collect();
    *bytes.last_mut().unwrap() = last;
    bytes
}

fn unpack(tar: &[u8], dest: &Path, donor: Option<&Path>) -> UnpackStats {
    fs::create_dir_all(dest).unwrap();
    let opts = UnpackOptions {
        whiteouts: WhiteoutMode::Overlay,
        donor: donor.map(Path::to_path_buf),
    };
    unpack_layer(tar, dest, &opts).unwrap()
}

/// The tree's entries with their metadata, content digests and hard links.
fn listing(dir: &Path) -> Vec<String> {
    let entries = entries_from_dir(dir, &ScanOptions::default()).unwrap();
    entries
        .iter()
        .map(|e| {
            let kind = match &e.kind {
                EntryKind::File { size, .. } => {
                    format!(
                        "file {size} {}",
                        sha256(&fs::read(dir.join(&e.path)).unwrap())
                    )
                }
                other => format!("{other:?}"),
            };
            let (path, mode, uid, gid, mtime) = (e.path.display(), e.mode, e.uid, e.gid, e.mtime);
            format!("{path} {kind} {mode:o} {uid}:{gid} {mtime}")
        })
        .collect()
}

fn ino(path: PathBuf) -> u64 {
    fs::symlink_metadata(path).unwrap().ino()
}

#[test]
fn unchanged_files_are_linked_from_the_donor_and_the_rest_written() {
    require_root!();
    let tmp = TempDir::new().unwrap();
    let (old, new, plain) = (
        tmp.path().join("old"),
        tmp.path().join("new"),
        tmp.path().join("plain"),
    );
    let before = tar_of(&[
        at(dir("d")),
        at(file("d/same", b"same bytes")),
        at(file("d/edited", b"version 1")),
        at(file("d/big", &big(1))),
        at(file("d/mode", b"mode")),
        at(file("d/twin", b"twin")),
        at(hard_link("d/twin2", "d/twin")),
    ]);
    let after = tar_of(&[
        at(dir("d")),
        at(file("d/same", b"same bytes")),
        at(file("d/edited", b"version 2")),
        at(file("d/big", &big(2))),
        with(file("d/mode", b"mode"), 0o600, 0, 0, T),
        // Separate files now: they must not end up sharing the donor's inode.
        at(file("d/twin", b"twin")),
        at(file("d/twin2", b"twin")),
    ]);
    unpack(&before, &old, None);
    let stats = unpack(&after, &new, Some(&old));
    unpack(&after, &plain, None);

    assert_eq!(
        listing(&new),
        listing(&plain),
        "same tree with or without a donor"
    );
    assert_eq!(stats.reused, 2, "d/same and d/twin are linked");
    assert_eq!(ino(new.join("d/same")), ino(old.join("d/same")));
    assert_eq!(ino(new.join("d/twin")), ino(old.join("d/twin")));
    for changed in ["d/edited", "d/big", "d/mode", "d/twin2"] {
        assert_ne!(ino(new.join(changed)), ino(old.join(changed)), "{changed}");
    }
    assert_eq!(fs::read(new.join("d/big")).unwrap(), big(2));
    assert_eq!(
        fs::read(old.join("d/edited")).unwrap(),
        b"version 1",
        "donor untouched"
    );
}

#[test]
fn a_symlink_in_the_donor_is_never_followed() {
    require_root!();
    let tmp = TempDir::new().unwrap();
    let (outside, old, new) = (
        tmp.path().join("outside"),
        tmp.path().join("old"),
        tmp.path().join("new"),
    );
    // A file outside the donor with exactly the member's metadata and bytes.
    unpack(&tar_of(&[at(file("f", b"bytes"))]), &outside, None);
    let target = outside.display().to_string();
    unpack(&tar_of(&[at(symlink("d", &target))]), &old, None);
    let stats = unpack(
        &tar_of(&[at(dir("d")), at(file("d/f", b"bytes"))]),
        &new,
        Some(&old),
    );
    assert_eq!(stats.reused, 0);
    assert_ne!(ino(new.join("d/f")), ino(outside.join("f")));
    assert_eq!(fs::read(new.join("d/f")).unwrap(), b"bytes");
}
