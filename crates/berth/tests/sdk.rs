//! Docker SDKs against berth: docker-py (PyPI `docker`) drives a private daemon.

mod harness;

use harness::{ALPINE_ROOTFS, BUSYBOX_OCI, Daemon, fixture, ok};

#[test]
fn docker_py_manages_images() {
    if !harness::require_root() {
        return;
    }
    let d = Daemon::start();
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/dockerpy/images.py");
    let out = ok(std::process::Command::new("python3")
        .arg(script)
        .env("DOCKER_HOST", d.host())
        .env("BUSYBOX_OCI", fixture(BUSYBOX_OCI))
        .env("ALPINE_ROOTFS", fixture(ALPINE_ROOTFS)));
    assert!(out.contains("all image checks passed"), "{out}");
}

#[test]
fn websocket_attach() {
    if !harness::require_root() {
        return;
    }
    let d = Daemon::start();
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/dockerpy/attach_ws.py");
    let out = ok(std::process::Command::new("python3")
        .arg(script)
        .env("DOCKER_HOST", d.host())
        .env("BUSYBOX_OCI", fixture(BUSYBOX_OCI)));
    assert!(out.contains("all websocket checks passed"), "{out}");
}

#[test]
fn docker_py_runs_containers() {
    if !harness::require_root() {
        return;
    }
    let d = Daemon::start();
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/dockerpy/containers.py");
    let out = ok(std::process::Command::new("python3")
        .arg(script)
        .env("DOCKER_HOST", d.host())
        .env("BUSYBOX_OCI", fixture(BUSYBOX_OCI)));
    assert!(out.contains("all container checks passed"), "{out}");
}
