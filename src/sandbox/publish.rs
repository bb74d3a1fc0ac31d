//! `rbuild run -p [IP:]HOST:CONTAINER`: a TCP port on the host forwarded
//! into the container's private network namespace, like docker-proxy. The
//! listener is bound on the host before the container starts (a busy port
//! fails at once); each connection is served by a thread that joins the
//! container's network namespace (`setns` affects only the calling thread),
//! connects to the port on the container's loopback and copies bytes both
//! ways until either side closes.

use super::error::SandboxError;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// One published port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Publish {
    /// Where the host listens.
    pub host: SocketAddr,
    /// The port inside the container (on its loopback).
    pub container_port: u16,
}

/// Listeners bound before the container starts.
pub(crate) struct Listeners(Vec<(TcpListener, u16)>);

impl Listeners {
    pub fn bind(ports: &[Publish]) -> Result<Listeners, SandboxError> {
        let mut bound = Vec::new();
        for p in ports {
            let listener = TcpListener::bind(p.host).map_err(|e| SandboxError::InvalidSpec {
                what: format!(
                    "-p {}:{}: cannot listen on {}: {e}",
                    p.host, p.container_port, p.host
                ),
            })?;
            listener
                .set_nonblocking(true)
                .map_err(|e| SandboxError::spawn("fcntl", e))?;
            bound.push((listener, p.container_port));
        }
        Ok(Listeners(bound))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Starts forwarding into the network namespace of process `pid`;
    /// forwarding stops when the returned guard is dropped.
    pub fn start(self, pid: i32) -> Result<Forwarding, SandboxError> {
        let path = format!("/proc/{pid}/ns/net");
        let netns: Arc<OwnedFd> = Arc::new(
            std::fs::File::open(&path)
                .map_err(|e| SandboxError::io("open", &path, e))?
                .into(),
        );
        let stop = Arc::new(AtomicBool::new(false));
        for (listener, port) in self.0 {
            let (netns, stop) = (netns.clone(), stop.clone());
            std::thread::spawn(move || accept_loop(listener, port, &netns, &stop));
        }
        Ok(Forwarding { stop })
    }
}

/// Stops accepting connections when dropped.
pub(crate) struct Forwarding {
    stop: Arc<AtomicBool>,
}

impl Drop for Forwarding {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

fn accept_loop(listener: TcpListener, port: u16, netns: &Arc<OwnedFd>, stop: &AtomicBool) {
    while !stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((client, _)) => {
                let netns = netns.clone();
                std::thread::spawn(move || forward(client, port, &netns));
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

/// Serves one connection from inside the container's network namespace.
fn forward(client: TcpStream, port: u16, netns: &OwnedFd) {
    // SAFETY: setns(2) with a valid namespace descriptor; it moves only this
    // thread, which does nothing else afterwards.
    if unsafe { libc::setns(netns.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
        return;
    }
    let _ = client.set_nonblocking(false);
    let Ok(server) = TcpStream::connect(("127.0.0.1", port)) else {
        return; // The client sees the connection closed, as with docker-proxy.
    };
    let (Ok(client_read), Ok(server_read)) = (client.try_clone(), server.try_clone()) else {
        return;
    };
    let upstream = std::thread::spawn(move || pipe(client_read, server));
    pipe(server_read, client);
    let _ = upstream.join();
}

/// Copies `from` to `to` until EOF, then closes `to` for writing.
fn pipe(mut from: TcpStream, mut to: TcpStream) {
    let mut buf = [0u8; 16 * 1024];
    loop {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}
