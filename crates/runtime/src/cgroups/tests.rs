//! Unit tests against fake hierarchies in a temporary directory: plain
//! files stand in for the kernel's control files, so these run as any user.

use std::fs;
use std::path::Path;

use super::*;

fn touch(dir: &Path, files: &[(&str, &str)]) {
    fs::create_dir_all(dir).unwrap();
    for (name, content) in files {
        fs::write(dir.join(name), content).unwrap();
    }
}

fn content(path: impl AsRef<Path>) -> String {
    fs::read_to_string(path).unwrap().trim().to_string()
}

/// A fake v1 host: one directory per hierarchy, as on this kind of machine.
fn fake_v1() -> (tempfile::TempDir, Hierarchy) {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    for dir in ["memory", "cpu,cpuacct", "cpuset", "pids", "blkio", "freezer", "devices", "systemd"] {
        fs::create_dir(root.join(dir)).unwrap();
    }
    std::os::unix::fs::symlink("cpu,cpuacct", root.join("cpu")).unwrap();
    touch(&root.join("cpuset"), &[("cpuset.cpus", "0-3\n"), ("cpuset.mems", "0\n")]);
    let h = Hierarchy::at(root).unwrap();
    (tmp, h)
}

/// The kernel creates empty cpuset files in every new cpuset cgroup;
/// the fake needs them before `create` fills them in.
fn precreate_cpuset(tmp: &tempfile::TempDir, rel: &str) {
    let mut dir = tmp.path().join("cpuset");
    for part in rel.split('/') {
        dir.push(part);
        touch(&dir, &[("cpuset.cpus", ""), ("cpuset.mems", "")]);
    }
}

/// What the kernel would create in a new v1 cgroup directory.
fn populate_v1(cg: &Cgroup) {
    for dir in cg.dirs() {
        touch(&dir, &[("cgroup.procs", "")]);
    }
    let leaf = |c: &str| cg.v1_dir(c).unwrap();
    touch(
        &leaf("memory"),
        &[
            ("memory.limit_in_bytes", "9223372036854771712"),
            ("memory.memsw.limit_in_bytes", "9223372036854771712"),
            ("memory.soft_limit_in_bytes", "9223372036854771712"),
            ("memory.usage_in_bytes", "1234"),
            ("memory.max_usage_in_bytes", "4321"),
            ("memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n"),
            ("cgroup.procs", ""),
        ],
    );
    touch(
        &leaf("cpu"),
        &[
            ("cpu.shares", "1024"),
            ("cpu.cfs_period_us", "100000"),
            ("cpu.cfs_quota_us", "-1"),
            ("cpuacct.usage", "5000"),
        ],
    );
    touch(&leaf("pids"), &[("pids.max", "max"), ("pids.current", "3"), ("cgroup.procs", "")]);
    touch(&leaf("blkio"), &[("blkio.weight", "500")]);
    touch(&leaf("freezer"), &[("freezer.state", "THAWED")]);
    touch(&leaf("devices"), &[("devices.allow", ""), ("devices.deny", "")]);
}

#[test]
fn v1_layout_is_discovered() {
    let (_tmp, h) = fake_v1();
    let Hierarchy::V1 { mounts } = &h else { panic!("not v1") };
    let names: Vec<String> = mounts.iter().map(|m| m.mount_options()).collect();
    assert!(names.contains(&"cpu,cpuacct".to_string()));
    assert!(names.contains(&"name=systemd".to_string()));
    assert_eq!(mounts.len(), 8, "the cpu symlink is not a hierarchy: {names:?}");
    assert_eq!(h.version(), CgroupVersion::V1);
}

#[test]
fn v1_create_apply_and_stats() {
    let (tmp, h) = fake_v1();
    let cg = Cgroup::new(h, "berth", "c1").unwrap();
    precreate_cpuset(&tmp, "berth/c1");
    cg.create().unwrap();
    for dir in cg.dirs() {
        assert!(dir.is_dir(), "{}", dir.display());
    }
    // cpuset values are inherited all the way down.
    assert_eq!(content(tmp.path().join("cpuset/berth/cpuset.cpus")), "0-3");
    assert_eq!(content(tmp.path().join("cpuset/berth/c1/cpuset.mems")), "0");

    populate_v1(&cg);
    let r = Resources {
        memory: Some(64 << 20),
        memory_swap: Some(128 << 20),
        memory_reservation: Some(32 << 20),
        cpu_shares: Some(512),
        cpu_quota: Some(50_000),
        cpu_period: Some(100_000),
        cpuset_cpus: Some("1".into()),
        cpuset_mems: Some("0".into()),
        pids_limit: Some(50),
        blkio_weight: Some(300),
    };
    cg.apply(&r).unwrap();
    let leaf = tmp.path();
    assert_eq!(content(leaf.join("memory/berth/c1/memory.limit_in_bytes")), "67108864");
    assert_eq!(content(leaf.join("memory/berth/c1/memory.memsw.limit_in_bytes")), "134217728");
    assert_eq!(content(leaf.join("memory/berth/c1/memory.soft_limit_in_bytes")), "33554432");
    assert_eq!(content(leaf.join("cpu,cpuacct/berth/c1/cpu.shares")), "512");
    assert_eq!(content(leaf.join("cpu,cpuacct/berth/c1/cpu.cfs_quota_us")), "50000");
    assert_eq!(content(leaf.join("cpu,cpuacct/berth/c1/cpu.cfs_period_us")), "100000");
    assert_eq!(content(leaf.join("cpuset/berth/c1/cpuset.cpus")), "1");
    assert_eq!(content(leaf.join("pids/berth/c1/pids.max")), "50");
    assert_eq!(content(leaf.join("blkio/berth/c1/blkio.weight")), "300");

    cg.apply(&Resources { pids_limit: Some(0), cpu_quota: Some(-1), ..Default::default() }).unwrap();
    assert_eq!(content(leaf.join("pids/berth/c1/pids.max")), "max");
    assert_eq!(content(leaf.join("cpu,cpuacct/berth/c1/cpu.cfs_quota_us")), "-1");

    let s = cg.stats().unwrap();
    assert_eq!(s.memory_usage, 1234);
    assert_eq!(s.memory_limit, Some(64 << 20));
    assert_eq!(s.memory_max_usage, Some(4321));
    assert_eq!(s.cpu_usage_ns, 5000);
    assert_eq!(s.pids_current, 3);
    assert_eq!(s.oom_kills, 2);

    cg.set_devices(&devices::default_rules()).unwrap();
    assert_eq!(content(leaf.join("devices/berth/c1/devices.deny")), "a");
    // The fake file keeps only the last write; the real one accumulates.
    assert_eq!(content(leaf.join("devices/berth/c1/devices.allow")), "c 136:* rwm");

    cg.freeze().unwrap();
    assert_eq!(content(leaf.join("freezer/berth/c1/freezer.state")), "FROZEN");
    cg.thaw().unwrap();
    assert_eq!(content(leaf.join("freezer/berth/c1/freezer.state")), "THAWED");

    cg.add_pid(4242).unwrap();
    assert_eq!(content(leaf.join("memory/berth/c1/cgroup.procs")), "4242");
    assert_eq!(cg.pids().unwrap(), vec![4242]);
}

#[test]
fn v1_memory_increase_moves_memsw_first() {
    let (tmp, h) = fake_v1();
    let cg = Cgroup::new(h, "p", "c").unwrap();
    precreate_cpuset(&tmp, "p/c");
    cg.create().unwrap();
    populate_v1(&cg);
    let memsw = tmp.path().join("memory/p/c/memory.memsw.limit_in_bytes");
    fs::write(&memsw, "100").unwrap();
    // 200 > current memsw (100): the kernel would refuse memory=200 first.
    // The fake cannot enforce that, but both end values must land.
    cg.apply(&Resources { memory: Some(200), memory_swap: Some(400), ..Default::default() }).unwrap();
    assert_eq!(content(&memsw), "400");
    assert_eq!(content(tmp.path().join("memory/p/c/memory.limit_in_bytes")), "200");
}

#[test]
fn v1_missing_controller_is_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    fs::create_dir(tmp.path().join("memory")).unwrap();
    let cg = Cgroup::new(Hierarchy::at(tmp.path()).unwrap(), "p", "c").unwrap();
    cg.create().unwrap();
    let err = cg.apply(&Resources { pids_limit: Some(5), ..Default::default() }).unwrap_err();
    assert!(matches!(err, CgroupError::MissingController("pids")), "{err}");
}

#[test]
fn delete_removes_every_directory_and_tolerates_missing_ones() {
    let (tmp, h) = fake_v1();
    let cg = Cgroup::new(h.clone(), "berth-del", "c").unwrap();
    cg.create().unwrap_err(); // the fake kernel made no cpuset files
    for dir in cg.dirs() {
        fs::create_dir_all(dir).unwrap();
    }
    cg.delete().unwrap();
    cg.delete().unwrap();
    remove_parent(&h, "berth-del").unwrap();
    for dir in ["memory", "pids", "cpu,cpuacct", "cpuset"] {
        assert!(!tmp.path().join(dir).join("berth-del").exists(), "{dir}");
    }
}

/// A fake v2 root with the controllers a typical host delegates.
fn fake_v2() -> (tempfile::TempDir, Hierarchy) {
    let tmp = tempfile::tempdir().unwrap();
    touch(
        tmp.path(),
        &[
            ("cgroup.controllers", "cpuset cpu io memory hugetlb pids rdma misc\n"),
            ("cgroup.subtree_control", ""),
        ],
    );
    let h = Hierarchy::at(tmp.path()).unwrap();
    (tmp, h)
}

#[test]
fn v2_create_enables_controllers_on_every_ancestor() {
    let (tmp, h) = fake_v2();
    assert_eq!(h.version(), CgroupVersion::V2);
    // The parent exists already, as the kernel would have populated it.
    touch(
        &tmp.path().join("berth"),
        &[("cgroup.controllers", "cpuset cpu io memory hugetlb pids\n"), ("cgroup.subtree_control", "")],
    );
    let cg = Cgroup::new(h, "berth", "c2").unwrap();
    cg.create().unwrap();
    assert_eq!(content(tmp.path().join("cgroup.subtree_control")), "+cpuset +cpu +io +memory +hugetlb +pids");
    assert_eq!(
        content(tmp.path().join("berth/cgroup.subtree_control")),
        "+cpuset +cpu +io +memory +hugetlb +pids"
    );
    assert!(tmp.path().join("berth/c2").is_dir());
    assert_eq!(cg.v2_dir().unwrap(), tmp.path().join("berth/c2"));
}

#[test]
fn v2_apply_and_stats() {
    let (tmp, h) = fake_v2();
    touch(
        &tmp.path().join("berth"),
        &[("cgroup.controllers", "cpu memory pids io cpuset\n"), ("cgroup.subtree_control", "")],
    );
    let cg = Cgroup::new(h, "berth", "c").unwrap();
    cg.create().unwrap();
    let dir = tmp.path().join("berth/c");
    touch(
        &dir,
        &[
            ("memory.max", "max"),
            ("memory.swap.max", "max"),
            ("memory.low", "0"),
            ("cpu.weight", "100"),
            ("cpu.max", "max 100000"),
            ("cpuset.cpus", ""),
            ("cpuset.mems", ""),
            ("pids.max", "max"),
            ("io.weight", "default 100"),
            ("memory.current", "2048"),
            ("memory.peak", "4096"),
            ("memory.events", "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n"),
            ("cpu.stat", "usage_usec 1500\nuser_usec 1000\n"),
            ("pids.current", "4"),
            ("cgroup.procs", ""),
            ("cgroup.freeze", "0"),
            ("cgroup.events", "populated 1\nfrozen 0\n"),
        ],
    );
    cg.apply(&Resources {
        memory: Some(64 << 20),
        memory_swap: Some(96 << 20),
        memory_reservation: Some(16 << 20),
        cpu_shares: Some(1024),
        cpu_quota: Some(25_000),
        cpu_period: Some(50_000),
        cpuset_cpus: Some("0-1".into()),
        cpuset_mems: Some("0".into()),
        pids_limit: Some(50),
        blkio_weight: Some(500),
    })
    .unwrap();
    assert_eq!(content(dir.join("memory.max")), "67108864");
    assert_eq!(content(dir.join("memory.swap.max")), "33554432", "swap alone");
    assert_eq!(content(dir.join("memory.low")), "16777216");
    assert_eq!(content(dir.join("cpu.weight")), "39");
    assert_eq!(content(dir.join("cpu.max")), "25000 50000");
    assert_eq!(content(dir.join("cpuset.cpus")), "0-1");
    assert_eq!(content(dir.join("pids.max")), "50");
    assert_eq!(content(dir.join("io.weight")), "default 4950");

    cg.apply(&Resources {
        memory: Some(-1),
        memory_swap: Some(-1),
        cpu_quota: Some(-1),
        ..Default::default()
    })
    .unwrap();
    assert_eq!(content(dir.join("memory.max")), "max");
    assert_eq!(content(dir.join("memory.swap.max")), "max");
    assert_eq!(content(dir.join("cpu.max")), "max 100000");

    let s = cg.stats().unwrap();
    assert_eq!(s.memory_usage, 2048);
    assert_eq!(s.memory_limit, None);
    assert_eq!(s.memory_max_usage, Some(4096));
    assert_eq!(s.cpu_usage_ns, 1_500_000);
    assert_eq!(s.pids_current, 4);
    assert_eq!(s.pids_limit, Some(50));
    assert_eq!(s.oom_kills, 1);

    // The fake cgroup.events never changes, so only thawing (frozen 0) can
    // complete here; the real freeze is covered by the container tests.
    cg.thaw().unwrap();
    assert_eq!(content(dir.join("cgroup.freeze")), "0");

    cg.delete().unwrap_err(); // control files make the fake dir non-empty
}

#[test]
fn v2_missing_controller_is_an_error() {
    let (tmp, h) = fake_v2();
    let cg = Cgroup::new(h, "berth", "c").unwrap();
    touch(&tmp.path().join("berth"), &[("cgroup.controllers", ""), ("cgroup.subtree_control", "")]);
    cg.create().unwrap();
    let err = cg.apply(&Resources { memory: Some(1 << 20), ..Default::default() }).unwrap_err();
    assert!(matches!(err, CgroupError::MissingController("memory")), "{err}");
}

#[test]
fn mountinfo_detection() {
    let v1 = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";
    let h = Hierarchy::from_mountinfo(v1).unwrap();
    let Hierarchy::V1 { mounts } = &h else { panic!("hybrid hosts use v1") };
    assert_eq!(mounts.len(), 4);
    assert_eq!(h.v1_mount("memory").unwrap().path, Path::new("/sys/fs/cgroup/memory"));
    assert_eq!(h.v1_mount("name=systemd").unwrap().mount_options(), "name=systemd");

    let v2 = "29 23 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n";
    assert_eq!(Hierarchy::from_mountinfo(v2).unwrap(), Hierarchy::v2("/sys/fs/cgroup"));
    assert!(matches!(Hierarchy::from_mountinfo(""), Err(CgroupError::NoHierarchy)));
    assert_eq!(unescape_mountinfo("/a\\040b"), "/a b");
}

#[test]
fn paths_are_validated() {
    let h = Hierarchy::v2("/nonexistent");
    assert!(Cgroup::new(h.clone(), "berth", "").is_err());
    assert!(Cgroup::new(h.clone(), "berth", "a/b").is_err());
    assert!(Cgroup::new(h.clone(), "../etc", "x").is_err());
    assert!(Cgroup::new(h.clone(), "/abs", "x").is_err());
    assert_eq!(Cgroup::new(h, "a/b", "c").unwrap().path(), Path::new("a/b/c"));
}
