//! `berth-init`, the reaper that `docker run --init` puts at a container's
//! PID 1, shipped inside the berth binary.
//!
//! A process at PID 1 inherits every orphan of its PID namespace and gets no
//! default signal handling; most programs were not written to be there. The
//! reaper starts the command as its child, forwards the signals it receives
//! to it, reaps every orphan, and exits with the command's status (128+N when
//! signal N killed it), as Docker's `docker-init` (tini) does.
//!
//! The program itself is in `reaper/` and is freestanding: no libc, no
//! loader, a few kilobytes, so it runs in any image, on any libc. The engine
//! writes [`BINARY`] once under its root and bind-mounts it read-only at
//! [`CONTAINER_PATH`].

/// The reaper's static executable.
pub static BINARY: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/berth-init"));

/// Where containers see the reaper (Docker's path, which tools look for).
pub const CONTAINER_PATH: &str = "/sbin/docker-init";

/// The container's argv with the reaper in front.
pub fn wrap_args(args: &[String]) -> Vec<String> {
    let mut wrapped = vec![CONTAINER_PATH.to_string(), "--".to_string()];
    wrapped.extend_from_slice(args);
    wrapped
}
