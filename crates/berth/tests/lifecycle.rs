//! More of the container lifecycle through the docker CLI: ttys, restart
//! policies, log rotation, and many clients at once.

mod harness;

use std::time::Duration;

use harness::{Daemon, eventually, fails, ok, run};

/// `docker exec -t` and `docker run -t`, driven from a real pseudo-terminal
/// (`script` allocates one): the process gets a tty of the client's size.
#[test]
fn ttys_from_a_terminal() {
    if !harness::require_root() {
        return;
    }
    let d = Daemon::start();
    let image = d.load_busybox();
    ok(d.docker().args(["run", "-d", "--name", "box", image, "sleep", "1000"]));
    let cmd =
        format!("stty rows 33 cols 101; DOCKER_HOST={} docker exec -t box sh -c 'tty; stty size'", d.host());
    let out = ok(std::process::Command::new("script").args(["-qec", &cmd, "/dev/null"]));
    assert!(out.contains("/dev/pts/"), "exec -t has a pty: {out:?}");
    assert!(out.contains("33 101"), "the client's window size reached the exec: {out:?}");
    let cmd = format!(
        "stty rows 20 cols 70; DOCKER_HOST={} docker run --rm -t {image} sh -c 'test -t 0 && stty size'",
        d.host()
    );
    let out = ok(std::process::Command::new("script").args(["-qec", &cmd, "/dev/null"]));
    assert!(out.contains("20 70"), "run -t: {out:?}");
    // With --init, the command's process group is the terminal's foreground
    // one, not the reaper's (fields 5 and 8 of /proc/PID/stat: pgrp, tpgid),
    // so the keys ^C and ^Z signal the command once.
    let cmd = format!(
        "DOCKER_HOST={} docker run --rm -t --init {image} sh -c 'cut -d\" \" -f5,8 /proc/$$/stat'",
        d.host()
    );
    let out = ok(std::process::Command::new("script").args(["-qec", &cmd, "/dev/null"]));
    assert_eq!(out.trim(), "2 2", "run -t --init: {out:?}");
    ok(d.docker().args(["rm", "-f", "box"]));
}

#[test]
fn restart_always_brings_a_crashed_container_back() {
    if !harness::require_root() {
        return;
    }
    let d = Daemon::start();
    let image = d.load_busybox();
    ok(d.docker().args([
        "run",
        "-d",
        "--name",
        "crashy",
        "--restart",
        "always",
        image,
        "sh",
        "-c",
        "sleep 0.3; exit 1",
    ]));
    let count = || {
        ok(d.docker().args(["inspect", "-f", "{{.RestartCount}}", "crashy"]))
            .trim()
            .parse::<u32>()
            .unwrap_or(0)
    };
    assert!(eventually(15, || count() >= 2), "restarted {} times", count());
    // on-failure:N stops after N restarts.
    ok(d.docker().args([
        "run",
        "-d",
        "--name",
        "limited",
        "--restart",
        "on-failure:2",
        image,
        "sh",
        "-c",
        "exit 4",
    ]));
    assert!(eventually(15, || ok(d.docker().args([
        "inspect",
        "-f",
        "{{.State.Status}} {{.RestartCount}}",
        "limited"
    ]))
    .trim()
        == "exited 2"));
    // A stopped container stays stopped.
    ok(d.docker().args(["stop", "-t", "1", "crashy"]));
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(ok(d.docker().args(["inspect", "-f", "{{.State.Running}}", "crashy"])).trim(), "false");
    ok(d.docker().args(["rm", "-f", "crashy", "limited"]));
}

#[test]
fn log_rotation_keeps_at_most_max_file_files() {
    if !harness::require_root() {
        return;
    }
    let d = Daemon::start();
    let image = d.load_busybox();
    let id = ok(d.docker().args([
        "run",
        "--log-opt",
        "max-size=2k",
        "--log-opt",
        "max-file=2",
        image,
        "sh",
        "-c",
        "i=0; while [ $i -lt 500 ]; do echo line $i; i=$((i+1)); done",
    ]));
    let _ = id;
    let cid = ok(d.docker().args(["ps", "-aq", "--no-trunc"])).trim().to_string();
    let dir = d.root.join("containers").join(&cid);
    let logs: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains("-json.log"))
        .collect();
    assert!(
        !logs.is_empty() && logs.len() <= 2,
        "{:?}",
        logs.iter().map(|e| e.file_name()).collect::<Vec<_>>()
    );
    for l in &logs {
        assert!(l.metadata().unwrap().len() < 4096, "a log file outgrew max-size");
    }
    // The newest lines are still there.
    assert!(ok(d.docker().args(["logs", "--tail", "1", &cid])).contains("line 499"));
}

#[test]
fn daemon_log_defaults_apply_to_containers_that_set_none() {
    if !harness::require_root() {
        return;
    }
    let d = Daemon::start_with_args(&["--log-opt", "max-size=2k", "--log-opt", "max-file=2"]);
    let image = d.load_busybox();
    let script = "i=0; while [ $i -lt 500 ]; do echo line $i; i=$((i+1)); done";
    ok(d.docker().args(["run", "--name", "defaults", image, "sh", "-c", script]));
    ok(d.docker().args(["run", "--name", "own", "--log-opt", "max-file=3", image, "true"]));
    let config = |c: &str| ok(d.docker().args(["inspect", "-f", "{{json .HostConfig.LogConfig}}", c]));
    assert_eq!(
        config("defaults"),
        "{\"Type\":\"json-file\",\"Config\":{\"max-file\":\"2\",\"max-size\":\"2k\"}}\n"
    );
    // The container's own options win; the daemon's fill in the rest.
    assert_eq!(
        config("own"),
        "{\"Type\":\"json-file\",\"Config\":{\"max-file\":\"3\",\"max-size\":\"2k\"}}\n"
    );
    let cid = ok(d.docker().args(["inspect", "-f", "{{.Id}}", "defaults"])).trim().to_string();
    let logs = std::fs::read_dir(d.root.join("containers").join(&cid))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains("-json.log"))
        .count();
    assert_eq!(logs, 2, "rotated under the daemon's max-file");

    // A config file names them the same way dockerd's does; a bad one stops the daemon.
    let file = d.dir.path().join("custom.json");
    std::fs::write(&file, r#"{"log-driver": "none"}"#).unwrap();
    let d2 = Daemon::start_with_args(&["--config-file", file.to_str().unwrap()]);
    let image = d2.load_busybox();
    ok(d2.docker().args(["run", "--name", "quiet", image, "echo", "hi"]));
    assert_eq!(ok(d2.docker().args(["inspect", "-f", "{{.HostConfig.LogConfig.Type}}", "quiet"])), "none\n");
    let scratch = d.dir.path().join("bad");
    let bad_daemon = |args: &[&str]| {
        let out = std::process::Command::new(harness::BERTH)
            .arg("daemon")
            .arg("--root")
            .arg(scratch.join("root"))
            .arg("--exec-root")
            .arg(scratch.join("run"))
            .arg("-H")
            .arg(format!("unix://{}", scratch.join("s.sock").display()))
            .args(args)
            .output()
            .unwrap();
        assert!(!out.status.success());
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    assert!(bad_daemon(&["--log-driver", "syslogish"]).contains("no log driver named 'syslogish'"));
    assert!(
        bad_daemon(&["--log-opt", "max_size=1m"])
            .contains("unknown log opt 'max_size' for json-file log driver")
    );
    assert!(bad_daemon(&["--log-opt", "max-size=lots"]).contains("invalid log size: lots"));
    // A container's own options are checked when it is created.
    // (d2's daemon default is the none driver.)
    let (_, err) = fails(d2.docker().args(["create", "--log-opt", "max_size=1m", image, "true"]));
    assert!(err.contains("unknown log opt 'max_size' for none log driver"), "{err}");
}

#[test]
fn twenty_runs_and_twenty_execs_at_once() {
    if !harness::require_root() {
        return;
    }
    let d = Daemon::start();
    let image = d.load_busybox();
    let runs: Vec<_> = (0..20)
        .map(|i| {
            d.docker()
                .args(["run", "-d", "--name", &format!("par{i}"), image, "sleep", "1000"])
                .stdout(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut ids: Vec<String> = runs
        .into_iter()
        .map(|c| String::from_utf8(c.wait_with_output().unwrap().stdout).unwrap().trim().to_string())
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 20, "20 distinct IDs");
    assert!(ids.iter().all(|i| i.len() == 64));
    assert_eq!(ok(d.docker().args(["ps", "-q"])).lines().count(), 20);
    let execs: Vec<_> = (0..20)
        .map(|i| {
            d.docker()
                .args(["exec", "par0", "sh", "-c", &format!("echo exec-{i}")])
                .stdout(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for (i, c) in execs.into_iter().enumerate() {
        let out = c.wait_with_output().unwrap();
        assert!(out.status.success());
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), format!("exec-{i}"));
    }
    let names: Vec<String> = (0..20).map(|i| format!("par{i}")).collect();
    let out = run(d.docker().arg("rm").arg("-f").args(&names));
    assert!(out.status.success());
    assert!(ok(d.docker().args(["ps", "-aq"])).trim().is_empty());
}

/// Runs `cmd` (a docker client) on a terminal (`script` gives it one),
/// types `line` into it, then the detach keys ctrl-p ctrl-q; what the
/// terminal showed.
fn type_then_detach(cmd: &str, line: &[u8]) -> String {
    use std::io::Write;
    let mut typing = std::process::Command::new("script")
        .args(["-qec", cmd, "/dev/null"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdin = typing.stdin.as_mut().unwrap();
    std::thread::sleep(Duration::from_millis(500));
    stdin.write_all(line).unwrap();
    std::thread::sleep(Duration::from_millis(500));
    stdin.write_all(b"\x10\x11").unwrap();
    let out = typing.wait_with_output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `docker attach` and the detach keys: ctrl-p ctrl-q leaves the container
/// running, and typed input reaches it.
#[test]
fn attach_and_detach_keys() {
    if !harness::require_root() {
        return;
    }
    let d = Daemon::start();
    let image = d.load_busybox();
    ok(d.docker().args(["run", "-dit", "--name", "shell", image, "sh"]));
    let cmd = format!("DOCKER_HOST={} docker attach shell", d.host());
    let text = type_then_detach(&cmd, b"echo typed-$((40+2))\n");
    assert!(text.contains("typed-42"), "input reached the container: {text:?}");
    assert!(text.contains("read escape sequence"), "the client saw the detach: {text:?}");
    assert_eq!(
        ok(d.docker().args(["inspect", "-f", "{{.State.Running}}", "shell"])).trim(),
        "true",
        "still running after detach"
    );

    // The same keys leave an `exec -it` session, whose process runs on.
    let cmd = format!("DOCKER_HOST={} docker exec -it shell sh", d.host());
    let text = type_then_detach(&cmd, b"exec sleep 4242\n");
    assert!(text.contains("read escape sequence"), "the exec client saw the detach: {text:?}");
    let ps = ok(d.docker().args(["top", "shell"]));
    assert!(ps.contains("sleep 4242"), "the exec'd process runs on: {ps}");
    ok(d.docker().args(["rm", "-f", "shell"]));
}
