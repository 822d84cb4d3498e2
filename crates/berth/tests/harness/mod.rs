//! The integration-test harness: a private `berth daemon` per test (own root,
//! exec-root and socket under a temporary directory), `docker` and `berth`
//! commands pointed at it, and cleanup on drop — even when the test fails.
//!
//! Every integration test file includes it with `mod harness;`.

#![allow(dead_code)] // each test binary uses a different part of it

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const BERTH: &str = env!("CARGO_BIN_EXE_berth");

/// The fixture directory inside the repository.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

pub const BUSYBOX_OCI: &str = "busybox-1.38.0-glibc-amd64.oci.tar";
pub const ALPINE_ROOTFS: &str = "alpine-minirootfs-3.20.3-x86_64.tar.gz";

/// Tests that need root: skipped with a message on a developer's machine,
/// a failure in CI (`CI=true`), where they must run.
pub fn require_root() -> bool {
    if rustix::process::geteuid().is_root() {
        return true;
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("this test needs root, and CI runs as root");
    }
    eprintln!("skipped: this test needs root");
    false
}

/// A running daemon on private state.
pub struct Daemon {
    pub dir: tempfile::TempDir,
    pub root: PathBuf,
    pub exec_root: PathBuf,
    pub socket: PathBuf,
    /// Extra `berth daemon` arguments, kept across restarts.
    args: Vec<String>,
    child: Option<Child>,
}

impl Daemon {
    pub fn start() -> Self {
        Self::start_with_root(None)
    }

    /// Starts a daemon with extra `berth daemon` arguments.
    pub fn start_with_args(args: &[&str]) -> Self {
        Self::start_inner(None, args)
    }

    /// Starts a daemon whose root is `root` (e.g. a small file system the test mounted).
    pub fn start_with_root(root: Option<PathBuf>) -> Self {
        Self::start_inner(root, &[])
    }

    fn start_inner(root: Option<PathBuf>, args: &[&str]) -> Self {
        let dir = tempfile::Builder::new().prefix("berth-test-").tempdir().expect("temp dir");
        let root = root.unwrap_or_else(|| dir.path().join("root"));
        let mut d = Daemon {
            exec_root: dir.path().join("run"),
            socket: dir.path().join("berth.sock"),
            root,
            dir,
            args: args.iter().map(|a| a.to_string()).collect(),
            child: None,
        };
        // The test's own daemon config, never the machine's.
        std::fs::write(d.dir.path().join("daemon.json"), "{}").expect("daemon.json");
        d.spawn();
        d
    }

    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("daemon.log"))
            .expect("log");
        let child = Command::new(BERTH)
            .arg("daemon")
            .arg("--root")
            .arg(&self.root)
            .arg("--exec-root")
            .arg(&self.exec_root)
            .arg("-H")
            .arg(format!("unix://{}", self.socket.display()))
            .arg("--log-level")
            .arg("debug")
            .args(if self.args.iter().any(|a| a == "--config-file") {
                vec![]
            } else {
                vec!["--config-file".into(), self.dir.path().join("daemon.json")]
            })
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("spawn berth daemon");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if std::os::unix::net::UnixStream::connect(&self.socket).is_ok() {
                return;
            }
            if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                panic!("berth daemon exited with {status}:\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("berth daemon did not start:\n{}", self.log());
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("daemon.log")).unwrap_or_default()
    }

    pub fn host(&self) -> String {
        format!("unix://{}", self.socket.display())
    }

    /// The real docker CLI, pointed at this daemon, with a private config dir.
    pub fn docker(&self) -> Command {
        let mut c = Command::new("docker");
        c.env("DOCKER_HOST", self.host())
            .env("DOCKER_CONFIG", self.dir.path().join("docker-config"))
            .env_remove("DOCKER_API_VERSION");
        c
    }

    /// The berth CLI, pointed at this daemon.
    pub fn berth(&self) -> Command {
        let mut c = Command::new(BERTH);
        c.arg("-H").arg(self.host()).env("BERTH_NO_AUTOSTART", "1");
        c
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// Kills the daemon with SIGKILL, as a crash would.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Stops the daemon with SIGTERM and waits for it.
    pub fn stop(&mut self) -> std::process::ExitStatus {
        let mut c = self.child.take().expect("running");
        let pid = rustix::process::Pid::from_raw(c.id() as i32).expect("pid");
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(s) = c.try_wait().expect("wait") {
                return s;
            }
            if Instant::now() > deadline {
                let _ = c.kill();
                return c.wait().expect("wait");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn restart(&mut self) {
        if self.child.is_some() {
            self.stop();
        }
        self.spawn();
    }

    /// `docker events` from `since` (unix seconds) until the next second,
    /// with `--filter`s, in `format`: what happened, without following.
    pub fn past_events(&self, since: u64, filters: &[&str], format: &str) -> String {
        let mut cmd = self.docker();
        cmd.args(["events", "--since", &since.to_string(), "--until", &(now_secs() + 1).to_string()]);
        for f in filters {
            cmd.args(["--filter", f]);
        }
        ok(cmd.args(["--format", format]))
    }

    /// Loads the busybox fixture and returns its tag.
    pub fn load_busybox(&self) -> &'static str {
        ok(self.docker().arg("load").arg("-i").arg(fixture(BUSYBOX_OCI)));
        "busybox:1.38.0-glibc"
    }

    /// Imports the Alpine fixture as `tag` and returns the image ID.
    pub fn import_alpine(&self, tag: &str) -> String {
        ok(self.docker().arg("import").arg(fixture(ALPINE_ROOTFS)).arg(tag)).trim().to_string()
    }

    /// Files left in the store's staging areas (should be none between operations).
    pub fn staging_leftovers(&self) -> Vec<PathBuf> {
        ["staging", "content/ingest"]
            .iter()
            .flat_map(|d| {
                std::fs::read_dir(self.root.join(d)).into_iter().flatten().flatten().map(|e| e.path())
            })
            .collect()
    }
}

impl Daemon {
    /// Kills every container this daemon started and their shims, and
    /// removes their cgroups: containers outlive their daemon by design, so
    /// a test that fails half-way would otherwise leave them running.
    fn kill_containers(&self) {
        let Ok(bundles) = std::fs::read_dir(self.exec_root.join("containers")) else { return };
        for b in bundles.flatten() {
            let pid = |f: &str| {
                std::fs::read_to_string(b.path().join(f)).ok().and_then(|s| s.trim().parse::<i32>().ok())
            };
            if let Some(shim) = pid("shim.pid").and_then(rustix::process::Pid::from_raw) {
                let _ = rustix::process::kill_process(shim, rustix::process::Signal::KILL);
            }
            let spec = std::fs::read(b.path().join("spec.json"))
                .ok()
                .and_then(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok())
                .and_then(|v| serde_json::from_value::<runtime::Spec>(v["runtime"].clone()).ok());
            if let Some(spec) = spec {
                let _ = runtime::cleanup(&spec);
            }
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if self.child.is_some() {
            self.stop();
        }
        self.kill_containers();
        // Anything a test mounted below its directory goes before the directory.
        let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        let prefix = self.dir.path().to_string_lossy().to_string();
        let mut points: Vec<&str> =
            mounts.lines().filter_map(|l| l.split(' ').nth(4)).filter(|m| m.starts_with(&prefix)).collect();
        points.sort_by_key(|p| std::cmp::Reverse(p.len()));
        for p in points {
            let _ = rustix::mount::unmount(p, rustix::mount::UnmountFlags::DETACH);
        }
    }
}

/// Runs a command and returns its output, whatever its status.
/// Now, in unix seconds.
pub fn now_secs() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("after 1970").as_secs()
}

pub fn run(cmd: &mut Command) -> Output {
    cmd.output().unwrap_or_else(|e| panic!("running {cmd:?}: {e}"))
}

/// Runs a command that must succeed; returns its stdout.
pub fn ok(cmd: &mut Command) -> String {
    let out = run(cmd);
    assert!(
        out.status.success(),
        "{cmd:?} failed with {}:\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

/// Runs a command that must fail; returns (exit code, stderr).
pub fn fails(cmd: &mut Command) -> (i32, String) {
    let out = run(cmd);
    assert!(
        !out.status.success(),
        "{cmd:?} unexpectedly succeeded:\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// Polls until `f` holds, for at most `secs` seconds.
pub fn eventually(secs: u64, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// The non-empty lines of a command's output.
pub fn lines(s: &str) -> Vec<&str> {
    s.lines().filter(|l| !l.is_empty()).collect()
}
