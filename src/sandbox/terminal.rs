//! `rbuild run -t`: the command gets a pseudo-terminal as its controlling
//! terminal (so a shell has job control), rbuild's own terminal is put in
//! raw mode for the run (keys such as Ctrl-C and Ctrl-Z reach the
//! container's foreground process, as with `docker run -it`), and the window
//! size follows rbuild's terminal, SIGWINCH included.

use super::error::SandboxError;
use rustix::fs::{Mode, OFlags};
use rustix::pty::{grantpt, openpt, ptsname, unlockpt, OpenptFlags};
use rustix::termios::{tcgetattr, tcgetwinsize, tcsetattr, tcsetwinsize, OptionalActions, Termios};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};

/// Set by SIGWINCH; the pump copies the new size.
static RESIZED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_winch(_: libc::c_int) {
    RESIZED.store(true, Ordering::SeqCst);
}

/// A pseudo-terminal pair: the master stays with rbuild, the slave becomes
/// the command's standard streams.
pub(crate) struct Pty {
    pub master: OwnedFd,
    pub slave: OwnedFd,
}

fn err(call: &'static str) -> impl Fn(rustix::io::Errno) -> SandboxError {
    move |e| SandboxError::spawn(call, e)
}

impl Pty {
    pub fn open() -> Result<Pty, SandboxError> {
        let master = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC)
            .map_err(err("posix_openpt"))?;
        grantpt(&master).map_err(err("grantpt"))?;
        unlockpt(&master).map_err(err("unlockpt"))?;
        let name = ptsname(&master, Vec::new()).map_err(err("ptsname"))?;
        let slave = rustix::fs::open(
            name.as_c_str(),
            OFlags::RDWR | OFlags::NOCTTY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(err("open pty"))?;
        let pty = Pty { master, slave };
        copy_window_size(pty.master.as_fd());
        super::process::on_signal(libc::SIGWINCH, on_winch);
        Ok(pty)
    }
}

/// rbuild's terminal size onto the pseudo-terminal (nothing when rbuild
/// has no terminal).
fn copy_window_size(master: BorrowedFd<'_>) {
    if let Ok(size) = tcgetwinsize(std::io::stdout()) {
        let _ = tcsetwinsize(master, size);
    }
}

/// After a SIGWINCH, the new size.
pub(crate) fn follow_resize(master: BorrowedFd<'_>) {
    if RESIZED.swap(false, Ordering::SeqCst) {
        copy_window_size(master);
    }
}

/// rbuild's own terminal in raw mode until dropped (restored on every way
/// out); nothing when standard input is no terminal.
pub(crate) struct RawMode {
    saved: Option<Termios>,
}

impl RawMode {
    pub fn enter() -> RawMode {
        let stdin = std::io::stdin();
        let Ok(saved) = tcgetattr(stdin.as_fd()) else {
            return RawMode { saved: None };
        };
        let mut raw = saved.clone();
        raw.make_raw();
        let _ = tcsetattr(stdin.as_fd(), OptionalActions::Now, &raw);
        RawMode { saved: Some(saved) }
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        if let Some(saved) = &self.saved {
            let _ = tcsetattr(std::io::stdin().as_fd(), OptionalActions::Now, saved);
        }
    }
}
