//! The handful of raw system calls the reaper makes, per architecture.
//!
//! Hand-written because the reaper links against nothing: no libc, and no
//! crates (it is built by a plain `rustc` call, see `build.rs`).

use core::arch::{asm, naked_asm};

#[cfg(target_arch = "x86_64")]
mod nr {
    pub const WRITE: usize = 1;
    pub const RT_SIGPROCMASK: usize = 14;
    pub const CLONE: usize = 56;
    pub const EXECVE: usize = 59;
    pub const EXIT_GROUP: usize = 231;
    pub const WAIT4: usize = 61;
    pub const KILL: usize = 62;
    pub const RT_SIGTIMEDWAIT: usize = 128;
    pub const PRCTL: usize = 157;
    pub const GETPID: usize = 39;
    pub const SETPGID: usize = 109;
    pub const IOCTL: usize = 16;
}

#[cfg(target_arch = "aarch64")]
mod nr {
    pub const WRITE: usize = 64;
    pub const RT_SIGPROCMASK: usize = 135;
    pub const CLONE: usize = 220;
    pub const EXECVE: usize = 221;
    pub const EXIT_GROUP: usize = 94;
    pub const WAIT4: usize = 260;
    pub const KILL: usize = 129;
    pub const RT_SIGTIMEDWAIT: usize = 137;
    pub const PRCTL: usize = 167;
    pub const GETPID: usize = 172;
    pub const SETPGID: usize = 154;
    pub const IOCTL: usize = 29;
}

/// Result of a system call: the value, or the error number negated.
type Ret = isize;

#[cfg(target_arch = "x86_64")]
unsafe fn syscall4(n: usize, a: usize, b: usize, c: usize, d: usize) -> Ret {
    let ret: isize;
    // SAFETY: the caller passes arguments valid for system call `n`.
    unsafe {
        asm!("syscall", inlateout("rax") n as isize => ret, in("rdi") a, in("rsi") b, in("rdx") c,
             in("r10") d, lateout("rcx") _, lateout("r11") _, options(nostack));
    }
    ret
}

#[cfg(target_arch = "aarch64")]
unsafe fn syscall4(n: usize, a: usize, b: usize, c: usize, d: usize) -> Ret {
    let ret: isize;
    // SAFETY: the caller passes arguments valid for system call `n`.
    unsafe {
        asm!("svc 0", in("x8") n, inlateout("x0") a as isize => ret, in("x1") b, in("x2") c, in("x3") d,
             options(nostack));
    }
    ret
}

/// The entry point: hands the initial stack (argc, argv..., NULL, envp...,
/// NULL) to `crate::start`.
#[cfg(target_arch = "x86_64")]
#[unsafe(naked)]
#[unsafe(no_mangle)]
pub extern "C" fn _start() -> ! {
    naked_asm!("mov rdi, rsp", "and rsp, -16", "call {}", "ud2", sym crate::start)
}

#[cfg(target_arch = "aarch64")]
#[unsafe(naked)]
#[unsafe(no_mangle)]
pub extern "C" fn _start() -> ! {
    naked_asm!("mov x0, sp", "bl {}", "udf #0", sym crate::start)
}

pub const EINTR: isize = 4;
pub const ENOENT: isize = 2;
pub const ENOTDIR: isize = 20;
pub const EACCES: isize = 13;
pub const ENOEXEC: isize = 8;
pub const SIGCHLD: usize = 17;
const SIG_SETMASK: usize = 2;
const WNOHANG: usize = 1;
const PR_SET_CHILD_SUBREAPER: usize = 36;
/// `tcsetpgrp`'s ioctl (the same number on x86_64 and aarch64).
const TIOCSPGRP: usize = 0x5410;

/// A kernel signal set (64 signals).
pub type SigSet = u64;

pub fn write(fd: usize, buf: &[u8]) {
    // SAFETY: `buf` is valid for `buf.len()` bytes.
    unsafe { syscall4(nr::WRITE, fd, buf.as_ptr() as usize, buf.len(), 0) };
}

pub fn exit(code: i32) -> ! {
    // SAFETY: exit_group takes a plain integer and does not return.
    unsafe { syscall4(nr::EXIT_GROUP, code as usize, 0, 0, 0) };
    loop {}
}

/// Sets the signal mask, returning the previous one.
pub fn set_sigmask(mask: SigSet) -> SigSet {
    let mut old: SigSet = 0;
    // SAFETY: both sets are valid 8-byte signal sets.
    unsafe {
        syscall4(nr::RT_SIGPROCMASK, SIG_SETMASK, &mask as *const _ as usize, &mut old as *mut _ as usize, 8)
    };
    old
}

/// Waits for one of the (blocked) signals in `set`; its number, or -errno.
pub fn wait_signal(set: SigSet) -> Ret {
    // Room for a siginfo_t, which is 128 bytes on every Linux architecture.
    let mut info = [0u64; 16];
    // SAFETY: `set` and `info` are valid; a null timeout waits forever.
    unsafe { syscall4(nr::RT_SIGTIMEDWAIT, &set as *const _ as usize, info.as_mut_ptr() as usize, 0, 8) }
}

/// `fork`: the child's pid in the parent, 0 in the child, or -errno.
pub fn fork() -> Ret {
    // SAFETY: clone with only an exit signal and no new stack is fork; the
    // program is single-threaded and holds no locks.
    unsafe { syscall4(nr::CLONE, SIGCHLD, 0, 0, 0) }
}

/// `execve`; returns only on failure, with -errno.
///
/// # Safety
/// `path` is NUL-terminated; `argv` and `envp` are NULL-terminated arrays
/// of NUL-terminated strings.
pub unsafe fn execve(path: *const u8, argv: *const *const u8, envp: *const *const u8) -> Ret {
    // SAFETY: per the contract above.
    unsafe { syscall4(nr::EXECVE, path as usize, argv as usize, envp as usize, 0) }
}

/// Reaps one exited child without blocking: (pid, wait status); pid 0 when
/// none has exited, negative when there are no children.
pub fn reap() -> (Ret, i32) {
    let mut status: i32 = 0;
    // SAFETY: `status` is a valid int; no rusage is requested.
    let pid = unsafe { syscall4(nr::WAIT4, usize::MAX, &mut status as *mut _ as usize, WNOHANG, 0) };
    (pid, status)
}

pub fn kill(pid: Ret, sig: isize) {
    // SAFETY: kill takes plain integers.
    unsafe { syscall4(nr::KILL, pid as usize, sig as usize, 0, 0) };
}

/// Makes the calling process the leader of a new process group and, when
/// stdin is the controlling terminal, that terminal's foreground group, so
/// the keys ^C and ^Z signal the command alone (the reaper forwards what it
/// gets itself). With SIGTTOU blocked, a background group may do this.
pub fn own_foreground_group() {
    // SAFETY: getpid, setpgid and ioctl(TIOCSPGRP) with a pointer to a valid
    // int; without a terminal the ioctl fails harmlessly (ENOTTY).
    unsafe {
        syscall4(nr::SETPGID, 0, 0, 0, 0);
        let pgid = syscall4(nr::GETPID, 0, 0, 0, 0) as i32;
        syscall4(nr::IOCTL, 0, TIOCSPGRP, &pgid as *const i32 as usize, 0);
    }
}

/// Adopts the orphans of our descendants when we are not PID 1 (as with
/// `--pid host`), so they are still reaped.
pub fn become_subreaper() {
    // SAFETY: prctl with integer arguments.
    unsafe { syscall4(nr::PRCTL, PR_SET_CHILD_SUBREAPER, 1, 0, 0) };
}

// What the compiler may call for copies and zeroing, written as plain loops
// (`no_builtins` keeps these loops from being turned back into calls to
// themselves).

/// # Safety
/// As C's `memcpy`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn memcpy(dst: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    for i in 0..n {
        // SAFETY: the caller passes buffers of at least `n` bytes.
        unsafe { *dst.add(i) = *src.add(i) };
    }
    dst
}

/// # Safety
/// As C's `memset`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn memset(dst: *mut u8, byte: i32, n: usize) -> *mut u8 {
    for i in 0..n {
        // SAFETY: the caller passes a buffer of at least `n` bytes.
        unsafe { *dst.add(i) = byte as u8 };
    }
    dst
}

/// Referenced by `core`'s unwind tables; never called, since panics abort.
#[unsafe(no_mangle)]
pub extern "C" fn rust_eh_personality() {}
