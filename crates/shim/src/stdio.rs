//! A process's stdio as the shim holds it: the read ends of its stdout and
//! stderr pipes (or the pty master), the write end of its stdin, and the
//! non-blocking I/O helpers the event loop uses on them.
//!
//! Every fd the shim creates is `O_CLOEXEC`; the shim's own ends are also
//! `O_NONBLOCK` (set on the shim's end only: the flag lives in the open file
//! description, and the container's ends must stay blocking).

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::time::Instant;

use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;
use rustix::pipe::{PipeFlags, pipe_with};
use rustix::pty::{OpenptFlags, grantpt, ioctl_tiocgptpeer, openpt, unlockpt};
use rustix::termios::{Winsize, tcsetwinsize};

use crate::protocol::Stream;
use crate::rt::Stdio;

/// Data queued for a process's stdin is capped; beyond it the shim stops
/// reading from the clients that feed it (back-pressure, not loss).
pub const STDIN_LIMIT: usize = 1024 * 1024;

/// An output of a process, read by the shim.
#[derive(Debug)]
pub struct Output {
    pub fd: OwnedFd,
    pub stream: Stream,
}

/// The shim's end of a process's stdin, with what is waiting to be written.
#[derive(Debug)]
pub struct StdinSink {
    pub fd: OwnedFd,
    pub buf: Vec<u8>,
    /// A client half-closed: close once `buf` is written.
    pub closing: bool,
}

impl StdinSink {
    /// Writes what it can without blocking; `true` when the sink is
    /// finished (closing and drained, or the process closed its stdin) and
    /// should be dropped.
    pub fn flush(&mut self) -> bool {
        while !self.buf.is_empty() {
            match rustix::io::write(&self.fd, &self.buf) {
                Ok(n) => {
                    self.buf.drain(..n);
                }
                Err(Errno::INTR) => {}
                Err(Errno::AGAIN) => return false,
                // EPIPE and friends: nobody reads stdin any more.
                Err(_) => return true,
            }
        }
        if self.buf.capacity() > 64 * 1024 {
            self.buf = Vec::new();
        }
        self.closing
    }
}

/// The stdio of one process (the container's init or an exec).
#[derive(Debug, Default)]
pub struct ProcIo {
    /// Outputs still open; `None` once they reached end of file.
    pub outputs: Vec<Option<Output>>,
    pub stdin: Option<StdinSink>,
    /// The pty master, kept for resizing.
    pub pty: Option<OwnedFd>,
    /// When the process exited; its outputs then get a grace period to
    /// reach end of file (orphans may hold them open).
    pub exited_at: Option<Instant>,
    /// No more output will be sent to clients.
    pub done: bool,
}

impl ProcIo {
    /// Pipes for stdout and stderr, and for stdin if `stdin`, else
    /// `/dev/null`.
    pub fn pipes(stdin: bool) -> io::Result<(ProcIo, Stdio)> {
        let (out_r, out_w) = pipe()?;
        let (err_r, err_w) = pipe()?;
        let (sink, child_in) = if stdin {
            let (in_r, in_w) = pipe()?;
            nonblocking(&in_w)?;
            (Some(sink(in_w)), in_r)
        } else {
            (None, dev_null()?)
        };
        nonblocking(&out_r)?;
        nonblocking(&err_r)?;
        let io = ProcIo {
            outputs: vec![
                Some(Output { fd: out_r, stream: Stream::Stdout }),
                Some(Output { fd: err_r, stream: Stream::Stderr }),
            ],
            stdin: sink,
            ..ProcIo::default()
        };
        let stdio = Stdio::Pipes { stdin: child_in, stdout: out_w, stderr: err_w };
        Ok((io, stdio))
    }

    /// A new pty: its output is the process's stdout; input is written to
    /// the master when `stdin`.
    pub fn pty(stdin: bool) -> io::Result<(ProcIo, Stdio)> {
        Self::pty_with(openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC)?, stdin)
    }

    /// A pty from the container's own devpts instance (its `/dev/pts/ptmx`),
    /// so inside the container the tty has a name (`tty` prints
    /// `/dev/pts/N`), as runc gives `docker exec -t`. The container controls
    /// that path, and the shim is host root outside its device cgroup, so
    /// the node is checked before it is opened: reached without symlinks, on
    /// a devpts file system, the ptmx device (5:2). Anything else (a node
    /// the container made for some host device) is never opened.
    pub fn pty_in(init_pid: i32, stdin: bool) -> io::Result<(ProcIo, Stdio)> {
        use rustix::fs::{Mode, OFlags, ResolveFlags, openat2};
        const DEVPTS_SUPER_MAGIC: i64 = 0x1cd1;
        let root = rustix::fs::open(
            format!("/proc/{init_pid}/root"),
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        let node = openat2(
            &root,
            "dev/pts/ptmx",
            OFlags::PATH | OFlags::CLOEXEC,
            Mode::empty(),
            ResolveFlags::IN_ROOT | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS,
        )?;
        let fs = rustix::fs::fstatfs(&node)?;
        let st = rustix::fs::fstat(&node)?;
        let is_ptmx = rustix::fs::FileType::from_raw_mode(st.st_mode)
            == rustix::fs::FileType::CharacterDevice
            && rustix::fs::major(st.st_rdev) == 5
            && rustix::fs::minor(st.st_rdev) == 2;
        if fs.f_type as i64 != DEVPTS_SUPER_MAGIC || !is_ptmx {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "the container's /dev/pts/ptmx is not devpts's ptmx",
            ));
        }
        // Reopened through the checked descriptor, not the path.
        let master = rustix::fs::open(
            format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&node)),
            OFlags::RDWR | OFlags::NOCTTY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        Self::pty_with(master, stdin)
    }

    fn pty_with(master: OwnedFd, stdin: bool) -> io::Result<(ProcIo, Stdio)> {
        grantpt(&master)?;
        unlockpt(&master)?;
        // TIOCGPTPEER opens the slave from the master, without a path
        // lookup in /dev/pts that could be raced.
        let slave =
            ioctl_tiocgptpeer(&master, OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC)?;
        nonblocking(&master)?;
        let io = ProcIo {
            stdin: if stdin { Some(sink(dup(&master)?)) } else { None },
            pty: Some(dup(&master)?),
            outputs: vec![Some(Output { fd: master, stream: Stream::Stdout })],
            ..ProcIo::default()
        };
        Ok((io, Stdio::Tty { pty_slave: slave }))
    }

    /// `/dev/null` for everything: a detached exec's output is discarded,
    /// as Docker does.
    pub fn null() -> io::Result<(ProcIo, Stdio)> {
        let stdio = Stdio::Pipes { stdin: dev_null()?, stdout: dev_null()?, stderr: dev_null()? };
        Ok((ProcIo { done: true, ..ProcIo::default() }, stdio))
    }

    pub fn resize(&self, height: u16, width: u16) -> io::Result<()> {
        let Some(pty) = &self.pty else {
            return Err(io::Error::other("the process has no tty"));
        };
        tcsetwinsize(pty, Winsize { ws_row: height, ws_col: width, ws_xpixel: 0, ws_ypixel: 0 })?;
        Ok(())
    }

    pub fn all_closed(&self) -> bool {
        self.outputs.iter().all(Option::is_none)
    }
}

fn sink(fd: OwnedFd) -> StdinSink {
    StdinSink { fd, buf: Vec::new(), closing: false }
}

fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    Ok(pipe_with(PipeFlags::CLOEXEC)?)
}

fn dup(fd: &OwnedFd) -> io::Result<OwnedFd> {
    Ok(rustix::io::fcntl_dupfd_cloexec(fd, 3)?)
}

pub fn dev_null() -> io::Result<OwnedFd> {
    Ok(rustix::fs::open("/dev/null", OFlags::RDWR | OFlags::CLOEXEC, Mode::empty())?)
}

/// Sets `O_NONBLOCK` on `fd`'s open file description.
pub fn nonblocking(fd: impl AsFd) -> io::Result<()> {
    let flags = rustix::fs::fcntl_getfl(&fd)?;
    rustix::fs::fcntl_setfl(&fd, flags | OFlags::NONBLOCK)?;
    Ok(())
}

/// The outcome of one non-blocking read.
#[derive(Debug, PartialEq, Eq)]
pub enum Read {
    Data(usize),
    WouldBlock,
    /// End of file; also a pty master's EIO once every slave fd is closed,
    /// and any error (nothing more will come from this fd).
    Eof,
}

pub fn read(fd: BorrowedFd<'_>, buf: &mut [u8]) -> Read {
    loop {
        match rustix::io::read(fd, &mut *buf) {
            Ok(0) => return Read::Eof,
            Ok(n) => return Read::Data(n),
            Err(Errno::INTR) => continue,
            Err(Errno::AGAIN) => return Read::WouldBlock,
            Err(_) => return Read::Eof,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_fd_is_cloexec_and_only_ours_nonblocking() {
        let (io, stdio) = ProcIo::pipes(true).unwrap();
        let Stdio::Pipes { stdin, stdout, stderr } = &stdio else { panic!() };
        for fd in [stdin, stdout, stderr] {
            assert!(rustix::io::fcntl_getfd(fd).unwrap().contains(rustix::io::FdFlags::CLOEXEC));
            assert!(!rustix::fs::fcntl_getfl(fd).unwrap().contains(OFlags::NONBLOCK));
        }
        for out in io.outputs.iter().flatten() {
            assert!(rustix::io::fcntl_getfd(&out.fd).unwrap().contains(rustix::io::FdFlags::CLOEXEC));
            assert!(rustix::fs::fcntl_getfl(&out.fd).unwrap().contains(OFlags::NONBLOCK));
        }
        let sink = io.stdin.as_ref().unwrap();
        assert!(rustix::fs::fcntl_getfl(&sink.fd).unwrap().contains(OFlags::NONBLOCK));
    }

    #[test]
    fn pty_resizes_and_reports_eio_as_eof() {
        let (mut io, stdio) = ProcIo::pty(true).unwrap();
        io.resize(33, 101).unwrap();
        let Stdio::Tty { pty_slave } = stdio else { panic!() };
        let ws = rustix::termios::tcgetwinsize(&pty_slave).unwrap();
        assert_eq!((ws.ws_row, ws.ws_col), (33, 101));
        rustix::io::write(&pty_slave, b"hi\n").unwrap();
        drop(pty_slave);
        let out = io.outputs[0].take().unwrap();
        let mut buf = [0u8; 64];
        let mut got = Vec::new();
        loop {
            match read(out.fd.as_fd(), &mut buf) {
                Read::Data(n) => got.extend_from_slice(&buf[..n]),
                Read::WouldBlock => std::thread::sleep(std::time::Duration::from_millis(5)),
                Read::Eof => break,
            }
        }
        assert_eq!(got, b"hi\r\n");
    }

    #[test]
    fn stdin_sink_reports_a_closed_reader() {
        let (mut io, stdio) = ProcIo::pipes(true).unwrap();
        drop(stdio);
        let sink = io.stdin.as_mut().unwrap();
        sink.buf.extend_from_slice(b"data");
        // SIGPIPE is ignored by the Rust test harness; the write fails EPIPE.
        assert!(sink.flush());
    }
}
