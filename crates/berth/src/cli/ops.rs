//! `pause`, `unpause`, `top`, `stats`, `update`, `port` and `container
//! prune`, with docker's output.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use api::client::{Client, ClientError};
use http_body_util::BodyExt;
use hyper::Method;
use serde_json::{Value, json};

use super::containers::ram_in_bytes;
use super::images::{enc, filters_query};
use super::output::print_rows;
use super::{CmdResult, Failure};

/// The top-level commands (`berth pause` …), also under `berth container`.
#[derive(Debug, clap::Subcommand)]
pub enum OpsCommand {
    /// Pause all processes within one or more containers
    Pause(PauseOpts),
    /// Unpause all processes within one or more containers
    Unpause(PauseOpts),
    /// Display the running processes of a container
    Top(TopOpts),
    /// Display a live stream of container(s) resource usage statistics
    Stats(StatsOpts),
    /// Update configuration of one or more containers
    Update(Box<UpdateOpts>),
    /// List port mappings or a specific mapping for the container
    Port(PortOpts),
}

/// `berth container …` commands of this module.
#[derive(Debug, clap::Subcommand)]
pub enum ContainerOpsCommand {
    /// Remove all stopped containers
    Prune(PruneOpts),
    #[command(flatten)]
    Ops(OpsCommand),
}

pub async fn ops(client: &Client, c: OpsCommand) -> CmdResult {
    match c {
        OpsCommand::Pause(o) => pause(client, o).await,
        OpsCommand::Unpause(o) => unpause(client, o).await,
        OpsCommand::Top(o) => top(client, o).await,
        OpsCommand::Stats(o) => stats(client, o).await,
        OpsCommand::Update(o) => update(client, *o).await,
        OpsCommand::Port(o) => port(client, o).await,
    }
}

pub async fn container_ops(client: &Client, c: ContainerOpsCommand) -> CmdResult {
    match c {
        ContainerOpsCommand::Prune(o) => prune(client, o).await,
        ContainerOpsCommand::Ops(o) => ops(client, o).await,
    }
}

/// Prints each container as it succeeds, and the errors at the end (exit 1).
async fn each(containers: &[String], mut f: impl AsyncFnMut(&str) -> Result<(), ClientError>) -> CmdResult {
    let mut failed = Vec::new();
    for c in containers {
        match f(c).await {
            Ok(()) => println!("{c}"),
            Err(e) => failed.push(e.to_string()),
        }
    }
    if failed.is_empty() { Ok(()) } else { Err(Failure { message: failed.join("\n"), code: 1 }) }
}

#[derive(Debug, clap::Args)]
pub struct PauseOpts {
    #[arg(required = true)]
    containers: Vec<String>,
}

pub async fn pause(client: &Client, o: PauseOpts) -> CmdResult {
    each(&o.containers, async |c| {
        client
            .request(Method::POST, &format!("/containers/{}/pause", enc(c)), api::client::empty(), None)
            .await?;
        Ok(())
    })
    .await
}

pub async fn unpause(client: &Client, o: PauseOpts) -> CmdResult {
    each(&o.containers, async |c| {
        client
            .request(Method::POST, &format!("/containers/{}/unpause", enc(c)), api::client::empty(), None)
            .await?;
        Ok(())
    })
    .await
}

#[derive(Debug, clap::Args)]
pub struct PortOpts {
    container: String,
    /// PRIVATE_PORT[/PROTO]
    private_port: Option<String>,
}

/// `docker port`: the published ports from `NetworkSettings.Ports`, one
/// `PRIVATE/PROTO -> HOST_IP:HOST_PORT` line each (or only the host side
/// for one asked-for port).
pub async fn port(client: &Client, o: PortOpts) -> CmdResult {
    let v = client.get_json(&format!("/containers/{}/json", enc(&o.container))).await?;
    let ports = v["NetworkSettings"]["Ports"].as_object().cloned().unwrap_or_default();
    let bindings = |key: &str| -> Vec<String> {
        ports
            .get(key)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|b| {
                let ip = b["HostIp"].as_str().unwrap_or_default();
                let ip = if ip.contains(':') { format!("[{ip}]") } else { ip.to_string() };
                format!("{ip}:{}", b["HostPort"].as_str().unwrap_or_default())
            })
            .collect()
    };
    if let Some(wanted) = &o.private_port {
        let key = if wanted.contains('/') { wanted.clone() } else { format!("{wanted}/tcp") };
        let found = bindings(&key);
        if found.is_empty() {
            return Err(Failure {
                message: format!("Error: No public port '{wanted}' published for {}", o.container),
                code: 1,
            });
        }
        found.iter().for_each(|b| println!("{b}"));
        return Ok(());
    }
    let mut keys: Vec<&String> = ports.keys().collect();
    keys.sort_by_key(|k| {
        let (n, proto) = k.split_once('/').unwrap_or((k, ""));
        (n.parse::<u32>().unwrap_or(0), proto.to_string())
    });
    for k in keys {
        for b in bindings(k) {
            println!("{k} -> {b}");
        }
    }
    Ok(())
}

#[derive(Debug, clap::Args)]
pub struct TopOpts {
    container: String,
    /// Options for ps
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    ps_options: Vec<String>,
}

pub async fn top(client: &Client, o: TopOpts) -> CmdResult {
    let mut path = format!("/containers/{}/top", enc(&o.container));
    if !o.ps_options.is_empty() {
        path.push_str(&format!("?ps_args={}", enc(&o.ps_options.join(" "))));
    }
    let v = client.get_json(&path).await?;
    let line = |cells: &Value| {
        cells
            .as_array()
            .into_iter()
            .flatten()
            .map(|c| c.as_str().unwrap_or_default())
            .collect::<Vec<_>>()
            .join("\t")
    };
    // docker/cli: tabwriter.NewWriter(out, 20, 1, 3, ' ', 0).
    let mut w = gotmpl::TabWriter::new(20, 1, 3, ' ');
    w.write_str(&format!("{}\n", line(&v["Titles"])));
    for p in v["Processes"].as_array().into_iter().flatten() {
        w.write_str(&format!("{}\n", line(p)));
    }
    print!("{}", w.finish());
    Ok(())
}

#[derive(Debug, clap::Args)]
pub struct UpdateOpts {
    /// Block IO (relative weight), between 10 and 1000, or 0 to disable
    #[arg(long, default_value_t = 0)]
    blkio_weight: u16,
    /// Limit CPU CFS (Completely Fair Scheduler) period
    #[arg(long, default_value_t = 0)]
    cpu_period: i64,
    /// Limit CPU CFS (Completely Fair Scheduler) quota
    #[arg(long, default_value_t = 0, allow_hyphen_values = true)]
    cpu_quota: i64,
    /// Limit the CPU real-time period in microseconds
    #[arg(long, default_value_t = 0)]
    cpu_rt_period: i64,
    /// Limit the CPU real-time runtime in microseconds
    #[arg(long, default_value_t = 0)]
    cpu_rt_runtime: i64,
    /// CPU shares (relative weight)
    #[arg(short = 'c', long, default_value_t = 0)]
    cpu_shares: i64,
    /// Number of CPUs
    #[arg(long)]
    cpus: Option<f64>,
    /// CPUs in which to allow execution (0-3, 0,1)
    #[arg(long, default_value = "")]
    cpuset_cpus: String,
    /// MEMs in which to allow execution (0-3, 0,1)
    #[arg(long, default_value = "")]
    cpuset_mems: String,
    /// Memory limit
    #[arg(short, long)]
    memory: Option<String>,
    /// Memory soft limit
    #[arg(long)]
    memory_reservation: Option<String>,
    /// Swap limit equal to memory plus swap: -1 to enable unlimited swap
    #[arg(long, allow_hyphen_values = true)]
    memory_swap: Option<String>,
    /// Tune container pids limit (set -1 for unlimited)
    #[arg(long, allow_hyphen_values = true)]
    pids_limit: Option<i64>,
    /// Restart policy to apply when a container exits
    #[arg(long)]
    restart: Option<String>,
    #[arg(required = true)]
    containers: Vec<String>,
}

impl UpdateOpts {
    fn body(&self) -> Result<Value, Failure> {
        let any = self.blkio_weight != 0
            || self.cpu_period != 0
            || self.cpu_quota != 0
            || self.cpu_rt_period != 0
            || self.cpu_rt_runtime != 0
            || self.cpu_shares != 0
            || self.cpus.is_some()
            || !self.cpuset_cpus.is_empty()
            || !self.cpuset_mems.is_empty()
            || self.memory.is_some()
            || self.memory_reservation.is_some()
            || self.memory_swap.is_some()
            || self.pids_limit.is_some()
            || self.restart.is_some();
        if !any {
            return Err("you must provide one or more flags when using this command".to_string().into());
        }
        let usage = |message: String| Failure { message, code: 125 };
        let mem = |v: &Option<String>| -> Result<i64, Failure> {
            match v.as_deref() {
                None => Ok(0),
                Some("-1") => Ok(-1),
                Some(s) => ram_in_bytes(s),
            }
        };
        let restart = match &self.restart {
            None => json!({}),
            Some(r) => {
                let (name, count) = match r.split_once(':') {
                    Some((n, c)) => (
                        n,
                        c.parse::<i64>().map_err(|_| {
                            usage(format!(
                                "invalid restart policy format: maximum retry count must be an integer: {c}"
                            ))
                        })?,
                    ),
                    None => (r.as_str(), 0),
                };
                json!({"Name": name, "MaximumRetryCount": count})
            }
        };
        Ok(json!({
            "CpuShares": self.cpu_shares,
            "Memory": mem(&self.memory)?,
            "NanoCpus": self.cpus.map(|c| (c * 1e9) as i64).unwrap_or(0),
            "CgroupParent": "",
            "BlkioWeight": self.blkio_weight,
            "BlkioWeightDevice": null,
            "BlkioDeviceReadBps": null,
            "BlkioDeviceWriteBps": null,
            "BlkioDeviceReadIOps": null,
            "BlkioDeviceWriteIOps": null,
            "CpuPeriod": self.cpu_period,
            "CpuQuota": self.cpu_quota,
            "CpuRealtimePeriod": self.cpu_rt_period,
            "CpuRealtimeRuntime": self.cpu_rt_runtime,
            "CpusetCpus": self.cpuset_cpus,
            "CpusetMems": self.cpuset_mems,
            "Devices": null,
            "DeviceCgroupRules": null,
            "DeviceRequests": null,
            "MemoryReservation": mem(&self.memory_reservation)?,
            "MemorySwap": mem(&self.memory_swap)?,
            "MemorySwappiness": null,
            "OomKillDisable": null,
            "PidsLimit": self.pids_limit,
            "Ulimits": null,
            "CpuCount": 0,
            "CpuPercent": 0,
            "IOMaximumIOps": 0,
            "IOMaximumBandwidth": 0,
            "RestartPolicy": restart,
        }))
    }
}

pub async fn update(client: &Client, o: UpdateOpts) -> CmdResult {
    let body = serde_json::to_vec(&o.body()?).expect("json");
    each(&o.containers, async |c| {
        let resp = client
            .request(
                Method::POST,
                &format!("/containers/{}/update", enc(c)),
                api::client::full(body.clone()),
                Some("application/json"),
            )
            .await?;
        let v = api::client::read_json(resp).await?;
        for w in v["Warnings"].as_array().into_iter().flatten() {
            eprintln!("{}", w.as_str().unwrap_or_default());
        }
        Ok(())
    })
    .await
}

#[derive(Debug, clap::Args)]
pub struct PruneOpts {
    /// Provide filter values (e.g. "until=<timestamp>")
    #[arg(long)]
    filter: Vec<String>,
    /// Do not prompt for confirmation
    #[arg(short, long)]
    force: bool,
}

pub async fn prune(client: &Client, o: PruneOpts) -> CmdResult {
    if !o.force {
        eprint!(
            "WARNING! This will remove all stopped containers.\nAre you sure you want to continue? [y/N] "
        );
        let mut answer = String::new();
        std::io::stdin().read_line(&mut answer)?;
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            return Ok(());
        }
    }
    let f = filters_query(&o.filter)?;
    let path = if f.is_empty() {
        "/containers/prune".to_string()
    } else {
        format!("/containers/prune?filters={}", enc(&f))
    };
    let v = client.send_json(Method::POST, &path).await?;
    let deleted: Vec<&str> =
        v["ContainersDeleted"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
    if !deleted.is_empty() {
        println!("Deleted Containers:");
        for id in deleted {
            println!("{id}");
        }
        println!();
    }
    println!(
        "Total reclaimed space: {}",
        api::units::human_size(v["SpaceReclaimed"].as_u64().unwrap_or(0), 3)
    );
    Ok(())
}

#[derive(Debug, clap::Args)]
pub struct StatsOpts {
    /// Show all containers (default shows just running)
    #[arg(short, long)]
    all: bool,
    /// Format output using a custom template
    #[arg(long)]
    format: Option<String>,
    /// Disable streaming stats and only pull the first result
    #[arg(long)]
    no_stream: bool,
    /// Do not truncate output
    #[arg(long)]
    no_trunc: bool,
    containers: Vec<String>,
}

const STATS_HEADERS: &str = r#"{"Container":"CONTAINER","ID":"CONTAINER ID","Name":"NAME","CPUPerc":"CPU %","MemUsage":"MEM USAGE / LIMIT","MemPerc":"MEM %","NetIO":"NET I/O","BlockIO":"BLOCK I/O","PIDs":"PIDS"}"#;
const STATS_TABLE: &str = "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}";

/// `units.BytesSize`: binary units with four significant digits (`23.54GiB`).
fn bytes_size(bytes: f64) -> String {
    const UNITS: [&str; 7] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let mut v = bytes;
    let mut i = 0;
    while v >= 1024.0 && i < UNITS.len() - 1 {
        v /= 1024.0;
        i += 1;
    }
    let digits = if v < 1.0 { 1 } else { v.log10().floor() as usize + 1 };
    let decimals = 4usize.saturating_sub(digits);
    let mut s = format!("{v:.decimals$}");
    if s.contains('.') {
        s = s.trim_end_matches('0').trim_end_matches('.').to_string();
    }
    format!("{s}{}", UNITS[i])
}

/// One row of `docker stats` from a stats document, as docker/cli computes it.
fn stats_row(container: &str, v: &Value, no_trunc: bool) -> Value {
    let u = |x: &Value| x.as_u64().unwrap_or(0) as f64;
    let cpu = &v["cpu_stats"];
    let pre = &v["precpu_stats"];
    let cpu_delta = u(&cpu["cpu_usage"]["total_usage"]) - u(&pre["cpu_usage"]["total_usage"]);
    let system_delta = u(&cpu["system_cpu_usage"]) - u(&pre["system_cpu_usage"]);
    let mut online = u(&cpu["online_cpus"]);
    if online == 0.0 {
        online = cpu["cpu_usage"]["percpu_usage"].as_array().map_or(0, Vec::len) as f64;
    }
    let cpu_percent =
        if system_delta > 0.0 && cpu_delta > 0.0 { cpu_delta / system_delta * online * 100.0 } else { 0.0 };
    let mem = &v["memory_stats"];
    let usage = u(&mem["usage"]);
    let stats = &mem["stats"];
    let used = match (stats.get("total_inactive_file"), stats.get("inactive_file")) {
        (Some(x), _) if u(x) < usage => usage - u(x),
        (None, Some(x)) if u(x) < usage => usage - u(x),
        _ => usage,
    };
    let limit = u(&mem["limit"]);
    let mem_percent = if limit > 0.0 { used / limit * 100.0 } else { 0.0 };
    let (mut rx, mut tx) = (0u64, 0u64);
    for n in v["networks"].as_object().into_iter().flat_map(|m| m.values()) {
        rx += n["rx_bytes"].as_u64().unwrap_or(0);
        tx += n["tx_bytes"].as_u64().unwrap_or(0);
    }
    let (mut read, mut write) = (0u64, 0u64);
    for e in v["blkio_stats"]["io_service_bytes_recursive"].as_array().into_iter().flatten() {
        match e["op"].as_str().and_then(|o| o.chars().next()) {
            Some('r' | 'R') => read += e["value"].as_u64().unwrap_or(0),
            Some('w' | 'W') => write += e["value"].as_u64().unwrap_or(0),
            _ => {}
        }
    }
    let id = v["id"].as_str().unwrap_or_default();
    let size = |n: u64| api::units::human_size(n, 3);
    json!({
        "Container": container,
        "ID": if no_trunc { id.to_string() } else { id.chars().take(12).collect() },
        "Name": v["name"].as_str().unwrap_or_default().trim_start_matches('/'),
        "CPUPerc": format!("{cpu_percent:.2}%"),
        "MemUsage": format!("{} / {}", bytes_size(used), bytes_size(limit)),
        "MemPerc": format!("{mem_percent:.2}%"),
        "NetIO": format!("{} / {}", size(rx), size(tx)),
        "BlockIO": format!("{} / {}", size(read), size(write)),
        "PIDs": v["pids_stats"]["current"].as_u64().unwrap_or(0).to_string(),
    })
}

/// The containers to show: the named ones, or the (running, or all) list by short ID.
async fn stats_targets(client: &Client, o: &StatsOpts) -> Result<Vec<String>, Failure> {
    if !o.containers.is_empty() {
        return Ok(o.containers.clone());
    }
    let list = client.get_json(if o.all { "/containers/json?all=1" } else { "/containers/json" }).await?;
    Ok(list
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["Id"].as_str())
        .map(|id| id.chars().take(12).collect())
        .collect())
}

pub async fn stats(client: &Client, o: StatsOpts) -> CmdResult {
    let format = o.format.as_deref().map(|f| if f == "table" { STATS_TABLE } else { f });
    let headers: Value = serde_json::from_str(STATS_HEADERS).expect("headers");
    if o.no_stream {
        let targets = stats_targets(client, &o).await?;
        let tasks: Vec<_> = targets
            .iter()
            .map(|c| {
                let (client, c) = (client.clone(), c.clone());
                tokio::spawn(async move {
                    client.get_json(&format!("/containers/{}/stats?stream=0", enc(&c))).await
                })
            })
            .collect();
        let mut rows = Vec::new();
        let mut failed = Vec::new();
        for (c, t) in targets.iter().zip(tasks) {
            match t.await.map_err(|e| e.to_string())? {
                Ok(v) => rows.push(stats_row(c, &v, o.no_trunc)),
                Err(e) => failed.push(e.to_string()),
            }
        }
        if !failed.is_empty() {
            return Err(Failure { message: failed.join("\n"), code: 1 });
        }
        return print_rows(format, STATS_TABLE, &headers, &rows);
    }
    live_stats(client, &o, format, &headers).await
}

/// The live view: a stream per container, the table redrawn twice a second;
/// without names, containers that start (or, with `--all`, appear) are added.
async fn live_stats(client: &Client, o: &StatsOpts, format: Option<&str>, headers: &Value) -> CmdResult {
    let rows: Arc<Mutex<BTreeMap<String, Value>>> = Arc::default();
    let mut order: Vec<String> = Vec::new();
    let mut relist = true;
    loop {
        if relist {
            for c in stats_targets(client, o).await? {
                if order.contains(&c) {
                    continue;
                }
                order.push(c.clone());
                let (client, rows, no_trunc) = (client.clone(), rows.clone(), o.no_trunc);
                let named = !o.containers.is_empty();
                let placeholder = json!({"id": c, "name": c});
                rows.lock().expect("rows").insert(c.clone(), stats_row(&c, &placeholder, no_trunc));
                tokio::spawn(async move {
                    if let Err(e) = stream_stats(&client, &c, &rows, no_trunc).await
                        && named
                    {
                        eprintln!("{e}");
                    }
                });
            }
        }
        let snapshot: Vec<Value> = {
            let r = rows.lock().expect("rows");
            order.iter().filter_map(|c| r.get(c).cloned()).collect()
        };
        print!("\x1b[2J\x1b[H");
        print_rows(format, STATS_TABLE, headers, &snapshot)?;
        relist = !relist;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

async fn stream_stats(
    client: &Client,
    c: &str,
    rows: &Mutex<BTreeMap<String, Value>>,
    no_trunc: bool,
) -> Result<(), ClientError> {
    let resp = client
        .request(Method::GET, &format!("/containers/{}/stats?stream=1", enc(c)), api::client::empty(), None)
        .await?;
    let mut body = resp.into_body();
    let mut pending = Vec::new();
    while let Some(frame) = body.frame().await {
        let Ok(data) = frame.map_err(|e| ClientError::Protocol(e.to_string()))?.into_data() else { continue };
        pending.extend_from_slice(&data);
        while let Some(nl) = pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = pending.drain(..=nl).collect();
            if let Ok(v) = serde_json::from_slice::<Value>(&line) {
                rows.lock().expect("rows").insert(c.to_string(), stats_row(c, &v, no_trunc));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_sizes_have_four_digits() {
        assert_eq!(bytes_size(25276510208.0), "23.54GiB");
        assert_eq!(bytes_size(503808.0), "492KiB");
        assert_eq!(bytes_size(67108864.0), "64MiB");
        assert_eq!(bytes_size(0.0), "0B");
    }

    #[test]
    fn rows_match_docker_cli() {
        // From the wire capture of `docker stats --no-stream` (ticker).
        let v = json!({
            "id": "e3494fcefca5013f1d21236abda9568d2c71a308beaf7ffcee596e972339d4df",
            "name": "/ticker",
            "pids_stats": {"current": 2},
            "blkio_stats": {"io_service_bytes_recursive": []},
            "cpu_stats": {"cpu_usage": {"total_usage": 42069571u64, "percpu_usage": [1, 2]}, "system_cpu_usage": 5929220000000u64, "online_cpus": 2},
            "precpu_stats": {"cpu_usage": {"total_usage": 41374945u64}, "system_cpu_usage": 5927220000000u64, "online_cpus": 2},
            "memory_stats": {"usage": 831488, "stats": {"total_inactive_file": 0}, "limit": 25276510208u64},
            "networks": {"eth0": {"rx_bytes": 656, "tx_bytes": 0}},
        });
        let r = stats_row("e3494fcefca5", &v, false);
        assert_eq!(r["CPUPerc"], "0.07%");
        assert_eq!(r["MemUsage"], "812KiB / 23.54GiB");
        assert_eq!(r["MemPerc"], "0.00%");
        assert_eq!(r["NetIO"], "656B / 0B");
        assert_eq!(r["BlockIO"], "0B / 0B");
        assert_eq!(r["PIDs"], "2");
        assert_eq!(r["ID"], "e3494fcefca5");
        assert_eq!(r["Name"], "ticker");
    }

    #[test]
    fn update_needs_a_flag() {
        use clap::Parser;
        #[derive(Debug, clap::Parser)]
        struct T {
            #[command(flatten)]
            o: UpdateOpts,
        }
        let t = T::try_parse_from(["x", "c1"]).unwrap();
        assert!(t.o.body().is_err());
        let t =
            T::try_parse_from(["x", "-m", "64m", "--memory-swap", "-1", "--restart", "on-failure:3", "c1"])
                .unwrap();
        let b = t.o.body().unwrap();
        assert_eq!(b["Memory"], 64 << 20);
        assert_eq!(b["MemorySwap"], -1);
        assert_eq!(b["RestartPolicy"], json!({"Name": "on-failure", "MaximumRetryCount": 3}));
        assert_eq!(b["PidsLimit"], Value::Null);
    }
}
