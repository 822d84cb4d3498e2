//! berth-init: runs `-- COMMAND [ARG...]` as its child, forwards signals to
//! it, reaps every process that ends up as its child, and exits with the
//! command's status. See `crates/init/src/lib.rs`.
//!
//! Freestanding on purpose (no std, no libc). `no_builtins` keeps LLVM from
//! turning the byte loops below into calls to `memcpy`, which nothing here
//! provides.

#![no_std]
#![no_main]
#![no_builtins]

mod sys;

use sys::SigSet;

const DEFAULT_PATH: &[u8] = b"/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
const ALL_SIGNALS: SigSet = !0;

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    sys::exit(125)
}

/// Called by `_start` with the initial stack pointer.
extern "C" fn start(stack: *const usize) -> ! {
    // SAFETY: the kernel lays out argc, then argc argument pointers and a
    // NULL, then the environment pointers and a NULL.
    let (argc, argv, envp) = unsafe {
        let argc = *stack;
        let argv = stack.add(1) as *const *const u8;
        (argc, argv, argv.add(argc + 1))
    };
    // SAFETY: argv has argc valid entries.
    let arg = |i: usize| unsafe { cstr(*argv.add(i)) };
    let first = if argc > 1 && eq(arg(1), b"--") { 2 } else { 1 };
    if first >= argc {
        die(&[b"usage: docker-init -- COMMAND [ARG...]"], 2);
    }
    // Every signal stays pending until we ask for it: a PID 1 has no default
    // actions, so an unblocked SIGTERM without a handler would be dropped.
    let original = sys::set_sigmask(ALL_SIGNALS);
    sys::become_subreaper();
    let child = sys::fork();
    if child == 0 {
        // Still with every signal blocked, SIGTTOU included.
        sys::own_foreground_group();
        sys::set_sigmask(original);
        // SAFETY: the tail of argv is NULL-terminated, as is envp.
        unsafe { exec_path(argv.add(first), envp) }
    }
    if child < 0 {
        die(&[b"fork failed"], 125);
    }
    loop {
        let sig = sys::wait_signal(ALL_SIGNALS);
        if sig == -sys::EINTR || sig < 0 {
            continue;
        }
        if sig as usize == sys::SIGCHLD {
            loop {
                let (pid, status) = sys::reap();
                if pid <= 0 {
                    break;
                }
                if pid == child {
                    sys::exit(exit_code(status));
                }
            }
        } else {
            sys::kill(child, sig);
        }
    }
}

/// The shell's convention for a wait status: the exit code, or 128+N when
/// signal N ended the process.
fn exit_code(status: i32) -> i32 {
    let signal = status & 0x7f;
    if signal == 0 { (status >> 8) & 0xff } else { 128 + signal }
}

/// `execvp`: tries the command in every `PATH` directory unless it has a
/// slash; on failure reports like Docker does and exits 127 (not found) or
/// 126 (found but not runnable).
///
/// # Safety
/// `argv` and `envp` are NULL-terminated arrays of C strings.
unsafe fn exec_path(argv: *const *const u8, envp: *const *const u8) -> ! {
    // SAFETY: argv[0] exists (checked by the caller).
    let program = unsafe { cstr(*argv) };
    if program.contains(&b'/') {
        // SAFETY: per the contract.
        let err = unsafe { sys::execve(*argv, argv, envp) };
        // SAFETY: argv[0] is a C string; argv and envp per the contract.
        unsafe { retry_as_script(err, *argv, argv, envp) };
        fail(program, err);
    }
    // SAFETY: per the contract.
    let path = unsafe { find_env(envp, b"PATH=") }.unwrap_or(DEFAULT_PATH);
    let mut denied = false;
    let mut buf = [0u8; 4096];
    for dir in path.split(|b| *b == b':') {
        let dir: &[u8] = if dir.is_empty() { b"." } else { dir };
        let Some(len) = join(&mut buf, &[dir, b"/", program, b"\0"]) else { continue };
        // SAFETY: buf[..len] is NUL-terminated; argv and envp per the contract.
        let err = unsafe { sys::execve(buf[..len].as_ptr(), argv, envp) };
        // SAFETY: as above.
        unsafe { retry_as_script(err, buf[..len].as_ptr(), argv, envp) };
        match err {
            e if e == -sys::ENOENT || e == -sys::ENOTDIR => {}
            e if e == -sys::EACCES => denied = true,
            e => fail(program, e),
        }
    }
    if denied {
        fail(program, -sys::EACCES);
    }
    die(&[b"exec: \"", program, b"\": executable file not found in $PATH"], 127);
}

/// execvp's rule for a file the kernel cannot run (`ENOEXEC`: a script
/// without `#!`): run it with `/bin/sh`, as `/bin/sh FILE ARG...`. Returns
/// only if that is not the case or the shell cannot run either.
///
/// # Safety
/// `file` is a C string; `argv` and `envp` are NULL-terminated arrays of C
/// strings.
unsafe fn retry_as_script(err: isize, file: *const u8, argv: *const *const u8, envp: *const *const u8) {
    if err != -sys::ENOEXEC {
        return;
    }
    // Room for the shell, the file, the arguments and the NULL.
    let mut shell_argv = [core::ptr::null::<u8>(); 1024];
    shell_argv[0] = b"/bin/sh\0".as_ptr();
    shell_argv[1] = file;
    let mut i = 1;
    // SAFETY: argv is NULL-terminated.
    unsafe {
        while !(*argv.add(i)).is_null() {
            if i + 2 >= shell_argv.len() {
                return;
            }
            shell_argv[i + 1] = *argv.add(i);
            i += 1;
        }
        sys::execve(shell_argv[0], shell_argv.as_ptr(), envp);
    }
}

fn fail(program: &[u8], err: isize) -> ! {
    let (what, code): (&[u8], i32) = match -err {
        sys::ENOENT => (b"no such file or directory", 127),
        sys::ENOTDIR => (b"not a directory", 127),
        sys::EACCES => (b"permission denied", 126),
        sys::ENOEXEC => (b"exec format error", 126),
        _ => (b"cannot execute", 126),
    };
    die(&[b"exec: \"", program, b"\": ", what], code);
}

fn die(parts: &[&[u8]], code: i32) -> ! {
    // One write when the line fits (so lines from several processes do not
    // interleave), else part by part.
    let mut buf = [0u8; 1024];
    let mut line: [&[u8]; 8] = [b""; 8];
    line[0] = b"docker-init: ";
    let n = parts.len().min(6);
    line[1..=n].copy_from_slice(&parts[..n]);
    line[n + 1] = b"\n";
    match join(&mut buf, &line[..n + 2]) {
        Some(len) => sys::write(2, &buf[..len]),
        None => line[..n + 2].iter().for_each(|part| sys::write(2, part)),
    }
    sys::exit(code)
}

/// Concatenates `parts` into `buf`; the length, or None if it does not fit.
fn join(buf: &mut [u8], parts: &[&[u8]]) -> Option<usize> {
    let mut n = 0;
    for part in parts {
        for b in *part {
            *buf.get_mut(n)? = *b;
            n += 1;
        }
    }
    Some(n)
}

/// The value of the environment variable `prefix` names (`PATH=`).
///
/// # Safety
/// `envp` is a NULL-terminated array of C strings.
unsafe fn find_env(mut envp: *const *const u8, prefix: &[u8]) -> Option<&'static [u8]> {
    // SAFETY: per the contract, every entry up to the NULL is a C string.
    unsafe {
        while !(*envp).is_null() {
            let entry = cstr(*envp);
            if entry.len() >= prefix.len() && eq(&entry[..prefix.len()], prefix) {
                return Some(&entry[prefix.len()..]);
            }
            envp = envp.add(1);
        }
    }
    None
}

/// Byte-wise equality (slice `==` would call `memcmp`).
fn eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y)
}

/// # Safety
/// `p` points to a NUL-terminated string that lives as long as the process.
unsafe fn cstr(p: *const u8) -> &'static [u8] {
    let mut len = 0;
    // SAFETY: per the contract, the string ends with a NUL.
    unsafe {
        while *p.add(len) != 0 {
            len += 1;
        }
        core::slice::from_raw_parts(p, len)
    }
}
