mod harness;

// Robustness of the daemon against hostile or broken input and against
// crashes, full disks and a second daemon: each test drives a private
// `berth daemon` with the real docker CLI (or raw HTTP) and checks that the
// failure is clean — a clear error, nothing half-registered, nothing left in
// staging, nothing written outside the daemon's root.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use harness::{BERTH, Daemon, fails, ok, require_root, run};
use sha2::{Digest, Sha256};

// ---- small utilities ------------------------------------------------------------

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Image IDs the daemon lists, all of them.
fn image_ids(d: &Daemon) -> BTreeSet<String> {
    ok(d.docker().args(["images", "-a", "-q", "--no-trunc"])).lines().map(str::to_string).collect()
}

/// Names directly in `dir`, to see that nothing new appeared beside the root.
fn listing(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .expect("read dir")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

/// Mount points under the test's directory or the daemon root (there must be none).
fn mounts_under(d: &Daemon) -> Vec<String> {
    let prefixes = [d.dir.path().to_string_lossy().into_owned(), d.root.to_string_lossy().into_owned()];
    std::fs::read_to_string("/proc/self/mountinfo")
        .expect("mountinfo")
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .filter(|m| prefixes.iter().any(|p| m.starts_with(p.as_str())))
        .map(str::to_string)
        .collect()
}

/// Allocated bytes below `path` (missing counts as 0).
fn usage(path: &Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![path.to_path_buf()];
    while let Some(p) = stack.pop() {
        let Ok(md) = std::fs::symlink_metadata(&p) else { continue };
        total += md.blocks() * 512;
        if md.is_dir() {
            stack.extend(std::fs::read_dir(&p).into_iter().flatten().flatten().map(|e| e.path()));
        }
    }
    total
}

/// Every file below `dir` named `name`.
fn find_named(dir: &Path, name: &str) -> Vec<PathBuf> {
    let mut hits = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(p) = stack.pop() {
        for e in std::fs::read_dir(&p).into_iter().flatten().flatten() {
            let ft = e.file_type().expect("file type");
            if e.file_name() == name {
                hits.push(e.path());
            }
            if ft.is_dir() {
                stack.push(e.path());
            }
        }
    }
    hits
}

/// Deterministic, incompressible filler (xorshift64*), so big archives need no
/// random source and differ per seed.
fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        out.extend_from_slice(&x.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
    }
    out.truncate(len);
    out
}

// ---- a directory outside the daemon root that nothing may touch ----------------------

/// A temp directory outside every daemon root holding one file, `secret`. Hostile
/// layers aim at it; afterwards it must hold exactly that file, unchanged and with
/// no new hard link to it.
struct Sentinel {
    dir: tempfile::TempDir,
}

impl Sentinel {
    fn new() -> Self {
        let dir = tempfile::Builder::new().prefix("berth-sentinel-").tempdir().expect("sentinel dir");
        std::fs::write(dir.path().join("secret"), b"untouched\n").expect("secret");
        Sentinel { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The sentinel's path without its leading `/`, for names inside a layer.
    fn rel(&self) -> String {
        self.path().to_string_lossy().trim_start_matches('/').to_string()
    }

    fn assert_untouched(&self) {
        assert_eq!(
            listing(self.path()),
            BTreeSet::from(["secret".to_string()]),
            "something was written into {}",
            self.path().display()
        );
        let secret = self.path().join("secret");
        assert_eq!(std::fs::read(&secret).expect("secret"), b"untouched\n");
        assert_eq!(
            std::fs::metadata(&secret).expect("secret").nlink(),
            1,
            "a hard link to {} was made",
            secret.display()
        );
    }
}

// ---- hand-made tar streams --------------------------------------------------------

/// Appends one entry to a raw tar stream. The name and link target are copied
/// into the header verbatim (the tar crate's builder refuses `..`, which is the
/// point here), and `claimed` overrides the size the header declares.
fn raw_entry(
    out: &mut Vec<u8>,
    name: &str,
    kind: tar::EntryType,
    data: &[u8],
    link: &str,
    claimed: Option<u64>,
) {
    assert!(name.len() < 100 && link.len() < 100, "names must fit the old header fields");
    let mut h = tar::Header::new_gnu();
    {
        let old = h.as_old_mut();
        old.name[..name.len()].copy_from_slice(name.as_bytes());
        old.linkname[..link.len()].copy_from_slice(link.as_bytes());
    }
    h.set_entry_type(kind);
    h.set_mode(match kind {
        tar::EntryType::Directory => 0o755,
        tar::EntryType::Symlink => 0o777,
        _ => 0o644,
    });
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(1_700_000_000);
    h.set_size(claimed.unwrap_or(data.len() as u64));
    if matches!(kind, tar::EntryType::Char | tar::EntryType::Block) {
        h.set_device_major(1).expect("major");
        h.set_device_minor(3).expect("minor");
    }
    h.set_cksum();
    out.extend_from_slice(h.as_bytes());
    out.extend_from_slice(data);
    out.resize(out.len().next_multiple_of(512), 0);
}

fn file(out: &mut Vec<u8>, name: &str, data: &[u8]) {
    raw_entry(out, name, tar::EntryType::Regular, data, "", None);
}

/// The two zero blocks that end a tar stream.
fn end(mut out: Vec<u8>) -> Vec<u8> {
    out.extend_from_slice(&[0; 1024]);
    out
}

/// A tar of ordinary files, written with the tar crate (archive members).
fn write_tar(path: &Path, files: &[(String, Vec<u8>)]) {
    let mut b = tar::Builder::new(std::fs::File::create(path).expect("create archive"));
    for (name, data) in files {
        let mut h = tar::Header::new_ustar();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(0);
        h.set_entry_type(tar::EntryType::Regular);
        b.append_data(&mut h, name, &data[..]).expect("append");
    }
    b.into_inner().expect("finish").sync_all().expect("sync");
}

// ---- image archives -----------------------------------------------------------------

/// An image config whose `rootfs.diff_ids` are the sha256 of the given
/// uncompressed layer tars, so only the layers' content can be wrong.
fn config_for(layers: &[&[u8]]) -> Vec<u8> {
    let diff_ids: Vec<String> = layers.iter().map(|l| format!("sha256:{}", sha256_hex(l))).collect();
    serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64",
        "os": "linux",
        "created": "2024-01-01T00:00:00Z",
        "config": {"Cmd": ["/bin/sh"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": layers.iter().map(|_| serde_json::json!({"created": "2024-01-01T00:00:00Z", "created_by": "robustness test"})).collect::<Vec<_>>(),
    }))
    .expect("json")
}

/// The classic `docker save` members: `<hex>/layer.tar` per layer, the config as
/// `<hex>.json`, and `manifest.json` tagging it `tag`.
fn docker_save_members(tag: &str, layers: &[&[u8]]) -> Vec<(String, Vec<u8>)> {
    let config = config_for(layers);
    let mut files = Vec::new();
    let mut layer_paths = Vec::new();
    for l in layers {
        let p = format!("{}/layer.tar", sha256_hex(l));
        layer_paths.push(p.clone());
        files.push((p, l.to_vec()));
    }
    let config_path = format!("{}.json", sha256_hex(&config));
    let manifest = serde_json::json!([{"Config": config_path, "RepoTags": [tag], "Layers": layer_paths}]);
    files.push((config_path, config));
    files.push(("manifest.json".into(), serde_json::to_vec(&manifest).expect("json")));
    files
}

/// One layer blob of an OCI layout.
struct Blob {
    media_type: &'static str,
    bytes: Vec<u8>,
    /// Left out of the archive, though the manifest names it.
    omit: bool,
}

const TAR: &str = "application/vnd.oci.image.layer.v1.tar";
const TAR_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";

/// The members of an OCI image layout: `oci-layout`, `index.json` (tagging the
/// image `docker.io/library/<tag>`), the manifest, and the config stored under
/// `blobs/sha256/<config_hex>` — normally its digest, but a test may lie.
fn oci_members(tag: &str, config: &[u8], config_hex: &str, blobs: &[Blob]) -> Vec<(String, Vec<u8>)> {
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": format!("sha256:{config_hex}"), "size": config.len()},
        "layers": blobs.iter().map(|b| serde_json::json!({"mediaType": b.media_type, "digest": format!("sha256:{}", sha256_hex(&b.bytes)), "size": b.bytes.len()})).collect::<Vec<_>>(),
    }))
    .expect("json");
    let (repo, tag_part) = tag.rsplit_once(':').expect("tag has a tag part");
    let index = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": format!("sha256:{}", sha256_hex(&manifest)),
            "size": manifest.len(),
            "annotations": {"io.containerd.image.name": format!("docker.io/library/{repo}:{tag_part}"), "org.opencontainers.image.ref.name": tag_part},
        }],
    }))
    .expect("json");
    let mut files = vec![("oci-layout".to_string(), br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec())];
    for b in blobs.iter().filter(|b| !b.omit) {
        files.push((format!("blobs/sha256/{}", sha256_hex(&b.bytes)), b.bytes.clone()));
    }
    files.push((format!("blobs/sha256/{config_hex}"), config.to_vec()));
    files.push((format!("blobs/sha256/{}", sha256_hex(&manifest)), manifest));
    files.push(("index.json".into(), index));
    files
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(bytes).expect("gzip");
    e.finish().expect("gzip")
}

/// A harmless layer: a directory and two files.
fn benign_layer(marker: &str) -> Vec<u8> {
    let mut l = Vec::new();
    raw_entry(&mut l, "etc/", tar::EntryType::Directory, b"", "", None);
    file(&mut l, "etc/marker", marker.as_bytes());
    file(&mut l, "hello.txt", &noise(7, 20_000));
    end(l)
}

/// Writes a classic `docker save` tarball whose single layer is `layer`.
fn save_with_layer(dir: &Path, name: &str, tag: &str, layer: &[u8]) -> PathBuf {
    let path = dir.join(name);
    write_tar(&path, &docker_save_members(tag, &[layer]));
    path
}

// ---- the checks around a load that must fail ------------------------------------------

/// Loads `archive`, which must fail with an error on stderr containing one of
/// `expected` (case-insensitive), and checks that the failure left nothing behind:
/// the same images, empty staging and ingest, no new files beside the root, an
/// untouched sentinel, no mounts. Returns stderr.
fn refused(d: &Daemon, sentinel: &Sentinel, archive: &Path, expected: &[&str]) -> String {
    let before = image_ids(d);
    let beside_root = listing(d.dir.path());
    let (_, stderr) = fails(d.docker().arg("load").arg("-i").arg(archive));
    let lower = stderr.to_lowercase();
    assert!(
        expected.iter().any(|e| lower.contains(&e.to_lowercase())),
        "docker load of {} failed, but stderr names none of {expected:?}:\n{stderr}\ndaemon log:\n{}",
        archive.display(),
        d.log()
    );
    assert_eq!(image_ids(d), before, "a failed load changed the image list");
    assert_eq!(d.staging_leftovers(), Vec::<PathBuf>::new(), "a failed load left staging/ingest files");
    assert_eq!(listing(d.dir.path()), beside_root, "a failed load created files beside the daemon root");
    sentinel.assert_untouched();
    assert_eq!(mounts_under(d), Vec::<String>::new(), "mounts left behind");
    stderr
}

/// After a refused archive, the daemon still loads a good image.
fn still_loads_busybox(d: &Daemon) {
    let tag = d.load_busybox();
    let id = ok(d.docker().args(["image", "inspect", "-f", "{{.Id}}", tag]));
    assert!(image_ids(d).contains(id.trim()), "busybox {id} not listed after loading");
    assert!(d.staging_leftovers().is_empty());
}

/// The whole routine for one hostile layer in a classic `docker save` tarball.
fn hostile_layer_case(name: &str, build: impl FnOnce(&Sentinel) -> Vec<u8>, expected: &[&str]) -> String {
    let sentinel = Sentinel::new();
    let d = Daemon::start();
    let layer = build(&sentinel);
    let archive = save_with_layer(d.dir.path(), &format!("{name}.tar"), &format!("hostile-{name}:1"), &layer);
    let stderr = refused(&d, &sentinel, &archive, expected);
    eprintln!("{name}: berth says: {}", stderr.trim());
    still_loads_busybox(&d);
    stderr
}

// ---- 0. the hand-made archives are valid, so only the hostile part is wrong -----------------

#[test]
fn hand_made_archives_load() {
    if !require_root() {
        return;
    }
    let d = Daemon::start();
    let layer = benign_layer("save-form");
    let archive = save_with_layer(d.dir.path(), "good.tar", "handmade-save:1", &layer);
    let out = ok(d.docker().arg("load").arg("-i").arg(&archive));
    assert!(out.contains("Loaded image: handmade-save:1"), "{out}");
    let diff =
        ok(d.docker().args(["image", "inspect", "-f", "{{index .RootFS.Layers 0}}", "handmade-save:1"]));
    assert_eq!(diff.trim(), format!("sha256:{}", sha256_hex(&layer)));

    // The OCI layout form with a gzip layer, as the archive-level cases use it.
    let layer = benign_layer("oci-form");
    let config = config_for(&[&layer]);
    let members = oci_members(
        "handmade-oci:1",
        &config,
        &sha256_hex(&config),
        &[Blob { media_type: TAR_GZIP, bytes: gzip(&layer), omit: false }],
    );
    let archive = d.dir.path().join("good-oci.tar");
    write_tar(&archive, &members);
    let out = ok(d.docker().arg("load").arg("-i").arg(&archive));
    assert!(out.contains("Loaded image: handmade-oci:1"), "{out}");
    let id = ok(d.docker().args(["image", "inspect", "-f", "{{.Id}}", "handmade-oci:1"]));
    assert_eq!(id.trim(), format!("sha256:{}", sha256_hex(&config)));
    assert!(d.staging_leftovers().is_empty());
}

/// Go's archive/tar (so Docker and containerd) reads an all-NUL numeric header
/// field as 0; the tar crate's builder leaves uid/gid that way unless told.
/// Such a layer is odd but valid, and must load.
#[test]
fn layer_with_empty_uid_and_gid_fields_loads() {
    if !require_root() {
        return;
    }
    let d = Daemon::start();
    let mut l = Vec::new();
    file(&mut l, "plain.txt", b"owned by nobody in particular");
    // Blank the uid and gid fields (offsets 108 and 116, 8 bytes each) and re-sum.
    let mut h = tar::Header::new_old();
    h.as_mut_bytes().copy_from_slice(&l[..512]);
    h.as_mut_bytes()[108..124].fill(0);
    h.set_cksum();
    l[..512].copy_from_slice(h.as_bytes());
    let layer = end(l);
    let archive = save_with_layer(d.dir.path(), "empty-uid.tar", "empty-uid:1", &layer);
    let out = run(d.docker().arg("load").arg("-i").arg(&archive));
    assert!(out.status.success(), "docker load failed: {}", String::from_utf8_lossy(&out.stderr));
    let hits = find_named(&d.root.join("snapshots"), "plain.txt");
    assert_eq!(hits.len(), 1, "{hits:?}");
    assert_eq!(std::fs::metadata(&hits[0]).expect("stat").uid(), 0);
}

// ---- 1. hostile layers ------------------------------------------------------------------

/// `../` climbing out of the layer, aimed at the sentinel: refused, written nowhere.
#[test]
fn layer_path_escaping_with_dotdot_is_refused() {
    if !require_root() {
        return;
    }
    hostile_layer_case(
        "dotdot",
        |s| {
            let mut l = Vec::new();
            file(&mut l, "ok.txt", b"fine");
            file(&mut l, &format!("{}{}/escape", "../".repeat(12), s.rel()), b"escaped!");
            end(l)
        },
        &["escapes"],
    );
}

/// `evil -> /` then `evil/<sentinel>/pwned`: the write resolves inside the layer
/// (as if chrooted, as Docker does) or is refused; it never reaches the host.
#[test]
fn layer_absolute_symlink_to_root_stays_inside() {
    if !require_root() {
        return;
    }
    let sentinel = Sentinel::new();
    let d = Daemon::start();
    let mut l = Vec::new();
    raw_entry(&mut l, "evil", tar::EntryType::Symlink, b"", "/", None);
    file(&mut l, &format!("evil/{}/pwned", sentinel.rel()), b"pwned");
    let layer = end(l);
    let archive = save_with_layer(d.dir.path(), "symlink-root.tar", "hostile-symlink-root:1", &layer);
    let before = image_ids(&d);
    let out = run(d.docker().arg("load").arg("-i").arg(&archive));
    sentinel.assert_untouched();
    assert!(d.staging_leftovers().is_empty());
    assert!(mounts_under(&d).is_empty());
    if out.status.success() {
        // Accepted: the file must be in the layer's snapshot, under the sentinel's path.
        let hits = find_named(&d.root.join("snapshots"), "pwned");
        let want = PathBuf::from(sentinel.rel()).join("pwned");
        assert!(
            hits.len() == 1 && hits[0].ends_with(&want),
            "pwned should be in the snapshot as {}: {hits:?}",
            want.display()
        );
        ok(d.docker().args(["rmi", "hostile-symlink-root:1"]));
    } else {
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("evil"), "the refusal should name the entry: {stderr}");
    }
    assert_eq!(image_ids(&d), before);
    still_loads_busybox(&d);
}

/// `evil -> /tmp/<sentinel>` then `evil/pwned`: inside the layer or refused.
#[test]
fn layer_absolute_symlink_to_outside_dir_stays_inside() {
    if !require_root() {
        return;
    }
    let sentinel = Sentinel::new();
    let d = Daemon::start();
    let mut l = Vec::new();
    raw_entry(&mut l, "evil", tar::EntryType::Symlink, b"", &sentinel.path().to_string_lossy(), None);
    file(&mut l, "evil/pwned", b"pwned");
    let layer = end(l);
    let archive = save_with_layer(d.dir.path(), "symlink-dir.tar", "hostile-symlink-dir:1", &layer);
    let before = image_ids(&d);
    let out = run(d.docker().arg("load").arg("-i").arg(&archive));
    sentinel.assert_untouched();
    assert!(d.staging_leftovers().is_empty());
    assert!(mounts_under(&d).is_empty());
    if out.status.success() {
        let hits = find_named(&d.root.join("snapshots"), "pwned");
        assert_eq!(hits.len(), 1, "pwned should be inside the snapshot: {hits:?}");
        ok(d.docker().args(["rmi", "hostile-symlink-dir:1"]));
    } else {
        // Docker refuses this too (the link's target is missing inside the layer).
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("evil"), "the refusal should name the entry: {stderr}");
    }
    assert_eq!(image_ids(&d), before);
    still_loads_busybox(&d);
}

/// A hard link to `../../etc/passwd`: refused as an escape.
#[test]
fn layer_hard_link_escaping_with_dotdot_is_refused() {
    if !require_root() {
        return;
    }
    let passwd_links = std::fs::metadata("/etc/passwd").map(|m| m.nlink()).unwrap_or(0);
    hostile_layer_case(
        "hardlink-dotdot",
        |_| {
            let mut l = Vec::new();
            file(&mut l, "ok.txt", b"fine");
            raw_entry(&mut l, "passwd", tar::EntryType::Link, b"", "../../etc/passwd", None);
            end(l)
        },
        &["escapes"],
    );
    assert_eq!(std::fs::metadata("/etc/passwd").map(|m| m.nlink()).unwrap_or(0), passwd_links);
}

/// A hard link to an absolute path outside (the sentinel's secret): resolved
/// inside the layer, where it does not exist, so refused; no link to the host file.
#[test]
fn layer_hard_link_to_absolute_outside_path_is_refused() {
    if !require_root() {
        return;
    }
    hostile_layer_case(
        "hardlink-abs",
        |s| {
            let mut l = Vec::new();
            file(&mut l, "ok.txt", b"fine");
            raw_entry(
                &mut l,
                "stolen",
                tar::EntryType::Link,
                b"",
                &s.path().join("secret").to_string_lossy(),
                None,
            );
            end(l)
        },
        &["does not exist", "escapes"],
    );
}

/// A character device `d`, then `d/file`: a device is not a directory.
#[test]
fn layer_device_where_a_directory_must_be_is_refused() {
    if !require_root() {
        return;
    }
    hostile_layer_case(
        "device-dir",
        |_| {
            let mut l = Vec::new();
            raw_entry(&mut l, "d", tar::EntryType::Char, b"", "", None);
            file(&mut l, "d/file", b"data");
            end(l)
        },
        &["not a directory"],
    );
}

/// A header claiming 10 GB followed by a few bytes: refused as truncated, quickly,
/// without trying to find 10 GB of disk.
#[test]
fn layer_entry_claiming_10gb_is_refused() {
    if !require_root() {
        return;
    }
    let start = Instant::now();
    hostile_layer_case(
        "huge-claim",
        |_| {
            let mut l = Vec::new();
            raw_entry(&mut l, "big", tar::EntryType::Regular, &noise(3, 100), "", Some(10 << 30));
            l
        },
        &["unexpected end"],
    );
    assert!(start.elapsed() < Duration::from_secs(60), "took {:?}", start.elapsed());
}

// ---- 1b. hostile archives -----------------------------------------------------------------

/// The routine for an archive-level case: `members` written as a tar and refused.
fn hostile_archive_case(name: &str, members: Vec<(String, Vec<u8>)>, expected: &[&str]) -> String {
    let sentinel = Sentinel::new();
    let d = Daemon::start();
    let archive = d.dir.path().join(format!("{name}.tar"));
    write_tar(&archive, &members);
    let stderr = refused(&d, &sentinel, &archive, expected);
    eprintln!("{name}: berth says: {}", stderr.trim());
    still_loads_busybox(&d);
    stderr
}

/// An OCI layout whose config is stored under a name that is not its digest.
#[test]
fn archive_config_digest_mismatch_is_refused() {
    if !require_root() {
        return;
    }
    let layer = benign_layer("mismatch");
    let config = config_for(&[&layer]);
    let wrong = sha256_hex(b"some other config");
    let members = oci_members(
        "hostile-digest:1",
        &config,
        &wrong,
        &[Blob { media_type: TAR, bytes: layer, omit: false }],
    );
    hostile_archive_case("digest-mismatch", members, &["digest"]);
}

/// An OCI layout whose gzip layer is cut in half (the blob is named by the digest of
/// the truncated bytes, so it is the gzip stream, not the name, that is wrong).
#[test]
fn archive_truncated_gzip_layer_is_refused() {
    if !require_root() {
        return;
    }
    let mut layer = Vec::new();
    file(&mut layer, "a.bin", &noise(11, 300_000));
    file(&mut layer, "b.bin", &noise(12, 300_000));
    let layer = end(layer);
    let config = config_for(&[&layer]);
    let gz = gzip(&layer);
    let half = gz[..gz.len() / 2].to_vec();
    let members = oci_members(
        "hostile-gzip:1",
        &config,
        &sha256_hex(&config),
        &[Blob { media_type: TAR_GZIP, bytes: half, omit: false }],
    );
    // berth says "incomplete deflate stream"; Docker says "unexpected EOF".
    hostile_archive_case(
        "truncated-gzip",
        members,
        &["unexpected end", "unexpected eof", "incomplete", "truncated"],
    );
}

/// A manifest naming a layer blob the archive does not hold.
#[test]
fn archive_missing_blob_is_refused() {
    if !require_root() {
        return;
    }
    let present = benign_layer("present");
    let absent = benign_layer("absent");
    let config = config_for(&[&present, &absent]);
    let members = oci_members(
        "hostile-missing:1",
        &config,
        &sha256_hex(&config),
        &[
            Blob { media_type: TAR, bytes: present, omit: false },
            Blob { media_type: TAR, bytes: absent, omit: true },
        ],
    );
    hostile_archive_case("missing-blob", members, &["missing"]);
}

/// A file that is not a tar at all, short and long. The error must say so in
/// readable words: no raw header bytes quoted back at the user.
#[test]
fn archive_that_is_not_a_tar_is_refused() {
    if !require_root() {
        return;
    }
    let sentinel = Sentinel::new();
    let d = Daemon::start();
    let short = d.dir.path().join("short.txt");
    std::fs::write(&short, b"this is not a tar archive\n").expect("write");
    // Far more than the socket buffers hold: the daemon must take the rest
    // of the body after refusing it, or the client sees a broken pipe.
    let long = d.dir.path().join("noise.bin");
    std::fs::write(&long, noise(5, 16 << 20)).expect("write");
    for archive in [short, long] {
        let msg =
            refused(&d, &sentinel, &archive, &["not a docker save tarball", "invalid archive", "not a tar"]);
        eprintln!("{}: berth says: {}", archive.display(), msg.trim());
        let readable =
            msg.chars().all(|c| c == '\n' || (!c.is_control() && c != char::REPLACEMENT_CHARACTER));
        assert!(readable, "the error for {} quotes unreadable bytes: {msg:?}", archive.display());
    }
    still_loads_busybox(&d);
}

/// A refused upload is read to its end all the same (up to a bound): a
/// client still sending gets the answer, not a broken pipe.
#[test]
fn a_refused_upload_is_still_read_to_its_end() {
    if !require_root() {
        return;
    }
    let d = Daemon::start();
    let body = noise(9, 16 << 20);
    let mut s = std::os::unix::net::UnixStream::connect(&d.socket).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30))).expect("timeout");
    write!(
        s,
        "POST /images/load?quiet=1 HTTP/1.1\r\nHost: berth\r\nContent-Type: application/x-tar\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .expect("send");
    s.write_all(&body).expect("the whole body is taken, though refused at its first bytes");
    let mut answer = Vec::new();
    s.read_to_end(&mut answer).expect("read the answer");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 200 OK") && answer.contains("not a tar"), "{answer}");
}

// ---- 2. malformed API input --------------------------------------------------------------

/// A raw HTTP/1.1 request over the daemon's socket: (status, content type, body).
fn http(d: &Daemon, method: &str, path: &str) -> (u16, String, Vec<u8>) {
    let mut s = std::os::unix::net::UnixStream::connect(&d.socket).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30))).expect("timeout");
    write!(s, "{method} {path} HTTP/1.1\r\nHost: berth\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        .expect("send");
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("read response");
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("end of headers");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut body = raw[split + 4..].to_vec();
    let status: u16 = head.split(' ').nth(1).and_then(|s| s.parse().ok()).expect("status line");
    let header = |name: &str| {
        head.lines().find_map(|l| {
            l.split_once(':').filter(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.trim().to_string())
        })
    };
    if header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        let mut out = Vec::new();
        let mut rest = &body[..];
        loop {
            let nl = rest.windows(2).position(|w| w == b"\r\n").expect("chunk size line");
            let size = usize::from_str_radix(
                String::from_utf8_lossy(&rest[..nl]).split(';').next().unwrap().trim(),
                16,
            )
            .expect("chunk size");
            if size == 0 {
                break;
            }
            out.extend_from_slice(&rest[nl + 2..nl + 2 + size]);
            rest = &rest[nl + 2 + size + 2..];
        }
        body = out;
    }
    (status, header("content-type").unwrap_or_default(), body)
}

/// A JSON error body's `message`.
fn error_message(status: u16, content_type: &str, body: &[u8]) -> String {
    assert!(
        content_type.starts_with("application/json"),
        "error with content type {content_type:?}: {}",
        String::from_utf8_lossy(body)
    );
    let v: serde_json::Value = serde_json::from_slice(body)
        .unwrap_or_else(|e| panic!("{status} body is not JSON ({e}): {}", String::from_utf8_lossy(body)));
    let m = v["message"].as_str().unwrap_or_else(|| panic!("no message in {v}")).to_string();
    assert!(!m.trim().is_empty(), "empty message in {v}");
    m
}

#[test]
fn malformed_filters_are_a_400_with_a_json_message() {
    if !require_root() {
        return;
    }
    let d = Daemon::start();
    for path in [
        "/images/json?filters=notjson",
        "/v1.45/images/json?filters=notjson",
        "/images/json?filters=%5B1%2C2%5D",
    ] {
        let (status, ct, body) = http(&d, "GET", path);
        assert_eq!(status, 400, "GET {path}: {}", String::from_utf8_lossy(&body));
        let m = error_message(status, &ct, &body);
        assert!(m.contains("filter"), "GET {path}: message should say what was wrong: {m}");
    }
    // The daemon still answers.
    let (status, _, body) = http(&d, "GET", "/images/json");
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
}

#[test]
fn illegal_references_are_refused() {
    if !require_root() {
        return;
    }
    let d = Daemon::start();
    let tag = d.load_busybox();
    let before = image_ids(&d);

    // Uppercase in the repository path is refused, by the CLI and (for other
    // clients) by the daemon, with distribution's wording.
    for bad in ["x/UPPER", "Upper"] {
        let (_, stderr) = fails(d.docker().args(["tag", tag, bad]));
        assert!(stderr.contains("must be lowercase"), "docker tag {bad}: {stderr}");
        let (status, ct, body) = http(&d, "POST", &format!("/images/{tag}/tag?repo={bad}&tag=1"));
        assert_eq!(status, 400, "tag as {bad}: {}", String::from_utf8_lossy(&body));
        let m = error_message(status, &ct, &body);
        assert!(m.contains("must be lowercase"), "tag as {bad}: {m}");
    }
    let (status, ct, body) = http(&d, "POST", &format!("/images/{tag}/tag?repo=ok/x&tag=bad%20tag"));
    assert_eq!(status, 400, "{}", String::from_utf8_lossy(&body));
    error_message(status, &ct, &body);
    // (`UPPER/x` is legal: an uppercase first component is a registry host, so
    // Docker accepts it, and so must berth.)
    ok(d.docker().args(["tag", tag, "UPPER/x"]));
    ok(d.docker().args(["rmi", "UPPER/x"]));

    // A string that is no reference at all is a bad parameter (Docker's
    // GetImage: ParseAnyReference fails -> InvalidParameter -> 400), not a 404.
    let (_, stderr) = fails(d.docker().args(["image", "inspect", "bad@@ref"]));
    assert!(stderr.contains("invalid reference format"), "docker image inspect bad@@ref: {stderr}");
    let (status, ct, body) = http(&d, "GET", "/images/bad@@ref/json");
    let m = error_message(status, &ct, &body);
    assert_eq!(status, 400, "GET /images/bad@@ref/json: {m}");

    assert_eq!(image_ids(&d), before);
    assert_eq!(ok(d.docker().args(["images", "--format", "{{.Repository}}:{{.Tag}}"])).trim(), tag);
}

// ---- 3. a crash in the middle of a load ---------------------------------------------------------

/// Writes a classic `docker save` tarball of `layers` layers, each `files` files of
/// `file_size` bytes of noise, streaming each layer into the archive as it is made.
fn big_archive(path: &Path, tag: &str, layers: usize, files: usize, file_size: usize) {
    let header = |size: usize| {
        let mut h = tar::Header::new_ustar();
        h.set_size(size as u64);
        h.set_mode(0o644);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(1_700_000_000);
        h.set_entry_type(tar::EntryType::Regular);
        h
    };
    let mut out = tar::Builder::new(std::io::BufWriter::new(std::fs::File::create(path).expect("create")));
    let mut diff_ids = Vec::new();
    let mut layer_paths = Vec::new();
    for i in 0..layers {
        let mut l = tar::Builder::new(Vec::with_capacity(files * (file_size + 1024) + 2048));
        for j in 0..files {
            let mut h = header(file_size);
            let data = noise((i * 1000 + j) as u64 + 0x5eed, file_size);
            l.append_data(&mut h, format!("layer{i}/file{j}.bin"), &data[..]).expect("append");
        }
        let l = l.into_inner().expect("layer tar");
        let hex = sha256_hex(&l);
        let p = format!("{hex}/layer.tar");
        let mut h = header(l.len());
        out.append_data(&mut h, &p, &l[..]).expect("append layer");
        diff_ids.push(format!("sha256:{hex}"));
        layer_paths.push(p);
    }
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64", "os": "linux", "created": "2024-01-01T00:00:00Z",
        "config": {}, "rootfs": {"type": "layers", "diff_ids": diff_ids},
    }))
    .expect("json");
    let config_path = format!("{}.json", sha256_hex(&config));
    let manifest = serde_json::to_vec(
        &serde_json::json!([{"Config": config_path, "RepoTags": [tag], "Layers": layer_paths}]),
    )
    .expect("json");
    for (name, data) in [(config_path, config), ("manifest.json".to_string(), manifest)] {
        let mut h = header(data.len());
        out.append_data(&mut h, name, &data[..]).expect("append");
    }
    let w = out.into_inner().expect("finish");
    w.into_inner().expect("flush").sync_all().expect("sync");
}

/// `berth system check` on a stopped daemon's root: (success, stdout + stderr).
fn system_check(root: &Path) -> (bool, String) {
    let out =
        run(Command::new(BERTH).args(["system", "check", "--root"]).arg(root).env("BERTH_NO_AUTOSTART", "1"));
    (
        out.status.success(),
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)),
    )
}

#[test]
fn crash_during_load_leaves_a_consistent_store() {
    if !require_root() {
        return;
    }
    let work = tempfile::Builder::new().prefix("berth-crash-").tempdir().expect("temp dir");
    let big = work.path().join("big.tar");
    big_archive(&big, "crashtest:1", 5, 6, 10 << 20);
    let mut d = Daemon::start();

    let mut load = d
        .docker()
        .arg("load")
        .arg("-i")
        .arg(&big)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("docker load");
    // Crash once the load is well under way: some MB in staging or ingest.
    let in_flight = |d: &Daemon| usage(&d.root.join("staging")) + usage(&d.root.join("content/ingest"));
    let deadline = Instant::now() + Duration::from_secs(180);
    while in_flight(&d) < 16 << 20 {
        if let Some(status) = load.try_wait().expect("wait") {
            panic!("docker load ended ({status}) before the crash could happen:\n{}", d.log());
        }
        assert!(Instant::now() < deadline, "the load never got going:\n{}", d.log());
        std::thread::sleep(Duration::from_millis(5));
    }
    d.kill9();
    let status = load.wait().expect("wait for docker load");
    assert!(!status.success(), "docker load succeeded although the daemon was killed");
    assert!(!d.staging_leftovers().is_empty(), "the crash should have interrupted the load mid-way");

    let (good, report) = system_check(&d.root);
    assert!(good && report.contains("store is consistent"), "after the crash:\n{report}");

    d.restart();
    assert_eq!(d.staging_leftovers(), Vec::<PathBuf>::new(), "restart must clear staging and ingest");
    assert_eq!(image_ids(&d), BTreeSet::new(), "a half-loaded image is listed");
    assert_eq!(ok(d.docker().args(["images", "-a"])).lines().count(), 1, "only the header line");

    let out = ok(d.docker().arg("load").arg("-i").arg(&big));
    assert!(out.contains("Loaded image: crashtest:1"), "{out}");
    let layers = ok(d.docker().args(["image", "inspect", "-f", "{{len .RootFS.Layers}}", "crashtest:1"]));
    assert_eq!(layers.trim(), "5");
    assert!(d.staging_leftovers().is_empty());

    assert!(d.stop().success(), "daemon did not stop cleanly:\n{}", d.log());
    let (good, report) = system_check(&d.root);
    assert!(good && report.contains("store is consistent"), "after the reload:\n{report}");
    assert!(report.contains("5 snapshots, 1 images"), "{report}");
}

// ---- 4. a full disk -------------------------------------------------------------------------------

/// Writes `path` until the file system is full; returns the bytes written.
fn fill(path: &Path) -> u64 {
    let mut f = std::fs::File::create(path).expect("filler");
    let mut written = 0u64;
    for chunk in [1 << 20, 4096, 1] {
        let buf = vec![0x5a_u8; chunk];
        loop {
            match f.write(&buf) {
                Ok(n) => written += n as u64,
                Err(e) if e.kind() == std::io::ErrorKind::StorageFull => break,
                Err(e) => panic!("filling {}: {e}", path.display()),
            }
        }
    }
    let _ = f.sync_all();
    written
}

fn free_bytes(path: &Path) -> u64 {
    let st = rustix::fs::statvfs(path).expect("statvfs");
    st.f_bavail * st.f_frsize
}

/// A 64 MB tmpfs under a private temp dir, unmounted when dropped (after the
/// daemon using it, if declared before it).
struct SmallDisk {
    dir: tempfile::TempDir,
    mnt: PathBuf,
}

impl SmallDisk {
    fn new() -> Self {
        let dir = tempfile::Builder::new().prefix("berth-small-").tempdir().expect("temp dir");
        let mnt = dir.path().join("fs");
        std::fs::create_dir(&mnt).expect("mountpoint");
        rustix::mount::mount("tmpfs", &mnt, "tmpfs", rustix::mount::MountFlags::empty(), c"size=64m")
            .expect("mount tmpfs");
        SmallDisk { dir, mnt }
    }

    /// Beside the mount, on the ordinary disk: where the test's archives go.
    fn outside(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = rustix::mount::unmount(&self.mnt, rustix::mount::UnmountFlags::DETACH);
    }
}

/// Loads `archive` onto a daemon whose root is on `disk`, which it cannot fit:
/// the load must fail with one "no space left on device: <path>: N bytes needed,
/// M bytes free" error, register nothing, and give back the space it took.
fn load_fails_for_space(d: &Daemon, disk: &SmallDisk, archive: &Path) {
    let free_before = free_bytes(&disk.mnt);
    let (_, stderr) = fails(d.docker().arg("load").arg("-i").arg(archive));
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one error expected:\n{stderr}");
    let line = lines[0];
    eprintln!("{}: berth says: {line}", archive.display());
    let at = line
        .find("no space left on device: ")
        .unwrap_or_else(|| panic!("not berth's no-space error: {line}\ndaemon log:\n{}", d.log()));
    let rest = &line[at + "no space left on device: ".len()..];
    let (path, counts) = rest.rsplit_once(": ").unwrap_or_else(|| panic!("no path in: {line}"));
    assert!(path.starts_with('/'), "the error should name a path: {line}");
    let nums: Vec<u64> = counts
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().unwrap())
        .collect();
    assert!(
        counts.contains("bytes needed") && counts.contains("bytes free") && nums.len() == 2,
        "bytes needed and free: {line}"
    );
    assert!(nums[0] > nums[1], "needed should exceed free: {line}");

    assert_eq!(image_ids(d), BTreeSet::new(), "nothing may be half-registered");
    assert!(d.staging_leftovers().is_empty(), "{:?}", d.staging_leftovers());
    let free_after = free_bytes(&disk.mnt);
    assert!(
        free_after + (1 << 20) >= free_before,
        "the failed load keeps {} bytes",
        free_before - free_after
    );
}

#[test]
fn full_disk_fails_cleanly_and_the_daemon_still_starts() {
    if !require_root() {
        return;
    }
    let disk = SmallDisk::new();
    // Two 40 MB layers: each needs its blob and its files, far more than 64 MB.
    let big = disk.outside().join("big.tar");
    big_archive(&big, "toobig:1", 2, 4, 10 << 20);
    let mut d = Daemon::start_with_root(Some(disk.mnt.join("root")));
    load_fails_for_space(&d, &disk, &big);

    // Fill the disk to the last byte: the daemon must still start and prune.
    let filler = disk.mnt.join("filler");
    fill(&filler);
    assert_eq!(free_bytes(&disk.mnt), 0, "the disk should be full");
    d.restart();
    ok(d.docker().args(["image", "prune", "-a", "-f"]));
    assert_eq!(image_ids(&d), BTreeSet::new());
    std::fs::remove_file(&filler).expect("remove filler");

    // With space again, loading works.
    d.load_busybox();
}

/// The same, when the archive is small but its gzip layer unpacks to more than
/// the disk holds: the extraction, not the blob, runs out of space.
#[test]
fn full_disk_while_unpacking_a_compressed_layer_fails_cleanly() {
    if !require_root() {
        return;
    }
    let disk = SmallDisk::new();
    let mut layer = Vec::new();
    let block = noise(21, 4096);
    for i in 0..3 {
        // 30 MB each of a repeated 4 KiB block: gzip shrinks it ~250-fold, and
        // it is not zeros, so it cannot be written sparse.
        file(&mut layer, &format!("big{i}.bin"), &block.repeat(30 << 8));
    }
    let layer = end(layer);
    let config = config_for(&[&layer]);
    let members = oci_members(
        "bomb:1",
        &config,
        &sha256_hex(&config),
        &[Blob { media_type: TAR_GZIP, bytes: gzip(&layer), omit: false }],
    );
    let archive = disk.outside().join("bomb.tar");
    write_tar(&archive, &members);
    assert!(std::fs::metadata(&archive).expect("archive").len() < 8 << 20);
    let d = Daemon::start_with_root(Some(disk.mnt.join("root")));
    load_fails_for_space(&d, &disk, &archive);
    d.load_busybox();
}

// ---- 5. one daemon per root -------------------------------------------------------------------------

#[test]
fn second_daemon_on_the_same_root_refuses_to_start() {
    if !require_root() {
        return;
    }
    let d = Daemon::start();
    let other = tempfile::Builder::new().prefix("berth-second-").tempdir().expect("temp dir");
    let sock = other.path().join("second.sock");
    let mut second = Command::new(BERTH)
        .arg("daemon")
        .arg("--root")
        .arg(&d.root)
        .arg("--exec-root")
        .arg(other.path().join("run"))
        .arg("-H")
        .arg(format!("unix://{}", sock.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn second daemon");
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(s) = second.try_wait().expect("wait") {
            break s;
        }
        if Instant::now() > deadline {
            let _ = second.kill();
            let _ = second.wait();
            panic!("a second daemon is running on {}", d.root.display());
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stderr = String::new();
    second.stderr.take().expect("stderr").read_to_string(&mut stderr).expect("stderr");
    assert!(!status.success(), "second daemon exited with {status}");
    assert!(stderr.contains("another berth daemon"), "stderr: {stderr}");
    assert!(
        stderr.contains(&d.root.to_string_lossy().into_owned()),
        "the error should name the root: {stderr}"
    );
    assert!(!sock.exists(), "the second daemon bound its socket");

    // The offline checker refuses too, and the first daemon is unharmed.
    let (good, report) = system_check(&d.root);
    assert!(!good && report.contains("another berth daemon"), "{report}");
    d.load_busybox();
    assert_eq!(image_ids(&d).len(), 1);
}
