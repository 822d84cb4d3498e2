//! The container's init before `execve`: the child side of `create`.
//!
//! Order (runc's `standard_init_linux.go`, adapted):
//!
//! 1. default signal dispositions, umask 0 (nodes get exact modes), stdio
//!    on 0/1/2, a new session, every other inherited descriptor closed;
//! 2. wait until the parent has put us in our cgroup, then unshare the
//!    cgroup namespace, so its root is the container's own cgroup;
//! 3. join the namespaces the spec shares with other containers;
//! 4. build the rootfs and `pivot_root` into it ([`crate::rootfs`]);
//! 5. sysctls (before `/proc/sys` turns read-only), read-only and masked
//!    paths, read-only root;
//! 6. hostname, domain name, rlimits, `oom_score_adj`;
//! 7. user, capabilities, seccomp, `PATH` lookup, report ready, wait for
//!    `start`, `execve` ([`super::become_process`]).

use std::convert::Infallible;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use rustix::fs::Mode;

use super::{ProcessPlan, Stdio, become_process, setup_stdio, wait_for_go};
use crate::cgroups::Hierarchy;
use crate::error::InitError;
use crate::rootfs::{self, RootfsPlan};
use crate::spec::{Namespace, Rlimit, Spec};
use crate::{sys, sysctl};

/// What the init needs, prepared by the parent before the fork.
pub(crate) struct InitPlan<'a> {
    pub spec: &'a Spec,
    pub process: ProcessPlan,
    pub hierarchy: Option<Hierarchy>,
    /// Namespaces to join: descriptor and `CLONE_NEW*` type.
    pub joins: Vec<(OwnedFd, libc::c_int)>,
}

/// Body of the container's init; only returns an error.
pub(crate) fn run(plan: &InitPlan<'_>, stdio: &Stdio, chan: BorrowedFd<'_>) -> Result<Infallible, InitError> {
    sys::reset_signals();
    // Not dumpable until execve (which resets it): nothing in the container
    // may ptrace the init or open its /proc files while it is still berth.
    rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable)
        .map_err(|e| InitError::os("PR_SET_DUMPABLE", e))?;
    rustix::process::umask(Mode::empty());
    let mut keep = vec![chan.as_raw_fd()];
    keep.extend(plan.joins.iter().map(|(fd, _)| fd.as_raw_fd()));
    setup_stdio(stdio, &keep)?;
    wait_for_go(chan);

    sys::unshare_namespaces(libc::CLONE_NEWCGROUP)
        .map_err(|e| InitError::os("unsharing the cgroup namespace", e))?;
    for (fd, kind) in &plan.joins {
        rustix::thread::move_into_thread_name_spaces(
            fd.as_fd(),
            rustix::thread::ThreadNameSpaceType::from_bits_retain(*kind as u32),
        )
        .map_err(|e| InitError::os("joining a namespace (setns)", e))?;
    }

    let spec = plan.spec;
    rootfs::prepare(&RootfsPlan { spec, hierarchy: plan.hierarchy.as_ref(), tty: stdio.is_tty() })?;
    sysctl::apply(&spec.sysctls)?;
    if !spec.privileged {
        rootfs::readonly_paths(&spec.readonly_paths)?;
        rootfs::mask_paths(&spec.masked_paths)?;
    }
    if spec.readonly_rootfs {
        rootfs::remount_root_readonly()?;
    }
    if spec.namespaces.uts != Namespace::Host {
        if !spec.hostname.is_empty() {
            rustix::system::sethostname(spec.hostname.as_bytes())
                .map_err(|e| InitError::os("sethostname", e))?;
        }
        if !spec.domainname.is_empty() {
            rustix::system::setdomainname(spec.domainname.as_bytes())
                .map_err(|e| InitError::os("setdomainname", e))?;
        }
    }
    apply_limits(&spec.rlimits, spec.oom_score_adj)?;
    become_process(&plan.process, chan, true)
}

/// The container's rlimits and `oom_score_adj`, for its init and its execs
/// alike (while still root, before the user changes).
pub(crate) fn apply_limits(rlimits: &[Rlimit], oom_score_adj: Option<i32>) -> Result<(), InitError> {
    for limit in rlimits {
        set_rlimit(limit)?;
    }
    if let Some(adj) = oom_score_adj {
        std::fs::write("/proc/self/oom_score_adj", adj.to_string())
            .map_err(|e| InitError::os("writing /proc/self/oom_score_adj", e))?;
    }
    Ok(())
}

/// The rlimit named like Docker (`nofile`) or the kernel (`RLIMIT_NOFILE`).
pub(crate) fn resource(name: &str) -> Option<rustix::process::Resource> {
    use rustix::process::Resource as R;
    let short = name.to_ascii_lowercase();
    let short = short.strip_prefix("rlimit_").unwrap_or(&short);
    Some(match short {
        "as" => R::As,
        "core" => R::Core,
        "cpu" => R::Cpu,
        "data" => R::Data,
        "fsize" => R::Fsize,
        "locks" => R::Locks,
        "memlock" => R::Memlock,
        "msgqueue" => R::Msgqueue,
        "nice" => R::Nice,
        "nofile" => R::Nofile,
        "nproc" => R::Nproc,
        "rss" => R::Rss,
        "rtprio" => R::Rtprio,
        "rttime" => R::Rttime,
        "sigpending" => R::Sigpending,
        "stack" => R::Stack,
        _ => return None,
    })
}

fn set_rlimit(limit: &Rlimit) -> Result<(), InitError> {
    let res = resource(&limit.resource)
        .ok_or_else(|| InitError::setup(format!("unknown rlimit {:?}", limit.resource)))?;
    let value = |v: u64| if v == u64::MAX { None } else { Some(v) };
    rustix::process::setrlimit(
        res,
        rustix::process::Rlimit { current: value(limit.soft), maximum: value(limit.hard) },
    )
    .map_err(|e| InitError::os(format!("setrlimit {}", limit.resource), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rlimit_names() {
        assert_eq!(resource("RLIMIT_NOFILE"), Some(rustix::process::Resource::Nofile));
        assert_eq!(resource("nofile"), Some(rustix::process::Resource::Nofile));
        assert_eq!(resource("NPROC"), Some(rustix::process::Resource::Nproc));
        assert_eq!(resource("bogus"), None);
    }
}
