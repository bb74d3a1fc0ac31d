//! End-to-end builds without RUN: a base image made here as an OCI layout,
//! fixtures built with the rbuild binary, every export format read back with
//! digests re-verified, and (where installed) checked by skopeo, umoci and
//! oci-image-tool.

#[path = "common/skip.rs"]
mod skip;
use rbuild::layer::{
    unpack_layer, write_layer_compressed, Compression, EntryKind, FileSource, LayerEntry,
    UnpackOptions, WhiteoutMode, WriteOptions,
};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::io::Read;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn entry(path: &str, kind: EntryKind, mode: u32) -> LayerEntry {
    LayerEntry {
        path: path.into(),
        kind,
        mode,
        uid: 0,
        gid: 0,
        mtime: 1_600_000_000,
        xattrs: Vec::new(),
    }
}

fn file(path: &str, content: &str) -> LayerEntry {
    let bytes = content.as_bytes().to_vec();
    entry(
        path,
        EntryKind::File {
            size: bytes.len() as u64,
            source: FileSource::Bytes(bytes),
        },
        0o644,
    )
}

fn put_blob(layout: &Path, bytes: &[u8]) -> (String, u64) {
    let hex = hex::encode(Sha256::digest(bytes));
    std::fs::write(layout.join("blobs/sha256").join(&hex), bytes).expect("write blob");
    (format!("sha256:{hex}"), bytes.len() as u64)
}

/// A small base image: /etc/passwd and /etc/group with an `app` user and a
/// `staff` group, /bin, /var/srv and a symlink /srv -> var/srv.
fn make_base(dir: &Path) -> PathBuf {
    let layout = dir.join("base");
    std::fs::create_dir_all(layout.join("blobs/sha256")).expect("layout dirs");
    let entries = vec![
        entry("bin", EntryKind::Dir, 0o755),
        entry("etc", EntryKind::Dir, 0o755),
        file(
            "etc/passwd",
            "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\nsvc:x:1001:50::/:/bin/sh\n",
        ),
        file("etc/group", "root:x:0:\napp:x:1000:\nstaff:x:50:app\n"),
        entry("var", EntryKind::Dir, 0o755),
        entry("var/srv", EntryKind::Dir, 0o750),
        entry(
            "srv",
            EntryKind::Symlink {
                target: "var/srv".into(),
            },
            0o777,
        ),
    ];
    let mut blob = Vec::new();
    let (layer, compressed) = write_layer_compressed(
        &entries,
        Compression::Gzip,
        &mut blob,
        &WriteOptions::default(),
    )
    .expect("layer");
    let (layer_digest, layer_size) = put_blob(&layout, &blob);
    assert_eq!(layer_digest, compressed.digest);
    let config = json!({
        "architecture": "amd64", "os": "linux",
        "config": {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"], "Cmd": ["/bin/sh"]},
        "rootfs": {"type": "layers", "diff_ids": [layer.diff_id]},
    });
    let (config_digest, config_size) =
        put_blob(&layout, &serde_json::to_vec(&config).expect("json"));
    let manifest = json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config_size},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": layer_digest, "size": layer_size}],
    });
    let (manifest_digest, manifest_size) =
        put_blob(&layout, &serde_json::to_vec(&manifest).expect("json"));
    write_index(&layout, &manifest_digest, manifest_size);
    std::fs::write(
        layout.join("oci-layout"),
        br#"{"imageLayoutVersion":"1.0.0"}"#,
    )
    .expect("oci-layout");
    layout
}

/// `index.json` naming one manifest, tagged `latest`.
fn write_index(layout: &Path, manifest_digest: &str, manifest_size: u64) {
    let index = json!({"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": manifest_digest, "size": manifest_size,
        "annotations": {"org.opencontainers.image.ref.name": "latest"}}]});
    std::fs::write(
        layout.join("index.json"),
        serde_json::to_vec(&index).expect("json"),
    )
    .expect("index");
}

fn rbuild(args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_rbuild"))
        .args(args)
        .output()
        .expect("rbuild runs");
    assert!(
        out.status.success(),
        "rbuild {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn fixture(name: &str) -> String {
    format!("{}/fixtures/build/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// An OCI layout (directory) read back: every blob re-hashed.
struct Layout {
    dir: PathBuf,
}

impl Layout {
    fn blob(&self, digest: &str) -> Vec<u8> {
        let hex = digest.strip_prefix("sha256:").expect("sha256 digest");
        let bytes = std::fs::read(self.dir.join("blobs/sha256").join(hex)).expect("blob present");
        assert_eq!(
            hex::encode(Sha256::digest(&bytes)),
            hex,
            "blob {digest} does not match its digest"
        );
        bytes
    }

    fn json(&self, digest: &str) -> Value {
        serde_json::from_slice(&self.blob(digest)).expect("blob is JSON")
    }

    fn manifest(&self) -> Value {
        let index: Value =
            serde_json::from_slice(&std::fs::read(self.dir.join("index.json")).expect("index"))
                .expect("json");
        self.json(index["manifests"][0]["digest"].as_str().expect("digest"))
    }

    /// Applies every layer into `dest`, checking diff_ids.
    fn unpack(&self, dest: &Path) -> Value {
        let manifest = self.manifest();
        let config = self.json(manifest["config"]["digest"].as_str().expect("config"));
        let layers = manifest["layers"].as_array().expect("layers");
        assert_eq!(
            layers.len(),
            config["rootfs"]["diff_ids"]
                .as_array()
                .expect("diff_ids")
                .len()
        );
        std::fs::create_dir_all(dest).expect("dest");
        for (layer, diff_id) in layers
            .iter()
            .zip(config["rootfs"]["diff_ids"].as_array().expect("ids"))
        {
            let blob = self.blob(layer["digest"].as_str().expect("digest"));
            let mut tar = Vec::new();
            match layer["mediaType"].as_str().expect("media type") {
                t if t.ends_with("+gzip") => {
                    flate2::read::GzDecoder::new(&blob[..])
                        .read_to_end(&mut tar)
                        .expect("gunzip");
                }
                t if t.ends_with(".tar") => tar = blob,
                other => panic!("unexpected layer media type {other}"),
            }
            assert_eq!(
                format!("sha256:{}", hex::encode(Sha256::digest(&tar))),
                diff_id.as_str().expect("id")
            );
            unpack_layer(
                &tar[..],
                dest,
                &UnpackOptions {
                    whiteouts: WhiteoutMode::Apply,
                    donor: None,
                },
            )
            .expect("unpack");
        }
        config
    }
}

fn extract_tar(archive: &Path, dest: &Path) {
    std::fs::create_dir_all(dest).expect("dest");
    tar::Archive::new(std::fs::File::open(archive).expect("archive"))
        .unpack(dest)
        .expect("untar");
}

fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

fn copy_meta_build(work: &Path, base: &Path, extra: &[&str]) -> Output {
    let root = work.join("store");
    let base_ref = format!("BASE=oci:{}:latest", base.display());
    let dockerfile = format!("{}/Dockerfile", fixture("copy-meta"));
    let mut args = vec![
        "build",
        "--root",
        root.to_str().expect("utf-8"),
        "--progress",
        "plain",
        "-f",
        &dockerfile,
        "--build-arg",
        &base_ref,
        "-t",
        "localhost/fixture:1",
    ];
    args.extend_from_slice(extra);
    let ctx = fixture("copy-meta");
    args.push(&ctx);
    rbuild(&args)
}

#[test]
fn copy_and_metadata_image_matches_the_dockerfile_in_every_format() {
    let work = tempfile::tempdir().expect("tempdir");
    let base = make_base(work.path());
    let oci_tar = work.path().join("image.oci.tar");
    copy_meta_build(
        work.path(),
        &base,
        &["--output", &format!("type=oci,dest={}", oci_tar.display())],
    );

    let layout = Layout {
        dir: work.path().join("oci"),
    };
    extract_tar(&oci_tar, &layout.dir);
    let rootfs = work.path().join("rootfs");
    let config = layout.unpack(&rootfs);

    let read =
        |p: &str| std::fs::read_to_string(rootfs.join(p)).unwrap_or_else(|e| panic!("{p}: {e}"));
    assert_eq!(
        read("srv/app/top.txt"),
        "top\n",
        "COPY follows the /srv symlink of the base"
    );
    assert!(rootfs.join("var/srv/app/sub/nested.txt").is_file());
    assert!(
        !rootfs.join("var/srv/app/sub/ignored.log").exists(),
        ".dockerignore applies"
    );
    assert_eq!(
        std::fs::read_link(rootfs.join("var/srv/app/link")).expect("symlink"),
        Path::new("top.txt")
    );
    let secret = std::fs::metadata(rootfs.join("var/srv/owned/secret.txt")).expect("secret");
    assert_eq!(
        (
            secret.uid(),
            secret.gid(),
            secret.permissions().mode() & 0o7777
        ),
        (1000, 50, 0o640)
    );
    assert_eq!(read("var/srv/generated.txt"), "greeting=hello\n");
    let var_srv = std::fs::metadata(rootfs.join("var/srv")).expect("var/srv");
    assert_eq!(
        var_srv.permissions().mode() & 0o7777,
        0o750,
        "an existing parent keeps its mode"
    );

    let c = &config["config"];
    assert_eq!(c["WorkingDir"], "/srv/app");
    assert_eq!(c["User"], "app");
    assert_eq!(
        c["Env"],
        json!([
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "APP_HOME=/srv/app",
            "GREETING=hello"
        ])
    );
    assert_eq!(
        c["Labels"],
        json!({"org.example.title": "fixture", "version": "1"})
    );
    assert_eq!(c["ExposedPorts"], json!({"8080/tcp": {}, "53/udp": {}}));
    assert_eq!(c["Volumes"], json!({"/data": {}}));
    assert_eq!(
        c["Healthcheck"],
        json!({"Test": ["CMD", "true"], "Interval": 30_000_000_000u64})
    );
    assert_eq!(c["StopSignal"], "SIGINT");
    assert_eq!(c["Entrypoint"], json!(["/bin/app"]));
    assert_eq!(c["Cmd"], json!(["--serve"]));
    let history = config["history"].as_array().expect("history");
    let non_empty = history
        .iter()
        .filter(|h| h["empty_layer"] != json!(true))
        .count();
    assert_eq!(
        non_empty,
        config["rootfs"]["diff_ids"].as_array().expect("ids").len(),
        "one history entry per layer"
    );

    // An identical second build is served from the cache, to a docker archive.
    let docker_tar = work.path().join("image.docker.tar");
    let again = copy_meta_build(
        work.path(),
        &base,
        &[
            "--output",
            &format!("type=docker,dest={}", docker_tar.display()),
        ],
    );
    let cached = String::from_utf8_lossy(&again.stderr)
        .matches("CACHED")
        .count();
    assert!(
        cached >= 4,
        "expected every step CACHED, got {cached}:\n{}",
        String::from_utf8_lossy(&again.stderr)
    );
    let docker_dir = work.path().join("docker");
    extract_tar(&docker_tar, &docker_dir);
    let manifest: Value = serde_json::from_slice(
        &std::fs::read(docker_dir.join("manifest.json")).expect("manifest.json"),
    )
    .expect("json");
    assert_eq!(manifest[0]["RepoTags"], json!(["localhost/fixture:1"]));
    for layer in manifest[0]["Layers"].as_array().expect("layers") {
        assert!(docker_dir.join(layer.as_str().expect("path")).is_file());
    }
    let docker_layout = Layout { dir: docker_dir };
    assert_eq!(
        docker_layout.manifest(),
        layout.manifest(),
        "same image in both archives"
    );

    // OCI layout directory and the root filesystem as a directory.
    let layout_dir = work.path().join("layout");
    let local_dir = work.path().join("local");
    copy_meta_build(
        work.path(),
        &base,
        &[
            "--output",
            &format!("type=oci,dest={},tar=false", layout_dir.display()),
            "--output",
            &format!("type=local,dest={}", local_dir.display()),
        ],
    );
    assert_eq!(
        Layout {
            dir: layout_dir.clone()
        }
        .manifest(),
        layout.manifest()
    );
    assert_eq!(
        std::fs::read_to_string(local_dir.join("var/srv/app/top.txt")).expect("local export"),
        "top\n"
    );

    if have("oci-image-tool") {
        let out = Command::new("oci-image-tool")
            .args(["validate", "--type", "image"])
            .arg(&layout_dir)
            .output()
            .expect("oci-image-tool");
        assert!(
            out.status.success(),
            "oci-image-tool: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    } else {
        skip::skip("oci-image-tool not installed");
    }
    if have("skopeo") {
        let out = Command::new("skopeo")
            .args(["inspect", "--config"])
            .arg(format!("docker-archive:{}", docker_tar.display()))
            .output()
            .expect("skopeo");
        assert!(
            out.status.success(),
            "skopeo: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let cfg: Value = serde_json::from_slice(&out.stdout).expect("json");
        assert_eq!(cfg["config"]["User"], "app");
    } else {
        skip::skip("skopeo not installed");
    }
    if have("umoci") {
        // umoci re-verifies every digest while it unpacks the layout.
        let bundle = layout_dir.with_extension("bundle");
        let index: Value = serde_json::from_slice(
            &std::fs::read(layout_dir.join("index.json")).expect("index.json"),
        )
        .expect("index JSON");
        let tag = index["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"]
            .as_str()
            .unwrap_or("latest")
            .to_string();
        let out = Command::new("umoci")
            .args(["unpack", "--image"])
            .arg(format!("{}:{tag}", layout_dir.display()))
            .arg(&bundle)
            .output()
            .expect("umoci");
        assert!(
            out.status.success(),
            "umoci: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            std::fs::read_to_string(bundle.join("rootfs/var/srv/app/top.txt"))
                .expect("umoci rootfs"),
            "top\n"
        );
    } else {
        skip::skip("umoci not installed");
    }
}

#[test]
fn add_extracts_local_archives_and_copy_does_not() {
    let work = tempfile::tempdir().expect("tempdir");
    let out = work.path().join("image");
    let root = work.path().join("store");
    let dockerfile = format!("{}/Dockerfile", fixture("add-archive"));
    rbuild(&[
        "build",
        "--root",
        root.to_str().expect("utf-8"),
        "-f",
        &dockerfile,
        "--output",
        &format!("type=oci,dest={},tar=false", out.display()),
        &fixture("add-archive"),
    ]);
    let rootfs = work.path().join("rootfs");
    Layout { dir: out }.unpack(&rootfs);
    assert_eq!(
        std::fs::read_to_string(rootfs.join("unpacked/inner/file.txt")).expect("unpacked"),
        "inner\n"
    );
    assert_eq!(
        std::fs::read_to_string(rootfs.join("unpacked/top.txt")).expect("unpacked"),
        "top\n"
    );
    assert!(rootfs.join("copied/bundle.tar.gz").is_file());
}

#[test]
fn same_source_date_epoch_gives_identical_images() {
    let work = tempfile::tempdir().expect("tempdir");
    let base = make_base(work.path());
    let mut digests = Vec::new();
    for i in 0..2 {
        let out = work.path().join(format!("img{i}"));
        let root = work.path().join(format!("store{i}"));
        let base_ref = format!("BASE=oci:{}:latest", base.display());
        let dockerfile = format!("{}/Dockerfile", fixture("copy-meta"));
        rbuild(&[
            "build",
            "--root",
            root.to_str().expect("utf-8"),
            "--no-cache",
            "-f",
            &dockerfile,
            "--build-arg",
            &base_ref,
            "--build-arg",
            "SOURCE_DATE_EPOCH=1700000000",
            "--output",
            &format!("type=oci,dest={},tar=false", out.display()),
            &fixture("copy-meta"),
        ]);
        let index = std::fs::read(out.join("index.json")).expect("index");
        digests.push(index);
        std::thread::sleep(std::time::Duration::from_millis(1100));
    }
    assert_eq!(digests[0], digests[1]);
}

#[test]
fn docker_archive_loads_into_podman_with_its_config() {
    if !have("podman") {
        skip::skip("podman not installed");
        return;
    }
    let work = tempfile::tempdir().expect("tempdir");
    let base = make_base(work.path());
    let docker_tar = work.path().join("image.docker.tar");
    copy_meta_build(
        work.path(),
        &base,
        &[
            "--output",
            &format!("type=docker,dest={}", docker_tar.display()),
        ],
    );
    let podman = |args: &[&str]| {
        Command::new("podman")
            .args([
                "--root",
                &work.path().join("pr").to_string_lossy(),
                "--runroot",
                &work.path().join("prr").to_string_lossy(),
                "--storage-driver",
                "vfs",
                "--events-backend",
                "none",
            ])
            .args(args)
            .output()
            .expect("podman runs")
    };
    let load = podman(&["load", "-i", &docker_tar.to_string_lossy()]);
    assert!(
        load.status.success(),
        "podman load: {}",
        String::from_utf8_lossy(&load.stderr)
    );
    let inspect = podman(&["image", "inspect", "localhost/fixture:1"]);
    assert!(
        inspect.status.success(),
        "podman inspect: {}",
        String::from_utf8_lossy(&inspect.stderr)
    );
    let info: Value = serde_json::from_slice(&inspect.stdout).expect("json");
    assert_eq!(info[0]["Config"]["User"], "app");
    assert_eq!(info[0]["Config"]["WorkingDir"], "/srv/app");
    assert_eq!(info[0]["Config"]["Labels"]["version"], "1");
}

#[test]
fn copy_from_stages_by_name_index_and_wildcard_and_skips_unused_stages() {
    let work = tempfile::tempdir().expect("tempdir");
    let out = work.path().join("out");
    let root = work.path().join("store");
    // The `unused` stage copies a file that does not exist: building it would fail.
    rbuild(&[
        "build",
        "--root",
        root.to_str().expect("utf-8"),
        "--output",
        &format!("type=local,dest={}", out.display()),
        &fixture("multistage"),
    ]);
    let read =
        |p: &str| std::fs::read_to_string(out.join(p)).unwrap_or_else(|e| panic!("{p}: {e}"));
    assert_eq!(read("final/a.txt"), "a\n");
    assert_eq!(read("final/more/note.txt"), "from the assets stage\n");
    assert_eq!(
        (read("glob/a.txt"), read("glob/b.txt")),
        ("a\n".to_string(), "b\n".to_string())
    );
    assert!(!out.join("never").exists());
}

#[test]
fn exclude_symbolic_chmod_and_named_contexts() {
    let work = tempfile::tempdir().expect("tempdir");
    let ctx = work.path().join("ctx");
    let other = work.path().join("other");
    std::fs::create_dir_all(ctx.join("dir/sub")).expect("dirs");
    std::fs::create_dir_all(&other).expect("dirs");
    std::fs::write(ctx.join("dir/a.txt"), "a").expect("write");
    std::fs::write(ctx.join("dir/sub/b.log"), "b").expect("write");
    std::fs::write(other.join("n.txt"), "named").expect("write");
    std::fs::write(
        ctx.join("Dockerfile"),
        "FROM scratch\nCOPY --exclude=**/*.log --chmod=u=rw,go= dir/ /d/\nCOPY --from=extra n.txt /n.txt\n",
    )
    .expect("write");
    let out = work.path().join("out");
    let root = work.path().join("store");
    rbuild(&[
        "build",
        "--root",
        root.to_str().expect("utf-8"),
        "--build-context",
        &format!("extra={}", other.display()),
        "--output",
        &format!("type=local,dest={}", out.display()),
        ctx.to_str().expect("utf-8"),
    ]);
    let mode = |p: &str| {
        std::fs::metadata(out.join(p))
            .expect(p)
            .permissions()
            .mode()
            & 0o7777
    };
    assert_eq!(mode("d/a.txt"), 0o600);
    assert_eq!(
        mode("d/sub"),
        0o600,
        "symbolic modes apply to copied directories too"
    );
    assert_eq!(
        mode("d"),
        0o755,
        "a destination directory COPY creates gets 0755"
    );
    assert!(!out.join("d/sub/b.log").exists(), "--exclude drops matches");
    assert_eq!(
        std::fs::read_to_string(out.join("n.txt")).expect("named context"),
        "named"
    );
}

#[test]
fn copy_parents_keeps_source_paths() {
    let work = tempfile::tempdir().expect("tempdir");
    let ctx = work.path().join("ctx");
    for (path, text) in [("x/y/a.txt", "a"), ("x/z/a.txt", "za"), ("x/z/b.txt", "b")] {
        std::fs::create_dir_all(ctx.join(path).parent().expect("parent")).expect("dirs");
        std::fs::write(ctx.join(path), text).expect("write");
    }
    std::fs::write(
        ctx.join("Dockerfile"),
        "FROM scratch\nCOPY --parents x/*/a.txt /p/\nCOPY --parents ./x/./z /q/\n",
    )
    .expect("write");
    let out = build_ctx_to_local(work.path(), &ctx);
    let read =
        |p: &str| std::fs::read_to_string(out.join(p)).unwrap_or_else(|e| panic!("{p}: {e}"));
    assert_eq!(read("p/x/y/a.txt"), "a");
    assert_eq!(read("p/x/z/a.txt"), "za");
    assert!(!out.join("p/x/z/b.txt").exists());
    assert_eq!(read("q/z/b.txt"), "b");
}

#[test]
fn copy_keeps_hard_links_and_xattrs_from_the_context() {
    let work = tempfile::tempdir().expect("tempdir");
    let ctx = work.path().join("ctx");
    std::fs::create_dir_all(&ctx).expect("ctx");
    std::fs::write(ctx.join("a.txt"), "linked").expect("write");
    std::fs::hard_link(ctx.join("a.txt"), ctx.join("b.txt")).expect("hard link");
    let has_xattr = Command::new("setfattr")
        .args(["-n", "user.rbuild", "-v", "kept"])
        .arg(ctx.join("a.txt"))
        .status()
        .is_ok_and(|s| s.success());
    std::fs::write(
        ctx.join("Dockerfile"),
        "FROM scratch\nCOPY . /x/\nCOPY a.txt b.txt /y/\n",
    )
    .expect("write");
    let out = build_ctx_to_local(work.path(), &ctx);
    let a = std::fs::metadata(out.join("x/a.txt")).expect("a");
    let b = std::fs::metadata(out.join("x/b.txt")).expect("b");
    assert_eq!(
        (a.ino(), a.nlink()),
        (b.ino(), 2),
        "hard links within one source stay hard links"
    );
    // As in BuildKit, files of separate sources are never linked together.
    let a = std::fs::metadata(out.join("y/a.txt")).expect("a");
    let b = std::fs::metadata(out.join("y/b.txt")).expect("b");
    assert_ne!(a.ino(), b.ino());
    if has_xattr {
        let got = Command::new("getfattr")
            .args(["--only-values", "-n", "user.rbuild"])
            .arg(out.join("x/a.txt"))
            .output()
            .expect("getfattr");
        assert_eq!(String::from_utf8_lossy(&got.stdout), "kept");
    } else {
        skip::skip("setfattr not installed; xattr part not checked");
    }
}

fn build_to_local(work: &Path, name: &str, dockerfile: &str, extra: &[&str]) -> PathBuf {
    let ctx = work.join(format!("ctx-{name}"));
    std::fs::create_dir_all(&ctx).expect("ctx");
    std::fs::write(ctx.join("f.txt"), "f").expect("write");
    std::fs::write(ctx.join("Dockerfile"), dockerfile).expect("write");
    let out = work.join(format!("out-{name}"));
    let root = work.join("store");
    let output = format!("type=local,dest={}", out.display());
    let mut args = vec![
        "build",
        "--root",
        root.to_str().expect("utf-8"),
        "--output",
        &output,
    ];
    args.extend_from_slice(extra);
    let ctx = ctx.to_string_lossy().into_owned();
    args.push(&ctx);
    rbuild(&args);
    out
}

#[test]
fn chown_by_name_uses_the_primary_group_and_bare_meta_args_keep_predefined_values() {
    let work = tempfile::tempdir().expect("tempdir");
    let base = make_base(work.path());
    let dockerfile = format!(
        "ARG TARGETARCH\nFROM oci:{}:latest\nARG TARGETARCH\nCOPY --chown=svc f.txt /svc.txt\nCOPY --chown=1234 f.txt /num.txt\nCOPY <<EOF /arch\n${{TARGETARCH}}\nEOF\n",
        base.display()
    );
    let out = build_to_local(work.path(), "chown", &dockerfile, &[]);
    let svc = std::fs::metadata(out.join("svc.txt")).expect("svc");
    assert_eq!(
        (svc.uid(), svc.gid()),
        (1001, 50),
        "a name takes its passwd group"
    );
    let num = std::fs::metadata(out.join("num.txt")).expect("num");
    assert_eq!((num.uid(), num.gid()), (1234, 1234), "a number is both ids");
    let arch = std::fs::read_to_string(out.join("arch")).expect("arch");
    assert!(
        !arch.trim().is_empty(),
        "a bare ARG TARGETARCH keeps the predefined value"
    );
}

#[test]
fn source_date_epoch_changes_are_not_served_from_cache() {
    let work = tempfile::tempdir().expect("tempdir");
    let dockerfile = "FROM scratch\nCOPY f.txt /f.txt\n";
    let plain = build_to_local(work.path(), "sde", dockerfile, &[]);
    let clamped = build_to_local(
        work.path(),
        "sde2",
        dockerfile,
        &["--build-arg", "SOURCE_DATE_EPOCH=86400"],
    );
    let mtime = |root: &Path| std::fs::metadata(root.join("f.txt")).expect("f").mtime();
    assert_eq!(
        mtime(&clamped),
        86400,
        "the clamped layer, not the cached one"
    );
    assert_ne!(mtime(&plain), 86400);
}

#[test]
fn a_base_whose_diff_ids_lie_is_rejected() {
    let work = tempfile::tempdir().expect("tempdir");
    let base = make_base(work.path());
    // Rewrite the config with a wrong diff_id, and the manifest and index
    // to match, so only the layer content contradicts the config.
    let layout = Layout { dir: base.clone() };
    let mut manifest = layout.manifest();
    let mut config = layout.json(manifest["config"]["digest"].as_str().expect("config"));
    config["rootfs"]["diff_ids"][0] = json!(format!("sha256:{}", "0".repeat(64)));
    let (config_digest, config_size) = put_blob(&base, &serde_json::to_vec(&config).expect("json"));
    manifest["config"]["digest"] = json!(config_digest);
    manifest["config"]["size"] = json!(config_size);
    let (manifest_digest, manifest_size) =
        put_blob(&base, &serde_json::to_vec(&manifest).expect("json"));
    write_index(&base, &manifest_digest, manifest_size);
    let ctx = work.path().join("ctx");
    std::fs::create_dir_all(&ctx).expect("ctx");
    std::fs::write(ctx.join("f"), "f").expect("write");
    std::fs::write(
        ctx.join("Dockerfile"),
        format!("FROM oci:{}:latest\nCOPY f /etc/f\n", base.display()),
    )
    .expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_rbuild"))
        .args([
            "build",
            "--root",
            &work.path().join("store").to_string_lossy(),
        ])
        .arg(&ctx)
        .output()
        .expect("rbuild");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("diff_id"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn onbuild_copy_from_a_stage_builds_that_stage() {
    let work = tempfile::tempdir().expect("tempdir");
    let dockerfile = "FROM scratch AS builder\nCOPY f.txt /artifact\nFROM scratch AS base\nONBUILD COPY --from=builder /artifact /from-trigger\nFROM base\n";
    let out = build_to_local(work.path(), "onbuild", dockerfile, &[]);
    assert_eq!(
        std::fs::read_to_string(out.join("from-trigger")).expect("trigger ran"),
        "f"
    );
}

/// Builds the context `ctx` (its own Dockerfile) into a store under `work`
/// and returns the exported root filesystem.
fn build_ctx_to_local(work: &Path, ctx: &Path) -> PathBuf {
    let out = work.join("out");
    let root = work.join("store");
    rbuild(&[
        "build",
        "--root",
        root.to_str().expect("utf-8"),
        "--output",
        &format!("type=local,dest={}", out.display()),
        ctx.to_str().expect("utf-8"),
    ]);
    out
}
