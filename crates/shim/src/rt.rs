//! The narrow interface the shim needs from a container runtime.
//!
//! The shim's protocol, stdio, logging and exit handling are written against
//! this trait rather than the `runtime` crate directly, so they can be tested
//! with a fake runtime that runs plain host processes, and so the shim does
//! not depend on the shape of `runtime::Spec` (it passes the `"runtime"`
//! value of `spec.json` through untouched).

use std::fmt;
use std::os::fd::OwnedFd;

/// The container-side ends of a process's stdio, created by the shim.
///
/// Every fd is `O_CLOEXEC`; the runtime dup2()s them onto 0, 1 and 2 in the
/// child (which clears the flag), so no other process inherits them.
#[derive(Debug)]
pub enum Stdio {
    /// Three pipes (stdin is `/dev/null` when the process gets no stdin).
    Pipes { stdin: OwnedFd, stdout: OwnedFd, stderr: OwnedFd },
    /// The slave side of a pty, to become the process's controlling
    /// terminal and its fds 0, 1 and 2.
    Tty { pty_slave: OwnedFd },
}

/// Why a runtime call failed; decides the exit code Docker would report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The executable was not found (Docker: 127).
    NotFound,
    /// The executable could not be run (Docker: 126).
    PermissionDenied,
    /// Anything else (Docker: 125).
    Other,
}

/// A runtime failure, with the message shown to the user.
#[derive(Debug, Clone)]
pub struct RuntimeError {
    pub kind: ErrorKind,
    pub message: String,
}

impl RuntimeError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        RuntimeError { kind, message: message.into() }
    }

    pub fn other(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Other, message)
    }

    /// The exit code Docker gives for this error.
    pub fn code(&self) -> i32 {
        match self.kind {
            ErrorKind::NotFound => 127,
            ErrorKind::PermissionDenied => 126,
            ErrorKind::Other => 125,
        }
    }
}

impl fmt::Display for RuntimeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for RuntimeError {}

pub type Result<T> = std::result::Result<T, RuntimeError>;

/// What the shim asks of a runtime for its one container.
///
/// All calls are made from the shim's single thread; `create` and `exec`
/// fork, so the implementation may assume a single-threaded process.
pub trait Runtime {
    /// Creates the container from the `"runtime"` value of `spec.json`. The
    /// container's init must be left blocked before `execve` until
    /// [`Runtime::start`]. Returns the init's host pid; the shim is its
    /// parent (or subreaper) and reaps it.
    fn create(&mut self, spec: &serde_json::Value, stdio: Stdio) -> Result<i32>;

    /// Lets the init `execve` its program; fails with
    /// [`ErrorKind::NotFound`] / [`ErrorKind::PermissionDenied`] when the
    /// exec fails (the init then exits and is reaped as usual).
    fn start(&mut self) -> Result<()>;

    /// Runs another process in the container (`spec` is the `"spec"` of an
    /// exec request). Returns its host pid; the shim reaps it.
    fn exec(&mut self, init_pid: i32, spec: &serde_json::Value, stdio: Stdio) -> Result<i32>;

    /// Sends `signal` to every process of the container (its cgroup).
    fn kill_all(&mut self, signal: i32) -> Result<()>;

    /// Freezes the container (cgroup freezer).
    fn pause(&mut self) -> Result<()>;

    /// Thaws the container.
    fn resume(&mut self) -> Result<()>;

    /// The container's resource figures (cgroup statistics), as JSON.
    fn stats(&mut self) -> Result<serde_json::Value>;

    /// Whether the kernel's OOM killer killed a process of the container;
    /// asked once, after the init has exited.
    fn oom_killed(&mut self) -> bool;

    /// Removes what the container leaves behind (its cgroup); called once,
    /// just before the shim exits.
    fn cleanup(&mut self) -> Result<()>;
}
