//! berth's low-level container runtime: the part runc plays for Docker,
//! as a library.
//!
//! ```text
//! shim ──create(spec, stdio)──▶ clone3(NEWNS|NEWPID|...) ──▶ container init
//!      │                                                     mounts, pivot_root, sysctls,
//!      │                                                     user, caps, seccomp, PATH lookup
//!      ◀──────────── Ready / Error (setup socket) ───────────┘ blocks before execve
//!      ──start()──────────────────── Start ──────────────────▶ execve
//!      ◀──────────── EOF (close-on-exec) or exec Error ──────┘
//! ```
//!
//! # Why our own runtime, on rustix
//!
//! berth runs this code in-process inside a tiny per-container shim: one
//! single-threaded process per container whose resident memory must stay
//! under 2 MiB. youki's `libcontainer` is the mature Rust option, but its
//! dependency tree (and, for seccomp, the libseccomp C library) would
//! dominate the shim. This crate uses only `rustix` for system calls (plus
//! `libc` for the few rustix lacks: `clone3`, `execve`, `seccomp`,
//! `mount_setattr`, `close_range`, `bpf`), `thiserror`, and `serde_json`
//! for Docker-format seccomp profiles. The seccomp compiler is our own too:
//! [`seccomp`] explains why firecracker's `seccompiler` did not fit.
//! `unsafe` lives in two modules, `sys` and `process::clone`.
//!
//! # Calling rules
//!
//! * The caller must be **single-threaded**: `create` and `exec` fork with
//!   `clone3` and the child runs ordinary Rust (it allocates) before
//!   `execve`, which is only sound if no other thread could hold a lock at
//!   the fork. Debug builds refuse to run otherwise.
//! * The caller stays the parent of every container process — the init and
//!   every `exec`'d process — and reaps them with [`wait`] (or its own
//!   `waitpid`/pidfd loop). Mind the kernel's order: when the init dies,
//!   the rest of its PID namespace is killed, and the init's own exit is
//!   reported only after *all* of them are reaped. A caller blocking in
//!   `waitpid(init)` while an exec'd process of that container waits to be
//!   reaped by the same caller deadlocks; reap with `waitpid(-1)` (as
//!   shims do) or the exec'd processes first.
//! * Dropping a [`Created`] without [`start`] makes the init exit (it sees
//!   its setup channel close); it still needs reaping.
//! * The caller must be real root in the initial user namespace (no
//!   rootless mode yet).
//!
//! # Security notes
//!
//! * CVE-2019-5736 / CVE-2016-9962: the runtime never re-executes
//!   `/proc/self/exe` in a container; the init and exec'd processes are
//!   forks of the shim that exec the container's own command, and until
//!   that `execve` they are not dumpable, so nothing in the container can
//!   ptrace them or open their `/proc/<pid>/exe` (the host binary) or
//!   memory. (The optional `--init` binary is bind-mounted read-only.)
//! * CVE-2024-21626: the child closes every inherited descriptor right
//!   after the fork, everything is `O_CLOEXEC`, all descriptors above 2 are
//!   marked close-on-exec before `execve`, and the working directory is set
//!   after `pivot_root`.
//! * Mount destinations are resolved with `openat2(RESOLVE_IN_ROOT)` and
//!   mounted through `/proc/self/fd`, so symlinks in the image cannot
//!   redirect mounts to the host; no mount may land on the container's root
//!   itself, and `/proc`, `/sys`, `/dev` and their sub-mounts must be real
//!   directories in the image (no symlinks), so procfs and sysfs are where
//!   the masks expect them.
//! * `exec` enters the init's root (`/proc/<pid>/root`, opened before
//!   `setns`) rather than whatever is mounted topmost on the namespace's.

pub mod caps;
pub mod cgroups;
mod devices;
mod error;
mod exec;
mod mounts;
mod process;
mod rootfs;
pub mod seccomp;
mod spec;
mod sys;
mod sysctl;
pub mod user;

use std::cell::Cell;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use rustix::fs::{Mode, OFlags};

pub use cgroups::{Cgroup, CgroupError, Resources, Stats};
pub use error::{InitError, InitErrorKind, Result, RuntimeError, describe as describe_os_error};
pub use exec::exec;
pub use process::{ExitStatus, Stdio, wait};
#[doc(hidden)]
pub use rootfs::force_overlay_strategy;
pub use rustix::process::Pid;
pub use spec::{
    CgroupSpec, DEFAULT_MASKED_PATHS, DEFAULT_PATH_ENV, DEFAULT_READONLY_PATHS, DEFAULT_SHM_SIZE, Device,
    DeviceKind, ExecSpec, INIT_PATH, Mount, Namespace, Namespaces, Rlimit, Rootfs, Seccomp, Spec, User,
    UserSpec,
};
pub use user::{ResolvedUser, UserError, resolve_user};

use cgroups::Hierarchy;
use process::init::{self, InitPlan};
use process::{ProcessPlan, SpawnOptions, channel, run_child};

/// A container whose init is set up and blocked before `execve`.
#[derive(Debug)]
pub struct Created {
    /// The container's init, as a pid of the caller's namespace.
    pub pid: Pid,
    /// A pidfd for the init (race-free signals, pollable for exit), when
    /// the kernel supports them.
    pub pidfd: Option<OwnedFd>,
    /// The container's cgroup.
    pub cgroup: Cgroup,
    id: String,
    chan: OwnedFd,
    started: Cell<bool>,
}

impl Created {
    /// The container id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Sends `signal` to the init, through the pidfd when there is one.
    pub fn signal(&self, signal: i32) -> Result<()> {
        match &self.pidfd {
            Some(fd) => sys::pidfd_send_signal(fd.as_fd(), signal),
            None => sys::kill(self.pid.as_raw_nonzero().get(), signal),
        }
        .map_err(|e| RuntimeError::sys(format!("signalling container {}", self.id), e))
    }

    /// Waits for the init to exit (see [`wait`]).
    pub fn wait(&self) -> Result<ExitStatus> {
        wait(self.pid)
    }
}

/// Forks the container's init into new namespaces, sets everything up, and
/// leaves it blocked before `execve` until [`start`].
///
/// Creates the cgroup `spec.cgroup.parent/spec.cgroup.name` first and
/// starts the init inside it. Errors met by the init (a rootfs that does
/// not mount, a missing command: ``exec: "foo": executable file not found
/// in $PATH``) come back as [`RuntimeError::Container`];
/// [`RuntimeError::exit_code`] gives Docker's 127/126 for them. On error
/// nothing is left behind: the child is reaped and the cgroup removed.
///
/// Must be called from a single-threaded process (see the crate docs).
pub fn create(spec: &Spec, stdio: Stdio) -> Result<Created> {
    process::check_single_threaded()?;
    validate(spec)?;
    let process = ProcessPlan::new(
        &spec.effective_args(),
        &spec.env,
        &spec.cwd,
        &spec.user,
        &spec.capabilities,
        spec.privileged,
        spec.no_new_privileges,
        &spec.seccomp,
        spec.umask,
    )?;
    let hierarchy = match &spec.cgroup_hierarchy {
        Some(h) => h.clone(),
        None => Hierarchy::detect()?,
    };
    let cgroup = Cgroup::new(hierarchy.clone(), &spec.cgroup.parent, &spec.cgroup.name)?;
    cgroup.create()?;
    let result = create_in(spec, stdio, process, hierarchy, &cgroup);
    if result.is_err() {
        let _ = cgroup.kill_all();
        let _ = cgroup.delete();
    }
    result.map(|(pid, pidfd, chan)| Created {
        pid,
        pidfd,
        cgroup,
        id: spec.id.clone(),
        chan,
        started: Cell::new(false),
    })
}

fn create_in(
    spec: &Spec,
    stdio: Stdio,
    process: ProcessPlan,
    hierarchy: Hierarchy,
    cgroup: &Cgroup,
) -> Result<(Pid, Option<OwnedFd>, OwnedFd)> {
    cgroup.apply(&spec.cgroup.resources)?;
    let rules = if spec.privileged {
        Vec::new()
    } else {
        let mut rules = cgroups::devices::default_rules();
        rules.extend(devices::cgroup_rules(&spec.devices));
        rules.extend(spec.cgroup.device_rules.iter().cloned());
        rules
    };
    cgroup.set_devices(&rules)?;

    let ns = &spec.namespaces;
    let mut flags = libc::CLONE_NEWNS as u64;
    let mut joins = Vec::new();
    let mut pid_join = None;
    for (mode, new_flag, name) in [
        (&ns.uts, libc::CLONE_NEWUTS, "uts"),
        (&ns.ipc, libc::CLONE_NEWIPC, "ipc"),
        (&ns.net, libc::CLONE_NEWNET, "net"),
        (&ns.pid, libc::CLONE_NEWPID, "pid"),
    ] {
        match mode {
            Namespace::New => flags |= new_flag as u64,
            Namespace::Host => {}
            Namespace::Join(path) => {
                let fd = rustix::fs::open(path, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())
                    .map_err(|e| RuntimeError::io("opening namespace", path, e))?;
                if name == "pid" {
                    pid_join = Some(fd);
                } else {
                    joins.push((fd, new_flag));
                }
            }
        }
    }
    let cgroup_dir = match cgroup.v2_dir() {
        Some(dir) => Some(
            rustix::fs::open(&dir, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())
                .map_err(|e| RuntimeError::io("opening cgroup", &dir, e))?,
        ),
        None => None,
    };
    let (parent_chan, child_chan) = channel::pair().map_err(|e| RuntimeError::sys("socketpair", e))?;
    let plan = InitPlan { spec, process, hierarchy: Some(hierarchy), joins };
    let enter_pid_ns = |fd: &OwnedFd| -> std::result::Result<(), InitError> {
        rustix::thread::move_into_thread_name_spaces(
            fd.as_fd(),
            rustix::thread::ThreadNameSpaceType::PROCESS_ID,
        )
        .map_err(|e| InitError::os("joining the PID namespace (setns)", e))
    };
    let enter = pid_join.as_ref().map(|fd| move || enter_pid_ns(fd));
    let chan = child_chan.as_fd();
    let child = || match run_child(chan, || init::run(&plan, &stdio, chan)) {};
    let spawned = process::spawn(
        &spec.id,
        &SpawnOptions {
            flags,
            cgroup: cgroup_dir.as_ref().map(|fd| fd.as_fd()),
            intermediate: enter.as_ref().map(|f| f as &dyn Fn() -> std::result::Result<(), InitError>),
        },
        parent_chan.as_fd(),
        chan,
        &child,
    )?;
    drop(plan);
    // Our copies: the container holds its own now. Holding the child's end
    // of the channel would hide the EOF that signals a successful exec.
    drop(child_chan);
    drop(stdio);
    let pid = Pid::from_raw(spawned.pid).expect("positive pid");
    let kill_child = |e: RuntimeError| -> RuntimeError {
        let _ = sys::kill(spawned.pid, libc::SIGKILL);
        let _ = wait(pid);
        e
    };
    if !spawned.in_cgroup {
        cgroup.add_pid(spawned.pid).map_err(|e| kill_child(e.into()))?;
    }
    process::release_and_wait(&spec.id, spawned.pid, parent_chan.as_fd(), true, true)?;
    Ok((pid, spawned.pidfd, parent_chan))
}

/// Checks what can be checked before forking, so these errors are plain
/// spec errors rather than reports from inside the container.
fn validate(spec: &Spec) -> Result<()> {
    let invalid = |m: String| Err(RuntimeError::InvalidSpec(m));
    match &spec.rootfs {
        Rootfs::Overlay { lower, upper, work, target } => {
            if lower.is_empty() {
                return invalid("overlay rootfs needs at least one lower layer".into());
            }
            for p in lower.iter().chain([upper, work, target]) {
                if !p.is_absolute() {
                    return invalid(format!("rootfs path {} is not absolute", p.display()));
                }
            }
        }
        Rootfs::Bind { path } if !path.is_absolute() => {
            return invalid(format!("rootfs path {} is not absolute", path.display()));
        }
        Rootfs::Bind { .. } => {}
    }
    for (name, _) in &spec.sysctls {
        sysctl::validate(name, &spec.namespaces).map_err(RuntimeError::InvalidSpec)?;
    }
    for limit in &spec.rlimits {
        if init::resource(&limit.resource).is_none() {
            return invalid(format!("unknown rlimit {:?}", limit.resource));
        }
    }
    for m in &spec.mounts {
        rootfs::validate_mount(m).map_err(RuntimeError::InvalidSpec)?;
    }
    for d in &spec.devices {
        if !d.path.starts_with('/') {
            return invalid(format!("device path {:?} is not absolute", d.path));
        }
    }
    if let Some(init) = &spec.init
        && !init.is_absolute()
    {
        return invalid(format!("init binary {} is not an absolute path", init.display()));
    }
    Ok(())
}

/// Releases the init to `execve` the container's command. Returns once the
/// exec happened, or with the exec error (e.g. `EACCES`: exit code 126);
/// after a failed start the init exits and the caller reaps it as usual.
pub fn start(c: &Created) -> Result<()> {
    if c.started.replace(true) {
        return Err(RuntimeError::State { id: c.id.clone(), state: "container already started" });
    }
    channel::send(&c.chan, &channel::Msg::Start)
        .map_err(|_| RuntimeError::State { id: c.id.clone(), state: "container init is gone" })?;
    process::verdict(&c.id, c.pid.as_raw_nonzero().get(), c.chan.as_fd(), false, false)
}

/// Sends a signal to a process (any number, real-time signals included).
pub fn signal(pid: Pid, signal: i32) -> Result<()> {
    sys::kill(pid.as_raw_nonzero().get(), signal)
        .map_err(|e| RuntimeError::sys(format!("kill {}", pid.as_raw_nonzero()), e))
}

/// Removes what a container leaves on the host once its init has exited:
/// kills any process still in its cgroup and removes the cgroup
/// directories. The overlay needs no unmounting: it lives in the
/// container's mount namespace, which disappeared with its last process;
/// should the rootfs target be mounted in the caller's namespace anyway,
/// it is detached.
pub fn cleanup(spec: &Spec) -> Result<()> {
    let hierarchy = match &spec.cgroup_hierarchy {
        Some(h) => h.clone(),
        None => Hierarchy::detect()?,
    };
    let cgroup = Cgroup::new(hierarchy, &spec.cgroup.parent, &spec.cgroup.name)?;
    if cgroup.dirs().iter().any(|d| d.exists()) {
        cgroup.kill_all()?;
        cgroup.delete()?;
    }
    let target = spec.rootfs.target();
    if is_mount_point(target) {
        rustix::mount::unmount(target, rustix::mount::UnmountFlags::DETACH)
            .map_err(|e| RuntimeError::io("unmounting", target, e))?;
    }
    Ok(())
}

/// Whether `path` is a mount point in the caller's mount namespace.
fn is_mount_point(path: &Path) -> bool {
    let Ok(text) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return false;
    };
    text.lines()
        .any(|line| line.split(' ').nth(4).is_some_and(|mp| Path::new(&mp.replace("\\040", " ")) == path))
}
