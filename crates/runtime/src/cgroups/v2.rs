//! cgroup v2: one tree, controllers enabled top-down.

use std::path::Path;
use std::time::{Duration, Instant};

use super::{CgroupError, Resources, Stats, io_err, read, read_keyed, read_u64, write};

/// Controllers berth enables for containers, in the kernel's order.
const WANTED: &[&str] = &["cpuset", "cpu", "io", "memory", "hugetlb", "pids"];

pub(super) fn create(root: &Path, rel: &Path) -> Result<(), CgroupError> {
    // Walk down from the root: each ancestor must exist and delegate the
    // controllers to its children before the leaf can use them.
    let mut dir = root.to_path_buf();
    for part in rel.iter() {
        enable_controllers(&dir)?;
        dir.push(part);
        match std::fs::create_dir(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(io_err("create", &dir)(e)),
        }
    }
    Ok(())
}

/// Enables in `dir/cgroup.subtree_control` every wanted controller that
/// `dir/cgroup.controllers` offers.
fn enable_controllers(dir: &Path) -> Result<(), CgroupError> {
    let available = read(&dir.join("cgroup.controllers"))?;
    let enabled = read(&dir.join("cgroup.subtree_control")).unwrap_or_default();
    let missing: Vec<&str> = WANTED
        .iter()
        .copied()
        .filter(|c| available.split_whitespace().any(|a| a == *c))
        .filter(|c| !enabled.split_whitespace().any(|e| e == *c))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let control = dir.join("cgroup.subtree_control");
    let all: Vec<String> = missing.iter().map(|c| format!("+{c}")).collect();
    if write(&control, &all.join(" ")).is_ok() {
        return Ok(());
    }
    // One refused controller (e.g. cpuset in a threaded subtree) fails the
    // whole write; enable the others one by one.
    for c in missing {
        let _ = write(&control, &format!("+{c}"));
    }
    Ok(())
}

/// Docker's cpu shares (2..262144, default 1024) to cgroup v2 cpu.weight
/// (1..10000, default 100), runc's formula.
pub(super) fn cpu_weight(shares: u64) -> u64 {
    let shares = shares.clamp(2, 262_144);
    1 + ((shares - 2) * 9999) / 262_142
}

/// Docker's blkio weight (10..1000) to io.weight (1..10000), runc's formula.
pub(super) fn io_weight(blkio: u16) -> u64 {
    1 + (u64::from(blkio.clamp(10, 1000)) - 10) * 9999 / 990
}

fn limit(v: i64) -> String {
    if v < 0 { "max".to_string() } else { v.to_string() }
}

pub(super) fn apply(dir: &Path, r: &Resources) -> Result<(), CgroupError> {
    let need = |file: &str, controller: &'static str| -> Result<std::path::PathBuf, CgroupError> {
        let p = dir.join(file);
        if p.exists() { Ok(p) } else { Err(CgroupError::MissingController(controller)) }
    };
    if let Some(m) = r.memory {
        write(&need("memory.max", "memory")?, &limit(m))?;
    }
    if let Some(swap) = r.memory_swap {
        // Docker's value is memory+swap; v2 limits swap alone.
        let swap_max = dir.join("memory.swap.max");
        if swap_max.exists() {
            let value = match (swap, r.memory) {
                (s, _) if s < 0 => "max".to_string(),
                (s, Some(m)) if m > 0 => {
                    if s < m {
                        return Err(CgroupError::InvalidValue("memory-swap below memory"));
                    }
                    (s - m).to_string()
                }
                (s, _) => s.to_string(),
            };
            write(&swap_max, &value)?;
        }
    }
    if let Some(v) = r.memory_reservation {
        write(&need("memory.low", "memory")?, &v.max(0).to_string())?;
    }
    if let Some(shares) = r.cpu_shares.filter(|s| *s != 0) {
        write(&need("cpu.weight", "cpu")?, &cpu_weight(shares).to_string())?;
    }
    if r.cpu_quota.is_some() || r.cpu_period.is_some() {
        let period = r.cpu_period.unwrap_or(100_000);
        let quota = match r.cpu_quota {
            Some(q) if q > 0 => q.to_string(),
            _ => "max".to_string(),
        };
        write(&need("cpu.max", "cpu")?, &format!("{quota} {period}"))?;
    }
    if let Some(cpus) = &r.cpuset_cpus {
        write(&need("cpuset.cpus", "cpuset")?, cpus)?;
    }
    if let Some(mems) = &r.cpuset_mems {
        write(&need("cpuset.mems", "cpuset")?, mems)?;
    }
    if let Some(l) = r.pids_limit {
        let value = if l <= 0 { "max".to_string() } else { l.to_string() };
        write(&need("pids.max", "pids")?, &value)?;
    }
    if let Some(weight) = r.blkio_weight {
        if !(10..=1000).contains(&weight) {
            return Err(CgroupError::InvalidValue("blkio weight (10-1000)"));
        }
        let bfq = dir.join("io.bfq.weight");
        if bfq.exists() {
            // BFQ keeps the v1 scale.
            write(&bfq, &weight.to_string())?;
        } else {
            write(&need("io.weight", "io")?, &format!("default {}", io_weight(weight)))?;
        }
    }
    Ok(())
}

pub(super) fn stats(dir: &Path) -> Result<Stats, CgroupError> {
    Ok(Stats {
        memory_usage: read_u64(&dir.join("memory.current"))?.unwrap_or(0),
        memory_limit: read_u64(&dir.join("memory.max"))?,
        memory_max_usage: read_u64(&dir.join("memory.peak"))?,
        cpu_usage_ns: read_keyed(&dir.join("cpu.stat"), "usage_usec")?.unwrap_or(0) * 1000,
        pids_current: read_u64(&dir.join("pids.current"))?.unwrap_or(0),
        pids_limit: read_u64(&dir.join("pids.max"))?,
        oom_kills: read_keyed(&dir.join("memory.events"), "oom_kill")?.unwrap_or(0),
    })
}

pub(super) fn freeze(dir: &Path, frozen: bool) -> Result<(), CgroupError> {
    write(&dir.join("cgroup.freeze"), if frozen { "1" } else { "0" })?;
    let events = dir.join("cgroup.events");
    let want = u64::from(frozen);
    let start = Instant::now();
    // cgroup.events reports when every task has actually stopped.
    while read_keyed(&events, "frozen")?.is_some_and(|v| v != want) {
        if start.elapsed() > Duration::from_secs(5) {
            return Err(CgroupError::Busy { path: events, waited: start.elapsed() });
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions_match_runc() {
        assert_eq!(cpu_weight(2), 1);
        assert_eq!(cpu_weight(1024), 39);
        assert_eq!(cpu_weight(262_144), 10_000);
        assert_eq!(io_weight(10), 1);
        assert_eq!(io_weight(500), 4950);
        assert_eq!(io_weight(1000), 10_000);
    }
}
