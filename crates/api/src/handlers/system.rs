//! `/_ping`, `/version`, `/info`, `/system/df`, `/events`.

use hyper::StatusCode;
use hyper::header::{self, HeaderValue};
use serde_json::{Value, json};

use crate::body::ChannelBody;
use crate::server::{Ctx, HandlerResult, Query, full, json, streamed};
use crate::{API_VERSION, ApiError, MIN_API_VERSION};

pub(crate) fn ping(head: bool) -> HandlerResult {
    let mut r = full(StatusCode::OK, "text/plain; charset=utf-8", if head { "" } else { "OK" });
    let h = r.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache, no-store, must-revalidate"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    h.insert("Builder-Version", HeaderValue::from_static("1"));
    if head {
        h.insert(header::CONTENT_LENGTH, HeaderValue::from_static("0"));
    }
    Ok(r)
}

fn kernel_version() -> String {
    rustix::system::uname().release().to_string_lossy().into_owned()
}

pub(crate) fn version(_ctx: &Ctx) -> HandlerResult {
    let version = env!("CARGO_PKG_VERSION");
    let arch = image::config::go_arch();
    let kernel = kernel_version();
    json(&json!({
        "Platform": {"Name": "berth"},
        "Components": [{
            "Name": "Engine",
            "Version": version,
            "Details": {
                "ApiVersion": API_VERSION,
                "Arch": arch,
                "BuildTime": "",
                "Experimental": "false",
                "GitCommit": "",
                "GoVersion": "n/a (rust)",
                "KernelVersion": kernel,
                "MinAPIVersion": MIN_API_VERSION,
                "Os": "linux",
            },
        }],
        "Version": version,
        "ApiVersion": API_VERSION,
        "MinAPIVersion": MIN_API_VERSION,
        "GitCommit": "",
        "GoVersion": "n/a (rust)",
        "Os": "linux",
        "Arch": arch,
        "KernelVersion": kernel,
        "BuildTime": "",
    }))
}

/// Whether the unified cgroup v2 hierarchy is mounted at /sys/fs/cgroup.
fn cgroup_version() -> &'static str {
    if std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists() { "2" } else { "1" }
}

pub(crate) async fn info(ctx: &Ctx) -> HandlerResult {
    let images = ctx.blocking(|e| Ok(e.images.list()?.len())).await?;
    let containers = ctx.engine.list_containers();
    let count = |s: engine::containers::Status| containers.iter().filter(|c| c.state.status == s).count();
    let running = count(engine::containers::Status::Running);
    let paused = count(engine::containers::Status::Paused);
    let uname = rustix::system::uname();
    let mem_total = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines().next().and_then(|l| l.split_whitespace().nth(1)).and_then(|kb| kb.parse::<u64>().ok())
        })
        .unwrap_or(0)
        * 1024;
    let os = std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| l.strip_prefix("PRETTY_NAME=").map(|v| v.trim_matches('"').to_string()))
        })
        .unwrap_or_else(|| "Linux".into());
    let root = ctx.engine.config.root.display().to_string();
    json(&json!({
        "ID": machine_id(),
        "Containers": containers.len(), "ContainersRunning": running, "ContainersPaused": paused,
        "ContainersStopped": containers.len() - running - paused,
        "Images": images,
        "Driver": "overlay2",
        "DriverStatus": [["Backing Filesystem", "extfs"], ["Supports d_type", "true"]],
        "Plugins": {"Volume": ["local"], "Network": ["bridge", "host", "null"], "Authorization": null, "Log": ["json-file", "local", "none"]},
        "MemoryLimit": true, "SwapLimit": true, "CpuCfsPeriod": true, "CpuCfsQuota": true, "CPUShares": true, "CPUSet": true, "PidsLimit": true,
        "IPv4Forwarding": true, "Debug": false, "NFd": 0, "NGoroutines": 0,
        "SystemTime": image::config::now_rfc3339(),
        "LoggingDriver": "json-file",
        "CgroupDriver": "cgroupfs",
        "CgroupVersion": cgroup_version(),
        "NEventsListener": 0,
        "KernelVersion": uname.release().to_string_lossy(),
        "OperatingSystem": os,
        "OSVersion": "",
        "OSType": "linux",
        "Architecture": uname.machine().to_string_lossy(),
        "IndexServerAddress": "https://index.docker.io/v1/",
        "RegistryConfig": {"IndexConfigs": {}, "InsecureRegistryCIDRs": ["127.0.0.0/8"], "Mirrors": []},
        "NCPU": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        "MemTotal": mem_total,
        "DockerRootDir": root,
        "Name": uname.nodename().to_string_lossy(),
        "Labels": [],
        "ExperimentalBuild": false,
        "ServerVersion": env!("CARGO_PKG_VERSION"),
        "Runtimes": {"berth": {"path": "berth"}},
        "DefaultRuntime": "berth",
        "Swarm": {"LocalNodeState": "inactive", "ControlAvailable": false, "Error": "", "RemoteManagers": null, "NodeID": "", "NodeAddr": ""},
        "LiveRestoreEnabled": true,
        "Isolation": "",
        "InitBinary": "berth",
        "SecurityOptions": ["name=seccomp,profile=builtin"],
        "Warnings": null,
    }))
}

/// A stable identifier for this host, from systemd's machine-id when present.
fn machine_id() -> String {
    std::fs::read_to_string("/etc/machine-id").map(|s| s.trim().to_string()).unwrap_or_default()
}

pub(crate) async fn df(ctx: &Ctx) -> HandlerResult {
    let images = ctx.blocking(|e| Ok(e.images.list()?)).await?;
    let containers = ctx.blocking(|e| Ok(e.filter_containers(true, &engine::Filters::default())?)).await?;
    let mut layer_sizes = std::collections::HashMap::new();
    let rows: Vec<Value> = images
        .iter()
        .map(|img| {
            let mut s = super::images::summary(img);
            s["Containers"] = json!(containers.iter().filter(|c| c.image == img.id).count());
            s["SharedSize"] = json!(0);
            s
        })
        .collect();
    let records = ctx.blocking(|e| {
        let mut out = Vec::new();
        for img in e.images.list()? {
            out.push((img.record.layers.clone(), e.images.layers(&img)?));
        }
        Ok(out)
    });
    let records = records.await?;
    let mut uses = std::collections::HashMap::new();
    for (chains, layers) in &records {
        for (c, l) in chains.iter().zip(layers) {
            layer_sizes.insert(c.clone(), l.size);
            *uses.entry(c.clone()).or_insert(0u32) += 1;
        }
    }
    let rows: Vec<Value> = rows
        .into_iter()
        .zip(&records)
        .map(|(mut row, (chains, _))| {
            let shared: u64 = chains.iter().filter(|c| uses[*c] > 1).map(|c| layer_sizes[c]).sum();
            row["SharedSize"] = json!(shared);
            row
        })
        .collect();
    json(&json!({
        "LayersSize": layer_sizes.values().sum::<u64>(),
        "Images": rows,
        "Containers": ctx
            .blocking(move |e| Ok(containers.iter().map(|c| super::containers::summary(e, c, true)).collect::<Vec<_>>()))
            .await?,
        "Volumes": [],
        "BuildCache": [],
    }))
}

/// Unix nanoseconds of a `since`/`until` value (`1795494772`, `1795494772.5`, RFC 3339).
fn event_time(v: &str) -> Result<i128, ApiError> {
    if let Some((s, frac)) = v.split_once('.') {
        let secs: i128 = s.parse().map_err(|_| ApiError::bad_request(format!("invalid time {v:?}")))?;
        let nanos: i128 = format!("{frac:0<9}")[..9]
            .parse()
            .map_err(|_| ApiError::bad_request(format!("invalid time {v:?}")))?;
        return Ok(secs * 1_000_000_000 + nanos);
    }
    Ok(engine::images::parse_until(v)? as i128 * 1_000_000_000)
}

pub(crate) fn events(ctx: &Ctx, q: &Query) -> HandlerResult {
    let filters = q.filters()?;
    let since = q.get("since").filter(|s| !s.is_empty()).map(event_time).transpose()?;
    let until = q.get("until").filter(|s| !s.is_empty()).map(event_time).transpose()?;
    let (past, mut live) = ctx.engine.events.subscribe(since);
    let (tx, body) = ChannelBody::new(64);
    tokio::spawn(async move {
        let send = |ev: &engine::Event| {
            let line = wire_event(ev);
            let tx = tx.clone();
            async move {
                let mut bytes = serde_json::to_vec(&line).expect("json");
                bytes.push(b'\n');
                tx.send(Ok(bytes.into())).await.is_ok()
            }
        };
        for ev in past.iter().filter(|e| e.matches(&filters) && until.is_none_or(|u| e.time_nano <= u)) {
            if !send(ev).await {
                return;
            }
        }
        let now = time::OffsetDateTime::now_utc().unix_timestamp_nanos();
        let deadline = until
            .map(|u| tokio::time::Instant::now() + std::time::Duration::from_nanos((u - now).max(0) as u64));
        loop {
            let next = match deadline {
                Some(d) => match tokio::time::timeout_at(d, live.recv()).await {
                    Ok(r) => r,
                    Err(_) => return,
                },
                None => live.recv().await,
            };
            match next {
                Ok(ev) if ev.matches(&filters) => {
                    if !send(&ev).await {
                        return;
                    }
                }
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(_) => return,
            }
        }
    });
    Ok(streamed("application/json", body))
}

/// An event in Docker's wire form, with the legacy `status`/`id`/`from` fields.
fn wire_event(ev: &engine::Event) -> Value {
    let mut v = json!({
        "Type": ev.kind,
        "Action": ev.action,
        "Actor": {"ID": ev.actor_id, "Attributes": ev.attributes},
        "scope": "local",
        "time": (ev.time_nano / 1_000_000_000) as i64,
        "timeNano": ev.time_nano as i64,
    });
    if ev.kind == "image" || ev.kind == "container" {
        v["status"] = json!(ev.action);
        v["id"] = json!(ev.actor_id);
        if let Some(img) = ev.attributes.get("image") {
            v["from"] = json!(img);
        }
    }
    v
}
