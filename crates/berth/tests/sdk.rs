//! Docker SDKs against berth: docker-py (PyPI `docker`) drives a private daemon.

mod harness;

use harness::{ALPINE_ROOTFS, BUSYBOX_OCI, Daemon, fixture, ok};

/// Runs `tests/dockerpy/SCRIPT` against a fresh daemon, with the
/// fixtures' paths in its environment; its output.
fn run_script(script: &str) -> String {
    let d = Daemon::start();
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/dockerpy").join(script);
    ok(std::process::Command::new("python3")
        .arg(script)
        .env("DOCKER_HOST", d.host())
        .env("BUSYBOX_OCI", fixture(BUSYBOX_OCI))
        .env("ALPINE_ROOTFS", fixture(ALPINE_ROOTFS)))
}

#[test]
fn docker_py_manages_images() {
    if !harness::require_root() {
        return;
    }
    let out = run_script("images.py");
    assert!(out.contains("all image checks passed"), "{out}");
}

#[test]
fn websocket_attach() {
    if !harness::require_root() {
        return;
    }
    let out = run_script("attach_ws.py");
    assert!(out.contains("all websocket checks passed"), "{out}");
}

#[test]
fn docker_py_runs_containers() {
    if !harness::require_root() {
        return;
    }
    let out = run_script("containers.py");
    assert!(out.contains("all container checks passed"), "{out}");
}

#[test]
fn docker_py_reads_streams_that_start_at_once() {
    if !harness::require_root() {
        return;
    }
    let out = run_script("streams.py");
    assert!(out.contains("all stream checks passed"), "{out}");
}
