//! More of the container lifecycle through the docker CLI: ttys, restart
//! policies, log rotation, and many clients at once.

mod harness;

use std::time::Duration;

use harness::{Daemon, eventually, ok, run};

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
    // `script` gives docker attach a terminal; its stdin is what we "type".
    let cmd = format!("DOCKER_HOST={} docker attach shell", d.host());
    let mut typing = std::process::Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let stdin = typing.stdin.as_mut().unwrap();
        std::thread::sleep(Duration::from_millis(500));
        stdin.write_all(b"echo typed-$((40+2))\n").unwrap();
        std::thread::sleep(Duration::from_millis(500));
        stdin.write_all(b"\x10\x11").unwrap();
    }
    let out = typing.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("typed-42"), "input reached the container: {text:?}");
    assert!(text.contains("read escape sequence"), "the client saw the detach: {text:?}");
    assert_eq!(
        ok(d.docker().args(["inspect", "-f", "{{.State.Running}}", "shell"])).trim(),
        "true",
        "still running after detach"
    );
    ok(d.docker().args(["rm", "-f", "shell"]));
}
