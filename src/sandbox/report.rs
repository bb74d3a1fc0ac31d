//! The report pipe from the sandbox processes to the parent: init's pid,
//! created paths, a setup or exec error, the command's wait status. Each
//! message is one `write` of less than `PIPE_BUF` bytes, so messages from
//! the three processes never interleave.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use super::syscall::SysError;

/// Longest path carried in a message (keeps each message under PIPE_BUF).
const MAX_PATH: usize = 3500;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Message {
    /// The pid of the step's init, as the parent sees it.
    Init(i32),
    /// A mount point created in the root filesystem.
    MountPoint(PathBuf),
    /// A directory created for the working directory.
    Dir(PathBuf),
    /// Setup or exec failed.
    Error {
        op: String,
        path: PathBuf,
        errno: i32,
    },
    /// The command's raw wait status.
    Status(i32),
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    let bytes = &bytes[..bytes.len().min(MAX_PATH)];
    out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    out.extend_from_slice(bytes);
}

impl Message {
    pub fn error(err: &SysError) -> Message {
        Message::Error {
            op: err.op.to_string(),
            path: err.path.clone(),
            errno: err.errno,
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        match self {
            Message::Init(pid) => {
                out.push(b'P');
                out.extend_from_slice(&pid.to_le_bytes());
            }
            Message::MountPoint(path) | Message::Dir(path) => {
                out.push(if matches!(self, Message::Dir(_)) {
                    b'D'
                } else {
                    b'M'
                });
                put_bytes(&mut out, path.as_os_str().as_bytes());
            }
            Message::Error { op, path, errno } => {
                out.push(b'E');
                out.extend_from_slice(&errno.to_le_bytes());
                put_bytes(&mut out, op.as_bytes());
                put_bytes(&mut out, path.as_os_str().as_bytes());
            }
            Message::Status(status) => {
                out.push(b'S');
                out.extend_from_slice(&status.to_le_bytes());
            }
        }
        out
    }
}

/// Reassembles messages from the pipe's byte stream.
#[derive(Debug, Default)]
pub(crate) struct Decoder {
    buf: Vec<u8>,
}

struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn take(&mut self, n: usize) -> Option<&[u8]> {
        let slice = self.bytes.get(self.pos..self.pos.checked_add(n)?)?;
        self.pos += n;
        Some(slice)
    }

    fn i32(&mut self) -> Option<i32> {
        Some(i32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }

    fn bytes(&mut self) -> Option<Vec<u8>> {
        let len = u32::from_le_bytes(self.take(4)?.try_into().ok()?) as usize;
        Some(self.take(len)?.to_vec())
    }
}

fn path(bytes: Vec<u8>) -> PathBuf {
    Path::new(OsStr::from_bytes(&bytes)).to_path_buf()
}

impl Decoder {
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete message; `Err` on a byte that starts none.
    pub fn next_message(&mut self) -> Result<Option<Message>, u8> {
        let Some(&tag) = self.buf.first() else {
            return Ok(None);
        };
        let mut cur = Cursor {
            bytes: &self.buf,
            pos: 1,
        };
        let msg = match tag {
            b'P' => cur.i32().map(Message::Init),
            b'S' => cur.i32().map(Message::Status),
            b'M' => cur.bytes().map(|b| Message::MountPoint(path(b))),
            b'D' => cur.bytes().map(|b| Message::Dir(path(b))),
            b'E' => (|| {
                let errno = cur.i32()?;
                let op = String::from_utf8_lossy(&cur.bytes()?).into_owned();
                let path = path(cur.bytes()?);
                Some(Message::Error { op, path, errno })
            })(),
            other => return Err(other),
        };
        let used = cur.pos;
        match msg {
            Some(msg) => {
                self.buf.drain(..used);
                Ok(Some(msg))
            }
            None => Ok(None),
        }
    }

    /// Whether bytes of an incomplete message are left over.
    pub fn has_partial(&self) -> bool {
        !self.buf.is_empty()
    }
}
