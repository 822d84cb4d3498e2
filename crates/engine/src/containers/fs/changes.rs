//! `docker diff`: what a container's writable layer changed, by Docker's
//! rules for overlay (`archive.OverlayChanges`): the upper directory is
//! walked depth first, names sorted; a 0/0 character device is a deletion
//! (`D`), an opaque directory that hid a lower one is a deletion too (and
//! what it holds is added); anything else is `C` if the image layers have
//! it and `A` if not; a directory whose mode, owner and mtime match the
//! image's is left out unless something below it changed, in which case
//! its parent appears as `C` right before the first change below it.
//!
//! The files Docker keeps in a container's init layer rather than its
//! writable one (`/etc/hostname`, `/etc/hosts`, `/etc/resolv.conf`, the
//! `/dev`, `/proc`, `/sys` mount points, `/.dockerenv`) never show: berth's
//! runtime creates the mount points in the writable layer, and
//! `/.dockerenv` comes from the engine's shared init layer (a lower one).

use std::collections::HashSet;
use std::ffi::{CStr, CString};
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use rustix::fs::{self as rfs, AtFlags, FileType, Mode, OFlags, ResolveFlags};
use rustix::io::Errno;

/// Paths that belong to Docker's init layer, not to the container's changes.
pub const INIT_PATHS: &[&str] =
    &["/.dockerenv", "/dev", "/etc/hostname", "/etc/hosts", "/etc/mtab", "/etc/resolv.conf", "/proc", "/sys"];

/// How a path changed, with Docker's numbers (`Kind` of `/changes`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    Modified = 0,
    Added = 1,
    Deleted = 2,
}

impl ChangeKind {
    /// The letter `docker diff` prints.
    pub fn letter(self) -> char {
        match self {
            ChangeKind::Modified => 'C',
            ChangeKind::Added => 'A',
            ChangeKind::Deleted => 'D',
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub path: String,
    pub kind: ChangeKind,
}

/// Whether `path` (`/etc/hostname`) is one of the [`INIT_PATHS`].
pub fn is_init_path(path: &[u8]) -> bool {
    INIT_PATHS.iter().any(|p| p.as_bytes() == path)
}

struct Frame {
    dir: OwnedFd,
    names: Vec<CString>,
    path: Vec<u8>,
    /// Inside an opaque directory: nothing below hides or changes a lower file.
    opaque: bool,
}

/// The changes of the upper directory `upper` against the image layers
/// merged in `lower`.
pub fn collect(upper: BorrowedFd<'_>, lower: BorrowedFd<'_>) -> io::Result<Vec<Change>> {
    let mut out = Vec::new();
    let mut changed_dirs: HashSet<Vec<u8>> = HashSet::new();
    let top = reopen(upper)?;
    let names = list(&top)?;
    let mut stack = vec![Frame { dir: top, names, path: Vec::new(), opaque: false }];
    while let Some(frame) = stack.last_mut() {
        let Some(name) = frame.names.pop() else {
            stack.pop();
            continue;
        };
        let mut path = frame.path.clone();
        path.push(b'/');
        path.extend_from_slice(name.as_bytes());
        if is_init_path(&path) {
            continue;
        }
        let st = match rfs::statat(frame.dir.as_fd(), &name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => st,
            Err(Errno::NOENT) => continue,
            Err(e) => return Err(e.into()),
        };
        let ft = FileType::from_raw_mode(st.st_mode);
        let in_opaque = frame.opaque;
        let mut dir_fd = None;
        let mut opaque_here = false;
        if ft == FileType::Directory {
            let fd = match rfs::openat(
                frame.dir.as_fd(),
                &name,
                OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::empty(),
            ) {
                Ok(fd) => fd,
                // Gone or replaced while a running container changes it.
                Err(Errno::NOENT | Errno::NOTDIR | Errno::LOOP) => continue,
                Err(e) => return Err(e.into()),
            };
            let mut v = [0u8; 4];
            opaque_here =
                matches!(rfs::fgetxattr(&fd, c"trusted.overlay.opaque", &mut v), Ok(1)) && v[0] == b'y';
            dir_fd = Some(fd);
        }
        let lower_st = if in_opaque { None } else { lower_stat(lower, &path)? };
        let whiteout = ft == FileType::CharacterDevice && st.st_rdev == 0;
        let kind = if whiteout || (opaque_here && lower_st.is_some()) {
            Some(ChangeKind::Deleted)
        } else if let Some(l) = &lower_st {
            let same_dir = ft == FileType::Directory
                && FileType::from_raw_mode(l.st_mode) == FileType::Directory
                && st.st_mode == l.st_mode
                && st.st_uid == l.st_uid
                && st.st_gid == l.st_gid;
            if same_dir
                && (same_time(&st, l) || only_init_paths(dir_fd.as_ref().expect("a directory"), &path)?)
            {
                None
            } else {
                Some(ChangeKind::Modified)
            }
        } else {
            Some(ChangeKind::Added)
        };
        if let Some(kind) = kind {
            if ft == FileType::Directory {
                changed_dirs.insert(path.clone());
            }
            if kind != ChangeKind::Modified {
                let parent = &path[..path.iter().rposition(|&b| b == b'/').unwrap_or(0)];
                if !parent.is_empty() && changed_dirs.insert(parent.to_vec()) {
                    out.push(Change { path: lossy(parent), kind: ChangeKind::Modified });
                }
            }
            out.push(Change { path: lossy(&path), kind });
        }
        if let Some(fd) = dir_fd {
            if stack.len() >= image::layer::pack::MAX_DEPTH {
                return Err(io::Error::other("the container's directories nest too deep"));
            }
            let names = list(&fd)?;
            stack.push(Frame { dir: fd, names, path, opaque: in_opaque || opaque_here });
        }
    }
    Ok(out)
}

/// Docker's `sameFsTime`: equal seconds, and nanoseconds equal unless
/// either side has none.
fn same_time(a: &rfs::Stat, b: &rfs::Stat) -> bool {
    a.st_mtime == b.st_mtime
        && (a.st_mtime_nsec == 0 || b.st_mtime_nsec == 0 || a.st_mtime_nsec == b.st_mtime_nsec)
}

/// Whether a directory holds nothing but init-layer mount points (its
/// mtime changed only because the runtime created them).
fn only_init_paths(dir: &OwnedFd, path: &[u8]) -> io::Result<bool> {
    let names = list(dir)?;
    Ok(!names.is_empty()
        && names.iter().all(|n| {
            let mut p = path.to_vec();
            p.push(b'/');
            p.extend_from_slice(n.as_bytes());
            is_init_path(&p)
        }))
}

/// The node at `path` in the merged image layers, without following any
/// symlink on the way (a path the upper layer has as a directory is one).
fn lower_stat(lower: BorrowedFd<'_>, path: &[u8]) -> io::Result<Option<rfs::Stat>> {
    let rel = &path[1..];
    let (parent, base) = match rel.iter().rposition(|&b| b == b'/') {
        Some(i) => (&rel[..i], &rel[i + 1..]),
        None => (&rel[..0], rel),
    };
    let pfd = if parent.is_empty() {
        None
    } else {
        match rfs::openat2(
            lower,
            parent,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
            ResolveFlags::IN_ROOT | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS,
        ) {
            Ok(fd) => Some(fd),
            Err(Errno::NOENT | Errno::NOTDIR | Errno::LOOP) => return Ok(None),
            Err(e) => return Err(e.into()),
        }
    };
    let dir = pfd.as_ref().map_or(lower, |f| f.as_fd());
    match rfs::statat(dir, base, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(st) => Ok(Some(st)),
        Err(Errno::NOENT | Errno::NOTDIR) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

fn reopen(dir: BorrowedFd<'_>) -> io::Result<OwnedFd> {
    Ok(rfs::openat(dir, c".", OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())?)
}

/// Names in a directory, sorted bytewise, last first.
fn list(dir: &OwnedFd) -> io::Result<Vec<CString>> {
    let mut d = rfs::Dir::new(reopen(dir.as_fd())?)?;
    let mut names = Vec::new();
    while let Some(ent) = d.read() {
        let ent = ent?;
        let n: &CStr = ent.file_name();
        if n != c"." && n != c".." {
            names.push(n.to_owned());
        }
    }
    names.sort_by(|a, b| b.as_bytes().cmp(a.as_bytes()));
    Ok(names)
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn open(p: &Path) -> OwnedFd {
        rfs::open(p, OFlags::RDONLY | OFlags::DIRECTORY, Mode::empty()).unwrap()
    }

    fn diff(upper: &Path, lower: &Path) -> Vec<String> {
        let l = open(lower);
        collect(open(upper).as_fd(), l.as_fd())
            .unwrap()
            .into_iter()
            .map(|c| format!("{} {}", c.kind.letter(), c.path))
            .collect()
    }

    fn set_mtime(p: &Path, secs: i64) {
        let t = rfs::Timespec { tv_sec: secs, tv_nsec: 0 };
        rfs::utimensat(
            rfs::CWD,
            p,
            &rfs::Timestamps { last_access: t, last_modification: t },
            AtFlags::empty(),
        )
        .unwrap();
    }

    #[test]
    fn added_changed_deleted_in_docker_order() {
        if !rustix::process::geteuid().is_root() {
            return; // whiteouts are device nodes
        }
        let d = tempfile::tempdir().unwrap();
        let (lower, upper) = (d.path().join("lower"), d.path().join("upper"));
        for p in ["etc", "tmp", "bin"] {
            std::fs::create_dir_all(lower.join(p)).unwrap();
        }
        std::fs::write(lower.join("etc/passwd"), b"root").unwrap();
        std::fs::write(lower.join("bin/old"), b"x").unwrap();
        // A new file in /tmp, a changed /etc/passwd, /bin/old deleted, a
        // new tree, and the runtime's mount point in /etc.
        for p in ["etc", "tmp", "bin", "newdir/sub"] {
            std::fs::create_dir_all(upper.join(p)).unwrap();
        }
        std::fs::write(upper.join("tmp/new"), b"n").unwrap();
        std::fs::write(upper.join("etc/passwd"), b"root2").unwrap();
        std::fs::write(upper.join("etc/hostname"), b"").unwrap();
        rfs::mknodat(open(&upper.join("bin")).as_fd(), "old", FileType::CharacterDevice, Mode::empty(), 0)
            .unwrap();
        for p in ["etc", "tmp", "bin"] {
            set_mtime(&lower.join(p), 1_000_000);
            set_mtime(&upper.join(p), 2_000_000);
        }
        assert_eq!(
            diff(&upper, &lower),
            [
                "C /bin",
                "D /bin/old",
                "C /etc",
                "C /etc/passwd",
                "A /newdir",
                "A /newdir/sub",
                "C /tmp",
                "A /tmp/new"
            ]
        );
    }

    #[test]
    fn mount_points_and_untouched_directories_do_not_show() {
        let d = tempfile::tempdir().unwrap();
        let (lower, upper) = (d.path().join("lower"), d.path().join("upper"));
        for p in ["etc", "usr/lib"] {
            std::fs::create_dir_all(lower.join(p)).unwrap();
            std::fs::create_dir_all(upper.join(p)).unwrap();
        }
        std::fs::write(upper.join("etc/hostname"), b"").unwrap();
        std::fs::write(upper.join("etc/resolv.conf"), b"").unwrap();
        std::fs::create_dir_all(upper.join("proc")).unwrap();
        std::fs::write(upper.join("usr/lib/new.so"), b"").unwrap();
        set_mtime(&lower.join("etc"), 1_000_000);
        set_mtime(&upper.join("etc"), 2_000_000);
        // /usr: same metadata as the image's; its child changed, so it shows as C.
        set_mtime(&lower.join("usr"), 1_000_000);
        set_mtime(&upper.join("usr"), 1_000_000);
        set_mtime(&lower.join("usr/lib"), 1_000_000);
        set_mtime(&upper.join("usr/lib"), 3_000_000);
        assert_eq!(diff(&upper, &lower), ["C /usr/lib", "A /usr/lib/new.so"]);
    }
}
