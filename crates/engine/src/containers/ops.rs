//! Operations on a container beyond its lifecycle: pause and unpause (the
//! shim's freezer), top (the host's `ps` over the container's cgroup),
//! stats (cgroup figures), live resource updates, and prune.
//!
//! The daemon finds a running container's cgroup from the spec in its
//! bundle (the shim created it from the same spec), reads its processes and
//! figures there, and writes new limits there; the shim keeps owning the
//! cgroup's life (it removes it when the container is gone).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use runtime::cgroups::{Cgroup, Hierarchy, Resources};
use serde_json::{Value, json};

use super::lifecycle::signal_number;
use super::shim_client::ShimClient;
use super::{Container, HostConfig, Status};
use crate::{Engine, Error, Filters, Result};

/// `ps` output restricted to a container's processes (`GET /containers/{id}/top`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Top {
    pub titles: Vec<String>,
    pub processes: Vec<Vec<String>>,
}

/// One block I/O figure of a device (`blkio_stats` entries).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlkioEntry {
    pub major: u64,
    pub minor: u64,
    /// `Read`, `Write`, … (cgroup v1) or `read`/`write` (v2), as Docker reports them.
    pub op: String,
    pub value: u64,
}

/// One reading of a container's resource usage, for `docker stats`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StatsSample {
    /// When it was read, RFC 3339 with nanoseconds.
    pub read: String,
    pub cgroup_v2: bool,
    pub cpu_total_ns: u64,
    /// Per CPU (cgroup v1 only).
    pub cpu_percpu_ns: Vec<u64>,
    pub cpu_user_ns: u64,
    pub cpu_kernel_ns: u64,
    /// The host's CPU time (all CPUs, all modes) from `/proc/stat`.
    pub system_cpu_ns: u64,
    pub online_cpus: u32,
    pub throttling_periods: u64,
    pub throttled_periods: u64,
    pub throttled_time_ns: u64,
    pub memory_usage: u64,
    /// cgroup v1 only.
    pub memory_max_usage: Option<u64>,
    /// cgroup v1 only.
    pub memory_failcnt: Option<u64>,
    /// The cgroup's limit, or the host's memory when it has none.
    pub memory_limit: u64,
    /// `memory.stat`, as the kernel writes it.
    pub memory_stat: BTreeMap<String, u64>,
    pub pids_current: u64,
    pub pids_limit: Option<u64>,
    pub blkio_bytes: Vec<BlkioEntry>,
    pub blkio_ios: Vec<BlkioEntry>,
}

/// What `POST /containers/prune` removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PrunedContainers {
    pub deleted: Vec<String>,
    pub space_reclaimed: u64,
}

const PRUNE_FILTERS: &[&str] = &["until", "label", "label!"];

/// Period Docker uses to turn `--cpus` into a CFS quota, in microseconds.
const CPU_PERIOD: u64 = 100_000;

/// Linux's USER_HZ: the unit of `/proc/stat` and `cpuacct.stat`.
const CLOCK_TICKS: u64 = 100;

impl Engine {
    /// `POST /containers/{id}/pause`: freezes every process of the container.
    pub async fn pause_container(&self, name: &str) -> Result<()> {
        let c = self.container(name)?;
        match c.state.status {
            Status::Paused => return Err(Error::Conflict(format!("Container {} is already paused", c.id))),
            Status::Restarting => return Err(restarting(&c)),
            s if !s.is_active() => return Err(not_running(&c)),
            _ => {}
        }
        ShimClient::new(&self.bundle_dir(&c.id))
            .call(json!({"op": "pause"}))
            .await
            .map_err(|e| Error::Internal(format!("Cannot pause container {}: {e}", c.id)))?;
        let c = self.update_container(&c.id, |c| {
            if c.state.status == Status::Running {
                c.state.status = Status::Paused;
            }
        })?;
        self.container_event("pause", &c, BTreeMap::new());
        Ok(())
    }

    /// `POST /containers/{id}/unpause`.
    pub async fn unpause_container(&self, name: &str) -> Result<()> {
        let c = self.container(name)?;
        if c.state.status != Status::Paused {
            return Err(Error::Conflict(format!("Container {} is not paused", c.id)));
        }
        ShimClient::new(&self.bundle_dir(&c.id))
            .call(json!({"op": "resume"}))
            .await
            .map_err(|e| Error::Internal(format!("Cannot unpause container {}: {e}", c.id)))?;
        self.mark_unpaused(&c.id)
    }

    fn mark_unpaused(&self, id: &str) -> Result<()> {
        let mut was_paused = false;
        let c = self.update_container(id, |c| {
            if c.state.status == Status::Paused {
                c.state.status = Status::Running;
                was_paused = true;
            }
        })?;
        if was_paused {
            self.container_event("unpause", &c, BTreeMap::new());
        }
        Ok(())
    }

    /// After `stop` or `kill` signalled a paused container: thaws it so the
    /// signal is delivered, as Docker does for the stop signal (any signal
    /// when the container has no stop signal of its own) and SIGKILL.
    pub(crate) async fn thaw_after_signal(&self, c: &Container, signo: i32) {
        let Ok(now) = self.container(&c.id) else { return };
        if now.state.status != Status::Paused {
            return;
        }
        let stop_signal = now.config.stop_signal.as_deref().filter(|s| !s.is_empty());
        let thaw = signo == 9 || stop_signal.is_none_or(|s| signal_number(s).ok() == Some(signo));
        if !thaw {
            return;
        }
        // After SIGKILL the shim has thawed the container itself.
        let _ = ShimClient::new(&self.bundle_dir(&c.id)).call(json!({"op": "resume"})).await;
        let _ = self.mark_unpaused(&c.id);
    }

    /// The cgroup of a running container, from the spec in its bundle.
    pub fn container_cgroup(&self, id: &str) -> Result<Cgroup> {
        let path = self.bundle_dir(id).join("spec.json");
        let bytes =
            std::fs::read(&path).map_err(|e| Error::Internal(format!("reading {}: {e}", path.display())))?;
        let v: Value = serde_json::from_slice(&bytes)
            .map_err(|e| Error::Internal(format!("parsing {}: {e}", path.display())))?;
        let rt = &v["runtime"];
        let hierarchy = match rt.get("cgroup_hierarchy").filter(|h| !h.is_null()) {
            Some(h) => serde_json::from_value::<Hierarchy>(h.clone())
                .map_err(|e| Error::Internal(format!("parsing {}: {e}", path.display())))?,
            None => Hierarchy::detect().map_err(|e| Error::Internal(e.to_string()))?,
        };
        let text = |k: &str| rt["cgroup"][k].as_str().unwrap_or_default().to_string();
        Cgroup::new(hierarchy, &text("parent"), &text("name")).map_err(|e| Error::Internal(e.to_string()))
    }

    /// `GET /containers/{id}/top?ps_args=`: runs the host's `ps` and keeps
    /// the rows of the container's processes, as Docker does.
    pub async fn top_container(&self, name: &str, ps_args: &str) -> Result<Top> {
        let ps_args = if ps_args.is_empty() { "-ef" } else { ps_args };
        validate_ps_args(ps_args)?;
        let c = self.container(name)?;
        if c.state.status == Status::Restarting {
            return Err(restarting(&c));
        }
        if !c.state.status.is_active() {
            return Err(not_running(&c));
        }
        let pids = self.container_cgroup(&c.id)?.pids().map_err(|e| Error::Internal(e.to_string()))?;
        let args: Vec<&str> = ps_args.split(' ').collect();
        let pid_list = pids.iter().map(i32::to_string).collect::<Vec<_>>().join(",");
        // `-q` asks ps for just these processes; some options (forest
        // listings) refuse it, so ps runs again without.
        let mut out = run_ps(&args, Some(&pid_list)).await;
        if out.as_ref().is_ok_and(|o| !o.status.success()) || out.is_err() {
            out = run_ps(&args, None).await;
        }
        let out = out.map_err(|e| Error::Internal(format!("ps: {e}")))?;
        if !out.status.success() {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let line = stderr.lines().next().filter(|l| !l.is_empty()).unwrap_or("ps failed").to_string();
            return Err(Error::Internal(format!("ps: {line}")));
        }
        let top = parse_ps_output(&String::from_utf8_lossy(&out.stdout), &pids)?;
        self.container_event("top", &c, BTreeMap::new());
        Ok(top)
    }

    /// One reading of a container's figures; `None` when it is not running.
    pub async fn container_stats(&self, name: &str) -> Result<(Container, Option<StatsSample>)> {
        let c = self.container(name)?;
        if !c.state.status.is_active() || c.state.status == Status::Restarting {
            return Ok((c, None));
        }
        let answer = match ShimClient::new(&self.bundle_dir(&c.id)).call(json!({"op": "stats"})).await {
            Ok(a) => a,
            // Exited meanwhile.
            Err(_) if !self.container(&c.id).is_ok_and(|c| c.state.status.is_active()) => {
                return Ok((c, None));
            }
            Err(e) => return Err(e),
        };
        let cgroup = self.container_cgroup(&c.id)?;
        let s = answer["stats"].clone();
        let sample = tokio::task::spawn_blocking(move || sample(&s, &cgroup))
            .await
            .map_err(|e| Error::Internal(e.to_string()))?;
        Ok((c, Some(sample)))
    }

    /// `POST /containers/{id}/update`: merges the new resources and restart
    /// policy into the container's HostConfig (Docker's rules), writes the
    /// new limits to the cgroup of a running container and saves the
    /// record. Returns Docker's warnings.
    pub async fn update_container_config(&self, name: &str, mut req: HostConfig) -> Result<Vec<String>> {
        req.validate().map_err(Error::InvalidArgument)?;
        let c = self.container(name)?;
        let cannot = |e: String| format!("Cannot update container {}: {e}", c.id);
        if matches!(c.state.status, Status::Removing | Status::Dead) {
            return Err(Error::Conflict(cannot(
                "container is marked for removal and cannot be \"update\"".into(),
            )));
        }
        let running = matches!(c.state.status, Status::Running | Status::Paused);
        let cgroup = if running { Some(self.container_cgroup(&c.id)?) } else { None };
        let mut warnings = Vec::new();
        let swap_limit = match &cgroup {
            Some(cg) => swap_limit_supported(cg),
            None => Hierarchy::detect().ok().is_none_or(|h| hierarchy_has_swap_limit(&h)),
        };
        if req.memory > 0 && req.memory_swap != -1 && !swap_limit {
            warnings.push(
                "Your kernel does not support swap limit capabilities or the cgroup is not mounted. Memory limited without swap."
                    .to_string(),
            );
            req.memory_swap = -1;
        }
        let merged = merge_update(&c.host_config, &req).map_err(|e| Error::Conflict(cannot(e)))?;
        if let Some(cg) = cgroup {
            let resources = live_resources(&req, &merged);
            tokio::task::spawn_blocking(move || cg.apply(&resources))
                .await
                .map_err(|e| Error::Internal(e.to_string()))?
                .map_err(|e| Error::Internal(cannot(e.to_string())))?;
        }
        let c = self.update_container(&c.id, |c| c.host_config = merged)?;
        self.container_event("update", &c, BTreeMap::new());
        Ok(warnings)
    }

    /// `POST /containers/prune`: removes every container that is not
    /// running and passes the filters (`until`, `label`, `label!`).
    pub async fn prune_containers(&self, filters: &Filters) -> Result<PrunedContainers> {
        filters.validate(PRUNE_FILTERS)?;
        let until = filters.get("until").first().map(|u| crate::images::parse_until(u)).transpose()?;
        let mut pruned = PrunedContainers::default();
        for c in self.list_containers() {
            if c.state.status.is_active() || c.state.status == Status::Removing {
                continue;
            }
            let created = image::config::parse_rfc3339(&c.created).unwrap_or(0);
            if until.is_some_and(|u| created > u) || !labels_pass(&c, filters) {
                continue;
            }
            let size = image::fsutil::disk_usage(&self.container_dir(&c.id).join("upper"));
            match self.remove_container(&c.id, false).await {
                Ok(()) => {
                    pruned.space_reclaimed += size;
                    pruned.deleted.push(c.id.clone());
                }
                Err(e) => tracing::warn!(id = %c.short_id(), "prune: {e}"),
            }
        }
        let mut attrs = BTreeMap::new();
        attrs.insert("reclaimed".to_string(), pruned.space_reclaimed.to_string());
        self.events.publish("container", "prune", "", attrs);
        Ok(pruned)
    }
}

fn not_running(c: &Container) -> Error {
    Error::Conflict(format!("Container {} is not running", c.id))
}

fn restarting(c: &Container) -> Error {
    Error::Conflict(format!("Container {} is restarting, wait until the container is running", c.id))
}

fn labels_pass(c: &Container, filters: &Filters) -> bool {
    let get = |k: &str| c.config.labels.as_ref().and_then(|l| l.get(k).cloned());
    filters.labels_match("label", &get)
        && filters.get("label!").iter().all(|f| match f.split_once('=') {
            Some((k, v)) => get(k).as_deref() != Some(v),
            None => get(f).is_none(),
        })
}

async fn run_ps(args: &[&str], pids: Option<&str>) -> std::io::Result<std::process::Output> {
    let mut cmd = tokio::process::Command::new("ps");
    cmd.args(args.iter().filter(|a| !a.is_empty()));
    if let Some(p) = pids.filter(|p| !p.is_empty()) {
        cmd.arg("-q").arg(p);
    }
    cmd.stdin(std::process::Stdio::null()).output().await
}

/// Refuses `-o x=PID…`, which would rename the PID column Docker keys on.
pub fn validate_ps_args(args: &str) -> Result<()> {
    // Docker's `\s+(\S*)=\s*(PID\S*)`: a key after a blank, `=`, a value starting with PID.
    for (i, _) in args.match_indices('=') {
        let Some(blank) = args[..i].rfind(|c: char| c.is_ascii_whitespace()) else { continue };
        let key = &args[blank + 1..i];
        let after = args[i + 1..].trim_start_matches(|c: char| c.is_ascii_whitespace());
        if !after.starts_with("PID") {
            continue;
        }
        let value: String = after.chars().take_while(|c| !c.is_ascii_whitespace()).collect();
        if key != "pid" {
            return Err(Error::InvalidArgument(format!("specifying \"{key}={value}\" is not allowed")));
        }
    }
    Ok(())
}

/// Keeps the rows of `ps` whose PID is one of `pids` (and, after such a
/// row, its thread rows, whose PID is `-`), merging the fields that
/// overhang the last title into one, as Docker does.
pub fn parse_ps_output(output: &str, pids: &[i32]) -> Result<Top> {
    let mut lines = output.split('\n');
    let titles: Vec<String> =
        lines.next().unwrap_or_default().split_ascii_whitespace().map(String::from).collect();
    let pid_index = titles
        .iter()
        .position(|t| t == "PID")
        .ok_or_else(|| Error::Internal("Couldn't find PID field in ps output".into()))?;
    let mut top = Top { titles, processes: Vec::new() };
    let mut after_ours = false;
    for line in lines.filter(|l| !l.is_empty()) {
        let fields: Vec<&str> = line.split_ascii_whitespace().collect();
        let Some(pid) = fields.get(pid_index) else { continue };
        let ours = if *pid == "-" {
            after_ours
        } else {
            let p: i32 = pid.parse().map_err(|e| Error::Internal(format!("Unexpected pid '{pid}': {e}")))?;
            after_ours = pids.contains(&p);
            after_ours
        };
        if ours {
            let n = top.titles.len();
            let mut row: Vec<String> =
                fields[..(n - 1).min(fields.len())].iter().map(|s| s.to_string()).collect();
            row.push(fields.get(n - 1..).map(|r| r.join(" ")).unwrap_or_default());
            top.processes.push(row);
        }
    }
    Ok(top)
}

/// Docker's `UpdateContainer`: the request's non-zero fields replace the
/// container's, with its conflicts.
pub fn merge_update(current: &HostConfig, req: &HostConfig) -> Result<HostConfig, String> {
    let mut h = current.clone();
    if req.nano_cpus > 0 && h.cpu_period > 0 {
        return Err(
            "Conflicting options: CPU Period cannot be updated as NanoCPUs has already been set".into()
        );
    }
    if req.nano_cpus > 0 && h.cpu_quota > 0 {
        return Err(
            "Conflicting options: CPU Quota cannot be updated as NanoCPUs has already been set".into()
        );
    }
    if req.cpu_period > 0 && h.nano_cpus > 0 {
        return Err(
            "Conflicting options: NanoCPUs cannot be updated as CPU Period has already been set".into()
        );
    }
    if req.cpu_quota > 0 && h.nano_cpus > 0 {
        return Err(
            "Conflicting options: NanoCPUs cannot be updated as CPU Quota has already been set".into()
        );
    }
    if req.blkio_weight != 0 {
        h.blkio_weight = req.blkio_weight;
    }
    if req.cpu_shares != 0 {
        h.cpu_shares = req.cpu_shares;
    }
    if req.nano_cpus != 0 {
        h.nano_cpus = req.nano_cpus;
    }
    if req.cpu_period != 0 {
        h.cpu_period = req.cpu_period;
    }
    if req.cpu_quota != 0 {
        h.cpu_quota = req.cpu_quota;
    }
    if !req.cpuset_cpus.is_empty() {
        h.cpuset_cpus.clone_from(&req.cpuset_cpus);
    }
    if !req.cpuset_mems.is_empty() {
        h.cpuset_mems.clone_from(&req.cpuset_mems);
    }
    if req.memory != 0 {
        // The swap Docker worked out at create: twice the memory, unless set.
        let swap = effective_swap(current);
        if req.memory > swap && req.memory_swap == 0 {
            return Err("Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time".into());
        }
        if req.memory_swap == 0 && current.memory_swap == 0 {
            h.memory_swap = swap;
        }
        h.memory = req.memory;
    }
    if req.memory_swap != 0 {
        h.memory_swap = req.memory_swap;
    }
    if req.memory_reservation != 0 {
        h.memory_reservation = req.memory_reservation;
    }
    if req.pids_limit.is_some() {
        h.pids_limit = req.pids_limit;
    }
    if !req.restart_policy.name.is_empty() {
        if req.restart_policy.name != "no" && current.auto_remove {
            return Err(
                "Restart policy cannot be updated because AutoRemove is enabled for the container".into()
            );
        }
        h.restart_policy = req.restart_policy.clone();
    }
    Ok(h)
}

/// The memory+swap limit a container has: as set, or twice its memory
/// (Docker's default for `--memory` alone), or none.
fn effective_swap(h: &HostConfig) -> i64 {
    match (h.memory, h.memory_swap) {
        (_, s) if s != 0 => s,
        (m, _) if m > 0 => m * 2,
        _ => 0,
    }
}

/// The limits to write to a running container's cgroup: what the request
/// changes (as `runc update` applies only what it is given), with memory
/// and swap written together since each bounds the other.
pub fn live_resources(req: &HostConfig, merged: &HostConfig) -> Resources {
    let nz = |v: i64| (v != 0).then_some(v);
    let mut r = Resources::default();
    if req.memory != 0 || req.memory_swap != 0 {
        r.memory = nz(merged.memory);
        r.memory_swap = nz(merged.memory_swap);
    }
    r.memory_reservation = nz(req.memory_reservation);
    r.cpu_shares = (req.cpu_shares > 0).then_some(req.cpu_shares as u64);
    if req.nano_cpus > 0 {
        r.cpu_quota = Some((req.nano_cpus as u64 * CPU_PERIOD / 1_000_000_000) as i64);
        r.cpu_period = Some(CPU_PERIOD);
    } else {
        r.cpu_quota = nz(req.cpu_quota);
        r.cpu_period = (req.cpu_period > 0).then_some(req.cpu_period as u64);
    }
    r.cpuset_cpus = (!req.cpuset_cpus.is_empty()).then(|| req.cpuset_cpus.clone());
    r.cpuset_mems = (!req.cpuset_mems.is_empty()).then(|| req.cpuset_mems.clone());
    r.pids_limit = req.pids_limit;
    r.blkio_weight = (req.blkio_weight > 0).then_some(req.blkio_weight);
    r
}

/// The v1 directory of `controller` for this cgroup, or the v2 directory.
fn controller_dir(cg: &Cgroup, controller: &str) -> Option<PathBuf> {
    match cg.hierarchy() {
        Hierarchy::V1 { mounts } => mounts
            .iter()
            .find(|m| m.controllers.iter().any(|c| c == controller))
            .map(|m| m.path.join(cg.path())),
        Hierarchy::V2 { root } => Some(root.join(cg.path())),
    }
}

fn swap_limit_supported(cg: &Cgroup) -> bool {
    match cg.hierarchy() {
        Hierarchy::V1 { .. } => {
            controller_dir(cg, "memory").is_some_and(|d| d.join("memory.memsw.limit_in_bytes").exists())
        }
        Hierarchy::V2 { .. } => {
            controller_dir(cg, "memory").is_some_and(|d| d.join("memory.swap.max").exists())
        }
    }
}

fn hierarchy_has_swap_limit(h: &Hierarchy) -> bool {
    match h {
        Hierarchy::V1 { mounts } => mounts
            .iter()
            .find(|m| m.controllers.iter().any(|c| c == "memory"))
            .is_some_and(|m| m.path.join("memory.memsw.limit_in_bytes").exists()),
        // The root has no swap files of its own; assume the common case.
        Hierarchy::V2 { .. } => true,
    }
}

/// Builds a sample from the shim's figures and the cgroup's detail files.
fn sample(shim: &Value, cg: &Cgroup) -> StatsSample {
    let u = |k: &str| shim[k].as_u64();
    let (system_cpu_ns, online_cpus) = host_cpu();
    let mut s = StatsSample {
        read: image::config::now_rfc3339(),
        cgroup_v2: matches!(cg.hierarchy(), Hierarchy::V2 { .. }),
        cpu_total_ns: u("cpu_usage_ns").unwrap_or(0),
        system_cpu_ns,
        online_cpus,
        memory_usage: u("memory_usage").unwrap_or(0),
        memory_max_usage: u("memory_max_usage"),
        memory_limit: u("memory_limit").unwrap_or(u64::MAX).min(host_memory()),
        pids_current: u("pids_current").unwrap_or(0),
        pids_limit: u("pids_limit"),
        ..Default::default()
    };
    if s.cgroup_v2 {
        let Some(dir) = controller_dir(cg, "cpu") else { return s };
        let cpu = keyed(&dir.join("cpu.stat"));
        s.cpu_user_ns = cpu.get("user_usec").copied().unwrap_or(0) * 1000;
        s.cpu_kernel_ns = cpu.get("system_usec").copied().unwrap_or(0) * 1000;
        s.throttling_periods = cpu.get("nr_periods").copied().unwrap_or(0);
        s.throttled_periods = cpu.get("nr_throttled").copied().unwrap_or(0);
        s.throttled_time_ns = cpu.get("throttled_usec").copied().unwrap_or(0) * 1000;
        s.memory_stat = keyed(&dir.join("memory.stat"));
        s.memory_max_usage = None;
        s.blkio_bytes = io_stat_v2(&dir.join("io.stat"));
    } else {
        if let Some(d) = controller_dir(cg, "cpuacct") {
            s.cpu_percpu_ns = read_text(&d.join("cpuacct.usage_percpu"))
                .split_ascii_whitespace()
                .filter_map(|v| v.parse().ok())
                .collect();
            let st = keyed(&d.join("cpuacct.stat"));
            s.cpu_user_ns = st.get("user").copied().unwrap_or(0) * (1_000_000_000 / CLOCK_TICKS);
            s.cpu_kernel_ns = st.get("system").copied().unwrap_or(0) * (1_000_000_000 / CLOCK_TICKS);
        }
        if let Some(d) = controller_dir(cg, "cpu") {
            let st = keyed(&d.join("cpu.stat"));
            s.throttling_periods = st.get("nr_periods").copied().unwrap_or(0);
            s.throttled_periods = st.get("nr_throttled").copied().unwrap_or(0);
            s.throttled_time_ns = st.get("throttled_time").copied().unwrap_or(0);
        }
        if let Some(d) = controller_dir(cg, "memory") {
            s.memory_stat = keyed(&d.join("memory.stat"));
            s.memory_failcnt = read_text(&d.join("memory.failcnt")).trim().parse().ok();
        }
        if let Some(d) = controller_dir(cg, "blkio") {
            let pick = |names: &[&str]| {
                names.iter().map(|n| blkio_v1(&d.join(n))).find(|v| !v.is_empty()).unwrap_or_default()
            };
            s.blkio_bytes = pick(&[
                "blkio.throttle.io_service_bytes_recursive",
                "blkio.io_service_bytes_recursive",
                "blkio.bfq.io_service_bytes_recursive",
            ]);
            s.blkio_ios = pick(&[
                "blkio.throttle.io_serviced_recursive",
                "blkio.io_serviced_recursive",
                "blkio.bfq.io_serviced_recursive",
            ]);
        }
    }
    s
}

fn read_text(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_default()
}

/// `key value` lines (memory.stat, cpu.stat, cpuacct.stat).
fn keyed(p: &Path) -> BTreeMap<String, u64> {
    read_text(p)
        .lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(' ')?;
            Some((k.to_string(), v.trim().parse().ok()?))
        })
        .collect()
}

/// `8:0 Read 4096` lines of cgroup v1's blkio files (without the totals).
fn blkio_v1(p: &Path) -> Vec<BlkioEntry> {
    read_text(p)
        .lines()
        .filter_map(|l| {
            let mut f = l.split_ascii_whitespace();
            let (dev, op, value) = (f.next()?, f.next()?, f.next()?);
            let (major, minor) = dev.split_once(':')?;
            Some(BlkioEntry {
                major: major.parse().ok()?,
                minor: minor.parse().ok()?,
                op: op.to_string(),
                value: value.parse().ok()?,
            })
        })
        .collect()
}

/// cgroup v2's `io.stat` (`8:0 rbytes=1 wbytes=2 …`) as Docker reports it:
/// read and write bytes per device.
fn io_stat_v2(p: &Path) -> Vec<BlkioEntry> {
    let mut out = Vec::new();
    for line in read_text(p).lines() {
        let mut f = line.split_ascii_whitespace();
        let Some((major, minor)) = f.next().and_then(|d| d.split_once(':')) else { continue };
        let (Ok(major), Ok(minor)) = (major.parse(), minor.parse()) else { continue };
        for kv in f {
            let (op, value) = match kv.split_once('=') {
                Some(("rbytes", v)) => ("read", v),
                Some(("wbytes", v)) => ("write", v),
                _ => continue,
            };
            if let Ok(value) = value.parse() {
                out.push(BlkioEntry { major, minor, op: op.into(), value });
            }
        }
    }
    out
}

/// The host's CPU time in nanoseconds (the first seven fields of the `cpu`
/// line of /proc/stat, as Docker sums them) and its number of CPUs.
fn host_cpu() -> (u64, u32) {
    parse_proc_stat(&read_text(Path::new("/proc/stat")))
}

pub fn parse_proc_stat(text: &str) -> (u64, u32) {
    let mut total = 0;
    let mut cpus = 0;
    for line in text.lines() {
        let mut f = line.split_ascii_whitespace();
        match f.next() {
            Some("cpu") => {
                let ticks: u64 = f.take(7).filter_map(|v| v.parse::<u64>().ok()).sum();
                total = ticks * (1_000_000_000 / CLOCK_TICKS);
            }
            Some(name) if name.starts_with("cpu") => cpus += 1,
            _ => {}
        }
    }
    (total, cpus)
}

/// The host's memory in bytes (`MemTotal`), Docker's limit for a container without one.
fn host_memory() -> u64 {
    read_text(Path::new("/proc/meminfo"))
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.split_ascii_whitespace().next()?.parse::<u64>().ok())
        .map(|kib| kib * 1024)
        .unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PS: &str = "UID        PID  PPID  C STIME TTY          TIME CMD
root         1     0  0 04:48 ?        00:00:21 /sbin/init splash
root       200     1  0 04:48 ?        00:00:00 sleep 1000
root       201   200  0 04:48 ?        00:00:00 sh -c while true; do sleep 1; done
";

    #[test]
    fn ps_rows_of_the_container_only() {
        let top = parse_ps_output(PS, &[200, 201]).unwrap();
        assert_eq!(top.titles, ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"]);
        assert_eq!(top.processes.len(), 2);
        assert_eq!(top.processes[0][7], "sleep 1000");
        assert_eq!(top.processes[1][7], "sh -c while true; do sleep 1; done");
        assert_eq!(top.processes[1][1], "201");
        let top = parse_ps_output("  PID COMMAND\n  200 sleep 1000\n    1 init\n", &[200]).unwrap();
        assert_eq!(top.processes, [["200", "sleep 1000"]]);
        assert!(parse_ps_output("USER COMMAND\nroot x\n", &[1]).is_err());
    }

    #[test]
    fn thread_rows_follow_their_process() {
        let out = "  PID   TID CMD\n  200     - sleep\n    -   200 -\n    1     - init\n    -     1 -\n";
        let top = parse_ps_output(out, &[200]).unwrap();
        assert_eq!(top.processes.len(), 2);
    }

    #[test]
    fn ps_args_may_not_rename_the_pid_column() {
        assert!(validate_ps_args("-ef").is_ok());
        assert!(validate_ps_args("-o pid,args").is_ok());
        assert!(validate_ps_args("-o pid=PID").is_ok());
        let e = validate_ps_args("-o user=PID").unwrap_err();
        assert_eq!(e.to_string(), "specifying \"user=PID\" is not allowed");
    }

    #[test]
    fn update_follows_docker() {
        let cur = HostConfig { memory: 64 << 20, ..Default::default() };
        let req = HostConfig { memory: 128 << 20, ..Default::default() };
        let h = merge_update(&cur, &req).unwrap();
        assert_eq!(h.memory, 128 << 20);
        assert_eq!(h.memory_swap, 128 << 20);
        let req = HostConfig { memory: 256 << 20, ..Default::default() };
        assert!(merge_update(&cur, &req).unwrap_err().starts_with("Memory limit should be smaller"));
        let req = HostConfig { memory: 256 << 20, memory_swap: 512 << 20, ..Default::default() };
        assert_eq!(merge_update(&cur, &req).unwrap().memory_swap, 512 << 20);
        let cur = HostConfig { nano_cpus: 1_000_000_000, ..Default::default() };
        let req = HostConfig { cpu_quota: 50_000, ..Default::default() };
        assert!(merge_update(&cur, &req).unwrap_err().contains("NanoCPUs cannot be updated"));
        let req = HostConfig { pids_limit: Some(10), cpu_shares: 512, ..Default::default() };
        let h = merge_update(&cur, &req).unwrap();
        assert_eq!((h.pids_limit, h.cpu_shares, h.nano_cpus), (Some(10), 512, 1_000_000_000));
        let cur = HostConfig { auto_remove: true, ..Default::default() };
        let mut req = HostConfig::default();
        req.restart_policy.name = "always".into();
        assert!(merge_update(&cur, &req).unwrap_err().contains("AutoRemove"));
    }

    #[test]
    fn live_resources_are_what_changes() {
        let cur = HostConfig { memory: 64 << 20, cpu_shares: 100, ..Default::default() };
        let req = HostConfig { memory: 96 << 20, ..Default::default() };
        let merged = merge_update(&cur, &req).unwrap();
        let r = live_resources(&req, &merged);
        assert_eq!(r.memory, Some(96 << 20));
        assert_eq!(r.memory_swap, Some(128 << 20));
        assert_eq!(r.cpu_shares, None);
        let req = HostConfig { nano_cpus: 500_000_000, ..Default::default() };
        let r = live_resources(&req, &req);
        assert_eq!((r.cpu_quota, r.cpu_period, r.memory), (Some(50_000), Some(100_000), None));
    }

    #[test]
    fn proc_stat_sums_seven_fields() {
        let text = "cpu  100 0 50 1000 10 0 5 7 0 0\ncpu0 50 0 25 500 5 0 2 3 0 0\ncpu1 50 0 25 500 5 0 3 4 0 0\nintr 1\n";
        assert_eq!(parse_proc_stat(text), (1165 * 10_000_000, 2));
    }

    #[test]
    fn blkio_files_parse() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, "8:0 Read 4096\n8:0 Write 512\n8:0 Total 4608\nTotal 4608\n").unwrap();
        let e = blkio_v1(&p);
        assert_eq!(e.len(), 3);
        assert_eq!(e[1], BlkioEntry { major: 8, minor: 0, op: "Write".into(), value: 512 });
        std::fs::write(&p, "8:0 rbytes=10 wbytes=20 rios=1 wios=2 dbytes=0 dios=0\n").unwrap();
        let e = io_stat_v2(&p);
        assert_eq!(e.len(), 2);
        assert_eq!((e[0].op.as_str(), e[0].value, e[1].op.as_str(), e[1].value), ("read", 10, "write", 20));
    }
}
