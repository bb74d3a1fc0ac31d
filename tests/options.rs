//! Every option rbuild accepts does what it says, or is refused with a clear
//! error (issue 10): `--output` compression keys, `COPY --link`, and the
//! options not implemented yet (`oci-mediatypes=false`,
//! `compression-level`). `--security=insecure` is in `escape.rs`, git
//! sources in `git_add.rs`.

use std::io::Read;
use std::process::{Command, Stdio};

#[path = "common/busybox_store.rs"]
mod busybox_store;
use busybox_store::{Setup, RBUILD};

/// The layer media types of the (single) image in an OCI archive.
fn layer_types(archive: &std::path::Path) -> Vec<String> {
    let mut files = std::collections::BTreeMap::new();
    let mut tar = tar::Archive::new(std::fs::File::open(archive).expect("archive"));
    for entry in tar.entries().expect("entries") {
        let mut entry = entry.expect("entry");
        let name = entry.path().expect("path").to_string_lossy().into_owned();
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).expect("read");
        files.insert(name, bytes);
    }
    let json = |name: &str| -> serde_json::Value {
        serde_json::from_slice(&files[name]).unwrap_or_else(|e| panic!("{name}: {e}"))
    };
    let blob = |digest: &str| format!("blobs/sha256/{}", digest.trim_start_matches("sha256:"));
    let index = json("index.json");
    let manifest = json(&blob(
        index["manifests"][0]["digest"].as_str().expect("digest"),
    ));
    manifest["layers"]
        .as_array()
        .expect("layers")
        .iter()
        .map(|l| l["mediaType"].as_str().expect("type").to_string())
        .collect()
}

const ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";
const GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";

#[test]
fn output_compression_keys_are_honoured() {
    let Some(s) = Setup::new() else { return };
    let dockerfile = "FROM localhost/busybox:latest\nCOPY f /f\n";
    let out = s.dir.path().join("zstd.tar");
    let spec = format!("type=oci,dest={},compression=zstd", out.display());
    s.build_context(
        "zstd",
        dockerfile,
        &[("f", "x\n")],
        &["--output", &spec],
        true,
    );
    // The base layer is stored uncompressed, so both become zstd.
    assert_eq!(layer_types(&out), [ZSTD, ZSTD]);

    // A base already gzip keeps its blob, unless compression is forced.
    let gz = s.dir.path().join("gzip.tar");
    let spec = format!("type=oci,dest={}", gz.display());
    s.build_context(
        "gzip",
        dockerfile,
        &[("f", "x\n")],
        &["--output", &spec],
        true,
    );
    let load = Command::new(RBUILD)
        .args([
            "load",
            "--root",
            &s.store(),
            "-i",
            gz.to_str().expect("utf-8"),
        ])
        .output()
        .expect("load");
    assert!(
        load.status.success(),
        "{}",
        String::from_utf8_lossy(&load.stderr)
    );
    let name = "localhost/test/gzip:latest";
    let onto = format!("FROM {name}\nCOPY g /g\n");
    let kept = s.dir.path().join("kept.tar");
    let spec = format!("type=oci,dest={},compression=zstd", kept.display());
    s.build_context("kept", &onto, &[("g", "y\n")], &["--output", &spec], true);
    assert_eq!(
        layer_types(&kept)[..2],
        [GZIP, GZIP],
        "gzip base layers kept"
    );
    let forced = s.dir.path().join("forced.tar");
    let spec = format!(
        "type=oci,dest={},compression=zstd,force-compression=true",
        forced.display()
    );
    s.build_context("forced", &onto, &[("g", "y\n")], &["--output", &spec], true);
    assert_eq!(layer_types(&forced), [ZSTD, ZSTD, ZSTD]);
}

#[test]
fn options_not_implemented_are_refused_with_a_clear_error() {
    let Some(s) = Setup::new() else { return };
    let base = "FROM localhost/busybox:latest\n";
    for (name, dockerfile, extra, code, says) in [
        (
            "mediatypes",
            format!("{base}COPY f /f\n"),
            vec![
                "--output",
                "type=oci,dest=/tmp/never.tar,oci-mediatypes=false",
            ],
            2,
            "oci-mediatypes=false",
        ),
        (
            "level",
            format!("{base}COPY f /f\n"),
            vec![
                "--output",
                "type=oci,dest=/tmp/never.tar,compression-level=3",
            ],
            2,
            "compression-level",
        ),
    ] {
        let (out, _) = s.build_context(name, &dockerfile, &[("f", "x\n")], &extra, false);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{name}: {err}");
        assert!(err.contains(says), "{name}: {err}");
    }
}

#[test]
fn copy_link_makes_a_layer_that_ignores_what_is_below() {
    let Some(s) = Setup::new() else { return };
    // /dest is a symlink in the base: COPY follows it, COPY --link does not.
    let dockerfile = "FROM localhost/busybox:latest\n\
                      RUN mkdir /other && ln -s /other /dest && mkdir -p /owned && chown 1000:1000 /owned\n\
                      COPY f /dest/plain\n\
                      COPY --link f /dest/linked\n\
                      COPY --link f /owned/file\n";
    let (_, root) = s.build_context("link", dockerfile, &[("f", "x\n")], &[], true);
    assert!(
        root.join("other/plain").is_file(),
        "COPY writes through the link"
    );
    assert!(
        !root.join("other/linked").exists(),
        "--link never looks at the link"
    );
    let dest = std::fs::symlink_metadata(root.join("dest")).expect("dest");
    assert!(dest.is_dir(), "--link's layer holds a real /dest directory");
    assert!(root.join("dest/linked").is_file());
    use std::os::unix::fs::MetadataExt;
    let owned = std::fs::metadata(root.join("owned")).expect("owned");
    assert_eq!(owned.uid(), 0, "--link makes parents anew (root, 0755)");
}

#[test]
fn inspect_into_a_closed_pipe_ends_quietly() {
    let Some(s) = Setup::new() else { return };
    // Far more than a pipe holds, so the writer meets the closed pipe.
    let store = s.store();
    let mut args = vec!["inspect", "--root", &store];
    args.extend(std::iter::repeat_n("localhost/busybox:latest", 300));
    let mut child = Command::new(RBUILD)
        .args(&args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("rbuild");
    let mut first = [0u8; 10];
    child
        .stdout
        .take()
        .expect("stdout")
        .read_exact(&mut first)
        .expect("read");
    // The reader is gone now (stdout dropped).
    let out = child.wait_with_output().expect("wait");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert_ne!(out.status.code(), Some(101), "{err}");
}
