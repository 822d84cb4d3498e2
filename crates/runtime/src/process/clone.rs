//! Forking into new namespaces with `clone3(2)`, used like `fork(2)`.
//!
//! No separate stack is given: without `CLONE_VM` the child gets a
//! copy-on-write copy of the whole address space, stack included, and
//! returns from the system call on its copy — exactly what `fork` does,
//! while also creating namespaces, returning a pidfd and (cgroup v2)
//! starting the child directly inside its cgroup.
//!
//! This is only sound in a single-threaded process: the child inherits the
//! memory of every thread but only the calling thread runs in it, so a lock
//! held by another thread at the moment of the fork (inside malloc, for
//! one) would stay locked forever in the child, and the child runs ordinary
//! Rust code that allocates. The shim that drives the runtime is
//! single-threaded by design; debug builds check it
//! ([`super::check_single_threaded`]).
//!
//! Where `clone3` is missing (Linux < 5.3) or filtered (the parent itself
//! runs under Docker's seccomp profile, which answers `ENOSYS`), the legacy
//! `clone(2)` does the same job with the same flags, minus
//! `CLONE_INTO_CGROUP`; the caller then moves the child into its cgroup
//! itself.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

/// What to create.
#[derive(Debug, Default)]
pub(crate) struct CloneOptions<'a> {
    /// `CLONE_NEW*` flags, plus `CLONE_PARENT` when wanted.
    pub flags: u64,
    /// Start the child in this cgroup v2 directory.
    pub cgroup: Option<BorrowedFd<'a>>,
    /// Ask for a pidfd.
    pub pidfd: bool,
}

/// The result, in the parent.
#[derive(Debug)]
pub(crate) struct Child {
    pub pid: i32,
    pub pidfd: Option<OwnedFd>,
    /// Whether the child already sits in `CloneOptions::cgroup`.
    pub in_cgroup: bool,
}

/// Which side of the fork we are on.
#[derive(Debug)]
pub(crate) enum Forked {
    Parent(Child),
    Child,
}

const CLONE_PIDFD: u64 = libc::CLONE_PIDFD as u64;
const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

/// Forks with `opts`. The caller must be single-threaded (see the module
/// documentation) and, in the child, must end with `execve` or
/// [`crate::sys::exit_now`] — never by returning into the parent's code.
pub(crate) fn fork(opts: &CloneOptions<'_>) -> io::Result<Forked> {
    let mut pidfd: libc::c_int = -1;
    let mut flags = opts.flags;
    if opts.pidfd {
        flags |= CLONE_PIDFD;
    }
    let mut args = CloneArgs {
        flags,
        pidfd: &mut pidfd as *mut libc::c_int as u64,
        // With CLONE_PARENT the child inherits the caller's exit signal, and
        // clone3 insists on 0 here.
        exit_signal: if flags & libc::CLONE_PARENT as u64 != 0 { 0 } else { libc::SIGCHLD as u64 },
        ..CloneArgs::default()
    };
    if let Some(cg) = opts.cgroup {
        args.flags |= CLONE_INTO_CGROUP;
        args.cgroup = cg.as_raw_fd() as u64;
    }
    // SAFETY: `args` is a valid clone_args of the size passed; no stack is
    // given and CLONE_VM is not set, so the child runs on a private copy of
    // this stack like after fork(). The pidfd pointer is valid in both
    // processes. Single-threadedness is the caller's documented contract.
    let mut ret = unsafe {
        libc::syscall(libc::SYS_clone3, &mut args as *mut CloneArgs, std::mem::size_of::<CloneArgs>())
    };
    let mut in_cgroup = opts.cgroup.is_some();
    if ret < 0 {
        let err = io::Error::last_os_error();
        match err.raw_os_error() {
            // CLONE_INTO_CGROUP arrived in 5.7; older kernels reject it.
            Some(libc::E2BIG | libc::EINVAL) if opts.cgroup.is_some() => {
                args.flags &= !CLONE_INTO_CGROUP;
                args.cgroup = 0;
                in_cgroup = false;
                // SAFETY: as above.
                ret = unsafe {
                    libc::syscall(
                        libc::SYS_clone3,
                        &mut args as *mut CloneArgs,
                        std::mem::size_of::<CloneArgs>(),
                    )
                };
                if ret < 0 && io::Error::last_os_error().raw_os_error() == Some(libc::ENOSYS) {
                    ret = legacy_clone(flags, &mut pidfd);
                }
            }
            Some(libc::ENOSYS) => {
                in_cgroup = false;
                ret = legacy_clone(flags, &mut pidfd);
            }
            _ => return Err(err),
        }
        if ret < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    if ret == 0 {
        return Ok(Forked::Child);
    }
    let pidfd = if opts.pidfd && pidfd >= 0 {
        // SAFETY: the kernel stored a new descriptor owned by nobody else.
        Some(unsafe { OwnedFd::from_raw_fd(pidfd) })
    } else {
        None
    };
    Ok(Forked::Parent(Child { pid: ret as i32, pidfd, in_cgroup }))
}

/// `clone(2)` with the same fork-like semantics (no stack, no TLS).
fn legacy_clone(flags: u64, pidfd: &mut libc::c_int) -> libc::c_long {
    let flags = (flags & 0xffff_ffff) | libc::SIGCHLD as u64;
    // SAFETY: as for clone3: stack 0 means "copy of the current stack";
    // CLONE_PIDFD (if set) writes a descriptor into `pidfd` through the
    // parent_tid argument, which is the third on every architecture. The
    // remaining arguments are only read for flags we never pass.
    unsafe {
        libc::syscall(
            libc::SYS_clone,
            flags as libc::c_ulong,
            0 as libc::c_ulong,
            pidfd as *mut libc::c_int,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
        )
    }
}
