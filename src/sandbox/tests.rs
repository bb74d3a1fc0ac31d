//! Unit tests: the setup order against the recording fake, the plan, the
//! in-root resolver and the report protocol. No root needed.

use std::path::{Path, PathBuf};

use super::fake::RecordingSyscall;
use super::plan::{Plan, Step};
use super::report::{Decoder, Message};
use super::resolve::resolve_in_root;
use super::setup::{enter_namespaces, exec_command, setup_root, Created};
use super::syscall::{EntryKind, SysError};
use super::workdir::{hosts_file, WorkPaths};
use super::{Mount, MountKind, Network, RootfsSpec, RunSpec, SandboxError};

const ROOT: &str = "/sb/root";

fn spec() -> RunSpec {
    RunSpec {
        rootfs: RootfsSpec::Overlay {
            lowers: vec!["/snap/2".into(), "/snap/1".into()],
            upper: "/snap/up".into(),
            work: "/snap/work".into(),
        },
        argv: vec!["sh".into(), "-c".into(), "true".into()],
        env: vec!["PATH=/usr/bin:/bin".into(), "A=1".into()],
        cwd: "/app".into(),
        uid: 1000,
        gid: 1000,
        additional_gids: vec![10, 20],
        hostname: "box".into(),
        extra_hosts: vec![("db".into(), "10.0.0.2".into())],
        network: Network::None,
        mounts: vec![Mount {
            source: std::env::temp_dir(),
            target: "/cache".into(),
            kind: MountKind::Bind { readonly: true },
        }],
        stdin: None,
        limits: Default::default(),
        privileged: false,
        stdio: Default::default(),
        publish: Vec::new(),
    }
}

fn plan(spec: &RunSpec) -> Plan {
    Plan::new(spec, &WorkPaths::under(Path::new("/sb"))).unwrap()
}

/// A root with the usual top-level directories but no /etc files.
fn image_root() -> RecordingSyscall {
    let dirs = ["proc", "dev", "sys", "etc", "app"];
    let dirs: Vec<String> = dirs.iter().map(|d| format!("{ROOT}/{d}")).collect();
    let dirs: Vec<&str> = dirs.iter().map(String::as_str).collect();
    RecordingSyscall::with_dirs(&dirs)
}

fn run_all(fake: &RecordingSyscall, plan: &Plan) -> (Created, SysError) {
    enter_namespaces(fake, plan).unwrap();
    let mut created = Created::default();
    setup_root(fake, plan, &mut created).unwrap();
    (created, exec_command(fake, plan))
}

#[test]
fn setup_runs_in_the_documented_order() {
    let fake = image_root();
    let plan = plan(&spec());
    run_all(&fake, &plan);
    let order = [
        "unshare(net=true)",
        "sethostname(box)",
        "loopback_up",
        "make_rprivate(/)",
        "mount_overlay(/sb/root lowers=/snap/2:/snap/1)",
        "mount(proc /sb/root/proc",
        "mount(tmpfs /sb/root/dev ",
        "bind(/dev/null /sb/root/dev/null)",
        "mount(devpts /sb/root/dev/pts",
        "mount(sysfs /sb/root/sys",
        "bind(/sb/hosts /sb/root/etc/hosts)",
        "bind(/sb/resolv.conf /sb/root/etc/resolv.conf)",
        "bind(/sb/hostname /sb/root/etc/hostname)",
        "mkdir(/sb/root/cache 755)",
        "pivot_root(. .)",
        "umount_detach(.)",
        "close_fds_from(3)",
        "install_seccomp",
        "drop_capabilities",
        "setgroups([10, 20])",
        "setgid(1000)",
        "setuid(1000)",
        "exec(/usr/bin/sh",
    ];
    let positions: Vec<usize> = order.iter().map(|p| fake.position(p)).collect();
    assert!(
        positions.windows(2).all(|w| w[0] < w[1]),
        "order {positions:?} in {:#?}",
        fake.entries()
    );
}

#[test]
fn pivot_root_enters_the_new_root_and_detaches_the_old_one() {
    let fake = image_root();
    run_all(&fake, &plan(&spec()));
    let log = fake.entries();
    let pivot = fake.position("pivot_root");
    assert_eq!(log[pivot - 1], "chdir(/sb/root)");
    assert_eq!(log[pivot + 1], "umount_detach(.)");
    assert_eq!(log[pivot + 2], "chdir(/)");
    assert!(!log.iter().any(|e| e.starts_with("chroot")));
}

/// Every bind but the host devices in /dev is remounted nodev and nosuid
/// (read-only too when asked) before anything else happens.
#[test]
fn read_only_binds_are_remounted_right_after_binding() {
    let fake = image_root();
    run_all(&fake, &plan(&spec()));
    let log = fake.entries();
    for target in ["/sb/root/etc/hosts", "/sb/root/cache"] {
        let bind = log
            .iter()
            .position(|e| e.starts_with("bind(") && e.ends_with(&format!(" {target})")))
            .unwrap();
        assert_eq!(log[bind + 1], format!("remount_hardened_ro({target})"));
    }
    let null = log
        .iter()
        .position(|e| e.starts_with("bind(") && e.ends_with(" /sb/root/dev/null)"))
        .unwrap();
    assert!(
        !log[null + 1].starts_with("remount_hardened"),
        "host devices keep device access"
    );
}

#[test]
fn a_symlinked_system_directory_is_refused() {
    for name in ["proc", "dev", "sys"] {
        let fake = image_root();
        fake.tree.borrow_mut().insert(
            std::path::PathBuf::from(format!("/sb/root/{name}")),
            crate::sandbox::syscall::EntryKind::Symlink("/elsewhere".into()),
        );
        let err =
            super::setup::setup_root(&fake, &plan(&spec()), &mut Default::default()).unwrap_err();
        assert!(err.op.contains("system directory"), "{name}: {err:?}");
    }
}

#[test]
fn host_network_shares_the_namespace_and_skips_loopback() {
    let mut spec = spec();
    spec.network = Network::Host;
    let fake = image_root();
    run_all(&fake, &plan(&spec));
    assert!(fake.entries().contains(&"unshare(net=false)".to_string()));
    assert!(!fake.entries().iter().any(|e| e.starts_with("loopback_up")));
}

#[test]
fn missing_mount_targets_are_created_and_reported() {
    let fake = RecordingSyscall::with_dirs(&["/sb/root/proc", "/sb/root/sys"]);
    let (created, _) = run_all(&fake, &plan(&spec()));
    let want: Vec<PathBuf> = [
        "/dev",
        "/etc",
        "/etc/hosts",
        "/etc/resolv.conf",
        "/etc/hostname",
        "/cache",
    ]
    .iter()
    .map(PathBuf::from)
    .collect();
    // Stubs on our own /dev tmpfs (/dev/null, /dev/pts...) are not reported.
    assert_eq!(created.mount_points, want);
    assert_eq!(created.dirs, vec![PathBuf::from("/app")]);
    assert!(fake
        .entries()
        .contains(&"create_file(/sb/root/etc/hosts 644)".to_string()));
}

#[test]
fn workdir_under_a_tmpfs_mount_is_not_reported() {
    let mut spec = spec();
    spec.mounts = vec![Mount {
        source: PathBuf::new(),
        target: "/app".into(),
        kind: MountKind::Tmpfs {
            size: Some(1 << 20),
        },
    }];
    spec.cwd = "/app/sub".into();
    let fake = image_root();
    let (created, _) = run_all(&fake, &plan(&spec));
    assert!(created.dirs.is_empty(), "{:?}", created.dirs);
    assert!(fake
        .entries()
        .contains(&"mount(tmpfs /sb/root/app size=1048576 [nodev,nosuid])".to_string()));
}

#[test]
fn a_failed_mount_stops_before_pivot_root() {
    let mut fake = image_root();
    fake.fail.insert("mount_overlay");
    let plan = plan(&spec());
    let err = setup_root(&fake, &plan, &mut Created::default()).unwrap_err();
    assert_eq!(err.op, "mount_overlay");
    assert!(!fake.entries().iter().any(|e| e.starts_with("pivot_root")));
}

#[test]
fn a_failed_setuid_never_execs() {
    let mut fake = image_root();
    fake.fail.insert("setuid");
    let err = exec_command(&fake, &plan(&spec()));
    assert_eq!(err.op, "setuid");
    assert!(!fake.entries().iter().any(|e| e.starts_with("exec")));
}

#[test]
fn exec_walks_the_steps_path_with_exactly_its_env() {
    let mut fake = image_root();
    fake.programs.insert("/bin/sh".into());
    let err = exec_command(&fake, &plan(&spec()));
    assert_eq!(err.errno, 0, "stopped at the program that exists");
    let execs: Vec<String> = fake
        .entries()
        .into_iter()
        .filter(|e| e.starts_with("exec("))
        .collect();
    assert_eq!(execs.len(), 2);
    assert!(execs[0].starts_with("exec(/usr/bin/sh argv=[\"sh\", \"-c\", \"true\"]"));
    assert!(execs[1].ends_with("env=[\"PATH=/usr/bin:/bin\", \"A=1\"])"));
}

#[test]
fn exec_of_a_missing_program_reports_enoent_with_its_name() {
    let fake = image_root();
    let err = exec_command(&fake, &plan(&spec()));
    assert_eq!((err.op, err.errno), ("execve", 2));
    assert_eq!(err.path, PathBuf::from("sh"));
}

#[test]
fn default_path_is_used_without_path_in_env() {
    let mut spec = spec();
    spec.env = vec!["A=1".into()];
    let plan = plan(&spec);
    assert_eq!(plan.exec.candidates.len(), 6);
    assert_eq!(
        plan.exec.candidates[0].to_str().unwrap(),
        "/usr/local/sbin/sh"
    );
    spec.argv[0] = "./run.sh".into();
    let plan = Plan::new(&spec, &WorkPaths::under(Path::new("/sb"))).unwrap();
    assert_eq!(plan.exec.candidates.len(), 1);
}

#[test]
fn resolver_keeps_symlinks_inside_the_root() {
    let fake = RecordingSyscall::with_dirs(&["/r/etc", "/r/run"]);
    fake.tree.borrow_mut().insert(
        "/r/etc/resolv.conf".into(),
        EntryKind::Symlink("../../../run/stub.conf".into()),
    );
    fake.tree
        .borrow_mut()
        .insert("/r/lnk".into(), EntryKind::Symlink("/etc".into()));
    let got = resolve_in_root(&fake, Path::new("/r"), Path::new("/etc/resolv.conf")).unwrap();
    assert_eq!(got.existing, PathBuf::from("run"));
    assert_eq!(got.missing, vec![std::ffi::OsString::from("stub.conf")]);
    let got = resolve_in_root(&fake, Path::new("/r"), Path::new("/lnk/../etc")).unwrap();
    assert_eq!(got.existing, PathBuf::from("etc"));
    assert_eq!(got.kind, EntryKind::Dir);
}

#[test]
fn resolver_gives_up_on_symlink_loops() {
    let fake = RecordingSyscall::default();
    fake.tree
        .borrow_mut()
        .insert("/r/a".into(), EntryKind::Symlink("/a".into()));
    let err = resolve_in_root(&fake, Path::new("/r"), Path::new("/a/b")).unwrap_err();
    assert_eq!(err.errno, 40);
}

#[test]
fn invalid_specs_are_rejected() {
    let paths = WorkPaths::under(Path::new("/sb"));
    let mut bad = spec();
    bad.argv.clear();
    assert!(matches!(
        Plan::new(&bad, &paths),
        Err(SandboxError::InvalidSpec { .. })
    ));
    let mut bad = spec();
    bad.mounts[0].target = "/".into();
    assert!(matches!(
        Plan::new(&bad, &paths),
        Err(SandboxError::InvalidSpec { .. })
    ));
    let mut bad = spec();
    bad.mounts[0].source = "relative".into();
    assert!(matches!(
        Plan::new(&bad, &paths),
        Err(SandboxError::InvalidSpec { .. })
    ));
    let mut bad = spec();
    bad.env.push("NUL=\0".into());
    assert!(matches!(
        Plan::new(&bad, &paths),
        Err(SandboxError::InvalidSpec { .. })
    ));
}

#[test]
fn user_mounts_are_sorted_parents_first() {
    let mut spec = spec();
    let tmpfs = |target: &str| Mount {
        source: PathBuf::new(),
        target: target.into(),
        kind: MountKind::Tmpfs { size: None },
    };
    spec.mounts = vec![tmpfs("/a/b/c"), tmpfs("/a")];
    let plan = plan(&spec);
    let targets: Vec<&Path> = plan
        .steps
        .iter()
        .filter_map(|s| match s {
            Step::Fs { target, .. } if target.starts_with("/a") => Some(target.as_path()),
            _ => None,
        })
        .collect();
    assert_eq!(targets, [Path::new("/a"), Path::new("/a/b/c")]);
}

#[test]
fn empty_lowers_get_an_empty_directory() {
    let mut spec = spec();
    spec.rootfs = RootfsSpec::Overlay {
        lowers: vec![],
        upper: "/u".into(),
        work: "/w".into(),
    };
    let fake = image_root();
    run_all(&fake, &plan(&spec));
    fake.position("mount_overlay(/sb/root lowers=/sb/empty)");
}

#[test]
fn hosts_file_has_localhost_and_extra_hosts() {
    let hosts = hosts_file("box", &[("db".into(), "10.0.0.2".into())]).unwrap();
    assert_eq!(
        hosts,
        "127.0.0.1\tlocalhost box\n::1\tlocalhost ip6-localhost ip6-loopback\n10.0.0.2\tdb\n"
    );
    assert!(hosts_file("box", &[("a b".into(), "1.2.3.4".into())]).is_err());
}

#[test]
fn report_messages_round_trip_in_pieces() {
    let msgs = vec![
        Message::Init(42),
        Message::MountPoint("/etc/hosts".into()),
        Message::Dir("/app".into()),
        Message::Error {
            op: "mount overlay".into(),
            path: "/x".into(),
            errno: 22,
        },
        Message::Status(3 << 8),
    ];
    let bytes: Vec<u8> = msgs.iter().flat_map(Message::encode).collect();
    let mut decoder = Decoder::default();
    let mut got = Vec::new();
    for chunk in bytes.chunks(3) {
        decoder.push(chunk);
        while let Some(msg) = decoder.next_message().unwrap() {
            got.push(msg);
        }
    }
    assert_eq!(got, msgs);
    assert!(!decoder.has_partial());
}

#[test]
fn child_errors_name_the_operation_and_path() {
    let err = SandboxError::from_child("unshare".into(), PathBuf::new(), 1);
    assert_eq!(
        err.to_string(),
        "sandbox setup: unshare: Operation not permitted (os error 1)"
    );
    let err = SandboxError::from_child("mount overlay".into(), "/r".into(), 22);
    assert!(err
        .to_string()
        .starts_with("sandbox setup: mount overlay /r: "));
    let err = SandboxError::from_child("execve".into(), "nope".into(), 2);
    assert!(matches!(err, SandboxError::Exec { ref program, .. } if program == "nope"));
}

#[test]
fn exit_status_maps_signals_like_a_shell() {
    use super::ExitStatusLike;
    assert_eq!(
        ExitStatusLike::from_wait_status(3 << 8),
        ExitStatusLike::Code(3)
    );
    let killed = ExitStatusLike::from_wait_status(9);
    assert_eq!(killed, ExitStatusLike::Signal(9));
    assert_eq!(killed.exit_code(), 137);
    assert!(!killed.success() && ExitStatusLike::Code(0).success());
}

#[test]
fn every_mount_the_sandbox_makes_has_pinned_flags() {
    let fake = image_root();
    let plan = plan(&spec());
    run_all(&fake, &plan);
    let mounts: Vec<String> = fake
        .entries()
        .into_iter()
        .filter(|e| e.starts_with("mount(") || e.starts_with("remount"))
        .collect();
    let flags_of = |prefix: &str| -> String {
        let line = mounts
            .iter()
            .find(|m| m.starts_with(prefix))
            .unwrap_or_else(|| panic!("no {prefix:?} in {mounts:#?}"));
        line[line.rfind('[').expect("flags") + 1..line.rfind(']').expect("flags")].to_string()
    };
    assert_eq!(flags_of("mount(proc /sb/root/proc"), "nodev,noexec,nosuid");
    assert_eq!(
        flags_of("mount(tmpfs /sb/root/dev "),
        "nodev,nosuid,strictatime"
    );
    assert_eq!(flags_of("mount(devpts /sb/root/dev/pts"), "noexec,nosuid");
    assert_eq!(
        flags_of("mount(tmpfs /sb/root/dev/shm"),
        "nodev,noexec,nosuid"
    );
    assert_eq!(
        flags_of("mount(sysfs /sb/root/sys"),
        "nodev,noexec,nosuid,ro"
    );
    // Every bind but the host devices is remounted nodev,nosuid (read-only
    // here: the spec's cache mount is read-only, the /etc files always are).
    for target in ["etc/hosts", "etc/resolv.conf", "etc/hostname", "cache"] {
        let hardened = format!("remount_hardened_ro(/sb/root/{target})");
        assert!(mounts.contains(&hardened), "{hardened} in {mounts:#?}");
    }
}
