//! The reaper binary run on the host (it is static, so it runs anywhere):
//! exit statuses, exec failures, signal forwarding and reaping of orphans.
//! Inside a container, at PID 1, it is tested by the berth crate's tests.

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

struct Reaper {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

fn reaper() -> Reaper {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("docker-init");
    std::fs::write(&path, init::BINARY).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    Reaper { _dir: dir, path }
}

fn run(args: &[&str]) -> Output {
    let r = reaper();
    Command::new(&r.path).args(args).output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn is_small_and_static() {
    assert!(init::BINARY.len() < 64 * 1024, "{} bytes", init::BINARY.len());
    assert_eq!(&init::BINARY[..4], b"\x7fELF");
    // No PT_INTERP program header: nothing to load it with.
    assert!(!init::BINARY.windows(b"ld-linux".len()).any(|w| w == b"ld-linux"));
}

#[test]
fn passes_the_exit_code_and_output_through() {
    let o = run(&["--", "sh", "-c", "echo out; echo err >&2; exit 3"]);
    assert_eq!(o.status.code(), Some(3));
    assert_eq!(o.stdout, b"out\n");
    assert_eq!(stderr(&o), "err\n");
}

#[test]
fn a_signal_death_becomes_128_plus_the_signal() {
    assert_eq!(run(&["--", "sh", "-c", "kill -9 $$"]).status.code(), Some(137));
}

#[test]
fn exec_failures_are_126_and_127_as_docker() {
    let o = run(&["--", "no-such-command-anywhere"]);
    assert_eq!(o.status.code(), Some(127));
    assert!(
        stderr(&o).contains("\"no-such-command-anywhere\": executable file not found in $PATH"),
        "{}",
        stderr(&o)
    );
    let o = run(&["--", "/no/such/file"]);
    assert_eq!(o.status.code(), Some(127));
    assert!(stderr(&o).contains("no such file or directory"), "{}", stderr(&o));
    let dir = tempfile::tempdir().unwrap();
    let not_executable = dir.path().join("data");
    std::fs::write(&not_executable, "data").unwrap();
    let o = run(&["--", not_executable.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(126));
    assert!(stderr(&o).contains("permission denied"), "{}", stderr(&o));
    let o = run(&[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("usage"), "{}", stderr(&o));
}

#[test]
fn path_search_uses_the_environment() {
    let r = reaper();
    // Found through PATH, the nested reaper runs and looks for `true` in the
    // same PATH, where it is not.
    let o = Command::new(&r.path)
        .args(["--", "docker-init", "true"])
        .env("PATH", r.path.parent().unwrap())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(127));
    assert!(stderr(&o).contains("\"true\": executable file not found"), "{}", stderr(&o));
}

#[test]
fn signals_are_forwarded_to_the_command() {
    let r = reaper();
    let mut child = Command::new(&r.path)
        .args(["--", "sh", "-c", "trap 'exit 42' TERM; echo ready; while :; do sleep 0.05; done"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut ready = [0u8; 6];
    std::io::Read::read_exact(child.stdout.as_mut().unwrap(), &mut ready).unwrap();
    terminate(child.id());
    assert_eq!(child.wait().unwrap().code(), Some(42));
}

#[test]
fn orphans_are_reaped() {
    let r = reaper();
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("orphan");
    // The inner shell leaves an orphan and exits; the reaper adopts it (as a
    // subreaper here, as PID 1 in a container) and must reap it when it ends.
    let script = format!("sh -c 'sleep 0.1 & echo $! > {}'; exec sleep 30", pidfile.display());
    let mut child = Command::new(&r.path).args(["--", "sh", "-c", &script]).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let orphan: u32 = loop {
        if let Some(pid) = std::fs::read_to_string(&pidfile).ok().and_then(|s| s.trim().parse().ok()) {
            break pid;
        }
        assert!(Instant::now() < deadline, "no orphan pid");
        std::thread::sleep(Duration::from_millis(20));
    };
    // Gone entirely, not a zombie, while the reaper is still running.
    while std::path::Path::new(&format!("/proc/{orphan}")).exists() {
        let stat = std::fs::read_to_string(format!("/proc/{orphan}/stat")).unwrap_or_default();
        assert!(Instant::now() < deadline, "orphan {orphan} not reaped: {stat}");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(child.try_wait().unwrap().is_none());
    terminate(child.id());
    assert_eq!(child.wait().unwrap().code(), Some(128 + 15));
}

fn terminate(pid: u32) {
    assert!(Command::new("kill").args(["-TERM", &pid.to_string()]).status().unwrap().success());
}

#[test]
fn the_command_leads_its_own_process_group() {
    // Field 5 of /proc/PID/stat is the process group.
    let o = run(&["--", "sh", "-c", "echo $$; cut -d' ' -f5 /proc/$$/stat"]);
    let out = String::from_utf8(o.stdout).unwrap();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert_eq!(lines[0], lines[1], "the command's pid and process group");
}

#[test]
fn a_script_without_an_interpreter_line_runs_with_sh() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("plain-script");
    std::fs::write(&script, "echo \"ran with $# args: $1\"\nexit 4\n").unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let o = run(&["--", script.to_str().unwrap(), "first"]);
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    assert_eq!(o.stdout, b"ran with 1 args: first\n");
    // Through PATH too.
    let r = reaper();
    let o = Command::new(&r.path)
        .args(["--", "plain-script", "x", "y"])
        .env("PATH", format!("/bin:{}", dir.path().display()))
        .output()
        .unwrap();
    assert_eq!(o.stdout, b"ran with 2 args: x\n", "{}", stderr(&o));
}
