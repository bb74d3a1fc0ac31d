//! `rbuild prune`, `du` and `check [--repair]` on a temporary store, with
//! images built by the rbuild binary from `FROM scratch` + `COPY`.

use serde_json::Value;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rbuild"))
        .args(args)
        .output()
        .expect("rbuild runs")
}

fn rbuild(args: &[&str]) -> Output {
    let out = run(args);
    assert!(
        out.status.success(),
        "rbuild {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

struct Env {
    _dir: tempfile::TempDir,
    work: PathBuf,
    root: String,
}

impl Env {
    fn new() -> Env {
        let dir = tempfile::tempdir().expect("tempdir");
        let work = dir.path().to_path_buf();
        let root = work.join("store").to_string_lossy().into_owned();
        Env {
            _dir: dir,
            work,
            root,
        }
    }

    /// Builds `FROM scratch` + `COPY <name>.txt` tagged `localhost/<name>:1`;
    /// returns the progress output.
    fn build(&self, name: &str) -> String {
        let ctx = self.work.join(format!("ctx-{name}"));
        // Written once: a rebuild must see the same files, mtimes included
        // (COPY keeps them), or "rebuilt identically" depends on the clock.
        if !ctx.exists() {
            std::fs::create_dir_all(&ctx).expect("ctx");
            std::fs::write(ctx.join(format!("{name}.txt")), format!("{name}\n")).expect("write");
            let dockerfile = format!("FROM scratch\nCOPY {name}.txt /{name}.txt\n");
            std::fs::write(ctx.join("Dockerfile"), dockerfile).expect("write");
        }
        let tag = format!("localhost/{name}:1");
        let ctx = ctx.to_string_lossy().into_owned();
        let out = rbuild(&[
            "build",
            "--root",
            &self.root,
            "--progress",
            "plain",
            "-t",
            &tag,
            &ctx,
        ]);
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    fn cmd(&self, args: &[&str]) -> Output {
        let mut all = args.to_vec();
        all.extend_from_slice(&["--root", &self.root]);
        run(&all)
    }

    fn blob_path(&self, digest: &str) -> PathBuf {
        let hex = digest.strip_prefix("sha256:").expect("sha256 digest");
        Path::new(&self.root).join("blobs/sha256").join(hex)
    }

    /// Manifest, config and layer blob digests of a tagged image.
    fn image_blobs(&self, name: &str) -> Vec<String> {
        let out = self.cmd(&["inspect", &format!("localhost/{name}:1")]);
        assert!(out.status.success(), "inspect {name}");
        let info: Value = serde_json::from_slice(&out.stdout).expect("inspect json");
        let manifest = info[0]["ManifestDigest"]
            .as_str()
            .expect("digest")
            .to_string();
        let bytes = std::fs::read(self.blob_path(&manifest)).expect("manifest blob");
        let parsed: Value = serde_json::from_slice(&bytes).expect("manifest json");
        let mut blobs = vec![
            manifest,
            parsed["config"]["digest"].as_str().unwrap().into(),
        ];
        for layer in parsed["layers"].as_array().expect("layers") {
            blobs.push(layer["digest"].as_str().expect("layer digest").into());
        }
        blobs
    }
}

#[test]
fn prune_removes_only_unreachable_blobs_and_the_cache_survives() {
    let env = Env::new();
    env.build("a");
    env.build("b");
    let a = env.image_blobs("a");
    let b = env.image_blobs("b");
    assert!(b.iter().all(|d| !a.contains(d)), "the images share no blob");
    assert!(env.cmd(&["rmi", "localhost/a:1"]).status.success());

    let out = env.cmd(&["prune"]);
    assert!(out.status.success());
    let text = stdout(&out);
    assert!(text.contains("Total reclaimed space: "), "{text}");
    // a's manifest and config are gone; its layer stays, named by the cache.
    for d in &a[..2] {
        assert!(!env.blob_path(d).exists(), "{d} pruned:\n{text}");
        assert!(text.contains(&format!("Deleted blob: {d}")), "{text}");
    }
    assert!(env.blob_path(&a[2]).exists(), "a's layer kept by the cache");
    for d in &b {
        assert!(env.blob_path(d).exists(), "{d} of b kept:\n{text}");
    }
    let again = env.build("b");
    assert!(again.contains("CACHED"), "rebuild is cached:\n{again}");
    assert_eq!(env.image_blobs("b"), b);

    let out = env.cmd(&["prune", "--all"]);
    assert!(out.status.success());
    let text = stdout(&out);
    assert!(text.contains("Total reclaimed space: "), "{text}");
    assert!(!env.blob_path(&a[2]).exists(), "a's layer pruned by --all");
    for d in &b {
        assert!(env.blob_path(d).exists(), "{d} of b kept by its tag");
    }
    let cache = Path::new(&env.root).join("records/cache");
    let left = std::fs::read_dir(&cache).map_or(0, |d| d.count());
    assert_eq!(left, 0, "--all drops the cache records");
    env.build("b");
    env.build("a");
    // `--all` also forgot when b was first built, so its config may carry a
    // new `created` time (as after `docker builder prune -a`); the layer
    // does not depend on the clock.
    assert_eq!(
        env.image_blobs("b")[2],
        b[2],
        "b's layer rebuilt identically"
    );
    assert_eq!(env.image_blobs("a")[2], a[2], "a's layer rebuilt");
}

#[test]
fn du_prints_a_total() {
    let env = Env::new();
    env.build("a");
    let out = env.cmd(&["du"]);
    assert!(out.status.success());
    let text = stdout(&out);
    let total = text
        .lines()
        .find(|l| l.starts_with("total"))
        .unwrap_or_else(|| panic!("no total row:\n{text}"));
    let blobs = text
        .lines()
        .find(|l| l.starts_with("blobs"))
        .expect("blobs");
    assert!(!blobs.trim_end().ends_with(" 0B"), "blobs counted:\n{text}");
    assert!(!total.trim_end().ends_with(" 0B"), "total counted:\n{text}");
}

#[test]
fn check_reports_and_repairs_corrupt_blobs_and_dangling_tags() {
    let env = Env::new();
    env.build("a");
    env.build("b");
    let out = env.cmd(&["check"]);
    assert_eq!(out.status.code(), Some(0), "healthy:\n{}", stdout(&out));

    let a = env.image_blobs("a");
    let b = env.image_blobs("b");
    let config = env.blob_path(&a[1]);
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    std::fs::write(&config, b"{\"tampered\":true}").expect("overwrite");
    std::fs::remove_file(env.blob_path(&b[0])).expect("delete manifest");

    let out = env.cmd(&["check"]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "problems found:\n{text}");
    assert!(
        text.contains(&format!("corrupt blob: blob {}", a[1])),
        "{text}"
    );
    assert!(text.contains("dangling tag localhost/b:1"), "{text}");
    assert!(text.contains(&b[0]), "names the missing manifest:\n{text}");
    assert!(text.contains("dangling tag localhost/a:1"), "{text}");

    let out = env.cmd(&["check", "--repair"]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "repaired:\n{text}");
    assert!(
        text.contains(&format!("removed corrupt blob {}", a[1])),
        "{text}"
    );
    assert!(text.contains("removed tag localhost/b:1"), "{text}");
    assert!(!config.exists());
    let out = env.cmd(&["check"]);
    assert_eq!(out.status.code(), Some(0), "clean:\n{}", stdout(&out));
    let images = stdout(&env.cmd(&["images"]));
    assert!(!images.contains("localhost/b"), "{images}");
    env.build("a");
    assert!(env.cmd(&["check"]).status.success());
}

#[test]
fn inspect_gives_dockers_fields_and_formats_them() {
    let env = Env::new();
    env.build("a");
    assert!(env
        .cmd(&["tag", "localhost/a:1", "localhost:5000/team/a:2"])
        .status
        .success());
    let out = env.cmd(&["inspect", "localhost/a:1"]);
    assert!(out.status.success());
    let json: Value = serde_json::from_slice(&out.stdout).expect("inspect JSON");
    let image = &json[0];
    let manifest = env.image_blobs("a")[0].clone();
    assert_eq!(image["Id"], env.image_blobs("a")[1].as_str());
    assert_eq!(
        image["RepoTags"],
        serde_json::json!(["localhost/a:1", "localhost:5000/team/a:2"])
    );
    assert_eq!(image["RepoDigests"][0], format!("localhost/a@{manifest}"));
    assert_eq!(image["RootFS"]["Type"], "layers");
    assert!(image["Size"].as_u64().unwrap() > 0);
    let out = env.cmd(&[
        "inspect",
        "--format",
        "{{.Id}}|{{index .RepoDigests 1}}|{{json .RootFS.Layers}}|{{range .RepoTags}}<{{.}}>{{end}}",
        "localhost/a:1",
    ]);
    let text = stdout(&out);
    let layers = serde_json::to_string(&image["RootFS"]["Layers"]).unwrap();
    assert_eq!(
        text.trim_end(),
        format!(
            "{}|localhost:5000/team/a@{manifest}|{layers}|<localhost/a:1><localhost:5000/team/a:2>",
            image["Id"].as_str().unwrap()
        )
    );
    let out = env.cmd(&["inspect", "--format", "{{.Id", "localhost/a:1"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unclosed {{"));
}

#[test]
fn import_with_source_date_epoch_gives_the_same_image_twice() {
    let env = Env::new();
    let tarball = env.work.join("rootfs.tar");
    let mut builder = tar::Builder::new(std::fs::File::create(&tarball).unwrap());
    let mut header = tar::Header::new_gnu();
    header.set_size(3);
    header.set_mode(0o644);
    header.set_cksum();
    builder
        .append_data(&mut header, "hello", &b"hi\n"[..])
        .unwrap();
    builder.finish().unwrap();
    let tarball = tarball.to_string_lossy().into_owned();
    let import = |name: &str| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_rbuild"))
            .args(["import", "--root", &env.root, &tarball, name])
            .env("SOURCE_DATE_EPOCH", "1700000000")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout(&out)
    };
    let first = import("localhost/imported:1");
    std::thread::sleep(std::time::Duration::from_millis(1100));
    assert_eq!(import("localhost/imported:2"), first);
}
