//! Image commands through the real `docker` CLI and through `berth`, against
//! a private `berth daemon`.

mod harness;

use std::io::Read;

use harness::{ALPINE_ROOTFS, BUSYBOX_OCI, Daemon, fails, fixture, lines, ok};
use serde_json::Value;
use sha2::Digest;

const BUSYBOX_CONFIG: &str = "sha256:c6348fa86ba0fb2108c9334f5fe913ddc6d853313e655891f133a0127c30099f";
const BUSYBOX_MANIFEST: &str = "sha256:1cfa4e2b09e127b9c4ed43578d3f3c18e7d44ea47b9ea98475c0cbe9086525f8";
const BUSYBOX_LAYER: &str = "sha256:b05093807bb0294152bb9cf86d64da722732dddaf7f8882fa1f120477dbc4db3";

fn inspect(d: &Daemon, name: &str) -> Value {
    let out = ok(d.docker().args(["image", "inspect", name]));
    serde_json::from_str::<Value>(&out).unwrap()[0].clone()
}

/// The image ID Docker computes for a loaded image is the config blob's
/// digest; compute it from the fixture's own bytes and compare.
#[test]
fn oci_layout_loads_with_the_published_digests() {
    let d = Daemon::start();
    let out = ok(d.docker().arg("load").arg("-i").arg(fixture(BUSYBOX_OCI)));
    assert_eq!(out.trim(), "Loaded image: busybox:1.38.0-glibc");

    let mut archive = tar::Archive::new(std::fs::File::open(fixture(BUSYBOX_OCI)).unwrap());
    let mut config_digest = None;
    for e in archive.entries().unwrap() {
        let mut e = e.unwrap();
        let path = e.path().unwrap().to_string_lossy().to_string();
        if path.ends_with(&BUSYBOX_CONFIG[7..]) {
            let mut bytes = Vec::new();
            e.read_to_end(&mut bytes).unwrap();
            config_digest = Some(format!("sha256:{}", hex::encode(sha2::Sha256::digest(&bytes))));
        }
    }
    let img = inspect(&d, "busybox:1.38.0-glibc");
    assert_eq!(img["Id"], config_digest.unwrap().as_str());
    assert_eq!(img["Id"], BUSYBOX_CONFIG);
    assert_eq!(img["RepoDigests"][0], format!("busybox@{BUSYBOX_MANIFEST}").as_str());
    assert!(
        d.root.join("content/blobs/sha256").join(&BUSYBOX_LAYER[7..]).is_file(),
        "compressed layer blob kept"
    );
    assert_eq!(img["Os"], "linux");
    assert_eq!(img["Config"]["Cmd"][0], "sh");
    // Short IDs, prefixes and the full ID all resolve.
    assert_eq!(inspect(&d, &BUSYBOX_CONFIG[7..19])["Id"], BUSYBOX_CONFIG);
    assert_eq!(inspect(&d, BUSYBOX_CONFIG)["Id"], BUSYBOX_CONFIG);
    // Loading again is a no-op that still reports the image.
    let again = ok(d.berth().arg("load").arg("-i").arg(fixture(BUSYBOX_OCI)));
    assert_eq!(again.trim(), "Loaded image: busybox:1.38.0-glibc");
    assert!(d.staging_leftovers().is_empty());
}

/// `import` accepts a root filesystem in every compression; the layer is the
/// same tar in each, so every image has the same diff ID.
#[test]
fn import_accepts_every_compression() {
    let d = Daemon::start();
    let tmp = tempfile::tempdir().unwrap();
    let mut plain = Vec::new();
    flate2::read::GzDecoder::new(std::fs::File::open(fixture(ALPINE_ROOTFS)).unwrap())
        .read_to_end(&mut plain)
        .unwrap();
    let write = |name: &str, bytes: Vec<u8>| {
        let p = tmp.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    };
    let mut bz = Vec::new();
    bzip2::read::BzEncoder::new(&plain[..], bzip2::Compression::fast()).read_to_end(&mut bz).unwrap();
    let mut xz = Vec::new();
    liblzma::read::XzEncoder::new(&plain[..], 1).read_to_end(&mut xz).unwrap();
    let files = [
        ("gzip", fixture(ALPINE_ROOTFS)),
        ("plain", write("rootfs.tar", plain.clone())),
        ("zstd", write("rootfs.tar.zst", zstd::encode_all(&plain[..], 3).unwrap())),
        ("bzip2", write("rootfs.tar.bz2", bz)),
        ("xz", write("rootfs.tar.xz", xz)),
    ];
    let diff_id = format!("sha256:{}", hex::encode(sha2::Sha256::digest(&plain)));
    for (kind, path) in &files {
        let id = ok(d.docker().arg("import").arg(path).arg(format!("alpine:{kind}")));
        assert!(id.trim().starts_with("sha256:"), "{kind}: {id}");
        let img = inspect(&d, &format!("alpine:{kind}"));
        assert_eq!(img["RootFS"]["Layers"][0], diff_id.as_str(), "{kind}");
        assert_eq!(img["Id"], id.trim(), "{kind}");
    }
    // stdin, with changes and a message, through the berth CLI.
    let out = ok(d
        .berth()
        .args([
            "import",
            "-c",
            "CMD [\"/bin/sh\"]",
            "-c",
            "ENV FOO=bar",
            "-c",
            "LABEL stage=wire",
            "-m",
            "from stdin",
            "-",
            "alpine:stdin",
        ])
        .stdin(std::fs::File::open(fixture(ALPINE_ROOTFS)).unwrap()));
    let out = out.trim();
    let img = inspect(&d, "alpine:stdin");
    assert_eq!(img["Id"], out);
    assert_eq!(img["Config"]["Cmd"], serde_json::json!(["/bin/sh"]));
    assert_eq!(img["Config"]["Env"], serde_json::json!(["FOO=bar"]));
    assert_eq!(img["Config"]["Labels"]["stage"], "wire");
    assert_eq!(img["Comment"], "from stdin");
    let (_, err) = fails(d.docker().args(["import", "-c", "RUN true"]).arg(fixture(ALPINE_ROOTFS)));
    assert!(err.contains("RUN is not a valid change command"), "{err}");
    // A busybox binary in the extracted layer proves the files are really there.
    let layer_dir = img["GraphDriver"]["Data"]["LowerDir"].as_str().unwrap().to_string();
    assert!(std::path::Path::new(&layer_dir).join("bin/busybox").is_file());
}

#[test]
fn images_lists_filters_and_formats_like_docker() {
    let d = Daemon::start();
    d.load_busybox();
    ok(d.docker().args(["import", "-c", "LABEL stage=one"]).arg(fixture(ALPINE_ROOTFS)).arg("alpine:one"));
    std::thread::sleep(std::time::Duration::from_millis(1100));
    ok(d.docker().args(["import", "-c", "LABEL stage=two"]).arg(fixture(ALPINE_ROOTFS)).arg("alpine:two"));

    let table = ok(d.docker().arg("images"));
    let rows = lines(&table);
    assert_eq!(
        rows[0].split_whitespace().collect::<Vec<_>>(),
        ["REPOSITORY", "TAG", "IMAGE", "ID", "CREATED", "SIZE"]
    );
    assert_eq!(rows.len(), 4, "{table}");
    assert!(rows[1].starts_with("alpine ") && rows[1].contains("two"), "newest first: {table}");
    assert!(table.contains("4.45MB"), "{table}");

    let names = ok(d.docker().args(["images", "--format", "{{.Repository}}:{{.Tag}}"]));
    assert_eq!(lines(&names), ["alpine:two", "alpine:one", "busybox:1.38.0-glibc"]);
    let json = ok(d.docker().args(["images", "--format", "{{json .}}", "busybox"]));
    let v: Value = serde_json::from_str(lines(&json)[0]).unwrap();
    assert_eq!(v["ID"], &BUSYBOX_CONFIG[7..19]);
    assert_eq!(v["Tag"], "1.38.0-glibc");

    let labelled = ok(d.docker().args(["images", "-q", "--filter", "label=stage=one"]));
    assert_eq!(lines(&labelled).len(), 1);
    assert_eq!(lines(&labelled)[0], inspect(&d, "alpine:one")["Id"].as_str().unwrap()[7..19].to_string());
    let since = ok(d.docker().args(["images", "--format", "{{.Tag}}", "--filter", "since=alpine:one"]));
    assert_eq!(lines(&since), ["two"]);
    let before = ok(d.docker().args(["images", "--format", "{{.Tag}}", "--filter", "before=alpine:two"]));
    assert_eq!(lines(&before), ["one", "1.38.0-glibc"]);
    let by_ref = ok(d.docker().args(["images", "--format", "{{.Tag}}", "--filter", "reference=alp*:o*"]));
    assert_eq!(lines(&by_ref), ["one"]);
    // An image with two names shows only those the filter matched, as Docker.
    ok(d.docker().args(["tag", "busybox:1.38.0-glibc", "other/box:x"]));
    let by_repo = ok(d.docker().args(["images", "--format", "{{.Repository}}:{{.Tag}}", "busybox"]));
    assert_eq!(lines(&by_repo), ["busybox:1.38.0-glibc"]);
    ok(d.docker().args(["rmi", "other/box:x"]));

    // Re-importing to a tag leaves the old image dangling.
    ok(d.docker().arg("import").arg(fixture(ALPINE_ROOTFS)).arg("alpine:two"));
    let dangling = ok(d.docker().args([
        "images",
        "--filter",
        "dangling=true",
        "--format",
        "{{.Repository}}:{{.Tag}} {{.ID}}",
    ]));
    assert_eq!(lines(&dangling).len(), 1, "{dangling}");
    assert!(dangling.starts_with("<none>:<none>"));
    let full = ok(d.berth().args(["images", "--no-trunc", "-q", "busybox"]));
    assert_eq!(full.trim(), BUSYBOX_CONFIG);
    let (code, err) = fails(d.docker().args(["images", "--filter", "bogus=1"]));
    assert_eq!(code, 1);
    assert!(err.contains("invalid filter 'bogus'"), "{err}");
}

#[test]
fn tag_and_rmi_follow_dockers_untag_and_delete_rules() {
    let d = Daemon::start();
    d.load_busybox();
    ok(d.docker().args(["tag", "busybox:1.38.0-glibc", "mybox:v1"]));
    ok(d.berth().args(["tag", "mybox:v1", "localhost:5000/team/box:v2"]));
    let tags = inspect(&d, BUSYBOX_CONFIG)["RepoTags"].clone();
    assert_eq!(tags, serde_json::json!(["busybox:1.38.0-glibc", "localhost:5000/team/box:v2", "mybox:v1"]));

    // By ID with several tags: a conflict unless forced.
    let (code, err) = fails(d.docker().args(["rmi", &BUSYBOX_CONFIG[7..19]]));
    assert_eq!(code, 1);
    assert!(err.contains("conflict: unable to delete c6348fa86ba0 (must be forced) - image is referenced in multiple repositories"), "{err}");
    // By tag: only untags while others remain.
    assert_eq!(ok(d.docker().args(["rmi", "mybox:v1"])).trim(), "Untagged: mybox:v1");
    assert_eq!(
        ok(d.docker().args(["rmi", "localhost:5000/team/box:v2"])).trim(),
        "Untagged: localhost:5000/team/box:v2"
    );
    // The last tag deletes the image and its layer.
    let out = ok(d.docker().args(["rmi", "busybox:1.38.0-glibc"]));
    assert!(out.contains("Untagged: busybox:1.38.0-glibc"), "{out}");
    assert!(out.contains(&format!("Deleted: {BUSYBOX_CONFIG}")), "{out}");
    assert!(ok(d.docker().args(["images", "-qa"])).trim().is_empty());
    assert_eq!(std::fs::read_dir(d.root.join("snapshots")).unwrap().count(), 0, "snapshot removed");
    assert_eq!(std::fs::read_dir(d.root.join("content/blobs/sha256")).unwrap().count(), 0, "blobs removed");
    let (code, err) = fails(d.docker().args(["rmi", "nosuch:latest"]));
    assert_eq!(code, 1);
    assert!(err.contains("No such image: nosuch:latest"), "{err}");

    // Forced deletion by ID removes every tag at once.
    d.load_busybox();
    ok(d.docker().args(["tag", "busybox:1.38.0-glibc", "other:1"]));
    let out = ok(d.docker().args(["rmi", "-f", &BUSYBOX_CONFIG[7..19]]));
    assert!(out.contains("Untagged: other:1") && out.contains("Untagged: busybox:1.38.0-glibc"), "{out}");
    let (code, err) = fails(d.docker().args(["tag", "nosuch", "x:y"]));
    assert_eq!(code, 1);
    assert!(err.contains("No such image: nosuch:latest"), "{err}");
}

#[test]
fn prune_removes_dangling_then_all_unused() {
    let d = Daemon::start();
    d.load_busybox();
    let first = d.import_alpine("alpine:x");
    let second = d.import_alpine("alpine:x");
    assert_ne!(first, second);
    let out = ok(d.docker().args(["image", "prune", "-f"]));
    assert!(out.contains(&format!("deleted: {first}")), "{out}");
    assert!(out.contains("Total reclaimed space:"), "{out}");
    assert_eq!(lines(&ok(d.docker().args(["images", "-q"]))).len(), 2);
    let out = ok(d.docker().args(["image", "prune", "-a", "-f", "--filter", "label=nothing"]));
    assert!(!out.contains("deleted"), "label filter keeps everything: {out}");
    let out = ok(d.berth().args(["image", "prune", "-a", "-f"]));
    assert!(out.contains("untagged: busybox:1.38.0-glibc"), "{out}");
    assert!(ok(d.docker().args(["images", "-qa"])).trim().is_empty());
}

/// save → rmi → load gives the same image IDs, through both CLIs; the saved
/// tarball is a docker-archive skopeo reads.
#[test]
fn save_and_load_round_trip_keeps_image_ids() {
    let d = Daemon::start();
    d.load_busybox();
    let alpine = d.import_alpine("alpine:3.20");
    let tmp = tempfile::tempdir().unwrap();
    let both = tmp.path().join("both.tar");
    ok(d.docker().arg("save").arg("-o").arg(&both).args(["busybox:1.38.0-glibc", "alpine:3.20"]));
    let one = tmp.path().join("one.tar");
    let out = ok(d.berth().args(["save", "alpine:3.20"]).stdout(std::fs::File::create(&one).unwrap()));
    assert!(out.is_empty());
    assert!(std::fs::metadata(&one).unwrap().len() > 1_000_000);

    ok(d.docker().args(["rmi", "busybox:1.38.0-glibc", "alpine:3.20"]));
    let out = ok(d.docker().arg("load").arg("-i").arg(&both));
    assert!(
        out.contains("Loaded image: busybox:1.38.0-glibc") && out.contains("Loaded image: alpine:3.20"),
        "{out}"
    );
    assert_eq!(inspect(&d, "busybox:1.38.0-glibc")["Id"], BUSYBOX_CONFIG);
    assert_eq!(inspect(&d, "alpine:3.20")["Id"], alpine.as_str());
    // From stdin through the berth CLI.
    ok(d.docker().args(["rmi", "alpine:3.20"]));
    let out = ok(d.berth().arg("load").stdin(std::fs::File::open(&one).unwrap()));
    assert_eq!(out.trim(), "Loaded image: alpine:3.20");
    assert_eq!(inspect(&d, "alpine:3.20")["Id"], alpine.as_str());

    let skopeo = ok(std::process::Command::new("skopeo")
        .arg("inspect")
        .arg(format!("docker-archive:{}", one.display())));
    let v: Value = serde_json::from_str(&skopeo).unwrap();
    assert_eq!(v["Layers"].as_array().unwrap().len(), 1);
    assert_eq!(v["Architecture"], "amd64");
    let raw = ok(std::process::Command::new("skopeo")
        .args(["inspect", "--config", "--raw"])
        .arg(format!("docker-archive:{}", one.display())));
    assert_eq!(
        format!("sha256:{}", hex::encode(sha2::Sha256::digest(raw.trim_end_matches('\n').as_bytes()))),
        alpine
    );
}

/// An OCI layout made by umoci from the Alpine fixture loads.
#[test]
fn umoci_layout_loads() {
    let d = Daemon::start();
    let tmp = tempfile::tempdir().unwrap();
    let layout = tmp.path().join("layout");
    let bundle = tmp.path().join("bundle");
    let umoci = |args: &[&str]| ok(std::process::Command::new("umoci").args(args));
    umoci(&["init", "--layout", layout.to_str().unwrap()]);
    umoci(&["new", "--image", &format!("{}:alpine", layout.display())]);
    umoci(&[
        "unpack",
        "--rootless",
        "--image",
        &format!("{}:alpine", layout.display()),
        bundle.to_str().unwrap(),
    ]);
    ok(std::process::Command::new("tar")
        .arg("-xzf")
        .arg(fixture(ALPINE_ROOTFS))
        .arg("-C")
        .arg(bundle.join("rootfs")));
    umoci(&["repack", "--image", &format!("{}:alpine", layout.display()), bundle.to_str().unwrap()]);
    let tarball = tmp.path().join("layout.tar");
    ok(std::process::Command::new("tar").arg("-cf").arg(&tarball).arg("-C").arg(&layout).arg("."));
    let out = ok(d.docker().arg("load").arg("-i").arg(&tarball));
    // umoci names the image only by a bare tag, so it loads untagged, by ID.
    let id = out.trim().strip_prefix("Loaded image ID: ").unwrap_or_else(|| panic!("{out}")).to_string();
    let img = inspect(&d, &id);
    assert_eq!(
        img["RootFS"]["Layers"].as_array().unwrap().len(),
        1,
        "umoci's repack adds one layer to an empty image"
    );
    let layer = img["GraphDriver"]["Data"]["LowerDir"].as_str().unwrap().to_string();
    assert!(std::path::Path::new(&layer).join("bin/busybox").is_file());
}

#[test]
fn history_inspect_formats_and_missing_images() {
    let d = Daemon::start();
    d.load_busybox();
    ok(d.docker()
        .args(["import", "-m", "imported from file"])
        .arg(fixture(ALPINE_ROOTFS))
        .arg("alpine:imported"));
    let hist = ok(d.docker().args(["history", "alpine:imported"]));
    let rows = lines(&hist);
    assert!(
        rows[0].starts_with("IMAGE") && rows[0].contains("CREATED BY") && rows[0].contains("COMMENT"),
        "{hist}"
    );
    assert!(rows[1].contains("imported from file"), "{hist}");
    let ids = ok(d.docker().args(["history", "-q", "busybox:1.38.0-glibc"]));
    assert_eq!(lines(&ids)[0], &BUSYBOX_CONFIG[7..19]);
    let cmd = ok(d.docker().args([
        "image",
        "inspect",
        "--format",
        "{{.Config.Cmd}} {{.Os}}/{{.Architecture}}",
        "busybox:1.38.0-glibc",
    ]));
    assert_eq!(cmd.trim(), "[sh] linux/amd64");
    let out = d.docker().args(["image", "inspect", "nosuch"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("No such image"), "{:?}", out);
    let (code, err) = fails(d.berth().args(["inspect", "nosuch"]));
    assert_eq!(code, 1);
    assert!(err.contains("No such object: nosuch"), "{err}");
}

#[test]
fn system_df_version_info_and_ping() {
    let d = Daemon::start();
    d.load_busybox();
    let df = ok(d.docker().args(["system", "df"]));
    let rows = lines(&df);
    assert_eq!(
        rows[0].split_whitespace().collect::<Vec<_>>(),
        ["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"]
    );
    assert!(rows[1].starts_with("Images") && rows[1].contains("4.446MB"), "{df}");
    let v = ok(d.docker().args(["system", "df", "-v"]));
    assert!(v.contains("Images space usage:") && v.contains("busybox"), "{v}");
    let version =
        ok(d.docker().args(["version", "--format", "{{.Server.APIVersion}} {{.Server.MinAPIVersion}}"]));
    assert_eq!(version.trim(), "1.50 1.24");
    let info = ok(d.docker().args(["info", "--format", "{{.Images}} {{.OSType}}"]));
    assert_eq!(info.trim(), "1 linux");
    // An older client pinned to API 1.41 still works.
    let old = ok(d.docker().env("DOCKER_API_VERSION", "1.41").args(["images", "-q"]));
    assert_eq!(old.trim(), &BUSYBOX_CONFIG[7..19]);
    let out = ok(d.berth().arg("version"));
    assert!(out.contains("API version:      1.50 (minimum version 1.24)"), "{out}");
    // The ping clients start with: HEAD says its (empty) length, as dockerd.
    let mut s = std::os::unix::net::UnixStream::connect(&d.socket).unwrap();
    std::io::Write::write_all(&mut s, b"HEAD /_ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut head = String::new();
    std::io::Read::read_to_string(&mut s, &mut head).unwrap();
    let head = head.to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 200 ok\r\n"), "{head}");
    assert!(
        head.contains("\r\ncontent-length: 0\r\n") && head.contains("\r\napi-version: 1.50\r\n"),
        "{head}"
    );
}

#[test]
fn events_are_recorded_and_streamed_with_filters() {
    let d = Daemon::start();
    let start = harness::now_secs() - 1;
    d.load_busybox();
    ok(d.docker().args(["tag", "busybox:1.38.0-glibc", "ev:1"]));
    ok(d.docker().args(["rmi", "ev:1"]));
    let out = d.past_events(start, &["type=image"], "{{.Type}} {{.Action}} {{.Actor.Attributes.name}}");
    assert_eq!(
        lines(&out),
        [
            "image tag busybox:1.38.0-glibc",
            &format!("image load {BUSYBOX_CONFIG}"),
            "image tag ev:1",
            &format!("image untag {BUSYBOX_CONFIG}")
        ]
    );
    let out = ok(d.berth().args([
        "events",
        "--since",
        &start.to_string(),
        "--until",
        &(harness::now_secs() + 1).to_string(),
        "--filter",
        "event=untag",
    ]));
    assert_eq!(lines(&out).len(), 1);
    assert!(out.contains(&format!("image untag {BUSYBOX_CONFIG} (name={BUSYBOX_CONFIG})")), "{out}");

    // A live stream sees an event that happens after it started.
    let mut child = d
        .docker()
        .args(["events", "--filter", "event=tag", "--format", "{{.Actor.Attributes.name}}"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(500));
    ok(d.docker().args(["tag", "busybox:1.38.0-glibc", "live:1"]));
    let mut stdout = child.stdout.take().unwrap();
    let mut buf = [0u8; 64];
    let n = stdout.read(&mut buf).unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(String::from_utf8_lossy(&buf[..n]).trim(), "live:1");
}

/// `docker save | gzip` loads as Docker allows; a daemon also serves TCP on
/// loopback when asked; bad flags exit 125 as with docker.
#[test]
fn compressed_archives_tcp_and_usage_errors() {
    let d = Daemon::start();
    d.load_busybox();
    let tmp = tempfile::tempdir().unwrap();
    let saved = tmp.path().join("saved.tar");
    ok(d.docker().arg("save").arg("-o").arg(&saved).arg("busybox:1.38.0-glibc"));
    let gz = tmp.path().join("saved.tar.gz");
    let mut enc =
        flate2::write::GzEncoder::new(std::fs::File::create(&gz).unwrap(), flate2::Compression::fast());
    std::io::copy(&mut std::fs::File::open(&saved).unwrap(), &mut enc).unwrap();
    enc.finish().unwrap();
    ok(d.docker().args(["rmi", "busybox:1.38.0-glibc"]));
    assert_eq!(ok(d.docker().arg("load").arg("-i").arg(&gz)).trim(), "Loaded image: busybox:1.38.0-glibc");

    // A second daemon on TCP loopback (port picked by the kernel, then freed).
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(harness::BERTH)
        .arg("daemon")
        .arg("--root")
        .arg(dir.path().join("root"))
        .arg("--exec-root")
        .arg(dir.path().join("run"))
        .arg("-H")
        .arg(format!("tcp://127.0.0.1:{port}"))
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let host = format!("tcp://127.0.0.1:{port}");
    let mut answered = false;
    for _ in 0..200 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            answered = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let result = answered.then(|| {
        harness::run(
            std::process::Command::new("docker")
                .env("DOCKER_HOST", &host)
                .arg("version")
                .arg("--format")
                .arg("{{.Server.Version}}"),
        )
    });
    let _ = child.kill();
    let _ = child.wait();
    let out = result.expect("daemon listens on TCP");
    assert!(out.status.success(), "{out:?}");

    let (code, err) = fails(d.berth().args(["images", "--bogus"]));
    assert_eq!(code, 125, "{err}");
    let (code, _) = fails(d.berth().args(["rmi"]));
    assert_eq!(code, 125);
}

/// `import URL`: the daemon downloads the tarball (here from a loopback HTTP
/// server the test starts); SIGTERM stops the daemon cleanly.
#[test]
fn import_from_a_url_and_graceful_shutdown() {
    let mut d = Daemon::start();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let body = std::fs::read(fixture(ALPINE_ROOTFS)).unwrap();
    let server = std::thread::spawn(move || {
        use std::io::Write;
        let (mut conn, _) = listener.accept().unwrap();
        let mut req = [0u8; 4096];
        let n = conn.read(&mut req).unwrap();
        assert!(String::from_utf8_lossy(&req[..n]).starts_with("GET /alpine.tar.gz "));
        write!(conn, "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len())
            .unwrap();
        conn.write_all(&body).unwrap();
    });
    let id = ok(d.docker().args(["import", &format!("http://127.0.0.1:{port}/alpine.tar.gz"), "alpine:url"]));
    server.join().unwrap();
    assert_eq!(inspect(&d, "alpine:url")["Id"], id.trim());

    let status = d.stop();
    assert!(status.success(), "daemon exit on SIGTERM: {status}");
    assert!(!d.socket.exists(), "socket removed on shutdown");
    assert!(!d.exec_root.join("berth.pid").exists(), "pid file removed on shutdown");
}
