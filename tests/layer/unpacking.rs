//! Unpacking: malicious layers are rejected, whiteouts applied or recorded.

use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use rbuild::layer::{unpack_layer, EntryKind, LayerEntry, LayerError, UnpackOptions, WhiteoutMode};
use rbuild::snapshot::{entries_from_dir, ScanOptions};
use tar::EntryType;
use tempfile::TempDir;

use super::fixtures::*;

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
        donor: None,
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

/// A tar header block with a valid checksum.
fn header_block(name: &str, kind: u8, size: u64) -> [u8; 512] {
    let mut h = tar::Header::new_ustar();
    h.set_path(name).unwrap();
    h.set_entry_type(EntryType::new(kind));
    h.set_size(size);
    h.set_mode(0o644);
    h.set_cksum();
    *h.as_bytes()
}

#[test]
fn huge_extension_headers_are_refused_before_they_are_read() {
    let sb = Sandbox::new();
    for kind in [b'x', b'L'] {
        // A header claiming 4 GiB of PAX records (or a 4 GiB long name);
        // the tar parser would read it all into memory.
        let mut bytes = header_block("././@PaxHeader", kind, 4 << 30).to_vec();
        bytes.extend(std::iter::repeat_n(b'a', 64 * 1024));
        let err = expect_rejected(&sb, &bytes, |e| matches!(e, LayerError::ReadArchive { .. }));
        let text = err.to_string();
        assert!(
            text.contains("extension header") && text.contains("4294967296"),
            "{text}"
        );
    }
    // Extension headers of ordinary sizes still work (a long path).
    let long = format!("{}file", "directory/".repeat(30));
    let entries = [file(&long, b"x")];
    unpack_layer(&tar_of(&entries)[..], &sb.dest(), &UnpackOptions::default()).unwrap();
    assert!(sb.dest().join(&long).is_file());
}

#[test]
fn truncated_and_corrupt_compressed_layers_are_refused() {
    use rbuild::layer::{decompressor, Compression};
    use std::io::Write;
    let entries: Vec<LayerEntry> = (0..50)
        .map(|i| file(&format!("f{i}"), &[b'z'; 4096]))
        .collect();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&tar_of(&entries)).unwrap();
    let gz = gz.finish().unwrap();
    for (what, bytes) in [
        ("truncated", gz[..gz.len() / 2].to_vec()),
        ("corrupt", {
            let mut b = gz.clone();
            let middle = b.len() / 2;
            b[middle..middle + 16].fill(0xff);
            b
        }),
    ] {
        let sb = Sandbox::new();
        let stream = decompressor(&bytes[..], Compression::Gzip).unwrap();
        let err = unpack_layer(stream, &sb.dest(), &UnpackOptions::default())
            .expect_err(what)
            .to_string();
        assert!(err.contains("reading layer tar"), "{what}: {err}");
        sb.assert_outside_untouched();
    }
}
