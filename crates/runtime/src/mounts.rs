//! Mounting inside the container's root filesystem without being fooled by
//! it.
//!
//! The image is untrusted: any directory on the way to a mount point may be
//! a symlink pointing at the host (`/etc -> /../../../host/etc`). Every
//! destination is therefore resolved with `openat2(RESOLVE_IN_ROOT)`
//! relative to a descriptor of the rootfs, missing directories are created
//! one component at a time relative to their already-resolved parent, and
//! the mount then targets the opened descriptor through
//! `/proc/self/fd/<n>`, so nothing is looked up by path twice.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use rustix::fs::{Mode, OFlags, ResolveFlags};

use crate::error::InitError;
use crate::spec::Mount;
use crate::sys;

const MS_RDONLY: u64 = libc::MS_RDONLY;
const MS_NOSUID: u64 = libc::MS_NOSUID;
const MS_NODEV: u64 = libc::MS_NODEV;
const MS_NOEXEC: u64 = libc::MS_NOEXEC;
const MS_BIND: u64 = libc::MS_BIND;
const MS_REC: u64 = libc::MS_REC;
const MS_REMOUNT: u64 = libc::MS_REMOUNT;

/// Per-mount flags that a bind-remount must repeat or it clears them.
const LOCKABLE: u64 = MS_RDONLY
    | MS_NOSUID
    | MS_NODEV
    | MS_NOEXEC
    | libc::MS_NOATIME
    | libc::MS_NODIRATIME
    | libc::MS_RELATIME
    | libc::MS_STRICTATIME;

/// Parsed mount(8)-style options.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Options {
    /// `MS_*` flags for the mount call.
    pub flags: u64,
    /// Propagation to set afterwards (`MS_PRIVATE|MS_REC`...), if any.
    pub propagation: u64,
    /// Filesystem-specific options, comma-joined (`size=64m,mode=1777`).
    pub data: String,
    /// `rro`: read-only, recursively for every submount.
    pub recursive_readonly: bool,
}

impl Options {
    pub(crate) fn parse<S: AsRef<str>>(options: &[S]) -> Options {
        let mut o = Options::default();
        let mut data: Vec<&str> = Vec::new();
        for opt in options {
            let opt = opt.as_ref();
            let (set, clear): (u64, u64) = match opt {
                "defaults" | "" => (0, 0),
                "ro" => (MS_RDONLY, 0),
                "rw" => (0, MS_RDONLY),
                "rro" => {
                    o.recursive_readonly = true;
                    (MS_RDONLY, 0)
                }
                "nosuid" => (MS_NOSUID, 0),
                "suid" => (0, MS_NOSUID),
                "nodev" => (MS_NODEV, 0),
                "dev" => (0, MS_NODEV),
                "noexec" => (MS_NOEXEC, 0),
                "exec" => (0, MS_NOEXEC),
                "sync" => (libc::MS_SYNCHRONOUS, 0),
                "async" => (0, libc::MS_SYNCHRONOUS),
                "dirsync" => (libc::MS_DIRSYNC, 0),
                "mand" => (libc::MS_MANDLOCK, 0),
                "nomand" => (0, libc::MS_MANDLOCK),
                "noatime" => (libc::MS_NOATIME, 0),
                "atime" => (0, libc::MS_NOATIME),
                "nodiratime" => (libc::MS_NODIRATIME, 0),
                "diratime" => (0, libc::MS_NODIRATIME),
                "relatime" => (libc::MS_RELATIME, 0),
                "norelatime" => (0, libc::MS_RELATIME),
                "strictatime" => (libc::MS_STRICTATIME, 0),
                "nostrictatime" => (0, libc::MS_STRICTATIME),
                "bind" => (MS_BIND, 0),
                "rbind" => (MS_BIND | MS_REC, 0),
                "private" | "rprivate" | "shared" | "rshared" | "slave" | "rslave" | "unbindable"
                | "runbindable" => {
                    let rec = if opt.starts_with('r') { MS_REC } else { 0 };
                    o.propagation = rec
                        | match opt.trim_start_matches('r') {
                            "private" => libc::MS_PRIVATE,
                            "shared" => libc::MS_SHARED,
                            "slave" => libc::MS_SLAVE,
                            _ => libc::MS_UNBINDABLE,
                        };
                    (0, 0)
                }
                other => {
                    data.push(other);
                    (0, 0)
                }
            };
            o.flags = (o.flags | set) & !clear;
        }
        o.data = data.join(",");
        o
    }

    pub(crate) fn is_bind(&self) -> bool {
        self.flags & MS_BIND != 0
    }
}

/// `/proc/self/fd/<n>`: a path naming exactly what `fd` refers to.
pub(crate) fn fd_path(fd: BorrowedFd<'_>) -> CString {
    CString::new(format!("/proc/self/fd/{}", fd.as_raw_fd())).expect("no NUL in a number")
}

pub(crate) fn cstr(s: &str) -> Result<CString, InitError> {
    CString::new(s).map_err(|_| InitError::setup(format!("{s:?} contains a NUL byte")))
}

/// Opens `path` inside `root` as an `O_PATH` descriptor, resolving every
/// symlink as if `root` were `/`.
pub(crate) fn open_in_root(root: BorrowedFd<'_>, path: &str) -> io::Result<OwnedFd> {
    let rel = path.trim_start_matches('/');
    let rel = if rel.is_empty() { "." } else { rel };
    Ok(rustix::fs::openat2(
        root,
        rel,
        OFlags::PATH | OFlags::CLOEXEC,
        Mode::empty(),
        ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
    )?)
}

/// Opens `dest` inside `root`, creating what is missing: directories, and
/// the last component as an empty file when `file` is set (bind mounts of
/// files need a file to cover).
pub(crate) fn ensure_dest(root: BorrowedFd<'_>, dest: &str, file: bool) -> io::Result<OwnedFd> {
    match open_in_root(root, dest) {
        Ok(fd) => return Ok(fd),
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {}
        Err(e) => return Err(e),
    }
    let parts: Vec<&str> = dest.split('/').filter(|p| !p.is_empty() && *p != ".").collect();
    if parts.contains(&"..") {
        // `..` is harmless under RESOLVE_IN_ROOT, but a path like `a/../b`
        // cannot be created component by component below.
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    let mut parent = open_in_root(root, "/")?;
    for (i, part) in parts.iter().enumerate() {
        let prefix = parts[..=i].join("/");
        match open_in_root(root, &prefix) {
            Ok(fd) => {
                parent = fd;
                continue;
            }
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {}
            Err(e) => return Err(e),
        }
        // `parent` is already resolved inside the root; creating one plain
        // name in it cannot escape (an existing symlink gives EEXIST).
        let last = i + 1 == parts.len();
        if last && file {
            let created = rustix::fs::openat(
                parent.as_fd(),
                *part,
                OFlags::CREATE | OFlags::WRONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::from_raw_mode(0o644),
            );
            match created {
                Ok(_) | Err(rustix::io::Errno::EXIST) => {}
                Err(e) => return Err(e.into()),
            }
        } else {
            match rustix::fs::mkdirat(parent.as_fd(), *part, Mode::from_raw_mode(0o755)) {
                Ok(()) | Err(rustix::io::Errno::EXIST) => {}
                Err(e) => return Err(e.into()),
            }
        }
        parent = open_in_root(root, &prefix)?;
    }
    Ok(parent)
}

/// Where a mount goes: [`ensure_dest`], refusing the container's root
/// itself. An image can make any path a symlink to `/`; a mount there would
/// land on top of the root, under the process but over everything that
/// later enters the mount namespace.
pub(crate) fn mount_point(root: BorrowedFd<'_>, dest: &str, file: bool) -> io::Result<OwnedFd> {
    let fd = ensure_dest(root, dest, file)?;
    let (st, root_st) = (rustix::fs::fstat(&fd)?, rustix::fs::fstat(root)?);
    if st.st_dev == root_st.st_dev && st.st_ino == root_st.st_ino {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("mount destination {dest} resolves to the container's root"),
        ));
    }
    Ok(fd)
}

/// A mount point of the system file systems (`/proc`, `/sys`, `/dev`...):
/// a real directory reached without any symlink, as runc requires, so an
/// image cannot redirect procfs or sysfs to a place of its choosing.
pub(crate) fn system_mount_point(root: BorrowedFd<'_>, dest: &str) -> io::Result<OwnedFd> {
    mount_point(root, dest, false)?;
    let rel = dest.trim_start_matches('/');
    rustix::fs::openat2(
        root,
        if rel.is_empty() { "." } else { rel },
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
        ResolveFlags::IN_ROOT | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS,
    )
    .map_err(|e| match e {
        rustix::io::Errno::LOOP => io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{dest} must be a directory in the image, not a symlink"),
        ),
        rustix::io::Errno::NOTDIR => {
            io::Error::new(io::ErrorKind::InvalidInput, format!("{dest} must be a directory in the image"))
        }
        e => e.into(),
    })
}

/// Mounts a filesystem (`proc`, `tmpfs`...) on an opened mount point.
pub(crate) fn mount_fs(
    source: &str,
    target: BorrowedFd<'_>,
    fstype: &str,
    flags: u64,
    data: &str,
) -> io::Result<()> {
    let source = CString::new(source)?;
    let fstype = CString::new(fstype)?;
    let data = CString::new(data)?;
    sys::mount(
        Some(&source),
        &fd_path(target),
        Some(&fstype),
        flags as libc::c_ulong,
        (!data.as_bytes().is_empty()).then_some(data.as_c_str()),
    )
}

/// Changes propagation of the mount at `target` (`MS_PRIVATE|MS_REC`...).
pub(crate) fn set_propagation(target: BorrowedFd<'_>, propagation: u64) -> io::Result<()> {
    sys::mount(None, &fd_path(target), None, propagation as libc::c_ulong, None)
}

/// The `MS_*` per-mount flags currently on the mount holding `fd`.
fn current_flags(fd: BorrowedFd<'_>) -> io::Result<u64> {
    let st = rustix::fs::fstatvfs(fd)?;
    let f = st.f_flag.bits();
    let map = [
        (1u64, MS_RDONLY),
        (2, MS_NOSUID),
        (4, MS_NODEV),
        (8, MS_NOEXEC),
        (1024, libc::MS_NOATIME),
        (2048, libc::MS_NODIRATIME),
        (4096, libc::MS_RELATIME),
    ];
    Ok(map.iter().filter(|(st, _)| f & st != 0).map(|(_, ms)| ms).sum())
}

/// Re-applies per-mount flags to an existing mount, keeping the ones it
/// already has (clearing them needs privileges we may not keep, and would
/// weaken e.g. a `nosuid` source).
pub(crate) fn remount(target: BorrowedFd<'_>, add: u64) -> io::Result<()> {
    let flags = (current_flags(target)? | add) & LOCKABLE;
    sys::mount(None, &fd_path(target), None, (MS_BIND | MS_REMOUNT | flags) as libc::c_ulong, None)
}

/// Makes a mount read-only, recursively when `recursive` (Linux 5.12's
/// `mount_setattr`; older kernels get the top mount only).
pub(crate) fn make_readonly(target: BorrowedFd<'_>, recursive: bool) -> io::Result<()> {
    if recursive {
        match sys::mount_setattr(target, true, sys::MOUNT_ATTR_RDONLY) {
            Ok(()) => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::ENOSYS) => {}
            Err(e) => return Err(e),
        }
    }
    remount(target, MS_RDONLY)
}

/// A bind mount made as a detached copy of `source`, moved onto `target`,
/// and given its flags through its own descriptor: they land on this very
/// mount, never on whatever the destination path names by then (a path
/// another container sharing a parent volume could change meanwhile).
fn bind_by_descriptor(source: &str, target: BorrowedFd<'_>, opts: &Options) -> io::Result<()> {
    use rustix::mount::{MoveMountFlags, OpenTreeFlags};
    let mut flags = OpenTreeFlags::OPEN_TREE_CLONE | OpenTreeFlags::OPEN_TREE_CLOEXEC;
    if opts.flags & MS_REC != 0 {
        flags |= OpenTreeFlags::AT_RECURSIVE;
    }
    let tree = rustix::mount::open_tree(rustix::fs::CWD, source, flags)?;
    rustix::mount::move_mount(
        tree.as_fd(),
        "",
        target,
        "",
        MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH | MoveMountFlags::MOVE_MOUNT_T_EMPTY_PATH,
    )?;
    let extra = opts.flags & LOCKABLE & !MS_RDONLY;
    if extra != 0 {
        remount(tree.as_fd(), extra)?;
    }
    if opts.flags & MS_RDONLY != 0 {
        make_readonly(tree.as_fd(), opts.recursive_readonly || opts.flags & MS_REC != 0)?;
    }
    if opts.propagation != 0 {
        set_propagation(tree.as_fd(), opts.propagation)?;
    }
    Ok(())
}

/// Applies one of the spec's mounts inside the rootfs.
pub(crate) fn apply(root: BorrowedFd<'_>, m: &Mount) -> Result<(), InitError> {
    let fail =
        |what: &str, e: io::Error| InitError::os(format!("{what} {} on {}", m.source, m.destination), e);
    if !m.destination.starts_with('/') {
        return Err(InitError::setup(format!("mount destination {:?} is not absolute", m.destination)));
    }
    let mut opts = Options::parse(&m.options);
    if m.fstype == "bind" {
        opts.flags |= MS_BIND;
    }
    if opts.is_bind() {
        let is_dir = std::fs::metadata(&m.source).map_err(|e| fail("bind-mounting", e))?.is_dir();
        let target =
            mount_point(root, &m.destination, !is_dir).map_err(|e| fail("creating mount point for", e))?;
        match bind_by_descriptor(&m.source, target.as_fd(), &opts) {
            Ok(()) => return Ok(()),
            // Before Linux 5.2: by path, below.
            Err(e) if e.raw_os_error() == Some(libc::ENOSYS) => {}
            Err(e) => return Err(fail("bind-mounting", e)),
        }
        let source = cstr(&m.source)?;
        sys::mount(
            Some(&source),
            &fd_path(target.as_fd()),
            None,
            (opts.flags & (MS_BIND | MS_REC)) as libc::c_ulong,
            None,
        )
        .map_err(|e| fail("bind-mounting", e))?;
        // The descriptor still names the covered directory; reopen to get
        // the new mount for the flag changes.
        let mounted = open_in_root(root, &m.destination).map_err(|e| fail("reopening", e))?;
        let extra = opts.flags & LOCKABLE & !MS_RDONLY;
        if extra != 0 {
            remount(mounted.as_fd(), extra).map_err(|e| fail("remounting", e))?;
        }
        if opts.flags & MS_RDONLY != 0 {
            let recursive = opts.recursive_readonly || opts.flags & MS_REC != 0;
            make_readonly(mounted.as_fd(), recursive).map_err(|e| fail("making read-only", e))?;
        }
        if opts.propagation != 0 {
            set_propagation(mounted.as_fd(), opts.propagation)
                .map_err(|e| fail("setting propagation of", e))?;
        }
        return Ok(());
    }
    let target = mount_point(root, &m.destination, false).map_err(|e| fail("creating mount point for", e))?;
    mount_fs(&m.source, target.as_fd(), &m.fstype, opts.flags, &opts.data)
        .map_err(|e| fail("mounting", e))?;
    if opts.propagation != 0 {
        let mounted = open_in_root(root, &m.destination).map_err(|e| fail("reopening", e))?;
        set_propagation(mounted.as_fd(), opts.propagation).map_err(|e| fail("setting propagation of", e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options() {
        let o = Options::parse(&["rbind", "ro", "nosuid", "rslave"]);
        assert_eq!(o.flags, MS_BIND | MS_REC | MS_RDONLY | MS_NOSUID);
        assert_eq!(o.propagation, libc::MS_SLAVE | MS_REC);
        assert!(o.is_bind());
        let o = Options::parse(&["noexec", "nosuid", "nodev", "size=65536k", "mode=1777", "ro", "rw"]);
        assert_eq!(o.flags, MS_NOEXEC | MS_NOSUID | MS_NODEV);
        assert_eq!(o.data, "size=65536k,mode=1777");
        assert!(!o.is_bind());
        let o = Options::parse(&["rro", "private"]);
        assert!(o.recursive_readonly);
        assert_eq!(o.propagation, libc::MS_PRIVATE);
    }

    #[test]
    fn destinations_stay_inside_the_root() {
        let tmp = tempfile::tempdir().unwrap();
        let root_dir = tmp.path().join("root");
        let outside = tmp.path().join("outside");
        std::fs::create_dir_all(root_dir.join("etc")).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        // Symlinks that would lead out of the root if followed on the host.
        std::os::unix::fs::symlink(&outside, root_dir.join("host")).unwrap();
        std::os::unix::fs::symlink("../../outside", root_dir.join("etc/rel")).unwrap();
        // An absolute symlink to a directory of the image.
        std::os::unix::fs::symlink("/etc", root_dir.join("abs")).unwrap();
        let root = rustix::fs::open(&root_dir, OFlags::PATH | OFlags::DIRECTORY, Mode::empty()).unwrap();

        ensure_dest(root.as_fd(), "/abs/made/here", false).unwrap();
        assert!(root_dir.join("etc/made/here").is_dir());
        // Links that dangle inside the root are refused, never followed out.
        assert!(ensure_dest(root.as_fd(), "/host/x", false).is_err());
        assert!(ensure_dest(root.as_fd(), "/etc/rel/x", false).is_err());
        assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0, "nothing created outside");
        ensure_dest(root.as_fd(), "/etc/file.conf", true).unwrap();
        assert!(root_dir.join("etc/file.conf").is_file());
        // Existing paths are opened as they are.
        ensure_dest(root.as_fd(), "/etc", false).unwrap();
        assert!(ensure_dest(root.as_fd(), "/a/../b", false).is_err());
    }
}
