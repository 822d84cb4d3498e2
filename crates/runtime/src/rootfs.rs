//! Assembling the container's root filesystem inside its new mount
//! namespace, and switching to it with `pivot_root`.
//!
//! # Where the overlay is mounted
//!
//! The overlay is mounted by the container's init, inside the container's
//! own mount namespace, onto the target directory the caller created. The
//! host's mount table never shows it: there is nothing to leak if the
//! caller crashes, and when the container's last process exits the kernel
//! tears the namespace down and unmounts it. While the container runs, the
//! host reaches its files through `/proc/<pid>/root`.
//!
//! # Many layers
//!
//! The legacy `mount(2)` call takes overlay's options in a single page
//! (4 KiB), which sixty absolute layer paths overflow. Three ways, tried in
//! order:
//!
//! 1. options that fit in a page: one `mount(2)` call;
//! 2. the new mount API, passing one layer per `fsconfig("lowerdir+")`
//!    call (Linux 6.8): no length limit at all;
//! 3. older kernels with the new mount API (5.2+): a detached, private
//!    tmpfs (never attached anywhere) holds short symlinks `0`, `1`, ...
//!    to the layers; with the working directory inside it, `mount(2)` gets
//!    `lowerdir=0:1:2...` — three bytes per layer. Overlay resolves the
//!    links once at mount time and the tmpfs vanishes with its descriptor.
//!
//! Chdir-ing into the layers' common parent (the other classic trick) would
//! still need 65 bytes per layer with berth's 64-hex-digit snapshot names,
//! and fail near sixty layers.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU8, Ordering};

use rustix::fs::{Mode, OFlags};
use rustix::mount::{FsMountFlags, FsOpenFlags, MountAttrFlags, MoveMountFlags, UnmountFlags};

use crate::cgroups::Hierarchy;
use crate::devices;
use crate::error::InitError;
use crate::mounts::{self, Options, cstr, ensure_dest, fd_path, open_in_root};
use crate::spec::{INIT_PATH, Mount, Rootfs, Spec};
use crate::sys;

/// Which overlay strategy to use; 0 = automatic. Tests force the others.
static OVERLAY_STRATEGY: AtomicU8 = AtomicU8::new(0);

/// Forces an overlay mount strategy in this process (1: `mount(2)`,
/// 2: `fsconfig` with `lowerdir+`, 3: symlinks in a detached tmpfs; 0:
/// automatic). Only for tests of the fallbacks.
#[doc(hidden)]
pub fn force_overlay_strategy(strategy: u8) {
    OVERLAY_STRATEGY.store(strategy, Ordering::Relaxed);
}

fn os(what: impl std::fmt::Display) -> impl FnOnce(io::Error) -> InitError {
    move |e| InitError::os(what, e)
}

fn path_str(p: &Path) -> Result<&str, InitError> {
    p.to_str().ok_or_else(|| InitError::setup(format!("path {} is not UTF-8", p.display())))
}

/// Mounts the overlay described by `lower`/`upper`/`work` on `target`.
pub(crate) fn mount_overlay(
    lower: &[PathBuf],
    upper: &Path,
    work: &Path,
    target: &Path,
) -> Result<(), InitError> {
    if lower.is_empty() {
        return Err(InitError::setup("overlay rootfs needs at least one lower layer"));
    }
    for p in lower.iter().map(PathBuf::as_path).chain([upper, work, target]) {
        if !p.is_absolute() {
            return Err(InitError::setup(format!("overlay path {} is not absolute", p.display())));
        }
    }
    let index_off = Path::new("/sys/module/overlay/parameters/index").exists();
    let lower_strs = lower.iter().map(|p| path_str(p)).collect::<Result<Vec<_>, _>>()?;
    let (upper_s, work_s) = (path_str(upper)?, path_str(work)?);
    // `,` separates options and `:` layers in mount(2)'s string form.
    let plain = lower_strs.iter().chain([&upper_s, &work_s]).all(|p| !p.contains([',', ':', '\\']));
    let options = |lowerdir: &str| {
        let mut o = format!("lowerdir={lowerdir},upperdir={upper_s},workdir={work_s}");
        if index_off {
            o.push_str(",index=off");
        }
        o
    };
    let forced = OVERLAY_STRATEGY.load(Ordering::Relaxed);
    let page = rustix::param::page_size();
    if (forced == 0 || forced == 1) && plain {
        let data = options(&lower_strs.join(":"));
        if data.len() < page || forced == 1 {
            return legacy_overlay(&data, target);
        }
    }
    if forced == 0 || forced == 2 {
        match fsconfig_overlay(&lower_strs, upper_s, work_s, index_off, target) {
            Ok(()) => return Ok(()),
            // EINVAL: no "lowerdir+" (before 6.8); ENOSYS: no new mount API.
            Err(e) if forced == 0 && matches!(e.raw_os_error(), Some(libc::EINVAL | libc::ENOSYS)) => {}
            Err(e) => return Err(InitError::os(format!("mounting overlay on {}", target.display()), e)),
        }
    }
    if !plain {
        return Err(InitError::setup(
            "overlay layer paths contain ',' or ':' and this kernel lacks fsconfig(lowerdir+) (Linux 6.8)",
        ));
    }
    symlinked_overlay(lower, &options, target)
}

fn legacy_overlay(data: &str, target: &Path) -> Result<(), InitError> {
    let data = cstr(data)?;
    let target_c =
        CString::new(target.as_os_str().as_bytes()).map_err(|_| InitError::setup("NUL in target path"))?;
    sys::mount(Some(c"overlay"), &target_c, Some(c"overlay"), 0, Some(&data))
        .map_err(os(format!("mounting overlay on {}", target.display())))
}

fn fsconfig_overlay(
    lower: &[&str],
    upper: &str,
    work: &str,
    index_off: bool,
    target: &Path,
) -> io::Result<()> {
    let fs = rustix::mount::fsopen("overlay", FsOpenFlags::FSOPEN_CLOEXEC)?;
    for layer in lower {
        rustix::mount::fsconfig_set_string(fs.as_fd(), "lowerdir+", *layer)?;
    }
    rustix::mount::fsconfig_set_string(fs.as_fd(), "upperdir", upper)?;
    rustix::mount::fsconfig_set_string(fs.as_fd(), "workdir", work)?;
    if index_off {
        rustix::mount::fsconfig_set_string(fs.as_fd(), "index", "off")?;
    }
    rustix::mount::fsconfig_create(fs.as_fd())?;
    let mnt = rustix::mount::fsmount(fs.as_fd(), FsMountFlags::FSMOUNT_CLOEXEC, MountAttrFlags::empty())?;
    rustix::mount::move_mount(
        mnt.as_fd(),
        "",
        rustix::fs::CWD,
        target,
        MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH,
    )?;
    Ok(())
}

fn symlinked_overlay(
    lower: &[PathBuf],
    options: &dyn Fn(&str) -> String,
    target: &Path,
) -> Result<(), InitError> {
    let fail = os("preparing short overlay layer links");
    let fs = rustix::mount::fsopen("tmpfs", FsOpenFlags::FSOPEN_CLOEXEC).map_err(|e| fail(e.into()))?;
    rustix::mount::fsconfig_create(fs.as_fd()).map_err(|e| os("creating tmpfs for layer links")(e.into()))?;
    let links = rustix::mount::fsmount(fs.as_fd(), FsMountFlags::FSMOUNT_CLOEXEC, MountAttrFlags::empty())
        .map_err(|e| os("mounting tmpfs for layer links")(e.into()))?;
    let mut names = Vec::with_capacity(lower.len());
    for (i, layer) in lower.iter().enumerate() {
        let name = i.to_string();
        rustix::fs::symlinkat(layer, links.as_fd(), name.as_str())
            .map_err(|e| os("linking a layer")(e.into()))?;
        names.push(name);
    }
    rustix::process::fchdir(links.as_fd()).map_err(|e| os("entering the layer links")(e.into()))?;
    let result = legacy_overlay(&options(&names.join(":")), target);
    let _ = rustix::process::chdir("/");
    result
}

/// Docker's default mounts, minus those the caller mounts itself.
struct DefaultMount {
    dest: &'static str,
    source: &'static str,
    fstype: &'static str,
    flags: u64,
    data: &'static str,
}

const PROC: DefaultMount = DefaultMount {
    dest: "/proc",
    source: "proc",
    fstype: "proc",
    flags: libc::MS_NOSUID | libc::MS_NOEXEC | libc::MS_NODEV,
    data: "",
};

const DEV: DefaultMount = DefaultMount {
    dest: "/dev",
    source: "tmpfs",
    fstype: "tmpfs",
    flags: libc::MS_NOSUID | libc::MS_STRICTATIME,
    data: "mode=755,size=65536k",
};

/// Everything the init needs to build the rootfs.
pub(crate) struct RootfsPlan<'a> {
    pub spec: &'a Spec,
    /// The host's cgroup layout, to mount `/sys/fs/cgroup` the same way.
    pub hierarchy: Option<&'a Hierarchy>,
    pub tty: bool,
}

/// Builds the root filesystem at the spec's target and pivots into it.
/// Runs in the container's init, in its new mount namespace.
pub(crate) fn prepare(plan: &RootfsPlan<'_>) -> Result<(), InitError> {
    let spec = plan.spec;
    // Nothing done from here on may propagate back to the host.
    sys::mount(None, c"/", None, libc::MS_REC | libc::MS_PRIVATE, None).map_err(os("making / private"))?;

    let target = spec.rootfs.target();
    match &spec.rootfs {
        Rootfs::Overlay { lower, upper, work, target } => mount_overlay(lower, upper, work, target)?,
        Rootfs::Bind { path } => {
            // pivot_root needs the new root to be a mount point.
            let p = CString::new(path.as_os_str().as_bytes())
                .map_err(|_| InitError::setup("NUL in rootfs path"))?;
            sys::mount(Some(&p), &p, None, libc::MS_BIND | libc::MS_REC, None)
                .map_err(os(format!("bind-mounting rootfs {}", path.display())))?;
        }
    }
    let root: OwnedFd =
        rustix::fs::open(target, OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())
            .map_err(|e| os(format!("opening rootfs {}", target.display()))(e.into()))?;
    let root = root.as_fd();

    let user_dest = |dest: &str| spec.mounts.iter().any(|m| m.destination.trim_end_matches('/') == dest);
    let mount_default = |m: &DefaultMount| -> Result<(), InitError> {
        if user_dest(m.dest) {
            return Ok(());
        }
        let fd = mounts::system_mount_point(root, m.dest).map_err(os(format!("creating {}", m.dest)))?;
        mounts::mount_fs(m.source, fd.as_fd(), m.fstype, m.flags, m.data)
            .map_err(os(format!("mounting {} on {}", m.fstype, m.dest)))
    };
    mount_default(&PROC)?;
    if !user_dest("/dev") {
        mount_default(&DEV)?;
        devices::populate(root, &spec.devices, spec.privileged, plan.tty)?;
    }
    devices::mount_dev_filesystems(root, spec.shm_size, &user_dest)?;
    if !user_dest("/sys") {
        mount_sys(root, spec.privileged)?;
        if !user_dest("/sys/fs/cgroup")
            && let Some(h) = plan.hierarchy
        {
            mount_cgroupfs(root, h, spec.privileged)?;
        }
    }

    for m in &spec.mounts {
        mounts::apply(root, m)?;
    }
    if let Some(init) = &spec.init {
        mounts::apply(root, &Mount::bind(path_str(init)?, INIT_PATH, true))?;
    }
    // Docker creates a missing working directory (as root, 0755).
    ensure_dest(root, &spec.cwd, false).map_err(os(format!("creating working directory {}", spec.cwd)))?;

    pivot(root)
}

fn mount_sys(root: BorrowedFd<'_>, privileged: bool) -> Result<(), InitError> {
    let ro = if privileged { 0 } else { libc::MS_RDONLY };
    let fd = mounts::system_mount_point(root, "/sys").map_err(os("creating /sys"))?;
    let flags = libc::MS_NOSUID | libc::MS_NOEXEC | libc::MS_NODEV | ro;
    match mounts::mount_fs("sysfs", fd.as_fd(), "sysfs", flags, "") {
        Ok(()) => Ok(()),
        // sysfs can only be mounted by the owner of the network namespace;
        // when the container shares one it may not own, bind the host's.
        Err(e) if e.raw_os_error() == Some(libc::EPERM) => {
            sys::mount(Some(c"/sys"), &fd_path(fd.as_fd()), None, libc::MS_BIND | libc::MS_REC, None)
                .map_err(os("bind-mounting /sys"))?;
            if !privileged {
                let sys = open_in_root(root, "/sys").map_err(os("reopening /sys"))?;
                mounts::make_readonly(sys.as_fd(), true).map_err(os("making /sys read-only"))?;
            }
            Ok(())
        }
        Err(e) => Err(InitError::os("mounting sysfs on /sys", e)),
    }
}

/// `/sys/fs/cgroup` as the container sees it: its own cgroup as the root,
/// thanks to the cgroup namespace; read-only unless privileged.
fn mount_cgroupfs(root: BorrowedFd<'_>, hierarchy: &Hierarchy, privileged: bool) -> Result<(), InitError> {
    let ro = if privileged { 0 } else { libc::MS_RDONLY };
    let flags = libc::MS_NOSUID | libc::MS_NOEXEC | libc::MS_NODEV;
    let fd = mounts::system_mount_point(root, "/sys/fs/cgroup").map_err(os("creating /sys/fs/cgroup"))?;
    match hierarchy {
        Hierarchy::V2 { .. } => mounts::mount_fs("cgroup", fd.as_fd(), "cgroup2", flags | ro, "")
            .map_err(os("mounting cgroup2 on /sys/fs/cgroup")),
        Hierarchy::V1 { mounts: v1 } => {
            mounts::mount_fs("tmpfs", fd.as_fd(), "tmpfs", flags, "mode=755")
                .map_err(os("mounting tmpfs on /sys/fs/cgroup"))?;
            let dir = open_in_root(root, "/sys/fs/cgroup").map_err(os("opening /sys/fs/cgroup"))?;
            for m in v1 {
                let Some(name) = m.path.file_name().and_then(|n| n.to_str()) else { continue };
                let dest = format!("/sys/fs/cgroup/{name}");
                let sub = mounts::system_mount_point(root, &dest).map_err(os(format!("creating {dest}")))?;
                mounts::mount_fs("cgroup", sub.as_fd(), "cgroup", flags | ro, &m.mount_options())
                    .map_err(os(format!("mounting cgroup {} on {dest}", m.mount_options())))?;
                // `cpu` -> `cpu,cpuacct`, as hosts with joined hierarchies have.
                if name.contains(',') {
                    for part in name.split(',') {
                        match rustix::fs::symlinkat(name, dir.as_fd(), part) {
                            Ok(()) | Err(rustix::io::Errno::EXIST) => {}
                            Err(e) => return Err(InitError::os(format!("linking /sys/fs/cgroup/{part}"), e)),
                        }
                    }
                }
            }
            if !privileged {
                mounts::remount(dir.as_fd(), libc::MS_RDONLY)
                    .map_err(os("making /sys/fs/cgroup read-only"))?;
            }
            Ok(())
        }
    }
}

/// `pivot_root(".", ".")` with the new root as working directory stacks
/// the old root on top of the new one; unmounting "." then detaches the
/// old root (the whole host tree) lazily. No put-old directory is needed,
/// so a read-only rootfs works too.
fn pivot(root: BorrowedFd<'_>) -> Result<(), InitError> {
    rustix::process::fchdir(root).map_err(|e| os("entering the rootfs")(e.into()))?;
    rustix::process::pivot_root(".", ".").map_err(|e| os("pivot_root")(e.into()))?;
    rustix::mount::unmount(".", UnmountFlags::DETACH).map_err(|e| os("detaching the old root")(e.into()))?;
    rustix::process::chdir("/").map_err(|e| os("chdir /")(e.into()))?;
    Ok(())
}

/// Hides `paths` (after pivot_root): `/dev/null` over files, an empty
/// read-only tmpfs over directories. Missing paths are skipped.
pub(crate) fn mask_paths(paths: &[String]) -> Result<(), InitError> {
    let root = open_in_root(rustix::fs::CWD, "/").map_err(os("opening /"))?;
    for p in paths {
        let fd = match open_in_root(root.as_fd(), p) {
            Ok(fd) => fd,
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => continue,
            Err(e) => return Err(InitError::os(format!("masking {p}"), e)),
        };
        let is_dir = rustix::fs::fstat(&fd).is_ok_and(|st| st.st_mode & libc::S_IFMT == libc::S_IFDIR);
        let result = if is_dir {
            mounts::mount_fs("tmpfs", fd.as_fd(), "tmpfs", libc::MS_RDONLY, "")
        } else {
            sys::mount(Some(c"/dev/null"), &fd_path(fd.as_fd()), None, libc::MS_BIND, None)
        };
        result.map_err(os(format!("masking {p}")))?;
    }
    Ok(())
}

/// Makes `paths` read-only (after pivot_root). Missing paths are skipped.
pub(crate) fn readonly_paths(paths: &[String]) -> Result<(), InitError> {
    let root = open_in_root(rustix::fs::CWD, "/").map_err(os("opening /"))?;
    for p in paths {
        let fd = match open_in_root(root.as_fd(), p) {
            Ok(fd) => fd,
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => continue,
            Err(e) => return Err(InitError::os(format!("making {p} read-only"), e)),
        };
        let here = fd_path(fd.as_fd());
        sys::mount(Some(&here), &here, None, libc::MS_BIND | libc::MS_REC, None)
            .map_err(os(format!("bind-mounting {p}")))?;
        let mounted = open_in_root(root.as_fd(), p).map_err(os(format!("reopening {p}")))?;
        mounts::remount(
            mounted.as_fd(),
            libc::MS_RDONLY | libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
        )
        .map_err(os(format!("making {p} read-only")))?;
    }
    Ok(())
}

/// `--read-only`: the root mount itself becomes read-only; the mounts on
/// top of it (tmpfs, volumes, /proc...) keep their own flags.
pub(crate) fn remount_root_readonly() -> Result<(), InitError> {
    let root = open_in_root(rustix::fs::CWD, "/").map_err(os("opening /"))?;
    mounts::remount(root.as_fd(), libc::MS_RDONLY).map_err(os("remounting / read-only"))
}

/// Parses options only to validate them before the fork.
pub(crate) fn validate_mount(m: &Mount) -> Result<(), String> {
    if !m.destination.starts_with('/') {
        return Err(format!("mount destination {:?} is not absolute", m.destination));
    }
    let o = Options::parse(&m.options);
    if !o.is_bind() && m.fstype != "bind" && m.fstype.is_empty() {
        return Err(format!("mount on {:?} has no filesystem type", m.destination));
    }
    Ok(())
}
