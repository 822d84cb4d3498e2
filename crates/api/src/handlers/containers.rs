//! `/containers/*`.

use bytes::Bytes;
use engine::containers::{Container, CreateRequest, Status};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use serde_json::{Value, json};

use crate::ApiError;
use crate::server::{Ctx, HandlerResult, Query, json, json_status};

/// Bodies larger than this are refused: a container config is a few KiB.
const MAX_JSON_BODY: usize = 4 << 20;

/// Reads a JSON request body, with Docker's 400 for anything that is not JSON.
pub(crate) async fn json_body(req: Request<Incoming>) -> Result<Value, ApiError> {
    let body = http_body_util::Limited::new(req.into_body(), MAX_JSON_BODY)
        .collect()
        .await
        .map_err(|e| ApiError::bad_request(format!("reading the request body: {e}")))?
        .to_bytes();
    if body.is_empty() {
        return Err(ApiError::bad_request("invalid JSON: the request body is empty"));
    }
    serde_json::from_slice(&body).map_err(|e| ApiError::bad_request(format!("invalid JSON: {e}")))
}

pub(crate) async fn create(ctx: &Ctx, req: Request<Incoming>) -> HandlerResult {
    let q = Query::of(&req);
    let name = q.get("name").map(str::to_string);
    let mut body = json_body(req).await?;
    let host_config = body.as_object_mut().and_then(|o| o.remove("HostConfig")).unwrap_or(Value::Null);
    let host_config = if host_config.is_null() {
        Default::default()
    } else {
        serde_json::from_value(host_config)
            .map_err(|e| ApiError::bad_request(format!("invalid HostConfig: {e}")))?
    };
    if let Some(o) = body.as_object_mut() {
        o.remove("NetworkingConfig");
    }
    let config = serde_json::from_value(body)
        .map_err(|e| ApiError::bad_request(format!("invalid container config: {e}")))?;
    let c =
        ctx.blocking(move |e| Ok(e.create_container(CreateRequest { name, config, host_config })?)).await?;
    Ok(json_status(StatusCode::CREATED, &json!({"Id": c.id, "Warnings": []})))
}

pub(crate) async fn list(ctx: &Ctx, q: &Query) -> HandlerResult {
    let filters = q.filters()?;
    let limit: Option<usize> =
        q.get("limit").and_then(|l| l.parse::<i64>().ok()).filter(|l| *l > 0).map(|l| l as usize);
    // A limit counts the latest containers, stopped ones included (`ps -n`, `ps -l`).
    let all = q.bool("all") || limit.is_some();
    let limit = limit.unwrap_or(usize::MAX);
    let list = ctx.engine.filter_containers(all, &filters)?;
    let list = ctx.engine.filter_health(list, &filters)?;
    let size = q.bool("size");
    let list: Vec<Value> =
        ctx.blocking(move |e| Ok(list.iter().take(limit).map(|c| summary(e, c, size)).collect())).await?;
    json(&Value::Array(list))
}

/// Docker's `Command` (`docker ps`'s COMMAND): the program, then its arguments, those with a space
/// in single quotes (nothing escaped: it is for reading, not for a shell).
fn command(c: &Container) -> String {
    let argv = c.config.argv();
    let Some((path, args)) = argv.split_first() else { return String::new() };
    if args.is_empty() {
        return path.clone();
    }
    let args: Vec<String> =
        args.iter().map(|a| if a.contains(' ') { format!("'{a}'") } else { a.clone() }).collect();
    format!("{path} {}", args.join(" "))
}

/// Docker's STATUS column: `Up 5 seconds`, `Exited (0) 3 minutes ago`, `Created`.
pub(crate) fn status_text(engine: &engine::Engine, c: &Container) -> String {
    let ago = |t: &str| {
        let secs = image::config::parse_rfc3339(t)
            .map(|t| time::OffsetDateTime::now_utc().unix_timestamp() - t)
            .unwrap_or(0);
        crate::units::human_duration(secs)
    };
    match c.state.status {
        Status::Created => "Created".into(),
        Status::Running => match engine.health_label(&c.id) {
            Some(health) => format!("Up {} ({health})", ago(&c.state.started_at)),
            None => format!("Up {}", ago(&c.state.started_at)),
        },
        Status::Paused => format!("Up {} (Paused)", ago(&c.state.started_at)),
        Status::Restarting => format!("Restarting ({}) {} ago", c.state.exit_code, ago(&c.state.finished_at)),
        Status::Removing => "Removal In Progress".into(),
        Status::Exited => format!("Exited ({}) {} ago", c.state.exit_code, ago(&c.state.finished_at)),
        Status::Dead => "Dead".into(),
    }
}

/// A container as `GET /containers/json` lists it; with `size`, with the
/// sizes of its layer and root file system (a walk of its files).
pub(crate) fn summary(engine: &engine::Engine, c: &Container, size: bool) -> Value {
    let mut v = json!({
        "Id": c.id,
        "Names": [format!("/{}", c.name)],
        "Image": c.image_name,
        "ImageID": c.image,
        "Command": command(c),
        "Created": image::config::parse_rfc3339(&c.created).unwrap_or(0),
        "Ports": [],
        "Labels": c.config.labels.clone().unwrap_or_default(),
        "State": c.state.status.as_str(),
        "Status": status_text(engine, c),
        "HostConfig": {"NetworkMode": c.host_config.network_mode},
        "NetworkSettings": {"Networks": {}},
        "Mounts": c.host_config.mount_points(),
    });
    if size {
        let (rw, rootfs) = engine.container_size(c);
        v["SizeRw"] = json!(rw);
        v["SizeRootFs"] = json!(rootfs);
    }
    v
}

pub(crate) async fn inspect(ctx: &Ctx, name: &str, q: &Query) -> HandlerResult {
    let c = ctx.engine.container(name)?;
    let mut v = inspect_body(ctx, &c);
    if q.bool("size") {
        let (rw, rootfs) = ctx.blocking(move |e| Ok(e.container_size(&c))).await?;
        v["SizeRw"] = json!(rw);
        v["SizeRootFs"] = json!(rootfs);
    }
    json(&v)
}

fn inspect_body(ctx: &Ctx, c: &Container) -> Value {
    let dir = ctx.engine.container_dir(&c.id);
    let argv = c.config.argv();
    let s = &c.state;
    let path = |f: &str| dir.join(f).display().to_string();
    let lower = ctx
        .engine
        .layers_top_first(c)
        .map(|d| d.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(":"))
        .unwrap_or_default();
    let mut v = json!({
        "Id": c.id,
        "Created": c.created,
        "Path": argv.first().cloned().unwrap_or_default(),
        "Args": argv.get(1..).unwrap_or_default(),
        "State": {
            "Status": s.status.as_str(),
            "Running": s.status.is_active(),
            "Paused": s.status == Status::Paused,
            "Restarting": s.status == Status::Restarting,
            "OOMKilled": s.oom_killed,
            "Dead": s.status == Status::Dead,
            "Pid": s.pid,
            "ExitCode": s.exit_code,
            "Error": s.error,
            "StartedAt": s.started_at,
            "FinishedAt": s.finished_at,
        },
        "Image": c.image,
        "ResolvConfPath": path("resolv.conf"),
        "HostnamePath": path("hostname"),
        "HostsPath": path("hosts"),
        "LogPath": ctx.engine.log_path(&c.id).display().to_string(),
        "Name": format!("/{}", c.name),
        "RestartCount": c.restart_count,
        "Driver": "overlay2",
        "Platform": "linux",
        "MountLabel": "",
        "ProcessLabel": "",
        "AppArmorProfile": "",
        "ExecIDs": Some(ctx.engine.exec_ids(&c.id)).filter(|ids| !ids.is_empty()),
        "HostConfig": c.host_config,
        "GraphDriver": {
            "Name": "overlay2",
            "Data": {"LowerDir": lower, "MergedDir": path("merged"), "UpperDir": path("upper"), "WorkDir": path("work")},
        },
        "Mounts": c.host_config.mount_points(),
        "Config": c.config,
        "NetworkSettings": {"Networks": {}, "Ports": {}, "SandboxKey": "", "IPAddress": "", "Gateway": "", "MacAddress": ""},
    });
    // Docker has the key only for containers with a health check.
    if let Some(health) = ctx.engine.container_health(&c.id) {
        v["State"]["Health"] = json!(health);
    }
    v
}

pub(crate) async fn rename(ctx: &Ctx, name: &str, q: &Query) -> HandlerResult {
    let new_name = q.str("name");
    if new_name.is_empty() {
        return Err(ApiError::bad_request("Neither old nor new names may be empty"));
    }
    ctx.engine.rename_container(name, new_name)?;
    Ok(crate::server::full(StatusCode::NO_CONTENT, "text/plain; charset=utf-8", Bytes::new()))
}

pub(crate) async fn delete(ctx: &Ctx, name: &str, q: &Query) -> HandlerResult {
    ctx.engine.remove_container(name, q.bool("force")).await?;
    Ok(crate::server::full(StatusCode::NO_CONTENT, "text/plain; charset=utf-8", Bytes::new()))
}
