//! Writing tar streams from directory trees, as Docker's `archive` package
//! writes them: `docker cp` out of a container, `docker export`, and the
//! layer `docker commit` makes of a container's writable layer.
//!
//! The tree is hostile input (a container wrote it). Every node is reached
//! through the descriptor of its parent directory and opened with
//! `O_NOFOLLOW`, so a symlink in the tree is archived as a symlink and never
//! makes the packer read anything outside the tree.
//!
//! The output is deterministic for a given tree: entries come depth first
//! with the names of each directory sorted bytewise (Go's `filepath.Walk`
//! order); headers are ustar with PAX records only where ustar cannot say
//! it (long names, large numbers, the `security.capability` xattr), numeric
//! owners and no user or group names, mtimes in whole seconds, no access or
//! change times. Modes carry the file type bits (`100644`, `40755`), as Go's
//! `tar.FileInfoHeader` writes them. Regular files that share an inode are
//! written once, then as hard links to the first name. Sockets are skipped.
//!
//! With [`PackOptions::whiteouts`] (a commit of an overlay upper directory)
//! overlay whiteouts become OCI whiteouts: a 0/0 character device `NAME`
//! becomes an empty file `.wh.NAME` (mode 0600), and a directory marked
//! `trusted.overlay.opaque=y` is followed by an empty `.wh..wh..opq` entry.

use std::collections::HashMap;
use std::ffi::{CStr, CString};
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use rustix::fs::{self as rfs, AtFlags, FileType, Mode, OFlags};
use rustix::io::Errno;

const BLOCK: usize = 512;
/// How deep a tree may nest: every level holds a directory descriptor.
pub const MAX_DEPTH: usize = 1024;

const PROC_SUPER_MAGIC: i64 = 0x9fa0;
const SYSFS_MAGIC: i64 = 0x6265_6572;
const CGROUP_SUPER_MAGIC: i64 = 0x0027_e0eb;
const CGROUP2_SUPER_MAGIC: i64 = 0x6367_7270;

/// Decides whether a node goes into the archive, by its archive name
/// (`etc/hostname`, no leading `./` or `/`, no trailing `/`). A directory
/// left out is left out with everything below it.
pub type Filter = Box<dyn FnMut(&[u8]) -> bool + Send>;

/// How a tree becomes a tar stream.
#[derive(Default)]
pub struct PackOptions {
    /// Convert overlay whiteouts into OCI whiteout entries (for layers).
    pub whiteouts: bool,
    /// Archive what is mounted below the tree's `/proc`, `/sys` and cgroup
    /// file systems too (never wanted: they are the kernel's, not files).
    pub pseudo_fs_contents: bool,
    /// Nodes to leave out; `None` keeps everything.
    pub filter: Option<Filter>,
}

impl std::fmt::Debug for PackOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PackOptions")
            .field("whiteouts", &self.whiteouts)
            .field("pseudo_fs_contents", &self.pseudo_fs_contents)
            .field("filter", &self.filter.is_some())
            .finish()
    }
}

/// A directory being walked: its descriptor, the names still to visit
/// (sorted, last first) and the archive name prefix of its children.
struct Frame {
    dir: OwnedFd,
    names: Vec<CString>,
    prefix: Vec<u8>,
}

/// Writes directory trees into a tar stream; see the module documentation.
pub struct Packer<W: Write> {
    out: W,
    opts: PackOptions,
    /// (device, inode) of regular files with several links → the archive
    /// name they were first written under.
    links: HashMap<(u64, u64), Vec<u8>>,
    buf: Vec<u8>,
    entries: u64,
}

impl<W: Write> std::fmt::Debug for Packer<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Packer").field("opts", &self.opts).field("entries", &self.entries).finish()
    }
}

impl<W: Write> Packer<W> {
    pub fn new(out: W, opts: PackOptions) -> Self {
        Self { out, opts, links: HashMap::new(), buf: vec![0; 256 << 10], entries: 0 }
    }

    /// How many entries were written so far.
    pub fn entries(&self) -> u64 {
        self.entries
    }

    /// Archives the node `name` of the directory `parent` as `archive_name`,
    /// with everything below it if it is a directory. A node that does not
    /// exist is an error (`NotFound`).
    pub fn add(&mut self, parent: BorrowedFd<'_>, name: &[u8], archive_name: &[u8]) -> io::Result<()> {
        let name = CString::new(name).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
        let arch = trim_name(archive_name).to_vec();
        match self.node(parent, &name, &arch)? {
            Node::Dir(fd) => self.walk(fd, child_prefix(&arch)),
            Node::Done => Ok(()),
            Node::Gone => Err(io::Error::from(io::ErrorKind::NotFound)),
        }
    }

    /// Archives the directory `dir` itself as `archive_name` (`.` gives the
    /// `./` entry Docker writes for `cp CONTAINER:/dir/.`), then its contents.
    pub fn add_dir(&mut self, dir: BorrowedFd<'_>, archive_name: &[u8]) -> io::Result<()> {
        let fd = reopen_dir(dir)?;
        let st = rfs::fstat(&fd)?;
        let arch = trim_name(archive_name).to_vec();
        self.dir_header(&fd, &st, &arch)?;
        if self.descend(&fd)? { self.walk(fd, child_prefix(&arch)) } else { Ok(()) }
    }

    /// Archives what the directory `dir` holds (not the directory itself),
    /// names prefixed with `prefix` (`""` for an export or a layer).
    pub fn add_contents(&mut self, dir: BorrowedFd<'_>, prefix: &[u8]) -> io::Result<()> {
        let fd = reopen_dir(dir)?;
        self.walk(fd, prefix.to_vec())
    }

    /// Ends the archive (two zero blocks, as Go's `tar.Writer.Close`).
    pub fn finish(mut self) -> io::Result<W> {
        self.out.write_all(&[0; 2 * BLOCK])?;
        self.out.flush()?;
        Ok(self.out)
    }

    fn walk(&mut self, top: OwnedFd, prefix: Vec<u8>) -> io::Result<()> {
        let names = list(&top)?;
        let mut stack = vec![Frame { dir: top, names, prefix }];
        while let Some(frame) = stack.last_mut() {
            let Some(name) = frame.names.pop() else {
                stack.pop();
                continue;
            };
            let mut arch = frame.prefix.clone();
            arch.extend_from_slice(name.as_bytes());
            if let Some(f) = self.opts.filter.as_mut()
                && !f(trim_name(&arch))
            {
                continue;
            }
            let parent = frame.dir.as_fd();
            if let Node::Dir(fd) = self.node(parent, &name, &arch)? {
                if stack.len() >= MAX_DEPTH {
                    return Err(io::Error::other(format!(
                        "{}: directories nest deeper than {MAX_DEPTH} levels",
                        String::from_utf8_lossy(&arch)
                    )));
                }
                let names = list(&fd)?;
                stack.push(Frame { dir: fd, names, prefix: child_prefix(&arch) });
            }
        }
        Ok(())
    }

    /// Writes one node; returns the directory to descend into, if any.
    fn node(&mut self, parent: BorrowedFd<'_>, name: &CStr, arch: &[u8]) -> io::Result<Node> {
        let st = match rfs::statat(parent, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => st,
            // Removed while we walk (a running container): nothing to archive.
            Err(Errno::NOENT) => return Ok(Node::Gone),
            Err(e) => return Err(e.into()),
        };
        match FileType::from_raw_mode(st.st_mode) {
            FileType::Directory => {
                let fd = match open_dir(parent, name) {
                    Ok(fd) => fd,
                    Err(Errno::NOENT) => return Ok(Node::Gone),
                    Err(e) => return Err(e.into()),
                };
                let st = rfs::fstat(&fd)?;
                self.dir_header(&fd, &st, arch)?;
                Ok(if self.descend(&fd)? { Node::Dir(fd) } else { Node::Done })
            }
            FileType::RegularFile => {
                let flags =
                    OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC;
                let fd = match rfs::openat(parent, name, flags, Mode::empty()) {
                    Ok(fd) => fd,
                    Err(Errno::NOENT) => return Ok(Node::Gone),
                    Err(e) => return Err(e.into()),
                };
                let st = rfs::fstat(&fd)?;
                if FileType::from_raw_mode(st.st_mode) != FileType::RegularFile {
                    // Replaced by something else since we looked: skip it.
                    return Ok(Node::Gone);
                }
                self.file(fd, &st, arch)?;
                Ok(Node::Done)
            }
            FileType::Symlink => {
                let target = match rfs::readlinkat(parent, name, Vec::new()) {
                    Ok(t) => t,
                    Err(Errno::NOENT) => return Ok(Node::Gone),
                    Err(e) => return Err(e.into()),
                };
                let mut h = Header::from_stat(&st, b'2', 0o120000);
                h.linkname = target.into_bytes();
                self.header(&h, arch, false)?;
                Ok(Node::Done)
            }
            FileType::CharacterDevice if self.opts.whiteouts && st.st_rdev == 0 => {
                let (dir, base) = split_name(arch);
                let mut wh = dir.to_vec();
                wh.extend_from_slice(b".wh.");
                wh.extend_from_slice(base);
                let mut h = Header::from_stat(&st, b'0', 0);
                h.mode = 0o600;
                self.header(&h, &wh, false)?;
                Ok(Node::Done)
            }
            t @ (FileType::CharacterDevice | FileType::BlockDevice | FileType::Fifo) => {
                let (flag, bits) = match t {
                    FileType::CharacterDevice => (b'3', 0o020000),
                    FileType::BlockDevice => (b'4', 0o060000),
                    _ => (b'6', 0o010000),
                };
                let mut h = Header::from_stat(&st, flag, bits);
                if flag != b'6' {
                    h.dev = Some((rfs::major(st.st_rdev) as u64, rfs::minor(st.st_rdev) as u64));
                }
                self.header(&h, arch, false)?;
                Ok(Node::Done)
            }
            // Sockets (and anything unknown) have no tar form: Docker skips them too.
            _ => Ok(Node::Done),
        }
    }

    fn dir_header(&mut self, fd: &OwnedFd, st: &rfs::Stat, arch: &[u8]) -> io::Result<()> {
        let h = Header::from_stat(st, b'5', 0o040000);
        self.header(&h, arch, true)?;
        if self.opts.whiteouts {
            let mut v = [0u8; 4];
            if let Ok(1) = rfs::fgetxattr(fd, c"trusted.overlay.opaque", &mut v)
                && v[0] == b'y'
            {
                let mut opq = Header { flag: b'0', mode: h.mode & 0o777, ..Header::default() };
                opq.uid = h.uid;
                opq.gid = h.gid;
                let mut name = child_prefix(arch);
                name.extend_from_slice(b".wh..wh..opq");
                self.header(&opq, &name, false)?;
            }
        }
        Ok(())
    }

    /// Whether to archive what the directory holds (not a kernel file system).
    fn descend(&self, fd: &OwnedFd) -> io::Result<bool> {
        if self.opts.pseudo_fs_contents {
            return Ok(true);
        }
        let magic = rfs::fstatfs(fd)?.f_type as i64;
        Ok(!matches!(magic, PROC_SUPER_MAGIC | SYSFS_MAGIC | CGROUP_SUPER_MAGIC | CGROUP2_SUPER_MAGIC))
    }

    fn file(&mut self, fd: OwnedFd, st: &rfs::Stat, arch: &[u8]) -> io::Result<()> {
        let key = (st.st_dev, st.st_ino);
        if st.st_nlink > 1 {
            if let Some(first) = self.links.get(&key) {
                let mut h = Header::from_stat(st, b'1', 0o100000);
                h.linkname = first.clone();
                return self.header(&h, arch, false);
            }
            self.links.insert(key, arch.to_vec());
        }
        let mut h = Header::from_stat(st, b'0', 0o100000);
        h.size = st.st_size as u64;
        let mut cap = vec![0u8; 256];
        if let Ok(n) = rfs::fgetxattr(&fd, c"security.capability", &mut cap) {
            cap.truncate(n);
            h.pax.push((b"SCHILY.xattr.security.capability".to_vec(), cap));
        }
        self.header(&h, arch, false)?;
        // Exactly `size` bytes: a file that shrank meanwhile is padded with
        // zeros, one that grew is cut (a tar entry cannot change its size).
        let mut f = File::from(fd);
        let mut left = h.size;
        while left > 0 {
            let want = self.buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
            let n = match f.read(&mut self.buf[..want]) {
                Ok(0) => {
                    self.buf[..want].fill(0);
                    want
                }
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            self.out.write_all(&self.buf[..n])?;
            left -= n as u64;
        }
        let pad = (BLOCK - (h.size % BLOCK as u64) as usize) % BLOCK;
        self.out.write_all(&[0; BLOCK][..pad])
    }

    /// Writes a header (preceded by a PAX header when ustar cannot hold it).
    fn header(&mut self, h: &Header, arch: &[u8], dir: bool) -> io::Result<()> {
        let mut name = arch.to_vec();
        if dir && !name.ends_with(b"/") {
            name.push(b'/');
        }
        let mut pax: Vec<(Vec<u8>, Vec<u8>)> = h.pax.clone();
        let mut block = [0u8; BLOCK];
        match split_ustar(&name) {
            Some((prefix, base)) => {
                block[..base.len()].copy_from_slice(base);
                block[345..345 + prefix.len()].copy_from_slice(prefix);
            }
            None => {
                pax.push((b"path".to_vec(), name.clone()));
                let cut = &name[..name.len().min(100)];
                block[..cut.len()].copy_from_slice(cut);
            }
        }
        if h.linkname.len() > 100 {
            pax.push((b"linkpath".to_vec(), h.linkname.clone()));
            block[157..257].copy_from_slice(&h.linkname[..100]);
        } else {
            block[157..157 + h.linkname.len()].copy_from_slice(&h.linkname);
        }
        octal(&mut block[100..108], h.mode, None, &mut pax);
        octal(&mut block[108..116], h.uid, Some("uid"), &mut pax);
        octal(&mut block[116..124], h.gid, Some("gid"), &mut pax);
        octal(&mut block[124..136], h.size, Some("size"), &mut pax);
        octal(&mut block[136..148], h.mtime, Some("mtime"), &mut pax);
        block[156] = h.flag;
        block[257..263].copy_from_slice(b"ustar\0");
        block[263..265].copy_from_slice(b"00");
        if let Some((major, minor)) = h.dev {
            octal(&mut block[329..337], major, None, &mut pax);
            octal(&mut block[337..345], minor, None, &mut pax);
        } else {
            octal(&mut block[329..337], 0, None, &mut pax);
            octal(&mut block[337..345], 0, None, &mut pax);
        }
        if !pax.is_empty() {
            self.pax_header(&name, pax)?;
        }
        checksum(&mut block);
        self.out.write_all(&block)?;
        self.entries += 1;
        Ok(())
    }

    /// A PAX extended header for the next entry, as Go writes it: named
    /// `DIR/PaxHeaders.0/BASE`, records sorted by key.
    fn pax_header(&mut self, name: &[u8], mut records: Vec<(Vec<u8>, Vec<u8>)>) -> io::Result<()> {
        records.sort();
        let mut data = Vec::new();
        for (k, v) in &records {
            let body = k.len() + v.len() + 3; // ' ', '=', '\n'
            let mut len = body + digits(body);
            if digits(len) != digits(body) {
                len = body + digits(len);
            }
            data.extend_from_slice(len.to_string().as_bytes());
            data.push(b' ');
            data.extend_from_slice(k);
            data.push(b'=');
            data.extend_from_slice(v);
            data.push(b'\n');
        }
        let (dir, base) = split_name(trim_slash(name));
        let mut pname = dir.to_vec();
        pname.extend_from_slice(b"PaxHeaders.0/");
        pname.extend_from_slice(base);
        let mut block = [0u8; BLOCK];
        let cut = &pname[..pname.len().min(100)];
        block[..cut.len()].copy_from_slice(cut);
        let mut none = Vec::new();
        octal(&mut block[100..108], 0, None, &mut none);
        octal(&mut block[108..116], 0, None, &mut none);
        octal(&mut block[116..124], 0, None, &mut none);
        octal(&mut block[124..136], data.len() as u64, None, &mut none);
        octal(&mut block[136..148], 0, None, &mut none);
        block[156] = b'x';
        block[257..263].copy_from_slice(b"ustar\0");
        block[263..265].copy_from_slice(b"00");
        octal(&mut block[329..337], 0, None, &mut none);
        octal(&mut block[337..345], 0, None, &mut none);
        checksum(&mut block);
        self.out.write_all(&block)?;
        self.out.write_all(&data)?;
        let pad = (BLOCK - data.len() % BLOCK) % BLOCK;
        self.out.write_all(&[0; BLOCK][..pad])
    }
}

enum Node {
    /// A directory whose contents are to be archived next.
    Dir(OwnedFd),
    Done,
    /// It vanished (or changed type) while we looked.
    Gone,
}

/// The fields of one entry's header.
#[derive(Default, Clone)]
struct Header {
    flag: u8,
    mode: u64,
    uid: u64,
    gid: u64,
    size: u64,
    mtime: u64,
    linkname: Vec<u8>,
    dev: Option<(u64, u64)>,
    pax: Vec<(Vec<u8>, Vec<u8>)>,
}

impl Header {
    /// Owner, mode (permissions, setuid/setgid/sticky, and `type_bits`) and
    /// mtime in whole seconds (before the epoch: the epoch) of `st`.
    fn from_stat(st: &rfs::Stat, flag: u8, type_bits: u64) -> Self {
        Header {
            flag,
            mode: (st.st_mode as u64 & 0o7777) | type_bits,
            uid: st.st_uid as u64,
            gid: st.st_gid as u64,
            mtime: u64::try_from(st.st_mtime).unwrap_or(0),
            ..Header::default()
        }
    }
}

/// Writes `v` as zero-padded octal with a terminating NUL; a value that
/// does not fit goes into a PAX record named `key` (the field gets 0).
fn octal(field: &mut [u8], v: u64, key: Option<&str>, pax: &mut Vec<(Vec<u8>, Vec<u8>)>) {
    let width = field.len() - 1;
    let s = format!("{v:0width$o}");
    if s.len() > width {
        if let Some(k) = key {
            pax.push((k.as_bytes().to_vec(), v.to_string().into_bytes()));
        }
        field[..width].fill(b'0');
    } else {
        field[..width].copy_from_slice(s.as_bytes());
    }
    field[width] = 0;
}

fn checksum(block: &mut [u8; BLOCK]) {
    block[148..156].fill(b' ');
    let sum: u64 = block.iter().map(|&b| u64::from(b)).sum();
    let s = format!("{sum:06o}");
    block[148..154].copy_from_slice(&s.as_bytes()[s.len() - 6..]);
    block[154] = 0;
    block[155] = b' ';
}

fn digits(n: usize) -> usize {
    n.to_string().len()
}

/// Splits a name into ustar's prefix (155 bytes) and name (100 bytes)
/// fields at a `/`, as Go's `splitUSTARPath`; `None` when it cannot.
fn split_ustar(name: &[u8]) -> Option<(&[u8], &[u8])> {
    if name.len() <= 100 {
        return Some((&[], name));
    }
    let limit = name.len().min(156);
    let i = name[..limit].iter().rposition(|&b| b == b'/')?;
    let (prefix, base) = (&name[..i], &name[i + 1..]);
    (i > 0 && !base.is_empty() && base.len() <= 100 && prefix.len() <= 155).then_some((prefix, base))
}

/// `a/b/c` → (`a/b/`, `c`).
fn split_name(name: &[u8]) -> (&[u8], &[u8]) {
    match name.iter().rposition(|&b| b == b'/') {
        Some(i) => (&name[..=i], &name[i + 1..]),
        None => (&[], name),
    }
}

fn trim_slash(name: &[u8]) -> &[u8] {
    let mut n = name;
    while n.len() > 1 && n.ends_with(b"/") {
        n = &n[..n.len() - 1];
    }
    n
}

/// An archive name without leading `/` and trailing `/`.
fn trim_name(name: &[u8]) -> &[u8] {
    let mut n = name;
    while let Some(rest) = n.strip_prefix(b"/") {
        n = rest;
    }
    trim_slash(n)
}

/// The prefix of a directory's children: `dir/` (`./` for `.`).
fn child_prefix(dir: &[u8]) -> Vec<u8> {
    let mut p = trim_name(dir).to_vec();
    if !p.is_empty() {
        p.push(b'/');
    }
    p
}

fn open_dir(parent: BorrowedFd<'_>, name: &CStr) -> rustix::io::Result<OwnedFd> {
    rfs::openat(
        parent,
        name,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )
}

fn reopen_dir(dir: BorrowedFd<'_>) -> io::Result<OwnedFd> {
    Ok(open_dir(dir, c".")?)
}

/// The names in a directory, sorted bytewise, last first (to pop in order).
fn list(dir: &OwnedFd) -> io::Result<Vec<CString>> {
    let mut d = rfs::Dir::new(reopen_dir(dir.as_fd())?)?;
    let mut names = Vec::new();
    while let Some(ent) = d.read() {
        let ent = ent?;
        let n = ent.file_name();
        if n != c"." && n != c".." {
            names.push(n.to_owned());
        }
    }
    names.sort_by(|a, b| b.as_bytes().cmp(a.as_bytes()));
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn pack(dir: &std::path::Path, opts: PackOptions) -> Vec<u8> {
        let root = rfs::open(dir, OFlags::RDONLY | OFlags::DIRECTORY, Mode::empty()).unwrap();
        let mut p = Packer::new(Vec::new(), opts);
        p.add_contents(root.as_fd(), b"").unwrap();
        p.finish().unwrap()
    }

    fn names(tar: &[u8]) -> Vec<(String, u8, u32)> {
        let mut a = tar::Archive::new(tar);
        a.entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                let h = e.header();
                (
                    String::from_utf8_lossy(&e.path_bytes()).into_owned(),
                    h.entry_type().as_byte(),
                    h.mode().unwrap(),
                )
            })
            .collect()
    }

    #[test]
    fn trees_come_out_sorted_with_types_in_the_mode() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("b/c")).unwrap();
        std::fs::write(d.path().join("b/c/f"), b"hello").unwrap();
        std::fs::write(d.path().join("a-b"), b"x").unwrap();
        symlink("/etc/passwd", d.path().join("l")).unwrap();
        std::fs::hard_link(d.path().join("a-b"), d.path().join("z")).unwrap();
        let tar = pack(d.path(), PackOptions::default());
        let got = names(&tar);
        let want: Vec<(&str, u8, u32)> = vec![
            ("a-b", b'0', 0o100644),
            ("b/", b'5', 0o040755),
            ("b/c/", b'5', 0o040755),
            ("b/c/f", b'0', 0o100644),
            ("l", b'2', 0o120777),
            ("z", b'1', 0o100644),
        ];
        let got: Vec<(&str, u8, u32)> = got.iter().map(|(n, t, m)| (n.as_str(), *t, *m & !0o022)).collect();
        let want: Vec<(&str, u8, u32)> = want.into_iter().map(|(n, t, m)| (n, t, m & !0o022)).collect();
        assert_eq!(got, want);
        // Deterministic: the same tree packs to the same bytes.
        assert_eq!(tar, pack(d.path(), PackOptions::default()));
        // The symlink is archived, never followed.
        let mut a = tar::Archive::new(&tar[..]);
        for e in a.entries().unwrap() {
            let e = e.unwrap();
            if e.path_bytes().as_ref() == b"l" {
                assert_eq!(e.link_name_bytes().unwrap().as_ref(), b"/etc/passwd");
                assert_eq!(e.size(), 0);
            }
        }
    }

    #[test]
    fn long_names_use_pax_and_empty_trees_are_two_blocks() {
        let d = tempfile::tempdir().unwrap();
        let long = "n".repeat(150);
        std::fs::write(d.path().join(&long), b"").unwrap();
        let tar = pack(d.path(), PackOptions::default());
        assert_eq!(names(&tar)[0].0, long);
        let e = tempfile::tempdir().unwrap();
        assert_eq!(pack(e.path(), PackOptions::default()), vec![0u8; 1024]);
    }

    #[test]
    fn filters_leave_out_subtrees() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("etc/x")).unwrap();
        std::fs::write(d.path().join("etc/hostname"), b"").unwrap();
        std::fs::write(d.path().join("keep"), b"").unwrap();
        let opts = PackOptions {
            filter: Some(Box::new(|n: &[u8]| n != b"etc/hostname" && n != b"etc/x")),
            ..Default::default()
        };
        let got: Vec<String> = names(&pack(d.path(), opts)).into_iter().map(|n| n.0).collect();
        assert_eq!(got, ["etc/", "keep"]);
    }

    fn tar_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (name, data) in entries {
            let mut h = tar::Header::new_ustar();
            if name.ends_with('/') {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_mode(0o755);
            } else {
                h.set_mode(0o644);
            }
            h.set_size(data.len() as u64);
            b.append_data(&mut h, name, *data).unwrap();
        }
        b.into_inner().unwrap()
    }

    fn open(p: &std::path::Path) -> OwnedFd {
        rfs::open(p, OFlags::RDONLY | OFlags::DIRECTORY, Mode::empty()).unwrap()
    }

    #[test]
    fn unpack_places_rebases_and_stays_inside() {
        use super::super::{UnpackOptions, unpack};
        let d = tempfile::tempdir().unwrap();
        let root = d.path().join("root");
        std::fs::create_dir_all(root.join("tmp")).unwrap();
        symlink("/", root.join("tmp/up")).unwrap();
        symlink("../../../../..", root.join("tmp/dots")).unwrap();
        // Into a destination reached through a symlink to "/": the root's own top.
        let tar = tar_of(&[("src/", b""), ("src/f", b"data"), (".wh.x", b"")]);
        let opts = UnpackOptions {
            dest: b"tmp/up".to_vec(),
            rebase: Some((b"src".to_vec(), b"dst".to_vec())),
            ..Default::default()
        };
        assert_eq!(unpack(&tar[..], open(&root).as_fd(), opts).unwrap(), 3);
        assert_eq!(std::fs::read(root.join("dst/f")).unwrap(), b"data");
        // `docker cp CONTAINER:/dir/. new`: the `./` entries become `new/`.
        let mut b = tar::Builder::new(Vec::new());
        for (name, data) in [("./", &b""[..]), ("./sub/", b""), ("./sub/f", b"dot")] {
            let mut h = tar::Header::new_ustar();
            h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
            h.set_entry_type(if name.ends_with('/') {
                tar::EntryType::Directory
            } else {
                tar::EntryType::Regular
            });
            h.set_mode(0o755);
            h.set_size(data.len() as u64);
            h.set_cksum();
            b.append(&h, data).unwrap();
        }
        let tar = b.into_inner().unwrap();
        let opts = UnpackOptions { rebase: Some((b".".to_vec(), b"flat".to_vec())), ..Default::default() };
        unpack(&tar[..], open(&root).as_fd(), opts).unwrap();
        assert_eq!(std::fs::read(root.join("flat/sub/f")).unwrap(), b"dot");
        // No whiteouts unless asked: `.wh.x` is a file.
        assert!(root.join(".wh.x").is_file());
        // Through `../../..`: still inside.
        let tar = tar_of(&[("escaped", b"no")]);
        let opts = UnpackOptions { dest: b"tmp/dots".to_vec(), ..Default::default() };
        unpack(&tar[..], open(&root).as_fd(), opts).unwrap();
        assert!(root.join("escaped").is_file());
        assert!(!d.path().join("escaped").exists());
        // An entry climbing out of the destination fails.
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(0);
        h.as_gnu_mut().unwrap().name[..6].copy_from_slice(b"../out");
        h.set_cksum();
        b.append(&h, &b""[..]).unwrap();
        let tar = b.into_inner().unwrap();
        let opts = UnpackOptions { dest: b"tmp".to_vec(), ..Default::default() };
        assert!(unpack(&tar[..], open(&root).as_fd(), opts).is_err());
        assert!(!root.join("out").exists());
    }

    #[test]
    fn unpack_can_refuse_to_replace_dirs_with_files() {
        use super::super::{LayerError, UnpackOptions, unpack};
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("d")).unwrap();
        std::fs::write(d.path().join("f"), b"").unwrap();
        let strict = || UnpackOptions { no_overwrite_dir_non_dir: true, ..Default::default() };
        let e = unpack(&tar_of(&[("d", b"x")])[..], open(d.path()).as_fd(), strict()).unwrap_err();
        assert!(matches!(e, LayerError::Overwrite(_)), "{e}");
        let e = unpack(&tar_of(&[("f/", b"")])[..], open(d.path()).as_fd(), strict()).unwrap_err();
        assert!(e.to_string().starts_with("cannot overwrite non-directory \"/f\""), "{e}");
        unpack(&tar_of(&[("d", b"x")])[..], open(d.path()).as_fd(), UnpackOptions::default()).unwrap();
        assert!(d.path().join("d").is_file());
    }

    #[test]
    fn whiteouts_round_trip_through_a_layer() {
        if !rustix::process::geteuid().is_root() {
            return;
        }
        let d = tempfile::tempdir().unwrap();
        let upper = d.path().join("upper");
        std::fs::create_dir_all(upper.join("opq/in")).unwrap();
        rfs::mknodat(open(&upper).as_fd(), "gone", FileType::CharacterDevice, Mode::empty(), 0).unwrap();
        rfs::setxattr(upper.join("opq"), c"trusted.overlay.opaque", b"y", rfs::XattrFlags::empty()).unwrap();
        let tar = pack(&upper, PackOptions { whiteouts: true, ..Default::default() });
        let got: Vec<String> = names(&tar).into_iter().map(|n| n.0).collect();
        assert_eq!(got, [".wh.gone", "opq/", "opq/.wh..wh..opq", "opq/in/"]);
        let out = d.path().join("out");
        std::fs::create_dir(&out).unwrap();
        super::super::apply(&tar[..], &out).unwrap();
        let st = rfs::lstat(out.join("gone")).unwrap();
        assert_eq!(FileType::from_raw_mode(st.st_mode), FileType::CharacterDevice);
        let mut v = [0u8; 1];
        assert_eq!(rfs::getxattr(out.join("opq"), c"trusted.overlay.opaque", &mut v).unwrap(), 1);
        // And back: the same tar again.
        assert_eq!(pack(&out, PackOptions { whiteouts: true, ..Default::default() }).len(), tar.len());
    }

    #[test]
    fn ustar_split() {
        let name = format!("{}/{}", "d".repeat(120), "f".repeat(20));
        let (p, b) = split_ustar(name.as_bytes()).unwrap();
        assert_eq!((p.len(), b.len()), (120, 20));
        assert!(split_ustar("x".repeat(101).as_bytes()).is_none());
    }
}
