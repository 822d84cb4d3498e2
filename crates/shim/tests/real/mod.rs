//! The shim with berth's real runtime: busybox containers (namespaces,
//! overlay rootfs, cgroups), as root. Skipped with a message when not root,
//! a failure under `CI=true`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::*;

pub const TESTS: &[Test] = &[
    ("real_run_attach_logs_exit", real_run_attach_logs_exit),
    ("real_exec_in_the_container", real_exec_in_the_container),
    ("real_tty", real_tty),
    ("real_signals_pause_stats", real_signals_pause_stats),
    ("real_missing_command", real_missing_command),
    ("real_shutdown_removes_the_cgroup", real_shutdown_removes_the_cgroup),
    ("real_shim_memory", real_shim_memory),
];

const FIXTURE: &str = "../berth/tests/fixtures/busybox-1.38.0-glibc-amd64.oci.tar";

static BUSYBOX: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();

/// The busybox layer, extracted once per test run (never written to: each
/// container has its own overlay upper directory).
fn busybox() -> &'static Path {
    &BUSYBOX
        .get_or_init(|| {
            let dir = tempfile::Builder::new().prefix("berth-shim-busybox-").tempdir().unwrap();
            let root = dir.path().join("rootfs");
            extract_oci_layers(&Path::new(env!("CARGO_MANIFEST_DIR")).join(FIXTURE), &root);
            (dir, root)
        })
        .1
}

/// Unpacks every layer of the OCI layout tarball's first manifest into
/// `dest`, keeping owners, modes and hard links.
fn extract_oci_layers(fixture: &Path, dest: &Path) {
    use std::io::Read;
    let mut blobs = std::collections::HashMap::new();
    let mut outer = tar::Archive::new(std::fs::File::open(fixture).unwrap());
    for entry in outer.entries().unwrap() {
        let mut entry = entry.unwrap();
        let path = entry.path().unwrap().to_string_lossy().trim_start_matches("./").to_string();
        let mut data = Vec::new();
        entry.read_to_end(&mut data).unwrap();
        blobs.insert(path, data);
    }
    let blob = |digest: &str| &blobs[&format!("blobs/sha256/{}", digest.strip_prefix("sha256:").unwrap())];
    let index: Value = serde_json::from_slice(&blobs["index.json"]).unwrap();
    let manifest: Value =
        serde_json::from_slice(blob(index["manifests"][0]["digest"].as_str().unwrap())).unwrap();
    std::fs::create_dir_all(dest).unwrap();
    for layer in manifest["layers"].as_array().unwrap() {
        let gz = flate2::read::GzDecoder::new(&blob(layer["digest"].as_str().unwrap())[..]);
        let mut archive = tar::Archive::new(gz);
        archive.set_preserve_permissions(true);
        archive.set_preserve_ownerships(true);
        archive.unpack(dest).unwrap();
    }
}

/// Overlay directories of the containers, removed by [`cleanup`].
static CONTAINER_DIRS: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());

fn cgroup_parent() -> String {
    format!("berth-shim-test-{}", std::process::id())
}

/// A bundle spec for the real runtime: busybox as the overlay's lower
/// layer, a private upper, Docker's defaults for the rest.
fn real_spec(name: &str, args: &[&str], extra: Value) -> Value {
    let base = tempfile::Builder::new().prefix("berth-shim-c-").tempdir().unwrap().keep();
    CONTAINER_DIRS.lock().unwrap().push(base.clone());
    let dirs: Vec<PathBuf> = ["upper", "work", "rootfs"].iter().map(|d| base.join(d)).collect();
    for d in &dirs {
        std::fs::create_dir_all(d).unwrap();
    }
    let id = format!("{name}-{}", std::process::id());
    let mut runtime = json!({
        "id": id,
        "rootfs": {"Overlay": {"lower": [busybox()], "upper": dirs[0], "work": dirs[1], "target": dirs[2]}},
        "args": args,
        "cgroup": {"parent": cgroup_parent(), "name": id},
    });
    if let (Value::Object(r), Value::Object(e)) = (&mut runtime, extra) {
        r.extend(e);
    }
    json!({"runtime": runtime, "log": {"driver": "json-file", "path": "c-json.log"}})
}

fn real(spec: Value) -> Container {
    Container::with("__shim_real", spec).unwrap_or_else(|e| panic!("shim start failed: {e}"))
}

fn real_run_attach_logs_exit() {
    if !need_root("real_run_attach_logs_exit") {
        return;
    }
    let c = real(real_spec(
        "run",
        &["sh", "-c", "echo hello from $(hostname); echo oops >&2; exit 3"],
        json!({"hostname": "box"}),
    ));
    let mut s = c.attach(false);
    c.start();
    let (out, err) = demux(&read_frames(&mut s));
    assert_eq!((out.as_str(), err.as_str()), ("hello from box\n", "oops\n"));
    assert_eq!(c.exit_code(), 3);
    c.shutdown();
    let log = std::fs::read_to_string(c.path("c-json.log")).unwrap();
    assert!(log.contains(r#"{"log":"hello from box\n","stream":"stdout","time":""#), "{log}");
    assert!(log.contains(r#"{"log":"oops\n","stream":"stderr","time":""#), "{log}");
    let exit: Value = serde_json::from_slice(&std::fs::read(c.bundle.join("exit.json")).unwrap()).unwrap();
    assert_eq!(exit["exit_code"], 3);
    assert_eq!(exit["oom_killed"], false);
}

fn real_exec_in_the_container() {
    if !need_root("real_exec_in_the_container") {
        return;
    }
    let c = real(real_spec("exec", &["sleep", "100"], json!({"env": ["PATH=/bin", "WHO=container"]})));
    c.start();
    let (mut s, answer) = c.connect(json!({
        "op": "exec", "id": "e1",
        "spec": {"args": ["sh", "-c", "echo $WHO $$; cat /proc/1/cmdline | tr '\\0' ' '; exit 5"]},
    }));
    assert_eq!(answer["ok"], true, "{answer}");
    let (out, err) = demux(&read_frames(&mut s));
    assert_eq!(err, "");
    // The exec sees the container's environment and its PID namespace.
    let mut lines = out.lines();
    let first = lines.next().unwrap();
    assert!(first.starts_with("container "), "{out}");
    assert_eq!(lines.next().unwrap().trim(), "sleep 100");
    assert_eq!(c.ok(json!({"op": "exec_state", "id": "e1"}))["exit_code"], 5);
    // stdin with half-close.
    let (mut s, answer) =
        c.connect(json!({"op": "exec", "id": "e2", "stdin": true, "spec": {"args": ["wc", "-c"]}}));
    assert_eq!(answer["ok"], true);
    s.write_all(b"12345").unwrap();
    s.shutdown(std::net::Shutdown::Write).unwrap();
    assert_eq!(demux(&read_frames(&mut s)).0.trim(), "5");
    let answer = c.request(json!({"op": "exec", "id": "e3", "spec": {"args": ["nonexistent"]}}));
    assert_eq!(answer["code"], 127, "{answer}");
    c.ok(json!({"op": "kill", "signal": 9, "all": true}));
    assert_eq!(c.exit_code(), 137);
}

fn real_tty() {
    if !need_root("real_tty") {
        return;
    }
    let mut spec = real_spec("tty", &["sh", "-c", "read x; stty size; tty"], json!({}));
    spec["tty"] = json!(true);
    spec["open_stdin"] = json!(true);
    let c = real(spec);
    let mut s = c.attach(true);
    c.start();
    c.ok(json!({"op": "resize", "height": 30, "width": 90}));
    s.write_all(b"x\n").unwrap();
    let out = String::from_utf8(read_raw(&mut s)).unwrap();
    assert!(out.starts_with("x\r\n30 90\r\n/dev/"), "{out:?}");
    assert_eq!(c.exit_code(), 0);
}

fn real_signals_pause_stats() {
    if !need_root("real_signals_pause_stats") {
        return;
    }
    let c = real(real_spec("sig", &["sh", "-c", "sleep 100 & sleep 100"], json!({})));
    c.start();
    // The init is PID 1 of its namespace: without a handler, SIGTERM does
    // nothing (as with Docker).
    c.ok(json!({"op": "kill", "signal": 15}));
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(c.ok(json!({"op": "state"}))["status"], "running");
    let stats = c.ok(json!({"op": "stats"}))["stats"].clone();
    assert!(stats["pids_current"].as_u64().unwrap() >= 2, "{stats}");
    c.ok(json!({"op": "pause"}));
    assert_eq!(c.ok(json!({"op": "state"}))["status"], "paused");
    c.ok(json!({"op": "resume"}));
    c.ok(json!({"op": "kill", "signal": 9, "all": true}));
    assert_eq!(c.exit_code(), 137);
}

fn real_missing_command() {
    if !need_root("real_missing_command") {
        return;
    }
    // The runtime looks the command up before the init blocks: either the
    // launcher fails, or start does; both with Docker's "not found".
    match Container::with("__shim_real", real_spec("missing", &["no-such-command"], json!({}))) {
        Err(e) => assert!(e.contains("executable file not found"), "{e}"),
        Ok(c) => {
            let answer = c.request(json!({"op": "start"}));
            assert_eq!(answer["code"], 127, "{answer}");
            assert_eq!(c.exit_code(), 127);
        }
    }
}

fn real_shutdown_removes_the_cgroup() {
    if !need_root("real_shutdown_removes_the_cgroup") {
        return;
    }
    let c = real(real_spec("cg", &["sleep", "100"], json!({})));
    let cgroups = std::fs::read_to_string(format!("/proc/{}/cgroup", c.init_pid)).unwrap();
    // cgroup v1's pids hierarchy if there is one, else the unified one.
    let find = |wanted: &str, mount: &str| {
        cgroups.lines().find_map(|l| {
            let mut parts = l.splitn(3, ':');
            let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
            (controllers == wanted).then(|| PathBuf::from(format!("{mount}{path}")))
        })
    };
    let path = find("pids", "/sys/fs/cgroup/pids")
        .or_else(|| find("", "/sys/fs/cgroup/unified").filter(|p| p.exists()))
        .or_else(|| find("", "/sys/fs/cgroup"))
        .unwrap();
    assert!(path.to_string_lossy().contains(&cgroup_parent()), "{path:?}");
    assert!(path.exists());
    c.start();
    c.ok(json!({"op": "kill", "signal": 9}));
    assert_eq!(c.exit_code(), 137);
    c.shutdown();
    assert!(!path.exists(), "{path:?} left behind");
}

fn real_shim_memory() {
    if !need_root("real_shim_memory") {
        return;
    }
    let c = real(real_spec("mem", &["sh", "-c", "echo hi; sleep 100"], json!({})));
    let mut s = c.attach(false);
    c.start();
    read_until(&mut s, b"hi");
    let rss = status_kb(c.shim_pid, "VmRSS");
    let rollup = std::fs::read_to_string(format!("/proc/{}/smaps_rollup", c.shim_pid)).unwrap();
    println!(
        "shim memory (real runtime): VmRSS {rss} kB (anon {} kB, file {} kB), Pss {} kB, Private_Dirty {} kB",
        status_kb(c.shim_pid, "RssAnon"),
        status_kb(c.shim_pid, "RssFile"),
        kb_field(&rollup, "Pss"),
        kb_field(&rollup, "Private_Dirty")
    );
    if std::env::var_os("SHIM_SMAPS").is_some() {
        println!("{}", std::fs::read_to_string(format!("/proc/{}/smaps", c.shim_pid)).unwrap());
    }
    c.ok(json!({"op": "kill", "signal": 9, "all": true}));
    c.wait();
}

/// Removes this run's cgroup parent and overlay directories once the tests
/// are done.
pub fn cleanup() {
    for dir in CONTAINER_DIRS.lock().unwrap().drain(..) {
        let _ = std::fs::remove_dir_all(dir);
    }
    // Statics are never dropped: remove the extracted layer by hand.
    if let Some((dir, _)) = BUSYBOX.get() {
        let _ = std::fs::remove_dir_all(dir.path());
    }
    for controller in std::fs::read_dir("/sys/fs/cgroup").into_iter().flatten().flatten() {
        let _ = std::fs::remove_dir(controller.path().join(cgroup_parent()));
    }
}
