//! The default seccomp filter of RUN steps: the system calls Docker's default
//! profile refuses to a container with the default capabilities fail with
//! EPERM (kernel modules, mounts, namespaces, keyrings, clock changes,
//! reboot, BPF, perf, ...); everything else is allowed. `RUN
//! --security=insecure` (with `--allow security.insecure`) runs without it.
//!
//! Docker's profile is an allowlist of some 350 calls; its refusals are what
//! matter here, and a denylist of them keeps working when a newer libc uses a
//! call the list does not know yet. The filter is compiled to BPF with
//! `seccompiler` (Firecracker's maintained crate: pure Rust, no libseccomp to
//! link) in the parent, before forking; the step's process only hands the
//! program to the kernel.

use super::error::SandboxError;
use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule,
};
use std::collections::BTreeMap;

/// Refused outright (moby's default profile grants none of these without
/// capabilities a build step does not have).
const REFUSED: &[libc::c_long] = &[
    libc::SYS_acct,
    libc::SYS_add_key,
    libc::SYS_bpf,
    libc::SYS_clock_adjtime,
    libc::SYS_clock_settime,
    libc::SYS_delete_module,
    libc::SYS_finit_module,
    libc::SYS_fsconfig,
    libc::SYS_fsmount,
    libc::SYS_fsopen,
    libc::SYS_fspick,
    libc::SYS_init_module,
    libc::SYS_ioperm,
    libc::SYS_iopl,
    libc::SYS_kexec_file_load,
    libc::SYS_kexec_load,
    libc::SYS_keyctl,
    libc::SYS_lookup_dcookie,
    libc::SYS_mount,
    libc::SYS_mount_setattr,
    libc::SYS_move_mount,
    libc::SYS_name_to_handle_at,
    libc::SYS_nfsservctl,
    libc::SYS_open_by_handle_at,
    libc::SYS_open_tree,
    libc::SYS_perf_event_open,
    libc::SYS_pivot_root,
    libc::SYS_quotactl,
    libc::SYS_reboot,
    libc::SYS_request_key,
    libc::SYS_setdomainname,
    libc::SYS_sethostname,
    libc::SYS_setns,
    libc::SYS_settimeofday,
    libc::SYS_swapoff,
    libc::SYS_swapon,
    libc::SYS_sysfs,
    libc::SYS__sysctl,
    libc::SYS_umount2,
    libc::SYS_unshare,
    libc::SYS_uselib,
    libc::SYS_userfaultfd,
    libc::SYS_ustat,
    libc::SYS_vhangup,
];

/// `clone` flags that make namespaces: refused, as Docker refuses them
/// without CAP_SYS_ADMIN. (`clone3` passes its flags in memory a filter
/// cannot read, so it fails with ENOSYS and libc falls back to `clone`.)
const NAMESPACE_FLAGS: &[libc::c_int] = &[
    libc::CLONE_NEWNS,
    libc::CLONE_NEWUTS,
    libc::CLONE_NEWIPC,
    libc::CLONE_NEWUSER,
    libc::CLONE_NEWPID,
    libc::CLONE_NEWNET,
    libc::CLONE_NEWCGROUP,
];

fn compile_error(e: impl std::fmt::Display) -> SandboxError {
    SandboxError::InvalidSpec {
        what: format!("the default seccomp filter does not compile: {e}"),
    }
}

/// Compiles the default filter for the running architecture: the
/// programs to install, in order (the kernel runs them all and the most
/// restrictive answer wins).
pub(crate) fn default_filter() -> Result<Vec<BpfProgram>, SandboxError> {
    Ok(vec![refusals()?, clone3_enosys()?])
}

fn refusals() -> Result<BpfProgram, SandboxError> {
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
    for &call in REFUSED {
        rules.insert(call, Vec::new());
    }
    let mut clone_rules = Vec::new();
    for &flag in NAMESPACE_FLAGS {
        let flag = flag as u64;
        let has_flag = SeccompCondition::new(
            0,
            SeccompCmpArgLen::Qword,
            SeccompCmpOp::MaskedEq(flag),
            flag,
        )
        .map_err(compile_error)?;
        clone_rules.push(SeccompRule::new(vec![has_flag]).map_err(compile_error)?);
    }
    rules.insert(libc::SYS_clone, clone_rules);
    compile(rules, libc::EPERM)
}

/// `clone3` answers ENOSYS, so callers fall back to `clone` and its check.
fn clone3_enosys() -> Result<BpfProgram, SandboxError> {
    compile(
        BTreeMap::from([(libc::SYS_clone3, Vec::new())]),
        libc::ENOSYS,
    )
}

/// A program for this architecture: the calls `rules` match fail with
/// `errno`, every other call is allowed.
fn compile(rules: BTreeMap<i64, Vec<SeccompRule>>, errno: i32) -> Result<BpfProgram, SandboxError> {
    let arch = std::env::consts::ARCH.try_into().map_err(compile_error)?;
    let filter = SeccompFilter::new(
        rules,
        SeccompAction::Allow,
        SeccompAction::Errno(errno as u32),
        arch,
    )
    .map_err(compile_error)?;
    filter.try_into().map_err(compile_error)
}
