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
