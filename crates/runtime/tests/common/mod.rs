//! Helpers for the container tests: a busybox rootfs from the repository's
//! OCI fixture, per-test directories and cgroup names, and running a
//! container to completion while collecting its output (single-threaded:
//! both pipes are drained with poll, never with helper threads).

#![allow(dead_code)]

use std::io::Read;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use runtime::cgroups::{Cgroup, Hierarchy};
use runtime::{Created, ExitStatus, Rootfs, Spec, Stdio};
use rustix::event::{PollFd, PollFlags};
use rustix::pipe::PipeFlags;

/// The fixture, relative to this crate.
pub const FIXTURE: &str = "../berth/tests/fixtures/busybox-1.38.0-glibc-amd64.oci.tar";

/// Extracts the fixture's single layer into `dest` (as root, keeping
/// owners and modes; busybox's applets are hard links and stay so).
pub fn extract_busybox(dest: &Path) {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join(FIXTURE);
    let file = std::fs::File::open(&fixture).unwrap_or_else(|e| panic!("open {}: {e}", fixture.display()));
    let mut blobs = std::collections::HashMap::new();
    let mut outer = tar::Archive::new(file);
    for entry in outer.entries().unwrap() {
        let mut entry = entry.unwrap();
        let path = entry.path().unwrap().to_string_lossy().into_owned();
        let mut data = Vec::new();
        entry.read_to_end(&mut data).unwrap();
        blobs.insert(path.trim_start_matches("./").to_string(), data);
    }
    let blob = |digest: &str| -> &Vec<u8> {
        let hex = digest.strip_prefix("sha256:").unwrap();
        &blobs[&format!("blobs/sha256/{hex}")]
    };
    let index: serde_json::Value = serde_json::from_slice(&blobs["index.json"]).unwrap();
    let manifest: serde_json::Value =
        serde_json::from_slice(blob(index["manifests"][0]["digest"].as_str().unwrap())).unwrap();
    std::fs::create_dir_all(dest).unwrap();
    for layer in manifest["layers"].as_array().unwrap() {
        let gz = flate2::read::GzDecoder::new(&blob(layer["digest"].as_str().unwrap())[..]);
        let mut archive = tar::Archive::new(gz);
        archive.set_preserve_permissions(true);
        archive.set_preserve_ownerships(true);
        archive.set_unpack_xattrs(false);
        archive.unpack(dest).unwrap();
    }
}

/// Per-test state: directories, unique names, cleanup on drop.
pub struct Env {
    pub case: String,
    pub dir: tempfile::TempDir,
    pub busybox: PathBuf,
    /// The cgroup parent private to this test (`berth-test-<case>-<pid>`).
    pub parent: String,
    count: std::cell::Cell<u32>,
}

impl Env {
    pub fn new(case: &str) -> Env {
        let busybox = PathBuf::from(std::env::var("BERTH_RT_BUSYBOX").expect("run through the test runner"));
        Env::with_busybox(case, busybox)
    }

    pub fn with_busybox(case: &str, busybox: PathBuf) -> Env {
        Env {
            case: case.to_string(),
            dir: tempfile::Builder::new().prefix("berth-rt-").tempdir().unwrap(),
            busybox,
            parent: format!("berth-test-{case}-{}", std::process::id()),
            count: std::cell::Cell::new(0),
        }
    }

    /// A fresh container spec over busybox (plus `extra` layers on top),
    /// with Docker's defaults and this test's cgroup parent.
    pub fn spec(&self, args: &[&str]) -> Spec {
        self.spec_with_layers(args, &[])
    }

    pub fn spec_with_layers(&self, args: &[&str], extra: &[PathBuf]) -> Spec {
        let n = self.count.get();
        self.count.set(n + 1);
        let id = format!("{}-{n}", self.case);
        let base = self.dir.path().join(format!("c{n}"));
        let (upper, work, target) = (base.join("upper"), base.join("work"), base.join("rootfs"));
        for d in [&upper, &work, &target] {
            std::fs::create_dir_all(d).unwrap();
        }
        let mut lower: Vec<PathBuf> = extra.to_vec();
        lower.push(self.busybox.clone());
        let mut spec = Spec::docker_defaults(
            id.clone(),
            Rootfs::Overlay { lower, upper, work, target },
            args.iter().map(|s| s.to_string()).collect(),
        );
        spec.cgroup.parent = self.parent.clone();
        spec
    }

    /// A layer directory with `files` (path, content, mode), owned by root.
    pub fn layer(&self, name: &str, files: &[(&str, &str, u32)]) -> PathBuf {
        let dir = self.dir.path().join("layers").join(name);
        for (path, content, mode) in files {
            let p = dir.join(path.trim_start_matches('/'));
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, content).unwrap();
            std::fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(*mode)).unwrap();
        }
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    pub fn hierarchy(&self) -> Hierarchy {
        Hierarchy::detect().unwrap()
    }
}

impl Drop for Env {
    /// Whatever a failing test left behind: processes in our cgroups, the
    /// cgroups, the parent.
    fn drop(&mut self) {
        let mut trees: Vec<Hierarchy> = Hierarchy::detect().into_iter().collect();
        let unified = Path::new("/sys/fs/cgroup/unified");
        if unified.join("cgroup.procs").exists() {
            trees.push(Hierarchy::v2(unified));
        }
        for h in trees {
            let dirs: Vec<PathBuf> = match &h {
                Hierarchy::V1 { mounts } => mounts.iter().map(|m| m.path.join(&self.parent)).collect(),
                Hierarchy::V2 { root } => vec![root.join(&self.parent)],
            };
            for dir in dirs {
                let Ok(entries) = std::fs::read_dir(&dir) else { continue };
                for e in entries.flatten() {
                    if e.file_type().is_ok_and(|t| t.is_dir()) {
                        let name = e.file_name().to_string_lossy().into_owned();
                        if let Ok(cg) = Cgroup::new(h.clone(), &self.parent, &name) {
                            let _ = cg.kill_all();
                            let _ = cg.delete();
                        }
                    }
                }
            }
            let _ = runtime::cgroups::remove_parent(&h, &self.parent);
        }
    }
}

/// What a finished container printed and how it ended.
#[derive(Debug)]
pub struct Output {
    pub stdout: String,
    pub stderr: String,
    pub status: ExitStatus,
}

/// Pipes for a container: (our read ends, the Stdio to hand over).
pub fn pipes() -> ((OwnedFd, OwnedFd), Stdio) {
    let (out_r, out_w) = rustix::pipe::pipe_with(PipeFlags::CLOEXEC).unwrap();
    let (err_r, err_w) = rustix::pipe::pipe_with(PipeFlags::CLOEXEC).unwrap();
    ((out_r, err_r), Stdio::Pipes { stdin: None, stdout: out_w, stderr: err_w })
}

/// Reads both pipes to EOF (or until `timeout`), without threads.
pub fn drain(out: &OwnedFd, err: &OwnedFd, timeout: Duration) -> (String, String, bool) {
    let deadline = Instant::now() + timeout;
    let mut bufs = [Vec::new(), Vec::new()];
    let mut open = [true, true];
    let fds = [out, err];
    while open[0] || open[1] {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            let [o, e] = bufs;
            return (lossy(o), lossy(e), false);
        }
        let which: Vec<usize> = (0..2).filter(|i| open[*i]).collect();
        let mut polled: Vec<PollFd<'_>> = which.iter().map(|i| PollFd::new(fds[*i], PollFlags::IN)).collect();
        let ts =
            rustix::event::Timespec { tv_sec: left.as_secs() as i64, tv_nsec: left.subsec_nanos() as i64 };
        match rustix::event::poll(&mut polled, Some(&ts)) {
            Ok(_) | Err(rustix::io::Errno::INTR) => {}
            Err(e) => panic!("poll: {e}"),
        }
        let ready: Vec<bool> = polled.iter().map(|p| !p.revents().is_empty()).collect();
        drop(polled);
        for (k, i) in which.into_iter().enumerate() {
            if !ready[k] {
                continue;
            }
            let mut chunk = [0u8; 8192];
            match rustix::io::read(fds[i], &mut chunk) {
                Ok(0) => open[i] = false,
                Ok(n) => bufs[i].extend_from_slice(&chunk[..n]),
                Err(rustix::io::Errno::INTR | rustix::io::Errno::AGAIN) => {}
                Err(_) => open[i] = false,
            }
        }
    }
    let [o, e] = bufs;
    (lossy(o), lossy(e), true)
}

fn lossy(v: Vec<u8>) -> String {
    String::from_utf8_lossy(&v).into_owned()
}

/// Creates, starts and waits for a container, then cleans it up.
pub fn run(spec: &Spec) -> Output {
    run_with(spec, |_| {})
}

/// Like [`run`], calling `during` after start (with the container running).
pub fn run_with(spec: &Spec, during: impl FnOnce(&Created)) -> Output {
    let ((out, err), stdio) = pipes();
    let created = runtime::create(spec, stdio).unwrap_or_else(|e| panic!("create {}: {e}", spec.id));
    runtime::start(&created).unwrap_or_else(|e| panic!("start {}: {e}", spec.id));
    during(&created);
    let (stdout, stderr, finished) = drain(&out, &err, Duration::from_secs(60));
    if !finished {
        let _ = created.signal(libc::SIGKILL);
    }
    let status = created.wait().unwrap();
    runtime::cleanup(spec).unwrap();
    assert!(finished, "container {} timed out; stdout {stdout:?} stderr {stderr:?}", spec.id);
    Output { stdout, stderr, status }
}

/// Runs and asserts a clean exit; returns stdout.
pub fn output_of(spec: &Spec) -> String {
    let out = run(spec);
    assert_eq!(out.status, ExitStatus::Exited(0), "{}: {out:?}", spec.id);
    out.stdout
}

/// The lines of the host's mount table that mention `needle`.
pub fn host_mounts_mentioning(needle: &str) -> Vec<String> {
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter(|l| l.contains(needle))
        .map(String::from)
        .collect()
}

/// Whether a process exists.
pub fn alive(pid: runtime::Pid) -> bool {
    rustix::process::test_kill_process(pid).is_ok()
}

/// Polls `f` until it returns true or `timeout` passes.
pub fn eventually(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if f() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
