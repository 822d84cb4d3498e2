//! Behaviour of the `berth` CLI itself: progress on a terminal, and starting
//! a daemon on demand.

mod harness;

use harness::{BERTH, BUSYBOX_OCI, Daemon, fixture, ok};

/// On a terminal, load shows bytes done and the total from the start.
#[test]
fn load_shows_progress_on_a_tty() {
    let d = Daemon::start();
    // `script` runs the command on a new pseudo-terminal and copies its output.
    let cmd = format!("{BERTH} -H {} load -i {}", d.host(), fixture(BUSYBOX_OCI).display());
    let out = ok(std::process::Command::new("script").args(["-qec", &cmd, "/dev/null"]));
    let size = std::fs::metadata(fixture(BUSYBOX_OCI)).unwrap().len();
    let total = format!("/{:.3}MB", size as f64 / 1e6);
    assert!(
        out.contains("Loading 0B") && out.contains(&total),
        "no progress with the total ({total}) in {out:?}"
    );
    assert!(out.contains("Loaded image: busybox:1.38.0-glibc"), "{out}");
}

/// As root with no daemon at the default socket, the CLI starts one, says
/// so, and the command succeeds. Runs in a private mount namespace with
/// fresh /run and /var/lib, so it never meets a real daemon of this host.
#[test]
fn cli_starts_a_daemon_when_none_runs() {
    if !harness::require_root() {
        return;
    }
    let script = format!(
        "set -e
        mount -t tmpfs tmpfs /run
        mount -t tmpfs tmpfs /var/lib
        trap 'kill $(cat /run/berth/berth.pid) 2>/dev/null; sleep 0.2' EXIT
        {BERTH} images --format '{{{{.ID}}}}' 2>&1
        {BERTH} images -q
        echo daemon-pid=$(cat /run/berth/berth.pid)"
    );
    let out = ok(std::process::Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c", &script])
        .env_remove("DOCKER_HOST")
        .env_remove("BERTH_HOST")
        .env_remove("BERTH_NO_AUTOSTART"));
    assert!(
        out.contains(
            "berth: no daemon was running; started one in the background (log: /var/lib/berth/daemon.log)"
        ),
        "{out}"
    );
    assert_eq!(out.matches("started one").count(), 1, "the second command finds the daemon: {out}");
    let pid: i32 = out.lines().find_map(|l| l.strip_prefix("daemon-pid=")).unwrap().trim().parse().unwrap();
    for _ in 0..50 {
        if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!("the started daemon {pid} did not exit with its namespace's test");
}
