//! The setup channel between the caller and a container process.
//!
//! A `SOCK_SEQPACKET` socketpair: one datagram per message, and EOF when
//! the last copy of the child's end closes. The child's end is close-on-exec,
//! so EOF after a "go" message means `execve` succeeded — no timeout, no
//! polling, and an exec error can still be sent back before the child exits.

use std::io;
use std::os::fd::{AsFd, OwnedFd};

use rustix::net::{AddressFamily, SocketFlags, SocketType};

use crate::error::InitError;

/// Messages, one byte tag plus payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Msg {
    /// child → parent: set up, blocked before `execve`.
    Ready,
    /// child → parent: failed; the child exits after sending.
    Error(InitError),
    /// intermediate → parent: the pid (in the caller's namespace) of the
    /// process it forked.
    Pid(i32),
    /// parent → child: the cgroup is in place, carry on.
    Go,
    /// parent → child: `start`: execve now.
    Start,
}

const READY: u8 = 1;
const ERROR: u8 = 2;
const PID: u8 = 3;
const GO: u8 = 10;
const START: u8 = 11;

/// A connected pair: (parent end, child end), both close-on-exec.
pub(crate) fn pair() -> io::Result<(OwnedFd, OwnedFd)> {
    Ok(rustix::net::socketpair(AddressFamily::UNIX, SocketType::SEQPACKET, SocketFlags::CLOEXEC, None)?)
}

pub(crate) fn send(fd: impl AsFd, msg: &Msg) -> io::Result<()> {
    let mut buf = Vec::with_capacity(64);
    match msg {
        Msg::Ready => buf.push(READY),
        Msg::Error(e) => {
            buf.push(ERROR);
            e.encode(&mut buf);
        }
        Msg::Pid(pid) => {
            buf.push(PID);
            buf.extend_from_slice(&pid.to_le_bytes());
        }
        Msg::Go => buf.push(GO),
        Msg::Start => buf.push(START),
    }
    loop {
        match rustix::net::send(fd.as_fd(), &buf, rustix::net::SendFlags::NOSIGNAL) {
            Ok(_) => return Ok(()),
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

/// The next message; `None` at EOF (every copy of the other end closed).
pub(crate) fn recv(fd: impl AsFd) -> io::Result<Option<Msg>> {
    let mut buf = [0u8; 4096];
    let n = loop {
        match rustix::io::read(fd.as_fd(), &mut buf) {
            Ok(n) => break n,
            Err(rustix::io::Errno::INTR) => continue,
            // A peer that died with unread data pending resets the socket.
            Err(rustix::io::Errno::CONNRESET) => return Ok(None),
            Err(e) => return Err(e.into()),
        }
    };
    if n == 0 {
        return Ok(None);
    }
    let bad = || io::Error::new(io::ErrorKind::InvalidData, "malformed setup message");
    let msg = match buf[0] {
        READY => Msg::Ready,
        ERROR => Msg::Error(InitError::decode(&buf[1..n]).ok_or_else(bad)?),
        PID => Msg::Pid(i32::from_le_bytes(buf.get(1..5).ok_or_else(bad)?.try_into().map_err(|_| bad())?)),
        GO => Msg::Go,
        START => Msg::Start,
        _ => return Err(bad()),
    };
    Ok(Some(msg))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::InitErrorKind;

    #[test]
    fn messages_round_trip_and_eof() {
        let (a, b) = pair().unwrap();
        let err = InitError {
            kind: InitErrorKind::ExecPermission,
            errno: Some(13),
            message: "exec: \"/etc/passwd\": permission denied".into(),
        };
        for msg in [Msg::Ready, Msg::Go, Msg::Start, Msg::Pid(4242), Msg::Error(err)] {
            send(&a, &msg).unwrap();
            assert_eq!(recv(&b).unwrap(), Some(msg));
        }
        drop(a);
        assert_eq!(recv(&b).unwrap(), None);
    }
}
