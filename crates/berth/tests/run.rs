//! Running containers through the real docker CLI against berth: the run
//! dance, exit codes, detached containers, logs, stop, exec, wait, rm -f,
//! and containers outliving a killed daemon.

mod harness;

use std::time::{Duration, Instant};

use harness::{Daemon, eventually, fails, lines, ok, run};

fn inspect(d: &Daemon, name: &str, template: &str) -> String {
    ok(d.docker().args(["inspect", "-f", template, name])).trim().to_string()
}

/// No mount, cgroup or shim of the container is left on the host.
fn assert_no_leftovers(d: &Daemon, id: &str) {
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!mounts.contains(id), "a mount of {id} remains");
    // v1 controllers, the v2 tree beside them, and a pure v2 host's tree;
    // the shim removes them as it exits, just after the container.
    for ctl in ["memory", "pids", "cpu", "unified", ""] {
        let p = std::path::Path::new("/sys/fs/cgroup").join(ctl).join("berth").join(id);
        assert!(eventually(10, || !p.exists()), "cgroup {} remains", p.display());
    }
    let shim_gone = || {
        run(std::process::Command::new("pgrep")
            .args(["-f", &format!("shim start {}", d.exec_root.join("containers").join(id).display())]))
        .stdout
        .is_empty()
    };
    assert!(eventually(10, shim_gone), "a shim of {id} is still running");
}

#[test]
fn run_rm_echo_and_exit_codes() {
    if !harness::require_root() {
        return;
    }
    let d = Daemon::start();
    let image = d.load_busybox();
    assert_eq!(ok(d.docker().args(["run", "--rm", image, "echo", "hello"])), "hello\n");
    assert!(ok(d.docker().args(["ps", "-aq"])).trim().is_empty(), "--rm removed the container");

    let out =
        run(d.docker().args(["run", "--name", "three", image, "sh", "-c", "echo out; echo err >&2; exit 3"]));
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "out\n");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "err\n");
    assert_eq!(inspect(&d, "three", "{{.State.Status}} {{.State.ExitCode}}"), "exited 3");

    let (code, err) = fails(d.docker().args(["run", "--name", "e127", image, "nosuchcmd"]));
    assert_eq!(code, 127, "{err}");
    assert!(err.contains("executable file not found"), "{err}");
    assert_eq!(inspect(&d, "e127", "{{.State.Status}} {{.State.ExitCode}}"), "created 127");
    // Its wait answers the code and carries the start's error, as Docker's.
    assert_eq!(ok(d.docker().args(["wait", "e127"])).trim(), "127");
    let waited = ok(std::process::Command::new("python3")
        .args(["-c", "import docker; print(docker.from_env().containers.get('e127').wait())"])
        .env("DOCKER_HOST", d.host()));
    assert!(waited.contains("'StatusCode': 127") && waited.contains("executable file not found"), "{waited}");
    let (code, err) = fails(d.docker().args(["run", "--name", "e126", image, "/etc/passwd"]));
    assert_eq!(code, 126, "{err}");

    // Inside: PID 1 is the command, the hostname is the container's.
    let out = ok(d.docker().args(["run", "--rm", "-h", "boxy", image, "sh", "-c", "echo $$; hostname"]));
    assert_eq!(lines(&out), ["1", "boxy"]);
}

#[test]
fn detached_logs_stop_exec_wait_and_rm() {
    if !harness::require_root() {
        return;
    }
    let d = Daemon::start();
    let image = d.load_busybox();
    let id = ok(d.docker().args(["run", "-d", "--name", "ticker", image, "sh", "-c", "trap 'echo bye; exit 0' TERM; i=0; while true; do i=$((i+1)); echo tick $i; echo tock $i >&2; sleep 0.2; done"]));
    let id = id.trim().to_string();
    assert_eq!(id.len(), 64);
    assert!(eventually(10, || ok(d.docker().args(["logs", "ticker"])).contains("tick 3")));
    let ps = ok(d.docker().args(["ps", "--format", "{{.Names}} {{.Status}}"]));
    assert!(ps.starts_with("ticker Up "), "{ps}");
    let tail = run(d.docker().args(["logs", "--tail", "2", "ticker"]));
    assert_eq!(
        lines(&String::from_utf8_lossy(&tail.stdout)).len()
            + lines(&String::from_utf8_lossy(&tail.stderr)).len(),
        2
    );
    // A tail that is not a number means all, as Docker.
    let all = run(d.docker().args(["logs", "--tail", "bogus", "ticker"]));
    assert!(all.status.success() && String::from_utf8_lossy(&all.stdout).starts_with("tick 1\n"), "{all:?}");
    let stamped = run(d.docker().args(["logs", "-t", "--tail", "2", "ticker"]));
    let stamped =
        String::from_utf8_lossy(&stamped.stdout).into_owned() + &String::from_utf8_lossy(&stamped.stderr);
    assert!(
        stamped.starts_with("20") && (stamped.contains("Z tick") || stamped.contains("Z tock")),
        "{stamped}"
    );

    // exec, with its own output and exit code.
    let out =
        run(d.docker().args(["exec", "ticker", "sh", "-c", "echo exec-out; echo exec-err >&2; exit 7"]));
    assert_eq!(out.status.code(), Some(7));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "exec-out\n");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "exec-err\n");
    assert_eq!(ok(d.docker().args(["exec", "ticker", "hostname"])).trim(), &id[..12]);
    // A command that cannot run: the message in the stream, Docker's 127 or
    // 126, and the exec's exit code says so.
    for (args, code, says) in [
        (&["nosuchcmd"][..], 127, "executable file not found"),
        (&["/etc/passwd"][..], 126, "permission denied"),
        (&["-u", "nosuchuser", "id"][..], 126, "nosuchuser"),
    ] {
        let (user, cmd) = if args[0] == "-u" { (&args[..2], &args[2..]) } else { (&args[..0], args) };
        let out = run(d.docker().arg("exec").args(user).arg("ticker").args(cmd));
        assert_eq!(out.status.code(), Some(code), "{args:?}: {out:?}");
        let text = String::from_utf8_lossy(&out.stdout).to_lowercase()
            + &String::from_utf8_lossy(&out.stderr).to_lowercase();
        assert!(text.contains(says), "{args:?}: {text}");
    }

    // `logs -f` follows until the container stops; stop honours SIGTERM.
    let follower = d
        .docker()
        .args(["logs", "-f", "--tail", "0", "ticker"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    ok(d.docker().args(["stop", "ticker"]));
    assert!(started.elapsed() < Duration::from_secs(5), "SIGTERM was honoured");
    let out = follower.wait_with_output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("bye"), "logs -f saw the last line and ended");
    assert_eq!(inspect(&d, "ticker", "{{.State.Status}} {{.State.ExitCode}}"), "exited 0");
    assert_eq!(ok(d.docker().args(["wait", "ticker"])).trim(), "0");

    // A process that ignores SIGTERM is killed after the timeout.
    ok(d.docker().args([
        "run",
        "-d",
        "--name",
        "stubborn",
        image,
        "sh",
        "-c",
        "trap '' TERM; while true; do sleep 0.1; done",
    ]));
    let started = Instant::now();
    ok(d.docker().args(["stop", "-t", "1", "stubborn"]));
    assert!(started.elapsed() >= Duration::from_secs(1));
    assert_eq!(inspect(&d, "stubborn", "{{.State.ExitCode}}"), "137");

    // rm -f of a running container.
    ok(d.docker().args(["run", "-d", "--name", "doomed", image, "sleep", "1000"]));
    let (code, err) = fails(d.docker().args(["rm", "doomed"]));
    assert_eq!(code, 1);
    assert!(err.contains("You cannot remove a running container"), "{err}");
    let doomed = inspect(&d, "doomed", "{{.Id}}");
    ok(d.docker().args(["rm", "-f", "doomed"]));
    assert_no_leftovers(&d, &doomed);
    ok(d.docker().args(["rm", "ticker", "stubborn"]));
    assert_no_leftovers(&d, &id);
}

#[test]
fn containers_outlive_a_killed_daemon() {
    if !harness::require_root() {
        return;
    }
    let mut d = Daemon::start();
    let image = d.load_busybox();
    for n in ["alpha", "beta"] {
        ok(d.docker().args([
            "run",
            "-d",
            "--name",
            n,
            image,
            "sh",
            "-c",
            "while true; do echo alive; sleep 0.2; done",
        ]));
    }
    ok(d.docker().args(["run", "-d", "--name", "short", image, "sh", "-c", "sleep 1; exit 5"]));
    let pid_a = inspect(&d, "alpha", "{{.State.Pid}}");
    d.kill9();
    std::thread::sleep(Duration::from_millis(1500));
    assert!(std::path::Path::new(&format!("/proc/{pid_a}")).exists(), "the container survived its daemon");
    d.restart();
    let ps = ok(d.docker().args(["ps", "--format", "{{.Names}}"]));
    assert_eq!(lines(&ps).len(), 2, "{ps}");
    assert_eq!(inspect(&d, "short", "{{.State.Status}} {{.State.ExitCode}}"), "exited 5");
    assert!(eventually(5, || ok(d.docker().args(["logs", "--tail", "1", "alpha"])).contains("alive")));
    ok(d.docker().args(["stop", "-t", "1", "alpha", "beta"]));
    assert!(ok(d.docker().args(["ps", "-q"])).trim().is_empty());
    let ids = ok(d.docker().args(["ps", "-aq", "--no-trunc"]));
    ok(d.docker().args(["rm", "alpha", "beta", "short"]));
    for id in lines(&ids) {
        assert_no_leftovers(&d, id);
    }
}

#[test]
fn entrypoint_reset_and_a_missing_workdir() {
    if !harness::require_root() {
        return;
    }
    let d = Daemon::start();
    let image = d.load_busybox();
    // `--entrypoint ""` runs the command alone.
    assert_eq!(ok(d.docker().args(["run", "--rm", "--entrypoint", "", image, "echo", "alone"])), "alone\n");
    // A working directory that is not in the image is made.
    assert_eq!(ok(d.docker().args(["run", "--rm", "-w", "/made/here", image, "pwd"])), "/made/here\n");
}

/// Without a tty, stdin is data: bytes that spell the detach keys
/// (ctrl-p ctrl-q) go through, as with Docker.
#[test]
fn binary_stdin_without_a_tty_is_not_scanned_for_detach_keys() {
    if !harness::require_root() {
        return;
    }
    let d = Daemon::start();
    let image = d.load_busybox();
    let mut input: Vec<u8> = (0..=255u8).cycle().take(1 << 20).collect();
    input.extend_from_slice(&[0x10, 0x11, b'e', b'n', b'd']);
    let mut child = d
        .docker()
        .args(["run", "--rm", "-i", image, "md5sum"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || std::io::Write::write_all(&mut stdin, &input).map(|_| input));
    let out = child.wait_with_output().unwrap();
    let input = writer.join().unwrap().unwrap();
    assert!(out.status.success());
    let md5 = std::process::Command::new("md5sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            std::io::Write::write_all(c.stdin.as_mut().unwrap(), &input)?;
            c.wait_with_output()
        })
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).split_whitespace().next(),
        String::from_utf8_lossy(&md5.stdout).split_whitespace().next()
    );
}
