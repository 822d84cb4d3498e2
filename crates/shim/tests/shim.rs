//! The shim as a real process: started through its double fork, driven
//! over its socket, with a fake runtime running host processes.
//!
//! This binary is also the shim: `<test binary> __shim start BUNDLE` runs
//! `shim::main_with` with the fake runtime, `__shim_real start BUNDLE` runs
//! `shim::main` (berth's runtime; those tests are in `real/`).

mod real;
mod support;

use std::io::{Read, Write};
use std::net::Shutdown;
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::*;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("__shim") => std::process::exit(shim::main_with(&args[2..], |_| fake::Fake::default())),
        Some("__shim_real") => std::process::exit(shim::main(&args[2..])),
        _ => {}
    }
    let tests: Vec<Test> = TESTS.iter().chain(real::TESTS).copied().collect();
    // libtest's listing protocol, which cargo-nextest speaks: `--list
    // --format terse` lists the tests; `--ignored` asks for ignored ones (none).
    if args.iter().any(|a| a == "--list") {
        if !args.iter().any(|a| a == "--ignored") {
            for (name, _) in &tests {
                println!("{name}: test");
            }
        }
        return;
    }
    if args.iter().any(|a| a == "--ignored") {
        return;
    }
    // Options that take a value (`--format terse`) are not name filters.
    let mut filters: Vec<String> = Vec::new();
    let mut skip_value = false;
    for a in &args[1..] {
        if skip_value {
            skip_value = false;
        } else if matches!(a.as_str(), "--format" | "--test-threads" | "--color" | "--skip" | "-Z") {
            skip_value = true;
        } else if !a.starts_with('-') {
            filters.push(a.clone());
        }
    }
    let ok = support::run(&tests, &filters);
    real::cleanup();
    if !ok {
        std::process::exit(1);
    }
}

const TESTS: &[Test] = &[
    ("attach_before_start_gets_framed_output", attach_before_start_gets_framed_output),
    ("two_attach_clients_each_from_when_they_attached", two_attach_clients_each_from_when_they_attached),
    ("stdin_is_forwarded_and_half_close_closes_it", stdin_is_forwarded_and_half_close_closes_it),
    ("tty_is_raw_and_resizes", tty_is_raw_and_resizes),
    ("kill_and_wait_give_docker_exit_codes", kill_and_wait_give_docker_exit_codes),
    ("kill_all_signals_every_process", kill_all_signals_every_process),
    ("exit_code_and_exit_json", exit_code_and_exit_json),
    ("many_waiters_all_answered", many_waiters_all_answered),
    ("start_errors_have_docker_codes", start_errors_have_docker_codes),
    ("state_pause_resume", state_pause_resume),
    ("json_file_log_format", json_file_log_format),
    ("log_rotation_keeps_max_file", log_rotation_keeps_max_file),
    ("log_is_complete_when_the_exit_is_known", log_is_complete_when_the_exit_is_known),
    ("exec_output_and_exit_code", exec_output_and_exit_code),
    ("exec_stdin_tty_detach_and_errors", exec_stdin_tty_detach_and_errors),
    (
        "slow_and_vanishing_clients_do_not_stall_the_container",
        slow_and_vanishing_clients_do_not_stall_the_container,
    ),
    ("output_is_drained_with_nobody_attached", output_is_drained_with_nobody_attached),
    ("shim_survives_its_parent", shim_survives_its_parent),
    ("shim_survives_its_daemon_group_being_killed", shim_survives_its_daemon_group_being_killed),
    ("shutdown_removes_the_shim", shutdown_removes_the_shim),
    ("container_inherits_no_shim_fds", container_inherits_no_shim_fds),
    ("bad_requests_get_errors", bad_requests_get_errors),
    ("start_failure_is_reported_by_the_launcher", start_failure_is_reported_by_the_launcher),
    ("shim_memory", shim_memory),
];

fn attach_before_start_gets_framed_output() {
    let c = Container::new(sh("echo hello"));
    let mut s = c.attach(false);
    c.start();
    let raw = read_raw(&mut s);
    assert_eq!(raw, b"\x01\x00\x00\x00\x00\x00\x00\x06hello\n");
    assert_eq!(c.exit_code(), 0);
}

fn two_attach_clients_each_from_when_they_attached() {
    let c = Container::new(json!({
        "runtime": {"args": ["sh", "-c", "echo first; echo to-stderr >&2; read x; echo second"]},
        "open_stdin": true,
        "log": {"driver": "none"},
    }));
    let mut a = c.attach(true);
    let mut b = c.attach(false);
    c.start();
    read_until(&mut b, b"to-stderr");
    // A third client attaches after the first lines: it sees only what follows.
    let mut late = c.attach(false);
    a.write_all(b"go\n").unwrap();
    let (a_out, a_err) = demux(&read_frames(&mut a));
    assert_eq!(a_out, "first\nsecond\n");
    assert_eq!(a_err, "to-stderr\n");
    let (late_out, late_err) = demux(&read_frames(&mut late));
    assert_eq!((late_out.as_str(), late_err.as_str()), ("second\n", ""));
    // b read part of its stream above; the rest ends with "second".
    let rest = read_raw(&mut b);
    assert!(rest.ends_with(b"second\n"), "{rest:?}");
    assert_eq!(c.exit_code(), 0);
}

fn stdin_is_forwarded_and_half_close_closes_it() {
    let c = Container::new(json!({
        "runtime": {"args": ["cat"]},
        "open_stdin": true,
        "log": {"driver": "none"},
    }));
    let mut s = c.attach(true);
    // Sent before start: waits in the pipe.
    s.write_all(b"one\n").unwrap();
    c.start();
    read_until(&mut s, b"one\n");
    s.write_all(b"two\nthree").unwrap();
    s.shutdown(Shutdown::Write).unwrap();
    let (out, err) = demux(&read_frames(&mut s));
    assert_eq!((out.as_str(), err.as_str()), ("two\nthree", ""));
    assert_eq!(c.exit_code(), 0);

    // A client attached with stdin_once=false leaves stdin open when it goes.
    let c = Container::new(json!({
        "runtime": {"args": ["cat"]},
        "open_stdin": true,
        "log": {"driver": "none"},
    }));
    c.start();
    let (mut first, answer) = c.connect(json!({"op": "attach", "stdin": true, "stdin_once": false}));
    assert_eq!(answer["ok"], true);
    first.write_all(b"first\n").unwrap();
    read_until(&mut first, b"first\n");
    drop(first);
    let mut second = c.attach(true);
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(c.ok(json!({"op": "state"}))["status"], "running");
    second.write_all(b"second\n").unwrap();
    second.shutdown(Shutdown::Write).unwrap();
    assert_eq!(demux(&read_frames(&mut second)).0, "second\n");
    assert_eq!(c.exit_code(), 0);

    // Without open_stdin the container's stdin is /dev/null: cat ends at once.
    let c = Container::new(spec(&["cat"]));
    let mut s = c.attach(true);
    c.start();
    // The shim may already have closed the stream: ignore the write's fate.
    let _ = s.write_all(b"ignored\n");
    assert!(read_frames(&mut s).is_empty());
    assert_eq!(c.exit_code(), 0);
}

fn tty_is_raw_and_resizes() {
    let c = Container::new(json!({
        "runtime": {"args": ["sh", "-c", "stty size; read x; stty size; echo err >&2"]},
        "tty": true,
        "open_stdin": true,
        "log": {"driver": "none"},
    }));
    let mut s = c.attach(true);
    c.ok(json!({"op": "resize", "height": 40, "width": 100}));
    c.start();
    let first = read_until(&mut s, b"40 100\r\n");
    assert!(first.starts_with(b"40 100\r\n"), "raw, no frame header: {first:?}");
    c.ok(json!({"op": "resize", "height": 50, "width": 120}));
    s.write_all(b"go\n").unwrap();
    let rest = String::from_utf8(read_raw(&mut s)).unwrap();
    // The tty echoes the input; stderr comes through the same tty.
    assert_eq!(rest, "go\r\n50 120\r\nerr\r\n");
    assert_eq!(c.exit_code(), 0);
    // A container without a tty cannot be resized.
    let c = Container::new(spec(&["true"]));
    let answer = c.request(json!({"op": "resize", "height": 1, "width": 1}));
    assert!(answer["error"].as_str().unwrap().contains("tty"), "{answer}");
}

fn kill_and_wait_give_docker_exit_codes() {
    for (signal, code) in [(15, 143), (9, 137)] {
        let c = Container::new(spec(&["sleep", "100"]));
        c.start();
        c.ok(json!({"op": "kill", "signal": signal}));
        assert_eq!(c.exit_code(), code);
        let exit: Value =
            serde_json::from_slice(&std::fs::read(c.bundle.join("exit.json")).unwrap()).unwrap();
        assert_eq!(exit["exit_code"], code);
        // Once exited, a plain kill is an error.
        let answer = c.request(json!({"op": "kill", "signal": 9}));
        assert_eq!(answer["error"], "container is not running");
    }
}

fn kill_all_signals_every_process() {
    let c = Container::new(sh("sleep 100 & echo $!; wait"));
    let mut s = c.attach(false);
    c.start();
    let out = read_until(&mut s, b"\n");
    let child: i32 = String::from_utf8_lossy(&out[8..]).trim().parse().unwrap();
    assert!(alive(child));
    c.ok(json!({"op": "kill", "signal": 9, "all": true}));
    assert_eq!(c.exit_code(), 137);
    // The orphan is reaped by the shim (a subreaper), not left a zombie.
    eventually("the background process to be reaped", || {
        !std::path::Path::new(&format!("/proc/{child}")).exists()
    });
}

fn exit_code_and_exit_json() {
    let c = Container::new(sh("exit 3"));
    let before = std::time::SystemTime::now();
    c.start();
    let wait = c.wait();
    assert_eq!(wait["exit_code"], 3);
    assert_eq!(wait["oom_killed"], false);
    let exit: Value = serde_json::from_slice(&std::fs::read(c.bundle.join("exit.json")).unwrap()).unwrap();
    assert_eq!(exit["exit_code"], 3);
    assert_eq!(exit["oom_killed"], false);
    assert_eq!(exit["error"], "");
    let finished = exit["finished_at"].as_str().unwrap();
    assert_eq!(finished, wait["finished_at"].as_str().unwrap());
    assert_rfc3339_fixed(finished);
    let year_now = before.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() / 31_556_952 + 1970;
    assert!(finished.starts_with(&year_now.to_string()) || finished.starts_with(&(year_now + 1).to_string()));
    // Written through a temporary file that is gone.
    assert_eq!(bundle_files(&c.bundle), ["exit.json", "init.pid", "shim.pid", "shim.sock", "spec.json"]);
    let state = c.ok(json!({"op": "state"}));
    assert_eq!(state["status"], "exited");
    assert_eq!(state["exit_code"], 3);
    assert_eq!(state["pid"], c.init_pid);
    assert_eq!(state["finished_at"], finished);
}

fn assert_rfc3339_fixed(t: &str) {
    let b = t.as_bytes();
    assert_eq!(b.len(), 30, "{t}");
    for (i, ch) in b.iter().enumerate() {
        let want_digit = !matches!(i, 4 | 7 | 10 | 13 | 16 | 19 | 29);
        assert_eq!(ch.is_ascii_digit(), want_digit, "{t}");
    }
    assert_eq!(&t[19..20], ".");
    assert!(t.ends_with('Z'));
}

fn many_waiters_all_answered() {
    let c = Container::new(spec(&["sleep", "100"]));
    let waiters: Vec<_> = (0..5)
        .map(|_| {
            let mut s = std::os::unix::net::UnixStream::connect(c.socket()).unwrap();
            s.set_read_timeout(Some(TIMEOUT)).unwrap();
            s.write_all(b"{\"op\":\"wait\"}\n").unwrap();
            s
        })
        .collect();
    c.start();
    // Nobody is answered before the exit.
    std::thread::sleep(Duration::from_millis(100));
    c.ok(json!({"op": "kill", "signal": 15}));
    for mut w in waiters {
        let answer = read_line(&mut w);
        assert_eq!(answer["exit_code"], 143, "{answer}");
        assert_eq!(read_raw(&mut w), b"", "one answer, then closed");
    }
    // After the exit, a wait is answered at once.
    assert_eq!(c.exit_code(), 143);
}

fn start_errors_have_docker_codes() {
    let c = Container::new(spec(&["/nonexistent/command"]));
    let answer = c.request(json!({"op": "start"}));
    assert_eq!(answer["code"], 127, "{answer}");
    assert!(answer["error"].as_str().unwrap().contains("not found"), "{answer}");
    let wait = c.wait();
    assert_eq!(wait["exit_code"], 127);
    assert!(wait["error"].as_str().unwrap().contains("not found"));
    let exit: Value = serde_json::from_slice(&std::fs::read(c.bundle.join("exit.json")).unwrap()).unwrap();
    assert_eq!(exit["error"], wait["error"]);

    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("not-executable");
    std::fs::write(&script, "#!/bin/sh\n").unwrap();
    let c = Container::new(spec(&[script.to_str().unwrap()]));
    let answer = c.request(json!({"op": "start"}));
    assert_eq!(answer["code"], 126, "{answer}");
    assert_eq!(c.exit_code(), 126);
    // Starting twice is an error.
    let c = Container::new(spec(&["sleep", "100"]));
    c.start();
    assert!(c.request(json!({"op": "start"}))["error"].is_string());
}

fn state_pause_resume() {
    let c = Container::new(spec(&["sleep", "100"]));
    let state = c.ok(json!({"op": "state"}));
    assert_eq!(state["status"], "created");
    assert_eq!(state["pid"], c.init_pid);
    c.start();
    let state = c.ok(json!({"op": "state"}));
    assert_eq!(state["status"], "running");
    assert_rfc3339_fixed(state["started_at"].as_str().unwrap());
    c.ok(json!({"op": "pause"}));
    assert_eq!(c.ok(json!({"op": "state"}))["status"], "paused");
    assert!(c.request(json!({"op": "pause"}))["error"].is_string());
    c.ok(json!({"op": "resume"}));
    assert_eq!(c.ok(json!({"op": "state"}))["status"], "running");
    assert_eq!(c.ok(json!({"op": "stats"}))["stats"]["fake"], true);
    // SIGKILL to a paused container thaws it, so it can die.
    c.ok(json!({"op": "pause"}));
    c.ok(json!({"op": "kill", "signal": 9}));
    assert_eq!(c.exit_code(), 137);
}

fn log_records(path: &std::path::Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn json_file_log_format() {
    let c = Container::new(json!({
        "runtime": {"args": ["sh", "-c", "echo out; echo err >&2; printf 'a\\tb<>\\n\\n'; printf partial"]},
        "log": {"driver": "json-file", "path": "c-json.log"},
    }));
    c.start();
    assert_eq!(c.exit_code(), 0);
    c.shutdown();
    let path = c.path("c-json.log");
    let text = std::fs::read_to_string(&path).unwrap();
    // Key order and escaping as Docker writes them.
    assert!(text.contains(r#"{"log":"a\u0009b\u003c\u003e\n","stream":"stdout","time":""#), "{text}");
    let records = log_records(&path);
    let stream = |name: &str| -> Vec<String> {
        records
            .iter()
            .filter(|r| r["stream"] == name)
            .map(|r| r["log"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(stream("stdout"), ["out\n", "a\tb<>\n", "\n", "partial"]);
    assert_eq!(stream("stderr"), ["err\n"]);
    for r in &records {
        assert_eq!(r.as_object().unwrap().len(), 3);
        let t = r["time"].as_str().unwrap();
        // Go's RFC3339Nano: UTC, `Z`, up to nine digits, trailing zeros cut.
        assert!(t.ends_with('Z') && t.len() <= 30 && &t[10..11] == "T", "{t}");
        if let Some((_, frac)) = t.trim_end_matches('Z').split_once('.') {
            assert!(
                !frac.ends_with('0') && frac.len() <= 9 && frac.bytes().all(|b| b.is_ascii_digit()),
                "{t}"
            );
        }
    }
    let meta = std::fs::metadata(&path).unwrap();
    assert_eq!(std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o777, 0o640);

    // `local` writes the same records; `none` writes nothing.
    let c = Container::new(json!({
        "runtime": {"args": ["sh", "-c", "echo local"]},
        "log": {"driver": "local", "path": "local.log"},
    }));
    c.start();
    c.wait();
    c.shutdown();
    assert_eq!(log_records(&c.path("local.log"))[0]["log"], "local\n");
}

/// `logs -f` ends when the container exits: by then every line it wrote
/// must be in the log, even the ones still in the pipe when it exited.
fn log_is_complete_when_the_exit_is_known() {
    for _ in 0..20 {
        let c = Container::new(json!({
            "runtime": {"args": ["sh", "-c", "echo first; echo last"]},
            "log": {"driver": "json-file", "path": "c-json.log"},
        }));
        c.start();
        c.wait();
        let logged: Vec<Value> =
            log_records(&c.path("c-json.log")).into_iter().map(|r| r["log"].clone()).collect();
        assert_eq!(logged, ["first\n", "last\n"]);
        c.shutdown();
    }
}

fn log_rotation_keeps_max_file() {
    let c = Container::new(json!({
        "runtime": {"args": ["sh", "-c", "i=0; while [ $i -lt 400 ]; do echo line $i; i=$((i+1)); done"]},
        "log": {"driver": "json-file", "path": "logs/c-json.log", "max_size": 2000, "max_file": 3},
    }));
    c.start();
    assert_eq!(c.exit_code(), 0);
    c.shutdown();
    let mut names: Vec<String> = std::fs::read_dir(c.path("logs"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["c-json.log", "c-json.log.1", "c-json.log.2"]);
    for name in &names[1..] {
        let len = std::fs::metadata(c.path("logs").join(name)).unwrap().len();
        assert!((2000..2200).contains(&len), "{name} {len}");
    }
    // The newest lines are in the live file, the older ones just before.
    let live = log_records(&c.path("logs/c-json.log"));
    assert_eq!(live.last().unwrap()["log"], "line 399\n");
    let older = log_records(&c.path("logs/c-json.log.1"));
    let last_older = older.last().unwrap()["log"].as_str().unwrap();
    let first_live = live[0]["log"].as_str().unwrap();
    let n = |s: &str| s.trim().strip_prefix("line ").unwrap().parse::<u32>().unwrap();
    assert_eq!(n(last_older) + 1, n(first_live));
}

fn exec_output_and_exit_code() {
    let c = Container::new(spec(&["sleep", "100"]));
    // Not running yet: no exec.
    let answer = c.request(json!({"op": "exec", "id": "e0", "spec": {"args": ["true"]}}));
    assert_eq!(answer["error"], "container is not running");
    c.start();
    let (mut s, answer) = c.connect(json!({
        "op": "exec", "id": "e1",
        "spec": {"args": ["sh", "-c", "echo out; echo err >&2; exit 7"]},
        "tty": false, "stdin": false, "detach": false,
    }));
    assert_eq!(answer["ok"], true, "{answer}");
    let pid = answer["pid"].as_i64().unwrap();
    let (out, err) = demux(&read_frames(&mut s));
    assert_eq!((out.as_str(), err.as_str()), ("out\n", "err\n"));
    let state = c.ok(json!({"op": "exec_state", "id": "e1"}));
    assert_eq!(state, json!({"ok": true, "running": false, "pid": pid, "exit_code": 7}));
    // The container itself is untouched.
    assert_eq!(c.ok(json!({"op": "state"}))["status"], "running");
    assert!(c.request(json!({"op": "exec_state", "id": "nope"}))["error"].is_string());

    // exec_wait: answered at the exec's exit (at once for one already gone).
    let answer = c.ok(json!({
        "op": "exec", "id": "e2", "spec": {"args": ["sh", "-c", "sleep 0.3; exit 3"]}, "detach": true,
    }));
    let pid = answer["pid"].as_i64().unwrap();
    let waiters: Vec<_> = (0..2)
        .map(|_| {
            let socket = c.socket();
            std::thread::spawn(move || {
                let mut s = UnixStream::connect(socket).unwrap();
                s.write_all(b"{\"op\":\"exec_wait\",\"id\":\"e2\"}\n").unwrap();
                read_line(&mut s)
            })
        })
        .collect();
    for w in waiters {
        assert_eq!(w.join().unwrap(), json!({"ok": true, "running": false, "pid": pid, "exit_code": 3}));
    }
    assert_eq!(c.ok(json!({"op": "exec_wait", "id": "e1"}))["exit_code"], 7);
    assert!(c.request(json!({"op": "exec_wait", "id": "nope"}))["error"].is_string());
}

fn exec_stdin_tty_detach_and_errors() {
    let c = Container::new(spec(&["sleep", "100"]));
    c.start();
    // stdin with half-close.
    let (mut s, answer) =
        c.connect(json!({"op": "exec", "id": "cat", "spec": {"args": ["cat"]}, "stdin": true}));
    assert_eq!(answer["ok"], true);
    s.write_all(b"to cat\n").unwrap();
    s.shutdown(Shutdown::Write).unwrap();
    assert_eq!(demux(&read_frames(&mut s)).0, "to cat\n");
    assert_eq!(c.ok(json!({"op": "exec_state", "id": "cat"}))["exit_code"], 0);
    // A tty: raw output, resizable through its id.
    let (mut s, answer) = c.connect(json!({
        "op": "exec", "id": "t", "tty": true, "stdin": true,
        "spec": {"args": ["sh", "-c", "read x; stty size"]},
    }));
    assert_eq!(answer["ok"], true);
    c.ok(json!({"op": "resize", "exec": "t", "height": 12, "width": 34}));
    s.write_all(b"x\n").unwrap();
    assert_eq!(read_raw(&mut s), b"x\r\n12 34\r\n");
    // Detached: answered, closed, runs on.
    let (mut s, answer) = c.connect(json!({
        "op": "exec", "id": "d", "detach": true, "spec": {"args": ["sh", "-c", "echo lost; exit 4"]},
    }));
    assert_eq!(answer["ok"], true);
    assert_eq!(read_raw(&mut s), b"");
    eventually("the detached exec to exit", || {
        c.ok(json!({"op": "exec_state", "id": "d"}))["exit_code"] == 4
    });
    // Not found and not executable.
    let answer = c.request(json!({"op": "exec", "id": "x", "spec": {"args": ["/no/such/binary"]}}));
    assert_eq!(answer["code"], 127, "{answer}");
    let answer = c.request(json!({"op": "exec", "id": "y", "spec": {"args": ["/etc/passwd"]}}));
    assert_eq!(answer["code"], 126, "{answer}");
    // The same id again while it runs is refused; after it ended it is reused.
    let (_s, answer) = c.connect(json!({"op": "exec", "id": "slow", "spec": {"args": ["sleep", "100"]}}));
    assert_eq!(answer["ok"], true);
    let again = c.request(json!({"op": "exec", "id": "slow", "spec": {"args": ["true"]}}));
    assert!(again["error"].as_str().unwrap().contains("already running"));
    let (mut s, answer) =
        c.connect(json!({"op": "exec", "id": "cat", "spec": {"args": ["sh", "-c", "exit 5"]}}));
    assert_eq!(answer["ok"], true);
    read_frames(&mut s);
    assert_eq!(c.ok(json!({"op": "exec_state", "id": "cat"}))["exit_code"], 5);
}

fn slow_and_vanishing_clients_do_not_stall_the_container() {
    // 64 MiB of output: far more than any buffer.
    let c = Container::new(sh("head -c 67108864 /dev/zero"));
    let mut vanishing = c.attach(false);
    let stalled = c.attach(false);
    let started = Instant::now();
    c.start();
    let mut buf = vec![0u8; 100_000];
    vanishing.read_exact(&mut buf).unwrap();
    drop(vanishing);
    assert_eq!(c.exit_code(), 0);
    assert!(started.elapsed() < Duration::from_secs(20), "took {:?}", started.elapsed());
    // The client that never read was dropped after falling behind: it gets
    // what was already in its socket, then end of file, far short of 64 MiB.
    let mut stalled = stalled;
    let got = read_raw(&mut stalled).len();
    assert!(got < 8 << 20, "stalled client got {got} bytes");
    assert_eq!(c.ok(json!({"op": "state"}))["status"], "exited");
    assert!(alive(c.shim_pid));
}

fn output_is_drained_with_nobody_attached() {
    let c = Container::new(json!({
        "runtime": {"args": ["sh", "-c", "head -c 10000000 /dev/zero; head -c 10000000 /dev/zero >&2"]},
        "log": {"driver": "none"},
    }));
    c.start();
    assert_eq!(c.exit_code(), 0);
}

fn shim_survives_its_parent() {
    let c = Container::new(spec(&["sleep", "100"]));
    // The launching process has exited (Container::new waited for it).
    assert!(!alive(c.launcher_pid as i32));
    assert!(alive(c.shim_pid));
    let status = std::fs::read_to_string(format!("/proc/{}/status", c.shim_pid)).unwrap();
    let ppid: u32 = kb_field_raw(&status, "PPid");
    assert_ne!(ppid, c.launcher_pid);
    assert_ne!(ppid, std::process::id());
    // Own session (started by the intermediate child of the double fork, so the
    // shim is in it but does not lead it and can never gain a controlling tty).
    // Read from /proc: under a sandbox the test's own session leader may live
    // outside our PID namespace, and then its session reads as 0.
    let sid = |pid: u32| -> u32 {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
        let after_comm = &stat[stat.rfind(')').unwrap() + 2..];
        after_comm.split(' ').nth(3).unwrap().parse().unwrap()
    };
    let shim_sid = sid(c.shim_pid as u32);
    assert_ne!(shim_sid, 0);
    assert_ne!(shim_sid, c.shim_pid as u32);
    assert_ne!(shim_sid, sid(std::process::id()));
    let init_status = std::fs::read_to_string(format!("/proc/{}/status", c.init_pid)).unwrap();
    assert_eq!(kb_field_raw(&init_status, "PPid") as i32, c.shim_pid);
    // Still serving.
    c.start();
    c.ok(json!({"op": "kill", "signal": 9}));
    assert_eq!(c.exit_code(), 137);
}

/// A "daemon" (a shell in its own process group) starts the shim and is
/// then SIGKILLed with its whole group: the shim and container run on.
fn shim_survives_its_daemon_group_being_killed() {
    use std::os::unix::process::CommandExt;
    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("bundle");
    std::fs::create_dir(&bundle).unwrap();
    std::fs::write(bundle.join("spec.json"), spec(&["sleep", "100"]).to_string()).unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut daemon = std::process::Command::new("sh")
        .arg("-c")
        .arg("\"$0\" __shim start \"$1\" >/dev/null && sleep 100")
        .arg(&exe)
        .arg(&bundle)
        .process_group(0)
        .spawn()
        .unwrap();
    eventually("the shim to be up", || bundle.join("init.pid").exists());
    let shim_pid: i32 = std::fs::read_to_string(bundle.join("shim.pid")).unwrap().parse().unwrap();
    let init_pid: i32 = std::fs::read_to_string(bundle.join("init.pid")).unwrap().parse().unwrap();
    // SAFETY: kill(2) on the process group this test created.
    assert_eq!(unsafe { libc::kill(-(daemon.id() as i32), libc::SIGKILL) }, 0);
    daemon.wait().unwrap();
    std::thread::sleep(Duration::from_millis(50));
    assert!(alive(shim_pid) && alive(init_pid));
    let c = Container { dir, bundle, init_pid, shim_pid, launcher_pid: 0 };
    c.start();
    c.ok(json!({"op": "kill", "signal": 15}));
    assert_eq!(c.exit_code(), 143);
}

fn kb_field_raw(text: &str, field: &str) -> u32 {
    text.lines().find_map(|l| l.strip_prefix(field)?.strip_prefix(':')).unwrap().trim().parse().unwrap()
}

fn shutdown_removes_the_shim() {
    let c = Container::new(sh("echo bye"));
    let mut s = c.attach(false);
    c.start();
    c.ok(json!({"op": "shutdown"}));
    // Output still reaches the attached client before the shim goes.
    assert_eq!(demux(&read_frames(&mut s)).0, "bye\n");
    wait_gone(c.shim_pid, TIMEOUT);
    assert!(!c.socket().exists());
    assert!(c.bundle.join("exit.json").exists());

    // A container never started is killed by shutdown.
    let c = Container::new(spec(&["sleep", "100"]));
    c.shutdown();
    assert!(!alive(c.init_pid));
    let exit: Value = serde_json::from_slice(&std::fs::read(c.bundle.join("exit.json")).unwrap()).unwrap();
    assert_eq!(exit["exit_code"], 137);
}

fn container_inherits_no_shim_fds() {
    let c = Container::new(sh("ls /proc/$$/fd; exit 0"));
    let mut s = c.attach(false);
    c.start();
    let (out, _) = demux(&read_frames(&mut s));
    let mut fds: Vec<&str> = out.lines().collect();
    fds.sort();
    assert_eq!(fds, ["0", "1", "2"], "{out}");
    // And the shim's own fds: every one close-on-exec.
    let fd_dir = format!("/proc/{}/fdinfo", c.shim_pid);
    for entry in std::fs::read_dir(&fd_dir).unwrap() {
        let entry = entry.unwrap();
        let fd: i32 = entry.file_name().to_str().unwrap().parse().unwrap();
        if fd < 3 {
            continue;
        }
        let info = std::fs::read_to_string(entry.path()).unwrap_or_default();
        if info.is_empty() {
            continue; // closed meanwhile
        }
        let flags =
            u32::from_str_radix(info.lines().find_map(|l| l.strip_prefix("flags:")).unwrap().trim(), 8)
                .unwrap();
        assert_ne!(flags & libc::O_CLOEXEC as u32, 0, "fd {fd} of the shim lacks O_CLOEXEC");
    }
}

fn bad_requests_get_errors() {
    let c = Container::new(spec(&["sleep", "100"]));
    for bad in [&b"nonsense\n"[..], b"{\"op\":\"fly\"}\n", b"{\"op\":\"kill\",\"signal\":99}\n"] {
        let mut s = std::os::unix::net::UnixStream::connect(c.socket()).unwrap();
        s.set_read_timeout(Some(TIMEOUT)).unwrap();
        s.write_all(bad).unwrap();
        let answer = read_line(&mut s);
        assert!(answer["error"].is_string(), "{answer}");
        assert_eq!(answer["code"], 125);
    }
    // A client that connects and leaves without a word, or mid-request.
    drop(std::os::unix::net::UnixStream::connect(c.socket()).unwrap());
    let mut s = std::os::unix::net::UnixStream::connect(c.socket()).unwrap();
    s.write_all(b"{\"op\":").unwrap();
    drop(s);
    // A request without its newline, then half-close: still answered.
    let mut s = std::os::unix::net::UnixStream::connect(c.socket()).unwrap();
    s.set_read_timeout(Some(TIMEOUT)).unwrap();
    s.write_all(b"{\"op\":\"state\"}").unwrap();
    s.shutdown(Shutdown::Write).unwrap();
    assert_eq!(read_line(&mut s)["status"], "created");
    assert_eq!(c.ok(json!({"op": "state"}))["status"], "created");
}

fn start_failure_is_reported_by_the_launcher() {
    // An empty command: the runtime refuses it at create.
    let err = Container::with("__shim", spec(&[])).err().expect("must fail");
    assert!(err.contains("status Some(1)") && err.contains("empty command"), "{err}");
    // A bundle without spec.json.
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["__shim", "start"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("spec.json") && err.ends_with('\n'), "{err}");
    assert!(out.stdout.is_empty());
    assert!(!dir.path().join("shim.sock").exists());
}

/// The shim's memory while a container runs (printed; bounded loosely, the
/// figure that matters is measured on the release `berth` binary).
fn shim_memory() {
    let c = Container::new(json!({
        "runtime": {"args": ["sh", "-c", "echo hi; sleep 100"]},
        "log": {"driver": "json-file", "path": "c-json.log"},
    }));
    let mut s = c.attach(false);
    c.start();
    read_until(&mut s, b"hi");
    let rss = status_kb(c.shim_pid, "VmRSS");
    let rollup = std::fs::read_to_string(format!("/proc/{}/smaps_rollup", c.shim_pid)).unwrap();
    let pss = kb_field(&rollup, "Pss");
    let private = kb_field(&rollup, "Private_Dirty");
    println!(
        "shim memory: VmRSS {rss} kB (anon {} kB, file {} kB), Pss {pss} kB, Private_Dirty {private} kB",
        status_kb(c.shim_pid, "RssAnon"),
        status_kb(c.shim_pid, "RssFile")
    );
    assert!(pss < 4096, "Pss {pss} kB");
}
