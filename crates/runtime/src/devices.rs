//! The container's `/dev`: a small tmpfs with the standard nodes, created
//! with `mknod` (berth runs as real root, so no bind mounts of host nodes
//! are needed), the usual symlinks, the console, and the caller's devices.
//! Which of these nodes may actually be opened is decided by the device
//! cgroup ([`crate::cgroups::devices`]).

use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use rustix::fs::{AtFlags, FileType, Mode};

use crate::cgroups::{DeviceRule, DeviceType};
use crate::error::InitError;
use crate::mounts::{self, ensure_dest, fd_path, open_in_root};
use crate::spec::{Device, DeviceKind};
use crate::sys;

/// The nodes every container gets: name, major, minor (all `crw-rw-rw-`).
const DEFAULT_NODES: &[(&str, u32, u32)] =
    &[("null", 1, 3), ("zero", 1, 5), ("full", 1, 7), ("random", 1, 8), ("urandom", 1, 9), ("tty", 5, 0)];

const SYMLINKS: &[(&str, &str)] = &[
    ("fd", "/proc/self/fd"),
    ("stdin", "/proc/self/fd/0"),
    ("stdout", "/proc/self/fd/1"),
    ("stderr", "/proc/self/fd/2"),
    ("ptmx", "pts/ptmx"),
];

/// Host `/dev` entries a privileged container does not copy: they are
/// per-container mounts or links here.
const SKIP_HOST: &[&str] =
    &["pts", "shm", "mqueue", "console", "ptmx", "fd", "stdin", "stdout", "stderr", "core"];

/// Device cgroup rules for the spec's extra devices.
pub(crate) fn cgroup_rules(devices: &[Device]) -> Vec<DeviceRule> {
    devices
        .iter()
        .filter(|d| d.kind != DeviceKind::Fifo)
        .map(|d| {
            DeviceRule::allow(
                if d.kind == DeviceKind::Block { DeviceType::Block } else { DeviceType::Char },
                Some(d.major),
                Some(d.minor),
                if d.permissions.is_empty() { "rwm" } else { &d.permissions },
            )
        })
        .collect()
}

fn file_type(kind: DeviceKind) -> FileType {
    match kind {
        DeviceKind::Char => FileType::CharacterDevice,
        DeviceKind::Block => FileType::BlockDevice,
        DeviceKind::Fifo => FileType::Fifo,
    }
}

/// Creates one node at `path` inside the root (parents as needed).
fn make_node(root: BorrowedFd<'_>, dev: &Device) -> Result<(), InitError> {
    let fail = |e: io::Error| InitError::os(format!("creating device {}", dev.path), e);
    let path = Path::new(&dev.path);
    let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
        return Err(InitError::setup(format!("invalid device path {:?}", dev.path)));
    };
    let dir = ensure_dest(root, &parent.to_string_lossy(), false).map_err(fail)?;
    match rustix::fs::mknodat(
        dir.as_fd(),
        name,
        file_type(dev.kind),
        Mode::from_raw_mode(dev.mode & 0o7777),
        rustix::fs::makedev(dev.major, dev.minor),
    ) {
        Ok(()) => {}
        // The caller's device replaces a default one of the same name.
        Err(rustix::io::Errno::EXIST) => return Ok(()),
        Err(e) => return Err(fail(e.into())),
    }
    rustix::fs::chownat(
        dir.as_fd(),
        name,
        Some(rustix::process::Uid::from_raw(dev.uid)),
        Some(rustix::process::Gid::from_raw(dev.gid)),
        AtFlags::SYMLINK_NOFOLLOW,
    )
    .map_err(|e| fail(e.into()))
}

/// Fills the freshly mounted `/dev` tmpfs of the rootfs at `root`.
pub(crate) fn populate(
    root: BorrowedFd<'_>,
    extra: &[Device],
    privileged: bool,
    tty: bool,
) -> Result<(), InitError> {
    // The caller's devices first, so they win over defaults of the same name.
    for dev in extra {
        make_node(root, dev)?;
    }
    for (name, major, minor) in DEFAULT_NODES {
        make_node(
            root,
            &Device {
                path: format!("/dev/{name}"),
                kind: DeviceKind::Char,
                major: *major,
                minor: *minor,
                mode: 0o666,
                uid: 0,
                gid: 0,
                permissions: "rwm".into(),
            },
        )?;
    }
    let dev = open_in_root(root, "/dev").map_err(|e| InitError::os("opening /dev", e))?;
    let mut links: Vec<(&str, &str)> = SYMLINKS.to_vec();
    if Path::new("/proc/kcore").exists() {
        links.push(("core", "/proc/kcore"));
    }
    for (name, target) in links {
        match rustix::fs::symlinkat(target, dev.as_fd(), name) {
            Ok(()) | Err(rustix::io::Errno::EXIST) => {}
            Err(e) => return Err(InitError::os(format!("creating /dev/{name}"), e)),
        }
    }
    if tty {
        // The pty slave (fd 0 by now) doubles as /dev/console. Bind it by
        // path: the descriptor was opened in the caller's mount namespace,
        // and a bind source must be a mount of our own namespace.
        let slave =
            std::fs::read_link("/proc/self/fd/0").map_err(|e| InitError::os("finding the pty slave", e))?;
        let slave = mounts::cstr(&slave.to_string_lossy())?;
        let console =
            ensure_dest(root, "/dev/console", true).map_err(|e| InitError::os("creating /dev/console", e))?;
        sys::mount(Some(&slave), &fd_path(console.as_fd()), None, libc::MS_BIND, None)
            .map_err(|e| InitError::os("bind-mounting the console", e))?;
    }
    if privileged {
        copy_host_devices(root, Path::new("/dev"))?;
    }
    Ok(())
}

/// `--privileged`: every device node of the host, recreated at the same path.
fn copy_host_devices(root: BorrowedFd<'_>, dir: &Path) -> Result<(), InitError> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| InitError::os(format!("reading {}", dir.display()), e))?;
    for entry in entries.flatten() {
        let name = entry.file_name();
        if dir == Path::new("/dev") && SKIP_HOST.iter().any(|s| name == *s) {
            continue;
        }
        let path = entry.path();
        let Ok(meta) = std::fs::symlink_metadata(&path) else { continue };
        let ft = meta.file_type();
        let kind = if ft.is_char_device() {
            DeviceKind::Char
        } else if ft.is_block_device() {
            DeviceKind::Block
        } else {
            if ft.is_dir() {
                copy_host_devices(root, &path)?;
            }
            continue;
        };
        let rdev = meta.rdev();
        make_node(
            root,
            &Device {
                path: path.to_string_lossy().into_owned(),
                kind,
                major: rustix::fs::major(rdev),
                minor: rustix::fs::minor(rdev),
                mode: meta.mode() & 0o7777,
                uid: meta.uid(),
                gid: meta.gid(),
                permissions: "rwm".into(),
            },
        )?;
    }
    Ok(())
}

/// Mounts `/dev/pts`, `/dev/shm` and `/dev/mqueue` inside the new `/dev`.
pub(crate) fn mount_dev_filesystems(
    root: BorrowedFd<'_>,
    shm_size: u64,
    skip: &dyn Fn(&str) -> bool,
) -> Result<(), InitError> {
    let table: [(&str, &str, &str, u64, String); 3] = [
        (
            "/dev/pts",
            "devpts",
            "devpts",
            libc::MS_NOSUID | libc::MS_NOEXEC,
            "newinstance,ptmxmode=0666,mode=0620,gid=5".into(),
        ),
        (
            "/dev/shm",
            "shm",
            "tmpfs",
            libc::MS_NOSUID | libc::MS_NOEXEC | libc::MS_NODEV,
            format!("mode=1777,size={shm_size}"),
        ),
        (
            "/dev/mqueue",
            "mqueue",
            "mqueue",
            libc::MS_NOSUID | libc::MS_NOEXEC | libc::MS_NODEV,
            String::new(),
        ),
    ];
    for (dest, source, fstype, flags, data) in table {
        if skip(dest) {
            continue;
        }
        let target = mounts::system_mount_point(root, dest)
            .map_err(|e| InitError::os(format!("creating {dest}"), e))?;
        mounts::mount_fs(source, target.as_fd(), fstype, flags, &data)
            .map_err(|e| InitError::os(format!("mounting {fstype} on {dest}"), e))?;
    }
    Ok(())
}
