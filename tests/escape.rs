//! Escape attempts from a RUN step (issue 10): every one fails, and the test
//! proves it from inside (what the step saw) and from outside (the host is
//! unchanged). Plus the default seccomp filter and the security.insecure
//! entitlement.

#[path = "common/busybox_store.rs"]
mod busybox_store;
use busybox_store::Setup;
use std::path::Path;

/// What a step wrote into `/r/NAME` of its image.
fn result(root: &Path, name: &str) -> String {
    std::fs::read_to_string(root.join("r").join(name))
        .unwrap_or_else(|e| panic!("/r/{name} in the image: {e}"))
}

/// Host processes whose command line contains `needle`.
fn host_processes_with(needle: &str) -> Vec<String> {
    std::fs::read_dir("/proc")
        .expect("/proc")
        .flatten()
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
        .filter(|c| c.contains(needle))
        .collect()
}

#[test]
fn escape_attempts_from_a_run_step_all_fail() {
    let Some(s) = Setup::new() else { return };
    let secret = format!("host-secret-{}", std::process::id());
    let marker = std::env::temp_dir().join(format!("rbuild-escape-{}", std::process::id()));
    std::fs::write(&marker, &secret).expect("marker");
    // A descriptor without close-on-exec, inherited by rbuild: the step must
    // not get it.
    let path = std::ffi::CString::new(marker.to_string_lossy().as_bytes()).unwrap();
    // SAFETY: open(2) with a valid C string; the descriptor is closed below.
    let leaked = unsafe { libc::open(path.as_ptr(), libc::O_RDONLY) };
    assert!(leaked >= 0, "open the marker");
    let hostname_before = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let sleeper = format!("sleep {}", 9000 + std::process::id() % 1000);
    let m = marker.display();
    let dockerfile = format!(
        "RUN mkdir /r \
         && (cat {m} > /r/read 2>&1; echo \"exit=$?\" >> /r/read) \
         && (cat /proc/1/root{m} > /r/proc1root 2>&1; echo \"exit=$?\" >> /r/proc1root) \
         && (mkdir -p /mnt/x; mount -t tmpfs none /mnt/x > /r/mount 2>&1; echo \"exit=$?\" >> /r/mount) \
         && (mkdir -p /old; pivot_root / /old > /r/pivot 2>&1; echo \"exit=$?\" >> /r/pivot) \
         && (chroot / cat {m} > /r/chroot 2>&1; echo \"exit=$?\" >> /r/chroot) \
         && (echo junk > /x.ko; insmod /x.ko > /r/insmod 2>&1; echo \"exit=$?\" >> /r/insmod) \
         && (cat /proc/1/cmdline | tr '\\0' ' ' > /r/pid1; ls /proc | grep -c '^[0-9]' > /r/pids) \
         && (kill -0 {host_pid} > /r/kill 2>&1; echo \"exit=$?\" >> /r/kill) \
         && (hostname evil > /r/hostname 2>&1; echo \"exit=$?\" >> /r/hostname) \
         && (ls -l /proc/self/fd/ > /r/fds 2>&1) \
         && ({sleeper} > /dev/null 2>&1 &) \
         && echo done\n",
        host_pid = std::process::id(),
    );
    let (out, root) = s.build("escape", &dockerfile, &[], true);
    // SAFETY: closing the descriptor opened above.
    unsafe { libc::close(leaked) };
    let _ = std::fs::remove_file(&marker);
    let log = String::from_utf8_lossy(&out.stderr);

    for name in ["read", "proc1root", "chroot"] {
        let seen = result(&root, name);
        assert!(
            !seen.contains(&secret),
            "{name}: the host file was read:\n{seen}"
        );
        assert!(!seen.contains("exit=0"), "{name} succeeded:\n{seen}");
    }
    for name in ["mount", "pivot", "insmod", "hostname"] {
        let seen = result(&root, name);
        assert!(!seen.contains("exit=0"), "{name} succeeded:\n{seen}");
        assert!(
            seen.contains("not permitted") || seen.contains("denied"),
            "{name} refused for the wrong reason:\n{seen}"
        );
    }
    // pid 1 is the sandbox's own init, and the step sees only its processes.
    let host_init = std::fs::read("/proc/1/cmdline").unwrap();
    let host_init = String::from_utf8_lossy(&host_init).replace('\0', " ");
    assert_ne!(
        result(&root, "pid1").trim(),
        host_init.trim(),
        "host's pid 1 seen"
    );
    let pids: usize = result(&root, "pids").trim().parse().unwrap();
    assert!(pids < 10, "the step sees {pids} processes");
    let kill = result(&root, "kill");
    assert!(
        !kill.contains("exit=0"),
        "rbuild's test process is reachable:\n{kill}"
    );
    // Only stdin, stdout, stderr and the descriptor `ls` reads with.
    let fds = result(&root, "fds");
    assert!(
        !fds.contains(&*marker.to_string_lossy()),
        "descriptor leaked:\n{fds}"
    );
    let numbers: Vec<&str> = fds
        .lines()
        // Symlink lines of `ls -l` (`lrwx------ ...`), not its complaints.
        .filter(|l| {
            l.starts_with('l')
                && l.get(1..10)
                    .is_some_and(|p| p.chars().all(|c| "rwx-".contains(c)))
        })
        .filter_map(|l| l.split(" -> ").next()?.split_whitespace().last())
        .collect();
    assert!(
        numbers.iter().all(|n| ["0", "1", "2", "3"].contains(n)),
        "{fds}"
    );
    // Nothing of the step outlives it, and the host is unchanged.
    assert!(
        host_processes_with(&sleeper).is_empty(),
        "a step's process survived it:\n{log}"
    );
    let hostname_after = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    assert_eq!(hostname_before, hostname_after, "host hostname changed");
}

#[test]
fn the_default_seccomp_filter_refuses_namespaces_and_keeps_setuid_working() {
    let Some(s) = Setup::new() else { return };
    let dockerfile = "RUN mkdir /r \
         && grep '^Seccomp:' /proc/self/status > /r/status \
         && (unshare -U true > /r/userns 2>&1; echo \"exit=$?\" >> /r/userns) \
         && (unshare -n true > /r/netns 2>&1; echo \"exit=$?\" >> /r/netns) \
         && grep '^NoNewPrivs:' /proc/self/status > /r/nnp \
         && echo 'nobody:x:65534:65534::/:/bin/sh' >> /etc/passwd \
         && (echo hi | su nobody -s /bin/sh -c 'id -u; cat' > /r/su 2>&1; echo \"exit=$?\" >> /r/su)\n";
    let (_, root) = s.build("seccomp", dockerfile, &[], true);
    // Mode 2: a filter is installed.
    assert_eq!(result(&root, "status").split_whitespace().last(), Some("2"));
    for name in ["userns", "netns"] {
        let seen = result(&root, name);
        assert!(
            seen.contains("not permitted") && !seen.contains("exit=0"),
            "{name}:\n{seen}"
        );
    }
    // No no_new_privs (setuid programs keep working, as under Docker), and
    // switching users works.
    assert_eq!(result(&root, "nnp").split_whitespace().last(), Some("0"));
    let su = result(&root, "su");
    assert!(
        su.contains("65534") && su.contains("hi") && su.contains("exit=0"),
        "{su}"
    );
}

#[test]
fn security_insecure_needs_the_entitlement_and_then_has_every_capability() {
    let Some(s) = Setup::new() else { return };
    let dockerfile = "RUN --security=insecure mkdir -p /r /mnt/x \
         && mount -t tmpfs none /mnt/x && echo mounted > /r/mount \
         && grep '^Seccomp:' /proc/self/status > /r/status\n";
    let (out, _) = s.build("insecure-refused", dockerfile, &[], false);
    assert!(!out.status.success(), "ran without the entitlement");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--allow security.insecure"), "{err}");
    assert!(err.contains("Dockerfile:2"), "names the line:\n{err}");

    let (_, root) = s.build(
        "insecure",
        dockerfile,
        &["--allow", "security.insecure"],
        true,
    );
    assert_eq!(result(&root, "mount").trim(), "mounted");
    assert_eq!(result(&root, "status").split_whitespace().last(), Some("0"));
}
