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
//! writes [`BINARY`] once under its root and hands its path to the runtime
//! (`Spec::init`), which bind-mounts it read-only at `/sbin/docker-init`.

/// The reaper's static executable.
pub static BINARY: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/berth-init"));
