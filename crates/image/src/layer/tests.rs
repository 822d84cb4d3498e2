//! Tests of decompression and extraction with real tars (built with the
//! `tar` crate) into real directories.

use std::fs;
use std::io::{BufReader, Read, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tar::{EntryType, Header};

use super::{Compression, LayerError, apply, apply_pipelined, decompress, sniff};

const MTIME: u64 = 1_600_000_000;

/// Whether the test may run; tests that need root (mknod, chown to other
/// ids, trusted.* xattrs) skip without it, unless `CI=true`.
fn root(test: &str) -> bool {
    if rustix::process::geteuid().is_root() {
        return true;
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{test} needs root (mknod, chown, trusted.* xattrs) and CI=true: not skipping");
    }
    eprintln!("skipping {test}: needs root");
    false
}

/// Our own ids: entries owned by them can be extracted without root.
fn me() -> (u64, u64) {
    (rustix::process::geteuid().as_raw().into(), rustix::process::getegid().as_raw().into())
}

/// A tar under construction, with raw control of names (the `tar` crate's
/// own setters refuse the hostile ones we need).
struct Tar(tar::Builder<Vec<u8>>);

impl Tar {
    fn new() -> Self {
        Tar(tar::Builder::new(Vec::new()))
    }

    fn header(kind: EntryType, name: &[u8], size: u64) -> Header {
        let mut h = Header::new_gnu();
        h.set_entry_type(kind);
        set_name(&mut h, name);
        h.set_size(size);
        h.set_mode(if kind == EntryType::Directory { 0o755 } else { 0o644 });
        let (uid, gid) = me();
        h.set_uid(uid);
        h.set_gid(gid);
        h.set_mtime(MTIME);
        h
    }

    /// Appends `h` (checksum fixed up) followed by `data`. Names longer than
    /// the header field go in a PAX `path` record.
    fn raw(&mut self, mut h: Header, data: &[u8]) -> &mut Self {
        h.set_cksum();
        self.0.append(&h, data).unwrap();
        self
    }

    fn entry(&mut self, kind: EntryType, name: &str, data: &[u8], f: impl FnOnce(&mut Header)) -> &mut Self {
        if name.len() > 100 {
            self.pax(&[("path", name.as_bytes())]);
        }
        let mut h = Self::header(kind, &name.as_bytes()[..name.len().min(100)], data.len() as u64);
        f(&mut h);
        self.raw(h, data)
    }

    fn file(&mut self, name: &str, data: &[u8]) -> &mut Self {
        self.entry(EntryType::Regular, name, data, |_| {})
    }

    fn dir(&mut self, name: &str) -> &mut Self {
        self.entry(EntryType::Directory, name, b"", |_| {})
    }

    fn symlink(&mut self, name: &str, target: &str) -> &mut Self {
        self.entry(EntryType::Symlink, name, b"", |h| h.set_link_name_literal(target).unwrap())
    }

    fn hardlink(&mut self, name: &str, target: &str) -> &mut Self {
        self.entry(EntryType::Link, name, b"", |h| h.set_link_name_literal(target).unwrap())
    }

    fn pax(&mut self, records: &[(&str, &[u8])]) -> &mut Self {
        self.0.append_pax_extensions(records.iter().copied()).unwrap();
        self
    }

    fn bytes(&mut self) -> Vec<u8> {
        let b = std::mem::replace(&mut self.0, tar::Builder::new(Vec::new()));
        b.into_inner().unwrap()
    }
}

fn set_name(h: &mut Header, name: &[u8]) {
    let field = &mut h.as_old_mut().name;
    field.fill(0);
    field[..name.len()].copy_from_slice(name);
}

/// A tempdir with the extraction target `dest` and, beside it, `outside/`
/// holding a sentinel file that no layer may touch.
struct Fx {
    tmp: tempfile::TempDir,
    dest: PathBuf,
    sentinel_mode: u32,
}

impl Fx {
    fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let dest = tmp.path().join("dest");
        fs::create_dir(&dest).unwrap();
        fs::create_dir(tmp.path().join("outside")).unwrap();
        let sentinel = tmp.path().join("outside/sentinel");
        fs::write(&sentinel, b"untouched").unwrap();
        let sentinel_mode = fs::metadata(&sentinel).unwrap().mode();
        Fx { tmp, dest, sentinel_mode }
    }

    fn outside(&self) -> PathBuf {
        self.tmp.path().join("outside")
    }

    fn p(&self, rel: &str) -> PathBuf {
        self.dest.join(rel)
    }

    fn apply(&self, tar: &[u8]) -> Result<super::Applied, LayerError> {
        apply(tar, &self.dest)
    }

    /// Nothing appeared or changed outside `dest`.
    fn assert_outside_untouched(&self) {
        let mut names: Vec<_> =
            fs::read_dir(self.tmp.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        names.sort();
        assert_eq!(names, ["dest", "outside"], "new entries beside dest");
        let inside: Vec<_> = fs::read_dir(self.outside()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(inside, ["sentinel"], "new entries in outside/");
        let sentinel = self.outside().join("sentinel");
        assert_eq!(fs::read(&sentinel).unwrap(), b"untouched");
        let md = fs::symlink_metadata(&sentinel).unwrap();
        assert_eq!(md.nlink(), 1, "sentinel got hard-linked");
        assert_eq!(md.mode(), self.sentinel_mode, "sentinel mode changed");
    }
}

fn lgetxattr(path: &Path, name: &str) -> Option<Vec<u8>> {
    let mut buf = [0u8; 256];
    let n = rustix::fs::lgetxattr(path, name, &mut buf).ok()?;
    Some(buf[..n].to_vec())
}

// ---------------------------------------------------------------------------
// Compression

fn sample_tar() -> Vec<u8> {
    let mut t = Tar::new();
    t.dir("d/").file("d/hello.txt", b"hello world\n").file("big", &vec![7u8; 300_000]);
    t.bytes()
}

fn compressed(c: Compression, data: &[u8]) -> Vec<u8> {
    match c {
        Compression::None => data.to_vec(),
        Compression::Gzip => {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(data).unwrap();
            e.finish().unwrap()
        }
        Compression::Zstd => zstd::encode_all(data, 3).unwrap(),
        Compression::Bzip2 => {
            let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
            e.write_all(data).unwrap();
            e.finish().unwrap()
        }
        Compression::Xz => {
            let mut e = liblzma::write::XzEncoder::new(Vec::new(), 1);
            e.write_all(data).unwrap();
            e.finish().unwrap()
        }
    }
}

const ALL: [Compression; 5] =
    [Compression::None, Compression::Gzip, Compression::Zstd, Compression::Bzip2, Compression::Xz];

#[test]
fn sniff_recognises_magic_bytes() {
    let tar = sample_tar();
    for c in ALL {
        assert_eq!(sniff(&compressed(c, &tar)), c, "{c}");
    }
    assert_eq!(sniff(b""), Compression::None);
    assert_eq!(sniff(b"\x1f"), Compression::None);
    // A tar whose first member is named "BZh..." is not bzip2.
    assert_eq!(sniff(b"BZhello\0\0\0"), Compression::None);
}

#[test]
fn decompress_all_compressions() {
    let tar = sample_tar();
    for c in ALL {
        let blob = compressed(c, &tar);
        // Default buffering, and a 1-byte buffer that forces the sniffed
        // head to be read out and chained back.
        for cap in [8192, 1] {
            let (got, mut r) = decompress(BufReader::with_capacity(cap, &blob[..])).unwrap();
            assert_eq!(got, c);
            let mut out = Vec::new();
            r.read_to_end(&mut out).unwrap();
            assert!(out == tar, "{c} with buffer {cap}: round trip differs");
        }
    }
    let (c, mut r) = decompress(&b""[..]).unwrap();
    assert_eq!(c, Compression::None);
    assert_eq!(r.read(&mut [0; 8]).unwrap(), 0);
}

#[test]
fn truncated_compressed_streams_fail() {
    let tar = sample_tar();
    for c in [Compression::Gzip, Compression::Zstd, Compression::Bzip2, Compression::Xz] {
        let blob = compressed(c, &tar);
        let cut = &blob[..blob.len() / 2];
        let (_, mut r) = decompress(cut).unwrap();
        let mut out = Vec::new();
        assert!(r.read_to_end(&mut out).is_err(), "{c}: truncated stream read without error");
        // Cut just before the end too (gzip's trailer, zstd's checksum...).
        let cut = &blob[..blob.len() - 4];
        let (_, mut r) = decompress(cut).unwrap();
        assert!(r.read_to_end(&mut Vec::new()).is_err(), "{c}: stream missing its tail read without error");
    }
}

#[test]
fn apply_through_truncated_gzip_fails() {
    let fx = Fx::new();
    let tar = sample_tar();
    let gz = compressed(Compression::Gzip, &tar);
    let (_, r) = decompress(&gz[..gz.len() * 2 / 3]).unwrap();
    let err = apply(r, &fx.dest).unwrap_err();
    eprintln!("{err}");
    assert!(
        matches!(err, LayerError::Stream { .. } | LayerError::Truncated { .. }),
        "unexpected error: {err}"
    );
    fx.assert_outside_untouched();
}

#[test]
fn apply_through_every_compression() {
    let tar = sample_tar();
    for c in ALL {
        let fx = Fx::new();
        let blob = compressed(c, &tar);
        let (_, r) = decompress(&blob[..]).unwrap();
        let applied = apply(r, &fx.dest).unwrap();
        assert_eq!(applied.diff_id, crate::digest::of(&tar), "{c}");
        assert_eq!(applied.tar_size, tar.len() as u64);
        assert_eq!(fs::read(fx.p("d/hello.txt")).unwrap(), b"hello world\n");
    }
}

#[test]
fn pipelined_apply_matches_apply() {
    let mut tar = sample_tar();
    tar.resize(tar.len() + 3 * 1024 * 1024 + 17, 0); // trailing bytes span chunks
    for c in ALL {
        let fx = Fx::new();
        let blob = compressed(c, &tar);
        let (_, r) = decompress(&blob[..]).unwrap();
        let applied = apply_pipelined(r, &fx.dest).unwrap();
        assert_eq!(applied.diff_id, crate::digest::of(&tar), "{c}");
        assert_eq!(applied.tar_size, tar.len() as u64);
        assert_eq!(applied.unpacked_size, 12 + 300_000);
        assert_eq!(fs::read(fx.p("big")).unwrap(), vec![7u8; 300_000]);
    }

    // A broken stream surfaces as the same error.
    let fx = Fx::new();
    let gz = compressed(Compression::Gzip, &sample_tar());
    let (_, r) = decompress(&gz[..gz.len() * 2 / 3]).unwrap();
    let err = apply_pipelined(r, &fx.dest).unwrap_err();
    eprintln!("{err}");
    assert!(matches!(err, LayerError::Stream { .. } | LayerError::Truncated { .. }), "{err}");

    // A hostile first entry stops the reader thread without reading on
    // (the source here would never end).
    let fx = Fx::new();
    let head = Tar::new().file("../escape", b"x").bytes();
    let endless = (&head[..512 + 512]).chain(std::io::repeat(0xa5));
    let err = apply_pipelined(endless, &fx.dest).unwrap_err();
    assert!(matches!(err, LayerError::PathEscapes { .. }), "{err}");
    fx.assert_outside_untouched();
}

// ---------------------------------------------------------------------------
// Normal extraction

#[test]
fn diff_id_covers_the_whole_stream() {
    let fx = Fx::new();
    let mut tar = sample_tar();
    // Tar writers pad to a 10 KiB record; the padding is part of the DiffID.
    tar.resize(tar.len().next_multiple_of(10240) + 10240, 0);
    let applied = fx.apply(&tar).unwrap();
    assert_eq!(applied.diff_id, crate::digest::of(&tar));
    assert_eq!(applied.tar_size, tar.len() as u64);
    assert_eq!(applied.unpacked_size, 12 + 300_000);
}

#[test]
fn extracts_files_dirs_links_and_fifos() {
    let fx = Fx::new();
    let tar = Tar::new()
        .entry(EntryType::Directory, "./etc/", b"", |h| {
            h.set_mode(0o750);
            h.set_mtime(MTIME + 1);
        })
        .entry(EntryType::Regular, "./etc/motd", b"hi\n", |h| {
            h.set_mode(0o640);
            h.set_mtime(MTIME + 2);
        })
        .entry(EntryType::Symlink, "etc/motd.link", b"", |h| {
            h.set_link_name_literal("motd").unwrap();
            h.set_mtime(MTIME + 3);
        })
        .hardlink("etc/motd.hard", "/etc/motd")
        .entry(EntryType::Fifo, "/run.fifo", b"", |h| h.set_mode(0o600))
        .file("usr/lib/deep/implicit.txt", b"parents made on the way")
        .file("empty", b"")
        .bytes();
    let applied = fx.apply(&tar).unwrap();
    assert_eq!(applied.unpacked_size, 3 + 23);

    let etc = fs::symlink_metadata(fx.p("etc")).unwrap();
    assert!(etc.is_dir());
    assert_eq!(etc.mode() & 0o7777, 0o750);
    assert_eq!(etc.mtime(), MTIME as i64 + 1, "directory mtime set after its children");

    let motd = fs::symlink_metadata(fx.p("etc/motd")).unwrap();
    assert_eq!(fs::read(fx.p("etc/motd")).unwrap(), b"hi\n");
    assert_eq!(motd.mode() & 0o7777, 0o640);
    assert_eq!(motd.mtime(), MTIME as i64 + 2);

    let link = fs::symlink_metadata(fx.p("etc/motd.link")).unwrap();
    assert!(link.file_type().is_symlink());
    assert_eq!(fs::read_link(fx.p("etc/motd.link")).unwrap(), Path::new("motd"));
    assert_eq!(link.mtime(), MTIME as i64 + 3);

    let hard = fs::symlink_metadata(fx.p("etc/motd.hard")).unwrap();
    assert_eq!(hard.ino(), motd.ino());
    assert_eq!(hard.nlink(), 2);

    let fifo = fs::symlink_metadata(fx.p("run.fifo")).unwrap();
    assert!(fifo.file_type().is_fifo());
    assert_eq!(fifo.mode() & 0o7777, 0o600);
    assert_eq!(fifo.mtime(), MTIME as i64);

    let deep = fs::symlink_metadata(fx.p("usr/lib/deep")).unwrap();
    assert!(deep.is_dir());
    assert_eq!(deep.mode() & 0o7777, 0o755);
    assert_eq!(fs::read(fx.p("usr/lib/deep/implicit.txt")).unwrap(), b"parents made on the way");
    assert_eq!(fs::metadata(fx.p("empty")).unwrap().len(), 0);
    fx.assert_outside_untouched();
}

#[test]
fn empty_numeric_fields_read_as_zero() {
    // Some writers leave mode/mtime/device fields empty (all NUL); Go, and
    // so Docker, reads them as 0.
    let fx = Fx::new();
    let mut h = Tar::header(EntryType::Regular, b"f", 1);
    h.as_old_mut().mode = [0; 8];
    h.as_old_mut().mtime = [0; 12];
    let mut fifo = Tar::header(EntryType::Fifo, b"p", 0);
    fifo.as_gnu_mut().unwrap().dev_major = [0; 8];
    fifo.as_gnu_mut().unwrap().dev_minor = [b' '; 8];
    fx.apply(&Tar::new().raw(h, b"x").raw(fifo, b"").bytes()).unwrap();
    let md = fs::symlink_metadata(fx.p("f")).unwrap();
    assert_eq!((md.mode() & 0o7777, md.mtime()), (0, 0));
    assert!(fs::symlink_metadata(fx.p("p")).unwrap().file_type().is_fifo());
}

#[test]
fn long_names_and_pax_mtime() {
    let fx = Fx::new();
    let long = format!("{}/file", "sub".repeat(60));
    let tar =
        Tar::new().file(&long, b"long").pax(&[("mtime", b"1600000123.25")]).file("precise", b"x").bytes();
    fx.apply(&tar).unwrap();
    assert_eq!(fs::read(fx.p(&long)).unwrap(), b"long");
    let md = fs::metadata(fx.p("precise")).unwrap();
    assert_eq!((md.mtime(), md.mtime_nsec()), (1_600_000_123, 250_000_000));
}

#[test]
fn sparse_files_stay_sparse() {
    let fx = Fx::new();
    let mut data = vec![0u8; 8 << 20];
    data[..4096].fill(b'a');
    data[(4 << 20)..(4 << 20) + 100].fill(b'b');
    let n = data.len();
    data[n - 10..].fill(b'c');
    let mut trailing_hole = vec![0u8; 1 << 20];
    trailing_hole[0] = 1;
    let tar = Tar::new().file("sparse", &data).file("hole-at-end", &trailing_hole).bytes();
    fx.apply(&tar).unwrap();
    assert!(fs::read(fx.p("sparse")).unwrap() == data);
    let md = fs::metadata(fx.p("sparse")).unwrap();
    assert_eq!(md.len(), data.len() as u64);
    assert!(md.blocks() * 512 <= 64 * 1024, "{} blocks allocated", md.blocks());
    let md = fs::metadata(fx.p("hole-at-end")).unwrap();
    assert_eq!(md.len(), 1 << 20);
    assert!(md.blocks() * 512 <= 64 * 1024, "{} blocks allocated", md.blocks());
    assert!(fs::read(fx.p("hole-at-end")).unwrap() == trailing_hole);
}

#[test]
fn gnu_sparse_entries() {
    let fx = Fx::new();
    let real = (1u64 << 20) + 512;
    let mut h = Tar::header(EntryType::GNUSparse, b"gsparse", 1024);
    {
        let g = h.as_gnu_mut().unwrap();
        g.sparse[0].set_offset(0);
        g.sparse[0].set_length(512);
        g.sparse[1].set_offset(1 << 20);
        g.sparse[1].set_length(512);
        g.set_real_size(real);
    }
    let mut data = vec![b'x'; 512];
    data.extend_from_slice(&[b'y'; 512]);
    let tar = Tar::new().raw(h, &data).bytes();
    let applied = fx.apply(&tar).unwrap();
    assert_eq!(applied.unpacked_size, real);
    let got = fs::read(fx.p("gsparse")).unwrap();
    assert_eq!(got.len() as u64, real);
    assert!(got[..512].iter().all(|&b| b == b'x'));
    assert!(got[512..1 << 20].iter().all(|&b| b == 0));
    assert!(got[1 << 20..].iter().all(|&b| b == b'y'));
    assert!(fs::metadata(fx.p("gsparse")).unwrap().blocks() * 512 <= 64 * 1024);
}

#[test]
fn replaces_files_with_dirs_and_back() {
    let fx = Fx::new();
    let tar = Tar::new()
        // file -> directory
        .file("x", b"file first")
        .dir("x/")
        .file("x/inner", b"inside")
        // populated directory -> file
        .dir("d/")
        .dir("d/sub/")
        .file("d/sub/f", b"f")
        .symlink("d/sub/l", "/nowhere")
        .dir("d/sub/deeper/")
        .file("d", b"now a file")
        // symlink -> directory, file -> symlink, file -> file
        .symlink("s", "x")
        .dir("s/")
        .file("t", b"t")
        .symlink("t", "x/inner")
        .file("u", b"old")
        .file("u", b"new")
        // an existing directory is merged, not replaced
        .file("x/second", b"2")
        .entry(EntryType::Directory, "x/", b"", |h| h.set_mode(0o700))
        .bytes();
    fx.apply(&tar).unwrap();
    assert_eq!(fs::read(fx.p("x/inner")).unwrap(), b"inside");
    assert_eq!(fs::read(fx.p("x/second")).unwrap(), b"2");
    assert_eq!(fs::symlink_metadata(fx.p("x")).unwrap().mode() & 0o7777, 0o700);
    assert_eq!(fs::read(fx.p("d")).unwrap(), b"now a file");
    assert!(fs::symlink_metadata(fx.p("s")).unwrap().is_dir());
    assert_eq!(fs::read_link(fx.p("t")).unwrap(), Path::new("x/inner"));
    assert_eq!(fs::read(fx.p("u")).unwrap(), b"new");
    fx.assert_outside_untouched();
}

#[test]
fn cached_parents_follow_replacements() {
    // After "a" is replaced by a symlink to "b", "a/y" must land in "b",
    // whatever fd was cached for "a" before.
    let fx = Fx::new();
    let tar = Tar::new().dir("b/").dir("a/").file("a/x", b"x").symlink("a", "b").file("a/y", b"y").bytes();
    fx.apply(&tar).unwrap();
    assert!(fs::symlink_metadata(fx.p("a")).unwrap().file_type().is_symlink());
    assert_eq!(fs::read(fx.p("b/y")).unwrap(), b"y");
    assert!(!fx.p("b/x").exists());
}

#[test]
fn replaces_a_deep_directory_tree() {
    let fx = Fx::new();
    let mut t = Tar::new();
    let mut path = String::from("top");
    for i in 0..200 {
        path.push_str(&format!("/d{i}"));
        t.dir(&format!("{path}/"));
        t.file(&format!("{path}/f"), b"f");
        t.symlink(&format!("{path}/l"), "..");
    }
    t.file("top", b"flat");
    fx.apply(&t.bytes()).unwrap();
    assert_eq!(fs::read(fx.p("top")).unwrap(), b"flat");
    assert_eq!(fs::read_dir(&fx.dest).unwrap().count(), 1);
}

#[test]
fn ownership_modes_devices_and_xattrs() {
    if !root("ownership_modes_devices_and_xattrs") {
        return;
    }
    let fx = Fx::new();
    let owned = |h: &mut Header| {
        h.set_uid(1234);
        h.set_gid(5678);
    };
    let tar = Tar::new()
        .pax(&[("SCHILY.xattr.trusted.dir", b"d")])
        .entry(EntryType::Directory, "dir/", b"", |h| {
            owned(h);
            h.set_mode(0o1777);
        })
        .pax(&[
            ("SCHILY.xattr.user.note", b"hello"),
            (
                "SCHILY.xattr.security.capability",
                b"\x01\x00\x00\x02\x00\x04\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00",
            ),
            ("SCHILY.xattr.trusted.overlay.redirect", b"/etc"),
        ])
        .entry(EntryType::Regular, "dir/suid", b"#!/bin/sh\n", |h| {
            owned(h);
            h.set_mode(0o6755);
        })
        .pax(&[("SCHILY.xattr.trusted.link", b"l")])
        .entry(EntryType::Symlink, "dir/link", b"", |h| {
            owned(h);
            h.set_link_name_literal("suid").unwrap();
        })
        .entry(EntryType::Directory, "sg/", b"", |h| {
            h.set_gid(5678);
            h.set_mode(0o2775);
        })
        .file("sg/implicit/f", b"")
        .entry(EntryType::Char, "dev/null", b"", |h| {
            h.set_uid(0);
            h.set_gid(0);
            h.set_mode(0o666);
            h.set_device_major(1).unwrap();
            h.set_device_minor(3).unwrap();
        })
        .entry(EntryType::Block, "dev/loop9", b"", |h| {
            h.set_uid(0);
            h.set_gid(6);
            h.set_mode(0o660);
            h.set_device_major(7).unwrap();
            h.set_device_minor(9).unwrap();
        })
        .bytes();
    fx.apply(&tar).unwrap();

    let dir = fs::symlink_metadata(fx.p("dir")).unwrap();
    assert_eq!((dir.uid(), dir.gid(), dir.mode() & 0o7777), (1234, 5678, 0o1777));
    assert_eq!(lgetxattr(&fx.p("dir"), "trusted.dir").as_deref(), Some(&b"d"[..]));

    let suid = fs::symlink_metadata(fx.p("dir/suid")).unwrap();
    assert_eq!((suid.uid(), suid.gid(), suid.mode() & 0o7777), (1234, 5678, 0o6755));
    assert_eq!(lgetxattr(&fx.p("dir/suid"), "user.note").as_deref(), Some(&b"hello"[..]));
    assert!(lgetxattr(&fx.p("dir/suid"), "security.capability").is_some(), "capability lost");
    assert_eq!(lgetxattr(&fx.p("dir/suid"), "trusted.overlay.redirect"), None);

    let link = fs::symlink_metadata(fx.p("dir/link")).unwrap();
    assert!(link.file_type().is_symlink());
    assert_eq!((link.uid(), link.gid()), (1234, 5678));
    assert_eq!(lgetxattr(&fx.p("dir/link"), "trusted.link").as_deref(), Some(&b"l"[..]));
    assert_eq!(lgetxattr(&fx.p("dir/suid"), "trusted.link"), None, "xattr went through the link");

    let sg = fs::symlink_metadata(fx.p("sg")).unwrap();
    assert_eq!((sg.gid(), sg.mode() & 0o7777), (5678, 0o2775));
    let implicit = fs::symlink_metadata(fx.p("sg/implicit")).unwrap();
    assert_eq!((implicit.uid(), implicit.gid(), implicit.mode() & 0o7777), (0, 0, 0o755));

    let null = fs::symlink_metadata(fx.p("dev/null")).unwrap();
    assert!(null.file_type().is_char_device());
    assert_eq!(null.rdev(), rustix::fs::makedev(1, 3));
    assert_eq!(null.mode() & 0o7777, 0o666);
    let lp = fs::symlink_metadata(fx.p("dev/loop9")).unwrap();
    assert!(lp.file_type().is_block_device());
    assert_eq!(lp.rdev(), rustix::fs::makedev(7, 9));
    assert_eq!((lp.gid(), lp.mode() & 0o7777), (6, 0o660));
    fx.assert_outside_untouched();
}

#[test]
fn whiteouts_become_overlay_whiteouts() {
    if !root("whiteouts_become_overlay_whiteouts") {
        return;
    }
    let fx = Fx::new();
    let tar = Tar::new()
        .dir("a/")
        .entry(EntryType::Regular, "a/.wh.gone", b"", |h| {
            h.set_uid(42);
            h.set_gid(43);
        })
        .file(".wh.toplevel", b"")
        .dir("b/")
        .file("b/.wh..wh..opq", b"")
        .file("b/keep", b"kept")
        .file("c/.wh..wh..opq", b"")
        .file("a/.wh..wh.aufs", b"")
        .dir(".wh..wh.plnk/")
        .file(".wh..wh.plnk/123", b"aufs hardlink store")
        .bytes();
    fx.apply(&tar).unwrap();

    for (path, owner) in [("a/gone", (42, 43)), ("toplevel", me())] {
        let md = fs::symlink_metadata(fx.p(path)).unwrap();
        assert!(md.file_type().is_char_device(), "{path}");
        assert_eq!(md.rdev(), 0, "{path}");
        assert_eq!((u64::from(md.uid()), u64::from(md.gid())), owner, "{path}");
    }
    assert_eq!(lgetxattr(&fx.p("b"), "trusted.overlay.opaque").as_deref(), Some(&b"y"[..]));
    assert_eq!(lgetxattr(&fx.p("c"), "trusted.overlay.opaque").as_deref(), Some(&b"y"[..]));
    assert_eq!(lgetxattr(&fx.p("a"), "trusted.overlay.opaque"), None);
    assert_eq!(fs::read(fx.p("b/keep")).unwrap(), b"kept");
    let mut all: Vec<String> = Vec::new();
    collect(&fx.dest, &fx.dest, &mut all);
    all.sort();
    assert_eq!(all, ["a", "a/gone", "b", "b/keep", "c", "toplevel"]);
}

fn collect(root: &Path, dir: &Path, out: &mut Vec<String>) {
    for e in fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        let p = e.path();
        out.push(p.strip_prefix(root).unwrap().to_string_lossy().into_owned());
        if e.file_type().unwrap().is_dir() {
            collect(root, &p, out);
        }
    }
}

// ---------------------------------------------------------------------------
// Hostile input

#[test]
fn dotdot_names_are_rejected() {
    for name in ["../escape", "a/../../escape", "/../escape", "./../escape", "a/b/../../../escape", ".."] {
        let fx = Fx::new();
        let tar = Tar::new().dir("a/").file(name, b"pwned").bytes();
        let err = fx.apply(&tar).unwrap_err();
        eprintln!("{err}");
        assert!(matches!(&err, LayerError::PathEscapes { path } if path == name), "{name}: {err}");
        assert_eq!(err.to_string(), format!("layer entry {name:?}: path escapes the layer root"));
        fx.assert_outside_untouched();
    }
    // `..` that stays inside is fine.
    let fx = Fx::new();
    fx.apply(&Tar::new().file("a/b/../c", b"ok").bytes()).unwrap();
    assert_eq!(fs::read(fx.p("a/c")).unwrap(), b"ok");
}

#[test]
fn symlinks_cannot_carry_writes_outside() {
    let fx = Fx::new();
    let tar = Tar::new()
        .dir("etc/")
        .symlink("evil", "/etc")
        .file("evil/passwd", b"root::0:0::/:/bin/sh\n")
        .symlink("up", "../../../../../../..")
        .file("up/escaped", b"escaped?")
        .symlink("rel", "etc/../../..")
        .file("rel/also", b"also?")
        .dir("x/")
        .symlink("x/chain", "../up/etc")
        .file("x/chain/chained", b"chained?")
        .bytes();
    fx.apply(&tar).unwrap();
    assert_eq!(fs::read(fx.p("etc/passwd")).unwrap(), b"root::0:0::/:/bin/sh\n");
    assert_eq!(fs::read(fx.p("escaped")).unwrap(), b"escaped?");
    assert_eq!(fs::read(fx.p("also")).unwrap(), b"also?");
    assert_eq!(fs::read(fx.p("etc/chained")).unwrap(), b"chained?");
    fx.assert_outside_untouched();

    // A symlink to the real outside directory (absolute host path), written
    // through: resolved inside dest, where that path does not exist.
    let fx2 = Fx::new();
    let abs = fx2.outside();
    let tar = Tar::new().symlink("abs", abs.to_str().unwrap()).file("abs/sentinel", b"overwritten").bytes();
    let err = fx2.apply(&tar).unwrap_err();
    eprintln!("{err}");
    assert!(matches!(err, LayerError::DanglingParent { .. }), "{err}");
    fx2.assert_outside_untouched();

    // Writing *to* a symlink's name replaces the link, never its target.
    let fx3 = Fx::new();
    let tar = Tar::new()
        .symlink("victim", fx3.outside().join("sentinel").to_str().unwrap())
        .file("victim", b"overwritten")
        .bytes();
    fx3.apply(&tar).unwrap();
    assert_eq!(fs::read(fx3.p("victim")).unwrap(), b"overwritten");
    fx3.assert_outside_untouched();
}

#[test]
fn hard_links_stay_inside() {
    let sentinel = |fx: &Fx| fx.outside().join("sentinel").to_str().unwrap().to_owned();
    let fx = Fx::new();
    let err = fx.apply(&Tar::new().hardlink("hl", "../outside/sentinel").bytes()).unwrap_err();
    eprintln!("{err}");
    assert!(matches!(err, LayerError::LinkEscapes { .. }), "{err}");
    fx.assert_outside_untouched();

    let fx = Fx::new();
    let tar = Tar::new().hardlink("hl", &sentinel(&fx)).bytes();
    let err = fx.apply(&tar).unwrap_err();
    eprintln!("{err}");
    assert!(matches!(err, LayerError::BadLinkTarget { problem: "does not exist", .. }), "{err}");
    fx.assert_outside_untouched();

    let fx = Fx::new();
    let tar =
        Tar::new().symlink("out", fx.outside().to_str().unwrap()).hardlink("hl", "out/sentinel").bytes();
    let err = fx.apply(&tar).unwrap_err();
    eprintln!("{err}");
    assert!(matches!(err, LayerError::BadLinkTarget { problem: "does not exist", .. }), "{err}");
    fx.assert_outside_untouched();

    let fx = Fx::new();
    let tar = Tar::new().symlink("up", "../../..").hardlink("hl", "up/outside/sentinel").bytes();
    let err = fx.apply(&tar).unwrap_err();
    eprintln!("{err}");
    assert!(matches!(err, LayerError::BadLinkTarget { .. }), "{err}");
    fx.assert_outside_untouched();

    let fx = Fx::new();
    let err = fx.apply(&Tar::new().dir("d/").hardlink("hl", "d").bytes()).unwrap_err();
    eprintln!("{err}");
    assert!(matches!(err, LayerError::BadLinkTarget { problem: "is a directory", .. }), "{err}");
    let fx = Fx::new();
    let err = fx.apply(&Tar::new().hardlink("hl", "./").bytes()).unwrap_err();
    eprintln!("{err}");
    assert!(matches!(err, LayerError::BadLinkTarget { problem: "is a directory", .. }), "{err}");

    // A hard link to a symlink links the symlink itself.
    let fx = Fx::new();
    let tar = Tar::new().symlink("sl", &sentinel(&fx)).hardlink("hl", "sl").bytes();
    fx.apply(&tar).unwrap();
    assert!(fs::symlink_metadata(fx.p("hl")).unwrap().file_type().is_symlink());
    fx.assert_outside_untouched();
}

#[test]
fn non_directories_on_the_path_are_errors() {
    let fx = Fx::new();
    let err = fx.apply(&Tar::new().file("f", b"").file("f/x", b"").bytes()).unwrap_err();
    eprintln!("{err}");
    assert!(matches!(err, LayerError::NotADirectory { .. }), "{err}");
    let fx = Fx::new();
    let tar = Tar::new().file("f", b"").symlink("l", "f").file("l/x", b"").bytes();
    let err = fx.apply(&tar).unwrap_err();
    eprintln!("{err}");
    assert!(matches!(err, LayerError::NotADirectory { .. }), "{err}");

    if !root("non_directories_on_the_path_are_errors (devices)") {
        return;
    }
    let fx = Fx::new();
    let tar = Tar::new()
        .entry(EntryType::Char, "dev", b"", |h| {
            h.set_device_major(1).unwrap();
            h.set_device_minor(3).unwrap();
        })
        .file("dev/x", b"into a device?")
        .bytes();
    let err = fx.apply(&tar).unwrap_err();
    eprintln!("{err}");
    assert!(matches!(err, LayerError::NotADirectory { .. }), "{err}");
    assert!(fs::symlink_metadata(fx.p("dev")).unwrap().file_type().is_char_device());
    fx.assert_outside_untouched();
}

#[test]
fn huge_size_claims_fail_fast() {
    let fx = Fx::new();
    let mut t = Tar::new();
    let mut h = Tar::header(EntryType::Regular, b"huge", 10 << 30);
    h.set_cksum();
    t.0.append(&h, &[1u8; 512][..]).unwrap();
    let tar = t.bytes();
    let start = Instant::now();
    let err = fx.apply(&tar).unwrap_err();
    eprintln!("{err}");
    assert!(start.elapsed() < Duration::from_secs(2), "took {:?}", start.elapsed());
    assert!(matches!(err, LayerError::Truncated { expected, .. } if expected == 10 << 30), "{err}");

    // The same claim on an entry without data to write.
    let fx = Fx::new();
    let mut t = Tar::new();
    let mut h = Tar::header(EntryType::Directory, b"dir/", 10 << 30);
    h.set_cksum();
    t.0.append(&h, &b""[..]).unwrap();
    let tar = t.bytes();
    let start = Instant::now();
    let err = fx.apply(&tar).unwrap_err();
    eprintln!("{err}");
    assert!(start.elapsed() < Duration::from_secs(2));
    assert!(matches!(err, LayerError::Stream { .. }), "{err}");
}

#[test]
fn garbage_and_truncated_tars_fail() {
    // Not a tar at all.
    let fx = Fx::new();
    let mut x = 0x2545_f491_4f6c_dd1du64;
    let garbage: Vec<u8> = (0..8192)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    let err = fx.apply(&garbage[..]).unwrap_err();
    eprintln!("{err}");
    assert!(matches!(err, LayerError::Stream { .. }), "{err}");
    assert!(err.to_string().starts_with("reading the layer stream: "), "{err}");

    // A header with a bad checksum after a good entry.
    let fx = Fx::new();
    let mut tar = Tar::new().file("ok", b"fine").file("bad", b"x").bytes();
    tar[1024 + 148] ^= 1;
    let err = fx.apply(&tar[..]).unwrap_err();
    eprintln!("{err}");
    assert!(err.to_string().contains("after entry \"ok\""), "{err}");

    // Cut inside a header.
    let fx = Fx::new();
    let tar = Tar::new().file("ok", b"fine").file("next", b"x").bytes();
    let err = fx.apply(&tar[..1024 + 100]).unwrap_err();
    eprintln!("{err}");
    assert!(matches!(err, LayerError::Stream { .. }), "{err}");

    // Unsupported entry types and out-of-range ids.
    let fx = Fx::new();
    let tar = Tar::new().raw(Tar::header(EntryType::new(b'V'), b"label", 0), b"").bytes();
    let err = fx.apply(&tar[..]).unwrap_err();
    eprintln!("{err}");
    assert!(matches!(err, LayerError::Unsupported { kind: 'V', .. }), "{err}");
    let fx = Fx::new();
    let tar = Tar::new().entry(EntryType::Regular, "f", b"", |h| h.set_uid(u32::MAX.into())).bytes();
    let err = fx.apply(&tar[..]).unwrap_err();
    eprintln!("{err}");
    assert!(matches!(err, LayerError::Invalid { .. }), "{err}");
    let fx = Fx::new();
    let tar =
        Tar::new().pax(&[("GNU.sparse.major", b"1"), ("GNU.sparse.minor", b"0")]).file("s", b"").bytes();
    let err = fx.apply(&tar[..]).unwrap_err();
    eprintln!("{err}");
    assert!(matches!(err, LayerError::Invalid { .. }), "{err}");
    let fx = Fx::new();
    let err = fx.apply(&Tar::new().file("d/.wh...", b"").bytes()[..]).unwrap_err();
    eprintln!("{err}");
    assert!(matches!(err, LayerError::Invalid { .. }), "{err}");
    fx.assert_outside_untouched();
}

#[test]
fn empty_and_root_only_layers() {
    let fx = Fx::new();
    let applied = fx.apply(&b""[..]).unwrap();
    assert_eq!(applied.diff_id, crate::digest::of(b""));
    let fx = Fx::new();
    let tar = Tar::new().dir("./").pax(&[("comment", b"global-ish")]).dir("/").bytes();
    fx.apply(&tar).unwrap();
    assert_eq!(fs::read_dir(&fx.dest).unwrap().count(), 0);
    let mode = fs::metadata(&fx.dest).unwrap().permissions().mode();
    assert!(mode & 0o777 != 0);
}
