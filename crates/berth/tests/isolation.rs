//! Isolation is real: what a container sees and may do, checked from inside
//! containers started through the docker CLI against berth.

mod harness;

use harness::{Daemon, ok, run};

fn out(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr)
}

#[test]
fn processes_mounts_and_files_are_private() {
    if !harness::require_root() {
        return;
    }
    let d = Daemon::start();
    let image = d.load_busybox();
    // Only the container's own processes: ps itself and PID 1 (sh).
    let ps = ok(d.docker().args(["run", "--rm", image, "sh", "-c", "ps -o pid,comm | tail -n +2"]));
    let pids: Vec<&str> = ps.lines().map(|l| l.split_whitespace().next().unwrap_or("")).collect();
    assert!(pids.contains(&"1") && pids.len() <= 3, "{ps}");
    // None of the host's mount points: only the container's own tree.
    let mounts = ok(d.docker().args(["run", "--rm", image, "cat", "/proc/self/mountinfo"]));
    let points: Vec<&str> = mounts.lines().filter_map(|l| l.split(' ').nth(4)).collect();
    assert!(
        points.iter().all(|p| ["/", "/proc", "/dev", "/sys", "/etc"]
            .iter()
            .any(|top| p == top || p.starts_with(&format!("{top}/")))),
        "{points:?}"
    );
    // A file written in one container is not in another from the same image.
    ok(d.docker().args(["run", "--name", "writer", image, "sh", "-c", "echo mine > /etc/written"]));
    let o = run(d.docker().args(["run", "--rm", image, "cat", "/etc/written"]));
    assert!(!o.status.success(), "{}", out(&o));
    // The host's processes are not signalable: PID 1 is the container's own.
    assert_eq!(
        ok(d.docker().args(["run", "--rm", image, "sh", "-c", "cat /proc/1/cmdline | tr '\\0' ' '"])).trim(),
        "sh -c cat /proc/1/cmdline | tr '\\0' ' '"
    );
}

#[test]
fn memory_limit_ends_a_hog_with_137_and_oom_killed() {
    if !harness::require_root() {
        return;
    }
    let d = Daemon::start();
    let image = d.load_busybox();
    // `tail` buffers a line that never ends: it grows until the limit.
    let o = run(d.docker().args([
        "run",
        "--name",
        "hog",
        "-m",
        "16m",
        "--memory-swap",
        "16m",
        image,
        "tail",
        "/dev/zero",
    ]));
    assert_eq!(o.status.code(), Some(137), "{}", out(&o));
    assert_eq!(
        ok(d.docker().args(["inspect", "-f", "{{.State.OOMKilled}} {{.State.ExitCode}}", "hog"])).trim(),
        "true 137"
    );
}

#[test]
fn pids_limit_stops_a_fork_bomb_and_the_host_survives() {
    if !harness::require_root() {
        return;
    }
    let d = Daemon::start();
    let image = d.load_busybox();
    // PID 1 never forks, so the container outlives the bomb, run beside it by exec.
    let id = ok(d.docker().args(["run", "-d", "--pids-limit", "50", image, "sleep", "1000"]));
    let _ = run(d.docker().args([
        "exec",
        id.trim(),
        "sh",
        "-c",
        "i=0; while [ $i -lt 200 ]; do sleep 30 & i=$((i+1)); done 2>/dev/null",
    ]));
    // cgroup v2 (most hosts) has one tree; v1 (this CI host) a tree per controller.
    let v2 = std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists();
    let cgroup = std::path::Path::new(if v2 { "/sys/fs/cgroup/berth" } else { "/sys/fs/cgroup/pids/berth" })
        .join(id.trim());
    let read = |f: &str| std::fs::read_to_string(cgroup.join(f)).unwrap_or_default();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !read("pids.events").starts_with("max ") || read("pids.events").trim() == "max 0" {
        assert!(std::time::Instant::now() < deadline, "the limit was never hit: {}", read("pids.events"));
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let current: u32 = read("pids.current").trim().parse().unwrap();
    assert!(current <= 50, "{current} processes");
    assert_eq!(read("pids.max").trim(), "50");
    assert!(std::process::Command::new("true").status().unwrap().success(), "the host can still fork");
    ok(d.docker().args(["rm", "-f", id.trim()]));
    // The shim removes the cgroup as it exits, just after the container.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while cgroup.exists() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(!cgroup.exists(), "the cgroup went with the container");
}

#[test]
fn privileges_capabilities_and_seccomp() {
    if !harness::require_root() {
        return;
    }
    let d = Daemon::start();
    let image = d.load_busybox();
    // No CAP_SYS_ADMIN: mount fails; --privileged allows it.
    let o = run(d.docker().args(["run", "--rm", image, "mount", "-t", "tmpfs", "t", "/tmp"]));
    assert!(!o.status.success() && out(&o).to_lowercase().contains("permi"), "{}", out(&o));
    ok(d.docker().args(["run", "--rm", "--privileged", image, "mount", "-t", "tmpfs", "t", "/tmp"]));
    // The default seccomp profile refuses new user namespaces.
    let o = run(d.docker().args(["run", "--rm", image, "unshare", "-U", "true"]));
    assert!(!o.status.success() && out(&o).contains("Operation not permitted"), "{}", out(&o));
    ok(d.docker().args([
        "run",
        "--rm",
        "--security-opt",
        "seccomp=unconfined",
        image,
        "unshare",
        "-U",
        "true",
    ]));
    // AppArmor: unconfined is what berth runs; a profile it cannot apply is refused.
    ok(d.docker().args(["run", "--rm", "--security-opt", "apparmor=unconfined", image, "true"]));
    let o = run(d.docker().args(["run", "--rm", "--security-opt", "apparmor=docker-default", image, "true"]));
    assert!(!o.status.success() && out(&o).contains("berth has no AppArmor support"), "{}", out(&o));
    // --cap-drop ALL: even root cannot chown.
    let o = run(d.docker().args(["run", "--rm", "--cap-drop", "ALL", image, "chown", "1000", "/tmp"]));
    assert!(!o.status.success(), "{}", out(&o));
    ok(d.docker().args(["run", "--rm", image, "chown", "1000", "/tmp"]));
    // A user without rights cannot read a 0600 root file (the image's /etc/shadow).
    let o = run(d.docker().args(["run", "--rm", "-u", "1000", image, "cat", "/etc/shadow"]));
    assert!(!o.status.success(), "uid 1000 read /etc/shadow: {}", out(&o));
    assert_eq!(ok(d.docker().args(["run", "--rm", "-u", "1000:1000", image, "id", "-u"])).trim(), "1000");
}

#[test]
fn read_only_rootfs_with_tmpfs() {
    if !harness::require_root() {
        return;
    }
    let d = Daemon::start();
    let image = d.load_busybox();
    let o = run(d.docker().args(["run", "--rm", "--read-only", image, "touch", "/x"]));
    assert!(!o.status.success() && out(&o).contains("Read-only file system"), "{}", out(&o));
    ok(d.docker().args(["run", "--rm", "--read-only", "--tmpfs", "/scratch", image, "touch", "/scratch/x"]));
}
