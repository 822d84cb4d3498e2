//! The description of one container: everything `create` needs.
//!
//! The shapes follow what Docker puts into an OCI runtime spec, flattened to
//! what berth actually uses. [`Spec::docker_defaults`] fills in what
//! `docker run` would get with no flags; the engine then applies the user's
//! flags on top.

use std::path::PathBuf;

use crate::caps;
use crate::cgroups::{DeviceRule, Hierarchy, Resources};

/// Docker's default `PATH` for Linux containers.
pub const DEFAULT_PATH_ENV: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Size of `/dev/shm` when the caller does not choose one (Docker: 64 MiB).
pub const DEFAULT_SHM_SIZE: u64 = 64 << 20;

/// Where `Spec::init` is mounted inside the container, as Docker does.
pub const INIT_PATH: &str = "/sbin/docker-init";

/// Paths Docker hides from containers: files get `/dev/null` bound over
/// them, directories an empty read-only tmpfs.
pub const DEFAULT_MASKED_PATHS: &[&str] = &[
    "/proc/acpi",
    "/proc/asound",
    "/proc/interrupts",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/sys/devices/virtual/powercap",
    "/sys/firmware",
];

/// [`DEFAULT_MASKED_PATHS`], and each CPU's `thermal_throttle` directory
/// (Docker masks those too since GHSA-6fw5-f8r9-fgfm: writable counters
/// that leak host activity). The CPUs are listed once per process, not at
/// every container start.
fn default_masked_paths() -> Vec<String> {
    static PATHS: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    PATHS.get_or_init(list_masked_paths).clone()
}

fn list_masked_paths() -> Vec<String> {
    let mut paths: Vec<String> = DEFAULT_MASKED_PATHS.iter().map(|s| s.to_string()).collect();
    let cpus = std::fs::read_dir("/sys/devices/system/cpu").into_iter().flatten().flatten();
    let mut throttles: Vec<String> = cpus
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let n = name.strip_prefix("cpu")?;
            (!n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
                .then(|| format!("/sys/devices/system/cpu/{name}/thermal_throttle"))
        })
        .collect();
    throttles.sort();
    paths.extend(throttles);
    paths
}

/// Paths Docker makes read-only in containers.
pub const DEFAULT_READONLY_PATHS: &[&str] =
    &["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"];

/// Everything needed to create one container process.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Spec {
    /// Container id; used in error messages and, by default, as the cgroup name.
    pub id: String,
    /// The root filesystem.
    pub rootfs: Rootfs,
    /// The command. `args[0]` is looked up in the container's `PATH` unless
    /// it contains a `/`.
    pub args: Vec<String>,
    /// The environment, `KEY=value` each.
    pub env: Vec<String>,
    /// Working directory inside the container; created if missing (Docker does).
    pub cwd: String,
    /// Hostname (ignored when the UTS namespace is the host's).
    pub hostname: String,
    /// NIS domain name; empty leaves it unset.
    pub domainname: String,
    /// The user the command runs as.
    pub user: UserSpec,
    /// Which namespaces are new and which are joined.
    pub namespaces: Namespaces,
    /// Extra mounts, applied in order after the default ones (`/proc`,
    /// `/dev`, `/sys`...). The caller sorts them so parents come first.
    pub mounts: Vec<Mount>,
    /// Remount the root read-only once everything is mounted.
    pub readonly_rootfs: bool,
    /// Paths hidden from the container (see [`DEFAULT_MASKED_PATHS`]).
    pub masked_paths: Vec<String>,
    /// Paths made read-only (see [`DEFAULT_READONLY_PATHS`]).
    pub readonly_paths: Vec<String>,
    /// Capabilities of the process: effective = permitted = bounding = this
    /// set; inheritable and ambient stay empty. Names like `CAP_CHOWN`.
    pub capabilities: Vec<String>,
    /// `--privileged`: every capability, no seccomp, no masked or read-only
    /// paths, writable `/sys`, every host device.
    pub privileged: bool,
    /// Set `PR_SET_NO_NEW_PRIVS`, so setuid binaries and file capabilities
    /// cannot raise privileges.
    pub no_new_privileges: bool,
    /// The syscall filter.
    pub seccomp: Seccomp,
    /// Resource limits, applied before the user switch.
    pub rlimits: Vec<Rlimit>,
    /// Written to `/proc/self/oom_score_adj` of the init.
    pub oom_score_adj: Option<i32>,
    /// Namespaced sysctls (`net.*`, IPC ones, `kernel.domainname`...).
    /// Anything else is refused: it would change the host.
    pub sysctls: Vec<(String, String)>,
    /// Device nodes added to the default set (`--device`).
    pub devices: Vec<Device>,
    /// Size of the `/dev/shm` tmpfs in bytes.
    pub shm_size: u64,
    /// The container's cgroup and its limits.
    pub cgroup: CgroupSpec,
    /// The cgroup filesystem to use; `None` (the default) detects the
    /// host's ([`Hierarchy::detect`]). Set it to run a container in a
    /// specific tree, e.g. the cgroup2 mount beside the v1 hierarchies of a
    /// hybrid host.
    #[serde(default)]
    pub cgroup_hierarchy: Option<Hierarchy>,
    /// A host binary to run as PID 1 in front of the command (`--init`).
    /// It is bind-mounted read-only at [`INIT_PATH`] and the command becomes
    /// `[INIT_PATH, "--", args...]`.
    pub init: Option<PathBuf>,
    /// The process umask (`None`: 0022, as runc).
    pub umask: Option<u32>,
}

impl Spec {
    /// A spec with Docker's defaults for `docker run IMAGE ARGS...`: new
    /// namespaces, default capabilities, the default seccomp profile, the
    /// default masked and read-only paths, a 64 MiB `/dev/shm`, the default
    /// `PATH`, user root, working directory `/`, hostname = the first twelve
    /// characters of the id, cgroup `berth/<id>`.
    pub fn docker_defaults(id: impl Into<String>, rootfs: Rootfs, args: Vec<String>) -> Spec {
        let id = id.into();
        Spec {
            hostname: id.chars().take(12).collect(),
            cgroup: CgroupSpec {
                parent: "berth".into(),
                name: id.clone(),
                resources: Resources::default(),
                device_rules: Vec::new(),
            },
            id,
            rootfs,
            args,
            env: vec![DEFAULT_PATH_ENV.to_string()],
            cwd: "/".into(),
            domainname: String::new(),
            user: UserSpec::default(),
            namespaces: Namespaces::default(),
            mounts: Vec::new(),
            readonly_rootfs: false,
            masked_paths: default_masked_paths(),
            readonly_paths: DEFAULT_READONLY_PATHS.iter().map(|s| s.to_string()).collect(),
            capabilities: caps::DEFAULT_CAPABILITIES.iter().map(|s| s.to_string()).collect(),
            privileged: false,
            no_new_privileges: false,
            seccomp: Seccomp::Default,
            rlimits: Vec::new(),
            oom_score_adj: None,
            sysctls: Vec::new(),
            devices: Vec::new(),
            shm_size: DEFAULT_SHM_SIZE,
            init: None,
            umask: None,
            cgroup_hierarchy: None,
        }
    }

    /// The command the init will exec, with the `--init` binary in front.
    pub(crate) fn effective_args(&self) -> Vec<String> {
        match &self.init {
            Some(_) => {
                let mut args = vec![INIT_PATH.to_string(), "--".to_string()];
                args.extend(self.args.iter().cloned());
                args
            }
            None => self.args.clone(),
        }
    }
}

/// The container's root filesystem.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Rootfs {
    /// An overlay of image layers plus the container's writable layer.
    ///
    /// The overlay is mounted *inside* the container's new mount namespace,
    /// never in the caller's: nothing leaks onto the host, and the kernel
    /// unmounts it when the last process of the container exits, so there
    /// is no unmount to forget. The host sees the container's files through
    /// `/proc/<pid>/root` while it runs, and through `upper` afterwards.
    Overlay {
        /// Layer directories, top layer first (overlayfs order).
        lower: Vec<PathBuf>,
        /// The container's writable layer.
        upper: PathBuf,
        /// overlayfs' work directory, on the same filesystem as `upper`.
        work: PathBuf,
        /// An existing empty directory used as the mount point.
        target: PathBuf,
    },
    /// A directory that already holds the root filesystem; it is
    /// bind-mounted onto itself inside the container's mount namespace.
    Bind {
        /// The directory.
        path: PathBuf,
    },
}

impl Rootfs {
    /// The host path the root filesystem is assembled at.
    pub fn target(&self) -> &std::path::Path {
        match self {
            Rootfs::Overlay { target, .. } => target,
            Rootfs::Bind { path } => path,
        }
    }
}

/// Who the container process runs as.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct User {
    /// User id.
    pub uid: u32,
    /// Primary group id.
    pub gid: u32,
    /// Supplementary group ids.
    pub additional_gids: Vec<u32>,
}

/// The user as the caller knows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum UserSpec {
    /// Numeric ids, used as they are.
    Id(User),
    /// Docker's `--user` string (`""`, `name`, `uid`, `uid:gid`,
    /// `name:group`...) and `--group-add` entries, resolved against the
    /// container's own `/etc/passwd` and `/etc/group` once its root
    /// filesystem is mounted (see [`crate::resolve_user`]).
    Lookup {
        /// The `--user` value.
        user: String,
        /// The `--group-add` values (names or ids).
        group_add: Vec<String>,
    },
}

impl Default for UserSpec {
    /// Docker's default: root, with root's supplementary groups from the
    /// image's `/etc/group`.
    fn default() -> Self {
        UserSpec::Lookup { user: String::new(), group_add: Vec::new() }
    }
}

impl From<User> for UserSpec {
    fn from(user: User) -> Self {
        UserSpec::Id(user)
    }
}

/// Whether a namespace is new, the host's, or another process's.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Namespace {
    /// A fresh namespace (Docker's default).
    #[default]
    New,
    /// The caller's namespace (`--net=host`, `--pid=host`, ...).
    Host,
    /// Join an existing namespace, e.g. `/proc/<pid>/ns/net` of another
    /// container (`--net=container:other`).
    Join(PathBuf),
}

/// The namespaces of a container. Mount and cgroup namespaces are always new.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Namespaces {
    /// Network.
    pub net: Namespace,
    /// PID. `Join` makes the init an ordinary process of that namespace.
    pub pid: Namespace,
    /// System V IPC and POSIX message queues.
    pub ipc: Namespace,
    /// Hostname and domain name.
    pub uts: Namespace,
}

/// A mount applied inside the container.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Mount {
    /// Host path for binds; the filesystem's source name otherwise.
    pub source: String,
    /// Absolute path inside the container. Missing directories are created
    /// inside the root filesystem, resolving symlinks as if the root were `/`.
    pub destination: String,
    /// `bind`, `tmpfs`, `proc`... A `bind` or `rbind` option also makes a bind.
    pub fstype: String,
    /// mount(8)-style options: `ro`, `nosuid`, `rbind`, `rprivate`,
    /// `size=64m`, `mode=1777`...
    pub options: Vec<String>,
}

impl Mount {
    /// A bind mount of a host path.
    pub fn bind(source: impl Into<String>, destination: impl Into<String>, readonly: bool) -> Mount {
        let mut options = vec!["rbind".to_string()];
        if readonly {
            options.push("ro".into());
        }
        Mount { source: source.into(), destination: destination.into(), fstype: "bind".into(), options }
    }

    /// A tmpfs with Docker's `--tmpfs` defaults (`noexec,nosuid,nodev`) plus
    /// the given options.
    pub fn tmpfs(destination: impl Into<String>, options: &[&str]) -> Mount {
        let mut all: Vec<String> = vec!["noexec".into(), "nosuid".into(), "nodev".into()];
        all.extend(options.iter().map(|s| s.to_string()));
        Mount {
            source: "tmpfs".into(),
            destination: destination.into(),
            fstype: "tmpfs".into(),
            options: all,
        }
    }
}

/// The type of a device node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum DeviceKind {
    /// Character device.
    Char,
    /// Block device.
    Block,
    /// Named pipe.
    Fifo,
}

/// A device node created in the container's `/dev`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Device {
    /// Path inside the container, e.g. `/dev/fuse`.
    pub path: String,
    /// Node type.
    pub kind: DeviceKind,
    /// Major number.
    pub major: u32,
    /// Minor number.
    pub minor: u32,
    /// Permission bits of the node (e.g. 0o666).
    pub mode: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Access granted in the device cgroup: any of `r`, `w`, `m`.
    pub permissions: String,
}

/// One resource limit.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Rlimit {
    /// `RLIMIT_NOFILE`, or Docker's short form `nofile`.
    pub resource: String,
    /// Soft limit; `u64::MAX` is unlimited.
    pub soft: u64,
    /// Hard limit; `u64::MAX` is unlimited.
    pub hard: u64,
}

/// The syscall filter.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Seccomp {
    /// Docker's default profile: an allowlist that widens with the granted
    /// capabilities, every other syscall failing with `EPERM`.
    #[default]
    Default,
    /// No filter (`--security-opt seccomp=unconfined`).
    Unconfined,
    /// A profile in Docker's JSON format (`--security-opt seccomp=file.json`).
    Profile(serde_json::Value),
}

/// The container's cgroup: `<parent>/<name>` in every hierarchy.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CgroupSpec {
    /// Parent path relative to the cgroup root, e.g. `berth`.
    pub parent: String,
    /// The container's own cgroup name, usually its id.
    pub name: String,
    /// Limits.
    pub resources: Resources,
    /// Extra device cgroup rules (`--device-cgroup-rule`), after the defaults.
    pub device_rules: Vec<DeviceRule>,
}

/// What `exec` runs inside an existing container.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct ExecSpec {
    /// The command; looked up in `PATH` from `env` unless it contains `/`.
    pub args: Vec<String>,
    /// The environment.
    pub env: Vec<String>,
    /// Working directory; must exist.
    pub cwd: String,
    /// The user.
    pub user: UserSpec,
    /// Capabilities (as for [`Spec::capabilities`]).
    pub capabilities: Vec<String>,
    /// All capabilities and no seccomp (`docker exec --privileged`).
    pub privileged: bool,
    /// Set `PR_SET_NO_NEW_PRIVS`.
    pub no_new_privileges: bool,
    /// The syscall filter.
    pub seccomp: Seccomp,
    /// The process umask (`None`: 0022).
    pub umask: Option<u32>,
    /// Resource limits, as the container's init has them (`--ulimit`).
    #[serde(default)]
    pub rlimits: Vec<Rlimit>,
    /// The container's `oom_score_adj`, if it sets one.
    #[serde(default)]
    pub oom_score_adj: Option<i32>,
}

impl ExecSpec {
    /// An exec with the container's own environment, user, working
    /// directory, capabilities and seccomp profile, as `docker exec` does.
    pub fn for_container(spec: &Spec, args: Vec<String>) -> ExecSpec {
        ExecSpec {
            args,
            env: spec.env.clone(),
            cwd: spec.cwd.clone(),
            user: spec.user.clone(),
            capabilities: spec.capabilities.clone(),
            privileged: spec.privileged,
            no_new_privileges: spec.no_new_privileges,
            seccomp: spec.seccomp.clone(),
            umask: spec.umask,
            rlimits: spec.rlimits.clone(),
            oom_score_adj: spec.oom_score_adj,
        }
    }
}
