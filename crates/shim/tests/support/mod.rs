//! Test support: a bundle per test, the shim started as a real process
//! (this test binary re-executed as `__shim start BUNDLE`), protocol
//! clients, and a small parallel test runner (the binary has its own
//! `main`, see Cargo.toml).

#![allow(dead_code)]

pub mod fake;

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

pub const TIMEOUT: Duration = Duration::from_secs(30);

/// Whether the test may run: root, or a skip (a panic under `CI=true`).
pub fn need_root(test: &str) -> bool {
    if rustix::process::geteuid().is_root() {
        return true;
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{test} needs root, and CI runs as root");
    }
    eprintln!("skipping {test}: needs root");
    false
}

/// A bundle with a running shim.
pub struct Container {
    pub dir: tempfile::TempDir,
    pub bundle: PathBuf,
    pub init_pid: i32,
    pub shim_pid: i32,
    pub launcher_pid: u32,
}

/// `spec.json` for the fake runtime: `args` run on the host.
pub fn spec(args: &[&str]) -> Value {
    json!({"runtime": {"args": args}, "log": {"driver": "none"}})
}

pub fn sh(script: &str) -> Value {
    spec(&["sh", "-c", script])
}

impl Container {
    /// Starts a shim (fake runtime) for `spec`; panics on failure.
    pub fn new(spec: Value) -> Container {
        Container::with("__shim", spec).unwrap_or_else(|e| panic!("shim start failed: {e}"))
    }

    /// Starts a shim through the test binary's `mode` (`__shim` for the
    /// fake runtime, `__shim_real` for the real one).
    pub fn with(mode: &str, spec: Value) -> Result<Container, String> {
        let dir = tempfile::tempdir().unwrap();
        let bundle = dir.path().join("bundle");
        std::fs::create_dir(&bundle).unwrap();
        let mut spec = spec;
        // Relative log paths are placed in the test's directory.
        if let Some(p) = spec["log"]["path"].as_str()
            && !p.starts_with('/')
        {
            spec["log"]["path"] = json!(dir.path().join(p));
        }
        std::fs::write(bundle.join("spec.json"), serde_json::to_vec(&spec).unwrap()).unwrap();
        let child = Command::new(std::env::current_exe().unwrap())
            .arg(mode)
            .arg("start")
            .arg(&bundle)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let launcher_pid = child.id();
        let out = child.wait_with_output().unwrap();
        if !out.status.success() {
            return Err(format!(
                "status {:?}, stderr {}",
                out.status.code(),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        let reply: Value = serde_json::from_slice(&out.stdout).expect("{\"pid\":N} on stdout");
        let init_pid = reply["pid"].as_i64().expect("pid") as i32;
        let shim_pid = std::fs::read_to_string(bundle.join("shim.pid")).unwrap().parse().unwrap();
        assert_eq!(std::fs::read_to_string(bundle.join("init.pid")).unwrap(), init_pid.to_string());
        Ok(Container { dir, bundle, init_pid, shim_pid, launcher_pid })
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn socket(&self) -> PathBuf {
        self.bundle.join("shim.sock")
    }

    /// Sends a request; returns the connection and the answer.
    pub fn connect(&self, request: Value) -> (UnixStream, Value) {
        let mut s = UnixStream::connect(self.socket()).unwrap();
        s.set_read_timeout(Some(TIMEOUT)).unwrap();
        s.set_write_timeout(Some(TIMEOUT)).unwrap();
        let mut line = serde_json::to_vec(&request).unwrap();
        line.push(b'\n');
        s.write_all(&line).unwrap();
        let answer = read_line(&mut s);
        (s, answer)
    }

    /// Sends a request and returns the answer.
    pub fn request(&self, request: Value) -> Value {
        self.connect(request).1
    }

    /// `request` that must succeed.
    pub fn ok(&self, request: Value) -> Value {
        let answer = self.request(request.clone());
        assert_eq!(answer["ok"], true, "{request} -> {answer}");
        answer
    }

    pub fn attach(&self, stdin: bool) -> UnixStream {
        let (s, answer) =
            self.connect(json!({"op": "attach", "stdin": stdin, "stdout": true, "stderr": true}));
        assert_eq!(answer, json!({"ok": true}));
        s
    }

    pub fn start(&self) {
        self.ok(json!({"op": "start"}));
    }

    pub fn wait(&self) -> Value {
        self.ok(json!({"op": "wait"}))
    }

    pub fn exit_code(&self) -> i64 {
        self.wait()["exit_code"].as_i64().unwrap()
    }

    /// Asks the shim to exit and waits until it has.
    pub fn shutdown(&self) {
        self.ok(json!({"op": "shutdown"}));
        wait_gone(self.shim_pid, TIMEOUT);
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        if alive(self.shim_pid) {
            // SAFETY: kill(2) on processes this test created.
            unsafe {
                libc::kill(-self.init_pid, libc::SIGKILL);
                libc::kill(self.init_pid, libc::SIGKILL);
            }
            if let Ok(mut s) = UnixStream::connect(self.socket()) {
                let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
                let _ = s.write_all(b"{\"op\":\"shutdown\"}\n");
                let _ = s.read(&mut [0u8; 64]);
            }
            let deadline = Instant::now() + Duration::from_secs(5);
            while alive(self.shim_pid) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
            if alive(self.shim_pid) {
                // SAFETY: as above.
                unsafe { libc::kill(self.shim_pid, libc::SIGKILL) };
            }
        }
    }
}

/// A process exists and is not a zombie (the shim is nobody's child here,
/// so its zombie may linger until init reaps it).
pub fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            let state = stat.rsplit(')').next().unwrap_or("").trim_start().chars().next();
            state != Some('Z') && state != Some('X')
        }
        Err(_) => false,
    }
}

pub fn wait_gone(pid: i32, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    while alive(pid) {
        assert!(Instant::now() < deadline, "process {pid} still alive");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Polls `f` until it is true.
pub fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + TIMEOUT;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

pub fn read_line(s: &mut UnixStream) -> Value {
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    loop {
        let n = s.read(&mut byte).expect("reading an answer");
        if n == 0 || byte[0] == b'\n' {
            break;
        }
        line.push(byte[0]);
    }
    serde_json::from_slice(&line)
        .unwrap_or_else(|e| panic!("answer {:?}: {e}", String::from_utf8_lossy(&line)))
}

/// Reads Docker's multiplexed frames until end of file: (stream, payload).
pub fn read_frames(s: &mut UnixStream) -> Vec<(u8, Vec<u8>)> {
    let mut frames = Vec::new();
    loop {
        let mut header = [0u8; 8];
        if !read_exact_or_eof(s, &mut header) {
            return frames;
        }
        assert!(matches!(header[0], 1 | 2), "bad stream id in {header:?}");
        assert_eq!(&header[1..4], &[0, 0, 0], "bad header {header:?}");
        let len = u32::from_be_bytes(header[4..8].try_into().unwrap()) as usize;
        let mut payload = vec![0u8; len];
        s.read_exact(&mut payload).expect("frame payload");
        frames.push((header[0], payload));
    }
}

/// Joins the frames of each stream: (stdout, stderr).
pub fn demux(frames: &[(u8, Vec<u8>)]) -> (String, String) {
    let mut out = (String::new(), String::new());
    for (id, data) in frames {
        let text = String::from_utf8_lossy(data);
        if *id == 1 { &mut out.0 } else { &mut out.1 }.push_str(&text);
    }
    out
}

fn read_exact_or_eof(s: &mut UnixStream, buf: &mut [u8]) -> bool {
    let mut got = 0;
    while got < buf.len() {
        let n = s.read(&mut buf[got..]).expect("reading frames");
        if n == 0 {
            assert_eq!(got, 0, "stream ended inside a frame header");
            return false;
        }
        got += n;
    }
    true
}

/// Reads raw bytes until end of file.
pub fn read_raw(s: &mut UnixStream) -> Vec<u8> {
    let mut out = Vec::new();
    s.read_to_end(&mut out).expect("reading the stream");
    out
}

/// Reads raw bytes until `needle` has been seen.
pub fn read_until(s: &mut UnixStream, needle: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while !out.windows(needle.len()).any(|w| w == needle) {
        let n = s.read(&mut buf).expect("reading the stream");
        assert!(
            n > 0,
            "end of stream before {:?}; got {:?}",
            String::from_utf8_lossy(needle),
            String::from_utf8_lossy(&out)
        );
        out.extend_from_slice(&buf[..n]);
    }
    out
}

/// /proc/<pid>/status field in kB.
pub fn status_kb(pid: i32, field: &str) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    kb_field(&text, field)
}

pub fn kb_field(text: &str, field: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("{field} missing"))
}

pub fn bundle_files(bundle: &Path) -> Vec<String> {
    let mut names: Vec<String> =
        std::fs::read_dir(bundle).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    names.sort();
    names
}

pub type Test = (&'static str, fn());

/// Runs the tests whose name contains one of `filters` (all if none), in
/// parallel; `false` if any failed.
pub fn run(tests: &[Test], filters: &[String]) -> bool {
    let selected: Vec<Test> = tests
        .iter()
        .copied()
        .filter(|(name, _)| filters.is_empty() || filters.iter().any(|f| name.contains(f.as_str())))
        .collect();
    println!("running {} tests", selected.len());
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get()) * 2;
    let queue = std::sync::Mutex::new(selected.into_iter());
    let failed = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                loop {
                    let Some((name, test)) = queue.lock().unwrap().next() else { return };
                    let start = Instant::now();
                    let result = std::panic::catch_unwind(test);
                    let took = start.elapsed();
                    match result {
                        Ok(()) => println!("test {name} ... ok ({took:.2?})"),
                        Err(_) => {
                            println!("test {name} ... FAILED ({took:.2?})");
                            failed.lock().unwrap().push(name);
                        }
                    }
                }
            });
        }
    });
    let failed = failed.into_inner().unwrap();
    if failed.is_empty() {
        println!("\ntest result: ok");
    } else {
        println!("\nfailures: {failed:?}");
    }
    failed.is_empty()
}
