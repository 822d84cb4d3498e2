//! Creating container processes: the fork, the setup channel, and the
//! steps every container process takes before `execve` (stdio, user,
//! capabilities, seccomp, `PATH` lookup), shared by a container's init and
//! by `exec`.

pub(crate) mod channel;
pub(crate) mod clone;
pub(crate) mod init;

use std::convert::Infallible;
use std::ffi::CString;
use std::fmt;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd, RawFd};
use std::path::Path;

use rustix::fs::{Mode, OFlags};
use rustix::process::{Pid, WaitOptions};

use crate::caps::{self, CapSet};
use crate::error::{InitError, InitErrorKind, RuntimeError, describe};
use crate::seccomp::{self, Filter};
use crate::spec::{DEFAULT_PATH_ENV, Seccomp, UserSpec};
use crate::sys;
use channel::Msg;
use clone::{CloneOptions, Forked};

/// The container process's standard streams. The caller (the shim) creates
/// the pipes or the pty and keeps the other ends.
#[derive(Debug)]
pub enum Stdio {
    /// Separate pipes (or any descriptors). Without `stdin` the process
    /// reads from `/dev/null`, as with `docker run` without `-i`.
    Pipes {
        /// Read end for the container's stdin.
        stdin: Option<OwnedFd>,
        /// Write end for stdout.
        stdout: OwnedFd,
        /// Write end for stderr.
        stderr: OwnedFd,
    },
    /// A pseudo-terminal: the slave becomes fds 0, 1 and 2 and the
    /// controlling terminal of the process (`setsid` + `TIOCSCTTY`), and is
    /// bind-mounted at `/dev/console` for a container's init.
    Tty {
        /// The pty slave.
        pty_slave: OwnedFd,
    },
}

impl Stdio {
    /// Every stream on one descriptor duplicated three times, e.g. a log
    /// file or `/dev/null` (convenient for tests and benchmarks).
    pub fn all_to(fd: impl AsFd) -> io::Result<Stdio> {
        let dup = |fd: BorrowedFd<'_>| -> io::Result<OwnedFd> { Ok(rustix::io::fcntl_dupfd_cloexec(fd, 3)?) };
        let fd = fd.as_fd();
        Ok(Stdio::Pipes { stdin: None, stdout: dup(fd)?, stderr: dup(fd)? })
    }

    pub(crate) fn is_tty(&self) -> bool {
        matches!(self, Stdio::Tty { .. })
    }
}

/// How a container process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// It called `exit` with this code.
    Exited(i32),
    /// A signal killed it.
    Signaled(i32),
}

impl ExitStatus {
    /// The exit code as Docker reports it: the code, or 128 + the signal.
    pub fn code(&self) -> i32 {
        match self {
            ExitStatus::Exited(c) => *c,
            ExitStatus::Signaled(s) => 128 + s,
        }
    }
}

impl fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExitStatus::Exited(c) => write!(f, "exit status {c}"),
            ExitStatus::Signaled(s) => write!(f, "killed by signal {s}"),
        }
    }
}

/// Waits for a child of this process and reaps it.
pub fn wait(pid: Pid) -> Result<ExitStatus, RuntimeError> {
    loop {
        match rustix::process::waitpid(Some(pid), WaitOptions::empty()) {
            Ok(Some((_, status))) => {
                if let Some(code) = status.exit_status() {
                    return Ok(ExitStatus::Exited(code));
                }
                if let Some(sig) = status.terminating_signal() {
                    return Ok(ExitStatus::Signaled(sig));
                }
            }
            Ok(None) => {}
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(RuntimeError::sys(format!("waitpid {}", pid.as_raw_nonzero()), e)),
        }
    }
}

/// Fails when other threads exist: see [`clone`] for why forking from a
/// multi-threaded process is unsound. Checked in debug builds only (it
/// costs a directory scan of `/proc/self/task`).
pub(crate) fn check_single_threaded() -> Result<(), RuntimeError> {
    if cfg!(debug_assertions) {
        let threads = std::fs::read_dir("/proc/self/task").map(|d| d.count()).unwrap_or(1);
        if threads > 1 {
            return Err(RuntimeError::NotSingleThreaded { threads });
        }
    }
    Ok(())
}

/// Everything about the final process that can be computed before the fork,
/// so failures (a bad capability name, a seccomp profile that does not
/// compile) are reported by the caller, not from inside the container.
pub(crate) struct ProcessPlan {
    pub args: Vec<CString>,
    pub env: Vec<CString>,
    pub path_env: String,
    pub cwd: String,
    pub user: UserSpec,
    pub caps: CapSet,
    pub no_new_privileges: bool,
    pub seccomp: Option<Filter>,
    pub umask: u32,
}

impl ProcessPlan {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        args: &[String],
        env: &[String],
        cwd: &str,
        user: &UserSpec,
        capabilities: &[String],
        privileged: bool,
        no_new_privileges: bool,
        seccomp_spec: &Seccomp,
        umask: Option<u32>,
    ) -> Result<ProcessPlan, RuntimeError> {
        if args.is_empty() || args[0].is_empty() {
            return Err(RuntimeError::InvalidSpec("no command specified".into()));
        }
        let cstrings = |v: &[String], what: &str| -> Result<Vec<CString>, RuntimeError> {
            v.iter()
                .map(|s| {
                    CString::new(s.as_str())
                        .map_err(|_| RuntimeError::InvalidSpec(format!("{what} {s:?} contains a NUL byte")))
                })
                .collect()
        };
        if !cwd.starts_with('/') {
            return Err(RuntimeError::InvalidSpec(format!("working directory {cwd:?} is not absolute")));
        }
        // "Every capability" means every one this process holds (a runtime
        // inside a restricted sandbox cannot hand out more); naming one it
        // lacks is an error rather than a silently weaker container.
        let available = CapSet::current();
        let caps = if privileged || capabilities.iter().any(|c| caps::is_all(c)) {
            let named = CapSet::from_names(capabilities.iter().filter(|c| !caps::is_all(c)))
                .map_err(RuntimeError::InvalidSpec)?;
            let missing = named.difference(available);
            if !privileged && missing.bits() != 0 {
                return Err(RuntimeError::InvalidSpec(format!(
                    "capabilities {missing:?} are not available to the runtime"
                )));
            }
            CapSet::all_supported().intersection(available)
        } else {
            let named = CapSet::from_names(capabilities).map_err(RuntimeError::InvalidSpec)?;
            let missing = named.difference(available);
            if missing.bits() != 0 {
                return Err(RuntimeError::InvalidSpec(format!(
                    "capabilities {missing:?} are not available to the runtime"
                )));
            }
            named
        };
        let seccomp = if privileged { None } else { seccomp::compile(seccomp_spec, &caps)? };
        let path_env = env
            .iter()
            .rev()
            .find_map(|e| e.strip_prefix("PATH="))
            .unwrap_or(&DEFAULT_PATH_ENV["PATH=".len()..])
            .to_string();
        Ok(ProcessPlan {
            args: cstrings(args, "argument")?,
            env: cstrings(env, "environment variable")?,
            path_env,
            cwd: cwd.to_string(),
            user: user.clone(),
            caps,
            no_new_privileges,
            seccomp,
            umask: umask.unwrap_or(0o022),
        })
    }
}

/// In a freshly forked child: makes `stdio` fds 0, 1 and 2, starts a new
/// session (with a controlling terminal for a pty) and closes every other
/// inherited descriptor except `keep`. Closing early matters: the child
/// must not hold the parent's other files (other containers' pipes, the
/// shim's sockets) nor anything that points at the host filesystem.
pub(crate) fn setup_stdio(stdio: &Stdio, keep: &[RawFd]) -> Result<(), InitError> {
    let high = |fd: BorrowedFd<'_>| -> Result<OwnedFd, InitError> {
        rustix::io::fcntl_dupfd_cloexec(fd, 3).map_err(|e| InitError::os("duplicating stdio", e))
    };
    // Move everything above 2 first so the dup2s below cannot clobber a
    // source that happens to be 0, 1 or 2.
    let (fd0, fd1, fd2) = match stdio {
        Stdio::Pipes { stdin, stdout, stderr } => {
            let input = match stdin {
                Some(fd) => high(fd.as_fd())?,
                None => rustix::fs::open("/dev/null", OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())
                    .map_err(|e| InitError::os("opening /dev/null", e))?,
            };
            (input, high(stdout.as_fd())?, high(stderr.as_fd())?)
        }
        Stdio::Tty { pty_slave } => {
            (high(pty_slave.as_fd())?, high(pty_slave.as_fd())?, high(pty_slave.as_fd())?)
        }
    };
    let dup_err = |e| InitError::os("setting up stdio", e);
    rustix::stdio::dup2_stdin(&fd0).map_err(dup_err)?;
    rustix::stdio::dup2_stdout(&fd1).map_err(dup_err)?;
    rustix::stdio::dup2_stderr(&fd2).map_err(dup_err)?;
    drop((fd0, fd1, fd2));
    close_all_except(keep).map_err(|e| InitError::os("closing inherited descriptors", e))?;
    rustix::process::setsid().map_err(|e| InitError::os("setsid", e))?;
    if stdio.is_tty() {
        rustix::process::ioctl_tiocsctty(rustix::stdio::stdin())
            .map_err(|e| InitError::os("setting the controlling terminal", e))?;
    }
    Ok(())
}

/// Closes every descriptor above 2 that is not in `keep`.
fn close_all_except(keep: &[RawFd]) -> io::Result<()> {
    let mut keep: Vec<u32> = keep.iter().filter(|fd| **fd > 2).map(|fd| *fd as u32).collect();
    keep.sort_unstable();
    keep.dedup();
    let mut first = 3u32;
    for fd in keep.iter().copied().chain(std::iter::once(u32::MAX)) {
        if fd > first {
            let last = fd - 1;
            if let Err(e) = sys::close_range(first, last, false) {
                if e.raw_os_error() != Some(libc::ENOSYS) {
                    return Err(e);
                }
                close_by_listing(first, last)?;
            }
        }
        first = fd.saturating_add(1);
    }
    Ok(())
}

/// Fallback for kernels without close_range (< 5.9).
fn close_by_listing(first: u32, last: u32) -> io::Result<()> {
    let fds: Vec<i32> = std::fs::read_dir("/proc/self/fd")?
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    for fd in fds {
        if (first..=last).contains(&(fd as u32)) {
            sys::close_raw(fd);
        }
    }
    Ok(())
}

/// The last steps of every container process, in the order runc uses:
/// resolve the user, install seccomp now if it cannot wait (without
/// `no_new_privs` installing a filter needs CAP_SYS_ADMIN, which the
/// process is about to lose), drop the bounding set, switch user keeping
/// the permitted capabilities, set the final capabilities, chdir, look the
/// command up, optionally wait for `start`, install seccomp as late as
/// possible when `no_new_privs` allows it, and `execve`.
pub(crate) fn become_process(
    plan: &ProcessPlan,
    chan: BorrowedFd<'_>,
    wait_for_start: bool,
) -> Result<Infallible, InitError> {
    let (user, home) = match &plan.user {
        UserSpec::Id(user) => (user.clone(), None),
        UserSpec::Lookup { user, group_add } => {
            let found = crate::user::resolve(Path::new("/"), user, group_add)
                .map_err(|e| InitError::setup(e.to_string()))?;
            (found.user, Some(found.home))
        }
    };
    // As runc: HOME from the user's passwd entry (`/` without one), unless
    // set to something.
    let mut env = plan.env.clone();
    if let Some(home) = home
        && !env.iter().any(|e| e.as_bytes().starts_with(b"HOME=") && e.as_bytes().len() > 5)
    {
        env.retain(|e| e.as_bytes() != b"HOME=");
        env.push(CString::new(format!("HOME={home}")).map_err(|_| InitError::setup("a NUL byte in HOME"))?);
    }
    if let Some(filter) = &plan.seccomp
        && !plan.no_new_privileges
    {
        filter.install().map_err(|e| InitError::os("installing the seccomp filter", e))?;
    }
    caps::drop_bounding(plan.caps).map_err(|e| InitError::os("dropping bounding capabilities", e))?;
    rustix::thread::set_keep_capabilities(true).map_err(|e| InitError::os("PR_SET_KEEPCAPS", e))?;
    let gids: Vec<rustix::process::Gid> =
        user.additional_gids.iter().map(|g| rustix::process::Gid::from_raw(*g)).collect();
    rustix::thread::set_thread_groups(&gids).map_err(|e| InitError::os("setgroups", e))?;
    let gid = rustix::process::Gid::from_raw(user.gid);
    rustix::thread::set_thread_res_gid(gid, gid, gid)
        .map_err(|e| InitError::os(format!("setresgid {}", user.gid), e))?;
    let uid = rustix::process::Uid::from_raw(user.uid);
    rustix::thread::set_thread_res_uid(uid, uid, uid)
        .map_err(|e| InitError::os(format!("setresuid {}", user.uid), e))?;
    caps::apply(plan.caps).map_err(|e| InitError::os("setting capabilities", e))?;
    rustix::thread::set_keep_capabilities(false).map_err(|e| InitError::os("PR_SET_KEEPCAPS", e))?;
    if plan.no_new_privileges {
        rustix::thread::set_no_new_privs(true).map_err(|e| InitError::os("PR_SET_NO_NEW_PRIVS", e))?;
    }
    rustix::process::chdir(plan.cwd.as_str())
        .map_err(|e| InitError::os(format!("chdir to cwd ({:?})", plan.cwd), e))?;
    rustix::process::umask(Mode::from_raw_mode(plan.umask));
    // Nothing but stdio may cross the execve (CVE-2024-21626 leaked a
    // directory descriptor of the host into a container this way).
    sys::close_range(3, u32::MAX, true)
        .or_else(|e| {
            if e.raw_os_error() == Some(libc::EINVAL) || e.raw_os_error() == Some(libc::ENOSYS) {
                mark_cloexec_by_listing()
            } else {
                Err(e)
            }
        })
        .map_err(|e| InitError::os("closing descriptors", e))?;
    let program = plan.args[0].to_string_lossy().into_owned();
    let path = look_path(&program, &plan.path_env)?;
    if wait_for_start {
        channel::send(chan, &Msg::Ready).map_err(|e| InitError::os("reporting readiness", e))?;
        match channel::recv(chan) {
            Ok(Some(Msg::Start)) => {}
            // The caller went away or gave up on the container.
            _ => sys::exit_now(1),
        }
    }
    if let Some(filter) = &plan.seccomp
        && plan.no_new_privileges
    {
        filter.install().map_err(|e| InitError::os("installing the seccomp filter", e))?;
    }
    let err = sys::execve(&path, &plan.args, &env);
    Err(exec_error(&program, err))
}

fn mark_cloexec_by_listing() -> io::Result<()> {
    let fds: Vec<i32> = std::fs::read_dir("/proc/self/fd")?
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    for fd in fds.into_iter().filter(|fd| *fd > 2) {
        sys::set_cloexec_raw(fd);
    }
    Ok(())
}

/// Classifies an `execve` failure the way Docker reports it.
fn exec_error(program: &str, err: io::Error) -> InitError {
    let kind = match err.raw_os_error() {
        Some(libc::ENOENT) => InitErrorKind::ExecNotFound,
        Some(libc::EACCES | libc::EPERM | libc::EISDIR) => InitErrorKind::ExecPermission,
        _ => InitErrorKind::Setup,
    };
    InitError { kind, errno: err.raw_os_error(), message: format!("exec: {program:?}: {}", describe(&err)) }
}

/// Go's `exec.LookPath`, which runc uses, run inside the container: a name
/// with a `/` is used as is (and must be an executable file); otherwise the
/// first executable regular file along `PATH`.
pub(crate) fn look_path(program: &str, path_env: &str) -> Result<CString, InitError> {
    let executable = |p: &str| -> io::Result<()> {
        let st = rustix::fs::stat(p)?;
        let mode = st.st_mode;
        let is_dir = mode & libc::S_IFMT == libc::S_IFDIR;
        if !is_dir && mode & 0o111 != 0 { Ok(()) } else { Err(io::Error::from_raw_os_error(libc::EACCES)) }
    };
    let cstring =
        |p: &str| CString::new(p).map_err(|_| InitError::setup(format!("exec: {program:?}: invalid path")));
    if program.contains('/') {
        return match executable(program) {
            Ok(()) => cstring(program),
            Err(e) if e.raw_os_error() == Some(libc::EACCES) => Err(InitError {
                kind: InitErrorKind::ExecPermission,
                errno: Some(libc::EACCES),
                message: format!("exec: {program:?}: permission denied"),
            }),
            Err(e) => Err(InitError {
                kind: if e.raw_os_error() == Some(libc::ENOENT) {
                    InitErrorKind::ExecNotFound
                } else {
                    InitErrorKind::Setup
                },
                errno: e.raw_os_error(),
                message: format!("exec: {program:?}: stat {program}: {}", describe(&e)),
            }),
        };
    }
    for dir in path_env.split(':') {
        // An empty PATH entry means the current directory.
        let dir = if dir.is_empty() { "." } else { dir };
        let candidate = format!("{dir}/{program}");
        if executable(&candidate).is_ok() {
            return cstring(&candidate);
        }
    }
    Err(InitError {
        kind: InitErrorKind::ExecNotFound,
        errno: Some(libc::ENOENT),
        message: format!("exec: {program:?}: executable file not found in $PATH"),
    })
}

/// A forked container process as the parent sees it.
pub(crate) struct Spawned {
    pub pid: i32,
    pub pidfd: Option<OwnedFd>,
    /// Whether it already sits in the requested cgroup v2 directory.
    pub in_cgroup: bool,
}

/// How to reach the final process.
pub(crate) struct SpawnOptions<'a> {
    /// Namespaces to create (`CLONE_NEW*`).
    pub flags: u64,
    /// cgroup v2 directory to start in.
    pub cgroup: Option<BorrowedFd<'a>>,
    /// When set, an intermediate process runs this first and then forks the
    /// final process with `CLONE_PARENT` (so it is still our child). Needed
    /// to enter a PID namespace: `setns` to one only affects children.
    pub intermediate: Option<&'a dyn Fn() -> Result<(), InitError>>,
}

/// Forks the final process, which runs `child` (which must not return). The
/// process must first wait for [`Msg::Go`] on `child_chan`, so that the
/// parent hears of its pid before anything else it says.
pub(crate) fn spawn(
    id: &str,
    opts: &SpawnOptions<'_>,
    parent_chan: BorrowedFd<'_>,
    child_chan: BorrowedFd<'_>,
    child: &dyn Fn(),
) -> Result<Spawned, RuntimeError> {
    let fork_err = |e| RuntimeError::sys("clone", e);
    let Some(intermediate) = opts.intermediate else {
        let forked = clone::fork(&CloneOptions { flags: opts.flags, cgroup: opts.cgroup, pidfd: true })
            .map_err(fork_err)?;
        return match forked {
            Forked::Child => {
                child();
                sys::exit_now(1)
            }
            Forked::Parent(c) => Ok(Spawned { pid: c.pid, pidfd: c.pidfd, in_cgroup: c.in_cgroup }),
        };
    };
    let forked = clone::fork(&CloneOptions::default()).map_err(fork_err)?;
    let middle = match forked {
        Forked::Child => {
            let result = intermediate().and_then(|()| {
                clone::fork(&CloneOptions {
                    flags: opts.flags | libc::CLONE_PARENT as u64,
                    cgroup: None,
                    pidfd: false,
                })
                .map_err(|e| InitError::os("clone", e))
            });
            match result {
                Ok(Forked::Child) => {
                    child();
                    sys::exit_now(1)
                }
                Ok(Forked::Parent(c)) => {
                    let _ = channel::send(child_chan, &Msg::Pid(c.pid));
                    sys::exit_now(0);
                }
                Err(e) => {
                    let _ = channel::send(child_chan, &Msg::Error(e));
                    sys::exit_now(1);
                }
            }
        }
        Forked::Parent(c) => c,
    };
    let middle_pid = Pid::from_raw(middle.pid).expect("clone returned a positive pid");
    let reply = channel::recv(parent_chan);
    let status = wait(middle_pid)?;
    match reply {
        Ok(Some(Msg::Pid(pid))) => {
            let pidfd = Pid::from_raw(pid)
                .and_then(|p| rustix::process::pidfd_open(p, rustix::process::PidfdFlags::empty()).ok());
            Ok(Spawned { pid, pidfd, in_cgroup: false })
        }
        Ok(Some(Msg::Error(error))) => Err(RuntimeError::Container { id: id.to_string(), error }),
        Ok(_) => Err(RuntimeError::InitDied { id: id.to_string(), status }),
        Err(e) => Err(RuntimeError::sys("reading the setup channel", e)),
    }
}

/// Parent side after [`spawn`]: let the child go on, then wait for its
/// verdict. With `expect_ready`, success is [`Msg::Ready`] (a container's
/// init, blocked before execve); otherwise success is EOF (the process
/// exec'd and its close-on-exec end of the channel went away).
pub(crate) fn release_and_wait(
    id: &str,
    pid: i32,
    chan: BorrowedFd<'_>,
    expect_ready: bool,
    reap_on_error: bool,
) -> Result<(), RuntimeError> {
    channel::send(chan, &Msg::Go).map_err(|e| RuntimeError::sys("releasing the container process", e))?;
    verdict(id, pid, chan, expect_ready, reap_on_error)
}

/// Reads the child's answer. On failure the child exits; with
/// `reap_on_error` it is also reaped here (when the caller will never learn
/// its pid), otherwise the caller waits for it as usual.
pub(crate) fn verdict(
    id: &str,
    pid: i32,
    chan: BorrowedFd<'_>,
    expect_ready: bool,
    reap_on_error: bool,
) -> Result<(), RuntimeError> {
    let reply = channel::recv(chan);
    let failed = |e: RuntimeError| -> Result<(), RuntimeError> {
        if reap_on_error && let Some(pid) = Pid::from_raw(pid) {
            let _ = wait(pid);
        }
        Err(e)
    };
    match reply {
        Ok(Some(Msg::Ready)) if expect_ready => Ok(()),
        Ok(None) if !expect_ready => Ok(()),
        Ok(Some(Msg::Error(error))) => failed(RuntimeError::Container { id: id.to_string(), error }),
        Ok(None) => {
            let status = Pid::from_raw(pid).map(wait).transpose()?.unwrap_or(ExitStatus::Exited(0));
            Err(RuntimeError::InitDied { id: id.to_string(), status })
        }
        Ok(Some(other)) => failed(RuntimeError::sys(
            "reading the setup channel",
            io::Error::new(io::ErrorKind::InvalidData, format!("unexpected message {other:?}")),
        )),
        Err(e) => failed(RuntimeError::sys("reading the setup channel", e)),
    }
}

/// The child's side of a failed setup: report, then exit without running
/// any of the parent's cleanup code.
pub(crate) fn child_fail(chan: BorrowedFd<'_>, err: InitError) -> ! {
    let code = match err.kind {
        InitErrorKind::ExecNotFound => 127,
        InitErrorKind::ExecPermission => 126,
        InitErrorKind::Setup => 1,
    };
    let _ = channel::send(chan, &Msg::Error(err));
    sys::exit_now(code)
}

/// Runs a child body, turning errors and panics into a report to the parent.
pub(crate) fn run_child(
    chan: BorrowedFd<'_>,
    body: impl FnOnce() -> Result<Infallible, InitError>,
) -> Infallible {
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(body));
    let err = match result {
        Ok(Ok(never)) => match never {},
        Ok(Err(e)) => e,
        Err(panic) => {
            let msg = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            InitError::setup(format!("container process panicked: {msg}"))
        }
    };
    child_fail(chan, err)
}

/// Waits for the parent's go-ahead; exits quietly if the parent is gone.
pub(crate) fn wait_for_go(chan: BorrowedFd<'_>) {
    match channel::recv(chan) {
        Ok(Some(Msg::Go)) => {}
        _ => sys::exit_now(1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn look_path_rules() {
        let tmp = tempfile::tempdir().unwrap();
        let bin = tmp.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        let exe = bin.join("tool");
        std::fs::write(&exe, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&exe, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        let plain = bin.join("data");
        std::fs::write(&plain, "x").unwrap();
        let path_env = format!("/nonexistent:{}", bin.display());

        assert_eq!(look_path("tool", &path_env).unwrap().to_str().unwrap(), exe.to_str().unwrap());
        let e = look_path("data", &path_env).unwrap_err();
        assert_eq!(e.kind, InitErrorKind::ExecNotFound, "not executable: skipped like Go does");
        let e = look_path("nope", &path_env).unwrap_err();
        assert_eq!(e.message, "exec: \"nope\": executable file not found in $PATH");
        let e = look_path(plain.to_str().unwrap(), "").unwrap_err();
        assert_eq!(e.kind, InitErrorKind::ExecPermission);
        assert!(e.message.ends_with("permission denied"), "{}", e.message);
        let e = look_path("/no/such/file", "").unwrap_err();
        assert_eq!(e.kind, InitErrorKind::ExecNotFound);
        assert_eq!(e.message, "exec: \"/no/such/file\": stat /no/such/file: no such file or directory");
        let e = look_path(bin.to_str().unwrap(), "").unwrap_err();
        assert_eq!(e.kind, InitErrorKind::ExecPermission, "a directory");
    }

    #[test]
    fn exec_errors_are_classified() {
        let e = exec_error("x", io::Error::from_raw_os_error(libc::EACCES));
        assert_eq!(
            (e.kind, e.message.as_str()),
            (InitErrorKind::ExecPermission, "exec: \"x\": permission denied")
        );
        assert_eq!(
            exec_error("x", io::Error::from_raw_os_error(libc::ENOENT)).kind,
            InitErrorKind::ExecNotFound
        );
        assert_eq!(exec_error("x", io::Error::from_raw_os_error(libc::ENOEXEC)).kind, InitErrorKind::Setup);
    }

    #[test]
    fn plans_validate_early() {
        let plan = |args: &[&str], caps: &[&str]| {
            let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
            let caps: Vec<String> = caps.iter().map(|s| s.to_string()).collect();
            ProcessPlan::new(
                &args,
                &[],
                "/",
                &UserSpec::default(),
                &caps,
                false,
                false,
                &Seccomp::Unconfined,
                None,
            )
        };
        assert!(plan(&[], &[]).is_err());
        assert!(plan(&["sh"], &["CAP_NOPE"]).is_err());
        let p = plan(&["sh"], &["CAP_KILL"]).unwrap();
        assert_eq!(p.path_env, "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
        assert_eq!(p.umask, 0o022);
    }
}
