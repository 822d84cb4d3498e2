//! A container's files: `docker cp` both ways (`/containers/{id}/archive`),
//! `docker diff`, `docker commit` and `docker export`.
//!
//! Paths inside a container are hostile input: the container chose its
//! symlinks. Every path is resolved under a descriptor of the container's
//! root with `RESOLVE_IN_ROOT` (see [`view`] for where the root comes
//! from), trees are walked through directory descriptors with
//! `O_NOFOLLOW`, and archives are extracted with
//! [`image::layer::unpack`], which resolves every entry the same way. So a
//! symlink to `/` or `../..` in a container means the container's root,
//! never the host's.

mod changes;
mod view;

use std::collections::{BTreeMap, HashMap};
use std::ffi::CString;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use rustix::fs::{self as rfs, AtFlags, FileType, Mode, OFlags, ResolveFlags};
use rustix::io::Errno;
use serde_json::{Map, Value};

pub use changes::{Change, ChangeKind, INIT_PATHS};

use super::{Container, Status};
use crate::{Engine, Error, Result};

/// What Docker reports about a path in a container (`ContainerPathStat`,
/// sent base64-encoded in `X-Docker-Container-Path-Stat`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathStat {
    /// The last element of the path as asked (`/` for the root).
    pub name: String,
    pub size: i64,
    /// A Go `os.FileMode`: permission bits plus Go's type and special bits.
    pub mode: u32,
    /// RFC 3339 with nanoseconds, as Go's `time.Time` marshals.
    pub mtime: String,
    /// For a symlink, where it finally leads inside the container.
    pub link_target: String,
}

/// How `PUT /containers/{id}/archive` extracts.
#[derive(Debug, Clone, Copy, Default)]
pub struct ExtractOptions {
    /// Refuse to replace a directory with a non-directory and the other way round.
    pub no_overwrite_dir_non_dir: bool,
    /// `docker cp -a`: files belong to the container's user, when it has one.
    pub copy_uid_gid: bool,
}

/// What `POST /commit` asks for.
#[derive(Debug, Clone, Default)]
pub struct CommitRequest {
    pub container: String,
    /// Repository (`docker.io/library/x` or `x`) and tag; both empty: untagged.
    pub repo: String,
    pub tag: String,
    pub author: String,
    pub comment: String,
    /// `--change` Dockerfile instructions.
    pub changes: Vec<String>,
    /// Freeze the container while its changes are read (Docker's default).
    pub pause: bool,
    /// A config to start from instead of the container's (the request body).
    pub config: Option<Value>,
}

/// A resolved `GET /containers/{id}/archive`, ready to be written.
#[derive(Debug)]
pub struct Archive {
    pub stat: PathStat,
    /// Keeps the view (for a stopped container, its overlay mount) alive,
    /// and a stopped container from starting meanwhile.
    _root: OwnedFd,
    _guard: Option<FsGuard>,
    target: Target,
    /// The name of the top entry (`hostname`, `apk`, `.`).
    archive_name: Vec<u8>,
}

/// A resolved `GET /containers/{id}/export`.
#[derive(Debug)]
pub struct Export {
    root: OwnedFd,
    _guard: Option<FsGuard>,
}

/// A container's file-system lock, held (see [`FsLocks`]); taken with
/// [`Engine::lock_container_fs`] and handed to the operation that needs it.
#[derive(Debug)]
pub struct FsGuard {
    id: String,
    _held: tokio::sync::OwnedMutexGuard<()>,
}

impl FsGuard {
    /// Refuses a guard taken for another container (a programming error
    /// the type cannot rule out).
    fn check(&self, c: &Container) -> Result<()> {
        if self.id == c.id {
            Ok(())
        } else {
            Err(Error::Internal(format!("file-system lock of {} used for {}", self.id, c.id)))
        }
    }
}

/// A path found for reading: its container, the view it was found in
/// (with the lock for a stopped one), the node, its stat and the name of
/// its top entry in an archive.
struct Located {
    c: Container,
    root: OwnedFd,
    guard: Option<FsGuard>,
    target: Target,
    stat: PathStat,
    archive_name: Vec<u8>,
}

/// Where a path led: the node `name` in a directory, or a directory itself
/// (the root, or a path ending in `/` or `/.`).
#[derive(Debug)]
enum Target {
    Child(OwnedFd, CString),
    Dir(OwnedFd),
}

/// Per-container locks over its writable layer: starts, commits, and copies
/// and exports that mount a stopped container's layer take them, so the
/// layer is never mounted twice (a copy's overlay and the starting
/// container's).
#[derive(Debug, Default)]
pub struct FsLocks(Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>);

impl FsLocks {
    pub(crate) fn get(&self, id: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut all = self.0.lock().expect("fs locks poisoned");
        all.retain(|_, l| Arc::strong_count(l) > 1);
        all.entry(id.to_string()).or_default().clone()
    }
}

/// The bind mount of `c` whose destination holds `path` (the deepest one).
fn innermost_bind(c: &Container, path: &[u8]) -> Option<super::config::MountPoint> {
    c.host_config
        .mount_points()
        .into_iter()
        .filter(|m| m.kind == "bind")
        .filter(|m| {
            let d = m.destination.trim_end_matches('/').as_bytes();
            path == d || (path.starts_with(d) && path.get(d.len()) == Some(&b'/'))
        })
        .max_by_key(|m| m.destination.len())
}

/// The files `bundle::write_etc_files` writes, bind-mounted over these paths.
const ETC_FILES: &[(&str, &str)] =
    &[("/etc/hostname", "hostname"), ("/etc/hosts", "hosts"), ("/etc/resolv.conf", "resolv.conf")];

fn internal(what: &str, e: impl std::fmt::Display) -> Error {
    Error::Internal(format!("{what}: {e}"))
}

fn not_found(path: &str, container: &str) -> Error {
    Error::NotFound(format!("Could not find the file {path} in container {container}"))
}

/// `openat2` confined to `root`.
fn open_in_root(
    root: BorrowedFd<'_>,
    path: &[u8],
    flags: OFlags,
    resolve: ResolveFlags,
) -> rustix::io::Result<OwnedFd> {
    let path = if path.is_empty() { &b"."[..] } else { path };
    let mut tries = 0;
    loop {
        match rfs::openat2(
            root,
            path,
            flags | OFlags::CLOEXEC,
            Mode::empty(),
            resolve | ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
        ) {
            Err(Errno::AGAIN) if tries < 16 => tries += 1,
            r => return r,
        }
    }
}

/// A path as Go's `filepath.Join("/", p)` cleans it (`..` lexically), and
/// whether it asked for a directory's contents (`/.`) or the directory a
/// final symlink leads to (a trailing `/`).
#[derive(Debug, PartialEq)]
struct Cleaned {
    /// `/a/b`, `/` for the root.
    path: Vec<u8>,
    dot: bool,
    slash: bool,
}

fn clean(raw: &str) -> Cleaned {
    let b = raw.as_bytes();
    let dot = b == b"." || b.ends_with(b"/.");
    let slash = !dot && b.len() > 1 && b.ends_with(b"/");
    let mut parts: Vec<&[u8]> = Vec::new();
    for c in b.split(|&x| x == b'/') {
        match c {
            b"" | b"." => {}
            b".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    let mut path = Vec::new();
    for p in &parts {
        path.push(b'/');
        path.extend_from_slice(p);
    }
    if path.is_empty() {
        path.push(b'/');
    }
    Cleaned { path, dot, slash }
}

/// Resolves `path` (absolute, cleaned) inside `root` the way Docker's
/// `FollowSymlinkInScope` does: symlinks on the way are followed within
/// the root, the last one too when `follow_last`. Returns the canonical
/// path and whether it exists; a missing component ends the walk, the rest
/// is appended as written.
fn canonical(root: BorrowedFd<'_>, path: &[u8], follow_last: bool) -> io::Result<(Vec<u8>, bool)> {
    let mut todo: std::collections::VecDeque<Vec<u8>> =
        path.split(|&b| b == b'/').filter(|c| !c.is_empty() && *c != b".").map(<[u8]>::to_vec).collect();
    let mut out: Vec<Vec<u8>> = Vec::new();
    let mut links = 0;
    let join = |parts: &[Vec<u8>]| -> Vec<u8> {
        let mut p = Vec::new();
        for c in parts {
            p.push(b'/');
            p.extend_from_slice(c);
        }
        p
    };
    while let Some(c) = todo.pop_front() {
        if c == b".." {
            out.pop();
            continue;
        }
        let parent = join(&out);
        let pfd =
            match open_in_root(root, &parent, OFlags::PATH | OFlags::DIRECTORY, ResolveFlags::NO_SYMLINKS) {
                Ok(fd) => fd,
                Err(Errno::NOENT | Errno::NOTDIR) => {
                    out.push(c);
                    out.extend(todo);
                    return Ok((join(&out), false));
                }
                Err(e) => return Err(e.into()),
            };
        let st = match rfs::statat(&pfd, c.as_slice(), AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => st,
            Err(Errno::NOENT | Errno::NOTDIR) => {
                out.push(c);
                out.extend(todo);
                return Ok((join(&out), false));
            }
            Err(e) => return Err(e.into()),
        };
        if FileType::from_raw_mode(st.st_mode) == FileType::Symlink && (!todo.is_empty() || follow_last) {
            links += 1;
            if links > 40 {
                return Err(Errno::LOOP.into());
            }
            let target = rfs::readlinkat(&pfd, c.as_slice(), Vec::new())?;
            let t = target.as_bytes();
            if t.starts_with(b"/") {
                out.clear();
            }
            for part in t.split(|&b| b == b'/').rev() {
                if !part.is_empty() && part != b"." {
                    todo.push_front(part.to_vec());
                }
            }
            continue;
        }
        out.push(c);
    }
    let p = join(&out);
    Ok((if p.is_empty() { b"/".to_vec() } else { p }, true))
}

/// A Go `os.FileMode` from a `st_mode`.
pub fn go_file_mode(st_mode: u32) -> u32 {
    let mut m = st_mode & 0o777;
    m |= match FileType::from_raw_mode(st_mode) {
        FileType::Directory => 1 << 31,
        FileType::Symlink => 1 << 27,
        FileType::BlockDevice => 1 << 26,
        FileType::CharacterDevice => (1 << 26) | (1 << 21),
        FileType::Fifo => 1 << 25,
        FileType::Socket => 1 << 24,
        _ => 0,
    };
    if st_mode & 0o4000 != 0 {
        m |= 1 << 23;
    }
    if st_mode & 0o2000 != 0 {
        m |= 1 << 22;
    }
    if st_mode & 0o1000 != 0 {
        m |= 1 << 20;
    }
    m
}

/// Go's `time.Time` JSON form (RFC 3339, nanoseconds without trailing zeros).
pub fn go_time(secs: i64, nanos: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp(secs).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let base = t
        .format(time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]"))
        .expect("formattable");
    if nanos <= 0 {
        return format!("{base}Z");
    }
    let frac = format!("{nanos:09}");
    format!("{base}.{}Z", frac.trim_end_matches('0'))
}

/// Base name as Go's `filepath.Base` gives it for the path as asked.
fn base_name(raw: &str) -> String {
    let t = raw.trim_end_matches('/');
    if t.is_empty() {
        return "/".into();
    }
    t.rsplit('/').next().unwrap_or(t).to_string()
}

impl Engine {
    /// Takes the file-system lock of container `name`, waiting without
    /// holding a thread; file operations and `commit` need it.
    pub async fn lock_container_fs(&self, name: &str) -> Result<FsGuard> {
        let id = self.container(name)?.id;
        let held = self.fs_locks.get(&id).lock_owned().await;
        Ok(FsGuard { id, _held: held })
    }

    /// The container's root for reading: a running container as it sees
    /// itself, a stopped one as its layers merged (read-only). For a stopped
    /// one also the lock that keeps it from starting while the view (its
    /// writable layer mounted as a lower one) is in use.
    fn read_view(&self, c: &Container, guard: FsGuard) -> Result<(OwnedFd, bool, Option<FsGuard>)> {
        guard.check(c)?;
        let c = &self.container(&c.id)?;
        if let Some(fd) = self.running_root(c, view::running)? {
            return Ok((fd, true, None));
        }
        let mut lower = vec![self.container_dir(&c.id).join("upper")];
        lower.extend(self.layers_top_first(c)?);
        let fd =
            view::overlay(&lower, None).map_err(|e| internal("mounting the container's file system", e))?;
        Ok((fd, false, Some(guard)))
    }

    /// The container's root for writing: a running container's own, a
    /// stopped one's overlay with its writable layer on top.
    /// Also says whether the view is the running container's.
    fn write_view(&self, c: &Container) -> Result<(OwnedFd, bool)> {
        if let Some(fd) = self.running_root(c, view::running)? {
            return Ok((fd, true));
        }
        let dir = self.container_dir(&c.id);
        let (upper, work) = (dir.join("upper"), dir.join("work"));
        std::fs::create_dir_all(&work).map_err(|e| internal("preparing the container's file system", e))?;
        let lower = self.layers_top_first(c)?;
        let fd = view::overlay(&lower, Some((&upper, &work)))
            .map_err(|e| internal("mounting the container's file system", e))?;
        Ok((fd, false))
    }

    /// `open` of a running container's root (`None` when it is not
    /// running, or stopped meanwhile, after which its layers are the view).
    fn running_root(
        &self,
        c: &Container,
        open: fn(u32, &str) -> io::Result<OwnedFd>,
    ) -> Result<Option<OwnedFd>> {
        if !c.state.status.is_active() || c.state.pid == 0 {
            return Ok(None);
        }
        match open(c.state.pid, &c.id) {
            Ok(fd) => Ok(Some(fd)),
            Err(e) => match self.container(&c.id) {
                Ok(now) if !now.state.status.is_active() || now.state.pid != c.state.pid => Ok(None),
                _ => Err(internal("opening the container's root", e)),
            },
        }
    }

    /// For a stopped container, the bind mount that `path` (clean,
    /// absolute) lies in, as a root for the rest of the path, that rest, and
    /// the bind's destination: Docker mounts a stopped container's volumes
    /// for `cp`. A path that reaches a bind only through a symlink in the
    /// image (`/link` → `/data`) is resolved in `view` first, with its last
    /// component followed when `follow_last`.
    fn stopped_bind(
        &self,
        c: &Container,
        view: BorrowedFd<'_>,
        path: &[u8],
        follow_last: bool,
    ) -> Result<Option<(OwnedFd, Vec<u8>, String)>> {
        let (m, path) = match innermost_bind(c, path) {
            Some(m) => (m, path.to_vec()),
            None => {
                let (canon, _) = canonical(view, path, follow_last)
                    .map_err(|e| internal(&format!("resolving {}", String::from_utf8_lossy(path)), e))?;
                match innermost_bind(c, &canon) {
                    Some(m) => (m, canon),
                    None => return Ok(None),
                }
            }
        };
        let rest = &path[m.destination.trim_end_matches('/').len()..];
        // Followed as the mount follows it (`-v /etc/localtime:…` is
        // usually a symlink on the host); the administrator chose it.
        let source = std::fs::canonicalize(&m.source)
            .map_err(|e| internal(&format!("resolving bind source {}", m.source), e))?;
        let source = source.as_path();
        let open = |dir: &std::path::Path| {
            rfs::open(dir, OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())
                .map_err(|e| internal(&format!("opening bind source {}", dir.display()), io::Error::from(e)))
        };
        if source.is_dir() {
            let rest = if rest.is_empty() { b"/".to_vec() } else { rest.to_vec() };
            return Ok(Some((open(source)?, rest, m.destination)));
        }
        // A bound file: found in its directory, under its own name.
        match (source.parent(), source.file_name()) {
            (Some(dir), Some(file)) if rest.is_empty() => {
                let mut rest = b"/".to_vec();
                rest.extend_from_slice(std::os::unix::ffi::OsStrExt::as_bytes(file));
                Ok(Some((open(dir)?, rest, m.destination)))
            }
            _ => Ok(None),
        }
    }

    /// The read-only layers of a container's filesystem, topmost first: the
    /// shared init layer, then the image's.
    pub fn layers_top_first(&self, c: &Container) -> Result<Vec<PathBuf>> {
        let img = self.resolve_image(&c.image)?;
        let mut dirs = self.images.layer_dirs(&img)?;
        dirs.push(self.init_layer.clone());
        dirs.reverse();
        Ok(dirs)
    }

    /// Finds `path` for reading in container `name` (as the client named it).
    fn locate(&self, name: &str, path: &str, guard: FsGuard) -> Result<Located> {
        let c = self.container(name)?;
        let (mut root, live, guard) = self.read_view(&c, guard)?;
        let cl = clean(path);
        // Where to look under `root`: the path, or its rest in a bind's source.
        let mut at = cl.path.clone();
        let mut bind_destination = None;
        if !live
            && let Some((bind_root, rest, destination)) =
                self.stopped_bind(&c, root.as_fd(), &cl.path, cl.dot || cl.slash)?
        {
            (root, at, bind_destination) = (bind_root, rest, Some(destination));
        }
        let in_bind = bind_destination.is_some();
        let as_asked = if path.starts_with('/') { path.to_string() } else { format!("/{path}") };
        let io_err = |e: Errno| match e {
            Errno::NOENT => not_found(path, name),
            Errno::NOTDIR => Error::InvalidArgument(format!("lstat {as_asked}: not a directory")),
            e => internal(&format!("lstat {as_asked}"), io::Error::from(e)),
        };
        let rel = &at[1..];
        let (target, st) = if at == b"/" || cl.dot || cl.slash {
            let fd = open_in_root(root.as_fd(), rel, OFlags::PATH | OFlags::DIRECTORY, ResolveFlags::empty())
                .map_err(io_err)?;
            let st = rfs::fstat(&fd).map_err(io_err)?;
            (Target::Dir(fd), st)
        } else {
            let (parent, base) = rel.split_at(rel.iter().rposition(|&b| b == b'/').map_or(0, |i| i + 1));
            let parent = parent.strip_suffix(b"/").unwrap_or(parent);
            let pfd =
                open_in_root(root.as_fd(), parent, OFlags::PATH | OFlags::DIRECTORY, ResolveFlags::empty())
                    .map_err(io_err)?;
            let st = rfs::statat(&pfd, base, AtFlags::SYMLINK_NOFOLLOW).map_err(io_err)?;
            let name = CString::new(base).map_err(|_| not_found(path, name))?;
            (Target::Child(pfd, name), st)
        };
        // A stopped container's /etc/hostname, hosts and resolv.conf are the
        // files its runs get bind-mounted, as Docker mounts them for cp too.
        let (target, st) = match (&target, live || in_bind) {
            (Target::Child(..), false) => {
                let (canon, _) = canonical(root.as_fd(), &cl.path, false)
                    .map_err(|e| internal(&format!("resolving {as_asked}"), e))?;
                match ETC_FILES.iter().find(|(p, _)| p.as_bytes() == canon.as_slice()) {
                    Some((_, file)) => {
                        let dir = self.container_dir(&c.id);
                        match (
                            rfs::open(
                                &dir,
                                OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
                                Mode::empty(),
                            ),
                            rfs::lstat(dir.join(file)),
                        ) {
                            (Ok(dfd), Ok(st)) => {
                                (Target::Child(dfd, CString::new(*file).expect("no NUL")), st)
                            }
                            _ => (target, st),
                        }
                    }
                    None => (target, st),
                }
            }
            _ => (target, st),
        };
        let link_target = if FileType::from_raw_mode(st.st_mode) == FileType::Symlink {
            let (mut t, _) = canonical(root.as_fd(), &at, true)
                .map_err(|e| internal(&format!("resolving {as_asked}"), e))?;
            if let Some(destination) = &bind_destination {
                // Resolved within the bind's source: back to a container path.
                let mut full = destination.trim_end_matches('/').as_bytes().to_vec();
                full.extend_from_slice(if t == b"/" { b"" } else { &t });
                t = full;
            }
            String::from_utf8_lossy(&t).into_owned()
        } else {
            String::new()
        };
        let name_asked = base_name(&as_asked);
        let stat = PathStat {
            name: name_asked.clone(),
            size: st.st_size,
            mode: go_file_mode(st.st_mode),
            mtime: go_time(st.st_mtime, st.st_mtime_nsec as i64),
            link_target,
        };
        // The root's contents come as `./…`, as for `dir/.`.
        let archive_name = if cl.dot || cl.path == b"/" { b".".to_vec() } else { name_asked.into_bytes() };
        Ok(Located { c, root, guard, target, stat, archive_name })
    }

    /// `HEAD /containers/{id}/archive`.
    pub fn stat_container_path(&self, name: &str, path: &str, guard: FsGuard) -> Result<PathStat> {
        Ok(self.locate(name, path, guard)?.stat)
    }

    /// `GET /containers/{id}/archive`: the path's stat, and its tar to write.
    pub fn archive_container_path(&self, name: &str, path: &str, guard: FsGuard) -> Result<Archive> {
        let Located { c, root, guard, target, stat, archive_name } = self.locate(name, path, guard)?;
        let mut attrs = BTreeMap::new();
        attrs.insert("path".to_string(), path.to_string());
        self.container_event("archive-path", &c, attrs);
        Ok(Archive { stat, _root: root, _guard: guard, target, archive_name })
    }

    /// `PUT /containers/{id}/archive`: extracts a tar into the directory
    /// `path`. Reads `content` to its end even when failing, so the client
    /// sees the answer rather than a broken pipe.
    pub fn extract_to_container(
        &self,
        name: &str,
        path: &str,
        content: &mut (dyn Read + Send),
        opts: ExtractOptions,
        guard: FsGuard,
    ) -> Result<()> {
        let result = self.extract(name, path, content, opts, &guard);
        if result.is_err() {
            let _ = io::copy(content, &mut io::sink());
        }
        result
    }

    fn extract(
        &self,
        name: &str,
        path: &str,
        content: &mut (dyn Read + Send),
        opts: ExtractOptions,
        guard: &FsGuard,
    ) -> Result<()> {
        let c = self.container(name)?;
        guard.check(&c)?;
        let (view, live) = self.write_view(&c)?;
        let cl = clean(path);
        let (mut root, mut at) = (None, cl.path.clone());
        if !live
            && let Some((bind_root, rest, destination)) =
                self.stopped_bind(&c, view.as_fd(), &cl.path, true)?
        {
            self.check_writable(&c, destination.as_bytes())?;
            (root, at) = (Some(bind_root), rest);
        }
        let root = root.as_ref().unwrap_or(&view);
        let (dest, exists) =
            canonical(root.as_fd(), &at, true).map_err(|e| internal(&format!("resolving {path}"), e))?;
        if !exists {
            return Err(not_found(path, name));
        }
        let fd =
            open_in_root(root.as_fd(), &dest[1..], OFlags::PATH, ResolveFlags::NO_SYMLINKS).map_err(|e| {
                match e {
                    Errno::NOENT => not_found(path, name),
                    e => internal(&format!("opening {path}"), io::Error::from(e)),
                }
            })?;
        let st = rfs::fstat(&fd).map_err(|e| internal(&format!("stat {path}"), io::Error::from(e)))?;
        if FileType::from_raw_mode(st.st_mode) != FileType::Directory {
            return Err(Error::InvalidArgument("extraction point is not a directory".into()));
        }
        if at == cl.path {
            self.check_writable(&c, &dest)?;
        }
        let owner = if opts.copy_uid_gid && !c.config.user.is_empty() {
            // Users are the container's, whatever the files go into.
            let via = PathBuf::from(format!("/proc/self/fd/{}", view.as_raw_fd()));
            let u = runtime::resolve_user(&via, &c.config.user, &[])
                .map_err(|e| Error::InvalidArgument(format!("looking up user {}: {e}", c.config.user)))?;
            image::layer::Owner::Fixed(u.uid, u.gid)
        } else {
            image::layer::Owner::Header
        };
        let (_, tar) = image::layer::decompress(io::BufReader::with_capacity(256 << 10, content))
            .map_err(|e| Error::InvalidArgument(format!("reading the archive: {e}")))?;
        let unpack_opts = image::layer::UnpackOptions {
            dest: dest[1..].to_vec(),
            whiteouts: false,
            no_overwrite_dir_non_dir: opts.no_overwrite_dir_non_dir,
            owner,
            rebase: None,
        };
        image::layer::unpack(tar, root.as_fd(), unpack_opts).map_err(|e| match e {
            image::layer::LayerError::Io { .. } => Error::Internal(e.to_string()),
            e => Error::InvalidArgument(e.to_string()),
        })?;
        let mut attrs = BTreeMap::new();
        attrs.insert("path".to_string(), path.to_string());
        self.container_event("extract-to-dir", &c, attrs);
        Ok(())
    }

    /// A container with a read-only root takes files only into its
    /// read-write bind mounts, as Docker's volumes.
    fn check_writable(&self, c: &Container, dest: &[u8]) -> Result<()> {
        if let Some(m) = innermost_bind(c, dest) {
            if !m.rw {
                return Err(Error::InvalidArgument("mounted volume is marked read-only".into()));
            }
            return Ok(());
        }
        if c.host_config.readonly_rootfs {
            return Err(Error::InvalidArgument("container rootfs is marked read-only".into()));
        }
        Ok(())
    }

    /// `GET /containers/{id}/changes`.
    /// `SizeRw` and `SizeRootFs` (`ps -s`, `inspect -s`): the bytes of the
    /// files in the container's writable layer (each hard-linked file once),
    /// and those plus the image's.
    pub fn container_size(&self, c: &Container) -> (i64, i64) {
        fn walk(dir: &std::path::Path, seen: &mut std::collections::HashSet<(u64, u64)>) -> u64 {
            use std::os::unix::fs::MetadataExt;
            let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
            let mut total = 0;
            for entry in entries.flatten() {
                // Not followed: a symlink counts as itself.
                let Ok(meta) = entry.path().symlink_metadata() else { continue };
                if meta.is_dir() {
                    total += walk(&entry.path(), seen);
                } else if (meta.is_file() || meta.is_symlink()) && seen.insert((meta.dev(), meta.ino())) {
                    total += meta.len();
                }
            }
            total
        }
        let rw = walk(&self.container_dir(&c.id).join("upper"), &mut Default::default()) as i64;
        let image = self.resolve_image(&c.image).map(|i| i.record.size as i64).unwrap_or(0);
        (rw, rw + image)
    }

    pub fn container_changes(&self, name: &str) -> Result<Vec<Change>> {
        let c = self.container(name)?;
        let upper_path = self.container_dir(&c.id).join("upper");
        let upper =
            rfs::open(&upper_path, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())
                .map_err(|e| internal(&format!("opening {}", upper_path.display()), io::Error::from(e)))?;
        let lower = view::overlay(&self.layers_top_first(&c)?, None)
            .map_err(|e| internal("mounting the image's layers", e))?;
        changes::collect(upper.as_fd(), lower.as_fd())
            .map_err(|e| internal("reading the container's changes", e))
    }

    /// `GET /containers/{id}/export`: the container's root file system.
    pub fn export_container(&self, name: &str, guard: FsGuard) -> Result<Export> {
        let c = self.container(name)?;
        let (root, guard) = match self.running_root(&c, view::running_rootfs)? {
            Some(fd) => (fd, None),
            None => {
                let (fd, _, guard) = self.read_view(&c, guard)?;
                (fd, guard)
            }
        };
        self.container_event("export", &c, BTreeMap::new());
        Ok(Export { root, _guard: guard })
    }

    /// `POST /commit`: the container's changes as a new image on top of its
    /// image. Returns the new image's ID.
    pub async fn commit_container(self: &Arc<Self>, req: CommitRequest) -> Result<String> {
        let c = self.container(&req.container)?;
        let tag = match (req.repo.as_str(), req.tag.as_str()) {
            ("", "") => None,
            ("", _) => return Err(Error::InvalidArgument("tag without a repository name".into())),
            (r, t) => {
                let r = reference::Reference::parse_normalized(r)?;
                if r.digest().is_some() {
                    return Err(Error::InvalidArgument(
                        "refusing to create a tag with a digest reference".into(),
                    ));
                }
                Some(if t.is_empty() { r.with_default_tag() } else { r.with_tag(t)? }.to_string())
            }
        };
        let config = commit_config(&c, req.config.as_ref(), &req.changes)?;
        let img = self.resolve_image(&c.image)?;
        let info = image::config::CommitInfo {
            config,
            author: req.author.clone(),
            comment: req.comment.clone(),
            created_by: c.config.cmd.clone().unwrap_or_default().join(" "),
        };
        // Paused as `docker pause` does it (state and events included), so
        // nothing writes to the layer while it is read.
        let paused = req.pause && c.state.status == Status::Running && c.state.pid != 0;
        if paused {
            self.pause_container(&c.id).await?;
        }
        let engine = self.clone();
        let id = c.id.clone();
        let tag2 = tag.clone();
        let guard = self.lock_container_fs(&c.id).await?;
        let result = tokio::task::spawn_blocking(move || {
            engine.commit_blocking(&id, &img, &info, tag2.as_deref(), &guard)
        })
        .await
        .map_err(|e| Error::Internal(e.to_string()));
        if paused && let Err(e) = self.unpause_container(&c.id).await {
            tracing::warn!(id = %c.short_id(), "resuming after commit: {e}");
        }
        let new_id = result??;
        let mut attrs = BTreeMap::new();
        attrs.insert("comment".to_string(), req.comment.clone());
        attrs.insert("imageID".to_string(), new_id.clone());
        attrs.insert(
            "imageRef".to_string(),
            tag.as_deref()
                .and_then(|t| reference::Reference::parse_normalized(t).ok())
                .map(|r| r.familiar_string())
                .unwrap_or_else(|| new_id.clone()),
        );
        self.container_event("commit", &c, attrs);
        if let Some(t) = &tag {
            let mut attrs = BTreeMap::new();
            let familiar =
                reference::Reference::parse_normalized(t).map(|r| r.familiar_string()).unwrap_or_default();
            attrs.insert("name".to_string(), familiar);
            self.events.publish("image", "tag", &new_id, attrs);
        }
        Ok(new_id)
    }

    /// Tars the writable layer (OCI whiteouts, init-layer files left out)
    /// straight into the image store through a pipe.
    fn commit_blocking(
        &self,
        id: &str,
        img: &image::Image,
        info: &image::config::CommitInfo,
        tag: Option<&str>,
        guard: &FsGuard,
    ) -> Result<String> {
        guard.check(&self.container(id)?)?;
        let upper_path = self.container_dir(id).join("upper");
        let upper =
            rfs::open(&upper_path, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())
                .map_err(|e| internal(&format!("opening {}", upper_path.display()), io::Error::from(e)))?;
        let (rx, tx) =
            std::os::unix::net::UnixStream::pair().map_err(|e| internal("creating a socket pair", e))?;
        std::thread::scope(|s| {
            let writer = s.spawn(move || -> io::Result<()> {
                let opts = image::layer::PackOptions {
                    whiteouts: true,
                    pseudo_fs_contents: false,
                    filter: Some(Box::new(|name: &[u8]| {
                        let mut p = Vec::with_capacity(name.len() + 1);
                        p.push(b'/');
                        p.extend_from_slice(name);
                        !changes::is_init_path(&p)
                    })),
                };
                let mut p = image::layer::Packer::new(io::BufWriter::with_capacity(256 << 10, tx), opts);
                p.add_contents(upper.as_fd(), b"")?;
                p.finish()?.flush()
            });
            let stored = self.images.commit(img, &rx, info, tag);
            // Unblock a writer the store stopped reading from.
            let _ = rx.shutdown(std::net::Shutdown::Both);
            let written =
                writer.join().unwrap_or_else(|_| Err(io::Error::other("the layer writer panicked")));
            match (stored, written) {
                (Ok(id), Ok(())) => Ok(id),
                // The store's error explains a writer's broken pipe.
                (Err(e), _) => Err(e.into()),
                (Ok(_), Err(e)) => Err(internal("reading the container's changes", e)),
            }
        })
    }
}

/// The committed image's container config: the container's (or the
/// request's) with the changes applied, empty fields filled from the
/// container's, as Docker's `merge` does.
fn commit_config(c: &Container, base: Option<&Value>, changes: &[String]) -> Result<Value> {
    let strip = |v: Value| -> Map<String, Value> {
        match v {
            Value::Object(m) => m.into_iter().filter(|(_, v)| !v.is_null()).collect(),
            _ => Map::new(),
        }
    };
    let container = strip(serde_json::to_value(&c.config).expect("serialisable"));
    let mut cfg = match base {
        Some(v) if v.is_object() => strip(v.clone()),
        _ => container.clone(),
    };
    for ch in changes {
        image::config::apply_change(&mut cfg, ch)?;
    }
    for (k, v) in container {
        let empty = match cfg.get(&k) {
            None | Some(Value::Null) => true,
            Some(Value::String(s)) => s.is_empty(),
            Some(Value::Array(a)) => a.is_empty(),
            Some(Value::Object(o)) => o.is_empty(),
            _ => false,
        };
        if empty {
            cfg.insert(k, v);
        }
    }
    Ok(Value::Object(cfg))
}

impl Archive {
    /// Writes the tar of the path (as Docker's `TarResourceRebase`: the top
    /// entry named as the path's last element).
    pub fn write_to<W: Write>(self, out: W) -> Result<W> {
        let mut p = image::layer::Packer::new(out, image::layer::PackOptions::default());
        let r = match &self.target {
            Target::Child(parent, name) => p.add(parent.as_fd(), name.as_bytes(), &self.archive_name),
            Target::Dir(fd) => p.add_dir(fd.as_fd(), &self.archive_name),
        };
        r.and_then(|()| p.finish()).map_err(|e| internal("writing the archive", e))
    }
}

impl Export {
    /// Writes the root file system as a tar (no root entry, names relative).
    pub fn write_to<W: Write>(self, out: W) -> Result<W> {
        let mut p = image::layer::Packer::new(out, image::layer::PackOptions::default());
        p.add_contents(self.root.as_fd(), b"")
            .and_then(|()| p.finish())
            .map_err(|e| internal("writing the export", e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn paths_clean_like_go() {
        let c = clean("/etc/../tmp/");
        assert_eq!((c.path.as_slice(), c.dot, c.slash), (&b"/tmp"[..], false, true));
        let c = clean("etc/.");
        assert_eq!((c.path.as_slice(), c.dot, c.slash), (&b"/etc"[..], true, false));
        assert_eq!(clean("/").path, b"/");
        assert_eq!(clean("../../x").path, b"/x");
        assert_eq!(base_name("/tmp/"), "tmp");
        assert_eq!(base_name("/"), "/");
        assert_eq!(base_name("/etc/."), ".");
    }

    #[test]
    fn modes_and_times_as_go_marshals_them() {
        assert_eq!(go_file_mode(0o041777), 2148532735); // /tmp
        assert_eq!(go_file_mode(0o120777), 134218239); // a symlink
        assert_eq!(go_file_mode(0o100644), 420);
        assert_eq!(go_time(1_700_000_000, 0), "2023-11-14T22:13:20Z");
        assert_eq!(go_time(1_700_000_000, 107_406_000), "2023-11-14T22:13:20.107406Z");
    }

    #[test]
    fn symlinks_resolve_inside_the_root() {
        let d = tempfile::tempdir().unwrap();
        let r = d.path();
        std::fs::create_dir_all(r.join("bin")).unwrap();
        std::fs::write(r.join("bin/busybox"), b"").unwrap();
        std::os::unix::fs::symlink("/bin/busybox", r.join("bin/sh")).unwrap();
        std::os::unix::fs::symlink("../../../..", r.join("up")).unwrap();
        std::os::unix::fs::symlink("/", r.join("slash")).unwrap();
        std::os::unix::fs::symlink("loop", r.join("loop")).unwrap();
        let root = rfs::open(r, OFlags::PATH | OFlags::DIRECTORY, Mode::empty()).unwrap();
        assert_eq!(canonical(root.as_fd(), b"/bin/sh", true).unwrap(), (b"/bin/busybox".to_vec(), true));
        assert_eq!(canonical(root.as_fd(), b"/bin/sh", false).unwrap(), (b"/bin/sh".to_vec(), true));
        assert_eq!(
            canonical(root.as_fd(), b"/up/etc/passwd", true).unwrap(),
            (b"/etc/passwd".to_vec(), false)
        );
        assert_eq!(canonical(root.as_fd(), b"/slash/bin", true).unwrap(), (b"/bin".to_vec(), true));
        assert!(canonical(root.as_fd(), b"/loop", true).is_err());
    }

    #[test]
    fn commit_config_applies_changes_and_keeps_the_rest() {
        let c: Container = serde_json::from_value(json!({
            "id": "x", "name": "n", "created": "", "image": "sha256:1", "image_name": "busybox",
            "config": {"Cmd": ["sh"], "Env": ["PATH=/bin"], "Image": "busybox", "Labels": null},
            "host_config": {}, "state": {"status": "exited", "pid": 0, "exit_code": 0, "error": "", "oom_killed": false, "started_at": "", "finished_at": ""},
            "restart_count": 0
        }))
        .unwrap();
        let v = commit_config(
            &c,
            None,
            &["CMD [\"cat\",\"/made\"]".into(), "ENV A=1".into(), "LABEL l=v".into()],
        )
        .unwrap();
        assert_eq!(v["Cmd"], json!(["cat", "/made"]));
        assert_eq!(v["Env"], json!(["PATH=/bin", "A=1"]));
        assert_eq!(v["Labels"], json!({"l": "v"}));
        assert_eq!(v["Image"], "busybox");
        assert!(commit_config(&c, None, &["RUN x".into()]).is_err());
    }
}
