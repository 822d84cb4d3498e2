//! Errors of the runtime.
//!
//! Two kinds of failure exist. Errors the calling process meets itself
//! (a bad spec, a cgroup write that fails) are ordinary [`RuntimeError`]
//! values. Errors met by the container's init *after* the fork (a rootfs
//! that cannot be mounted, an executable that is not there) happen in another
//! process: the child encodes them as an [`InitError`] and sends them back
//! over the CLOEXEC socket it shares with the parent, so that `create`,
//! `start` and `exec` can return them like any other error.

use std::fmt;
use std::io;
use std::path::PathBuf;

use crate::cgroups::CgroupError;
use crate::seccomp::SeccompError;
use crate::user::UserError;

/// Shorthand for results of this crate.
pub type Result<T, E = RuntimeError> = std::result::Result<T, E>;

/// Everything `create`, `start`, `exec` and friends can fail with.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The spec cannot describe a container (unknown capability, a sysctl
    /// outside the container's namespaces, an empty command, ...).
    #[error("invalid container spec: {0}")]
    InvalidSpec(String),

    /// The runtime forks without `exec`-ing a helper binary; that is only
    /// sound when no other thread can hold a lock at the moment of the fork.
    #[error(
        "the container runtime must be driven from a single-threaded process, \
         but this process has {threads} threads"
    )]
    NotSingleThreaded {
        /// Number of threads found in `/proc/self/task`.
        threads: usize,
    },

    /// A system call made by the calling process failed.
    #[error("{op}: {source}")]
    Sys {
        /// What was being done.
        op: String,
        /// The OS error.
        #[source]
        source: io::Error,
    },

    /// A file operation of the calling process failed.
    #[error("{op} {}: {source}", path.display())]
    Io {
        /// What was being done.
        op: &'static str,
        /// The file it was done to.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },

    /// Creating, configuring or removing the container's cgroup failed.
    #[error(transparent)]
    Cgroup(#[from] CgroupError),

    /// The seccomp profile could not be compiled.
    #[error(transparent)]
    Seccomp(#[from] SeccompError),

    /// A user or group could not be resolved.
    #[error(transparent)]
    User(#[from] UserError),

    /// The container's init (or an exec'd process) reported an error from
    /// inside the container before it could `execve`.
    #[error("{error}")]
    Container {
        /// Container id.
        id: String,
        /// What the child reported.
        #[source]
        error: InitError,
    },

    /// The child died during setup without saying why (killed by a signal,
    /// e.g. by the OOM killer, or a bug).
    #[error("container {id}: init process died during setup ({status})")]
    InitDied {
        /// Container id.
        id: String,
        /// How it ended.
        status: crate::ExitStatus,
    },

    /// `start` was called twice, or after the init went away.
    #[error("container {id}: {state}")]
    State {
        /// Container id.
        id: String,
        /// What is wrong.
        state: &'static str,
    },
}

impl RuntimeError {
    /// The exit code Docker reports when a container cannot run its command:
    /// 127 when the executable does not exist, 126 when it cannot be executed.
    /// `None` for every other error (Docker uses 125 for those).
    pub fn exit_code(&self) -> Option<i32> {
        match self {
            RuntimeError::Container { error, .. } => match error.kind {
                InitErrorKind::ExecNotFound => Some(127),
                InitErrorKind::ExecPermission => Some(126),
                InitErrorKind::Setup => None,
            },
            _ => None,
        }
    }

    /// The error as reported from inside the container, if it is one.
    pub fn init_error(&self) -> Option<&InitError> {
        match self {
            RuntimeError::Container { error, .. } => Some(error),
            _ => None,
        }
    }

    pub(crate) fn sys(op: impl Into<String>, source: impl Into<io::Error>) -> Self {
        RuntimeError::Sys { op: op.into(), source: source.into() }
    }

    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: impl Into<io::Error>) -> Self {
        RuntimeError::Io { op, path: path.into(), source: source.into() }
    }
}

/// The class of an error reported by a container process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InitErrorKind {
    /// Preparing the container failed (mounts, namespaces, credentials...).
    Setup,
    /// The command does not exist (`ENOENT`; Docker exits 127).
    ExecNotFound,
    /// The command exists but cannot be executed (`EACCES`, a directory,
    /// a `noexec` mount; Docker exits 126).
    ExecPermission,
}

/// An error reported by a container process through the setup socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitError {
    /// What kind of failure.
    pub kind: InitErrorKind,
    /// The raw OS error, when the failure was a system call.
    pub errno: Option<i32>,
    /// A human-readable description that names the step and the path, e.g.
    /// `exec: "foo": executable file not found in $PATH`.
    pub message: String,
}

impl fmt::Display for InitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for InitError {}

impl InitError {
    /// A setup failure with a message only.
    pub(crate) fn setup(message: impl Into<String>) -> Self {
        InitError { kind: InitErrorKind::Setup, errno: None, message: message.into() }
    }

    /// A setup failure caused by an OS error.
    pub(crate) fn os(what: impl fmt::Display, err: impl Into<io::Error>) -> Self {
        let err: io::Error = err.into();
        InitError {
            kind: InitErrorKind::Setup,
            errno: err.raw_os_error(),
            message: format!("{what}: {}", describe(&err)),
        }
    }

    /// The wire form: kind byte, errno (0 = none) and the message.
    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        out.push(match self.kind {
            InitErrorKind::Setup => 0,
            InitErrorKind::ExecNotFound => 1,
            InitErrorKind::ExecPermission => 2,
        });
        out.extend_from_slice(&self.errno.unwrap_or(0).to_le_bytes());
        // Keep the message inside one datagram with room to spare.
        let mut end = self.message.len().min(3500);
        while !self.message.is_char_boundary(end) {
            end -= 1;
        }
        out.extend_from_slice(&self.message.as_bytes()[..end]);
    }

    pub(crate) fn decode(bytes: &[u8]) -> Option<Self> {
        let (&kind, rest) = bytes.split_first()?;
        let errno = i32::from_le_bytes(rest.get(..4)?.try_into().ok()?);
        let kind = match kind {
            0 => InitErrorKind::Setup,
            1 => InitErrorKind::ExecNotFound,
            2 => InitErrorKind::ExecPermission,
            _ => return None,
        };
        Some(InitError {
            kind,
            errno: (errno != 0).then_some(errno),
            message: String::from_utf8_lossy(&rest[4..]).into_owned(),
        })
    }
}

/// An OS error as Go and runc print it: "no such file or directory", not
/// "No such file or directory (os error 2)". Docker users grep for these.
pub fn describe(err: &io::Error) -> String {
    let Some(code) = err.raw_os_error() else {
        return err.to_string();
    };
    // std formats OS errors as "<strerror> (os error N)".
    let text = io::Error::from_raw_os_error(code).to_string();
    let text = text.split(" (os error").next().unwrap_or(&text);
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_error_round_trips() {
        let e = InitError {
            kind: InitErrorKind::ExecNotFound,
            errno: Some(2),
            message: "exec: \"foo\": executable file not found in $PATH".into(),
        };
        let mut buf = Vec::new();
        e.encode(&mut buf);
        assert_eq!(InitError::decode(&buf), Some(e));
    }

    #[test]
    fn errors_read_like_go() {
        let e = io::Error::from_raw_os_error(libc::ENOENT);
        assert_eq!(describe(&e), "no such file or directory");
        let e = io::Error::from_raw_os_error(libc::EACCES);
        assert_eq!(describe(&e), "permission denied");
    }

    #[test]
    fn exit_codes_follow_docker() {
        let err = |kind| RuntimeError::Container {
            id: "c".into(),
            error: InitError { kind, errno: None, message: String::new() },
        };
        assert_eq!(err(InitErrorKind::ExecNotFound).exit_code(), Some(127));
        assert_eq!(err(InitErrorKind::ExecPermission).exit_code(), Some(126));
        assert_eq!(err(InitErrorKind::Setup).exit_code(), None);
    }
}
