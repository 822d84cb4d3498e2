//! `docker run` options that shape a container: mounts, devices, network
//! modes, users and limits, checked from inside the container.

mod harness;

use harness::{Daemon, fails, ok};

#[test]
fn binds_mounts_and_tmpfs() {
    if !harness::require_root() {
        return;
    }
    let d = Daemon::start();
    let image = d.load_busybox();
    let host = tempfile::tempdir().unwrap();
    std::fs::write(host.path().join("in.txt"), "from the host\n").unwrap();
    let src = host.path().display().to_string();
    // -v rw: the container writes into the host directory.
    assert_eq!(
        ok(d.docker().args([
            "run",
            "--rm",
            "-v",
            &format!("{src}:/data"),
            image,
            "sh",
            "-c",
            "cat /data/in.txt; echo back > /data/out.txt"
        ])),
        "from the host\n"
    );
    assert_eq!(std::fs::read_to_string(host.path().join("out.txt")).unwrap(), "back\n");
    // :ro refuses writes.
    let (_, err) =
        fails(d.docker().args(["run", "--rm", "-v", &format!("{src}:/data:ro"), image, "touch", "/data/x"]));
    assert!(err.contains("Read-only file system"), "{err}");
    // --mount type=bind,readonly and type=tmpfs.
    let (_, err) = fails(d.docker().args([
        "run",
        "--rm",
        "--mount",
        &format!("type=bind,source={src},target=/m,readonly"),
        image,
        "touch",
        "/m/x",
    ]));
    assert!(err.contains("Read-only file system"), "{err}");
    let out = ok(d.docker().args([
        "run",
        "--rm",
        "--mount",
        "type=tmpfs,target=/scratch,tmpfs-size=1m",
        image,
        "sh",
        "-c",
        "df -k /scratch | tail -1",
    ]));
    assert!(out.contains("tmpfs") && out.contains(" 1024 "), "{out}");
    let (_, err) = fails(d.docker().args([
        "run",
        "--rm",
        "--mount",
        "type=bind,source=/nonexistent-berth-src,target=/m",
        image,
        "true",
    ]));
    assert!(err.contains("bind source path does not exist"), "{err}");
}

#[test]
fn network_modes_share_or_isolate_namespaces() {
    if !harness::require_root() {
        return;
    }
    let d = Daemon::start();
    let image = d.load_busybox();
    let host_ns = std::fs::read_link("/proc/self/ns/net").unwrap().display().to_string();
    let none =
        ok(d.docker().args(["run", "--rm", "--network", "none", image, "readlink", "/proc/self/ns/net"]));
    assert_ne!(none.trim(), host_ns);
    // Only loopback in a container of its own.
    let links = ok(d.docker().args(["run", "--rm", "--network", "none", image, "ls", "/sys/class/net"]));
    assert_eq!(links.split_whitespace().collect::<Vec<_>>(), ["lo"]);
    let host =
        ok(d.docker().args(["run", "--rm", "--network", "host", image, "readlink", "/proc/self/ns/net"]));
    assert_eq!(host.trim(), host_ns);
    ok(d.docker().args(["run", "-d", "--name", "netowner", image, "sleep", "100"]));
    let owner = ok(d.docker().args(["exec", "netowner", "readlink", "/proc/self/ns/net"]));
    let joined = ok(d.docker().args([
        "run",
        "--rm",
        "--network",
        "container:netowner",
        image,
        "readlink",
        "/proc/self/ns/net",
    ]));
    assert_eq!(owner, joined);
    ok(d.docker().args(["rm", "-f", "netowner"]));
}

#[test]
fn users_limits_sysctls_and_devices() {
    if !harness::require_root() {
        return;
    }
    let d = Daemon::start();
    let image = d.load_busybox();
    assert_eq!(ok(d.docker().args(["run", "--rm", "-u", "nobody", image, "id", "-un"])).trim(), "nobody");
    let groups = ok(d.docker().args(["run", "--rm", "--group-add", "1234", image, "id", "-G"]));
    assert!(groups.split_whitespace().any(|g| g == "1234"), "{groups}");
    assert_eq!(
        ok(d.docker().args([
            "run",
            "--rm",
            "--ulimit",
            "nofile=512:1024",
            image,
            "sh",
            "-c",
            "ulimit -n; ulimit -Hn"
        ]))
        .split_whitespace()
        .collect::<Vec<_>>(),
        ["512", "1024"]
    );
    assert_eq!(
        ok(d.docker().args([
            "run",
            "--rm",
            "--sysctl",
            "net.ipv4.ip_forward=1",
            image,
            "cat",
            "/proc/sys/net/ipv4/ip_forward"
        ]))
        .trim(),
        "1"
    );
    assert_eq!(
        ok(d.docker().args([
            "run",
            "--rm",
            "--oom-score-adj",
            "500",
            image,
            "cat",
            "/proc/self/oom_score_adj"
        ]))
        .trim(),
        "500"
    );
    // Execs get the container's limits and groups too, as Docker's do.
    ok(d.docker().args([
        "run",
        "-d",
        "--name",
        "limited",
        "--ulimit",
        "nofile=512:1024",
        "--oom-score-adj",
        "300",
        "--group-add",
        "1234",
        image,
        "sleep",
        "100",
    ]));
    assert_eq!(
        ok(d.docker().args([
            "exec",
            "-u",
            "nobody",
            "limited",
            "sh",
            "-c",
            "ulimit -n; ulimit -Hn; cat /proc/self/oom_score_adj; id -G"
        ]))
        .split_whitespace()
        .collect::<Vec<_>>(),
        ["512", "1024", "300", "65534", "1234"]
    );
    ok(d.docker().args(["rm", "-f", "limited"]));
    let shm = ok(d.docker().args([
        "run",
        "--rm",
        "--shm-size",
        "8m",
        image,
        "sh",
        "-c",
        "df -k /dev/shm | tail -1",
    ]));
    assert!(shm.contains(" 8192 "), "{shm}");
    assert_eq!(ok(d.docker().args(["run", "--rm", "-w", "/made/here", image, "pwd"])).trim(), "/made/here");
    assert_eq!(
        ok(d.docker().args([
            "run",
            "--rm",
            "-e",
            "GREETING=hi",
            "--entrypoint",
            "printenv",
            image,
            "GREETING"
        ]))
        .trim(),
        "hi"
    );
    // A host device appears in the container, and the device cgroup lets it through.
    let out = ok(d.docker().args([
        "run",
        "--rm",
        "--device",
        "/dev/zero:/dev/myzero",
        image,
        "sh",
        "-c",
        "ls -l /dev/myzero; head -c 4 /dev/myzero | wc -c",
    ]));
    assert!(out.starts_with('c') && out.trim().ends_with('4'), "{out}");
}

#[test]
fn init_is_pid_1_reaps_orphans_and_forwards_signals() {
    if !harness::require_root() {
        return;
    }
    let d = Daemon::start();
    let image = d.load_busybox();
    // The reaper is PID 1, under Docker's name, with the command as its child.
    let out =
        ok(d.docker().args(["run", "--rm", "--init", image, "sh", "-c", "tr '\\0' ' ' < /proc/1/cmdline"]));
    assert_eq!(out, "/sbin/docker-init -- sh -c tr '\\0' ' ' < /proc/1/cmdline ");
    let (code, err) = fails(d.docker().args(["run", "--rm", "--init", image, "no-such-command"]));
    assert_eq!(code, 127, "{err}");
    assert!(err.contains("\"no-such-command\": executable file not found in $PATH"), "{err}");

    // An orphan (its parent shell has exited, and the command itself never
    // waits) is adopted by PID 1 and reaped when it ends: no zombie remains.
    let id = ok(d.docker().args([
        "run",
        "-d",
        "--init",
        image,
        "sh",
        "-c",
        "sh -c 'sleep 0.2 & echo $! > /tmp/orphan'; exec sleep 100",
    ]));
    let id = id.trim();
    assert_eq!(ok(d.docker().args(["inspect", "-f", "{{.HostConfig.Init}}", id])), "true\n");
    let gone = harness::eventually(10, || {
        d.docker()
            .args(["exec", id, "sh", "-c", "test -s /tmp/orphan && ! test -e /proc/$(cat /tmp/orphan)"])
            .status()
            .unwrap()
            .success()
    });
    assert!(gone, "the orphan was not reaped");
    // SIGTERM reaches `sleep`, which is not PID 1 and so dies of it: 143,
    // where a PID-1 sleep would ignore it and be killed after the timeout (137).
    ok(d.docker().args(["stop", "-t", "30", id]));
    assert_eq!(ok(d.docker().args(["inspect", "-f", "{{.State.ExitCode}}", id])), "143\n");
}

#[test]
fn mounts_in_inspect_and_ps_volume_and_network_filters() {
    if !harness::require_root() {
        return;
    }
    let d = Daemon::start();
    let image = d.load_busybox();
    let host = tempfile::tempdir().unwrap();
    let src = host.path().display().to_string();
    ok(d.docker().args([
        "run",
        "-d",
        "--name",
        "withmounts",
        "--network",
        "none",
        "-v",
        &format!("{src}:/data:ro"),
        "--mount",
        "type=tmpfs,target=/scratch",
        image,
        "sleep",
        "100",
    ]));
    ok(d.docker().args(["run", "-d", "--name", "hostnet", "--network", "host", image, "sleep", "100"]));
    let mounts: serde_json::Value =
        serde_json::from_str(&ok(d.docker().args(["inspect", "-f", "{{json .Mounts}}", "withmounts"])))
            .unwrap();
    assert_eq!(
        mounts,
        serde_json::json!([
            {"Type": "bind", "Source": src, "Destination": "/data", "Mode": "ro", "RW": false, "Propagation": "rprivate"},
            {"Type": "tmpfs", "Source": "", "Destination": "/scratch", "Mode": "", "RW": true, "Propagation": ""},
        ])
    );
    let ps = |filter: &str| ok(d.docker().args(["ps", "--filter", filter, "--format", "{{.Names}}"]));
    assert_eq!(ps("volume=/data"), "withmounts\n");
    assert_eq!(ps(&format!("volume={src}")), "withmounts\n");
    assert_eq!(ps("volume=/elsewhere"), "");
    assert_eq!(ps("network=none"), "withmounts\n");
    assert_eq!(ps("network=host"), "hostnet\n");
    assert_eq!(ps("network=bridge"), "");
    // The CLI names each mount by its source (empty for the tmpfs).
    assert_eq!(
        ok(d.docker().args(["ps", "--no-trunc", "--filter", "name=withmounts", "--format", "{{.Mounts}}"])),
        format!("{src},\n")
    );
    ok(d.docker().args(["rm", "-f", "withmounts", "hostnet"]));
}

#[test]
fn published_ports_are_refused_without_bridge_networking() {
    if !harness::require_root() {
        return;
    }
    let d = Daemon::start();
    let image = d.load_busybox();
    let (code, err) = fails(d.docker().args(["run", "--rm", "-p", "8080:80", image, "true"]));
    assert_eq!(code, 125, "{err}");
    assert!(err.contains("publishing ports (-p, -P) needs bridge networking"), "{err}");
    // On the host's network Docker discards them.
    ok(d.docker().args(["run", "--rm", "--network", "host", "-p", "8080:80", image, "true"]));
    ok(d.docker().args(["run", "-d", "--name", "noports", image, "sleep", "100"]));
    for cli in [d.docker(), d.berth()] {
        let mut cli = cli;
        assert_eq!(ok(cli.args(["port", "noports"])), "");
    }
    for cli in [d.docker(), d.berth()] {
        let mut cli = cli;
        let (code, err) = fails(cli.args(["port", "noports", "80"]));
        assert_eq!(code, 1);
        assert!(err.contains("No public port '80' published for noports"), "{err}");
    }
    ok(d.docker().args(["rm", "-f", "noports"]));
}

/// The process environment as Docker builds it: PATH, HOSTNAME, HOME from
/// the user's passwd entry (runc's rule), TERM only with a tty, and what the
/// container or exec sets wins.
#[test]
fn process_environment() {
    if !harness::require_root() {
        return;
    }
    let d = Daemon::start();
    let image = d.load_busybox();
    let env = |args: &[&str]| -> Vec<String> {
        let mut out: Vec<String> =
            ok(d.docker().args(args)).lines().map(|l| l.trim_end().to_string()).collect();
        out.sort();
        out
    };
    assert_eq!(
        env(&["run", "--rm", "-h", "box", image, "env"]),
        ["HOME=/root", "HOSTNAME=box", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]
    );
    // A user without a passwd entry gets `/`; HOME set by the user stays.
    assert!(env(&["run", "--rm", "-u", "4242", image, "env"]).contains(&"HOME=/".to_string()));
    assert!(env(&["run", "--rm", "-e", "HOME=/mine", image, "env"]).contains(&"HOME=/mine".to_string()));
    assert!(env(&["run", "--rm", "-e", "HOME=", image, "env"]).contains(&"HOME=/root".to_string()));
    assert!(env(&["run", "--rm", "-t", image, "env"]).contains(&"TERM=xterm".to_string()));
    // exec: TERM with its own tty only; the container's environment, then its own.
    ok(d.docker().args(["run", "-d", "-t", "--name", "envs", "-e", "A=1", image, "sleep", "100"]));
    let plain = env(&["exec", "-e", "B=2", "envs", "env"]);
    assert!(plain.contains(&"A=1".to_string()) && plain.contains(&"B=2".to_string()), "{plain:?}");
    assert!(plain.contains(&"HOME=/root".to_string()), "{plain:?}");
    assert!(!plain.iter().any(|e| e.starts_with("TERM=")), "{plain:?}");
    assert!(env(&["exec", "-t", "envs", "env"]).contains(&"TERM=xterm".to_string()));
    assert!(env(&["exec", "-u", "nobody", "envs", "env"]).contains(&"HOME=/home".to_string()));
    ok(d.docker().args(["rm", "-f", "envs"]));
}
