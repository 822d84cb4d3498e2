//! Control groups, v1 and v2.
//!
//! A container gets the cgroup `<parent>/<name>` — one directory in every
//! v1 hierarchy, or one directory in the v2 tree. The runtime creates it
//! before the container's init runs anything, places the init in it, and
//! removes it in [`crate::cleanup`].
//!
//! Every function takes the hierarchy as a value ([`Hierarchy`]), found by
//! [`Hierarchy::detect`] from `/proc/self/mountinfo` or built over any
//! directory with [`Hierarchy::at`], which is how the unit tests run
//! against fake trees in a temporary directory.
//!
//! The two versions differ in more than file names:
//!
//! * v2 only lets a controller be used in a cgroup whose parent lists it in
//!   `cgroup.subtree_control`, and only leaf cgroups may hold processes, so
//!   `create` enables the controllers on every ancestor;
//! * v1 `cpuset` cgroups start with empty `cpus`/`mems`, in which no task may
//!   run: `create` copies the parent's values down;
//! * device access is a pair of files in v1 and an eBPF program in v2
//!   ([`devices`]).

pub mod devices;
mod v1;
mod v2;

use std::io;
use std::path::{Component, Path, PathBuf};
use std::time::{Duration, Instant};

pub use devices::{DeviceRule, DeviceType};

/// Errors of cgroup operations; every one names the file involved.
#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    /// A file operation failed.
    #[error("cgroup: {op} {}: {source}", path.display())]
    Io {
        /// What was being done.
        op: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// No cgroup filesystem is mounted.
    #[error("cgroup: no cgroup filesystem found in /proc/self/mountinfo")]
    NoHierarchy,
    /// A limit was requested for a controller that is not available.
    #[error("cgroup: the {0} controller is not available")]
    MissingController(&'static str),
    /// A parent or name with `..`, an absolute path or nothing at all.
    #[error("cgroup: invalid cgroup path {0:?}")]
    InvalidPath(String),
    /// Processes remained after the cgroup was killed and drained.
    #[error("cgroup: {} still busy after {waited:?}", path.display())]
    Busy {
        /// The directory.
        path: PathBuf,
        /// How long we waited.
        waited: Duration,
    },
    /// A device rule that does not parse.
    #[error("cgroup: invalid device rule {0:?}")]
    InvalidDeviceRule(String),
    /// A value the kernel would refuse.
    #[error("cgroup: invalid value for {0}")]
    InvalidValue(&'static str),
}

pub(crate) fn io_err<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> CgroupError + 'a {
    move |source| CgroupError::Io { op, path: path.to_path_buf(), source }
}

/// Resource limits; `None` leaves the kernel's default. Values follow
/// Docker's flags.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Resources {
    /// `--memory` in bytes (`-1`: unlimited).
    pub memory: Option<i64>,
    /// `--memory-swap`: memory *plus* swap, in bytes (`-1`: unlimited swap).
    pub memory_swap: Option<i64>,
    /// `--memory-reservation`: soft limit in bytes.
    pub memory_reservation: Option<i64>,
    /// `--cpu-shares` (relative weight, default 1024).
    pub cpu_shares: Option<u64>,
    /// `--cpu-quota` in microseconds per period (`-1`: unlimited).
    pub cpu_quota: Option<i64>,
    /// `--cpu-period` in microseconds.
    pub cpu_period: Option<u64>,
    /// `--cpuset-cpus`, e.g. `0-2,4`.
    pub cpuset_cpus: Option<String>,
    /// `--cpuset-mems`.
    pub cpuset_mems: Option<String>,
    /// `--pids-limit` (`0` or negative: unlimited).
    pub pids_limit: Option<i64>,
    /// `--blkio-weight`, 10 to 1000.
    pub blkio_weight: Option<u16>,
}

/// Usage figures for `docker stats` and for OOM detection.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Memory in use, bytes.
    pub memory_usage: u64,
    /// Memory limit, bytes; `None` when unlimited.
    pub memory_limit: Option<u64>,
    /// Highest memory use seen, bytes, when the kernel tracks it.
    pub memory_max_usage: Option<u64>,
    /// Total CPU time, nanoseconds.
    pub cpu_usage_ns: u64,
    /// Number of tasks.
    pub pids_current: u64,
    /// Task limit; `None` when unlimited.
    pub pids_limit: Option<u64>,
    /// Processes killed by the OOM killer in this cgroup.
    pub oom_kills: u64,
}

/// cgroup v1 or v2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CgroupVersion {
    /// One hierarchy per controller (or group of controllers).
    V1,
    /// The unified hierarchy.
    V2,
}

/// One mounted v1 hierarchy.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct V1Mount {
    /// Where it is mounted, e.g. `/sys/fs/cgroup/cpu,cpuacct`.
    pub path: PathBuf,
    /// Its controllers, e.g. `["cpu", "cpuacct"]`, or `["name=systemd"]`
    /// for a named hierarchy without controllers.
    pub controllers: Vec<String>,
}

impl V1Mount {
    /// The `-o` options that mount this hierarchy again (inside a container).
    pub fn mount_options(&self) -> String {
        self.controllers.join(",")
    }
}

/// Where the cgroup filesystems are.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Hierarchy {
    /// cgroup v1: each mount holds some controllers.
    V1 {
        /// The mounted hierarchies.
        mounts: Vec<V1Mount>,
    },
    /// cgroup v2, with its root directory.
    V2 {
        /// Usually `/sys/fs/cgroup`.
        root: PathBuf,
    },
}

/// Controller names of cgroup v1 (anything else in the options is a flag).
const V1_CONTROLLERS: &[&str] = &[
    "cpuset",
    "cpu",
    "cpuacct",
    "blkio",
    "memory",
    "devices",
    "freezer",
    "net_cls",
    "perf_event",
    "net_prio",
    "hugetlb",
    "pids",
    "rdma",
    "misc",
];

impl Hierarchy {
    /// Finds the cgroup filesystems of this machine. A cgroup2 mount at
    /// `/sys/fs/cgroup` means v2; otherwise the v1 hierarchies are used and
    /// a cgroup2 mount beside them (systemd's "hybrid" mode) is ignored.
    pub fn detect() -> Result<Hierarchy, CgroupError> {
        let path = Path::new("/proc/self/mountinfo");
        let text = std::fs::read_to_string(path).map_err(io_err("read", path))?;
        Hierarchy::from_mountinfo(&text)
    }

    fn from_mountinfo(text: &str) -> Result<Hierarchy, CgroupError> {
        let (v2_root, mounts) = Hierarchy::scan_mountinfo(text);
        match v2_root {
            Some(root) if root == Path::new("/sys/fs/cgroup") || mounts.is_empty() => {
                Ok(Hierarchy::V2 { root })
            }
            _ if !mounts.is_empty() => Ok(Hierarchy::V1 { mounts }),
            _ => Err(CgroupError::NoHierarchy),
        }
    }

    /// Every cgroup mount of this process's namespace: the cgroup2 mount
    /// (even beside v1 ones) and the v1 hierarchies.
    pub(crate) fn all_mounts() -> Result<(Option<PathBuf>, Vec<V1Mount>), CgroupError> {
        let path = Path::new("/proc/self/mountinfo");
        let text = std::fs::read_to_string(path).map_err(io_err("read", path))?;
        Ok(Hierarchy::scan_mountinfo(&text))
    }

    fn scan_mountinfo(text: &str) -> (Option<PathBuf>, Vec<V1Mount>) {
        let mut v2_root = None;
        let mut mounts: Vec<V1Mount> = Vec::new();
        for line in text.lines() {
            let Some((left, right)) = line.split_once(" - ") else { continue };
            let fields: Vec<&str> = left.split(' ').collect();
            let rfields: Vec<&str> = right.split(' ').collect();
            let (Some(mountpoint), Some(fstype)) = (fields.get(4), rfields.first()) else {
                continue;
            };
            let mountpoint = PathBuf::from(unescape_mountinfo(mountpoint));
            match *fstype {
                "cgroup2" if mountpoint == Path::new("/sys/fs/cgroup") || v2_root.is_none() => {
                    v2_root = Some(mountpoint);
                }
                "cgroup" => {
                    let opts = rfields.get(2).copied().unwrap_or("");
                    let controllers: Vec<String> = opts
                        .split(',')
                        .filter(|o| V1_CONTROLLERS.contains(o) || o.starts_with("name="))
                        .map(String::from)
                        .collect();
                    if controllers.is_empty() {
                        continue;
                    }
                    // The same hierarchy may be mounted twice; keep the first.
                    if !mounts.iter().any(|m| m.controllers == controllers) {
                        mounts.push(V1Mount { path: mountpoint, controllers });
                    }
                }
                _ => {}
            }
        }
        (v2_root, mounts)
    }

    /// A v2 hierarchy rooted at `root`.
    pub fn v2(root: impl Into<PathBuf>) -> Hierarchy {
        Hierarchy::V2 { root: root.into() }
    }

    /// A v1 hierarchy whose mounts are the subdirectories of `root`, named
    /// after their controllers as on a typical host (`memory`,
    /// `cpu,cpuacct`...); symlinks such as `cpu -> cpu,cpuacct` are skipped.
    pub fn v1(root: impl AsRef<Path>) -> Result<Hierarchy, CgroupError> {
        let root = root.as_ref();
        let mut mounts = Vec::new();
        let entries = std::fs::read_dir(root).map_err(io_err("read directory", root))?;
        for entry in entries {
            let entry = entry.map_err(io_err("read directory", root))?;
            let file_type = entry.file_type().map_err(io_err("stat", &entry.path()))?;
            if !file_type.is_dir() {
                continue;
            }
            let name = entry.file_name().to_string_lossy().into_owned();
            let controllers: Vec<String> = name
                .split(',')
                .map(|c| if V1_CONTROLLERS.contains(&c) { c.to_string() } else { format!("name={c}") })
                .collect();
            mounts.push(V1Mount { path: entry.path(), controllers });
        }
        mounts.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(Hierarchy::V1 { mounts })
    }

    /// v2 if `root` holds `cgroup.controllers`, v1 otherwise.
    pub fn at(root: impl AsRef<Path>) -> Result<Hierarchy, CgroupError> {
        let root = root.as_ref();
        if root.join("cgroup.controllers").exists() { Ok(Hierarchy::v2(root)) } else { Hierarchy::v1(root) }
    }

    /// Which version this is.
    pub fn version(&self) -> CgroupVersion {
        match self {
            Hierarchy::V1 { .. } => CgroupVersion::V1,
            Hierarchy::V2 { .. } => CgroupVersion::V2,
        }
    }

    /// The v1 mount holding `controller`.
    pub(crate) fn v1_mount(&self, controller: &str) -> Option<&V1Mount> {
        match self {
            Hierarchy::V1 { mounts } => mounts.iter().find(|m| m.controllers.iter().any(|c| c == controller)),
            Hierarchy::V2 { .. } => None,
        }
    }
}

/// Undoes mountinfo's octal escapes (`\040` for a space).
fn unescape_mountinfo(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\'
            && i + 3 < bytes.len()
            && bytes[i + 1..i + 4].iter().all(|b| (b'0'..=b'7').contains(b))
        {
            let v = (bytes[i + 1] - b'0') * 64 + (bytes[i + 2] - b'0') * 8 + (bytes[i + 3] - b'0');
            out.push(v);
            i += 4;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Validates a relative cgroup path: no `..`, not absolute, not empty.
fn relative_path(parent: &str, name: &str) -> Result<PathBuf, CgroupError> {
    let joined = Path::new(parent).join(name);
    let bad = || CgroupError::InvalidPath(joined.display().to_string());
    if name.is_empty() || name.contains('/') {
        return Err(bad());
    }
    let mut clean = PathBuf::new();
    for c in joined.components() {
        match c {
            Component::Normal(part) => clean.push(part),
            Component::CurDir => {}
            _ => return Err(bad()),
        }
    }
    if clean.as_os_str().is_empty() {
        return Err(bad());
    }
    Ok(clean)
}

/// One container's cgroup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cgroup {
    hierarchy: Hierarchy,
    path: PathBuf,
}

impl Cgroup {
    /// The cgroup `<parent>/<name>` in `hierarchy` (no I/O yet).
    pub fn new(hierarchy: Hierarchy, parent: &str, name: &str) -> Result<Cgroup, CgroupError> {
        Ok(Cgroup { path: relative_path(parent, name)?, hierarchy })
    }

    /// The hierarchy this cgroup lives in.
    pub fn hierarchy(&self) -> &Hierarchy {
        &self.hierarchy
    }

    /// The path relative to the hierarchy root, e.g. `berth/<id>`.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The cgroup's directories: one per v1 hierarchy, or the v2 one.
    pub fn dirs(&self) -> Vec<PathBuf> {
        match &self.hierarchy {
            Hierarchy::V1 { mounts } => mounts.iter().map(|m| m.path.join(&self.path)).collect(),
            Hierarchy::V2 { root } => vec![root.join(&self.path)],
        }
    }

    /// The v2 directory (for `CLONE_INTO_CGROUP`), if this is v2.
    pub fn v2_dir(&self) -> Option<PathBuf> {
        match &self.hierarchy {
            Hierarchy::V2 { root } => Some(root.join(&self.path)),
            Hierarchy::V1 { .. } => None,
        }
    }

    /// Creates the directories (and, for v2, enables controllers on the way).
    pub fn create(&self) -> Result<(), CgroupError> {
        match &self.hierarchy {
            Hierarchy::V1 { mounts } => v1::create(mounts, &self.path),
            Hierarchy::V2 { root } => v2::create(root, &self.path),
        }
    }

    /// Writes the limits.
    pub fn apply(&self, resources: &Resources) -> Result<(), CgroupError> {
        match &self.hierarchy {
            Hierarchy::V1 { .. } => v1::apply(self, resources),
            Hierarchy::V2 { root } => v2::apply(&root.join(&self.path), resources),
        }
    }

    /// Restricts device access to `rules` (later rules take precedence;
    /// anything unmatched is denied). An empty slice allows every device.
    pub fn set_devices(&self, rules: &[DeviceRule]) -> Result<(), CgroupError> {
        match &self.hierarchy {
            Hierarchy::V1 { .. } => match self.v1_dir("devices") {
                Some(dir) => devices::apply_v1(&dir, rules),
                None => Err(CgroupError::MissingController("devices")),
            },
            Hierarchy::V2 { root } => devices::apply_v2(&root.join(&self.path), rules),
        }
    }

    /// Moves a process into the cgroup (every v1 hierarchy).
    pub fn add_pid(&self, pid: i32) -> Result<(), CgroupError> {
        for dir in self.dirs() {
            write(&dir.join("cgroup.procs"), &pid.to_string())?;
        }
        Ok(())
    }

    /// The processes in the cgroup.
    pub fn pids(&self) -> Result<Vec<i32>, CgroupError> {
        let dir = match &self.hierarchy {
            Hierarchy::V1 { .. } => ["pids", "memory", "freezer", "cpu"]
                .iter()
                .find_map(|c| self.v1_dir(c))
                .or_else(|| self.dirs().into_iter().next()),
            Hierarchy::V2 { root } => Some(root.join(&self.path)),
        };
        let Some(dir) = dir else { return Ok(Vec::new()) };
        let path = dir.join("cgroup.procs");
        match std::fs::read_to_string(&path) {
            Ok(text) => Ok(text.lines().filter_map(|l| l.trim().parse().ok()).collect()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(io_err("read", &path)(e)),
        }
    }

    /// Current usage.
    pub fn stats(&self) -> Result<Stats, CgroupError> {
        match &self.hierarchy {
            Hierarchy::V1 { .. } => v1::stats(self),
            Hierarchy::V2 { root } => v2::stats(&root.join(&self.path)),
        }
    }

    /// Freezes every process (`docker pause`) and waits until they are.
    pub fn freeze(&self) -> Result<(), CgroupError> {
        match &self.hierarchy {
            Hierarchy::V1 { .. } => v1::freeze(self, true),
            Hierarchy::V2 { root } => v2::freeze(&root.join(&self.path), true),
        }
    }

    /// Thaws a frozen cgroup (`docker unpause`).
    pub fn thaw(&self) -> Result<(), CgroupError> {
        match &self.hierarchy {
            Hierarchy::V1 { .. } => v1::freeze(self, false),
            Hierarchy::V2 { root } => v2::freeze(&root.join(&self.path), false),
        }
    }

    /// SIGKILLs every process in the cgroup and waits (up to a few seconds)
    /// until it is empty. Uses `cgroup.kill` where the kernel has it;
    /// otherwise freezes first so no process can fork while being killed.
    pub fn kill_all(&self) -> Result<(), CgroupError> {
        if let Hierarchy::V2 { root } = &self.hierarchy {
            let kill = root.join(&self.path).join("cgroup.kill");
            if kill.exists() {
                write(&kill, "1")?;
                return self.wait_empty(Duration::from_secs(5));
            }
        }
        let can_freeze = match &self.hierarchy {
            Hierarchy::V1 { .. } => self.v1_dir("freezer").is_some_and(|d| d.exists()),
            Hierarchy::V2 { root } => root.join(&self.path).join("cgroup.freeze").exists(),
        };
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let frozen = can_freeze && self.freeze().is_ok();
            let pids = self.pids()?;
            for pid in &pids {
                let _ = crate::sys::kill(*pid, libc::SIGKILL);
            }
            if frozen {
                self.thaw()?;
            }
            if pids.is_empty() || self.wait_empty(Duration::from_millis(200)).is_ok() {
                return Ok(());
            }
            if Instant::now() > deadline {
                return self.wait_empty(Duration::ZERO);
            }
        }
    }

    fn wait_empty(&self, timeout: Duration) -> Result<(), CgroupError> {
        let start = Instant::now();
        let mut pause = Duration::from_millis(1);
        loop {
            if self.pids()?.is_empty() {
                return Ok(());
            }
            if start.elapsed() >= timeout {
                return Err(CgroupError::Busy {
                    path: self.dirs().into_iter().next().unwrap_or_default(),
                    waited: start.elapsed(),
                });
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(50));
        }
    }

    /// Removes the directories, retrying for a few seconds while exiting
    /// processes drain (rmdir fails with EBUSY until the last one is gone).
    /// Missing directories are fine.
    pub fn delete(&self) -> Result<(), CgroupError> {
        for dir in self.dirs() {
            remove_dir_retrying(&dir, Duration::from_secs(5))?;
        }
        Ok(())
    }

    fn v1_dir(&self, controller: &str) -> Option<PathBuf> {
        self.hierarchy.v1_mount(controller).map(|m| m.path.join(&self.path))
    }
}

/// Removes `parent` (e.g. a test's private parent cgroup) from every
/// hierarchy, if it is empty. Missing directories are fine.
pub fn remove_parent(hierarchy: &Hierarchy, parent: &str) -> Result<(), CgroupError> {
    let rel = relative_path("", parent)?;
    let dirs: Vec<PathBuf> = match hierarchy {
        Hierarchy::V1 { mounts } => mounts.iter().map(|m| m.path.join(&rel)).collect(),
        Hierarchy::V2 { root } => vec![root.join(&rel)],
    };
    for dir in dirs {
        remove_dir_retrying(&dir, Duration::from_secs(1))?;
    }
    Ok(())
}

fn remove_dir_retrying(dir: &Path, timeout: Duration) -> Result<(), CgroupError> {
    let start = Instant::now();
    let mut pause = Duration::from_millis(1);
    loop {
        match std::fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) && start.elapsed() < timeout => {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(50));
            }
            Err(e) => return Err(io_err("remove", dir)(e)),
        }
    }
}

/// The `cgroup.procs` files of the cgroups `pid` is in, in every cgroup
/// tree mounted here — v1 hierarchies and a cgroup2 mount, including one
/// beside v1 (hybrid hosts). Paths are in our view: absolute, since the
/// caller runs in the host's cgroup namespace.
pub(crate) fn procs_files_of(pid: i32) -> Result<Vec<PathBuf>, CgroupError> {
    let path = PathBuf::from(format!("/proc/{pid}/cgroup"));
    let text = std::fs::read_to_string(&path).map_err(io_err("read", &path))?;
    let (v2_root, v1_mounts) = Hierarchy::all_mounts()?;
    let mut files = Vec::new();
    for line in text.lines() {
        let mut parts = line.splitn(3, ':');
        let (Some(_), Some(controllers), Some(rel)) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        let rel = rel.trim_start_matches('/');
        if controllers.is_empty() {
            if let Some(root) = &v2_root {
                files.push(root.join(rel).join("cgroup.procs"));
            }
            continue;
        }
        let mut wanted: Vec<&str> = controllers.split(',').collect();
        wanted.sort_unstable();
        let mount = v1_mounts.iter().find(|m| {
            let mut have: Vec<&str> = m.controllers.iter().map(String::as_str).collect();
            have.sort_unstable();
            have == wanted
        });
        if let Some(m) = mount {
            files.push(m.path.join(rel).join("cgroup.procs"));
        }
    }
    Ok(files)
}

/// Takes and releases the kernel's cgroup migration lock, changing nothing:
/// moves this process into a cgroup it is already in. Only on cgroup v1.
///
/// Why: a v1 `cgroup.procs` write takes the writer side of the kernel's
/// threadgroup rwsem, and the first writer after an idle spell waits for an
/// RCU grace period (10-20 ms on this kind of host); a writer within a grace
/// period of the last one does not wait. Called on a spare thread as a
/// container start begins, this overlaps that wait with the rest of the
/// start instead of paying it when the init joins its cgroup. v2 needs none:
/// the init is cloned into its cgroup, which takes only the reader side.
/// Returns whether it wrote.
pub fn warm_migration_lock() -> Result<bool, CgroupError> {
    if let Hierarchy::V2 { .. } = Hierarchy::detect()? {
        return Ok(false);
    }
    let pid = rustix::process::getpid().as_raw_nonzero().get();
    match procs_files_of(pid)?.first() {
        Some(own) => write(own, &pid.to_string()).map(|()| true),
        None => Ok(false),
    }
}

/// Writes a control file. The file must exist (the kernel creates them);
/// writing never creates files, so a missing controller is reported, not
/// papered over with a regular file.
pub(crate) fn write(path: &Path, value: &str) -> Result<(), CgroupError> {
    use std::io::Write;
    let mut file =
        std::fs::OpenOptions::new().write(true).truncate(true).open(path).map_err(io_err("open", path))?;
    file.write_all(value.as_bytes()).map_err(io_err("write", path))
}

pub(crate) fn read(path: &Path) -> Result<String, CgroupError> {
    std::fs::read_to_string(path).map(|s| s.trim().to_string()).map_err(io_err("read", path))
}

/// Reads an integer file; `None` for "max" or an absent file.
pub(crate) fn read_u64(path: &Path) -> Result<Option<u64>, CgroupError> {
    match std::fs::read_to_string(path) {
        Ok(s) => Ok(s.trim().parse().ok()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_err("read", path)(e)),
    }
}

/// Reads `key value` lines (memory.events, cpu.stat...) and returns `key`.
pub(crate) fn read_keyed(path: &Path, key: &str) -> Result<Option<u64>, CgroupError> {
    match std::fs::read_to_string(path) {
        Ok(s) => Ok(s.lines().find_map(|l| {
            let (k, v) = l.split_once(' ')?;
            (k == key).then(|| v.trim().parse().ok()).flatten()
        })),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_err("read", path)(e)),
    }
}

#[cfg(test)]
mod tests;
