//! Manifest, index and config JSON as registries and archives hand them
//! over, and image references as users type them: any bytes must be refused
//! cleanly, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oci_spec::image::{ImageIndex, ImageManifest};
use rbuild::image::{choose_platform, ImageConfig, Platform};
use rbuild::registry::Reference;

fuzz_target!(|data: &[u8]| {
    if let Ok(index) = serde_json::from_slice::<ImageIndex>(data) {
        let _ = choose_platform(&index, &Platform::host(), "fuzz");
    }
    let _ = serde_json::from_slice::<ImageManifest>(data);
    if let Ok(config) = serde_json::from_slice::<ImageConfig>(data) {
        let _ = config.env_value("PATH");
        let _ = serde_json::to_vec(&config);
    }
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(reference) = Reference::parse(text) {
            // What parses prints back to something that parses the same.
            let again = Reference::parse(&reference.to_string()).expect("round trip");
            assert_eq!(again, reference);
        }
    }
});
