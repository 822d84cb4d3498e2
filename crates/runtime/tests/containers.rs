//! Real containers, as root.
//!
//! libtest runs tests on threads, but the runtime must be driven from a
//! single-threaded process (it forks and keeps running Rust in the child).
//! So this file has its own small harness: `main` extracts the busybox
//! fixture once, then runs every case in a fresh copy of this executable
//! (`BERTH_RT_CASE=<name>`), a few at a time, where the case runs on the
//! main and only thread. Arguments filter cases by substring; `--list`
//! lists them.
//!
//! Not root: the cases are skipped with a message, except under `CI=true`,
//! where that is a failure.

mod common;

use std::os::fd::AsFd;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;
use runtime::caps::{self, CapSet};
use runtime::cgroups::{Cgroup, DeviceRule, Hierarchy};
use runtime::{
    Device, DeviceKind, ExecSpec, ExitStatus, InitErrorKind, Mount, Namespace, Resources, Rlimit,
    RuntimeError, Seccomp, Stdio, User, UserSpec,
};

type Case = (&'static str, fn());

const CASES: &[Case] = &[
    ("echo_hello", echo_hello),
    ("exit_code", exit_code),
    ("missing_binary", missing_binary),
    ("not_executable", not_executable),
    ("exec_permission_at_start", exec_permission_at_start),
    ("pid_one", pid_one),
    ("hostname", hostname),
    ("host_processes_invisible", host_processes_invisible),
    ("mounts_isolated", mounts_isolated),
    ("writes_land_in_upper", writes_land_in_upper),
    ("memory_limit_oom", memory_limit_oom),
    ("pids_limit_stops_fork_bomb", pids_limit_stops_fork_bomb),
    ("seccomp_default_blocks_unshare", seccomp_default_blocks_unshare),
    ("seccomp_filter_on_test_process", seccomp_filter_on_test_process),
    ("caps_mount_needs_sys_admin", caps_mount_needs_sys_admin),
    ("cap_drop_all_chown_fails", cap_drop_all_chown_fails),
    ("user_1000_cannot_read_root_file", user_1000_cannot_read_root_file),
    ("user_lookup_by_name", user_lookup_by_name),
    ("readonly_rootfs", readonly_rootfs),
    ("exec_into_running_container", exec_into_running_container),
    ("exec_errors", exec_errors),
    ("cgroup_v1_resources", cgroup_v1_resources),
    ("cgroup_v2_unified_freeze_kill_devices", cgroup_v2_unified_freeze_kill_devices),
    ("container_in_cgroup2_tree", container_in_cgroup2_tree),
    ("init_binary", init_binary),
    ("cleanup_leaves_nothing", cleanup_leaves_nothing),
    ("warming_the_migration_lock_moves_nothing", warming_the_migration_lock_moves_nothing),
    ("sixty_layers", sixty_layers),
    ("sixty_layers_fsconfig", sixty_layers_fsconfig),
    ("sixty_layers_symlinks", sixty_layers_symlinks),
    ("tty", tty),
    ("sysctls", sysctls),
    ("masked_and_readonly_paths", masked_and_readonly_paths),
    ("rlimits_oom_score_nnp_env_cwd", rlimits_oom_score_nnp_env_cwd),
    ("network_namespace", network_namespace),
    ("join_network_of_other_container", join_network_of_other_container),
    ("devices_and_device_cgroup", devices_and_device_cgroup),
    ("privileged", privileged),
    ("start_twice_and_stdin", start_twice_and_stdin),
    ("image_symlinks_cannot_redirect_mounts", image_symlinks_cannot_redirect_mounts),
];

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Ok(case) = std::env::var("BERTH_RT_CASE") {
        let f = CASES.iter().find(|(n, _)| *n == case).expect("unknown case").1;
        f();
        return;
    }
    // libtest's listing protocol, which cargo-nextest speaks: `--list
    // --format terse` lists, `--ignored` lists the ignored ones (none).
    if args.iter().any(|a| a == "--list") {
        if !args.iter().any(|a| a == "--ignored") {
            for (name, _) in CASES {
                println!("{name}: test");
            }
        }
        return;
    }
    // `--ignored` alone asks to run only ignored tests: there are none.
    if args.iter().any(|a| a == "--ignored") {
        return;
    }
    if !rustix::process::geteuid().is_root() {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("container tests need root, and CI=true makes skipping a failure");
        }
        println!("skipping {} container tests: they need root (CI=true makes this a failure)", CASES.len());
        return;
    }
    // Options with a separate value (`--format terse`) must not be taken
    // for name filters.
    let mut filters: Vec<&String> = Vec::new();
    let mut skip_value = false;
    for a in &args {
        if skip_value {
            skip_value = false;
        } else if matches!(a.as_str(), "--format" | "--test-threads" | "--color" | "--skip" | "-Z") {
            skip_value = true;
        } else if !a.starts_with('-') {
            filters.push(a);
        }
    }
    let exact = args.iter().any(|a| a == "--exact");
    let selected: Vec<&Case> = CASES
        .iter()
        .filter(|(name, _)| {
            filters.is_empty()
                || filters.iter().any(|f| if exact { name == f } else { name.contains(f.as_str()) })
        })
        .collect();

    let busybox = tempfile::Builder::new().prefix("berth-rt-busybox-").tempdir().unwrap();
    extract_busybox(busybox.path());
    println!("\nrunning {} container tests", selected.len());
    let exe = std::env::current_exe().unwrap();
    let parallel: usize = std::env::var("BERTH_RT_JOBS").ok().and_then(|v| v.parse().ok()).unwrap_or(4);
    let mut pending = selected.into_iter();
    let mut running: Vec<(&str, std::process::Child, Instant)> = Vec::new();
    let mut failed: Vec<(String, String)> = Vec::new();
    let mut passed = 0;
    loop {
        while running.len() < parallel {
            let Some((name, _)) = pending.next() else { break };
            let child = Command::new(&exe)
                .env("BERTH_RT_CASE", name)
                .env("BERTH_RT_BUSYBOX", busybox.path())
                .env("RUST_BACKTRACE", "1")
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            running.push((name, child, Instant::now()));
        }
        if running.is_empty() {
            break;
        }
        let mut i = 0;
        while i < running.len() {
            let (_, child, started) = &mut running[i];
            let done = child.try_wait().unwrap();
            let timed_out = started.elapsed() > Duration::from_secs(180);
            if done.is_none() && !timed_out {
                i += 1;
                continue;
            }
            if timed_out {
                let _ = child.kill();
            }
            let (name, child, started) = running.remove(i);
            let out = child.wait_with_output().unwrap();
            let ms = started.elapsed().as_millis();
            if out.status.success() && !timed_out {
                println!("test {name} ... ok ({ms} ms)");
                passed += 1;
            } else {
                println!("test {name} ... FAILED ({ms} ms{})", if timed_out { ", timed out" } else { "" });
                failed.push((
                    name.to_string(),
                    format!(
                        "{}{}",
                        String::from_utf8_lossy(&out.stdout),
                        String::from_utf8_lossy(&out.stderr)
                    ),
                ));
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    for (name, output) in &failed {
        println!("\n---- {name} ----\n{output}");
    }
    println!(
        "\ntest result: {}. {passed} passed; {} failed\n",
        if failed.is_empty() { "ok" } else { "FAILED" },
        failed.len()
    );
    if !failed.is_empty() {
        // exit() skips destructors: remove the extracted busybox first.
        drop(busybox);
        std::process::exit(1);
    }
}

fn case() -> Env {
    Env::new(&std::env::var("BERTH_RT_CASE").unwrap())
}

fn echo_hello() {
    let env = case();
    let out = run(&env.spec(&["echo", "hello"]));
    assert_eq!(out.status, ExitStatus::Exited(0));
    assert_eq!(out.stdout, "hello\n");
    assert_eq!(out.stderr, "");
    let out = run(&env.spec(&["sh", "-c", "echo to-stderr >&2"]));
    assert_eq!(out.stderr, "to-stderr\n");
}

fn exit_code() {
    let env = case();
    assert_eq!(run(&env.spec(&["sh", "-c", "exit 3"])).status, ExitStatus::Exited(3));
    let out = run(&env.spec(&["sh", "-c", "kill -TERM $$"]));
    assert_eq!(out.status, ExitStatus::Exited(0), "PID 1 ignores signals it has no handler for");
    let out = run(&env.spec(&["sh", "-c", "sh -c 'kill -9 $$'; echo $?"]));
    assert_eq!(out.stdout, "137\n");
}

fn expect_create_error(spec: &runtime::Spec) -> RuntimeError {
    let ((_o, _e), stdio) = pipes();
    let err = match runtime::create(spec, stdio) {
        Ok(c) => {
            let _ = c.signal(libc::SIGKILL);
            let _ = c.wait();
            panic!("create {} succeeded", spec.id)
        }
        Err(e) => e,
    };
    runtime::cleanup(spec).unwrap();
    let dirs = runtime::Cgroup::new(Hierarchy::detect().unwrap(), &spec.cgroup.parent, &spec.cgroup.name)
        .unwrap()
        .dirs();
    assert!(dirs.iter().all(|d| !d.exists()), "failed create leaves no cgroup");
    err
}

fn missing_binary() {
    let env = case();
    let err = expect_create_error(&env.spec(&["nosuchcmd"]));
    assert_eq!(err.to_string(), "exec: \"nosuchcmd\": executable file not found in $PATH");
    assert_eq!(err.exit_code(), Some(127));
    assert_eq!(err.init_error().unwrap().errno, Some(libc::ENOENT));
    let err = expect_create_error(&env.spec(&["/no/such/binary"]));
    assert_eq!(err.exit_code(), Some(127), "{err}");
    assert!(err.to_string().contains("no such file or directory"), "{err}");
}

fn not_executable() {
    let env = case();
    let err = expect_create_error(&env.spec(&["/etc/passwd"]));
    assert_eq!(err.exit_code(), Some(126), "{err}");
    assert_eq!(err.to_string(), "exec: \"/etc/passwd\": permission denied");
    let err = expect_create_error(&env.spec(&["/bin"]));
    assert_eq!(err.exit_code(), Some(126), "a directory: {err}");
}

fn exec_permission_at_start() {
    // Executable bits, but on a noexec mount: only execve itself refuses.
    let env = case();
    let script = env.dir.path().join("script");
    std::fs::write(&script, "#!/bin/sh\necho hi\n").unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let mut spec = env.spec(&["/script"]);
    let mut m = Mount::bind(script.to_str().unwrap(), "/script", false);
    m.options.push("noexec".into());
    spec.mounts.push(m);
    let ((_o, _e), stdio) = pipes();
    let created = runtime::create(&spec, stdio).unwrap();
    let err = runtime::start(&created).unwrap_err();
    assert_eq!(err.exit_code(), Some(126), "{err}");
    assert_eq!(err.to_string(), "exec: \"/script\": permission denied");
    assert_eq!(created.wait().unwrap(), ExitStatus::Exited(126));
    runtime::cleanup(&spec).unwrap();
}

fn pid_one() {
    let env = case();
    assert_eq!(output_of(&env.spec(&["sh", "-c", "echo $$"])), "1\n");
}

fn hostname() {
    let env = case();
    let mut spec = env.spec(&["hostname"]);
    spec.hostname = "box-under-test".into();
    assert_eq!(output_of(&spec), "box-under-test\n");
    let host = rustix::system::uname().nodename().to_string_lossy().into_owned();
    assert_ne!(host, "box-under-test", "the host keeps its name");
}

fn host_processes_invisible() {
    let env = case();
    let out = output_of(&env.spec(&["sh", "-c", "ls /proc | grep -E '^[0-9]+$'; echo; ps -o pid,comm"]));
    let (pids, ps) = out.split_once("\n\n").unwrap();
    let pids: Vec<u32> = pids.lines().map(|l| l.parse().unwrap()).collect();
    assert!(pids.contains(&1) && pids.len() <= 4 && pids.iter().all(|p| *p < 10), "{pids:?}");
    let ps_lines: Vec<&str> = ps.lines().skip(1).collect();
    assert!(ps_lines.len() <= 3, "only the container's processes: {ps}");
    assert!(ps_lines[0].trim().starts_with("1 "), "{ps}");
}

fn mounts_isolated() {
    let env = case();
    let spec = env.spec(&["sleep", "30"]);
    let target = spec.rootfs.target().to_string_lossy().into_owned();
    let ((_o, _e), stdio) = pipes();
    let created = runtime::create(&spec, stdio).unwrap();
    runtime::start(&created).unwrap();
    assert!(host_mounts_mentioning(&target).is_empty(), "the overlay is not visible on the host");
    assert!(host_mounts_mentioning(env.dir.path().to_str().unwrap()).is_empty());
    // The container does see its overlay as /.
    let theirs =
        std::fs::read_to_string(format!("/proc/{}/mountinfo", created.pid.as_raw_nonzero())).unwrap();
    assert!(
        theirs.lines().any(|l| l.split(' ').nth(4) == Some("/") && l.contains(" - overlay ")),
        "{theirs}"
    );
    assert!(!theirs.contains(&target), "the host path is gone after pivot_root");
    created.signal(libc::SIGKILL).unwrap();
    assert_eq!(created.wait().unwrap(), ExitStatus::Signaled(libc::SIGKILL));
    runtime::cleanup(&spec).unwrap();
    assert!(host_mounts_mentioning(&target).is_empty());
}

fn writes_land_in_upper() {
    let env = case();
    let spec = env.spec(&["sh", "-c", "echo data > /newfile && rm /bin/vi"]);
    output_of(&spec);
    let runtime::Rootfs::Overlay { upper, lower, .. } = &spec.rootfs else { unreachable!() };
    assert_eq!(std::fs::read_to_string(upper.join("newfile")).unwrap(), "data\n");
    assert!(!lower[0].join("newfile").exists());
    assert!(lower[0].join("bin/vi").exists(), "the image layer is untouched");
    let whiteout = std::fs::symlink_metadata(upper.join("bin/vi")).unwrap();
    assert!(std::os::unix::fs::FileTypeExt::is_char_device(&whiteout.file_type()), "a whiteout");
}

fn memory_limit_oom() {
    let env = case();
    let mut spec = env.spec(&["sh", "-c", "x=0123456789; while true; do x=\"$x$x\"; done"]);
    spec.cgroup.resources =
        Resources { memory: Some(32 << 20), memory_swap: Some(32 << 20), ..Default::default() };
    let ((out, err), stdio) = pipes();
    let created = runtime::create(&spec, stdio).unwrap();
    runtime::start(&created).unwrap();
    let (_, _, finished) = drain(&out, &err, Duration::from_secs(60));
    assert!(finished);
    let status = created.wait().unwrap();
    assert_eq!(status, ExitStatus::Signaled(libc::SIGKILL), "killed by the OOM killer");
    let stats = created.cgroup.stats().unwrap();
    assert!(stats.oom_kills >= 1, "{stats:?}");
    assert_eq!(stats.memory_limit, Some(32 << 20));
    runtime::cleanup(&spec).unwrap();
}

fn pids_limit_stops_fork_bomb() {
    let env = case();
    // A steady bomb: a recursive `f | f &` can die out on a loaded machine
    // before reaching the limit; a loop of long-lived children cannot.
    let mut spec =
        env.spec(&["sh", "-c", "i=0; while [ $i -lt 500 ]; do sleep 100 & i=$((i+1)); done; wait"]);
    spec.cgroup.resources.pids_limit = Some(50);
    let ((out, err), stdio) = pipes();
    let created = runtime::create(&spec, stdio).unwrap();
    runtime::start(&created).unwrap();
    let pids_dir = created.cgroup.dirs().into_iter().find(|d| d.join("pids.max").exists()).unwrap();
    let read = |f: &str| std::fs::read_to_string(pids_dir.join(f)).unwrap();
    assert!(
        eventually(Duration::from_secs(20), || read("pids.events").contains("max ")
            && !read("pids.events").contains("max 0")),
        "the limit was hit: {}",
        read("pids.events")
    );
    let current: u64 = read("pids.current").trim().parse().unwrap();
    assert!(current <= 50, "pids.current {current}");
    // Killing PID 1 of the container takes its whole PID namespace along.
    created.signal(libc::SIGKILL).unwrap();
    let (_, _, finished) = drain(&out, &err, Duration::from_secs(30));
    assert!(finished);
    created.wait().unwrap();
    runtime::cleanup(&spec).unwrap();
    // The host can still fork.
    assert!(Command::new("true").status().unwrap().success());
}

fn seccomp_default_blocks_unshare() {
    let env = case();
    let out = run(&env.spec(&["unshare", "-U", "true"]));
    assert_ne!(out.status, ExitStatus::Exited(0), "{out:?}");
    assert!(out.stderr.contains("Operation not permitted"), "{out:?}");
    let mut spec = env.spec(&["unshare", "-U", "true"]);
    spec.seccomp = Seccomp::Unconfined;
    let out = run(&spec);
    assert_eq!(out.status, ExitStatus::Exited(0), "unconfined: {out:?}");
    // A custom profile in Docker's format.
    let mut spec = env.spec(&["mkdir", "/x"]);
    spec.seccomp = Seccomp::Profile(serde_json::json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}]
    }));
    let out = run(&spec);
    assert_ne!(out.status, ExitStatus::Exited(0));
    assert!(out.stderr.contains("Permission denied"), "{out:?}");
}

/// The compiled default filter installed on a forked test process, calling
/// syscalls busybox has no applet for.
fn seccomp_filter_on_test_process() {
    let caps = CapSet::from_names(caps::DEFAULT_CAPABILITIES).unwrap();
    let filter = runtime::seccomp::compile(&Seccomp::Default, &caps).unwrap().unwrap();
    // SAFETY: this test process is single-threaded (one case per process).
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0);
    if pid == 0 {
        let code = (|| -> i32 {
            if rustix::thread::set_no_new_privs(true).is_err() || filter.install().is_err() {
                return 100;
            }
            let errno = |ret: libc::c_long| {
                if ret < 0 { std::io::Error::last_os_error().raw_os_error().unwrap() } else { 0 }
            };
            // SAFETY: plain syscalls with integer arguments.
            let keyctl = errno(unsafe {
                libc::syscall(libc::SYS_keyctl, 0 /* KEYCTL_GET_KEYRING_ID */, -3, 0)
            });
            if keyctl != libc::EPERM {
                return 1;
            }
            // SAFETY: as above.
            let unshare = errno(unsafe { libc::syscall(libc::SYS_unshare, libc::CLONE_NEWUSER) });
            if unshare != libc::EPERM {
                return 2;
            }
            // SAFETY: clone3 with a null argument would fail anyway; the filter answers first.
            let clone3 = errno(unsafe { libc::syscall(libc::SYS_clone3, 0, 0) });
            if clone3 != libc::ENOSYS {
                return 3;
            }
            // SAFETY: as above.
            let vsock = errno(unsafe { libc::syscall(libc::SYS_socket, 40, libc::SOCK_STREAM, 0) });
            if vsock != libc::EPERM {
                return 4;
            }
            // SAFETY: as above.
            let unix = unsafe { libc::syscall(libc::SYS_socket, libc::AF_UNIX, libc::SOCK_STREAM, 0) };
            if unix < 0 {
                return 5;
            }
            // SAFETY: as above; personality(0xffffffff) only queries.
            let persona = errno(unsafe { libc::syscall(libc::SYS_personality, 0xffff_ffffu64) });
            if persona != 0 {
                return 6;
            }
            // SAFETY: as above; READ_IMPLIES_EXEC is refused.
            let persona = errno(unsafe { libc::syscall(libc::SYS_personality, 0x0040_0000u64) });
            if persona != libc::EPERM {
                return 7;
            }
            if rustix::process::getpid().as_raw_nonzero().get() <= 0 {
                return 8;
            }
            // SAFETY: as above; io_uring is refused as by Docker 25+.
            let uring = errno(unsafe { libc::syscall(libc::SYS_io_uring_setup, 1, 0) });
            if uring != libc::EPERM {
                return 9;
            }
            0
        })();
        // SAFETY: leave the forked copy of the test without running anything else.
        unsafe { libc::_exit(code) };
    }
    let status = runtime::wait(runtime::Pid::from_raw(pid).unwrap()).unwrap();
    assert_eq!(status, ExitStatus::Exited(0), "failed check #{}", status.code());
}

fn caps_mount_needs_sys_admin() {
    let env = case();
    // busybox has no /mnt; /tmp is as good a mount point.
    let out = run(&env.spec(&["mount", "-t", "tmpfs", "x", "/tmp"]));
    assert_ne!(out.status, ExitStatus::Exited(0), "{out:?}");
    assert!(out.stderr.to_lowercase().contains("permission denied"), "EPERM: {out:?}");
    let mut spec = env.spec(&["sh", "-c", "mount -t tmpfs x /tmp && grep -c ' /tmp ' /proc/self/mountinfo"]);
    spec.privileged = true;
    assert_eq!(output_of(&spec), "1\n");
    // CAP_SYS_ADMIN alone widens the default seccomp profile too.
    let mut spec = env.spec(&["sh", "-c", "mount -t tmpfs x /tmp && echo mounted"]);
    spec.capabilities.push("CAP_SYS_ADMIN".into());
    assert_eq!(output_of(&spec), "mounted\n");
}

fn cap_drop_all_chown_fails() {
    let env = case();
    let mut spec = env.spec(&["chown", "1", "/tmp"]);
    spec.capabilities.clear();
    let out = run(&spec);
    assert_ne!(out.status, ExitStatus::Exited(0));
    assert!(out.stderr.contains("Operation not permitted"), "{out:?}");
    let out = run(&env.spec(&["sh", "-c", "chown 1 /tmp && grep CapEff /proc/self/status"]));
    assert_eq!(out.status, ExitStatus::Exited(0), "default caps include CAP_CHOWN: {out:?}");
    let eff = u64::from_str_radix(out.stdout.trim().rsplit('\t').next().unwrap(), 16).unwrap();
    assert_eq!(eff, CapSet::from_names(caps::DEFAULT_CAPABILITIES).unwrap().bits());
    let mut spec = env.spec(&["grep", "-E", "^Cap(Eff|Prm|Bnd|Inh|Amb)", "/proc/self/status"]);
    spec.capabilities.clear();
    for line in output_of(&spec).lines() {
        assert!(line.ends_with("0000000000000000"), "{line}");
    }
}

fn user_1000_cannot_read_root_file() {
    let env = case();
    let layer = env.layer("secret", &[("/secret", "top secret\n", 0o600)]);
    let mut spec =
        env.spec_with_layers(&["sh", "-c", "id -u; id -g; cat /secret"], std::slice::from_ref(&layer));
    spec.user = UserSpec::Id(User { uid: 1000, gid: 1000, additional_gids: vec![] });
    let out = run(&spec);
    assert_eq!(out.stdout, "1000\n1000\n");
    assert!(out.stderr.contains("Permission denied"), "{out:?}");
    assert_ne!(out.status, ExitStatus::Exited(0));
    let spec = env.spec_with_layers(&["cat", "/secret"], &[layer]);
    assert_eq!(output_of(&spec), "top secret\n", "root reads it");
}

fn user_lookup_by_name() {
    let env = case();
    assert_eq!(output_of(&env.spec(&["id"])), "uid=0(root) gid=0(root) groups=0(root),10(wheel)\n");
    let mut spec = env.spec(&["id"]);
    spec.user = UserSpec::Lookup { user: "nobody".into(), group_add: vec!["audio".into(), "4242".into()] };
    assert_eq!(output_of(&spec), "uid=65534(nobody) gid=65534(nobody) groups=29(audio),4242,65534(nobody)\n");
    let mut spec = env.spec(&["true"]);
    spec.user = UserSpec::Lookup { user: "ghost".into(), group_add: vec![] };
    let err = expect_create_error(&spec);
    assert_eq!(err.to_string(), "unable to find user ghost: no matching entries in passwd file");
}

fn readonly_rootfs() {
    let env = case();
    let mut spec = env.spec(&["sh", "-c", "touch /x; echo rc=$?; touch /tmp/y && echo tmp-ok"]);
    spec.readonly_rootfs = true;
    spec.mounts.push(Mount::tmpfs("/tmp", &["mode=1777"]));
    let out = run(&spec);
    assert!(out.stderr.contains("Read-only file system"), "{out:?}");
    assert_eq!(out.stdout, "rc=1\ntmp-ok\n");
}

fn exec_into_running_container() {
    let env = case();
    let mut spec = env.spec(&["sleep", "30"]);
    spec.hostname = "exec-target".into();
    let ((_o, _e), stdio) = pipes();
    let created = runtime::create(&spec, stdio).unwrap();
    runtime::start(&created).unwrap();

    let mut exec = ExecSpec::for_container(
        &spec,
        vec![
            "sh".into(),
            "-c".into(),
            "hostname; tr '\\0' ' ' < /proc/1/cmdline; echo; echo $$; id -u; pwd".into(),
        ],
    );
    exec.cwd = "/tmp".into();
    let ((out, err), stdio) = pipes();
    let pid = runtime::exec(created.pid, &exec, stdio).unwrap();
    let (stdout, stderr, finished) = drain(&out, &err, Duration::from_secs(30));
    assert!(finished);
    assert_eq!(runtime::wait(pid).unwrap(), ExitStatus::Exited(0), "{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines[0], "exec-target");
    assert_eq!(lines[1].trim(), "sleep 30", "PID 1 is the container's init");
    let inner_pid: u32 = lines[2].parse().unwrap();
    assert!(inner_pid > 1 && inner_pid < 100, "a pid of the container's namespace: {inner_pid}");
    assert_eq!(lines[3], "0");
    assert_eq!(lines[4], "/tmp");
    // Same cgroup as the init.
    let cg =
        |p: runtime::Pid| std::fs::read_to_string(format!("/proc/{}/cgroup", p.as_raw_nonzero())).unwrap();
    let init_cg = cg(created.pid);

    let mut exec = ExecSpec::for_container(&spec, vec!["sleep".into(), "5".into()]);
    exec.user = UserSpec::Id(User { uid: 1000, gid: 1000, additional_gids: vec![] });
    let ((_o2, _e2), stdio) = pipes();
    let sleeper = runtime::exec(created.pid, &exec, stdio).unwrap();
    assert_eq!(cg(sleeper), init_cg);
    let status = std::fs::read_to_string(format!("/proc/{}/status", sleeper.as_raw_nonzero())).unwrap();
    assert!(status.lines().any(|l| l.starts_with("Uid:") && l.contains("1000")), "{status}");
    assert!(
        status.lines().any(|l| l.starts_with("Seccomp:") && l.ends_with('2')),
        "seccomp on exec'd processes"
    );

    created.signal(libc::SIGKILL).unwrap();
    // The kernel kills the whole PID namespace with its init, but reports
    // the init's exit only once every other process of the namespace is
    // reaped — the exec'd one is ours, so reap it first.
    assert_eq!(runtime::wait(sleeper).unwrap(), ExitStatus::Signaled(libc::SIGKILL));
    created.wait().unwrap();
    runtime::cleanup(&spec).unwrap();
}

fn exec_errors() {
    let env = case();
    let spec = env.spec(&["sleep", "30"]);
    let ((_o, _e), stdio) = pipes();
    let created = runtime::create(&spec, stdio).unwrap();
    runtime::start(&created).unwrap();
    let ((_o2, _e2), stdio) = pipes();
    let err =
        runtime::exec(created.pid, &ExecSpec::for_container(&spec, vec!["nope".into()]), stdio).unwrap_err();
    assert_eq!(err.exit_code(), Some(127), "{err}");
    let mut exec = ExecSpec::for_container(&spec, vec!["true".into()]);
    exec.cwd = "/does/not/exist".into();
    let ((_o3, _e3), stdio) = pipes();
    let err = runtime::exec(created.pid, &exec, stdio).unwrap_err();
    assert!(err.to_string().contains("chdir"), "{err}");
    assert_eq!(err.init_error().unwrap().kind, InitErrorKind::Setup);
    created.signal(libc::SIGKILL).unwrap();
    created.wait().unwrap();
    runtime::cleanup(&spec).unwrap();
}

fn cgroup_v1_resources() {
    let env = case();
    let h = env.hierarchy();
    if h.version() != runtime::cgroups::CgroupVersion::V1 {
        println!("not a cgroup v1 host; covered by the unit tests");
        return;
    }
    let mut spec = env.spec(&[
        "sh",
        "-c",
        "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max; grep memory /proc/self/cgroup",
    ]);
    spec.cgroup.resources = Resources {
        memory: Some(48 << 20),
        memory_reservation: Some(16 << 20),
        cpu_shares: Some(512),
        cpu_quota: Some(20_000),
        cpu_period: Some(100_000),
        cpuset_cpus: Some("0".into()),
        pids_limit: Some(77),
        ..Default::default()
    };
    let cgroup = Cgroup::new(h.clone(), &spec.cgroup.parent, &spec.cgroup.name).unwrap();
    let host = |controller: &str, file: &str| -> String {
        let m = match &h {
            Hierarchy::V1 { mounts } => {
                mounts.iter().find(|m| m.controllers.iter().any(|c| c == controller)).unwrap()
            }
            _ => unreachable!(),
        };
        std::fs::read_to_string(m.path.join(cgroup.path()).join(file)).unwrap().trim().to_string()
    };
    let mut seen = Vec::new();
    let out = run_with(&spec, |_| {
        seen.push(host("memory", "memory.limit_in_bytes"));
        seen.push(host("memory", "memory.soft_limit_in_bytes"));
        seen.push(host("cpu", "cpu.shares"));
        seen.push(host("cpu", "cpu.cfs_quota_us"));
        seen.push(host("cpu", "cpu.cfs_period_us"));
        seen.push(host("cpuset", "cpuset.cpus"));
        seen.push(host("pids", "pids.max"));
        seen.push(host("devices", "devices.list"));
    });
    assert_eq!(&seen[..7], &["50331648", "16777216", "512", "20000", "100000", "0", "77"]);
    assert!(seen[7].contains("c 1:3 rwm") && !seen[7].contains("a *:* rwm"), "{}", seen[7]);
    assert_eq!(out.status, ExitStatus::Exited(0), "{out:?}");
    // Inside, the cgroup namespace makes the container's cgroup the root.
    assert_eq!(
        out.stdout,
        "50331648\n77\n4:memory:/\n".replace("4:", &format!("{}:", memory_id())),
        "{out:?}"
    );
}

/// The hierarchy id of the memory controller in /proc/self/cgroup.
fn memory_id() -> String {
    let text = std::fs::read_to_string("/proc/self/cgroup").unwrap();
    text.lines()
        .find(|l| l.split(':').nth(1) == Some("memory"))
        .unwrap()
        .split(':')
        .next()
        .unwrap()
        .to_string()
}

/// cgroup v2 on a real kernel. On this kind of host (v1 with a v2 mount
/// beside it) no controller is bound to v2, but freezing, killing, the
/// device eBPF program and directory handling are v2 core features.
fn cgroup_v2_unified_freeze_kill_devices() {
    let env = case();
    let unified = PathBuf::from("/sys/fs/cgroup/unified");
    let root = match env.hierarchy() {
        Hierarchy::V2 { root } => root,
        _ if unified.join("cgroup.procs").exists() => unified,
        _ => {
            println!("no cgroup2 mount");
            return;
        }
    };
    let h = Hierarchy::v2(&root);
    let cg = Cgroup::new(h.clone(), &env.parent, "v2").unwrap();
    cg.create().unwrap();
    cg.set_devices(&[DeviceRule::parse("c 1:3 rwm").unwrap()]).unwrap();

    // A child that reports whether it may open devices, then sleeps.
    let (r, w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).unwrap();
    // SAFETY: single-threaded test process.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0);
    if pid == 0 {
        let _ = rustix::io::read(&r, &mut [0u8; 1]); // wait until placed in the cgroup
        let null = std::fs::File::open("/dev/null").is_ok();
        let zero = std::fs::File::open("/dev/zero").map(drop).map_err(|e| e.raw_os_error());
        let verdict = if null && zero == Err(Some(libc::EPERM)) { b"y" } else { b"n" };
        let _ = rustix::io::write(&w, verdict);
        loop {
            std::thread::sleep(Duration::from_secs(1));
        }
    }
    cg.add_pid(pid).unwrap();
    rustix::io::write(&w, b"g").unwrap();
    drop(w);
    std::thread::sleep(Duration::from_millis(50));
    let mut verdict = [0u8; 1];
    // Our own "g" may still be in the pipe if the child has not read it yet.
    assert!(eventually(Duration::from_secs(5), || {
        rustix::io::read(&r, &mut verdict).is_ok_and(|n| n == 1 && verdict[0] != b'g')
    }));
    assert_eq!(&verdict, b"y", "the device program allows /dev/null and refuses /dev/zero");
    assert_eq!(cg.pids().unwrap(), vec![pid]);

    cg.freeze().unwrap();
    let events = std::fs::read_to_string(root.join(cg.path()).join("cgroup.events")).unwrap();
    assert!(events.contains("frozen 1"), "{events}");
    cg.thaw().unwrap();
    cg.kill_all().unwrap();
    assert_eq!(
        runtime::wait(runtime::Pid::from_raw(pid).unwrap()).unwrap(),
        ExitStatus::Signaled(libc::SIGKILL)
    );
    cg.delete().unwrap();
    runtime::cgroups::remove_parent(&h, &env.parent).unwrap();
    assert!(!root.join(&env.parent).exists());
}

/// The cgroup2 mount: the host's tree on v2 hosts, the one beside the v1
/// hierarchies on hybrid hosts.
fn cgroup2_root(env: &Env) -> Option<PathBuf> {
    let unified = PathBuf::from("/sys/fs/cgroup/unified");
    match env.hierarchy() {
        Hierarchy::V2 { root } => Some(root),
        _ if unified.join("cgroup.procs").exists() => Some(unified),
        _ => None,
    }
}

/// A whole container in a cgroup2 tree: CLONE_INTO_CGROUP, the device
/// eBPF program, the cgroup2 mount inside, exec joining the cgroup.
fn container_in_cgroup2_tree() {
    let env = case();
    let Some(root) = cgroup2_root(&env) else {
        println!("no cgroup2 mount");
        return;
    };
    let mut spec = env.spec(&["sleep", "30"]);
    spec.cgroup_hierarchy = Some(Hierarchy::v2(&root));
    let ((_o, _e), stdio) = pipes();
    let created = runtime::create(&spec, stdio).unwrap();
    let v2_line = |pid: runtime::Pid| -> String {
        std::fs::read_to_string(format!("/proc/{}/cgroup", pid.as_raw_nonzero()))
            .unwrap()
            .lines()
            .find(|l| l.starts_with("0::"))
            .unwrap()
            .to_string()
    };
    let expected = format!("0::/{}/{}", env.parent, spec.cgroup.name);
    assert_eq!(v2_line(created.pid), expected, "started inside its cgroup");
    runtime::start(&created).unwrap();

    let script = "grep '^0::' /proc/self/cgroup; test -f /sys/fs/cgroup/cgroup.procs && echo cgroup2; \
                  head -c 2 /dev/zero | wc -c; mknod /tmp/disk b 8 0; head -c 1 /tmp/disk";
    let exec = ExecSpec::for_container(&spec, vec!["sh".into(), "-c".into(), script.into()]);
    let ((out, err), stdio) = pipes();
    let pid = runtime::exec(created.pid, &exec, stdio).unwrap();
    let (stdout, stderr, finished) = drain(&out, &err, Duration::from_secs(30));
    assert!(finished);
    runtime::wait(pid).unwrap();
    assert_eq!(stdout, "0::/\ncgroup2\n2\n", "{stderr}");
    assert!(stderr.contains("Operation not permitted"), "the device program refuses the disk: {stderr}");

    created.signal(libc::SIGKILL).unwrap();
    created.wait().unwrap();
    runtime::cleanup(&spec).unwrap();
    assert!(!root.join(&env.parent).join(&spec.cgroup.name).exists());
    runtime::cgroups::remove_parent(&Hierarchy::v2(&root), &env.parent).unwrap();
    assert!(!root.join(&env.parent).exists());
}

/// `--init`: a host binary bind-mounted read-only at /sbin/docker-init and
/// put in front of the command.
fn init_binary() {
    let env = case();
    let init = env.dir.path().join("my-init");
    std::fs::write(&init, "#!/bin/sh\n[ \"$1\" = -- ] && shift\necho init-first\nexec \"$@\"\n").unwrap();
    std::fs::set_permissions(&init, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let mut spec = env.spec(&["sh", "-c", "echo $$; echo x >> /sbin/docker-init || echo read-only"]);
    spec.init = Some(init.clone());
    let out = run(&spec);
    assert_eq!(out.stdout, "init-first\n1\nread-only\n", "{out:?}");
    assert!(
        std::fs::read_to_string(&init).unwrap().ends_with("exec \"$@\"\n"),
        "the host binary is untouched"
    );
}

/// The warm-up writes this process into the cgroups it is already in (on
/// cgroup v1; there is nothing to warm on v2).
fn warming_the_migration_lock_moves_nothing() {
    let before = std::fs::read_to_string("/proc/self/cgroup").unwrap();
    let wrote = runtime::cgroups::warm_migration_lock().expect("warming the cgroup migration lock");
    assert_eq!(wrote, matches!(Hierarchy::detect().unwrap(), Hierarchy::V1 { .. }));
    assert_eq!(std::fs::read_to_string("/proc/self/cgroup").unwrap(), before);
}

fn cleanup_leaves_nothing() {
    let env = case();
    let spec = env.spec(&["sh", "-c", "sleep 1 & sleep 1 & echo started"]);
    let mut pid = None;
    let out = run_with(&spec, |c| pid = Some(c.pid));
    assert_eq!(out.stdout, "started\n");
    let pid = pid.unwrap();
    assert!(!alive(pid), "the init is gone");
    let h = env.hierarchy();
    runtime::cgroups::remove_parent(&h, &env.parent).unwrap();
    let leftovers: Vec<PathBuf> = match &h {
        Hierarchy::V1 { mounts } => {
            mounts.iter().map(|m| m.path.join(&env.parent)).filter(|p| p.exists()).collect()
        }
        Hierarchy::V2 { root } => [root.join(&env.parent)].into_iter().filter(|p| p.exists()).collect(),
    };
    assert!(leftovers.is_empty(), "{leftovers:?}");
    assert!(host_mounts_mentioning(env.dir.path().to_str().unwrap()).is_empty());
    // Nothing under any hierarchy named after this test either.
    let glob = Command::new("sh")
        .arg("-c")
        .arg(format!("ls -d /sys/fs/cgroup/*/{} 2>/dev/null", env.parent))
        .output()
        .unwrap();
    assert!(glob.stdout.is_empty(), "{}", String::from_utf8_lossy(&glob.stdout));
}

fn many_layers(strategy: u8) {
    runtime::force_overlay_strategy(strategy);
    let env = case();
    // Long paths, like berth's 64-hex-digit snapshot names: far more than a page.
    let layers: Vec<PathBuf> = (0..60)
        .map(|i| {
            let name = format!("{i:02}-{}", "f".repeat(62));
            env.layer(
                &name,
                &[(&format!("/layers/{i:02}"), &format!("{i}\n"), 0o644), ("/top", &format!("{i}\n"), 0o644)],
            )
        })
        .collect();
    let total: usize = layers.iter().map(|l| l.as_os_str().len() + 1).sum();
    assert!(total > 4096, "the lowerdir option alone is {total} bytes");
    let spec = env.spec_with_layers(&["sh", "-c", "ls /layers | wc -l; cat /top /layers/59"], &layers);
    assert_eq!(output_of(&spec), "60\n0\n59\n", "the first layer is the top one");
}

fn sixty_layers() {
    many_layers(0);
}

fn sixty_layers_fsconfig() {
    many_layers(2);
}

fn sixty_layers_symlinks() {
    many_layers(3);
}

fn tty() {
    use rustix::pty::{OpenptFlags, grantpt, openpt, ptsname, unlockpt};
    let env = case();
    let master = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC).unwrap();
    grantpt(&master).unwrap();
    unlockpt(&master).unwrap();
    let name = ptsname(&master, Vec::new()).unwrap();
    let slave = rustix::fs::open(
        name.as_c_str(),
        rustix::fs::OFlags::RDWR | rustix::fs::OFlags::NOCTTY | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )
    .unwrap();
    let spec = env.spec(&["sh", "-c", "test -t 0 && test -t 1 && echo isatty; test -c /dev/console && echo console; ps -o pid,tty | tail -1"]);
    let created = runtime::create(&spec, Stdio::Tty { pty_slave: slave }).unwrap();
    runtime::start(&created).unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 1024];
    // EIO once the last slave descriptor closes.
    while let Ok(n) = rustix::io::read(&master, &mut buf) {
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
    }
    assert_eq!(created.wait().unwrap(), ExitStatus::Exited(0));
    runtime::cleanup(&spec).unwrap();
    let text = String::from_utf8_lossy(&out).replace('\r', "");
    assert!(text.starts_with("isatty\nconsole\n"), "{text:?}");
    assert!(!text.trim_end().ends_with('?'), "the shell has a controlling terminal: {text:?}");
}

fn sysctls() {
    let env = case();
    let host_forward = std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap();
    let mut spec = env.spec(&["cat", "/proc/sys/net/ipv4/ip_forward", "/proc/sys/kernel/shmmni"]);
    let flipped = if host_forward.trim() == "1" { "0" } else { "1" };
    spec.sysctls =
        vec![("net.ipv4.ip_forward".into(), flipped.into()), ("kernel.shmmni".into(), "1234".into())];
    assert_eq!(output_of(&spec), format!("{flipped}\n1234\n"));
    assert_eq!(std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap(), host_forward);
    let mut spec = env.spec(&["true"]);
    spec.sysctls = vec![("kernel.panic".into(), "1".into())];
    let ((_o, _e), stdio) = pipes();
    let err = runtime::create(&spec, stdio).unwrap_err();
    assert!(matches!(err, RuntimeError::InvalidSpec(_)), "{err}");
    let mut spec = env.spec(&["true"]);
    spec.namespaces.net = Namespace::Host;
    spec.sysctls = vec![("net.ipv4.ip_forward".into(), "1".into())];
    let ((_o, _e), stdio) = pipes();
    assert!(runtime::create(&spec, stdio).is_err());
}

fn masked_and_readonly_paths() {
    let env = case();
    let script = "wc -c < /proc/interrupts; ls /sys/firmware | wc -l; echo x > /proc/sys/kernel/domainname; echo rc=$?; \
                  grep -c ' /sys ro,' /proc/self/mountinfo; grep -c ' /proc/sys ro,' /proc/self/mountinfo; \
                  cat /proc/self/cgroup > /dev/null && echo cgroup-ok";
    let out = run(&env.spec(&["sh", "-c", script]));
    assert_eq!(out.stdout, "0\n0\nrc=1\n1\n1\ncgroup-ok\n", "{out:?}");
    assert!(out.stderr.contains("Read-only file system"), "{out:?}");
    let mut spec = env.spec(&[
        "sh",
        "-c",
        "grep -c ' /sys rw,' /proc/self/mountinfo; head -c 1 /proc/interrupts | wc -c",
    ]);
    spec.privileged = true;
    assert_eq!(output_of(&spec), "1\n1\n", "privileged: nothing masked");
}

fn rlimits_oom_score_nnp_env_cwd() {
    let env = case();
    let mut spec = env.spec(&[
        "sh",
        "-c",
        "ulimit -n; ulimit -Hn; cat /proc/self/oom_score_adj; grep NoNewPrivs /proc/self/status; echo $FOO; pwd; umask",
    ]);
    spec.rlimits = vec![Rlimit { resource: "RLIMIT_NOFILE".into(), soft: 1024, hard: 2048 }];
    spec.oom_score_adj = Some(500);
    spec.no_new_privileges = true;
    spec.env.push("FOO=bar baz".into());
    spec.cwd = "/work/dir".into();
    assert_eq!(output_of(&spec), "1024\n2048\n500\nNoNewPrivs:\t1\nbar baz\n/work/dir\n0022\n");
}

fn network_namespace() {
    let env = case();
    assert_eq!(output_of(&env.spec(&["ls", "/sys/class/net"])), "lo\n");
    let mut spec = env.spec(&["readlink", "/proc/self/ns/net"]);
    spec.namespaces.net = Namespace::Host;
    let host = std::fs::read_link("/proc/self/ns/net").unwrap();
    assert_eq!(output_of(&spec).trim(), host.to_str().unwrap());
}

fn join_network_of_other_container() {
    let env = case();
    let first = env.spec(&["sleep", "30"]);
    let ((_o, _e), stdio) = pipes();
    let a = runtime::create(&first, stdio).unwrap();
    runtime::start(&a).unwrap();
    let ns_path = PathBuf::from(format!("/proc/{}/ns/net", a.pid.as_raw_nonzero()));
    let theirs = std::fs::read_link(&ns_path).unwrap();
    let mut second = env.spec(&["readlink", "/proc/self/ns/net"]);
    second.namespaces.net = Namespace::Join(ns_path);
    assert_eq!(output_of(&second).trim(), theirs.to_str().unwrap());
    // And a PID namespace: the second container becomes a process of the first.
    let mut third = env.spec(&["sh", "-c", "echo $$; cat /proc/1/comm"]);
    third.namespaces.pid = Namespace::Join(format!("/proc/{}/ns/pid", a.pid.as_raw_nonzero()).into());
    let out = output_of(&third);
    let lines: Vec<&str> = out.lines().collect();
    assert_ne!(lines[0], "1", "{out}");
    assert_eq!(lines[1], "sleep");
    a.signal(libc::SIGKILL).unwrap();
    a.wait().unwrap();
    runtime::cleanup(&first).unwrap();
}

fn devices_and_device_cgroup() {
    let env = case();
    let out = run(&env.spec(&[
        "sh",
        "-c",
        "ls /dev | sort | tr '\\n' ' '; echo; head -c 4 /dev/zero | wc -c; mknod /dev/sda b 8 0 && head -c 1 /dev/sda",
    ]));
    let mut lines = out.stdout.lines();
    let listing = lines.next().unwrap();
    for node in [
        "console", "core", "fd", "full", "mqueue", "null", "ptmx", "pts", "random", "shm", "stderr", "stdin",
        "stdout", "tty", "urandom", "zero",
    ] {
        if node == "console" || node == "core" {
            continue;
        }
        assert!(listing.split(' ').any(|n| n == node), "{node} in {listing}");
    }
    assert_eq!(lines.next(), Some("4"));
    assert!(
        out.stderr.contains("Operation not permitted"),
        "mknod works, opening the disk does not: {out:?}"
    );
    // An extra device, allowed in the device cgroup.
    let mut spec = env.spec(&["sh", "-c", "ls -l /dev/mynull; echo x > /dev/mynull && echo wrote"]);
    spec.devices.push(Device {
        path: "/dev/mynull".into(),
        kind: DeviceKind::Char,
        major: 1,
        minor: 3,
        mode: 0o620,
        uid: 0,
        gid: 5,
        permissions: "rw".into(),
    });
    let out = output_of(&spec);
    assert!(out.starts_with("crw--w----") && out.contains(" 1,   3 ") && out.ends_with("wrote\n"), "{out}");
}

fn privileged() {
    let env = case();
    let mut spec = env.spec(&[
        "sh",
        "-c",
        "grep CapEff /proc/self/status; grep Seccomp: /proc/self/status; exec 3<>/dev/net/tun && echo tun",
    ]);
    spec.privileged = true;
    let out = output_of(&spec);
    let mut lines = out.lines();
    let eff = u64::from_str_radix(lines.next().unwrap().rsplit('\t').next().unwrap(), 16).unwrap();
    assert_eq!(
        eff,
        CapSet::all_supported().intersection(CapSet::current()).bits(),
        "every capability we hold"
    );
    assert_eq!(lines.next(), Some("Seccomp:\t0"));
    if std::path::Path::new("/dev/net/tun").exists() {
        assert_eq!(lines.next(), Some("tun"), "host devices are usable");
    }
    let out = output_of(&env.spec(&["grep", "Seccomp:", "/proc/self/status"]));
    assert_eq!(out, "Seccomp:\t2\n", "the default is filtered");
}

fn start_twice_and_stdin() {
    let env = case();
    let spec = env.spec(&["sh", "-c", "read line; echo got:$line"]);
    let (in_r, in_w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).unwrap();
    let ((out, err), stdio) = pipes();
    let Stdio::Pipes { stdout, stderr, .. } = stdio else { unreachable!() };
    let created = runtime::create(&spec, Stdio::Pipes { stdin: Some(in_r), stdout, stderr }).unwrap();
    runtime::start(&created).unwrap();
    assert!(matches!(runtime::start(&created), Err(RuntimeError::State { .. })));
    rustix::io::write(&in_w, b"hello\n").unwrap();
    drop(in_w);
    let (stdout, _, finished) = drain(&out, &err, Duration::from_secs(30));
    assert!(finished);
    assert_eq!(stdout, "got:hello\n");
    created.wait().unwrap();
    runtime::cleanup(&spec).unwrap();
    let _ = out.as_fd();
}

/// An image whose `/proc`, `/sys` or `/dev` is a symlink (to `/`, say) must
/// not get procfs stacked where it chose, nor may any mount land on the
/// container's root through a symlink: either would put a writable,
/// unmasked procfs or a volume over the root that `exec` enters.
fn image_symlinks_cannot_redirect_mounts() {
    let env = case();
    for (system, target) in [("proc", "/"), ("proc", "/etc"), ("sys", "/etc"), ("dev", "/etc")] {
        let layer = env.dir.path().join(format!("layers/evil-{system}-{}", target.len()));
        std::fs::create_dir_all(&layer).unwrap();
        std::os::unix::fs::symlink(target, layer.join(system)).unwrap();
        let err = expect_create_error(&env.spec_with_layers(&["true"], &[layer])).to_string();
        let expected = if target == "/" {
            format!("/{system} resolves to the container's root")
        } else {
            format!("/{system} must be a directory in the image, not a symlink")
        };
        assert!(err.contains(&expected), "{system} -> {target}: {err}");
    }
    let layer = env.dir.path().join("layers/evil-volume");
    std::fs::create_dir_all(&layer).unwrap();
    std::os::unix::fs::symlink("/", layer.join("data")).unwrap();
    let mut spec = env.spec_with_layers(&["true"], &[layer]);
    let host = env.dir.path().join("volume");
    std::fs::create_dir_all(&host).unwrap();
    spec.mounts.push(runtime::Mount::bind(host.display().to_string(), "/data", false));
    let err = expect_create_error(&spec);
    assert!(err.to_string().contains("resolves to the container's root"), "{err}");
}
