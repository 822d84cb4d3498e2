//! `exec`: a new process inside a running container (`docker exec`).
//!
//! An intermediate process moves itself into the container's cgroups and
//! joins its namespaces with `setns`; joining a PID namespace only takes
//! effect for children, so it then forks the final process with
//! `CLONE_PARENT`, which makes that process a direct child of the caller
//! (who can `waitpid` it) while it lives in the container's PID namespace.
//! The final process then takes the same steps as a container's init
//! (user, capabilities, seccomp, `PATH` lookup) and execs.

use std::convert::Infallible;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

use rustix::fs::{Mode, OFlags};
use rustix::process::Pid;

use crate::cgroups;
use crate::error::{InitError, RuntimeError};
use crate::process::{
    self, ProcessPlan, SpawnOptions, Stdio, become_process, channel, release_and_wait, run_child,
    setup_stdio, wait_for_go,
};
use crate::spec::ExecSpec;

/// Namespaces joined, in order: the mount namespace last, because after it
/// `/proc` paths name the container's view.
const NAMESPACES: &[(&str, libc::c_int)] = &[
    ("cgroup", libc::CLONE_NEWCGROUP),
    ("ipc", libc::CLONE_NEWIPC),
    ("uts", libc::CLONE_NEWUTS),
    ("net", libc::CLONE_NEWNET),
    ("pid", libc::CLONE_NEWPID),
    ("mnt", libc::CLONE_NEWNS),
];

/// Runs `spec` inside the container whose init is `container_pid` (as the
/// caller sees it) and returns the new process's pid, once it has exec'd.
/// The process is a child of the caller, who must `wait` for it.
///
/// The caller must be single-threaded (see `create`) and should be the
/// parent of `container_pid`, which guarantees the pid was not reused.
pub fn exec(container_pid: Pid, spec: &ExecSpec, stdio: Stdio) -> Result<Pid, RuntimeError> {
    process::check_single_threaded()?;
    let id = format!("container with init pid {}", container_pid.as_raw_nonzero());
    let plan = ProcessPlan::new(
        &spec.args,
        &spec.env,
        &spec.cwd,
        &spec.user,
        &spec.capabilities,
        spec.privileged,
        spec.no_new_privileges,
        &spec.seccomp,
        spec.umask,
    )?;
    let procs = cgroups::procs_files_of(container_pid.as_raw_nonzero().get())?;
    let joins = open_namespaces(container_pid)?;
    // The init's root, taken before joining: entering a mount namespace
    // sets the root to whatever is mounted topmost on that namespace's
    // root, which need not be what the container's processes see.
    let init_root = format!("/proc/{}/root", container_pid.as_raw_nonzero());
    let init_root =
        rustix::fs::open(&init_root, OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())
            .map_err(|e| RuntimeError::io("opening the container's root", &init_root, e))?;
    let (parent_chan, child_chan) = channel::pair().map_err(|e| RuntimeError::sys("socketpair", e))?;

    let enter = || -> Result<(), InitError> {
        // Not dumpable until execve: nothing in the container may ptrace
        // this process or open its /proc files while it is still berth.
        rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable)
            .map_err(|e| InitError::os("PR_SET_DUMPABLE", e))?;
        for file in &procs {
            std::fs::write(file, "0")
                .map_err(|e| InitError::os(format!("joining cgroup {}", file.display()), e))?;
        }
        for (fd, kind) in &joins {
            rustix::thread::move_into_thread_name_spaces(
                fd.as_fd(),
                rustix::thread::ThreadNameSpaceType::from_bits_retain(*kind as u32),
            )
            .map_err(|e| InitError::os("joining the container's namespaces (setns)", e))?;
        }
        rustix::process::fchdir(&init_root).map_err(|e| InitError::os("entering the container's root", e))?;
        rustix::process::chroot(".")
            .map_err(|e| InitError::os("entering the container's root (chroot)", e))?;
        Ok(())
    };
    let chan = child_chan.as_fd();
    let child = || match run_child(chan, || exec_main(&plan, spec, &stdio, chan)) {};
    let spawned = process::spawn(
        &id,
        &SpawnOptions { flags: 0, cgroup: None, intermediate: Some(&enter) },
        parent_chan.as_fd(),
        chan,
        &child,
    )?;
    drop(child_chan);
    drop(stdio);
    release_and_wait(&id, spawned.pid, parent_chan.as_fd(), false, true)?;
    Ok(Pid::from_raw(spawned.pid).expect("positive pid"))
}

fn exec_main(
    plan: &ProcessPlan,
    spec: &ExecSpec,
    stdio: &Stdio,
    chan: BorrowedFd<'_>,
) -> Result<Infallible, InitError> {
    crate::sys::reset_signals();
    setup_stdio(stdio, &[chan.as_raw_fd()])?;
    wait_for_go(chan);
    crate::process::init::apply_limits(&spec.rlimits, spec.oom_score_adj)?;
    become_process(plan, chan, false)
}

/// Opens `/proc/<pid>/ns/*` for every namespace the container does not
/// share with us.
fn open_namespaces(pid: Pid) -> Result<Vec<(OwnedFd, libc::c_int)>, RuntimeError> {
    let mut out = Vec::new();
    for (name, kind) in NAMESPACES {
        let theirs = PathBuf::from(format!("/proc/{}/ns/{name}", pid.as_raw_nonzero()));
        let ours = PathBuf::from(format!("/proc/self/ns/{name}"));
        let same = match (std::fs::metadata(&theirs), std::fs::metadata(&ours)) {
            (Ok(a), Ok(b)) => a.ino() == b.ino() && a.dev() == b.dev(),
            (Err(e), _) => return Err(RuntimeError::io("opening namespace", theirs, e)),
            _ => false,
        };
        if same {
            continue;
        }
        let fd = rustix::fs::open(&theirs, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())
            .map_err(|e| RuntimeError::io("opening namespace", &theirs, e))?;
        out.push((fd, *kind));
    }
    Ok(out)
}
