//! Any bytes as a layer tar: the safe unpacker must never panic and never
//! write outside its destination (checked with a sibling sentinel directory).
#![no_main]

use libfuzzer_sys::fuzz_target;
use rbuild::layer::{unpack_layer, UnpackOptions, WhiteoutMode};

fuzz_target!(|data: &[u8]| {
    let Ok(dir) = tempfile::tempdir() else { return };
    let dest = dir.path().join("root");
    let outside = dir.path().join("outside");
    if std::fs::create_dir(&dest).is_err() || std::fs::create_dir(&outside).is_err() {
        return;
    }
    for whiteouts in [WhiteoutMode::Apply, WhiteoutMode::Overlay] {
        let _ = unpack_layer(data, &dest, &UnpackOptions { whiteouts });
    }
    let escaped = std::fs::read_dir(dir.path()).map(|d| d.count()).unwrap_or(0);
    assert_eq!(escaped, 2, "an entry was written next to the destination");
    assert_eq!(std::fs::read_dir(&outside).map(|d| d.count()).unwrap_or(0), 0);
});
