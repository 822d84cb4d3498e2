//! From a container's Docker configuration to the runtime's [`runtime::Spec`]:
//! where `docker run`'s flags become namespaces, mounts, capabilities,
//! seccomp, limits and cgroup resources.

use std::path::PathBuf;

use runtime::{CgroupSpec, Mount, Namespace, Rlimit, Rootfs, Seccomp, Spec, UserSpec};

use super::{Container, Status};
use crate::{Engine, Error, Result};

/// Period Docker uses to turn `--cpus` into a CFS quota, in microseconds.
const CPU_PERIOD: u64 = 100_000;

/// The environment of a container's process (the init, or an exec with or
/// without its own `tty`): the container's, with Docker's PATH, HOSTNAME and,
/// for a tty, TERM unless the container sets them. (HOME comes from the
/// user's passwd entry, in the runtime.)
pub(crate) fn process_env(config: &super::ContainerConfig, tty: bool) -> Vec<String> {
    let mut env = config.env.clone().unwrap_or_default();
    if !env.iter().any(|e| e.starts_with("PATH=")) {
        env.insert(0, runtime::DEFAULT_PATH_ENV.to_string());
    }
    let mut add = |k: &str, v: &str| {
        if !env.iter().any(|e| e.split('=').next() == Some(k)) {
            env.push(format!("{k}={v}"));
        }
    };
    add("HOSTNAME", &config.hostname);
    if tty {
        add("TERM", "xterm");
    }
    env
}

impl Engine {
    /// The runtime spec for running `c`; `etc` are the container's
    /// (hostname, hosts, resolv.conf) files.
    pub(crate) fn runtime_spec(&self, c: &Container, etc: &[PathBuf; 3]) -> Result<Spec> {
        let lower = self.layers_top_first(c)?;
        let dir = self.container_dir(&c.id);
        let rootfs = Rootfs::Overlay {
            lower,
            upper: dir.join("upper"),
            work: dir.join("work"),
            target: dir.join("merged"),
        };
        let args = c.config.argv();
        if args.is_empty() {
            return Err(Error::InvalidArgument("No command specified".into()));
        }
        let h = &c.host_config;
        let mut spec = Spec::docker_defaults(c.id.clone(), rootfs, args);
        spec.init = (h.init == Some(true)).then(|| self.init_binary.clone());
        spec.env = process_env(&c.config, c.config.tty);
        spec.cwd = if c.config.working_dir.is_empty() { "/".into() } else { c.config.working_dir.clone() };
        spec.hostname = c.config.hostname.clone();
        spec.domainname = c.config.domainname.clone();
        spec.user = UserSpec::Lookup {
            user: c.config.user.clone(),
            group_add: h.group_add.clone().unwrap_or_default(),
        };
        spec.namespaces.net = self.network_namespace(&h.network_mode)?;
        spec.readonly_rootfs = h.readonly_rootfs;
        spec.privileged = h.privileged;
        spec.shm_size =
            u64::try_from(h.shm_size).ok().filter(|s| *s > 0).unwrap_or(runtime::DEFAULT_SHM_SIZE);
        spec.oom_score_adj = (h.oom_score_adj != 0).then_some(h.oom_score_adj as i32);
        spec.sysctls = h.sysctls.clone().unwrap_or_default().into_iter().collect();
        spec.capabilities = capabilities(
            &spec.capabilities,
            h.cap_add.as_deref().unwrap_or_default(),
            h.cap_drop.as_deref().unwrap_or_default(),
        )?;
        for opt in h.security_opt.iter().flatten() {
            let (k, v) = opt.split_once(['=', ':']).unwrap_or((opt.as_str(), ""));
            match k {
                "no-new-privileges" => spec.no_new_privileges = v.is_empty() || v == "true",
                "seccomp" if v == "unconfined" => spec.seccomp = Seccomp::Unconfined,
                "seccomp" => {
                    // The docker CLI sends the profile file's content, not its path.
                    let profile = serde_json::from_str(v).map_err(|e| {
                        Error::InvalidArgument(format!("Decoding seccomp profile failed: {e}"))
                    })?;
                    spec.seccomp = Seccomp::Profile(profile);
                }
                // berth has no AppArmor integration: it runs unconfined, and says
                // so rather than pretend a profile applies.
                "apparmor" if v == "unconfined" => {}
                "apparmor" => {
                    return Err(Error::InvalidArgument(format!(
                        "AppArmor profile {v:?} cannot be applied: berth has no AppArmor support (only apparmor=unconfined)"
                    )));
                }
                // SELinux labels: ignored, as Docker does on hosts without SELinux.
                "label" => {}
                _ => return Err(Error::InvalidArgument(format!("Invalid --security-opt: {opt:?}"))),
            }
        }
        for u in h.ulimits.iter().flatten() {
            let resource = format!("RLIMIT_{}", u.name.to_ascii_uppercase());
            spec.rlimits.push(Rlimit { resource, soft: u.soft as u64, hard: u.hard as u64 });
        }
        let [hostname, hosts, resolv] = etc;
        let mut mounts = vec![
            Mount::bind(hostname.display().to_string(), "/etc/hostname", h.readonly_rootfs),
            Mount::bind(hosts.display().to_string(), "/etc/hosts", h.readonly_rootfs),
            Mount::bind(resolv.display().to_string(), "/etc/resolv.conf", h.readonly_rootfs),
        ];
        for b in h.binds.iter().flatten() {
            mounts.push(bind_mount(b)?);
        }
        for (dst, opts) in h.tmpfs.iter().flatten() {
            let options: Vec<&str> = opts.split(',').filter(|o| !o.is_empty()).collect();
            mounts.push(Mount::tmpfs(dst.clone(), &options));
        }
        for m in h.mounts.iter().flatten() {
            mounts.push(mount_spec(m)?);
        }
        spec.mounts = mounts;
        for dev in h.devices.iter().flatten() {
            spec.devices.push(host_device(dev)?);
        }
        spec.cgroup = CgroupSpec {
            parent: h
                .rest
                .get("CgroupParent")
                .and_then(|v| v.as_str())
                .filter(|p| !p.is_empty())
                .unwrap_or("berth")
                .to_string(),
            name: c.id.clone(),
            resources: resources(h),
            device_rules: Vec::new(),
        };
        Ok(spec)
    }

    /// `--network`: `none` and (until bridge networks exist) `default` get a
    /// new, empty namespace; `host` the host's; `container:X` X's.
    fn network_namespace(&self, mode: &str) -> Result<Namespace> {
        match mode {
            "" | "default" | "none" | "bridge" => Ok(Namespace::New),
            "host" => Ok(Namespace::Host),
            m if m.starts_with("container:") => {
                let other = self.container(&m["container:".len()..])?;
                if other.state.status != Status::Running {
                    return Err(Error::Conflict(format!(
                        "cannot join network of a non running container: {}",
                        other.id
                    )));
                }
                Ok(Namespace::Join(PathBuf::from(format!("/proc/{}/ns/net", other.state.pid))))
            }
            other => Err(Error::NotFound(format!("network {other} not found"))),
        }
    }
}

/// The capability set after `--cap-add`/`--cap-drop` (names with or without
/// `CAP_`, any case, and `ALL`), as Docker computes it.
pub fn capabilities(defaults: &[String], add: &[String], drop: &[String]) -> Result<Vec<String>> {
    let norm = |c: &String| -> Result<String> {
        let up = c.to_ascii_uppercase();
        if up == "ALL" {
            return Ok(up);
        }
        let name = if up.starts_with("CAP_") { up } else { format!("CAP_{up}") };
        runtime::caps::from_name(&name)
            .map(|_| name.clone())
            .ok_or_else(|| Error::InvalidArgument(format!("unknown capability: {c:?}")))
    };
    let add: Vec<String> = add.iter().map(norm).collect::<Result<_>>()?;
    let drop: Vec<String> = drop.iter().map(norm).collect::<Result<_>>()?;
    let mut caps: Vec<String> =
        if add.iter().any(|c| c == "ALL") { runtime::caps::all() } else { defaults.to_vec() };
    if drop.iter().any(|c| c == "ALL") {
        caps.clear();
    } else {
        caps.retain(|c| !drop.contains(c));
    }
    for c in add.into_iter().filter(|c| c != "ALL") {
        if !caps.contains(&c) {
            caps.push(c);
        }
    }
    Ok(caps)
}

/// `-v /host:/ctr[:ro|rw]` (named volumes come with the volumes feature).
fn bind_mount(b: &str) -> Result<Mount> {
    let bind = super::config::Bind::parse(b).map_err(Error::InvalidArgument)?;
    let src = bind.source;
    if !std::path::Path::new(src).exists() {
        // Docker creates a missing bind source as a directory.
        std::fs::create_dir_all(src)
            .map_err(|e| Error::InvalidArgument(format!("creating bind source {src}: {e}")))?;
    }
    Ok(Mount::bind(src, bind.destination, bind.readonly()))
}

/// `--mount type=bind|tmpfs,…` (volumes come with the volumes feature).
pub(crate) fn mount_spec(m: &super::config::MountSpec) -> Result<Mount> {
    if !m.target.starts_with('/') {
        return Err(Error::InvalidArgument(format!(
            "invalid mount config for type \"{}\": invalid mount path: '{}' mount path must be absolute",
            m.kind, m.target
        )));
    }
    match m.kind.as_str() {
        "bind" => {
            if !std::path::Path::new(&m.source).exists() {
                // Unlike -v, --mount does not create a missing source.
                return Err(Error::InvalidArgument(format!(
                    "invalid mount config for type \"bind\": bind source path does not exist: {}",
                    m.source
                )));
            }
            Ok(Mount::bind(m.source.clone(), m.target.clone(), m.read_only))
        }
        "tmpfs" => {
            let mut opts = Vec::new();
            if let Some(t) = &m.tmpfs_options {
                if t.size_bytes > 0 {
                    opts.push(format!("size={}", t.size_bytes));
                }
                if t.mode != 0 {
                    opts.push(format!("mode={:o}", t.mode));
                }
            }
            if m.read_only {
                opts.push("ro".into());
            }
            let opts: Vec<&str> = opts.iter().map(String::as_str).collect();
            Ok(Mount::tmpfs(m.target.clone(), &opts))
        }
        other => Err(Error::InvalidArgument(format!("mount type {other:?} is not supported yet"))),
    }
}

/// `--device /dev/x[:/dev/y[:rwm]]`: the host node's type and numbers.
pub(crate) fn host_device(d: &super::config::DeviceMapping) -> Result<runtime::Device> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let md = std::fs::metadata(&d.path_on_host).map_err(|e| {
        Error::InvalidArgument(format!(
            "error gathering device information while adding custom device \"{}\": {}",
            d.path_on_host,
            runtime::describe_os_error(&e)
        ))
    })?;
    let kind = if md.file_type().is_char_device() {
        runtime::DeviceKind::Char
    } else if md.file_type().is_block_device() {
        runtime::DeviceKind::Block
    } else {
        return Err(Error::InvalidArgument(format!(
            "error gathering device information while adding custom device \"{}\": not a device node",
            d.path_on_host
        )));
    };
    let rdev = md.rdev();
    Ok(runtime::Device {
        path: if d.path_in_container.is_empty() {
            d.path_on_host.clone()
        } else {
            d.path_in_container.clone()
        },
        kind,
        major: rustix::fs::major(rdev),
        minor: rustix::fs::minor(rdev),
        mode: md.mode() & 0o777,
        uid: md.uid(),
        gid: md.gid(),
        permissions: if d.cgroup_permissions.is_empty() {
            "rwm".into()
        } else {
            d.cgroup_permissions.clone()
        },
    })
}

fn resources(h: &super::HostConfig) -> runtime::cgroups::Resources {
    let pos = |v: i64| (v != 0).then_some(v);
    let (quota, period) = if h.nano_cpus > 0 {
        (Some((h.nano_cpus as u64 * CPU_PERIOD / 1_000_000_000) as i64), Some(CPU_PERIOD))
    } else {
        (pos(h.cpu_quota), (h.cpu_period > 0).then_some(h.cpu_period as u64))
    };
    runtime::cgroups::Resources {
        memory: pos(h.memory),
        memory_swap: pos(h.memory_swap),
        memory_reservation: pos(h.memory_reservation),
        cpu_shares: (h.cpu_shares > 0).then_some(h.cpu_shares as u64),
        cpu_quota: quota,
        cpu_period: period,
        cpuset_cpus: (!h.cpuset_cpus.is_empty()).then(|| h.cpuset_cpus.clone()),
        cpuset_mems: (!h.cpuset_mems.is_empty()).then(|| h.cpuset_mems.clone()),
        pids_limit: h.pids_limit.filter(|p| *p > 0),
        blkio_weight: (h.blkio_weight > 0).then_some(h.blkio_weight),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cap_add_and_drop_follow_docker() {
        let d = vec!["CAP_CHOWN".to_string(), "CAP_KILL".to_string()];
        assert_eq!(
            capabilities(&d, &["net_admin".into()], &["chown".into()]).unwrap(),
            ["CAP_KILL", "CAP_NET_ADMIN"]
        );
        assert!(capabilities(&d, &[], &["ALL".into()]).unwrap().is_empty());
        assert_eq!(capabilities(&d, &["CAP_SYS_ADMIN".into()], &["ALL".into()]).unwrap(), ["CAP_SYS_ADMIN"]);
        assert!(capabilities(&d, &["NOPE".into()], &[]).is_err());
    }

    #[test]
    fn binds_parse() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().display().to_string();
        let m = bind_mount(&format!("{src}:/data:ro")).unwrap();
        assert_eq!(m.destination, "/data");
        assert!(m.options.iter().any(|o| o == "ro"));
        assert!(bind_mount("vol:/data").is_err());
        assert!(bind_mount(&format!("{src}:rel")).is_err());
        assert!(
            bind_mount(&format!("{src}:/")).unwrap_err().to_string().contains("destination can't be '/'")
        );
    }
}
