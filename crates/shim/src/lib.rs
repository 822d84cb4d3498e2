//! `berth shim`: one small supervisor per container (see docs/shim.md).
//!
//! The shim is the container init's parent and owns everything about the
//! container that must outlive the daemon: its stdio, its logs and its exit
//! status. It is single-threaded, runs one poll(2) loop, and answers a
//! line-based JSON protocol on `<bundle>/shim.sock`.
//!
//! Entry point: [`main`] for `berth shim start BUNDLE`, which must be called
//! before the calling process starts any thread (it forks, and the runtime
//! forks the container from the shim).

mod config;
mod event_loop;
mod exec;
mod exit;
mod logs;
mod protocol;
mod real;
mod rt;
mod signals;
mod start;
mod stdio;
mod timefmt;
mod trim;

pub use config::{BundleSpec, LogConfig, LogDriver};
pub use exit::ExitInfo;
pub use rt::{ErrorKind, Runtime, RuntimeError, Stdio};
pub use start::main_with;

/// `berth shim ARGS...` (`ARGS` = `start BUNDLE`) with berth's runtime.
/// Returns the exit code of the calling process: 0 after printing
/// `{"pid":N}` once the container is created and the shim listens, 1 after
/// printing the error on stderr, 125 on a usage error. The shim itself
/// continues in a detached grandchild and never returns here.
///
/// Call it before the process starts any thread (no tokio runtime yet):
/// it forks, and the runtime forks the container from the shim.
pub fn main(args: &[String]) -> i32 {
    // The daemon runs us as /proc/self/exe, which names the process `exe`.
    let _ = rustix::thread::set_name(c"berth");
    main_with(args, |_| real::RealRuntime::new())
}
