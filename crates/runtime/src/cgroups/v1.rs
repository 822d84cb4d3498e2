//! cgroup v1: one directory per hierarchy, controller-specific file names.

use std::path::Path;
use std::time::{Duration, Instant};

use super::{Cgroup, CgroupError, Resources, Stats, V1Mount, io_err, read, read_keyed, read_u64, write};

/// v1 reports "unlimited" as a huge page-aligned number.
const UNLIMITED_THRESHOLD: u64 = 1 << 62;

pub(super) fn create(mounts: &[V1Mount], rel: &Path) -> Result<(), CgroupError> {
    for mount in mounts {
        let dir = mount.path.join(rel);
        std::fs::create_dir_all(&dir).map_err(io_err("create", &dir))?;
        if mount.controllers.iter().any(|c| c == "cpuset") {
            init_cpuset(&mount.path, rel)?;
        }
    }
    Ok(())
}

/// New cpuset cgroups have empty `cpus` and `mems`, and adding a task to
/// one fails with ENOSPC. Copy the parent's values down the new path.
fn init_cpuset(root: &Path, rel: &Path) -> Result<(), CgroupError> {
    let mut parent = root.to_path_buf();
    for part in rel.iter() {
        let dir = parent.join(part);
        for file in ["cpuset.cpus", "cpuset.mems"] {
            let own = dir.join(file);
            if read(&own).unwrap_or_default().is_empty() {
                let inherited = read(&parent.join(file))?;
                write(&own, &inherited)?;
            }
        }
        parent = dir;
    }
    Ok(())
}

fn dir(cg: &Cgroup, controller: &'static str) -> Result<std::path::PathBuf, CgroupError> {
    cg.v1_dir(controller).ok_or(CgroupError::MissingController(controller))
}

pub(super) fn apply(cg: &Cgroup, r: &Resources) -> Result<(), CgroupError> {
    if r.memory.is_some() || r.memory_swap.is_some() || r.memory_reservation.is_some() {
        let d = dir(cg, "memory")?;
        let limit = d.join("memory.limit_in_bytes");
        let memsw = d.join("memory.memsw.limit_in_bytes");
        // Without swap accounting the memsw file does not exist; Docker then
        // ignores --memory-swap with a warning.
        let swap = r.memory_swap.filter(|_| memsw.exists());
        // The kernel insists on memory <= memory+swap at every step: when
        // raising the memory limit above the current memsw limit, move memsw
        // first.
        let current_memsw = read_u64(&memsw)?.unwrap_or(u64::MAX);
        let memsw_first = match (r.memory, swap) {
            (Some(m), Some(_)) => m < 0 || (m as u64) > current_memsw,
            _ => false,
        };
        if memsw_first && let Some(s) = swap {
            write(&memsw, &s.to_string())?;
        }
        if let Some(m) = r.memory {
            write(&limit, &m.to_string())?;
        }
        if !memsw_first && let Some(s) = swap {
            write(&memsw, &s.to_string())?;
        }
        if let Some(v) = r.memory_reservation {
            write(&d.join("memory.soft_limit_in_bytes"), &v.to_string())?;
        }
    }
    if r.cpu_shares.is_some() || r.cpu_quota.is_some() || r.cpu_period.is_some() {
        let d = dir(cg, "cpu")?;
        if let Some(shares) = r.cpu_shares {
            write(&d.join("cpu.shares"), &shares.to_string())?;
        }
        // The period first: a quota is checked against the current period.
        if let Some(period) = r.cpu_period {
            write(&d.join("cpu.cfs_period_us"), &period.to_string())?;
        }
        if let Some(quota) = r.cpu_quota {
            write(&d.join("cpu.cfs_quota_us"), &(if quota <= 0 { -1 } else { quota }).to_string())?;
        }
    }
    if r.cpuset_cpus.is_some() || r.cpuset_mems.is_some() {
        let d = dir(cg, "cpuset")?;
        if let Some(cpus) = &r.cpuset_cpus {
            write(&d.join("cpuset.cpus"), cpus)?;
        }
        if let Some(mems) = &r.cpuset_mems {
            write(&d.join("cpuset.mems"), mems)?;
        }
    }
    if let Some(limit) = r.pids_limit {
        let d = dir(cg, "pids")?;
        let value = if limit <= 0 { "max".to_string() } else { limit.to_string() };
        write(&d.join("pids.max"), &value)?;
    }
    if let Some(weight) = r.blkio_weight {
        if !(10..=1000).contains(&weight) {
            return Err(CgroupError::InvalidValue("blkio weight (10-1000)"));
        }
        let d = dir(cg, "blkio")?;
        // With the BFQ scheduler only the bfq file exists.
        let file = ["blkio.weight", "blkio.bfq.weight"]
            .iter()
            .map(|f| d.join(f))
            .find(|p| p.exists())
            .ok_or(CgroupError::MissingController("blkio weight"))?;
        write(&file, &weight.to_string())?;
    }
    Ok(())
}

pub(super) fn stats(cg: &Cgroup) -> Result<Stats, CgroupError> {
    let mut s = Stats::default();
    if let Some(d) = cg.v1_dir("memory") {
        s.memory_usage = read_u64(&d.join("memory.usage_in_bytes"))?.unwrap_or(0);
        s.memory_limit = read_u64(&d.join("memory.limit_in_bytes"))?.filter(|v| *v < UNLIMITED_THRESHOLD);
        s.memory_max_usage = read_u64(&d.join("memory.max_usage_in_bytes"))?;
        s.oom_kills = read_keyed(&d.join("memory.oom_control"), "oom_kill")?.unwrap_or(0);
    }
    if let Some(d) = cg.v1_dir("cpuacct") {
        s.cpu_usage_ns = read_u64(&d.join("cpuacct.usage"))?.unwrap_or(0);
    }
    if let Some(d) = cg.v1_dir("pids") {
        s.pids_current = read_u64(&d.join("pids.current"))?.unwrap_or(0);
        s.pids_limit = read_u64(&d.join("pids.max"))?;
    }
    Ok(s)
}

pub(super) fn freeze(cg: &Cgroup, frozen: bool) -> Result<(), CgroupError> {
    let state = dir(cg, "freezer")?.join("freezer.state");
    let want = if frozen { "FROZEN" } else { "THAWED" };
    let start = Instant::now();
    loop {
        // Writing FROZEN again re-triggers freezing of late arrivals.
        write(&state, want)?;
        if read(&state)? == want {
            return Ok(());
        }
        if start.elapsed() > Duration::from_secs(5) {
            return Err(CgroupError::Busy { path: state, waited: start.elapsed() });
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}
