//! A container's configuration in Docker's own terms (`Config` and
//! `HostConfig` of the Engine API): these are the domain of a
//! Docker-compatible engine, so the field names are Docker's. Fields berth
//! acts on are typed; every other field is kept as sent (`rest`), so
//! `inspect` gives back what the client asked for.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// `Config` of `POST /containers/create`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct ContainerConfig {
    pub hostname: String,
    pub domainname: String,
    pub user: String,
    pub attach_stdin: bool,
    pub attach_stdout: bool,
    pub attach_stderr: bool,
    pub tty: bool,
    pub open_stdin: bool,
    pub stdin_once: bool,
    pub env: Option<Vec<String>>,
    pub cmd: Option<Vec<String>>,
    pub image: String,
    pub working_dir: String,
    pub entrypoint: Option<Vec<String>>,
    pub labels: Option<BTreeMap<String, String>>,
    // Left out when unset, as Docker's `omitempty` fields.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_signal: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_timeout: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exposed_ports: Option<Map<String, Value>>,
    pub volumes: Option<Map<String, Value>>,
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

/// `HostConfig` of `POST /containers/create`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct HostConfig {
    pub binds: Option<Vec<String>>,
    pub network_mode: String,
    pub restart_policy: RestartPolicy,
    pub auto_remove: bool,
    pub privileged: bool,
    pub readonly_rootfs: bool,
    pub cap_add: Option<Vec<String>>,
    pub cap_drop: Option<Vec<String>>,
    pub security_opt: Option<Vec<String>>,
    pub group_add: Option<Vec<String>>,
    pub init: Option<bool>,
    pub oom_score_adj: i64,
    pub shm_size: i64,
    pub memory: i64,
    pub memory_swap: i64,
    pub memory_reservation: i64,
    pub nano_cpus: i64,
    pub cpu_shares: i64,
    pub cpu_period: i64,
    pub cpu_quota: i64,
    pub cpuset_cpus: String,
    pub cpuset_mems: String,
    pub pids_limit: Option<i64>,
    pub blkio_weight: u16,
    pub ulimits: Option<Vec<Ulimit>>,
    pub sysctls: Option<BTreeMap<String, String>>,
    pub tmpfs: Option<BTreeMap<String, String>>,
    pub log_config: LogConfig,
    pub mounts: Option<Vec<MountSpec>>,
    pub devices: Option<Vec<DeviceMapping>>,
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

/// An entry of `HostConfig.Mounts` (`--mount`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct MountSpec {
    #[serde(rename = "Type")]
    pub kind: String,
    pub source: String,
    pub target: String,
    pub read_only: bool,
    pub tmpfs_options: Option<TmpfsOptions>,
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct TmpfsOptions {
    pub size_bytes: i64,
    pub mode: u32,
}

/// An entry of `HostConfig.Devices` (`--device`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct DeviceMapping {
    pub path_on_host: String,
    pub path_in_container: String,
    pub cgroup_permissions: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct RestartPolicy {
    pub name: String,
    pub maximum_retry_count: i64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct LogConfig {
    #[serde(rename = "Type")]
    pub kind: String,
    pub config: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct Ulimit {
    pub name: String,
    pub soft: i64,
    pub hard: i64,
}

/// An entry of `HostConfig.Binds` (`-v SRC:DST[:OPTIONS]`), split.
#[derive(Debug, PartialEq)]
pub struct Bind<'a> {
    pub source: &'a str,
    pub destination: &'a str,
    /// Comma-separated: `ro`, `rw`, propagation and SELinux options.
    pub options: &'a str,
}

impl<'a> Bind<'a> {
    pub fn parse(b: &'a str) -> Result<Self, String> {
        let parts: Vec<&str> = b.split(':').collect();
        let (source, destination, options) = match parts.as_slice() {
            [s, d] => (*s, *d, ""),
            [s, d, o] => (*s, *d, *o),
            _ => return Err(format!("invalid volume specification: '{b}'")),
        };
        if !source.starts_with('/') {
            return Err(format!(
                "invalid volume specification: '{b}': named volumes are not supported yet; use an absolute host path"
            ));
        }
        if !destination.starts_with('/') {
            return Err(format!("invalid volume specification: '{b}': mount path must be absolute"));
        }
        if destination.trim_end_matches('/').is_empty() {
            return Err(format!(
                "invalid volume specification: '{b}': invalid mount config for type \"bind\": invalid specification: destination can't be '/'"
            ));
        }
        Ok(Bind { source, destination, options })
    }

    pub fn readonly(&self) -> bool {
        self.options.split(',').any(|o| o == "ro")
    }
}

/// An entry of `Mounts` in `inspect` and `docker ps`: what is mounted where.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct MountPoint {
    #[serde(rename = "Type")]
    pub kind: String,
    pub source: String,
    pub destination: String,
    pub mode: String,
    #[serde(rename = "RW")]
    pub rw: bool,
    pub propagation: String,
}

/// Docker's minimum memory limit.
const MIN_MEMORY: i64 = 6 * 1024 * 1024;

impl HostConfig {
    /// The binds and `--mount`s, as Docker lists them (`--tmpfs` is not).
    pub fn mount_points(&self) -> Vec<MountPoint> {
        let binds = self.binds.iter().flatten().filter_map(|b| Bind::parse(b).ok()).map(|b| MountPoint {
            kind: "bind".into(),
            source: b.source.into(),
            destination: b.destination.into(),
            mode: b.options.into(),
            rw: !b.readonly(),
            propagation: "rprivate".into(),
        });
        let mounts = self.mounts.iter().flatten().map(|m| MountPoint {
            kind: m.kind.clone(),
            source: m.source.clone(),
            destination: m.target.clone(),
            mode: String::new(),
            rw: !m.read_only,
            propagation: if m.kind == "bind" { "rprivate".into() } else { String::new() },
        });
        binds.chain(mounts).collect()
    }

    /// The network the container is on, by Docker's name: `bridge` for the
    /// default, `none`, `host`; none when it shares another container's.
    pub fn network_name(&self) -> Option<&str> {
        match self.network_mode.as_str() {
            "" | "default" | "bridge" => Some("bridge"),
            m if m.starts_with("container:") => None,
            m => Some(m),
        }
    }

    /// Refuses what Docker refuses at create time, with Docker's words.
    pub fn validate(&self) -> Result<(), String> {
        if self.memory > 0 && self.memory < MIN_MEMORY {
            return Err("Minimum memory limit allowed is 6MB".into());
        }
        if self.memory_swap > 0 && self.memory > 0 && self.memory_swap < self.memory {
            return Err("Minimum memoryswap limit should be larger than memory limit, see usage".into());
        }
        let cpus = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1) as i64;
        if self.nano_cpus != 0 && (self.nano_cpus < 10_000_000 || self.nano_cpus > cpus * 1_000_000_000) {
            return Err(format!(
                "Range of CPUs is from 0.01 to {cpus}.00, as there are only {cpus} CPUs available"
            ));
        }
        if self.nano_cpus != 0 && (self.cpu_quota != 0 || self.cpu_period != 0) {
            return Err("Conflicting options: Nano CPUs and CPU Period cannot both be set".into());
        }
        match self.restart_policy.name.as_str() {
            "" | "no" | "always" | "unless-stopped" | "on-failure" => {}
            other => {
                return Err(format!(
                    "invalid restart policy: unknown policy '{other}'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'"
                ));
            }
        }
        let publishes = self
            .rest
            .get("PortBindings")
            .and_then(Value::as_object)
            .is_some_and(|p| p.values().any(|b| b.as_array().is_some_and(|b| !b.is_empty())))
            || self.rest.get("PublishAllPorts").and_then(Value::as_bool) == Some(true);
        // Docker discards published ports on the host's network.
        if publishes && self.network_mode != "host" {
            return Err("publishing ports (-p, -P) needs bridge networking, which berth does not have yet; \
                 use --network host"
                .into());
        }
        if self.auto_remove && !matches!(self.restart_policy.name.as_str(), "" | "no") {
            return Err("can't create 'AutoRemove' container with restart policy".into());
        }
        if self.restart_policy.maximum_retry_count < 0 {
            return Err("invalid restart policy: maximum retry count can't be negative".into());
        }
        if self.restart_policy.maximum_retry_count > 0 && self.restart_policy.name != "on-failure" {
            return Err(
                "invalid restart policy: maximum retry count can only be used with 'on-failure'".into()
            );
        }
        Ok(())
    }
}

impl ContainerConfig {
    /// Fills what the client left empty from the image's config, as Docker
    /// does at create: Env (image first, client overrides), Cmd/Entrypoint,
    /// WorkingDir, User, Labels, StopSignal, Healthcheck, ExposedPorts, Volumes.
    pub fn merge_image(&mut self, image: Option<&Value>) {
        let Some(img) = image else { return };
        let list = |k: &str| img.get(k).and_then(|v| serde_json::from_value::<Vec<String>>(v.clone()).ok());
        let mut env = list("Env").unwrap_or_default();
        for e in self.env.take().unwrap_or_default() {
            let key = e.split('=').next().unwrap_or(&e).to_string();
            env.retain(|x| x.split('=').next() != Some(&key));
            env.push(e);
        }
        self.env = Some(env);
        // Docker's rules: the image's command unless the user gave an
        // entrypoint or a command; its entrypoint unless the user gave one
        // (even an empty list); `--entrypoint ""` ([""]) means none at all.
        if self.entrypoint.as_ref().is_none_or(Vec::is_empty) {
            if self.cmd.as_ref().is_none_or(Vec::is_empty) {
                self.cmd = list("Cmd");
            }
            if self.entrypoint.is_none() {
                self.entrypoint = list("Entrypoint");
            }
        }
        if self.entrypoint.as_ref().is_some_and(|e| e.len() == 1 && e[0].is_empty()) {
            self.entrypoint = None;
        }
        let text = |k: &str| img.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
        if self.working_dir.is_empty() {
            self.working_dir = text("WorkingDir");
        }
        if self.user.is_empty() {
            self.user = text("User");
        }
        if self.stop_signal.is_none() {
            self.stop_signal = img.get("StopSignal").and_then(Value::as_str).map(str::to_string);
        }
        if self.healthcheck.is_none() {
            self.healthcheck = img.get("Healthcheck").filter(|v| !v.is_null()).cloned();
        }
        let mut labels: BTreeMap<String, String> =
            img.get("Labels").and_then(|v| serde_json::from_value(v.clone()).ok()).unwrap_or_default();
        labels.extend(self.labels.take().unwrap_or_default());
        self.labels = Some(labels);
        for (field, key) in [(&mut self.exposed_ports, "ExposedPorts"), (&mut self.volumes, "Volumes")] {
            if let Some(Value::Object(m)) = img.get(key) {
                field.get_or_insert_with(Map::new).extend(m.clone());
            }
        }
    }

    /// The command the container runs: entrypoint followed by cmd.
    pub fn argv(&self) -> Vec<String> {
        self.entrypoint.iter().flatten().chain(self.cmd.iter().flatten()).cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn image_defaults_fill_the_gaps() {
        let mut c: ContainerConfig =
            serde_json::from_value(json!({"Image": "x", "Env": ["A=client"], "Labels": {"l": "c"}})).unwrap();
        c.merge_image(Some(&json!({"Env": ["PATH=/bin", "A=image"], "Cmd": ["sh"], "WorkingDir": "/w", "Labels": {"l": "i", "m": "i"}})));
        assert_eq!(c.env.as_deref().unwrap(), ["PATH=/bin", "A=client"]);
        assert_eq!(c.argv(), ["sh"]);
        assert_eq!(c.working_dir, "/w");
        assert_eq!(c.labels.as_ref().unwrap()["l"], "c");
        assert_eq!(c.labels.as_ref().unwrap()["m"], "i");
    }

    #[test]
    fn an_entrypoint_from_the_client_drops_the_image_cmd() {
        let mut c: ContainerConfig = serde_json::from_value(json!({"Entrypoint": ["echo"]})).unwrap();
        c.merge_image(Some(&json!({"Cmd": ["sh"], "Entrypoint": ["/init"]})));
        assert_eq!(c.argv(), ["echo"]);
    }

    #[test]
    fn an_empty_entrypoint_resets_the_image_one() {
        let image = json!({"Cmd": ["sh"], "Entrypoint": ["/init"]});
        // `--entrypoint "" echo hi`: the command alone.
        let mut c: ContainerConfig =
            serde_json::from_value(json!({"Entrypoint": [""], "Cmd": ["echo", "hi"]})).unwrap();
        c.merge_image(Some(&image));
        assert_eq!(c.argv(), ["echo", "hi"]);
        assert_eq!(c.entrypoint, None);
        // `--entrypoint ""` alone: nothing to run (the image's Cmd is not taken).
        let mut c: ContainerConfig = serde_json::from_value(json!({"Entrypoint": [""]})).unwrap();
        c.merge_image(Some(&image));
        assert!(c.argv().is_empty());
        // An empty list from an SDK keeps no entrypoint but takes the image's Cmd.
        let mut c: ContainerConfig = serde_json::from_value(json!({"Entrypoint": []})).unwrap();
        c.merge_image(Some(&image));
        assert_eq!(c.argv(), ["sh"]);
    }

    #[test]
    fn unknown_fields_survive_a_round_trip() {
        let raw = json!({"Memory": 0, "Dns": ["1.1.1.1"], "RestartPolicy": {"Name": "always", "MaximumRetryCount": 0}});
        let h: HostConfig = serde_json::from_value(raw).unwrap();
        assert_eq!(h.rest["Dns"], json!(["1.1.1.1"]));
        assert_eq!(serde_json::to_value(&h).unwrap()["Dns"], json!(["1.1.1.1"]));
    }

    #[test]
    fn docker_limits_are_enforced() {
        let h = HostConfig { memory: 1024, ..Default::default() };
        assert_eq!(h.validate().unwrap_err(), "Minimum memory limit allowed is 6MB");
        let h = HostConfig { nano_cpus: 999_000_000_000, ..Default::default() };
        assert!(h.validate().unwrap_err().starts_with("Range of CPUs is from 0.01 to"));
        let h = HostConfig {
            auto_remove: true,
            restart_policy: RestartPolicy { name: "always".into(), maximum_retry_count: 0 },
            ..Default::default()
        };
        assert!(h.validate().is_err());
    }
}
