//! A temporary store holding a busybox base image (`localhost/busybox:latest`,
//! made from Debian's busybox-static with `rbuild import`) and a helper that
//! builds a Dockerfile on it to a local export. Shared by the test files that
//! run steps for real; needs root and `/bin/busybox`.
#![allow(dead_code)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A test that cannot run here says so; in CI (`CI` set, every
/// prerequisite installed by `.ci/run`) that is a failure.
pub fn skip(why: &str) {
    assert!(std::env::var_os("CI").is_none(), "cannot run in CI: {why}");
    eprintln!("SKIPPED: {why}");
}

pub const RBUILD: &str = env!("CARGO_BIN_EXE_rbuild");

pub struct Setup {
    pub dir: tempfile::TempDir,
}

impl Setup {
    /// A store holding `localhost/busybox:latest`, or None when the machine
    /// cannot run steps.
    pub fn new() -> Option<Setup> {
        if !rustix::process::geteuid().is_root() || !Path::new("/bin/busybox").exists() {
            skip("needs root and /bin/busybox (apt-get install busybox-static)");
            return None;
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let rootfs = dir.path().join("rootfs");
        for d in ["bin", "etc", "tmp", "base/dir"] {
            std::fs::create_dir_all(rootfs.join(d)).expect("dirs");
        }
        std::fs::set_permissions(rootfs.join("tmp"), std::fs::Permissions::from_mode(0o1777))
            .expect("tmp");
        std::fs::copy("/bin/busybox", rootfs.join("bin/busybox")).expect("busybox");
        let applets = Command::new("/bin/busybox")
            .arg("--list")
            .output()
            .expect("busybox --list");
        for applet in String::from_utf8_lossy(&applets.stdout).split_whitespace() {
            let _ = std::os::unix::fs::symlink("busybox", rootfs.join("bin").join(applet));
        }
        std::fs::write(
            rootfs.join("etc/passwd"),
            "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n",
        )
        .expect("passwd");
        std::fs::write(
            rootfs.join("etc/group"),
            "root:x:0:\nwheel:x:10:root\napp:x:1000:\n",
        )
        .expect("group");
        std::fs::write(rootfs.join("base/file"), "from base\n").expect("file");
        std::fs::write(rootfs.join("base/dir/x"), "x\n").expect("file");
        let tar = dir.path().join("rootfs.tar");
        let status = Command::new("tar")
            .arg("-C")
            .arg(&rootfs)
            .arg("-cf")
            .arg(&tar)
            .arg(".")
            .status()
            .expect("tar");
        assert!(status.success());
        let setup = Setup { dir };
        setup.rbuild(
            &[
                "import",
                "--root",
                &setup.store(),
                tar.to_str().expect("utf-8"),
                "localhost/busybox:latest",
            ],
            true,
        );
        Some(setup)
    }

    pub fn store(&self) -> String {
        self.dir.path().join("store").to_string_lossy().into_owned()
    }

    pub fn rbuild(&self, args: &[&str], must_succeed: bool) -> Output {
        let out = Command::new(RBUILD)
            .args(args)
            .output()
            .expect("rbuild runs");
        if must_succeed {
            assert!(
                out.status.success(),
                "rbuild {args:?}:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        out
    }

    /// Builds `dockerfile` (FROM the busybox base) and returns the exported
    /// root filesystem directory.
    pub fn build(
        &self,
        name: &str,
        dockerfile: &str,
        extra: &[&str],
        must_succeed: bool,
    ) -> (Output, PathBuf) {
        let full = format!("FROM localhost/busybox:latest\n{dockerfile}");
        self.build_context(name, &full, &[], extra, must_succeed)
    }

    /// Builds a whole Dockerfile with `files` (path, content) in its context,
    /// tagged `localhost/test/NAME`; returns the exported root filesystem.
    pub fn build_context(
        &self,
        name: &str,
        dockerfile: &str,
        files: &[(&str, &str)],
        extra: &[&str],
        must_succeed: bool,
    ) -> (Output, PathBuf) {
        let ctx = self.dir.path().join(format!("ctx-{name}"));
        std::fs::create_dir_all(&ctx).expect("ctx");
        std::fs::write(ctx.join("Dockerfile"), dockerfile).expect("Dockerfile");
        for (path, content) in files {
            let file = ctx.join(path);
            std::fs::create_dir_all(file.parent().expect("parent")).expect("dirs");
            std::fs::write(&file, content).expect("context file");
        }
        let out_dir = self.dir.path().join(format!("out-{name}"));
        let output = format!("type=local,dest={}", out_dir.display());
        let tag = format!("localhost/test/{name}");
        let store = self.store();
        let mut args = vec![
            "build",
            "--root",
            &store,
            "--progress",
            "plain",
            "-t",
            &tag,
            "--output",
            &output,
        ];
        args.extend_from_slice(extra);
        let ctx_str = ctx.to_string_lossy().into_owned();
        args.push(&ctx_str);
        (self.rbuild(&args, must_succeed), out_dir)
    }

    /// The image config (`config` object of the OCI config) of a tag made by
    /// `build_context`.
    pub fn config(&self, name: &str) -> serde_json::Value {
        let tag = format!("localhost/test/{name}");
        let out = self.rbuild(&["inspect", "--root", &self.store(), &tag], true);
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("inspect JSON");
        json[0]["Config"].clone()
    }
}
