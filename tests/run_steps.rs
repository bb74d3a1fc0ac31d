//! RUN end to end: a busybox base made with `rbuild import`, steps run in the
//! sandbox, results read back. Needs root, overlayfs and Debian's
//! busybox-static (`/bin/busybox`); skips with a message otherwise.

use std::io::Read;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::{Command, Stdio};

#[path = "common/busybox_store.rs"]
mod busybox_store;
use busybox_store::{Setup, RBUILD};

#[test]
fn deletions_become_whiteouts_and_opaque_directories() {
    let Some(s) = Setup::new() else { return };
    let (_, root) = s.build(
        "whiteouts",
        "RUN rm /base/file && rm -rf /base/dir && mkdir /base/dir && echo new > /base/dir/y\nRUN mkdir /tmp/f && echo 1 > /f && rm /f && mkdir /f && rm -rf /tmp/f\n",
        &[],
        true,
    );
    assert!(
        !root.join("base/file").exists(),
        "a file deleted from the base stays deleted"
    );
    assert!(
        !root.join("base/dir/x").exists(),
        "a recreated directory hides the old contents"
    );
    assert_eq!(
        std::fs::read_to_string(root.join("base/dir/y")).expect("y"),
        "new\n"
    );
    assert!(root.join("f").is_dir(), "a file replaced by a directory");
    assert!(!root.join("tmp/f").exists());
}

#[test]
fn modes_xattrs_and_hard_links_survive() {
    let Some(s) = Setup::new() else { return };
    let (_, root) = s.build(
        "modes",
        "RUN cp /bin/busybox /suid && chmod 4755 /suid && mkdir /sticky && chmod 1777 /sticky && echo d > /hl-a && ln /hl-a /hl-b && setfattr -n user.rbuild -v yes /hl-a 2>/dev/null || true\n",
        &[],
        true,
    );
    let mode = |p: &str| {
        std::fs::symlink_metadata(root.join(p))
            .expect(p)
            .permissions()
            .mode()
            & 0o7777
    };
    assert_eq!(mode("suid"), 0o4755);
    assert_eq!(mode("sticky"), 0o1777);
    let a = std::fs::metadata(root.join("hl-a")).expect("hl-a");
    let b = std::fs::metadata(root.join("hl-b")).expect("hl-b");
    assert_eq!(
        (a.ino(), a.nlink()),
        (b.ino(), 2),
        "hard links stay hard links"
    );
}

#[test]
fn user_env_and_workdir_reach_the_step() {
    let Some(s) = Setup::new() else { return };
    let (_, root) = s.build(
        "user",
        "ARG GREETING=hi\nENV FOO=bar\nWORKDIR /work\nUSER app\nRUN id > /tmp/id && echo \"$FOO $GREETING $PWD $HOME\" > /tmp/env\n",
        &[],
        true,
    );
    let id = std::fs::read_to_string(root.join("tmp/id")).expect("id");
    assert!(id.starts_with("uid=1000(app) gid=1000(app)"), "{id}");
    assert_eq!(
        std::fs::read_to_string(root.join("tmp/env")).expect("env"),
        "bar hi /work /home/app\n"
    );
}

#[test]
fn failing_step_names_the_line_and_exit_code() {
    let Some(s) = Setup::new() else { return };
    let (out, _) = s.build("fail", "RUN true\nRUN exit 3\n", &[], false);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("Dockerfile:3"), "{err}");
    assert!(err.contains("exit code: 3"), "{err}");
}

#[test]
fn network_none_cannot_reach_loopback_that_host_can() {
    let Some(s) = Setup::new() else { return };
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("listener");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(4) {
            drop(stream);
        }
    });
    let step = format!("RUN --network=host nc -w 2 127.0.0.1 {port} </dev/null\n");
    s.build("net-host", &step, &[], true);
    let step = format!("RUN --network=none nc -w 2 127.0.0.1 {port} </dev/null\n");
    let (out, _) = s.build("net-none", &step, &[], false);
    assert!(
        !out.status.success(),
        "a step with --network=none reached the host's loopback"
    );
}

#[test]
fn secrets_never_reach_a_blob() {
    let Some(s) = Setup::new() else { return };
    let secret = s.dir.path().join("secret.txt");
    std::fs::write(&secret, "s3cr3t-value-4711").expect("secret");
    let spec = format!("id=tok,src={}", secret.display());
    let (_, root) = s.build(
        "secret",
        "RUN --mount=type=secret,id=tok test -s /run/secrets/tok && grep -q value /run/secrets/tok && echo ok > /used\n",
        &["--secret", &spec],
        true,
    );
    assert!(root.join("used").exists());
    assert!(
        !root.join("run/secrets/tok").exists(),
        "no secret stub left in the layer"
    );
    for entry in std::fs::read_dir(Path::new(&s.store()).join("blobs/sha256")).expect("blobs") {
        let bytes = std::fs::read(entry.expect("entry").path()).expect("blob");
        let mut data = Vec::new();
        if bytes.starts_with(&[0x1f, 0x8b]) {
            flate2::read::GzDecoder::new(&bytes[..])
                .read_to_end(&mut data)
                .expect("gunzip");
        } else {
            data = bytes;
        }
        assert!(
            !data.windows(17).any(|w| w == b"s3cr3t-value-4711"),
            "secret found in a blob"
        );
    }
}

/// Processes whose command line mentions `marker`.
fn processes_with(marker: &str) -> Vec<String> {
    std::fs::read_dir("/proc")
        .expect("/proc")
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .chars()
                .all(|c| c.is_ascii_digit())
        })
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
        .filter(|c| c.contains(marker) && !c.contains("cargo") && !c.contains("run_steps"))
        .collect()
}

#[test]
fn no_mount_or_process_outlives_a_build() {
    let Some(s) = Setup::new() else { return };
    s.build("ok", "RUN true\n", &[], true);
    s.build("bad", "RUN exit 1\n", &[], false);
    for signal in [rustix::process::Signal::INT, rustix::process::Signal::KILL] {
        let ctx = s.dir.path().join("ctx-long");
        std::fs::create_dir_all(&ctx).expect("ctx");
        std::fs::write(
            ctx.join("Dockerfile"),
            "FROM localhost/busybox:latest\nRUN sleep 4711\n",
        )
        .expect("Dockerfile");
        let mut child = Command::new(RBUILD)
            .args(["build", "--root", &s.store(), "--progress", "quiet"])
            .arg(&ctx)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn");
        let started = std::time::Instant::now();
        while processes_with("sleep 4711").is_empty() && started.elapsed().as_secs() < 20 {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let pid = rustix::process::Pid::from_raw(child.id() as i32).expect("pid");
        rustix::process::kill_process(pid, signal).expect("signal");
        let status = child.wait().expect("wait");
        assert!(!status.success());
        let deadline = std::time::Instant::now();
        while !processes_with("sleep 4711").is_empty() && deadline.elapsed().as_secs() < 5 {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        assert!(
            processes_with("sleep 4711").is_empty(),
            "the step outlived rbuild after {signal:?}"
        );
    }
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").expect("mountinfo");
    assert!(
        !mountinfo.contains(&s.store()),
        "an rbuild mount is left:\n{mountinfo}"
    );
}

#[test]
fn native_snapshotter_gives_the_same_result_as_overlay() {
    let Some(s) = Setup::new() else { return };
    let steps = "RUN rm /base/file && rm -rf /base/dir && mkdir /base/dir && echo new > /base/dir/y\nRUN echo d > /hl-a && ln /hl-a /hl-b && chmod 4755 /hl-a && mkdir -p /made/deep && rm -rf /tmp\n";
    let (_, overlay) = s.build("snap-overlay", steps, &["--snapshotter", "overlay"], true);
    let (_, native) = s.build(
        "snap-native",
        steps,
        &["--snapshotter", "native", "--no-cache"],
        true,
    );
    for root in [&overlay, &native] {
        assert!(!root.join("base/file").exists());
        assert!(!root.join("base/dir/x").exists());
        assert!(
            !root.join("tmp").exists(),
            "a deleted base directory stays deleted"
        );
        assert_eq!(
            std::fs::read_to_string(root.join("base/dir/y")).expect("y"),
            "new\n"
        );
        let a = std::fs::metadata(root.join("hl-a")).expect("hl-a");
        assert_eq!((a.nlink(), a.permissions().mode() & 0o7777), (2, 0o4755));
        assert!(root.join("made/deep").is_dir());
    }
}

#[test]
fn deep_layer_stacks_are_flattened_for_the_overlay() {
    let Some(s) = Setup::new() else { return };
    let mut steps = String::new();
    for i in 0..140 {
        steps.push_str(&format!("COPY <<EOF /layers/f{i}\n{i}\nEOF\n"));
    }
    steps.push_str("RUN cat /layers/f0 /layers/f139 > /sum && rm /layers/f5\n");
    let (_, root) = s.build("deep", &steps, &[], true);
    assert_eq!(
        std::fs::read_to_string(root.join("sum")).expect("sum"),
        "0\n139\n"
    );
    assert!(!root.join("layers/f5").exists());
    assert!(root.join("layers/f6").exists());
}

#[test]
fn bind_mounts_hide_ignored_files_and_env_secrets_work() {
    let Some(s) = Setup::new() else { return };
    let ctx = s.dir.path().join("ctx-bind");
    std::fs::create_dir_all(ctx.join("src")).expect("ctx");
    std::fs::write(ctx.join("src/app.txt"), "app").expect("write");
    std::fs::write(ctx.join("src/secret.env"), "hidden").expect("write");
    std::fs::write(ctx.join(".dockerignore"), "**/*.env\n").expect("write");
    std::fs::write(
        ctx.join("Dockerfile"),
        "FROM localhost/busybox:latest\nRUN --mount=target=/ctx test -e /ctx/src/app.txt && test ! -e /ctx/src/secret.env && echo ok > /bind-ok\nRUN --mount=type=secret,id=tok,env=TOKEN test \"$TOKEN\" = from-env && echo ok > /env-ok\n",
    )
    .expect("Dockerfile");
    let out_dir = s.dir.path().join("out-bind");
    let out = Command::new(RBUILD)
        .args([
            "build",
            "--root",
            &s.store(),
            "--secret",
            "id=tok,type=env,src=RBUILD_TEST_TOKEN",
            "--output",
        ])
        .arg(format!("type=local,dest={}", out_dir.display()))
        .arg(&ctx)
        .env("RBUILD_TEST_TOKEN", "from-env")
        .output()
        .expect("rbuild");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out_dir.join("bind-ok").exists());
    assert!(out_dir.join("env-ok").exists());
}

#[test]
fn device_nodes_made_by_a_step_cannot_be_opened() {
    let Some(s) = Setup::new() else { return };
    // 1:5 is /dev/zero: readable if device access were allowed.
    let (out, _) = s.build(
        "nodev",
        "RUN mknod /zero-copy c 1 5 && if head -c1 /zero-copy >/dev/null 2>&1; then exit 9; fi && head -c1 /dev/zero >/dev/null\n",
        &[],
        false,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_build_right_after_one_killed_mid_run_succeeds() {
    let Some(s) = Setup::new() else { return };
    let busy = s.dir.path().join("ctx-busy");
    std::fs::create_dir_all(&busy).expect("ctx");
    std::fs::write(
        busy.join("Dockerfile"),
        "FROM localhost/busybox:latest\nRUN mkdir /d && cd /d && i=0 && while true; do echo $i > f$i; i=$((i+1)); done\n",
    )
    .expect("Dockerfile");
    let store = s.store();
    for round in 0..8u64 {
        let mut child = Command::new(RBUILD)
            .args([
                "build",
                "--root",
                &store,
                "--progress",
                "quiet",
                "--no-cache",
            ])
            .arg(&busy)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn");
        // Spread the kills over the step: 0.1 s to 0.8 s in.
        std::thread::sleep(std::time::Duration::from_millis(100 + round * 100));
        child.kill().expect("SIGKILL");
        child.wait().expect("wait");
        let (out, _) = s.build(&format!("after-kill-{round}"), "RUN true\n", &[], false);
        assert!(
            out.status.success(),
            "round {round}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
