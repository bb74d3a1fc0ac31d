//! Everything the sandbox processes will do, computed in the parent before
//! `fork` (the children only walk this plan and make syscalls).

use std::ffi::{CString, OsStr};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use super::syscall::{MountFlags, OverlayOpts};
use super::workdir::WorkPaths;
use super::{MountKind, Network, RootfsSpec, RunSpec, SandboxError};

/// The PATH runc and BuildKit use when the environment has none.
pub(crate) const DEFAULT_PATH: &str =
    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The capabilities Docker keeps by default (moby's `DefaultCapabilities`).
pub(crate) const DOCKER_CAPS: &[u32] = &[
    0,  // CAP_CHOWN
    1,  // CAP_DAC_OVERRIDE
    3,  // CAP_FOWNER
    4,  // CAP_FSETID
    5,  // CAP_KILL
    6,  // CAP_SETGID
    7,  // CAP_SETUID
    8,  // CAP_SETPCAP
    10, // CAP_NET_BIND_SERVICE
    13, // CAP_NET_RAW
    18, // CAP_SYS_CHROOT
    27, // CAP_MKNOD
    29, // CAP_AUDIT_WRITE
    31, // CAP_SETFCAP
];

/// Files under /proc and /sys hidden from the step (moby's default masked
/// paths): files get /dev/null bound over them, directories a read-only tmpfs.
const MASKED: &[&str] = &[
    "/proc/asound",
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
];

/// Paths under /proc made read-only (moby's default read-only paths).
const READ_ONLY: &[&str] = &[
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

/// Host devices bound into the step's /dev.
const DEVICES: &[&str] = &["null", "zero", "full", "random", "urandom", "tty"];

/// How the step's root gets mounted on `Plan::root`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RootPlan {
    Overlay(OverlayOpts),
    /// Bind a plain directory (the fallback snapshotter).
    Bind(PathBuf),
}

/// One operation after the root is mounted and before `pivot_root`.
/// Targets are absolute paths inside the container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Step {
    /// Mount a fresh filesystem on a directory (created if missing).
    Fs {
        fstype: &'static str,
        target: PathBuf,
        flags: MountFlags,
        data: String,
    },
    /// Bind a host file or directory (the stub is created if missing).
    Bind {
        source: PathBuf,
        target: PathBuf,
        readonly: bool,
        file: bool,
        /// Only the host device nodes bound into `/dev` keep device access;
        /// every other bind is remounted nodev and nosuid.
        devices: bool,
    },
    Symlink {
        target: PathBuf,
        link: PathBuf,
    },
    /// Hide a path if it exists.
    Mask {
        path: PathBuf,
    },
    /// Make a path read-only if it exists.
    ReadOnly {
        path: PathBuf,
    },
}

/// The exec of the command: candidate programs (PATH lookup done against
/// the step's own PATH), argv and env.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ExecPlan {
    pub candidates: Vec<CString>,
    pub argv: Vec<CString>,
    pub env: Vec<CString>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Plan {
    pub new_netns: bool,
    pub hostname: String,
    /// Host directory the step's root is mounted on.
    pub root: PathBuf,
    pub rootfs: RootPlan,
    pub steps: Vec<Step>,
    /// Absolute working directory in the container.
    pub cwd: PathBuf,
    pub uid: u32,
    pub gid: u32,
    pub groups: Vec<u32>,
    /// Capabilities the command keeps.
    pub caps: Vec<u32>,
    /// Seccomp programs installed before the command runs, in order.
    pub seccomp: Vec<Vec<BpfInsn>>,
    /// The command's stdin is a terminal that becomes its controlling one.
    pub tty: bool,
    pub exec: ExecPlan,
}

/// One instruction of a classic BPF program, laid out as the kernel's
/// `struct sock_filter`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(C)]
pub(crate) struct BpfInsn {
    pub code: u16,
    pub jt: u8,
    pub jf: u8,
    pub k: u32,
}

/// Every capability (`--security=insecure`); the kernel ignores the ones it
/// does not have.
const ALL_CAPS: std::ops::RangeInclusive<u32> = 0..=63;

/// The default capabilities and seccomp filter, or everything for a
/// privileged step.
fn confinement(privileged: bool) -> Result<(Vec<u32>, Vec<Vec<BpfInsn>>), SandboxError> {
    if privileged {
        return Ok((ALL_CAPS.collect(), Vec::new()));
    }
    let programs = super::seccomp::default_filter()?
        .into_iter()
        .map(|program| {
            program
                .iter()
                .map(|i| BpfInsn {
                    code: i.code,
                    jt: i.jt,
                    jf: i.jf,
                    k: i.k,
                })
                .collect()
        })
        .collect();
    Ok((DOCKER_CAPS.to_vec(), programs))
}

fn invalid(what: impl Into<String>) -> SandboxError {
    SandboxError::InvalidSpec { what: what.into() }
}

impl Plan {
    /// Checks `spec` and computes the plan; `paths` are the step's private
    /// host files.
    pub fn new(spec: &RunSpec, paths: &WorkPaths) -> Result<Plan, SandboxError> {
        if spec.hostname.contains(['\n', '\0']) {
            return Err(invalid(format!("hostname {:?}", spec.hostname)));
        }
        let rootfs = match &spec.rootfs {
            RootfsSpec::Overlay {
                lowers,
                upper,
                work,
            } => {
                let mut lowers = lowers.clone();
                if lowers.is_empty() {
                    lowers.push(paths.empty_lower.clone());
                }
                RootPlan::Overlay(OverlayOpts {
                    lowers,
                    upper: upper.clone(),
                    work: work.clone(),
                })
            }
            RootfsSpec::Dir(dir) => RootPlan::Bind(dir.clone()),
        };
        let mut steps = system_steps();
        for (source, target) in [
            (&paths.hosts, "/etc/hosts"),
            (&paths.resolv_conf, "/etc/resolv.conf"),
            (&paths.hostname, "/etc/hostname"),
        ] {
            steps.push(Step::Bind {
                source: source.clone(),
                target: target.into(),
                readonly: true,
                file: true,
                devices: false,
            });
        }
        steps.extend(user_steps(spec)?);
        let (caps, seccomp) = confinement(spec.privileged)?;
        Ok(Plan {
            new_netns: spec.network == Network::None,
            hostname: spec.hostname.clone(),
            root: paths.root.clone(),
            rootfs,
            steps,
            cwd: container_path(Path::new(&spec.cwd), "working directory", true)?,
            uid: spec.uid,
            gid: spec.gid,
            groups: spec.additional_gids.clone(),
            caps,
            seccomp,
            tty: matches!(spec.stdio, super::Stdio::Terminal { .. }),
            exec: exec_plan(spec)?,
        })
    }
}

/// /proc, a minimal /dev and a read-only /sys, as runc sets them up for
/// Docker's default spec.
fn system_steps() -> Vec<Step> {
    let fs = |fstype, target: &str, flags, data: &str| Step::Fs {
        fstype,
        target: target.into(),
        flags,
        data: data.into(),
    };
    let link = |target: &str, link: &str| Step::Symlink {
        target: target.into(),
        link: link.into(),
    };
    let hardened = MountFlags::NOSUID | MountFlags::NODEV | MountFlags::NOEXEC;
    let mut steps = vec![
        fs("proc", "/proc", hardened, ""),
        fs(
            "tmpfs",
            "/dev",
            // nodev: a device node made in /dev cannot be opened; the host
            // devices bound below keep their own mount's flags.
            MountFlags::NOSUID | MountFlags::NODEV | MountFlags::STRICTATIME,
            "mode=755,size=65536k",
        ),
    ];
    for dev in DEVICES {
        steps.push(Step::Bind {
            source: Path::new("/dev").join(dev),
            target: Path::new("/dev").join(dev),
            readonly: false,
            file: true,
            devices: true,
        });
    }
    steps.extend([
        fs(
            "devpts",
            "/dev/pts",
            MountFlags::NOSUID | MountFlags::NOEXEC,
            "newinstance,ptmxmode=0666,mode=0620,gid=5",
        ),
        link("pts/ptmx", "/dev/ptmx"),
        fs("tmpfs", "/dev/shm", hardened, "mode=1777,size=65536k"),
        link("/proc/self/fd", "/dev/fd"),
        link("/proc/self/fd/0", "/dev/stdin"),
        link("/proc/self/fd/1", "/dev/stdout"),
        link("/proc/self/fd/2", "/dev/stderr"),
        fs("sysfs", "/sys", hardened | MountFlags::RDONLY, ""),
    ]);
    steps.extend(MASKED.iter().map(|p| Step::Mask { path: p.into() }));
    steps.extend(READ_ONLY.iter().map(|p| Step::ReadOnly { path: p.into() }));
    steps
}

/// RUN --mount entries, parents before children (Docker sorts mounts by
/// destination depth).
fn user_steps(spec: &RunSpec) -> Result<Vec<Step>, SandboxError> {
    let mut mounts = Vec::with_capacity(spec.mounts.len());
    for mount in &spec.mounts {
        let target = container_path(&mount.target, "mount target", false)?;
        let step = match mount.kind {
            MountKind::Bind { readonly } => {
                if !mount.source.is_absolute() {
                    return Err(invalid(format!(
                        "bind source {} is not absolute",
                        mount.source.display()
                    )));
                }
                let meta = std::fs::metadata(&mount.source)
                    .map_err(|e| SandboxError::io("bind source", &mount.source, e))?;
                Step::Bind {
                    source: mount.source.clone(),
                    target,
                    readonly,
                    file: !meta.is_dir(),
                    devices: false,
                }
            }
            MountKind::Tmpfs { size } => Step::Fs {
                fstype: "tmpfs",
                target,
                flags: MountFlags::NOSUID | MountFlags::NODEV,
                data: size.map(|s| format!("size={s}")).unwrap_or_default(),
            },
        };
        mounts.push(step);
    }
    mounts.sort_by_key(|step| match step {
        Step::Bind { target, .. } | Step::Fs { target, .. } => target.components().count(),
        _ => 0,
    });
    Ok(mounts)
}

/// A normalised absolute container path (`.` dropped; `..` kept for the
/// in-root resolver). `allow_root` admits `/` itself.
fn container_path(path: &Path, what: &str, allow_root: bool) -> Result<PathBuf, SandboxError> {
    let bytes = path.as_os_str().as_bytes();
    if bytes.contains(&0) || bytes.len() > 3000 {
        return Err(invalid(format!("{what} {}", path.display())));
    }
    let mut out = PathBuf::from("/");
    for comp in path.components() {
        match comp {
            Component::Normal(name) => out.push(name),
            Component::ParentDir => out.push(".."),
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    if !allow_root && out == Path::new("/") {
        return Err(invalid(format!("{what} / is not allowed")));
    }
    Ok(out)
}

fn cstring(bytes: &[u8], what: &str) -> Result<CString, SandboxError> {
    CString::new(bytes).map_err(|_| invalid(format!("{what} contains a NUL byte")))
}

fn exec_plan(spec: &RunSpec) -> Result<ExecPlan, SandboxError> {
    let program = spec.argv.first().ok_or_else(|| invalid("empty command"))?;
    if program.is_empty() {
        return Err(invalid("empty program name"));
    }
    let argv = spec
        .argv
        .iter()
        .map(|a| cstring(a.as_bytes(), "argument"))
        .collect::<Result<Vec<_>, _>>()?;
    let env = spec
        .env
        .iter()
        .map(|e| cstring(e.as_bytes(), "environment entry"))
        .collect::<Result<Vec<_>, _>>()?;
    let candidates = if program.contains('/') {
        vec![cstring(program.as_bytes(), "program")?]
    } else {
        let path = spec
            .env
            .iter()
            .rev()
            .find_map(|e| e.strip_prefix("PATH="))
            .unwrap_or(DEFAULT_PATH);
        path.split(':')
            .map(|dir| if dir.is_empty() { "." } else { dir })
            .map(|dir| {
                cstring(
                    Path::new(dir)
                        .join(OsStr::new(program))
                        .as_os_str()
                        .as_bytes(),
                    "PATH",
                )
            })
            .collect::<Result<Vec<_>, _>>()?
    };
    Ok(ExecPlan {
        candidates,
        argv,
        env,
    })
}
