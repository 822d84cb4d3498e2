//! SIGCHLD as a readable fd (the self-pipe trick), and SIGPIPE neutralised.
//!
//! A self-pipe rather than a signalfd: a signalfd needs SIGCHLD blocked,
//! and a blocked mask is inherited by the container's processes through
//! fork and execve. Handlers, by contrast, are reset to the default on
//! execve, so neither the SIGCHLD handler nor the no-op SIGPIPE handler
//! (which makes writes to a vanished peer fail with EPIPE instead of
//! killing the shim) leaks into the container. `SIG_IGN` would leak.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicI32, Ordering};

use rustix::pipe::{PipeFlags, pipe_with};

/// The write end of the self-pipe, for the handler.
static WAKE_FD: AtomicI32 = AtomicI32::new(-1);

/// The shim's pid: a process forked by the runtime keeps the handler until
/// it execs, and may have reused the fd number for another file.
static SHIM_PID: AtomicI32 = AtomicI32::new(-1);

extern "C" fn on_sigchld(_: libc::c_int) {
    // SAFETY: only async-signal-safe calls (errno, getpid, write); errno
    // is restored so the interrupted code does not see ours.
    unsafe {
        let errno = *libc::__errno_location();
        let fd = WAKE_FD.load(Ordering::Relaxed);
        if fd >= 0 && libc::getpid() == SHIM_PID.load(Ordering::Relaxed) {
            let byte = 1u8;
            // A full pipe already holds a wake-up: the result can be ignored.
            libc::write(fd, (&raw const byte).cast(), 1);
        }
        *libc::__errno_location() = errno;
    }
}

extern "C" fn ignore(_: libc::c_int) {}

/// Owns the self-pipe; its read end becomes readable when a child changed
/// state.
#[derive(Debug)]
pub struct ChildSignals {
    pub read: OwnedFd,
    _write: OwnedFd,
}

impl ChildSignals {
    /// Installs the handlers. Call once, in the shim process.
    pub fn install() -> io::Result<ChildSignals> {
        let (read, write) = pipe_with(PipeFlags::CLOEXEC | PipeFlags::NONBLOCK)?;
        WAKE_FD.store(write.as_raw_fd(), Ordering::Relaxed);
        SHIM_PID.store(std::process::id() as i32, Ordering::Relaxed);
        set_handler(libc::SIGCHLD, on_sigchld, libc::SA_NOCLDSTOP)?;
        set_handler(libc::SIGPIPE, ignore, 0)?;
        // Start with nothing blocked: the daemon's mask is not ours.
        // SAFETY: an empty, initialised set; sigprocmask only reads it.
        unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            if libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut()) != 0 {
                return Err(io::Error::last_os_error());
            }
        }
        Ok(ChildSignals { read, _write: write })
    }

    /// Empties the pipe (the loop then reaps every child that exited).
    pub fn drain(&self) {
        let mut buf = [0u8; 64];
        while let Ok(n) = rustix::io::read(&self.read, &mut buf) {
            if n == 0 {
                break;
            }
        }
    }
}

fn set_handler(
    signal: libc::c_int,
    handler: extern "C" fn(libc::c_int),
    flags: libc::c_int,
) -> io::Result<()> {
    // SAFETY: a zeroed sigaction is valid; we set a handler that is
    // async-signal-safe and an empty mask. SA_RESTART keeps blocking calls
    // (the runtime's pipe reads during create/start) from failing EINTR.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = handler as usize;
        action.sa_flags = flags | libc::SA_RESTART;
        libc::sigemptyset(&mut action.sa_mask);
        if libc::sigaction(signal, &action, std::ptr::null_mut()) != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}
