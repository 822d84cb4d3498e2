//! `berth shim start BUNDLE`: detach from the daemon, create the container,
//! and report back only once the container exists and the socket listens.
//!
//! The calling process forks; the child calls `setsid` and forks again, so
//! the shim is in its own session, has no controlling terminal and is
//! nobody's child but init's (or the nearest subreaper's): killing the
//! daemon, even its whole process group, leaves it running. The shim tells
//! the original process how it went through a pipe; the original prints
//! `{"pid":N}` (the container init's pid) and exits 0, or prints the error
//! message on stderr and exits 1.

use std::io::{self, Read as _, Write as _};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};

use rustix::fs::Mode;
use rustix::pipe::{PipeFlags, pipe_with};
use serde_json::json;

use crate::config::BundleSpec;
use crate::event_loop::Shim;
use crate::exit::write_atomic;
use crate::logs::Logger;
use crate::rt::{Runtime, RuntimeError};
use crate::signals::ChildSignals;
use crate::stdio::{ProcIo, dev_null};

/// Runs `berth shim <args>` with the runtime `make_runtime` builds (given
/// the bundle directory). Returns the exit code for the calling process;
/// the shim itself never returns from here (it `_exit`s).
///
/// Must be called while the process is single-threaded (before any
/// runtime or thread pool is started): it forks, and the shim continues in
/// the forked child.
pub fn main_with<R: Runtime>(args: &[String], make_runtime: impl FnOnce(&Path) -> R) -> i32 {
    let bundle = match args {
        [cmd, bundle] if cmd == "start" => bundle,
        _ => {
            eprintln!("usage: berth shim start BUNDLE");
            return 125;
        }
    };
    let bundle = match std::fs::canonicalize(bundle) {
        Ok(b) => b,
        Err(e) => return fail(&format!("bundle {bundle}: {e}")),
    };
    let spec = match BundleSpec::load(&bundle) {
        Ok(s) => s,
        Err(e) => return fail(&e),
    };
    let (report_r, report_w) = match pipe_with(PipeFlags::CLOEXEC) {
        Ok(p) => p,
        Err(e) => return fail(&format!("pipe: {e}")),
    };
    // Flush before forking so buffered output is not written twice.
    let _ = io::stdout().flush();
    let _ = io::stderr().flush();
    // SAFETY: the caller guarantees a single-threaded process, so the child
    // may run arbitrary code.
    match unsafe { libc::fork() } {
        -1 => fail(&format!("fork: {}", io::Error::last_os_error())),
        0 => {
            drop(report_r);
            detach(bundle, spec, report_w, make_runtime)
        }
        child => {
            drop(report_w);
            let report = read_report(report_r);
            // The intermediate child exits at once.
            let _ = rustix::process::waitpid(
                rustix::process::Pid::from_raw(child),
                rustix::process::WaitOptions::empty(),
            );
            match report {
                Report::Ok(pid) => {
                    println!("{}", json!({ "pid": pid }));
                    0
                }
                Report::Err(message) => fail(&message),
            }
        }
    }
}

/// Prints the error on stderr and returns 1. The runtime's messages say
/// what Docker's exit code would be ("executable file not found": 127,
/// "permission denied": 126).
fn fail(message: &str) -> i32 {
    eprintln!("{message}");
    1
}

enum Report {
    Ok(i32),
    Err(String),
}

/// Reads the shim's one report line: `ok PID` or `error MESSAGE`. The
/// line, not end of file, ends it: the container's init holds a copy of
/// the pipe until it execs.
fn read_report(fd: OwnedFd) -> Report {
    let mut file = std::fs::File::from(fd);
    let mut text = Vec::new();
    let mut byte = [0u8; 1];
    loop {
        match file.read(&mut byte) {
            Ok(0) => break,
            Ok(_) if byte[0] == b'\n' => break,
            Ok(_) => text.push(byte[0]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    let text = String::from_utf8_lossy(&text);
    if let Some(pid) = text.strip_prefix("ok ").and_then(|p| p.parse().ok()) {
        return Report::Ok(pid);
    }
    if let Some(message) = text.strip_prefix("error ") {
        return Report::Err(message.to_string());
    }
    Report::Err("the shim exited during start-up".into())
}

fn send_report(fd: &OwnedFd, report: Result<i32, String>) {
    let line = match report {
        Ok(pid) => format!("ok {pid}\n"),
        Err(message) => format!("error {}\n", message.replace('\n', " ")),
    };
    let _ = rustix::io::write(fd, line.as_bytes());
}

/// In the first child: new session, fork again, exit.
fn detach<R: Runtime>(
    bundle: PathBuf,
    spec: BundleSpec,
    report: OwnedFd,
    make_runtime: impl FnOnce(&Path) -> R,
) -> ! {
    if let Err(e) = rustix::process::setsid() {
        send_report(&report, Err(format!("setsid: {e}")));
        exit_now(1);
    }
    // SAFETY: this process has a single thread (it was just forked).
    match unsafe { libc::fork() } {
        -1 => {
            send_report(&report, Err(format!("fork: {}", io::Error::last_os_error())));
            exit_now(1)
        }
        0 => {
            let code = match setup(&bundle, &spec, &report, make_runtime) {
                Ok(shim) => {
                    send_report(&report, Ok(shim.init_pid));
                    drop(report);
                    crate::trim::drop_clean_file_pages();
                    shim.run()
                }
                Err(e) => {
                    send_report(&report, Err(e.message));
                    1
                }
            };
            exit_now(code)
        }
        _ => exit_now(0),
    }
}

/// Exits without running the caller's atexit handlers or unwinding into
/// the caller's `main` (which would go on to run the rest of the CLI).
fn exit_now(code: i32) -> ! {
    // SAFETY: _exit(2) is always safe to call; it does not return.
    unsafe { libc::_exit(code) }
}

/// In the shim process: everything up to a listening socket and a created
/// container.
fn setup<R: Runtime>(
    bundle: &Path,
    spec: &BundleSpec,
    report: &OwnedFd,
    make_runtime: impl FnOnce(&Path) -> R,
) -> Result<Shim<R>, RuntimeError> {
    let err = |what: &str, e: io::Error| RuntimeError::other(format!("{what}: {e}"));
    rustix::process::set_child_subreaper(Some(rustix::process::getpid()))
        .map_err(|e| err("becoming a subreaper", e.into()))?;
    // Relative paths in the spec resolve against the bundle, as with runc.
    std::env::set_current_dir(bundle).map_err(|e| err("entering the bundle", e))?;
    detach_stdio().map_err(|e| err("redirecting stdio", e))?;
    close_fds_except(report.as_raw_fd());
    let signals = ChildSignals::install().map_err(|e| err("installing signal handlers", e))?;
    let logs = Logger::open(&spec.log).map_err(|e| err("opening the log", e))?;
    let (init_io, stdio) =
        if spec.tty { ProcIo::pty(spec.open_stdin) } else { ProcIo::pipes(spec.open_stdin) }
            .map_err(|e| err("creating stdio", e))?;
    if let Some([h, w]) = spec.console_size.filter(|[h, w]| spec.tty && *h > 0 && *w > 0) {
        init_io.resize(h, w).map_err(|e| err("sizing the tty", e))?;
    }
    // Relative to the bundle (the working directory now): a socket's path
    // must fit in 108 bytes, which a deep bundle path need not.
    let socket = Path::new("shim.sock");
    let listener = bind(socket).map_err(|e| err("binding shim.sock", e))?;
    let mut rt = make_runtime(bundle);
    let init_pid = match rt.create(&spec.runtime, stdio) {
        Ok(pid) => pid,
        Err(e) => {
            let _ = std::fs::remove_file(socket);
            let _ = rt.cleanup();
            return Err(e);
        }
    };
    let pids = write_atomic(bundle, "shim.pid", std::process::id().to_string().as_bytes())
        .and_then(|()| write_atomic(bundle, "init.pid", init_pid.to_string().as_bytes()));
    if let Err(e) = pids {
        // SAFETY: plain kill(2) of the init we just created.
        unsafe { libc::kill(init_pid, libc::SIGKILL) };
        let _ = std::fs::remove_file(socket);
        let _ = rt.cleanup();
        return Err(err("writing pid files", e));
    }
    Ok(Shim::new(rt, bundle.to_path_buf(), listener, signals, spec.tty, init_pid, init_io, logs))
}

/// 0, 1 and 2 become /dev/null: the shim must not hold the daemon's pipes
/// (the daemon would never see them close) nor a terminal.
fn detach_stdio() -> io::Result<()> {
    let null = dev_null()?;
    for fd in 0..3 {
        // SAFETY: dup2 onto the standard fds; `null` stays open until the
        // end of this function.
        if unsafe { libc::dup2(null.as_raw_fd(), fd) } < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Closes every fd above 2 but `keep`: nothing the daemon leaked may reach
/// the container.
fn close_fds_except(keep: i32) {
    let ranges = [(3u32, keep as u32 - 1), (keep as u32 + 1, u32::MAX)];
    for (first, last) in ranges {
        if first <= last {
            // SAFETY: close_range(2) only closes fds; none of those in the
            // ranges is owned by a Rust object at this point in start-up.
            unsafe { libc::syscall(libc::SYS_close_range, first, last, 0) };
        }
    }
}

/// Binds the control socket with mode 0600 (set through the umask, so it
/// is never reachable with wider permissions), replacing a stale one.
fn bind(path: &Path) -> io::Result<UnixListener> {
    let _ = std::fs::remove_file(path);
    let old = rustix::process::umask(Mode::from_bits_truncate(0o177));
    let listener = UnixListener::bind(path);
    rustix::process::umask(old);
    let listener = listener?;
    listener.set_nonblocking(true)?;
    Ok(listener)
}
