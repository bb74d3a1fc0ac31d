//! The RUN sandbox for real: a busybox root filesystem on overlayfs, in new
//! namespaces. Needs root (rbuild's CI runs as root) and a static busybox
//! (Debian's busybox-static); skips with a "SKIPPED:" line otherwise.

use std::collections::BTreeSet;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

#[path = "common/skip.rs"]
mod skip;
#[path = "sandbox/support.rs"]
mod support;

use support::*;

use rbuild::sandbox::{
    self, ExitStatusLike, Mount, MountKind, Network, RootfsSpec, RunSpec, SandboxError,
};

#[test]
fn stdout_and_stderr_arrive_separately() {
    let _lock = serial();
    let Some(image) = Image::new() else { return };
    let ran = run(&image.sh("echo to-out; echo to-err >&2"));
    assert_eq!(ran.out(), "to-out\n");
    assert_eq!(ran.stderr, "to-err\n");
}

#[test]
fn exit_codes_and_signals_pass_through() {
    let _lock = serial();
    let Some(image) = Image::new() else { return };
    assert_eq!(
        run(&image.sh("exit 3")).ok().status,
        ExitStatusLike::Code(3)
    );
    let killed = run(&image.sh("kill -9 $$")).ok().status;
    assert_eq!(killed, ExitStatusLike::Signal(9));
    assert_eq!(killed.exit_code(), 137);
}

#[test]
fn stdin_bytes_reach_cat() {
    let _lock = serial();
    let Some(image) = Image::new() else { return };
    let input = "line of input\n".repeat(20_000); // more than a pipe holds
    let mut spec = image.spec(&["cat"]);
    spec.stdin = Some(input.clone().into_bytes());
    assert_eq!(run(&spec).out(), input);
    // No stdin: /dev/null.
    assert_eq!(run(&image.spec(&["wc", "-c"])).out().trim(), "0");
}

#[test]
fn writes_land_in_the_upper_dir_and_the_lower_is_untouched() {
    let _lock = serial();
    let Some(image) = Image::new() else { return };
    let ran = run(&image.sh("echo new > /newfile && echo more >> /data/keep"));
    ran.out();
    let upper = image.upper();
    assert_eq!(
        std::fs::read_to_string(upper.join("newfile")).unwrap(),
        "new\n"
    );
    assert_eq!(
        std::fs::read_to_string(upper.join("data/keep")).unwrap(),
        "lower\nmore\n"
    );
    let lower = image.lower();
    assert_eq!(
        std::fs::read_to_string(lower.join("data/keep")).unwrap(),
        "lower\n"
    );
    assert!(!lower.join("newfile").exists());
}

#[test]
fn deleted_lower_file_becomes_a_whiteout() {
    let _lock = serial();
    let Some(image) = Image::new() else { return };
    run(&image.sh("rm /data/gone")).out();
    let meta = std::fs::symlink_metadata(image.upper().join("data/gone")).unwrap();
    assert!(meta.file_type().is_char_device());
    assert_eq!(meta.rdev(), 0);
    assert!(image.lower().join("data/gone").exists());
}

#[test]
fn removed_and_recreated_dir_is_opaque() {
    let _lock = serial();
    let Some(image) = Image::new() else { return };
    run(&image.sh("rm -r /data/dir && mkdir /data/dir && touch /data/dir/new")).out();
    let dir = image.upper().join("data/dir");
    let mut value = [0u8; 8];
    let n = rustix::fs::lgetxattr(&dir, "trusted.overlay.opaque", &mut value[..]).unwrap();
    assert_eq!(&value[..n], b"y");
    assert!(!dir.join("inner").exists());
}

#[test]
fn the_step_sees_only_its_own_processes() {
    let _lock = serial();
    let Some(image) = Image::new() else { return };
    let ran = run(&image.sh("ls /proc"));
    let pids: Vec<u32> = ran
        .out()
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    assert!(!pids.is_empty() && pids.len() <= 3, "pids {pids:?}");
    assert!(pids.iter().all(|&p| p < 10), "pids {pids:?}");
    assert!(pids.contains(&1));
    let ps = run(&image.spec(&["ps"]));
    assert!(!ps.out().contains("cargo"), "{}", ps.stdout);
}

#[test]
fn the_step_sees_none_of_the_host_mounts() {
    let _lock = serial();
    let Some(image) = Image::new() else { return };
    let ran = run(&image.spec(&["cat", "/proc/self/mountinfo"]));
    let allowed = [
        "/",
        "/proc",
        "/dev",
        "/sys",
        "/etc/hosts",
        "/etc/resolv.conf",
        "/etc/hostname",
    ];
    for line in ran.out().lines() {
        let point = line.split(' ').nth(4).unwrap();
        let ok = allowed
            .iter()
            .any(|a| point == *a || (*a != "/" && point.starts_with(&format!("{a}/"))));
        assert!(ok, "unexpected mount {point} in\n{}", ran.stdout);
        assert!(!point.starts_with("/sys/fs/cgroup"), "host mount {point}");
    }
    let root = ran
        .stdout
        .lines()
        .find(|l| l.split(' ').nth(4) == Some("/"));
    assert!(root.unwrap().contains(" - overlay "), "{}", ran.stdout);
    assert_eq!(
        run(&image.sh("ls /old_root /.pivot 2>/dev/null; true")).out(),
        ""
    );
}

#[test]
fn hostname_hosts_and_dev_are_set_up() {
    let _lock = serial();
    let Some(image) = Image::new() else { return };
    let mut spec = image.sh(
        "hostname; cat /etc/hosts; cat /etc/hostname; echo gone > /dev/null; \
         wc -c < /dev/null; head -c 4 /dev/zero | wc -c; ls /dev",
    );
    spec.extra_hosts = vec![("db.example".into(), "10.1.2.3".into())];
    let out = run(&spec).out().to_string();
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("sandbox-test"));
    assert!(out.contains("127.0.0.1\tlocalhost sandbox-test\n"), "{out}");
    assert!(out.contains("10.1.2.3\tdb.example\n"), "{out}");
    assert!(out.contains("\nsandbox-test\n0\n4\n"), "{out}");
    for dev in [
        "null", "zero", "full", "random", "urandom", "tty", "pts", "ptmx", "shm", "fd",
    ] {
        assert!(out.lines().any(|l| l == dev), "no /dev/{dev} in {out}");
    }
}

#[test]
fn etc_stubs_are_reported_and_never_written() {
    let _lock = serial();
    let Some(image) = Image::new() else { return };
    let outcome = run(&image.sh("echo 1.2.3.4 evil >> /etc/hosts"))
        .ok()
        .clone();
    assert!(!outcome.status.success(), "/etc/hosts is read-only");
    let want: Vec<PathBuf> = ["/etc/hosts", "/etc/resolv.conf", "/etc/hostname"]
        .iter()
        .map(PathBuf::from)
        .collect();
    assert_eq!(outcome.created_mount_points, want);
    for stub in &want {
        let path = image.upper().join(stub.strip_prefix("/").unwrap());
        assert_eq!(
            std::fs::metadata(&path).unwrap().len(),
            0,
            "{}",
            path.display()
        );
    }
}

#[test]
fn missing_workdir_is_created_and_reported() {
    let _lock = serial();
    let Some(image) = Image::new() else { return };
    let mut spec = image.spec(&["pwd"]);
    spec.cwd = "/srv/app".into();
    let ran = run(&spec);
    assert_eq!(ran.out(), "/srv/app\n");
    assert_eq!(
        ran.ok().created_dirs,
        vec![PathBuf::from("/srv"), PathBuf::from("/srv/app")]
    );
}

#[test]
fn runs_as_the_given_user_and_groups_without_extra_capabilities() {
    let _lock = serial();
    let Some(image) = Image::new() else { return };
    let mut spec = image.sh("id -u; id -g; id -G; grep -E '^Cap(Eff|Bnd)' /proc/self/status");
    spec.uid = 1000;
    spec.gid = 1000;
    spec.additional_gids = vec![10, 20];
    let out = run(&spec).out().to_string();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[..2], ["1000", "1000"]);
    let groups: BTreeSet<&str> = lines[2].split_whitespace().collect();
    assert_eq!(groups, BTreeSet::from(["1000", "10", "20"]));
    assert_eq!(lines[3], "CapEff:\t0000000000000000");
    // Docker's default bounding set.
    assert_eq!(lines[4], "CapBnd:\t00000000a80425fb");
    let root = run(&image.sh("grep CapEff /proc/self/status"));
    assert_eq!(root.out(), "CapEff:\t00000000a80425fb\n");
}

#[test]
fn env_is_exactly_the_one_given() {
    let _lock = serial();
    let Some(image) = Image::new() else { return };
    let mut spec = image.spec(&["env"]);
    spec.env = vec!["PATH=/bin".into(), "FOO=bar baz".into()];
    assert_eq!(run(&spec).out(), "PATH=/bin\nFOO=bar baz\n");
}

#[test]
fn missing_program_is_an_error() {
    let _lock = serial();
    let Some(image) = Image::new() else { return };
    match run(&image.spec(&["no-such-program"])).outcome {
        Err(SandboxError::Exec { program, source }) => {
            assert_eq!(program, "no-such-program");
            assert_eq!(source.raw_os_error(), Some(2));
        }
        other => panic!("{other:?}"),
    }
    assert_nothing_left(&image);
}

#[test]
fn network_none_cannot_reach_the_host_but_host_can() {
    let _lock = serial();
    let Some(image) = Image::new() else { return };
    let (port, server) = line_server();
    let script = format!("cat /sys/class/net/lo/flags; echo hello | nc -w 5 127.0.0.1 {port}");
    let mut spec = image.sh(&script);
    spec.network = Network::None;
    let ran = run(&spec);
    assert!(
        !ran.ok().status.success(),
        "reached the host: {}",
        ran.stdout
    );
    let flags = u32::from_str_radix(ran.stdout.trim().trim_start_matches("0x"), 16).unwrap();
    assert_eq!(flags & 1, 1, "lo is up");
    std::thread::sleep(Duration::from_millis(200));
    assert!(!server.is_finished(), "a connection arrived");

    let ran = run(&image.sh(&format!("echo hello | nc -w 5 127.0.0.1 {port}")));
    assert_eq!(ran.ok().status, ExitStatusLike::Code(0), "{}", ran.stderr);
    assert_eq!(server.join().unwrap().as_deref(), Some("hello\n"));
}

#[test]
fn extra_mounts_bind_and_tmpfs() {
    let _lock = serial();
    let Some(image) = Image::new() else { return };
    let src = image.dir.path().join("ctx");
    std::fs::create_dir(&src).unwrap();
    std::fs::write(src.join("file"), "from host\n").unwrap();
    let mut spec = image.sh("cat /ctx/file; touch /ctx/nope 2>/dev/null && echo wrote; echo t > /scratch/t; cat /scratch/t");
    spec.mounts = vec![
        Mount {
            source: src.clone(),
            target: "/ctx".into(),
            kind: MountKind::Bind { readonly: true },
        },
        Mount {
            source: PathBuf::new(),
            target: "/scratch".into(),
            kind: MountKind::Tmpfs {
                size: Some(1 << 20),
            },
        },
    ];
    let ran = run(&spec);
    assert_eq!(ran.out(), "from host\nt\n");
    assert!(!src.join("nope").exists());
    assert!(!image.upper().join("scratch/t").exists());
    let created = &ran.ok().created_mount_points;
    assert!(
        created.contains(&PathBuf::from("/ctx")) && created.contains(&PathBuf::from("/scratch"))
    );
}

#[test]
fn plain_directory_rootfs_runs_in_place() {
    let _lock = serial();
    let Some(image) = Image::new() else { return };
    let mut spec = image.sh("touch /made-here; ls /data");
    spec.rootfs = RootfsSpec::Dir(image.lower());
    assert_eq!(run(&spec).out(), "dir\ngone\nkeep\n");
    assert!(image.lower().join("made-here").exists());
    assert_nothing_left(&image);
}

#[test]
fn writes_outside_the_root_stay_inside_it() {
    let _lock = serial();
    let Some(image) = Image::new() else { return };
    let escape = image.dir.path().join("escaped");
    let script = format!("echo x > /../../../..{}", escape.display());
    let ran = run(&image.sh(&format!(
        "mkdir -p {0}; {script}",
        escape.parent().unwrap().display()
    )));
    ran.out();
    assert!(!escape.exists());
}

#[test]
fn nothing_outlives_success_failure_or_a_killed_run() {
    let _lock = serial();
    let Some(image) = Image::new() else { return };
    let sleep = format!("sleep {}", sleep_secs(1));
    run(&image.sh(&format!("{sleep} & echo started"))).out();
    assert_nothing_left(&image);
    assert_eq!(
        run(&image.sh(&format!("{sleep} & exit 1"))).ok().status,
        ExitStatusLike::Code(1)
    );
    assert_nothing_left(&image);

    let cancel = AtomicBool::new(false);
    let started = Instant::now();
    let ran = std::thread::scope(|s| {
        s.spawn(|| {
            std::thread::sleep(Duration::from_millis(500));
            cancel.store(true, Ordering::SeqCst);
        });
        run_with(&image.sh(&format!("{sleep} & {sleep}")), &cancel)
    });
    assert!(
        matches!(ran.outcome, Err(SandboxError::Interrupted)),
        "{:?}",
        ran.outcome
    );
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_nothing_left(&image);
    assert_eq!(processes_running(&sleep), 0, "a step process survived");
}

#[test]
fn deep_lower_stacks_beyond_a_page_of_options_mount() {
    let _lock = serial();
    let Some(image) = Image::new() else { return };
    let long = "a-snapshot-directory-with-a-long-name-like-a-digest-0123456789abcdef";
    let lowers = add_lowers(&image, 80, |i| format!("{long}-{i}"));
    let options: usize = lowers.iter().map(|l| l.as_os_str().len() + 1).sum();
    assert!(options > 4096);
    let ran = run(&with_lowers(
        &image,
        lowers,
        "ls /layers | wc -l; touch /layers/new",
    ));
    assert_eq!(ran.out().trim(), "80");
    assert!(image.upper().join("layers/new").exists());
}

#[test]
fn lower_paths_with_separator_characters_mount() {
    let _lock = serial();
    let Some(image) = Image::new() else { return };
    let lowers = add_lowers(&image, 2, |i| format!("odd,name:{i}"));
    let ran = run(&with_lowers(&image, lowers, "ls /layers"));
    assert_eq!(ran.out(), "0\n1\n");
}

fn assert_rename_copies(image: &Image, spec_for: impl Fn(&str) -> RunSpec) {
    let ran = run(&spec_for(
        "mv /data/dir /data/moved && grep -o ' - overlay.*' /proc/self/mountinfo | head -1",
    ));
    assert!(ran.out().contains(" - overlay "), "{}", ran.stdout);
    let moved = image.upper().join("data/moved");
    assert_eq!(
        std::fs::read_to_string(moved.join("inner")).unwrap(),
        "lower\n"
    );
    let mut buf = [0u8; 256];
    let redirect = rustix::fs::lgetxattr(&moved, "trusted.overlay.redirect", &mut buf[..]);
    assert!(
        redirect.is_err(),
        "redirect xattr set: the upper dir is no plain diff"
    );
    let gone = std::fs::symlink_metadata(image.upper().join("data/dir")).unwrap();
    assert!(gone.file_type().is_char_device());
}

#[test]
fn renamed_dir_is_copied_not_redirected() {
    let _lock = serial();
    let Some(image) = Image::new() else { return };
    assert_rename_copies(&image, |script| image.sh(script));
}

#[test]
fn renamed_dir_is_copied_not_redirected_with_the_new_mount_api() {
    let _lock = serial();
    let Some(image) = Image::new() else { return };
    let lowers = add_lowers(&image, 2, |i| format!("odd,name:{i}"));
    assert_rename_copies(&image, |script| with_lowers(&image, lowers.clone(), script));
}

#[test]
fn a_panic_in_the_output_callback_kills_the_step() {
    let _lock = serial();
    let Some(image) = Image::new() else { return };
    let sleep = format!("sleep {}", sleep_secs(2));
    let spec = image.sh(&format!("echo first; {sleep}"));
    let res =
        std::panic::catch_unwind(|| sandbox::run(&spec, &mut |_, _| panic!("consumer failed")));
    assert!(res.is_err());
    assert_nothing_left(&image);
    assert_eq!(processes_running(&sleep), 0);
}

/// Runs in a child test process (see the tests below): a step that sleeps,
/// optionally interrupted through `sandbox::interrupt` after 300 ms.
#[test]
fn helper_long_step() {
    let Ok(mode) = std::env::var("RBUILD_SANDBOX_HELPER") else {
        return;
    };
    let Some(image) = Image::new() else { return };
    if mode == "interrupt" {
        std::thread::spawn(|| {
            std::thread::sleep(Duration::from_millis(300));
            sandbox::interrupt();
        });
    }
    let sleep = std::env::var("RBUILD_SANDBOX_SLEEP").unwrap();
    let ran = run(&image.sh(&format!("{sleep} & {sleep}")));
    assert!(
        matches!(ran.outcome, Err(SandboxError::Interrupted)),
        "{:?}",
        ran.outcome
    );
    // A later step fails at once: the build is being torn down.
    assert!(matches!(
        run(&image.sh("true")).outcome,
        Err(SandboxError::Interrupted)
    ));
    println!("HELPER-INTERRUPTED");
}

#[test]
fn sigkill_of_rbuild_takes_the_step_with_it() {
    let _lock = serial();
    if Image::new().is_none() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let sleep = format!("sleep {}", sleep_secs(3));
    let mut child = helper("sigkill", tmp.path(), &sleep);
    wait_until("the step to start", || processes_running(&sleep) == 2);
    child.kill().unwrap();
    child.wait().unwrap();
    wait_until("the step to die", || processes_running(&sleep) == 0);
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!mountinfo.contains("rbuild-sandbox-"), "{mountinfo}");
}

#[test]
fn interrupt_kills_running_steps_and_refuses_new_ones() {
    let _lock = serial();
    if Image::new().is_none() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let sleep = format!("sleep {}", sleep_secs(4));
    let out = helper("interrupt", tmp.path(), &sleep)
        .wait_with_output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("HELPER-INTERRUPTED"), "{stdout}");
    assert_eq!(processes_running(&sleep), 0);
}

#[test]
fn concurrent_steps_do_not_hold_each_others_pipes() {
    let _lock = serial();
    let Some(image) = Image::new() else { return };
    // Each concurrent step gets its own upper and work dirs.
    let step = |name: String, script: &str| {
        let (upper, work) = (
            image.dir.path().join(&name),
            image.dir.path().join(name + "-w"),
        );
        std::fs::create_dir(&upper).unwrap();
        std::fs::create_dir(&work).unwrap();
        let mut spec = image.sh(script);
        spec.rootfs = RootfsSpec::Overlay {
            lowers: vec![image.lower()],
            upper,
            work,
        };
        spec
    };
    let slow = step("slow".into(), "sleep 2");
    let quick: Vec<Vec<RunSpec>> = (0..3)
        .map(|t| {
            (0..10)
                .map(|i| step(format!("q{t}-{i}"), "echo quick"))
                .collect()
        })
        .collect();
    std::thread::scope(|s| {
        let long = s.spawn(|| run(&slow).ok().status);
        for specs in &quick {
            s.spawn(move || {
                for spec in specs {
                    let started = Instant::now();
                    assert_eq!(run(spec).out(), "quick\n");
                    assert!(started.elapsed() < Duration::from_millis(1500));
                }
            });
        }
        assert!(long.join().unwrap().success());
    });
    assert_nothing_left(&image);
}
