//! The sandbox's processes: `fork`, the monitor, pid 1 (a tiny init that
//! forwards signals and reaps zombies), descriptor plumbing, and the few raw
//! calls rustix has no wrapper for.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicI32, Ordering};

use rustix::process::Signal;

use super::linux::LinuxSyscall;
use super::plan::Plan;
use super::report::Message;
use super::setup::{enter_namespaces, exec_command, setup_root, Created};
use super::syscall::{SysError, SysResult};
use super::SandboxError;

/// The report pipe's descriptor in every sandbox process.
const REPORT_FD: i32 = 3;
const CLOSE_RANGE_CLOEXEC: libc::c_uint = 1 << 2;
/// Signals pid 1 passes on to the command, like tini.
const FORWARDED: &[libc::c_int] = &[
    libc::SIGHUP,
    libc::SIGINT,
    libc::SIGQUIT,
    libc::SIGTERM,
    libc::SIGUSR1,
    libc::SIGUSR2,
];

/// The command's pid, for pid 1's signal handler.
static COMMAND: AtomicI32 = AtomicI32::new(0);

fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// The descriptors the step gets as 0, 1, 2 and the report pipe.
pub(crate) struct ChildFds<'a> {
    pub stdin: BorrowedFd<'a>,
    pub stdout: BorrowedFd<'a>,
    pub stderr: BorrowedFd<'a>,
    pub report: BorrowedFd<'a>,
    /// `cgroup.procs` of the step's cgroups, joined before anything else.
    pub cgroups: &'a [BorrowedFd<'a>],
}

/// `fork`, running `body` in the child, which never returns into the
/// caller's code (a panic exits with 127).
fn fork_into(body: impl FnOnce() -> i32) -> Result<i32, i32> {
    // SAFETY: the child only runs `body` and then `_exit`s, never returning
    // into code that assumes the parent's threads exist. glibc's fork
    // resets its malloc locks in the child, so allocating there is fine;
    // the child takes no other lock (no stdio, no environment access).
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        let code = catch_unwind(AssertUnwindSafe(body)).unwrap_or(127);
        // SAFETY: `_exit` ends the forked child without running the
        // parent's atexit handlers or destructors.
        unsafe { libc::_exit(code) };
    }
    if pid < 0 {
        Err(errno())
    } else {
        Ok(pid)
    }
}

/// Forks the monitor and returns its pid.
pub(crate) fn spawn(plan: &Plan, fds: &ChildFds<'_>) -> Result<i32, SandboxError> {
    let parent = rustix::process::getpid();
    fork_into(|| monitor(plan, fds, parent))
        .map_err(|e| SandboxError::spawn("fork", std::io::Error::from_raw_os_error(e)))
}

fn send(msg: &Message) {
    let bytes = msg.encode();
    // SAFETY: writes from a live buffer of `bytes.len()` bytes to our own
    // report descriptor. One write under PIPE_BUF is atomic.
    unsafe { libc::write(REPORT_FD, bytes.as_ptr().cast(), bytes.len()) };
}

fn report(err: &SysError) -> i32 {
    send(&Message::error(err));
    1
}

fn die_with_parent() -> bool {
    rustix::process::set_parent_process_death_signal(Some(Signal::KILL)).is_ok()
}

/// The monitor: new namespaces, then forks pid 1 and waits for it.
fn monitor(plan: &Plan, fds: &ChildFds<'_>, parent: rustix::process::Pid) -> i32 {
    if !die_with_parent() || rustix::process::getppid() != Some(parent) {
        return 1;
    }
    // First, so that every process of the step is counted.
    let joined = join_cgroups(fds.cgroups);
    if remap_fds(fds).is_err() {
        return 1; // fd 3 may not be the report pipe: report nothing
    }
    if let Err(e) = joined {
        return report(&e);
    }
    // A new session without a controlling terminal (a step cannot open the
    // user's /dev/tty, and a terminal's Ctrl-C reaches only rbuild, which
    // decides); Docker's default umask for RUN.
    // SAFETY: setsid and umask take no pointers.
    unsafe {
        libc::setsid();
        libc::umask(0o022);
    }
    if let Err(e) = enter_namespaces(&LinuxSyscall, plan) {
        return report(&e);
    }
    // Init's way to notice that the monitor died before init could set its
    // death signal: the write end closes.
    let (lifeline, keep) = match rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC) {
        Ok(pair) => pair,
        Err(e) => return report(&SysError::new("pipe2", "", e.raw_os_error())),
    };
    let keep_fd = keep.as_raw_fd();
    match fork_into(|| {
        // SAFETY: closes init's copy of the write end; the `keep` value in
        // this process is never used or dropped again (the child `_exit`s).
        unsafe { libc::close(keep_fd) };
        init(plan, lifeline.as_fd())
    }) {
        Ok(pid) => {
            send(&Message::Init(pid));
            // Mirrors init's end, for the parent's diagnostics.
            super::ExitStatusLike::from_wait_status(wait_for(pid)).exit_code()
        }
        Err(e) => report(&SysError::new("fork", "", e)),
    }
}

/// Moves this (single-threaded, forked) process into each cgroup whose
/// `cgroup.procs` descriptor is given.
pub(crate) fn join_cgroups(procs: &[BorrowedFd<'_>]) -> SysResult<()> {
    for fd in procs {
        // SAFETY: writes one byte from a static buffer to a descriptor we
        // borrow; `write` is async-signal-safe.
        if unsafe { libc::write(fd.as_raw_fd(), b"0".as_ptr().cast(), 1) } != 1 {
            return Err(SysError::new(
                "join the step's cgroup",
                "cgroup.procs",
                errno(),
            ));
        }
    }
    Ok(())
}

/// Whether the other end of `lifeline` is gone.
fn orphaned(lifeline: BorrowedFd<'_>) -> bool {
    use rustix::event::{poll, PollFd, PollFlags, Timespec};
    let zero = Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    let mut fds = [PollFd::from_borrowed_fd(lifeline, PollFlags::IN)];
    poll(&mut fds, Some(&zero)).is_err() || !fds[0].revents().is_empty()
}

fn wait_for(pid: i32) -> i32 {
    let mut status = 0;
    // SAFETY: waitpid writes the status into a live local.
    while unsafe { libc::waitpid(pid, &mut status, 0) } < 0 && errno() == libc::EINTR {}
    status
}

/// Pid 1 of the step: builds the root, forks the command, forwards signals
/// to it, reaps every zombie, reports the command's status. Its exit kills
/// whatever the command left behind.
fn init(plan: &Plan, lifeline: BorrowedFd<'_>) -> i32 {
    if !die_with_parent() || orphaned(lifeline) {
        return 1;
    }
    let mut created = Created::default();
    let res = setup_root(&LinuxSyscall, plan, &mut created);
    for path in created.mount_points {
        send(&Message::MountPoint(path));
    }
    for path in created.dirs {
        send(&Message::Dir(path));
    }
    if let Err(e) = res {
        return report(&e);
    }
    let forwarded = signal_set(FORWARDED);
    // Blocked across fork so no signal is lost before COMMAND is set.
    set_mask(libc::SIG_BLOCK, &forwarded);
    install_forwarders();
    let command = fork_into(|| {
        reset_signals();
        let err = exec_command(&LinuxSyscall, plan);
        send(&Message::error(&err));
        127
    });
    let pid = match command {
        Ok(pid) => pid,
        Err(e) => return report(&SysError::new("fork", "", e)),
    };
    COMMAND.store(pid, Ordering::SeqCst);
    set_mask(libc::SIG_UNBLOCK, &forwarded);
    send(&Message::Status(reap_until(pid)));
    0
}

/// Reaps children until `pid` exits; returns its wait status.
fn reap_until(pid: i32) -> i32 {
    loop {
        let mut status = 0;
        // SAFETY: waitpid writes the status into a live local.
        let reaped = unsafe { libc::waitpid(-1, &mut status, 0) };
        if reaped == pid {
            return status;
        }
        if reaped < 0 && errno() != libc::EINTR {
            // No children left without having seen the command: cannot
            // happen, but never spin.
            return status;
        }
    }
}

extern "C" fn forward(sig: libc::c_int) {
    let pid = COMMAND.load(Ordering::SeqCst);
    if pid > 0 {
        // SAFETY: kill is async-signal-safe and takes plain integers.
        unsafe { libc::kill(pid, sig) };
    }
}

fn signal_set(signals: &[libc::c_int]) -> libc::sigset_t {
    // SAFETY: sigemptyset initialises the zeroed set; sigaddset only
    // writes into it.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for &sig in signals {
            libc::sigaddset(&mut set, sig);
        }
        set
    }
}

fn set_mask(how: libc::c_int, set: &libc::sigset_t) {
    // SAFETY: `set` is an initialised sigset; the old mask is not wanted.
    unsafe { libc::sigprocmask(how, set, std::ptr::null_mut()) };
}

fn install_forwarders() {
    for &sig in FORWARDED {
        on_signal(sig, forward);
    }
}

/// Makes `sig` call `handler` (restarting interrupted calls). Every handler
/// given here only does async-signal-safe work (stores an atomic, or
/// `kill`s); it allocates nothing, so it may run after `fork` too.
pub(crate) fn on_signal(sig: libc::c_int, handler: extern "C" fn(libc::c_int)) {
    // SAFETY: a zeroed sigaction is valid, and the handler is a plain
    // `extern "C" fn(c_int)` doing only async-signal-safe work.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = handler as libc::sighandler_t;
        action.sa_flags = libc::SA_RESTART;
        libc::sigemptyset(&mut action.sa_mask);
        libc::sigaction(sig, &action, std::ptr::null_mut());
    }
}

/// Default dispositions and an empty mask for the command (rbuild ignores
/// SIGPIPE, and an ignored signal would survive exec).
fn reset_signals() {
    for sig in 1..libc::SIGRTMAX() {
        if sig != libc::SIGKILL && sig != libc::SIGSTOP {
            // SAFETY: resetting a disposition to SIG_DFL is always valid.
            unsafe { libc::signal(sig, libc::SIG_DFL) };
        }
    }
    set_mask(libc::SIG_SETMASK, &signal_set(&[]));
}

/// Puts the step's descriptors on 0, 1, 2 and 3 (close-on-exec) and closes
/// every other one this process inherited from rbuild.
fn remap_fds(fds: &ChildFds<'_>) -> SysResult<()> {
    let sources = [fds.stdin, fds.stdout, fds.stderr, fds.report];
    let mut high = [0; 4];
    for (slot, fd) in high.iter_mut().zip(sources) {
        // SAFETY: duplicates a descriptor we borrow; the copy is ours.
        *slot = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 10) };
        if *slot < 0 {
            return Err(SysError::new("fcntl F_DUPFD", "", errno()));
        }
    }
    for (target, fd) in high.into_iter().enumerate() {
        // SAFETY: dup2 onto the standard slots and 3; the old descriptors
        // there are rbuild's copies, which this process does not use.
        if unsafe { libc::dup2(fd, target as i32) } < 0 {
            return Err(SysError::new("dup2", "", errno()));
        }
    }
    // SAFETY: sets a flag on our own descriptor.
    unsafe { libc::fcntl(REPORT_FD, libc::F_SETFD, libc::FD_CLOEXEC) };
    close_from(REPORT_FD as u32 + 1).map_err(|e| SysError::new("close_range", "", e))
}

fn close_range(first: u32, flags: libc::c_uint) -> Result<(), i32> {
    // SAFETY: close_range only closes or flags descriptors of this
    // (single-threaded, forked) process; nothing here uses them afterwards.
    let res = unsafe { libc::syscall(libc::SYS_close_range, first, u32::MAX, flags) };
    if res == 0 {
        Ok(())
    } else {
        Err(errno())
    }
}

/// Descriptors to walk when close_range is missing (kernels before 5.9):
/// up to the open-files limit (no descriptor can be numbered above it),
/// capped at 2^20 so an unlimited limit cannot stall the step. Listing
/// /proc/self/fd would allocate, which is unsafe between fork and exec.
fn fd_limit() -> i32 {
    match rustix::process::getrlimit(rustix::process::Resource::Nofile).current {
        Some(n) => n.min(1 << 20) as i32,
        None => 1 << 20,
    }
}

fn close_from(first: u32) -> Result<(), i32> {
    close_range(first, 0).or_else(|_| {
        for fd in first as i32..fd_limit() {
            // SAFETY: closing descriptors this process will never use.
            unsafe { libc::close(fd) };
        }
        Ok(())
    })
}

/// Marks every descriptor from `first` up close-on-exec.
pub(crate) fn cloexec_from(first: u32) -> Result<(), i32> {
    close_range(first, CLOSE_RANGE_CLOEXEC).or_else(|_| {
        for fd in first as i32..fd_limit() {
            // SAFETY: only sets a flag; a closed descriptor yields EBADF.
            unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
        }
        Ok(())
    })
}

/// Drops every capability not in `keep` from the bounding set, then clears
/// the ambient and inheritable sets so exec grants nothing beyond it.
pub(crate) fn drop_capabilities(keep: &[u32]) -> SysResult<()> {
    for cap in 0..64u32 {
        if keep.contains(&cap) {
            continue;
        }
        // SAFETY: prctl with integer arguments only.
        let res = unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap as libc::c_ulong, 0, 0, 0) };
        if res != 0 {
            match errno() {
                libc::EINVAL => break, // past the kernel's last capability
                e => return Err(SysError::new("PR_CAPBSET_DROP", "", e)),
            }
        }
    }
    let _ = rustix::thread::clear_ambient_capability_set();
    let err = |e: rustix::io::Errno| SysError::new("capset", "", e.raw_os_error());
    let mut sets = rustix::thread::capabilities(None).map_err(err)?;
    sets.inheritable = rustix::thread::CapabilitySet::empty();
    rustix::thread::set_capabilities(None, sets).map_err(err)
}

/// Brings the loopback interface up (`SIOCSIFFLAGS`), without `ip`.
pub(crate) fn loopback_up() -> Result<(), i32> {
    use std::os::fd::{FromRawFd, OwnedFd};
    // SAFETY: socket(2) with constant arguments.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(errno());
    }
    // SAFETY: `fd` was just returned by socket(2) and is owned by nobody.
    let sock = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: ifreq is plain data, valid when zeroed.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in req.ifr_name.iter_mut().zip(b"lo") {
        *dst = *src as libc::c_char;
    }
    // SAFETY: SIOCGIFFLAGS fills `req`, a live ifreq naming "lo".
    if unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFFLAGS, &mut req) } < 0 {
        return Err(errno());
    }
    // SAFETY: after SIOCGIFFLAGS the union holds the flags.
    unsafe { req.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short };
    // SAFETY: SIOCSIFFLAGS reads the live `req`.
    if unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFFLAGS, &req) } < 0 {
        return Err(errno());
    }
    Ok(())
}

/// Sends SIGKILL to `pid` (the parent's way to end a step).
pub(crate) fn kill(pid: i32) {
    // SAFETY: kill takes plain integers; `pid` is a child we have not
    // reaped yet, so it cannot have been reused.
    unsafe { libc::kill(pid, libc::SIGKILL) };
}

/// Reaps `pid` (blocking) and returns its wait status.
pub(crate) fn reap(pid: i32) -> Result<i32, SandboxError> {
    let mut status = 0;
    loop {
        // SAFETY: waitpid writes the status into a live local.
        if unsafe { libc::waitpid(pid, &mut status, 0) } == pid {
            return Ok(status);
        }
        let e = errno();
        if e != libc::EINTR {
            return Err(SandboxError::spawn(
                "waitpid",
                std::io::Error::from_raw_os_error(e),
            ));
        }
    }
}
