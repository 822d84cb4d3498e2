//! Extraction of one uncompressed layer tar into an overlay lowerdir.
//!
//! Every filesystem operation is relative to a directory fd obtained with
//! `openat2(RESOLVE_IN_ROOT)` from an fd of the destination, and names the
//! final component only (`mkdirat`, `openat(O_NOFOLLOW)`, `symlinkat`, ...),
//! so neither symlinks from the layer nor `..` can make a write land outside
//! the destination.

use std::cmp::Reverse;
use std::collections::HashMap;
use std::ffi::{CStr, CString, OsStr};
use std::fs::File;
use std::io::{self, BufReader, Read, Write as _};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::mpsc;

use rustix::fs::{
    self as rfs, AtFlags, FileType, Gid, Mode, OFlags, ResolveFlags, Timespec, Timestamps, Uid, XattrFlags,
};
use rustix::io::Errno;

use super::LayerError;
use crate::digest::HashingReader;

/// Buffer between the (decompressed) stream and the tar parser.
const READ_BUFFER: usize = 256 * 1024;
/// Buffer file data is copied through.
const COPY_BUFFER: usize = 256 * 1024;
/// All-zero runs of this granularity become holes.
const SPARSE_BLOCK: usize = 4096;
/// Most parent directory fds kept open between entries.
const DIR_CACHE_LIMIT: usize = 64;

const WHITEOUT_PREFIX: &[u8] = b".wh.";
const WHITEOUT_META_PREFIX: &[u8] = b".wh..wh.";
const WHITEOUT_OPAQUE: &[u8] = b".wh..wh..opq";
const OPAQUE_XATTR: &CStr = c"trusted.overlay.opaque";
const OVERLAY_XATTR_PREFIX: &[u8] = b"trusted.overlay.";
const PAX_XATTR_PREFIX: &[u8] = b"SCHILY.xattr.";
/// Docker's `boundTime`: mtimes before the epoch or after this become the
/// epoch.
const MAX_MTIME: i64 = (1 << 33) - 1;

/// What [`apply`] extracted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    /// `sha256:<hex>` of the whole uncompressed tar stream, end-of-archive
    /// blocks and any trailing bytes included: the layer's DiffID.
    pub diff_id: String,
    /// Bytes in the uncompressed tar stream.
    pub tar_size: u64,
    /// The layer's size as Docker counts it: the sum of the entries' declared
    /// sizes (for all practical purposes, the regular files' sizes; a sparse
    /// file counts with its logical size).
    pub unpacked_size: u64,
}

/// Extracts one uncompressed layer tar into `dest` (an empty directory that
/// will become an overlay lowerdir), hashing the stream as it goes and
/// draining it to the end, so that the DiffID covers every byte.
///
/// Everything happens on the calling thread; [`apply_pipelined`] reads,
/// decompresses and hashes on a second one.
///
/// See the [module documentation](super) for the semantics. On error, `dest`
/// holds a partial extraction and should be removed by the caller.
pub fn apply(tar: impl Read, dest: &Path) -> Result<Applied, LayerError> {
    let reader = BufReader::with_capacity(READ_BUFFER, HashingReader::new(tar));
    let (x, unpacked_size, reader) = extract(reader, dest)?;
    // Whatever the BufReader still holds has been hashed already; `finish`
    // hashes the rest of the stream.
    let (diff_id, tar_size, _) = reader.into_inner().finish().map_err(|e| x.stream_error(e))?;
    x.finish()?;
    Ok(Applied { diff_id, tar_size, unpacked_size })
}

/// Whose files [`unpack`] creates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Owner {
    /// The numeric owner each entry's header names (layers; `docker cp`
    /// into a container).
    #[default]
    Header,
    /// Everything owned by this uid and gid (`docker cp -a` into a
    /// container that has a `User`).
    Fixed(u32, u32),
    /// No change of owner at all: whoever extracts owns the files (`docker
    /// cp` out of a container, as a user).
    Extractor,
}

/// How [`unpack`] places an archive's entries.
#[derive(Debug, Clone, Default)]
pub struct UnpackOptions {
    /// The directory, inside the root, the entries are relative to
    /// (`tmp/dir`; empty for the root itself). It is resolved inside the
    /// root like every other path, so it may hold symlinks.
    pub dest: Vec<u8>,
    /// Convert OCI whiteouts into overlay ones, as for a layer. Without,
    /// `.wh.` names are ordinary names.
    pub whiteouts: bool,
    /// Refuse to replace an existing directory with a non-directory and
    /// the other way round (Docker's `noOverwriteDirNonDir`).
    pub no_overwrite_dir_non_dir: bool,
    pub owner: Owner,
    /// Renames the archive's top entry before extraction: an entry named
    /// `from` or `from/…` becomes `to` or `to/…` (`docker cp`'s rebase).
    pub rebase: Option<(Vec<u8>, Vec<u8>)>,
}

/// Extracts a tar stream (uncompressed) into the directory `opts.dest`
/// inside `root`, with the guarantees [`apply`] gives: every path, the
/// destination included, is resolved with `RESOLVE_IN_ROOT` in `root`, so
/// symlinks in the tree or the archive never lead outside `root`. Unlike
/// [`apply`] nothing is hashed, and whiteouts are only converted if asked.
/// Reads the stream to its end. Returns the number of entries.
pub fn unpack(tar: impl Read, root: BorrowedFd<'_>, opts: UnpackOptions) -> Result<u64, LayerError> {
    let root = rfs::openat(root, c".", OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())
        .map_err(|e| LayerError::Io { context: "opening the destination".into(), source: e.into() })?;
    let mut clean_dest = Vec::new();
    if clean(&opts.dest, &mut clean_dest).is_err() {
        return Err(LayerError::PathEscapes { path: lossy(&opts.dest) });
    }
    let opts = UnpackOptions { dest: clean_dest, ..opts };
    let mut x = Extractor::new(root, opts);
    let mut archive = tar::Archive::new(BufReader::with_capacity(READ_BUFFER, tar));
    let mut count = 0u64;
    let entries = archive.entries().map_err(|e| x.stream_error(e))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| x.stream_error(e))?;
        x.entry(&mut entry)?;
        count += 1;
    }
    io::copy(&mut archive.into_inner(), &mut io::sink()).map_err(|e| x.stream_error(e))?;
    x.finish()?;
    Ok(count)
}

/// [`apply`], with reading `tar` (which is where decompression happens, when
/// it comes from [`decompress`](super::decompress)) and hashing moved to a
/// second thread, so that they overlap with writing files. For a gzip layer
/// this saves roughly the time spent writing: prefer it whenever the reader
/// is `Send` and a second core is likely free.
///
/// If extraction fails, the reader thread stops at its next chunk boundary;
/// this function returns once it has.
pub fn apply_pipelined<R: Read + Send>(tar: R, dest: &Path) -> Result<Applied, LayerError> {
    std::thread::scope(|scope| {
        let (full_tx, full_rx) = mpsc::sync_channel::<io::Result<(Vec<u8>, usize)>>(PIPE_DEPTH);
        let (empty_tx, empty_rx) = mpsc::channel::<Vec<u8>>();
        let reader = std::thread::Builder::new()
            .name("layer-read".into())
            .spawn_scoped(scope, move || read_ahead(HashingReader::new(tar), full_tx, empty_rx))
            .map_err(|e| LayerError::Io { context: "starting the layer reader thread".into(), source: e })?;
        let chunks = Chunks { full: full_rx, empty: empty_tx, cur: Vec::new(), pos: 0, len: 0 };
        let extracted = extract(chunks, dest).and_then(|(x, unpacked_size, mut chunks)| {
            // Read to the end so that the reader thread hashes everything.
            io::copy(&mut chunks, &mut io::sink()).map_err(|e| x.stream_error(e))?;
            Ok((x, unpacked_size))
        });
        // On error this drops the receiver, which stops the reader thread.
        let (x, unpacked_size) = extracted?;
        let (diff_id, tar_size) = match reader.join() {
            Ok(done) => done.map_err(|e| x.stream_error(e))?,
            Err(panic) => std::panic::resume_unwind(panic),
        };
        x.finish()?;
        Ok(Applied { diff_id, tar_size, unpacked_size })
    })
}

/// Size of the chunks the reader thread hands over, and how many may wait.
const PIPE_CHUNK: usize = 1024 * 1024;
const PIPE_DEPTH: usize = 4;

/// The reader thread: fills chunks from `r` (hashing them) until the end of
/// the stream, an error (sent on), or the receiver going away. Returns the
/// digest and size at the end of the stream (an error otherwise, which the
/// receiver has seen already or does not care about any more).
fn read_ahead<R: Read>(
    mut r: HashingReader<R>,
    full: mpsc::SyncSender<io::Result<(Vec<u8>, usize)>>,
    empty: mpsc::Receiver<Vec<u8>>,
) -> io::Result<(String, u64)> {
    let stopped = || io::Error::other("layer stream reading stopped early");
    loop {
        let mut buf = empty.try_recv().unwrap_or_else(|_| vec![0; PIPE_CHUNK]);
        let mut n = 0;
        while n < buf.len() {
            match r.read(&mut buf[n..]) {
                Ok(0) => break,
                Ok(k) => n += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    let _ = full.send(Err(e));
                    return Err(stopped());
                }
            }
        }
        if n == 0 {
            break;
        }
        if full.send(Ok((buf, n))).is_err() {
            return Err(stopped());
        }
    }
    let (digest, count, _) = r.finish()?;
    Ok((digest, count))
}

/// The receiving end of [`read_ahead`], as a reader.
struct Chunks {
    full: mpsc::Receiver<io::Result<(Vec<u8>, usize)>>,
    empty: mpsc::Sender<Vec<u8>>,
    cur: Vec<u8>,
    pos: usize,
    len: usize,
}

impl Read for Chunks {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.pos == self.len {
            match self.full.recv() {
                Ok(Ok((buf, len))) => {
                    let done = std::mem::replace(&mut self.cur, buf);
                    if !done.is_empty() {
                        let _ = self.empty.send(done);
                    }
                    (self.pos, self.len) = (0, len);
                }
                Ok(Err(e)) => return Err(e),
                // The sender is gone: end of stream.
                Err(mpsc::RecvError) => return Ok(0),
            }
        }
        let n = out.len().min(self.len - self.pos);
        out[..n].copy_from_slice(&self.cur[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// Extracts every entry of the tar read from `r`; returns the extractor
/// (for the directory times still to apply), the Docker-style unpacked size
/// and the reader, positioned after the end-of-archive marker.
fn extract<R: Read>(r: R, dest: &Path) -> Result<(Extractor, u64, R), LayerError> {
    let root = rfs::open(dest, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty()).map_err(
        |e| LayerError::Io {
            context: format!("opening layer directory {}", dest.display()),
            source: e.into(),
        },
    )?;
    let mut x = Extractor::new(root, UnpackOptions { whiteouts: true, ..UnpackOptions::default() });
    let mut archive = tar::Archive::new(r);
    let mut unpacked_size = 0u64;
    let entries = archive.entries().map_err(|e| x.stream_error(e))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| x.stream_error(e))?;
        unpacked_size = unpacked_size.saturating_add(entry.size());
        x.entry(&mut entry)?;
    }
    Ok((x, unpacked_size, archive.into_inner()))
}

/// What an entry asks for, once its name has been looked at.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    File,
    Dir,
    Symlink,
    HardLink,
    Char,
    Block,
    Fifo,
    /// `.wh.NAME`: the character device 0/0 `NAME`; the payload is the
    /// offset of `NAME` in the entry's cleaned name.
    Whiteout(usize),
    /// `.wh..wh..opq`: mark the parent directory opaque.
    Opaque,
}

/// Ownership, mode and times of an entry, from its header and PAX records.
struct Meta {
    /// Whether to set the owner at all ([`Owner::Extractor`] does not).
    chown: bool,
    uid: Uid,
    gid: Gid,
    mode: Mode,
    times: Timestamps,
}

struct Extractor {
    root: OwnedFd,
    /// Open parent directories by cleaned path. Emptied whenever anything
    /// is removed, since a cached path might then resolve elsewhere.
    dirs: HashMap<Vec<u8>, OwnedFd>,
    /// Directory mtimes, applied once every entry is in place.
    dir_times: Vec<(Vec<u8>, Timestamps)>,
    /// Cleaned name of the current entry (`a/b/c`, empty for the root).
    name: Vec<u8>,
    /// Whether `name` holds an entry yet (for error messages).
    seen: bool,
    /// Hard link target (cleaned) or symlink target (verbatim).
    link: Vec<u8>,
    xattrs: Vec<(CString, Vec<u8>)>,
    /// `/proc/self/fd/N/name`, for xattrs on nodes that cannot be opened.
    proc_path: Vec<u8>,
    buf: Vec<u8>,
    opts: UnpackOptions,
}

impl Extractor {
    fn new(root: OwnedFd, opts: UnpackOptions) -> Self {
        Extractor {
            opts,
            root,
            dirs: HashMap::new(),
            dir_times: Vec::new(),
            name: Vec::new(),
            seen: false,
            link: Vec::new(),
            xattrs: Vec::new(),
            proc_path: Vec::new(),
            buf: vec![0; COPY_BUFFER],
        }
    }

    fn path(&self) -> String {
        lossy(&self.name)
    }

    fn stream_error(&self, source: io::Error) -> LayerError {
        let at = if self.seen { format!(" after entry {:?}", self.path()) } else { String::new() };
        LayerError::Stream { at, source: tidy(source) }
    }

    fn io_error(&self, op: &str, source: impl Into<io::Error>) -> LayerError {
        LayerError::Io { context: format!("layer entry {:?}: {op}", self.path()), source: source.into() }
    }

    fn invalid(&self, problem: impl Into<String>) -> LayerError {
        LayerError::Invalid { path: self.path(), problem: problem.into() }
    }

    fn entry<R: Read>(&mut self, e: &mut tar::Entry<'_, R>) -> Result<(), LayerError> {
        self.seen = true;
        let typeflag = e.header().as_bytes()[156];
        let trailing_slash = {
            let raw = e.path_bytes();
            let raw = self.rebased(&raw);
            if clean(&raw, &mut self.name).is_err() {
                self.name.clear();
                return Err(LayerError::PathEscapes { path: lossy(&raw) });
            }
            raw.ends_with(b"/")
        };
        if typeflag == b'g' {
            // PAX global header: nothing to extract (Docker ignores it too).
            return Ok(());
        }
        if self.name.is_empty() {
            // The root itself ("./"): ignored, as by Docker and containerd.
            return Ok(());
        }
        self.name = self.below_dest(&self.name);
        let base_at = self.name.iter().rposition(|&b| b == b'/').map_or(0, |i| i + 1);
        let parent_len = base_at.saturating_sub(1);
        if self.opts.whiteouts
            && self.name[..parent_len].split(|&b| b == b'/').any(|c| c.starts_with(WHITEOUT_META_PREFIX))
        {
            // Inside AUFS metadata (`.wh..wh.plnk/...`): not part of the tree.
            return Ok(());
        }
        let base = &self.name[base_at..];
        let kind = if !self.opts.whiteouts {
            None
        } else if base == WHITEOUT_OPAQUE {
            Some(Kind::Opaque)
        } else if base.starts_with(WHITEOUT_META_PREFIX) {
            return Ok(());
        } else if let Some(target) = base.strip_prefix(WHITEOUT_PREFIX) {
            if matches!(target, b"" | b"." | b"..") {
                return Err(self.invalid(format!("invalid whiteout name {:?}", lossy(base))));
            }
            Some(Kind::Whiteout(base_at + WHITEOUT_PREFIX.len()))
        } else {
            None
        };
        let kind = if let Some(k) = kind {
            k
        } else {
            match typeflag {
                b'0' | b'7' | b'S' => Kind::File,
                0 if trailing_slash => Kind::Dir,
                0 => Kind::File,
                b'1' => Kind::HardLink,
                b'2' => Kind::Symlink,
                b'3' => Kind::Char,
                b'4' => Kind::Block,
                b'5' => Kind::Dir,
                b'6' => Kind::Fifo,
                other => {
                    return Err(LayerError::Unsupported { path: self.path(), kind: other as char });
                }
            }
        };
        if self.opts.no_overwrite_dir_non_dir {
            self.check_overwrite(kind, base_at)?;
        }

        let meta = match kind {
            Kind::Opaque | Kind::HardLink => None,
            _ => Some(self.meta(e)?),
        };
        match kind {
            Kind::Symlink | Kind::HardLink => {
                let what = if kind == Kind::Symlink { "symbolic link" } else { "hard link" };
                let Some(target) = e.link_name_bytes() else {
                    return Err(self.invalid(format!("{what} without a target")));
                };
                if kind == Kind::Symlink {
                    self.link.clear();
                    self.link.extend_from_slice(&target);
                } else {
                    let rebased = self.rebased(&target);
                    if clean(&rebased, &mut self.link).is_err() {
                        return Err(LayerError::LinkEscapes { path: self.path(), target: lossy(&target) });
                    }
                    // An empty target is the root, a directory: refused below.
                    if !self.link.is_empty() {
                        self.link = self.below_dest(&self.link);
                    }
                }
            }
            _ => {}
        }

        let parent = self.take_parent(parent_len)?;
        let mut removed = false;
        let result =
            self.create(kind, base_at, parent.as_ref().map(|(_, fd)| fd.as_fd()), meta, e, &mut removed);
        if removed {
            self.dirs.clear();
        } else if let Some((key, fd)) = parent {
            self.cache_dir(key, fd);
        }
        if let Some(dir) = result? {
            self.cache_dir(self.name.clone(), dir);
        }
        Ok(())
    }

    /// An entry name (or hard link target) as written in the archive, with
    /// its top element renamed when asked (`docker cp` does).
    fn rebased<'a>(&self, raw: &'a [u8]) -> std::borrow::Cow<'a, [u8]> {
        let Some((from, to)) = &self.opts.rebase else { return raw.into() };
        // As Docker's RebaseArchiveEntries, on the name as written; a
        // leading `/` or `./` stays (unless `./` is what is renamed).
        let lead = if from.as_slice() == b"." {
            0
        } else if raw.starts_with(b"./") {
            2
        } else {
            raw.iter().take_while(|&&b| b == b'/').count()
        };
        let rest = &raw[lead..];
        if rest == from.as_slice() || (rest.starts_with(from) && rest.get(from.len()) == Some(&b'/')) {
            let mut out = raw[..lead].to_vec();
            out.extend_from_slice(to);
            out.extend_from_slice(&rest[from.len()..]);
            return out.into();
        }
        raw.into()
    }

    /// A cleaned name (or hard link target) placed below the destination.
    fn below_dest(&self, cleaned: &[u8]) -> Vec<u8> {
        if self.opts.dest.is_empty() {
            return cleaned.to_vec();
        }
        let mut out = self.opts.dest.clone();
        if !cleaned.is_empty() {
            out.push(b'/');
            out.extend_from_slice(cleaned);
        }
        out
    }

    /// Docker's `noOverwriteDirNonDir`: an existing directory may not become
    /// something else, nor something else a directory.
    fn check_overwrite(&self, kind: Kind, base_at: usize) -> Result<(), LayerError> {
        let parent = &self.name[..base_at.saturating_sub(1)];
        let pfd = if parent.is_empty() {
            None
        } else {
            match open_in_root(self.root.as_fd(), parent, OFlags::PATH | OFlags::DIRECTORY) {
                Ok(fd) => Some(fd),
                // Missing parents are created later; nothing to replace there.
                Err(_) => return Ok(()),
            }
        };
        let pfd_ref = pfd.as_ref().map_or(self.root.as_fd(), |fd| fd.as_fd());
        let existing = match rfs::statat(pfd_ref, &self.name[base_at..], AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => FileType::from_raw_mode(st.st_mode) == FileType::Directory,
            Err(_) => return Ok(()),
        };
        let dest = format!("/{}", lossy(&self.opts.dest));
        let path = format!("/{}", lossy(&self.name));
        match (existing, kind == Kind::Dir) {
            (true, false) => Err(LayerError::Overwrite(format!(
                "cannot overwrite directory {path:?} with non-directory {dest:?}"
            ))),
            (false, true) => Err(LayerError::Overwrite(format!(
                "cannot overwrite non-directory {path:?} with directory {dest:?}"
            ))),
            _ => Ok(()),
        }
    }

    fn cache_dir(&mut self, key: Vec<u8>, fd: OwnedFd) {
        if self.dirs.len() >= DIR_CACHE_LIMIT {
            self.dirs.clear();
        }
        self.dirs.insert(key, fd);
    }

    /// The parent directory of the current entry, from the cache or resolved
    /// (and created where missing). `None` is the root.
    fn take_parent(&mut self, parent_len: usize) -> Result<Option<(Vec<u8>, OwnedFd)>, LayerError> {
        if parent_len == 0 {
            return Ok(None);
        }
        let path = &self.name[..parent_len];
        if let Some(slot) = self.dirs.remove_entry(path) {
            return Ok(Some(slot));
        }
        match resolve_parent(self.root.as_fd(), path) {
            Ok(fd) => Ok(Some((path.to_vec(), fd))),
            Err(Resolve::NotDir) => Err(LayerError::NotADirectory { path: self.path() }),
            Err(Resolve::Dangling(len)) => {
                Err(LayerError::DanglingParent { path: self.path(), parent: lossy(&self.name[..len]) })
            }
            Err(Resolve::Io(op, e)) => Err(self.io_error(op, e)),
        }
    }

    /// Header and PAX metadata of the current entry.
    fn meta<R: Read>(&mut self, e: &mut tar::Entry<'_, R>) -> Result<Meta, LayerError> {
        let h = e.header();
        let uid = numeric_field(&h.as_old().uid).ok_or_else(|| self.invalid("bad uid field"))?;
        let gid = numeric_field(&h.as_old().gid).ok_or_else(|| self.invalid("bad gid field"))?;
        let uid = id(uid).ok_or_else(|| self.invalid(format!("uid {uid} out of range")))?;
        let gid = id(gid).ok_or_else(|| self.invalid(format!("gid {gid} out of range")))?;
        let mode = numeric_field(&h.as_old().mode).ok_or_else(|| self.invalid("bad mode field"))? & 0o7777;
        let raw_mtime = &h.as_old().mtime;
        // A negative (base-256) mtime is before the epoch: the epoch, below.
        let header_mtime = if raw_mtime[0] & 0xc0 == 0xc0 { Some(0) } else { numeric_field(raw_mtime) };

        let mut mtime = None;
        self.xattrs.clear();
        let pax = e.pax_extensions().map_err(|err| self.invalid(format!("bad PAX header: {err}")))?;
        if let Some(pax) = pax {
            for rec in pax {
                let rec = rec.map_err(|err| LayerError::Invalid {
                    path: lossy(&self.name),
                    problem: format!("malformed PAX record: {err}"),
                })?;
                let key = rec.key_bytes();
                if key == b"mtime" {
                    mtime = Some(parse_pax_time(rec.value_bytes()).ok_or_else(|| LayerError::Invalid {
                        path: lossy(&self.name),
                        problem: format!("malformed PAX mtime {:?}", lossy(rec.value_bytes())),
                    })?);
                } else if key.starts_with(b"GNU.sparse.") {
                    // PAX-format sparse files (GNU tar --sparse --format=pax)
                    // would come out as their raw encoding: refuse them.
                    return Err(LayerError::Invalid {
                        path: lossy(&self.name),
                        problem: "PAX-format sparse files are not supported".into(),
                    });
                } else if let Some(name) = key.strip_prefix(PAX_XATTR_PREFIX) {
                    if name.starts_with(OVERLAY_XATTR_PREFIX) {
                        tracing::debug!(entry = %lossy(&self.name), xattr = %lossy(name), "dropping overlay xattr from layer");
                        continue;
                    }
                    let Ok(name) = CString::new(name) else {
                        return Err(LayerError::Invalid {
                            path: lossy(&self.name),
                            problem: "xattr name contains a NUL byte".into(),
                        });
                    };
                    self.xattrs.push((name, rec.value_bytes().to_vec()));
                }
            }
        }
        let (secs, nanos) = match mtime {
            Some(t) => t,
            None => {
                let secs = header_mtime.ok_or_else(|| self.invalid("bad mtime field"))?;
                (i64::try_from(secs).unwrap_or(i64::MAX), 0)
            }
        };
        let (secs, nanos) = if (0..=MAX_MTIME).contains(&secs) { (secs, nanos) } else { (0, 0) };
        let t = Timespec { tv_sec: secs, tv_nsec: nanos.into() };
        let (chown, uid, gid) = match self.opts.owner {
            Owner::Header => (true, uid, gid),
            Owner::Fixed(u, g) => (true, u, g),
            Owner::Extractor => (false, uid, gid),
        };
        Ok(Meta {
            chown,
            uid: Uid::from_raw(uid),
            gid: Gid::from_raw(gid),
            mode: Mode::from_raw_mode((mode & 0o7777) as u32),
            times: Timestamps { last_access: t, last_modification: t },
        })
    }

    /// Creates the current entry in `parent` (the root when `None`). Returns
    /// the fd of a directory it created or merged into, for the cache. Sets
    /// `removed` when it removed anything.
    fn create<R: Read>(
        &mut self,
        kind: Kind,
        base_at: usize,
        parent: Option<BorrowedFd<'_>>,
        meta: Option<Meta>,
        e: &mut tar::Entry<'_, R>,
        removed: &mut bool,
    ) -> Result<Option<OwnedFd>, LayerError> {
        let pfd = parent.unwrap_or(self.root.as_fd());
        let name = &self.name[base_at..];
        let err = |op: &str, source: io::Error| LayerError::Io {
            context: format!("layer entry {:?}: {op}", lossy(&self.name)),
            source,
        };
        match kind {
            Kind::Opaque => {
                rfs::fsetxattr(pfd, OPAQUE_XATTR, b"y", XattrFlags::empty())
                    .map_err(|e| err("marking the directory opaque", e.into()))?;
                Ok(None)
            }
            Kind::Whiteout(at) => {
                let meta = meta.expect("whiteouts have metadata");
                let target = &self.name[at..];
                replacing(pfd, target, removed, || {
                    rfs::mknodat(pfd, target, FileType::CharacterDevice, Mode::empty(), 0)
                })
                .map_err(|e| err("creating the whiteout device", e))?;
                if meta.chown {
                    rfs::chownat(pfd, target, Some(meta.uid), Some(meta.gid), AtFlags::SYMLINK_NOFOLLOW)
                        .map_err(|e| err("setting the whiteout's owner", e.into()))?;
                }
                Ok(None)
            }
            Kind::Dir => {
                let meta = meta.expect("directories have metadata");
                let dir =
                    open_or_make_dir(pfd, name, removed).map_err(|e| err("creating the directory", e))?;
                set_fd_meta(&dir, &meta, &self.xattrs, &self.name).map_err(|(op, e)| err(op, e))?;
                self.dir_times.push((self.name.clone(), meta.times));
                Ok(Some(dir))
            }
            Kind::File => {
                let meta = meta.expect("files have metadata");
                let flags =
                    OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
                let fd = replacing(pfd, name, removed, || {
                    rfs::openat(pfd, name, flags, Mode::from_raw_mode(0o600))
                })
                .map_err(|e| err("creating the file", e))?;
                let file = File::from(fd);
                let size = e.size();
                match copy_sparse(e, &file, size, &mut self.buf) {
                    Ok(()) => {}
                    Err(Copy::Read(source)) => {
                        return Err(LayerError::Stream {
                            at: format!(" in entry {:?}", lossy(&self.name)),
                            source,
                        });
                    }
                    Err(Copy::Short(got)) => {
                        return Err(LayerError::Truncated { path: lossy(&self.name), expected: size, got });
                    }
                    Err(Copy::Write(e)) => return Err(err("writing file data", e)),
                }
                // Owner, then mode (chown clears setuid/setgid), then xattrs
                // (chown and writes clear security.capability), then times.
                set_fd_meta(file.as_fd(), &meta, &self.xattrs, &self.name).map_err(|(op, e)| err(op, e))?;
                rfs::futimens(&file, &meta.times).map_err(|e| err("setting the mtime", e.into()))?;
                Ok(None)
            }
            Kind::Symlink => {
                let meta = meta.expect("symlinks have metadata");
                let target = &self.link[..];
                replacing(pfd, name, removed, || rfs::symlinkat(target, pfd, name))
                    .map_err(|e| err("creating the symbolic link", e))?;
                set_at_meta(pfd, name, &meta, false, &self.xattrs, &mut self.proc_path, &self.name)
                    .map_err(|(op, e)| err(op, e))?;
                Ok(None)
            }
            Kind::Char | Kind::Block | Kind::Fifo => {
                let meta = meta.expect("special files have metadata");
                let (file_type, dev) = match kind {
                    Kind::Fifo => (FileType::Fifo, 0),
                    _ => {
                        let dev = device(e.header()).ok_or_else(|| self.invalid("bad device number"))?;
                        let t = if kind == Kind::Char {
                            FileType::CharacterDevice
                        } else {
                            FileType::BlockDevice
                        };
                        (t, dev)
                    }
                };
                replacing(pfd, name, removed, || {
                    rfs::mknodat(pfd, name, file_type, Mode::from_raw_mode(0o600), dev)
                })
                .map_err(|e| err("creating the special file", e))?;
                set_at_meta(pfd, name, &meta, true, &self.xattrs, &mut self.proc_path, &self.name)
                    .map_err(|(op, e)| err(op, e))?;
                Ok(None)
            }
            Kind::HardLink => {
                let raw = e.link_name_bytes().unwrap_or_default();
                self.hard_link(pfd, name, &raw, removed)?;
                Ok(None)
            }
        }
    }

    /// Links the current entry to the (cleaned) target in `self.link`.
    /// `raw` is the target as the tar spells it, for messages.
    fn hard_link(
        &self,
        pfd: BorrowedFd<'_>,
        name: &[u8],
        raw: &[u8],
        removed: &mut bool,
    ) -> Result<(), LayerError> {
        let bad =
            |problem| LayerError::BadLinkTarget { path: lossy(&self.name), target: lossy(raw), problem };
        if self.link.is_empty() {
            return Err(bad("is a directory"));
        }
        let base_at = self.link.iter().rposition(|&b| b == b'/').map_or(0, |i| i + 1);
        let target_parent = match base_at {
            0 => None,
            _ => match open_in_root(
                self.root.as_fd(),
                &self.link[..base_at - 1],
                OFlags::PATH | OFlags::DIRECTORY,
            ) {
                Ok(fd) => Some(fd),
                Err(Errno::NOENT | Errno::NOTDIR | Errno::LOOP) => return Err(bad("does not exist")),
                Err(e) => return Err(self.io_error("resolving the hard link target", e)),
            },
        };
        let tfd = target_parent.as_ref().map_or(self.root.as_fd(), |fd| fd.as_fd());
        let target = &self.link[base_at..];
        match rfs::statat(tfd, target, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) if FileType::from_raw_mode(st.st_mode) == FileType::Directory => {
                return Err(bad("is a directory"));
            }
            Ok(_) => {}
            Err(Errno::NOENT | Errno::NOTDIR) => return Err(bad("does not exist")),
            Err(e) => return Err(self.io_error("looking up the hard link target", e)),
        }
        match replacing(pfd, name, removed, || rfs::linkat(tfd, target, pfd, name, AtFlags::empty())) {
            Ok(()) => Ok(()),
            // Replacing the entry's own path removed the target.
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Err(bad("does not exist")),
            Err(e) => Err(self.io_error("creating the hard link", e)),
        }
    }

    /// Applies the directory mtimes, deepest first.
    fn finish(mut self) -> Result<(), LayerError> {
        self.dirs.clear();
        let mut dirs = std::mem::take(&mut self.dir_times);
        // Stable: a directory listed twice gets its last entry's time.
        dirs.sort_by_key(|(p, _)| Reverse(p.iter().filter(|&&b| b == b'/').count()));
        for (path, times) in &dirs {
            match open_in_root(self.root.as_fd(), path, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW)
            {
                Ok(fd) => rfs::futimens(&fd, times).map_err(|e| LayerError::Io {
                    context: format!("layer entry {:?}: setting the mtime", lossy(path)),
                    source: e.into(),
                })?,
                // Removed or replaced by a later entry.
                Err(Errno::NOENT | Errno::NOTDIR | Errno::LOOP) => {}
                Err(e) => {
                    return Err(LayerError::Io {
                        context: format!("layer entry {:?}: reopening the directory", lossy(path)),
                        source: e.into(),
                    });
                }
            }
        }
        Ok(())
    }
}

/// Owner, mode (unless `chmod` is false: symlinks), xattrs and times of a
/// node that is not opened: a symlink, device or fifo.
fn set_at_meta(
    pfd: BorrowedFd<'_>,
    name: &[u8],
    meta: &Meta,
    chmod: bool,
    xattrs: &[(CString, Vec<u8>)],
    proc_path: &mut Vec<u8>,
    entry: &[u8],
) -> Result<(), (&'static str, io::Error)> {
    if meta.chown {
        rfs::chownat(pfd, name, Some(meta.uid), Some(meta.gid), AtFlags::SYMLINK_NOFOLLOW)
            .map_err(|e| ("setting the owner", e.into()))?;
    }
    if chmod {
        // The node was just created by us in a directory nobody else writes
        // to: following a symlink is not a concern.
        rfs::chmodat(pfd, name, meta.mode, AtFlags::empty()).map_err(|e| ("setting the mode", e.into()))?;
    }
    if !xattrs.is_empty() {
        // There is no fd-based lsetxattr for nodes that cannot be opened; go
        // through the parent's fd in /proc, which names exactly this
        // directory entry (lsetxattr does not follow the final component).
        proc_path.clear();
        let _ = write!(proc_path, "/proc/self/fd/{}/", pfd.as_raw_fd());
        proc_path.extend_from_slice(name);
        let path = OsStr::from_bytes(proc_path);
        for (key, value) in xattrs {
            let r = rfs::lsetxattr(path, key.as_c_str(), value, XattrFlags::empty());
            xattr_result(r, key, entry)?;
        }
    }
    rfs::utimensat(pfd, name, &meta.times, AtFlags::SYMLINK_NOFOLLOW)
        .map_err(|e| ("setting the mtime", e.into()))?;
    Ok(())
}

/// Owner, mode and xattrs through an open fd (files and directories).
fn set_fd_meta(
    fd: impl AsFd,
    meta: &Meta,
    xattrs: &[(CString, Vec<u8>)],
    entry: &[u8],
) -> Result<(), (&'static str, io::Error)> {
    let fd = fd.as_fd();
    if meta.chown {
        rfs::fchown(fd, Some(meta.uid), Some(meta.gid)).map_err(|e| ("setting the owner", e.into()))?;
    }
    rfs::fchmod(fd, meta.mode).map_err(|e| ("setting the mode", e.into()))?;
    for (key, value) in xattrs {
        xattr_result(rfs::fsetxattr(fd, key.as_c_str(), value, XattrFlags::empty()), key, entry)?;
    }
    Ok(())
}

/// Like Docker, a filesystem that refuses an xattr (not supported, not
/// permitted) costs a warning, not the layer.
fn xattr_result(
    r: rustix::io::Result<()>,
    key: &CStr,
    entry: &[u8],
) -> Result<(), (&'static str, io::Error)> {
    match r {
        Ok(()) => Ok(()),
        Err(e @ (Errno::NOTSUP | Errno::PERM)) => {
            tracing::warn!(entry = %lossy(entry), xattr = %key.to_string_lossy(), error = %e, "ignoring xattr from layer");
            Ok(())
        }
        Err(e) => Err(("setting an xattr", e.into())),
    }
}

fn id(raw: u64) -> Option<u32> {
    // u32::MAX is (uid_t)-1, "leave unchanged" to chown.
    u32::try_from(raw).ok().filter(|&v| v != u32::MAX)
}

/// A numeric header field as Go's archive/tar (and so Docker) reads it:
/// base-256 when the high bit is set, else octal with NULs and spaces
/// trimmed, where an empty field is 0. The tar crate refuses empty fields,
/// which some writers (the tar crate's own `Header::new_ustar`) produce.
fn numeric_field(raw: &[u8]) -> Option<u64> {
    if raw.first().is_some_and(|b| b & 0x80 != 0) {
        if raw[0] & 0x40 != 0 {
            return None; // negative
        }
        return raw.iter().enumerate().try_fold(0u64, |acc, (i, b)| {
            let b = if i == 0 { b & 0x7f } else { *b };
            acc.checked_mul(256).map(|a| a + u64::from(b))
        });
    }
    let text = std::str::from_utf8(raw).ok()?.trim_matches(|c| c == '\0' || c == ' ');
    if text.is_empty() {
        return Some(0);
    }
    u64::from_str_radix(text, 8).ok()
}

/// The device number of a character or block device entry (0 in a V7
/// header, which has no such fields).
fn device(h: &tar::Header) -> Option<rfs::Dev> {
    let (major, minor) = if let Some(u) = h.as_ustar() {
        (&u.dev_major, &u.dev_minor)
    } else if let Some(g) = h.as_gnu() {
        (&g.dev_major, &g.dev_minor)
    } else {
        return Some(0);
    };
    let major = u32::try_from(numeric_field(major)?).ok()?;
    let minor = u32::try_from(numeric_field(minor)?).ok()?;
    Some(rfs::makedev(major, minor))
}

/// Some of the tar crate's messages quote raw header bytes, which for
/// garbage input makes them garbage too: replace those.
fn tidy(e: io::Error) -> io::Error {
    let msg = e.to_string();
    if msg.len() <= 200 && !msg.chars().any(|c| c == char::REPLACEMENT_CHARACTER || c.is_control()) {
        return e;
    }
    io::Error::new(e.kind(), Garbled(e))
}

#[derive(Debug)]
struct Garbled(io::Error);

impl std::fmt::Display for Garbled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("malformed tar header: not a tar stream, or a corrupt one")
    }
}

impl std::error::Error for Garbled {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

/// Lossy UTF-8 for messages.
fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Normalises an entry name into `out` as `a/b/c`: no leading `/`, no `.`
/// or empty components, `..` applied lexically. Fails if `..` climbs above
/// the root. The root itself comes out empty.
fn clean(raw: &[u8], out: &mut Vec<u8>) -> Result<(), ()> {
    out.clear();
    for comp in raw.split(|&b| b == b'/') {
        match comp {
            b"" | b"." => {}
            b".." => {
                if out.is_empty() {
                    return Err(());
                }
                let cut = out.iter().rposition(|&b| b == b'/').unwrap_or(0);
                out.truncate(cut);
            }
            comp => {
                if !out.is_empty() {
                    out.push(b'/');
                }
                out.extend_from_slice(comp);
            }
        }
    }
    Ok(())
}

/// A PAX time, `[-]seconds[.fraction]`.
fn parse_pax_time(v: &[u8]) -> Option<(i64, u32)> {
    let (neg, v) = match v.strip_prefix(b"-") {
        Some(rest) => (true, rest),
        None => (false, v),
    };
    let (secs, frac) = match v.iter().position(|&b| b == b'.') {
        Some(i) => (&v[..i], &v[i + 1..]),
        None => (v, &v[..0]),
    };
    if secs.is_empty() || !secs.iter().chain(frac).all(u8::is_ascii_digit) {
        return None;
    }
    let secs: i64 = std::str::from_utf8(secs).ok()?.parse().ok()?;
    let mut nanos = 0u32;
    for i in 0..9 {
        nanos = nanos * 10 + frac.get(i).map_or(0, |d| u32::from(d - b'0'));
    }
    Some(match (neg, nanos) {
        (false, _) => (secs, nanos),
        (true, 0) => (-secs, 0),
        (true, _) => (-secs - 1, 1_000_000_000 - nanos),
    })
}

fn open_dir_nofollow(dirfd: BorrowedFd<'_>, name: impl rustix::path::Arg) -> rustix::io::Result<OwnedFd> {
    rfs::openat(
        dirfd,
        name,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )
}

/// `openat2` confined to `root`: symlinks and `..` resolve as if `root`
/// were `/`; magic links are refused.
fn open_in_root(root: BorrowedFd<'_>, path: &[u8], flags: OFlags) -> rustix::io::Result<OwnedFd> {
    let mut tries = 0;
    loop {
        let r = rfs::openat2(
            root,
            path,
            flags | OFlags::CLOEXEC,
            Mode::empty(),
            ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
        );
        match r {
            // The kernel asks for a retry when a rename raced the lookup.
            Err(Errno::AGAIN) if tries < 16 => tries += 1,
            r => return r,
        }
    }
}

enum Resolve {
    NotDir,
    /// The prefix of this length is a symlink to nothing.
    Dangling(usize),
    Io(&'static str, io::Error),
}

/// Opens the directory `path` inside `root`, creating missing components
/// (mode 0755, owned by us) the way Docker's `MkdirAll` of the parent does.
fn resolve_parent(root: BorrowedFd<'_>, path: &[u8]) -> Result<OwnedFd, Resolve> {
    let flags = OFlags::RDONLY | OFlags::DIRECTORY;
    let lookup = |prefix: &[u8]| match open_in_root(root, prefix, flags) {
        Ok(fd) => Ok(Some(fd)),
        Err(Errno::NOENT) => Ok(None),
        Err(Errno::NOTDIR) => Err(Resolve::NotDir),
        Err(e) => Err(Resolve::Io("resolving the parent directory", e.into())),
    };
    if let Some(fd) = lookup(path)? {
        return Ok(fd);
    }
    // Something is missing: find the deepest existing prefix, create the rest.
    let mut cur: Option<OwnedFd> = None;
    let mut creating = false;
    let mut start = 0;
    let ends = path.iter().enumerate().filter(|&(_, &b)| b == b'/').map(|(i, _)| i).chain([path.len()]);
    for end in ends {
        let comp = &path[start..end];
        start = end + 1;
        if !creating {
            match lookup(&path[..end])? {
                Some(fd) => {
                    cur = Some(fd);
                    continue;
                }
                None => creating = true,
            }
        }
        let dirfd = cur.as_ref().map_or(root, |fd| fd.as_fd());
        match rfs::mkdirat(dirfd, comp, Mode::from_raw_mode(0o755)) {
            Ok(()) => {}
            // The lookup said "no such file", yet the name exists: a
            // symlink whose target is missing.
            Err(Errno::EXIST) => return Err(Resolve::Dangling(end)),
            Err(e) => return Err(Resolve::Io("creating a parent directory", e.into())),
        }
        let fd = open_dir_nofollow(dirfd, comp)
            .map_err(|e| Resolve::Io("creating a parent directory", e.into()))?;
        // Undo the umask, and the group a setgid parent would impose.
        rfs::fchmod(&fd, Mode::from_raw_mode(0o755))
            .and_then(|()| {
                rfs::fchown(&fd, Some(rustix::process::geteuid()), Some(rustix::process::getegid()))
            })
            .map_err(|e| Resolve::Io("creating a parent directory", e.into()))?;
        cur = Some(fd);
    }
    cur.ok_or(Resolve::Io("resolving the parent directory", io::ErrorKind::NotFound.into()))
}

/// Runs `op` (a creation of `name` in `pfd`); if `name` exists, removes it
/// (recursively if a directory) and runs `op` once more.
fn replacing<T>(
    pfd: BorrowedFd<'_>,
    name: &[u8],
    removed: &mut bool,
    mut op: impl FnMut() -> rustix::io::Result<T>,
) -> io::Result<T> {
    match op() {
        Err(Errno::EXIST) => {
            *removed = true;
            remove_any(pfd, name)?;
            Ok(op()?)
        }
        r => Ok(r?),
    }
}

/// Opens the directory `name`, creating it if missing and replacing a
/// non-directory.
fn open_or_make_dir(pfd: BorrowedFd<'_>, name: &[u8], removed: &mut bool) -> io::Result<OwnedFd> {
    match rfs::mkdirat(pfd, name, Mode::from_raw_mode(0o700)) {
        Ok(()) | Err(Errno::EXIST) => {}
        Err(e) => return Err(e.into()),
    }
    match open_dir_nofollow(pfd, name) {
        Ok(fd) => Ok(fd),
        Err(Errno::NOTDIR | Errno::LOOP) => {
            *removed = true;
            remove_any(pfd, name)?;
            rfs::mkdirat(pfd, name, Mode::from_raw_mode(0o700))?;
            Ok(open_dir_nofollow(pfd, name)?)
        }
        Err(e) => Err(e.into()),
    }
}

/// Removes `name` from `pfd`, whatever it is; a directory with everything
/// in it. Missing is fine.
fn remove_any(pfd: BorrowedFd<'_>, name: &[u8]) -> io::Result<()> {
    match rfs::unlinkat(pfd, name, AtFlags::empty()) {
        Ok(()) | Err(Errno::NOENT) => Ok(()),
        Err(Errno::ISDIR) => remove_tree(pfd, name),
        Err(e) => Err(e.into()),
    }
}

/// Removes the directory `name` of `pfd` and everything below it, never
/// following symlinks and holding two fds at most however deep the tree
/// (we walk back up through `..`, which is sound because nothing else
/// touches the staging directory meanwhile).
fn remove_tree(pfd: BorrowedFd<'_>, name: &[u8]) -> io::Result<()> {
    let mut cur = rfs::Dir::new(open_dir_nofollow(pfd, name)?)?;
    let mut pending = unlink_non_dirs(&mut cur)?;
    // For each level below the top: its name and its parent's pending list.
    let mut stack: Vec<(CString, Vec<CString>)> = Vec::new();
    loop {
        if let Some(sub) = pending.pop() {
            let mut next = rfs::Dir::new(open_dir_nofollow(cur.fd()?, &sub)?)?;
            let subs = unlink_non_dirs(&mut next)?;
            stack.push((sub, std::mem::replace(&mut pending, subs)));
            cur = next;
        } else if let Some((me, up_pending)) = stack.pop() {
            let up = rfs::openat(
                cur.fd()?,
                c"..",
                OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
                Mode::empty(),
            )?;
            cur = rfs::Dir::new(up)?;
            rfs::unlinkat(cur.fd()?, &me, AtFlags::REMOVEDIR)?;
            pending = up_pending;
        } else {
            break;
        }
    }
    drop(cur);
    Ok(rfs::unlinkat(pfd, name, AtFlags::REMOVEDIR)?)
}

/// Unlinks every non-directory in `dir`; returns the subdirectories' names.
fn unlink_non_dirs(dir: &mut rfs::Dir) -> io::Result<Vec<CString>> {
    let mut subdirs = Vec::new();
    while let Some(ent) = dir.read() {
        let ent = ent?;
        let name = ent.file_name();
        if name == c"." || name == c".." {
            continue;
        }
        let is_dir = match ent.file_type() {
            FileType::Directory => true,
            FileType::Unknown => {
                let st = rfs::statat(dir.fd()?, name, AtFlags::SYMLINK_NOFOLLOW)?;
                FileType::from_raw_mode(st.st_mode) == FileType::Directory
            }
            _ => false,
        };
        if is_dir {
            subdirs.push(name.to_owned());
        } else {
            rfs::unlinkat(dir.fd()?, name, AtFlags::empty())?;
        }
    }
    Ok(subdirs)
}

enum Copy {
    Read(io::Error),
    Write(io::Error),
    /// The stream ended after this many bytes.
    Short(u64),
}

/// Copies exactly `size` bytes from `src` to the start of `dst`, leaving
/// holes for all-zero 4 KiB blocks.
fn copy_sparse(src: &mut impl Read, dst: &File, size: u64, buf: &mut [u8]) -> Result<(), Copy> {
    let mut off = 0u64;
    let mut written_end = 0u64;
    loop {
        let mut n = 0;
        while n < buf.len() {
            match src.read(&mut buf[n..]) {
                Ok(0) => break,
                Ok(k) => n += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Copy::Read(e)),
            }
        }
        let chunk = &buf[..n];
        let mut i = 0;
        while i < n {
            while i < n && is_zero(&chunk[i..n.min(i + SPARSE_BLOCK)]) {
                i += SPARSE_BLOCK;
            }
            let start = i;
            while i < n && !is_zero(&chunk[i..n.min(i + SPARSE_BLOCK)]) {
                i += SPARSE_BLOCK;
            }
            let end = i.min(n);
            if start < end {
                dst.write_all_at(&chunk[start..end], off + start as u64).map_err(Copy::Write)?;
                written_end = off + end as u64;
            }
        }
        off += n as u64;
        if n < buf.len() {
            break;
        }
    }
    if off != size {
        return Err(Copy::Short(off));
    }
    if written_end < size {
        dst.set_len(size).map_err(Copy::Write)?;
    }
    Ok(())
}

fn is_zero(block: &[u8]) -> bool {
    let mut words = block.chunks_exact(64);
    for w in &mut words {
        // A fixed-size OR the compiler vectorises; bail out per 64 bytes.
        if w.iter().fold(0u8, |acc, &b| acc | b) != 0 {
            return false;
        }
    }
    words.remainder().iter().all(|&b| b == 0)
}

#[cfg(test)]
mod unit {
    use super::*;

    fn cleaned(raw: &str) -> Option<String> {
        let mut out = Vec::new();
        clean(raw.as_bytes(), &mut out).ok().map(|()| String::from_utf8(out).unwrap())
    }

    #[test]
    fn names_are_cleaned_lexically() {
        for (raw, want) in [
            ("a/b/c", "a/b/c"),
            ("./a/b/", "a/b"),
            ("/a//b/./c/", "a/b/c"),
            ("./", ""),
            ("/", ""),
            (".", ""),
            ("a/..", ""),
            ("a/b/../c", "a/c"),
            ("a/../../b", "!"),
            ("../a", "!"),
            ("/../a", "!"),
            ("..", "!"),
            ("...", "..."),
            (".wh..wh..opq", ".wh..wh..opq"),
        ] {
            let want = if want == "!" { None } else { Some(want.to_owned()) };
            assert_eq!(cleaned(raw), want, "{raw}");
        }
    }

    #[test]
    fn pax_times() {
        assert_eq!(parse_pax_time(b"1600000000"), Some((1_600_000_000, 0)));
        assert_eq!(parse_pax_time(b"1600000000.5"), Some((1_600_000_000, 500_000_000)));
        assert_eq!(parse_pax_time(b"1.0123456789"), Some((1, 12_345_678)));
        assert_eq!(parse_pax_time(b"-1.25"), Some((-2, 750_000_000)));
        assert_eq!(parse_pax_time(b"-3"), Some((-3, 0)));
        for bad in [&b""[..], b".5", b"1.2.3", b"abc", b"1e9", b"-", b" 1"] {
            assert_eq!(parse_pax_time(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn numeric_fields_as_go_reads_them() {
        assert_eq!(numeric_field(b"0000644\0"), Some(0o644));
        assert_eq!(numeric_field(b"  644 \0\0"), Some(0o644));
        assert_eq!(numeric_field(b"\0\0\0\0\0\0\0\0"), Some(0));
        assert_eq!(numeric_field(b"        "), Some(0));
        assert_eq!(numeric_field(&[0x80, 0, 0, 0, 0, 0, 1, 0]), Some(256));
        assert_eq!(numeric_field(&[0xff; 8]), None);
        assert_eq!(numeric_field(b"0000z44\0"), None);
        assert_eq!(numeric_field(b"0000984\0"), None);
    }

    #[test]
    fn zero_blocks() {
        assert!(is_zero(&[0; 4096]));
        assert!(is_zero(&[0; 100]));
        assert!(is_zero(&[]));
        for i in [0, 63, 64, 4000, 4095] {
            let mut b = [0u8; 4096];
            b[i] = 1;
            assert!(!is_zero(&b), "{i}");
        }
    }
}
