//! Views of a container's file system as directory descriptors: everything
//! that reads or writes container paths resolves them under one of these
//! with `RESOLVE_IN_ROOT`, so the container's symlinks can never lead the
//! daemon outside.
//!
//! * A running container: `/proc/<pid>/root`, its root with every mount it
//!   has (binds, tmpfs, `/etc/hostname`), as the container sees it.
//! * A running container's root file system alone (for `export`): a clone
//!   of just its overlay mount, made from inside its mount namespace.
//! * A stopped container: an overlay assembled with the new mount API and
//!   never attached anywhere: the mount lives exactly as long as its
//!   descriptor, so nothing can leak into any mount table, even if the
//!   daemon dies half-way.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use rustix::fs::{Mode, OFlags};
use rustix::mount::{FsMountFlags, FsOpenFlags, MountAttrFlags, OpenTreeFlags};

/// The longest value `fsconfig(FSCONFIG_SET_STRING)` takes (the kernel
/// copies at most 256 bytes, terminator included).
const FSCONFIG_MAX: usize = 255;

/// The `/proc` directory of the container `id`'s init `pid`, once it is
/// sure the process is that container's: a pid can be reused as soon as
/// the container exits, and the root of some other process (the host's!)
/// must never be taken for the container's. Everything else is then opened
/// through this descriptor, which stays bound to that one process.
fn proc_dir(pid: u32, id: &str) -> io::Result<OwnedFd> {
    let dir = rustix::fs::open(
        format!("/proc/{pid}"),
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    let cg = rustix::fs::openat(dir.as_fd(), "cgroup", OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())?;
    let cgroups = io::read_to_string(std::fs::File::from(cg))?;
    if !cgroups.lines().any(|l| l.split('/').any(|part| part == id)) {
        return Err(io::Error::new(io::ErrorKind::NotFound, format!("process {pid} is not the container's")));
    }
    Ok(dir)
}

/// The root of a running container, mounts included.
pub fn running(pid: u32, id: &str) -> io::Result<OwnedFd> {
    let proc = proc_dir(pid, id)?;
    Ok(rustix::fs::openat(
        proc.as_fd(),
        "root",
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )?)
}

/// The overlay mount of a running container alone, without what is
/// mounted on it: joins the container's mount namespace on a thread of its
/// own (so nothing else in the daemon moves) and clones the root mount.
pub fn running_rootfs(pid: u32, id: &str) -> io::Result<OwnedFd> {
    let proc = proc_dir(pid, id)?;
    let ns = rustix::fs::openat(proc.as_fd(), "ns/mnt", OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())?;
    std::thread::scope(|s| {
        s.spawn(move || -> io::Result<OwnedFd> {
            // SAFETY: only CLONE_FS: this thread's root and working directory
            // become its own (setns requires it); no descriptor table is unshared.
            unsafe { rustix::thread::unshare_unsafe(rustix::thread::UnshareFlags::FS) }?;
            rustix::thread::move_into_link_name_space(
                ns.as_fd(),
                Some(rustix::thread::LinkNameSpaceType::Mount),
            )?;
            let root =
                rustix::fs::open("/", OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())?;
            Ok(rustix::mount::open_tree(
                root.as_fd(),
                "",
                OpenTreeFlags::OPEN_TREE_CLONE
                    | OpenTreeFlags::OPEN_TREE_CLOEXEC
                    | OpenTreeFlags::AT_EMPTY_PATH,
            )?)
        })
        .join()
        .unwrap_or_else(|_| Err(io::Error::other("the namespace thread panicked")))
    })
}

/// An overlay of `lower` (top first) and, when given, `upper` and `work`
/// (writable then), as a detached mount. One lower directory and no upper
/// is that directory itself.
pub fn overlay(lower: &[PathBuf], upper_work: Option<(&Path, &Path)>) -> io::Result<OwnedFd> {
    match (lower, upper_work) {
        ([], None) => return Err(io::Error::other("an overlay needs at least one layer")),
        ([only], None) => {
            return Ok(rustix::fs::open(
                only,
                OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
                Mode::empty(),
            )?);
        }
        _ => {}
    }
    let fs = rustix::mount::fsopen("overlay", FsOpenFlags::FSOPEN_CLOEXEC)?;
    configure_lowers(&fs, lower)?;
    if let Some((upper, work)) = upper_work {
        rustix::mount::fsconfig_set_string(fs.as_fd(), "upperdir", upper)?;
        rustix::mount::fsconfig_set_string(fs.as_fd(), "workdir", work)?;
        if Path::new("/sys/module/overlay/parameters/index").exists() {
            rustix::mount::fsconfig_set_string(fs.as_fd(), "index", "off")?;
        }
    }
    rustix::mount::fsconfig_create(fs.as_fd())?;
    let mut attrs = MountAttrFlags::MOUNT_ATTR_NODEV | MountAttrFlags::MOUNT_ATTR_NOSUID;
    if upper_work.is_none() {
        attrs |= MountAttrFlags::MOUNT_ATTR_RDONLY;
    }
    Ok(rustix::mount::fsmount(fs.as_fd(), FsMountFlags::FSMOUNT_CLOEXEC, attrs)?)
}

/// Passes the lower layers: one `lowerdir+` per layer (Linux 6.8), else one
/// `lowerdir` string, through short symlinks when absolute paths do not fit.
fn configure_lowers(fs: &OwnedFd, lower: &[PathBuf]) -> io::Result<()> {
    let mut first = true;
    for l in lower {
        match rustix::mount::fsconfig_set_string(fs.as_fd(), "lowerdir+", l.as_path()) {
            Ok(()) => first = false,
            Err(rustix::io::Errno::INVAL) if first => return legacy_lowers(fs, lower),
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

fn escape(p: &Path) -> Vec<u8> {
    let mut out = Vec::new();
    for &b in p.as_os_str().as_bytes() {
        if matches!(b, b':' | b',' | b'\\') {
            out.push(b'\\');
        }
        out.push(b);
    }
    out
}

fn legacy_lowers(fs: &OwnedFd, lower: &[PathBuf]) -> io::Result<()> {
    let joined = lower.iter().map(|p| escape(p)).collect::<Vec<_>>().join(&b':');
    if joined.len() <= FSCONFIG_MAX {
        let v = CString::new(joined).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
        return Ok(rustix::mount::fsconfig_set_string(fs.as_fd(), "lowerdir", v.as_c_str())?);
    }
    // Too long: short symlinks `0`, `1`, ... in a detached tmpfs, resolved
    // relative to the working directory of a thread that has its own.
    std::thread::scope(|s| {
        s.spawn(|| -> io::Result<()> {
            // SAFETY: only CLONE_FS: this thread's working directory becomes its own.
            unsafe { rustix::thread::unshare_unsafe(rustix::thread::UnshareFlags::FS) }?;
            let tfs = rustix::mount::fsopen("tmpfs", FsOpenFlags::FSOPEN_CLOEXEC)?;
            rustix::mount::fsconfig_create(tfs.as_fd())?;
            let links =
                rustix::mount::fsmount(tfs.as_fd(), FsMountFlags::FSMOUNT_CLOEXEC, MountAttrFlags::empty())?;
            let mut names = Vec::new();
            for (i, l) in lower.iter().enumerate() {
                rustix::fs::symlinkat(l.as_path(), links.as_fd(), i.to_string().as_str())?;
                names.push(i.to_string());
            }
            rustix::process::fchdir(links.as_fd())?;
            let v = names.join(":");
            if v.len() > FSCONFIG_MAX {
                return Err(io::Error::other("too many layers for this kernel's overlay (needs Linux 6.8)"));
            }
            Ok(rustix::mount::fsconfig_set_string(fs.as_fd(), "lowerdir", v.as_str())?)
        })
        .join()
        .unwrap_or_else(|_| Err(io::Error::other("the overlay thread panicked")))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_in(root: &OwnedFd, path: &str) -> std::io::Result<String> {
        let fd = rustix::fs::openat2(
            root.as_fd(),
            path,
            OFlags::RDONLY | OFlags::CLOEXEC,
            Mode::empty(),
            rustix::fs::ResolveFlags::IN_ROOT,
        )?;
        std::io::read_to_string(std::fs::File::from(fd))
    }

    #[test]
    fn detached_overlays_read_and_write() {
        if !rustix::process::geteuid().is_root() {
            return;
        }
        let d = tempfile::tempdir().unwrap();
        let p = |n: &str| d.path().join(n);
        for n in ["l1", "l2", "upper", "work"] {
            std::fs::create_dir(p(n)).unwrap();
        }
        std::fs::write(p("l1/a"), "bottom").unwrap();
        std::fs::write(p("l2/a"), "top").unwrap();
        std::fs::write(p("l1/b"), "b").unwrap();
        let ro = overlay(&[p("l2"), p("l1")], None).unwrap();
        assert_eq!(read_in(&ro, "a").unwrap(), "top");
        assert_eq!(read_in(&ro, "/b").unwrap(), "b");
        let rw = overlay(&[p("l2"), p("l1")], Some((&p("upper"), &p("work")))).unwrap();
        let f = rustix::fs::openat(
            rw.as_fd(),
            "new",
            OFlags::WRONLY | OFlags::CREATE,
            Mode::from_raw_mode(0o644),
        )
        .unwrap();
        std::io::Write::write_all(&mut std::fs::File::from(f), b"written").unwrap();
        drop(rw);
        assert_eq!(std::fs::read_to_string(p("upper/new")).unwrap(), "written");
        // Nothing is left mounted anywhere.
        let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        assert!(!mounts.contains(d.path().to_str().unwrap()));
        // The single-string form, with short links when paths are long.
        let fs = rustix::mount::fsopen("overlay", FsOpenFlags::FSOPEN_CLOEXEC).unwrap();
        let many: Vec<PathBuf> = (0..4).flat_map(|_| [p("l2"), p("l1")]).take(2).collect();
        let long: Vec<PathBuf> = (0..8)
            .map(|i| {
                let q = d.path().join(format!("{}{i}", "x".repeat(60)));
                std::fs::create_dir(&q).unwrap();
                q
            })
            .collect();
        legacy_lowers(&fs, &many).unwrap();
        let fs2 = rustix::mount::fsopen("overlay", FsOpenFlags::FSOPEN_CLOEXEC).unwrap();
        legacy_lowers(&fs2, &long).unwrap();
        rustix::mount::fsconfig_create(fs2.as_fd()).unwrap();
    }
}
