//! pause/unpause, top, stats, health checks, update and container prune,
//! through the real docker CLI.

mod harness;

use std::io::Read;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use harness::{Daemon, eventually, fails, ok};

fn inspect(d: &Daemon, c: &str, template: &str) -> String {
    ok(d.docker().args(["inspect", "-f", template, c])).trim().to_string()
}

fn log_lines(d: &Daemon, c: &str) -> usize {
    ok(d.docker().args(["logs", c])).lines().count()
}

/// The file of a cgroup v1 controller (or the v2 file) of a container.
fn cgroup_file(id: &str, v1_controller: &str, v1_file: &str, v2_file: &str) -> PathBuf {
    let v1 = PathBuf::from("/sys/fs/cgroup").join(v1_controller);
    if v1.is_dir() {
        v1.join("berth").join(id).join(v1_file)
    } else {
        PathBuf::from("/sys/fs/cgroup/berth").join(id).join(v2_file)
    }
}

#[test]
fn pause_freezes_and_unpause_resumes() {
    if !harness::require_root() {
        return;
    }
    let d = Daemon::start();
    let image = d.load_busybox();
    let start = harness::now_secs();
    let id = ok(d.docker().args([
        "run",
        "-d",
        "--name",
        "ticker",
        image,
        "sh",
        "-c",
        "trap 'exit 0' TERM; while true; do echo tick; sleep 0.05; done",
    ]))
    .trim()
    .to_string();
    assert!(eventually(10, || log_lines(&d, "ticker") > 3));
    assert_eq!(ok(d.docker().args(["pause", "ticker"])).trim(), "ticker");
    assert_eq!(
        inspect(&d, "ticker", "{{.State.Status}} {{.State.Paused}} {{.State.Running}}"),
        "paused true true"
    );
    let ps = ok(d.docker().args([
        "ps",
        "--filter",
        "status=paused",
        "--format",
        "{{.Names}} {{.Status}} {{.State}}",
    ]));
    assert!(ps.starts_with("ticker Up ") && ps.trim().ends_with("(Paused) paused"), "{ps}");
    std::thread::sleep(Duration::from_millis(300));
    let frozen = log_lines(&d, "ticker");
    std::thread::sleep(Duration::from_millis(700));
    assert_eq!(log_lines(&d, "ticker"), frozen, "a paused container makes no progress");

    // Docker's errors while paused.
    let (_, err) = fails(d.docker().args(["pause", "ticker"]));
    assert!(err.contains(&format!("Container {id} is already paused")), "{err}");
    let (code, err) = fails(d.docker().args(["exec", "ticker", "true"]));
    assert!(err.contains("Container ticker is paused, unpause the container before exec"), "{err}");
    assert_ne!(code, 0);
    let (_, err) = fails(d.docker().args(["start", "ticker"]));
    assert!(err.contains("cannot start a paused container, try unpause instead"), "{err}");

    assert_eq!(ok(d.docker().args(["unpause", "ticker"])).trim(), "ticker");
    assert_eq!(inspect(&d, "ticker", "{{.State.Status}} {{.State.Paused}}"), "running false");
    assert!(eventually(10, || log_lines(&d, "ticker") > frozen + 3), "unpause resumes the container");
    let (_, err) = fails(d.docker().args(["unpause", "ticker"]));
    assert!(err.contains(&format!("Container {id} is not paused")), "{err}");

    // A paused container stops promptly (the stop signal is delivered on thaw).
    ok(d.docker().args(["pause", "ticker"]));
    let t = Instant::now();
    ok(d.docker().args(["stop", "ticker"]));
    assert!(t.elapsed() < Duration::from_secs(5), "stop of a paused container took {:?}", t.elapsed());
    assert_eq!(inspect(&d, "ticker", "{{.State.Status}}"), "exited");
    let (_, err) = fails(d.docker().args(["pause", "ticker"]));
    assert!(err.contains(&format!("Container {id} is not running")), "{err}");

    let events = d.past_events(start, &["container=ticker"], "{{.Action}}");

    let actions: Vec<&str> = events.lines().filter(|a| *a == "pause" || *a == "unpause").collect();
    assert_eq!(actions, ["pause", "unpause", "pause", "unpause"], "{events}");
}

#[test]
fn top_lists_the_container_processes_only() {
    if !harness::require_root() {
        return;
    }
    let d = Daemon::start();
    let image = d.load_busybox();
    ok(d.docker().args(["run", "-d", "--name", "web", image, "sh", "-c", "sleep 1000 & sleep 2000"]));
    let pid = inspect(&d, "web", "{{.State.Pid}}");
    assert!(eventually(10, || ok(d.docker().args(["top", "web"])).contains("sleep 1000")));
    let out = ok(d.docker().args(["top", "web"]));
    let mut lines = out.lines();
    let header: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(header, ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"]);
    let rows: Vec<&str> = lines.collect();
    // sh execs its last command: two sleeps, and nothing of the host.
    assert_eq!(rows.len(), 2, "{out}");
    assert!(rows.iter().any(|r| r.split_whitespace().nth(1) == Some(pid.as_str())), "{out}");
    assert!(out.contains("sleep 2000"), "{out}");

    let out = ok(d.docker().args(["top", "web", "-o", "pid,args"]));
    let mut lines = out.lines();
    assert_eq!(lines.next().unwrap().split_whitespace().collect::<Vec<_>>(), ["PID", "COMMAND"]);
    let rows: Vec<String> =
        lines.map(|l| l.split_whitespace().skip(1).collect::<Vec<_>>().join(" ")).collect();
    assert!(rows.contains(&"sleep 1000".to_string()), "{out}");
    assert!(rows.contains(&"sleep 2000".to_string()), "{out}");
    assert_eq!(rows.len(), 2, "{out}");

    // A forest listing refuses ps's -q: the daemon runs ps again without it.
    let out = ok(d.docker().args(["top", "web", "axf"]));
    assert!(out.contains("sleep 1000"), "{out}");

    let (_, err) = fails(d.docker().args(["top", "web", "-o", "user=PID"]));
    assert!(err.contains("specifying \"user=PID\" is not allowed"), "{err}");
    ok(d.docker().args(["create", "--name", "idle", image, "true"]));
    let (_, err) = fails(d.docker().args(["top", "idle"]));
    assert!(err.contains("is not running"), "{err}");
    ok(d.docker().args(["rm", "-f", "web"]));
}

#[test]
fn stats_report_memory_against_the_limit() {
    if !harness::require_root() {
        return;
    }
    let d = Daemon::start();
    let image = d.load_busybox();
    let id = ok(d.docker().args(["run", "-d", "--name", "capped", "-m", "64m", image, "sleep", "1000"]))
        .trim()
        .to_string();
    ok(d.docker().args(["create", "--name", "idle", image, "true"]));

    let out = ok(d.docker().args(["stats", "--no-stream", "capped"]));
    let mut lines = out.lines();
    let header = lines.next().unwrap();
    for col in ["CONTAINER ID", "NAME", "CPU %", "MEM USAGE / LIMIT", "MEM %", "NET I/O", "BLOCK I/O", "PIDS"]
    {
        assert!(header.contains(col), "{out}");
    }
    let row = lines.next().unwrap();
    assert!(row.starts_with(&id[..12]) && row.contains("capped") && row.contains("/ 64MiB"), "{out}");

    let out = ok(d.docker().args(["stats", "--no-stream", "--format", "{{json .}}", "capped"]));
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["Name"], "capped");
    assert_eq!(v["Container"], "capped");
    assert_eq!(v["PIDs"], "1");
    let mem = v["MemUsage"].as_str().unwrap();
    assert!(mem.ends_with(" / 64MiB") && !mem.starts_with("0B"), "{v}");
    assert!(v["CPUPerc"].as_str().unwrap().ends_with('%'), "{v}");

    // Without names: the CLI lists the containers (and watches events) first.
    let out = ok(d.docker().args(["stats", "--no-stream", "--format", "{{.Name}} {{.MemUsage}}"]));
    assert_eq!(out.lines().count(), 1, "{out}");
    assert!(out.starts_with("capped ") && out.trim().ends_with("/ 64MiB"), "{out}");
    let out = ok(d.docker().args([
        "stats",
        "--no-stream",
        "--all",
        "--format",
        "{{.Name}} {{.MemUsage}} {{.PIDs}}",
    ]));
    assert!(out.lines().any(|l| l == "idle 0B / 0B 0"), "{out}");

    // The live view streams one document per second per container.
    let mut view =
        d.docker().args(["stats", "capped", "--format", "{{.Name}}"]).stdout(Stdio::piped()).spawn().unwrap();
    std::thread::sleep(Duration::from_millis(2500));
    let _ = view.kill();
    let _ = view.wait();
    let mut live = String::new();
    view.stdout.take().unwrap().read_to_string(&mut live).unwrap();
    assert!(live.matches("capped").count() >= 2, "the live view redraws: {live:?}");

    let (_, err) = fails(d.docker().args(["stats", "--no-stream", "nosuch"]));
    assert!(err.contains("No such container: nosuch"), "{err}");
    ok(d.docker().args(["rm", "-f", "capped"]));
}

#[test]
fn health_checks_turn_unhealthy_then_healthy() {
    if !harness::require_root() {
        return;
    }
    let mut d = Daemon::start();
    let image = d.load_busybox();
    let start = harness::now_secs().to_string();
    let mut events = d
        .docker()
        .args([
            "events",
            "--since",
            &start,
            "--filter",
            "event=health_status",
            "--format",
            "{{.Action}} {{.Actor.Attributes.name}}",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    ok(d.docker().args([
        "run",
        "-d",
        "--name",
        "doc",
        "--health-cmd",
        "test -f /tmp/ok",
        "--health-interval",
        "200ms",
        "--health-retries",
        "2",
        image,
        "sleep",
        "1000",
    ]));
    let status = |d: &Daemon| inspect(d, "doc", "{{.State.Health.Status}}");
    assert!(eventually(15, || status(&d) == "unhealthy"), "status {}", status(&d));
    let ps = ok(d.docker().args(["ps", "--format", "{{.Names}} {{.Status}}"]));
    assert!(ps.trim().ends_with("(unhealthy)"), "{ps}");
    let filtered = ok(d.docker().args(["ps", "-q", "--filter", "health=unhealthy"]));
    assert_eq!(filtered.lines().count(), 1);
    assert!(ok(d.docker().args(["ps", "-q", "--filter", "health=healthy"])).trim().is_empty());
    assert!(inspect(&d, "doc", "{{.State.Health.FailingStreak}}").parse::<u32>().unwrap() >= 2);
    // Probes are execs, forgotten once they have run, as Docker's are.
    assert_eq!(inspect(&d, "doc", "{{json .ExecIDs}}"), "null");

    ok(d.docker().args(["exec", "doc", "touch", "/tmp/ok"]));
    assert!(eventually(15, || status(&d) == "healthy"), "status {}", status(&d));
    let ps = ok(d.docker().args(["ps", "--format", "{{.Status}}"]));
    assert!(ps.trim().ends_with("(healthy)"), "{ps}");
    assert_eq!(ok(d.docker().args(["ps", "-q", "--filter", "health=healthy"])).lines().count(), 1);
    let health: serde_json::Value =
        serde_json::from_str(&inspect(&d, "doc", "{{json .State.Health}}")).unwrap();
    assert_eq!(health["FailingStreak"], 0);
    let log = health["Log"].as_array().unwrap();
    assert!(!log.is_empty() && log.len() <= 5, "{health}");
    assert_eq!(log.last().unwrap()["ExitCode"], 0);
    assert!(log.last().unwrap()["Start"].as_str().unwrap() <= log.last().unwrap()["End"].as_str().unwrap());
    let (_, err) = fails(d.docker().args(["ps", "--filter", "health=sick"]));
    assert!(err.contains("Unrecognised filter value for health: sick"), "{err}");

    // The checks go on after a daemon restart (live restore).
    d.restart();
    ok(d.docker().args(["exec", "doc", "rm", "/tmp/ok"]));
    assert!(eventually(15, || status(&d) == "unhealthy"), "after a daemon restart: {}", status(&d));
    ok(d.docker().args(["exec", "doc", "touch", "/tmp/ok"]));
    assert!(eventually(15, || status(&d) == "healthy"));

    // Stopped, it keeps its last health; restarted, it starts over.
    ok(d.docker().args(["stop", "-t", "1", "doc"]));
    assert_eq!(status(&d), "healthy");
    ok(d.docker().args(["start", "doc"]));
    assert!(eventually(15, || status(&d) == "healthy"));

    let _ = events.kill();
    let _ = events.wait();
    let mut seen = String::new();
    events.stdout.take().unwrap().read_to_string(&mut seen).unwrap();
    assert!(seen.contains("health_status: unhealthy doc"), "{seen}");
    assert!(seen.contains("health_status: healthy doc"), "{seen}");

    // No check: no Health, and `none` for the filter.
    ok(d.docker().args(["run", "-d", "--name", "plain", "--no-healthcheck", image, "sleep", "1000"]));
    assert!(!inspect(&d, "plain", "{{json .State}}").contains("Health"));
    let none = ok(d.docker().args(["ps", "--filter", "health=none", "--format", "{{.Names}}"]));
    assert_eq!(none.trim(), "plain");
    ok(d.docker().args(["rm", "-f", "doc", "plain"]));
}

#[test]
fn a_check_that_hangs_times_out() {
    if !harness::require_root() {
        return;
    }
    let d = Daemon::start();
    let image = d.load_busybox();
    ok(d.docker().args([
        "run",
        "-d",
        "--name",
        "slow",
        "--health-cmd",
        "echo started; exec sleep 30",
        "--health-interval",
        "300ms",
        "--health-timeout",
        "200ms",
        "--health-retries",
        "1",
        image,
        "sleep",
        "1000",
    ]));
    assert!(eventually(15, || inspect(&d, "slow", "{{.State.Health.Status}}") == "unhealthy"));
    let health: serde_json::Value =
        serde_json::from_str(&inspect(&d, "slow", "{{json .State.Health}}")).unwrap();
    let last = health["Log"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["ExitCode"], -1);
    assert_eq!(last["Output"], "Health check exceeded timeout (200ms): started\n");
    // The probes that ran too long were killed, not left to pile up.
    std::thread::sleep(Duration::from_millis(500));
    let top = ok(d.docker().args(["top", "slow", "-o", "pid,args"]));
    assert!(top.matches("sleep 30").count() <= 1, "{top}");
    ok(d.docker().args(["rm", "-f", "slow"]));
}

#[test]
fn update_changes_the_live_limits() {
    if !harness::require_root() {
        return;
    }
    let d = Daemon::start();
    let image = d.load_busybox();
    let id = ok(d.docker().args(["run", "-d", "--name", "box", "-m", "64m", image, "sleep", "1000"]))
        .trim()
        .to_string();
    let mem_file = cgroup_file(&id, "memory", "memory.limit_in_bytes", "memory.max");
    let read = |p: &PathBuf| std::fs::read_to_string(p).unwrap().trim().to_string();
    assert_eq!(read(&mem_file), (64u64 << 20).to_string());

    assert_eq!(ok(d.docker().args(["update", "--memory", "128m", "box"])).trim(), "box");
    assert_eq!(read(&mem_file), (128u64 << 20).to_string());
    assert_eq!(inspect(&d, "box", "{{.HostConfig.Memory}}"), (128u64 << 20).to_string());

    ok(d.docker().args([
        "update",
        "--pids-limit",
        "20",
        "--cpu-shares",
        "512",
        "--restart",
        "on-failure:3",
        "box",
    ]));
    assert_eq!(read(&cgroup_file(&id, "pids", "pids.max", "pids.max")), "20");
    if PathBuf::from("/sys/fs/cgroup/cpu").is_dir() {
        assert_eq!(read(&cgroup_file(&id, "cpu", "cpu.shares", "cpu.weight")), "512");
    }
    assert_eq!(
        inspect(
            &d,
            "box",
            "{{.HostConfig.PidsLimit}} {{.HostConfig.CpuShares}} {{.HostConfig.RestartPolicy.Name}}:{{.HostConfig.RestartPolicy.MaximumRetryCount}}"
        ),
        "20 512 on-failure:3"
    );

    // Docker's rule: more memory than the swap limit needs the swap too.
    let swap_accounting = PathBuf::from("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes").exists();
    if swap_accounting {
        let (_, err) = fails(d.docker().args(["update", "--memory", "512m", "box"]));
        assert!(err.contains(&format!("Cannot update container {id}: Memory limit should be smaller than already set memoryswap limit")), "{err}");
        ok(d.docker().args(["update", "--memory", "512m", "--memory-swap", "1g", "box"]));
        assert_eq!(read(&mem_file), (512u64 << 20).to_string());
    }
    let (_, err) = fails(d.docker().args(["update", "--memory", "1m", "box"]));
    assert!(err.contains("Minimum memory limit allowed is 6MB"), "{err}");
    let (_, err) = fails(d.docker().args(["update", "--memory", "64m", "nosuch"]));
    assert!(err.contains("No such container: nosuch"), "{err}");

    // A stopped container takes its new limits at the next start.
    ok(d.docker().args(["stop", "-t", "1", "box"]));
    ok(d.docker().args(["update", "--pids-limit", "30", "box"]));
    ok(d.docker().args(["start", "box"]));
    assert_eq!(read(&cgroup_file(&id, "pids", "pids.max", "pids.max")), "30");
    ok(d.docker().args(["rm", "-f", "box"]));
}

#[test]
fn container_prune_removes_only_stopped_containers() {
    if !harness::require_root() {
        return;
    }
    let d = Daemon::start();
    let image = d.load_busybox();
    let created = ok(d.docker().args(["create", "--name", "created", image, "true"])).trim().to_string();
    ok(d.docker().args(["run", "--name", "exited", image, "sh", "-c", "echo data > /f"]));
    let exited = inspect(&d, "exited", "{{.Id}}");
    ok(d.docker().args(["create", "--name", "kept", "--label", "keep=1", image, "true"]));
    ok(d.docker().args(["run", "-d", "--name", "running", image, "sleep", "1000"]));
    ok(d.docker().args(["run", "-d", "--name", "paused", image, "sleep", "1000"]));
    ok(d.docker().args(["pause", "paused"]));

    let out = ok(d.docker().args(["container", "prune", "-f", "--filter", "label!=keep"]));
    assert!(out.starts_with("Deleted Containers:\n"), "{out}");
    assert!(out.contains(&created) && out.contains(&exited), "{out}");
    assert!(out.contains("Total reclaimed space: "), "{out}");
    let left = ok(d.docker().args(["ps", "-a", "--format", "{{.Names}}"]));
    let mut left: Vec<&str> = left.lines().collect();
    left.sort();
    assert_eq!(left, ["kept", "paused", "running"]);

    let out = ok(d.docker().args(["container", "prune", "-f", "--filter", "label=keep=1"]));
    assert!(out.contains("Deleted Containers:"), "{out}");
    let out = ok(d.docker().args(["container", "prune", "-f"]));
    assert_eq!(out.trim(), "Total reclaimed space: 0B");
    let (_, err) = fails(d.docker().args(["container", "prune", "-f", "--filter", "name=x"]));
    assert!(err.contains("invalid filter 'name'"), "{err}");
    ok(d.docker().args(["rm", "-f", "running", "paused"]));
}

#[test]
fn berth_cli_ops() {
    if !harness::require_root() {
        return;
    }
    let d = Daemon::start();
    let image = d.load_busybox();
    ok(d.berth().args(["run", "-d", "--name", "bb", "-m", "32m", image, "sleep", "1000"]));
    assert_eq!(ok(d.berth().args(["pause", "bb"])).trim(), "bb");
    assert!(ok(d.berth().args(["ps", "--format", "{{.Status}}"])).contains("(Paused)"));
    assert_eq!(ok(d.berth().args(["container", "unpause", "bb"])).trim(), "bb");
    let top = ok(d.berth().args(["top", "bb", "-o", "pid,args"]));
    assert!(top.starts_with("PID") && top.contains("sleep 1000"), "{top}");
    let stats = ok(d.berth().args(["stats", "--no-stream", "--format", "{{.Name}} {{.MemUsage}}", "bb"]));
    assert!(stats.starts_with("bb ") && stats.trim().ends_with("/ 32MiB"), "{stats}");
    assert_eq!(ok(d.berth().args(["update", "--memory", "48m", "bb"])).trim(), "bb");
    assert_eq!(inspect(&d, "bb", "{{.HostConfig.Memory}}"), (48u64 << 20).to_string());
    ok(d.berth().args(["rm", "-f", "bb"]));
    ok(d.berth().args(["create", "--name", "gone", image, "true"]));
    let out = ok(d.berth().args(["container", "prune", "-f"]));
    assert!(out.starts_with("Deleted Containers:"), "{out}");
}

/// The events of a container's life, as Docker emits them: a `kill` per
/// signal sent (by stop and rm -f too), `exec_die` with the exit code,
/// `restart` for `docker restart`.
#[test]
fn lifecycle_events_follow_docker() {
    if !harness::require_root() {
        return;
    }
    let d = Daemon::start();
    let image = d.load_busybox();
    let start = harness::now_secs();
    // It ignores SIGTERM: each stop ends with a SIGKILL.
    ok(d.docker().args(["run", "-d", "--name", "ev", image, "sh", "-c", "trap '' TERM; sleep 100 & wait"]));
    assert_eq!(fails(d.docker().args(["exec", "ev", "sh", "-c", "exit 4"])).0, 4);
    ok(d.docker().args(["stop", "-t", "1", "ev"]));
    // Stopped already: a restart only starts it.
    ok(d.docker().args(["restart", "-t", "1", "ev"]));
    ok(d.docker().args(["rm", "-f", "ev"]));
    let events = d.past_events(
        start,
        &["container=ev"],
        r#"{{.Action}} {{index .Actor.Attributes "signal"}}{{index .Actor.Attributes "exitCode"}}"#,
    );

    let actions: Vec<&str> = events.lines().map(str::trim).collect();
    let expected = [
        "create",
        "start",
        "exec_die 4",
        "kill 15",
        "kill 9",
        "stop",
        "start",
        "restart",
        "kill 9",
        "destroy",
    ];
    // In this order (a `die` comes with each exit, as the process goes).
    let mut rest = actions.iter();
    for want in expected {
        assert!(rest.any(|a| *a == want), "{want:?} missing or out of order in {actions:?}");
    }
    assert_eq!(actions.iter().filter(|a| a.starts_with("die")).count(), 2, "{actions:?}");
}
