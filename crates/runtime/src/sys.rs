//! Thin wrappers over the system calls rustix does not offer (`execve`,
//! `seccomp`, `mount_setattr`, `close_range`, `bpf`, signal dispositions).
//!
//! This module and [`crate::process::clone`] are the only places with
//! `unsafe` code; everything else goes through rustix's safe API.

use std::ffi::{CStr, CString};
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

fn check(ret: libc::c_long) -> io::Result<libc::c_long> {
    if ret < 0 { Err(io::Error::last_os_error()) } else { Ok(ret) }
}

/// Replaces the process image. Only returns on failure.
pub(crate) fn execve(path: &CStr, argv: &[CString], envp: &[CString]) -> io::Error {
    let mut argv_ptrs: Vec<*const libc::c_char> = argv.iter().map(|a| a.as_ptr()).collect();
    argv_ptrs.push(std::ptr::null());
    let mut envp_ptrs: Vec<*const libc::c_char> = envp.iter().map(|e| e.as_ptr()).collect();
    envp_ptrs.push(std::ptr::null());
    // SAFETY: `path` and every element are NUL-terminated strings that stay
    // alive for the call; both arrays end with a null pointer as execve
    // requires.
    unsafe { libc::execve(path.as_ptr(), argv_ptrs.as_ptr(), envp_ptrs.as_ptr()) };
    io::Error::last_os_error()
}

/// Ends the process at once: no destructors, no atexit handlers, no stdio
/// flushing. A forked child must never run the parent's cleanup code.
pub(crate) fn exit_now(code: i32) -> ! {
    // SAFETY: _exit has no preconditions and does not return.
    unsafe { libc::_exit(code) }
}

/// One classic BPF instruction, as `struct sock_filter`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SockFilter {
    pub code: u16,
    pub jt: u8,
    pub jf: u8,
    pub k: u32,
}

/// Installs a seccomp filter on the calling thread (the process is
/// single-threaded when this runs). The caller must either hold
/// `CAP_SYS_ADMIN` or have set `no_new_privs`.
pub(crate) fn seccomp_set_filter(program: &[SockFilter]) -> io::Result<()> {
    #[repr(C)]
    struct SockFprog {
        len: libc::c_ushort,
        filter: *const SockFilter,
    }
    let len =
        libc::c_ushort::try_from(program.len()).map_err(|_| io::Error::from_raw_os_error(libc::E2BIG))?;
    let prog = SockFprog { len, filter: program.as_ptr() };
    // SAFETY: `prog` points at `len` initialised instructions that outlive
    // the call; the kernel copies the program.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            0 as libc::c_ulong,
            &prog as *const SockFprog,
        )
    };
    check(ret).map(drop)
}

/// `MOUNT_ATTR_*` flags of `mount_setattr(2)`.
pub(crate) const MOUNT_ATTR_RDONLY: u64 = 0x1;

/// Sets attributes on a mount and, with `recursive`, on every mount below
/// it (`mount_setattr(2)`, Linux 5.12). Used for recursive read-only binds.
pub(crate) fn mount_setattr(dirfd: BorrowedFd<'_>, recursive: bool, attr_set: u64) -> io::Result<()> {
    #[repr(C)]
    struct MountAttr {
        attr_set: u64,
        attr_clr: u64,
        propagation: u64,
        userns_fd: u64,
    }
    let attr = MountAttr { attr_set, attr_clr: 0, propagation: 0, userns_fd: 0 };
    let mut flags = libc::AT_EMPTY_PATH as libc::c_uint;
    if recursive {
        flags |= libc::AT_RECURSIVE as libc::c_uint;
    }
    // SAFETY: the path is an empty NUL-terminated string, `attr` is a
    // properly sized mount_attr that outlives the call.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            dirfd.as_raw_fd(),
            c"".as_ptr(),
            flags,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    check(ret).map(drop)
}

/// Closes (or, with `cloexec`, marks close-on-exec) every descriptor in
/// `first..=last` (`close_range(2)`, Linux 5.9/5.11).
pub(crate) fn close_range(first: u32, last: u32, cloexec: bool) -> io::Result<()> {
    let flags: libc::c_uint = if cloexec { libc::CLOSE_RANGE_CLOEXEC } else { 0 };
    // SAFETY: close_range takes plain integers. Closing descriptors that
    // Rust objects still own would be unsound, so callers only pass ranges
    // holding descriptors nothing in this process refers to any more (the
    // forked child's inherited copies of the parent's files).
    let ret = unsafe { libc::syscall(libc::SYS_close_range, first, last, flags) };
    check(ret).map(drop)
}

/// Closes one raw descriptor inherited from the parent that no Rust object
/// owns in this process.
pub(crate) fn close_raw(fd: i32) {
    // SAFETY: see `close_range`; the descriptor is not owned by any object.
    unsafe { libc::close(fd) };
}

/// Restores default dispositions for every signal and unblocks them all.
///
/// The calling process (the shim) may block signals for a signalfd or have
/// handlers installed; `execve` keeps the mask and ignored dispositions, and
/// a container must not start with SIGCHLD blocked or SIGPIPE ignored.
pub(crate) fn reset_signals() {
    for sig in 1..libc::SIGRTMAX() {
        if sig == libc::SIGKILL || sig == libc::SIGSTOP {
            continue;
        }
        // SAFETY: a zeroed sigaction with SIG_DFL is a valid disposition;
        // failures (for signals reserved by the libc) are harmless.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = libc::SIG_DFL;
            libc::sigaction(sig, &action, std::ptr::null_mut());
        }
    }
    // SAFETY: an empty, initialised set; SIG_SETMASK with it unblocks all.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
    }
}

/// Sends a signal to a process by pid (any signal number, real-time ones
/// included).
pub(crate) fn kill(pid: i32, sig: i32) -> io::Result<()> {
    // SAFETY: kill takes plain integers.
    let ret = unsafe { libc::kill(pid, sig) };
    check(ret as libc::c_long).map(drop)
}

/// Sends a signal through a pidfd (no pid-reuse race).
pub(crate) fn pidfd_send_signal(pidfd: BorrowedFd<'_>, sig: i32) -> io::Result<()> {
    // SAFETY: a valid pidfd, a signal number, no siginfo, no flags.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            sig,
            std::ptr::null::<libc::siginfo_t>(),
            0 as libc::c_uint,
        )
    };
    check(ret).map(drop)
}

/// One eBPF instruction, as `struct bpf_insn`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BpfInsn {
    pub code: u8,
    /// dst_reg in the low nibble, src_reg in the high nibble.
    pub regs: u8,
    pub off: i16,
    pub imm: i32,
}

const BPF_PROG_LOAD: libc::c_int = 5;
const BPF_PROG_ATTACH: libc::c_int = 8;
const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
const BPF_CGROUP_DEVICE: u32 = 6;
const BPF_F_ALLOW_MULTI: u32 = 2;

/// Loads a `BPF_PROG_TYPE_CGROUP_DEVICE` program and attaches it to the
/// cgroup directory `cgroup`. The attachment keeps the program alive; the
/// returned descriptor may be dropped.
pub(crate) fn attach_device_filter(cgroup: BorrowedFd<'_>, insns: &[BpfInsn]) -> io::Result<OwnedFd> {
    // The leading fields of `union bpf_attr` for BPF_PROG_LOAD; the rest of
    // the (larger) union must be zero, hence the padding.
    #[repr(C)]
    struct ProgLoad {
        prog_type: u32,
        insn_cnt: u32,
        insns: u64,
        license: u64,
        log_level: u32,
        log_size: u32,
        log_buf: u64,
        kern_version: u32,
        prog_flags: u32,
        prog_name: [u8; 16],
        prog_ifindex: u32,
        expected_attach_type: u32,
        _rest: [u64; 8],
    }
    #[repr(C)]
    struct ProgAttach {
        target_fd: u32,
        attach_bpf_fd: u32,
        attach_type: u32,
        attach_flags: u32,
        replace_bpf_fd: u32,
        _rest: [u32; 11],
    }
    let license = c"Apache";
    let mut name = [0u8; 16];
    name[..12].copy_from_slice(b"berth_device");
    let load = ProgLoad {
        prog_type: BPF_PROG_TYPE_CGROUP_DEVICE,
        insn_cnt: u32::try_from(insns.len()).map_err(|_| io::Error::from_raw_os_error(libc::E2BIG))?,
        insns: insns.as_ptr() as u64,
        license: license.as_ptr() as u64,
        log_level: 0,
        log_size: 0,
        log_buf: 0,
        kern_version: 0,
        prog_flags: 0,
        prog_name: name,
        prog_ifindex: 0,
        expected_attach_type: BPF_CGROUP_DEVICE,
        _rest: [0; 8],
    };
    // SAFETY: `load` is a zero-padded bpf_attr whose pointers reference
    // `insns` and `license`, both alive for the call; the kernel copies them.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            BPF_PROG_LOAD,
            &load as *const ProgLoad,
            std::mem::size_of::<ProgLoad>() as libc::c_uint,
        )
    };
    let fd = check(fd)? as i32;
    // SAFETY: the kernel just returned this new descriptor to us.
    let prog = unsafe { OwnedFd::from_raw_fd(fd) };
    let attach = ProgAttach {
        target_fd: cgroup.as_raw_fd() as u32,
        attach_bpf_fd: prog.as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        attach_flags: BPF_F_ALLOW_MULTI,
        replace_bpf_fd: 0,
        _rest: [0; 11],
    };
    // SAFETY: a zero-padded bpf_attr for BPF_PROG_ATTACH naming two valid
    // descriptors.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            BPF_PROG_ATTACH,
            &attach as *const ProgAttach,
            std::mem::size_of::<ProgAttach>() as libc::c_uint,
        )
    };
    check(ret)?;
    Ok(prog)
}

/// `AUDIT_ARCH_*` of the running process, for seccomp.
#[cfg(test)]
pub(crate) const fn native_audit_arch() -> u32 {
    #[cfg(target_arch = "x86_64")]
    {
        0xC000_003E
    }
    #[cfg(target_arch = "aarch64")]
    {
        0xC000_00B7
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        0
    }
}

/// `mount(2)` with raw flags; `None` passes a null pointer, as remounts,
/// propagation changes and binds want for the arguments they ignore.
pub(crate) fn mount(
    source: Option<&CStr>,
    target: &CStr,
    fstype: Option<&CStr>,
    flags: libc::c_ulong,
    data: Option<&CStr>,
) -> io::Result<()> {
    let ptr = |s: Option<&CStr>| s.map_or(std::ptr::null(), CStr::as_ptr);
    // SAFETY: every pointer is null or a NUL-terminated string that lives
    // for the duration of the call.
    let ret = unsafe {
        libc::mount(
            ptr(source),
            target.as_ptr(),
            ptr(fstype),
            flags,
            data.map_or(std::ptr::null(), |d| d.as_ptr().cast()),
        )
    };
    check(ret as libc::c_long).map(drop)
}

/// Marks a raw descriptor number close-on-exec; errors (a number that was
/// closed meanwhile) are ignored.
pub(crate) fn set_cloexec_raw(fd: i32) {
    // SAFETY: fcntl(F_SETFD) only changes the flags of a descriptor number.
    unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
}

/// `unshare(2)` for namespace flags only.
pub(crate) fn unshare_namespaces(flags: libc::c_int) -> io::Result<()> {
    debug_assert!(flags & (libc::CLONE_FILES | libc::CLONE_FS | libc::CLONE_SYSVSEM) == 0);
    // SAFETY: with only CLONE_NEW* flags, unshare cannot split the
    // descriptor table or filesystem state that Rust code relies on.
    let ret = unsafe { libc::unshare(flags) };
    check(ret as libc::c_long).map(drop)
}
