//! Container records through the docker CLI: create, ps, inspect, rename,
//! rm, and the image rules that containers impose.

mod harness;

use harness::{Daemon, fails, lines, ok};
use serde_json::Value;

#[test]
fn create_ps_inspect_rename_rm() {
    let d = Daemon::start();
    let image = d.load_busybox();
    let id = ok(d.docker().args([
        "create", "--name", "web1", "-e", "A=1", "-l", "team=x", "-m", "64m", image, "echo", "hello",
    ]));
    let id = id.trim();
    assert_eq!(id.len(), 64);
    let (code, err) = fails(d.docker().args(["create", "--name", "web1", image]));
    assert_eq!(code, 1);
    assert!(
        err.contains(&format!(
            "Conflict. The container name \"/web1\" is already in use by container \"{id}\""
        )),
        "{err}"
    );
    let (_, err) = fails(d.docker().args(["create", "--name", "bad name!", image]));
    assert!(
        err.contains("Invalid container name (bad name!), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"),
        "{err}"
    );
    let (_, err) = fails(d.docker().args(["create", "-m", "1k", image]));
    assert!(err.contains("Minimum memory limit allowed is 6MB"), "{err}");
    let (_, err) = fails(d.docker().args(["create", "--stop-signal", "BOGUS", image]));
    assert!(err.contains("Invalid signal: BOGUS"), "{err}");
    // systemd images stop with a real-time signal.
    let rt = ok(d.docker().args(["create", "--stop-signal", "SIGRTMIN+3", image]));
    ok(d.docker().args(["rm", rt.trim()]));
    let (_, err) = fails(d.docker().args(["create", "--device", "/dev/nosuch", image]));
    assert!(
        err.contains("error gathering device information while adding custom device \"/dev/nosuch\": no such file or directory"),
        "{err}"
    );
    // The CLI tries to pull a missing image, and berth says it cannot yet.
    let (_, err) = fails(d.docker().args(["create", "nosuch:1"]));
    assert!(
        err.contains("Unable to find image 'nosuch:1' locally") && err.contains("pull access denied"),
        "{err}"
    );
    ok(d.berth().args(["create", image, "sh", "-c", "echo a b; sleep 1"]));

    // `ps` shows running containers only; `-a` all, newest first.
    assert_eq!(lines(&ok(d.docker().arg("ps"))).len(), 1, "header only");
    let all = ok(d.docker().args(["ps", "-a", "--format", "{{.Names}}|{{.Status}}|{{.Command}}|{{.Image}}"]));
    let rows = lines(&all);
    assert_eq!(rows.len(), 2, "{all}");
    assert!(rows[0].ends_with("|Created|\"sh -c 'echo a b; sl…\"|busybox:1.38.0-glibc"), "{all}");
    assert_eq!(rows[1], "web1|Created|\"echo hello\"|busybox:1.38.0-glibc");
    // `-l` and `-n` count stopped containers too.
    assert_eq!(
        lines(&ok(d.docker().args(["ps", "-l", "--format", "{{.Names}}"]))),
        [rows[0].split('|').next().unwrap()]
    );
    assert_eq!(lines(&ok(d.docker().args(["ps", "-n", "2", "-q"]))).len(), 2);
    let filtered = ok(d.docker().args(["ps", "-a", "-q", "--filter", "label=team=x"]));
    assert_eq!(filtered.trim(), &id[..12]);
    let by_status = ok(d.docker().args(["ps", "-q", "--filter", "status=created"]));
    assert_eq!(lines(&by_status).len(), 2);

    let v: Value = serde_json::from_str(&ok(d.docker().args(["inspect", "web1"]))).unwrap();
    let c = &v[0];
    assert_eq!(c["Id"], id);
    assert_eq!(c["Name"], "/web1");
    assert_eq!(c["State"]["Status"], "created");
    assert_eq!(c["Path"], "echo");
    assert_eq!(c["Args"][0], "hello");
    assert_eq!(
        c["Config"]["Env"],
        serde_json::json!(["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "A=1"])
    );
    assert_eq!(c["Config"]["Hostname"], &id[..12]);
    // Docker leaves these out when unset (templates print `<no value>`).
    for unset in ["StopSignal", "StopTimeout", "Healthcheck", "ExposedPorts"] {
        assert!(c["Config"].get(unset).is_none(), "{unset}: {}", c["Config"]);
    }
    assert_eq!(c["HostConfig"]["Memory"], 64 << 20);
    assert_eq!(c["HostConfig"]["LogConfig"]["Type"], "json-file");
    let fmt = ok(d.docker().args([
        "container",
        "inspect",
        "-f",
        "{{.State.Status}} {{.Config.Labels.team}}",
        &id[..6],
    ]));
    assert_eq!(fmt.trim(), "created x");

    let (_, err) = fails(d.docker().args(["rename", "web1", "web1"]));
    assert!(err.contains("Renaming a container with the same name as its current name"), "{err}");
    let (_, err) = fails(d.docker().args(["rename", "nosuch", "bad name!"]));
    assert!(err.contains("No such container: nosuch"), "{err}");
    ok(d.docker().args(["rename", "web1", "web2"]));
    let (_, err) = fails(d.docker().args(["inspect", "--type", "container", "web1"]));
    assert!(err.contains("No such container: web1"), "{err}");

    // An image in use by a container keeps its layers: deleting it conflicts,
    // and prune leaves it alone.
    let (_, err) = fails(d.docker().args(["rmi", image]));
    assert!(err.contains("conflict: unable to remove repository reference \"busybox:1.38.0-glibc\" (must force) - container"), "{err}");
    let (_, err) = fails(d.docker().args(["rmi", "c6348fa86ba0"]));
    assert!(err.contains("conflict: unable to delete c6348fa86ba0 (must be forced) - image is being used by stopped container"), "{err}");
    ok(d.docker().args(["image", "prune", "-a", "-f"]));
    assert_eq!(lines(&ok(d.docker().args(["images", "-q"]))).len(), 1);

    assert_eq!(ok(d.docker().args(["rm", "web2"])).trim(), "web2");
    let rest = ok(d.docker().args(["ps", "-aq"]));
    ok(d.docker().arg("rm").args(lines(&rest)));
    assert!(ok(d.docker().args(["ps", "-aq"])).trim().is_empty());
    assert_eq!(
        std::fs::read_dir(d.root.join("containers")).unwrap().count(),
        0,
        "container directories removed"
    );
    let (_, err) = fails(d.docker().args(["rm", "web2"]));
    assert!(err.contains("No such container: web2"), "{err}");
    // The records survive a daemon restart.
    ok(d.docker().args(["create", "--name", "keep", image]));
    let mut d = d;
    d.restart();
    assert_eq!(ok(d.docker().args(["ps", "-a", "--format", "{{.Names}}"])).trim(), "keep");
    // COMMAND as Docker writes it: arguments with a space quoted, nothing escaped.
    ok(d.docker().args([
        "create",
        "--name",
        "quoted",
        image,
        "echo",
        "$HOME",
        "a;b",
        "it's",
        "two words",
        "",
    ]));
    let cmd = ok(d.docker().args([
        "ps",
        "-a",
        "--no-trunc",
        "--filter",
        "name=quoted",
        "--format",
        "{{.Command}}",
    ]));
    assert_eq!(cmd.trim_end_matches('\n'), "\"echo $HOME a;b it's 'two words' \"");
    ok(d.docker().args(["rmi", image]).arg("-f"));
}

#[test]
fn bad_create_bodies_are_a_400() {
    let d = Daemon::start();
    use std::io::{Read, Write};
    for body in ["not json", "", "{\"HostConfig\": 5}"] {
        let mut s = std::os::unix::net::UnixStream::connect(&d.socket).unwrap();
        write!(s, "POST /v1.50/containers/create HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len()).unwrap();
        let mut resp = String::new();
        s.read_to_string(&mut resp).unwrap();
        assert!(resp.starts_with("HTTP/1.1 400"), "{body:?}: {resp}");
        assert!(resp.contains("{\"message\":"), "{resp}");
    }
}
