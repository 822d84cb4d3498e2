//! A runtime that runs plain host processes: enough to exercise the shim's
//! protocol, stdio, logs and exit handling without namespaces or root.
//!
//! Spec (`"runtime"` of spec.json, and an exec's `"spec"`):
//! `{"args": ["sh", "-c", "..."]}`. The init is forked at `create` and
//! blocked on a pipe before `execve` until `start`, like a real container's.
//! An `execve` failure is sent back through a CLOEXEC pipe, so `start` and
//! `exec` report "not found" / "permission denied" like the real runtime.
//! "The container's cgroup" is the init's process group plus the execs'
//! (each exec is in a session of its own, for its tty).

use std::ffi::CString;
use std::os::fd::{AsRawFd, OwnedFd};

use rustix::pipe::{PipeFlags, pipe_with};
use serde_json::{Value, json};
use shim::{ErrorKind, Runtime, RuntimeError, Stdio};

#[derive(Debug, Default)]
pub struct Fake {
    pid: Option<i32>,
    execs: Vec<i32>,
    cmd: String,
    release: Option<OwnedFd>,
    errors: Option<OwnedFd>,
}

type Result<T> = std::result::Result<T, RuntimeError>;

impl Runtime for Fake {
    fn create(&mut self, spec: &Value, stdio: Stdio) -> Result<i32> {
        let args = args(spec)?;
        let (release_r, release_w) = pipe()?;
        let (errors_r, errors_w) = pipe()?;
        let pid = spawn(&args, stdio, Some(release_r), errors_w)?;
        self.pid = Some(pid);
        self.cmd = args[0].to_string_lossy().into_owned();
        self.release = Some(release_w);
        self.errors = Some(errors_r);
        Ok(pid)
    }

    fn start(&mut self) -> Result<()> {
        let release = self.release.take().ok_or_else(|| RuntimeError::other("already started"))?;
        rustix::io::write(&release, b"go").map_err(|e| RuntimeError::other(e.to_string()))?;
        drop(release);
        exec_result(self.errors.take().expect("created"), &self.cmd)
    }

    fn exec(&mut self, _init_pid: i32, spec: &Value, stdio: Stdio) -> Result<i32> {
        let args = args(spec)?;
        let (errors_r, errors_w) = pipe()?;
        let pid = spawn(&args, stdio, None, errors_w)?;
        exec_result(errors_r, args[0].to_str().unwrap_or("?"))?;
        self.execs.push(pid);
        Ok(pid)
    }

    fn kill_all(&mut self, signal: i32) -> Result<()> {
        let pid = self.pid.ok_or_else(|| RuntimeError::other("no container"))?;
        // SAFETY: kill(2) on the execs' process groups (an exited one is
        // simply gone: ESRCH) and on the init's.
        unsafe {
            for exec in &self.execs {
                libc::kill(-exec, signal);
            }
            if libc::kill(-pid, signal) != 0 {
                return Err(RuntimeError::other(std::io::Error::last_os_error().to_string()));
            }
        }
        Ok(())
    }

    fn pause(&mut self) -> Result<()> {
        self.kill_all(libc::SIGSTOP)
    }

    fn resume(&mut self) -> Result<()> {
        self.kill_all(libc::SIGCONT)
    }

    fn stats(&mut self) -> Result<Value> {
        Ok(json!({"fake": true, "pid": self.pid}))
    }

    fn oom_killed(&mut self) -> bool {
        false
    }

    /// As the real runtime: whatever is left of the container is killed.
    fn cleanup(&mut self) -> Result<()> {
        if self.pid.is_some() {
            let _ = self.kill_all(libc::SIGKILL);
        }
        Ok(())
    }
}

fn pipe() -> Result<(OwnedFd, OwnedFd)> {
    pipe_with(PipeFlags::CLOEXEC).map_err(|e| RuntimeError::other(e.to_string()))
}

fn args(spec: &Value) -> Result<Vec<CString>> {
    let args: Vec<CString> = spec["args"]
        .as_array()
        .ok_or_else(|| RuntimeError::other("spec.args missing"))?
        .iter()
        .map(|a| CString::new(a.as_str().unwrap_or_default()).unwrap())
        .collect();
    if args.is_empty() {
        return Err(RuntimeError::other("empty command"));
    }
    Ok(args)
}

/// Forks the process: new session, stdio on 0-2, optionally waits for
/// `release`, then execs; an exec failure's errno goes to `errors`.
fn spawn(args: &[CString], stdio: Stdio, release: Option<OwnedFd>, errors: OwnedFd) -> Result<i32> {
    let mut argv: Vec<*const libc::c_char> = args.iter().map(|a| a.as_ptr()).collect();
    argv.push(std::ptr::null());
    let (fds, tty) = match &stdio {
        Stdio::Pipes { stdin, stdout, stderr } => {
            ([stdin.as_raw_fd(), stdout.as_raw_fd(), stderr.as_raw_fd()], false)
        }
        Stdio::Tty { pty_slave } => ([pty_slave.as_raw_fd(); 3], true),
    };
    let release_fd = release.as_ref().map_or(-1, |r| r.as_raw_fd());
    let errors_fd = errors.as_raw_fd();
    // SAFETY: the shim is single-threaded; the child only makes
    // async-signal-safe calls on memory prepared before the fork.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(RuntimeError::other(std::io::Error::last_os_error().to_string()));
    }
    if pid == 0 {
        // SAFETY: in the child; every pointer refers to memory prepared above.
        unsafe {
            libc::setsid();
            if tty {
                libc::ioctl(fds[0], libc::TIOCSCTTY, 0);
            }
            for (target, fd) in fds.iter().enumerate() {
                libc::dup2(*fd, target as i32);
            }
            if release_fd >= 0 {
                let mut byte = 0u8;
                libc::read(release_fd, (&raw mut byte).cast(), 1);
            }
            libc::execvp(argv[0], argv.as_ptr());
            let errno = *libc::__errno_location();
            libc::write(errors_fd, (&raw const errno).cast(), 4);
            libc::_exit(if errno == libc::ENOENT { 127 } else { 126 });
        }
    }
    drop(stdio);
    drop(errors);
    Ok(pid)
}

/// Waits for the exec: end of file means it happened.
fn exec_result(errors: OwnedFd, what: &str) -> Result<()> {
    let mut errno = [0u8; 4];
    let n = loop {
        match rustix::io::read(&errors, &mut errno) {
            Err(rustix::io::Errno::INTR) => continue,
            r => break r.unwrap_or(0),
        }
    };
    if n == 0 {
        return Ok(());
    }
    let errno = i32::from_ne_bytes(errno);
    Err(match errno {
        libc::ENOENT => RuntimeError::new(
            ErrorKind::NotFound,
            format!("exec: \"{what}\": executable file not found in $PATH"),
        ),
        libc::EACCES => {
            RuntimeError::new(ErrorKind::PermissionDenied, format!("exec: \"{what}\": permission denied"))
        }
        e => RuntimeError::other(format!("exec: {}", std::io::Error::from_raw_os_error(e))),
    })
}
