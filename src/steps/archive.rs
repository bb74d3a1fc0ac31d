//! ADD's archive extraction: a local tar (plain, gzip, bzip2, xz or zstd by
//! content, not by name) is unpacked into the destination directory. The
//! archive is unpacked safely into a temp dir of the store, then its tree
//! becomes layer entries under the destination.

use super::entry_plan::EntryPlan;
use crate::layer::{
    decompressor, detect_compression, unpack_layer, EntryKind, SpaceBudget, UnpackOptions,
    WhiteoutMode,
};
use crate::snapshot::{entries_from_dir, ScanOptions};
use crate::solver::BuildError;
use crate::store::{Store, TempDir};
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

const TAR_MAGIC_OFFSET: usize = 257;

/// Whether the first 512 bytes are a tar header (`ustar` magic, or a valid
/// old-style header checksum).
fn looks_like_tar(header: &[u8]) -> bool {
    if header.len() < 512 {
        return false;
    }
    if &header[TAR_MAGIC_OFFSET..TAR_MAGIC_OFFSET + 5] == b"ustar" {
        return true;
    }
    let stored = std::str::from_utf8(&header[148..156])
        .ok()
        .and_then(|s| u32::from_str_radix(s.trim_matches(|c: char| c == '\0' || c == ' '), 8).ok());
    let computed: u32 = header
        .iter()
        .enumerate()
        .map(|(i, &b)| {
            if (148..156).contains(&i) {
                u32::from(b' ')
            } else {
                u32::from(b)
            }
        })
        .sum();
    stored == Some(computed)
}

/// bzip2 streams start with `BZh` and the block size digit.
const BZIP2_MAGIC: &[u8] = b"BZh";
/// xz streams start with `FD 37 7A 58 5A 00` (`\xFD7zXZ\0`).
const XZ_MAGIC: &[u8] = &[0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00];

/// Opens `path` decompressed. Layers only ever use gzip and zstd, so those
/// come from `crate::layer`; ADD also takes bzip2 and xz, as BuildKit does,
/// and those two are recognised here.
fn open_decompressed(path: &Path) -> Result<Box<dyn Read>, BuildError> {
    let file = std::fs::File::open(path).map_err(BuildError::io(path))?;
    let mut reader = BufReader::new(file);
    let head = reader.fill_buf().map_err(BuildError::io(path))?;
    if head.starts_with(BZIP2_MAGIC) {
        return Ok(Box::new(bzip2::read::MultiBzDecoder::new(reader)));
    }
    if head.starts_with(XZ_MAGIC) {
        return Ok(Box::new(lzma_rust2::XzReader::new(reader, true)));
    }
    let compression = detect_compression(head);
    Ok(decompressor(reader, compression)?)
}

/// Unpacks `path` into a fresh temp dir when it is a tar archive.
pub fn extract_if_archive(store: &Store, path: &Path) -> Result<Option<TempDir>, BuildError> {
    let mut stream = open_decompressed(path)?;
    let mut header = vec![0u8; 512];
    let mut filled = 0;
    while filled < header.len() {
        match stream.read(&mut header[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            // Not decodable as the detected compression: not an archive.
            Err(_) => return Ok(None),
        }
    }
    if !looks_like_tar(&header[..filled]) {
        return Ok(None);
    }
    let temp = store.temp_dir()?;
    let stream = SpaceBudget::new(
        open_decompressed(path)?,
        temp.path(),
        format!("archive {}", path.display()),
    );
    let opts = UnpackOptions {
        whiteouts: WhiteoutMode::Apply,
        donor: None,
    };
    unpack_layer(stream, temp.path(), &opts)?;
    Ok(Some(temp))
}

/// Adds the extracted tree under `target` (a directory).
pub fn add_extracted(
    dir: &Path,
    target: &Path,
    owner: Option<(u32, u32)>,
    plan: &mut EntryPlan,
) -> Result<(), BuildError> {
    // The destination directory itself comes from the image or is created
    // like any missing parent (see `EntryPlan::finish`).
    let target_rel = target.strip_prefix("/").unwrap_or(target);
    plan.require_dir(target_rel.to_path_buf());
    for mut entry in entries_from_dir(dir, &ScanOptions::default())? {
        entry.path = target_rel.join(&entry.path);
        // A hard link names its target inside the archive: rebase it too.
        if let EntryKind::HardLink { target } = &mut entry.kind {
            *target = target_rel.join(&*target);
        }
        if let Some((uid, gid)) = owner {
            entry.uid = uid;
            entry.gid = gid;
        }
        plan.add(entry);
    }
    Ok(())
}
