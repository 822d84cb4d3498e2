//! A container's files through the real docker CLI: `docker cp` both ways
//! (running and stopped containers, `-a`, `-L`, `-`), `docker diff`,
//! `docker commit` and `docker export`, and that a container's symlinks
//! never let any of them reach the host's files.

mod harness;

use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::Stdio;

use harness::{Daemon, fails, ok, run};

/// The entries of a tar stream: (name, type flag, uid, gid, content).
fn tar_entries(bytes: &[u8]) -> Vec<(String, u8, u64, u64, Vec<u8>)> {
    let mut a = tar::Archive::new(bytes);
    a.entries()
        .expect("a tar stream")
        .map(|e| {
            let mut e = e.expect("a tar entry");
            let h = e.header().clone();
            let mut data = Vec::new();
            e.read_to_end(&mut data).expect("entry data");
            let name = String::from_utf8_lossy(&e.path_bytes()).into_owned();
            (name, h.entry_type().as_byte(), h.uid().unwrap(), h.gid().unwrap(), data)
        })
        .collect()
}

fn names(bytes: &[u8]) -> Vec<String> {
    tar_entries(bytes).into_iter().map(|e| e.0).collect()
}

/// Runs a command and returns its raw stdout (must succeed).
fn ok_bytes(cmd: &mut std::process::Command) -> Vec<u8> {
    let out = run(cmd);
    assert!(out.status.success(), "{cmd:?}: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

#[test]
fn cp_out_of_running_and_stopped_containers() {
    if !harness::require_root() {
        return;
    }
    let d = Daemon::start();
    let image = d.load_busybox();
    let work = d.dir.path().join("work");
    std::fs::create_dir(&work).unwrap();
    ok(d.docker().args([
        "run",
        "--name",
        "ctr",
        image,
        "sh",
        "-c",
        "echo hi > /made; mkdir -p /tmp/d/sub; echo one > /tmp/d/sub/one; ln -s /made /tmp/link",
    ]));
    let id = ok(d.docker().args(["inspect", "-f", "{{.Id}}", "ctr"])).trim().to_string();

    // A file, into a new local name: /etc/hostname is the container's own, stopped or not.
    ok(d.docker().arg("cp").arg("ctr:/etc/hostname").arg(work.join("x")));
    assert_eq!(std::fs::read_to_string(work.join("x")).unwrap(), format!("{}\n", &id[..12]));
    // A directory, recursively.
    ok(d.docker().arg("cp").arg("ctr:/tmp/d").arg(work.join("dd")));
    assert_eq!(std::fs::read_to_string(work.join("dd/sub/one")).unwrap(), "one\n");
    // Into an existing directory, and the contents of a directory with `/.`.
    ok(d.docker().arg("cp").arg("ctr:/made").arg(&work));
    assert_eq!(std::fs::read_to_string(work.join("made")).unwrap(), "hi\n");
    ok(d.docker().arg("cp").arg("ctr:/tmp/d/.").arg(work.join("flat")));
    assert!(work.join("flat/sub/one").is_file());
    // A symlink is copied as a symlink; with -L, what it points to.
    ok(d.docker().arg("cp").arg("ctr:/tmp/link").arg(work.join("l1")));
    assert_eq!(std::fs::read_link(work.join("l1")).unwrap(), Path::new("/made"));
    ok(d.docker().arg("cp").arg("-L").arg("ctr:/tmp/link").arg(work.join("l2")));
    assert_eq!(std::fs::read_to_string(work.join("l2")).unwrap(), "hi\n");
    // To stdout as a tar, entries named as the path's last element.
    let tar = ok_bytes(d.docker().args(["cp", "ctr:/made", "-"]));
    let e = tar_entries(&tar);
    assert_eq!(e.len(), 1, "{:?}", names(&tar));
    assert_eq!((e[0].0.as_str(), e[0].1, e[0].4.as_slice()), ("made", b'0', &b"hi\n"[..]));
    assert_eq!(names(&ok_bytes(d.docker().args(["cp", "ctr:/tmp/d", "-"]))), ["d/", "d/sub/", "d/sub/one"]);
    // A missing path: Docker's message, exit code 1.
    let (code, err) = fails(d.docker().arg("cp").arg("ctr:/nonexistent").arg(work.join("no")));
    assert_eq!(code, 1);
    assert!(
        err.contains("Error response from daemon: Could not find the file /nonexistent in container ctr"),
        "{err}"
    );
    assert!(!work.join("no").exists());

    // A running container: what it wrote, and its mounts (/etc/hostname).
    let r = ok(d.docker().args([
        "run",
        "-d",
        "--name",
        "run1",
        image,
        "sh",
        "-c",
        "echo live > /live; exec sleep 60",
    ]));
    let r = r.trim();
    for _ in 0..100 {
        if run(d.docker().args(["exec", "run1", "test", "-f", "/live"])).status.success() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    ok(d.docker().arg("cp").arg("run1:/live").arg(work.join("live")));
    assert_eq!(std::fs::read_to_string(work.join("live")).unwrap(), "live\n");
    ok(d.docker().arg("container").arg("cp").arg("run1:/etc/hostname").arg(work.join("rh")));
    assert_eq!(std::fs::read_to_string(work.join("rh")).unwrap(), format!("{}\n", &r[..12]));
    // Kernel file systems are not walked: /proc comes out as an empty directory.
    assert_eq!(names(&ok_bytes(d.docker().args(["cp", "run1:/proc", "-"]))), ["proc/"]);
    let (code, err) = fails(d.docker().arg("cp").arg("run1:/nope/x").arg(work.join("no")));
    assert_eq!(code, 1);
    assert!(err.contains("Could not find the file /nope/x in container run1"), "{err}");
    ok(d.docker().args(["rm", "-f", "run1"]));
}

#[test]
fn cp_into_running_and_stopped_containers() {
    if !harness::require_root() {
        return;
    }
    let d = Daemon::start();
    let image = d.load_busybox();
    let work = d.dir.path().join("work");
    std::fs::create_dir_all(work.join("updir/sub")).unwrap();
    std::fs::write(work.join("upload.txt"), "upload\n").unwrap();
    std::fs::write(work.join("updir/sub/a.txt"), "a\n").unwrap();
    std::os::unix::fs::chown(work.join("upload.txt"), Some(1234), Some(5678)).unwrap();

    ok(d.docker().args([
        "create",
        "--name",
        "stopped",
        image,
        "sh",
        "-c",
        "cat /tmp/upload.txt /tmp/renamed.txt /tmp/updir/sub/a.txt /etc/up/sub/a.txt",
    ]));
    ok(d.docker().arg("cp").arg(work.join("upload.txt")).arg("stopped:/tmp/"));
    ok(d.docker().arg("cp").arg(work.join("upload.txt")).arg("stopped:/tmp/renamed.txt"));
    ok(d.docker().arg("cp").arg(work.join("updir")).arg("stopped:/tmp/"));
    // A directory copied to a new name (in a directory of the image, /etc).
    ok(d.docker().arg("cp").arg(work.join("updir")).arg("stopped:/etc/up"));
    assert_eq!(ok(d.docker().args(["start", "-a", "stopped"])), "upload\nupload\na\na\n");

    let r = ok(d.docker().args(["run", "-d", "--name", "run1", image, "sleep", "60"]));
    assert!(!r.trim().is_empty());
    ok(d.docker().arg("cp").arg(work.join("upload.txt")).arg("run1:/root/"));
    ok(d.docker().arg("container").arg("cp").arg(work.join("updir/.")).arg("run1:/tmp/"));
    assert_eq!(
        ok(d.docker().args(["exec", "run1", "cat", "/root/upload.txt", "/tmp/sub/a.txt"])),
        "upload\na\n"
    );
    // -a keeps the numeric owner.
    ok(d.docker().arg("cp").arg("-a").arg(work.join("upload.txt")).arg("run1:/tmp/owned.txt"));
    assert_eq!(
        ok(d.docker().args(["exec", "run1", "stat", "-c", "%u:%g", "/tmp/owned.txt"])).trim(),
        "1234:5678"
    );
    // A tar on stdin, extracted into a directory.
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_ustar();
    h.set_size(6);
    h.set_mode(0o640);
    b.append_data(&mut h, "from-stdin", &b"stdin\n"[..]).unwrap();
    std::fs::write(work.join("in.tar"), b.into_inner().unwrap()).unwrap();
    let stdin = std::fs::File::open(work.join("in.tar")).unwrap();
    ok(d.docker().args(["cp", "-", "run1:/var"]).stdin(Stdio::from(stdin)));
    assert_eq!(ok(d.docker().args(["exec", "run1", "cat", "/var/from-stdin"])), "stdin\n");
    // Not a directory to extract into; a missing destination directory.
    let stdin = std::fs::File::open(work.join("in.tar")).unwrap();
    let (code, err) = fails(d.docker().args(["cp", "-", "run1:/root/upload.txt"]).stdin(Stdio::from(stdin)));
    assert_eq!(code, 1);
    assert!(err.contains("must be a directory"), "{err}");
    let (_, err) = fails(d.docker().arg("cp").arg(work.join("upload.txt")).arg("run1:/no/such/file"));
    assert!(err.contains("Could not find the file /no/such in container run1"), "{err}");
    let (_, err) = fails(d.docker().arg("cp").arg(work.join("upload.txt")).arg("run1:/no/such/dir/"));
    assert!(err.contains("no such directory"), "{err}");
    // A directory onto an existing file.
    let (_, err) = fails(d.docker().arg("cp").arg(work.join("updir")).arg("run1:/root/upload.txt"));
    assert!(err.contains("cannot copy directory"), "{err}");
    ok(d.docker().args(["rm", "-f", "run1"]));
    // A read-only root takes nothing, running or not.
    ok(d.docker().args(["run", "-d", "--read-only", "--name", "ro", image, "sleep", "60"]));
    let (code, err) = fails(d.docker().arg("cp").arg(work.join("upload.txt")).arg("ro:/tmp/"));
    assert_eq!(code, 1);
    assert!(err.contains("container rootfs is marked read-only"), "{err}");
    ok(d.docker().args(["rm", "-f", "ro"]));
}

#[test]
fn container_symlinks_never_reach_the_host() {
    if !harness::require_root() {
        return;
    }
    let d = Daemon::start();
    let image = d.load_busybox();
    let host = d.dir.path().join("host");
    std::fs::create_dir(&host).unwrap();
    let sentinel = host.join("sentinel");
    std::fs::write(&sentinel, "HOST SECRET\n").unwrap();
    let before = std::fs::metadata(&sentinel).unwrap();
    let work = d.dir.path().join("work");
    std::fs::create_dir(&work).unwrap();
    std::fs::write(work.join("payload"), "payload\n").unwrap();
    let hostdir = host.display().to_string();
    let script = format!(
        "ln -s / /root-link; ln -s ../../../../../../.. /dots; ln -s {s} /direct; ln -s {h} /hostdir; mkdir -p {h}",
        s = sentinel.display(),
        h = hostdir
    );
    ok(d.docker().args(["create", "--name", "evil", image, "sh", "-c", &format!("{script}; exec sleep 60")]));
    ok(d.docker().args(["start", "evil"]));
    for _ in 0..100 {
        if run(d.docker().args(["exec", "evil", "test", "-L", "/hostdir"])).status.success() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    for state in ["running", "stopped"] {
        if state == "stopped" {
            ok(d.docker().args(["kill", "evil"]));
            ok(d.docker().args(["wait", "evil"]));
        }
        // Reading through the links finds the container's files, not the
        // host's: none at first; once the container has its own (written
        // below while it ran), those.
        for src in [
            format!("evil:/root-link{}", sentinel.display()),
            format!("evil:/dots{}", sentinel.display()),
            format!("evil:{}", sentinel.display()),
            "evil:/hostdir/sentinel".to_string(),
        ] {
            for follow in [false, true] {
                let mut cmd = d.docker();
                cmd.arg("cp");
                if follow {
                    cmd.arg("-L");
                }
                let o = run(cmd.args([&src, "-"]));
                assert!(!String::from_utf8_lossy(&o.stdout).contains("HOST SECRET"), "{state} {src}");
                if state == "running" {
                    assert!(
                        !o.status.success(),
                        "{state} {src}: read {}",
                        String::from_utf8_lossy(&o.stdout)
                    );
                    assert!(
                        String::from_utf8_lossy(&o.stderr).contains("Could not find the file"),
                        "{state} {src}"
                    );
                } else {
                    assert!(o.status.success(), "{state} {src}: {}", String::from_utf8_lossy(&o.stderr));
                    assert_eq!(tar_entries(&o.stdout)[0].4, b"payload\n", "{state} {src}");
                }
            }
        }
        let o = run(d.docker().args(["cp", "-L", "evil:/direct", "-"]));
        assert!(!String::from_utf8_lossy(&o.stdout).contains("HOST SECRET"), "{state} -L");
        assert_eq!(o.status.success(), state == "stopped", "{state} -L");
        // The symlink itself comes out as a symlink.
        let e = tar_entries(&ok_bytes(d.docker().args(["cp", "evil:/direct", "-"])));
        assert_eq!((e[0].0.as_str(), e[0].1), ("direct", b'2'));
        // Writing through the links lands inside the container.
        for dst in [
            format!("evil:/root-link{hostdir}/"),
            format!("evil:/dots{hostdir}/"),
            "evil:/hostdir/".to_string(),
        ] {
            ok(d.docker().arg("cp").arg(work.join("payload")).arg(&dst));
        }
        ok(d.docker().arg("cp").arg(work.join("payload")).arg(format!("evil:/dots{}", sentinel.display())));
        // A hostile tar on stdin: a symlink to the host directory, then a file through it.
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_size(0);
        b.append_link(&mut h, "escape", &host).unwrap();
        let mut h = tar::Header::new_gnu();
        h.set_size(7);
        h.set_mode(0o644);
        b.append_data(&mut h, "escape/pwned", &b"pwned!\n"[..]).unwrap();
        std::fs::write(work.join("evil.tar"), b.into_inner().unwrap()).unwrap();
        let stdin = std::fs::File::open(work.join("evil.tar")).unwrap();
        ok(d.docker().args(["cp", "-", "evil:/tmp"]).stdin(Stdio::from(stdin)));
        // The host is untouched.
        assert_eq!(std::fs::read_to_string(&sentinel).unwrap(), "HOST SECRET\n", "{state}");
        let now = std::fs::metadata(&sentinel).unwrap();
        assert_eq!(
            (now.mtime(), now.mtime_nsec(), now.ino()),
            (before.mtime(), before.mtime_nsec(), before.ino())
        );
        let mut left: Vec<String> = std::fs::read_dir(&host)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left, ["sentinel"], "{state}: files appeared in the host directory");
    }
    // Everything written went into the container's own directory.
    let list = names(&ok_bytes(d.docker().args(["cp", &format!("evil:{hostdir}"), "-"])));
    assert!(list.contains(&"host/payload".to_string()), "{list:?}");
    assert!(list.contains(&"host/pwned".to_string()), "{list:?}");
    assert!(list.contains(&"host/sentinel".to_string()), "{list:?}");
    let e = tar_entries(&ok_bytes(d.docker().args(["cp", &format!("evil:{}", sentinel.display()), "-"])));
    assert_eq!(e[0].4, b"payload\n");
}

#[test]
fn diff_shows_added_changed_and_deleted_files() {
    if !harness::require_root() {
        return;
    }
    let d = Daemon::start();
    let image = d.load_busybox();
    // Nothing changed: nothing shown (not even the runtime's mount points,
    // or Docker's /.dockerenv, which every container has).
    ok(d.docker().args(["run", "--name", "idle", image, "test", "-f", "/.dockerenv"]));
    assert_eq!(ok(d.docker().args(["diff", "idle"])), "");
    ok(d.docker().args([
        "run",
        "--name",
        "ctr",
        image,
        "sh",
        "-c",
        "echo new > /tmp/added; echo x >> /etc/passwd; rm /bin/ls; mkdir -p /var/made/sub",
    ]));
    let diff = ok(d.docker().args(["diff", "ctr"]));
    assert_eq!(
        diff,
        "C /bin\nD /bin/ls\nC /etc\nC /etc/passwd\nC /tmp\nA /tmp/added\nC /var\nA /var/made\nA /var/made/sub\n"
    );
    assert_eq!(ok(d.docker().args(["container", "diff", "ctr"])), diff);
    assert_eq!(ok(d.berth().args(["diff", "ctr"])), diff);
    // A directory removed and made again hides the image's: Docker reports it deleted.
    ok(d.docker().args(["run", "--name", "base", image, "sh", "-c", "mkdir /data; echo a > /data/a"]));
    ok(d.docker().args(["commit", "base", "withdata"]));
    ok(d.docker().args([
        "run",
        "--name",
        "opq",
        "withdata",
        "sh",
        "-c",
        "rm -rf /data; mkdir /data; echo c > /data/c",
    ]));
    assert_eq!(ok(d.docker().args(["diff", "opq"])), "D /data\nA /data/c\n");
    let (code, err) = fails(d.docker().args(["diff", "nosuch"]));
    assert_eq!(code, 1);
    assert!(err.contains("No such container: nosuch"), "{err}");
}

#[test]
fn commit_makes_a_runnable_image_with_history() {
    if !harness::require_root() {
        return;
    }
    let d = Daemon::start();
    let image = d.load_busybox();
    ok(d.docker().args(["run", "--name", "ctr", image, "sh", "-c", "echo committed > /made; rm /bin/ls"]));
    let id = ok(d.docker().args([
        "commit",
        "-c",
        r#"CMD ["cat","/made"]"#,
        "-c",
        "ENV SNAP=1",
        "-m",
        "snapshot message",
        "-a",
        "Tester <t@example>",
        "ctr",
        "made:1",
    ]));
    let id = id.trim();
    assert!(id.starts_with("sha256:") && id.len() == 71, "{id}");
    assert_eq!(ok(d.docker().args(["run", "--rm", "made:1"])), "committed\n");
    assert_eq!(ok(d.docker().args(["run", "--rm", "made:1", "sh", "-c", "echo $SNAP"])), "1\n");
    // What the container deleted stays deleted.
    let o = run(d.docker().args(["run", "--rm", "made:1", "ls", "/"]));
    assert_eq!(o.status.code(), Some(127), "{}", String::from_utf8_lossy(&o.stderr));
    let history = ok(d.docker().args(["history", "--no-trunc", "made:1"]));
    assert!(history.contains("snapshot message"), "{history}");
    assert_eq!(history.lines().count(), 3, "{history}");
    let fields = ok(d.docker().args([
        "inspect",
        "-f",
        "{{.Id}}|{{.Author}}|{{.Comment}}|{{json .Config.Cmd}}|{{len .RootFS.Layers}}",
        "made:1",
    ]));
    assert_eq!(fields.trim(), format!(r#"{id}|Tester <t@example>|snapshot message|["cat","/made"]|2"#));
    let parent = ok(d.docker().args(["inspect", "-f", "{{.Parent}}", "made:1"]));
    assert_eq!(parent.trim(), ok(d.docker().args(["inspect", "-f", "{{.Id}}", image])).trim());

    // A running container, paused (the default) or not, keeps running.
    ok(d.docker().args(["run", "-d", "--name", "run1", image, "sh", "-c", "echo r > /r; exec sleep 60"]));
    for _ in 0..100 {
        if run(d.docker().args(["exec", "run1", "test", "-f", "/r"])).status.success() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    ok(d.docker().args(["commit", "run1", "running:1"]));
    ok(d.docker().args(["commit", "--pause=false", "run1", "running:2"]));
    assert_eq!(ok(d.docker().args(["inspect", "-f", "{{.State.Status}}", "run1"])).trim(), "running");
    // Paused and resumed as `docker pause` would, once (not with --pause=false).
    let actions = d.past_events(0, &["container=run1", "event=pause", "event=unpause"], "{{.Action}}");

    assert_eq!(actions, "pause\nunpause\n");
    assert_eq!(ok(d.docker().args(["exec", "run1", "echo", "alive"])), "alive\n");
    assert_eq!(ok(d.docker().args(["run", "--rm", "running:2", "cat", "/r"])), "r\n");
    // Nothing changed: no new layer, an empty_layer history entry.
    ok(d.docker().args(["create", "--name", "idle", image, "true"]));
    let empty = ok(d.docker().args(["commit", "idle"]));
    let layers = ok(d.docker().args(["inspect", "-f", "{{len .RootFS.Layers}}", empty.trim()]));
    assert_eq!(layers.trim(), "1");
    // Errors: a bad change, a missing container.
    let (code, err) = fails(d.docker().args(["commit", "-c", "RUN rm -rf /", "ctr", "bad:1"]));
    assert_eq!(code, 1);
    assert!(err.contains("RUN is not a valid change command"), "{err}");
    let (_, err) = fails(d.docker().args(["commit", "nosuch"]));
    assert!(err.contains("No such container: nosuch"), "{err}");
    // berth's own CLI.
    let bid = ok(d.berth().args(["commit", "-p=false", "-m", "from berth", "ctr", "viaberth"]));
    assert!(bid.trim().starts_with("sha256:"), "{bid}");
    assert!(ok(d.docker().args(["history", "viaberth"])).contains("from berth"));
    ok(d.docker().args(["rm", "-f", "run1"]));
}

#[test]
fn export_holds_the_container_files() {
    if !harness::require_root() {
        return;
    }
    let d = Daemon::start();
    let image = d.load_busybox();
    ok(d.docker().args([
        "run",
        "--name",
        "ctr",
        image,
        "sh",
        "-c",
        "echo exported > /created-here; rm /bin/ls",
    ]));
    let out = d.dir.path().join("c.tar");
    ok(d.docker().arg("export").arg("-o").arg(&out).arg("ctr"));
    let tar = std::fs::read(&out).unwrap();
    let e = tar_entries(&tar);
    let find = |n: &str| e.iter().find(|x| x.0 == n);
    assert_eq!(find("created-here").map(|x| x.4.as_slice()), Some(&b"exported\n"[..]));
    assert!(find("bin/busybox").is_some() || find("bin/sh").is_some());
    assert!(find("bin/ls").is_none(), "a deleted file was exported");
    assert!(find("etc/passwd").is_some());
    assert!(!e.iter().any(|x| x.0.starts_with('/') || x.0.starts_with("./")));
    // To stdout, and a running container (its mounts left out).
    let piped = ok_bytes(d.docker().args(["container", "export", "ctr"]));
    assert_eq!(names(&piped), names(&tar));
    ok(d.docker().args([
        "run",
        "-d",
        "--name",
        "run1",
        image,
        "sh",
        "-c",
        "echo live > /live; exec sleep 60",
    ]));
    for _ in 0..100 {
        if run(d.docker().args(["exec", "run1", "test", "-f", "/live"])).status.success() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let live = tar_entries(&ok_bytes(d.docker().args(["export", "run1"])));
    assert!(live.iter().any(|x| x.0 == "live" && x.4 == b"live\n"));
    // The mount points are there, empty: nothing of /proc or /sys.
    assert!(live.iter().any(|x| x.0 == "proc/"));
    assert!(!live.iter().any(|x| (x.0.starts_with("proc/") && x.0 != "proc/") || x.0.starts_with("sys/fs")));
    // The berth CLI writes the same archive.
    let b = d.dir.path().join("b.tar");
    ok(d.berth().arg("export").arg("-o").arg(&b).arg("ctr"));
    assert_eq!(names(&std::fs::read(&b).unwrap()), names(&tar));
    // Importing the export gives the container's file system back.
    ok(d.docker().arg("import").arg(&out).arg("imported:1"));
    assert_eq!(ok(d.docker().args(["run", "--rm", "imported:1", "cat", "/created-here"])), "exported\n");
    ok(d.docker().args(["rm", "-f", "run1"]));
}

#[test]
fn berth_cp_both_ways() {
    if !harness::require_root() {
        return;
    }
    let d = Daemon::start();
    let image = d.load_busybox();
    let work = d.dir.path().join("work");
    std::fs::create_dir_all(work.join("dir/sub")).unwrap();
    std::fs::write(work.join("dir/sub/f"), "f\n").unwrap();
    ok(d.docker().args(["run", "-d", "--name", "run1", image, "sleep", "60"]));
    ok(d.berth().arg("cp").arg(work.join("dir")).arg("run1:/tmp/copied"));
    assert_eq!(ok(d.docker().args(["exec", "run1", "cat", "/tmp/copied/sub/f"])), "f\n");
    ok(d.berth().arg("container").arg("cp").arg("run1:/tmp/copied").arg(work.join("back")));
    assert_eq!(std::fs::read_to_string(work.join("back/sub/f")).unwrap(), "f\n");
    let tar = ok_bytes(d.berth().args(["cp", "run1:/tmp/copied/sub/f", "-"]));
    assert_eq!(names(&tar), ["f"]);
    let (code, err) = fails(d.berth().arg("cp").arg("run1:/missing").arg(work.join("m")));
    assert_eq!(code, 1);
    assert!(err.contains("Could not find the file /missing in container run1"), "{err}");
    let (_, err) = fails(d.berth().args(["cp", "run1:/a", "run1:/b"]));
    assert!(err.contains("copying between containers is not supported"), "{err}");
    ok(d.docker().args(["rm", "-f", "run1"]));
}

#[test]
fn sizes_of_the_writable_layer_in_ps_and_inspect() {
    if !harness::require_root() {
        return;
    }
    let d = Daemon::start();
    let image = d.load_busybox();
    let image_size: i64 =
        ok(d.docker().args(["image", "inspect", "-f", "{{.Size}}", image])).trim().parse().unwrap();
    ok(d.docker().args([
        "run",
        "-d",
        "--name",
        "sized",
        image,
        "sh",
        "-c",
        "head -c 100000 /dev/zero > /big; ln /big /big2; touch /ready; sleep 100",
    ]));
    assert!(harness::eventually(10, || d
        .docker()
        .args(["exec", "sized", "test", "-e", "/ready"])
        .status()
        .unwrap()
        .success()));
    // The hard link counts once.
    let sizes = ok(d.docker().args(["inspect", "-s", "-f", "{{.SizeRw}} {{.SizeRootFs}}", "sized"]));
    assert_eq!(sizes, format!("100000 {}\n", 100000 + image_size));
    let ps = ok(d.docker().args(["ps", "-s", "--format", "{{.Size}}"]));
    assert!(ps.starts_with("100kB (virtual 4."), "{ps}");
    // system df counts the container, its layer, and its image as in use;
    // the berth CLI prints what the docker CLI prints.
    ok(d.docker().args(["create", "--name", "idle", image, "true"]));
    let df = ok(d.docker().args(["system", "df"]));
    let containers = df.lines().find(|l| l.starts_with("Containers")).unwrap();
    assert_eq!(
        containers.split_whitespace().collect::<Vec<_>>(),
        ["Containers", "2", "1", "100kB", "0B", "(0%)"]
    );
    let images = df.lines().find(|l| l.starts_with("Images")).unwrap();
    assert_eq!(images.split_whitespace().nth(2), Some("1"), "{df}");
    assert_eq!(ok(d.berth().args(["system", "df"])), df);
    assert_eq!(
        ok(d.berth().args(["ps", "-s", "--format", "{{.Names}} {{.Size}}"])),
        ok(d.docker().args(["ps", "-s", "--format", "{{.Names}} {{.Size}}"]))
    );
    ok(d.docker().args(["rm", "-f", "sized", "idle"]));
}

/// A copy into a stopped container and its start, at the same time: the
/// copy lands whichever comes first (it never mounts the layer the
/// starting container is mounting).
#[test]
fn cp_racing_start_always_lands() {
    if !harness::require_root() {
        return;
    }
    let d = Daemon::start();
    let image = d.load_busybox();
    let src = tempfile::tempdir().unwrap();
    std::fs::write(src.path().join("payload"), "raced\n").unwrap();
    let payload = src.path().join("payload").display().to_string();
    for i in 0..8 {
        let name = format!("race{i}");
        ok(d.docker().args(["create", "--name", &name, image, "sleep", "100"]));
        let mut cp = d.docker().args(["cp", &payload, &format!("{name}:/payload")]).spawn().unwrap();
        let mut start = d.docker().args(["start", &name]).stdout(Stdio::null()).spawn().unwrap();
        assert!(cp.wait().unwrap().success());
        assert!(start.wait().unwrap().success());
        assert_eq!(ok(d.docker().args(["exec", &name, "cat", "/payload"])), "raced\n");
        ok(d.docker().args(["rm", "-f", &name]));
    }
}

/// A stopped container's binds are what `cp` sees at their destinations,
/// as Docker mounts them for copies: the host's files, not the image's
/// directory underneath.
#[test]
fn cp_with_a_stopped_container_goes_through_its_binds() {
    if !harness::require_root() {
        return;
    }
    let d = Daemon::start();
    let image = d.load_busybox();
    let host = tempfile::tempdir().unwrap();
    let data = host.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::write(data.join("in.txt"), "from the host\n").unwrap();
    std::fs::write(host.path().join("app.conf"), "setting=1\n").unwrap();
    // Bound through a symlink on the host, as /etc/localtime usually is.
    std::os::unix::fs::symlink(host.path().join("app.conf"), host.path().join("app-link.conf")).unwrap();
    std::os::unix::fs::symlink("in.txt", data.join("link")).unwrap();
    ok(d.docker().args([
        "create",
        "--name",
        "binds",
        "-v",
        &format!("{}:/newdir", data.display()),
        "-v",
        &format!("{}:/etc/app.conf:ro", host.path().join("app-link.conf").display()),
        "-v",
        &format!("{}:/frozen:ro", data.display()),
        image,
        "true",
    ]));
    let out = tempfile::tempdir().unwrap();
    let out_dir = out.path().display().to_string();
    // Never started: /newdir exists only as the bind.
    ok(d.docker().args(["cp", "binds:/newdir/in.txt", &out_dir]));
    assert_eq!(std::fs::read_to_string(out.path().join("in.txt")).unwrap(), "from the host\n");
    ok(d.docker().args(["cp", "binds:/etc/app.conf", &out_dir]));
    assert_eq!(std::fs::read_to_string(out.path().join("app.conf")).unwrap(), "setting=1\n");
    assert!(!out.path().join("app.conf").is_symlink());
    // A symlink inside the bind, followed with -L to its target in the bind.
    ok(d.docker().args(["cp", "-L", "binds:/newdir/link", &out_dir]));
    assert_eq!(std::fs::read_to_string(out.path().join("link")).unwrap(), "from the host\n");
    std::fs::write(out.path().join("new.txt"), "into the bind\n").unwrap();
    ok(d.docker().args(["cp", &out.path().join("new.txt").display().to_string(), "binds:/newdir/"]));
    assert_eq!(std::fs::read_to_string(data.join("new.txt")).unwrap(), "into the bind\n");
    let (_, err) =
        fails(d.docker().args(["cp", &out.path().join("new.txt").display().to_string(), "binds:/frozen/"]));
    assert!(err.contains("mounted volume is marked read-only"), "{err}");
    // Through a symlink in the container's own files that leads into a bind.
    std::os::unix::fs::symlink("/newdir", out.path().join("tolink")).unwrap();
    ok(d.docker().args(["cp", &out.path().join("tolink").display().to_string(), "binds:/tolink"]));
    let via = tempfile::tempdir().unwrap();
    ok(d.docker().args(["cp", "binds:/tolink/in.txt", &via.path().display().to_string()]));
    assert_eq!(std::fs::read_to_string(via.path().join("in.txt")).unwrap(), "from the host\n");
    std::fs::write(out.path().join("via.txt"), "through the link\n").unwrap();
    ok(d.docker().args(["cp", &out.path().join("via.txt").display().to_string(), "binds:/tolink/"]));
    assert_eq!(std::fs::read_to_string(data.join("via.txt")).unwrap(), "through the link\n");
    // Run, the container sees what was copied.
    assert_eq!(ok(d.docker().args(["start", "-a", "binds"])), "");
    ok(d.docker().args(["rm", "binds"]));
}
