//! Sandbox limits (issue 10): a fork bomb in a RUN step fails that step, not
//! the machine; `--memory` bounds a step; the step's cgroups are removed.

#[path = "common/busybox_store.rs"]
mod busybox_store;
use busybox_store::Setup;

/// Step cgroups made before `since` whose rbuild process is gone (named
/// `<pid>-<n>`); other tests kill builds meanwhile, so later ones may come
/// and go.
fn leftover_cgroups(since: std::time::SystemTime) -> Vec<String> {
    let dir = std::path::Path::new("/sys/fs/cgroup/pids/rbuild");
    std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .filter(|e| e.path().is_dir())
                .filter(|e| {
                    e.metadata()
                        .and_then(|m| m.modified())
                        .is_ok_and(|t| t < since)
                })
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| {
                    let pid = n.split('-').next().unwrap_or("");
                    !std::path::Path::new("/proc").join(pid).exists()
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn a_fork_bomb_fails_its_step_and_the_build() {
    let Some(s) = Setup::new() else { return };
    if !std::path::Path::new("/sys/fs/cgroup/pids/tasks").exists() {
        busybox_store::skip("no cgroup v1 pids hierarchy");
        return;
    }
    let started = std::time::Instant::now();
    let (out, _) = s.build(
        "fork-bomb",
        "RUN f(){ f | f & }; f; sleep 30\n",
        &["--pids-limit", "64"],
        false,
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("limit of 64 processes"), "{err}");
    assert!(started.elapsed().as_secs() < 25, "stopped, not left to run");
    // The machine still forks; the next step removes cgroups that killed
    // builds left, and none is left from before it.
    assert!(std::process::Command::new("true")
        .status()
        .expect("fork")
        .success());
    let before_next = std::time::SystemTime::now();
    let (out, _) = s.build("after-bomb", "RUN true\n", &[], false);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let left = leftover_cgroups(before_next);
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn memory_limits_stop_a_step_that_goes_past_them() {
    let Some(s) = Setup::new() else { return };
    if !std::path::Path::new("/sys/fs/cgroup/memory/tasks").exists() {
        busybox_store::skip("no cgroup v1 memory hierarchy");
        return;
    }
    let step = "RUN dd if=/dev/zero of=/dev/null bs=64M count=1\n";
    let (out, _) = s.build("memory", step, &["--memory", "16m"], false);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("exit code: 137"),
        "killed by the limit:\n{err}"
    );
    let (out, _) = s.build("memory-ok", step, &["--memory", "256m"], false);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_cpu_limit_throttles_a_busy_step() {
    let Some(s) = Setup::new() else { return };
    if !std::path::Path::new("/sys/fs/cgroup/cpu/tasks").exists() {
        busybox_store::skip("no cgroup v1 cpu hierarchy");
        return;
    }
    let dir = std::path::Path::new("/sys/fs/cgroup/cpu/rbuild");
    let ctx = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        ctx.path().join("Dockerfile"),
        "FROM localhost/busybox:latest\nRUN timeout 3 sh -c 'while :; do :; done'; true\n",
    )
    .unwrap();
    let store = s.store();
    let mut build = std::process::Command::new(busybox_store::RBUILD)
        .args([
            "build",
            "--root",
            &store,
            "--no-cache",
            "--progress",
            "quiet",
            "--cpus",
            "0.25",
        ])
        .arg(ctx.path())
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("rbuild runs");
    let mine = format!("{}-", build.id());
    // While the step spins: its cgroup has the quota, and the kernel
    // throttles it.
    let mut seen = None;
    for _ in 0..60 {
        std::thread::sleep(std::time::Duration::from_millis(100));
        let Some(step) = std::fs::read_dir(dir).ok().and_then(|d| {
            d.flatten()
                .find(|e| e.file_name().to_string_lossy().starts_with(&mine))
        }) else {
            continue;
        };
        let read = |f: &str| std::fs::read_to_string(step.path().join(f)).unwrap_or_default();
        let throttled = read("cpu.stat")
            .lines()
            .find_map(|l| l.strip_prefix("nr_throttled ")?.trim().parse::<u64>().ok())
            .unwrap_or(0);
        seen = Some((
            read("cpu.cfs_quota_us"),
            read("cpu.cfs_period_us"),
            throttled,
        ));
        if throttled > 0 {
            break;
        }
    }
    assert!(build.wait().expect("wait").success());
    let (quota, period, throttled) = seen.expect("the step's cpu cgroup was seen");
    assert_eq!((quota.trim(), period.trim()), ("25000", "100000"));
    assert!(throttled > 0, "never throttled");
}

#[test]
fn a_layer_that_expands_past_the_free_space_is_refused_by_name() {
    let Some(s) = Setup::new() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let store = dir.path().join("store");
    std::fs::create_dir(&store).unwrap();
    // A 64 MiB filesystem for the store, and a 200 MB layer of zeros that
    // gzips to a few hundred KB.
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=64m", "tmpfs"])
        .arg(&store)
        .status()
        .expect("mount");
    assert!(mounted.success(), "mounting a tmpfs (needs root)");
    let bomb = dir.path().join("bomb.tar.gz");
    let script = format!(
        "cd {dir} && mkdir rootfs && truncate -s 200M rootfs/zeros && tar -C rootfs -cf - . | gzip -1 > {bomb}",
        dir = dir.path().display(),
        bomb = bomb.display()
    );
    let made = std::process::Command::new("sh")
        .args(["-c", &script])
        .status()
        .unwrap();
    assert!(made.success());
    let store_arg = store.to_string_lossy().into_owned();
    let bomb_arg = bomb.to_string_lossy().into_owned();
    s.rbuild(
        &[
            "import",
            "--root",
            &store_arg,
            &bomb_arg,
            "localhost/bomb:1",
        ],
        true,
    );
    let ctx = dir.path().join("ctx");
    std::fs::create_dir(&ctx).unwrap();
    std::fs::write(ctx.join("Dockerfile"), "FROM localhost/bomb:1\nRUN true\n").unwrap();
    let ctx_arg = ctx.to_string_lossy().into_owned();
    let build = || {
        let args = [
            "build",
            "--root",
            &store_arg,
            "--progress",
            "plain",
            &ctx_arg,
        ];
        s.rbuild(&args, false)
    };
    let out = build();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    // The same archive ADDed from the context is refused the same way.
    std::fs::copy(&bomb, ctx.join("bomb.tar.gz")).unwrap();
    std::fs::write(
        ctx.join("Dockerfile"),
        "FROM scratch\nADD bomb.tar.gz /x/\n",
    )
    .unwrap();
    let add = build();
    let add_err = String::from_utf8_lossy(&add.stderr).into_owned();
    let check = s.rbuild(&["check", "--root", &store_arg], false);
    let _ = std::process::Command::new("umount").arg(&store).status();
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("layer sha256:") && err.contains("expands past"),
        "{err}"
    );
    assert_eq!(add.status.code(), Some(1), "{add_err}");
    assert!(
        add_err.contains("archive ") && add_err.contains("expands past"),
        "{add_err}"
    );
    assert!(check.status.success(), "the store is intact afterwards");
}
