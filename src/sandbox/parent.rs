//! The parent's side of a step: private files, pipes, the fork, a poll loop
//! that streams output and feeds stdin, and a guard that kills and reaps
//! the step on every way out (error, cancel, panic in `output`).

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};

use rustix::event::{PollFd, PollFlags, Timespec};
use rustix::io::Errno;
use rustix::pipe::{pipe_with, PipeFlags};

use super::cgroup::StepCgroup;
use super::plan::Plan;
use super::process::{self, ChildFds};
use super::publish::{Forwarding, Listeners};
use super::report::{Decoder, Message};
use super::terminal::{Pty, RawMode};
use super::workdir::WorkDir;
use super::{ExitStatusLike, RunOutcome, RunSpec, SandboxError, Stdio, Stream};

/// How often the loop looks at the cancel flags.
const TICK: Timespec = Timespec {
    tv_sec: 0,
    tv_nsec: 100_000_000,
};

/// Kills the step's init (or the monitor, before init is known) and reaps
/// the monitor, which itself exits only after init and so the whole pid
/// namespace are gone.
struct Guard {
    monitor: Option<i32>,
    init: Option<i32>,
    /// A pidfd of init, taken as soon as its pid is known: init is the
    /// monitor's child, not ours, so by pid alone a kill could reach a reused
    /// pid once the monitor has reaped it.
    init_fd: Option<std::os::fd::OwnedFd>,
    killed: bool,
}

impl Guard {
    fn set_init(&mut self, pid: i32) {
        self.init = Some(pid);
        self.init_fd = rustix::process::Pid::from_raw(pid).and_then(|p| {
            rustix::process::pidfd_open(p, rustix::process::PidfdFlags::empty()).ok()
        });
    }

    fn kill(&mut self) {
        if let Some(fd) = &self.init_fd {
            // Fails harmlessly when init is already gone.
            let _ = rustix::process::pidfd_send_signal(fd, rustix::process::Signal::KILL);
            self.killed = true;
        } else if let Some(pid) = self.monitor {
            // Before init is known (or without pidfds): the monitor is our
            // own unreaped child, and init dies with it (PDEATHSIG).
            process::kill(pid);
            self.killed = true;
        }
    }

    fn reap(&mut self) -> Result<i32, SandboxError> {
        match self.monitor.take() {
            Some(pid) => process::reap(pid),
            None => Ok(0),
        }
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if self.monitor.is_some() {
            self.kill();
            let _ = self.reap();
        }
    }
}

/// What the report pipe said.
#[derive(Default)]
struct Reports {
    decoder: Decoder,
    mount_points: Vec<PathBuf>,
    dirs: Vec<PathBuf>,
    error: Option<SandboxError>,
    status: Option<i32>,
}

impl Reports {
    fn take(&mut self, bytes: &[u8], guard: &mut Guard) {
        self.decoder.push(bytes);
        loop {
            match self.decoder.next_message() {
                Ok(Some(Message::Init(pid))) => guard.set_init(pid),
                Ok(Some(Message::MountPoint(p))) => self.mount_points.push(p),
                Ok(Some(Message::Dir(p))) => self.dirs.push(p),
                Ok(Some(Message::Status(s))) => self.status = Some(s),
                Ok(Some(Message::Error { op, path, errno })) => {
                    self.error
                        .get_or_insert(SandboxError::from_child(op, path, errno));
                }
                Ok(None) => break,
                Err(tag) => {
                    self.error.get_or_insert(SandboxError::Lost {
                        detail: format!("garbled report (byte {tag:#x})"),
                    });
                    break;
                }
            }
        }
    }
}

fn pipe() -> Result<(OwnedFd, OwnedFd), SandboxError> {
    pipe_with(PipeFlags::CLOEXEC).map_err(|e| SandboxError::spawn("pipe2", e))
}

/// Runs one step (see `sandbox::run`).
pub(crate) fn run(
    spec: &RunSpec,
    output: &mut dyn FnMut(Stream, &[u8]),
    cancel: &AtomicBool,
    interrupted: &AtomicBool,
) -> Result<RunOutcome, SandboxError> {
    let cancelled = || cancel.load(Ordering::SeqCst) || interrupted.load(Ordering::SeqCst);
    if cancelled() {
        return Err(SandboxError::Interrupted);
    }
    if !spec.publish.is_empty() && spec.network != super::Network::None {
        return Err(SandboxError::InvalidSpec {
            what: "published ports need the container's own network (not the host's)".into(),
        });
    }
    let listeners = Listeners::bind(&spec.publish)?;
    let work = WorkDir::create(spec)?;
    let plan = Plan::new(spec, &work.paths)?;
    let pty = match spec.stdio {
        Stdio::Terminal { .. } => Some(Pty::open()?),
        _ => None,
    };
    let (stdin_r, stdin_w) = match (spec.stdio, &spec.stdin) {
        (Stdio::Terminal { .. }, _) => (dup(pty_slave(&pty))?, None),
        (Stdio::Inherit { stdin: true }, _) => (dup(std::io::stdin().as_fd())?, None),
        (Stdio::Captured, Some(_)) => pipe().map(|(r, w)| (r, Some(w)))?,
        _ => (dev_null()?, None),
    };
    let ((stdout_r, stdout_w), (stderr_r, stderr_w)) = match spec.stdio {
        Stdio::Captured => {
            let (out_r, out_w) = pipe()?;
            let (err_r, err_w) = pipe()?;
            ((Some(out_r), out_w), (Some(err_r), err_w))
        }
        // The command's output comes back through the master side.
        Stdio::Terminal { .. } => (
            (Some(dup(pty_master(&pty))?), dup(pty_slave(&pty))?),
            (None, dup(pty_slave(&pty))?),
        ),
        Stdio::Inherit { .. } => (
            (None, dup(std::io::stdout().as_fd())?),
            (None, dup(std::io::stderr().as_fd())?),
        ),
    };
    let (report_r, report_w) = pipe()?;
    let cgroup = StepCgroup::create(&spec.limits)?;
    // The monitor joins it before it forks: every process of the step is in.
    let cgroups = cgroup
        .as_ref()
        .map(StepCgroup::join_fds)
        .unwrap_or_default();
    let monitor = process::spawn(
        &plan,
        &ChildFds {
            stdin: stdin_r.as_fd(),
            stdout: stdout_w.as_fd(),
            stderr: stderr_w.as_fd(),
            report: report_w.as_fd(),
            cgroups: &cgroups,
        },
    )?;
    let over_limit = || cgroup.as_ref().is_some_and(StepCgroup::reached_pids_limit);
    let stop = || cancelled() || over_limit();
    let mut guard = Guard {
        monitor: Some(monitor),
        init_fd: None,
        init: None,
        killed: false,
    };
    drop((stdin_r, stdout_w, stderr_w, report_w));
    let mut pump = Pump {
        readers: [stdout_r, stderr_r, Some(report_r)],
        stdin: stdin_w,
        input: spec.stdin.as_deref().unwrap_or(&[]),
        reports: Reports::default(),
        listeners: Some(listeners).filter(|l| !l.is_empty()),
        forwarding: None,
        terminal: match (pty, spec.stdio) {
            (Some(Pty { master, slave }), Stdio::Terminal { stdin }) => {
                // Only the command holds the slave side now, so the master
                // reads end of file (EIO) once it and its children are gone.
                drop(slave);
                Some(TerminalIo {
                    keys: if stdin {
                        Some(dup(std::io::stdin().as_fd())?)
                    } else {
                        None
                    },
                    master,
                    _raw: RawMode::enter(),
                })
            }
            _ => None,
        },
    };
    pump.run(output, &stop, &mut guard)?;
    let monitor_status = guard.reap()?;
    drop(work);
    if let Some(cgroup) = cgroup.as_ref().filter(|c| c.reached_pids_limit()) {
        return Err(SandboxError::LimitReached {
            limit: cgroup.pids_limit(),
        });
    }
    outcome(pump.reports, guard.killed, monitor_status)
}

/// A close-on-exec copy of one of rbuild's own standard streams.
fn dup(fd: BorrowedFd<'_>) -> Result<OwnedFd, SandboxError> {
    rustix::io::fcntl_dupfd_cloexec(fd, 0).map_err(|e| SandboxError::spawn("dup", e))
}

fn dev_null() -> Result<OwnedFd, SandboxError> {
    use rustix::fs::{Mode, OFlags};
    rustix::fs::open("/dev/null", OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())
        .map_err(|e| SandboxError::io("open", "/dev/null", e.into()))
}

fn outcome(
    mut reports: Reports,
    killed: bool,
    monitor_status: i32,
) -> Result<RunOutcome, SandboxError> {
    if killed {
        return Err(SandboxError::Interrupted);
    }
    if let Some(err) = reports.error.take() {
        return Err(err);
    }
    match reports.status {
        Some(status) => Ok(RunOutcome {
            status: ExitStatusLike::from_wait_status(status),
            created_mount_points: reports.mount_points,
            created_dirs: reports.dirs,
        }),
        None => Err(SandboxError::Lost {
            detail: format!(
                "pid 1 of the step ended with code {}{}",
                ExitStatusLike::from_wait_status(monitor_status).exit_code(),
                if reports.decoder.has_partial() {
                    ", report cut short"
                } else {
                    ""
                }
            ),
        }),
    }
}

/// The poll loop over stdout, stderr, the report pipe and stdin.
struct Pump<'a> {
    /// stdout, stderr, report; `None` once at EOF.
    readers: [Option<OwnedFd>; 3],
    stdin: Option<OwnedFd>,
    input: &'a [u8],
    reports: Reports,
    /// Published ports, until the container's pid 1 is known.
    listeners: Option<Listeners>,
    /// Forwarding into the container; stops when dropped.
    forwarding: Option<Forwarding>,
    /// `-t`: the pseudo-terminal joined to rbuild's own.
    terminal: Option<TerminalIo>,
}

/// rbuild's side of the command's pseudo-terminal.
struct TerminalIo {
    /// rbuild's standard input (`-i`), copied into the terminal.
    keys: Option<OwnedFd>,
    /// The master side, written with keys (read through `readers[0]`).
    master: OwnedFd,
    /// rbuild's terminal in raw mode while the command runs.
    _raw: RawMode,
}

fn pty_master(pty: &Option<Pty>) -> BorrowedFd<'_> {
    pty.as_ref()
        .expect("terminal mode has a pty")
        .master
        .as_fd()
}

fn pty_slave(pty: &Option<Pty>) -> BorrowedFd<'_> {
    pty.as_ref().expect("terminal mode has a pty").slave.as_fd()
}

impl Pump<'_> {
    fn run(
        &mut self,
        output: &mut dyn FnMut(Stream, &[u8]),
        cancelled: &dyn Fn() -> bool,
        guard: &mut Guard,
    ) -> Result<(), SandboxError> {
        if let Some(fd) = &self.stdin {
            rustix::fs::fcntl_setfl(fd, rustix::fs::OFlags::NONBLOCK)
                .map_err(|e| SandboxError::spawn("fcntl", e))?;
            if self.input.is_empty() {
                self.stdin = None;
            }
        }
        let mut buf = vec![0u8; 64 * 1024];
        while self.readers.iter().any(Option::is_some) {
            if !guard.killed && cancelled() {
                guard.kill();
            }
            let (ready, keys) = self.poll()?;
            for (i, ready) in ready.into_iter().enumerate() {
                if ready {
                    self.read(i, &mut buf, output, guard)?;
                }
            }
            if keys {
                self.forward_keys(&mut buf);
            }
            if let Some(t) = &self.terminal {
                super::terminal::follow_resize(t.master.as_fd());
            }
            self.feed_stdin()?;
            if let (Some(pid), true) = (guard.init, self.listeners.is_some()) {
                let listeners = self.listeners.take().expect("checked");
                self.forwarding = Some(listeners.start(pid)?);
            }
        }
        Ok(())
    }

    /// Which readers are ready, and whether keys wait on rbuild's standard
    /// input (`-t`); stdin is simply tried after each poll.
    fn poll(&self) -> Result<([bool; 3], bool), SandboxError> {
        let mut fds: Vec<PollFd<'_>> = Vec::with_capacity(5);
        let mut index = Vec::with_capacity(3);
        for (i, reader) in self.readers.iter().enumerate() {
            if let Some(fd) = reader {
                fds.push(PollFd::new(fd, PollFlags::IN));
                index.push(i);
            }
        }
        if let Some(fd) = &self.stdin {
            fds.push(PollFd::new(fd, PollFlags::OUT));
        }
        let keys = self.terminal.as_ref().and_then(|t| t.keys.as_ref());
        if let Some(fd) = keys {
            fds.push(PollFd::new(fd, PollFlags::IN));
        }
        let mut ready = [false; 3];
        match rustix::event::poll(&mut fds, Some(&TICK)) {
            Ok(_) | Err(Errno::INTR) => {}
            Err(e) => return Err(SandboxError::spawn("poll", e)),
        }
        for (slot, fd) in index.iter().zip(&fds) {
            ready[*slot] = !fd.revents().is_empty();
        }
        let keys_ready = keys.is_some() && fds.last().is_some_and(|fd| !fd.revents().is_empty());
        Ok((ready, keys_ready))
    }

    /// Copies what was typed into the terminal; at rbuild's end of input
    /// nothing more is read.
    fn forward_keys(&mut self, buf: &mut [u8]) {
        let Some(t) = &mut self.terminal else { return };
        let Some(keys) = &t.keys else { return };
        match rustix::io::read(keys, &mut *buf) {
            Ok(0) | Err(_) => t.keys = None,
            Ok(n) => {
                let mut rest = &buf[..n];
                while !rest.is_empty() {
                    match rustix::io::write(&t.master, rest) {
                        Ok(written) => rest = &rest[written..],
                        Err(Errno::INTR) | Err(Errno::AGAIN) => {}
                        Err(_) => break,
                    }
                }
            }
        }
    }

    fn read(
        &mut self,
        i: usize,
        buf: &mut [u8],
        output: &mut dyn FnMut(Stream, &[u8]),
        guard: &mut Guard,
    ) -> Result<(), SandboxError> {
        let Some(fd) = &self.readers[i] else {
            return Ok(());
        };
        let n = match rustix::io::read(fd, &mut *buf) {
            Ok(n) => n,
            Err(Errno::INTR) | Err(Errno::AGAIN) => return Ok(()),
            // A terminal's master side reads EIO once no process has the
            // slave open: the end of the command's output.
            Err(Errno::IO) if i == 0 && self.terminal.is_some() => 0,
            Err(e) => return Err(SandboxError::spawn("read", e)),
        };
        if n == 0 {
            self.readers[i] = None;
            return Ok(());
        }
        match i {
            0 if self.terminal.is_some() => {
                use std::io::Write;
                let mut stdout = std::io::stdout().lock();
                let _ = stdout.write_all(&buf[..n]).and_then(|()| stdout.flush());
            }
            0 => output(Stream::Stdout, &buf[..n]),
            1 => output(Stream::Stderr, &buf[..n]),
            _ => self.reports.take(&buf[..n], guard),
        }
        Ok(())
    }

    fn feed_stdin(&mut self) -> Result<(), SandboxError> {
        let Some(fd) = &self.stdin else {
            return Ok(());
        };
        match write_some(fd.as_fd(), self.input) {
            Ok(n) => self.input = &self.input[n..],
            Err(Errno::AGAIN) | Err(Errno::INTR) => {}
            // The command closed its stdin (EPIPE; rbuild ignores SIGPIPE,
            // as every Rust program does): the rest is not wanted.
            Err(_) => self.input = &[],
        }
        if self.input.is_empty() {
            self.stdin = None; // EOF for the command
        }
        Ok(())
    }
}

fn write_some(fd: BorrowedFd<'_>, bytes: &[u8]) -> rustix::io::Result<usize> {
    rustix::io::write(fd, &bytes[..bytes.len().min(64 * 1024)])
}
