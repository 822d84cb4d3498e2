//! Container commands: `create`, `ps`, `rm`, `rename`, `container …`.

use hyper::Method;
use serde_json::{Map, Value, json};

use api::client::Client;

use super::images::{enc, filters_query};
use super::output::{go_time, print_rows, since};
use super::{CmdResult, Failure};

/// The flags `create` and `run` share, defined once (as docker/cli's
/// `containerOptions`), turned into a create body by [`RunFlags::body`].
#[derive(Debug, Clone, clap::Args)]
pub struct RunFlags {
    /// Print help (`-h` is --hostname, as in docker)
    #[arg(long, action = clap::ArgAction::Help)]
    help: Option<bool>,
    /// Assign a name to the container
    #[arg(long)]
    pub name: Option<String>,
    /// Set environment variables
    #[arg(short, long = "env")]
    env: Vec<String>,
    /// Read in a file of environment variables
    #[arg(long)]
    env_file: Vec<std::path::PathBuf>,
    /// Working directory inside the container
    #[arg(short, long)]
    workdir: Option<String>,
    /// Username or UID (format: <name|uid>[:<group|gid>])
    #[arg(short, long)]
    user: Option<String>,
    /// Overwrite the default ENTRYPOINT of the image
    #[arg(long)]
    entrypoint: Option<String>,
    /// Container host name
    #[arg(short = 'h', long)]
    hostname: Option<String>,
    /// Set meta data on a container
    #[arg(short, long = "label")]
    label: Vec<String>,
    /// Read in a line delimited file of labels
    #[arg(long)]
    label_file: Vec<std::path::PathBuf>,
    /// Allocate a pseudo-TTY
    #[arg(short, long)]
    pub tty: bool,
    /// Keep STDIN open even if not attached
    #[arg(short, long)]
    pub interactive: bool,
    /// Automatically remove the container and its associated anonymous volumes when it exits
    #[arg(long)]
    pub rm: bool,
    /// Restart policy to apply when a container exits
    #[arg(long, default_value = "no")]
    restart: String,
    /// Memory limit
    #[arg(short, long)]
    memory: Option<String>,
    /// Swap limit equal to memory plus swap: '-1' to enable unlimited swap
    #[arg(long)]
    memory_swap: Option<String>,
    /// Memory soft limit
    #[arg(long)]
    memory_reservation: Option<String>,
    /// Number of CPUs
    #[arg(long)]
    cpus: Option<f64>,
    /// CPU shares (relative weight)
    #[arg(short = 'c', long)]
    cpu_shares: Option<i64>,
    /// CPUs in which to allow execution (0-3, 0,1)
    #[arg(long)]
    cpuset_cpus: Option<String>,
    /// Tune container pids limit (set -1 for unlimited)
    #[arg(long)]
    pids_limit: Option<i64>,
    /// Signal to stop the container
    #[arg(long)]
    stop_signal: Option<String>,
    /// Timeout (in seconds) to stop a container
    #[arg(long)]
    stop_timeout: Option<i64>,
    /// Connect a container to a network
    #[arg(long, alias = "net")]
    network: Option<String>,
    /// Give extended privileges to this container
    #[arg(long)]
    privileged: bool,
    /// Mount the container's root filesystem as read only
    #[arg(long)]
    read_only: bool,
    /// Add Linux capabilities
    #[arg(long)]
    cap_add: Vec<String>,
    /// Drop Linux capabilities
    #[arg(long)]
    cap_drop: Vec<String>,
    /// Security Options
    #[arg(long)]
    security_opt: Vec<String>,
    /// Ulimit options
    #[arg(long)]
    ulimit: Vec<String>,
    /// Mount a tmpfs directory
    #[arg(long)]
    tmpfs: Vec<String>,
    /// Size of /dev/shm
    #[arg(long)]
    shm_size: Option<String>,
    /// Sysctl options
    #[arg(long)]
    sysctl: Vec<String>,
    /// Run an init inside the container that forwards signals and reaps processes
    #[arg(long)]
    init: bool,
    /// Tune host's OOM preferences (-1000 to 1000)
    #[arg(long)]
    oom_score_adj: Option<i64>,
    /// Add additional groups to join
    #[arg(long)]
    group_add: Vec<String>,
    /// Logging driver for the container
    #[arg(long)]
    log_driver: Option<String>,
    /// Log driver options
    #[arg(long)]
    log_opt: Vec<String>,
    /// Bind mount a volume
    #[arg(short, long = "volume")]
    volume: Vec<String>,
    /// Attach a filesystem mount to the container (type=bind|tmpfs,source=…,target=…[,readonly])
    #[arg(long)]
    mount: Vec<String>,
    /// Add a host device to the container (HOST[:CONTAINER[:rwm]])
    #[arg(long)]
    device: Vec<String>,
    /// Command to run to check health
    #[arg(long)]
    health_cmd: Option<String>,
    /// Time between running the check (ms|s|m|h)
    #[arg(long)]
    health_interval: Option<String>,
    /// Maximum time to allow one check to run (ms|s|m|h)
    #[arg(long)]
    health_timeout: Option<String>,
    /// Consecutive failures needed to report unhealthy
    #[arg(long)]
    health_retries: Option<i64>,
    /// Start period for the container to initialize before starting health-retries countdown (ms|s|m|h)
    #[arg(long)]
    health_start_period: Option<String>,
    /// Disable any container-specified HEALTHCHECK
    #[arg(long)]
    no_healthcheck: bool,
    /// Write the container ID to the file
    #[arg(long)]
    pub cidfile: Option<std::path::PathBuf>,
    /// Pull image before running ("always", "missing", "never")
    #[arg(long, default_value = "missing")]
    pub pull: String,
    /// The image
    pub image: String,
    /// The command and its arguments
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

fn usage(message: String) -> Failure {
    Failure { message, code: 125 }
}

/// Bytes of `64m`, `1g`, `512k`, `100` (binary units, as docker's RAMInBytes).
pub fn ram_in_bytes(s: &str) -> Result<i64, Failure> {
    let t = s.trim().to_ascii_lowercase();
    let t = t.strip_suffix('b').unwrap_or(&t);
    let (num, mult) = match t.chars().last() {
        Some('k') => (&t[..t.len() - 1], 1i64 << 10),
        Some('m') => (&t[..t.len() - 1], 1 << 20),
        Some('g') => (&t[..t.len() - 1], 1 << 30),
        Some('t') => (&t[..t.len() - 1], 1 << 40),
        _ => (t, 1),
    };
    let n: f64 = num.parse().map_err(|_| usage(format!("invalid size: '{s}'")))?;
    Ok((n * mult as f64) as i64)
}

/// Nanoseconds of a Go duration such as `30s`, `1m30s`, `500ms`.
pub fn duration_nanos(s: &str) -> Result<i64, Failure> {
    let mut total = 0f64;
    let mut rest = s.trim();
    if rest.is_empty() {
        return Err(usage(format!("invalid duration {s:?}")));
    }
    while !rest.is_empty() {
        let n_end = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        let n: f64 = rest[..n_end].parse().map_err(|_| usage(format!("invalid duration {s:?}")))?;
        rest = &rest[n_end..];
        let u_end = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let mult = match &rest[..u_end] {
            "ns" => 1.0,
            "us" | "µs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return Err(usage(format!("invalid duration {s:?}"))),
        };
        total += n * mult;
        rest = &rest[u_end..];
    }
    Ok(total as i64)
}

pub fn key_value_file(path: &std::path::Path) -> Result<Vec<String>, Failure> {
    let text = std::fs::read_to_string(path).map_err(|e| usage(format!("open {}: {e}", path.display())))?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            if l.contains('=') {
                l.to_string()
            } else {
                std::env::var(l).map(|v| format!("{l}={v}")).unwrap_or_else(|_| l.to_string())
            }
        })
        .collect())
}

impl RunFlags {
    /// The `POST /containers/create` body for these flags.
    pub fn body(&self) -> Result<Value, Failure> {
        let mut env = Vec::new();
        for f in &self.env_file {
            env.extend(key_value_file(f)?);
        }
        for e in &self.env {
            // `-e NAME` takes the value from the client's environment, as docker does.
            env.push(if e.contains('=') {
                e.clone()
            } else {
                std::env::var(e).map(|v| format!("{e}={v}")).unwrap_or_else(|_| e.clone())
            });
        }
        let mut labels = Map::new();
        for f in &self.label_file {
            for l in key_value_file(f)? {
                let (k, v) = l.split_once('=').unwrap_or((&l, ""));
                labels.insert(k.into(), json!(v));
            }
        }
        for l in &self.label {
            let (k, v) = l.split_once('=').unwrap_or((l, ""));
            labels.insert(k.into(), json!(v));
        }
        let (restart, retries) = match self.restart.split_once(':') {
            Some((n, c)) => (
                n.to_string(),
                c.parse::<i64>().map_err(|_| {
                    usage(format!(
                        "invalid restart policy format: maximum retry count must be an integer: {c}"
                    ))
                })?,
            ),
            None => (self.restart.clone(), 0),
        };
        if self.rm && !matches!(restart.as_str(), "no" | "") {
            return Err(usage("Conflicting options: --restart and --rm".into()));
        }
        let mut ulimits = Vec::new();
        for u in &self.ulimit {
            let (name, vals) =
                u.split_once('=').ok_or_else(|| usage(format!("invalid ulimit argument: {u}")))?;
            let (soft, hard) = vals.split_once(':').unwrap_or((vals, vals));
            let p = |v: &str| v.parse::<i64>().map_err(|_| usage(format!("invalid ulimit argument: {u}")));
            ulimits.push(json!({"Name": name, "Soft": p(soft)?, "Hard": p(hard)?}));
        }
        let mut tmpfs = Map::new();
        for t in &self.tmpfs {
            let (dst, opts) = t.split_once(':').unwrap_or((t, ""));
            tmpfs.insert(dst.into(), json!(opts));
        }
        let mut sysctls = Map::new();
        for s in &self.sysctl {
            let (k, v) = s.split_once('=').ok_or_else(|| {
                usage(format!("invalid argument \"{s}\" for \"--sysctl\" flag: sysctl '{s}' is not allowed"))
            })?;
            sysctls.insert(k.into(), json!(v));
        }
        let mut log_opts = Map::new();
        for o in &self.log_opt {
            let (k, v) = o.split_once('=').ok_or_else(|| usage(format!("invalid log opt {o:?}")))?;
            log_opts.insert(k.into(), json!(v));
        }
        let healthcheck = if self.no_healthcheck {
            json!({"Test": ["NONE"]})
        } else if self.health_cmd.is_some() || self.health_interval.is_some() || self.health_retries.is_some()
        {
            let d = |v: &Option<String>| v.as_deref().map(duration_nanos).transpose().map(|x| x.unwrap_or(0));
            json!({
                "Test": self.health_cmd.as_ref().map(|c| json!(["CMD-SHELL", c])).unwrap_or(Value::Null),
                "Interval": d(&self.health_interval)?,
                "Timeout": d(&self.health_timeout)?,
                "StartPeriod": d(&self.health_start_period)?,
                "Retries": self.health_retries.unwrap_or(0),
            })
        } else {
            Value::Null
        };
        let mounts = self.mount.iter().map(|m| mount_flag(m)).collect::<Result<Vec<_>, _>>()?;
        let devices: Vec<Value> = self
            .device
            .iter()
            .map(|d| {
                let mut parts = d.splitn(3, ':');
                let host = parts.next().unwrap_or_default();
                let ctr = parts.next().filter(|p| p.starts_with('/')).unwrap_or(host);
                let perms = d.rsplit(':').next().filter(|p| !p.starts_with('/')).unwrap_or("rwm");
                json!({"PathOnHost": host, "PathInContainer": ctr, "CgroupPermissions": perms})
            })
            .collect();
        let mem = |v: &Option<String>| -> Result<i64, Failure> {
            match v.as_deref() {
                None => Ok(0),
                Some("-1") => Ok(-1),
                Some(s) => ram_in_bytes(s),
            }
        };
        Ok(json!({
            "Hostname": self.hostname.clone().unwrap_or_default(),
            "User": self.user.clone().unwrap_or_default(),
            "AttachStdin": self.interactive,
            "AttachStdout": true,
            "AttachStderr": true,
            "Tty": self.tty,
            "OpenStdin": self.interactive,
            "StdinOnce": self.interactive,
            "Env": env,
            "Cmd": if self.command.is_empty() { Value::Null } else { json!(self.command) },
            "Image": self.image,
            "WorkingDir": self.workdir.clone().unwrap_or_default(),
            "Entrypoint": self.entrypoint.as_ref().map(|e| if e.is_empty() { json!([]) } else { json!([e]) }).unwrap_or(Value::Null),
            "Labels": labels,
            "StopSignal": self.stop_signal,
            "StopTimeout": self.stop_timeout,
            "Healthcheck": healthcheck,
            "HostConfig": {
                "ConsoleSize": console_size(self.tty),
                "Binds": self.volume,
                "Mounts": mounts,
                "Devices": devices,
                "NetworkMode": self.network.clone().unwrap_or_else(|| "default".into()),
                "RestartPolicy": {"Name": restart, "MaximumRetryCount": retries},
                "AutoRemove": self.rm,
                "Privileged": self.privileged,
                "ReadonlyRootfs": self.read_only,
                "CapAdd": self.cap_add,
                "CapDrop": self.cap_drop,
                "SecurityOpt": self.security_opt,
                "GroupAdd": self.group_add,
                "Init": if self.init { json!(true) } else { Value::Null },
                "OomScoreAdj": self.oom_score_adj.unwrap_or(0),
                "ShmSize": mem(&self.shm_size)?,
                "Memory": mem(&self.memory)?,
                "MemorySwap": mem(&self.memory_swap)?,
                "MemoryReservation": mem(&self.memory_reservation)?,
                "NanoCpus": self.cpus.map(|c| (c * 1e9) as i64).unwrap_or(0),
                "CpuShares": self.cpu_shares.unwrap_or(0),
                "CpusetCpus": self.cpuset_cpus.clone().unwrap_or_default(),
                "PidsLimit": self.pids_limit,
                "Ulimits": ulimits,
                "Sysctls": sysctls,
                "Tmpfs": tmpfs,
                "LogConfig": {"Type": self.log_driver.clone().unwrap_or_default(), "Config": log_opts},
            },
        }))
    }
}

/// The terminal's size as `[rows, cols]`, sent at create for a tty (as the
/// docker CLI does) so the container starts with the right size.
pub fn console_size(tty: bool) -> [u16; 2] {
    match rustix::termios::tcgetwinsize(std::io::stdout()) {
        Ok(ws) if tty => [ws.ws_row, ws.ws_col],
        _ => [0, 0],
    }
}

/// `--mount type=bind,source=/a,target=/b,readonly` as a `HostConfig.Mounts` entry.
fn mount_flag(spec: &str) -> Result<Value, Failure> {
    let mut m = Map::new();
    let mut tmpfs = Map::new();
    let mut kind = "volume".to_string();
    for field in spec.split(',') {
        let (k, v) = field.split_once('=').unwrap_or((field, ""));
        match k {
            "type" => kind = v.to_string(),
            "source" | "src" => {
                m.insert("Source".into(), json!(v));
            }
            "target" | "destination" | "dst" => {
                m.insert("Target".into(), json!(v));
            }
            "readonly" | "ro" => {
                m.insert("ReadOnly".into(), json!(v.is_empty() || v == "true" || v == "1"));
            }
            "tmpfs-size" => {
                tmpfs.insert("SizeBytes".into(), json!(ram_in_bytes(v)?));
            }
            "tmpfs-mode" => {
                let mode =
                    u32::from_str_radix(v, 8).map_err(|_| usage(format!("invalid tmpfs-mode {v:?}")))?;
                tmpfs.insert("Mode".into(), json!(mode));
            }
            "bind-propagation" | "consistency" => {}
            _ => {
                return Err(usage(format!(
                    "invalid argument \"{spec}\" for \"--mount\" flag: unexpected key '{k}' in '{field}'"
                )));
            }
        }
    }
    m.insert("Type".into(), json!(kind));
    if !tmpfs.is_empty() {
        m.insert("TmpfsOptions".into(), Value::Object(tmpfs));
    }
    Ok(Value::Object(m))
}

/// `POST /containers/create`; returns the new container's ID.
pub async fn create_container(client: &Client, flags: &RunFlags) -> Result<String, Failure> {
    let body = flags.body()?;
    let path = match &flags.name {
        Some(n) => format!("/containers/create?name={}", enc(n)),
        None => "/containers/create".into(),
    };
    let resp = client
        .request(
            Method::POST,
            &path,
            api::client::full(serde_json::to_vec(&body).expect("json")),
            Some("application/json"),
        )
        .await
        .map_err(|e| Failure { message: e.to_string(), code: 125 })?;
    let v = api::client::read_json(resp).await?;
    let id = v["Id"].as_str().unwrap_or_default().to_string();
    if let Some(f) = &flags.cidfile {
        std::fs::write(f, &id)
            .map_err(|e| Failure { message: format!("writing the container ID file: {e}"), code: 125 })?;
    }
    Ok(id)
}

pub async fn create(client: &Client, flags: RunFlags) -> CmdResult {
    println!("{}", create_container(client, &flags).await?);
    Ok(())
}

#[derive(Debug, clap::Args)]
pub struct PsOpts {
    /// Show all containers (default shows just running)
    #[arg(short, long)]
    all: bool,
    /// Only display container IDs
    #[arg(short, long)]
    quiet: bool,
    /// Filter output based on conditions provided
    #[arg(short, long = "filter")]
    filter: Vec<String>,
    /// Format output using a custom template
    #[arg(long)]
    format: Option<String>,
    /// Show n last created containers (includes all states)
    #[arg(short = 'n', long, default_value_t = -1)]
    last: i64,
    /// Show the latest created container (includes all states)
    #[arg(short, long)]
    latest: bool,
    /// Don't truncate output
    #[arg(long)]
    no_trunc: bool,
    /// Display total file sizes
    #[arg(short, long)]
    size: bool,
}

pub(crate) const PS_HEADERS: &str = r#"{"ID":"CONTAINER ID","Image":"IMAGE","Command":"COMMAND","CreatedAt":"CREATED AT","RunningFor":"CREATED","Status":"STATUS","Ports":"PORTS","Names":"NAMES","Labels":"LABELS","Size":"SIZE","State":"STATE","Mounts":"MOUNTS","Networks":"NETWORKS","LocalVolumes":"LOCAL VOLUMES"}"#;

pub async fn ps(client: &Client, o: PsOpts) -> CmdResult {
    let mut q = Vec::new();
    let limit = if o.latest { 1 } else { o.last };
    if o.all || limit > 0 {
        q.push("all=1".to_string());
    }
    if limit > 0 {
        q.push(format!("limit={limit}"));
    }
    if o.size {
        q.push("size=1".to_string());
    }
    let f = filters_query(&o.filter)?;
    if !f.is_empty() {
        q.push(format!("filters={}", enc(&f)));
    }
    let list = client.get_json(&format!("/containers/json?{}", q.join("&"))).await?;
    let rows: Vec<Value> = list.as_array().into_iter().flatten().map(|c| ps_row(c, o.no_trunc)).collect();
    if o.quiet {
        for r in &rows {
            println!("{}", r["ID"].as_str().unwrap_or_default());
        }
        return Ok(());
    }
    let default = if o.size {
        "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}\t{{.Size}}"
    } else {
        "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}"
    };
    let format = o.format.as_deref().map(|f| if f == "table" { default } else { f });
    print_rows(format, default, &serde_json::from_str(PS_HEADERS).expect("headers"), &rows)
}

/// A row of `ps` (and of `system df -v`) from a `GET /containers/json` entry.
pub(crate) fn ps_row(c: &Value, no_trunc: bool) -> Value {
    let id = c["Id"].as_str().unwrap_or_default();
    let mut command = c["Command"].as_str().unwrap_or_default().to_string();
    if !no_trunc && command.chars().count() > 20 {
        command = command.chars().take(19).collect::<String>() + "…";
    }
    let created = c["Created"].as_i64().unwrap_or(0);
    let labels = c["Labels"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default();
    let names: Vec<&str> = c["Names"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(|n| n.trim_start_matches('/'))
        .collect();
    // Docker names a mount by its volume, else its source.
    let mounts: Vec<&str> = c["Mounts"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| m["Name"].as_str().filter(|n| !n.is_empty()).or(m["Source"].as_str()).unwrap_or_default())
        .collect();
    let human = |k: &str| api::units::human_size(c[k].as_u64().unwrap_or(0), 3);
    let size = match c["SizeRootFs"].as_u64() {
        Some(_) => format!("{} (virtual {})", human("SizeRw"), human("SizeRootFs")),
        None => human("SizeRw"),
    };
    json!({
        "ID": if no_trunc { id.to_string() } else { id.chars().take(12).collect() },
        "Image": c["Image"],
        "Command": format!("\"{command}\""),
        "CreatedAt": go_time(created),
        "RunningFor": since(created),
        "Status": c["Status"],
        "State": c["State"],
        "Ports": "",
        "Names": names.join(","),
        "Labels": labels,
        "Mounts": mounts.join(","),
        "Networks": c["HostConfig"]["NetworkMode"],
        "LocalVolumes": "0",
        "Size": size,
        "Platform": null,
    })
}

#[derive(Debug, clap::Args)]
pub struct RmOpts {
    /// Force the removal of a running container (uses SIGKILL)
    #[arg(short, long)]
    force: bool,
    /// Remove anonymous volumes associated with the container
    #[arg(short, long)]
    volumes: bool,
    #[arg(required = true)]
    containers: Vec<String>,
}

pub async fn rm(client: &Client, o: RmOpts) -> CmdResult {
    let mut failed = Vec::new();
    for c in &o.containers {
        let path = format!("/containers/{}?force={}&v={}", enc(c), o.force as u8, o.volumes as u8);
        match client.request(Method::DELETE, &path, api::client::empty(), None).await {
            Ok(_) => println!("{c}"),
            Err(e) => failed.push(e.to_string()),
        }
    }
    if failed.is_empty() { Ok(()) } else { Err(Failure { message: failed.join("\n"), code: 1 }) }
}

#[derive(Debug, clap::Args)]
pub struct RenameOpts {
    container: String,
    new_name: String,
}

pub async fn rename(client: &Client, o: RenameOpts) -> CmdResult {
    client
        .request(
            Method::POST,
            &format!("/containers/{}/rename?name={}", enc(&o.container), enc(&o.new_name)),
            api::client::empty(),
            None,
        )
        .await?;
    Ok(())
}

#[derive(Debug, clap::Subcommand)]
pub enum ContainerCommand {
    /// Create a new container
    #[command(disable_help_flag = true)]
    Create(Box<RunFlags>),
    /// List containers
    #[command(alias = "list", alias = "ps")]
    Ls(PsOpts),
    /// Remove one or more containers
    #[command(alias = "remove")]
    Rm(RmOpts),
    /// Rename a container
    Rename(RenameOpts),
    /// Display detailed information on one or more containers
    Inspect(super::images::InspectOpts),
    /// cp, diff, commit, export
    #[command(flatten)]
    Files(super::files::FilesCommand),
    /// prune, pause, unpause, top, stats, update
    #[command(flatten)]
    Ops(super::ops::ContainerOpsCommand),
}

pub async fn container(client: &Client, c: ContainerCommand) -> CmdResult {
    match c {
        ContainerCommand::Create(f) => create(client, *f).await,
        ContainerCommand::Ls(o) => ps(client, o).await,
        ContainerCommand::Rm(o) => rm(client, o).await,
        ContainerCommand::Rename(o) => rename(client, o).await,
        ContainerCommand::Inspect(o) => super::images::inspect_kind(client, o, Some("container")).await,
        ContainerCommand::Files(c) => super::files::files(client, c).await,
        ContainerCommand::Ops(c) => super::ops::container_ops(client, c).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_durations_parse_like_docker() {
        assert_eq!(ram_in_bytes("64m").unwrap(), 64 << 20);
        assert_eq!(ram_in_bytes("1g").unwrap(), 1 << 30);
        assert_eq!(ram_in_bytes("512").unwrap(), 512);
        assert_eq!(ram_in_bytes("1.5k").unwrap(), 1536);
        assert!(ram_in_bytes("lots").is_err());
        assert_eq!(duration_nanos("1m30s").unwrap(), 90_000_000_000);
        assert_eq!(duration_nanos("500ms").unwrap(), 500_000_000);
        assert!(duration_nanos("5").is_err());
    }
}
